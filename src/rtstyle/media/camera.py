"""Cameras and streams in, through OpenCV's VideoCapture."""

from __future__ import annotations

import os
import time
from typing import Iterator

import cv2
import numpy as np

from ..errors import RtStyleError


class Camera:
    """Frames from a camera index (``0`` or ``"0"``), a device path, a video file or a
    stream URL (``rtsp://``, ``http://``...), all through OpenCV's ``VideoCapture``.
    Iterating yields RGB frames until the source ends. ``fps`` is the source's rate
    (30 when it does not say).

    A live stream over the network (a URL with no length: an IP camera, an RTSP feed)
    that drops is opened again, for up to ``reconnect`` seconds, and the frames go on: a
    Wi-Fi hiccup or a camera's restart does not end a session. A file served over HTTP
    ends at its end. :attr:`reconnects` counts the times it came back; :attr:`ended` says
    why the frames stopped (None while they go on, or when the reader stopped first)."""

    def __init__(self, source: int | str | os.PathLike, reconnect: float = 10.0):
        self.source = source
        if isinstance(source, os.PathLike):
            source = os.fspath(source)
        #: a video file used as the camera: every frame is wanted, none is stale
        self.is_file = isinstance(source, str) and os.path.isfile(source)
        if isinstance(source, str) and source.strip().isdigit():
            source = int(source)
        self._source, self.reconnect = source, reconnect
        self._cap = _open(source)
        if self._cap is None:
            hint = ": no such file" if isinstance(source, str) and "://" not in source \
                and not os.path.exists(source) else ""
            raise RtStyleError(f"cannot open camera/stream {self.source}{hint}")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1 <= fps <= 240 else 30.0
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        #: a network stream without a length: opened again when it drops
        self.is_stream = isinstance(source, str) and "://" in source and \
            not self._cap.get(cv2.CAP_PROP_FRAME_COUNT) > 0
        self.reconnects = 0
        self.ended: str | None = None
        self._closed = False

    def __iter__(self) -> Iterator[np.ndarray]:
        lost = None  # when the frames stopped coming: reopened streams must bring one by the deadline
        while True:
            ok, bgr = self._cap.read() if self._cap.isOpened() else (False, None)
            if not ok or bgr is None:
                lost = time.monotonic() if lost is None else lost
                if not (self.is_stream and self._reopen(lost + self.reconnect)):
                    self.ended = "the file ended" if self.is_file else \
                        f"no frame for {self.reconnect:g} s" if self.is_stream else "the camera stopped sending frames"
                    return
                continue
            lost = None
            if bgr.ndim == 2:
                yield cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
            else:
                yield cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB if bgr.shape[2] == 4 else cv2.COLOR_BGR2RGB)

    def _reopen(self, deadline: float) -> bool:
        """Open the dropped stream again, trying until ``deadline`` (:func:`time.monotonic`):
        :attr:`reconnect` seconds after the last frame, so a stream that opens and then
        sends nothing does not keep a session waiting for ever."""
        self._cap.release()
        while time.monotonic() < deadline and not self._closed:
            cap = _open(self._source)
            if cap is not None:
                self._cap = cap
                self.reconnects += 1
                return True
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        return False

    def close(self) -> None:
        self._closed = True
        self._cap.release()

    def __enter__(self) -> "Camera":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open(source: int | str) -> cv2.VideoCapture | None:
    """An opened capture of ``source``, or None. OpenCV's FFmpeg is told to keep quiet (read
    on its first capture; a level the user set stays): what fails is said in one line of
    ours, and a stream that drops printed FFmpeg's own lines into a live session at each
    try to reopen it ("Stream ends prematurely at 735, should be 18446744073709551615")."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    cap = _quietly(cv2.VideoCapture, source)
    if cap.isOpened():
        return cap
    cap.release()
    return None


def _quietly(fn, *args):
    """Call ``fn`` with OpenCV's warnings silenced (a failed open is reported by us)."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        return fn(*args)
    finally:
        cv2.utils.logging.setLogLevel(level)
