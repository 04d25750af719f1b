"""rtstyle.media: images, video (with audio), cameras, display helpers. Every input is made
here, in tmp_path: small images with Pillow, 2-second 64x48 clips with PyAV."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from rtstyle import media
from rtstyle.errors import RtStyleError
from rtstyle.media import (
    Camera,
    VideoReader,
    VideoWriter,
    Window,
    display_available,
    draw_fps,
    input_kind,
    list_images,
    read_image,
    resize_shorter,
    write_image,
)

FPS, FRAMES, W, H, RATE = 12, 24, 64, 48, 44100
RED, BLUE = (255, 0, 0), (0, 128, 255)


# --------------------------------------------------------------------------- fixtures


def pattern(i: int = 0, h: int = H, w: int = W) -> np.ndarray:
    """Red top-left quadrant, blue bottom-right, a white bar moving with ``i``."""
    f = np.full((h, w, 3), 60, np.uint8)
    f[: h // 2, : w // 2] = RED
    f[h // 2:, w // 2:] = BLUE
    f[:, (3 * i) % w] = 255
    return f


def make_clip(path: Path, audio: str | None = None, rotation: int | None = None, frames: int = FRAMES,
              channels: int = 2, sar: Fraction | None = None) -> Path:
    """A clip made with PyAV directly (not with VideoWriter): H.264, and optionally a
    sine-wave audio track in ``audio`` as long as the video, a display rotation, and
    pixels ``sar`` times as wide as tall."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        if rotation is not None:
            v.set_display_rotation(rotation)
        if sar is not None:
            v.codec_context.sample_aspect_ratio = sar
        a = None
        if audio:
            a = c.add_stream(audio, rate=RATE)
            a.layout = "stereo" if channels == 2 else "mono"
        for i in range(frames):
            c.mux(v.encode(av.VideoFrame.from_ndarray(pattern(i), format="rgb24")))
        c.mux(v.encode())
        if a is not None:  # float samples; the encoder converts them to its own format
            t = np.arange(round(RATE * frames / FPS)) / RATE
            wave = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t))[None], channels, axis=0).astype(np.float32)
            for start in range(0, len(t), 1024):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, start:start + 1024]), format="fltp",
                                                   layout=a.layout.name)
                frame.sample_rate, frame.pts = RATE, start
                c.mux(a.encode(frame))
            c.mux(a.encode())
    return path


def probe(path: Path) -> dict:
    """Decode every stream fully; what a player would get."""
    out: dict = {}
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(v)]
        out.update(frames=len(frames), first=frames[0], fps=v.average_rate, size=(v.width, v.height))
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            samples = sum(f.samples for f in c.decode(a))
            out.update(audio=a.codec_context.codec.canonical_name, audio_seconds=samples / a.codec_context.sample_rate)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return {
        "aac": make_clip(root / "aac.mp4", "aac"),
        "pcm": make_clip(root / "pcm.mkv", "pcm_s16le", channels=1),
        "mp3": make_clip(root / "mp3.mkv", "libmp3lame"),
        "flac": make_clip(root / "flac.mkv", "flac"),
        "silent": make_clip(root / "silent.mp4"),
        "rotated": make_clip(root / "rotated.mp4", rotation=90),
        "anamorphic": make_clip(root / "anamorphic.mp4", sar=Fraction(3, 2)),
    }


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize("ext,lossless", [(".png", True), (".bmp", True), (".tif", True), (".tiff", True),
                                          (".jpg", False), (".jpeg", False), (".webp", False)])
def test_image_round_trip(tmp_path, ext, lossless):
    frame = pattern(5)
    path = tmp_path / "deep" / "er" / f"out{ext}"  # parents are created
    write_image(path, frame)
    back = read_image(path)
    assert back.shape == frame.shape and back.dtype == np.uint8
    diff = np.abs(back.astype(int) - frame).mean()
    assert diff == 0 if lossless else diff < 8
    assert leftovers(path.parent) == []


def test_read_image_converts_every_mode_to_rgb(tmp_path):
    gray = Image.fromarray(np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1)), "L")
    gray.save(tmp_path / "gray.png")
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))  # transparent: composited over white
    rgba.save(tmp_path / "rgba.png")
    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    Image.new("RGB", (4, 4), BLUE).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "pal.png")
    Image.fromarray(np.array([[0, 32768, 65535]], np.uint16)).save(tmp_path / "deep.png")  # 16-bit gray

    for name in ("gray.png", "rgba.png", "cmyk.jpg", "pal.png", "deep.png"):
        img = read_image(tmp_path / name)
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8, name
    g = read_image(tmp_path / "gray.png")
    assert (g[..., 0] == g[..., 1]).all() and g[0, 10, 0] == 40
    assert read_image(tmp_path / "rgba.png")[0, 0].tolist() == [255, 255, 255]
    assert read_image(tmp_path / "rgba.png")[1, 1].tolist() == [255, 0, 0]
    assert np.abs(read_image(tmp_path / "cmyk.jpg")[1, 1].astype(int) - RED).max() < 10
    assert read_image(tmp_path / "pal.png")[0, 0].tolist() == list(BLUE)
    assert read_image(tmp_path / "deep.png")[0, :, 0].tolist() == [0, 128, 255]  # scaled, not clipped


def test_read_image_applies_exif_orientation(tmp_path):
    img = Image.fromarray(pattern(0, h=20, w=40))  # red in the top-left quadrant
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    img.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "phone.jpg")
    assert out.shape == (40, 20, 3)
    assert out[5, 15, 0] > 200 and out[5, 15, 2] < 60  # red now top-right
    assert out[5, 3, 0] < 120


