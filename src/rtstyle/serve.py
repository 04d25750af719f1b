"""``rtstyle serve``: a local web page that stylizes the webcam live, in the browser.

The page (``web/``) runs exported ONNX models with onnxruntime-web (WebGPU where the
browser has it, else WebAssembly), whose files are vendored in ``web/vendor/`` at build
time (``tools/vendor_onnxruntime_web.py``): the page loads nothing from the internet.

The server answers from a table built at start-up: the page's own files,
``/models.json``, and each model's ``.onnx`` and thumbnail, all held in memory. No request
path is ever joined to a folder, so there is nothing to traverse and nothing to list;
any other path is 404, a method other than GET and HEAD is 405.

Learning (``rtstyle learn`` from the page, :mod:`rtstyle.learn_jobs`): ``POST /learn``
takes a picture as the request body and starts a job, ``GET /learn`` tells its state,
``POST /learn/cancel`` stops it; a learned style is added to the table and to
``/models.json``. POSTs from another origin, or with a form's content type, are refused.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import os
import re
import socket
import sys
import threading
import webbrowser
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

from . import __version__
from .errors import RtStyleError
from .media import read_image
from .runtime.onnx_backend import OnnxBackend
from .styles import Style, builtin_styles, default_style, user_styles

WEB_DIR = Path(__file__).resolve().parent / "web"
PAGE_FILES = {"/": "index.html", "/app.js": "app.js", "/stabilizer.mjs": "stabilizer.mjs", "/style.css": "style.css"}
THUMBNAIL_PHOTO = WEB_DIR / "thumbnail-photo.jpg"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
                 ".wasm": "application/wasm", ".json": "application/json", ".png": "image/png",
                 ".onnx": "application/octet-stream"}
# Cross-origin isolation (COOP + COEP) lets onnxruntime-web use WebAssembly threads
# (SharedArrayBuffer); the content security policy keeps the page to this server.
HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; "
                               "media-src 'self' blob:; connect-src 'self' data: blob:; worker-src 'self' blob:; "
                               "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
LEARN_POSTS = {"/learn", "/learn/cancel"}
# what an HTML form (or a cross-site "simple" request) sends: never a picture from the page
FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}


@dataclass(frozen=True)
class WebModel:
    """A model the page offers: ``onnx`` is the file the browser runs, ``multiple`` the
    factor its input height and width must be multiples of."""

    id: str
    label: str
    onnx: Path
    thumbnail: bytes
    multiple: int
    description: str = ""
    credit: str = ""

    def listing(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "description": self.description, "credit": self.credit,
                "url": f"models/{self.id}.onnx", "thumbnail": f"models/{self.id}.png", "multiple": self.multiple}


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rtstyle" / "web"


def onnx_for(path: Path, cache_dir: Path) -> Path:
    """An .onnx model as it is; a checkpoint exported to ONNX once, cached by content."""
    if path.suffix.lower() == ".onnx":
        return path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    out = cache_dir / f"{path.stem}-{digest}-rtstyle{__version__}.onnx"
    if not out.is_file():
        from .checkpoint import load_model
        from .export import export_onnx

        model, meta = load_model(path)
        meta.pop("arch", None)
        cache_dir.mkdir(parents=True, exist_ok=True)
        export_onnx(model, out, meta, check=False)
    return out


def _thumbnail(onnx: Path, photo: np.ndarray) -> tuple[bytes, int]:
    """The model's rendering of the thumbnail photo (PNG) and its size multiple; loading
    and running the model here also proves the browser will get a usable one."""
    backend = OnnxBackend(onnx, device="cpu", threads=1)
    buf = io.BytesIO()
    Image.fromarray(backend(photo)).save(buf, format="PNG", optimize=True)
    return buf.getvalue(), backend.factor


def load_models(user_models: Sequence[str | os.PathLike] = (), builtin: bool = True,
                cache_dir: Path | None = None) -> list[WebModel]:
    """The built-in styles (if ``builtin``: default first, then the user's own styles of
    ``rtstyle learn``), then ``user_models`` (.onnx or .pth files), each with its ONNX file
    and thumbnail ready."""
    cache_dir = cache_dir or default_cache_dir()
    entries = []
    if builtin:
        first = default_style()
        styles = sorted(builtin_styles().values(), key=lambda s: s.name != first) + list(user_styles().values())
        entries += [_style_entry(s) for s in styles]
    for m in user_models:
        path = Path(m)
        if not path.is_file():
            raise RtStyleError(f"model file not found: {path}")
        entries.append((path.stem, path, f"your model {path.name}", ""))
    models: list[WebModel] = []
    for entry in entries:
        models.append(web_model(*entry, taken={m.id for m in models}, cache_dir=cache_dir))
    return models


def _style_entry(s: Style) -> tuple[str, Path, str, str]:
    return s.key, s.file_for("cpu"), s.description, s.credit  # the .onnx, if exported


def web_model(label: str, path: Path, description: str, credit: str, taken: set[str],
              cache_dir: Path | None = None) -> WebModel:
    """A model for the page: an id not in ``taken``, its ONNX file and thumbnail."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", label.lower()).strip("-") or "model"
    ident, n = slug, 2
    while ident in taken:
        ident, n = f"{slug}-{n}", n + 1
    onnx = onnx_for(path, cache_dir or default_cache_dir())
    thumbnail, multiple = _thumbnail(onnx, read_image(THUMBNAIL_PHOTO))
    return WebModel(ident, label, onnx, thumbnail, multiple, description, credit)


