"""Distillation: train a compact student to reproduce a heavier teacher stylizer.

The edge path for every style: train a ``classic`` model with the perceptual loss on a
GPU (or take any ONNX stylizer), then distil it into ``edge`` for CPUs and phones. The
loop is the training loop (single process or torchrun, resume, gradient accumulation,
TensorBoard); only the objective differs: "VGG16 features -> perceptual losses" becomes
"teacher -> pixel L1 + multi-scale gradient (structure) loss", optionally low-pass L1 and
a perceptual term (the Gram distance between student's and teacher's outputs through
VGG16: pixel losses alone regress to the mean of a texture the teacher does not even keep
under a 2-px shift, i.e. blur) on random crops of real images. At the end, fidelity is
measured on held-out images and stored in the model: low-pass PSNR, sharpness and Gram
distance, each against the teacher's own figure (:func:`style_fidelity`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import checkpoint
from .errors import RtStyleError
from .losses import content_loss, gradient_loss, gram_distance, lowpass_loss
from .media import read_image, resize_shorter
from .metrics import lowpass_psnr, shifted_pair
from .runtime.torch_backend import TorchBackend
from .teachers import Teacher
from .temporal import sharpness
from .training import MODEL_FILENAME, TrainConfig, Trainer
from .vgg import VGG16Features, frame_features, load_vgg16

FIDELITY_SHIFT = (2, 1)  # (dx, dy) of the low-pass ceiling
GRAM_ROLL = (1, 2)  # (rows, columns) of the teacher's own Gram distance


@dataclass
class DistillConfig(TrainConfig):
    teacher: str = ""
    teacher_inputs: dict[str, list[float]] = field(default_factory=dict)  # extra ONNX inputs
    teacher_range: float | None = None  # pixel range an ONNX teacher expects (1 or 255)
    teacher_name: str | None = None  # recorded as meta["teacher"], e.g. "multistyle26:19"
    arch: str = "edge"
    pixel_weight: float = 1.0
    structure_weight: float = 1.0
    lowpass_weight: float = 0.0  # L1 of Gaussian-blurred (sigma 2 px) outputs
    perceptual_weight: float = 0.0  # Gram distance of the two outputs through VGG16 (needs its weights)
    feature_weight: float = 0.0  # mean squared difference of the two outputs' VGG16 relu2_2 features
    holdout: int = 8  # images kept out of training to measure fidelity on
    fidelity_size: int = 256


class Distiller(Trainer):
    cfg: DistillConfig

    def check_objective(self) -> None:
        cfg = self.cfg
        if not cfg.teacher or not Path(cfg.teacher).is_file():
            raise RtStyleError(f"teacher model not found: {cfg.teacher or '(none given)'}")
        if not (cfg.pixel_weight or cfg.structure_weight or cfg.lowpass_weight or cfg.perceptual_weight
                or cfg.feature_weight):
            raise RtStyleError("every loss weight is 0: nothing to learn")
        holdout = min(cfg.holdout, len(self.files) // 5)  # never more than a fifth of the images
        self.holdout_files = self.files[len(self.files) - holdout:] if holdout else []
        self.files = self.files[: len(self.files) - holdout]
        # load it now (on the CPU) so that a bad teacher fails before any work
        self.teacher = Teacher(cfg.teacher, torch.device("cpu"),
                               {k: np.asarray(v, np.float32) for k, v in cfg.teacher_inputs.items()},
                               cfg.teacher_range)

    def load_objective(self) -> None:
        if self.teacher.model is not None:
            self.teacher.model = self.teacher.model.to(self.device)
            self.teacher.device = self.device
        self.vgg: VGG16Features | None = None
        if self.cfg.perceptual_weight or self.cfg.feature_weight or self.cfg.vgg_weights:
            # the perceptual terms need it; given --vgg-weights, the fidelity figures use it too
            self.vgg = load_vgg16(self.cfg.vgg_weights, self.device)

    @torch.no_grad()
    def initial_colour(self) -> torch.Tensor:
        """A fresh student starts at the teacher's mean colour on a few training images."""
        images = torch.stack([self.dataset[i][0] for i in range(min(8, len(self.dataset)))])
        return self.teacher(images.to(self.device)).mean(dim=(0, 2, 3))

    def compute_losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        t = self.teacher(x)
        losses = {}
        if cfg.pixel_weight:
            losses["pixel"] = cfg.pixel_weight * (y.float() - t).abs().mean() / 255.0
        if cfg.structure_weight:
            losses["structure"] = cfg.structure_weight * gradient_loss(y, t) / 255.0
        if cfg.lowpass_weight:
            losses["lowpass"] = cfg.lowpass_weight * lowpass_loss(y, t) / 255.0
        if cfg.perceptual_weight or cfg.feature_weight:
            fy = self.vgg(y)
            with torch.no_grad():
                ft = self.vgg(t)
            if cfg.perceptual_weight:
                losses["gram"] = cfg.perceptual_weight * gram_distance(fy, ft).mean()
            if cfg.feature_weight:
                losses["feature"] = cfg.feature_weight * content_loss(fy.relu2_2, ft.relu2_2)
        losses["total"] = sum(losses.values())
        return losses

    def objective_meta(self) -> dict[str, Any]:
        teacher = self.cfg.teacher_name or Path(self.cfg.teacher).name
        return {"teacher": teacher, "style_image": self.teacher.meta.get("style_image", teacher),
                "distilled": True}

    # -- fidelity -------------------------------------------------------------------
    def fidelity(self) -> dict[str, Any]:
        """:func:`style_fidelity` of the student on the held-out images."""
        frames = fidelity_frames(self.holdout_files, self.cfg.fidelity_size)
        if not frames:
            return {"images": 0}
        return style_fidelity(TorchBackend(self.model, self.device), self.teacher.frame, frames, self.vgg)

    def run(self, **kwargs) -> Path:
        path = super().run(**kwargs)
        if self.dist.is_main:
            result = self.fidelity()
            if result["images"]:
                self._say(describe_fidelity(result))
            model, meta = checkpoint.load_model(path)
            meta.pop("arch", None)
            meta["fidelity"] = result
            checkpoint.save_model(model, path, meta)
            self.fidelity_result = result
        return path


