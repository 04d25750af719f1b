"""Video files in: PyAV decoding to RGB frames, display rotation applied."""

from __future__ import annotations

from fractions import Fraction
from typing import Iterator

import av
import av.filter
import numpy as np

from ..errors import RtStyleError
from . import hdr
from .base import PathLike, _input_file, _main_video, _reason
from .images import resize_to


def _rotate(frame: np.ndarray, degrees: float) -> np.ndarray:
    """Apply a display rotation: ``degrees`` counter-clockwise, as PyAV's
    ``VideoFrame.rotation`` reports it (a phone's "rotate=90" tag reads as -90)."""
    k = round(degrees / 90) % 4
    return np.ascontiguousarray(np.rot90(frame, k)) if k else frame


def _square_pixels(frame: np.ndarray, sar: Fraction) -> np.ndarray:
    """A frame stored with non-square pixels (``sar``: a pixel's width over its height;
    PAL DV's 720x576 is shown at 4:3 with 16/15) resampled to square ones, its height kept."""
    h, w = frame.shape[:2]
    return resize_to(frame, (h, max(1, round(w * sar))))


def _pulled(graph: av.filter.Graph) -> Iterator[av.VideoFrame]:
    """The frames a filter graph has ready."""
    while True:
        try:
            yield graph.pull()
        except (BlockingIOError, EOFError, av.error.BlockingIOError, av.error.EOFError):
            return


class VideoReader:
    """Decode a video file to RGB frames, display rotation applied, in square pixels; HDR
    video (PQ or HLG) comes out as SDR BT.709 (:mod:`rtstyle.media.hdr`).

    ``fps``: the frame rate to read it at, for a stream that records none (a camera's raw
    ``.h264``, which FFmpeg reads at 25); the frames are then timed at that constant rate.

    Attributes: ``path``, ``width`` and ``height`` (as displayed: after rotation, and with
    the stream's pixel aspect ratio applied, e.g. a PAL 720x576 stream of pixels 16/15 as wide
    as tall comes out 768x576, its 4:3), ``fps``
    (a Fraction: the stream's average rate), ``frame_count`` (from the header or estimated
    from the duration; 0 when unknown), ``has_audio``, ``damaged`` (packets that would
    not decode, left out), ``start`` (the first frame's time on
    the file's clock, in seconds, or None where it has none: a recording cut anywhere but
    at a key frame starts pictures later than its stream, and its sound is kept in step
    from there). Iterate once::

        with VideoReader("clip.mp4") as reader:
            for frame in reader: ...

    or, with each frame's presentation time, :meth:`timed`. A phone records at a variable
    rate (slower in dim light), so frame *n* is not at *n/fps*: the times keep a stylized
    copy in step with its audio.
    """

    def __init__(self, path: PathLike, fps: float | Fraction | None = None):
        self.path = _input_file(path, "video")
        try:
            self._container = av.open(str(self.path), metadata_errors="ignore")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
            raise RtStyleError(f"cannot read video {self.path}: not a video file, or damaged ({_reason(e)})") from None
        try:
            stream = _main_video(self._container)
            if stream is None:
                raise RtStyleError(f"{self.path} has no video stream")
            self._check_complete()
            stream.thread_type = "AUTO"
            self._stream = stream
            # AVI has no presentation times: its frames' pts are in decoding order (B-frames
            # come out swapped), and the format is constant-rate anyway
            self._timed = "avi" not in self._container.format.name.split(",")
            # non-square pixels (DV, DVD, broadcast): the frames are made square, so that the
            # network's strokes and the picture keep their shape in any player
            sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
            self._sar = Fraction(sar) if sar and Fraction(1, 4) <= sar <= 4 and sar != 1 else None
            self.has_audio = bool(self._container.streams.audio)
            self.fps = next((r for r in (stream.average_rate, stream.guessed_rate, stream.base_rate)
                             if r and 0 < r < 1000), Fraction(30))
            if fps is not None:  # the rate a raw stream does not record: frame n at n/fps
                self.fps, self._timed = Fraction(fps).limit_denominator(1001), False
            # Decode the first frame now: it proves the file decodes and tells the
            # rotation, hence the displayed size, and where the pictures start.
            self.start: Fraction | None = None
            self.damaged = 0
            self._frames = self._decode()
            first = next(self._frames, None)
            if first is None:
                raise RtStyleError(f"{self.path} contains no video frames")
            self._first: tuple[np.ndarray, Fraction | None] | None = first
            self.height, self.width = first[0].shape[:2]
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

    def _decoded(self) -> Iterator[av.VideoFrame]:
        """The stream's frames; a packet that will not decode (damaged: a dropped byte of a
        capture, a bad sector) is left out and counted in :attr:`damaged`, as a player skips
        it, rather than ending the video there. A file the demuxer cannot read on fails."""
        for packet in self._container.demux(self._stream):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                self.damaged += 1
                continue
            yield from frames

    def _progressive(self) -> Iterator[tuple[av.VideoFrame, av.VideoFrame]]:
        """``(frame, source)``: the decoded frames, deinterlaced from the first interlaced one
        on (camcorders' and broadcast's 50i/60i: woven fields would be stylized as combs), one
        frame out for each in, at its time; ``source``: the latest decoded frame, whose
        rotation and colour tags hold (the filter may drop them)."""
        graph = None
        for frame in self._decoded():
            if graph is None and frame.interlaced_frame:
                graph = av.filter.Graph()
                chain = [graph.add_buffer(template=self._stream),
                         graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced"),
                         graph.add("buffersink")]
                chain[0].link_to(chain[1])
                chain[1].link_to(chain[2])
                graph.configure()
            if graph is None:
                yield frame, frame
                continue
            graph.push(frame)
            yield from ((out, frame) for out in _pulled(graph))
        if graph is not None:
            graph.push(None)
            yield from ((out, frame) for out in _pulled(graph))

    def _decode(self) -> Iterator[tuple[np.ndarray, Fraction | None]]:
        try:
            for frame, source in self._progressive():
                t = frame.pts * frame.time_base if self._timed and frame.pts is not None and frame.time_base else None
                if self.start is None and t is not None:
                    self.start = t
                if hdr.is_hdr(source.color_trc):  # HDR (a phone's HLG, HDR10's PQ): to SDR BT.709
                    image = hdr.to_sdr(frame.to_ndarray(format="rgb48le"), source.color_trc,
                                       bt2020=source.color_primaries == hdr.BT2020)
                else:
                    image = frame.to_ndarray(format="rgb24")
                if self._sar is not None:
                    image = _square_pixels(image, self._sar)
                yield _rotate(image, source.rotation), (t - self.start if t is not None else None)
        except av.FFmpegError as e:
            raise RtStyleError(f"cannot decode video {self.path}: {_reason(e)}") from None

    def timed(self) -> Iterator[tuple[np.ndarray, Fraction | None]]:
        """``(frame, time)``: each frame with its presentation time in seconds from the first
        frame's (a Fraction; None where the file gives none, as AVI does)."""
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        yield from self._frames

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame, _ in self.timed():
            yield frame

    def close(self) -> None:
        self._frames.close()
        self._container.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
