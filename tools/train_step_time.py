"""Time one training step (`Trainer.train_step`: style network + VGG16 loss network + Adam)
in fp32 and under bf16 autocast, exactly as `rtstyle train --precision` runs it
(docs/benchmarks.md, "Training throughput").

    python tools/train_step_time.py --vgg-weights vgg16-keras.pth --archs classic,edge --size 256 --batch 2
    python tools/train_step_time.py --vgg-weights vgg16-keras.pth --archs edge --batch 4 --baseline old/src

The content photos and the style image are seeded noise written to a temporary folder.
Each configuration runs in its own process: `--steps` steps after one warm-up step; the
median, min and max are printed. With `--baseline SRC` (another checkout's `src/`), the
same configurations run from that code too, interleaved with this checkout's, `--rounds`
times. Compare within one run: the machine's speed drifts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src"


def measure(arch: str, precision: str, vgg: str, size: int, batch: int, steps: int) -> list[float]:
    """In this process: the step times of a Trainer on noise photos."""
    import numpy as np
    from PIL import Image

    from rtstyle.training import TrainConfig, Trainer

    with tempfile.TemporaryDirectory(prefix="train-step-") as tmp:
        work = Path(tmp)
        rng = np.random.default_rng(0)
        for i in range(batch * (steps + 2)):
            Image.fromarray(rng.integers(0, 256, (size + 32, size + 48, 3), dtype=np.uint8)).save(work / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(work / "style.png")
        cfg = TrainConfig(content_dir=str(work), style_image=str(work / "style.png"), arch=arch, batch_size=batch,
                          image_size=size, vgg_weights=vgg, precision=precision, checkpoint_interval=0,
                          log_interval=0, save_model_dir=str(work / "out"), progress=False)
        trainer = Trainer(cfg)
        times = []
        for x, _ in trainer._loader(0, 0):
            if len(times) == steps + 1:
                break
            start = time.perf_counter()
            trainer.train_step(x)
            times.append(time.perf_counter() - start)
    return times[1:]


def run_in_process(src: Path, arch: str, precision: str, args) -> list[float]:
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, __file__, "--child", arch, precision, "--vgg-weights", args.vgg_weights,
           "--size", str(args.size), "--batch", str(args.batch), "--steps", str(args.steps)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vgg-weights", required=True)
    p.add_argument("--archs", default="classic,edge")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--baseline", type=Path, help="another checkout's src/ to time against this one")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, args.vgg_weights, args.size, args.batch, args.steps)))
        return
    from rtstyle.sysinfo import machine

    codes = [("this", HERE)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    print(f"machine: {machine()}; batch {args.batch} at {args.size} px, {args.steps} steps after a warm-up")
    print("| code | network | precision | median s/step | min | max | images/s |\n|---|---|---|---|---|---|---|")
    for _ in range(args.rounds):
        for arch in args.archs.split(","):
            for precision in args.precisions.split(","):
                for name, src in codes:
                    t = run_in_process(src, arch, precision, args)
                    med = statistics.median(t)
                    print(f"| {name} | {arch} | {precision} | {med:.3f} | {min(t):.3f} | {max(t):.3f} | "
                          f"{args.batch / med:.2f} |", flush=True)


if __name__ == "__main__":
    main()
