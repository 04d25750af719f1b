"""Styles by name: the built-ins shipped inside the package, and the user's own.

Built-ins: ``index.json`` beside this file lists them (name, file, credit, and where the
style comes from: a ``teacher`` network it was distilled from with ``rtstyle distill``, or a
``painting`` it was trained on with ``rtstyle train`` and the VGG16 loss); a style is
available when its file is present. Each is an ``edge`` model; ``docs/styles.md`` has the
exact commands and their measured fidelity.

User styles (``rtstyle learn``): ``NAME.pth``, ``NAME.onnx`` and ``NAME.json`` (the same
fields as an index entry) in :func:`user_styles_dir`, the user data folder of
platformdirs. A user style never takes a built-in's name; should a later release add a
built-in with a user style's name, the plain name means the built-in and ``user:NAME``
the user's style. Every name is resolved here, by :func:`find_style`.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import RtStyleError

STYLES_DIR = Path(__file__).resolve().parent
USER_PREFIX = "user:"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


@dataclass(frozen=True)
class Style:
    name: str
    file: str
    credit: str = ""
    description: str = ""
    teacher: str = ""  # "multistyle26:I" for a distilled style
    painting: str = ""  # the painting's file name for a style trained on it
    user: bool = False  # one of the user's own (rtstyle learn), stored in user_styles_dir()
    extra: dict = field(default_factory=dict, compare=False, hash=False)  # a user style's learn record

    @property
    def path(self) -> Path:
        return (user_styles_dir() if self.user else STYLES_DIR) / self.file

    @property
    def key(self) -> str:
        """The name that selects this style everywhere: ``user:NAME`` for a user style whose
        name a built-in has since taken."""
        return USER_PREFIX + self.name if self.user and self.name in builtin_styles() else self.name

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


BuiltinStyle = Style  # the name of earlier releases


def builtin_styles() -> dict[str, Style]:
    """The built-in styles whose model files are installed, in index order."""
    styles = (Style(**e) for e in _index()["styles"])
    return {s.name: s for s in styles if s.path.is_file()}


def user_styles_dir() -> Path:
    """Where ``rtstyle learn`` installs styles: ``styles/`` in the user data folder
    (``~/.local/share/rtstyle`` on Linux, or under ``$XDG_DATA_HOME``; ``~/Library/
    Application Support/rtstyle`` on macOS; ``%LOCALAPPDATA%\\rtstyle`` on Windows)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("rtstyle", appauthor=False)) / "styles"


def user_styles() -> dict[str, Style]:
    """The user's styles whose model files are present, by name (sorted)."""
    out = {}
    folder = user_styles_dir()
    for entry in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            e = json.loads(entry.read_text())
            s = Style(e["name"], e["file"], e.get("credit", ""), e.get("description", ""), painting=e.get("painting", ""),
                      user=True, extra={k: v for k, v in e.items() if k not in _FIELDS})
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged or foreign file: not a style
        if s.name == entry.stem and s.path.is_file():
            out[s.name] = s
    return out


_FIELDS = {"name", "file", "credit", "description", "teacher", "painting", "user"}


def all_styles() -> dict[str, Style]:
    """Every style by the name that selects it: the built-ins (index order), then the
    user's (``user:NAME`` where a built-in has the same name)."""
    out = dict(builtin_styles())
    for s in user_styles().values():
        out[s.key] = s
    return out


def check_user_style_name(name: str) -> str:
    """``name`` if it can name a new user style; else a :class:`RtStyleError` saying why."""
    if not _NAME.fullmatch(name):
        raise RtStyleError(f"bad style name {name!r}: use 1-40 lower-case letters, digits, '-' or '_', "
                           "starting with a letter or digit")
    if name in _index_names():  # installed or not: a built-in's name stays the built-in's
        raise RtStyleError(f"{name!r} is a built-in style's name: choose another (--name)")
    return name


class UserStyleExists(RtStyleError):
    """The user already has a style of that name (and did not ask to replace it)."""