def test_read_image_bad_inputs(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image at all\n")
    write_image(tmp_path / "whole.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    write_image(tmp_path / "whole.jpg", pattern(1))
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "folder.png").mkdir()
    for name in ("missing.png", "empty.png", "text.jpg", "cut.png", "cut.jpg", "folder.png"):
        with pytest.raises(RtStyleError, match=name.replace(".", r"\.")):
            read_image(tmp_path / name)


def test_write_image_errors_leave_nothing(tmp_path, monkeypatch):
    frame = pattern()
    with pytest.raises(RtStyleError, match="unknown image extension"):
        write_image(tmp_path / "out.xyz", frame)
    (tmp_path / "file").write_text("a regular file")
    with pytest.raises(RtStyleError, match="cannot write"):
        write_image(tmp_path / "file" / "out.png", frame)
    with pytest.raises(ValueError):
        write_image(tmp_path / "out.png", frame[..., 0])

    def failing_save(self, *args, **kwargs):
        Path(args[0]).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(RtStyleError, match="disk full"):
        write_image(tmp_path / "out.png", frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_list_images(tmp_path):
    for rel in ("b.png", "a.JPG", "notes.txt", "clip.mp4", ".hidden.png", "sub/c.webp", "sub/deeper/d.tiff",
                ".cache/e.png", "sub/f.jpeg.bak"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    rel = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert rel == ["a.JPG", "b.png", "sub/c.webp", "sub/deeper/d.tiff"]
    assert [p.name for p in list_images(tmp_path, recursive=False)] == ["a.JPG", "b.png"]
    with pytest.raises(RtStyleError):
        list_images(tmp_path / "nope")


def test_input_kind(tmp_path, clips):
    (tmp_path / "x.PNG").write_bytes(b"x")
    (tmp_path / "x.txt").write_text("x")
    assert input_kind(tmp_path / "x.PNG") == "image"
    assert input_kind(clips["aac"]) == "video"
    assert input_kind(tmp_path) == "folder"
    with pytest.raises(RtStyleError, match="no such"):
        input_kind(tmp_path / "missing.jpg")
    with pytest.raises(RtStyleError, match="unsupported input"):
        input_kind(tmp_path / "x.txt")


@pytest.mark.parametrize("shape,size,multiple,expected", [
    ((48, 64), None, 1, (48, 64)),
    ((48, 64), 24, 1, (24, 32)),
    ((64, 48), 32, 1, (43, 32)),        # portrait: the width is the shorter side
    ((64, 48), 32, 2, (44, 32)),
    ((49, 65), None, 2, (50, 66)),      # odd sides rounded to even, halves up
    ((480, 640), 101, 2, (102, 136)),   # 101 x 134.67 -> even
    ((10, 20), 40, 1, (40, 80)),        # enlarging
    ((3, 1000), 1, 1, (1, 333)),
    ((5, 5), 7, 4, (8, 8)),
])
def test_resize_shorter(shape, size, multiple, expected):
    frame = np.random.default_rng(0).integers(0, 255, (*shape, 3), np.uint8)
    out = resize_shorter(frame, size, multiple)
    assert out.shape == (*expected, 3) and out.dtype == np.uint8
    if expected == shape:
        assert out is frame


def test_resize_shorter_rejects_nonsense():
    with pytest.raises(ValueError):
        resize_shorter(pattern(), 0)
    with pytest.raises(ValueError):
        resize_shorter(pattern(), 10, multiple=0)


# --------------------------------------------------------------------------- video


def test_rotation_mapping():
    f = np.arange(6, dtype=np.uint8).reshape(2, 3, 1).repeat(3, axis=2)  # [[0 1 2], [3 4 5]]
    assert media.decode._rotate(f, 0) is f
    ccw = media.decode._rotate(f, 90)  # counter-clockwise: the right column becomes the top row
    assert ccw[..., 0].tolist() == [[2, 5], [1, 4], [0, 3]] and ccw.flags.c_contiguous
    assert media.decode._rotate(f, -90)[..., 0].tolist() == [[3, 0], [4, 1], [5, 2]]
    assert media.decode._rotate(f, 270)[..., 0].tolist() == media.decode._rotate(f, -90)[..., 0].tolist()
    assert media.decode._rotate(f, 180)[..., 0].tolist() == [[5, 4, 3], [2, 1, 0]]
    assert media.decode._rotate(f, -180)[..., 0].tolist() == [[5, 4, 3], [2, 1, 0]]


def test_video_reader(clips):
    with VideoReader(clips["aac"]) as r:
        assert (r.width, r.height, r.fps, r.frame_count, r.has_audio) == (W, H, Fraction(FPS), FRAMES, True)
        frames = list(r)
    assert len(frames) == FRAMES and frames[0].shape == (H, W, 3) and frames[0].dtype == np.uint8
    assert np.abs(frames[3].astype(int) - pattern(3)).mean() < 6
    with VideoReader(clips["pcm"]) as r:  # Matroska: no frame count in the header, estimated
        assert r.frame_count == FRAMES and len(list(r)) == FRAMES
    with VideoReader(clips["silent"]) as r:
        assert not r.has_audio


def test_video_reader_applies_rotation(clips):
    with VideoReader(clips["rotated"]) as r:
        assert (r.width, r.height) == (H, W)
        first = next(iter(r))
    assert first.shape == (W, H, 3)
    # 90 degrees counter-clockwise: the red top-left quadrant is now bottom-left.
    assert first[W - 5, 5, 0] > 200 and first[W - 5, 5, 2] < 60
    assert first[5, 5, 0] < 120


def test_video_reader_makes_pixels_square(clips, tmp_path):
    """A stream of non-square pixels (DV, DVD) is shown wider than it is stored: the frames
    come out at that shape, so the stylized copy (square pixels) looks like the source."""
    with VideoReader(clips["anamorphic"]) as r:
        assert (r.width, r.height) == (W * 3 // 2, H)
        first = next(iter(r))
    assert first.shape == (H, W * 3 // 2, 3)
    # the red quadrant spans the left half, stretched: columns 0-47 of 96
    assert first[5, 40, 0] > 200 and first[5, 55, 0] < 120
    dst = tmp_path / "square.mp4"
    with VideoReader(clips["anamorphic"]) as r, VideoWriter(dst, r.fps) as w:
        for frame in r:
            w.write(frame)
    with av.open(str(dst)) as c:
        v = c.streams.video[0]
        assert (v.width, v.height) == (W * 3 // 2, H) and v.sample_aspect_ratio in (None, 1)


def make_hdr_clip(path: Path, signal: np.ndarray, transfer: int) -> Path:
    """Three frames of ``signal`` (HxWx3 R'G'B' in [0, 1], BT.2020 primaries, coded with
    ``transfer``: 16 PQ, 18 HLG) in 10-bit H.264, tagged as a phone tags its HDR video."""
    rgb = np.round(signal * 65535).astype(np.uint16)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "crf": "8"})
        v.width, v.height, v.pix_fmt = rgb.shape[1], rgb.shape[0], "yuv420p10le"
        cc = v.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 9, 9, transfer, 1
        for _ in range(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(rgb, format="rgb48le").reformat(
                format="yuv420p10le", dst_colorspace="BT2020", dst_color_range="MPEG")))
        c.mux(v.encode())
    return path


def test_hdr_video_comes_out_as_sdr(tmp_path):
    """A phone's HDR video (HLG; HDR10's PQ) read as plain RGB is dim and washed out: its
    reference white (HLG 75% of the signal, PQ 58%: 203 nits) must come out as SDR white,
    18% grey (38% of the signal in both) as SDR's, and BT.2020's green as BT.709's."""
    signal = np.zeros((48, 96, 3))
    for transfer, white in ((18, 0.75), (16, 0.5807)):
        signal[:, :32] = white
        signal[:, 32:64] = 0.38
        signal[:, 64:, 1] = white  # pure BT.2020 green at reference white
        with VideoReader(make_hdr_clip(tmp_path / f"hdr{transfer}.mp4", signal, transfer)) as r:
            frame = next(iter(r)).astype(int)
        np.testing.assert_allclose(frame[24, 16], 249, atol=4)  # not 191, as plain RGB reads it
        np.testing.assert_allclose(frame[24, 48], 108, atol=6)
        r_, g, b = frame[24, 80]
        assert g > 230 and r_ < 20 and b < 20, frame[24, 80]


def combing(frame: np.ndarray) -> float:
    """How much neighbouring rows differ beyond rows two apart: woven fields' combs."""
    f = frame.astype(float)
    return float(np.abs(f[1:-1] - f[2:]).mean() - np.abs(f[:-2] - f[2:]).mean() / 2)


def test_interlaced_video_is_deinterlaced(tmp_path):
    """A camcorder's 50i: the two fields of a frame were taken 1/50 s apart, so woven
    together a moving edge is a comb, which the network would stylize. Deinterlaced (one
    frame out for each in, at its time), the comb is gone."""
    path = tmp_path / "50i.mp4"
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "12",
                                                      "x264-params": "interlaced=1:tff=1"})
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        for i in range(6):
            top, bottom = pattern(2 * i), pattern(2 * i + 1)  # the bar moves between the fields
            frame = top.copy()
            frame[1::2] = bottom[1::2]
            c.mux(v.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        c.mux(v.encode())
    with av.open(str(path)) as c:
        woven = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with VideoReader(path) as r:
        timed = list(r.timed())
    assert len(timed) == len(woven) == 6 and [float(t) for _, t in timed] == pytest.approx([i / 25 for i in range(6)])
    for (frame, _), raw in zip(timed[1:], woven[1:], strict=True):
        assert combing(raw) > 2.0 and combing(frame) < combing(raw) / 3, (combing(raw), combing(frame))


@pytest.mark.parametrize("source,out_ext,audio_codec", [
    ("aac", ".mp4", "aac"),          # copied
    ("aac", ".mkv", "aac"),          # copied
    ("mp3", ".mov", "mp3"),          # copied
    ("pcm", ".mkv", "pcm_s16le"),    # copied: Matroska takes (nearly) anything
    ("pcm", ".mp4", "aac"),          # transcoded
    ("aac", ".webm", "opus"),        # transcoded
    ("aac", ".avi", "mp3"),          # transcoded
    ("flac", ".mp4", "flac"),        # copied
    ("flac", ".mov", "aac"),         # transcoded: QuickTime's muxer refuses FLAC (and Opus)
    ("silent", ".mp4", None),
])
def test_video_round_trip_keeps_frames_rate_and_audio(tmp_path, clips, source, out_ext, audio_codec):
    src = clips[source]
    dst = tmp_path / f"out{out_ext}"
    with VideoReader(src) as reader, VideoWriter(dst, fps=reader.fps, audio_from=src) as writer:
        for frame in reader:
            writer.write(frame)
    got, want = probe(dst), probe(src)
    assert got["frames"] == FRAMES and got["fps"] == FPS and got["size"] == (W, H)
    assert np.abs(got["first"].astype(int) - want["first"]).mean() < 8  # colours survive
    assert got.get("audio") == audio_codec
    if audio_codec:
        assert abs(got["audio_seconds"] - want["audio_seconds"]) < 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == [dst.name]


def make_film(path: Path) -> Path:
    """A film as Matroska carries one: a cover picture attached (FFmpeg lists it as a
    one-frame video stream), two audio tracks (English AAC, the default;
    a French Opus commentary with a title) and English subtitles (SubRip)."""
    cover = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(cover, "JPEG")
    srt = path.with_suffix(".srt")
    srt.write_text("1\n00:00:00,500 --> 00:00:01,000\nHello\n\n2\n00:00:01,200 --> 00:00:01,800\nWorld\n")
    with av.open(str(path), "w") as c, av.open(str(srt)) as subs:
        c.add_attachment("cover.jpg", "image/jpeg", cover.getvalue())
        v = c.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        tracks = []
        for codec, language, title, freq in (("aac", "eng", None, 440), ("libopus", "fra", "Commentaire", 880)):
            a = c.add_stream(codec, rate=48000)
            a.layout = "stereo"
            a.metadata["language"] = language
            if title:
                a.metadata["title"] = title
            tracks.append((a, freq))
        tracks[0][0].disposition = av.stream.Disposition.default
        s = c.add_stream_from_template(subs.streams.subtitles[0])
        s.metadata["language"] = "eng"
        for i in range(FRAMES):
            c.mux(v.encode(av.VideoFrame.from_ndarray(pattern(i), format="rgb24")))
        c.mux(v.encode())
        t = np.arange(48000 * FRAMES // FPS) / 48000
        for a, freq in tracks:
            wave = np.repeat((0.3 * np.sin(2 * np.pi * freq * t))[None], 2, axis=0).astype(np.float32)
            for start in range(0, len(t), 960):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, start:start + 960]), format="fltp",
                                                   layout="stereo")
                frame.sample_rate, frame.pts = 48000, start
                c.mux(a.encode(frame))
            c.mux(a.encode())
        for packet in subs.demux(subs.streams.subtitles[0]):
            if packet.size:
                packet.stream = s
                c.mux(packet)
    return path


