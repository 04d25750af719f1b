"""``rtstyle eval-temporal`` on several clips: flicker and sharpness, bare and stabilized.

A clip is either a pair (a source video and a stylized version of it, scored as they are)
or a source video that is stylized here with a given model: then every frame goes through
the network once, and the same network output is scored bare and after the
:class:`~rtstyle.stabilizer.Stabilizer`, against one optical flow, with the time each
took. The figures are those of :class:`~rtstyle.temporal.WarpingErrorMeter`, and, given
VGG16 weights, a Gram (style) distance (:class:`StyleDistance`): a steadier video that
blurred or marbled the strokes moves the style's statistics away from the network's.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterable

import numpy as np

from .errors import RtStyleError
from .media import VideoReader, resize_shorter
from .progress import progress_bar
from .stabilizer import Stabilizer
from .temporal import WarpingErrorMeter, temporal_metrics

#: the frames a clip's Gram distance is measured on (8 of the first 120; fewer on shorter clips)
STYLE_FRAMES = range(10, 120, 15)


class StyleDistance:
    """How far a steadied frame's style is from the network's own: the Gram distance over
    relu1_2-relu4_3 (as the training loss) of the steadied frame to the bare one, as a share
    of the unstyled source frame's distance to the bare one (0: the style's statistics
    untouched; 1: as far off as no style at all). Needs torch and VGG16 weights."""

    def __init__(self, vgg_weights: str | Path):
        from .vgg import load_vgg16

        self.vgg = load_vgg16(vgg_weights)

    def shares(self, source: np.ndarray, bare: np.ndarray, *steadied: np.ndarray) -> list[float]:
        """One share per steadied version of the frame ``source`` whose network output is ``bare``."""
        import torch

        from .losses import gram_distance
        from .vgg import frame_features

        with torch.no_grad():
            reference = frame_features(self.vgg, bare)
            unstyled = gram_distance(frame_features(self.vgg, source), reference).item()
            return [gram_distance(frame_features(self.vgg, s), reference).item() / unstyled if unstyled > 0
                    else float("nan") for s in steadied]


def evaluate_pair(source: str | Path, stylized: str | Path, progress: bool = False) -> dict[str, Any]:
    """Warping error and sharpness of a stylized video against its source (``progress``: a
    bar on stderr, frame by frame)."""
    with VideoReader(source) as a, VideoReader(stylized) as b, \
            progress_bar(progress, iterable=a, total=a.frame_count or None, unit="frame",
                         desc=Path(stylized).name) as frames:
        result = temporal_metrics(frames, b, names=(str(source), str(stylized)))
    return {"input": str(source), "stylized": str(stylized), **result}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b > 0 and np.isfinite(a) and np.isfinite(b) else None


def evaluate_clip(clip: str | Path, stylize: Callable[[np.ndarray], np.ndarray], image_size: int | None = None,
                  max_frames: int | None = None, stabilizer: Stabilizer | None = None,
                  multiple: int = 2, style: StyleDistance | None = None, progress: bool = False) -> dict[str, Any]:
    """Stylize ``clip`` (resized to ``image_size`` px on the shorter side, sides a multiple
    of ``multiple``, the first ``max_frames`` frames) with ``stylize`` and score the output
    bare and stabilized. ``stabilizer`` is a :class:`~rtstyle.stabilizer.Stabilizer` or
    anything called the same way with ``stats.resets`` and ``stats.keys`` (the page's filter,
    :class:`~rtstyle.web_filter.BrowserFilter`: its time is its own median in JavaScript).
    With ``style``, the stabilized frames' Gram distance too, on :data:`STYLE_FRAMES`.
    ``progress``: a bar on stderr, frame by frame."""
    stabilizer = stabilizer or Stabilizer()
    style_shares = []
    meter = WarpingErrorMeter()
    network = steady = 0.0
    size = None
    with VideoReader(clip) as reader:
        total = min(filter(None, (reader.frame_count, max_frames)), default=None)
        with progress_bar(progress, total=total, unit="frame", desc=Path(clip).name) as bar:
            for i, frame in enumerate(reader):
                if max_frames and i >= max_frames:
                    break
                frame = resize_shorter(frame, image_size, multiple=multiple)
                t0 = time.perf_counter()
                bare = stylize(frame)
                t1 = time.perf_counter()
                steadied = stabilizer(frame, bare)
                t2 = time.perf_counter()
                network += t1 - t0
                steady += t2 - t1
                meter.update(frame, {"bare": bare, "stabilized": steadied})
                if style is not None and i in STYLE_FRAMES:
                    style_shares += style.shares(frame, bare, steadied)
                size = [frame.shape[1], frame.shape[0]]
                bar.update(1)
    n = meter.frames
    own_ms = getattr(stabilizer.stats, "median_ms", None)  # a filter that times itself (the page's)
    if n < 2:
        raise RtStyleError(f"{clip} has {n} frame{'s' if n != 1 else ''}: the warping error needs at least 2")
    bare, steadied = meter.result("bare"), meter.result("stabilized")
    row = {
        "clip": str(clip), "frames": n, "size": size,
        "source_warping_error": bare["source_warping_error"], "occluded_fraction": bare["occluded_fraction"],
        "cut_pairs": bare["cut_pairs"],
        "bare": {"warping_error": bare["warping_error"], "sharpness": bare["sharpness"],
                 "warping_error_without_cuts": bare["warping_error_without_cuts"],
                 "ms_per_frame": round(1000 * network / n, 2)},
        "stabilized": {"warping_error": steadied["warping_error"], "sharpness": steadied["sharpness"],
                       "warping_error_without_cuts": steadied["warping_error_without_cuts"],
                       "ms_per_frame": round(own_ms if own_ms is not None else 1000 * steady / n, 2),
                       "warping_error_vs_bare": _ratio(steadied["warping_error"], bare["warping_error"]),
                       "warping_error_vs_bare_without_cuts": _ratio(steadied["warping_error_without_cuts"],
                                                                    bare["warping_error_without_cuts"]),
                       "sharpness_vs_bare": _ratio(steadied["sharpness"], bare["sharpness"]),
                       "resets": stabilizer.stats.resets, "keys": stabilizer.stats.keys},
    }
    if style_shares:
        row["stabilized"]["gram_distance_vs_bare"] = round(float(np.mean(style_shares)), 4)
        row["stabilized"]["gram_frames"] = len(style_shares)
    return row


class LockedNetwork:
    """The phase-locked network (:class:`~rtstyle.phaselock.PhaseLock`) in the stabilizer's
    place in :func:`evaluate_clip`: ``(source, bare) -> the locked network's output for
    source`` (the bare output is not used), so the steadied column is the network's own
    with the lock and the bare column without it; its time includes the network's."""

    def __init__(self, stylizer: Any):
        from .phaselock import PhaseLock

        self.stylizer, self.lock = stylizer, PhaseLock()
        self.stats = SimpleNamespace(resets=0, keys=0)

    def __call__(self, source: np.ndarray, bare: np.ndarray) -> np.ndarray:
        return self.lock(self.stylizer, source)


