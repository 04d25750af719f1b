"""A temporal loss that needs no video: random motion pairs made from still images.

In the manner of Huang et al. 2017 and ReCoNet (Gao et al. 2018), but self-supervised
from the content images alone: each image ``x1`` gets a second view ``x2`` by a known
random motion (a small affine transform plus a smooth non-rigid flow field), sensor-like
noise and a global luminance change. The network should stylize the second view as it
stylized the first, moved: the loss penalises ``f(x2) - warp(f(x1))`` where the motion
keeps pixels inside the frame, after removing the luminance change (the output is
expected to follow it, as in ReCoNet's luminance-wise constraint).

Everything here is torch and differentiable (``grid_sample``); the numpy/OpenCV side of
temporal consistency (flow, the inference-time stabilizer, the metric) is in
:mod:`rtstyle.temporal`. Images are (B, 3, H, W) in [0, 255], as the network sees them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MotionConfig:
    """How far the second view moves (pixels and degrees) and how it is degraded."""

    max_shift: float = 4.0        # translation, each axis, px
    max_rotation: float = 1.5     # degrees
    max_zoom: float = 0.03        # relative scale change
    flow_amplitude: float = 1.5   # smooth non-rigid displacement, px (per axis, peak)
    flow_cells: int = 4           # the non-rigid field is bicubic over a cells x cells grid
    noise_std: float = 2.0        # Gaussian noise on the second view, 0-255 units
    max_luminance: float = 8.0    # additive brightness change, 0-255 units


@dataclass
class MotionPair:
    """A second view and how it relates to the first: ``x2(p) ~ x1(grid(p))``."""

    x2: torch.Tensor         # (B, 3, H, W) the moved, noisy, brightened view
    grid: torch.Tensor       # (B, H, W, 2) where each pixel of view 2 is in view 1 (grid_sample units)
    mask: torch.Tensor       # (B, 1, H, W) 1 where that place is inside view 1
    luminance: torch.Tensor  # (B, 1, 1, 1) the brightness added to view 2


def warp(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``out(p) = x(grid(p))``, bilinear and differentiable; ``grid`` in ``grid_sample``'s
    normalised coordinates (align_corners=True: -1 and 1 are the centres of the border
    pixels). Places outside take the nearest border value: mask them."""
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="border", align_corners=True)


def shift_grid(b: int, h: int, w: int, dx: float, dy: float, device=None) -> torch.Tensor:
    """The grid of a plain translation: view 2 is view 1 moved by (dx, dy) px, so
    ``grid(p) = p - (dx, dy)``."""
    theta = torch.tensor([[1.0, 0.0, -2.0 * dx / max(w - 1, 1)], [0.0, 1.0, -2.0 * dy / max(h - 1, 1)]],
                         device=device).expand(b, 2, 3)
    return F.affine_grid(theta, (b, 3, h, w), align_corners=True)


