"""TensorBoard for a training run (``--log-dir``, rank 0): the losses, the learning rate,
the speed, and a few fixed crops stylized as the style develops."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from .data import ContentImages
from .errors import RtStyleError


def summary_writer_class():
    """TensorBoard's ``SummaryWriter``, or a clear error where TensorBoard is missing
    (checked before any heavy work)."""
    try:
        import tensorboard  # noqa: F401  (torch.utils.tensorboard is a thin layer over it)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RtStyleError("--log-dir needs TensorBoard: pip install 'rtstyle[tensorboard]' "
                           "(or pip install tensorboard)") from None
    return SummaryWriter


class TrainLog:
    """Event files in ``log_dir`` from ``step`` on: a run resumed at step S hides what a
    preempted run logged after S. ``config``: the run's settings (a dataclass), written
    with ``world`` (how the run is laid out) as text; the sample crops are taken from
    ``files`` at ``image_size`` with ``seed``."""

    def __init__(self, writer_class, log_dir: str, step: int, config: Any, world: str,
                 files: list[Path], image_size: int, seed: int):
        self.writer = writer_class(log_dir=log_dir, purge_step=step + 1 if step else None)
        args = {k: v for k, v in dataclasses.asdict(config).items() if k != "progress"}
        self.writer.add_text("config", "\n".join(f"    {k}: {v}" for k, v in args.items()), step)
        self.writer.add_text("world", world, step)
        # a few fixed crops, spread over the data set, to watch the style develop
        picks = sorted({i * len(files) // 4 for i in range(4)})
        samples = ContentImages([files[i] for i in picks], image_size, seed)
        self.samples = torch.stack([samples[i][0] for i in range(len(samples))])
        self.writer.add_images("samples/content", self.samples / 255.0, step)

    def scalars(self, step: int, losses: dict[str, float], lr: float, ips: float, epoch: int) -> None:
        for k, v in losses.items():
            self.writer.add_scalar(f"loss/{k}", v, step)
        self.writer.add_scalar("lr", lr, step)
        self.writer.add_scalar("images_per_s", ips, step)
        self.writer.add_scalar("epoch", epoch + 1, step)

    @torch.no_grad()
    def stylized(self, step: int, model: torch.nn.Module, device: torch.device,
                 memory_format: torch.memory_format) -> None:
        """The sample crops through ``model`` (in eval mode, put back as it was)."""
        was_training = model.training
        model.eval()
        y = model(self.samples.to(device, memory_format=memory_format))
        model.train(was_training)
        self.writer.add_images("samples/stylized", y.float().clamp(0, 255).cpu() / 255.0, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
