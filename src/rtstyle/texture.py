"""The stabilizer's texture work, at full resolution (:mod:`rtstyle.stabilizer`): a stylized
frame split in its two bands, the energy of its texture's finest detail, textures carried by
their flows and mixed, and the frame put back together. numpy + OpenCV only."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from .temporal import _grid, upscale_flow


def resize_to(x: np.ndarray, size: tuple[int, int], interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
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
    small = resize_to(frame, low_size(frame.shape, band), cv2.INTER_AREA)
    grown = resize_to(small, frame.shape[:2])
    return small, cv2.subtract(frame, grown, dst=grown)


def mix(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``a + weight * (b - a)`` for HxWx3 float32 ``a``, ``b`` and an HxW ``weight``."""
    return cv2.blendLinear(b, a, weight, 1.0 - weight)


def local_energy(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The energy of the finest detail of ``x``: the mean squared Laplacian (4-neighbour,
    summed over channels) in cells of the low band's size, from every other pixel of every
    other row (a statistic: a quarter of the samples do). Resampling and mixing take the
    finest detail first; the energy of the whole band hardly notices (on bikes.mp4 the
    gain from it left 89% of the sharpness, from this 92%: docs/benchmarks.md)."""
    x = cv2.Laplacian(x, cv2.CV_32F, ksize=1)[::2, ::2]
    return resize_to(np.einsum("ijk,ijk->ij", x, x), size, cv2.INTER_AREA)


STRIP = 64  # rows of the full-resolution texture work done at a time
RUN_GAP = 32  # columns that do not move between two runs that are resampled apart
# the share of a strip's columns (or of the frame) that move from which all of it is resampled
WHOLE_RUNS = 0.8
NEGLIGIBLE = 1.0 / 512  # a carried texture's weight under which it is not resampled


def carry_texture(high: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
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
        weight = resize_to(weight, (h, w))
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
            cv2.blendLinear(carried, out[y0:y1], weight[y0:y1], keep[y0:y1], dst=out[y0:y1])  # mix, in place
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


def compose(low: np.ndarray, high: np.ndarray, gain: np.ndarray | None) -> np.ndarray:
    """The uint8 frame ``grow(low) + gain * high`` (``gain`` HxW, or None for 1), strip by
    strip; ``high`` is multiplied by ``gain`` in place."""
    h, w = high.shape[:2]
    low = resize_to(low, (h, w))
    out = np.empty((h, w, 3), np.uint8)
    for y0 in range(0, h, STRIP):
        rows = slice(y0, min(h, y0 + STRIP))
        if gain is not None:
            g = gain[rows]
            cv2.multiply(high[rows], cv2.merge([g, g, g]), dst=high[rows])
        cv2.add(low[rows], high[rows], dst=out[rows], dtype=cv2.CV_8U)
    return out
