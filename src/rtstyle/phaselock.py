"""The phase lock: the network's stride grid kept on the content when the camera pans.

A feed-forward style network downsamples by its stride (8 for ``edge``): its output
follows a shift of the input exactly only in steps of that many pixels (a shift of 8 px
gives the same texture within 37 dB, a shift of 1-3 px a new one: 15-17 dB; four of the
held-out photos at 352x224, `swirl`). On a pan the content moves against that grid every frame, so
the strokes are redrawn every frame: the network's own flicker is worst on exactly the
footage a camera makes. :class:`PhaseLock` measures how many whole pixels the content moved
since the previous frame and moves the network's input by as much (padding the frame by one
stride, by reflection, and cropping), so the grid moves with the content and only the
sub-pixel rest of the motion reaches the network; the output is cropped back. It acts only
where the frame moves as a whole (at least ``coherence`` of it within ``tol`` px of the
median motion): on a still camera, a zoom, parallax or a cut it leaves the frame where it is,
and the output is the network's own, bit for bit while the lock is at rest.

The stabilizer's sharp mode carries the texture along the motion itself and gains nothing
from it (on the pan: 11.4% of the bare network's warping error without the lock, 12.0%
with it); the lock is on by default for the network's output without the stabilizer
(``rtstyle stylize --no-temporal``), where it takes the pan's warping error to 38% of the
network's own at the same sharpness, and opt-in (``--phase-lock``) with the fast mode
(which then averages textures that agree: the pan keeps 43% of the sharpness instead of
26%). Its cost: a coarse flow a frame (about 1.5 ms at 640x360) and, while the lock is away
from rest, a network input one stride larger each way (about +20% network time at
640x360). docs/benchmarks.md, "The phase lock".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from .temporal import FlowEstimator, to_gray

if TYPE_CHECKING:
    from .stylizer import Stylizer


class PhaseLock:
    """``lock(stylizer, frame) -> stylized frame``, frame after frame in order, ``frame``
    at the size the network is to see (the stylizer's :meth:`~rtstyle.Stylizer.stylize_as_is`
    runs it; its :attr:`~rtstyle.Stylizer.stride` may change between frames, with the style).
    A change of frame size starts afresh. ``moves`` counts the frames where the lock moved.

    The work splits in two halves, each to be given every frame in order: :meth:`prepare`
    (the motion, from the frame alone: the video path runs it in its decoding thread, as it
    does the stabilizer's first half) and :meth:`apply` (the network on the moved frame)."""

    def __init__(self, flow_size: int = 120, coherence: float = 0.5, tol: float = 1.0):
        self.coherence, self.tol = coherence, tol
        self._flow = FlowEstimator("balanced", flow_size)
        self.moves = 0
        self._size: tuple[int, int] | None = None
        self.reset()

    def reset(self) -> None:
        self._prev: np.ndarray | None = None
        self.offset = np.zeros(2, int)  # (x, y) in [0, stride): where the frame sits in the network's input

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """The whole pixels (x, y) the content moved since the previous frame, where it moved
        as a whole; zeros otherwise (the first frame, a new size, no common motion)."""
        gray = self._flow.small(to_gray(frame))
        prev, self._prev = self._prev, gray
        if prev is None or prev.shape != gray.shape:
            return np.zeros(2, int)
        flow = self._flow.calc_small(gray, prev)[::4, ::4].reshape(-1, 2)  # this frame -> the previous
        median = np.median(flow, axis=0)
        scale = frame.shape[1] / gray.shape[1]
        if float((np.abs(flow - median).max(axis=1) * scale < self.tol).mean()) < self.coherence:
            return np.zeros(2, int)
        return np.rint(-median * scale).astype(int)

    def __call__(self, stylizer: Stylizer, frame: np.ndarray) -> np.ndarray:
        return self.apply(stylizer, frame, self.prepare(frame))

    def apply(self, stylizer: Stylizer, frame: np.ndarray, moved: np.ndarray) -> np.ndarray:
        """The network's output for ``frame``, its input moved with the content by what
        :meth:`prepare` returned for this frame."""
        h, w = frame.shape[:2]
        if self._size != (h, w):
            self.offset = np.zeros(2, int)
            self._size = (h, w)
        s = stylizer.stride
        # the content moved by `moved`: the grid moves with it (modulo the stride, which
        # changes nothing)
        self.offset = (self.offset - moved) % s
        self.moves += int(moved.any())
        if not self.offset.any() or min(h, w) <= s:  # (reflection needs a frame wider than the stride)
            return stylizer.stylize_as_is(frame)
        x, y = (int(v) for v in self.offset)
        padded = cv2.copyMakeBorder(frame, s, s, s, s, cv2.BORDER_REFLECT_101)
        out = stylizer.stylize_as_is(np.ascontiguousarray(padded[s - y:s - y + h + s, s - x:s - x + w + s]))
        return np.ascontiguousarray(out[y:y + h, x:x + w])
