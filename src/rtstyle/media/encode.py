"""Video files out: PyAV encoding by extension (H.264, VP9, MPEG-4, GIF), audio kept,
written atomically."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from ..errors import RtStyleError
from ..fileio import atomic_output
from .base import VIDEO_OUTPUT_EXTS, PathLike, _check_frame, _encoder_available, _reason
from .images import resize_to
from .tracks import SourceHeader, source_tracks


@dataclass(frozen=True)
class _OutputFormat:
    muxer: str
    video_codec: str
    audio_copy: frozenset[str] | None  # audio codecs kept as they are; None: any the muxer takes
    audio_codec: str | None            # what other audio is encoded to; None: audio is dropped
    options: tuple[tuple[str, str], ...] = ()
    subtitle_codec: str | None = None  # what text subtitles it cannot copy become; None: left out


_MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"})
_FASTSTART = (("movflags", "+faststart"),)  # index first: plays while downloading
_OUTPUT_FORMATS = {
    ".mp4": _OutputFormat("mp4", "libx264", _MP4_AUDIO, "aac", _FASTSTART, "mov_text"),
    ".m4v": _OutputFormat("mp4", "libx264", _MP4_AUDIO, "aac", _FASTSTART, "mov_text"),
    # QuickTime's muxer takes neither Opus nor FLAC (MP4's does): copying them failed the whole file
    ".mov": _OutputFormat("mov", "libx264", (_MP4_AUDIO - {"opus", "flac"}) |
                          {"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_f32le"}, "aac", _FASTSTART, "mov_text"),
    ".mkv": _OutputFormat("matroska", "libx264", None, "aac", (), "subrip"),
    ".webm": _OutputFormat("webm", "libvpx-vp9", frozenset({"opus", "vorbis"}), "libopus", (), "webvtt"),
    # AVI counts chunks, it has no timestamps: FFmpeg's default shift of every stream past the
    # MP3 encoder's priming samples left an empty video chunk after the first frame (the
    # pictures a frame late on the sound)
    ".avi": _OutputFormat("avi", "mpeg4", frozenset({"mp3", "ac3", "pcm_s16le", "pcm_u8"}), "libmp3lame",
                          (("avoid_negative_ts", "disabled"),)),
    ".gif": _OutputFormat("gif", "gif", frozenset(), None),
}


_CHAPTERED = ("mp4", "mov", "matroska", "webm")  # the muxers that keep chapters


def _frame_rate(fps: float | Fraction) -> Fraction:
    """``fps`` as an exact Fraction: floats are read as the nearest rate with a
    denominator up to 1001 (29.97002997 -> 30000/1001); the frame duration 1/fps is kept
    to a denominator of at most 65535, which every encoder's time base accepts."""
    rate = Fraction(fps) if isinstance(fps, (int, Fraction)) else Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return 1 / (1 / rate).limit_denominator(65535)


# Encoders that write the colour space into the bitstream, where players find it.
_TAGS_COLOR = {"libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"}


#: encoders of a constant-rate format (AVI counts frames): frame *n* at *n/fps*, whatever its time
_CONSTANT_RATE = frozenset({"mpeg4"})


def _time_base(codec: str, fps: Fraction) -> Fraction:
    """The encoder's time base: a frame's period where the format is constant-rate, GIF's
    hundredths of a second, else MPEG's 90 kHz clock (a frame's own time kept)."""
    if codec in _CONSTANT_RATE:
        return 1 / fps
    return Fraction(1, 100) if codec == "gif" else Fraction(1, 90000)


