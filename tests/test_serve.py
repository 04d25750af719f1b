"""rtstyle serve: what the server answers (and refuses), the models it offers, and the page
end to end in headless Chromium with a fake camera fed from a generated clip."""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from conftest import make_photo, textured_model

import rtstyle.styles as styles
from rtstyle import checkpoint, serve
from rtstyle.errors import RtStyleError
from rtstyle.export import export_onnx

WASM = "/vendor/ort-wasm-simd-threaded.asyncify.wasm"


@pytest.fixture(scope="module")
def web_models(tmp_path_factory) -> list[Path]:
    """Two edge models with seeded weights, as ONNX; the second's output is shifted towards
    red and away from blue, so the two are easy to tell apart."""
    d = tmp_path_factory.mktemp("web_models")
    paths = []
    for i, name in enumerate(["mosaic", "ember"]):
        model = textured_model("edge", seed=i)
        if name == "ember":
            with torch.no_grad():  # 12 channels before the 2x pixel shuffle: 0-3 are red, 8-11 blue
                model.deconv3.conv2d.bias[:4] += 80
                model.deconv3.conv2d.bias[8:] -= 80
        paths.append(d / f"{name}.onnx")
        export_onnx(model, paths[-1], check=False)
    return paths


@pytest.fixture(scope="module")
def server(web_models, tmp_path_factory):
    srv = serve.make_server(serve.load_models(web_models, builtin=False, cache_dir=tmp_path_factory.mktemp("cache")))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(srv, method: str, target: str) -> tuple[int, dict[str, str], bytes]:
    """One request with the target sent exactly as given (no client-side normalisation)."""
    conn = http.client.HTTPConnection(*srv.server_address[:2], timeout=10)
    try:
        conn.request(method, target)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def raw(srv, data: bytes) -> bytes:
    with socket.create_connection(srv.server_address[:2], timeout=10) as s:
        s.sendall(data)
        return s.recv(65536)


