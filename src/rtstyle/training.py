"""The training loop of Johnson et al. 2016: TransformerNet against a frozen VGG16."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import checkpoint
from .data import ContentImages, EpochSampler, collate, find_content_images, load_style_image
from .devices import resolve_device
from .errors import RtStyleError
from .losses import content_loss, gram_matrix, style_loss, total_variation
from .models import build_model, get_preset
from .vgg import load_vgg16

MODEL_FILENAME = "model.pth"
CHECKPOINT_FILENAME = "checkpoint.pth"


@dataclass
class TrainConfig:
    content_dir: str
    style_image: str
    save_model_dir: str = "checkpoints"
    arch: str = "classic"
    epochs: int = 2
    batch_size: int = 4
    image_size: int = 256
    style_size: int | None = None
    lr: float = 1e-3
    content_weight: float = 1e5
    style_weight: float = 1e10
    tv_weight: float = 0.0
    seed: int = 42
    device: str = "auto"
    vgg_weights: str | None = None
    checkpoint_interval: int = 1000
    resume: str | None = None
    log_interval: int = 100
    workers: int = 0
    max_steps: int | None = None  # stop after this many optimizer steps in total
    progress: bool = True


def _log(msg: str) -> None:
    tqdm.write(msg, file=sys.stderr)


class Trainer:
    """One training run. ``run()`` returns the path of the final ``model.pth``."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        # Every check of the user's input happens here, before any heavy work.
        if cfg.batch_size < 1 or cfg.epochs < 1 or cfg.image_size < 16:
            raise RtStyleError("--batch-size and --epochs must be >= 1 and --image-size >= 16")
        try:
            self.arch = get_preset(cfg.arch)
        except ValueError as e:
            raise RtStyleError(str(e)) from None
        self.out_dir = Path(cfg.save_model_dir)
        self.files = find_content_images(cfg.content_dir)
        self.style = load_style_image(cfg.style_image, cfg.style_size)
        self.resume_state = checkpoint.load_file(self._resume_path()) if cfg.resume else None
        self.device = resolve_device(cfg.device)
        self.vgg = load_vgg16(cfg.vgg_weights, self.device)

        torch.manual_seed(cfg.seed)
        self.model = build_model(self.arch).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.amp_dtype = None
        if self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

        self.dataset = ContentImages(self.files, cfg.image_size, cfg.seed)
        self.sampler = EpochSampler(len(self.dataset), cfg.seed)
        self.steps_per_epoch = math.ceil(len(self.sampler) / cfg.batch_size)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        if cfg.max_steps is not None:
            self.total_steps = min(self.total_steps, cfg.max_steps)
        self.step = 0
        self.skipped: set[int] = set()
        if self.resume_state is not None:
            self._restore(self.resume_state)

        with torch.no_grad():
            feats = self.vgg(self.style.to(self.device))
            self.style_grams = [gram_matrix(f) for f in feats]

    # -- checkpoints --------------------------------------------------------------
    def _resume_path(self) -> Path:
        if self.cfg.resume == "auto":
            return self.out_dir / CHECKPOINT_FILENAME
        return Path(self.cfg.resume)

    def _meta(self) -> dict[str, Any]:
        args = {k: v for k, v in dataclasses.asdict(self.cfg).items() if k not in ("progress",)}
        return {
            "style_image": Path(self.cfg.style_image).name,
            "train_args": args,
            "steps": self.step,
            "epochs": self.step / self.steps_per_epoch,
            "content_images": len(self.files),
        }

    def training_state(self) -> dict[str, Any]:
        state = checkpoint.model_state(self.model, self._meta())
        state["training"] = {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "seed": self.cfg.seed,
            "batch_size": self.cfg.batch_size,
            "dataset_size": len(self.dataset),
        }
        return state

    def save_checkpoint(self) -> Path:
        return checkpoint.save(self.training_state(), self.out_dir / CHECKPOINT_FILENAME)

    def _restore(self, state: dict[str, Any]) -> None:
        source = str(self._resume_path())
        if not isinstance(state, dict) or "training" not in state:
            raise RtStyleError(f"{source} is not a training checkpoint (no optimizer state to resume from)")
        if state["arch"] != self.arch.to_dict():
            raise RtStyleError(f"{source} was trained with architecture {state['arch'].get('name')!r}, not {self.arch.name!r}")
        t = state["training"]
        if t.get("batch_size") != self.cfg.batch_size or t.get("dataset_size") != len(self.dataset):
            _log("warning: batch size or data set changed since the checkpoint; the data order will differ")
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(t["optimizer"])
        self.scaler.load_state_dict(t["scaler"])
        self.step = int(t["step"])

    # -- the loop -----------------------------------------------------------------
    def _loader(self, epoch: int, start_batch: int) -> DataLoader:
        self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch, start=start_batch * self.cfg.batch_size)
        return DataLoader(
            self.dataset, batch_size=self.cfg.batch_size, sampler=self.sampler, collate_fn=collate,
            num_workers=self.cfg.workers, pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    def train_step(self, x: torch.Tensor) -> dict[str, float]:
        cfg = self.cfg
        x = x.to(self.device, non_blocking=True)
        autocast = (torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype
                    else contextlib.nullcontext())
        with autocast:
            y = self.model(x)
            fy, fx = self.vgg(y), self.vgg(x)
            c_loss = cfg.content_weight * content_loss(fy.relu2_2, fx.relu2_2)
            s_loss = cfg.style_weight * style_loss(fy, self.style_grams)
            tv = cfg.tv_weight * total_variation(y) if cfg.tv_weight else torch.zeros((), device=self.device)
            loss = c_loss + s_loss + tv
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if not torch.isfinite(loss):
            raise RtStyleError(f"training diverged at step {self.step} (loss is {loss.item()}); try a lower --lr")
        return {"content": c_loss.item(), "style": s_loss.item(), "tv": tv.item(), "total": loss.item()}

    def run(self, on_step: Callable[[int, dict[str, float]], None] | None = None) -> Path:
        cfg = self.cfg
        _log(f"training {self.arch.name} on {len(self.files)} images, {self.total_steps} steps "
             f"(batch {cfg.batch_size}, {cfg.image_size}px) on {self.device}"
             + (f", resuming at step {self.step}" if self.step else ""))
        bar = tqdm(total=self.total_steps, initial=min(self.step, self.total_steps), unit="step",
                   disable=not cfg.progress, dynamic_ncols=True, file=sys.stderr)
        t0, seen = time.perf_counter(), 0
        with _stop_on_interrupt() as stop:
            while self.step < self.total_steps and not stop.is_set():
                epoch, start_batch = divmod(self.step, self.steps_per_epoch)
                for images, bad in self._loader(epoch, start_batch):
                    losses = self.train_step(images)
                    self.step += 1
                    seen += images.shape[0]
                    self.skipped.update(bad)
                    ips = seen / max(time.perf_counter() - t0, 1e-9)
                    bar.update(1)
                    bar.set_postfix(content=f"{losses['content']:.3g}", style=f"{losses['style']:.3g}",
                                    img_s=f"{ips:.1f}", refresh=False)
                    if on_step:
                        on_step(self.step, losses)
                    if cfg.log_interval and self.step % cfg.log_interval == 0:
                        _log(f"step {self.step}/{self.total_steps} epoch {epoch + 1}/{cfg.epochs} "
                             f"content {losses['content']:.4g} style {losses['style']:.4g} "
                             f"tv {losses['tv']:.4g} total {losses['total']:.4g} {ips:.1f} img/s")
                    if cfg.checkpoint_interval and self.step % cfg.checkpoint_interval == 0:
                        self.save_checkpoint()
                    if self.step >= self.total_steps or stop.is_set():
                        break
        if stop.is_set():
            bar.close()
            path = self.save_checkpoint()
            _log(f"interrupted at step {self.step}: checkpoint written to {path} (continue with --resume {path})")
            raise KeyboardInterrupt
        bar.close()
        if self.skipped:
            _log(f"skipped {len(self.skipped)} unreadable content image(s)")
        self.save_checkpoint()
        model_path = checkpoint.save_model(self.model, self.out_dir / MODEL_FILENAME, self._meta())
        _log(f"model written to {model_path}")
        return model_path


@contextlib.contextmanager
def _stop_on_interrupt():
    """The first Ctrl-C asks the loop to stop after the current step (so the checkpoint
    holds a whole step); a second one interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _log("stopping after this step (Ctrl-C again to abort without a checkpoint)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def train(cfg: TrainConfig, **kwargs) -> Path:
    return Trainer(cfg).run(**kwargs)
