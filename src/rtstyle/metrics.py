"""Image-quality measures shared by the benchmark and distillation (numpy + OpenCV only).

Shift consistency: a stylizer f is shift-consistent when f(shift(x)) == shift(f(x)).
Stride-2 layers alias, so the texture's phase follows the pixel grid and crawls when the
camera moves; the PSNR between the two sides measures it. Low-pass PSNR compares images
blurred with a Gaussian (sigma 2 px): the fair yardstick for textured styles, whose fine
texture is not even consistent with itself under a 2-px shift.
"""

from __future__ import annotations

from typing import Callable, Iterable

import cv2
import numpy as np

Stylize = Callable[[np.ndarray], np.ndarray]
SHIFTS = ((1, 0), (2, 1), (3, 3))


def psnr(a: np.ndarray, b: np.ndarray, margin: int = 0) -> float:
    """PSNR in dB of two uint8 (0-255) images, ignoring ``margin`` pixels at the borders."""
    if margin:
        a, b = a[margin:-margin, margin:-margin], b[margin:-margin, margin:-margin]
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def lowpass(img: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    return cv2.GaussianBlur(img.astype(np.float32), (0, 0), sigma)


def lowpass_psnr(a: np.ndarray, b: np.ndarray, sigma: float = 2.0, margin: int = 4) -> float:
    """PSNR of the two images after a Gaussian blur of ``sigma`` px, margins ignored."""
    return psnr(lowpass(a, sigma), lowpass(b, sigma), margin)


def shifted_pair(f: Stylize, x: np.ndarray, dx: int, dy: int,
                 base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """f(x) and f(x moved up-left by (dx, dy)) shifted back, cropped to the common area
    (``base``: f(x), when the caller has it already)."""
    h, w = x.shape[:2]
    base = f(x) if base is None else base
    moved = f(np.ascontiguousarray(x[dy:, dx:]))
    return base[dy:, dx:], moved[: h - dy, : w - dx]


def shift_consistency(f: Stylize, photos: Iterable[np.ndarray], shifts=SHIFTS, margin: int = 8,
                      sigma: float | None = None) -> dict[str, float]:
    """Mean PSNR (dB) over ``photos`` between f(x) and f(shifted x) shifted back, per
    shift; with ``sigma``, after a Gaussian blur (low-pass PSNR)."""
    photos = list(photos)
    result = {}
    for dx, dy in shifts:
        values = []
        for x in photos:
            a, b = shifted_pair(f, x, dx, dy)
            values.append(lowpass_psnr(a, b, sigma, margin) if sigma else psnr(a, b, margin))
        result[f"{dx},{dy}"] = round(float(np.mean(values)), 2)
    return result
