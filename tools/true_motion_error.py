"""Flicker against the true motion: the two clips made by ``tools/temporal_clips.py`` (a
camera moved over a photo along a known path) scored with their exact flow, beside
rtstyle's own metric, whose flow is DIS like the stabilizer's (and so favours it):

    python tools/temporal_clips.py --pan-photo ... --night-photo ... --out clips/
    python tools/true_motion_error.py clips/pan.mp4 clips/night.mp4 [--frames 150] [--json]

For each clip (known by its file name, ``pan`` or ``night``): the default style's output
bare and through the sharp and fast stabilizers; the warping error of each (Lai et al.:
frame t-1 warped to t, over the pixels that stay in the frame) against the true flow and
against the metric's DIS flow, as a share of bare; the sharpness against bare; and the
endpoint error (px, at the flow's resolution, 8 px borders left out) of the flow the sharp
stabilizer itself computes. docs/benchmarks.md, "Against the true motion".
"""

from __future__ import annotations

import argparse
import json
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
from temporal_clips import NIGHT, PAN, true_flow

from rtstyle import Stylizer
from rtstyle.media import VideoReader
from rtstyle.stabilizer import make_stabilizer
from rtstyle.temporal import WarpingErrorMeter, inside_mask, sharpness, to_gray, warping_error


def flow_epe(sources: list[np.ndarray], truths: list[np.ndarray]) -> float:
    """Mean endpoint error of the sharp stabilizer's flow (t -> t-1) against the truth
    (``truths[t - 1]``: the true flow t -> t-1 at full size)."""
    est = make_stabilizer("sharp")._flow
    grays = [est.small(to_gray(f)) for f in sources]
    h, w = sources[0].shape[:2]
    errors = []
    for t in range(1, len(grays)):
        flow = est.calc_small(grays[t], grays[t - 1])
        fh, fw = flow.shape[:2]
        truth = cv2.resize(truths[t - 1], (fw, fh), interpolation=cv2.INTER_AREA) * np.float32([fw / w, fh / h])
        errors.append(float(np.sqrt(((flow - truth) ** 2).sum(-1))[8:-8, 8:-8].mean()))
    return float(np.mean(errors))


def true_warping_error(frames: list[np.ndarray], truths: list[np.ndarray], inside: list[np.ndarray]) -> float:
    """The warping error of ``frames`` against the true flows, over the pixels that stay in
    the frame."""
    return float(np.mean([warping_error(frames[t - 1], frames[t], truths[t - 1], inside[t - 1])
                          for t in range(1, len(frames))]))


def score(clip: Path, stylizer: Stylizer, frames: int) -> dict:
    spec = {"pan": PAN, "night": NIGHT}.get(clip.stem)
    if spec is None:
        raise SystemExit(f"{clip}: not a clip of tools/temporal_clips.py (pan.mp4 or night.mp4)")
    with VideoReader(clip) as reader:
        sources = list(islice(reader, frames))
    if tuple(spec["size"]) != (sources[0].shape[1], sources[0].shape[0]):
        raise SystemExit(f"{clip}: {sources[0].shape[1]}x{sources[0].shape[0]}, not the clip's {spec['size']}")
    bare = [stylizer.stylize_frame(f) for f in sources]
    versions = {"bare": bare}
    for mode in ("sharp", "fast"):
        stab = make_stabilizer(mode)
        versions[mode] = [stab(s, y) for s, y in zip(sources, bare, strict=True)]
    truths = [true_flow(spec, t) for t in range(1, len(sources))]
    inside = [inside_mask(f) for f in truths]
    true_err = {name: true_warping_error(outs, truths, inside) for name, outs in versions.items()}
    meter = WarpingErrorMeter()
    for i, s in enumerate(sources):
        meter.update(s, {name: outs[i] for name, outs in versions.items()})
    row = {"clip": str(clip), "frames": len(sources), "bare_true_warping_error": true_err["bare"],
           "source_true_warping_error": true_warping_error(sources, truths, inside),
           "sharp_flow_epe_px": round(flow_epe(sources, truths), 4)}
    bare_sharp = np.mean([sharpness(f) for f in bare])
    for mode in ("sharp", "fast"):
        row[mode] = {"vs_bare_true_flow": round(true_err[mode] / true_err["bare"], 4),
                     "vs_bare_metric_flow": round(meter.result(mode)["warping_error"] / meter.result("bare")["warping_error"], 4),
                     "sharpness_vs_bare": round(float(np.mean([sharpness(f) for f in versions[mode]]) / bare_sharp), 4)}
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clips", nargs="+", type=Path)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--style", default="swirl")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    stylizer = Stylizer.load(args.style, device="cpu")
    rows = [score(c, stylizer, args.frames) for c in args.clips]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| clip | sharp: true flow | metric flow | sharpness | fast: true flow | metric flow | sharpness | flow EPE (px) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        s, f = r["sharp"], r["fast"]
        print(f"| {Path(r['clip']).name} | {s['vs_bare_true_flow']:.1%} | {s['vs_bare_metric_flow']:.1%} | "
              f"{s['sharpness_vs_bare']:.0%} | {f['vs_bare_true_flow']:.1%} | {f['vs_bare_metric_flow']:.1%} | "
              f"{f['sharpness_vs_bare']:.0%} | {r['sharp_flow_epe_px']:.3f} |")


if __name__ == "__main__":
    main()
