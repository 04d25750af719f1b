"""TransformerNet (Johnson et al. 2016), built from an :class:`ArchConfig`.

Encoder: a wide-kernel conv at full resolution, then stride-2 convs; residual blocks at
the lowest resolution; decoder: nearest upsampling + conv back to full resolution and a
final wide-kernel conv to RGB. Instance norm and ReLU follow every conv but the last.

Pixel convention (the fast_neural_style example's): input and output are RGB in [0, 255].
The raw output is not clamped, so that training sees the true gradients; callers that
produce images clamp it (see ``rtstyle.runtime``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
import torch.nn.functional as F

from .layers import ConvLayer, ResidualBlock, UpsampleConvLayer, instance_norm


@dataclass(frozen=True)
class ArchConfig:
    """Everything needed to rebuild a network; stored beside the weights."""

    name: str = "classic"
    channels: tuple[int, int, int] = (32, 64, 128)
    num_res_blocks: int = 5
    in_kernel: int = 9
    out_kernel: int = 9
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ArchConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown architecture fields: {sorted(unknown)}")
        d = dict(d)
        if "channels" in d:
            d["channels"] = tuple(int(c) for c in d["channels"])
        return cls(**d)

    @property
    def downsample_factor(self) -> int:
        return 4


class TransformerNet(nn.Module):
    """The image transformation network. Any input size works: the input is padded to a
    multiple of the downsampling factor and the output cropped back to the input's size."""

    def __init__(self, config: ArchConfig | None = None):
        super().__init__()
        self.config = config or ArchConfig()
        c1, c2, c3 = self.config.channels
        self.conv1 = ConvLayer(3, c1, kernel_size=self.config.in_kernel)
        self.in1 = instance_norm(c1)
        self.conv2 = ConvLayer(c1, c2, kernel_size=3, stride=2)
        self.in2 = instance_norm(c2)
        self.conv3 = ConvLayer(c2, c3, kernel_size=3, stride=2)
        self.in3 = instance_norm(c3)
        for i in range(1, self.config.num_res_blocks + 1):
            setattr(self, f"res{i}", ResidualBlock(c3))
        self.deconv1 = UpsampleConvLayer(c3, c2, kernel_size=3, upsample=2)
        self.in4 = instance_norm(c2)
        self.deconv2 = UpsampleConvLayer(c2, c1, kernel_size=3, upsample=2)
        self.in5 = instance_norm(c1)
        self.deconv3 = ConvLayer(c1, 3, kernel_size=self.config.out_kernel)
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
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for block in self.res_blocks():
            y = block(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
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
