"""The live preview window (OpenCV's HighGUI, else Tkinter) and the FPS overlay."""

from __future__ import annotations

import contextlib
import functools
import os
import sys

import cv2
import numpy as np
from PIL import Image

from ..errors import RtStyleError
from .base import _check_frame, _reason


def display_available() -> bool:
    """Whether a window can be shown: always on macOS and Windows; on Linux and other
    Unixes only when an X11 or Wayland display is set."""
    if sys.platform in ("darwin", "win32", "cygwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@functools.cache
def _opencv_has_gui() -> bool:
    """Whether this OpenCV build has HighGUI (the headless wheels say ``GUI: NONE``)."""
    for line in cv2.getBuildInformation().splitlines():
        key, _, value = line.strip().partition(":")
        if key.strip() == "GUI":
            return value.strip().upper() not in ("", "NONE")
    return False


def draw_fps(frame: np.ndarray, fps: float, dropped: float = 0.0) -> np.ndarray:
    """A copy of ``frame`` with "NN.N FPS" in its top-left corner, white on a dark outline;
    with the share of camera frames ``dropped`` (0-1) when there are any."""
    out = _check_frame(frame).copy()
    text = f"{fps:.1f} FPS" + (f", {100 * dropped:.0f}% of frames dropped" if dropped >= 0.005 else "")
    scale = max(0.4, min(out.shape[:2]) / 600)
    thick = max(1, round(scale * 2))
    (_, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    org = (round(8 * scale) + 2, round(8 * scale) + 2 + th)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 3, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


class Window:
    """A live preview window. ``show(frame)`` displays an RGB frame and returns False
    once the user has pressed q or Esc, or closed the window; ``keys()`` returns the other
    keys pressed since its last call (characters, e.g. ``"n"``, ``"+"``).

    Uses OpenCV's HighGUI when the installed OpenCV has one, else Tkinter."""

    def __init__(self, title: str = "rtstyle"):
        if not display_available():
            raise RtStyleError("no display to show a window on (DISPLAY/WAYLAND_DISPLAY is not set)")
        self.title = title
        self._impl = _CvWindow(title) if _opencv_has_gui() else _TkWindow(title)

    def show(self, frame: np.ndarray) -> bool:
        return self._impl.show(_check_frame(frame))

    def keys(self) -> list[str]:
        out, self._impl.pressed = self._impl.pressed, []
        return out

    def close(self) -> None:
        self._impl.close()

    def __enter__(self) -> "Window":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_QUIT_KEYS = {ord("q"), ord("Q"), 27}


class _CvWindow:
    def __init__(self, title: str):
        self.title = title
        self.pressed: list[str] = []
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
        except cv2.error as e:
            raise RtStyleError(f"cannot open a window: {_reason(e)}") from None

    def show(self, frame: np.ndarray) -> bool:
        cv2.imshow(self.title, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1)
        if key != -1 and (key & 0xFF) in _QUIT_KEYS:
            return False
        if key != -1 and 32 <= (key & 0xFF) < 127:
            self.pressed.append(chr(key & 0xFF))
        return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1

    def close(self) -> None:
        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)


class _TkWindow:
    def __init__(self, title: str):
        try:
            import tkinter as tk

            from PIL import ImageTk
        except ImportError as e:
            raise RtStyleError(f"cannot open a window: no GUI toolkit (OpenCV is headless and {e})") from None
        self._tk, self._ImageTk = tk, ImageTk
        try:
            self._root = tk.Tk()
        except tk.TclError as e:
            raise RtStyleError(f"cannot open a window: {_reason(e)}") from None
        self._root.title(title)
        self._label = tk.Label(self._root, borderwidth=0)
        self._label.pack()
        self._photo = None
        self._open = True
        self.pressed: list[str] = []
        for key in ("<KeyPress-q>", "<KeyPress-Q>", "<Escape>"):
            self._root.bind(key, self._quit)
        self._root.bind("<Key>", self._key, add="+")
        self._root.protocol("WM_DELETE_WINDOW", self._quit)

    def _quit(self, *_):
        self._open = False

    def _key(self, event) -> None:
        char = getattr(event, "char", "")
        if char and char.isprintable() and char not in "qQ":
            self.pressed.append(char)

    def show(self, frame: np.ndarray) -> bool:
        if not self._open:
            return False
        img = Image.fromarray(frame)
        if self._photo is not None and (self._photo.width(), self._photo.height()) == img.size:
            self._photo.paste(img)
        else:
            self._photo = self._ImageTk.PhotoImage(img, master=self._root)
            self._label.configure(image=self._photo)
        try:
            self._root.update()
        except self._tk.TclError:  # the window went away
            self._open = False
        return self._open

    def close(self) -> None:
        self._open = False
        with contextlib.suppress(Exception):
            self._root.destroy()
