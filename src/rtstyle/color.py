"""Post-processing of stylized frames (numpy + OpenCV): strength and colour preservation."""

from __future__ import annotations

import cv2
import numpy as np

from .errors import RtStyleError


def check_strength(strength: float) -> float:
    if not 0.0 <= strength <= 1.0:
        raise RtStyleError(f"strength must be between 0 and 1, got {strength}")
    return float(strength)


def preserve_color(stylized: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The stylized image's lightness with the original's colour, combined in CIELAB (a
    perceptual colour space: lightness and chroma are separate, unlike in RGB or YCbCr)."""
    if original.shape != stylized.shape:
        original = cv2.resize(original, stylized.shape[1::-1], interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(original, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.cvtColor(stylized, cv2.COLOR_RGB2LAB)[..., 0]
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def blend(stylized: np.ndarray, original: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` x stylized + (1 - strength) x original."""
    if strength >= 1.0:
        return stylized
    if original.shape != stylized.shape:
        original = cv2.resize(original, stylized.shape[1::-1], interpolation=cv2.INTER_AREA)
    return cv2.addWeighted(stylized, strength, original, 1.0 - strength, 0.0)
