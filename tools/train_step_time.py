"""Time one training step (style network + VGG16 loss network + Adam) in fp32 and under
bf16 autocast, as `rtstyle train --precision` runs it (docs/benchmarks.md).

    python tools/train_step_time.py --vgg-weights vgg16-keras.pth --archs classic,edge --size 256 --batch 2

Each configuration runs `--steps` steps after one warm-up step; the median, min and max
are printed. Compare the two precisions within one run: the machine's speed drifts.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rtstyle.devices import autocast_dtype
from rtstyle.losses import content_loss, gram_matrix, style_loss
from rtstyle.models import build_model
from rtstyle.sysinfo import machine
from rtstyle.vgg import load_vgg16


def step_times(arch: str, precision: str, vgg, grams, size: int, batch: int, steps: int) -> list[float]:
    torch.manual_seed(0)
    model = build_model(arch)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch, 3, size, size) * 255
    dtype = autocast_dtype(precision)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        opt.zero_grad()
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            y = model(x)
            fy, fx = vgg(y), vgg(x)
            loss = 1e5 * content_loss(fy.relu2_2, fx.relu2_2) + 1e10 * style_loss(fy, grams)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vgg-weights", required=True)
    p.add_argument("--archs", default="classic,edge")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args()
    vgg = load_vgg16(args.vgg_weights)
    with torch.no_grad():
        grams = [gram_matrix(f) for f in vgg(torch.rand(1, 3, args.size, args.size) * 255)]
    print(f"machine: {machine()}; torch threads {torch.get_num_threads()}; batch {args.batch} at {args.size} px")
    print("| network | precision | median s/step | min | max | images/s |\n|---|---|---|---|---|---|")
    for arch in args.archs.split(","):
        for precision in ("fp32", "bf16"):
            t = step_times(arch, precision, vgg, grams, args.size, args.batch, args.steps)
            med = statistics.median(t)
            print(f"| {arch} | {precision} | {med:.3f} | {min(t):.3f} | {max(t):.3f} | {args.batch / med:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