def tracks(path: Path) -> list[tuple]:
    """(kind, codec, language, title, default?, seconds of audio or subtitle texts) a track."""
    out = []
    with av.open(str(path)) as c:
        for st in c.streams:
            if st.type in ("audio", "subtitle"):
                out.append([st.type, st.codec_context.codec.canonical_name, st.metadata.get("language"),
                            st.metadata.get("title"), bool(st.disposition & av.stream.Disposition.default)])
    for track in out:
        with av.open(str(path)) as c:
            if track[0] == "audio":
                a = c.streams.audio[sum(t[0] == "audio" for t in out[:out.index(track)])]
                track.append(round(sum(f.samples for f in c.decode(a)) / a.codec_context.sample_rate, 1))
            else:  # (start, end, text) of each line, in s from the first picture (a muxer may
                # shift every stream alike); MP4 fills the gaps with empty samples
                start = next(c.decode(video=0)).time
                c.seek(0)
                stream = c.streams.subtitles[0]
                lines = []
                for p in c.demux(stream):
                    for sub in (p.decode() if p.size else []):
                        text = sub.ass.decode().split(",", 8)[-1] if hasattr(sub, "ass") else ""
                        if text:
                            lines.append((round(float(p.pts * p.time_base) - start, 3),
                                          round(float((p.pts + p.duration) * p.time_base) - start, 3), text))
                track.append(lines)
    return [tuple(t) for t in out]


