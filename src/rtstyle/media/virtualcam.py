"""A virtual camera that video-call and streaming apps can pick: pyvirtualcam (the optional
extra ``rtstyle[live]``) on v4l2loopback (Linux) or OBS Studio's virtual camera (Windows,
macOS). pyvirtualcam tries each backend registered with ``pyvirtualcam.register_backend``
in turn, its own and any other."""

from __future__ import annotations

import sys

import numpy as np

from ..errors import RtStyleError
from .base import _check_frame


def how_to_get_one(platform: str | None = None) -> str:
    """How to get a virtual camera device on this operating system, in one sentence."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return ("load the v4l2loopback kernel module: sudo modprobe v4l2loopback devices=1 exclusive_caps=1 "
                "card_label=rtstyle (Debian/Ubuntu: sudo apt install v4l2loopback-dkms)")
    if platform in ("win32", "cygwin", "darwin"):
        return ("install OBS Studio 28 or newer and start its virtual camera once (Start Virtual Camera), "
                "then stop it: rtstyle uses it while OBS does not")
    return "pyvirtualcam supports Linux (v4l2loopback), Windows and macOS (OBS Studio)"


class VirtualCamera:
    """Frames to a virtual camera of ``width`` x ``height`` at ``fps``; ``device`` picks
    one (a /dev/videoN path on Linux, a camera name elsewhere), None the first free."""

    def __init__(self, width: int, height: int, fps: float, device: str | None = None):
        try:
            import pyvirtualcam
        except ImportError:
            raise RtStyleError("--virtual-camera needs pyvirtualcam: pip install 'rtstyle[live]'") from None
        try:
            self._cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=device)
        except (RuntimeError, ValueError, OSError) as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            raise RtStyleError(f"no virtual camera{f' {device}' if device else ''} to send to ({reason}); "
                               f"to get one, {how_to_get_one()}") from None
        self.width, self.height, self.fps = width, height, fps
        self.device: str = self._cam.device
        self.backend: str = self._cam.backend

    def send(self, frame: np.ndarray) -> None:
        self._cam.send(_check_frame(frame))

    def close(self) -> None:
        self._cam.close()

    def __enter__(self) -> "VirtualCamera":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


STAND_IN = "rtstyle-stand-in"


class StandInCamera:
    """A pyvirtualcam backend with no device behind it, for where none exists: measuring
    the live loop (tools/live_cost.py) and testing it. pyvirtualcam tries it like its own
    backends once :func:`register_stand_in` has registered it. With ``record``, every frame
    sent is kept (in ``frames``) and every opening noted (in ``opened``)."""

    record = True
    opened: list[dict] = []
    frames: list[np.ndarray] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw):
        self.width, self.height = width, height
        if StandInCamera.record:
            StandInCamera.opened.append({"width": width, "height": height, "fps": fps, "device": device})

    def send(self, frame: np.ndarray) -> None:
        if StandInCamera.record:
            StandInCamera.frames.append(frame.reshape(self.height, self.width, -1).copy())

    def close(self) -> None:
        pass

    def device(self) -> str:
        return "stand-in"

    def native_fourcc(self) -> None:
        return None


def register_stand_in(record: bool = True) -> type[StandInCamera]:
    """Register :class:`StandInCamera` with pyvirtualcam (cleared of earlier frames)."""
    import pyvirtualcam

    StandInCamera.record, StandInCamera.opened, StandInCamera.frames = record, [], []
    pyvirtualcam.register_backend(STAND_IN, StandInCamera)
    return StandInCamera


def unregister_stand_in() -> None:
    """Take the stand-in off pyvirtualcam's registry again (it has no call of its own for that)."""
    import pyvirtualcam.camera

    pyvirtualcam.camera.BACKENDS.pop(STAND_IN, None)
