"""docs/images/temporal-sharp.jpg: crops of one frame of each clip, left to right the
source, the bare network, the fast (averaging) stabilizer and the sharp one (default style,
each clip stylized from its first frame up to the one shown):

    python tools/temporal_crops.py --crop pan.mp4:100:150,60 --crop bikes.mp4:87:330,40 \\
        --crop Megamind.avi:150:100,40 --image-size 240 --out docs/images/temporal-sharp.jpg

``--crop CLIP:FRAME:X,Y`` takes a --width x --height crop at (X, Y) of frame FRAME
(counted from 0) of the clip resized to --image-size px on its shorter side.
"""

from __future__ import annotations

import argparse
from itertools import islice

import numpy as np

from rtstyle import Stylizer
from rtstyle.media import VideoReader, resize_shorter, write_image
from rtstyle.stabilizer import make_stabilizer


def row(stylizer: Stylizer, clip: str, frame: int, x: int, y: int, size: int, w: int, h: int) -> np.ndarray:
    fast, sharp = make_stabilizer("fast"), make_stabilizer("sharp")
    with VideoReader(clip) as reader:
        for source in islice(reader, frame + 1):
            source = resize_shorter(source, size, multiple=4)
            bare = stylizer.stylize_frame(source)
            shown = [source, bare, fast(source, bare), sharp(source, bare)]
    return np.hstack([im[y:y + h, x:x + w] for im in shown])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--crop", action="append", required=True, metavar="CLIP:FRAME:X,Y")
    p.add_argument("--image-size", type=int, default=240)
    p.add_argument("--width", type=int, default=220)
    p.add_argument("--height", type=int, default=160)
    p.add_argument("--style", default="swirl")
    p.add_argument("--out", default="docs/images/temporal-sharp.jpg")
    args = p.parse_args(argv)
    stylizer = Stylizer.load(args.style, device="cpu")
    rows = []
    for spec in args.crop:
        clip, frame, at = spec.rsplit(":", 2)
        x, y = (int(v) for v in at.split(","))
        rows.append(row(stylizer, clip, int(frame), x, y, args.image_size, args.width, args.height))
    write_image(args.out, np.vstack(rows))  # atomic
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
