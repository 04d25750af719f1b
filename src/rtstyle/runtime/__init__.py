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


def load_backend(model: str | os.PathLike, device: str = "auto", **options: Any) -> Backend:
    """Open a model file with the backend that runs it: ``.onnx`` files with ONNX Runtime
    (``options`` go to :class:`OnnxBackend`), checkpoints with PyTorch."""
    if Path(model).suffix.lower() == ".onnx":
        from .onnx_backend import OnnxBackend

        return OnnxBackend(model, device, **options)
    from .torch_backend import TorchBackend

    return TorchBackend.from_file(Path(model), device)
