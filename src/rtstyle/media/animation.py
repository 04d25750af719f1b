"""Animated images in and out (Pillow): an animated WebP, an APNG or a transparent GIF (a
sticker), frame by frame, each with its duration and transparency. (An opaque GIF is
read and written as a video: :mod:`.decode`, :mod:`.encode`.)"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageSequence

from ..errors import RtStyleError
from ..fileio import atomic_output
from .base import PathLike, _check_frame, _input_file, _reason
from .images import _FORMAT_TAGS, _IMAGE_WRITERS, _over_white

#: the image formats that animate (an animated WebP, an APNG, a GIF), by Pillow's name,
#: and the extensions that write them
ANIMATED_FORMATS = ("WEBP", "PNG", "GIF")
ANIMATED_OUTPUT_EXTS = {".webp", ".png", ".gif"}


def picture_gif(path: PathLike) -> bool:
    """Whether ``path`` is a GIF to stylize as a picture rather than as a video: one with
    transparent pixels in any frame (a sticker: stylized as an animation, its transparency
    kept) or a single frame (a logo, a still: written as any picture is, a PNG included)."""
    try:
        with Image.open(path) as img:
            if img.format != "GIF":
                return False
            if getattr(img, "n_frames", 1) == 1:
                return True
            for frame in ImageSequence.Iterator(img):
                if frame.convert("RGBA").getextrema()[3][0] < 255:
                    return True
    except Exception:  # the video reader reports what is wrong with the file
        return False
    return False


def frame_count(path: PathLike) -> int:
    """How many frames the image file ``path`` holds: more than 1 for an animated WebP or
    an APNG (a sticker, a GIF's modern replacement); 1 for any other picture, a multi-page
    TIFF included (pages, not an animation)."""
    try:
        with Image.open(path) as img:
            return getattr(img, "n_frames", 1) if img.format in ANIMATED_FORMATS else 1
    except Exception:  # read_image reports what is wrong with the file
        return 1


def read_animation(path: PathLike) -> tuple[Iterator[tuple[np.ndarray, np.ndarray | None, int]], int | None]:
    """An animated WebP, APNG or GIF: (its frames, each ``(RGB over white, alpha or None,
    duration in ms)`` as the viewer shows it (Pillow composes each frame with those before
    it), how many times it loops (0: for ever; None: it plays once))."""
    path = _input_file(path, "image")
    try:
        img = Image.open(path)
        loop = img.info.get("loop")
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

    return frames(), loop


def _gif_frame(frame: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    """A palettised GIF frame: 255 colours of its own, not dithered (Pillow's quantize to a
    palette of the frame's own does not dither; a dither pattern that changes with every frame
    would flicker: docs/benchmarks.md, "GIF output") and, where ``alpha`` is under half, the
    transparent index 255."""
    img = Image.fromarray(frame).quantize(255)
    if alpha is not None:
        index = np.asarray(img).copy()
        index[alpha < 128] = 255
        pal = img.getpalette()
        img = Image.fromarray(index, "P")
        img.putpalette(pal[:765] + [0] * (768 - len(pal[:765])))
    return img


def write_animation(path: PathLike, frames: list[np.ndarray], durations: list[int], loop: int | None = 0,
                    alphas: list[np.ndarray | None] | None = None, tags: dict[str, bytes] | None = None) -> None:
    """Write RGB ``frames`` as an animated WebP, APNG or GIF (by the extension), each shown
    for its duration (ms), looping ``loop`` times (0: for ever; None: played once);
    ``alphas``: each frame's transparency (None: opaque; a GIF's pixels are transparent or
    not, cut at half). Atomic, as :func:`~.images.write_image`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATED_OUTPUT_EXTS:
        raise RtStyleError(f"cannot write {path}: an animation needs {' or '.join(sorted(ANIMATED_OUTPUT_EXTS))}")
    fmt, defaults = ("GIF", {}) if suffix == ".gif" else _IMAGE_WRITERS[suffix]
    alphas = alphas if alphas is not None and any(a is not None for a in alphas) else None
    images = []
    for i, frame in enumerate(frames):
        frame = _check_frame(frame)
        if fmt == "GIF":
            images.append(_gif_frame(frame, alphas[i] if alphas is not None else None))
        elif alphas is None:
            images.append(Image.fromarray(frame))
        else:
            a = alphas[i] if alphas[i] is not None else np.full(frame.shape[:2], 255, np.uint8)
            images.append(Image.fromarray(np.dstack([frame, a]), "RGBA"))
    options = {**defaults, **{k: v for k, v in (tags or {}).items() if k in _FORMAT_TAGS.get(fmt, ())}}
    if loop is not None:
        options["loop"] = loop
    if fmt == "GIF":  # each frame whole, its transparent pixels showing what is behind the image
        options.update(disposal=2, optimize=False, **({"transparency": 255} if alphas is not None else {}))
    if fmt == "WEBP" and alphas is not None:
        # every frame whole: libwebp's sub-frame optimisation (Pillow 13) wrote a sticker's
        # frames without their alpha, transparent parts black
        options.update(kmin=1, kmax=1)
    with atomic_output(path) as tmp:
        try:
            images[0].save(tmp, format=fmt, save_all=True, append_images=images[1:], duration=durations,
                           **options)
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise RtStyleError(f"cannot write {path}: {_reason(e)}") from None
