"""Stylizing through the CLI, the original inference.py interface and the Python API."""

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from conftest import make_clip, make_photo
from PIL import Image
from test_media import make_film

from rtstyle import Stylizer
from rtstyle.cli import main
from rtstyle.media import read_image

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([sys.executable, "-m", "rtstyle.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=cwd)


def probe(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(video=0))
        audio = [s for s in c.streams.audio]
        return {"frames": frames, "fps": v.average_rate, "size": (v.width, v.height),
                "audio": audio[0].codec_context.name if audio else None,
                "audio_seconds": float(audio[0].duration * audio[0].time_base) if audio and audio[0].duration else None}


def test_api_takes_pil_and_arrays_and_returns_the_same_kind(model_path):
    stylizer = Stylizer.load(model_path, device="cpu")
    arr = make_photo(37, 53, seed=1)
    out = stylizer.stylize(arr)
    assert isinstance(out, np.ndarray) and out.shape == (37, 53, 3) and out.dtype == np.uint8
    pil = stylizer.stylize(Image.fromarray(arr).convert("RGBA"))
    assert isinstance(pil, Image.Image) and pil.size == (53, 37) and pil.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(pil), out)
    # the same result as the network itself, clamped and rounded
    with torch.no_grad():
        ref = stylizer.backend.model(torch.from_numpy(arr).permute(2, 0, 1)[None].float())
    ref = ref[0].clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
    assert np.abs(ref.astype(int) - out).max() <= 1
    small = Stylizer.load(model_path, device="cpu", image_size=20).stylize(arr)
    assert min(small.shape[:2]) == 20
    with pytest.raises(ValueError):
        stylizer.stylize(np.zeros((4, 4), np.uint8))


def test_image_and_folder(tmp_path, model_path):
    Image.fromarray(make_photo(30, 41, 2)).save(tmp_path / "a.png")
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    for i, name in enumerate(["x.jpg", "sub/y.png"]):
        Image.fromarray(make_photo(24, 32, i)).save(tmp_path / "dir" / name)
    r = run_cli("stylize", "--model", model_path, "--input", tmp_path / "a.png", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["output"] == str(tmp_path / "a_stylized.png")
    assert Image.open(tmp_path / "a_stylized.png").size == (41, 30)
    r = run_cli("stylize", "--model", model_path, "--input", tmp_path / "dir", "--output", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*")) == \
        ["sub/y.png", "x.jpg"]


def test_video_round_trip_keeps_frames_rate_and_audio(tmp_path, model_path, clip):
    """The original interface: python inference.py --model M --input in.mp4 --output out.mp4"""
    out = tmp_path / "stylized_video.mp4"
    r = subprocess.run([sys.executable, str(ROOT / "inference.py"), "--model", str(model_path), "--input",
                        str(clip), "--output", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    src, dst = probe(clip), probe(out)
    assert dst["frames"] == src["frames"] == 12
    assert dst["fps"] == src["fps"] and dst["size"] == src["size"]
    assert dst["audio"] == "aac" and abs(dst["audio_seconds"] - src["audio_seconds"]) < 0.1
    assert [p.name for p in tmp_path.iterdir()] == ["stylized_video.mp4"]


def test_a_films_tracks_are_counted_in_json(tmp_path, model_path):
    film = make_film(tmp_path / "film.mkv")
    r = run_cli("stylize", "--model", model_path, "--input", film, "--output", tmp_path / "out.mkv", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["audio_tracks"], summary["subtitle_tracks"]) == (2, 1)
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert [s.type for s in c.streams] == ["video", "audio", "audio", "subtitle"]


@pytest.mark.parametrize("ext,muxer,codec", [(".h264", "h264", "libx264"), (".y4m", "yuv4mpegpipe", "rawvideo")])
def test_raw_camera_streams_are_videos(tmp_path, model_path, ext, muxer, codec):
    """A Raspberry Pi camera's raw H.264 stream (no container, no timestamps) and a Y4M
    test sequence: stylized like any video, to an MP4 beside them."""
    src = tmp_path / f"cam{ext}"
    with av.open(str(src), "w", format=muxer) as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            c.mux(s.encode(av.VideoFrame.from_ndarray(make_photo(48, 64, i), format="rgb24")))
        c.mux(s.encode())
    r = run_cli("stylize", "--model", model_path, "--input", src, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["output"] == str(tmp_path / "cam_stylized.mp4")
    assert probe(tmp_path / "cam_stylized.mp4")["frames"] == 10
    # the rate a raw stream does not record (a Pi camera films at 30): --fps
    r = run_cli("stylize", "--model", model_path, "--input", src, "--fps", "30", "--output", tmp_path / "at30.mp4")
    assert r.returncode == 0, r.stderr
    info = probe(tmp_path / "at30.mp4")
    assert info["frames"] == 10 and info["fps"] == 30


def test_video_image_size_rounds_to_even(tmp_path, model_path, clip):
    out = tmp_path / "small.mkv"
    assert main(["stylize", "--model", str(model_path), "--input", str(clip), "--output", str(out),
                 "--image-size", "25"]) == 0
    info = probe(out)
    assert info["size"] == (34, 26) and info["frames"] == 12  # 64x48 -> 33.3x25 -> even sides


def frame_times(path):
    """Each frame's time from the first's (WebM shifts both streams by Opus's priming samples)."""
    with av.open(str(path)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    return [t - times[0] for t in times]


def audio_seconds(path):
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return sum(f.samples for f in c.decode(a)) / a.codec_context.sample_rate


def test_a_phone_video_at_a_variable_rate_keeps_its_timing_and_audio(tmp_path, model_path):
    """Phones record slower in dim light: frame n is not at n/fps. The stylized video shows
    each frame when the source does, so it stays in step with its audio."""
    times = [0.0, 0.2, 0.4, 0.6, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15]  # 5 fps, then 20
    src = make_clip(tmp_path / "phone.mp4", times=times)
    assert frame_times(src) == pytest.approx(times, abs=1e-3)
    source = audio_seconds(src)
    for ext in (".mp4", ".mkv", ".webm"):
        out = tmp_path / f"out{ext}"
        assert main(["stylize", "--model", str(model_path), "--input", str(src), "--output", str(out),
                     "--no-progress"]) == 0
        assert frame_times(out) == pytest.approx(times, abs=1e-3), ext
        assert audio_seconds(out) == pytest.approx(source, abs=0.05)
    # AVI has no per-frame times: evenly spaced at the average rate
    assert main(["stylize", "--model", str(model_path), "--input", str(src), "--output", str(tmp_path / "o.avi"),
                 "--no-progress"]) == 0
    spacing = np.diff(frame_times(tmp_path / "o.avi"))
    assert len(spacing) == 11 and np.ptp(spacing) < 1e-3


def test_webcam_loop_records_a_stream(tmp_path, model_path, clip):
    """The capture loop, fed a video file in place of a camera, with no display."""
    out = tmp_path / "rec.mp4"
    r = run_cli("stylize", "--model", model_path, "--webcam", clip, "--output", out, "--image-size", "32")
    assert r.returncode == 0, r.stderr
    info = probe(out)
    assert info["frames"] == 12 and min(info["size"]) == 32


def test_webcam_without_display_or_output_is_an_error(model_path, clip):
    r = run_cli("stylize", "--model", model_path, "--webcam", clip)
    assert r.returncode == 2 and "no display" in r.stderr and "Traceback" not in r.stderr


def _bad_cases(tmp, model_path, clip):
    (tmp / "empty.jpg").write_bytes(b"")
    (tmp / "text.mp4").write_text("this is not a video\n" * 10)
    photo = tmp / "photo.jpg"
    Image.fromarray(make_photo(64, 64, 3)).save(photo)
    (tmp / "trunc.jpg").write_bytes(photo.read_bytes()[:300])
    (tmp / "trunc.mp4").write_bytes(Path(clip).read_bytes()[:1500])
    (tmp / "notamodel.pth").write_text("hello")
    (tmp / "afile").write_text("x")
    m = str(model_path)
    return {
        "missing input": (["--model", m, "--input", tmp / "missing.jpg"], tmp / "o1.jpg"),
        "empty image": (["--model", m, "--input", tmp / "empty.jpg"], tmp / "o2.jpg"),
        "truncated image": (["--model", m, "--input", tmp / "trunc.jpg"], tmp / "o3.jpg"),
        "text as video": (["--model", m, "--input", tmp / "text.mp4"], tmp / "o4.mp4"),
        "truncated video": (["--model", m, "--input", tmp / "trunc.mp4"], tmp / "o5.mp4"),
        "not a model": (["--model", tmp / "notamodel.pth", "--input", photo], tmp / "o6.jpg"),
        "missing model": (["--model", tmp / "nomodel.pth", "--input", photo], tmp / "o7.jpg"),
        "unwritable output": (["--model", m, "--input", photo], tmp / "afile" / "o8.jpg"),
        "wrong output type": (["--model", m, "--input", clip], tmp / "o9.jpg"),
        "no camera": (["--model", m, "--webcam", "/dev/video-none"], tmp / "o10.mp4"),
    }


@pytest.mark.parametrize("case", ["missing input", "empty image", "truncated image", "text as video",
                                  "truncated video", "not a model", "missing model", "unwritable output",
                                  "wrong output type", "no camera"])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, model_path, clip, case):
    args, output = _bad_cases(tmp_path, model_path, clip)[case]
    r = run_cli("stylize", *args, "--output", output)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtstyle: error: "), r.stderr
    assert not output.exists()
    assert not [p for p in output.parent.glob(".*tmp*")] if output.parent.is_dir() else True


def test_an_iphone_photo_is_stylized_to_jpeg(tmp_path, model_path):
    """HEIC in (an iPhone's photos), JPEG out: beside it by default, and in a folder."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    (tmp_path / "album").mkdir()
    Image.fromarray(make_photo(40, 56, 6)).save(tmp_path / "album" / "IMG_0001.HEIC", quality=95)
    Image.fromarray(make_photo(40, 56, 7)).save(tmp_path / "album" / "b.png")
    m = str(model_path)
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "album" / "IMG_0001.HEIC")]) == 0
    out = Image.open(tmp_path / "album" / "IMG_0001_stylized.jpg")
    assert out.format == "JPEG" and out.size == (56, 40)
    # into its own folder: as IMG_0001.jpg, which replaces nothing
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "album" / "IMG_0001.HEIC"),
                 "--output", str(tmp_path / "album")]) == 0
    assert Image.open(tmp_path / "album" / "IMG_0001.jpg").format == "JPEG"
    (tmp_path / "album" / "IMG_0001.jpg").unlink()
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "album"), "--output", str(tmp_path / "o"),
                 "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["IMG_0001.jpg", "IMG_0001_stylized.jpg", "b.png"]


def test_a_folder_says_which_videos_it_leaves_out(tmp_path, model_path, clip):
    (tmp_path / "roll").mkdir()
    Image.fromarray(make_photo(24, 32, 1)).save(tmp_path / "roll" / "a.jpg")
    (tmp_path / "roll" / "b.mp4").write_bytes(Path(clip).read_bytes())
    Image.fromarray(make_photo(24, 32, 2)).save(tmp_path / "roll" / "logo.gif")  # one frame: a picture
    frames = [Image.fromarray(make_photo(24, 32, i)) for i in range(3)]
    frames[0].save(tmp_path / "roll" / "c.gif", save_all=True, append_images=frames[1:])  # opaque, animated: a video
    r = run_cli("stylize", "--model", model_path, "--input", tmp_path / "roll", "--json", "--no-progress")
    assert r.returncode == 0 and "2 videos there: stylize each with --input FILE" in r.stderr
    summary = json.loads(r.stdout)
    assert sorted(summary["videos_left_out"]) == [str(tmp_path / "roll" / n) for n in ("b.mp4", "c.gif")]
    assert summary["images"] == 2 and Image.open(tmp_path / "roll_stylized" / "logo.gif").size == (32, 24)
    for name in ("a.jpg", "logo.gif", "c.gif"):
        (tmp_path / "roll" / name).unlink()
    r = run_cli("stylize", "--model", model_path, "--input", tmp_path / "roll")
    assert r.returncode == 2 and "no images found" in r.stderr and "1 video there" in r.stderr


def test_an_animated_gif_stays_an_animated_gif(tmp_path, model_path):
    """By default a GIF comes back as a GIF, every frame at its own delay."""
    frames = [Image.fromarray(make_photo(24, 32, i)) for i in range(4)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=[100, 300, 100, 200],
                   loop=0)
    assert main(["stylize", "--model", str(model_path), "--input", str(tmp_path / "anim.gif"), "--no-temporal",
                 "--no-progress"]) == 0
    assert frame_times(tmp_path / "anim_stylized.gif") == pytest.approx([0, 0.1, 0.4, 0.5], abs=1e-3)


def test_a_still_gif_is_a_picture(tmp_path, model_path):
    """A GIF of one frame (a logo) can be written as any picture, its transparency kept;
    by default it stays a GIF."""
    rgba = np.dstack([make_photo(24, 32, 0), np.zeros((24, 32), np.uint8)])
    rgba[6:18, 8:24, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "logo.gif")
    m = str(model_path)
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "logo.gif"), "--output",
                 str(tmp_path / "logo.png"), "--no-progress"]) == 0
    with Image.open(tmp_path / "logo.png") as im:
        assert (im.mode, im.size, im.getpixel((1, 1))[3], im.getpixel((16, 12))[3]) == ("RGBA", (32, 24), 0, 255)
    Image.fromarray(rgba[..., :3]).save(tmp_path / "still.gif")
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "still.gif"), "--output",
                 str(tmp_path / "still.jpg"), "--no-progress"]) == 0
    assert read_image(tmp_path / "still.jpg").shape == (24, 32, 3)
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "still.gif"), "--no-progress"]) == 0
    with Image.open(tmp_path / "still_stylized.gif") as im:
        assert (im.format, im.n_frames, im.size) == ("GIF", 1, (32, 24))


def _animation(path):
    """(mode, loop, [(duration ms, alpha at a corner, alpha at the card's centre)]) of an
    animated image file."""
    from PIL import ImageSequence

    with Image.open(path) as im:
        frames = []
        for f in ImageSequence.Iterator(im):
            rgba = f.convert("RGBA")
            frames.append((round(f.info.get("duration")), rgba.getpixel((1, 1))[3], rgba.getpixel((28, 24))[3]))
        return im.mode, im.info.get("loop"), frames


def test_an_animated_webp_apng_or_transparent_gif_stays_animated(tmp_path, model_path):
    """A sticker as an animated WebP, APNG or transparent GIF: every frame is stylized (not
    the first alone), each keeps its duration, the loop count and its transparency are kept;
    into a video each frame comes at its time; a format that cannot animate is refused
    (exit 2, no file)."""
    card = [np.dstack([make_photo(48, 64, i), np.zeros((48, 64), np.uint8)]) for i in range(4)]
    for i, rgba in enumerate(card):
        rgba[12:36, 12 + 2 * i:44 + 2 * i, 3] = 255  # an opaque card moving on a transparent sheet
    frames = [Image.fromarray(a, "RGBA") for a in card]
    durations = [100, 300, 100, 200]
    # (every WebP frame whole: libwebp's sub-frames lose the alpha, see write_animation)
    frames[0].save(tmp_path / "sticker.webp", save_all=True, append_images=frames[1:], duration=durations,
                   loop=0, lossless=True, kmin=1, kmax=1)
    frames[0].save(tmp_path / "sticker.png", save_all=True, append_images=frames[1:], duration=durations, loop=2)
    m = str(model_path)
    want = [(d, 0, 255) for d in durations]
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "sticker.webp"), "--no-progress"]) == 0
    assert _animation(tmp_path / "sticker_stylized.webp") == ("RGBA", 0, want)
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "sticker.png"), "--no-progress"]) == 0
    assert _animation(tmp_path / "sticker_stylized.png") == ("RGBA", 2, want)
    frames[0].save(tmp_path / "sticker.gif", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   disposal=2)
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "sticker.gif"), "--no-progress"]) == 0
    assert _animation(tmp_path / "sticker_stylized.gif")[1:] == (0, want)
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "sticker.webp"), "--output",
                 str(tmp_path / "sticker.mp4"), "--no-progress"]) == 0
    assert frame_times(tmp_path / "sticker.mp4") == pytest.approx([0, 0.1, 0.4, 0.5], abs=1e-3)
    r = run_cli("stylize", "--model", m, "--input", tmp_path / "sticker.webp", "--output", tmp_path / "one.jpg")
    assert r.returncode == 2 and "animated" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "one.jpg").exists()


def test_a_transparent_image_keeps_its_transparency(tmp_path, model_path):
    """A logo or a sticker: the stylized PNG (WebP, TIFF, AVIF) has the original's alpha,
    resized with the picture; a JPEG shows it over white, as before."""
    rgba = np.dstack([make_photo(40, 56, 8), np.zeros((40, 56), np.uint8)])
    rgba[8:32, 10:46, 3] = 255  # an opaque card on a transparent sheet
    Image.fromarray(rgba, "RGBA").save(tmp_path / "sticker.png")
    m = str(model_path)
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "sticker.png")]) == 0
    out = Image.open(tmp_path / "sticker_stylized.png")
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])
    for ext in (".webp", ".tif"):
        assert main(["stylize", "--model", m, "--input", str(tmp_path / "sticker.png"), "--output",
                     str(tmp_path / f"s{ext}")]) == 0
        got = Image.open(tmp_path / f"s{ext}")
        assert got.mode == "RGBA" and np.abs(np.asarray(got)[..., 3].astype(int) - rgba[..., 3]).max() <= 2, ext
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "sticker.png"), "--output",
                 str(tmp_path / "half.png"), "--image-size", "20"]) == 0
    half = np.asarray(Image.open(tmp_path / "half.png"))
    assert half.shape == (20, 28, 4) and half[10, 14, 3] == 255 and half[1, 1, 3] == 0
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "sticker.png"), "--output",
                 str(tmp_path / "flat.jpg")]) == 0
    assert Image.open(tmp_path / "flat.jpg").mode == "RGB"


def test_a_phone_photos_exif_and_colour_profile_are_kept(tmp_path, model_path):
    """The stylized copy of a phone photo keeps when and where it was taken and the camera
    (a gallery sorts and maps it with the original), and its colour profile; not the
    rotation (applied to the pixels) nor the stale picture size. A CMYK profile does not
    follow into the RGB copy."""
    from PIL import ImageCms

    exif = Image.Exif()
    exif.update({0x010F: "Apple", 0x0110: "iPhone 6", 0x0132: "2019:04:14 13:46:10", 0x0112: 6})
    exif.get_ifd(0x8769).update({0x9003: "2019:04:14 13:46:10", 0xA002: 56, 0xA003: 40})
    exif.get_ifd(0x8825).update({1: "N", 2: (50.0, 52.0, 44.0), 3: "E", 4: (4.0, 42.0, 3.0)})
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(make_photo(40, 56, 5)).save(tmp_path / "phone.jpg", exif=exif.tobytes(), icc_profile=srgb)
    m = str(model_path)
    for ext in (".jpg", ".png", ".webp"):
        out = tmp_path / f"out{ext}"
        assert main(["stylize", "--model", m, "--input", str(tmp_path / "phone.jpg"), "--output", str(out),
                     "--image-size", "20"]) == 0
        img = Image.open(out)
        got = img.getexif()
        assert img.size == (20, 28)  # turned by its orientation, then resized
        assert (got.get(0x010F), got.get(0x0110), got.get(0x0132)) == ("Apple", "iPhone 6", "2019:04:14 13:46:10"), ext
        assert got.get_ifd(0x8769).get(0x9003) == "2019:04:14 13:46:10"
        assert got.get_ifd(0x8825).get(2) == (50.0, 52.0, 44.0)
        assert 0x0112 not in got and 0xA002 not in got.get_ifd(0x8769)  # not turned twice; no stale size
        assert img.info.get("icc_profile") == srgb, ext
    Image.fromarray(make_photo(40, 56, 5)).save(tmp_path / "scan.tif", exif=exif.tobytes())
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "scan.tif"), "--output",
                 str(tmp_path / "scan.jpg")]) == 0
    got = Image.open(tmp_path / "scan.jpg").getexif()
    assert got.get(0x010F) == "Apple" and not {256, 257, 273, 279} & set(got)  # not the TIFF's strips and size
    cmyk = np.full((24, 32, 4), 60, np.uint8)
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "print.jpg", icc_profile=srgb[:16] + b"CMYK" + srgb[20:])
    assert main(["stylize", "--model", m, "--input", str(tmp_path / "print.jpg"), "--output",
                 str(tmp_path / "print_out.jpg")]) == 0
    assert "icc_profile" not in Image.open(tmp_path / "print_out.jpg").info


def test_a_photo_too_large_for_the_memory_is_refused_with_a_size_that_fits(model_path):
    """A 48-megapixel photo through the classic network would take about 40 GB: refused
    before the network starts, with an --image-size that a machine with that much free
    memory can take (the estimate at that size, with a fifth to spare); a photo that fits
    is not refused, and where the free memory is not known nothing is refused."""
    import re

    from rtstyle.pipeline import memory_advice

    stylizer = Stylizer.load(model_path, device="cpu")
    need = stylizer.memory_mb(6000, 8000)
    assert 30_000 < need < 50_000  # (measured: 830-900 bytes a pixel; 48 MP)
    assert stylizer.memory_mb(480, 640) == pytest.approx(need * 480 * 640 / 48e6)
    free = need / 3
    advice = memory_advice(need, free, 6000, 8000)
    side = int(re.search(r"--image-size (\d+)", advice).group(1))
    assert "8000x6000" in advice and side % 8 == 0
    assert stylizer.memory_mb(side, side * 4 // 3) <= 0.8 * free < stylizer.memory_mb(side + 16, (side + 16) * 4 // 3)
    assert memory_advice(need, need * 1.01, 6000, 8000) is None
    assert memory_advice(need, None, 6000, 8000) is None and memory_advice(None, 1.0, 6000, 8000) is None


def test_a_folder_of_frames_as_a_sequence(tmp_path, model_path):
    """--sequence: a render's frames (frame_1 ... frame_10: numbers in order, not as text)
    become one clip, steadied as a video is: into a video at --fps, each frame in its place,
    or into a folder of frames under the same names, a frame cut short skipped with a note;
    a file is not a sequence (exit 2)."""
    seq = tmp_path / "render"
    seq.mkdir()
    sources = [make_photo(48, 64, i) for i in range(10)]
    for i, frame in enumerate(sources):
        Image.fromarray(frame).save(seq / f"frame_{i + 1}.png")
    m = str(model_path)
    # (--strength 0: each frame comes out as it went in, so the video's order can be read)
    assert main(["stylize", "--model", m, "--input", str(seq), "--sequence", "--output", str(tmp_path / "clip.mp4"),
                 "--fps", "12", "--no-temporal", "--strength", "0", "--no-progress"]) == 0
    want = [f.astype(float) for f in sources]
    with av.open(str(tmp_path / "clip.mp4")) as c:
        assert float(c.streams.video[0].average_rate) == 12
        got = [f.to_ndarray(format="rgb24").astype(float) for f in c.decode(video=0)]
    assert len(got) == 10
    assert [int(np.argmin([np.abs(g - w).mean() for w in want])) for g in got] == list(range(10))
    (seq / "frame_11.png").write_bytes((seq / "frame_1.png").read_bytes()[:200])  # a render cut short
    r = run_cli("stylize", "--model", m, "--input", seq, "--sequence", "--output", tmp_path / "out", "--json")
    summary = json.loads(r.stdout)
    assert r.returncode == 0 and summary["temporal"]["frames"] == 10  # steadied, one clip
    assert summary["failed"] == [str(seq / "frame_11.png")] and "skipped: " in r.stderr
    assert {p.name for p in (tmp_path / "out").iterdir()} == {f"frame_{i}.png" for i in range(1, 11)}
    r = run_cli("stylize", "--model", m, "--input", seq / "frame_1.png", "--sequence")
    assert r.returncode == 2 and "--sequence needs a folder" in r.stderr


def test_an_output_that_would_replace_its_input_is_refused(tmp_path, model_path, clip):
    """The user's original is never overwritten: the same file, an image written into its
    own folder under its own name, the same folder, a video played as the camera."""
    photo, video, folder = tmp_path / "photo.jpg", tmp_path / "clip.mp4", tmp_path / "photos"
    Image.fromarray(make_photo(32, 40, 4)).save(photo)
    video.write_bytes(Path(clip).read_bytes())
    folder.mkdir()
    (folder / "a.png").write_bytes(photo.read_bytes())
    before = {p: p.read_bytes() for p in (photo, video, folder / "a.png")}
    m = str(model_path)
    for args in (["--input", photo, "--output", photo], ["--input", photo, "--output", tmp_path],
                 ["--input", video, "--output", video], ["--input", folder, "--output", folder],
                 ["--webcam", video, "--output", video]):
        r = run_cli("stylize", "--model", m, *args)
        assert r.returncode == 2 and "would replace the input" in r.stderr and "Traceback" not in r.stderr, args
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "photo.jpg", "photos"]
    # beside it, under another name, is fine
    assert main(["stylize", "--model", m, "--input", str(photo), "--output", str(tmp_path / "photo2.jpg")]) == 0


def test_strength_and_preserve_color(model_path, tmp_path):
    import cv2
    from conftest import textured_model

    from rtstyle import checkpoint

    path = checkpoint.save_model(textured_model("edge-fast"), tmp_path / "t.pth")
    x = make_photo(48, 64, 5)
    full = Stylizer.load(path, device="cpu").stylize(x)
    assert np.array_equal(Stylizer.load(path, device="cpu", strength=0).stylize(x), x)
    half = Stylizer.load(path, device="cpu", strength=0.5).stylize(x).astype(int)
    assert np.abs(half - (full.astype(int) + x.astype(int)) / 2).max() <= 1
    kept = Stylizer.load(path, device="cpu", preserve_color=True).stylize(x)
    lab_kept, lab_x, lab_full = (cv2.cvtColor(a, cv2.COLOR_RGB2LAB).astype(int) for a in (kept, x, full))
    assert np.abs(lab_kept[..., 0] - lab_full[..., 0]).mean() < 2  # the stylized lightness
    assert np.abs(lab_kept[..., 1:] - lab_x[..., 1:]).mean() < 3  # the original's colour
    assert np.abs(lab_full[..., 1:] - lab_x[..., 1:]).mean() > 5  # which the style had changed
    r = run_cli("stylize", "--model", path, "--input", tmp_path / "nope.png", "--strength", "1.5")
    assert r.returncode == 2 and "strength" in r.stderr
