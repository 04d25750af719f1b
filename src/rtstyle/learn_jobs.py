"""Learning from the ``serve`` page: one ``rtstyle learn`` job at a time, in a background
thread of the server, with its status for the page to poll and a cancel switch.

An upload is checked where it enters (size, that it decodes as an image of a sane size,
the style's name) and kept only in the cache folder while the job runs.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable

from PIL import Image

from .errors import RtStyleError
from .learn import LearnCancelled, LearnConfig, learn
from .media.images import heif_support
from .styles import (
    Style,
    UserStyleExists,
    builtin_styles,
    check_new_user_style,
    find_style,
    name_from_file,
    user_styles,
)

MAX_UPLOAD_BYTES = 30 * 2**20
MAX_UPLOAD_PIXELS = 50_000_000


class UploadError(RtStyleError):
    """A request the page made wrongly: an HTTP status and a message for the user."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class LearnJobs:
    """``template`` holds the settings every job shares (budget, VGG16 weights, ...); its
    ``painting`` and ``name`` are set per upload. ``on_done(style)`` runs in the job's
    thread when a style is installed (the server adds it to the page's list)."""

    def __init__(self, template: LearnConfig, upload_dir: Path, on_done: Callable[[Style], None] = lambda s: None):
        self.template = replace(template, progress=False)
        self.upload_dir = Path(upload_dir)
        self.on_done = on_done
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.cancel_event = threading.Event()
        self._status: dict[str, Any] = {"state": "idle"}
        self._started = 0.0

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def status(self) -> dict[str, Any]:
        with self.lock:
            s = dict(self._status)
        if s["state"] == "running":
            s["elapsed_s"] = round(time.monotonic() - self._started, 1)
            if self.template.steps is None:  # on the clock: it ends by the budget
                s["remaining_s"] = round(max(0.0, self.template.minutes * 60 - s["elapsed_s"]), 1)
        return s

    def _name(self, name: str | None, filename: str | None) -> str:
        if name:
            try:
                return check_new_user_style(name)
            except UserStyleExists as e:
                raise UploadError(HTTPStatus.CONFLICT, str(e)) from None
            except RtStyleError as e:
                raise UploadError(HTTPStatus.BAD_REQUEST, str(e)) from None
        base, n = name_from_file(filename or "painting"), 2
        taken = set(user_styles()) | set(builtin_styles())
        name = base
        while name in taken:
            name, n = f"{base[:36]}-{n}", n + 1
        return name

    def start(self, data: bytes, filename: str | None = None, name: str | None = None) -> dict[str, Any]:
        """Check an upload and start learning it; :class:`UploadError` if it cannot be."""
        if len(data) > MAX_UPLOAD_BYTES:
            raise UploadError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the picture is over {MAX_UPLOAD_BYTES >> 20} MB")
        with self.lock:
            if self.running:
                raise UploadError(HTTPStatus.CONFLICT, "already learning a style: wait for it, or cancel it")
            name = self._name(name, filename)
            self.upload_dir.mkdir(parents=True, exist_ok=True)
            path = self.upload_dir / f"upload-{uuid.uuid4().hex}"
            path.write_bytes(data)
            try:
                _check_picture(path)
            except UploadError:
                path.unlink(missing_ok=True)
                raise
            self.cancel_event = threading.Event()
            self._started = time.monotonic()
            self._status = {"state": "running", "name": name, "painting": filename or "", "stage": "preparing"}
            cfg = replace(self.template, painting=str(path), name=name)
            self.thread = threading.Thread(target=self._run, args=(cfg, path, filename), name="rtstyle-learn",
                                           daemon=True)
            self.thread.start()
            return dict(self._status)

    def cancel(self) -> bool:
        """Ask the running job to stop after its current step; False if none runs."""
        if not self.running:
            return False
        self.cancel_event.set()
        return True

    def _progress(self, p: dict[str, Any]) -> None:
        with self.lock:
            if self._status.get("state") == "running":
                self._status.update({k: p[k] for k in ("stage", "step", "total", "eta_s") if k in p})

    def _run(self, cfg: LearnConfig, upload: Path, filename: str | None) -> None:
        try:
            record = learn(cfg, on_progress=self._progress, cancel=self.cancel_event, started=self._started)
            style = find_style(record["name"])
            if style is not None:
                self.on_done(style)
            final = {"state": "done", "name": record["name"], "steps": record["steps"], "wall_s": record["wall_s"]}
        except LearnCancelled:
            final = {"state": "cancelled"}
        except RtStyleError as e:
            final = {"state": "failed", "message": str(e)}
        except Exception as e:  # noqa: BLE001  (the page shows it; the server keeps serving)
            final = {"state": "failed", "message": f"{type(e).__name__}: {e}"}
        finally:
            upload.unlink(missing_ok=True)
        with self.lock:
            self._status = {"name": cfg.name, "painting": filename or "", **final}


def _check_picture(path: Path) -> None:
    """The upload decodes completely as an image of at most :data:`MAX_UPLOAD_PIXELS`
    (HEIC too, where pillow-heif is installed)."""
    heif_support()
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_UPLOAD_PIXELS:
                raise UploadError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                  f"the picture is {img.width}x{img.height}: at most {MAX_UPLOAD_PIXELS // 10**6} "
                                  "megapixels")
            img.load()
    except UploadError:
        raise
    except Exception:  # Pillow raises many types for what is not an image
        raise UploadError(HTTPStatus.BAD_REQUEST, "the upload is not a picture (JPEG, PNG, WebP, ...)") from None
