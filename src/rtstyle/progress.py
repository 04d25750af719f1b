"""Progress bars for long work: tqdm on stderr, or nothing when ``progress`` is off."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(progress: bool, **kwargs) -> tqdm:
    """A tqdm bar on stderr (``kwargs`` as tqdm takes them), disabled unless ``progress``."""
    return tqdm(disable=not progress, dynamic_ncols=True, file=sys.stderr, **kwargs)
