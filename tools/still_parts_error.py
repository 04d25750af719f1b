"""Flicker where the picture does not move, measured without a flow: on a still camera the
true motion of the parts of the frame whose source does not change is 0, so the stylized
frame's change there is flicker, whatever an optical flow reads into sensor noise on a flat
surface. For each pair of frames, the *still parts* are the pixels whose source (gray, a
Gaussian of sigma 2 px) changes by less than 2 gray levels everywhere within 15 px; the
figure is the mean squared change of the stylized frame there (values in [0, 1], as the
warping error), beside the warping error on the same pixels by `rtstyle eval-temporal`'s
flow, for the bare network and the sharp stabilizer with and without its flow matched only
where the picture changes (docs/benchmarks.md, "The flow only where the picture changes").

    python tools/still_parts_error.py coin.mov [--image-size N] [--frames 150]

The blur hides fine moving detail (particles of a few pixels, a distant crowd): there the
"still parts" are not still, and the figure means little.
"""

from __future__ import annotations

import argparse
from itertools import islice

import cv2
import numpy as np

from rtstyle import Stylizer
from rtstyle.media import VideoReader, resize_shorter
from rtstyle.stabilizer import Stabilizer
from rtstyle.temporal import WarpingErrorMeter, to_gray, warping_error


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clip")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--style", default=None)
    args = p.parse_args()
    stylizer = Stylizer.load(args.style, device="cpu")
    with VideoReader(args.clip) as reader:
        src = [resize_shorter(f, args.image_size, multiple=2) for f in islice(reader, args.frames)]
    bare = [stylizer.stylize_frame(f, multiple=2) for f in src]
    versions = {"bare": bare}
    for name, regions in (("whole flow", False), ("flow where changed", True)):
        stab = Stabilizer(flow_regions=regions)
        versions[name] = [stab(s, y) for s, y in zip(src, bare, strict=True)]
    metric = WarpingErrorMeter()  # its flow and occlusion mask, as rtstyle eval-temporal's
    grays = [to_gray(f) for f in src]
    blurred = [cv2.GaussianBlur(g.astype(np.float32), (0, 0), 2.0) for g in grays]
    small = [metric.flow.small(g) for g in grays]  # (each frame's once: it is a pair's first, then its second)
    still_error = {k: [] for k in versions}
    flow_error = {k: [] for k in versions}
    shares = []
    for t in range(1, len(src)):
        still = cv2.erode((np.abs(blurred[t] - blurred[t - 1]) < 2.0).astype(np.uint8), np.ones((31, 31), np.uint8))
        still = still.astype(bool)
        shares.append(float(still.mean()))
        if not still.any():
            continue
        f_back, mask = metric.pair_flow(small[t], small[t - 1], src[t].shape[:2])
        mask &= still
        for k, frames in versions.items():
            change = (frames[t].astype(np.float32) - frames[t - 1].astype(np.float32)) / 255.0
            still_error[k].append(float((change * change).mean(axis=2)[still].mean()))
            if mask.any():
                flow_error[k].append(warping_error(frames[t - 1], frames[t], f_back, mask))
    print(f"{args.clip}: still parts {np.median(shares):.0%} of the frame (median of {len(shares)} pairs)")
    print("| version | change on the still parts | vs bare | warping error there (flow) | vs bare |")
    print("|---|---|---|---|---|")
    base_still, base_flow = np.mean(still_error["bare"]), np.mean(flow_error["bare"])
    for k in versions:
        s, f = np.mean(still_error[k]), np.mean(flow_error[k])
        print(f"| {k} | {s:.6f} | {s / base_still:.1%} | {f:.6f} | {f / base_flow:.1%} |")


if __name__ == "__main__":
    main()