@pytest.mark.parametrize("out_ext,subtitles", [(".mkv", "subrip"), (".mp4", "mov_text"), (".mov", "mov_text"),
                                               (".webm", "webvtt"), (".avi", None)])
def test_every_audio_track_and_the_subtitles_are_kept(tmp_path, out_ext, subtitles):
    """A film's second language, its commentary and its subtitles are not dropped (the
    subtitles copied, or converted to the output's own kind; AVI takes none); nor is its
    cover picture taken for the video."""
    src = make_film(tmp_path / "film.mkv")
    dst = tmp_path / f"out{out_ext}"
    with VideoReader(src) as reader, VideoWriter(dst, fps=reader.fps, audio_from=src) as writer:
        assert (reader.width, reader.height) == (W, H)  # the film, not its 32x32 cover
        for frame in reader:
            writer.write(frame)
    assert probe(dst)["frames"] == FRAMES
    assert writer.tracks == {"audio": 2, "subtitle": int(subtitles is not None)}
    got = tracks(dst)
    seconds = FRAMES / FPS
    audio = [t for t in got if t[0] == "audio"]
    if out_ext != ".avi":  # (AVI keeps no languages)
        assert [t[2] for t in audio] == ["eng", "fra"]  # languages, in order
        assert audio[0][4] and not audio[1][4]  # the default track stays the default
    assert all(abs(t[5] - seconds) < 0.1 for t in audio)
    if out_ext in (".mkv", ".webm"):
        assert audio[1][3] == "Commentaire"
    subs = [t for t in got if t[0] == "subtitle"]
    assert [t[1] for t in subs] == ([subtitles] if subtitles else [])
    if subtitles:
        assert subs[0][2] == "eng"
        assert subs[0][5] == [(0.5, 1.0, "Hello"), (1.2, 1.8, "World")]  # each line at its time


def test_mp4_subtitles_become_subrip_in_matroska(tmp_path):
    """Matroska takes nearly any subtitles as they are, but not MP4's own mov_text."""
    film = make_film(tmp_path / "film.mkv")
    for src, dst in ((film, tmp_path / "film.mp4"), (tmp_path / "film.mp4", tmp_path / "again.mkv")):
        with VideoReader(src) as reader, VideoWriter(dst, fps=reader.fps, audio_from=src) as writer:
            for frame in reader:
                writer.write(frame)
    subs = [t for t in tracks(tmp_path / "again.mkv") if t[0] == "subtitle"]
    assert [(t[1], t[2], t[5]) for t in subs] == [("subrip", "eng", [(0.5, 1.0, "Hello"), (1.2, 1.8, "World")])]


