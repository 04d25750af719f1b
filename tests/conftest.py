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
