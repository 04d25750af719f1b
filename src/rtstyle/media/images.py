"""Image files in and out (Pillow), folders of them, and resizing."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageOps

from ..errors import RtStyleError
from ..fileio import atomic_output
from .base import IMAGE_EXTS, VIDEO_EXTS, PathLike, _check_frame, _input_file, _reason

# Extension -> (Pillow format, save options).
_IMAGE_WRITERS: dict[str, tuple[str, dict]] = {
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".png": ("PNG", {}),
    ".bmp": ("BMP", {}),
    ".webp": ("WEBP", {"quality": 95}),
    ".tif": ("TIFF", {"compression": "tiff_deflate"}),
    ".tiff": ("TIFF", {"compression": "tiff_deflate"}),
    ".avif": ("AVIF", {"quality": 90}),
}
HEIF_EXTS = (".heic", ".heif")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_FORMATS_WITH_ALPHA = ("PNG", "WEBP", "TIFF", "AVIF")
# the photo's tags (image_tags) each format keeps: Pillow's TIFF writer (libtiff, compressed)
# fails on EXIF's sub-IFDs, so a TIFF keeps the colour profile only; BMP neither
_FORMAT_TAGS = {"JPEG": ("exif", "icc_profile"), "PNG": ("exif", "icc_profile"), "WEBP": ("exif", "icc_profile"),
                "AVIF": ("exif", "icc_profile"), "TIFF": ("icc_profile",)}


@functools.lru_cache(maxsize=1)
def heif_support() -> bool:
    """Whether Pillow reads HEIC/HEIF (an iPhone's photos): pillow-heif registers its
    opener on the first call (the browser page checks an uploaded painting with it too)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info)


def _over_white(rgba: Image.Image) -> np.ndarray:
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode as HxWx3 uint8 RGB. Transparency is composited over white;
    16/32-bit and float images are scaled down to 8 bits, not clipped."""
    if img.mode == "RGB":
        return np.asarray(img)
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        a = np.asarray(img).astype(np.float64)
        if img.mode.startswith("I;16") or (img.mode == "I" and a.max(initial=0) > 255):
            a = a / 257.0  # 16-bit range
        elif img.mode == "F" and a.max(initial=0) <= 1.0:
            a = a * 255.0  # float in [0, 1]
        gray = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if _has_alpha(img):
        return _over_white(img.convert("RGBA"))
    return np.asarray(img.convert("RGB"))  # L, 1, P, CMYK, YCbCr, ...


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB, EXIF orientation applied (transparency
    composited over white).

    The file is decoded completely, so a truncated file fails here rather than later."""
    return read_image_with_alpha(path)[0]


