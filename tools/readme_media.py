"""Make the README's pictures from real media: a sheet of every built-in style on one
photo, and a before/after animation of a real clip stylized by the default style (with
the temporal stabilizer, as `rtstyle stylize` does for video).

    python tools/readme_media.py --photo PHOTO --video CLIP [--out docs/images]

The README's own were made from Debian's opencv-doc sample data
(`apt-get download opencv-doc && dpkg -x opencv-doc_*.deb x`, files under
x/usr/share/doc/opencv-doc/examples/data/): fruits.jpg and vtest.avi.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from rtstyle import Stylizer
from rtstyle.fileio import atomic_output
from rtstyle.media import VideoReader, read_image, resize_shorter, write_image
from rtstyle.sheet import make_sheet
from rtstyle.styles import builtin_styles, default_style
from rtstyle.temporal import Stabilizer


def before_after(video: str, output: Path, size: int, frames: int, step: int) -> None:
    """Animated WebP: the source on the left, the default style on the right."""
    stylizer = Stylizer.load(builtin_styles()[default_style()].path, device="cpu")
    stabilizer = Stabilizer()
    shown = []
    with VideoReader(video) as reader:
        fps = float(reader.fps)
        for i, frame in enumerate(reader):
            if i >= frames * step:
                break
            frame = resize_shorter(frame, size, multiple=4)
            out = stabilizer(frame, stylizer.stylize_frame(frame))  # every frame, so the flow is short
            if i % step == 0:
                shown.append(Image.fromarray(np.concatenate([frame, out], axis=1)))
    with atomic_output(output) as tmp:
        shown[0].save(tmp, format="WEBP", save_all=True, append_images=shown[1:], loop=0,
                      duration=round(1000 * step / fps), quality=70, method=6)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photo", required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--out", default="docs/images")
    p.add_argument("--tile", type=int, default=240, help="shorter side of each sheet tile")
    p.add_argument("--video-size", type=int, default=240, help="shorter side of the animation")
    p.add_argument("--frames", type=int, default=40, help="frames in the animation")
    p.add_argument("--step", type=int, default=2, help="keep every STEP-th frame")
    args = p.parse_args()
    out = Path(args.out)
    models = [(name, s.path) for name, s in builtin_styles().items()]
    write_image(out / "sheet.jpg", make_sheet(read_image(args.photo), models, args.tile, device="cpu"))
    before_after(args.video, out / "before-after.webp", args.video_size, args.frames, args.step)
    print(f"wrote {out / 'sheet.jpg'} and {out / 'before-after.webp'}")


if __name__ == "__main__":
    main()
