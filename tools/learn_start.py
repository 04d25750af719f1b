"""Build ``src/rtstyle/starts/edge-photo.pth``: the network ``rtstyle learn`` starts from.

    python tools/learn_start.py --vgg-weights vgg16-keras.pth      # about 9 minutes on 2 cores

The built-in ``udnie`` (an ``edge`` network) trained for 800 steps to give back its input
photo: the content loss of training (relu2_2 of VGG16) plus half the mean absolute pixel
difference, on the photos shipped for ``learn`` (``src/rtstyle/content``), batch 4 of
256-px crops, Adam at 1e-3, bf16 on the CPU, seed 0. Instance normalisation keeps it from
being an exact identity: on the 8 held-out photos its content distance is 13 (``udnie``'s
27) and its sharpness 165 (the photos' 586).

Why (docs/styles.md, "Your own style"): a start that already keeps the photo reaches the
recipe's balance of style and content from the content side, where the style term is fast
and the content term slow; from ``udnie`` the 10-minute run was 1.37x its 10x run on the
content distance.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from rtstyle import checkpoint
from rtstyle.data import ContentImages, collate, find_content_images
from rtstyle.learn import CONTENT_DIR, START
from rtstyle.losses import content_loss
from rtstyle.styles import builtin_styles
from rtstyle.vgg import load_vgg16

STEPS, LR, PIXEL_WEIGHT, BATCH, SIZE, SEED = 800, 1e-3, 0.5, 4, 256, 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vgg-weights", required=True)
    p.add_argument("--output", default=str(START))
    p.add_argument("--steps", type=int, default=STEPS)
    args = p.parse_args()
    torch.manual_seed(SEED)
    vgg = load_vgg16(args.vgg_weights)
    model, _ = checkpoint.load_model(builtin_styles()["udnie"].path)
    model.train()
    photos = ContentImages(find_content_images(CONTENT_DIR), SIZE, seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    step, t0 = 0, time.monotonic()
    while step < args.steps:
        photos.set_epoch(step)
        for x, _ in DataLoader(photos, batch_size=BATCH, shuffle=True, collate_fn=collate, num_workers=1):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = model(x)
                content = content_loss(vgg.content(y), vgg.content(x))
            pixel = torch.nn.functional.l1_loss(y.float(), x)
            loss = content + PIXEL_WEIGHT * pixel
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 50 == 0:
                print(f"step {step}: content {content.item():.2f}, pixel {pixel.item():.2f}, "
                      f"{time.monotonic() - t0:.0f} s", flush=True)
            if step >= args.steps:
                break
    model.eval()
    checkpoint.save_model(model, Path(args.output), {
        "description": "rtstyle learn's start: udnie trained to give back the photo (tools/learn_start.py)",
        "steps": step, "from": "udnie"})
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
