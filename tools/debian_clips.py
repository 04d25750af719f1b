"""Fetch the real clips of issue 16's seventh-session checks from three Debian packages
(docs/benchmarks.md, "Large frames: the flow reduced at most 2.5 times"):

    python tools/debian_clips.py --out clips/
    rtstyle eval-temporal clips/dog.mp4 clips/hello.mp4 clips/diver.mov clips/ball.mp4 \\
        clips/ball_vp9.avi --frames 300 [--image-size 240] [--browser-filter]

- ``dog.mp4``: a phone's 1920x1080 video of a dog, 41 frames, hand-held
  (forensics-samples-files: ``original-files/movie1/VID_20191220_170832.mp4``);
- ``hello.mp4``: a 1280x720 screen recording with a webcam inset, 249 frames (the same
  package: ``original-files/movie2/movie-hello.mp4``);
- ``diver.mov``: a diver under water, 640x480 MJPEG, 351 frames (pd-extendedview:
  ``usr/share/doc/pd-extendedview/media/diver.mov``);
- ``ball.mp4`` and ``ball_vp9.avi``: classroom clips of a thrown ball, 720x576 (255 frames)
  and 320x240 VP9 (295 frames) (python3-mecavideo: ``usr/share/pymecavideo/data/video/``
  ``balle-jbart.mp4`` and ``balle1-vp9.avi``).

Copies the files as they are (no re-encoding). Needs ``apt-get`` and ``dpkg`` (a Debian or
Ubuntu machine with its package lists: ``apt-get update`` first) and about 40 MB of
downloads; a development aid only.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

FILES = {  # package -> {path inside it: name in --out}
    "forensics-samples-files": {
        "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4": "dog.mp4",
        "usr/share/forensics-samples/original-files/movie2/movie-hello.mp4": "hello.mp4"},
    "pd-extendedview": {"usr/share/doc/pd-extendedview/media/diver.mov": "diver.mov"},
    "python3-mecavideo": {"usr/share/pymecavideo/data/video/balle-jbart.mp4": "ball.mp4",
                          "usr/share/pymecavideo/data/video/balle1-vp9.avi": "ball_vp9.avi"},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="clips", help="folder for the clips (default: clips)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(["apt-get", "download", *FILES], cwd=work, check=True)
        tree = work / "tree"
        for deb in sorted(work.glob("*.deb")):
            subprocess.run(["dpkg", "-x", str(deb), str(tree)], check=True)
        for members in FILES.values():
            for member, name in members.items():
                shutil.copyfile(tree / member, out / name)
                print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
