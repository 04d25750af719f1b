"""A source's sound and subtitles carried into a video being written: every audio track
(copied, or re-encoded where the output format does not take its codec) and every subtitle
track the output format takes as it is, in sync, with their languages and titles."""

from __future__ import annotations

import contextlib
from fractions import Fraction
from typing import TYPE_CHECKING, Iterator

import av

from ..errors import RtStyleError
from .base import PathLike, _encoder_available, _input_file, _main_video, _reason

if TYPE_CHECKING:
    from .encode import _OutputFormat

_KEPT_METADATA = ("language", "title")  # what a player's track menu shows
_KEPT_DISPOSITION = ("default", "forced", "hearing_impaired", "visual_impaired", "comment", "dub", "original")


def source_tracks(path: PathLike, start: Fraction | float | None = None) -> list[_SourceTrack]:
    """The tracks of ``path`` to carry into an output: its audio tracks, then its subtitle
    tracks, in the source's order (none: an empty list). ``start``: as for :class:`_SourceTrack`."""
    path = _input_file(path, "audio source")
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            counts = {"audio": len(c.streams.audio), "subtitle": len(c.streams.subtitles)}
    except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise RtStyleError(f"cannot read audio from {path}: {_reason(e)}") from None
    tracks: list[_SourceTrack] = []
    try:
        for kind, count in counts.items():
            for i in range(count):
                tracks.append(_SourceTrack(path, kind, i, start))
    except BaseException:
        for track in tracks:
            track.close()
        raise
    return tracks


class _SourceTrack:
    """One audio or subtitle track (``kind``, the ``index``-th of its kind) of a source file,
    carried into an output container: packets are copied when the output format takes the
    codec; otherwise audio is decoded and re-encoded, and subtitles are left out (they have
    no common codec to convert to). Timestamps are shifted so the source's first video
    frame is time 0, as it is in the output: ``start`` is that frame's time on the source's
    clock (s; None: where its video stream starts, which is where the pictures start unless
    the first frames cannot be decoded). Each track reads the file on its own."""

    def __init__(self, path: PathLike, kind: str = "audio", index: int = 0,
                 start: Fraction | float | None = None):
        path = _input_file(path, "audio source")
        try:
            self._in = av.open(str(path), metadata_errors="ignore")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
            raise RtStyleError(f"cannot read {kind} from {path}: {_reason(e)}") from None
        self.path, self.kind = path, kind
        streams = self._in.streams.audio if kind == "audio" else self._in.streams.subtitles
        self._src = streams[index] if index < len(streams) else None
        video = _main_video(self._in)
        if start is not None:
            self._offset = Fraction(start)
        else:
            self._offset = Fraction(video.start_time) * video.time_base if video and video.start_time else Fraction(0)
        self._shift = 0  # self._offset in the track's time base
        self._out = None
        self._copy = False
        self._pending: av.Packet | None = None
        self._packets: Iterator[av.Packet] | None = None

    @property
    def carried(self) -> bool:
        """Whether :meth:`attach` gave the track a stream in the output."""
        return self._packets is not None

    def attach(self, output: av.container.OutputContainer, fmt: _OutputFormat) -> None:
        """Add the track's stream to ``output`` (before its first packet is muxed), unless
        the format takes no audio, or (a subtitle track) not this codec."""
        src = self._src
        if src is None or fmt.audio_codec is None:
            return
        if self.kind == "subtitle":
            with contextlib.suppress(ValueError):  # the muxer refuses this codec: left out
                self._out = output.add_stream_from_template(src)
                self._copy = True
            if self._out is None:
                return
        name = src.codec_context.codec.canonical_name if src.codec_context else ""
        if self._out is None and (fmt.audio_copy is None or name in fmt.audio_copy):
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
        for key in _KEPT_METADATA:
            if src.metadata.get(key):
                self._out.metadata[key] = src.metadata[key]
        flags = av.stream.Disposition
        self._out.disposition = flags(sum(int(flags[d]) for d in _KEPT_DISPOSITION if src.disposition & flags[d]))
        self._shift = round(self._offset / src.time_base) if src.time_base else 0
        self._packets = self._in.demux(src)

    def mux_until(self, output: av.container.OutputContainer, seconds: float | None) -> None:
        """Mux the track up to ``seconds`` of output time (all of it: None)."""
        if self._out is None:
            return
        while True:
            if self._pending is None:
                try:
                    self._pending = next(self._packets, None)
                except av.FFmpegError as e:
                    raise RtStyleError(f"cannot read {self.kind} from {self.path}: {_reason(e)}") from None
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
