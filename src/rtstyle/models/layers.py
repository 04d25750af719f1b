"""Small reusable layers of the style networks.

Module names (``conv2d``, ``in1`` ...) follow PyTorch's fast_neural_style example so that
its state dicts load into the ``classic`` preset unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class ConvLayer(nn.Module):
    """Reflection padding followed by a convolution ("same" size for stride 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class UpsampleConvLayer(nn.Module):
    """Nearest-neighbour upsampling then a ConvLayer: no checkerboard artefacts of
    transposed convolutions (Odena et al. 2016)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, upsample: int = 2):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.conv2d(self.reflection_pad(x))


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    """Affine instance norm without running statistics (the same at train and test time)."""
    return nn.InstanceNorm2d(channels, affine=True)


class ResidualBlock(nn.Module):
    """Two 3x3 conv + instance norm layers with an identity shortcut (He et al. 2016),
    the block of Johnson et al.'s network as in the fast_neural_style example."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3)
        self.in1 = instance_norm(channels)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3)
        self.in2 = instance_norm(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x
