"""Media in and out: images, video files (PyAV, audio kept), cameras and a preview window.

Frames are HxWx3 ``uint8`` RGB numpy arrays everywhere. Bad input (a missing, empty,
truncated or foreign file, an unwritable output, a camera that will not open) raises
:class:`~rtstyle.errors.RtStyleError` with a one-line message naming the path; misuse by
a programmer (a frame of the wrong shape, ``size <= 0``) raises ``ValueError``.

This module stays light on purpose: numpy, Pillow, OpenCV and PyAV, never torch.
Outputs are atomic (see :mod:`rtstyle.fileio`): nothing half-written is left behind.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Literal

import av
import cv2
import numpy as np
from PIL import Image, ImageOps

from .errors import RtStyleError
from .fileio import atomic_output

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
#: Video files that can be read (anything FFmpeg demuxes; GIFs count as videos).
VIDEO_EXTS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif",
              ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".3gp", ".ogv"}
#: Video files that :class:`VideoWriter` can write (a subset of ``VIDEO_EXTS``).
VIDEO_OUTPUT_EXTS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif"}

PathLike = str | os.PathLike

# --------------------------------------------------------------------------- helpers


def _input_file(path: PathLike, what: str) -> Path:
    """``path`` as a Path when it names a non-empty regular file, else a user error."""
    path = Path(path)
    if not path.exists():
        raise RtStyleError(f"no such {what} file: {path}")
    if not path.is_file():
        raise RtStyleError(f"{path} is not a file")
    if path.stat().st_size == 0:
        raise RtStyleError(f"{what} file {path} is empty")
    return path


def _check_frame(frame: np.ndarray) -> np.ndarray:
    """A C-contiguous HxWx3 uint8 array, or ValueError (a programming error, not bad input)."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        desc = f"shape {frame.shape} dtype {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"expected an HxWx3 uint8 RGB frame, got {desc}")
    return np.ascontiguousarray(frame)


def _reason(e: BaseException) -> str:
    """The useful part of an exception, for a one-line message."""
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return " ".join(text.split())


# --------------------------------------------------------------------------- images

# Extension -> (Pillow format, save options).
_IMAGE_WRITERS: dict[str, tuple[str, dict]] = {
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".png": ("PNG", {}),
    ".bmp": ("BMP", {}),
    ".webp": ("WEBP", {"quality": 95}),
    ".tif": ("TIFF", {"compression": "tiff_deflate"}),
    ".tiff": ("TIFF", {"compression": "tiff_deflate"}),
}


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode as HxWx3 uint8 RGB. Transparency is composited over white;
    16/32-bit and float images are scaled down to 8 bits, not clipped."""
    if img.mode == "RGB":
        return np.asarray(img)
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        a = np.asarray(img).astype(np.float64)
        if img.mode.startswith("I;16") or (img.mode == "I" and a.max(initial=0) > 255):
            a = a / 257.0  # 16-bit range
        elif img.mode == "F" and a.max(initial=0) <= 1.0:
            a = a * 255.0  # float in [0, 1]
        gray = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))  # L, 1, P, CMYK, YCbCr, ...


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB, EXIF orientation applied.

    The file is decoded completely, so a truncated file fails here rather than later."""
    path = _input_file(path, "image")
    try:
        with Image.open(path) as img:
            img.load()
            return _to_rgb(ImageOps.exif_transpose(img))
    except Exception as e:  # Pillow raises many types for damaged files
        if isinstance(e, Image.UnidentifiedImageError):
            raise RtStyleError(f"cannot read image {path}: not an image file or an unsupported format") from None
        raise RtStyleError(f"cannot read image {path}: {_reason(e)}") from None


def write_image(path: PathLike, frame: np.ndarray) -> None:
    """Write an RGB frame; the format follows the extension. Atomic: the file appears
    complete or not at all. Missing parent folders are created."""
    path = Path(path)
    writer = _IMAGE_WRITERS.get(path.suffix.lower())
    if writer is None:
        raise RtStyleError(f"cannot write {path}: unknown image extension "
                           f"(use one of {', '.join(sorted(_IMAGE_WRITERS))})")
    fmt, options = writer
    img = Image.fromarray(_check_frame(frame))
    with atomic_output(path) as tmp:
        try:
            img.save(tmp, format=fmt, **options)
        except (OSError, ValueError, KeyError) as e:
            raise RtStyleError(f"cannot write {path}: {_reason(e)}") from None


