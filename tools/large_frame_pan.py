"""The sharp stabilizer on large frames, against the true motion: a camera panning and
zooming over a photo at 1280x720 or 1920x1080 (as a phone films), the default style's
output steadied with the flow reduced at most N times (or only to ``flow_size``), each
scored by the warping error of Lai et al. with the *exact* flow (not a DIS flow like the
stabilizer's own) and by sharpness, both against bare:

    python tools/large_frame_pan.py --photo EveningGlow/contents/images/2560x1440.jpg \\
        --size 1920x1080 --reductions none,3,2.5,2

The photo must be at least the frame's size (Plasma's wallpapers in Debian's
plasma-workspace-wallpapers are). The camera moves (1.9, 0.55) px a frame at 960x540,
scaled with the frame, and zooms from 1x to 1.08x over the clip, with sensor noise of 2
gray levels. docs/benchmarks.md, "Large frames".
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
from temporal_clips import camera, true_flow

from rtstyle import Stylizer
from rtstyle.media import read_image
from rtstyle.stabilizer import Stabilizer
from rtstyle.temporal import inside_mask, sharpness, warping_error


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photo", required=True)
    p.add_argument("--size", default="1920x1080", help="WxH (default 1920x1080)")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--reductions", default="none,2.5", help="flow_reduction values, comma-separated ('none': no limit)")
    p.add_argument("--style", default="swirl")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    cv2.setNumThreads(1)
    w, h = (int(v) for v in args.size.split("x"))
    img, scale, n = read_image(args.photo), h / 540, args.frames
    if img.shape[0] < h or img.shape[1] < w:
        p.error(f"the photo ({img.shape[1]}x{img.shape[0]}) is smaller than the frame")
    spec = {"n": n, "size": (w, h), "start": (img.shape[1] / 2 - 60 * scale, img.shape[0] / 2),
            "step": (1.9 * scale, 0.55 * scale), "zoom": (1.0, 1.08)}
    sources = camera(img, n, spec["size"], spec["start"], spec["step"], spec["zoom"], noise=2.0)
    stylizer = Stylizer.load(args.style, device="cpu")
    bare = [stylizer.stylize_frame(f) for f in sources]
    flows = [true_flow(spec, t) for t in range(1, n)]

    def score(frames: list[np.ndarray]) -> tuple[float, float]:
        errors = [warping_error(frames[t - 1], frames[t], flows[t - 1], inside_mask(flows[t - 1])) for t in range(1, n)]
        return float(np.mean(errors)), float(np.mean([sharpness(f) for f in frames]))

    bare_error, bare_sharpness = score(bare)
    rows = []
    for r in args.reductions.split(","):
        reduction = None if r == "none" else float(r)
        stab = Stabilizer(flow_reduction=reduction)
        t0 = time.process_time()
        out = [stab(s, y) for s, y in zip(sources, bare, strict=True)]
        ms = 1000 * (time.process_time() - t0) / n
        error, sharp = score(out)
        rows.append({"flow_reduction": reduction, "flow_side": stab._flow.working_side(min(w, h))[0],
                     "warping_error_vs_bare": round(error / bare_error, 3),
                     "sharpness_vs_bare": round(sharp / bare_sharpness, 3), "stabilizer_ms_per_frame": round(ms, 1)})
    result = {"size": [w, h], "frames": n, "bare_warping_error": bare_error, "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{w}x{h}, {n} frames, bare warping error (true flow) {bare_error:.6f}")
    print("flow_reduction  flow side  warping error vs bare  sharpness vs bare  stabilizer ms/frame (one core)")
    for row in rows:
        print(f"{row['flow_reduction'] or 'none':>14}  {row['flow_side']:>9}  {row['warping_error_vs_bare']:>21.1%}"
              f"  {row['sharpness_vs_bare']:>17.1%}  {row['stabilizer_ms_per_frame']:>8}")


if __name__ == "__main__":
    main()
