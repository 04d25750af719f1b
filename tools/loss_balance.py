"""How the training loss's two terms compare for a set of VGG16 weights (docs/training.md):
with the default weights (content 1e5, style 1e10), the content term of an output that
keeps nothing of the photo (flat gray, black) against the style term of the photo itself
(the unstyled output). Medians over the photos, per painting.

    python tools/loss_balance.py --vgg-weights vgg16-keras.pth --photos photos/ --paintings ../shared/paintings
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from rtstyle.data import find_content_images, load_style_image
from rtstyle.distill import fidelity_frames
from rtstyle.losses import content_loss, gram_matrix, style_loss
from rtstyle.vgg import load_vgg16


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vgg-weights", required=True)
    p.add_argument("--photos", required=True)
    p.add_argument("--paintings", required=True, help="a folder of style images")
    p.add_argument("--size", type=int, default=256, help="shorter side of photos and paintings (default: 256)")
    p.add_argument("--content-weight", type=float, default=1e5)
    p.add_argument("--style-weight", type=float, default=1e10)
    args = p.parse_args()
    vgg = load_vgg16(args.vgg_weights)
    photos = [torch.from_numpy(f).permute(2, 0, 1)[None].float()
              for f in fidelity_frames(find_content_images(args.photos), args.size)]
    print("| painting | style term, output = the photo | content term, output = flat gray | ratio |\n|---|---|---|---|")
    for painting in sorted(Path(args.paintings).glob("*.jpg")):
        with torch.no_grad():
            grams = [gram_matrix(f) for f in vgg(load_style_image(painting, args.size))]
            styled, blank = [], []
            for x in photos:
                fx = vgg(x)
                styled.append(args.style_weight * style_loss(fx, grams).item())
                blank.append(args.content_weight * content_loss(vgg(torch.full_like(x, 128.0)).relu2_2, fx.relu2_2).item())
        s, c = float(np.median(styled)), float(np.median(blank))
        print(f"| {painting.stem} | {s:.3g} | {c:.3g} | {s / c:.0f}x |")


if __name__ == "__main__":
    main()