def routes(models: Sequence[WebModel]) -> dict[str, tuple[str, bytes]]:
    """Every path the server answers: path -> (content type, body)."""
    files = {url: WEB_DIR / name for url, name in PAGE_FILES.items()}
    files.update({f"/vendor/{p.name}": p for p in sorted((WEB_DIR / "vendor").iterdir())
                  if p.suffix in (".js", ".mjs", ".wasm")})
    table = {url: (CONTENT_TYPES[p.suffix], p.read_bytes()) for url, p in files.items()}
    # the 27 MB WebAssembly runtime is stored xz-compressed (3.7 MB); unpacked once, here
    for p in sorted((WEB_DIR / "vendor").glob("*.wasm.xz")):
        table[f"/vendor/{p.name[:-3]}"] = (CONTENT_TYPES[".wasm"], lzma.decompress(p.read_bytes()))
    table.update(model_routes(models, models))
    return table


def model_routes(models: Sequence[WebModel], new: Sequence[WebModel]) -> dict[str, tuple[str, bytes]]:
    """``/models.json`` listing ``models``, and the files of the ``new`` ones."""
    listing = {"models": [m.listing() for m in models]}
    table = {"/models.json": (CONTENT_TYPES[".json"], json.dumps(listing, indent=1).encode())}
    for m in new:
        table[f"/models/{m.id}.onnx"] = (CONTENT_TYPES[".onnx"], m.onnx.read_bytes())
        table[f"/models/{m.id}.png"] = (CONTENT_TYPES[".png"], m.thumbnail)
    return table