@pytest.mark.parametrize("out_ext", [".mp4", ".mov", ".mkv"])
def test_a_phone_videos_date_place_and_camera_are_kept(tmp_path, out_ext):
    """A stylized phone video keeps when and where it was filmed, and on what (a gallery
    sorts and maps it by these), Apple's own keys included; the source's encoder tag is not
    carried (the output is not its encoder's work)."""
    src = tmp_path / "phone.mov"
    tags = {"creation_time": "2012-11-26T23:33:37.000000Z", "location": "+37.7899-122.4221/", "make": "Apple",
            "model": "iPhone 5", "title": "Coin", "com.apple.quicktime.location.ISO6709": "+37.7899-122.4221+081.120/"}
    with av.open(str(src), "w", options={"movflags": "+use_metadata_tags"}) as c:
        c.metadata.update({**tags, "encoder": "6.0.1"})
        v = c.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        for i in range(4):
            c.mux(v.encode(av.VideoFrame.from_ndarray(pattern(i), format="rgb24")))
        c.mux(v.encode())
    dst = tmp_path / f"out{out_ext}"
    with VideoReader(src) as reader, VideoWriter(dst, fps=reader.fps, audio_from=src) as writer:
        for frame in reader:
            writer.write(frame)
    with av.open(str(dst)) as c:
        got = {k.lower(): v for k, v in c.metadata.items()}  # (Matroska's tags are upper-case)
    want = {k.lower(): v for k, v in tags.items() if k != "location"}
    assert {k: got.get(k) for k in want} == want
    assert got["location"].startswith("+37.7899-122.4221")  # (MP4 writes the altitude its own way)
    assert got["encoder"].startswith("Lavf")


@pytest.mark.parametrize("out_ext", [".mp4", ".mkv", ".avi"])
def test_a_films_chapters_are_kept_in_step_with_the_pictures(tmp_path, out_ext):
    """A film's chapters (a player's chapter menu) are kept, on the output's clock: the
    source's pictures start 0.5 s into its timeline, so its chapter at 1.0 s is at 0.5 s
    of the output, and its first chapter starts at 0. AVI holds no chapters."""
    from fractions import Fraction

    src = tmp_path / "film.mkv"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.codec_context.time_base = Fraction(1, FPS)
        c.set_chapters([{"id": 1, "start": 0, "end": 1000, "time_base": Fraction(1, 1000), "metadata": {"title": "Intro"}},
                        {"id": 2, "start": 1000, "end": 2500, "time_base": Fraction(1, 1000),
                         "metadata": {"title": "Main"}}])
        for i in range(2 * FPS):
            frame = av.VideoFrame.from_ndarray(pattern(i), format="rgb24")
            frame.pts, frame.time_base = i + FPS // 2, Fraction(1, FPS)  # from 0.5 s on
            c.mux(v.encode(frame))
        c.mux(v.encode())
    dst = tmp_path / f"out{out_ext}"
    with VideoReader(src) as reader, VideoWriter(dst, fps=reader.fps, audio_from=src,
                                                 audio_start=reader.start) as writer:
        assert reader.start == pytest.approx(0.5)
        for frame in reader:
            writer.write(frame)
    with av.open(str(dst)) as c:
        got = [(ch["metadata"].get("title"), round(float(ch["start"] * ch["time_base"]), 3),
                round(float(ch["end"] * ch["time_base"]), 3)) for ch in c.chapters()]
    assert got == ([] if out_ext == ".avi" else [("Intro", 0.0, 0.5), ("Main", 0.5, 2.0)])


def test_a_recording_cut_between_key_frames_keeps_its_sound_in_step(tmp_path):
    """A TV recording or a stream cut anywhere: its first frames lean on a key frame that is
    not in the file, so the pictures start later than its video stream does. The sound must
    start where the pictures do: a flash at 2.4 s in the pictures and a beep at 2.4 s in the
    sound stay together (the beep came 0.96 s after the flash, the time the stream ran
    before its first key frame)."""
    src, rate, flash = tmp_path / "cut.mkv", 48000, 60
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=25, options={"preset": "ultrafast", "g": "25", "bf": "0"})
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        a = c.add_stream("aac", rate=rate)
        a.layout = "mono"
        packets = []
        for i in range(100):
            packets += v.encode(av.VideoFrame.from_ndarray(np.full((H, W, 3), 255 if i == flash else 40, np.uint8),
                                                           format="rgb24"))
        packets += v.encode()
        assert packets[0].is_keyframe
        c.mux(packets[1:])  # the first key frame lost: frames 1-24 cannot be decoded
        wave = np.zeros(4 * rate, np.float32)
        wave[int(flash / 25 * rate):int((flash + 1) / 25 * rate)] = 0.5  # the beep, as long as the flash
        for start in range(0, len(wave), 1024):
            frame = av.AudioFrame.from_ndarray(wave[None, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            c.mux(a.encode(frame))
        c.mux(a.encode())
    dst = tmp_path / "out.mp4"
    with VideoReader(src) as reader, \
            VideoWriter(dst, fps=reader.fps, audio_from=src, audio_start=reader.start) as writer:
        assert reader.start == 1  # frame 25, the first key frame
        for frame in reader:
            writer.write(frame)
    with av.open(str(dst)) as c:
        seen = [(float(f.time), f.to_ndarray(format="gray").mean()) for f in c.decode(video=0)]
    with av.open(str(dst)) as c:
        sound = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])
    pictures_flash = next(t for t, level in seen if level > 150)
    sound_beep = np.argmax(np.abs(sound) > 0.25) / rate
    assert abs(pictures_flash - 1.4) < 0.01
    assert abs(sound_beep - pictures_flash) < 0.03  # within a frame (AAC's priming taken off)


