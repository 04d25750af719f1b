"""Per-frame cost of the live loop (``rtstyle stylize --webcam CLIP --virtual-camera``) into
a stand-in virtual camera registered with pyvirtualcam, against the network alone, at one
processed size; three interleaved runs (README, "Use it in video calls"):

    python tools/live_cost.py examples/pedestrians.mp4 240 [--style swirl] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from rtstyle import Stylizer, pipeline
from rtstyle.media import Camera, resize_shorter
from rtstyle.media.virtualcam import register_stand_in
from rtstyle.stabilizer import make_stabilizer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clip")
    p.add_argument("size", type=int, help="--image-size: the processed shorter side")
    p.add_argument("--style", default="swirl")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime's threads (default: one a core)")
    args = p.parse_args()
    register_stand_in(record=False)
    stylizer = Stylizer.load(args.style, device="cpu", image_size=args.size, threads=args.threads)
    with Camera(args.clip) as cam:
        frames = [resize_shorter(f, args.size, multiple=2) for f in cam]
    ms: dict[str, list[float]] = {"network": [], "loop": [], "loop + stabilizer": [], "loop + stabilizer (fast)": []}
    for _ in range(args.runs):
        t = time.perf_counter()
        for f in frames:
            stylizer.stylize_frame(f, multiple=2)
        ms["network"].append(1000 * (time.perf_counter() - t) / len(frames))
        for name, stabilizer in (("loop", None), ("loop + stabilizer", make_stabilizer()),
                                 ("loop + stabilizer (fast)", make_stabilizer("fast"))):
            r = pipeline.stylize_stream(stylizer, args.clip, show=False, progress=False, virtual_camera="",
                                        keys=lambda: [], postprocess=stabilizer, say=lambda s: None)
            ms[name].append(1000 * r["seconds"] / r["frames"])
    h, w = frames[0].shape[:2]
    print(json.dumps({"size": f"{w}x{h}", "frames": len(frames), "ms_per_frame": {
        k: {"median": round(statistics.median(v), 1), "min": round(min(v), 1), "max": round(max(v), 1)}
        for k, v in ms.items()}}, indent=1))


if __name__ == "__main__":
    main()
