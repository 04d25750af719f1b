"""Device selection: CUDA > MPS > CPU when asked for ``auto``."""

from __future__ import annotations

import torch

from .errors import RtStyleError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RtStyleError(f"device {name!r} asked for, but this PyTorch build sees no CUDA GPU")
        return torch.device(name)
    if name == "mps":
        if not mps_available():
            raise RtStyleError("device 'mps' asked for, but Apple's Metal backend is not available here")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise RtStyleError(f"unknown device {name!r}; choose one of: {', '.join(DEVICE_CHOICES)}")
