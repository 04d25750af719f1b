"""Training data: content images from a folder, the style image, and a sampler whose
order depends only on (seed, epoch), so that training resumes exactly."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .errors import RtStyleError
from .media import list_images, read_image, resize_shorter


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 RGB -> 3xHxW float32 in [0, 255] (the style network's range)."""
    return torch.from_numpy(np.array(frame, dtype=np.float32)).permute(2, 0, 1)


def find_content_images(folder: str | os.PathLike) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise RtStyleError(f"content folder not found: {folder}")
    files = list_images(folder, recursive=True)
    if not files:
        raise RtStyleError(f"no JPEG or PNG images found under {folder}")
    return files


class ContentImages(Dataset):
    """Every image under a folder, resized so its shorter side is ``image_size`` and
    cropped to a square at a random place, randomly flipped. The randomness of sample
    ``i`` in epoch ``e`` depends only on (seed, e, i). Unreadable files are replaced by
    the next readable one and reported in the batch, so the loop can count them."""

    def __init__(self, files: list[Path], image_size: int = 256, seed: int = 0):
        self.files = list(files)
        self.image_size = int(image_size)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, index: int) -> torch.Tensor:
        rng = random.Random(f"{self.seed}:{self.epoch}:{index}")
        frame = resize_shorter(read_image(self.files[index]), self.image_size)
        h, w = frame.shape[:2]
        top, left = rng.randint(0, h - self.image_size), rng.randint(0, w - self.image_size)
        frame = frame[top : top + self.image_size, left : left + self.image_size]
        if rng.random() < 0.5:
            frame = frame[:, ::-1]
        return to_tensor(frame)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, list[int]]:
        bad: list[int] = []
        for offset in range(len(self.files)):
            i = (index + offset) % len(self.files)
            try:
                return self._load(i), bad
            except RtStyleError:
                bad.append(i)
        raise RtStyleError("none of the content images could be read")


def collate(samples: list[tuple[torch.Tensor, list[int]]]) -> tuple[torch.Tensor, list[int]]:
    images = torch.stack([s[0] for s in samples])
    bad = [i for s in samples for i in s[1]]
    return images, bad


class EpochSampler(Sampler[int]):
    """A permutation of the data set fixed by (seed, epoch), sharded over ``world_size``
    ranks like DistributedSampler, that can start part-way through an epoch."""

    def __init__(self, size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.size, self.seed, self.rank, self.world_size = size, seed, rank, world_size
        self.epoch = 0
        self.start = 0  # index into this rank's shard at which the epoch (re)starts
        self.per_rank = -(-size // world_size)  # ceil: shards padded to equal length

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = int(epoch), int(start)

    def _shard(self) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=g).tolist()
        order += order[: self.per_rank * self.world_size - self.size]  # pad to equal shards
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._shard()[self.start :])

    def __len__(self) -> int:
        return self.per_rank - self.start


def load_style_image(path: str | os.PathLike, size: int | None = None) -> torch.Tensor:
    """The style image as a 1x3xHxW tensor in [0, 255], shorter side resized to ``size``."""
    path = Path(path)
    if not path.is_file():
        raise RtStyleError(f"style image not found: {path}")
    return to_tensor(resize_shorter(read_image(path), size)).unsqueeze(0)
