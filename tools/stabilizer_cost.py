"""CPU time of the stabilizer alone, per frame, each mode (and optionally another version of
stabilizer.py) run in turn on the same network output, several rounds interleaved:

    python tools/stabilizer_cost.py vtest.avi --image-size 480 [--frames 120] [--rounds 3]
    git show REV:src/rtstyle/stabilizer.py > /tmp/old_stabilizer.py
    python tools/stabilizer_cost.py vtest.avi --image-size 480 --baseline /tmp/old_stabilizer.py

Process CPU time with one OpenCV thread: other tenants of a shared host slow the wall clock
far more than they change the CPU time a piece of work takes (docs/benchmarks.md, "Strips").
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from itertools import islice

import cv2

from rtstyle import Stylizer
from rtstyle.media import VideoReader, resize_shorter
from rtstyle.stabilizer import make_stabilizer


def load_baseline(path: str):
    """``path`` (a stabilizer.py of another version) as a module of the rtstyle package, so
    that its relative imports resolve."""
    spec = importlib.util.spec_from_file_location("rtstyle._baseline_stabilizer", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clip")
    p.add_argument("--image-size", type=int, default=None, help="the processed shorter side (default: the clip's)")
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--style", default="swirl")
    p.add_argument("--baseline", help="another stabilizer.py, timed in its sharp mode beside this one")
    args = p.parse_args()
    cv2.setNumThreads(1)
    stylizer = Stylizer.load(args.style, device="cpu", image_size=args.image_size)
    with VideoReader(args.clip) as reader:
        sources = [resize_shorter(f, args.image_size, multiple=2) if args.image_size else f
                   for f in islice(reader, args.frames)]
    stylized = [stylizer.stylize_frame(f, multiple=2) for f in sources]
    makers = {"sharp": lambda: make_stabilizer("sharp"), "fast": lambda: make_stabilizer("fast")}
    if args.baseline:
        baseline = load_baseline(args.baseline)
        makers["baseline sharp"] = lambda: baseline.make_stabilizer("sharp")
    ms: dict[str, list[float]] = {name: [] for name in makers}
    for _ in range(args.rounds):
        for name, make in makers.items():
            stabilizer = make()
            t = time.process_time()
            for s, y in zip(sources, stylized, strict=True):
                stabilizer(s, y)
            ms[name].append(round(1000 * (time.process_time() - t) / len(sources), 2))
    h, w = sources[0].shape[:2]
    print(json.dumps({"clip": args.clip, "size": [w, h], "frames": len(sources),
                      "ms_per_frame": {k: {"median": statistics.median(v), "runs": v} for k, v in ms.items()}}))


if __name__ == "__main__":
    main()
