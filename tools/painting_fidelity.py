"""Measure style models trained from paintings against the painting (rtstyle.painting):
the style distance as a fraction of the unstyled photo's, and the content distance.

    python tools/painting_fidelity.py --vgg-weights vgg16-keras.pth \\
        --painting ../shared/paintings/starry_night.jpg --photos eval-photos/ MODEL [MODEL ...] [--json]
        [--sheet picture.jpg]

--sheet writes a picture: a row per photo (the first --sheet-photos), the photo then each
model's output, under a row with the painting.

Photos are resized so that their longer side is --size (Johnson's content photo: 700x470),
the painting to 512 on its longer side. A MODEL may be a file or a built-in style's name;
``none`` measures the unstyled photo (100%, 0) as a check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from rtstyle.data import find_content_images
from rtstyle.media import read_image, write_image
from rtstyle.painting import (
    JOHNSON,
    PAINTING_SIZE,
    PHOTO_SIZE,
    describe_painting_fidelity,
    painting_fidelity,
    resize_longer,
)
from rtstyle.runtime import load_backend
from rtstyle.styles import resolve_model
from rtstyle.vgg import load_vgg16


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--vgg-weights", required=True)
    p.add_argument("--painting", required=True)
    p.add_argument("--photos", required=True, help="a folder (or one file) of photos")
    p.add_argument("--size", type=int, default=PHOTO_SIZE, help=f"longer side of the photos (default: {PHOTO_SIZE})")
    p.add_argument("--json", action="store_true")
    p.add_argument("--sheet", default=None, help="write a picture of the outputs here")
    p.add_argument("--sheet-photos", type=int, default=2)
    p.add_argument("--sheet-size", type=int, default=360, help="longer side of each tile (default: 360)")
    args = p.parse_args()
    vgg = load_vgg16(args.vgg_weights)
    files = [Path(args.photos)] if Path(args.photos).is_file() else find_content_images(args.photos)
    photos = [resize_longer(read_image(f), args.size) for f in files]
    painting = resize_longer(read_image(args.painting), PAINTING_SIZE)
    bar = JOHNSON.get(Path(args.painting).name)
    if bar:
        print(f"Johnson et al.'s model: style {100 * bar[0]:.0f}%, content {bar[1]}; target (1.25x): "
              f"{125 * bar[0]:.1f}%, {1.25 * bar[1]:.0f}", file=sys.stderr)
    results, tiles = {}, [[resize_longer(x, args.sheet_size)] for x in photos[: args.sheet_photos]]
    for m in args.models:
        stylize = (lambda x: x) if m == "none" else load_backend(resolve_model(m, device="cpu"), "cpu")
        results[m] = painting_fidelity(stylize, photos, painting, vgg)
        print(f"{m}: {describe_painting_fidelity(results[m])}", file=sys.stderr)
        for row, x in zip(tiles, photos, strict=False):
            row.append(resize_longer(stylize(x), args.sheet_size))
    if args.json:
        print(json.dumps(results, indent=2))
    if args.sheet:
        write_image(args.sheet, sheet(tiles, resize_longer(painting, args.sheet_size)))


def sheet(rows: list[list[np.ndarray]], painting: np.ndarray) -> np.ndarray:
    """Rows of tiles (each row the same heights) on white, the painting above them."""
    gap = 6
    width = max(sum(t.shape[1] for t in r) + gap * (len(r) + 1) for r in rows)
    blocks = [np.pad(painting, ((gap, 0), (gap, width - painting.shape[1] - gap), (0, 0)), constant_values=255)]
    for r in rows:
        h = max(t.shape[0] for t in r)
        line = [np.full((h, gap, 3), 255, np.uint8)]
        for t in r:
            line += [np.pad(t, ((0, h - t.shape[0]), (0, 0), (0, 0)), constant_values=255),
                     np.full((h, gap, 3), 255, np.uint8)]
        line = np.concatenate(line, 1)
        blocks.append(np.pad(line, ((gap, 0), (0, width - line.shape[1]), (0, 0)), constant_values=255))
    return np.pad(np.concatenate(blocks, 0), ((0, gap), (0, 0), (0, 0)), constant_values=255)


if __name__ == "__main__":
    main()
