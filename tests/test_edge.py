"""The edge runtime: ONNX export and parity, int8, the ONNX Runtime backend, the
pipelined video path, and the bench command (its output, never its speed)."""

import json
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest
import torch
from conftest import make_photo, textured_model
from PIL import Image

from rtstyle import Stylizer, checkpoint, export
from rtstyle.cli import main
from rtstyle.errors import RtStyleError
from rtstyle.models import preset_names
from rtstyle.pipeline import stylize_video
from rtstyle.queues import BackgroundSink, prefetch
from rtstyle.runtime.onnx_backend import OnnxBackend, default_threads
from rtstyle.runtime.torch_backend import TorchBackend


@pytest.fixture(scope="module")
def photos_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    for i in range(4):
        Image.fromarray(make_photo(72, 96, seed=10 + i)).save(d / f"p{i}.jpg")
    return d


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every preset, textured, saved as .pth and exported to .onnx."""
    d = tmp_path_factory.mktemp("onnx")
    out = {}
    for name in preset_names():
        model = textured_model(name)
        pth = checkpoint.save_model(model, d / f"{name}.pth", {"style_image": "test"})
        report = export.export_onnx(model, d / f"{name}.onnx", {"style_image": "test"})
        out[name] = (model, pth, d / f"{name}.onnx", report)
    return out


@pytest.mark.parametrize("name", preset_names())
def test_export_matches_pytorch_at_dynamic_sizes(exported, name):
    model, pth, onnx_path, report = exported[name]
    assert report["max_abs_diff"] < 1e-2  # pixel values 0-255
    ort_backend, torch_backend = OnnxBackend(onnx_path), TorchBackend(model, "cpu")
    for h, w in [(64, 64), (241, 317), (30, 18)]:  # odd sizes: the backend pads and crops
        frame = make_photo(h, w, seed=h)
        a, b = ort_backend(frame), torch_backend(frame)
        assert a.shape == b.shape == (h, w, 3)
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
        assert b.std() > 10  # the comparison is not between two flat images


def test_onnx_file_carries_config_and_metadata(exported):
    backend = OnnxBackend(exported["edge"][2])
    assert backend.meta["arch"]["name"] == "edge" and backend.meta["style_image"] == "test"
    assert backend.factor == 8 and backend.meta["precision"] == "fp32"


def test_stylizer_threads_reach_onnx_runtime_and_change_nothing_else(exported):
    """``Stylizer.load(..., threads=N)``: what the video path uses to leave a core to the
    stabilizer; the same pixels, with ONNX Runtime's intra-op pool set to N."""
    _, pth, onnx_path, _ = exported["edge"]
    frame = make_photo(96, 128, seed=3)
    one, default = Stylizer.load(onnx_path, threads=1), Stylizer.load(onnx_path)
    assert one.backend.session.get_session_options().intra_op_num_threads == 1
    assert default.backend.session.get_session_options().intra_op_num_threads == default_threads()
    np.testing.assert_array_equal(one.stylize(frame), default.stylize(frame))
    assert Stylizer.load(pth, threads=1).stylize(frame).shape == frame.shape  # PyTorch: ignored


def test_int8_runs_and_stays_close_to_float(exported, photos_dir, tmp_path):
    _, _, fp32, _ = exported["edge"]
    report = export.quantize_int8(fp32, tmp_path / "edge.int8.onnx", photos_dir)
    assert report["calibration_images"] == 4 and report["bytes"] < fp32.stat().st_size
    q = OnnxBackend(tmp_path / "edge.int8.onnx")
    f = OnnxBackend(fp32)
    assert q.meta["precision"] == "int8"
    diffs = [np.abs(q(x).astype(int) - f(x).astype(int)) for x in (make_photo(96, 128, s) for s in range(20, 23))]
    # stated tolerance (README): mean |int8 - fp32| <= 4 of 255 on this random textured net
    assert np.mean([d.mean() for d in diffs]) <= 4.0