class _Handler(BaseHTTPRequestHandler):
    server: "WebServer"
    protocol_version = "HTTP/1.1"
    server_version = "rtstyle"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection gives its thread back

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False  # the base class has answered (400, 431 or 505)
        post = self.server.jobs is not None and self.path.partition("?")[0] in LEARN_POSTS
        if self.command not in ("GET", "HEAD") and not (post and self.command == "POST"):
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, Allow="GET, HEAD, POST" if post else "GET, HEAD")
            return False
        if not self.path.startswith("/"):
            self._error(HTTPStatus.BAD_REQUEST)
            return False
        return True

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/learn":  # what the page asks first: whether it may learn, and any job under way
            jobs = self.server.jobs
            self._json(HTTPStatus.OK, jobs.status() if jobs is not None else {"state": "disabled"})
            return
        route = self.server.routes.get(path)
        if route is None:
            self._error(HTTPStatus.NOT_FOUND)
        else:
            self._send(HTTPStatus.OK, *route)

    do_HEAD = do_GET

    def do_POST(self) -> None:
        from .learn_jobs import MAX_UPLOAD_BYTES, UploadError

        jobs = self.server.jobs
        url = urlsplit(self.path)
        try:
            self._check_origin()
            length = self.headers.get("Content-Length")
            if url.path == "/learn/cancel":
                self._json(HTTPStatus.ACCEPTED if jobs.cancel() else HTTPStatus.CONFLICT, jobs.status())
                return
            kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if kind in FORM_TYPES:
                raise UploadError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the picture itself as the request body")
            if length is None or not length.isdigit():
                raise UploadError(HTTPStatus.LENGTH_REQUIRED, "the upload needs a Content-Length")
            if int(length) > MAX_UPLOAD_BYTES:
                raise UploadError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                  f"the picture is over {MAX_UPLOAD_BYTES >> 20} MB")
            data = self.rfile.read(int(length))
            query = parse_qs(url.query)
            status = jobs.start(data, (query.get("filename") or [None])[0], (query.get("name") or [None])[0])
            self._json(HTTPStatus.ACCEPTED, status)
        except UploadError as e:
            self.close_connection = True  # an unread body must not be taken for the next request
            self._json(e.status, {"state": "refused", "message": str(e)}, Connection="close")

    def _check_origin(self) -> None:
        """A POST from a page of another origin (which a browser lets any site send to
        localhost) is refused: only this server's own page may start or cancel a job."""
        from .learn_jobs import UploadError

        origin = self.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != self.headers.get("Host"):
            raise UploadError(HTTPStatus.FORBIDDEN, "only the rtstyle page itself may do that")

    def _json(self, status: HTTPStatus, body: dict, **headers: str) -> None:
        self._send(status, CONTENT_TYPES[".json"], json.dumps(body).encode(), **headers)

    def _error(self, status: HTTPStatus, **headers: str) -> None:
        self.close_connection = True
        self._send(status, "text/plain; charset=utf-8", f"{status.value} {status.phrase}\n".encode(),
                   Connection="close", **headers)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, **headers: str) -> None:
        self.send_response(status)
        for name, value in {**HEADERS, "Content-Type": content_type, "Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The base class's errors, in the same form; a request too garbled to name its HTTP
        # version still gets a status line (the base class would answer as to HTTP/0.9).
        if self.request_version == "HTTP/0.9":
            self.request_version = self.protocol_version
        self._error(HTTPStatus(code))

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the page reports its own state


class WebServer(ThreadingHTTPServer):
    """The page's server: ``routes`` is the whole of what it serves (plus ``/learn`` when
    ``jobs`` is set)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], table: dict[str, tuple[str, bytes]],
                 models: Sequence[WebModel] = (), jobs=None):
        self.routes = table
        self.models = list(models)
        self.jobs = jobs
        self.lock = threading.Lock()
        self.address_family = socket.getaddrinfo(*address, type=socket.SOCK_STREAM)[0][0]
        super().__init__(address, _Handler)

    def add_style(self, style: Style) -> WebModel:
        """Offer a newly learned style on the page (from the learning job's thread)."""
        with self.lock:
            model = web_model(*_style_entry(style), taken={m.id for m in self.models})
            self.models.append(model)
            # a new dict, swapped in whole: request threads read the table without the lock
            self.routes = {**self.routes, **model_routes(self.models, [model])}
        return model

    def handle_error(self, request, client_address) -> None:
        # A browser that drops a connection is no news; anything else is one line, never a traceback.
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            print(f"rtstyle serve: request from {client_address[0]} failed: {type(error).__name__}: {error}",
                  file=sys.stderr)


def make_server(models: Sequence[WebModel], host: str = "127.0.0.1", port: int = 0, learn=None) -> WebServer:
    """A bound server, not yet serving (``serve_forever``); port 0 picks a free port, which
    ``server_address[1]`` then tells. ``learn``: a :class:`rtstyle.learn.LearnConfig` whose
    settings jobs started from the page use (None: the page cannot learn)."""
    try:
        server = WebServer((host, port), routes(models), models)
    except socket.gaierror as e:
        raise RtStyleError(f"cannot listen on {host}: {e.strerror}") from None
    except OSError as e:
        raise RtStyleError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    if learn is not None:
        from .learn_jobs import LearnJobs

        server.jobs = LearnJobs(learn, default_cache_dir().parent / "uploads", on_done=server.add_style)
    return server


def url_of(server: WebServer) -> str:
    host, port = server.server_address[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; browsers give the camera "
                        "only to pages from localhost or https)")
    p.add_argument("--port", type=_port, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument("--model", action="append", default=[], metavar="FILE",
                   help="also offer this model (.onnx, or .pth exported on start-up); repeatable")
    p.add_argument("--builtin", action=argparse.BooleanOptionalAction, default=True,
                   help="offer the built-in styles (default: yes)")
    p.add_argument("--open", action="store_true", help="open the page in the default web browser")
    p.add_argument("--learn", action=argparse.BooleanOptionalAction, default=True,
                   help="let the page learn a new style from a dropped painting (default: yes)")
    p.add_argument("--learn-minutes", type=float, default=10.0, metavar="M",
                   help="budget of each style learned from the page (default: 10)")
    p.add_argument("--vgg-weights", default=None, metavar="PATH",
                   help="VGG16 weights for learning (default: the torch.hub cache, downloaded once)")


def cmd_serve(args: argparse.Namespace) -> dict[str, Any]:
    models = load_models(args.model, builtin=args.builtin)
    if not models:
        raise RtStyleError("no models to serve: no built-in styles are installed; pass --model FILE")
    learn = None
    if args.learn:
        from .learn import LearnConfig

        learn = LearnConfig(painting="", minutes=args.learn_minutes, vgg_weights=args.vgg_weights)
    server = make_server(models, args.host, args.port, learn)
    url = url_of(server)
    print(f"rtstyle serve: {url} ({', '.join(m.id for m in models)}); Ctrl-C stops", file=sys.stderr)
    if args.host not in LOOPBACK:
        print("rtstyle serve: note: browsers allow the camera only on http://localhost or https pages; "
              "from other machines, drop a video file on the page", file=sys.stderr)
    if args.open:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return {"url": url, "models": [m.id for m in models]}
