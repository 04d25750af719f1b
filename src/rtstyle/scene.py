"""What the source frames say about the scene, at the flow's size, for the stabilizer
(:mod:`rtstyle.stabilizer`): the parts of a still camera's picture that changed since the
previous frame (the flow is matched only there), whether a flow fits one motion of the camera,
and the flat regions that stay where they are. numpy + OpenCV only."""

from __future__ import annotations

import functools

import cv2
import numpy as np

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


def flat_mask(gray: np.ndarray) -> np.ndarray:
    """Where ``gray`` is flat: its variance in windows of :data:`FLAT_WINDOW` px under
    :data:`FLAT_VAR` (bool)."""
    g = gray.astype(np.float32)
    k = (FLAT_WINDOW, FLAT_WINDOW)
    return cv2.sqrBoxFilter(g, -1, k) - cv2.blur(g, k) ** 2 < FLAT_VAR


def static_flat(flat: np.ndarray, prev_flat: np.ndarray) -> np.ndarray | None:
    """The weight (HxW, feathered) of the flat regions of two gray frames (``flat``,
    ``prev_flat``: where each is flat, :func:`flat_mask`) that stay where they are: flat in
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
