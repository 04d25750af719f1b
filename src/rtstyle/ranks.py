"""The training processes of one job, as the training loop sees them: one process, or
many under ``torchrun``.

When the launcher's environment says so (``WORLD_SIZE`` > 1), every process joins a
``torch.distributed`` process group (NCCL on CUDA, gloo on CPU); :class:`Ranks` is what
they do together: wait for each other, agree on the losses and on when to stop, and let
rank 0 alone speak.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from tqdm import tqdm

from .devices import resolve_device
from .errors import RtStyleError


def log(msg: str) -> None:
    """A line on stderr that leaves the progress bar in place."""
    tqdm.write(msg, file=sys.stderr)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a ``torchrun`` job (from the env:// variables)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info() -> DistInfo:
    try:
        return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)),
                        int(os.environ.get("WORLD_SIZE", 1)))
    except ValueError:
        raise RtStyleError("RANK, LOCAL_RANK and WORLD_SIZE must be whole numbers (they are set by torchrun)") from None


class Ranks:
    """This process among the job's (``info``); every call is a no-op, or the local
    answer, when the job is one process."""

    def __init__(self, info: DistInfo):
        self.info = info
        self.backend: str | None = None  # "nccl" or "gloo" once joined
        self.device: torch.device | None = None

    def pick_device(self, name: str) -> torch.device:
        """The device for ``--device name``: under torchrun, CUDA's GPU of this local rank."""
        device = resolve_device(name)
        if self.info.enabled and device.type == "cuda" and device.index is None:
            count = torch.cuda.device_count()
            if self.info.local_rank >= count:
                raise RtStyleError(f"local rank {self.info.local_rank} has no GPU of its own ({count} visible): "
                                   "start at most one process per GPU (torchrun --nproc_per_node)")
            device = torch.device("cuda", self.info.local_rank)
        if self.info.enabled and device.type == "mps":
            raise RtStyleError("distributed training on Apple MPS is not supported; use --device cpu or CUDA GPUs")
        return device

    def join(self, device: torch.device) -> None:
        """Join the job's process group (once every input has been checked)."""
        if not self.info.enabled:
            return
        if not dist.is_available():
            raise RtStyleError("this PyTorch build has no torch.distributed; train without torchrun")
        self.device = device
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group(backend=self.backend)

    def barrier(self) -> None:
        if self.info.enabled:
            if self.backend == "nccl":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()

    def say(self, msg: str) -> None:
        """Log from rank 0 only."""
        if self.info.is_main:
            log(msg)

    def reduce(self, losses: dict[str, float], stop: bool) -> tuple[dict[str, float], bool]:
        """Losses averaged over the ranks, and whether any rank was asked to stop: one
        small all-reduce a step, so that every rank logs the same numbers and all stop
        after the same step (a rank that stopped alone would hang the others)."""
        if not self.info.enabled:
            return losses, stop
        t = torch.tensor([*losses.values(), float(stop)], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        values = t.tolist()
        return {k: v / self.info.world_size for k, v in zip(losses, values[:-1], strict=True)}, values[-1] > 0

    def gather(self, items: set[int]) -> set[int]:
        """The union of every rank's ``items``."""
        if not self.info.enabled:
            return set(items)
        every: list[Any] = [None] * self.info.world_size
        dist.all_gather_object(every, sorted(items))
        return {i for part in every for i in part}

    def leave(self) -> None:
        """Leave the process group (a no-op if not in one)."""
        if self.info.enabled and dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
