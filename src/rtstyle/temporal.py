"""Temporal consistency for video: optical flow, warping, occlusion masks and the
warping-error metric of Lai et al. 2018 (the stabilizer is in :mod:`rtstyle.stabilizer`).

Conventions. Frames are HxWx3 ``uint8`` RGB arrays. A *flow* is an HxWx2 ``float32``
array of (dx, dy) in pixels; the flow "from a to b" says where each pixel of ``a`` is
in ``b``: ``a(x) ~ b(x + flow(x))``. So ``warp(b, flow_a_to_b)`` brings ``b`` onto
``a``'s pixel grid, and "warping frame t-1 to t" uses the flow from t to t-1.

This module is numpy + OpenCV only (no torch), so the light ONNX path stays light.
Flow comes from OpenCV's DIS optical flow (Kroeger et al. 2016).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Iterable

import cv2
import numpy as np

from .errors import RtStyleError

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "balanced": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,  # with fewer iterations: see _dis
    "fine": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,  # balanced down to the input's own scale: see _dis
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

# --------------------------------------------------------------------------- flow and warping


def to_gray(frame: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB (or HxW gray) -> HxW uint8 gray."""
    if frame.ndim == 2:
        return np.ascontiguousarray(frame, dtype=np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


# a jump of the mean brightness from one frame to the next (as a ratio) that DIS's flow does not
# survive (a flash: its patches' contrast changes, not only their mean), so the darker frame's
# levels are first matched to the brighter's (matched_levels: the stabilizer's flow and the
# metric's); only above FLASH_FLOOR gray levels, as a fade's last frames are too dark to match
# (docs/benchmarks.md, "A flash is not a cut", "The metric's flow across a flash")
FLASH_STEP = 0.25
FLASH_FLOOR = 40.0


def matched_levels(gray: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``gray`` and ``other`` at the same levels where their mean brightness differs by more
    than :data:`FLASH_STEP` (both above :data:`FLASH_FLOOR`): the darker frame's gray levels
    mapped onto the brighter's (their histograms matched); both as they are otherwise. A
    flash, or a jump of exposure, brightens a frame unevenly and clips its highlights:
    matching the histograms undoes that where one gain would not, and the darker frame,
    brought up, clips where the brighter did."""
    m, r = cv2.mean(gray)[0], cv2.mean(other)[0]
    if min(m, r) <= FLASH_FLOOR or abs(r / m - 1.0) <= FLASH_STEP:
        return gray, other
    dark, bright = (gray, other) if m < r else (other, gray)
    cdf = cv2.calcHist([dark], [0], None, [256], [0, 256]).ravel().cumsum()
    ref = cv2.calcHist([bright], [0], None, [256], [0, 256]).ravel().cumsum()
    lifted = cv2.LUT(dark, np.searchsorted(ref / ref[-1], cdf / cdf[-1]).clip(0, 255).astype(np.uint8))
    return (lifted, other) if m < r else (gray, lifted)


FINE_REFINEMENT = 3  # variational refinement iterations of the fine flow (balanced: 1)


def _dis(preset: str, refinement: int | None = None) -> cv2.DISOpticalFlow:
    """DIS with one of OpenCV's presets, or ``balanced``: ``medium`` (finest scale 1) with
    patch stride 4 instead of 3, and 6 gradient-descent and 1 variational-refinement
    iterations instead of 25 and 5 -- about 4x faster (1.9 ms at 320x240 on 2 cores),
    and nearly as good for the stabilizer on real video (on vtest.avi its warping error
    is 28% of the bare model's, against 26% with ``medium``).

    ``fine``: ``balanced`` with its finest scale at 0, so the patches are matched on the
    input itself rather than on a half-size copy of it: about as fine as ``balanced`` on
    an input twice the size, for less (at 180 px it beat ``balanced`` at 300 px, for 15%
    less time). Texture carried by the flow stays on moving faces and bodies (the sharp
    stabilizer: docs/benchmarks.md, "The flow's finest scale"). It refines the field with
    :data:`FINE_REFINEMENT` variational iterations instead of 1: 1.8 ms more at 267x200 on
    one core, for a flow closer to the true motion (against the known motion of the pan and
    night clips, the endpoint error falls from 0.16 and 0.23 px to 0.15 and 0.19 px, and the
    stabilizer's warping error from 19% and 32% of bare to 18.5% and 29%; docs/benchmarks.md,
    "Against the true motion"). ``refinement``: that many variational iterations instead
    of the preset's."""
    try:
        dis = cv2.DISOpticalFlow_create(_PRESETS[preset])
    except KeyError:
        raise ValueError(f"unknown DIS preset {preset!r} (use one of {', '.join(_PRESETS)})") from None
    if preset in ("balanced", "fine"):
        dis.setPatchStride(4)
        dis.setGradientDescentIterations(6)
        dis.setVariationalRefinementIterations(1)
    if preset == "fine":
        dis.setFinestScale(0)
        refinement = FINE_REFINEMENT if refinement is None else refinement
    if refinement is not None:
        dis.setVariationalRefinementIterations(refinement)
    return dis


@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> np.ndarray:
    """HxWx2 float32 pixel coordinates (x, y); read-only, cached per size."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    grid = np.stack([gx, gy], axis=-1)
    grid.flags.writeable = False
    return grid


REGION_MARGIN = 8  # px of context around each region of :meth:`FlowEstimator.calc_regions`


class FlowEstimator:
    """Dense optical flow between gray frames with DIS, optionally at reduced resolution.

    ``size``: compute the flow on frames whose shorter side is at most this many pixels
    (None: full resolution); the result is scaled back up to the input's size.
    ``max_reduction``: but never reduce a frame more than this many times (None: no
    limit): the flow's error, scaled up with it, would move texture carried by it off the
    content (a 1920x1080 phone video, its flow at 200 px: 57% of the network's flicker
    left by the stabilizer, 27% at 432 px; docs/benchmarks.md, "Large frames").
    ``preset``: ``ultrafast``, ``fast``, ``balanced``, ``fine`` or ``medium`` (speed/quality,
    see :func:`_dis`). ``fine`` works on frames reduced at least :data:`FINE_REDUCTION` times
    (the reduction averages the pixels' noise away; a frame whose shorter side is under
    ``size`` times that is reduced that much instead, so the flow is smaller than ``size``),
    as long as that leaves :data:`FINE_MIN` px; on smaller frames the noise would pass for
    motion at that scale, and it works as ``balanced`` at ``size``."""

    # 2 and 128 since 2026-12-06 (before: 1.5, no floor, and ``size`` whatever the frame):
    # on the clips between 256 and 400 px the finer, less reduced flow read more noise than
    # motion (bikes.mp4 at 272 px: 32% -> 29% of bare flicker; docs/benchmarks.md)
    FINE_REDUCTION = 2.0
    FINE_MIN = 128

    def __init__(self, preset: str = "medium", size: int | None = None, max_reduction: float | None = None):
        self.preset = preset
        self.size = size
        self.max_reduction = max_reduction
        # in fine mode, small frames get the balanced matching, refined as fine's
        self._dis = _dis("balanced", FINE_REFINEMENT) if preset == "fine" else _dis(preset)
        self._fine = _dis(preset) if preset == "fine" else None
        self._use_fine = False  # for the last frame made small

    def working_side(self, side: int) -> tuple[int, bool]:
        """The shorter side of the working resolution of a frame whose shorter side is
        ``side``, and whether the ``fine`` matching applies there."""
        size = side if self.size is None else min(self.size, side)
        if self.max_reduction:
            size = max(size, min(side, round(side / self.max_reduction)))
        if self._fine is not None:
            fine = min(size, side / self.FINE_REDUCTION)
            if fine >= self.FINE_MIN:
                return round(fine), True
        return size, False

    def small(self, gray: np.ndarray) -> np.ndarray:
        """``gray`` resized to the working resolution."""
        h, w = gray.shape[:2]
        side, self._use_fine = self.working_side(min(h, w))
        if side >= min(h, w):
            return gray
        s = side / min(h, w)
        return cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)

    def calc_small(self, a_small: np.ndarray, b_small: np.ndarray) -> np.ndarray:
        """Flow from ``a`` to ``b``, both already at the working resolution (made by :meth:`small`)."""
        return self._matcher().calc(a_small, b_small, None)

    def _matcher(self) -> cv2.DISOpticalFlow:
        """The DIS instance for the last frame made small (see :meth:`small`)."""
        return self._fine if self._use_fine else self._dis

    def calc_regions(self, a_small: np.ndarray, b_small: np.ndarray,
                     boxes: list[tuple[int, int, int, int]], margin: int = REGION_MARGIN) -> np.ndarray:
        """Flow from ``a`` to ``b`` (as :meth:`calc_small`) inside ``boxes`` only, each
        (x0, y0, x1, y1), and 0 elsewhere: each box is matched on its own, with ``margin``
        px of the frames around it, and never on less of them than DIS needs to start from
        as coarse a scale as on the whole frame (:func:`_dis_reach`), so that its edges see
        some context and it follows motion as large."""
        h, w = a_small.shape[:2]
        flow = np.zeros((h, w, 2), np.float32)
        dis = self._matcher()
        long, short = _dis_reach(w, h, dis.getPatchSize())
        for x0, y0, x1, y1 in boxes:
            cx0, cx1 = _span(x0 - margin, x1 + margin, w, long if w >= h else short)
            cy0, cy1 = _span(y0 - margin, y1 + margin, h, short if w >= h else long)
            part = dis.calc(np.ascontiguousarray(a_small[cy0:cy1, cx0:cx1]),
                            np.ascontiguousarray(b_small[cy0:cy1, cx0:cx1]), None)
            flow[y0:y1, x0:x1] = part[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
        return flow

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow from frame ``a`` to frame ``b`` (RGB or gray), at ``a``'s full size."""
        ga, gb = to_gray(a), to_gray(b)
        flow = self.calc_small(self.small(ga), self.small(gb))
        return upscale_flow(flow, ga.shape[:2])


def _dis_reach(w: int, h: int, patch: int) -> tuple[int, int]:
    """The least (longer, shorter) sides of a part of a ``w`` x ``h`` frame that DIS matches
    from as coarse a scale as the whole frame, so that it follows motion as large: DIS starts
    at the scale ``min(round(log2(longer / (4 patch))), floor(log2(shorter / patch)))``."""
    scale = max(0, min(int(math.log2(max(w, h) / (4.0 * patch)) + 0.5), int(math.log2(max(1, min(w, h)) / patch))))
    return math.ceil(4 * patch * 2 ** (scale - 0.5)), patch * 2**scale


def _span(lo: int, hi: int, size: int, least: int) -> tuple[int, int]:
    """[lo, hi) clipped to [0, size), grown about its middle to at least ``least`` (or ``size``)."""
    lo, hi = max(0, lo), min(size, hi)
    need = min(size, least)
    if hi - lo < need:
        lo = max(0, min(lo - (need - (hi - lo)) // 2, size - need))
        hi = lo + need
    return lo, hi


def estimate_flow(a: np.ndarray, b: np.ndarray, preset: str = "medium", size: int | None = None) -> np.ndarray:
    """Flow from frame ``a`` to frame ``b`` (see the module's conventions)."""
    return FlowEstimator(preset, size)(a, b)


def upscale_flow(flow: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A flow computed at a lower resolution, resized to ``shape`` (h, w) with its
    vectors scaled to match."""
    h, w = shape
    fh, fw = flow.shape[:2]
    if (fh, fw) == (h, w):
        return flow
    # scaled first: the small flow is cheaper to scale than the large one, and linear
    # interpolation commutes with scaling
    return cv2.resize(flow * np.float32([w / fw, h / fh]), (w, h), interpolation=cv2.INTER_LINEAR)


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """``out(x) = image(x + flow(x))``, bilinear; pixels that land outside ``image`` take
    the nearest border value (mask them with :func:`inside_mask`). Keeps the dtype."""
    h, w = flow.shape[:2]
    return cv2.remap(image, _grid(h, w) + flow, None, interpolation, borderMode=cv2.BORDER_REPLICATE)


def inside_mask(flow: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Where ``x + flow(x)`` lands inside the frame, at least ``margin`` px from its edges
    (bool HxW)."""
    h, w = flow.shape[:2]
    return cv2.inRange(_grid(h, w) + flow, (margin, margin), (w - 1.0 - margin, h - 1.0 - margin)).astype(bool)


def consistency_mask(flow_ab: np.ndarray, flow_ba: np.ndarray, rel: float = 0.01, abs_px: float = 0.5) -> np.ndarray:
    """Pixels of ``a`` that are visible in ``b`` by the forward-backward check of Sundaram
    et al. 2010 (as in Ruder et al. 2016): following ``flow_ab`` and then ``flow_ba`` must
    come back, ``|f + b|^2 <= rel (|f|^2 + |b|^2) + abs_px``; pixels that leave the frame
    are out too. Occluded and disoccluded pixels fail. Bool HxW."""
    back = warp(flow_ba, flow_ab)
    d = flow_ab + back
    err = np.einsum("ijk,ijk->ij", d, d)
    bound = rel * (np.einsum("ijk,ijk->ij", flow_ab, flow_ab) + np.einsum("ijk,ijk->ij", back, back)) + abs_px
    return (err <= bound) & inside_mask(flow_ab)


def sharpness(frame: np.ndarray) -> float:
    """Variance of the Laplacian of the gray frame (0-255 scale): high for crisp detail,
    falls with blur."""
    return float(cv2.Laplacian(to_gray(frame), cv2.CV_64F).var())


# --------------------------------------------------------------------------- the metric


def warping_error(prev: np.ndarray, cur: np.ndarray, flow_cur_to_prev: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean squared RGB difference (values in [0, 1], mean over channels and unmasked
    pixels) between ``cur`` and ``prev`` warped onto it. None when nothing is unmasked."""
    n = int(mask.sum())
    if n == 0:
        return None
    warped = warp(prev, flow_cur_to_prev).astype(np.float32)
    diff = (cur.astype(np.float32) - warped) / 255.0
    return float((diff * diff).sum(-1)[mask].sum() / (3 * n))


#: a frame pair whose occlusion check keeps less than this share of the frame is a cut: the
#: metric scores it on the few pixels that pass by chance, where every version errs alike
CUT_KEPT = 0.1


class WarpingErrorMeter:
    """The warping error of Lai et al. 2018, frame pair by frame pair, of one or more
    stylized versions of the same source (one flow serves them all).

    ``update(source, stylized)`` for each frame in order; ``stylized`` is a frame, or a
    dict of frames by version name. For frame t the flow t -> t-1 is estimated on the
    *source* frames (DIS, ``preset`` at full resolution by default; across a jump of
    brightness, a flash, at the same levels: :func:`matched_levels`), each stylized frame
    t-1 is warped to t, and pixels failing the forward-backward check are masked out;
    :meth:`result` averages the masked MSE over frames. The source's own warping error (the
    floor: what real motion, lighting and flow errors leave) and the sharpness of the
    stylized frames come with it, and the error without the pairs that are cuts (see
    :data:`CUT_KEPT`): one cut, scored on 1% of the frame, can weigh as much as a hundred
    usual pairs in the mean, the same for every version."""

    def __init__(self, preset: str = "medium", flow_size: int | None = None):
        self.flow = FlowEstimator(preset, flow_size)
        self.frames = 0
        self._prev: tuple[np.ndarray, dict[str, np.ndarray], np.ndarray] | None = None
        self._errors: dict[str, list[float]] = {}
        self._source_errors: list[float] = []
        self._sharpness: dict[str, list[float]] = {}
        self._masked: list[float] = []

    def update(self, source: np.ndarray, stylized: np.ndarray | dict[str, np.ndarray]) -> None:
        versions = stylized if isinstance(stylized, dict) else {"": stylized}
        for frame in versions.values():
            if source.shape != frame.shape:
                raise ValueError(f"source {source.shape} and stylized {frame.shape} frames differ in size")
        gray = self.flow.small(to_gray(source))
        for name, frame in versions.items():
            self._sharpness.setdefault(name, []).append(sharpness(frame))
        if self._prev is not None:
            p_src, p_versions, p_gray = self._prev
            f_back, mask = self.pair_flow(gray, p_gray, source.shape[:2])
            self._masked.append(1.0 - float(mask.mean()))
            if mask.any():
                self._source_errors.append(warping_error(p_src, source, f_back, mask))
                for name, frame in versions.items():
                    self._errors.setdefault(name, []).append(warping_error(p_versions[name], frame, f_back, mask))
        self._prev = (source, versions, gray)
        self.frames += 1

    def pair_flow(self, gray: np.ndarray, prev_gray: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The flow from a frame to the previous one at ``shape`` (h, w), from their gray
        levels at the flow's size (``self.flow.small(to_gray(frame))``), and where it passes
        the forward-backward check (bool HxW). Across a jump of brightness the two are
        matched first (:func:`matched_levels`): across a flash of a held-out clip DIS read 7
        px of motion where the camera moved 0.2 px."""
        a, b = matched_levels(gray, prev_gray)
        f_back = upscale_flow(self.flow.calc_small(a, b), shape)  # t -> t-1
        return f_back, consistency_mask(f_back, upscale_flow(self.flow.calc_small(b, a), shape))

    def result(self, name: str = "") -> dict[str, Any]:
        """The figures of version ``name`` (the default: the one frame given to update)."""
        mean = lambda v: float(np.mean(v)) if v else float("nan")  # noqa: E731
        errors = self._errors.get(name, [])
        kept = [1.0 - m for m in self._masked if m < 1.0]  # the share kept, for each scored pair (mask.any())
        return {
            "frames": self.frames,
            "warping_error": mean(errors),
            "source_warping_error": mean(self._source_errors),
            "sharpness": mean(self._sharpness.get(name, [])),
            "occluded_fraction": mean(self._masked),
            "cut_pairs": sum(1 for m in self._masked if 1.0 - m < CUT_KEPT),
            "warping_error_without_cuts": mean([e for e, k in zip(errors, kept, strict=False) if k >= CUT_KEPT]),
        }


def temporal_metrics(source: Iterable[np.ndarray], stylized: Iterable[np.ndarray],
                     preset: str = "medium", names: tuple[str, str] = ("source", "stylized")) -> dict[str, Any]:
    """Warping error, source floor and sharpness of two frame sequences of equal length.

    Frame sizes must match, or the stylized frames must be the source resized with its
    aspect ratio kept (what ``stylize --image-size`` writes): then the source frames are
    resized the same way. Anything else raises :class:`RtStyleError`."""
    meter = WarpingErrorMeter(preset)
    src_it, sty_it = iter(source), iter(stylized)
    n = 0
    while True:
        a, b = next(src_it, None), next(sty_it, None)
        if a is None or b is None:
            if a is not None or b is not None:
                longer, rest = (names[0], src_it) if a is not None else (names[1], sty_it)
                extra = 1 + sum(1 for _ in rest)
                counts = (n + extra, n) if a is not None else (n, n + extra)
                raise RtStyleError(f"frame counts differ: {names[0]} has {counts[0]} frames, "
                                   f"{names[1]} has {counts[1]} ({longer} is longer)")
            break
        if a.shape != b.shape:
            a = _match_size(a, b.shape[:2], names)
        meter.update(a, b)
        n += 1
    if n < 2:
        raise RtStyleError(f"{names[0]} has {n} frame{'s' if n != 1 else ''}: the warping error needs at least 2")
    return meter.result()


def _match_size(frame: np.ndarray, shape: tuple[int, int], names: tuple[str, str]) -> np.ndarray:
    """``frame`` resized to ``shape`` when that keeps its aspect ratio (to the rounding of
    even sides), else a user error."""
    h, w = frame.shape[:2]
    th, tw = shape
    if abs(h * tw - w * th) > max(h, w) * 2.5 or min(th, tw) < 2:
        raise RtStyleError(f"frame sizes differ: {names[0]} is {w}x{h}, {names[1]} is {tw}x{th} "
                           f"(not the same picture resized)")
    return cv2.resize(frame, (tw, th), interpolation=cv2.INTER_AREA if th <= h else cv2.INTER_CUBIC)


def __getattr__(name: str):
    """``temporal.Stabilizer`` (and its ``Motion`` and ``StabilizerStats``) live in
    :mod:`rtstyle.stabilizer`; imported lazily, as that module builds on this one."""
    if name in ("Stabilizer", "StabilizerStats", "Motion"):
        from . import stabilizer

        return getattr(stabilizer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
