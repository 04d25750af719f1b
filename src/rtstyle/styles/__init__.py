"""Built-in styles: compact models shipped inside the package, selected by name.

``index.json`` beside this file lists them (name, file, credit, and where the style comes
from: a ``teacher`` network it was distilled from with ``rtstyle distill``, or a
``painting`` it was trained on with ``rtstyle train`` and the VGG16 loss); a style is
available when its file is present. Each is an ``edge`` model; ``docs/styles.md`` has the
exact commands and their measured fidelity.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import RtStyleError

STYLES_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BuiltinStyle:
    name: str
    file: str
    credit: str
    description: str = ""
    teacher: str = ""  # "multistyle26:I" for a distilled style
    painting: str = ""  # the painting's file name for a style trained on it

    @property
    def path(self) -> Path:
        return STYLES_DIR / self.file

    def file_for(self, device: str = "auto") -> Path:
        """The file to run on ``device``: the exported ``.onnx`` beside the checkpoint for
        the CPU (ONNX Runtime runs these networks 2-3x faster than PyTorch eager there,
        and starts without importing PyTorch), the ``.pth`` for PyTorch's GPUs."""
        onnx = self.path.with_suffix(".onnx")
        if onnx.is_file() and (device == "cpu" or (device == "auto" and not _gpu_for_torch())):
            return onnx
        return self.path


def _index() -> dict:
    index = STYLES_DIR / "index.json"
    return json.loads(index.read_text()) if index.is_file() else {"styles": []}


def builtin_styles() -> dict[str, BuiltinStyle]:
    """The built-in styles whose model files are installed, in index order."""
    styles = (BuiltinStyle(**e) for e in _index()["styles"])
    return {s.name: s for s in styles if s.path.is_file()}


def default_style() -> str | None:
    """The index's default, if installed, else the first installed style."""
    styles, default = builtin_styles(), _index().get("default")
    return default if default in styles else next(iter(styles), None)


def _gpu_for_torch() -> bool:
    """Whether "auto" would find a GPU for PyTorch, guessed without importing it (which
    takes seconds): an NVIDIA driver (Linux, Windows) or Apple silicon."""
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def resolve_model(model: str | os.PathLike | None = None, style: str | None = None, device: str = "auto") -> Path:
    """The model file to load: ``model`` (a path, or a built-in style's name), else the
    built-in ``style``, else the default built-in style; for a built-in, the file that
    suits ``device`` (see :meth:`BuiltinStyle.file_for`)."""
    styles = builtin_styles()
    if model is not None:
        path = Path(model)
        if path.exists() or str(model) not in styles:
            if not path.exists() and path.suffix == "" and os.sep not in str(model):
                raise RtStyleError(_unknown(str(model), styles))
            return path
        return styles[str(model)].file_for(device)
    name = style or default_style()
    if name is None:
        raise RtStyleError("no built-in styles are installed: pass --model FILE")
    if name not in styles:
        raise RtStyleError(_unknown(name, styles))
    return styles[name].file_for(device)


def _unknown(name: str, styles: dict[str, BuiltinStyle]) -> str:
    names = ", ".join(styles) or "(none installed)"
    return f"unknown style {name!r}: no such model file or built-in style; built-in styles: {names}"
