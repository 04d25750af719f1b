"""Build the content folders the built-in styles were distilled on (docs/styles.md).

    apt-get download opencv-doc plasma-workspace-wallpapers mate-backgrounds
    for p in *.deb; do dpkg -x "$p" x; done
    pip download --no-deps -d sk scikit-image && unzip -q -o sk/*.whl 'skimage/data/*' -d sk
    python tools/styles_content.py --root x --skimage sk/skimage/data --set A --out content-a
    python tools/styles_content.py --root x --skimage sk/skimage/data --set B --out content-b

Set A (91 images): 21 photos of OpenCV's sample data, frames of its three clips (every
25th of vtest.avi, 12th of Megamind.avi, 10th of tree.avi), and the 8 held-out photos.
Set B (126 images): set A's photos, fewer vtest frames (every 50th), plus 30 KDE Plasma
wallpapers, the 12 photos of MATE's nature backgrounds and 9 photos of scikit-image.
Photos are resized to 480 px on the shorter side (set B's new ones) or copied as they are.
The held-out photos are named ``zz_*`` so that they sort last: ``rtstyle distill
--holdout 8`` keeps the last 8 files out of training and measures fidelity on them.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import av
import cv2
from PIL import Image

OPENCV = "usr/share/doc/opencv-doc/examples/data"
PHOTOS = ["Blender_Suzanne1.jpg", "HappyFish.jpg", "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "board.jpg",
          "ela_original.jpg", "left.jpg", "left01.jpg", "left05.jpg", "left09.jpg", "leuvenA.jpg",
          "licenseplate_motion.jpg", "orange.jpg", "pca_test1.jpg", "stuff.jpg", "basketball1.png",
          "box_in_scene.png", "graf1.png", "rubberwhale1.png"]
HELD_OUT = ["fruits.jpg", "baboon.jpg", "messi5.jpg", "home.jpg", "butterfly.jpg", "squirrel_cls.jpg", "building.jpg",
            "smarties.png"]
SKIMAGE = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
           "brick.png", "grass.png", "gravel.png"]


def frames(video: Path, every: int, out: Path) -> None:
    with av.open(str(video)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % every == 0:
                cv2.imwrite(str(out / f"v_{video.stem}_{i:04d}.jpg"), f.to_ndarray(format="bgr24"),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])


def resized(src: Path, dst: Path) -> None:
    im = Image.open(src).convert("RGB")
    s = 480 / min(im.size)
    if s < 1:
        im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    im.save(dst, quality=93)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, help="where the .deb files were unpacked (dpkg -x)")
    p.add_argument("--skimage", help="scikit-image's skimage/data folder (set B)")
    p.add_argument("--set", choices=["A", "B"], required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    root, out = Path(args.root), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = root / OPENCV
    for name in PHOTOS:
        shutil.copy(data / name, out / f"a_{name}")
    for name in HELD_OUT:
        shutil.copy(data / name, out / f"zz_{name}")
    frames(data / "vtest.avi", 25 if args.set == "A" else 50, out)
    frames(data / "Megamind.avi", 12, out)
    frames(data / "tree.avi", 10, out)
    if args.set == "B":
        for d in sorted((root / "usr/share/wallpapers").iterdir()):
            files = sorted((f for f in (d / "contents/images").glob("*") if f.suffix in (".jpg", ".png")),
                           key=lambda f: f.stat().st_size)
            if files:
                resized(files[len(files) // 2], out / f"p_{d.name}.jpg")
        for f in sorted((root / "usr/share/backgrounds/mate/nature").glob("*.jpg")):
            resized(f, out / f"m_{f.stem}.jpg")
        for name in SKIMAGE:
            resized(Path(args.skimage) / name, out / f"s_{Path(name).stem}.jpg")
    print(f"{len(list(out.iterdir()))} images in {out}")


if __name__ == "__main__":
    main()
