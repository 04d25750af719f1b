#!/usr/bin/env python
"""Train a style model: the original interface, kept as written.

    python train.py --content-dir ./data/content --style-image ./data/style/style.jpg \
        --batch-size 2 --epochs 2 --save-model-dir ./checkpoints

Same as ``rtstyle train ...``; the final model is SAVE_MODEL_DIR/model.pth.
"""

import sys
from pathlib import Path

try:
    from rtstyle.cli import main
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from rtstyle.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
