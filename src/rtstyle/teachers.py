"""Teachers for distillation: any stylizer the student learns to reproduce, as a
function from a batch of images (B x 3 x H x W, RGB in [0, 255]) to its stylized batch.

- an rtstyle checkpoint (any preset), run by PyTorch on the training device;
- an ONNX stylizer with an NCHW RGB image input, run by ONNX Runtime on the CPU, with
  any extra inputs (e.g. a one-hot style-weights vector) fixed from the command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import load_model
from .errors import RtStyleError
from .runtime.torch_backend import TorchBackend


class Teacher:
    def __init__(self, path: str | os.PathLike, device: torch.device, extra_inputs: dict[str, np.ndarray] | None = None,
                 input_range: float | None = None):
        self.path = Path(path)
        self.device = device
        self.onnx = None
        self.model = None
        if self.path.suffix.lower() == ".onnx":
            from .runtime.onnx_backend import OnnxBackend

            self.onnx = OnnxBackend(self.path, "cpu", extra_inputs=extra_inputs, input_range=input_range)
            self.factor = self.onnx.factor
            self.meta: dict[str, Any] = dict(self.onnx.meta)
        else:
            if extra_inputs:
                raise RtStyleError("--teacher-input is for ONNX teachers only")
            self.model, self.meta = load_model(self.path)
            self.model = self.model.to(device).requires_grad_(False)
            self.factor = self.model.config.downsample_factor

    def frame(self, frame: np.ndarray) -> np.ndarray:
        """The teacher on one HxWx3 uint8 frame of any size (padded and cropped as needed)."""
        if self.onnx is not None:
            return self.onnx(frame)
        if getattr(self, "_backend", None) is None:
            self._backend = TorchBackend(self.model, self.device)
        return self._backend(frame)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.model is not None:
            return self.model(x).float().clamp(0, 255)
        batch = x.detach().float().cpu().numpy()
        # one image at a time: exported stylizers often have a fixed batch of 1
        out = np.concatenate([self.onnx.run_nchw(np.ascontiguousarray(b[None])) for b in batch])
        return torch.from_numpy(out).to(x.device)
