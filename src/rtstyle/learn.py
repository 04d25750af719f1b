"""``rtstyle learn``: any picture into a real-time ``edge`` style within a time budget.

The training journey of :mod:`rtstyle.training` with a clock. The recipe is the one the
painting styles were made by (docs/styles.md, "Styles from paintings"), made automatic:

- start from :data:`START`, a network that gives back the photo (``udnie`` trained to
  reproduce its input: tools/learn_start.py). From a random start the style term needs
  thousands of steps before any texture appears; from a start that keeps the photo, a few
  hundred steps reach the painting's statistics, and the content, which is what longer
  runs keep improving, starts near where a long run ends; so the 10-minute result is
  nearer to the recipe's long run (docs/styles.md, "Your own style");
- the painting with its longer side at 512 px; batch 4 of 256 px crops; Adam at 3e-3;
  total variation 5e4; bf16 where the CPU or GPU has it;
- the style weight balanced for this painting: chosen so that the unstyled photos' own
  style term is :data:`STYLE_TERM` (the balance that the hand-picked weights of three of
  the four painting styles come to, measured for the Keras VGG16 weights);
- the length planned from the measured step time: the loop re-plans after every step and
  stops in time to export and install within the budget (``--steps`` fixes the length
  instead, for comparisons); the learning rate is constant, so a run stopped early by the
  clock is simply a shorter run of the same recipe.

Content: ``--content-dir``, or the 41 photos shipped in ``content/`` (1.4 MB; licences in
NOTICE). The VGG16 loss network comes as for training (``--vgg-weights``, or the torch.hub
cache, downloaded once). The result is installed as a user style (:mod:`rtstyle.styles`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import shlex
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from . import checkpoint
from .data import ContentImages
from .errors import RtStyleError
from .losses import style_loss
from .media import read_image
from .painting import PAINTING_SIZE
from .styles import check_new_user_style, install_user_style, name_from_file
from .training import MODEL_FILENAME, TrainConfig, Trainer
from .vgg import describe_weights_source, load_vgg16

CONTENT_DIR = Path(__file__).resolve().parent / "content"
START = Path(__file__).resolve().parent / "starts" / "edge-photo.pth"  # tools/learn_start.py
# (the built-in "jungle" until 2026-12-04, "udnie" until 2026-12-06: docs/styles.md, "Your own style")
STYLE_TERM = 3e7  # style weight x the unstyled photos' style loss (docs/styles.md, "Your own style")
CONTENT_WEIGHT = 1e5
TV_WEIGHT = 5e4
LR = 3e-3  # Adam, constant: at 10 minutes this beats 1e-3 and a cosine (docs/styles.md, "Your own style")
CALIBRATION_IMAGES = 48  # photos (one crop each) whose style loss sets the style weight
RESERVE_FRACTION, RESERVE_MAX_S = 0.1, 15.0  # kept back from the budget for the export and install


class LearnCancelled(RtStyleError):
    pass


@dataclass
class LearnConfig:
    painting: str
    name: str | None = None  # default: from the painting's file name
    minutes: float = 10.0  # the whole command's wall-time budget
    steps: int | None = None  # a fixed number of steps instead of the clock
    content_dir: str | None = None  # default: the photos shipped in content/
    vgg_weights: str | None = None
    device: str = "auto"
    precision: str = "auto"
    image_size: int = 256
    batch_size: int = 4
    seed: int = 42
    replace: bool = False  # replace the user's style of the same name
    progress: bool = True


def style_size_for(painting: str | Path) -> int:
    """The ``--style-size`` (shorter side) that puts the painting's longer side at 512;
    reading the picture, it is also the check that it is one (one clear error if not)."""
    h, w = read_image(painting).shape[:2]
    return max(16, round(min(h, w) * PAINTING_SIZE / max(h, w)))


class LearnTrainer(Trainer):
    """:class:`Trainer` on a clock: plans its length from the step time it measures,
    reports progress, and can be cancelled between steps."""

    def __init__(self, cfg: TrainConfig, deadline: float | None, on_progress: Callable[[dict], None] | None = None,
                 cancel: threading.Event | None = None):
        self.deadline, self.on_progress, self.cancel = deadline, on_progress, cancel
        self.step_times: list[float] = []
        self.calibration: dict[str, float] = {}
        super().__init__(cfg)
        self._last = time.monotonic()

    def load_objective(self) -> None:
        super().load_objective()
        self.cfg.style_weight = self.balanced_style_weight()

    @torch.no_grad()
    def balanced_style_weight(self) -> float:
        """:data:`STYLE_TERM` over the mean style loss of unstyled content crops."""
        crops = ContentImages(self.files[:CALIBRATION_IMAGES], self.cfg.image_size, seed=0)
        x = torch.stack([crops[i][0] for i in range(len(crops))])
        total = 0.0
        for batch in x.split(8):
            feats = self.vgg(batch.to(self.device))
            total += style_loss(feats, self.style_grams).item() * len(batch)
        loss = max(total / len(x), 1e-30)
        self.calibration = {"photos_style_loss": loss, "style_weight": STYLE_TERM / loss}
        return STYLE_TERM / loss

    def _describe(self) -> str:
        plan = f"{self.cfg.max_steps} steps" if self.deadline is None else "as many steps as the budget allows"
        return (f"learning from {Path(self.cfg.style_image).name} on {len(self.files)} photos: {plan} "
                f"(batch {self.cfg.batch_size}, {self.cfg.image_size} px) on {self.device} in {self.precision}, "
                f"style weight {self.cfg.style_weight:.3g}")

    def step_time(self) -> float:
        """The mean of the last few steps, the first left out while others exist (it pays
        for the kernels' first-use set-up: several times a later step)."""
        recent = self.step_times[1:][-5:] or self.step_times[:1]
        return statistics.mean(recent) if recent else 0.0

    def after_step(self) -> None:
        now = time.monotonic()
        self.step_times.append(now - self._last)
        self._last = now
        if self.cancel is not None and self.cancel.is_set():
            raise LearnCancelled("cancelled")
        if self.deadline is not None:
            # stop before a step that would end after the deadline (less the export's share)
            left = self.deadline - now
            more = max(0, math.floor(left / self.step_time() - 1)) if left > 0 else 0
            if len(self.step_times) == 1 and left > self.step_time():
                more = max(more, 1)  # a second step, to measure a step without the set-up
            self.total_steps = self.step + more
        if self.on_progress is not None:
            self.on_progress(self.progress())

    def progress(self) -> dict[str, Any]:
        eta = (self.total_steps - self.step) * self.step_time()
        return {"stage": "training", "step": self.step, "total": self.total_steps,
                "step_s": round(self.step_time(), 3), "eta_s": round(eta, 1)}

    def _checkpoint(self) -> Path:  # nothing to resume: learn writes only the model
        return self.out_dir / MODEL_FILENAME

    def interrupted(self) -> None:
        self._say(f"interrupted at step {self.step}: nothing installed")
        raise KeyboardInterrupt


def _cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rtstyle", appauthor=False)) / "learn"


def check_request(cfg: LearnConfig) -> tuple[str, int]:
    """Every check of the user's input, before any heavy work; returns the style's name and
    the painting's style size (:func:`style_size_for`)."""
    name = check_new_user_style(cfg.name or name_from_file(cfg.painting), cfg.replace)
    if cfg.steps is None and not cfg.minutes > 0:
        raise RtStyleError("--minutes must be more than 0")
    if not START.is_file():
        raise RtStyleError(f"the network that learning starts from is missing: {START}")
    if cfg.content_dir is not None and not Path(cfg.content_dir).is_dir():
        raise RtStyleError(f"content folder not found: {cfg.content_dir}")
    return name, style_size_for(cfg.painting)


def learn(cfg: LearnConfig, on_progress: Callable[[dict], None] | None = None,
          cancel: threading.Event | None = None, started: float | None = None) -> dict[str, Any]:
    """Train a style from ``cfg.painting`` and install it as a user style; returns a report.
    ``started`` (a :func:`time.monotonic` time) is when the budget began: by default, now."""
    from .export import export_onnx

    t0 = time.monotonic() if started is None else started
    budget = cfg.minutes * 60
    name, style_size = check_request(cfg)
    say = on_progress or (lambda p: None)
    if cfg.vgg_weights is None and not describe_weights_source()["available"]:
        say({"stage": "downloading the VGG16 weights"})
        load_vgg16()  # once, into the torch.hub cache (offline: one error naming both ways to get them)
        t0 = time.monotonic()  # the budget is for learning, not for a first run's download
    say({"stage": "preparing"})
    reserve = min(RESERVE_MAX_S, RESERVE_FRACTION * budget)
    tcfg = TrainConfig(
        content_dir=str(cfg.content_dir or CONTENT_DIR), style_image=str(cfg.painting),
        style_size=style_size, arch="edge", epochs=10**6, batch_size=cfg.batch_size,
        image_size=cfg.image_size, content_weight=CONTENT_WEIGHT, style_weight=1.0, tv_weight=TV_WEIGHT, lr=LR,
        seed=cfg.seed, device=cfg.device, vgg_weights=cfg.vgg_weights, checkpoint_interval=0,
        init_from=str(START), log_interval=0, max_steps=cfg.steps or 10**9,
        precision=cfg.precision, progress=cfg.progress)
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=cache))
    tcfg.save_model_dir = str(work)
    try:
        deadline = None if cfg.steps else t0 + budget - reserve
        trainer = LearnTrainer(tcfg, deadline, on_progress, cancel)
        t_train = time.monotonic()
        trainer.run()
        train_s = time.monotonic() - t_train
        if cancel is not None and cancel.is_set():
            raise LearnCancelled("cancelled")
        say({"stage": "exporting", "step": trainer.step, "total": trainer.step})
        model, meta = checkpoint.load_model(work / MODEL_FILENAME)
        record = {
            "painting": Path(cfg.painting).name,
            "learned": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "steps": trainer.step, "minutes_budget": None if cfg.steps else cfg.minutes,
            "train_s": round(train_s, 1), "step_s": round(statistics.median(trainer.step_times), 3),
            "precision": trainer.precision, "device": str(trainer.device), "start": START.stem,
            "style_weight": float(f"{trainer.cfg.style_weight:.4g}"), "content_images": len(trainer.files),
        }
        meta.pop("arch", None)
        meta.update(record, painting=record["painting"])
        checkpoint.save_model(model, work / f"{name}.pth", meta)
        export_onnx(model, work / f"{name}.onnx", meta)
        credit = f"learned from {record['painting']}"
        style = install_user_style(name, {".pth": work / f"{name}.pth", ".onnx": work / f"{name}.onnx"},
                                   {"painting": record["painting"], "credit": credit,
                                    "description": f"your style, {credit}", **record}, replace=cfg.replace)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    record.update(name=style.key, model=str(style.path), onnx=str(style.path.with_suffix(".onnx")),
                  wall_s=round(time.monotonic() - t0, 1),
                  equivalent=train_command(tcfg, trainer.step, trainer.cfg.style_weight))
    say({"stage": "done", **record})
    return record


def train_command(cfg: TrainConfig, steps: int, style_weight: float) -> str:
    """The ``rtstyle train`` command that runs the same recipe for ``steps`` steps (the same
    model, step for step, on the same device and precision)."""
    q = shlex.quote
    return (f"rtstyle train --arch edge --content-dir {q(cfg.content_dir)} --style-image {q(cfg.style_image)} "
            f"--style-size {cfg.style_size} --batch-size {cfg.batch_size} --image-size {cfg.image_size} "
            f"--epochs {10**6} --max-steps {steps} --lr {cfg.lr!r} --content-weight {cfg.content_weight:g} "
            f"--style-weight {style_weight!r} --tv-weight {cfg.tv_weight:g} --seed {cfg.seed} "
            f"--init-from {q(cfg.init_from)}" + (f" --vgg-weights {q(cfg.vgg_weights)}" if cfg.vgg_weights else ""))
