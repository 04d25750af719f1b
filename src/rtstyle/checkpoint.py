"""Checkpoints: weights + architecture config + metadata in one plain dict.

Everything is loaded with ``torch.load(weights_only=True)``: a file whose unpickling would
run code is refused. State dicts saved by PyTorch's fast_neural_style example (including
old ones with instance-norm running statistics) load too; their architecture is inferred
from the tensor shapes.
"""

from __future__ import annotations

import datetime as _dt
import os
import pickle
import platform
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .errors import RtStyleError
from .fileio import atomic_output
from .models import ArchConfig, TransformerNet, build_model

FORMAT = "rtstyle.model"
FORMAT_VERSION = 1


def versions() -> dict[str, str]:
    return {"rtstyle": __version__, "torch": torch.__version__, "python": platform.python_version()}


def _strip_tensors(obj: Any) -> Any:
    """Metadata must be plain data so weights_only loading accepts it."""
    if isinstance(obj, dict):
        return {str(k): _strip_tensors(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strip_tensors(v) for v in obj]
    if isinstance(obj, str):
        return str(obj)  # plain str: subclasses such as torch's TorchVersion would not unpickle safely
    if isinstance(obj, (int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def model_state(model: TransformerNet, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    meta = dict(meta or {})
    meta.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    meta.setdefault("versions", versions())
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": model.config.to_dict(),
        "state_dict": state,
        "meta": _strip_tensors(meta),
    }


def save(obj: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write a checkpoint dict atomically (temp file + rename)."""
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def save_model(model: TransformerNet, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    return save(model_state(model, meta), path)


def load_file(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)`` with every failure turned into one clear error."""
    path = Path(path)
    if not path.exists():
        raise RtStyleError(f"model file not found: {path}")
    if path.is_dir():
        raise RtStyleError(f"model path is a folder, not a file: {path}")
    if path.stat().st_size == 0:
        raise RtStyleError(f"model file is empty: {path}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; the outcome is what matters
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e)
        if "Weights only load failed" in msg and ("GLOBAL" in msg or "global" in msg):
            raise RtStyleError(
                f"refusing to load {path}: unpickling it would run code; only plain weight files are accepted"
            ) from None
        raise RtStyleError(f"{path} is not a model checkpoint (not a PyTorch weights file)") from None
    except Exception as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise RtStyleError(f"{path} is not a model checkpoint ({first})") from None


_EXAMPLE_STAT = re.compile(r"^in\d+\.running_(mean|var)$|\.in\d+\.running_(mean|var)$|num_batches_tracked$")


def _clean_plain_state_dict(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    return {k: v for k, v in state.items() if not _EXAMPLE_STAT.search(k)}


def infer_arch(state: dict[str, torch.Tensor]) -> ArchConfig:
    """Architecture of a TransformerNet state dict from its tensor shapes."""
    try:
        c1, _, k_in, _ = state["conv1.conv2d.weight"].shape
        c2 = state["conv2.conv2d.weight"].shape[0]
        c3 = state["conv3.conv2d.weight"].shape[0]
        k_out = state["deconv3.conv2d.weight"].shape[-1]
    except (KeyError, AttributeError, ValueError):
        raise ValueError("not a TransformerNet state dict") from None
    blocks = len({m.group(1) for k in state if (m := re.match(r"res(\d+)\.", k))})
    return ArchConfig(name="classic", channels=(int(c1), int(c2), int(c3)), num_res_blocks=blocks,
                      in_kernel=int(k_in), out_kernel=int(k_out))


def model_from_checkpoint(ckpt: Any, source: str = "checkpoint") -> tuple[TransformerNet, dict[str, Any]]:
    """Build the network a checkpoint describes; returns (model in eval mode, metadata)."""
    if not isinstance(ckpt, dict) or not ckpt:
        raise RtStyleError(f"{source} is not a model checkpoint")
    try:
        if ckpt.get("format") == FORMAT:
            config = ArchConfig.from_dict(ckpt["arch"])
            state, meta = ckpt["state_dict"], dict(ckpt.get("meta") or {})
        else:
            state = _clean_plain_state_dict(ckpt)
            config, meta = infer_arch(state), {"origin": "plain state dict (fast_neural_style layout)"}
        model = build_model(config)
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise RtStyleError(f"{source} is not a usable style model ({first})") from None
    meta["arch"] = config.to_dict()
    return model.eval(), meta


def load_model(path: str | os.PathLike) -> tuple[TransformerNet, dict[str, Any]]:
    return model_from_checkpoint(load_file(path), source=str(path))
