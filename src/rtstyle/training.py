"""The training loop of Johnson et al. 2016: TransformerNet against a frozen VGG16.

One process, or many under ``torchrun``: when the launcher's environment says so
(``WORLD_SIZE`` > 1), every process joins a ``torch.distributed`` process group (NCCL on
CUDA, gloo on CPU: :mod:`rtstyle.ranks`), wraps the network in ``DistributedDataParallel``
and trains on its shard of each epoch; rank 0 alone logs (TensorBoard too:
:mod:`rtstyle.trainlog`), writes checkpoints and ``model.pth``.
``--batch-size`` is per process: an optimizer step sees batch_size x grad_accum x world
size images, and with the same seed the result matches one process with that batch.
"""

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
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import checkpoint, motion
from .data import (
    ContentImages,
    EpochSampler,
    collate,
    content_root,
    find_content_images,
    ignore_stop_signals,
    load_style_image,
)
from .devices import autocast_dtype, resolve_precision
from .errors import RtStyleError
from .losses import content_loss, gram_matrix, style_loss, total_variation
from .models import build_model, get_preset
from .ranks import Ranks, dist_info, log
from .trainlog import TrainLog, summary_writer_class
from .vgg import load_vgg16

MODEL_FILENAME = "model.pth"
CHECKPOINT_FILENAME = "checkpoint.pth"


@dataclass
class TrainConfig:
    content_dir: str
    style_image: str | None = None  # needed by the perceptual loss; distillation has a teacher instead
    save_model_dir: str = "checkpoints"
    arch: str = "classic"
    epochs: int = 2
    batch_size: int = 4
    image_size: int = 256
    style_size: int | None = None
    lr: float = 1e-3
    max_scale: float = 1.0  # crop from images resized to image_size x [1, max_scale] on the shorter side
    lr_schedule: str = "constant"  # or "cosine": decay to lr/100 over the run (by step: resume-exact)
    content_weight: float = 1e5
    style_weight: float = 1e10
    tv_weight: float = 0.0
    seed: int = 42
    device: str = "auto"
    vgg_weights: str | None = None
    checkpoint_interval: int = 1000
    resume: str | None = None
    init_from: str | None = None  # start from this model's weights (its architecture); a fresh optimizer
    log_interval: int = 100
    workers: int = 0
    max_steps: int | None = None  # stop after this many optimizer steps in total
    grad_accum: int = 1  # micro-batches per optimizer step; a "step" is always an optimizer step
    log_dir: str | None = None  # TensorBoard event files here (needs the tensorboard package)
    sample_interval: int = 1000  # with log_dir: stylized sample images every N steps (0: only at the end)
    precision: str = "auto"  # fp32, bf16, fp16 (autocast); auto: bf16 on CPUs/GPUs that have it (devices.py)
    temporal_weight: float = 0.0  # temporal loss on random motion pairs (rtstyle.motion); 0: off
    shift_weight: float = 0.0  # equivariance to whole-pixel shifts (rtstyle.motion.shift_loss); 0: off
    input_noise: float = 0.0  # the network's input gets sensor noise of up to this many gray levels; 0: off
    noise_weight: float = 0.0  # two noisy views of each crop must give the same output (needs input_noise); 0: off
    progress: bool = True


