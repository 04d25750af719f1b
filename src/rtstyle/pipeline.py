"""A frame's journey: source -> resize -> stylize -> sink, for a video file or a camera
(pictures: :mod:`rtstyle.stills`), and the checks of an output both share: where it goes,
that it does not replace its input, that the network's memory fits.

Each function returns a small summary dict (what the CLI prints with ``--json``).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from tqdm import tqdm

from .errors import RtStyleError
from .media import (
    ANIMATED_OUTPUT_EXTS,
    IMAGE_EXTS,
    IMAGE_OUTPUT_EXTS,
    VIDEO_OUTPUT_EXTS,
    Camera,
    VideoReader,
    VideoWriter,
    Window,
    display_available,
    draw_fps,
    resize_shorter,
    shorter_size,
)
from .phaselock import PhaseLock
from .progress import progress_bar
from .queues import BackgroundSink, prefetch
from .stylizer import Stylizer
from .sysinfo import available_memory_mb, peak_rss_mb

#: A per-frame step after the network: ``(source frame, stylized frame) -> frame``.
FrameFilter = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _in_halves(postprocess: FrameFilter | None) -> bool:
    """Whether ``postprocess`` splits into ``prepare(source) -> state`` and
    ``apply(state, stylized) -> frame`` (the stabilizer does): then its halves can run in
    different threads."""
    return postprocess is not None and hasattr(postprocess, "prepare") and hasattr(postprocess, "apply")


def default_output(src: Path, kind: str) -> Path:
    """``photo.jpg`` -> ``photo_stylized.jpg``; ``clip.avi`` -> ``clip_stylized.mp4``;
    ``anim.gif`` -> ``anim_stylized.gif``; ``photos/`` -> ``photos_stylized/``;
    ``IMG_0001.HEIC`` -> ``IMG_0001_stylized.jpg``."""
    if kind == "folder":
        return src.with_name(src.name + "_stylized")
    if kind == "video":  # an animated GIF stays one (a sticker, a meme); other video is H.264 MP4
        suffix = ".gif" if src.suffix.lower() == ".gif" else ".mp4"
    else:
        suffix = _writable(src).suffix
    return src.with_name(f"{src.stem}_stylized{suffix}")


def check_not_the_input(src: Path, dst: Path) -> None:
    """Refuse an output that would replace its own input, the user's original: the same
    file or folder, or an image written into the folder it is in under its own name."""
    target = dst if src.is_dir() else _in_folder(src, dst)
    if src.exists() and target.exists() and os.path.samefile(src, target):
        raise RtStyleError(f"output {dst} would replace the input {src}: choose another --output")


def check_output_ext(dst: Path, allowed: set[str], what: str) -> None:
    if dst.suffix.lower() not in allowed:
        raise RtStyleError(f"output {dst} must be {what} ({', '.join(sorted(allowed))})")


def _writable(path: Path) -> Path:
    """``path``, or as JPEG where its kind cannot be written (HEIC: an iPhone's photos)."""
    return path if path.suffix.lower() in IMAGE_OUTPUT_EXTS | ANIMATED_OUTPUT_EXTS else path.with_suffix(".jpg")


def _in_folder(src: Path, dst: Path) -> Path:
    """Where output ``dst`` puts the file ``src``: ``dst`` itself, or, if it is a folder,
    in it under the input's name (a photo of a kind that cannot be written: as JPEG)."""
    if not dst.is_dir():
        return dst
    name = Path(src.name)
    return dst / (_writable(name) if name.suffix.lower() in IMAGE_EXTS else name)


def memory_advice(need_mb: float | None, free_mb: float | None, height: int, width: int) -> str | None:
    """Why a ``height`` x ``width`` frame should not be stylized here, and the size to use
    instead: where the network needs more memory (``need_mb``) than there is free
    (``free_mb``; None for either: not known, no advice). The size leaves a fifth spare."""
    if need_mb is None or free_mb is None or need_mb <= free_mb:
        return None
    side = max(8, int(min(height, width) * math.sqrt(0.8 * free_mb / need_mb)) // 8 * 8)
    return (f"at {width}x{height} the network needs about {need_mb / 1024:.1f} GB of memory, more than the "
            f"{max(free_mb, 0) / 1024:.1f} GB free: use --image-size {side} or smaller")


def check_memory(stylizer: Stylizer, height: int, width: int, what: Path) -> None:
    """Refuse, before the network starts, a frame the network would take more memory for
    than the machine has free (:meth:`~rtstyle.Stylizer.memory_mb`): a 24-megapixel photo
    through the classic network takes about 20 GB, and running out of memory freezes a
    laptop or gets the process killed without a word."""
    advice = memory_advice(stylizer.memory_mb(height, width), available_memory_mb(), height, width)
    if advice:
        raise RtStyleError(f"{what}: {advice}")


def run_frames(stylizer: Stylizer, frames: Iterable[tuple[np.ndarray, Any]], sink: Callable[[np.ndarray, Any], None],
               postprocess: FrameFilter | None = None, phase_lock: PhaseLock | None = None, pipelined: bool = True,
               queue_size: int = 4, progress: bool = True, total: int | None = None) -> int:
    """The middle of a clip's journey, which knows nothing of where frames come from or go:
    each ``(frame the network sees, what the sink needs with it)`` of ``frames``, in order,
    stylized (through ``phase_lock`` where given), steadied by ``postprocess`` and handed
    to ``sink(frame, what)``. Pipelined: ``frames`` is iterated in a reader thread (with the
    phase lock's motion and the first half of a post-process that splits in two) and the
    sink runs in a writer thread (with the second half), joined to the network by bounded
    queues of ``queue_size``. The number of frames."""
    split = _in_halves(postprocess)

    def prepared():  # ((frame the network sees, its motion for the phase lock), what the post-process needs, what)
        for f, what in frames:
            moved = phase_lock.prepare(f) if phase_lock is not None else None
            yield (f, moved), (postprocess.prepare(f) if split else f if postprocess is not None else None), what

    def finish(item: tuple[np.ndarray, Any, Any]) -> None:
        out, state, what = item
        if split:
            out = postprocess.apply(state, out)
        elif postprocess is not None:
            out = postprocess(state, out)  # state: the source frame
        sink(out, what)

    count = 0
    background = BackgroundSink(finish, queue_size) if pipelined else contextlib.nullcontext()
    bar = progress_bar(progress, total=total, unit="frame", desc="stylizing")
    with bar, background:
        put = background.put if pipelined else finish
        for (frame, moved), state, what in prefetch(prepared(), queue_size) if pipelined else prepared():
            put((stylizer.stylize_as_is(frame) if moved is None else phase_lock.apply(stylizer, frame, moved),
                 state, what))
            count += 1
            bar.update(1)
    return count


def stylize_video(stylizer: Stylizer, src: Path, dst: Path, progress: bool = True,
                  pipelined: bool = True, queue_size: int = 4,
                  postprocess: FrameFilter | None = None, phase_lock: PhaseLock | None = None,
                  fps: float | None = None) -> dict[str, Any]:
    """Decode, stylize and encode a video; keeps frame count, frame rate (each frame's own
    time, where the source records at a variable rate), every audio track, and the
    subtitle tracks the output format takes (see :class:`~rtstyle.media.VideoWriter`).

    ``postprocess(source, stylized) -> frame``: an optional step between stylizing and
    encoding, called once per frame in order with the (resized) frame the network saw and
    its output, e.g. :class:`rtstyle.temporal.Stabilizer`. A step that splits into
    ``prepare(source) -> state`` and ``apply(state, stylized) -> frame`` (the stabilizer
    does) has its halves run in the decoding and encoding threads, beside the network.

    ``phase_lock``: a :class:`~rtstyle.phaselock.PhaseLock` that keeps the network's grid on
    the content when the camera pans (the network's own flicker on a pan falls to about 40%);
    its motion is measured in the decoding thread too.

    ``fps``: the source's frame rate where it records none (see :class:`~rtstyle.media.VideoReader`).

    ``pipelined``: decoding (with resizing) and encoding run in their own threads,
    joined to the stylizer by bounded queues of ``queue_size`` frames, so the three
    stages overlap while memory stays flat."""
    check_output_ext(dst, VIDEO_OUTPUT_EXTS, "a video file")
    t0 = time.perf_counter()
    with VideoReader(src, fps=fps) as reader, \
            VideoWriter(dst, fps=reader.fps, audio_from=src, audio_start=reader.start) as writer:
        size = stylizer.image_size
        check_memory(stylizer, *shorter_size(reader.height, reader.width, size, multiple=2), src)
        frames = run_frames(stylizer, ((resize_shorter(f, size, multiple=2), t) for f, t in reader.timed()),
                            writer.write,  # at the source frame's own time: a phone's variable rate is kept
                            postprocess=postprocess, phase_lock=phase_lock, pipelined=pipelined,
                            queue_size=queue_size, progress=progress, total=reader.frame_count or None)
        if frames == 0:
            raise RtStyleError(f"{src} contains no video frames")
    seconds = time.perf_counter() - t0
    return {"input": str(src), "output": str(dst), "kind": "video", "frames": frames, "fps": float(reader.fps),
            "audio": reader.has_audio, "audio_tracks": writer.tracks["audio"],
            "subtitle_tracks": writer.tracks["subtitle"], "damaged_packets_left_out": reader.damaged + writer.damaged,
            "seconds": round(seconds, 3), "throughput_fps": round(frames / seconds, 2),
            "phase_lock_moves": phase_lock.moves if phase_lock is not None else None, "peak_rss_mb": peak_rss_mb()}


def _now() -> str:
    """This moment in UTC as a video's ``creation_time`` tag (a recording's date in a gallery)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stylize_stream(stylizer: Stylizer, source: str | int, output: Path | None = None,
                   show: bool | None = None, max_frames: int | None = None, progress: bool = True,
                   postprocess: FrameFilter | None = None, virtual_camera: str | None = None,
                   styles: list | None = None, current: int = 0, snapshot_dir: Path | None = None,
                   keys: Callable[[], list[str]] | None = None,
                   say: Callable[[str], None] | None = None, phase_lock: PhaseLock | None = None,
                   reconnect: float = 10.0) -> dict[str, Any]:
    """Stylize a live camera or stream: show it in a window (with FPS) where a display
    exists, record it to ``output``, and/or send it to a virtual camera (``virtual_camera``:
    a device name, or ``""`` for the first free one). ``postprocess`` and
    ``phase_lock``: as for :func:`stylize_video` (the temporal stabilizer, the phase lock);
    a stabilizer's first half runs in a thread beside the network.

    The live keys (:mod:`rtstyle.live`) act in the window, else in the terminal (or come
    from ``keys()``, called once a frame): ``styles`` (:class:`~rtstyle.live.StyleChoice`
    list; ``current`` is ``stylizer``'s) is what n / p cycle through. q, Esc or Ctrl-C quit.
    From a file every frame is processed; from a live camera stale frames are dropped
    (counted, and shown beside the FPS). A network stream that drops is opened again for up
    to ``reconnect`` seconds (:class:`~rtstyle.media.Camera`); when a camera or stream ends
    on its own, ``say`` tells why."""
    from .live import HELP, LiveSession, TerminalKeys, latest_frames
    from .media.virtualcam import VirtualCamera

    if show is None:
        show = display_available()
    if show and not display_available():
        raise RtStyleError("no display to show the webcam window on; pass --output FILE to record instead")
    if not show and output is None and virtual_camera is None:
        raise RtStyleError("no display to show the webcam window on; pass --output FILE to record instead")
    if output is not None:
        check_output_ext(output, VIDEO_OUTPUT_EXTS, "a video file")
    say = say or (lambda text: tqdm.write(f"rtstyle: {text}", file=sys.stderr))

    def load(path: Path) -> Stylizer:
        return Stylizer.load(path, device=stylizer.device, image_size=stylizer.image_size,
                             preserve_color=stylizer.preserve_color)

    frames, dropped_total, fps, drop_rate = 0, 0, 0.0, 0.0
    vcam: VirtualCamera | None = None
    # a stabilizer that splits in two has its first half (the flow, from the source frame
    # alone) run beside the network, as in the video path: a frame then costs the network or
    # the flow, whichever is longer, not both
    beside = ThreadPoolExecutor(1, thread_name_prefix="rtstyle-prepare") if _in_halves(postprocess) else None
    t0 = last = first = time.perf_counter()
    with Camera(source, reconnect=reconnect) as camera, \
            (VideoWriter(output, fps=camera.fps, tags={"creation_time": _now()}) if output is not None
             else contextlib.nullcontext()) as writer, \
            TerminalKeys() as terminal:
        window = Window("rtstyle - h for keys, q to quit") if show else None
        session = LiveSession(stylizer, list(styles or []), current, load, postprocess, snapshot_dir, say)
        key_source = keys or (window.keys if window is not None else terminal.keys)
        say(HELP)
        bar = progress_bar(progress and not show, unit="frame", desc="stylizing")
        try:
            for frame, dropped in latest_frames(iter(camera), live=not camera.is_file):
                # a live camera's recording keeps the time each frame came (frames dropped
                # while the network was busy leave gaps, not a fast-forward); a file's, its rate
                arrived = time.perf_counter()
                if frames == 0:
                    first = arrived
                session.poll()
                frame = resize_shorter(frame, session.stylizer.image_size, multiple=2)  # what the network sees
                steady = postprocess is not None and session.stabilize
                motion = beside.submit(postprocess.prepare, frame) if steady and beside is not None else None
                out = (phase_lock(session.stylizer, frame) if phase_lock is not None
                       else session.stylizer.stylize_as_is(frame))
                if steady:
                    out = postprocess.apply(motion.result(), out) if motion is not None else postprocess(frame, out)
                session.last = out
                now = time.perf_counter()
                inst = 1.0 / max(now - last, 1e-6)
                fps = inst if frames == 0 else 0.9 * fps + 0.1 * inst  # smoothed for display
                drop_rate = 0.9 * drop_rate + 0.1 * dropped / (dropped + 1)
                last = now
                frames += 1
                dropped_total += dropped
                if writer is not None:
                    writer.write(out, None if camera.is_file else arrived - first)
                if virtual_camera is not None:
                    if vcam is None:
                        vcam = VirtualCamera(out.shape[1], out.shape[0], camera.fps, virtual_camera or None)
                        say(f"sending to the virtual camera {vcam.device} ({out.shape[1]}x{out.shape[0]}, "
                            f"{camera.fps:g} fps)")
                    vcam.send(out)
                shown = draw_fps(out, fps, drop_rate) if session.overlay else out
                if window is not None and not window.show(shown):
                    break
                for key in key_source():
                    session.handle(key)
                bar.update(1)
                if session.quit or (max_frames and frames >= max_frames):
                    break
        except KeyboardInterrupt:
            pass  # Ctrl-C ends a live session normally: the recording is finished below
        finally:
            if beside is not None:
                beside.shutdown()
            bar.close()
            session.close()
            if window is not None:
                window.close()
            if vcam is not None:
                vcam.close()
        if frames == 0:
            raise RtStyleError(f"no frames could be read from {source}")
        if camera.ended is not None and not camera.is_file:  # not the user's doing: say why
            say(f"{source}: {camera.ended}; the session ends")
    seconds = time.perf_counter() - t0
    return {"input": str(source), "output": str(output) if output else None, "kind": "stream", "frames": frames,
            "dropped": dropped_total, "seconds": round(seconds, 3),
            "throughput_fps": round(frames / max(seconds, 1e-9), 2),
            "virtual_camera": vcam.device if vcam is not None else None, "style": session.label or None,
            "reconnects": camera.reconnects,
            "phase_lock_moves": phase_lock.moves if phase_lock is not None else None,
            "snapshots": [str(p) for p in session.snapshots]}
