"""Animated images in and out (Pillow): an animated WebP or an APNG (a sticker, a GIF's
modern replacement), frame by frame, each with its duration and transparency."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageSequence

from ..errors import RtStyleError
from ..fileio import atomic_output
from .base import PathLike, _check_frame, _input_file, _reason
from .images import _FORMAT_TAGS, _IMAGE_WRITERS, _over_white

#: the image formats that animate (an animated WebP, an APNG), by Pillow's name, and the
#: extensions that write them
ANIMATED_FORMATS = ("WEBP", "PNG")
ANIMATED_OUTPUT_EXTS = {".webp", ".png"}


def frame_count(path: PathLike) -> int:
    """How many frames the image file ``path`` holds: more than 1 for an animated WebP or
    an APNG (a sticker, a GIF's modern replacement); 1 for any other picture, a multi-page
    TIFF included (pages, not an animation)."""
    try:
        with Image.open(path) as img:
            return getattr(img, "n_frames", 1) if img.format in ANIMATED_FORMATS else 1
    except Exception:  # read_image reports what is wrong with the file
        return 1


def read_animation(path: PathLike) -> tuple[Iterator[tuple[np.ndarray, np.ndarray | None, int]], int, int]:
    """An animated WebP or APNG: (its frames, each ``(RGB over white, alpha or None,
    duration in ms)`` as the viewer shows it (Pillow composes each frame with those before
    it), its frame count, how many times it loops (0: for ever))."""
    path = _input_file(path, "image")
    try:
        img = Image.open(path)
        n, loop = getattr(img, "n_frames", 1), int(img.info.get("loop", 0))
    except Exception as e:
        raise RtStyleError(f"cannot read image {path}: {_reason(e)}") from None

    def frames():
        with img:
            try:
                for frame in ImageSequence.Iterator(img):
                    rgba = frame.convert("RGBA")  # (loads the frame: its duration is known from then)
                    duration = int(frame.info.get("duration") or 100)
                    alpha = np.asarray(rgba)[..., 3]
                    yield _over_white(rgba), (None if alpha.min(initial=255) == 255 else alpha.copy()), duration
            except Exception as e:  # Pillow raises many types for damaged files
                raise RtStyleError(f"cannot read image {path}: {_reason(e)}") from None

    return frames(), n, loop


def write_animation(path: PathLike, frames: list[np.ndarray], durations: list[int], loop: int = 0,
                    alphas: list[np.ndarray | None] | None = None, tags: dict[str, bytes] | None = None) -> None:
    """Write RGB ``frames`` as an animated WebP or APNG (by the extension), each shown for its
    duration (ms), looping ``loop`` times (0: for ever); ``alphas``: each frame's transparency
    (None: opaque). Atomic, as :func:`write_image`."""
    path = Path(path)
    fmt = _IMAGE_WRITERS.get(path.suffix.lower(), ("", {}))[0]
    if path.suffix.lower() not in ANIMATED_OUTPUT_EXTS:
        raise RtStyleError(f"cannot write {path}: an animation needs {' or '.join(sorted(ANIMATED_OUTPUT_EXTS))}")
    alphas = alphas if alphas is not None and any(a is not None for a in alphas) else None
    images = []
    for i, frame in enumerate(frames):
        frame = _check_frame(frame)
        if alphas is None:
            images.append(Image.fromarray(frame))
        else:
            a = alphas[i] if alphas[i] is not None else np.full(frame.shape[:2], 255, np.uint8)
            images.append(Image.fromarray(np.dstack([frame, a]), "RGBA"))
    options = {**_IMAGE_WRITERS[path.suffix.lower()][1], **{k: v for k, v in (tags or {}).items()
                                                            if k in _FORMAT_TAGS.get(fmt, ())}}
    if fmt == "WEBP" and alphas is not None:
        # every frame whole: libwebp's sub-frame optimisation (Pillow 13) wrote a sticker's
        # frames without their alpha, transparent parts black
        options.update(kmin=1, kmax=1)
    with atomic_output(path) as tmp:
        try:
            images[0].save(tmp, format=fmt, save_all=True, append_images=images[1:], duration=durations,
                           loop=loop, **options)
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise RtStyleError(f"cannot write {path}: {_reason(e)}") from None
