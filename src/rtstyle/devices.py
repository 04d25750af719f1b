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


# -- training precision -------------------------------------------------------------
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes bfloat16 in hardware (AVX512-BF16 or AMX on x86), which
    makes bf16 autocast about twice as fast as fp32 for training (docs/benchmarks.md)."""
    from .sysinfo import cpu_features

    features = cpu_features()["features"]
    assert isinstance(features, dict)
    known = [features.get(k) for k in ("AVX512-BF16", "AMX-BF16")]
    if any(known):
        return True
    if all(v is False for v in known):
        return False
    cpu = getattr(torch._C, "_cpu", None)  # unknown from the OS (Windows, say): ask PyTorch's cpuinfo
    try:
        return bool(cpu and (cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported()))
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision a run uses: ``fp32``, ``bf16`` or ``fp16`` (autocast; fp16 with loss
    scaling). ``auto``: bf16 on CUDA GPUs that support it and on CPUs with native bf16,
    fp16 on older CUDA GPUs, fp32 elsewhere (CPUs without it, Apple MPS)."""
    name = (name or "auto").lower()
    if name not in PRECISION_CHOICES:
        raise RtStyleError(f"unknown precision {name!r}; choose one of: {', '.join(PRECISION_CHOICES)}")
    if name == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if device.type == "cpu" and cpu_has_native_bf16():
            return "bf16"
        return "fp32"
    if name == "fp16" and device.type != "cuda":
        raise RtStyleError(f"--precision fp16 is for CUDA GPUs; on {device.type} use bf16 or fp32")
    if name == "bf16" and device.type == "mps":
        raise RtStyleError("--precision bf16 is not supported on Apple MPS here; use fp32")
    return name


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a resolved precision (None: plain fp32)."""
    return _DTYPES[precision]
