"""Live sessions: the virtual camera (through a stand-in backend registered with
pyvirtualcam, as its own are), the live keys, and stale-frame dropping."""

from __future__ import annotations

import contextlib
import http.server
import socketserver
import threading
import time
from datetime import datetime, timezone

import av
import cv2
import numpy as np
import pytest
from conftest import textured_model

from rtstyle import Stylizer, checkpoint, pipeline
from rtstyle.cli import main
from rtstyle.live import StyleChoice, latest_frames
from rtstyle.media import Camera, resize_shorter
from rtstyle.media.virtualcam import STAND_IN, register_stand_in, unregister_stand_in
from rtstyle.temporal import Stabilizer

pyvirtualcam = pytest.importorskip("pyvirtualcam")


@pytest.fixture
def stand_in():
    yield register_stand_in()
    unregister_stand_in()  # so that the missing-device case stays testable


def camera_frames(clip, size: int) -> list[np.ndarray]:
    """The clip as the webcam path reads it (OpenCV), at the processed size."""
    with Camera(clip) as cam:
        return [resize_shorter(f, size, multiple=2) for f in cam]


def test_every_frame_reaches_the_virtual_camera_stylized_in_order(stand_in, clip, model_path, capsys):
    assert main(["stylize", "--model", str(model_path), "--webcam", str(clip), "--virtual-camera", "--no-show",
                 "--no-temporal", "--no-phase-lock", "--image-size", "32", "--device", "cpu", "--json"]) == 0
    summary = __import__("json").loads(capsys.readouterr().out)
    frames = camera_frames(clip, 32)
    stylizer = Stylizer.load(model_path, device="cpu", image_size=32)
    expected = [stylizer.stylize_frame(f, multiple=2) for f in frames]
    assert len(stand_in.frames) == len(expected) == summary["frames"] == 12 and summary["dropped"] == 0
    assert all(np.array_equal(a, b) for a, b in zip(stand_in.frames, expected, strict=True))
    h, w = expected[0].shape[:2]
    assert stand_in.opened == [{"width": w, "height": h, "fps": 12.0, "device": None}] and min(h, w) == 32
    assert summary["virtual_camera"] == "stand-in"


def test_the_stabilizer_beside_the_network_gives_the_frames_it_gives_alone(stand_in, clip, model_path):
    """The live loop runs the stabilizer's first half (the flow) in a thread beside the
    network: the frames sent are those of the stabilizer run after the network, frame by frame."""
    stylizer = Stylizer.load(model_path, device="cpu", image_size=32)
    live = Stabilizer()
    pipeline.stylize_stream(stylizer, str(clip), show=False, progress=False, postprocess=live, virtual_camera="",
                            keys=lambda: [], say=lambda s: None)
    serial, frames = Stabilizer(), camera_frames(clip, 32)
    expected = [serial(f, stylizer.stylize_as_is(f)) for f in frames]
    assert len(stand_in.frames) == len(expected) == live.stats.frames == 12
    assert all(np.array_equal(a, b) for a, b in zip(stand_in.frames, expected, strict=True))
    assert live.stats.to_dict()["trusted_fraction"] > 0  # the past was blended in: not the bare frames
    assert any(not np.array_equal(a, stylizer.stylize_as_is(f)) for a, f in zip(stand_in.frames, frames, strict=True))


