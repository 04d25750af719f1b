"""The inference-time :class:`Stabilizer`: flicker removal for stylized video that keeps
the texture sharp when the camera moves.

A frame is split in two bands (:func:`split`): the *low* band (the frame shrunk ``band``
times and grown back) carries colour and shading, where flicker shows most; the *high*
band (the rest) is the style's texture, its brush strokes. They are steadied differently:

- low band: a motion-compensated running average, computed at 1/``band`` resolution:
  the previous low band, carried by optical flow, blended in where the flow is trusted
  (``strength``). Averaging blurs nothing that matters here.
- high band: texture is never averaged with other texture (that is what blurred moving
  cameras: a running average of strokes that do not move with the content). A *key* frame's
  texture is carried instead, by the flow composed from that frame to the present, so it
  is resampled once, not once per frame, and it stays put on the content. A new key is
  taken every ``key_interval`` frames (four times that on a still camera), or as soon as
  the carried key covers too little of the frame (zoom, parallax, things moving in), and
  faded in over ``fade`` frames. Where no key can be trusted (new content, occlusions),
  the network's own texture shows, blended with the previous frame's carried one frame
  (``texture_strength``). Mixing unrelated textures loses energy (an even mix of two keeps
  half) and resampling takes the finest detail, so the local energy of the texture's finest
  detail (its Laplacian) is restored (by at most ``max_gain``) to the weighted energy of
  its sources. Where the keys carry little of the frame for a while (content that turns or
  deforms: a key's composed flow tears within a few frames there, and the texture is nearly
  always such a mix), the cap rises towards ``max_gain_uncarried``: the strokes keep their
  energy rather than fade (texture is the product), for some more flicker.

Trust is photometric, on the *source* frames: the previous (or key) source frame carried
by the same flow must match this one (allowing for a change of exposure); pixels coming
from outside the frame are not trusted. A scene cut (little trusted area, or a large mean difference) resets everything.

The work splits in two halves that need different inputs: :meth:`Stabilizer.prepare`
(flows, trust maps, the key schedule: source frames only, at the flow resolution) and
:meth:`Stabilizer.apply` (the full-resolution work, with the network's output). The video
path runs them in its decoding and encoding threads, beside the network.
"""

from __future__ import annotations

import functools
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .temporal import FlowEstimator, _grid, inside_mask, matched_levels, to_gray, upscale_flow, warp


