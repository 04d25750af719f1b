"""Make the two camera-motion clips of the README's temporal table from real photos.

    python tools/temporal_clips.py --pan-photo ColorfulCups/contents/images/2560x1600.jpg \\
        --night-photo leuvenA.jpg --out clips/

- ``pan.mp4``: a slow pan (1.3 px right, 0.35 px down per frame: sub-pixel steps, the
  hardest case for resampling) over a still photo, 640x360, 150 frames at 25 fps.
  The photo is KDE Plasma's ``ColorfulCups`` wallpaper (Debian's plasma-workspace-wallpapers).
- ``night.mp4``: a dark, noisy street at night with a camera that drifts and zooms in
  (x1.25 over the clip), 480x320, 150 frames: OpenCV's ``leuvenA.jpg`` (Debian's
  opencv-doc) darkened (gamma 2.2, x0.6) with fresh sensor noise (sigma 5 gray levels)
  in every frame.

Both are real photos moved by a known camera; the other clips of the table are real
footage (see the README).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from rtstyle.media import VideoWriter, read_image

#: The camera paths of the two clips (``camera``'s arguments); ``tools/true_motion_error.py``
#: scores against the motion they define.
PAN = {"n": 150, "size": (640, 360), "start": (700, 700), "step": (1.3, 0.35)}
NIGHT = {"n": 150, "size": (480, 320), "start": (330, 290), "step": (0.5, -0.2), "zoom": (1.0, 1.25)}


def _view(spec: dict, i: int) -> tuple[float, float, float]:
    """Frame ``i``'s scale (image px per frame px) and centre in the image."""
    z0, z1 = spec.get("zoom", (1.0, 1.0))
    z = z0 + (z1 - z0) * i / max(spec["n"] - 1, 1)
    return 1.0 / z, spec["start"][0] + spec["step"][0] * i, spec["start"][1] + spec["step"][1] * i


def true_flow(spec: dict, t: int) -> np.ndarray:
    """The exact flow from frame ``t`` to frame ``t - 1`` of the clip made with ``spec``
    (HxWx2, (dx, dy) px): where each pixel of frame t was in frame t - 1."""
    w, h = spec["size"]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    (s1, cx1, cy1), (s0, cx0, cy0) = _view(spec, t), _view(spec, t - 1)
    px, py = s1 * (xs - w / 2) + cx1, s1 * (ys - h / 2) + cy1  # the image point seen at pixel (x, y)
    return np.dstack([(px - cx0) / s0 + w / 2 - xs, (py - cy0) / s0 + h / 2 - ys]).astype(np.float32)


def camera(img: np.ndarray, n: int, size: tuple[int, int], start: tuple[float, float], step: tuple[float, float],
           zoom: tuple[float, float] = (1.0, 1.0), dark: float = 1.0, noise: float = 0.0,
           seed: int = 0) -> list[np.ndarray]:
    """``n`` frames of ``size`` (w, h) seen by a camera over ``img``: centred at ``start``
    moving by ``step`` px per frame, zooming linearly; optionally darkened and noisy."""
    rng = np.random.default_rng(seed)
    w, h = size
    path = {"n": n, "start": start, "step": step, "zoom": zoom}
    frames = []
    for i in range(n):
        s, cx, cy = _view(path, i)
        m = np.float32([[s, 0, cx - s * w / 2], [0, s, cy - s * h / 2]])
        f = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        if dark != 1.0:
            f = 255.0 * (f / 255.0) ** 2.2 * dark
        if noise:
            f += rng.normal(0, noise, f.shape).astype(np.float32)
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return frames


def write(path: Path, frames: list[np.ndarray], fps: int = 25) -> None:
    with VideoWriter(path, fps=fps) as out:
        for f in frames:
            out.write(f)
    print(f"wrote {path} ({len(frames)} frames, {frames[0].shape[1]}x{frames[0].shape[0]})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pan-photo", required=True)
    p.add_argument("--night-photo", required=True)
    p.add_argument("--out", default=".")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write(out / "pan.mp4", camera(read_image(args.pan_photo), **PAN))
    write(out / "night.mp4", camera(read_image(args.night_photo), **NIGHT, dark=0.6, noise=5.0))


if __name__ == "__main__":
    main()