class Trainer:
    """One training run. ``run()`` returns the path of the final ``model.pth``."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        # Every check of the user's input happens here, before any heavy work.
        if cfg.batch_size < 1 or cfg.epochs < 1 or cfg.image_size < 16 or cfg.grad_accum < 1:
            raise RtStyleError("--batch-size, --grad-accum and --epochs must be >= 1 and --image-size >= 16")
        if not 0.0 <= cfg.input_noise <= 64.0:
            raise RtStyleError(f"--input-noise must be between 0 and 64 gray levels, got {cfg.input_noise:g}")
        if cfg.noise_weight and not cfg.input_noise:
            raise RtStyleError("--noise-weight compares two noisy views: give --input-noise too")
        if cfg.noise_weight and (cfg.shift_weight or cfg.temporal_weight):
            raise RtStyleError("--noise-weight is a second view of the same crop: not with --shift-weight or "
                               "--temporal-weight (their second views get the noise too)")
        if cfg.shift_weight and cfg.temporal_weight:
            raise RtStyleError("--shift-weight and --temporal-weight are two ways to the same end: give one")
        smallest = motion.SHIFT_SPAN + 2 * motion.SHIFT_MARGIN + 16  # crops with some inside left to compare
        if cfg.shift_weight and cfg.image_size < smallest:
            raise RtStyleError(f"--shift-weight needs --image-size >= {smallest}")
        self.dist = dist_info()
        self.ranks = Ranks(self.dist)
        try:
            self.arch = get_preset(cfg.arch)
        except ValueError as e:
            raise RtStyleError(str(e)) from None
        self.out_dir = Path(cfg.save_model_dir)
        self.content_root = content_root(cfg.content_dir)
        self.files = find_content_images(cfg.content_dir)
        self.check_objective()
        self.init_model = None
        if cfg.init_from:
            self.init_model, _ = checkpoint.load_model(cfg.init_from)
            if self.init_model.config.name != self.arch.name:
                raise RtStyleError(f"--init-from {cfg.init_from}: its architecture is "
                                   f"{self.init_model.config.name!r}, not {self.arch.name!r} (--arch)")
            self.arch = self.init_model.config  # its exact config (e.g. an edge network from before a field)
        self.resume_state = None
        if cfg.resume == "auto" and not self._resume_path().exists():
            # the same command starts a job and restarts it (torchrun --max-restarts, a requeue)
            self._say(f"no checkpoint at {self._resume_path()} yet: starting from step 0")
        elif cfg.resume:
            self.resume_state = checkpoint.load_file(self._resume_path())
        self._writer_class = summary_writer_class() if cfg.log_dir else None
        self.log: TrainLog | None = None
        self.device = self.ranks.pick_device(cfg.device)
        self.precision = resolve_precision(cfg.precision, self.device)
        # channels-last (NHWC) is what the GPU's convolution kernels prefer; on a CPU it is no
        # faster for the style network (VGG16 runs channels-last everywhere: vgg.py)
        self.memory_format = torch.channels_last if self.device.type == "cuda" else torch.contiguous_format
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed training size: let cuDNN pick its fastest kernels
        self.ranks.join(self.device)  # only once every input has been checked
        self.load_objective()

        torch.manual_seed(cfg.seed)  # the same on every rank; DDP also broadcasts rank 0's weights
        self.model = build_model(self.arch)
        if self.init_model is not None:
            self.model.load_state_dict(self.init_model.state_dict())
        self.model = self.model.to(self.device, memory_format=self.memory_format)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.amp_dtype = autocast_dtype(self.precision)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")

        self.dataset = ContentImages(self.files, cfg.image_size, cfg.seed, cfg.max_scale)
        self.sampler = EpochSampler(len(self.dataset), cfg.seed, rank=self.dist.rank, world_size=self.dist.world_size)
        self.steps_per_epoch = math.ceil(len(self.sampler) / (cfg.batch_size * cfg.grad_accum))
        self.total_steps = self.steps_per_epoch * cfg.epochs
        if cfg.max_steps is not None:
            self.total_steps = min(self.total_steps, cfg.max_steps)
        self.step = 0
        self.skipped: set[int] = set()
        if self.resume_state is not None:
            self._restore(self.resume_state)
        self.ddp: torch.nn.Module = self.model  # what the loop calls: the DDP wrapper when distributed
        if self.dist.enabled:
            self.ddp = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    # -- the objective: what the network learns (distillation overrides these four) ----------
    def check_objective(self) -> None:
        """Check the objective's inputs (before any heavy work)."""
        if not self.cfg.style_image:
            raise RtStyleError("a style image is needed (--style-image)")
        self.style = load_style_image(self.cfg.style_image, self.cfg.style_size)

    def load_objective(self) -> None:
        """Load what the losses need onto the device: VGG16 and the style's Gram matrices."""
        # From the torch.hub cache, the first process of each node fetches the weights (a
        # first run downloads them) while the others wait, rather than all downloading at once.
        cfg = self.cfg
        first_on_node = self.dist.local_rank == 0 or cfg.vgg_weights is not None
        if not first_on_node:
            self.ranks.barrier()
        self.vgg = load_vgg16(cfg.vgg_weights, self.device)
        if first_on_node and self.dist.enabled and cfg.vgg_weights is None:
            self.ranks.barrier()
        with torch.no_grad():
            feats = self.vgg(self.style.to(self.device))
            self.style_grams = [gram_matrix(f) for f in feats]

    def compute_losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The named, weighted loss terms for inputs ``x`` and outputs ``y``; "total" is
        what is minimised. Johnson et al.'s perceptual loss."""
        cfg = self.cfg
        fy = self.vgg(y)
        with torch.no_grad():
            fx = self.vgg.content(x)  # the photo's relu2_2 only: its deeper layers are not used
        losses = {"content": cfg.content_weight * content_loss(fy.relu2_2, fx),
                  "style": cfg.style_weight * style_loss(fy, self.style_grams)}
        if cfg.tv_weight:
            losses["tv"] = cfg.tv_weight * total_variation(y)
        losses["total"] = sum(losses.values())
        return losses

    def objective_meta(self) -> dict[str, Any]:
        return {"style_image": Path(self.cfg.style_image).name}

    @torch.no_grad()
    def initial_colour(self) -> torch.Tensor:
        """The colour a fresh network's output starts at: the style image's mean."""
        return self.style.mean(dim=(0, 2, 3))

    @torch.no_grad()
    def _init_output_bias(self) -> None:
        """Data-dependent init: a fresh network starts at :meth:`initial_colour`, not at
        black (pixel values span 0-255: Adam would need ~10^5 small steps to get there)."""
        mean = self.initial_colour()
        last = [m for m in self.model.deconv3.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        repeat = last.bias.numel() // 3  # pixel shuffle: 3 x factor^2 channels, colour-major
        last.bias.copy_(mean.repeat_interleave(repeat).to(last.bias))

    def _say(self, msg: str) -> None:
        """Log from rank 0 only."""
        self.ranks.say(msg)

    def close(self) -> None:
        """Flush TensorBoard and leave the process group (``run()`` does this itself)."""
        if self.log is not None:
            self.log.close()
            self.log = None
        self.ranks.leave()

    # -- checkpoints --------------------------------------------------------------
    def _resume_path(self) -> Path:
        if self.cfg.resume == "auto":
            return self.out_dir / CHECKPOINT_FILENAME
        return Path(self.cfg.resume)

    def _meta(self) -> dict[str, Any]:
        args = {k: v for k, v in dataclasses.asdict(self.cfg).items() if k not in ("progress",)}
        return {
            **self.objective_meta(),
            "train_args": args,
            "steps": self.step,
            "epochs": self.step / self.steps_per_epoch,
            "content_images": len(self.files),
            "world_size": self.dist.world_size,
            "images_per_step": self.cfg.batch_size * self.cfg.grad_accum * self.dist.world_size,
            "precision": self.precision,
        }

    def training_state(self) -> dict[str, Any]:
        state = checkpoint.model_state(self.model, self._meta())
        state["training"] = {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "seed": self.cfg.seed,
            "batch_size": self.cfg.batch_size,
            "grad_accum": self.cfg.grad_accum,
            "world_size": self.dist.world_size,
            "dataset_size": len(self.dataset),
            "precision": self.precision,
        }
        return state

    def save_checkpoint(self) -> Path:
        return checkpoint.save(self.training_state(), self.out_dir / CHECKPOINT_FILENAME)

    def _checkpoint(self) -> Path:
        """Rank 0 writes the checkpoint (atomically); the others wait until it is complete."""
        if self.dist.is_main:
            self.save_checkpoint()
        self.ranks.barrier()
        return self.out_dir / CHECKPOINT_FILENAME

    def _restore(self, state: dict[str, Any]) -> None:
        source = str(self._resume_path())
        if not isinstance(state, dict) or "training" not in state:
            raise RtStyleError(f"{source} is not a training checkpoint (no optimizer state to resume from)")
        if state["arch"] != self.arch.to_dict():
            raise RtStyleError(f"{source} was trained with architecture {state['arch'].get('name')!r}, not {self.arch.name!r}")
        t = state["training"]
        if (t.get("batch_size") != self.cfg.batch_size or t.get("dataset_size") != len(self.dataset)
                or t.get("grad_accum", 1) != self.cfg.grad_accum or t.get("world_size", 1) != self.dist.world_size):
            self._say("warning: batch size, --grad-accum, world size or data set changed since the checkpoint; "
                      "the data order will differ")
        if t.get("precision", self.precision) != self.precision:
            self._say(f"note: {source} was trained in {t['precision']}, this run continues in {self.precision} "
                      "(another machine, or --precision)")
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(t["optimizer"])
        self.scaler.load_state_dict(t["scaler"])
        self.step = int(t["step"])

    # -- the loop -----------------------------------------------------------------
    def _loader(self, epoch: int, start_step: int) -> DataLoader:
        self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch, start=start_step * self.cfg.batch_size * self.cfg.grad_accum)
        return DataLoader(
            self.dataset, batch_size=self.cfg.batch_size, sampler=self.sampler, collate_fn=collate,
            num_workers=self.cfg.workers, pin_memory=self.device.type == "cuda",
            persistent_workers=False, worker_init_fn=ignore_stop_signals if self.cfg.workers else None,
        )

    def train_step(self, x: torch.Tensor | list[torch.Tensor]) -> dict[str, float]:
        """One optimizer step over one batch or a list of micro-batches (gradient
        accumulation). Each micro-batch's loss (a mean over its images) is weighted by its
        share of the step's images, so the gradient is that of the mean loss over all of
        them, as if they had been one batch; under DDP, the ranks' gradients are averaged
        (all-reduced once, after the last micro-batch: the others run under no_sync)."""
        batches = [x] if isinstance(x, torch.Tensor) else list(x)
        n_images = sum(b.shape[0] for b in batches)
        self.optimizer.zero_grad(set_to_none=True)
        totals: dict[str, torch.Tensor] = {}
        for i, x in enumerate(batches):
            x = x.to(self.device, non_blocking=True, memory_format=self.memory_format)
            last = i == len(batches) - 1
            sync = self.ddp.no_sync() if self.dist.enabled and not last else contextlib.nullcontext()
            autocast = (torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype
                        else contextlib.nullcontext())
            share = x.shape[0] / n_images
            with sync:
                with autocast:
                    losses = self._step_losses(x, micro=i)
                loss = losses["total"]
                self.scaler.scale(loss * share if share != 1 else loss).backward()
            for k, v in losses.items():
                totals[k] = totals.get(k, 0) + v.detach().float() * share
        for group in self.optimizer.param_groups:
            group["lr"] = self.current_lr()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        values = torch.stack(list(totals.values())).tolist()  # one device sync for all of them
        return dict(zip(totals, values, strict=True))

    def interrupted(self) -> None:
        """Ctrl-C or SIGTERM stopped the loop after a whole step: checkpoint, then raise."""
        path = self._checkpoint()
        self._say(f"interrupted at step {self.step}: checkpoint written to {path} (continue with --resume {path})")
        raise KeyboardInterrupt

    def after_step(self) -> None:
        """Called after each optimizer step (``self.step`` counted): a subclass may change
        ``total_steps`` here (the loop ends when ``step`` reaches it) or raise to abort."""

    def current_lr(self) -> float:
        """The learning rate of the next step: constant, or a cosine from lr down to lr/100
        over total_steps (a function of the step alone, so a resumed run follows the same curve)."""
        cfg = self.cfg
        if cfg.lr_schedule != "cosine" or self.total_steps <= 1:
            return cfg.lr
        t = min(self.step / (self.total_steps - 1), 1.0)
        return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))

    def _step_losses(self, x: torch.Tensor, micro: int = 0) -> dict[str, torch.Tensor]:
        """:meth:`compute_losses` on ``x``, plus with ``temporal_weight`` the temporal loss
        of :mod:`rtstyle.motion`: a second view of each image by a random motion, stylized in
        the same forward pass (one call, as DDP wants), should be the warped first output.
        With ``shift_weight`` instead: two crops of each image, the second moved by whole
        pixels (:func:`rtstyle.motion.shift_crops`), the losses on the first, and the shift
        loss between the two outputs. With ``input_noise``, the network sees each view with
        fresh sensor noise (:func:`rtstyle.motion.sensor_noise`) while the losses compare
        with the clean images; with ``noise_weight`` too, two views of each crop, each with
        its own noise, must give the same output (their mean squared difference): noise is not
        content, so it must not become strokes.
        The motion and the noise depend only on (seed, step, micro-batch, rank), so resuming is exact."""
        w = self.cfg.temporal_weight
        g = torch.Generator().manual_seed(
            (self.cfg.seed * 1_000_003 + self.step * 1009 + micro * 31 + self.dist.rank) % 2**63)

        def seen(v: torch.Tensor) -> torch.Tensor:  # what the network sees of a view
            return motion.sensor_noise(v, g, self.cfg.input_noise) if self.cfg.input_noise else v

        if self.cfg.shift_weight:  # two crops, one shifted by whole pixels: the losses on the first
            x1, x2, offsets = motion.shift_crops(x, g)
            y1, y2 = self.ddp(torch.cat([seen(x1), seen(x2)])).chunk(2)
            losses = self.compute_losses(x1, y1)
            shift = self.cfg.shift_weight * motion.shift_loss(y1, y2, offsets)
            losses["total"] = losses["total"] + shift
            losses["shift"] = shift
            return losses
        if self.cfg.noise_weight:  # two views of each crop, each with its own noise
            y1, y2 = self.ddp(torch.cat([seen(x), seen(x)])).chunk(2)
            losses = self.compute_losses(x, y1)
            # mean squared difference of the two outputs, in the warping error's units
            noise = self.cfg.noise_weight * ((y1.float() - y2.float()) ** 2).mean() / 255.0**2
            losses["total"] = losses["total"] + noise
            losses["noise"] = noise
            return losses
        if not w:
            return self.compute_losses(x, self.ddp(seen(x)))
        pair = motion.make_pair(x, g)
        y, y2 = self.ddp(torch.cat([seen(x), seen(pair.x2)])).chunk(2)
        losses = self.compute_losses(x, y)
        temporal = w * motion.temporal_loss(y2, motion.warp(y, pair.grid), pair.mask, pair.luminance)
        losses["total"] = losses["total"] + temporal
        losses["temporal"] = temporal
        return losses

    def run(self, on_step: Callable[[int, dict[str, float]], None] | None = None) -> Path:
        if self.step == 0 and self.init_model is None:  # not when resuming or starting from a model
            self._init_output_bias()
        try:
            return self._run(on_step)
        finally:
            self.close()

    def _describe(self) -> str:
        cfg, world = self.cfg, self.dist.world_size
        where = (f"{world} processes ({self.ranks.backend})" if self.dist.enabled else "1 process (not distributed)")
        batch = f"batch {cfg.batch_size}"
        if world > 1 or cfg.grad_accum > 1:
            batch += (f" per process x {world} process{'es' if world > 1 else ''} x {cfg.grad_accum} accumulated"
                      f" = {cfg.batch_size * world * cfg.grad_accum} images per step")
        images = f"{len(self.files)} images"
        if self.content_root != Path(cfg.content_dir):
            images += f" (COCO layout: {self.content_root})"
        return (f"training {self.arch.name} on {images}, {self.total_steps} steps ({batch}, {cfg.image_size}px) "
                f"on {self.device} in {self.precision}, world size {world}: {where}"
                + (f", resuming at step {self.step}" if self.step else ""))

    def _run(self, on_step: Callable[[int, dict[str, float]], None] | None) -> Path:
        cfg = self.cfg
        self._say(self._describe())
        if self._writer_class is not None and self.dist.is_main:
            self.log = TrainLog(self._writer_class, cfg.log_dir, self.step, cfg, self._describe(), self.files,
                                cfg.image_size, cfg.seed)
        bar = tqdm(total=self.total_steps, initial=min(self.step, self.total_steps), unit="step",
                   disable=not (cfg.progress and self.dist.is_main), dynamic_ncols=True, file=sys.stderr)
        t0, seen = time.perf_counter(), 0
        stopping = False
        with _stop_on_interrupt(self._say) as stop:
            while self.step < self.total_steps and not stopping:
                epoch, start_step = divmod(self.step, self.steps_per_epoch)
                loader = self._loader(epoch, start_step)
                remaining, pending = len(loader), []  # micro-batches left in this epoch; this step's
                for images, bad in loader:
                    pending.append(images)
                    self.skipped.update(bad)
                    remaining -= 1
                    if len(pending) < cfg.grad_accum and remaining > 0:
                        continue
                    losses, stopping = self.ranks.reduce(self.train_step(pending), stop.is_set())
                    if not math.isfinite(losses["total"]):
                        raise RtStyleError(f"training diverged at step {self.step} (loss is {losses['total']}); "
                                           "try a lower --lr")
                    self.step += 1
                    self.after_step()
                    seen += sum(b.shape[0] for b in pending) * self.dist.world_size
                    pending = []
                    ips = seen / max(time.perf_counter() - t0, 1e-9)
                    if bar.total != self.total_steps:  # a run on a clock re-plans its length (rtstyle learn)
                        bar.total = self.total_steps
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items() if k != "total"},
                                    img_s=f"{ips:.1f}", refresh=False)
                    if on_step:
                        on_step(self.step, losses)
                    if cfg.log_interval and self.step % cfg.log_interval == 0:
                        self._say(f"step {self.step}/{self.total_steps} epoch {epoch + 1}/{cfg.epochs} "
                                  + " ".join(f"{k} {v:.4g}" for k, v in losses.items()) + f" {ips:.1f} img/s")
                        if self.log is not None:
                            self.log.scalars(self.step, losses, self.optimizer.param_groups[0]["lr"], ips, epoch)
                    if (cfg.sample_interval and self.step % cfg.sample_interval == 0
                            and self.step < self.total_steps):
                        self._log_samples()
                    if cfg.checkpoint_interval and self.step % cfg.checkpoint_interval == 0:
                        self._checkpoint()
                    if self.step >= self.total_steps or stopping:
                        break
        if stopping:
            bar.close()
            self.interrupted()
        bar.close()
        self.skipped = self.ranks.gather(self.skipped)
        if self.skipped:
            self._say(f"skipped {len(self.skipped)} unreadable or blank content image(s)"
                      + (" (all ranks)" if self.dist.enabled else ""))
        self._log_samples()
        self._checkpoint()
        model_path = self.out_dir / MODEL_FILENAME
        if self.dist.is_main:
            checkpoint.save_model(self.model, model_path, self._meta())
            log(f"model written to {model_path}")
        self.ranks.barrier()
        return model_path

    def _log_samples(self) -> None:
        if self.log is not None:
            self.log.stylized(self.step, self.model, self.device, self.memory_format)


@contextlib.contextmanager
def _stop_on_interrupt(log: Callable[[str], None] = log):
    """The first Ctrl-C (SIGINT) or a SIGTERM (preemption) asks the loop to stop after
    the current step (so the checkpoint holds a whole step); a second Ctrl-C interrupts
    at once. A SIGTERM never does: the launcher's own deadline ends in SIGKILL anyway
    (torchrun forwards either signal to every rank and waits 30 s, --shutdown-timeout)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if stop.is_set():
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        stop.set()
        log("stopping after this step" + (" (Ctrl-C again to abort without a checkpoint)"
                                          if signum == signal.SIGINT else f" (signal {signal.Signals(signum).name})"))

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def train(cfg: TrainConfig, **kwargs) -> Path:
    return Trainer(cfg).run(**kwargs)
