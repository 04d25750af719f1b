"""How close a style network trained from a painting comes to the painting, measured the
way Johnson et al.'s published models are compared (docs/styles.md, "Styles from
paintings"), with the VGG16 loss network (Keras's ImageNet weights, ``rtstyle vgg-import``):

- style distance: :func:`rtstyle.losses.gram_distance` between the output and the painting
  (its longer side resized to 512, as Johnson's style images), as a fraction of the
  unstyled photo's own distance to the painting (100%: no style at all);
- content distance: the mean squared relu2_2 difference between the output and the photo
  (0: the photo kept exactly);
- sharpness: the variance of the Laplacian of the outputs, beside the painting's own (at
  512) and the photos'.

All are means over the photos. The two pull against each other: blur or a flat texture
can lower the style fraction while the painting's motifs are lost, so look at the outputs.
"""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np
import torch

from .losses import content_loss, gram_distance
from .temporal import sharpness
from .vgg import VGG16Features, frame_features

PAINTING_SIZE = 512  # the painting's longer side (Johnson's style images)
PHOTO_SIZE = 700  # the photos' longer side (Johnson's content photo: 700x470)


def resize_longer(img: np.ndarray, size: int) -> np.ndarray:
    """``img`` (H, W, 3) resized so that its longer side is ``size``."""
    h, w = img.shape[:2]
    s = size / max(h, w)
    if s == 1:
        return img
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


@torch.no_grad()
def painting_fidelity(stylize: Callable[[np.ndarray], np.ndarray], photos: list[np.ndarray], painting: np.ndarray,
                      vgg: VGG16Features) -> dict[str, Any]:
    """Style fraction and content distance of ``stylize`` (RGB uint8 frame -> frame) on
    ``photos`` against ``painting`` (both RGB uint8, already at their measuring sizes)."""
    fp = frame_features(vgg, painting)
    fractions, contents, sharp, photo_sharp = [], [], [], []
    for x in photos:
        y = stylize(x)
        fx, fy = frame_features(vgg, x), frame_features(vgg, y)
        fractions.append(gram_distance(fy, fp).item() / max(gram_distance(fx, fp).item(), 1e-30))
        contents.append(content_loss(fy.relu2_2, fx.relu2_2).item())
        sharp.append(sharpness(y))
        photo_sharp.append(sharpness(x))
    return {"photos": len(photos), "photo_size": max(photos[0].shape[:2]) if photos else 0,
            "style_fraction": round(float(np.mean(fractions)), 3),
            "content_distance": float(f"{np.mean(contents):.4g}"),
            "sharpness": round(float(np.mean(sharp)), 1), "photo_sharpness": round(float(np.mean(photo_sharp)), 1),
            "painting_sharpness": round(float(sharpness(painting)), 1)}


def describe_painting_fidelity(f: dict[str, Any]) -> str:
    line = (f"on {f['photos']} photos ({f['photo_size']} px): style distance {100 * f['style_fraction']:.0f}% "
            f"of the unstyled photo's, content distance {f['content_distance']:.0f}")
    if "sharpness" in f:
        line += (f", sharpness {f['sharpness']:.0f} (photos {f['photo_sharpness']:.0f}, "
                 f"painting {f['painting_sharpness']:.0f})")
    return line


# Johnson et al.'s published feed-forward models on their own content photo (a city skyline,
# 700x470), measured as above (issue 14): the quality bar for the painting-trained built-ins.
JOHNSON = {"starry_night.jpg": (0.50, 57), "wave.jpg": (0.34, 51), "composition_vii.jpg": (0.18, 80),
           "the_scream.jpg": (0.06, 36), "udnie.jpg": (0.24, 54)}
