"""A source's audio carried into a video being written: copied or re-encoded, in sync."""

from __future__ import annotations

import contextlib
from fractions import Fraction
from typing import TYPE_CHECKING, Iterator

import av

from ..errors import RtStyleError
from .base import PathLike, _encoder_available, _input_file, _reason

if TYPE_CHECKING:
    from .encode import _OutputFormat


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