def _resize(x: np.ndarray, size: tuple[int, int], interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """``x`` resized to ``size`` = (h, w)."""
    h, w = size
    if x.shape[:2] == (h, w):
        return x
    return cv2.resize(x, (w, h), interpolation=interpolation)


def low_size(shape: tuple[int, ...], band: int) -> tuple[int, int]:
    """The (h, w) of the low band of a frame of ``shape``."""
    return max(1, shape[0] // band), max(1, shape[1] // band)


def split(frame: np.ndarray, band: int) -> tuple[np.ndarray, np.ndarray]:
    """A float32 frame -> (its low band at 1/``band`` resolution, its high band at full
    resolution): ``frame == grow(low) + high``."""
    small = _resize(frame, low_size(frame.shape, band), cv2.INTER_AREA)
    grown = _resize(small, frame.shape[:2])
    return small, cv2.subtract(frame, grown, dst=grown)


def _mix(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``a + weight * (b - a)`` for HxWx3 float32 ``a``, ``b`` and an HxW ``weight``."""
    return cv2.blendLinear(b, a, weight, 1.0 - weight)


def local_energy(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The energy of the finest detail of ``x``: the mean squared Laplacian (4-neighbour,
    summed over channels) in cells of the low band's size, from every other pixel of every
    other row (a statistic: a quarter of the samples do). Resampling and mixing take the
    finest detail first; the energy of the whole band hardly notices (on bikes.mp4 the
    gain from it left 89% of the sharpness, from this 92%: docs/benchmarks.md)."""
    x = cv2.Laplacian(x, cv2.CV_32F, ksize=1)[::2, ::2]
    return _resize(np.einsum("ijk,ijk->ij", x, x), size, cv2.INTER_AREA)


STRIP = 64  # rows of the full-resolution texture work done at a time
RUN_GAP = 32  # columns that do not move between two runs that are resampled apart
# the share of a strip's columns (or of the frame) that move from which all of it is resampled
WHOLE_RUNS = 0.8
EXPOSURE_STEP = 0.02  # a change of the mean brightness (as a ratio) that the trust allows for
NEGLIGIBLE = 1.0 / 512  # a carried texture's weight under which it is not resampled
COVER_RATE = 0.1  # how fast the newest key's smoothed cover follows each frame's (about ten frames)
# the still camera's dead zone (px at the flow resolution) per gray level of the frame's mean
# photometric error: sensor noise of sigma 4 on a 160x120 frame (an error of 3.0) gets 0.18
# px, sigma 8 or more the most, a clean picture the least (docs/benchmarks.md, "The dead
# zone follows the noise")
DEAD_ZONE_PER_LEVEL = 0.06
# on a still camera, the previous frame's texture (carried one frame where no key holds) is not
# moved where the flow is under this share of the dead zone: not resampled there at all, as a
# flow of 0 is a copy (with the runs of _carry_texture, vtest 32.1 -> 29.2 ms a frame; the whole
# dead zone, or the keys' ramp, cost 0.2-0.6 points of warping error, this nothing to show:
# docs/benchmarks.md, "Texture that does not move")
PREVIOUS_DEAD_ZONE = 0.5


# On a still camera DIS's flow (the stabilizer's largest cost) is matched only where the
# picture changed since the previous frame, and is 0 elsewhere, as the dead zone makes most of
# it for the keys anyway (docs/benchmarks.md, "The flow only where the picture changes"). A
# tile of CHANGE_TILE px (at the flow's size) has changed where its mean difference exceeds
# CHANGE_MEAN gray levels and CHANGE_NOISE times the frames' noise (the mean error left by the
# last whole flow), or where any pixel's (after a 3x3 mean) exceeds CHANGE_LEVEL and
# CHANGE_PIXEL_NOISE times the noise; the changed tiles grown by a tile each way are matched,
# a box around each group, and the flow is kept on the changed tiles, fading to 0 half a tile
# beyond them (changed_regions). The whole frame is matched again when the boxes cover more than
# CHANGE_MOST of it, and at least every FULL_FLOW_EVERY frames (a camera that starts to move
# too slowly for the differences to show).
CHANGE_TILE = 16
CHANGE_MEAN = 0.6
CHANGE_NOISE = 1.5
CHANGE_LEVEL = 4
CHANGE_PIXEL_NOISE = 3.0
CHANGE_MOST = 0.5
FULL_FLOW_EVERY = 8

# Flat regions (variance under FLAT_VAR gray levels squared in windows of FLAT_WINDOW px, at the
# flow's size) that stay where they are, a letterbox's bars, have a flow of 0 (static_flat)
FLAT_VAR = 1.0
FLAT_WINDOW = 9


def _tiled(a: np.ndarray, tile: int, border: int) -> np.ndarray:
    """The HxW ``a`` padded (``border``; constant: 0) to whole tiles of ``tile`` px and viewed
    as (rows of tiles, tile, columns of tiles, tile): reduce over axes 1 and 3 for each tile."""
    h, w = a.shape
    th, tw = -(-h // tile), -(-w // tile)
    return cv2.copyMakeBorder(a, 0, th * tile - h, 0, tw * tile - w, border, value=0).reshape(th, tile, tw, tile)


def changed_regions(gray: np.ndarray, prev: np.ndarray, noise: float,
                    tile: int = CHANGE_TILE) -> tuple[list[tuple[int, int, int, int]], np.ndarray] | None:
    """The boxes (x0, y0, x1, y1) around the parts of ``gray`` that changed since ``prev``
    (both gray frames at the flow's size, ``noise`` their noise in mean gray levels; see
    :data:`CHANGE_TILE`) and the weight of the flow matched in them (1 on the changed tiles,
    falling to 0 half a tile into the tiles around them: a flow cut off at a box's edge
    left a seam where the texture moved on one side and not on the other, and DIS's flow over
    a flat part of a box, a dark terminal around a blinking cursor, is noise); None where the
    boxes cover more than :data:`CHANGE_MOST` of the frame."""
    h, w = gray.shape
    means = _tiled(cv2.absdiff(gray, prev), tile, cv2.BORDER_REFLECT).mean(axis=(1, 3), dtype=np.float32)
    tiles = (means > max(CHANGE_MEAN, CHANGE_NOISE * noise)).astype(np.uint8)
    fine = cv2.absdiff(cv2.blur(gray, (3, 3)), cv2.blur(prev, (3, 3)))
    fine = cv2.compare(fine, max(CHANGE_LEVEL, CHANGE_PIXEL_NOISE * noise), cv2.CMP_GT)
    tiles |= _tiled(fine, tile, cv2.BORDER_CONSTANT).max(axis=(1, 3))
    th, tw = tiles.shape
    _, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(tiles, np.ones((3, 3), np.uint8)), connectivity=8)
    boxes = [(x * tile, y * tile, min(w, (x + bw) * tile), min(h, (y + bh) * tile))
             for x, y, bw, bh, _ in stats[1:].tolist()]
    if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes) > CHANGE_MOST * h * w:
        return None
    # the changed tiles' weight, 1 over them and falling to 0 half a tile into their neighbours
    ramp = cv2.resize((tiles > 0).astype(np.float32), (tw * tile, th * tile), interpolation=cv2.INTER_LINEAR)
    return boxes, np.minimum(2.0 * ramp[:h, :w], 1.0)


def _carry_texture(high: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """``high`` mixed in turn with each layer's texture carried by its flow (bicubic), by
    its weight (``layers``: (texture, flow, weight), flow and weight at the flow
    resolution): ``high = mix(high, warp(texture, flow), weight)`` for each layer in order,
    into a new array. Done in strips of rows (the temporaries stay small), and a layer is
    not resampled in a strip where what the later layers leave of its weight is negligible
    everywhere (the textures under a key that covers the frame are not needed)."""
    h, w = high.shape[:2]
    fh = layers[0][2].shape[0]
    # the weight of each layer in the result, row by row: its own, times what the later layers leave
    reach, left = [], np.ones_like(layers[0][2])
    for _, _, weight in reversed(layers):
        reach.append((weight * left).max(axis=1))
        left = left * (1.0 - weight)
    reach.reverse()
    out = high.copy()
    for (texture, flow, weight), rows in zip(layers, reach, strict=True):
        if rows.max() < NEGLIGIBLE:
            continue
        moving = _moving(flow)
        # where each pixel's texture comes from: the pixel plus its flow, grown to full size
        where = upscale_flow(flow, (h, w))
        where = cv2.add(where, _grid(h, w), dst=None if where is flow else where)
        weight = _resize(weight, (h, w))
        keep = 1.0 - weight
        for y0 in range(0, h, STRIP):
            y1 = min(h, y0 + STRIP)
            near = slice(max(0, y0 * fh // h - 1), y1 * fh // h + 2)  # the strip's rows at the flow's size
            if rows[near].max() < NEGLIGIBLE:
                continue
            runs = [(0, w)] if moving is None else _runs(moving[near].max(axis=0), w)
            if sum(x1 - x0 for x0, x1 in runs) > WHOLE_RUNS * w:
                carried = cv2.remap(texture, where[y0:y1], None, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
            else:  # where the flow is 0 the resampling is the texture itself, bit for bit
                carried = texture[y0:y1].copy() if runs else texture[y0:y1]
                for x0, x1 in runs:
                    carried[:, x0:x1] = cv2.remap(texture, where[y0:y1, x0:x1], None, cv2.INTER_CUBIC,
                                                  borderMode=cv2.BORDER_REPLICATE)
            cv2.blendLinear(carried, out[y0:y1], weight[y0:y1], keep[y0:y1], dst=out[y0:y1])  # _mix, in place
    return out


def _moving(flow: np.ndarray) -> np.ndarray | None:
    """Where the flow (at its own resolution) is not 0, grown by a pixel: a superset of where
    the flow grown bilinearly to any larger size is not 0 (a grown pixel mixes the two
    nearest on each axis, whose left or upper one has the index of ``x * fw // w``, or one
    less). None where that is most of the frame (a moving camera's flow): the runs would
    save too little to pay for their calls."""
    if cv2.countNonZero(flow.reshape(flow.shape[0], -1)) == flow.size:
        return None
    fx, fy = cv2.split(flow)  # (numpy's any over the last axis of 2 is 10x slower)
    moving = cv2.bitwise_or(cv2.compare(fx, 0.0, cv2.CMP_NE), cv2.compare(fy, 0.0, cv2.CMP_NE))
    moving = cv2.dilate(moving, np.ones((3, 3), np.uint8))
    return None if cv2.countNonZero(moving) > WHOLE_RUNS * moving.size else moving


@functools.lru_cache(maxsize=8)
def _affine_basis(h: int, w: int) -> np.ndarray:
    """The (h * w) x 3 basis of an affine motion on an h x w grid: 1, x and y (from the
    centre, in widths)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([np.ones(h * w, np.float32), (x.ravel() - w / 2) / w, (y.ravel() - h / 2) / w], axis=1)


def coherent_motion(flow: np.ndarray, rounds: int = 2) -> float:
    """The median length of the affine motion (a pan, a zoom, a turn, or all three) fitted
    to ``flow`` (HxWx2; a sample of a frame's flow, a couple of thousand vectors suffice):
    from the median vector, ``rounds`` times fitted by least squares to the vectors within
    twice the median distance of the last fit (things that move on their own do not pull
    it). The sub-pixel noise of a still camera's flow has no such shape: its fit is near 0
    however long its vectors."""
    a, f = _affine_basis(*flow.shape[:2]), flow.reshape(-1, 2)
    fit = np.median(f, axis=0)[None, :]
    for _ in range(rounds):
        d = f - fit
        residual = np.einsum("ij,ij->i", d, d)
        keep = residual <= 4.0 * np.median(residual) + 1e-12  # (squared: twice the distance)
        fit = a @ np.linalg.lstsq(a[keep], f[keep], rcond=None)[0]  # (a frame a pixel wide: rank 2)
    return float(np.sqrt(np.median(np.einsum("ij,ij->i", fit, fit))))


def _flat(gray: np.ndarray) -> np.ndarray:
    """Where ``gray`` is flat: its variance in windows of :data:`FLAT_WINDOW` px under
    :data:`FLAT_VAR` (bool)."""
    g = gray.astype(np.float32)
    k = (FLAT_WINDOW, FLAT_WINDOW)
    return cv2.sqrBoxFilter(g, -1, k) - cv2.blur(g, k) ** 2 < FLAT_VAR


def static_flat(flat: np.ndarray, prev_flat: np.ndarray) -> np.ndarray | None:
    """The weight (HxW, feathered) of the flat regions of two gray frames (``flat``,
    ``prev_flat``: where each is flat, :func:`_flat`) that stay where they are: flat in
    both, and no part of their edge moved (a letterbox's bars; not a blown-out sky whose
    horizon moves, nor the black around things moving on it, whose halos the network draws
    there and moves with them). DIS has nothing to match there and spreads the motion around
    into them, so the texture carried there swims where the network's own holds still: their
    flow is 0. None where there are none."""
    both = flat & prev_flat
    if not both.any():
        return None
    count, labels = cv2.connectedComponents(both.view(np.uint8), connectivity=8)
    moved = cv2.dilate((flat ^ prev_flat).view(np.uint8), np.ones((5, 5), np.uint8)).view(bool) & both
    stays = np.ones(count, bool)
    stays[0] = False  # (not flat)
    stays[labels[moved]] = False  # a region whose edge moved
    static = stays[labels]
    if not static.any():
        return None
    return cv2.GaussianBlur(static.astype(np.float32), (0, 0), 2.0)


@functools.lru_cache(maxsize=8)
def _edges(small: int, width: int) -> np.ndarray:
    """Where each of ``small`` columns starts in a row ``width`` (>= ``small``) pixels wide,
    and ``width``: column x of the wide row lies in column ``x * small // width``, so column
    c covers [edges[c], edges[c + 1])."""
    return -(-np.arange(small + 1) * width // small)


def _runs(moving: np.ndarray, width: int, gap: int = RUN_GAP) -> list[tuple[int, int]]:
    """The runs of columns [x0, x1) of a strip ``width`` pixels wide where ``moving`` (the
    columns of the strip's rows at the flow resolution, from :func:`_moving`) says the flow
    is not 0, runs closer than ``gap`` columns joined (each run is a call of its own)."""
    cols = np.flatnonzero(moving)
    if cols.size == 0:
        return []
    edges = _edges(moving.size, width)
    # two moving columns' runs part where more than gap - 1 still columns lie between them
    breaks = np.flatnonzero(edges[cols[1:]] - edges[cols[:-1] + 1] >= gap)
    starts = edges[cols[np.concatenate([[0], breaks + 1])]]
    ends = edges[cols[np.concatenate([breaks, [cols.size - 1]])] + 1]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _compose(low: np.ndarray, high: np.ndarray, gain: np.ndarray | None) -> np.ndarray:
    """The uint8 frame ``grow(low) + gain * high`` (``gain`` HxW, or None for 1), strip by
    strip; ``high`` is multiplied by ``gain`` in place."""
    h, w = high.shape[:2]
    low = _resize(low, (h, w))
    out = np.empty((h, w, 3), np.uint8)
    for y0 in range(0, h, STRIP):
        rows = slice(y0, min(h, y0 + STRIP))
        if gain is not None:
            g = gain[rows]
            cv2.multiply(high[rows], cv2.merge([g, g, g]), dst=high[rows])
        cv2.add(low[rows], high[rows], dst=out[rows], dtype=cv2.CV_8U)
    return out


@dataclass
class StabilizerStats:
    """What a :class:`Stabilizer` did: frames seen, resets (first frame, scene cuts, size
    changes), keys taken, the mean fraction of each blended frame's low band taken from the
    past, the mean fraction of its texture carried from a key, the mean cap of the texture's
    energy given back (0 where none is), the share of the flows matched on the whole frame
    (the others only where a still camera's picture changed), and the time spent in its two
    halves (in the video path they run in the reader and writer threads, beside the network)."""

    frames: int = 0
    resets: int = 0
    keys: int = 0
    trusted: float = 0.0
    carried: float = 0.0
    gain_cap: float = 0.0
    flows: int = 0
    whole_flows: int = 0
    prepare_seconds: float = 0.0
    apply_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        blended = max(self.frames - self.resets, 1)
        n = max(self.frames, 1)
        return {"frames": self.frames, "resets": self.resets, "keys": self.keys,
                "trusted_fraction": round(self.trusted / blended, 4),
                "texture_carried_fraction": round(self.carried / blended, 4),
                "mean_gain_cap": round(self.gain_cap / blended, 3),
                "whole_flow_fraction": round(self.whole_flows / max(self.flows, 1), 4),
                "ms_per_frame": round(1000 * (self.prepare_seconds + self.apply_seconds) / n, 2),
                "prepare_ms_per_frame": round(1000 * self.prepare_seconds / n, 2),
                "apply_ms_per_frame": round(1000 * self.apply_seconds / n, 2)}


#: Named settings: ``sharp`` (the default: texture carried from keys, its energy kept) and
#: ``fast`` (a motion-compensated running average of both bands, at about half the cost:
#: steadier still, but it blurs the texture where the camera moves; the stabilizer of
#: before the sharp mode, with its flow: ``balanced`` at 240 px).
MODES: dict[str, dict[str, Any]] = {
    "sharp": {},
    "fast": {"strength": 0.65, "texture": False, "texture_strength": 0.65, "max_gain": 1.0,
             "preset": "balanced", "flow_size": 240, "flow_reduction": None, "strain_tol": 0.0},
}


def make_stabilizer(mode: str = "sharp", strength: float | None = None) -> "Stabilizer":
    """A :class:`Stabilizer` with the settings of ``mode`` (see :data:`MODES`), and
    ``strength`` if given."""
    try:
        settings = dict(MODES[mode])
    except KeyError:
        raise ValueError(f"unknown stabilizer mode {mode!r} (use one of {', '.join(MODES)})") from None
    if strength is not None:
        settings["strength"] = strength
    return Stabilizer(**settings)


@dataclass(frozen=True)
class KeyView:
    """One key as seen from the current frame: the composed flow from this frame to the
    key frame and the weight of the key's texture (both at the flow resolution; a key
    being faded in has its weight scaled by how far the fade has gone)."""

    key: int
    flow: np.ndarray
    weight: np.ndarray


@dataclass(frozen=True)
class Motion:
    """What :meth:`Stabilizer.prepare` learnt from a source frame, for :meth:`Stabilizer.apply`:
    the flow to the previous source frame and its trust map (``None`` for both when the past
    is to be forgotten: first frame, scene cut, size change), the keys to carry, older first,
    the id of the key this frame starts (or ``None``), the cap of the energy given back, and
    the flow that carries the previous frame's texture."""

    flow: np.ndarray | None
    trust: np.ndarray | None
    keys: tuple[KeyView, ...] = ()
    new_key: int | None = None
    max_gain: float | None = None  # the cap of the texture's energy given back (None: the stabilizer's own)
    # the flow that carries the previous frame's texture (None: ``flow``): on a still camera,
    # 0 where ``flow`` is under half the dead zone (see PREVIOUS_DEAD_ZONE)
    texture_flow: np.ndarray | None = None

    @property
    def reset(self) -> bool:
        return self.flow is None


@dataclass
class _Key:
    id: int
    gray: np.ndarray
    flow: np.ndarray  # from the current frame to the key frame
    age: int = 0


@dataclass
class Stabilizer:
    """Flicker removal for stylized video, one frame at a time (see the module's docstring).

    ``stabilizer(source, stylized) -> frame``: ``source`` is the frame the network saw,
    ``stylized`` the network's output (same size). ``strength``: the weight of the carried
    past in the low band where the flow is trusted; 0 turns the stabilizer off (frames pass
    through). ``texture``: carry the texture from key frames (False: the low band only).

    The flow (DIS, ``preset``) is computed on frames scaled to ``flow_size`` px on the
    shorter side, or reduced ``flow_reduction`` times if that is larger (large frames: a
    flow error of a tenth of a pixel at 200 px is half a pixel on a 1080p frame). Trust is
    1 where the carried source matches to within ``photo_tol`` gray
    levels (``key_tol`` for keys, which are further back), falling to 0 at twice that,
    feathered by ``feather`` px; and where the flow is strained, its neighbouring vectors
    differing by more than ``strain_tol`` px per px (0 at twice that; 0 turns the check off),
    as texture carried by a flow that tears or swirls turns into marbled swirls. A cut is
    less than ``cut_fraction`` of the frame trusted (before the strain check), or a mean
    difference above ``cut_error`` gray levels. The camera is still while the
    flow at the frame's median point is under ``still_motion`` px (at a flow of
    ``flow_size`` px: a finer flow, a large frame's, reads the same noise as larger motion,
    and the thresholds grow with it; but there a flow that fits one motion, a slow zoom or
    pan, by more than ``still_drift`` times the threshold is the camera moving, not noise:
    :func:`coherent_motion`); then flow under the dead zone does not move a key
    (and up to twice that moves it less): DIS's sub-pixel noise would otherwise make keys
    drift. The median, not the mean: someone moving across a still camera's view does not
    make the background's texture swim with the noise. The dead zone grows with the frame's
    noise, read from its mean photometric error against the previous frame carried by the
    flow: :data:`DEAD_ZONE_PER_LEVEL` px per gray level of it, at least ``dead_zone_min``
    and at most ``dead_zone`` px (a clean picture's slow, local motion, grass swaying, is
    then followed rather than held). A key
    is replaced after ``key_interval`` frames (four times that while the camera is still and
    nothing moves, the mean flow under ``still_motion`` px too: a key carried for long
    through moving parts marbles), or when it covers less than ``key_cover`` of the frame.
    The texture's energy is given back by at most ``max_gain``, and by up to
    ``max_gain_uncarried`` (if larger) as the newest key's cover (its mean weight, smoothed
    over about ten frames) falls from the first of ``uncarried_cover`` to the second.
    ``flow_regions``: once the whole flow has found the camera still, match the flow only
    where the picture changed (:func:`changed_regions`) and take it as 0 elsewhere, the
    whole frame again at least every :data:`FULL_FLOW_EVERY` frames (``False``: always the
    whole frame). ``flat_static``: flat regions that stay where they are, a letterbox's bars,
    have no motion (:func:`static_flat`), whatever DIS spreads into them.

    Each half must see every frame, in order; a frame-size change resets.
    """

    strength: float = 0.8
    texture: bool = True
    texture_strength: float = 0.75
    flow_size: int | None = 200
    # 2.5 since 2026-12-06 (before: no limit): a 1080p phone video's flow at 432 px, not 200
    flow_reduction: float | None = 2.5
    preset: str = "fine"
    band: int = 4
    photo_tol: float = 30.0
    key_tol: float = 15.0
    cut_fraction: float = 0.35
    cut_error: float = 12.0
    feather: float = 1.0
    # with the fine flow, 0.15 and 0.35 (0.25 and 1 until 2026-12-06, set for a coarser flow):
    # less flicker on all nine clips measured (Megamind 34% -> 31% of bare, Big Buck Bunny
    # 33% -> 27%), keys still put on a still, noisy camera (tests/test_temporal.py); the
    # dead zone down to 0.1 on clean pictures since 2026-12-06 (a clip of the Big Buck Bunny
    # trailer, held still over swaying grass: 45% -> 39% of bare; no clip worse)
    still_motion: float = 0.15
    dead_zone: float = 0.35
    dead_zone_min: float = 0.1
    # since 2026-12-07: on a large frame (its flow finer than flow_size, the still thresholds
    # grown with it) a slow zoom or pan is not a still camera where the one motion fitted to
    # the flow (coherent_motion) is over still_drift times the threshold (a held-out zoom of
    # 0.4 px a frame at 720p, judged still, had its keys held by the dead zone while the
    # picture moved: 62% -> 34% of bare, 90% -> 100% of the sharpness; on smaller frames DIS
    # cannot follow motion that slow as well as holding the key does: docs/benchmarks.md,
    # "Six more held-out clips; a slow zoom is not a still camera")
    still_drift: float = 0.5
    # since 2026-12-07: flat regions that stay where they are (a letterbox's bars) do not move
    # (static_flat; a pan under black bars: the bars' texture changed 14 times as much as the
    # bare network's by their true motion, now 0.02 times; docs/benchmarks.md, "Six more
    # held-out clips")
    flat_static: bool = True
    key_interval: int = 24
    key_cover: float = 0.6
    fade: int = 8
    max_gain: float = 1.4
    # since 2026-12-07: where the newest key covers half the frame or less (turning or
    # deforming content), the cap rises, up to 1.8 where it covers a quarter or less (a
    # circling camera's teapot 77% -> 96% of the sharpness at 24% -> 31% of bare flicker, a
    # nodding cockatoo 83% -> 93% at 30% -> 35%, the diver 80% -> 93% at 42% -> 50%; where
    # keys hold the same, bit for bit: docs/benchmarks.md, "The restoration's cap follows
    # the keys")
    max_gain_uncarried: float = 1.8
    uncarried_cover: tuple[float, float] = (0.5, 0.25)
    strain_tol: float = 0.5
    flow_regions: bool = True
    stats: StabilizerStats = field(default_factory=StabilizerStats, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), got {self.strength}")
        if self.photo_tol <= 0 or self.key_tol <= 0:
            raise ValueError(f"photo_tol and key_tol must be > 0, got {self.photo_tol}, {self.key_tol}")
        if self.band < 2 or self.fade < 1 or self.key_interval < self.fade:
            raise ValueError("need band >= 2, fade >= 1 and key_interval >= fade")
        if not 0 <= self.uncarried_cover[1] < self.uncarried_cover[0]:
            raise ValueError(f"uncarried_cover must be (high, low) with high > low >= 0, got {self.uncarried_cover}")
        self._flow = FlowEstimator(self.preset, self.flow_size, self.flow_reduction)
        self._ids = itertools.count()
        # no texture of its own to carry: one running average of whole frames, in uint8
        self._whole = not self.texture and self.max_gain <= 1.0 and self.texture_strength == self.strength
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame passes through unchanged."""
        self._prev_gray: np.ndarray | None = None
        self._keys: list[_Key] = []
        self._low: np.ndarray | None = None
        self._high: np.ndarray | None = None
        self._energy: np.ndarray | None = None
        self._out: np.ndarray | None = None
        self._highs: dict[int, np.ndarray] = {}
        self._shape: tuple[int, ...] | None = None
        self._cover: float | None = None  # the newest key's cover, smoothed
        # frames since the whole flow found the camera still (None: it did not, or not yet)
        self._still_for: int | None = None
        self._noise = 0.0
        self._flat_of: tuple[np.ndarray | None, np.ndarray | None] = (None, None)  # a gray frame, where it is flat

    # ----------------------------------------------------------------- first half: source only

    def _trust(self, gray: np.ndarray, other: np.ndarray, flow: np.ndarray, tol: float) -> tuple[np.ndarray, float]:
        """Trust map of ``flow`` (this frame -> ``other``) and the mean photometric error.
        A change of exposure is not a change of content: where the frame's mean brightness
        differs from the carried frame's by more than :data:`EXPOSURE_STEP`, the carried
        frame is compared at this frame's brightness too (scaled by the ratio of the means),
        and the closer of the two comparisons counts (a camera's automatic exposure stepping
        by a third reset the stabilizer on every frame of the step: docs/benchmarks.md)."""
        carried, inside = warp(other, flow), inside_mask(flow)
        photo = cv2.absdiff(gray, carried)
        error = float(photo.mean())
        mask = inside.view(np.uint8)  # (no pixel inside: both means 0, no gain)
        m = cv2.mean(carried, mask)[0]
        gain = min(2.0, max(0.5, cv2.mean(gray, mask)[0] / m)) if m > 1.0 else 1.0
        if abs(gain - 1.0) > EXPOSURE_STEP:
            scaled = cv2.absdiff(gray, cv2.convertScaleAbs(carried, alpha=gain))
            scaled_error = float(scaled.mean())
            if scaled_error < error:
                photo, error = scaled, scaled_error
        w = cv2.LUT(photo, np.clip(2.0 - np.arange(256, dtype=np.float32) / tol, 0.0, 1.0))
        w *= inside
        return w, error

    def _unstrained(self, w: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """The trust map ``w`` times the trust in how ``flow`` carries texture: 1 where it
        moves neighbouring pixels alike (strain, the largest difference to a neighbour's
        vector, under ``strain_tol`` px per px), 0 at twice that; ``w`` itself when the
        check is off. A flow that tears or swirls (a smooth, motion-blurred region behind a
        passing car passes the photometric check whatever the flow) would carry the texture
        into marbled swirls."""
        if not self.strain_tol:
            return w
        fx, fy = cv2.split(flow)  # (numpy's max over the last axis of 2 is 25x slower)
        dx = cv2.max(cv2.absdiff(fx[:, 1:], fx[:, :-1]), cv2.absdiff(fy[:, 1:], fy[:, :-1]))
        dy = cv2.max(cv2.absdiff(fx[1:], fx[:-1]), cv2.absdiff(fy[1:], fy[:-1]))
        strain = np.zeros(flow.shape[:2], np.float32)
        np.maximum(strain[:, 1:], dx, out=strain[:, 1:])
        np.maximum(strain[:, :-1], dx, out=strain[:, :-1])
        np.maximum(strain[1:], dy, out=strain[1:])
        np.maximum(strain[:-1], dy, out=strain[:-1])
        return w * np.clip(2.0 - strain / self.strain_tol, 0.0, 1.0)

    def _feathered(self, w: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(w, (0, 0), self.feather) if self.feather > 0 else w

    def trust(self, gray: np.ndarray, prev_gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, float]:
        """The flow from this frame to the previous one, the trust map in [0, 1] (both at
        the flow resolution), whether this frame starts a new scene, and the mean
        photometric error (gray levels) of the previous frame carried by the flow. Across
        a jump of brightness (:data:`~rtstyle.temporal.FLASH_STEP`) the two are compared,
        and the flow computed, at the same levels (:func:`~rtstyle.temporal.matched_levels`):
        a flash is not a cut. On a still camera the flow is matched only where the picture
        changed (``flow_regions``)."""
        gray, prev_gray = matched_levels(gray, prev_gray)
        boxes = ramp = None
        if self._still_for is not None and self._still_for < FULL_FLOW_EVERY - 1:
            boxes, ramp = changed_regions(gray, prev_gray, self._noise) or (None, None)
        self.stats.flows += 1
        if boxes is None:
            f_back = self._flow.calc_small(gray, prev_gray)
            self._still_for = None  # (until _carry finds the camera still)
            self.stats.whole_flows += 1
        else:
            f_back = self._flow.calc_regions(gray, prev_gray, boxes)
            f_back *= ramp[..., None]
            self._still_for += 1
        if self.flat_static:  # regions that stay flat where they are do not move (letterbox bars)
            cached, prev_flat = self._flat_of
            flat = _flat(gray)
            static = static_flat(flat, prev_flat if cached is prev_gray else _flat(prev_gray))
            self._flat_of = (gray, flat)  # (the next frame's previous, unless its levels are matched)
            if static is not None:
                f_back = f_back * (1.0 - static)[..., None]
        w, err = self._trust(gray, prev_gray, f_back, self.photo_tol)
        if boxes is None:
            self._noise = err  # (the whole flow's error: what is left is the frames' noise)
        cut = err > self.cut_error or float((w > 0.5).mean()) < self.cut_fraction
        return f_back, self._feathered(self._unstrained(w, f_back)), cut, err

    def _new_key(self, gray: np.ndarray) -> int:
        key = _Key(next(self._ids), gray, np.zeros(gray.shape + (2,), np.float32))
        self._keys.append(key)
        return key.id

    def prepare(self, source: np.ndarray) -> Motion:
        """The first half, from the source frame alone: flow to the previous source frame,
        where to trust it, and which keys to carry."""
        t0 = time.perf_counter()
        gray = self._flow.small(to_gray(source))
        prev_gray, self._prev_gray = self._prev_gray, gray
        motion = None
        if prev_gray is not None and prev_gray.shape == gray.shape and self.strength > 0.0:
            f_back, w, cut, err = self.trust(gray, prev_gray)
            if not cut:
                motion = Motion(f_back, w, *self._carry(gray, f_back, err))
        if motion is None:
            self._keys, self._cover, self._still_for = [], None, None
            motion = Motion(None, None, (), self._new_key(gray) if self.texture and self.strength > 0 else None)
        self.stats.prepare_seconds += time.perf_counter() - t0
        return motion

    def dead_zone_at(self, error: float) -> float:
        """The still camera's dead zone (px at the flow resolution) for a frame whose mean
        photometric error against the previous one is ``error`` gray levels."""
        return min(self.dead_zone, max(self.dead_zone_min, DEAD_ZONE_PER_LEVEL * error))

    def _carry(self, gray: np.ndarray, f_back: np.ndarray,
               error: float) -> tuple[tuple[KeyView, ...], int | None, float | None, np.ndarray | None]:
        """Move the keys on by this frame's flow; the views of them that apply uses; start a
        new key when the newest is old or covers too little; the cap of the energy given back;
        the flow that carries the previous frame's texture."""
        if not self.texture:
            return (), None, None, None
        step = texture_flow = f_back
        mag = np.sqrt(np.einsum("ijk,ijk->ij", f_back, f_back))[..., None]
        # the thresholds are for a flow at flow_size px: a finer one (a large frame's) reads
        # the same noise as larger motion, in its own pixels
        finer = max(1.0, min(gray.shape[:2]) / self.flow_size) if self.flow_size else 1.0
        threshold = self.still_motion * finer
        # judged on the median: someone walking across a still camera's view moves part of
        # the frame, not the camera (a sample of 5,000-14,000 points suffices: 0.1-0.2 ms)
        s = max(2, int(np.sqrt(mag.size / 6000)))
        still = float(np.median(mag[::s, ::s])) < threshold
        if still and self.still_drift and finer > 1.0:  # a slow pan or zoom (see still_drift)
            c = max(2, int(np.sqrt(mag.size / 1500)))
            still = coherent_motion(f_back[::c, ::c]) < self.still_drift * threshold
        # and nothing moves (the mean too): keys last longer
        quiet = still and float(mag.mean()) < threshold
        if still and self.flow_regions and self._still_for is None:
            self._still_for = 0  # the next frames' flow only where the picture changes
        if still:  # a still camera: DIS's sub-pixel noise must not move keys
            dead_zone = finer * self.dead_zone_at(error)
            step = f_back * np.clip(mag / dead_zone - 1.0, 0.0, 1.0)
            texture_flow = f_back * (mag > PREVIOUS_DEAD_ZONE * dead_zone)
        views = []
        for i, key in enumerate(self._keys):
            key.flow = step + warp(key.flow, step)
            key.age += 1
            w, _ = self._trust(gray, key.gray, key.flow, self.key_tol)
            w = self._feathered(self._unstrained(w, key.flow))
            if i == 1:  # the newer of two keys, fading in
                w *= min(1.0, key.age / self.fade)
            views.append(KeyView(key.id, key.flow, w))
        if len(self._keys) == 2 and self._keys[1].age >= self.fade:
            self._keys.pop(0)
        new = None
        cover = float(views[-1].weight.mean())
        self.stats.carried += cover  # (apply counts the blended frames it is averaged over)
        # a still camera keeps a key four times longer: each new key's fade-in is flicker too
        interval = self.key_interval * (4 if quiet else 1)
        if len(self._keys) == 1 and (self._keys[0].age >= interval or cover < self.key_cover):
            new = self._new_key(gray)
        return tuple(views), new, self._gain_cap(cover), texture_flow

    def _gain_cap(self, cover: float) -> float:
        """The cap of the texture's energy given back, from the newest key's ``cover`` of
        this frame (smoothed over frames, so that no single frame swings it)."""
        self._cover = cover if self._cover is None else self._cover + COVER_RATE * (cover - self._cover)
        high, low = self.uncarried_cover
        uncarried = min(1.0, max(0.0, (high - self._cover) / (high - low)))
        return self.max_gain + uncarried * max(0.0, self.max_gain_uncarried - self.max_gain)

    # ----------------------------------------------------------------- second half: full resolution

    def apply(self, motion: Motion, stylized: np.ndarray) -> np.ndarray:
        """The second half: the network's output ``stylized`` steadied with what
        :meth:`prepare` returned for this frame's source."""
        t0 = time.perf_counter()
        stylized = np.ascontiguousarray(stylized)
        self.stats.frames += 1
        if self._whole:
            out = self._apply_whole(motion, stylized)
            self.stats.apply_seconds += time.perf_counter() - t0
            return out
        low, high = split(stylized.astype(np.float32), self.band)
        small = low.shape[:2]
        energy = local_energy(high, small)  # what the texture's energy should be, cell by cell
        fresh_high, fresh_energy = high, energy
        if motion.reset or self._low is None or self._shape != stylized.shape:
            self.stats.resets += 1
            out_low, out = low, stylized
        else:
            trust = _resize(motion.trust, small) * self.strength
            out_low = _mix(low, warp(self._low, upscale_flow(motion.flow, small)), trust)
            self.stats.trusted += float(trust.mean())
            h, w = stylized.shape[:2]
            layers = []
            if self.texture_strength > 0 and self._high is not None:
                # where no key holds: the previous texture, carried one frame, partly kept
                carry = motion.flow if motion.texture_flow is None else motion.texture_flow
                layers.append((self._high, self._energy, carry, motion.trust * self.texture_strength))
            layers += [(*self._highs[v.key], v.flow, v.weight) for v in motion.keys]
            if layers:
                high = _carry_texture(high, [(t, f, wt) for t, _, f, wt in layers])
            for _, texture_energy, flow, weight in layers:
                cell = _resize(weight, small, cv2.INTER_AREA)
                energy = energy + cell * (warp(texture_energy, upscale_flow(flow, small)) - energy)
            cap = self.max_gain if motion.max_gain is None else motion.max_gain
            if layers and cap > 1.0:
                # unrelated textures mixed lose energy (an even mix of two keeps half), and
                # resampling takes the finest detail: give the texture its energy back
                gain = np.sqrt((energy + 1.0) / (local_energy(high, small) + 1.0))
                np.clip(gain, 1.0, cap, out=gain)
                self.stats.gain_cap += cap
                gain = _resize(gain, (h, w))
            else:
                gain = None
            out = _compose(out_low, high, gain)  # high is a mix here (not fresh_high) when gained
        # keep the textures of the keys prepare still carries (a reset carries none), add the new one
        self._highs = {v.key: self._highs[v.key] for v in motion.keys if v.key in self._highs}
        if motion.new_key is not None:
            self._highs[motion.new_key] = (fresh_high, fresh_energy)
            self.stats.keys += 1
        self._low, self._shape = out_low, stylized.shape
        self._high, self._energy = (high, energy) if self.texture_strength > 0 else (None, None)
        self.stats.apply_seconds += time.perf_counter() - t0
        return out

    def _apply_whole(self, motion: Motion, stylized: np.ndarray) -> np.ndarray:
        """The ``fast`` mode: the previous output, carried by the flow, blended into the
        whole frame where the flow is trusted (a motion-compensated running average)."""
        prev = self._out
        if motion.reset or prev is None or prev.shape != stylized.shape:
            self.stats.resets += 1
            out = stylized
        else:
            h, w = stylized.shape[:2]
            warped = warp(prev, upscale_flow(motion.flow, (h, w)), cv2.INTER_CUBIC)
            weight = _resize(motion.trust, (h, w)) * self.strength
            out = _mix(stylized, warped, weight)
            self.stats.trusted += float(motion.trust.mean()) * self.strength
        self._out = out
        return out

    def __call__(self, source: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        if source.shape[:2] != stylized.shape[:2]:
            raise ValueError(f"source {source.shape} and stylized {stylized.shape} frames differ in size")
        return self.apply(self.prepare(source), stylized)
