"""Build ``src/rtstyle/content/``: the small set of photos that ``rtstyle learn`` trains on
when no ``--content-dir`` is given (README, "Your own style"; licences in NOTICE).

    apt-get download opencv-doc plasma-workspace-wallpapers mate-backgrounds
    for p in *.deb; do dpkg -x "$p" x; done
    pip download --no-deps -d sk scikit-image && unzip -q -o sk/*.whl 'skimage/data/*' -d sk
    python tools/learn_content.py --root x --skimage sk/skimage/data

Photos only (no renders, drawings, chessboards or graphic wallpapers), none of the 8
photos that the styles are measured on (tools/styles_content.py's held-out set), each
resized to 320 px on its shorter side (training crops are 256 px) and saved as JPEG.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

OUT = Path(__file__).resolve().parents[1] / "src/rtstyle/content"
SIZE = 320
# (folder under --root, or "skimage", file names, credit line for content/README.md and NOTICE)
SOURCES = [
    ("usr/share/doc/opencv-doc/examples/data",
     ["aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "basketball1.png", "box_in_scene.png", "ela_original.jpg",
      "graf1.png", "left.jpg", "leuvenA.jpg", "licenseplate_motion.jpg", "orange.jpg", "rubberwhale1.png", "stuff.jpg"],
     "OpenCV's sample data (Debian opencv-doc 4.6.0), Apache License 2.0 / BSD-3-Clause"),
    ("usr/share/backgrounds/mate/nature",
     ["Aqua.jpg", "Blinds.jpg", "Dune.jpg", "FreshFlower.jpg", "Garden.jpg", "GreenMeadow.jpg", "LadyBird.jpg",
      "RainDrops.jpg", "Storm.jpg", "TwoWings.jpg", "Wood.jpg", "YellowFlower.jpg"],
     "MATE's nature backgrounds (Debian mate-backgrounds 1.26.0), GPL-2+, photographers named in its copyright file"),
    ("usr/share/wallpapers",
     ["BytheWater", "ColdRipple", "DarkestHour", "EveningGlow", "FallenLeaf", "MilkyWay", "OneStandsOut", "Path",
      "Volna", "summer_1am"],
     "KDE Plasma wallpapers (Debian plasma-workspace-wallpapers 5.27.5), GPL-2+, (c) KDE Visual Design Group"),
    ("skimage", ["astronaut.png", "brick.png", "chelsea.png", "coffee.png", "rocket.jpg"],
     "scikit-image's data: astronaut (NASA) and rocket (SpaceX) public domain; brick, chelsea, coffee CC0"),
]


def source_file(root: Path, skimage: Path, folder: str, name: str) -> Path:
    if folder == "skimage":
        return skimage / name
    path = root / folder / name
    if path.is_dir():  # a Plasma wallpaper: one picture in several sizes; take the middle one by size
        files = sorted((f for f in (path / "contents/images").glob("*") if f.suffix in (".jpg", ".png")),
                       key=lambda f: f.stat().st_size)
        return files[len(files) // 2]
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, help="where the .deb files were unpacked (dpkg -x)")
    p.add_argument("--skimage", required=True, help="scikit-image's skimage/data folder")
    args = p.parse_args()
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.jpg"):
        old.unlink()
    lines = ["# Content photos for `rtstyle learn`", "",
             "Built by `tools/learn_content.py`; used when `rtstyle learn` gets no `--content-dir`.", ""]
    count = 0
    for folder, names, credit in SOURCES:
        prefix = {"skimage": "s"}.get(folder, folder.split("/")[-1][0])
        for name in names:
            im = Image.open(source_file(Path(args.root), Path(args.skimage), folder, name)).convert("RGB")
            s = SIZE / min(im.size)
            im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
            im.save(OUT / f"{prefix}_{Path(name).stem}.jpg", quality=90)
            count += 1
        lines.append(f"- `{prefix}_*`: {', '.join(Path(n).stem for n in names)}: {credit}.")
    (OUT / "README.md").write_text("\n".join(lines) + "\n")
    print(f"{count} photos in {OUT}, {sum(f.stat().st_size for f in OUT.glob('*.jpg')) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
