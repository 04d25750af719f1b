"""Perceptual losses of Johnson et al. 2016 (content, Gram-matrix style, total variation)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of (B, C, H, W) features, normalised by C*H*W: (B, C, C)."""
    b, c, h, w = features.shape
    # in float32 even under autocast (which would run bmm in bf16/fp16): the sums over H*W
    # lose too much in half precision and overflow fp16
    with torch.autocast(features.device.type, enabled=False):
        if features.is_contiguous(memory_format=torch.channels_last):
            # channels-last maps (VGG16's) as (B, HW, C) without a copy into NCHW: the same
            # sums, and forward plus backward 10-30% faster
            f = features.permute(0, 2, 3, 1).reshape(b, h * w, c).float()
            return torch.bmm(f.transpose(1, 2), f) / (c * h * w)
        f = features.reshape(b, c, h * w).float()
        return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def content_loss(features_y: torch.Tensor, features_x: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(features_y.float(), features_x.float())


def style_loss(features_y: Sequence[torch.Tensor], grams_style: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the MSE between the Gram matrices of the output and the style
    image's (``grams_style`` has batch 1 and is broadcast over the batch)."""
    loss = features_y[0].new_zeros((), dtype=torch.float32)
    for fy, gs in zip(features_y, grams_style, strict=True):
        gy = gram_matrix(fy)
        loss = loss + F.mse_loss(gy, gs.expand_as(gy))
    return loss


def gram_distance(features_a: Sequence[torch.Tensor], features_b: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per image (B,), the sum over layers of the squared Frobenius distance (a sum over
    elements, not a mean) between the two images' Gram matrices (normalised by C*H*W): the
    style distance that the built-in styles are measured by (docs/styles.md), and the
    perceptual term of distillation."""
    total = features_a[0].new_zeros(features_a[0].shape[0], dtype=torch.float32)
    for fa, fb in zip(features_a, features_b, strict=True):
        total = total + (gram_matrix(fa) - gram_matrix(fb)).pow(2).sum(dim=(1, 2))
    return total


def total_variation(img: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (anisotropic TV)."""
    img = img.float()
    dh = (img[..., 1:, :] - img[..., :-1, :]).abs().mean()
    dw = (img[..., :, 1:] - img[..., :, :-1]).abs().mean()
    return dh + dw


def gradient_loss(y: torch.Tensor, target: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """Multi-scale gradient matching: mean |∇y − ∇target| over ``scales`` octaves (the
    structure term of distillation: edges and texture, where plain L1 blurs)."""
    y, target = y.float(), target.float()
    loss = y.new_zeros(())
    for s in range(scales):
        if s:
            y, target = F.avg_pool2d(y, 2), F.avg_pool2d(target, 2)
        for dim in (-1, -2):
            loss = loss + (torch.diff(y, dim=dim) - torch.diff(target, dim=dim)).abs().mean()
    return loss / scales


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of an NCHW batch (3-sigma radius, reflected borders)."""
    r = max(1, round(3 * sigma))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
    k = (k / k.sum()).repeat(x.shape[1], 1, 1, 1)  # one kernel per channel
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(-1, 1, 1, 2 * r + 1), groups=x.shape[1])
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(-1, 1, 2 * r + 1, 1), groups=x.shape[1])


def lowpass_loss(y: torch.Tensor, target: torch.Tensor, sigma: float = 2.0) -> torch.Tensor:
    """Mean |blur(y) - blur(target)|: colour and shape at the scale the fidelity measure
    looks at, blind to the phase of fine texture (which a teacher does not keep itself)."""
    return (gaussian_blur(y.float(), sigma) - gaussian_blur(target.float(), sigma)).abs().mean()