def summarize(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The worst clip on each of the stabilizer's ratios (clips stylized here only)."""
    rows = [r for r in rows if "stabilized" in r]

    def worst(key: str, pick: Callable[[list[float]], float]) -> float | None:
        values = [r["stabilized"][key] for r in rows if r["stabilized"].get(key)]
        return pick(values) if values else None

    return {"clips": len(rows), "worst_warping_error_vs_bare": worst("warping_error_vs_bare", max),
            "worst_warping_error_vs_bare_without_cuts": worst("warping_error_vs_bare_without_cuts", max),
            "worst_sharpness_vs_bare": worst("sharpness_vs_bare", min)}


def table(rows: list[dict[str, Any]]) -> str:
    """A per-clip table (Markdown) of what :func:`evaluate_clip` and :func:`evaluate_pair` return."""
    gram = any("gram_distance_vs_bare" in r.get("stabilized", {}) for r in rows)
    lines = ["| clip | frames | size | source floor | bare: warping error | sharpness | stabilized: warping error "
             "| sharpness | " + ("Gram distance to bare | " if gram else "") + "ms/frame (network, stabilizer) |",
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if gram else "")]
    pct = lambda r: f" ({100 * r:.0f}%)" if r is not None else ""  # noqa: E731

    def error_share(r: dict[str, Any]) -> str:  # and the share without the cuts, where the clip has any
        s, n = r["stabilized"], r.get("cut_pairs")
        if s["warping_error_vs_bare"] is None:
            return ""
        without = s.get("warping_error_vs_bare_without_cuts")
        cuts = f"; {100 * without:.0f}% without {n} cut{'s' if n > 1 else ''}" if n and without is not None else ""
        return f" ({100 * s['warping_error_vs_bare']:.0f}%{cuts})"

    for r in rows:
        if "stabilized" in r:
            b, s = r["bare"], r["stabilized"]
            name = Path(r["clip"]).name + (f" ({r['filter']})" if r.get("filter") else "")
            g = s.get("gram_distance_vs_bare")
            lines.append(f"| {name} | {r['frames']} | {r['size'][0]}x{r['size'][1]} "
                         f"| {r['source_warping_error']:.6f} | {b['warping_error']:.6f} | {b['sharpness']:.0f} "
                         f"| {s['warping_error']:.6f}{error_share(r)} "
                         f"| {s['sharpness']:.0f}{pct(s['sharpness_vs_bare'])} "
                         + (f"| {'' if g is None else f'{100 * g:.1f}%'} " if gram else "")
                         + f"| {b['ms_per_frame']:.1f}, {s['ms_per_frame']:.1f} |")
        else:
            lines.append(f"| {Path(r['stylized']).name} | {r['frames']} | | {r['source_warping_error']:.6f} | | "
                         f"| {r['warping_error']:.6f} | {r['sharpness']:.0f} | " + ("| " if gram else "") + "|")
    return "\n".join(lines)