def read_image_with_alpha(path: PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_image`, and the image's alpha channel (HxW uint8) where it has any
    transparency (None where it is opaque)."""
    path = _input_file(path, "image")
    if path.suffix.lower() in HEIF_EXTS and not heif_support():
        raise RtStyleError(f"cannot read image {path}: HEIC/HEIF photos need pillow-heif "
                           "(pip install 'rtstyle[heif]')")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            if not _has_alpha(img):
                return _to_rgb(img), None
            rgba = img.convert("RGBA")  # once, for the alpha and the picture over white
            alpha = np.asarray(rgba)[..., 3]
            return _over_white(rgba), (None if alpha.min(initial=255) == 255 else alpha)
    except Exception as e:  # Pillow raises many types for damaged files
        if isinstance(e, Image.UnidentifiedImageError):
            raise RtStyleError(f"cannot read image {path}: not an image file or an unsupported format") from None
        raise RtStyleError(f"cannot read image {path}: {_reason(e)}") from None


_ORIENTATION = 0x0112  # EXIF tags: the display rotation (applied by read_image)
_PIXEL_SIZE = (0xA002, 0xA003)  # the picture's width and height, in the Exif IFD (stale once resized)
# IFD0's tags that describe how the source's own pixels are stored (a TIFF's size, strips,
# compression, samples; a JPEG's chroma subsampling): they would be false of the copy
_STRUCTURE_TAGS = (254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 317, 320,
                   322, 323, 324, 325, 338, 339, 340, 341, 513, 514, 529, 530, 34675)


def image_tags(path: PathLike) -> dict[str, bytes]:
    """What a copy of the photo ``path`` made by stylizing it should keep (Pillow's save
    options ``exif`` and ``icc_profile``): its EXIF (when and where it was taken, the
    camera: a gallery sorts and maps the stylized copy with the original), without the
    orientation (:func:`read_image` applied it), the picture size, how the source's pixels
    are stored (a TIFF's strips and compression) and the embedded thumbnail (a viewer
    would show the unstylized photo for it); and its colour profile where
    it is an RGB one (a wide-gamut phone photo's Display P3: the photo's colours are its
    numbers in that space, and so are the stylized copy's). Empty where it has neither or
    cannot be read."""
    try:
        with Image.open(path) as img:
            exif, icc = img.getexif(), img.info.get("icc_profile")
            tags = {}
            for tag in _STRUCTURE_TAGS:
                exif.pop(tag, None)
            if len(exif):
                exif.pop(_ORIENTATION, None)
                sub = exif.get_ifd(0x8769)  # the Exif IFD
                for tag in _PIXEL_SIZE:
                    sub.pop(tag, None)
                tags["exif"] = exif.tobytes()  # (IFD1, the thumbnail, is not written)
            if icc and icc[16:20] == b"RGB ":  # (a CMYK or gray profile does not fit the RGB copy)
                tags["icc_profile"] = icc
            return tags
    except Exception:  # Pillow raises many types for damaged metadata: the picture still counts
        return {}


def write_image(path: PathLike, frame: np.ndarray, alpha: np.ndarray | None = None,
                tags: dict[str, bytes] | None = None) -> None:
    """Write an RGB frame; the format follows the extension. ``alpha`` (HxW uint8): its
    transparency, kept where the format has it (PNG, WebP, TIFF, AVIF; JPEG and BMP show
    the frame as it is). ``tags``: EXIF and colour profile (:func:`image_tags`), kept
    where the format has them (TIFF the profile only, BMP neither). Atomic: the file appears
    complete or not at all. Missing parent folders are created."""
    path = Path(path)
    writer = _IMAGE_WRITERS.get(path.suffix.lower())
    if writer is None:
        raise RtStyleError(f"cannot write {path}: unknown image extension "
                           f"(use one of {', '.join(sorted(_IMAGE_WRITERS))})")
    fmt, options = writer
    frame = _check_frame(frame)
    if alpha is not None and fmt in _FORMATS_WITH_ALPHA:
        if alpha.shape != frame.shape[:2]:
            raise ValueError(f"alpha {alpha.shape} and frame {frame.shape[:2]} differ in size")
        img = Image.fromarray(np.dstack([frame, alpha]), "RGBA")
    else:
        img = Image.fromarray(frame)
    if tags:
        options = {**options, **{k: v for k, v in tags.items() if k in _FORMAT_TAGS.get(fmt, ())}}
    with atomic_output(path) as tmp:
        try:
            img.save(tmp, format=fmt, **options)
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise RtStyleError(f"cannot write {path}: {_reason(e)}") from None


def list_images(folder: PathLike, recursive: bool = True, exts: set[str] = IMAGE_EXTS) -> list[Path]:
    """Image files under ``folder`` (by extension, any case; ``exts``: others), sorted;
    hidden files and folders are skipped, symlinked folders are not followed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RtStyleError(f"no such folder: {folder}")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        found += [Path(root, f) for f in files
                  if not f.startswith(".") and Path(f).suffix.lower() in exts]
    return sorted(found)


def input_kind(path: PathLike) -> Literal["image", "video", "folder"]:
    """What an input path is, judged by existence and extension."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise RtStyleError(f"no such file or folder: {path}")
    ext = path.suffix.lower()
    if ext in IMAGE_EXTS:
        return "image"
    if ext in VIDEO_EXTS:
        return "video"
    raise RtStyleError(f"unsupported input {path}: expected an image ({' '.join(sorted(IMAGE_EXTS))}), "
                       f"a video ({' '.join(sorted(VIDEO_EXTS))}) or a folder")


def _round_to(n: int, multiple: int) -> int:
    return max(multiple, (2 * n + multiple) // (2 * multiple) * multiple)  # nearest, halves up


def shorter_size(height: int, width: int, size: int | None, multiple: int = 1) -> tuple[int, int]:
    """The (h, w) that :func:`resize_shorter` gives a ``height`` x ``width`` frame."""
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    h, w = height, width
    if size is None:
        th, tw = h, w
    elif size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    elif h <= w:
        th, tw = size, max(1, round(w * size / h))
    else:
        th, tw = max(1, round(h * size / w)), size
    return _round_to(th, multiple), _round_to(tw, multiple)


def resize_shorter(frame: np.ndarray, size: int | None, multiple: int = 1) -> np.ndarray:
    """Resize so the shorter side is ``size`` (aspect ratio kept), then round each side
    to the nearest multiple of ``multiple`` (2 for H.264's yuv420p). ``size=None`` keeps
    the size, apart from that rounding. Returns ``frame`` itself when nothing changes."""
    th, tw = shorter_size(*frame.shape[:2], size, multiple)
    if (th, tw) == frame.shape[:2]:
        return frame
    return resize_to(frame, (th, tw))


def resize_to(frame: np.ndarray, size: tuple[int, int], enlarge: int = cv2.INTER_CUBIC) -> np.ndarray:
    """``frame`` resized to ``size`` = (h, w): by area where it shrinks (no aliasing), else
    by ``enlarge``."""
    h, w = frame.shape[:2]
    shrinking = size[0] <= h and size[1] <= w
    return cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA if shrinking else enlarge)
