"""A source's sound and subtitles carried into a video being written: every audio track
(copied, or re-encoded where the output format does not take its codec) and every subtitle
track (copied, or text subtitles converted to the format's own kind: MP4's ``mov_text``,
WebM's WebVTT), in sync, with their languages and titles; and the file's own tags (when
and where it was filmed, on what, its title) and its chapters: :func:`source_tracks`."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import av
from av.subtitles.subtitle import SubtitleSet

from ..errors import RtStyleError
from .base import PathLike, _encoder_available, _input_file, _main_video, _reason

if TYPE_CHECKING:
    from .encode import _OutputFormat

_KEPT_METADATA = ("language", "title")  # what a player's track menu shows
# a file's tags that describe how it was encoded, not what it holds: the output's muxer writes its own
_ENCODING_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder", "software"})
_KEPT_DISPOSITION = ("default", "forced", "hearing_impaired", "visual_impaired", "comment", "dub", "original")


@dataclass(frozen=True)
class SourceHeader:
    """What a source file says of itself that an output made from it should keep:
    ``tags``, the file's own (when and where it was filmed, on what, its title, comment,
    artist...; not those that describe how it was encoded, :data:`_ENCODING_TAGS`, with
    their ``-eng`` variants): a phone's video keeps its date and place in a gallery; and
    ``chapters`` (PyAV's dicts), on the output's clock (the first picture at 0), those that
    end before it left out."""

    tags: dict[str, str] = field(default_factory=dict)
    chapters: list[dict] = field(default_factory=list)


def source_tracks(path: PathLike, start: Fraction | float | None = None) -> tuple[list[_SourceTrack], SourceHeader]:
    """What of ``path`` to carry into an output: its tracks, audio then subtitles, in the
    source's order (none: an empty list), and its :class:`SourceHeader`, read together
    from one look at the file. ``start``: as for :class:`_SourceTrack`."""
    path = _input_file(path, "audio source")
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            counts = {"audio": len(c.streams.audio), "subtitle": len(c.streams.subtitles)}
            header = _header(c, start)
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
    return tracks, header


def _header(container: av.container.InputContainer, start: Fraction | float | None) -> SourceHeader:
    """The :class:`SourceHeader` of an open source file; ``start``: as for :class:`_SourceTrack`."""
    offset, chapters = _first_picture(container, start), []
    for ch in container.chapters():
        shift = round(offset / ch["time_base"])
        if ch["end"] - shift > 0:
            chapters.append({**ch, "start": max(0, ch["start"] - shift), "end": ch["end"] - shift})
    tags = {k: v for k, v in container.metadata.items() if v and k.split("-")[0].lower() not in _ENCODING_TAGS}
    return SourceHeader(tags, chapters)


def _first_picture(container: av.container.InputContainer, start: Fraction | float | None) -> Fraction:
    """The time on the source's clock (s) that is time 0 of the output: ``start``, else
    where its video stream starts (0 without one)."""
    if start is not None:
        return Fraction(start)
    video = _main_video(container)
    return Fraction(video.start_time) * video.time_base if video and video.start_time else Fraction(0)


class _SourceTrack:
    """One audio or subtitle track (``kind``, the ``index``-th of its kind) of a source file,
    carried into an output container: packets are copied when the output format takes the
    codec; otherwise audio is decoded and re-encoded, text subtitles are converted to the
    format's own kind, and picture subtitles (a Blu-ray's, a DVD's) are left out where the
    format cannot copy them. Timestamps are shifted so the source's first video frame is
    time 0, as it is in the output: ``start`` is that frame's time on the source's clock
    (s; None: where its video stream starts, which is where the pictures start unless the
    first frames cannot be decoded). Each track reads the file on its own (``path``:
    checked by :func:`source_tracks`)."""

    def __init__(self, path: Path, kind: str = "audio", index: int = 0,
                 start: Fraction | float | None = None):
        try:
            self._in = av.open(str(path), metadata_errors="ignore")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
            raise RtStyleError(f"cannot read {kind} from {path}: {_reason(e)}") from None
        self.path, self.kind = path, kind
        streams = self._in.streams.audio if kind == "audio" else self._in.streams.subtitles
        self._src = streams[index] if index < len(streams) else None
        self._offset = _first_picture(self._in, start)
        self._shift = 0  # self._offset in the track's time base
        self._out = None
        self._mode = ""  # "copy", "audio" (re-encoded) or "text" (subtitles converted)
        self._pending: av.Packet | None = None
        self._packets: Iterator[av.Packet] | None = None
        self.damaged = 0  # packets that would not decode, left out

    @property
    def carried(self) -> bool:
        """Whether :meth:`attach` gave the track a stream in the output."""
        return self._packets is not None

    def attach(self, output: av.container.OutputContainer, fmt: _OutputFormat) -> None:
        """Add the track's stream to ``output`` (before its first packet is muxed), unless
        the format takes no audio (GIF), or (subtitles) can neither copy nor convert it."""
        src = self._src
        if src is None or fmt.audio_codec is None:
            return
        self._out = self._copied(output, fmt) or (
            self._reencoded(output, fmt) if self.kind == "audio" else self._converted(output, fmt))
        if self._out is None:
            return
        for key in _KEPT_METADATA:
            if src.metadata.get(key):
                self._out.metadata[key] = src.metadata[key]
        flags = av.stream.Disposition
        self._out.disposition = flags(sum(int(flags[d]) for d in _KEPT_DISPOSITION if src.disposition & flags[d]))
        self._shift = round(self._offset / src.time_base) if src.time_base else 0
        self._packets = self._in.demux(src)

    def _copied(self, output: av.container.OutputContainer, fmt: _OutputFormat):
        """The track copied as it is, where the format takes its codec; else None."""
        name = self._src.codec_context.codec.canonical_name if self._src.codec_context else ""
        if self.kind == "audio" and fmt.audio_copy is not None and name not in fmt.audio_copy:
            return None
        try:
            out = output.add_stream_from_template(self._src)
        except ValueError:  # the muxer refuses this codec
            return None
        self._mode = "copy"
        return out

    def _reencoded(self, output: av.container.OutputContainer, fmt: _OutputFormat):
        """An audio stream of the format's own codec, for the track's sound re-encoded."""
        if not _encoder_available(fmt.audio_codec):
            raise RtStyleError(f"cannot keep the audio of {self.path}: this PyAV build has no "
                               f"{fmt.audio_codec} encoder (try an .mkv or .mp4 output)")
        src = self._src
        channels = src.codec_context.channels or 2
        codec = av.Codec(fmt.audio_codec, "w")
        if codec.name != "aac" and channels > 2:
            channels = 2
        rate = src.codec_context.sample_rate or 48000
        if codec.audio_rates and rate not in codec.audio_rates:
            rate = 48000 if 48000 in codec.audio_rates else max(codec.audio_rates)
        out = output.add_stream(fmt.audio_codec, rate=rate)
        out.layout = av.AudioLayout(f"{channels}c")  # the standard layout for so many channels
        out.bit_rate = min(96_000 * channels, 512_000)
        self._mode = "audio"
        return out

    def _converted(self, output: av.container.OutputContainer, fmt: _OutputFormat):
        """A subtitle stream of the format's own text kind, for text subtitles (SubRip, ASS,
        WebVTT...) that it cannot copy; None for pictures, or a format without one."""
        decoder = self._src.codec_context
        if fmt.subtitle_codec is None or decoder is None or not decoder.codec.text_sub or \
                not _encoder_available(fmt.subtitle_codec):
            return None
        try:
            decoder.open()  # its header (the styles) is what the encoder starts from
        except av.FFmpegError:
            return None
        out = output.add_stream(fmt.subtitle_codec)
        out.codec_context.subtitle_header = decoder.subtitle_header
        self._mode = "text"
        return out

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
                    if self._mode == "audio":
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
        if self._mode == "text":
            self._mux_text(output, packet)
            return
        if self._mode == "copy":
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
        for frame in self._decoded(packet):
            if frame.pts is not None:
                frame.pts -= self._shift
                if frame.pts * frame.time_base + Fraction(frame.samples, frame.sample_rate) < 0:
                    continue  # before the first video frame
            output.mux(self._out.encode(frame))

    def _mux_text(self, output: av.container.OutputContainer, packet: av.Packet) -> None:
        """A text subtitle decoded and encoded again in the output's kind, at its time."""
        if not packet.size or packet.pts is None:
            return
        start, end = packet.pts - self._shift, packet.pts - self._shift + (packet.duration or 0)
        if end <= 0:
            return  # gone before the first video frame
        start = max(0, start)
        for sub in self._decoded(packet):
            if not hasattr(sub, "ass"):
                continue
            out = self._out.codec_context.encode_subtitle(SubtitleSet.create(sub.ass, 0, end - start, start))
            out.stream, out.time_base = self._out, packet.time_base
            out.pts = out.dts = start
            out.duration = end - start
            output.mux(out)

    def _decoded(self, packet: av.Packet) -> list:
        """What ``packet`` decodes to; nothing where it is damaged (a dropped byte of a
        broadcast capture or a dashcam's file): that moment's sound or line is left out, as
        a player leaves it, rather than the whole stylized video failing at its end."""
        try:
            return packet.decode()
        except av.FFmpegError:
            self.damaged += 1
            return []

    def close(self) -> None:
        self._in.close()
