"""Inference backends behind one interface: ``backend(frame) -> frame`` on HxWx3 uint8
RGB numpy arrays. Nothing here knows where frames come from or go to."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Backend(Protocol):
    name: str
    device: str
    meta: dict[str, Any]

    def __call__(self, frame: np.ndarray) -> np.ndarray: ...


def load_backend(model: str | os.PathLike, device: str = "auto") -> Backend:
    """Open a model file with the backend that runs it."""
    from .torch_backend import TorchBackend

    return TorchBackend.from_file(Path(model), device)