def test_damaged_sound_is_left_out_not_the_whole_video(tmp_path):
    """A recording with a few damaged AAC packets, stylized to WebM (the sound re-encoded
    to Opus): the damaged moments are left out, as a player leaves them; before, the
    decoder's error failed the whole file at its end."""
    src = make_clip(tmp_path / "damaged.mkv", "aac")
    with av.open(str(src)) as c:
        packets = [(p.stream.type, p, bytes(p)) for p in c.demux() if p.size]
    with av.open(str(tmp_path / "src.mkv"), "w") as out, av.open(str(src)) as c:
        streams = {"video": out.add_stream_from_template(c.streams.video[0]),
                   "audio": out.add_stream_from_template(c.streams.audio[0])}
        k = 0
        for kind, p, data in packets:
            if kind == "audio":
                k += 1
                if k in (10, 11, 20):  # three packets of noise
                    q = av.Packet(np.random.default_rng(k).integers(0, 255, len(data), dtype=np.uint8).tobytes())
                    q.pts, q.dts, q.duration, q.time_base = p.pts, p.dts, p.duration, p.time_base
                    p = q
            p.stream = streams[kind]
            out.mux(p)
    dst = tmp_path / "out.webm"
    with VideoReader(tmp_path / "src.mkv") as reader, \
            VideoWriter(dst, fps=reader.fps, audio_from=tmp_path / "src.mkv") as writer:
        for frame in reader:
            writer.write(frame)
    assert writer.damaged >= 1
    got = probe(dst)
    assert got["frames"] == FRAMES and got["audio"] == "opus"
    assert got["audio_seconds"] > FRAMES / FPS - 0.2  # three packets of 1024 samples, at most, missing


def test_audio_is_interleaved(tmp_path, clips):
    dst = tmp_path / "out.mp4"
    with VideoReader(clips["pcm"]) as reader, VideoWriter(dst, reader.fps, audio_from=clips["pcm"]) as writer:
        for frame in reader:
            writer.write(frame)
    with av.open(str(dst)) as c:
        order = "".join(p.stream.type[0] for p in c.demux() if p.size)
    assert "v" in order[-FRAMES:] and "a" in order[:FRAMES]  # not all audio after all video


def test_writer_sizes_rates_and_gif(tmp_path):
    with VideoWriter(tmp_path / "odd.mp4", fps=Fraction(30000, 1001)) as w:
        w.write(pattern(0, h=33, w=47))
        w.write(pattern(1, h=40, w=40))  # another size: fitted inside the first
    info = probe(tmp_path / "odd.mp4")
    assert info["size"] == (48, 34) and info["frames"] == 2 and info["fps"] == Fraction(30000, 1001)

    # a stream that changes resolution midway: a square picture stays square, between bars
    square = np.full((32, 32, 3), 255, np.uint8)
    with VideoWriter(tmp_path / "wide.mp4", fps=10) as w:
        w.write(np.full((32, 64, 3), 128, np.uint8))
        w.write(square)
    with VideoReader(tmp_path / "wide.mp4") as r:
        second = list(r)[1].mean(axis=(0, 2))  # column by column
    assert (second[:14] < 20).all() and (second[18:46] > 235).all() and (second[50:] < 20).all()

    with VideoWriter(tmp_path / "anim.gif", fps=10.0) as w:
        for i in range(5):
            w.write(pattern(i, h=33, w=47))
    with VideoReader(tmp_path / "anim.gif") as r:
        frames = list(r)
    assert len(frames) == 5 and frames[0].shape == (33, 47, 3) and r.fps == 10
    assert np.abs(frames[2].astype(int) - pattern(2, h=33, w=47)).mean() < 4


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


def test_writer_keeps_the_frames_times(tmp_path):
    """A time given with a frame is kept; none, or one not after the last frame's, puts the
    frame one frame (at ``fps``) after the last. GIF keeps hundredths; AVI is constant-rate."""
    times = [0, 0.5, None, 0.55, 0.55, 2.0]
    for ext in (".mp4", ".mov", ".mkv", ".webm"):
        with VideoWriter(tmp_path / f"t{ext}", fps=10) as w:
            for i, t in enumerate(times):
                w.write(pattern(i), t)
        assert frame_times(tmp_path / f"t{ext}") == pytest.approx([0, 0.5, 0.6, 0.7, 0.8, 2.0], abs=1e-3), ext
    with VideoWriter(tmp_path / "t.gif", fps=10) as w:
        for i, t in enumerate([0, 0.5, 0.551, None, 2.0]):  # hundredths: 0.551 -> 0.55
            w.write(pattern(i), t)
    assert frame_times(tmp_path / "t.gif") == pytest.approx([0, 0.5, 0.55, 0.65, 2.0], abs=1e-3)
    with VideoWriter(tmp_path / "t.avi", fps=10) as w:
        for i, t in enumerate(times):
            w.write(pattern(i), t)
    assert frame_times(tmp_path / "t.avi") == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5], abs=1e-3)


def test_a_long_constant_rate_video_does_not_drift(tmp_path):
    """23.976 fps is 3753.75 ticks of the 90 kHz clock a frame: the timestamps stay exact
    (rounded each, not added up rounded)."""
    w = VideoWriter(tmp_path / "long.mp4", fps=Fraction(24000, 1001))
    stamps = [w._next_pts(None) for _ in range(100_000)]
    assert stamps[-1] == round(99_999 * Fraction(1001, 24000) * 90000)
    w.abort()


