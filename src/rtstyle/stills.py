"""Pictures that are not a video file, each on its way from source to sink: a photo, an
animated image (a sticker), a folder of photos, and a folder of frames taken as one clip
(``--sequence``). Video files and cameras: :mod:`rtstyle.pipeline`, whose output checks
these share."""

from __future__ import annotations

import contextlib
import re
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from .errors import RtStyleError
from .media import (
    ANIMATED_OUTPUT_EXTS,
    IMAGE_EXTS,
    IMAGE_OUTPUT_EXTS,
    VIDEO_EXTS,
    VIDEO_OUTPUT_EXTS,
    VideoWriter,
    frame_count,
    image_tags,
    list_images,
    picture_gif,
    read_animation,
    read_image_with_alpha,
    resize_shorter,
    resize_to,
    write_animation,
    write_image,
)
from .phaselock import PhaseLock
from .pipeline import FrameFilter, _in_folder, _writable, check_memory, check_output_ext, run_frames
from .progress import progress_bar
from .stylizer import Stylizer


def _alpha_at(alpha: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """A frame's transparency at the size of its stylized frame (``shape``: after
    --image-size), or None where it is opaque."""
    if alpha is None or alpha.shape == shape[:2]:
        return alpha
    return resize_to(alpha, shape[:2], enlarge=cv2.INTER_LINEAR)


def _stylize_photo(stylizer: Stylizer, src: Path, dst: Path,
                   postprocess: FrameFilter | None = None) -> tuple[np.ndarray, float, int]:
    """Stylize one image file into ``dst``: its transparency (a logo, a sticker), its EXIF
    (date, place, camera) and colour profile kept where ``dst``'s format has them; an
    animated one frame by frame (:func:`_stylize_animation`, ``postprocess`` as for
    :func:`~rtstyle.pipeline.stylize_video`). The stylized (first) frame, the network's
    seconds and the number of frames."""
    # (a GIF comes here if picture_gif: a still one is written as any picture, unless into a GIF)
    if frame_count(src) > 1 or (src.suffix.lower() == ".gif" and dst.suffix.lower() not in IMAGE_OUTPUT_EXTS):
        return _stylize_animation(stylizer, src, dst, postprocess)
    check_output_ext(dst, IMAGE_OUTPUT_EXTS, "an image file")
    frame, alpha = read_image_with_alpha(src)
    frame = resize_shorter(frame, stylizer.image_size)
    check_memory(stylizer, *frame.shape[:2], src)
    t0 = time.perf_counter()
    out = stylizer.stylize_as_is(frame)
    seconds = time.perf_counter() - t0
    write_image(dst, out, _alpha_at(alpha, out.shape), image_tags(src))
    return out, seconds, 1


def _stylize_animation(stylizer: Stylizer, src: Path, dst: Path,
                       postprocess: FrameFilter | None = None) -> tuple[np.ndarray, float, int]:
    """An animated WebP or APNG, or a transparent GIF (a sticker), every frame stylized and
    steadied by ``postprocess`` (started afresh), each kept at its own duration, with its
    transparency and loop count: into an animated WebP, APNG or GIF, or a video (MP4, ...:
    :class:`~rtstyle.media.VideoWriter`, each frame at its time, no transparency). Other
    image formats are refused: they would keep one frame."""
    suffix = dst.suffix.lower()
    if suffix not in ANIMATED_OUTPUT_EXTS | VIDEO_OUTPUT_EXTS:
        raise RtStyleError(f"{src} is animated: write it as an animation "
                           f"({', '.join(sorted(ANIMATED_OUTPUT_EXTS | VIDEO_OUTPUT_EXTS))}), not {dst.suffix or dst}")
    frames, loop = read_animation(src)
    if hasattr(postprocess, "reset"):
        postprocess.reset()
    outs, alphas, durations, seconds = [], [], [], 0.0
    for frame, alpha, duration in frames:
        frame = resize_shorter(frame, stylizer.image_size, multiple=1 if suffix in ANIMATED_OUTPUT_EXTS else 2)
        if not outs:
            check_memory(stylizer, *frame.shape[:2], src)
        t0 = time.perf_counter()
        out = stylizer.stylize_as_is(frame)
        seconds += time.perf_counter() - t0
        outs.append(postprocess(frame, out) if postprocess is not None else out)
        alphas.append(_alpha_at(alpha, out.shape))
        durations.append(duration)
    if suffix in ANIMATED_OUTPUT_EXTS:
        write_animation(dst, outs, durations, loop, alphas, image_tags(src))
    else:
        with VideoWriter(dst, fps=1000 / statistics.median(durations)) as writer:
            for out, at in zip(outs, np.cumsum([0] + durations[:-1]), strict=True):
                writer.write(out, Fraction(int(at), 1000))
    return outs[0], seconds, len(outs)


def stylize_image_file(stylizer: Stylizer, src: Path, dst: Path,
                       postprocess: FrameFilter | None = None) -> dict[str, Any]:
    """One image file (an animated one: every frame, ``postprocess`` between the network
    and the output, as for :func:`~rtstyle.pipeline.stylize_video`)."""
    dst = _in_folder(src, dst)
    out, seconds, frames = _stylize_photo(stylizer, src, dst, postprocess)
    return {"input": str(src), "output": str(dst), "kind": "image" if frames == 1 else "animated image",
            "frames": frames, "size": [out.shape[1], out.shape[0]], "seconds": round(seconds, 4)}


def stylize_folder(stylizer: Stylizer, src: Path, dst: Path, progress: bool = True,
                   postprocess: FrameFilter | None = None) -> dict[str, Any]:
    found = list_images(src, recursive=True, exts=IMAGE_EXTS | VIDEO_EXTS)  # one walk of the folder
    # (a GIF of one frame, a logo, or a transparent one, a sticker, is a picture: picture_gif)
    files = [f for f in found if f.suffix.lower() in IMAGE_EXTS or (f.suffix.lower() == ".gif" and picture_gif(f))]
    pictures = set(files)
    videos = [f for f in found if f not in pictures]  # a camera roll has some: not stylized here
    one_by_one = f"{len(videos)} video{'s' * (len(videos) != 1)} there: stylize each with --input FILE"
    if not files:
        raise RtStyleError(f"no images found under {src}" + (f" ({one_by_one})" if videos else ""))
    if videos:
        tqdm.write(f"rtstyle: note: the images only; {one_by_one}", file=sys.stderr)
    if dst.exists() and not dst.is_dir():
        raise RtStyleError(f"output {dst} must be a folder when the input is a folder")
    failed: list[str] = []
    t0 = time.perf_counter()
    for path in progress_bar(progress, iterable=files, unit="img", desc="stylizing"):
        target = dst / _writable(path.relative_to(src))
        try:
            _stylize_photo(stylizer, path, target, postprocess)
        except RtStyleError as e:
            tqdm.write(f"rtstyle: skipped: {e}", file=sys.stderr)
            failed.append(str(path))
    summary = {"input": str(src), "output": str(dst), "kind": "folder", "images": len(files) - len(failed),
               "failed": failed, "videos_left_out": [str(v) for v in videos],
               "seconds": round(time.perf_counter() - t0, 3)}
    if len(failed) == len(files):
        raise RtStyleError(f"none of the {len(files)} images under {src} could be read")
    return summary


def _natural_key(path: Path) -> list:
    """Sort key: the numbers in a name compared as numbers (frame_2 before frame_10)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def _readable(files: list[Path], failed: list[str]):
    """(path, RGB frame, alpha or None) of each of ``files`` that can be read; the others
    said on stderr and added to ``failed``."""
    for path in files:
        try:
            frame, alpha = read_image_with_alpha(path)
        except RtStyleError as e:
            tqdm.write(f"rtstyle: skipped: {e}", file=sys.stderr)
            failed.append(str(path))
            continue
        yield path, frame, alpha


def stylize_sequence(stylizer: Stylizer, src: Path, dst: Path, progress: bool = True,
                     postprocess: FrameFilter | None = None, fps: float = 25,
                     phase_lock: PhaseLock | None = None) -> dict[str, Any]:
    """A folder whose images are the frames of one clip (a render's or an editor's export),
    in name order, numbers compared as numbers: each stylized and steadied by
    ``postprocess`` as a video's frames are, into the folder ``dst`` (the same names, each
    frame's transparency, EXIF and colour profile kept, as for :func:`stylize_folder`) or,
    where ``dst`` is a video file, into that video at ``fps``; ``phase_lock`` as for
    :func:`~rtstyle.pipeline.stylize_video`. A frame that cannot be read
    (a render interrupted mid-file) is skipped with a note, as :func:`stylize_folder` skips
    an image, and listed in the summary's ``failed``."""
    files = sorted(list_images(src, recursive=False), key=_natural_key)
    if not files:
        raise RtStyleError(f"no images found in {src}")
    to_video = dst.suffix.lower() in VIDEO_OUTPUT_EXTS
    if not to_video and dst.exists() and not dst.is_dir():
        raise RtStyleError(f"output {dst} must be a folder or a video file when the input is a sequence")
    t0 = time.perf_counter()
    failed: list[str] = []
    multiple = 2 if to_video else 1

    def frames():
        for i, (path, frame, alpha) in enumerate(_readable(files, failed)):
            frame = resize_shorter(frame, stylizer.image_size, multiple)
            if i == 0:  # (before the network sees a frame or anything is written)
                check_memory(stylizer, *frame.shape[:2], src)
            yield frame, (path, alpha)

    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(VideoWriter(dst, fps=fps)) if to_video else None

        def sink(out: np.ndarray, what: tuple[Path, np.ndarray | None]) -> None:
            path, alpha = what
            if writer is not None:
                writer.write(out)
                return
            write_image(dst / _writable(path.relative_to(src)), out, _alpha_at(alpha, out.shape), image_tags(path))

        done = run_frames(stylizer, frames(), sink, postprocess=postprocess, phase_lock=phase_lock, progress=progress,
                          total=len(files))
        if not done:
            raise RtStyleError(f"none of the {len(files)} frames in {src} could be read")
    return {"input": str(src), "output": str(dst), "kind": "sequence", "frames": done,
            "failed": failed, "fps": fps if to_video else None, "seconds": round(time.perf_counter() - t0, 3),
            "phase_lock_moves": phase_lock.moves if phase_lock is not None else None}
