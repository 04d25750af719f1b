"""The Python API: ``Stylizer.load(path).stylize(image)``."""

from __future__ import annotations

import os
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from .color import blend, check_strength, preserve_color
from .media import resize_shorter
from .runtime import Backend, load_backend
from .styles import resolve_model

ImageLike = TypeVar("ImageLike", Image.Image, np.ndarray)

# The memory a frame takes in the network on the CPU, per input pixel: MEMORY_PER_CHANNEL
# bytes for each channel of each encoder stage, at that stage's resolution (a stage of
# stride 2 has a quarter of the pixels of the one before). Measured peaks (`rtstyle bench`,
# Intel Xeon, 2026-12-07): the classic network (32, 64, 128 channels at strides 1, 2, 2:
# 56 a pixel) 830-900 bytes a pixel at 1.9-7.7 megapixels, ONNX Runtime and PyTorch alike;
# the edge one (16, 32, 64 at strides 2, 2, 2: 7) 123-152 at 1.9-4.3 megapixels and 76 at
# 48 (ONNX Runtime).
MEMORY_PER_CHANNEL = 15.5


class Stylizer:
    """Applies one style model to images or video frames.

    >>> from rtstyle import Stylizer
    >>> stylizer = Stylizer.load("checkpoints/model.pth", device="auto")
    >>> out = stylizer.stylize(Image.open("photo.jpg"))      # PIL in, PIL out
    >>> frame_out = stylizer.stylize(frame)                 # HxWx3 uint8 array in, array out
    """

    def __init__(self, backend: Backend, image_size: int | None = None, strength: float = 1.0,
                 preserve_color: bool = False):
        self.backend = backend
        self.image_size = image_size
        self.strength = check_strength(strength)
        self.preserve_color = preserve_color

    @classmethod
    def load(cls, model: str | os.PathLike | None = None, device: str = "auto", image_size: int | None = None,
             strength: float = 1.0, preserve_color: bool = False, threads: int | None = None) -> "Stylizer":
        """Load a model: a file (an rtstyle checkpoint, a fast_neural_style state dict, or
        an exported .onnx model) or the name of a built-in style; None: the default
        built-in style. ``image_size``: resize inputs so their shorter side has this many
        pixels first. ``strength`` (0-1): blend with the original. ``preserve_color``:
        keep the original's colours, take only the stylized lightness. ``threads``: ONNX
        Runtime's intra-op threads on the CPU (default: one a core); checkpoints run by
        PyTorch ignore it."""
        backend = load_backend(resolve_model(model, device=device), device, threads=threads)  # (PyTorch: unused)
        return cls(backend, image_size, strength, preserve_color)

    @property
    def device(self) -> str:
        return self.backend.device

    def memory_mb(self, height: int, width: int) -> float | None:
        """About how much memory (MB) the network takes on the CPU for a ``height`` x
        ``width`` frame; None where its architecture is not known (a foreign ONNX model)
        or it runs on a GPU."""
        arch = self.meta.get("arch")  # (a checkpoint's and an rtstyle export's; ArchConfig.to_dict)
        if not arch or not arch.get("channels") or str(self.device) != "cpu":
            return None
        # (exports made before strides were configurable have the classic network's, ArchConfig's default)
        channels, strides = arch["channels"], arch.get("strides") or (1, 2, 2)
        per_pixel, area = 0.0, 1.0
        for c, stride in zip(channels, strides, strict=False):
            area /= stride * stride
            per_pixel += c * area
        return MEMORY_PER_CHANNEL * per_pixel * height * width / 1e6

    @property
    def meta(self) -> dict[str, Any]:
        return self.backend.meta

    @property
    def stride(self) -> int:
        """The network's total downsampling: its output follows a shift of the input
        exactly only in steps of this many pixels (8 for ``edge``, 4 for ``classic``)."""
        factor = getattr(self.backend, "factor", None)
        return int(factor if factor is not None else self.backend.model.config.downsample_factor)

    def stylize_frame(self, frame: np.ndarray, multiple: int = 1) -> np.ndarray:
        """HxWx3 uint8 RGB -> HxWx3 uint8 RGB, resized first so the shorter side is
        ``image_size`` (if set) and both sides are multiples of ``multiple`` (2 for H.264)."""
        if self.image_size or multiple > 1:
            frame = resize_shorter(frame, self.image_size, multiple=multiple)
        return self.stylize_as_is(frame)

    def stylize_as_is(self, frame: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 RGB -> the same size, not resized (the network pads to its stride)."""
        out = self.backend(frame)
        if self.preserve_color:
            out = preserve_color(out, frame)
        return blend(out, frame, self.strength)

    def stylize(self, image: ImageLike) -> ImageLike:
        """Stylize a PIL image or an HxWx3 uint8 RGB array; returns the same kind."""
        if isinstance(image, Image.Image):
            return Image.fromarray(self.stylize_frame(np.asarray(image.convert("RGB"))))
        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"expected an HxWx3 uint8 RGB array, got shape {image.shape} dtype {image.dtype}")
            return self.stylize_frame(image)
        raise TypeError(f"expected a PIL image or a numpy array, got {type(image).__name__}")

    __call__ = stylize