def list_images(folder: PathLike, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (by extension, any case), sorted; hidden files and
    folders are skipped, symlinked folders are not followed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RtStyleError(f"no such folder: {folder}")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        found += [Path(root, f) for f in files
                  if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTS]
    return sorted(found)


def input_kind(path: PathLike) -> Literal["image", "video", "folder"]:
    """What an input path is, judged by existence and extension."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise RtStyleError(f"no such file or folder: {path}")
    ext = path.suffix.lower()
    if ext in IMAGE_EXTS:
        return "image"
    if ext in VIDEO_EXTS:
        return "video"
    raise RtStyleError(f"unsupported input {path}: expected an image ({' '.join(sorted(IMAGE_EXTS))}), "
                       f"a video ({' '.join(sorted(VIDEO_EXTS))}) or a folder")


def _round_to(n: int, multiple: int) -> int:
    return max(multiple, (2 * n + multiple) // (2 * multiple) * multiple)  # nearest, halves up


def resize_shorter(frame: np.ndarray, size: int | None, multiple: int = 1) -> np.ndarray:
    """Resize so the shorter side is ``size`` (aspect ratio kept), then round each side
    to the nearest multiple of ``multiple`` (2 for H.264's yuv420p). ``size=None`` keeps
    the size, apart from that rounding. Returns ``frame`` itself when nothing changes."""
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    h, w = frame.shape[:2]
    if size is None:
        th, tw = h, w
    elif size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    elif h <= w:
        th, tw = size, max(1, round(w * size / h))
    else:
        th, tw = max(1, round(h * size / w)), size
    th, tw = _round_to(th, multiple), _round_to(tw, multiple)
    if (th, tw) == (h, w):
        return frame
    shrinking = th <= h and tw <= w
    return cv2.resize(frame, (tw, th), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


# --------------------------------------------------------------------------- video in


def _rotate(frame: np.ndarray, degrees: float) -> np.ndarray:
    """Apply a display rotation: ``degrees`` counter-clockwise, as PyAV's
    ``VideoFrame.rotation`` reports it (a phone's "rotate=90" tag reads as -90)."""
    k = round(degrees / 90) % 4
    return np.ascontiguousarray(np.rot90(frame, k)) if k else frame


class VideoReader:
    """Decode a video file to RGB frames, display rotation applied.

    Attributes: ``path``, ``width`` and ``height`` (as displayed, after rotation), ``fps``
    (a Fraction: the stream's average rate), ``frame_count`` (from the header or estimated
    from the duration; 0 when unknown), ``has_audio``. Iterate once::

        with VideoReader("clip.mp4") as reader:
            for frame in reader: ...
    """

    def __init__(self, path: PathLike):
        self.path = _input_file(path, "video")
        try:
            self._container = av.open(str(self.path), metadata_errors="ignore")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
            raise RtStyleError(f"cannot read video {self.path}: not a video file, or damaged ({_reason(e)})") from None
        try:
            if not self._container.streams.video:
                raise RtStyleError(f"{self.path} has no video stream")
            self._check_complete()
            stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"
            self._stream = stream
            self.has_audio = bool(self._container.streams.audio)
            self.fps = next((r for r in (stream.average_rate, stream.guessed_rate, stream.base_rate)
                             if r and 0 < r < 1000), Fraction(30))
            # Decode the first frame now: it proves the file decodes and tells the
            # rotation, hence the displayed size.
            self._frames = self._decode()
            first = next(self._frames, None)
            if first is None:
                raise RtStyleError(f"{self.path} contains no video frames")
            self._first: np.ndarray | None = first
            self.height, self.width = first.shape[:2]
            self.frame_count = self._count_frames()
        except BaseException:
            self._container.close()
            raise

    def _check_complete(self) -> None:
        """Catch a file cut short (an interrupted copy or download) whose header survived:
        where the container has an index (MP4, MOV), its last packets must lie in the file.
        FFmpeg itself would just stop early, without an error."""
        size = self.path.stat().st_size
        for stream in self._container.streams:
            entries = stream.index_entries
            if len(entries) and entries[-1].pos + entries[-1].size > size:
                raise RtStyleError(f"video {self.path} is truncated (an incomplete copy or download?)")

    def _count_frames(self) -> int:
        stream = self._stream
        if stream.frames:
            return int(stream.frames)
        if stream.duration and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
        elif self._container.duration:
            seconds = self._container.duration / av.time_base
        else:
            return 0
        return max(0, round(seconds * float(self.fps)))

    def _decode(self) -> Iterator[np.ndarray]:
        try:
            for frame in self._container.decode(self._stream):
                yield _rotate(frame.to_ndarray(format="rgb24"), frame.rotation)
        except av.FFmpegError as e:
            raise RtStyleError(f"cannot decode video {self.path}: {_reason(e)}") from None

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        yield from self._frames

    def close(self) -> None:
        self._frames.close()
        self._container.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- video out


@dataclass(frozen=True)
class _OutputFormat:
    muxer: str
    video_codec: str
    audio_copy: frozenset[str] | None  # audio codecs kept as they are; None: any the muxer takes
    audio_codec: str | None            # what other audio is encoded to; None: audio is dropped
    options: tuple[tuple[str, str], ...] = ()


_MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"})
_FASTSTART = (("movflags", "+faststart"),)  # index first: plays while downloading
_OUTPUT_FORMATS = {
    ".mp4": _OutputFormat("mp4", "libx264", _MP4_AUDIO, "aac", _FASTSTART),
    ".m4v": _OutputFormat("mp4", "libx264", _MP4_AUDIO, "aac", _FASTSTART),
    ".mov": _OutputFormat("mov", "libx264", _MP4_AUDIO | {"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_f32le"},
                          "aac", _FASTSTART),
    ".mkv": _OutputFormat("matroska", "libx264", None, "aac"),
    ".webm": _OutputFormat("webm", "libvpx-vp9", frozenset({"opus", "vorbis"}), "libopus"),
    ".avi": _OutputFormat("avi", "mpeg4", frozenset({"mp3", "ac3", "pcm_s16le", "pcm_u8"}), "libmp3lame"),
    ".gif": _OutputFormat("gif", "gif", frozenset(), None),
}


def _frame_rate(fps: float | Fraction) -> Fraction:
    """``fps`` as an exact Fraction: floats are read as the nearest rate with a
    denominator up to 1001 (29.97002997 -> 30000/1001); the frame duration 1/fps is kept
    to a denominator of at most 65535, which every encoder's time base accepts."""
    rate = Fraction(fps) if isinstance(fps, (int, Fraction)) else Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return 1 / (1 / rate).limit_denominator(65535)


def _encoder_available(name: str) -> bool:
    try:
        av.Codec(name, "w")
        return True
    except Exception:
        return False


# Encoders that write the colour space into the bitstream, where players find it.
_TAGS_COLOR = {"libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"}


def _video_options(codec: str, crf: int) -> dict[str, str]:
    """Encoder settings: ``crf`` is x264's quality scale (0-51, lower is better),
    mapped onto the other encoders' own scales."""
    if codec in ("libx264", "libx265"):
        return {"crf": str(crf), "preset": "fast"}
    if codec == "libvpx-vp9":  # VP9's 0-63 scale: x264's 18 ~ VP9's 31
        return {"crf": str(min(63, crf + 13)), "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}
    if codec == "mpeg4":  # constant quantiser: 18 -> 3, 23 -> 4
        return {"flags": "+qscale", "global_quality": str(max(1, min(31, round(crf / 6))) * 118)}
    return {}


def _gif_frame(frame: np.ndarray) -> av.VideoFrame:
    """A palettised frame (its own 256-colour palette, dithered) for the GIF encoder."""
    img = Image.fromarray(frame).quantize(256, dither=Image.Dither.FLOYDSTEINBERG)
    rgb = np.zeros((256, 3), np.uint8)
    pal = np.frombuffer(bytes(img.getpalette()), np.uint8).reshape(-1, 3)[:256]
    rgb[: len(pal)] = pal
    argb = np.concatenate([np.full((256, 1), 255, np.uint8), rgb], axis=1)
    return av.VideoFrame.from_ndarray((np.asarray(img), argb), format="pal8")


class _AudioTrack:
    """The audio of a source file, carried into an output container: packets are copied
    when the output format takes the codec, else decoded and re-encoded. Timestamps are
    shifted so the source's first video frame is time 0, as it is in the output."""

    def __init__(self, path: PathLike):
        path = _input_file(path, "audio source")
        try:
            self._in = av.open(str(path), metadata_errors="ignore")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
            raise RtStyleError(f"cannot read audio from {path}: {_reason(e)}") from None
        self.path = path
        self._src = self._in.streams.audio[0] if self._in.streams.audio else None
        video = self._in.streams.video[0] if self._in.streams.video else None
        self._offset = Fraction(video.start_time) * video.time_base if video and video.start_time else Fraction(0)
        self._shift = 0  # self._offset in the audio stream's time base
        self._out = None
        self._copy = False
        self._pending: av.Packet | None = None
        self._packets: Iterator[av.Packet] | None = None

    def attach(self, output: av.container.OutputContainer, fmt: _OutputFormat) -> None:
        """Add the audio stream to ``output`` (before its first packet is muxed)."""
        src = self._src
        if src is None or fmt.audio_codec is None:
            return
        name = src.codec_context.codec.canonical_name
        if fmt.audio_copy is None or name in fmt.audio_copy:
            with contextlib.suppress(ValueError):  # the muxer refuses this codec
                self._out = output.add_stream_from_template(src)
                self._copy = True
        if self._out is None:
            if not _encoder_available(fmt.audio_codec):
                raise RtStyleError(f"cannot keep the audio of {self.path}: this PyAV build has no "
                                   f"{fmt.audio_codec} encoder (try an .mkv or .mp4 output)")
            channels = src.codec_context.channels or 2
            codec = av.Codec(fmt.audio_codec, "w")
            if codec.name != "aac" and channels > 2:
                channels = 2
            rate = src.codec_context.sample_rate or 48000
            if codec.audio_rates and rate not in codec.audio_rates:
                rate = 48000 if 48000 in codec.audio_rates else max(codec.audio_rates)
            self._out = output.add_stream(fmt.audio_codec, rate=rate)
            self._out.layout = av.AudioLayout(f"{channels}c")  # the standard layout for so many channels
            self._out.bit_rate = min(96_000 * channels, 512_000)
        self._shift = round(self._offset / src.time_base) if src.time_base else 0
        self._packets = self._in.demux(src)

    def mux_until(self, output: av.container.OutputContainer, seconds: float | None) -> None:
        """Mux the source's audio up to ``seconds`` of output time (all of it: None)."""
        if self._out is None:
            return
        while True:
            if self._pending is None:
                try:
                    self._pending = next(self._packets, None)
                except av.FFmpegError as e:
                    raise RtStyleError(f"cannot read audio from {self.path}: {_reason(e)}") from None
                if self._pending is None:
                    if not self._copy:
                        output.mux(self._out.encode(None))
                    self._out = None  # done
                    return
            packet = self._pending
            if packet.pts is not None and seconds is not None and \
                    float((packet.pts - self._shift) * packet.time_base) > seconds:
                return
            self._pending = None
            self._mux(output, packet)

    def _mux(self, output: av.container.OutputContainer, packet: av.Packet) -> None:
        if self._copy:
            if packet.dts is None and packet.size == 0:
                return  # the demuxer's end-of-stream marker
            if packet.pts is not None:
                if packet.pts + (packet.duration or 0) - self._shift < 0:
                    return  # before the first video frame
                packet.pts -= self._shift
            if packet.dts is not None:
                packet.dts -= self._shift
            packet.stream = self._out
            output.mux(packet)
            return
        for frame in packet.decode():
            if frame.pts is not None:
                frame.pts -= self._shift
                if frame.pts * frame.time_base + Fraction(frame.samples, frame.sample_rate) < 0:
                    continue  # before the first video frame
            output.mux(self._out.encode(frame))

    def close(self) -> None:
        self._in.close()


class VideoWriter:
    """Encode RGB frames to a video file; the format follows the extension:

    - ``.mp4 .m4v .mov``: H.264 (yuv420p, CRF); audio in aac, mp3, ac3, eac3, opus, alac
      or flac (and PCM in .mov) is copied, anything else becomes AAC.
    - ``.mkv``: H.264; audio is copied whenever Matroska takes it, else AAC.
    - ``.webm``: VP9; opus or vorbis audio copied, else Opus.
    - ``.avi``: MPEG-4 part 2; mp3, ac3 or PCM audio copied, else MP3.
    - ``.gif``: a 256-colour palette per frame; no audio. Frame delays are whole
      hundredths of a second, so the rate is approximate.

    ``fps``: the frame rate (int, float or Fraction); frame *n* gets timestamp *n/fps*,
    so the output has exactly the frames written, at exactly that average rate.
    ``audio_from``: a media file whose first audio track is carried over whole, in sync
    with the first frame of its video (nothing is added when it has no audio).
    ``crf``: quality on x264's scale (0-51, lower is better; mapped for VP9 and MPEG-4).
    ``codec``: another video encoder (e.g. ``"libx265"``).

    The size is the first frame's; later frames of another size are resized to it.
    Except for GIF, an odd width or height is padded to even (the last row/column
    repeated), as 4:2:0 video requires: pass even-sized frames to avoid that
    (``resize_shorter(frame, size, multiple=2)``).

    Atomic: the file is written beside ``path`` under a temporary name and renamed by
    :meth:`close` (or a clean exit from the ``with`` block); an exception in the block,
    or :meth:`abort`, deletes it. An unwritable ``path`` fails at construction.
    """

    def __init__(self, path: PathLike, fps: float | Fraction, audio_from: PathLike | None = None,
                 crf: int = 18, codec: str | None = None):
        self.path = Path(path)
        fmt = _OUTPUT_FORMATS.get(self.path.suffix.lower())
        if fmt is None:
            raise RtStyleError(f"cannot write {self.path}: unsupported video format "
                               f"(use one of {', '.join(sorted(VIDEO_OUTPUT_EXTS))})")
        self.fps = _frame_rate(fps)
        self.codec = codec or fmt.video_codec
        if not _encoder_available(self.codec):
            raise RtStyleError(f"cannot write {self.path}: this PyAV build has no {self.codec} encoder")
        self.crf = crf
        self.frames = 0
        self._fmt = fmt
        self._container: av.container.OutputContainer | None = None
        self._stream = None
        self._size: tuple[int, int] | None = None  # (height, width) of the frames given
        self._audio = _AudioTrack(audio_from) if audio_from is not None else None
        try:
            self._output = atomic_output(self.path)  # fails now, not after the work, if unwritable
            self._tmp = self._output.__enter__()
        except BaseException:
            self._close_audio()
            raise
        self._done = False

    # -- writing
    def _open(self, height: int, width: int) -> None:
        fmt = self._fmt
        self._container = av.open(str(self._tmp), mode="w", format=fmt.muxer, container_options=dict(fmt.options))
        try:
            stream = self._container.add_stream(self.codec, rate=self.fps,
                                                options=_video_options(self.codec, self.crf))
        except ValueError as e:  # the container does not take this codec
            raise RtStyleError(f"cannot write {self.path}: {_reason(e)}") from None
        if self.codec == "gif":
            stream.pix_fmt = "pal8"
        else:
            formats = [f.name for f in (stream.codec_context.codec.video_formats or ())]
            stream.pix_fmt = "yuv420p" if not formats or "yuv420p" in formats else formats[0]
            height, width = height + height % 2, width + width % 2
            if self.codec in _TAGS_COLOR:  # BT.709, limited range, and say so in the stream
                cc = stream.codec_context
                cc.colorspace = cc.color_primaries = cc.color_trc = 1
                cc.color_range = 1
        stream.width, stream.height = width, height
        stream.codec_context.time_base = 1 / self.fps  # frame n at pts n
        self._stream = stream
        if self._audio is not None:
            self._audio.attach(self._container, fmt)

    def write(self, frame: np.ndarray) -> None:
        """Append one HxWx3 uint8 RGB frame."""
        if self._done:
            raise ValueError("write() on a closed VideoWriter")
        frame = _check_frame(frame)
        try:
            if self._size is None:
                self._size = frame.shape[:2]
                self._open(*self._size)
            elif frame.shape[:2] != self._size:
                frame = cv2.resize(frame, self._size[::-1], interpolation=cv2.INTER_AREA)
            self._container.mux(self._stream.encode(self._to_video_frame(frame)))
            self.frames += 1
            if self._audio is not None:
                self._audio.mux_until(self._container, self.frames / self.fps)
        except (av.FFmpegError, OSError) as e:  # the file is unusable now
            self.abort()
            raise RtStyleError(f"cannot write {self.path}: {_reason(e)}") from None
        except RtStyleError:
            self.abort()
            raise

    def _to_video_frame(self, frame: np.ndarray) -> av.VideoFrame:
        if self.codec == "gif":
            vf = _gif_frame(frame)
        else:
            h, w = frame.shape[:2]
            if h % 2 or w % 2:
                frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            # Untagged video is read back as BT.601 (FFmpeg's default), so encode it that way.
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
                format=self._stream.pix_fmt, dst_colorspace="ITU709" if self.codec in _TAGS_COLOR else "ITU601",
                dst_color_range="MPEG")
        vf.pts = self.frames
        vf.time_base = 1 / self.fps
        return vf

    # -- finishing
    def close(self) -> None:
        """Finish the file (flush encoders, the rest of the audio) and move it into place."""
        if self._done:
            return
        if self._container is None:
            self.abort()
            raise RtStyleError(f"nothing written to {self.path}: no frames")
        try:
            self._container.mux(self._stream.encode(None))
            if self._audio is not None:
                self._audio.mux_until(self._container, None)
            self._container.close()
        except BaseException as e:
            self.abort()
            if isinstance(e, (av.FFmpegError, OSError)):
                raise RtStyleError(f"cannot write {self.path}: {_reason(e)}") from None
            raise
        self._done = True
        self._close_audio()
        self._output.__exit__(None, None, None)  # rename into place

    def abort(self) -> None:
        """Stop and delete the temporary file; nothing appears at ``path``."""
        if self._done:
            return
        self._done = True
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        self._close_audio()
        # atomic_output deletes its temporary file when its block raises: tell it so.
        self._output.__exit__(_Aborted, _Aborted(), None)

    def _close_audio(self) -> None:
        if self._audio is not None:
            self._audio.close()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self):  # a writer dropped without close() leaves no temporary file
        if not getattr(self, "_done", True):
            with contextlib.suppress(Exception):
                self.abort()


class _Aborted(Exception):
    """Thrown into an atomic output to discard it."""


# --------------------------------------------------------------------------- cameras


class Camera:
    """Frames from a camera index (``0`` or ``"0"``), a device path, a video file or a
    stream URL (``rtsp://``, ``http://``...), all through OpenCV's ``VideoCapture``.
    Iterating yields RGB frames until the source ends. ``fps`` is the source's rate
    (30 when it does not say)."""

    def __init__(self, source: int | str | os.PathLike):
        self.source = source
        if isinstance(source, os.PathLike):
            source = os.fspath(source)
        if isinstance(source, str) and source.strip().isdigit():
            source = int(source)
        self._cap = _quietly(cv2.VideoCapture, source)
        if not self._cap.isOpened():
            self._cap.release()
            hint = ": no such file" if isinstance(source, str) and "://" not in source \
                and not os.path.exists(source) else ""
            raise RtStyleError(f"cannot open camera/stream {self.source}{hint}")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1 <= fps <= 240 else 30.0
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def __iter__(self) -> Iterator[np.ndarray]:
        while self._cap.isOpened():
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                return
            if bgr.ndim == 2:
                yield cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
            else:
                yield cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB if bgr.shape[2] == 4 else cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "Camera":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _quietly(fn, *args):
    """Call ``fn`` with OpenCV's warnings silenced (a failed open is reported by us)."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        return fn(*args)
    finally:
        cv2.utils.logging.setLogLevel(level)


# --------------------------------------------------------------------------- display


def display_available() -> bool:
    """Whether a window can be shown: always on macOS and Windows; on Linux and other
    Unixes only when an X11 or Wayland display is set."""
    if sys.platform in ("darwin", "win32", "cygwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@functools.cache
def _opencv_has_gui() -> bool:
    """Whether this OpenCV build has HighGUI (the headless wheels say ``GUI: NONE``)."""
    for line in cv2.getBuildInformation().splitlines():
        key, _, value = line.strip().partition(":")
        if key.strip() == "GUI":
            return value.strip().upper() not in ("", "NONE")
    return False


def draw_fps(frame: np.ndarray, fps: float) -> np.ndarray:
    """A copy of ``frame`` with "NN.N FPS" in its top-left corner, white on a dark outline."""
    out = _check_frame(frame).copy()
    text = f"{fps:.1f} FPS"
    scale = max(0.4, min(out.shape[:2]) / 600)
    thick = max(1, round(scale * 2))
    (_, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    org = (round(8 * scale) + 2, round(8 * scale) + 2 + th)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 3, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


class Window:
    """A live preview window. ``show(frame)`` displays an RGB frame and returns False
    once the user has pressed q or Esc, or closed the window.

    Uses OpenCV's HighGUI when the installed OpenCV has one, else Tkinter."""

    def __init__(self, title: str = "rtstyle"):
        if not display_available():
            raise RtStyleError("no display to show a window on (DISPLAY/WAYLAND_DISPLAY is not set)")
        self.title = title
        self._impl = _CvWindow(title) if _opencv_has_gui() else _TkWindow(title)

    def show(self, frame: np.ndarray) -> bool:
        return self._impl.show(_check_frame(frame))

    def close(self) -> None:
        self._impl.close()

    def __enter__(self) -> "Window":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_QUIT_KEYS = {ord("q"), ord("Q"), 27}


class _CvWindow:
    def __init__(self, title: str):
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
        except cv2.error as e:
            raise RtStyleError(f"cannot open a window: {_reason(e)}") from None

    def show(self, frame: np.ndarray) -> bool:
        cv2.imshow(self.title, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1)
        if key != -1 and (key & 0xFF) in _QUIT_KEYS:
            return False
        return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1

    def close(self) -> None:
        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)


class _TkWindow:
    def __init__(self, title: str):
        try:
            import tkinter as tk

            from PIL import ImageTk
        except ImportError as e:
            raise RtStyleError(f"cannot open a window: no GUI toolkit (OpenCV is headless and {e})") from None
        self._tk, self._ImageTk = tk, ImageTk
        try:
            self._root = tk.Tk()
        except tk.TclError as e:
            raise RtStyleError(f"cannot open a window: {_reason(e)}") from None
        self._root.title(title)
        self._label = tk.Label(self._root, borderwidth=0)
        self._label.pack()
        self._photo = None
        self._open = True
        for key in ("<KeyPress-q>", "<KeyPress-Q>", "<Escape>"):
            self._root.bind(key, self._quit)
        self._root.protocol("WM_DELETE_WINDOW", self._quit)

    def _quit(self, *_):
        self._open = False

    def show(self, frame: np.ndarray) -> bool:
        if not self._open:
            return False
        img = Image.fromarray(frame)
        if self._photo is not None and (self._photo.width(), self._photo.height()) == img.size:
            self._photo.paste(img)
        else:
            self._photo = self._ImageTk.PhotoImage(img, master=self._root)
            self._label.configure(image=self._photo)
        try:
            self._root.update()
        except self._tk.TclError:  # the window went away
            self._open = False
        return self._open

    def close(self) -> None:
        self._open = False
        with contextlib.suppress(Exception):
            self._root.destroy()