def _video_options(codec: str, crf: int) -> dict[str, str]:
    """Encoder settings: ``crf`` is x264's quality scale (0-51, lower is better),
    mapped onto the other encoders' own scales."""
    if codec in ("libx264", "libx265"):
        # veryfast, not fast: stylized frames are all texture, and x264's "fast" spent
        # 13.4 ms on each 640x480 one (2 cores) against 7.1 ms, for files 14% larger and
        # 0.4 dB more PSNR (docs/benchmarks.md, "Video encoding")
        return {"crf": str(crf), "preset": "veryfast"}
    if codec == "libvpx-vp9":  # VP9's 0-63 scale: x264's 18 ~ VP9's 31
        return {"crf": str(min(63, crf + 13)), "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}
    if codec == "mpeg4":  # constant quantiser: 18 -> 3, 23 -> 4
        return {"flags": "+qscale", "global_quality": str(max(1, min(31, round(crf / 6))) * 118)}
    return {}


def _fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` scaled to fit inside ``size`` = (h, w), its shape kept, centred on black
    (stretched, a 3:2 picture in a 4:3 video came out a third too narrow)."""
    h, w = size
    fh, fw = frame.shape[:2]
    scale = min(h / fh, w / fw)
    sh, sw = max(1, min(h, round(fh * scale))), max(1, min(w, round(fw * scale)))
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - sh) // 2, (w - sw) // 2
    out[y:y + sh, x:x + sw] = resize_to(frame, (sh, sw), enlarge=cv2.INTER_LINEAR)
    return out


def _gif_frame(frame: np.ndarray) -> av.VideoFrame:
    """A palettised frame (its own 256-colour palette, not dithered: see
    :func:`~.animation._gif_frame`) for the GIF encoder."""
    img = Image.fromarray(frame).quantize(256)
    rgb = np.zeros((256, 3), np.uint8)
    pal = np.frombuffer(bytes(img.getpalette()), np.uint8).reshape(-1, 3)[:256]
    rgb[: len(pal)] = pal
    argb = np.concatenate([np.full((256, 1), 255, np.uint8), rgb], axis=1)
    return av.VideoFrame.from_ndarray((np.asarray(img), argb), format="pal8")


class VideoWriter:
    """Encode RGB frames to a video file; the format follows the extension:

    - ``.mp4 .m4v .mov``: H.264 (yuv420p, CRF); audio in aac, mp3, ac3, eac3 or alac is
      copied, and opus or flac into .mp4, PCM into .mov; anything else becomes AAC.
    - ``.mkv``: H.264; audio is copied whenever Matroska takes it, else AAC.
    - ``.webm``: VP9; opus or vorbis audio copied, else Opus.
    - ``.avi``: MPEG-4 part 2; mp3, ac3 or PCM audio copied, else MP3.
    - ``.gif``: a 256-colour palette per frame; no audio. Frame delays are whole
      hundredths of a second, so the rate is approximate.

    ``fps``: the frame rate (int, float or Fraction); frame *n* gets timestamp *n/fps*,
    so the output has exactly the frames written, at exactly that average rate, unless
    :meth:`write` is given the frame's own time (a source recorded at a variable rate, a
    live camera's dropped frames): MP4, MOV, MKV and WebM then keep it, and their audio
    stays in step with the pictures; GIF keeps it to the hundredth of a second; AVI is
    constant-rate and ignores it.
    ``audio_from``: a media file whose audio tracks are carried over whole (all of them:
    a film's languages, a commentary), in sync with the first frame of its video, with
    their languages and titles; its subtitle tracks too: copied where the output format
    takes their codec (Matroska takes nearly all), else text subtitles become MP4's
    ``mov_text`` (.mp4, .m4v, .mov), WebVTT (.webm) or SubRip (.mkv); AVI and GIF take
    none, and picture subtitles (a Blu-ray's PGS, a DVD's) only go into Matroska.
    Nothing is added when it has none. :attr:`tracks` then counts what was carried.
    And its tags and chapters (:class:`~rtstyle.media.tracks.SourceHeader`): the date and
    place it was filmed, the camera, its title, as far as the output format holds them (MP4
    and MOV all of them, Apple's and Android's own keys included; Matroska and WebM all;
    AVI its date and title), and a film's chapters, in step with the pictures (not in AVI
    or GIF).
    ``tags``: more of the file's tags, over the source's (a live recording's
    ``creation_time``).
    ``audio_start``: the time on ``audio_from``'s clock (s) of the first frame written
    (:attr:`VideoReader.start`); default: where its video stream starts.
    ``crf``: quality on x264's scale (0-51, lower is better; mapped for VP9 and MPEG-4).
    ``codec``: another video encoder (e.g. ``"libx265"``).

    The size is the first frame's; a later frame of another size (a stream that changes
    resolution midway) is fitted inside it, its shape kept, with black bars.
    Except for GIF, an odd width or height is padded to even (the last row/column
    repeated), as 4:2:0 video requires: pass even-sized frames to avoid that
    (``resize_shorter(frame, size, multiple=2)``).

    Atomic: the file is written beside ``path`` under a temporary name and renamed by
    :meth:`close` (or a clean exit from the ``with`` block); an exception in the block,
    or :meth:`abort`, deletes it. An unwritable ``path`` fails at construction.
    """

    def __init__(self, path: PathLike, fps: float | Fraction, audio_from: PathLike | None = None,
                 crf: int = 18, codec: str | None = None, audio_start: float | Fraction | None = None,
                 tags: dict[str, str] | None = None):
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
        # formats whose timestamps may follow the frames' own times
        self._timed = self.codec not in _CONSTANT_RATE
        self._time_base = _time_base(self.codec, self.fps)
        self._time: Fraction | None = None  # the last frame's time (s) and timestamp
        self._pts = 0
        self._fmt = fmt
        self._container: av.container.OutputContainer | None = None
        self._stream = None
        self._size: tuple[int, int] | None = None  # (height, width) of the frames given
        self._tracks, self._header = source_tracks(audio_from, audio_start) if audio_from is not None \
            else ([], SourceHeader())
        if tags:
            self._header = SourceHeader({**self._header.tags, **tags}, self._header.chapters)
        #: the source's tracks carried into the output, by kind (set when the first frame is written)
        self.tracks = {"audio": 0, "subtitle": 0}
        try:
            self._output = atomic_output(self.path)  # fails now, not after the work, if unwritable
            self._tmp = self._output.__enter__()
        except BaseException:
            self._close_tracks()
            raise
        self._done = False

    # -- writing
    def _open(self, height: int, width: int) -> None:
        fmt = self._fmt
        options = dict(fmt.options)
        tags = self._header.tags
        if fmt.muxer in ("mp4", "mov") and any("." in key for key in tags):
            # keys named by domain (com.apple.quicktime.location.ISO6709, where Apple's Photos
            # reads the place) have no atom of their own: written as QuickTime metadata keys
            options["movflags"] = options.get("movflags", "") + "+use_metadata_tags"
        self._container = av.open(str(self._tmp), mode="w", format=fmt.muxer, container_options=options)
        self._container.metadata.update(tags)
        if self._header.chapters and fmt.muxer in _CHAPTERED:
            self._container.set_chapters(self._header.chapters)
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
        stream.codec_context.time_base = self._time_base
        self._stream = stream
        for track in self._tracks:
            track.attach(self._container, fmt)
            self.tracks[track.kind] += track.carried

    def write(self, frame: np.ndarray, time: float | Fraction | None = None) -> None:
        """Append one HxWx3 uint8 RGB frame; ``time``: when it is shown, in seconds from
        the first frame (None: one frame after the last, at ``fps``). A time not after the
        last frame's counts as None."""
        if self._done:
            raise ValueError("write() on a closed VideoWriter")
        frame = _check_frame(frame)
        try:
            if self._size is None:
                self._size = frame.shape[:2]
                self._open(*self._size)
            elif frame.shape[:2] != self._size:
                frame = _fit(frame, self._size)
            vf = self._to_video_frame(frame)
            vf.pts, vf.time_base = self._next_pts(time), self._time_base
            self._container.mux(self._stream.encode(vf))
            self.frames += 1
            for track in self._tracks:  # up to where this frame ends
                track.mux_until(self._container, vf.pts * self._time_base + 1 / self.fps)
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
        return vf

    def _next_pts(self, time: float | Fraction | None) -> int:
        """The timestamp of the next frame, in the stream's time base: from ``time`` where
        the format keeps it and it comes after the last frame's, else a frame after the last
        (kept exact, so a long constant-rate video does not drift from its audio)."""
        if self._time is None:  # the first frame
            self._time, self._pts = Fraction(0), 0
            return 0
        if self._timed and time is not None and round(Fraction(time) / self._time_base) > self._pts:
            t = Fraction(time)
        else:
            t = self._time + 1 / self.fps
        self._time, self._pts = t, max(self._pts + 1, round(t / self._time_base))
        return self._pts

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
            for track in self._tracks:
                track.mux_until(self._container, None)
            self._container.close()
        except BaseException as e:
            self.abort()
            if isinstance(e, (av.FFmpegError, OSError)):
                raise RtStyleError(f"cannot write {self.path}: {_reason(e)}") from None
            raise
        self._done = True
        self._close_tracks()
        self._output.__exit__(None, None, None)  # rename into place

    def abort(self) -> None:
        """Stop and delete the temporary file; nothing appears at ``path``."""
        if self._done:
            return
        self._done = True
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        self._close_tracks()
        # atomic_output deletes its temporary file when its block raises: tell it so.
        self._output.__exit__(_Aborted, _Aborted(), None)

    @property
    def damaged(self) -> int:
        """Packets of the source's tracks that would not decode for re-encoding, left out
        (a damaged recording's sound: a moment of it is missing, not the whole file)."""
        return sum(track.damaged for track in self._tracks)

    def _close_tracks(self) -> None:
        for track in self._tracks:
            track.close()

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
