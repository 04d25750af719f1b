"""A live session (``rtstyle stylize --webcam``): the keys, the state they change, and the
frame source that drops stale camera frames.

Keys act the same in OpenCV's window, the Tk window and, with ``--no-show``, a terminal:
the next style loads in a background thread while frames keep flowing through the current
one; a style switch resets the temporal stabilizer.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import queue
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .media import write_image

KEYS = [("n / p", "next / previous style"), ("+ / -", "strength up / down"),
        ("t", "temporal stabilization on / off"), ("s", "snapshot (PNG)"), ("f", "FPS overlay on / off"),
        ("h", "these keys"), ("q / Esc", "quit")]
HELP = "keys: " + "; ".join(f"{k} {what}" for k, what in KEYS)
STRENGTH_STEP = 0.1


@dataclass(frozen=True)
class StyleChoice:
    """A style the session can cycle to: its label and its model file."""

    label: str
    path: Path


class LiveSession:
    """What the keys change. ``load(path)`` makes a :class:`~rtstyle.stylizer.Stylizer`
    (run in a background thread); ``stabilizer`` is the temporal filter (None: none);
    ``say`` reports each change in one line."""

    def __init__(self, stylizer, styles: list[StyleChoice], current: int, load: Callable,
                 stabilizer=None, snapshot_dir: Path | None = None, say: Callable[[str], None] = print):
        self.stylizer, self.styles, self.current = stylizer, styles, current
        self.load, self.stabilizer, self.say = load, stabilizer, say
        self.stabilize = stabilizer is not None
        self.snapshot_dir = Path(snapshot_dir or ".")
        self.overlay = True
        self.quit = False
        self.last: np.ndarray | None = None  # the last frame sent out, for snapshots
        self.snapshots: list[Path] = []
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rtstyle-load")
        self._loading: tuple[int, Future] | None = None

    @property
    def label(self) -> str:
        return self.styles[self.current].label if self.styles else ""

    def handle(self, key: str) -> None:
        """Act on one key (a character; ``"esc"`` for Escape)."""
        if key in ("q", "Q", "esc"):
            self.quit = True
        elif key in ("n", "p") and len(self.styles) > 1:
            base = self._loading[0] if self._loading else self.current
            target = (base + (1 if key == "n" else -1)) % len(self.styles)
            self._loading = (target, self._pool.submit(self.load, self.styles[target].path))
            self.say(f"loading {self.styles[target].label}...")
        elif key in ("+", "=", "-", "_"):
            step = STRENGTH_STEP if key in ("+", "=") else -STRENGTH_STEP
            self.stylizer.strength = round(min(1.0, max(0.0, self.stylizer.strength + step)), 2)
            self.say(f"strength {self.stylizer.strength:.1f}")
        elif key == "t" and self.stabilizer is not None:
            self.stabilize = not self.stabilize
            self.stabilizer.reset()
            self.say(f"temporal stabilization {'on' if self.stabilize else 'off'}")
        elif key == "s" and self.last is not None:
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
            path = self.snapshot_dir / f"rtstyle-{self.label or 'snapshot'}-{stamp}.png"
            write_image(path, self.last)
            self.snapshots.append(path)
            self.say(f"snapshot {path}")
        elif key == "f":
            self.overlay = not self.overlay
        elif key in ("h", "?"):
            self.say(HELP)

    def poll(self) -> None:
        """Swap in a style whose loading has finished (between frames)."""
        if self._loading is None or not self._loading[1].done():
            return
        target, future = self._loading
        self._loading = None
        try:
            new = future.result()
        except Exception as e:  # noqa: BLE001  (a broken model file: say so, keep the current style)
            self.say(f"cannot load {self.styles[target].label}: {e}")
            return
        new.strength = self.stylizer.strength
        self.stylizer, self.current = new, target
        if self.stabilizer is not None:
            self.stabilizer.reset()  # the previous style's output must not bleed into the new one
        self.say(f"style {self.label}")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def latest_frames(frames: Iterator[np.ndarray], live: bool) -> Iterator[tuple[np.ndarray, int]]:
    """``(frame, frames dropped before it)``. From a file, every frame (``live`` False);
    from a live camera, a thread keeps reading and only the newest frame waits, so a slow
    network works on what the camera sees now rather than on a growing backlog."""
    if not live:
        for f in frames:
            yield f, 0
        return
    cond = threading.Condition()
    state = {"frame": None, "dropped": 0, "finished": False}
    stop = threading.Event()

    def read() -> None:
        try:
            for f in frames:
                if stop.is_set():
                    return
                with cond:
                    state["dropped"] += state["frame"] is not None
                    state["frame"] = f
                    cond.notify()
        finally:
            with cond:
                state["finished"] = True
                cond.notify()

    threading.Thread(target=read, name="rtstyle-camera", daemon=True).start()
    try:
        while True:
            with cond:
                cond.wait_for(lambda: state["frame"] is not None or state["finished"])
                if state["frame"] is None:
                    return
                f, n = state["frame"], state["dropped"]
                state["frame"], state["dropped"] = None, 0
            yield f, n
    finally:
        stop.set()


class TerminalKeys:
    """Single key presses from the terminal (with ``--no-show``), without Enter; nothing
    when stdin is not a terminal. ``keys()`` returns those pressed since the last call."""

    def __init__(self):
        self._q: queue.Queue[str] = queue.Queue()
        self._restore = None

    def __enter__(self) -> "TerminalKeys":
        if not sys.stdin.isatty():
            return self
        if os.name == "nt":
            threading.Thread(target=self._read_windows, daemon=True).start()
            return self
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._restore = lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        threading.Thread(target=self._read_posix, args=(fd,), daemon=True).start()
        return self

    def _read_posix(self, fd: int) -> None:
        while True:
            ch = os.read(fd, 1)
            if not ch:
                return
            self._q.put("esc" if ch == b"\x1b" else ch.decode(errors="replace"))

    def _read_windows(self) -> None:
        import msvcrt

        while True:
            ch = msvcrt.getwch()
            self._q.put("esc" if ch == "\x1b" else ch)

    def keys(self) -> list[str]:
        out = []
        with contextlib.suppress(queue.Empty):
            while True:
                out.append(self._q.get_nowait())
        return out

    def __exit__(self, *exc) -> None:
        if self._restore is not None:
            self._restore()