def test_no_virtual_camera_is_one_clear_error(clip, model_path, capsys):
    assert STAND_IN not in pyvirtualcam.camera.BACKENDS
    assert main(["stylize", "--model", str(model_path), "--webcam", str(clip), "--virtual-camera", "--no-show",
                 "--image-size", "32", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("rtstyle: error: no virtual camera") and "modprobe v4l2loopback" in err
    assert main(["stylize", "--model", str(model_path), "--input", str(clip), "--virtual-camera"]) == 2
    assert "needs --webcam" in capsys.readouterr().err


def test_keys_switch_style_strength_stabilizer_and_take_snapshots(stand_in, clip, tmp_path):
    paths = []
    for i, name in enumerate(["ember", "frost"]):
        paths.append(tmp_path / f"{name}.pth")
        checkpoint.save_model(textured_model("edge", seed=i), paths[-1])
    styles = [StyleChoice("ember", paths[0]), StyleChoice("frost", paths[1])]
    script = {2: ["n"], 3: [], 5: ["-", "-", "t"], 7: ["s", "f", "h"], 9: ["q"]}
    calls, said = [0], []

    def keys() -> list[str]:
        calls[0] += 1
        if calls[0] == 3:
            time.sleep(0.5)  # the next style loads in the background: give it time to finish
        return script.get(calls[0], [])

    stylizer = Stylizer.load(paths[0], device="cpu", image_size=32)
    stabilizer = Stabilizer()
    result = pipeline.stylize_stream(stylizer, str(clip), show=False, progress=False, postprocess=stabilizer,
                                     virtual_camera="", styles=styles, current=0, snapshot_dir=tmp_path / "shots",
                                     keys=keys, say=said.append)
    assert result["frames"] == 9 and len(stand_in.frames) == 9  # q after the 9th frame
    assert result["style"] == "frost"
    assert any("keys:" in s and "n / p" in s for s in said)  # printed on start, and by h
    assert "style frost" in said and "strength 0.8" in said and "temporal stabilization off" in said
    frames = camera_frames(clip, 32)
    ember = Stylizer.load(paths[0], device="cpu", image_size=32)
    frost = Stylizer.load(paths[1], device="cpu", image_size=32, strength=0.8)
    assert np.array_equal(stand_in.frames[0], ember.stylize_frame(frames[0], multiple=2))
    # after the switch, the lower strength and with the stabilizer off: frost's own output
    assert np.array_equal(stand_in.frames[6], frost.stylize_frame(frames[6], multiple=2))
    (shot,) = [p for p in (tmp_path / "shots").iterdir()]
    assert shot.name.startswith("rtstyle-frost-") and shot.suffix == ".png"
    from rtstyle.media import read_image

    assert np.array_equal(read_image(shot), stand_in.frames[6])


def test_a_live_camera_drops_stale_frames_a_file_keeps_them_all():
    def source():
        for i in range(200):
            yield np.full((4, 4, 3), i % 256, np.uint8)
            time.sleep(0.001)

    seen, dropped = [], 0
    for frame, n in latest_frames(source(), live=True):
        seen.append(int(frame[0, 0, 0]))
        dropped += n
        time.sleep(0.02)  # a network slower than the camera
    assert seen == sorted(seen) and seen[-1] == 199 and dropped > 0 and len(seen) + dropped == 200
    assert [int(f[0, 0, 0]) for f, _ in latest_frames(source(), live=False)] == list(range(200))


@contextlib.contextmanager
def mjpeg_server(*connections: list[int], period: float = 0.05):
    """An IP camera's MJPEG stream over HTTP (what OpenCV opens for ``--webcam URL``): the
    n-th request gets the n-th list of gray levels, a frame each ``period`` s, and then
    the connection closes; requests after the last get 404. Yields the URL."""
    served = iter(connections)

    class Stream(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            levels = next(served, None)
            if levels is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for level in levels:
                jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), level, np.uint8))[1].tobytes()
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                 % (len(jpeg), jpeg))
                self.wfile.flush()
                time.sleep(period)

        def log_message(self, *args):
            pass

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Stream) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
        server.shutdown()


@pytest.fixture
def ip_camera():
    """60 frames served at 20 fps, three seconds, then the stream ends."""
    with mjpeg_server([4 * i for i in range(60)]) as url:
        yield url


def test_a_dropped_stream_is_opened_again(tmp_path, model_path, capfd):
    """An IP camera whose connection drops (Wi-Fi, a restart) comes back: the session goes
    on with its frames (before, it ended at the first drop), and ends, saying why, once the
    camera stays away."""
    first, second = [20] * 15, [200] * 15
    with mjpeg_server(first, second, period=0.02) as url, Camera(url, reconnect=1.0) as camera:
        levels = [int(f.mean()) for f in camera]
        assert camera.is_stream and camera.reconnects == 1 and camera.ended == "no frame for 1 s"
    assert abs(levels[0] - 20) < 3 and abs(levels[-1] - 200) < 3  # frames of both connections
    assert len(levels) >= 20
    said = []
    with mjpeg_server(first, second, period=0.02) as url:
        summary = pipeline.stylize_stream(Stylizer.load(model_path, device="cpu", image_size=32), url,
                                          output=tmp_path / "rec.mp4", show=False, progress=False,
                                          keys=lambda: [], say=said.append, reconnect=1.0)
    assert summary["reconnects"] == 1 and said[-1] == f"{url}: no frame for 1 s; the session ends"
    assert "Stream ends prematurely" not in capfd.readouterr().err  # FFmpeg's own lines stay out


def test_a_live_recording_keeps_real_time_when_frames_are_dropped(tmp_path, model_path, ip_camera):
    """A network slower than the camera drops frames: the recording keeps when each frame
    came, so it lasts as long as the session (before, the frames kept were written at the
    camera's rate: a fast-forward, out of step with the time it recorded); and it is dated
    (a gallery sorts it by its creation_time)."""
    def slow(source, stylized):  # a network that takes 0.15 s a frame
        time.sleep(0.15)
        return stylized

    stylizer = Stylizer.load(model_path, device="cpu", image_size=32)
    out = tmp_path / "rec.mp4"
    summary = pipeline.stylize_stream(stylizer, ip_camera, output=out, show=False, progress=False,
                                      postprocess=slow, keys=lambda: [], say=lambda s: None, reconnect=0.5)
    assert summary["dropped"] > 0
    with av.open(str(out)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
        created = datetime.fromisoformat(c.metadata["creation_time"].replace("Z", "+00:00"))
    assert len(times) == summary["frames"] and times == sorted(times)
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60  # dated when it was recorded
    # the stream played for 3 s; at the camera's rate (25 fps, OpenCV's guess for MJPEG) the
    # at most 20 frames kept would fill under 0.8 s
    assert 1.5 < times[-1] < summary["seconds"]
