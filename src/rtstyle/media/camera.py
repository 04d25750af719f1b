"""Cameras and streams in, through OpenCV's VideoCapture."""

from __future__ import annotations

import os
from typing import Iterator

import cv2
import numpy as np

from ..errors import RtStyleError


class Camera:
    """Frames from a camera index (``0`` or ``"0"``), a device path, a video file or a
    stream URL (``rtsp://``, ``http://``...), all through OpenCV's ``VideoCapture``.
    Iterating yields RGB frames until the source ends. ``fps`` is the source's rate
    (30 when it does not say)."""

    def __init__(self, source: int | str | os.PathLike):
        self.source = source
        if isinstance(source, os.PathLike):
            source = os.fspath(source)
        #: a video file used as the camera: every frame is wanted, none is stale
        self.is_file = isinstance(source, str) and os.path.isfile(source)
        if isinstance(source, str) and source.strip().isdigit():
            source = int(source)
        self._cap = _quietly(cv2.VideoCapture, source)
        if not self._cap.isOpened():
            self._cap.release()
            hint = ": no such file" if isinstance(source, str) and "://" not in source \
                and not os.path.exists(source) else ""
            raise RtStyleError(f"cannot open camera/stream {self.source}{hint}")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1 <= fps <= 240 else 30.0
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def __iter__(self) -> Iterator[np.ndarray]:
        while self._cap.isOpened():
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                return
            if bgr.ndim == 2:
                yield cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
            else:
                yield cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB if bgr.shape[2] == 4 else cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "Camera":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _quietly(fn, *args):
    """Call ``fn`` with OpenCV's warnings silenced (a failed open is reported by us)."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        return fn(*args)
    finally:
        cv2.utils.logging.setLogLevel(level)
