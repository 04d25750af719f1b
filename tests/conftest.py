"""Shared fixtures: small real inputs made by the tests themselves (no network, no
downloaded data). The VGG16 weights are seeded random ones: they prove the mechanics of
training, never a style."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from rtstyle.vgg import VGG16Features


def make_photo(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth, photo-like test image: gradients, a few discs and mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w, yy / h, 0.5 + 0.5 * np.sin((xx + yy) / 9.0 + seed)], axis=-1) * 200
    for _ in range(3):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(4, min(h, w) / 3)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(autouse=True)
def user_dirs(tmp_path_factory, monkeypatch):
    """Every test gets its own user data and cache folders (platformdirs follows the XDG
    variables): the user's styles and caches on this machine are never read or written."""
    root = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(root / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "cache"))
    return root


@pytest.fixture(scope="session")
def vgg_weights(tmp_path_factory) -> str:
    """A features-only VGG16 state dict with seeded random weights, written to a file."""
    torch.manual_seed(1234)
    net = VGG16Features()
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save({f"features.{k}": v for k, v in net.features.state_dict().items()}, path)
    return str(path)


@pytest.fixture(scope="session")
def content_dir(tmp_path_factory):
    """Six small content images, two of them in a subfolder, one grayscale."""
    root = tmp_path_factory.mktemp("content")
    (root / "sub").mkdir()
    for i in range(6):
        img = Image.fromarray(make_photo(48 + 4 * i, 64 - 2 * i, seed=i))
        if i == 5:
            img = img.convert("L")
        folder = root / "sub" if i >= 4 else root
        img.save(folder / f"img{i}.{'png' if i % 2 else 'jpg'}")
    return root


@pytest.fixture(scope="session")
def style_image(tmp_path_factory):
    path = tmp_path_factory.mktemp("style") / "style.png"
    rng = np.random.default_rng(7)
    stripes = (np.indices((40, 40)).sum(0) // 4 % 2)[..., None] * rng.uniform(0, 255, 3)
    Image.fromarray(stripes.astype(np.uint8)).save(path)
    return path


def tiny_train_config(content_dir, style_image, vgg_weights, out, **kw):
    """A seconds-long CPU training config on the fixtures' images (32 px, batch 2, one
    epoch, quiet); keyword arguments override any field."""
    from rtstyle.training import TrainConfig

    base = dict(content_dir=str(content_dir), style_image=str(style_image), save_model_dir=str(out),
                vgg_weights=vgg_weights, image_size=32, batch_size=2, epochs=1, seed=3, device="cpu",
                precision="fp32", log_interval=0, checkpoint_interval=0, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def make_clip(path, frames: int = 12, fps: int = 12, size: tuple[int, int] = (64, 48), audio: bool = True,
              times: list[float] | None = None):
    """A short H.264 clip of a moving pattern, with a 440 Hz AAC tone as long as the video.
    ``times``: each frame's time in seconds (a variable rate, as phones record), else n/fps."""
    import fractions

    import av

    w, h = size
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        if times is not None:
            v.codec_context.time_base = fractions.Fraction(1, 1000)
        a = None
        if audio:
            a = out.add_stream("aac", rate=44100)
            a.layout = "mono"
        for i in range(frames):
            img = make_photo(h, w, seed=0)
            img = np.roll(img, 2 * i, axis=1)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = round(times[i] * 1000), fractions.Fraction(1, 1000)
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        if a is not None:
            n = int(44100 * (frames / fps if times is None else times[-1] + 1 / fps))
            t = np.arange(n) / 44100
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            for start in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(samples[:, start:start + 1024].copy(), format="fltp", layout="mono")
                af.sample_rate, af.pts = 44100, start
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode():
                out.mux(p)
    return path


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """A classic model with seeded random weights (mechanics only, not a style)."""
    from rtstyle import checkpoint
    from rtstyle.models import build_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "model.pth"
    checkpoint.save_model(build_model("classic"), path, {"style_image": "random"})
    return path


def textured_model(name: str, seed: int = 0):
    """A preset with seeded random weights whose output varies over [0, 255] (the last
    conv rescaled to std 40 around 128), so that numeric comparisons mean something."""
    from rtstyle.models import build_model

    torch.manual_seed(seed)
    model = build_model(name).eval()
    last = [m for m in model.deconv3.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    x = torch.from_numpy(make_photo(96, 128, 1)).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        scale = 40 / float(model(x).std())
        last.weight.mul_(scale)
        last.bias.mul_(scale).add_(128)
    return model
