"""A contact sheet: one photo rendered in several styles, each tile named underneath."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import cv2
import numpy as np

from .media import resize_shorter
from .stylizer import Stylizer

LABEL_HEIGHT = 28
GAP = 6


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    """The tile with a white strip under it holding ``text``, centred."""
    strip = np.full((LABEL_HEIGHT, tile.shape[1], 3), 255, np.uint8)
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1
    while True:  # shrink long names to fit the tile
        (w, h), _ = cv2.getTextSize(text, font, scale, thickness)
        if w <= tile.shape[1] - 8 or scale <= 0.3:
            break
        scale -= 0.05
    org = ((tile.shape[1] - w) // 2, (LABEL_HEIGHT + h) // 2)
    cv2.putText(strip, text, org, font, scale, (30, 30, 30), thickness, cv2.LINE_AA)
    return np.concatenate([tile, strip])


def make_sheet(photo: np.ndarray, models: Sequence[tuple[str, str | os.PathLike]], image_size: int = 256,
               columns: int | None = None, device: str = "auto") -> np.ndarray:
    """The photo (resized so its shorter side is ``image_size``) followed by its stylized
    versions, one per (name, model file), in a grid with the names under the tiles."""
    original = resize_shorter(photo, image_size, multiple=4)
    tiles = [_label(original, "original")]
    for name, model in models:
        tiles.append(_label(Stylizer.load(model, device=device).stylize_frame(original), name))
    columns = columns or min(len(tiles), max(1, math.ceil(math.sqrt(len(tiles) * 1.5))))
    rows = math.ceil(len(tiles) / columns)
    th, tw = tiles[0].shape[:2]
    sheet = np.full((rows * th + (rows + 1) * GAP, columns * tw + (columns + 1) * GAP, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = GAP + r * (th + GAP), GAP + c * (tw + GAP)
        sheet[y:y + th, x:x + tw] = tile
    return sheet
