"""Training data: content images from a folder, the style image, and a sampler whose
order depends only on (seed, epoch), so that training resumes exactly."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .errors import RtStyleError
from .media import IMAGE_EXTS, read_image, resize_shorter

# A COCO download unpacked as it comes (ROOT/train2017, ROOT/val2017, ROOT/annotations) or
# with an images/ level: pointing --content-dir at ROOT trains on the train split only.
COCO_TRAIN_SPLITS = ("train2017", "train2014")


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 RGB -> 3xHxW float32 in [0, 255] (the style network's range)."""
    return torch.from_numpy(np.array(frame, dtype=np.float32)).permute(2, 0, 1)


def content_root(folder: str | os.PathLike) -> Path:
    """The folder whose images are trained on: ``folder`` itself, or its COCO train split
    (``train2017``/``train2014``, also under ``images/``) when it is a COCO root."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RtStyleError(f"content folder not found: {folder}")
    for sub in ("", "images"):
        for split in COCO_TRAIN_SPLITS:
            if (folder / sub / split).is_dir():
                return folder / sub / split
    return folder


def scan_images(folder: str | os.PathLike) -> list[str]:
    """Image files under ``folder`` (by extension, any case), recursively, as path strings
    in a stable order (that of their path components). One ``os.scandir`` walk: no file
    is opened or stat'ed beyond what the directory listing gives, so the 118k images of
    COCO train2017 are listed in well under a second. Hidden files and folders are
    skipped, symlinked folders are not followed, unreadable folders are skipped."""
    found: list[str] = []
    stack = [os.fspath(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for e in entries:
                    if e.name.startswith("."):
                        continue
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif os.path.splitext(e.name)[1].lower() in IMAGE_EXTS:
                        found.append(e.path)
        except OSError:
            continue
    found.sort(key=lambda p: p.replace(os.sep, "\0"))  # == sorting by path components
    return found


def find_content_images(folder: str | os.PathLike) -> list[str]:
    root = content_root(folder)
    files = scan_images(root)
    if not files:
        raise RtStyleError(f"no JPEG or PNG images found under {root}")
    return files


BLANK_RANGE = 2  # a crop whose pixels all lie within this many levels of each other is blank


class BlankImage(RtStyleError):
    """A training crop of a single colour. Nothing to learn from, and harmful: with zero
    variance, every instance norm of the network multiplies the gradient by 1/sqrt(eps)
    (~316); through the classic network's 15 the gradients reach ~1e27 and overflow to NaN
    (a black frame made the original train.py command diverge at step 19), and even in
    `edge` one such step inflates Adam's second moment for hundreds of steps."""


class ContentImages(Dataset):
    """Every image under a folder, resized so its shorter side is ``image_size`` (times a
    random factor in [1, ``max_scale``]: crops at several scales) and cropped to a square
    at a random place, randomly flipped. The randomness of sample
    ``i`` in epoch ``e`` depends only on (seed, e, i). Unreadable files, and crops of a
    single colour (a clip's black first frame, a fade: see :class:`BlankImage`), are
    replaced by the next usable one and reported in the batch, so the loop can count them.

    Built for large folders: nothing is opened up front (each image is decoded when its
    sample is asked for, in a DataLoader worker), and the paths are kept in one numpy
    array rather than a list of Python objects, so forked workers do not copy the list of
    a 118k-image data set page by page as they touch its reference counts."""

    def __init__(self, files: list[str | os.PathLike], image_size: int = 256, seed: int = 0,
                 max_scale: float = 1.0):
        self.files = np.array([os.fspath(f) for f in files], dtype=str)
        self.image_size = int(image_size)
        self.max_scale = float(max_scale)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, index: int) -> torch.Tensor:
        rng = random.Random(f"{self.seed}:{self.epoch}:{index}")
        size = self.image_size
        if self.max_scale > 1.0:
            size = round(size * rng.uniform(1.0, self.max_scale))
        frame = resize_shorter(read_image(str(self.files[index])), size)
        h, w = frame.shape[:2]
        top, left = rng.randint(0, h - self.image_size), rng.randint(0, w - self.image_size)
        frame = frame[top : top + self.image_size, left : left + self.image_size]
        if int(frame.max()) - int(frame.min()) <= BLANK_RANGE:
            raise BlankImage(f"{self.files[index]}: a single colour")
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
        raise RtStyleError("none of the content images could be read (or every one is a single colour)")


def collate(samples: list[tuple[torch.Tensor, list[int]]]) -> tuple[torch.Tensor, list[int]]:
    images = torch.stack([s[0] for s in samples])
    bad = [i for s in samples for i in s[1]]
    return images, bad


def ignore_stop_signals(worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: Ctrl-C and SIGTERM are the training process's to
    handle (finish the step, write a checkpoint). torchrun sends them to each rank's whole
    process group, workers included; a worker killed by them would make the DataLoader
    abort the step in progress. Workers still exit when their parent does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class EpochSampler(Sampler[int]):
    """A permutation of the data set fixed by (seed, epoch), sharded over ``world_size``
    ranks like DistributedSampler, that can start part-way through an epoch.

    It keeps ``torch.utils.data.DistributedSampler``'s contract (``set_epoch`` before each
    epoch; rank ``r`` gets every ``world_size``-th index of the permutation; the shards are
    padded with the permutation's first indices to equal length, so every rank runs the
    same number of steps) and adds ``start``: the position in this rank's shard where the
    epoch (re)starts, which is what makes ``--resume`` exact under DDP."""

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
