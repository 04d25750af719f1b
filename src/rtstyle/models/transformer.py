"""TransformerNet (Johnson et al. 2016), built from an :class:`ArchConfig`.

Encoder: a wide-kernel conv at full resolution, then stride-2 convs; residual blocks at
the lowest resolution; decoder: nearest upsampling + conv back to full resolution and a
final wide-kernel conv to RGB. Instance norm and ReLU follow every conv but the last.

Pixel convention (the fast_neural_style example's): input and output are RGB in [0, 255].
The raw output is not clamped, so that training sees the true gradients; callers that
produce images clamp it (see ``rtstyle.runtime``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .layers import RESIDUAL_BLOCKS, ConvLayer, UpsampleConvLayer, instance_norm


@dataclass(frozen=True)
class ArchConfig:
    """Everything needed to rebuild a network; stored beside the weights.

    ``strides`` are those of the three encoder convs; the decoder mirrors them with
    upsampling. ``block``: "basic" (two 3x3 convs) or "separable" (depthwise 3x3 +
    pointwise 1x1). ``padding``: "reflect" (separate pad ops) or "zeros" (folded into the
    convs). ``upsample``: "nearest" (resize + conv) or "shuffle" (conv + pixel shuffle).
    ``blur``: low-pass before each strided conv (anti-aliasing, Zhang 2019).
    ``separable_decoder``: the two inner decoder convs depthwise-separable too.
    ``skip``: add the encoder's features at 1/2 and 1/4 resolution to the decoder's at the
    same resolutions (U-Net-style additive skips: the decoder sees fine detail that the
    low-resolution residual blocks cannot carry).
    """

    name: str = "classic"
    channels: tuple[int, int, int] = (32, 64, 128)
    num_res_blocks: int = 5
    in_kernel: int = 9
    out_kernel: int = 9
    strides: tuple[int, int, int] = (1, 2, 2)
    block: str = "basic"
    padding: str = "reflect"
    upsample: str = "nearest"
    blur: bool = False
    separable_decoder: bool = False
    skip: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"], d["strides"] = list(self.channels), list(self.strides)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ArchConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown architecture fields: {sorted(unknown)} (saved by a newer rtstyle?)")
        d = dict(d)
        for key in ("channels", "strides"):
            if key in d:
                d[key] = tuple(int(c) for c in d[key])
        return cls(**d)

    @property
    def downsample_factor(self) -> int:
        return self.strides[0] * self.strides[1] * self.strides[2]


class TransformerNet(nn.Module):
    """The image transformation network. Any input size works: the input is padded to a
    multiple of the downsampling factor and the output cropped back to the input's size."""

    def __init__(self, config: ArchConfig | None = None):
        super().__init__()
        self.config = cfg = config or ArchConfig()
        if cfg.block not in RESIDUAL_BLOCKS:
            raise ValueError(f"unknown residual block {cfg.block!r}; choose one of {sorted(RESIDUAL_BLOCKS)}")
        c1, c2, c3 = cfg.channels
        s1, s2, s3 = cfg.strides
        pad, up, blur = cfg.padding, cfg.upsample, cfg.blur
        self.conv1 = ConvLayer(3, c1, kernel_size=cfg.in_kernel, stride=s1, padding=pad, blur=blur)
        self.in1 = instance_norm(c1)
        self.conv2 = ConvLayer(c1, c2, kernel_size=3, stride=s2, padding=pad, blur=blur)
        self.in2 = instance_norm(c2)
        self.conv3 = ConvLayer(c2, c3, kernel_size=3, stride=s3, padding=pad, blur=blur)
        self.in3 = instance_norm(c3)
        for i in range(1, cfg.num_res_blocks + 1):
            setattr(self, f"res{i}", RESIDUAL_BLOCKS[cfg.block](c3, padding=pad))
        sep = cfg.separable_decoder
        self.deconv1 = UpsampleConvLayer(c3, c2, kernel_size=3, upsample=s3, padding=pad, mode=up, separable=sep)
        self.in4 = instance_norm(c2)
        self.deconv2 = UpsampleConvLayer(c2, c1, kernel_size=3, upsample=s2, padding=pad, mode=up, separable=sep)
        self.in5 = instance_norm(c1)
        self.deconv3 = UpsampleConvLayer(c1, 3, kernel_size=cfg.out_kernel, upsample=s1, padding=pad, mode=up)
        self.relu = nn.ReLU()

    def res_blocks(self):
        return [getattr(self, f"res{i}") for i in range(1, self.config.num_res_blocks + 1)]

    def aligned_padding(self, h: int, w: int) -> tuple[int, int]:
        """Bottom/right padding that makes an HxW input acceptable to :meth:`forward_aligned`:
        sides that are multiples of the downsampling factor, and at least 2 pixels at the
        lowest resolution (reflection padding needs that)."""
        m = self.config.downsample_factor
        return max((-h) % m, 2 * m - h), max((-w) % m, 2 * m - w)

    def forward_aligned(self, x: torch.Tensor) -> torch.Tensor:
        """The network proper, for inputs whose sides are multiples of the downsampling
        factor (this is what gets exported to ONNX, with dynamic height and width)."""
        e1 = self.relu(self.in1(self.conv1(x)))
        e2 = self.relu(self.in2(self.conv2(e1)))
        y = self.relu(self.in3(self.conv3(e2)))
        for block in self.res_blocks():
            y = block(y)
        y = self.relu(self.in4(self.deconv1(y)))
        if self.config.skip:
            y = y + e2
        y = self.relu(self.in5(self.deconv2(y)))
        if self.config.skip:
            y = y + e1
        return self.deconv3(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = self.aligned_padding(h, w)
        if pad_h or pad_w:
            # edge-replicated: reflection would need the pad to be smaller than the side
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        y = self.forward_aligned(x)
        if pad_h or pad_w:
            y = y[..., :h, :w]
        return y