@pytest.mark.parametrize("fps,expected", [
    (12, Fraction(12)), (25.0, Fraction(25)), (29.97002997, Fraction(30000, 1001)),
    (Fraction(24000, 1001), Fraction(24000, 1001)), (12.5, Fraction(25, 2)),
])
def test_frame_rates(fps, expected):
    assert media.encode._frame_rate(fps) == expected
    approx = media.encode._frame_rate(Fraction(1000000, 33367))  # Matroska-style: time base kept encodable
    assert (1 / approx).denominator <= 65535 and abs(approx - Fraction(1000000, 33367)) < 1e-6
    with pytest.raises(ValueError):
        media.encode._frame_rate(0)


def test_image_writers_cover_the_image_output_extensions():
    assert set(media.images._IMAGE_WRITERS) == media.IMAGE_OUTPUT_EXTS < media.IMAGE_EXTS


def test_heic_photos_are_read_with_pillow_heif(tmp_path, monkeypatch):
    """An iPhone's photos are HEIC: read through pillow-heif's opener (the rtstyle[heif]
    extra); without it, one clear error that says what to install."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    Image.fromarray(pattern(0)).save(tmp_path / "IMG_0001.HEIC", quality=95)
    frame = read_image(tmp_path / "IMG_0001.HEIC")
    assert frame.shape == (H, W, 3) and np.abs(frame.astype(int) - pattern(0)).mean() < 8
    assert input_kind(tmp_path / "IMG_0001.HEIC") == "image"
    media.images.heif_support.cache_clear()
    monkeypatch.setitem(__import__("sys").modules, "pillow_heif", None)  # not installed
    with pytest.raises(RtStyleError, match=r"need pillow-heif \(pip install 'rtstyle\[heif\]'\)"):
        read_image(tmp_path / "IMG_0001.HEIC")
    media.images.heif_support.cache_clear()


def test_output_formats_cover_the_output_extensions():
    assert set(media.encode._OUTPUT_FORMATS) == media.VIDEO_OUTPUT_EXTS <= media.VIDEO_EXTS


def test_writer_is_atomic(tmp_path, clips):
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyError):
        with VideoWriter(dst, FPS, audio_from=clips["aac"]) as w:
            for i in range(5):
                w.write(pattern(i))
            assert leftovers(tmp_path) and not dst.exists()  # work happens under a temporary name
            raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []

    w = VideoWriter(dst, FPS)
    w.write(pattern())
    w.abort()
    w.close()  # a no-op after abort
    assert list(tmp_path.iterdir()) == []

    with pytest.raises(RtStyleError, match="no frames"):
        with VideoWriter(dst, FPS):
            pass
    assert list(tmp_path.iterdir()) == []


def test_writer_bad_outputs(tmp_path, clips):
    (tmp_path / "file").write_text("a regular file")
    with pytest.raises(RtStyleError, match="cannot write"):
        VideoWriter(tmp_path / "file" / "out.mp4", FPS)
    with pytest.raises(RtStyleError, match="unsupported video format"):
        VideoWriter(tmp_path / "out.xyz", FPS)
    with pytest.raises(RtStyleError, match="no such"):
        VideoWriter(tmp_path / "out.mp4", FPS, audio_from=tmp_path / "missing.mp4")
    with pytest.raises(RtStyleError, match="no nosuchcodec encoder"):
        VideoWriter(tmp_path / "out.mp4", FPS, codec="nosuchcodec")
    with pytest.raises(RtStyleError, match="cannot write"):  # the container refuses the codec
        with VideoWriter(tmp_path / "out.webm", FPS, codec="libx264") as w:
            w.write(pattern())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_video_reader_bad_inputs(tmp_path, clips):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("hello, I am not a video\n" * 20)
    data = clips["aac"].read_bytes()  # PyAV wrote the index last: a cut file lacks it
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with VideoReader(clips["aac"]) as r, VideoWriter(tmp_path / "fast.mp4", r.fps) as w:
        for f in r:  # VideoWriter writes the index first (faststart): a cut file keeps it
            w.write(f)
    data = (tmp_path / "fast.mp4").read_bytes()
    (tmp_path / "cutfast.mp4").write_bytes(data[: len(data) // 2])
    with av.open(str(tmp_path / "sound.mka"), "w") as c:  # audio only
        a = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="stereo")
        frame.sample_rate = 8000
        c.mux(a.encode(frame))
        c.mux(a.encode())
    (tmp_path / "folder.mp4").mkdir()
    for name, msg in [("missing.mp4", "no such"), ("empty.mp4", "empty"), ("text.mp4", "not a video"),
                      ("cut.mp4", "cut.mp4"), ("cutfast.mp4", "truncated"), ("sound.mka", "no video stream"),
                      ("folder.mp4", "not a file")]:
        with pytest.raises(RtStyleError, match=msg):
            VideoReader(tmp_path / name)


def test_decode_errors_mid_stream_become_rtstyle_errors(clips):
    reader = VideoReader(clips["aac"])
    real = reader._container

    class Failing:  # the container failing after the first frame
        def demux(self, *args):
            raise av.InvalidDataError(1094995529, "Invalid data found when processing input")

        def close(self):
            real.close()

    reader._container = Failing()
    reader._frames = reader._decode()
    with pytest.raises(RtStyleError, match="cannot decode video .*aac.mp4"):
        list(reader)
    reader.close()


@pytest.mark.parametrize("codec,muxer,ext", [("mpeg4", "avi", ".avi"), ("libvpx-vp9", "webm", ".webm")])
def test_damaged_video_packets_are_left_out(tmp_path, codec, muxer, ext):
    """Two packets of noise in the middle of an MPEG-4 AVI or a VP9 WebM (a bad sector, a
    dropped byte): their frames are left out, as a player skips them; before, the
    decoder's error ended the whole stylization there, its work lost."""
    path = tmp_path / f"damaged{ext}"
    with av.open(str(path), "w", format=muxer) as c:
        v = c.add_stream(codec, rate=FPS)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        packets = []
        for i in range(FRAMES):
            packets += v.encode(av.VideoFrame.from_ndarray(pattern(i), format="rgb24"))
        packets += v.encode()
        for k, p in enumerate(packets):
            if k in (8, 16):
                q = av.Packet(np.random.default_rng(k).integers(0, 255, p.size, dtype=np.uint8).tobytes())
                q.pts, q.dts, q.duration, q.time_base, q.stream = p.pts, p.dts, p.duration, p.time_base, v
                p = q
            c.mux(p)
    with VideoReader(path) as reader:
        frames = list(reader)
    assert 1 <= reader.damaged <= 2 and FRAMES - 2 <= len(frames) < FRAMES


