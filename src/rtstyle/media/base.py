"""What every media module shares: the file kinds, and checks that turn bad input into
one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from ..errors import RtStyleError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".avif",
              ".heic", ".heif"}  # HEIC/HEIF (an iPhone's photos) need pillow-heif: rtstyle[heif]
#: Image files that can be written; a photo of another kind is written as JPEG.
IMAGE_OUTPUT_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".avif"}
#: Video files that can be read (anything FFmpeg demuxes; GIFs count as videos): also a
#: camera's raw H.264/H.265 stream (a Raspberry Pi's, a DVR's), a DVD's VOB, broadcast MXF,
#: uncompressed Y4M test sequences.
VIDEO_EXTS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif",
              ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".3gp", ".ogv",
              ".h264", ".264", ".h265", ".265", ".hevc", ".vob", ".mxf", ".y4m", ".asf", ".3g2", ".m2v"}
#: Video files that :class:`~rtstyle.media.VideoWriter` can write (a subset of ``VIDEO_EXTS``).
VIDEO_OUTPUT_EXTS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif"}

PathLike = str | os.PathLike


def _input_file(path: PathLike, what: str) -> Path:
    """``path`` as a Path when it names a non-empty regular file, else a user error."""
    path = Path(path)
    if not path.exists():
        raise RtStyleError(f"no such {what} file: {path}")
    if not path.is_file():
        raise RtStyleError(f"{path} is not a file")
    if path.stat().st_size == 0:
        raise RtStyleError(f"{what} file {path} is empty")
    return path


def _check_frame(frame: np.ndarray) -> np.ndarray:
    """A C-contiguous HxWx3 uint8 array, or ValueError (a programming error, not bad input)."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        desc = f"shape {frame.shape} dtype {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"expected an HxWx3 uint8 RGB frame, got {desc}")
    return np.ascontiguousarray(frame)


def _reason(e: BaseException) -> str:
    """The useful part of an exception, for a one-line message."""
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return " ".join(text.split())


def _main_video(container: av.container.InputContainer):
    """The video stream of ``container`` that is the picture: the first that is not an
    attached picture (a cover: FFmpeg lists MP4's and Matroska's as one-frame video
    streams, in some files before the film's own); None when there is none."""
    cover = av.stream.Disposition.attached_pic
    return next((s for s in container.streams.video if not s.disposition & cover), None)


def _encoder_available(name: str) -> bool:
    try:
        av.Codec(name, "w")
        return True
    except Exception:
        return False
