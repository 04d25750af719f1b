"""Distillation: train a compact student to reproduce a heavier teacher stylizer.

The edge path for every style: train a ``classic`` model with the perceptual loss on a
GPU (or take any ONNX stylizer), then distil it into ``edge`` for CPUs and phones. The
loop is the training loop (single process or torchrun, resume, gradient accumulation,
TensorBoard); only the objective differs: "VGG16 features -> perceptual losses" becomes
"teacher -> pixel L1 + multi-scale gradient (structure) loss" on random crops of real
images. At the end, fidelity is measured on held-out images and stored in the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import checkpoint
from .errors import RtStyleError
from .losses import gradient_loss, lowpass_loss
from .media import read_image, resize_shorter
from .metrics import lowpass_psnr, shifted_pair
from .runtime.torch_backend import TorchBackend
from .teachers import Teacher
from .training import MODEL_FILENAME, TrainConfig, Trainer

FIDELITY_SHIFT = (2, 1)


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
    holdout: int = 8  # images kept out of training to measure fidelity on
    fidelity_size: int = 256


class Distiller(Trainer):
    cfg: DistillConfig

    def check_objective(self) -> None:
        cfg = self.cfg
        if not cfg.teacher or not Path(cfg.teacher).is_file():
            raise RtStyleError(f"teacher model not found: {cfg.teacher or '(none given)'}")
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

    @torch.no_grad()
    def _init_output_bias(self) -> None:
        """Data-dependent init: a fresh student starts at the teacher's mean colour, not at
        black (pixel values span 0-255: Adam would need ~10^5 small steps to get there)."""
        images = torch.stack([self.dataset[i][0] for i in range(min(8, len(self.dataset)))])
        mean = self.teacher(images.to(self.device)).mean(dim=(0, 2, 3))  # per RGB channel
        last = [m for m in self.model.deconv3.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        repeat = last.bias.numel() // 3  # pixel shuffle: 3 x factor^2 channels, colour-major
        last.bias.copy_(mean.repeat_interleave(repeat).to(last.bias))

    def compute_losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        t = self.teacher(x)
        losses = {"pixel": cfg.pixel_weight * (y.float() - t).abs().mean() / 255.0,
                  "structure": cfg.structure_weight * gradient_loss(y, t) / 255.0}
        if cfg.lowpass_weight:
            losses["lowpass"] = cfg.lowpass_weight * lowpass_loss(y, t) / 255.0
        losses["total"] = sum(losses.values())
        return losses

    def objective_meta(self) -> dict[str, Any]:
        teacher = self.cfg.teacher_name or Path(self.cfg.teacher).name
        return {"teacher": teacher, "style_image": self.teacher.meta.get("style_image", teacher),
                "distilled": True}

    # -- fidelity -------------------------------------------------------------------
    def _holdout_frames(self) -> list[np.ndarray]:
        frames = []
        for path in self.holdout_files:
            try:
                f = resize_shorter(read_image(path), self.cfg.fidelity_size)
            except RtStyleError:
                continue
            h, w = (f.shape[0] // 8) * 8, (f.shape[1] // 8) * 8
            frames.append(np.ascontiguousarray(f[:h, :w]))
        return frames

    def fidelity(self) -> dict[str, Any]:
        """On held-out images, low-pass PSNR (Gaussian sigma 2 px, 4-px margins ignored) of
        (a) student vs teacher and (b) the teacher against itself on a (2,1)-px-shifted
        input, shifted back: the teacher's own ceiling."""
        frames = self._holdout_frames()
        if not frames:
            return {"images": 0}
        student = TorchBackend(self.model, self.device)
        teacher = self.teacher.frame
        vs_teacher = [lowpass_psnr(student(x), teacher(x)) for x in frames]
        own = [lowpass_psnr(*shifted_pair(teacher, x, *FIDELITY_SHIFT)) for x in frames]
        return {"images": len(frames), "student_vs_teacher_db": round(float(np.mean(vs_teacher)), 2),
                "teacher_self_shift_db": round(float(np.mean(own)), 2), "shift": list(FIDELITY_SHIFT),
                "sigma": 2.0}

    def run(self, **kwargs) -> Path:
        if self.step == 0:  # not when resuming
            self._init_output_bias()
        path = super().run(**kwargs)
        if self.dist.is_main:
            result = self.fidelity()
            if result["images"]:
                self._say(f"fidelity on {result['images']} held-out images (low-pass PSNR): student vs teacher "
                          f"{result['student_vs_teacher_db']:.2f} dB; teacher vs itself on a (2,1)-px shifted "
                          f"input {result['teacher_self_shift_db']:.2f} dB")
            model, meta = checkpoint.load_model(path)
            meta.pop("arch", None)
            meta["fidelity"] = result
            checkpoint.save_model(model, path, meta)
            self.fidelity_result = result
        return path


def distill(cfg: DistillConfig, **kwargs) -> Path:
    return Distiller(cfg).run(**kwargs)


__all__ = ["DistillConfig", "Distiller", "distill", "MODEL_FILENAME"]