def test_cli_export_and_stylize_with_onnx(exported, photos_dir, tmp_path, capsys):
    _, pth, _, _ = exported["edge-fast"]
    out = tmp_path / "m.onnx"
    assert main(["export", "--model", str(pth), "--output", str(out)]) == 0
    assert "max |ONNX Runtime - PyTorch|" in capsys.readouterr().out
    assert main(["export", "--model", str(pth), "--output", str(tmp_path / "q.onnx"), "--int8",
                 "--calibration-dir", str(photos_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vs_fp32"]["mean_abs_diff"] <= 4.0
    assert main(["export", "--model", str(pth), "--output", str(tmp_path / "x.onnx"), "--int8"]) == 2
    assert "--calibration-dir" in capsys.readouterr().err
    img = tmp_path / "in.png"
    Image.fromarray(make_photo(50, 70, 3)).save(img)
    assert main(["stylize", "--model", str(out), "--input", str(img), "--output", str(tmp_path / "o.png")]) == 0
    got = np.asarray(Image.open(tmp_path / "o.png"))
    ref = Stylizer.load(pth, device="cpu").stylize(make_photo(50, 70, 3))
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1
    # a video: with the stabilizer on, the network leaves a core to the stages beside it
    clip = tmp_path / "n.mp4"
    _numbered_clip(clip, n=6)
    video = ["stylize", "--model", str(out), "--input", str(clip), "--json", "--no-progress"]
    for extra, threads in [([], max(1, default_threads() - 1)), (["--no-temporal"], default_threads()),
                           (["--threads", "3"], 3)]:
        assert main([*video, "--output", str(tmp_path / "v.mp4"), *extra]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["frames"] == 6 and summary["network_threads"] == threads


def test_foreign_onnx_with_extra_input_and_unit_range(tmp_path):
    """An NCHW RGB stylizer that takes [0, 1] pixels and a second input (like
    multistyle26's style weights) runs with input_range=1 and extra_inputs."""
    class Foreign(torch.nn.Module):
        def forward(self, image, weights):
            return (1 - image) * weights[0] + image * weights[1]
    path = tmp_path / "foreign.onnx"
    torch.onnx.export(Foreign(), (torch.rand(1, 3, 8, 8), torch.tensor([1.0, 0.0])), str(path), dynamo=False,
                      input_names=["image", "style_weights"], output_names=["out"],
                      dynamic_axes={"image": {2: "h", 3: "w"}, "out": {2: "h", 3: "w"}})
    with pytest.raises(RtStyleError, match="style_weights"):
        OnnxBackend(path, input_range=1)
    b = OnnxBackend(path, input_range=1, extra_inputs={"style_weights": np.array([1.0, 0.0], np.float32)})
    frame = make_photo(21, 30, 0)
    np.testing.assert_allclose(b(frame).astype(int), 255 - frame.astype(int), atol=1)


class _Invert:
    """A real (if simple) backend: inverts colours, slowly and unevenly, to shake out
    ordering bugs in the pipelined path."""
    name, device, meta = "invert", "cpu", {}

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def __call__(self, frame):
        time.sleep(self.rng.uniform(0, 0.004))
        return 255 - frame


def _numbered_clip(path, n=30):
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"crf": "0"})
        s.width, s.height, s.pix_fmt = 32, 32, "yuv444p"
        for i in range(n):
            frame = np.full((32, 32, 3), 8 * i, np.uint8)
            out.mux(s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(s.encode())


@pytest.mark.parametrize("pipelined", [True, False])
def test_pipeline_keeps_frame_count_and_order(tmp_path, pipelined):
    src, dst = tmp_path / "n.mp4", tmp_path / "o.mkv"
    _numbered_clip(src)
    summary = stylize_video(Stylizer(_Invert()), src, dst, progress=False, pipelined=pipelined, queue_size=2)
    assert summary["frames"] == 30
    with av.open(str(dst)) as c:
        levels = [int(np.median(f.to_ndarray(format="rgb24"))) for f in c.decode(video=0)]
    assert len(levels) == 30
    assert all(abs(level - (255 - 8 * i)) <= 3 for i, level in enumerate(levels)), levels


def test_prefetch_is_bounded_and_passes_errors_on():
    produced = []

    def source():
        for i in range(100):
            produced.append(i)
            yield i
    it = prefetch(source(), size=3)
    assert next(it) == 0
    time.sleep(0.2)
    assert len(produced) <= 5  # one taken, 3 queued, one waiting to be queued
    it.close()

    def failing():
        yield 1
        raise RtStyleError("decode failed")
    with pytest.raises(RtStyleError, match="decode failed"):
        list(prefetch(failing()))


def test_background_sink_keeps_order_and_raises_failures():
    seen = []
    with BackgroundSink(seen.append, size=2) as sink:
        for i in range(50):
            sink.put(i)
    assert seen == list(range(50))

    def boom(item):
        if item == 3:
            raise RtStyleError("disk full")
    sink = BackgroundSink(boom, size=2)
    with pytest.raises(RtStyleError, match="disk full"):
        for i in range(100):
            sink.put(i)
        sink.close()
    assert threading.active_count() < 20


def test_bench_reports_speed_memory_and_shift_consistency(photos_dir, exported):
    r = subprocess.run([sys.executable, "-m", "rtstyle.cli", "bench", "--presets", "edge-fast", "--models",
                        str(exported["edge"][1]), "--sizes", "64x48", "--runs", "2", "--warmup", "1",
                        "--backends", "onnx,torch", "--photos", str(photos_dir), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert {(row["model"], row["backend"]) for row in result["rows"]} == {
        ("edge-fast", "onnx"), ("edge-fast", "torch"), ("edge", "onnx"), ("edge", "torch")}
    for row in result["rows"]:
        assert row["min_ms"] <= row["median_ms"] <= row["max_ms"] and row["peak_rss_mb"] > 10
    shift = {s["model"]: s for s in result["shift"]}
    assert shift["edge"]["trained"] and not shift["edge-fast"]["trained"]
    assert set(shift["edge"]["psnr_db"]) == {"1,0", "2,1", "3,3"}
    assert "cores" in result["machine"]


def test_shift_consistency_tells_equivariant_from_aliasing_stylizers():
    from rtstyle.metrics import lowpass_psnr, shift_consistency

    photos = [make_photo(64, 64, s) for s in range(3)]
    pointwise = shift_consistency(lambda x: 255 - x, photos)
    assert all(v == float("inf") for v in pointwise.values())

    def aliasing(x):  # stride-2 subsampling then nearest upsampling: follows the pixel grid
        return np.repeat(np.repeat(x[::2, ::2], 2, 0), 2, 1)[: x.shape[0], : x.shape[1]]
    crawl = shift_consistency(aliasing, photos)
    assert 10 < crawl["1,0"] < 60 and crawl["2,1"] < crawl["1,0"] + 20
    assert shift_consistency(aliasing, photos, sigma=2)["1,0"] > crawl["1,0"]  # low-pass forgives aliasing
    a = make_photo(40, 40, 1)
    assert lowpass_psnr(a, a) == float("inf")