def check_new_user_style(name: str, replace: bool = False) -> str:
    """``name`` if a new user style may take it: a valid name, no built-in's, and none of
    the user's own unless ``replace``; else an :class:`RtStyleError` saying why."""
    check_user_style_name(name)
    if not replace and name in user_styles():
        raise UserStyleExists(f"you already have a style named {name!r}: choose another --name, or --replace it")
    return name


def _index_names() -> set[str]:
    return {e["name"] for e in _index()["styles"]}


def name_from_file(path: str | os.PathLike) -> str:
    """A style name from a painting's file name: ``The Starry Night.jpg`` -> ``the-starry-night``."""
    slug = re.sub(r"[^a-z0-9_]+", "-", Path(path).stem.lower()).strip("-_")[:40].rstrip("-_")
    return slug or "my-style"


def install_user_style(name: str, files: dict[str, Path], entry: dict, replace: bool = False) -> Style:
    """Move ``files`` (suffix -> a finished file: ``.pth``, optionally ``.onnx``) into the user
    styles folder as ``NAME.<suffix>`` and write ``NAME.json`` from ``entry`` last, so that a
    style is listed only once it is complete. An existing user style of that name is replaced
    only when ``replace``."""
    check_new_user_style(name, replace)
    folder = user_styles_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").unlink(missing_ok=True)
    for suffix in (".pth", ".onnx"):
        target = folder / f"{name}{suffix}"
        if suffix in files:
            shutil.move(str(files[suffix]), folder / f".{name}{suffix}.part")
            os.replace(folder / f".{name}{suffix}.part", target)
        else:
            target.unlink(missing_ok=True)  # a replaced style's stale export
    fields = {k: v for k, v in entry.items() if k in _FIELDS - {"name", "file", "user"}}
    style = Style(name=name, file=f"{name}.pth", user=True, **fields,
                  extra={k: v for k, v in entry.items() if k not in _FIELDS})
    record = {k: v for k, v in asdict(style).items() if k not in ("user", "extra")} | style.extra
    tmp = folder / f".{name}.json.part"
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, folder / f"{name}.json")
    return style


def remove_user_style(name: str) -> None:
    """Delete the user's style ``name`` (with or without ``user:``)."""
    name = name.removeprefix(USER_PREFIX)
    folder = user_styles_dir()
    if name not in user_styles():
        raise RtStyleError(f"no user style named {name!r} (rtstyle styles lists them)")
    for suffix in (".json", ".onnx", ".pth"):
        (folder / f"{name}{suffix}").unlink(missing_ok=True)


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


def find_style(name: str) -> Style | None:
    """The style ``name`` selects: ``user:NAME`` a user style; a plain name the built-in of
    that name, else the user's style of that name."""
    if name.startswith(USER_PREFIX):
        return user_styles().get(name[len(USER_PREFIX):])
    return builtin_styles().get(name) or user_styles().get(name)


def resolve_model(model: str | os.PathLike | None = None, style: str | None = None, device: str = "auto") -> Path:
    """The model file to load: ``model`` (a path, or a style's name), else the style named
    ``style``, else the default built-in style; for a named style, the file that suits
    ``device`` (see :meth:`Style.file_for`)."""
    if model is not None:
        path = Path(model)
        found = None if path.exists() else find_style(str(model))
        if found is None:
            if not path.exists() and path.suffix == "" and os.sep not in str(model):
                raise RtStyleError(_unknown(str(model)))
            return path
        return found.file_for(device)
    name = style or default_style()
    if name is None:
        raise RtStyleError("no built-in styles are installed: pass --model FILE")
    found = find_style(name)
    if found is None:
        raise RtStyleError(_unknown(name))
    return found.file_for(device)


def _unknown(name: str) -> str:
    names = ", ".join(builtin_styles()) or "(none installed)"
    mine = ", ".join(s.key for s in user_styles().values())
    return (f"unknown style {name!r}: no such model file or style; built-in styles: {names}"
            + (f"; your styles: {mine}" if mine else ""))
