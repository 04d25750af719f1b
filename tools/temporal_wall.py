"""Wall time of the video path with the stabilizer against without it, in interleaved pairs,
and both against the network's own throughput (issue 16's two cost targets: at most +25%
wall time, median of at least 3 pairs; at least 65% of the network's throughput):

    python tools/temporal_wall.py vtest.avi --image-size 480 [--pairs 3] [--style swirl]

Each pair runs ``rtstyle stylize --input CLIP --output ... --json --no-progress`` twice in
fresh processes, bare (``--no-temporal --no-phase-lock``) then with the default
stabilizer, and takes the ``seconds`` of ``--json``. Between pairs the network alone is
timed at the processed size by ``rtstyle bench``'s own measurement (a fresh process, ONNX
Runtime with its default spinning; the best of three medians of 20 runs). The machine's speed drifts: the
figures that count are the ratios within a pair.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from rtstyle.bench import measure, run_stylize
from rtstyle.errors import RtStyleError
from rtstyle.media import VideoReader, resize_shorter
from rtstyle.styles import resolve_model


def stylize(clip: str, out: Path, image_size: int | None, style: str, extra: list[str]) -> dict:
    args = ["--input", clip, "--output", str(out), "--style", style, *extra]
    try:
        return run_stylize(args + (["--image-size", str(image_size)] if image_size else []))
    except RtStyleError as e:
        raise SystemExit(str(e)) from None


def network_fps(model: Path, size: tuple[int, int], blocks: int = 3) -> float:
    """Frames a second of the network alone (``rtstyle bench``'s own measurement, each in a
    fresh process): the best of ``blocks`` medians of 20 runs (a block that another tenant
    of the host slowed down does not count)."""
    return max(measure(str(model), size, runs=20, warmup=10)["fps"] for _ in range(blocks))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clip")
    p.add_argument("--image-size", type=int, default=None, help="the processed shorter side (default: the clip's)")
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--style", default="swirl")
    args = p.parse_args()
    with VideoReader(args.clip) as reader:
        first = next(iter(reader))
    frame = resize_shorter(first, args.image_size, multiple=2) if args.image_size else first
    h, w = frame.shape[:2]
    model = resolve_model(None, args.style, "cpu")
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        for i in range(args.pairs):
            fps = network_fps(model, (w, h))
            bare = stylize(args.clip, out, args.image_size, args.style, ["--no-temporal", "--no-phase-lock"])
            sharp = stylize(args.clip, out, args.image_size, args.style, [])
            pair = {"network_fps": round(fps, 1), "bare_s": bare["seconds"], "stabilized_s": sharp["seconds"],
                    "extra_wall_time": round(sharp["seconds"] / bare["seconds"] - 1, 3),
                    "bare_share_of_network": round(bare["throughput_fps"] / fps, 3),
                    "stabilized_share_of_network": round(sharp["throughput_fps"] / fps, 3),
                    "network_threads": [bare.get("network_threads"), sharp.get("network_threads")]}
            pairs.append(pair)
            print(f"pair {i + 1}: network {pair['network_fps']} FPS; bare {pair['bare_s']} s, stabilized "
                  f"{pair['stabilized_s']} s: {100 * pair['extra_wall_time']:+.0f}%; share of the network's "
                  f"throughput {100 * pair['bare_share_of_network']:.0f}% bare, "
                  f"{100 * pair['stabilized_share_of_network']:.0f}% stabilized", file=sys.stderr)
    median = lambda key: statistics.median(p[key] for p in pairs)  # noqa: E731
    print(json.dumps({"clip": args.clip, "size": f"{w}x{h}", "frames": bare["frames"], "pairs": pairs,
                      "median_extra_wall_time": median("extra_wall_time"),
                      "median_stabilized_share_of_network": median("stabilized_share_of_network"),
                      "median_bare_share_of_network": median("bare_share_of_network")}, indent=1))


if __name__ == "__main__":
    main()