def fidelity_frames(paths, size: int = 256) -> list[np.ndarray]:
    """Photos as the fidelity figures see them: shorter side ``size``, cropped to multiples
    of 8; unreadable files skipped."""
    frames = []
    for path in paths:
        try:
            f = resize_shorter(read_image(path), size)
        except RtStyleError:
            continue
        h, w = (f.shape[0] // 8) * 8, (f.shape[1] // 8) * 8
        frames.append(np.ascontiguousarray(f[:h, :w]))
    return frames


@torch.no_grad()
def style_fidelity(student, teacher, frames: list[np.ndarray], vgg: VGG16Features | None = None) -> dict[str, Any]:
    """How faithfully ``student`` reproduces ``teacher`` (both frame -> frame) on real
    photos, each figure beside the teacher's own, as ratios of means over the photos:

    - low-pass PSNR (Gaussian sigma 2 px, 4-px margins ignored) of student vs teacher, and
      (ceiling) of the teacher vs itself on a (2,1)-px-shifted input, shifted back;
    - sharpness (variance of the Laplacian) of the student's output over the teacher's;
    - with ``vgg``: the Gram distance (:func:`rtstyle.losses.gram_distance`) of the
      student's output to the teacher's, over the teacher's own: the teacher on the photo
      rolled by (1, 2) px (rows, columns), rolled back, against the teacher on the photo.
    Blur can raise PSNR; it cannot pass the other two."""
    s_out, t_out = [student(x) for x in frames], [teacher(x) for x in frames]
    result: dict[str, Any] = {
        "images": len(frames),
        "student_vs_teacher_db": round(float(np.mean([lowpass_psnr(s, t) for s, t in zip(s_out, t_out, strict=True)])), 2),
        "teacher_self_shift_db": round(float(np.mean([lowpass_psnr(*shifted_pair(teacher, x, *FIDELITY_SHIFT, base=t))
                                                      for x, t in zip(frames, t_out, strict=True)])), 2),
        "shift": list(FIDELITY_SHIFT), "sigma": 2.0,
        "student_sharpness": round(float(np.mean([sharpness(s) for s in s_out])), 1),
        "teacher_sharpness": round(float(np.mean([sharpness(t) for t in t_out])), 1),
    }
    result["sharpness_vs_teacher"] = round(result["student_sharpness"] / max(result["teacher_sharpness"], 1e-9), 3)
    if vgg is not None:
        ours, own = [], []
        for x, s, t in zip(frames, s_out, t_out, strict=True):
            rolled = np.roll(teacher(np.roll(x, GRAM_ROLL, axis=(0, 1))), [-r for r in GRAM_ROLL], axis=(0, 1))
            ft = frame_features(vgg, t)
            ours.append(gram_distance(frame_features(vgg, s), ft).item())
            own.append(gram_distance(frame_features(vgg, rolled), ft).item())
        result.update({"gram_distance": float(np.mean(ours)), "teacher_self_gram_distance": float(np.mean(own)),
                       "gram_roll": list(GRAM_ROLL)})
        result["gram_ratio"] = round(result["gram_distance"] / max(result["teacher_self_gram_distance"], 1e-30), 2)
    return result


def describe_fidelity(f: dict[str, Any]) -> str:
    line = (f"fidelity on {f['images']} held-out images: low-pass PSNR {f['student_vs_teacher_db']:.2f} dB "
            f"(teacher vs itself shifted: {f['teacher_self_shift_db']:.2f} dB); sharpness "
            f"{100 * f['sharpness_vs_teacher']:.0f}% of the teacher's")
    if "gram_ratio" in f:
        line += f"; Gram distance {f['gram_ratio']:.1f}x the teacher's own under a (1,2)-px roll"
    return line


def distill(cfg: DistillConfig, **kwargs) -> Path:
    return Distiller(cfg).run(**kwargs)


__all__ = ["DistillConfig", "Distiller", "distill", "MODEL_FILENAME"]