def inside(grid: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) float: 1 where ``grid`` points inside the frame."""
    return (grid.abs() <= 1.0).all(dim=-1, keepdim=True).permute(0, 3, 1, 2).float()


def random_grid(b: int, h: int, w: int, generator: torch.Generator, cfg: MotionConfig = MotionConfig()) -> torch.Tensor:
    """A random small motion as a sampling grid (B, H, W, 2): affine (shift, rotation,
    zoom about the centre) plus a smooth random field. Drawn on the CPU from ``generator``."""

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * 2.0 - 1.0

    angle = uniform(b) * math.radians(cfg.max_rotation)
    zoom = 1.0 + uniform(b) * cfg.max_zoom
    shift = uniform(b, 2) * cfg.max_shift
    sx, sy = 2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)  # px -> normalised units
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # rotate in pixel units (so non-square frames are not sheared), expressed in normalised ones
    theta = torch.stack([
        torch.stack([cos, -sin * sx / sy, -shift[:, 0] * sx], dim=-1),
        torch.stack([sin * sy / sx, cos, -shift[:, 1] * sy], dim=-1),
    ], dim=1)
    grid = F.affine_grid(theta, (b, 3, h, w), align_corners=True)
    if cfg.flow_amplitude > 0:
        cells = max(2, cfg.flow_cells)
        field = uniform(b, 2, cells, cells) * cfg.flow_amplitude
        field = F.interpolate(field, size=(h, w), mode="bicubic", align_corners=True)
        field = field * torch.tensor([sx, sy]).view(1, 2, 1, 1)
        grid = grid + field.permute(0, 2, 3, 1)
    return grid


def make_pair(x: torch.Tensor, generator: torch.Generator, cfg: MotionConfig = MotionConfig()) -> MotionPair:
    """The second view of each image of ``x`` (B, 3, H, W in [0, 255]) by a random motion,
    noise and luminance change, all drawn from ``generator`` (a CPU generator: the same
    seed gives the same pairs on every device)."""
    b, _, h, w = x.shape
    grid = random_grid(b, h, w, generator, cfg)
    noise = torch.randn(b, 3, h, w, generator=generator) * cfg.noise_std
    lum = (torch.rand(b, 1, 1, 1, generator=generator) * 2.0 - 1.0) * cfg.max_luminance
    grid, noise, lum = grid.to(x.device), noise.to(x.device, x.dtype), lum.to(x.device, x.dtype)
    with torch.no_grad():
        x2 = (warp(x, grid) + noise + lum).clamp(0.0, 255.0)
    return MotionPair(x2=x2, grid=grid, mask=inside(grid), luminance=lum)


def temporal_loss(y2: torch.Tensor, y1_warped: torch.Tensor, mask: torch.Tensor,
                  luminance: torch.Tensor | None = None) -> torch.Tensor:
    """Masked mean squared difference between the stylized second view and the warped
    stylized first view, in the units of the warping error (pixel values scaled to [0, 1],
    mean over channels and unmasked pixels). With ``luminance`` (B, 1, 1, 1, 0-255 units),
    that brightness change is expected in the output too and is subtracted first."""
    d = y2.float() - y1_warped.float()
    if luminance is not None:
        d = d - luminance.float()
    m = mask.float()
    return (d * d * m).sum() / (m.sum() * d.shape[1] * 255.0**2).clamp_min(1.0)


def pair_loss(model, x: torch.Tensor, y: torch.Tensor, pair: MotionPair) -> torch.Tensor:
    """The temporal loss of ``model`` for inputs ``x``, their outputs ``y`` and a pair."""
    return temporal_loss(model(pair.x2), warp(y, pair.grid), pair.mask, pair.luminance)


# -- whole-pixel shifts: equivariance without resampling ---------------------------------
SHIFT_SPAN = 8  # crops are this much smaller than the image; shifts are 0 .. SHIFT_SPAN - 1 px
SHIFT_MARGIN = 16  # px at each edge of the crops left out: their outputs see the padding


def shift_crops(x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
    """Two crops of each image of ``x`` (B, 3, H, W), ``SHIFT_SPAN`` px smaller on each side:
    the top-left one, and one moved by a random whole-pixel (dx, dy) (not both 0), drawn
    from ``generator``. The second crop's pixel p is the first's p + (dx, dy), exactly: no
    resampling, so the network's shifted output is a target that keeps its texture."""
    b, _, h, w = x.shape
    hh, ww = h - SHIFT_SPAN, w - SHIFT_SPAN
    offsets = []
    for _ in range(b):
        k = int(torch.randint(1, SHIFT_SPAN * SHIFT_SPAN, (1,), generator=generator))
        offsets.append((k % SHIFT_SPAN, k // SHIFT_SPAN))
    x2 = torch.stack([x[i, :, dy:dy + hh, dx:dx + ww] for i, (dx, dy) in enumerate(offsets)])
    return x[:, :, :hh, :ww], x2, offsets


def shift_loss(y1: torch.Tensor, y2: torch.Tensor, offsets: list[tuple[int, int]]) -> torch.Tensor:
    """Mean squared difference, in the warping error's units (values scaled to [0, 1]),
    between each second crop's output and the first crop's output at the same place,
    ``y2(p) ~ y1(p + (dx, dy))``, away from the edges (``SHIFT_MARGIN``)."""
    _, _, h, w = y1.shape
    m = SHIFT_MARGIN
    if h - SHIFT_SPAN - 2 * m < 1 or w - SHIFT_SPAN - 2 * m < 1:
        raise ValueError(f"crops of {w}x{h} are too small for the shift loss")
    total = 0.0
    for i, (dx, dy) in enumerate(offsets):
        a = y2[i, :, m:h - dy - m, m:w - dx - m].float()
        b = y1[i, :, m + dy:h - m, m + dx:w - m].float()
        total = total + ((a - b) ** 2).mean()
    return total / (len(offsets) * 255.0**2)


def sensor_noise(x: torch.Tensor, generator: torch.Generator, level: float) -> torch.Tensor:
    """``x`` (B, 3, H, W, 0-255) with a camera's sensor noise: zero-mean Gaussian noise whose
    standard deviation, drawn per image, is uniform in [0, ``level``] gray levels; on half the
    images (drawn) the same noise in the three channels (luma noise), on the others each
    channel its own (chroma noise); clamped to 0-255. Drawn from ``generator`` on the CPU."""
    b, c, h, w = x.shape
    sigma = torch.rand(b, 1, 1, 1, generator=generator) * level
    luma = torch.rand(b, 1, 1, 1, generator=generator) < 0.5
    noise = torch.randn(b, c, h, w, generator=generator)
    noise = torch.where(luma, noise[:, :1].expand(b, c, h, w), noise) * sigma
    return (x + noise.to(x.device, x.dtype)).clamp(0.0, 255.0)
