#!/usr/bin/env python
"""Stylize a webcam, a video, an image or a folder: the original interface, kept as written.

    python inference.py --model checkpoints/model.pth --webcam --image-size 480
    python inference.py --model checkpoints/model.pth --input my_video.mp4 --output stylized_video.mp4

Same as ``rtstyle stylize ...``.
"""

import sys
from pathlib import Path

try:
    from rtstyle.cli import main
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from rtstyle.cli import main

if __name__ == "__main__":
    sys.exit(main(["stylize", *sys.argv[1:]]))