# --------------------------------------------------------------------------- cameras, display


def test_camera_reads_a_video_file(clips):
    with Camera(str(clips["aac"])) as cam:
        frames = list(cam)
        assert cam.fps == FPS
    assert len(frames) == FRAMES and frames[0].shape == (H, W, 3)
    assert frames[0][5, 5, 0] > 200 and frames[0][5, 5, 2] < 60  # RGB, not BGR
    with Camera(clips["silent"]) as cam:  # a Path works too
        assert sum(1 for _ in cam) == FRAMES


def test_camera_that_cannot_open(tmp_path):
    with pytest.raises(RtStyleError, match="cannot open camera/stream .*missing.mp4"):
        Camera(str(tmp_path / "missing.mp4"))
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(RtStyleError, match="cannot open camera/stream"):
        Camera(str(tmp_path / "text.mp4"))
    with pytest.raises(RtStyleError, match="cannot open camera/stream 97"):
        Camera("97")


@pytest.mark.parametrize("platform,env,expected", [
    ("darwin", {}, True), ("win32", {}, True), ("linux", {}, False),
    ("linux", {"DISPLAY": ":0"}, True), ("linux", {"WAYLAND_DISPLAY": "wayland-0"}, True),
])
def test_display_available(monkeypatch, platform, env, expected):
    monkeypatch.setattr(media.window.sys, "platform", platform)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert display_available() is expected


def test_window_without_display(monkeypatch):
    monkeypatch.setattr(media.window.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(RtStyleError, match="no display"):
        Window("test")


def test_tk_window_quits_on_q(monkeypatch):
    """The Tkinter fallback, against a stand-in Tk (no display here): frames are shown,
    other keys are collected, q, Esc or closing the window make show() return False."""
    import sys
    import types

    import PIL

    class FakeRoot:
        def __init__(self):
            self.bindings, self.protocols, self.destroyed = {}, {}, False

        def title(self, text):
            self.text = text

        def bind(self, key, fn, add=None):
            self.bindings[key] = fn

        def protocol(self, name, fn):
            self.protocols[name] = fn

        def update(self):
            pass

        def destroy(self):
            self.destroyed = True

    class FakeLabel:
        def __init__(self, root, **kw):
            self.image = None

        def pack(self):
            pass

        def configure(self, image):
            self.image = image

    class FakePhoto:
        def __init__(self, img, master=None):
            self.size, self.pasted = img.size, 0

        def width(self):
            return self.size[0]

        def height(self):
            return self.size[1]

        def paste(self, img):
            self.pasted += 1

    fake_tk = types.SimpleNamespace(Tk=FakeRoot, Label=FakeLabel, TclError=RuntimeError)
    fake_imagetk = types.SimpleNamespace(PhotoImage=FakePhoto)
    monkeypatch.setitem(sys.modules, "tkinter", fake_tk)
    monkeypatch.setitem(sys.modules, "PIL.ImageTk", fake_imagetk)
    monkeypatch.setattr(PIL, "ImageTk", fake_imagetk, raising=False)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(media.window, "_opencv_has_gui", lambda: False)

    for quit_event in ("<KeyPress-q>", "<Escape>", "WM_DELETE_WINDOW"):
        win = Window("test")
        root = win._impl._root
        assert win.show(pattern(0)) and win.show(pattern(1))
        assert win._impl._photo.pasted == 1  # same size: pasted into the same photo
        for char in ("n", "+", "\r"):  # other keys are handed to the live controls
            root.bindings["<Key>"](types.SimpleNamespace(char=char))
        assert win.keys() == ["n", "+"] and win.keys() == []
        (root.bindings.get(quit_event) or root.protocols[quit_event])()
        assert win.show(pattern(2)) is False
        win.close()
        assert root.destroyed


def test_headless_opencv_is_detected():
    import cv2

    gui = [line for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")]
    if gui and gui[0].split(":", 1)[1].strip() == "NONE":
        assert media.window._opencv_has_gui() is False


def test_draw_fps():
    frame = np.full((120, 160, 3), 90, np.uint8)
    out = draw_fps(frame, 23.456)
    assert out.shape == frame.shape and out is not frame
    assert (frame == 90).all()  # the input is untouched
    corner = out[:40, :100]
    assert (corner.min(axis=2) > 220).any() and (corner.max(axis=2) < 30).any()  # white text, dark outline
    assert (out[60:, :] == 90).all()
