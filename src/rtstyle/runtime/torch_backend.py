"""PyTorch backend (CPU, CUDA, MPS)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np
import torch

from ..checkpoint import load_model
from ..devices import resolve_device
from ..models import TransformerNet


class TorchBackend:
    name = "torch"

    def __init__(self, model: TransformerNet, device: str | torch.device = "auto", meta: dict[str, Any] | None = None):
        self.torch_device = resolve_device(device)
        self.device = str(self.torch_device)
        self.meta = dict(meta or {})
        self.model = model.eval().requires_grad_(False).to(self.torch_device)
        # Half precision on CUDA: instance norm and the convs are well within its range.
        self.autocast_dtype = torch.float16 if self.torch_device.type == "cuda" else None
        if self.torch_device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)

    @classmethod
    def from_file(cls, path: str | os.PathLike, device: str = "auto") -> "TorchBackend":
        model, meta = load_model(path)
        return cls(model, device, meta)

    @torch.inference_mode()
    def run_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Bx3xHxW float in [0, 255] -> the same, clamped and rounded."""
        x = x.to(self.torch_device, non_blocking=True)
        if self.torch_device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        ctx = (torch.autocast(self.torch_device.type, dtype=self.autocast_dtype) if self.autocast_dtype
               else contextlib.nullcontext())
        with ctx:
            y = self.model(x)
        return y.float().clamp_(0, 255).round_()

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.array(frame, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
        y = self.run_tensor(x)
        return y[0].to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()