def test_the_page_its_files_and_headers(server):
    status, headers, body = request(server, "GET", "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8" and b"app.js" in body
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-embedder-policy"] == "require-corp"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert request(server, "GET", "/app.js?v=1")[1]["content-type"].startswith("text/javascript")
    status, headers, body = request(server, "GET", "/stabilizer.mjs")  # app.js imports it: a module needs a JS type
    assert status == 200 and headers["content-type"].startswith("text/javascript") and b"PageStabilizer" in body
    status, headers, body = request(server, "GET", WASM)
    assert status == 200 and headers["content-type"] == "application/wasm" and body[:4] == b"\0asm"
    status, headers, body = request(server, "HEAD", WASM)
    assert status == 200 and body == b"" and int(headers["content-length"]) > 1_000_000
    # everything the page loads is on this server
    page = request(server, "GET", "/")[2].decode()
    assert not re.search(r"(src|href)=\"(https?:)?//", page)


def test_models_are_listed_and_served(server, web_models):
    status, headers, body = request(server, "GET", "/models.json")
    assert status == 200 and headers["content-type"] == "application/json"
    listing = json.loads(body)["models"]
    assert [(m["id"], m["multiple"]) for m in listing] == [("mosaic", 8), ("ember", 8)]
    for m, path in zip(listing, web_models, strict=True):
        status, headers, body = request(server, "GET", "/" + m["url"])
        assert status == 200 and body == path.read_bytes()
        status, headers, body = request(server, "GET", "/" + m["thumbnail"])
        assert status == 200 and headers["content-type"] == "image/png" and body[:4] == b"\x89PNG"
    assert request(server, "GET", "/models/nosuch.onnx")[0] == 404


@pytest.mark.parametrize("target", [
    "/../pyproject.toml", "/%2e%2e/", "/%2e%2e/serve.py", "/web/../serve.py", "/..%2fserve.py", "//etc/passwd",
    "/vendor/", "/vendor", "/models/", "/web/", "/index.html/..", "/serve.py", "/vendor/LICENSE", "/thumbnail-photo.jpg",
])
def test_nothing_else_is_served(server, target, capfd):
    status, headers, body = request(server, "GET", target)
    assert status == 404 and body == b"404 Not Found\n"
    assert "Traceback" not in capfd.readouterr().err


def test_bad_requests_get_4xx(server, capfd):
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "BREW"):
        status, headers, _ = request(server, method, "/")
        assert status == 405 and headers["allow"] == "GET, HEAD"
    assert raw(server, b"GET http://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw(server, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw(server, b"GET / HTTP/9.9\r\n\r\n").startswith(b"HTTP/1.1 505")
    assert "Traceback" not in capfd.readouterr().err


def test_builtin_and_user_checkpoints_are_exported_once(tmp_path, monkeypatch):
    d = tmp_path / "styles"
    d.mkdir()
    for i, (name, preset) in enumerate([("alpha", "compact"), ("beta", "edge-fast")]):
        checkpoint.save_model(textured_model(preset, seed=i), d / f"{name}.pth")
    export_onnx(checkpoint.load_model(d / "beta.pth")[0], d / "beta.onnx", check=False)  # shipped beside it
    (d / "index.json").write_text(json.dumps({"default": "beta", "styles": [
        {"name": n, "file": f"{n}.pth", "teacher": "t", "credit": f"credit {n}"} for n in ("alpha", "beta")]}))
    monkeypatch.setattr(styles, "STYLES_DIR", d)
    mine = checkpoint.save_model(textured_model("edge", seed=5), tmp_path / "My Style.pth")
    cache = tmp_path / "cache"
    models = serve.load_models([mine, d / "beta.onnx"], cache_dir=cache)
    assert [(m.id, m.label, m.multiple) for m in models] == [
        ("beta", "beta", 8), ("alpha", "alpha", 4), ("my-style", "My Style", 8), ("beta-2", "beta", 8)]
    assert models[0].onnx == d / "beta.onnx" and models[1].onnx.parent == cache and models[2].onnx.parent == cache
    stamps = [m.onnx.stat().st_mtime_ns for m in models]
    assert [m.onnx.stat().st_mtime_ns for m in serve.load_models([mine, d / "beta.onnx"], cache_dir=cache)] == stamps


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    return p.parse_args(argv)


def test_bad_input_is_one_clear_error(tmp_path, web_models):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    (tmp_path / "junk.pth").write_bytes(b"not a model either")
    for argv, message in ((["--model", str(tmp_path / "nosuch.onnx")], "model file not found"),
                          (["--model", str(tmp_path)], "model file not found"),
                          (["--model", str(junk)], "not a usable ONNX model"),
                          (["--model", str(tmp_path / "junk.pth")], "not a model checkpoint"),
                          (["--no-builtin"], "no models to serve")):
        with pytest.raises(RtStyleError, match=message):
            serve.cmd_serve(parse(*argv))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(RtStyleError, match="cannot listen on 127.0.0.1:.*in use"):
            serve.cmd_serve(parse("--no-builtin", "--model", str(web_models[0]), "--port", str(busy.getsockname()[1])))
    with pytest.raises(SystemExit):
        parse("--port", "70000")


def test_serve_until_ctrl_c(web_models):
    code = ("import argparse, sys; from rtstyle import serve; p = argparse.ArgumentParser(); serve.add_arguments(p); "
            "print(serve.cmd_serve(p.parse_args(sys.argv[1:])))")
    proc = subprocess.Popen([sys.executable, "-c", code, "--no-builtin", "--model", str(web_models[0]), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url and "(mosaic)" in line
        conn = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=10)
        conn.request("GET", "/models.json")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "'models': ['mosaic']" in out and err == ""


# --------------------------------------------------------------------------- in the browser


def write_y4m(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """RGB frames as a YUV4MPEG2 clip: a text header, then raw I420 frames (what Chromium's
    fake camera plays, in a loop)."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def write_webm(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """A VP8 WebM clip: a video file as a user would drop it on the page."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "4", "b:v": "2M"}  # keep the noise
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    return path


def moving(h: int, w: int, n: int, seed: int) -> list[np.ndarray]:
    """A picture sliding 4 px to the right each frame."""
    base = make_photo(h, w, seed)
    return [np.ascontiguousarray(np.roll(base, 4 * i, axis=1)) for i in range(n)]


def still(h: int, w: int, n: int, seed: int) -> list[np.ndarray]:
    """A still picture with sensor noise."""
    rng = np.random.default_rng(seed)
    base = make_photo(h, w, seed).astype(np.float32)
    return [np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


@contextlib.contextmanager
def browser_page(camera: Path, problems: list[str]):
    """A page in headless Chromium whose camera plays ``camera`` (a .y4m clip), with every
    console error and page error collected in ``problems``; skips without Chromium."""
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if chromium is None:
        pytest.skip("no Chromium binary on PATH (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            yield page
        finally:
            browser.close()


def drop_file(page, data: bytes, name: str, mime: str) -> None:
    """Drop a file on the page, as a user dragging it from a file manager would."""
    page.evaluate("""([b64, name, mime]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, { type: mime }));
        document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, cancelable: true }));
    }""", [base64.b64encode(data).decode(), name, mime])


# Both panels at once: the page paints them together, after each inference.
PANELS = """() => ['input', 'output'].map((id) => {
    const c = document.getElementById(id);
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); })"""


def test_the_page_stylizes_the_camera_live(server, tmp_path):
    camera = write_y4m(tmp_path / "camera.y4m", moving(120, 160, 30, seed=3), fps=15)
    dropped = write_webm(tmp_path / "dropped.webm", still(72, 96, 20, seed=4), fps=15)
    problems: list[str] = []
    with browser_page(camera, problems) as page:
        page.goto(serve.url_of(server))
        page.wait_for_function("() => document.getElementById('painting').closest('label').hidden")  # no learning

        def frames_after(n: int, style: str = "mosaic", size: str = "160x120") -> tuple[np.ndarray, np.ndarray]:
            """The camera frame and its stylized version once `n` more frames of `style`
            at `size` have been drawn."""
            start = page.evaluate("() => Number(document.getElementById('output').dataset.frames || 0)")
            page.wait_for_function(
                "([target, style, size]) => { const o = document.getElementById('output');"
                " return Number(o.dataset.frames) >= target && o.dataset.style === style"
                " && `${o.width}x${o.height}` === size; }", arg=[start + n, style, size], timeout=30000)
            w, h = map(int, size.split("x"))
            frame, out = np.array(page.evaluate(PANELS), np.float32).reshape(2, h, w, 4)[..., :3]
            return frame, out

        camera_frame, first = frames_after(3)
        assert np.abs(first - camera_frame).mean() > 20  # stylized, not the camera frame
        _, later = frames_after(5)
        assert np.abs(later - first).mean() > 1  # live: it follows the moving picture
        fps = float(re.match(r"[\d.]+", page.text_content("#fps")).group())
        assert fps > 0
        assert "WebAssembly" in page.text_content("#status") or "WebGPU" in page.text_content("#status")

        page.click("#styles button[data-id=ember]")
        _, ember = frames_after(3, "ember")
        shift = ember.mean(axis=(0, 1)) - later.mean(axis=(0, 1))
        assert shift[0] > 30 and shift[2] < -30  # the other model: redder, less blue

        with page.expect_download() as download:
            page.click("#snapshot")
        assert re.fullmatch(r"rtstyle-ember-.+\.png", download.value.suggested_filename)
        assert Path(download.value.path()).read_bytes()[:4] == b"\x89PNG"

        page.eval_on_selector("#strength", "e => { e.value = 0; }")
        camera_frame, faded = frames_after(3, "ember")
        assert np.array_equal(faded, camera_frame)  # strength 0: the camera frame itself

        page.eval_on_selector("#strength", "e => { e.value = 100; }")
        drop_file(page, dropped.read_bytes(), "dropped.webm", "video/webm")
        video_frame, out = frames_after(3, "ember", "96x72")  # the dropped video, stylized
        assert np.abs(out - video_frame).mean() > 20

        def flicker() -> float:
            """Mean frame-to-frame change of the output (the video is still but noisy)."""
            outputs = [frames_after(1, "ember", "96x72")[1] for _ in range(6)]
            return float(np.mean([np.abs(b - a).mean() for a, b in zip(outputs, outputs[1:], strict=False)]))

        page.uncheck("#stabilize")
        raw_flicker = flicker()
        page.check("#stabilize")
        frames_after(2, "ember", "96x72")
        assert flicker() < 0.7 * raw_flicker  # the stabilizer calms a still picture (about 0.5 here)
    assert problems == []


# --------------------------------------------------------------------------- learning from the page


@pytest.fixture
def learn_server(vgg_weights, content_dir):
    """A server whose page can learn: two-step jobs on the tiny fixtures (random VGG16)."""
    from rtstyle.learn import LearnConfig

    template = LearnConfig(painting="", steps=2, vgg_weights=vgg_weights, content_dir=str(content_dir),
                           image_size=32, batch_size=2, device="cpu")
    srv = serve.make_server([], learn=template)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.jobs.cancel()
    if srv.jobs.thread is not None:
        srv.jobs.thread.join(60)
    srv.shutdown()
    srv.server_close()


def post(srv, target: str, body: bytes, content_type: str = "image/png", **headers: str):
    conn = http.client.HTTPConnection(*srv.server_address[:2], timeout=10)
    try:
        conn.request("POST", target, body=body, headers={"Content-Type": content_type, **headers})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


def png_bytes(h: int = 60, w: int = 80, seed: int = 2) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(make_photo(h, w, seed)).save(buf, format="PNG")
    return buf.getvalue()


def wait_for(srv, states: tuple[str, ...], timeout: float = 120) -> dict:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = srv.jobs.status()
        if status["state"] in states:
            return status
        time.sleep(0.2)
    raise AssertionError(f"the job stayed {srv.jobs.status()}")


def test_uploads_are_checked_where_they_enter(learn_server, capfd):
    uploads = serve.default_cache_dir().parent / "uploads"
    cases = [
        (dict(body=b"not a picture at all"), 400, "not a picture"),
        (dict(body=png_bytes(), content_type="application/x-www-form-urlencoded"), 415, "picture itself"),
        (dict(body=png_bytes(), content_type="text/plain"), 415, "picture itself"),
        (dict(body=png_bytes(), Origin="http://evil.example"), 403, "only the rtstyle page"),
    ]
    for kw, status, message in cases:
        got, body = post(learn_server, "/learn?filename=x.png", **kw)
        assert (got, body["state"]) == (status, "refused") and message in body["message"], kw
    for name, message in (("swirl", "built-in style's name"), ("Bad%20Name", "bad style name")):
        got, body = post(learn_server, f"/learn?name={name}", png_bytes())
        assert got == 400 and message in body["message"]
    too_big = raw(learn_server, b"POST /learn HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                                b"Content-Length: 999999999\r\n\r\n")
    assert too_big.startswith(b"HTTP/1.1 413")
    assert raw(learn_server, b"POST /learn HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n\r\n").startswith(
        b"HTTP/1.1 411")
    status, headers, _ = request(learn_server, "PUT", "/learn")
    assert status == 405 and headers["allow"] == "GET, HEAD, POST"
    assert not uploads.exists() or not any(uploads.iterdir())  # refused uploads are not kept
    assert learn_server.jobs.status()["state"] == "idle" and not styles.user_styles()
    assert "Traceback" not in capfd.readouterr().err


def test_a_dropped_picture_becomes_a_style_on_the_page(learn_server):
    status, body = post(learn_server, "/learn?filename=My%20Sunset.png", png_bytes(),
                        Origin=serve.url_of(learn_server).rstrip("/"))
    assert status == 202 and body["state"] == "running" and body["name"] == "my-sunset"
    again, body = post(learn_server, "/learn?filename=other.png", png_bytes())
    assert again == 409 and "already learning" in body["message"]  # one job at a time
    done = wait_for(learn_server, ("done", "failed"))
    assert done == {**done, "state": "done", "name": "my-sunset", "steps": 2}, done
    _, _, listing = request(learn_server, "GET", "/models.json")
    ids = [m["id"] for m in json.loads(listing)["models"]]
    assert ids[-1] == "my-sunset"
    status, _, onnx = request(learn_server, "GET", "/models/my-sunset.onnx")
    assert status == 200 and onnx == (styles.user_styles_dir() / "my-sunset.onnx").read_bytes()
    assert not list((serve.default_cache_dir().parent / "uploads").glob("*"))  # the upload is gone
    # the same file again gets the next free name; a cancelled job installs nothing
    learn_server.jobs.template.steps = 10**6
    status, body = post(learn_server, "/learn?filename=My%20Sunset.png", png_bytes())
    assert status == 202 and body["name"] == "my-sunset-2"
    assert post(learn_server, "/learn/cancel", b"")[0] == 202
    assert wait_for(learn_server, ("cancelled", "done", "failed"))["state"] == "cancelled"
    assert post(learn_server, "/learn/cancel", b"")[0] == 409
    assert list(styles.user_styles()) == ["my-sunset"]


def test_the_page_learns_a_dropped_painting_and_runs_it_live(learn_server, tmp_path):
    learn_server.jobs.template.steps = 20
    camera = write_y4m(tmp_path / "camera.y4m", moving(120, 160, 30, seed=3), fps=15)
    problems: list[str] = []
    with browser_page(camera, problems) as page:
        page.goto(serve.url_of(learn_server))
        assert page.is_visible("#painting")
        drop_file(page, png_bytes(90, 120, 5), "Dropped Painting.png", "image/png")
        page.wait_for_function("() => document.getElementById('learn-status').textContent"
                               ".includes('Learning dropped-painting')", timeout=30000)
        assert "runs slower" in page.text_content("#learn-status")  # the page says so
        page.wait_for_selector("#styles button[data-id=dropped-painting][aria-pressed=true]", timeout=120000)
        page.wait_for_function("() => { const o = document.getElementById('output');"
                               " return o.dataset.style === 'dropped-painting' && Number(o.dataset.frames) >= 3; }",
                               timeout=30000)
        assert "Learned dropped-painting" in page.text_content("#notice")
        assert page.is_hidden("#learning")
    assert problems == []
    assert list(styles.user_styles()) == ["dropped-painting"]
