"""The inference-time :class:`Stabilizer`: flicker removal for stylized video that keeps
the texture sharp when the camera moves.

A frame is split in two bands (:func:`~rtstyle.texture.split`): the *low* band (the frame
shrunk ``band`` times and grown back) carries colour and shading, where flicker shows most;
the *high* band (the rest) is the style's texture, its brush strokes. They are steadied
differently:

- low band: a motion-compensated running average, computed at 1/``band`` resolution:
  the previous low band, carried by optical flow, blended in where the flow is trusted
  (``strength``). Averaging blurs nothing that matters here.
- high band: texture is never averaged with other texture (that is what blurred moving
  cameras: a running average of strokes that do not move with the content). A *key* frame's
  texture is carried instead, by the flow composed from that frame to the present, so it
  is resampled once, not once per frame, and it stays put on the content. A new key is
  taken every ``key_interval`` frames (four times that on a still camera), as soon as
  the carried key covers too little of the frame (zoom, parallax, things moving in), or
  when the network draws far more texture than the key carries (a key taken on a black
  frame), and faded in over ``fade`` frames. Where no key can be trusted (new content,
  occlusions), the network's own texture shows, blended with the previous frame's carried
  one frame (``texture_strength``). Mixing unrelated textures loses energy (an even mix of
  two keeps half) and resampling takes the finest detail, so the local energy of the
  texture's finest detail (its Laplacian) is restored (by at most ``max_gain``) to the
  weighted energy of its sources. Where the keys carry little of the frame for a while
  (content that turns or deforms: a key's composed flow tears within a few frames there,
  and the texture is nearly always such a mix), the cap rises towards
  ``max_gain_uncarried``: the strokes keep their energy rather than fade (texture is the
  product), for some more flicker.

Trust is photometric, on the *source* frames: the previous (or key) source frame carried
by the same flow must match this one (allowing for a change of exposure); pixels coming
from outside the frame are not trusted. A scene cut (little trusted area, or a large mean difference) resets everything.

The work splits in two halves that need different inputs: :meth:`Stabilizer.prepare`
(flows, trust maps, the key schedule: source frames only, at the flow resolution) and
:meth:`Stabilizer.apply` (the full-resolution work, with the network's output). The video
path runs them in its decoding and encoding threads, beside the network.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .scene import FULL_FLOW_EVERY, changed_regions, coherent_motion, flat_mask, static_flat
from .temporal import FlowEstimator, inside_mask, matched_levels, to_gray, upscale_flow, warp
from .texture import carry_texture, compose, local_energy, mix, resize_to, split

EXPOSURE_STEP = 0.02  # a change of the mean brightness (as a ratio) that the trust allows for
COVER_RATE = 0.1  # how fast the newest key's smoothed cover follows each frame's (about ten frames)
# the still camera's dead zone (px at the flow resolution) per gray level of the frame's mean
# photometric error: sensor noise of sigma 4 on a 160x120 frame (an error of 3.0) gets 0.18
# px, sigma 8 or more the most, a clean picture the least (docs/benchmarks.md, "The dead
# zone follows the noise")
DEAD_ZONE_PER_LEVEL = 0.06
# on a still camera, the previous frame's texture (carried one frame where no key holds) is not
# moved where the flow is under this share of the dead zone: not resampled there at all, as a
# flow of 0 is a copy (with the runs of carry_texture, vtest 32.1 -> 29.2 ms a frame; the whole
# dead zone, or the keys' ramp, cost 0.2-0.6 points of warping error, this nothing to show:
# docs/benchmarks.md, "Texture that does not move")
PREVIOUS_DEAD_ZONE = 0.5
STALE_FLOOR = 100.0  # the energy of texture too faint to count, for Stabilizer.stale_ratio
# the previous frame's texture is not carried from within this many px of the frame's edge
# (bicubic's reach), where the border is replicated: carried frame after frame, that drew
# streaks along a pan into the strip it brings in (the last 8 columns' horizontal detail
# against their vertical, as a share of the network's: 0.50 -> 0.73 on the pan;
# docs/benchmarks.md, "The strip a pan brings in")
EDGE_MARGIN = 2.0
# a change of the picture that the network draws strokes around, for Stabilizer.reach: a
# point of the flow's grid whose photometric error is over this many gray levels (noise of
# sigma 10 on a 320x240 photo: 31 at most, 19 frames against one). A thin pointer on a black
# terminal counts: its halo is as large as a subtitle's. The mean error over 5x5 points over
# 15 levels took the swaying leaves of tree.avi too (26.1% -> 31.8% of bare flicker; 27.8%
# at this) and a pointer on a slide at 240 px (33% -> 42%; 33%); over 45 it missed the
# pointer (docs/benchmarks.md, "A subtitle's ghost")
CHANGE_LEVEL = 90


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
    stale_keys: int = 0
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
        return {"frames": self.frames, "resets": self.resets, "keys": self.keys, "stale_keys": self.stale_keys,
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
    key frame, the weight of the key's texture (a key being faded in has its weight scaled
    by how far the fade has gone) and where the flow lands inside the key frame (all at the
    flow resolution)."""

    key: int
    flow: np.ndarray
    weight: np.ndarray
    inside: np.ndarray


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
    :func:`~rtstyle.scene.coherent_motion`); then flow under the dead zone does not move a
    key (and up to twice that moves it less): DIS's sub-pixel noise would otherwise make keys
    drift. The median, not the mean: someone moving across a still camera's view does not
    make the background's texture swim with the noise. The dead zone grows with the frame's
    noise, read from its mean photometric error against the previous frame carried by the
    flow: :data:`DEAD_ZONE_PER_LEVEL` px per gray level of it, at least ``dead_zone_min``
    and at most ``dead_zone`` px (a clean picture's slow, local motion, grass swaying, is
    then followed rather than held). A key
    is replaced after ``key_interval`` frames (four times that while the camera is still and
    nothing moves, the mean flow under ``still_motion`` px too: a key carried for long
    through moving parts marbles), when it covers less than ``key_cover`` of the frame, or
    when the network draws more than ``stale_ratio`` times the energy of the finest detail
    that the key carries, on ``stale_cover`` of the frame where the key holds (0 turns that
    off): on a uniform frame, the black before a title, the network draws almost no texture
    (its instance norms see no variance), and a key taken there held a flat texture over
    the black for four key intervals where the network now draws its grain (apply finds it,
    and the next prepare takes the key). On a still camera, a key is not trusted within
    ``reach`` px (of the network's frame) of where the picture differs from the key's (0
    turns that off): the network's output changes that far around a change (a subtitle, a
    pointer, someone who walked off), and the key would hold the strokes it drew around
    what is gone.
    The texture's energy is given back by at most ``max_gain``, and by up to
    ``max_gain_uncarried`` (if larger) as the newest key's cover (its mean weight, smoothed
    over about ten frames) falls from the first of ``uncarried_cover`` to the second, and
    cell by cell where no key has the content (the strip a pan brings in).
    ``flow_regions``: once the whole flow has found the camera still, match the flow only
    where the picture changed (:func:`~rtstyle.scene.changed_regions`) and take it as 0
    elsewhere, the whole frame again at least every :data:`~rtstyle.scene.FULL_FLOW_EVERY`
    frames (``False``: always the whole frame). ``flat_static``: flat regions that stay
    where they are, a letterbox's bars, have no motion (:func:`~rtstyle.scene.static_flat`),
    whatever DIS spreads into them.

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
    # the keys"); since 2026-12-08 also where no key has the content, the strip a pan brings
    # in (its sharpness 60-85% -> 81-99% of the network's, with EDGE_MARGIN: "The strip a
    # pan brings in")
    max_gain_uncarried: float = 1.8
    uncarried_cover: tuple[float, float] = (0.5, 0.25)
    strain_tol: float = 0.5
    flow_regions: bool = True
    # since 2026-12-07 (twenty-first session): a held-out title rolling up a black screen
    # kept 88% -> 93% of the sharpness at 240 px, 92% -> 96% at its own size; 41 other
    # clip and size pairs the same to the fourth digit (docs/benchmarks.md, "A key the
    # network no longer draws")
    stale_ratio: float = 3.0
    stale_cover: float = 0.25
    # since 2026-12-08: a subtitle gone from a still shot left its halo, the strokes the
    # network draws around it, held by the key for up to 96 frames (docs/benchmarks.md,
    # "A subtitle's ghost")
    reach: float = 20.0
    stats: StabilizerStats = field(default_factory=StabilizerStats, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), got {self.strength}")
        if self.photo_tol <= 0 or self.key_tol <= 0:
            raise ValueError(f"photo_tol and key_tol must be > 0, got {self.photo_tol}, {self.key_tol}")
        if self.band < 2 or self.fade < 1 or self.key_interval < self.fade:
            raise ValueError("need band >= 2, fade >= 1 and key_interval >= fade")
        if self.reach < 0:
            raise ValueError(f"reach must be >= 0, got {self.reach}")
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
        # the id of a key whose texture apply found the network no longer draws (None: none);
        # by id, as prepare runs ahead of apply in the video path and may have reset since
        self._stale: int | None = None

    # ----------------------------------------------------------------- first half: source only

    def _trust(self, gray: np.ndarray, other: np.ndarray, flow: np.ndarray, tol: float,
               reach: float = 0.0, inside: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """Trust map of ``flow`` (this frame -> ``other``) and the mean photometric error;
        the trust 0 within ``reach`` px of where the picture changed (the error over
        :data:`CHANGE_LEVEL`): the network's output changes that far around a change of its
        input (a subtitle gone from a still shot: 20 px from its letters the network's
        strokes still differ by 20 gray levels, 44 at 6-10 px, 12 at 20-30 px). ``inside``:
        where ``flow`` lands inside the frame, if the caller has it.
        A change of exposure is not a change of content: where the frame's mean brightness
        differs from the carried frame's by more than :data:`EXPOSURE_STEP`, the carried
        frame is compared at this frame's brightness too (scaled by the ratio of the means),
        and the closer of the two comparisons counts (a camera's automatic exposure stepping
        by a third reset the stabilizer on every frame of the step: docs/benchmarks.md)."""
        carried = warp(other, flow)
        if inside is None:  # (where the flow lands inside the frame, if not given)
            inside = inside_mask(flow)
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
        k = round(reach)
        if k >= 1:
            changed = (photo > CHANGE_LEVEL).view(np.uint8) & mask
            if cv2.countNonZero(changed):
                near = cv2.dilate(changed, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
                w[near.view(bool)] = 0.0
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
            flat = flat_mask(gray)
            static = static_flat(flat, prev_flat if cached is prev_gray else flat_mask(prev_gray))
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
                motion = Motion(f_back, w, *self._carry(gray, f_back, err, self.reach * gray.shape[1] / source.shape[1]))
        if motion is None:
            self._keys, self._cover, self._still_for = [], None, None
            motion = Motion(None, None, (), self._new_key(gray) if self.texture and self.strength > 0 else None)
        self.stats.prepare_seconds += time.perf_counter() - t0
        return motion

    def dead_zone_at(self, error: float) -> float:
        """The still camera's dead zone (px at the flow resolution) for a frame whose mean
        photometric error against the previous one is ``error`` gray levels."""
        return min(self.dead_zone, max(self.dead_zone_min, DEAD_ZONE_PER_LEVEL * error))

    def _carry(self, gray: np.ndarray, f_back: np.ndarray, error: float,
               reach: float) -> tuple[tuple[KeyView, ...], int | None, float | None, np.ndarray | None]:
        """Move the keys on by this frame's flow; the views of them that apply uses (on a
        still camera, none within ``reach`` px of this flow's size of where the picture
        changed); start a new key when the newest is old or covers too little; the cap of
        the energy given back; the flow that carries the previous frame's texture."""
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
            inside = inside_mask(key.flow)
            w, _ = self._trust(gray, key.gray, key.flow, self.key_tol, reach if still else 0.0, inside)
            w = self._feathered(self._unstrained(w, key.flow))
            if i == 1:  # the newer of two keys, fading in
                w *= min(1.0, key.age / self.fade)
            views.append(KeyView(key.id, key.flow, w, inside))
        if len(self._keys) == 2 and self._keys[1].age >= self.fade:
            self._keys.pop(0)
        new = None
        cover = float(views[-1].weight.mean())
        self.stats.carried += cover  # (apply counts the blended frames it is averaged over)
        # a still camera keeps a key four times longer: each new key's fade-in is flicker too
        interval = self.key_interval * (4 if quiet else 1)
        stale = len(self._keys) == 1 and self._stale == self._keys[0].id
        if len(self._keys) == 1 and (self._keys[0].age >= interval or cover < self.key_cover or stale):
            new = self._new_key(gray)
            self.stats.stale_keys += stale
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
            trust = resize_to(motion.trust, small) * self.strength
            out_low = mix(low, warp(self._low, upscale_flow(motion.flow, small)), trust)
            self.stats.trusted += float(trust.mean())
            h, w = stylized.shape[:2]
            layers = []
            if self.texture_strength > 0 and self._high is not None:
                # where no key holds: the previous texture, carried one frame, partly kept
                carry = motion.flow if motion.texture_flow is None else motion.texture_flow
                # not from within bicubic's reach of the frame's edge (EDGE_MARGIN)
                inside = inside_mask(carry, EDGE_MARGIN * carry.shape[1] / w) | ~carry.any(axis=2)  # (0: a copy)
                layers.append((self._high, self._energy, carry, motion.trust * self.texture_strength * inside))
            layers += [(*self._highs[v.key], v.flow, v.weight) for v in motion.keys]
            if layers:
                high = carry_texture(high, [(t, f, wt) for t, _, f, wt in layers])
            # each layer's energy carried to this frame, and its weight, at the low band's size
            carried = [warp(e, upscale_flow(f, small)) for _, e, f, _ in layers]
            cells = [resize_to(wt, small, cv2.INTER_AREA) for *_, wt in layers]
            if motion.keys and self.stale_ratio:  # (the keys are the last layers, the newest last)
                stale = self._is_stale(energy, carried[-1], cells[-1])
                self._stale = motion.keys[-1].key if stale else None
            for cell, carried_energy in zip(cells, carried, strict=True):
                energy = energy + cell * (carried_energy - energy)
            cap = self.max_gain if motion.max_gain is None else motion.max_gain
            if layers and cap > 1.0:
                # unrelated textures mixed lose energy (an even mix of two keeps half), and
                # resampling takes the finest detail: give the texture its energy back
                gain = np.sqrt((energy + 1.0) / (local_energy(high, small) + 1.0))
                if motion.keys and self.max_gain_uncarried > cap:
                    # where no key has the content (the strip a pan brings in: its texture
                    # is the previous frames' mixed), the cap rises as where keys hold on
                    # little of the frame (docs/benchmarks.md, "The strip a pan brings in")
                    had = np.maximum.reduce([v.inside.view(np.uint8) for v in motion.keys])
                    new = 1.0 - resize_to(had.astype(np.float32), small, cv2.INTER_AREA)
                    np.clip(gain, 1.0, cap + (self.max_gain_uncarried - cap) * new, out=gain)
                else:
                    np.clip(gain, 1.0, cap, out=gain)
                self.stats.gain_cap += cap
                gain = resize_to(gain, (h, w))
            else:
                gain = None
            out = compose(out_low, high, gain)  # high is a mix here (not fresh_high) when gained
        # keep the textures of the keys prepare still carries (a reset carries none), add the new one
        self._highs = {v.key: self._highs[v.key] for v in motion.keys if v.key in self._highs}
        if motion.new_key is not None:
            self._highs[motion.new_key] = (fresh_high, fresh_energy)
            self.stats.keys += 1
        self._low, self._shape = out_low, stylized.shape
        self._high, self._energy = (high, energy) if self.texture_strength > 0 else (None, None)
        self.stats.apply_seconds += time.perf_counter() - t0
        return out

    def _is_stale(self, fresh: np.ndarray, key: np.ndarray, weight: np.ndarray) -> bool:
        """Whether the network now draws far more texture than the newest key carries (the
        energy of its finest detail, ``fresh`` against the ``key``'s carried to this frame,
        both at the low band's size, over :data:`STALE_FLOOR`) on more than ``stale_cover``
        of the frame, counted where the key holds (``weight``)."""
        stale = fresh + STALE_FLOOR > self.stale_ratio * (key + STALE_FLOOR)
        return float(weight[stale].sum(dtype=np.float64)) > self.stale_cover * weight.size

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
            weight = resize_to(motion.trust, (h, w)) * self.strength
            out = mix(stylized, warped, weight)
            self.stats.trusted += float(motion.trust.mean()) * self.strength
        self._out = out
        return out

    def __call__(self, source: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        if source.shape[:2] != stylized.shape[:2]:
            raise ValueError(f"source {source.shape} and stylized {stylized.shape} frames differ in size")
        return self.apply(self.prepare(source), stylized)
