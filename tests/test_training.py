import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_train_config
from PIL import Image

from rtstyle import checkpoint
from rtstyle.devices import cpu_has_native_bf16
from rtstyle.errors import RtStyleError
from rtstyle.training import Trainer

ROOT = Path(__file__).resolve().parents[1]


_cfg = tiny_train_config


def test_short_training_run_lowers_the_loss(tmp_path, content_dir, style_image, vgg_weights):
    losses = []
    trainer = Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path, epochs=6, lr=1e-2))
    path = trainer.run(on_step=lambda step, l: losses.append(l["total"]))
    assert len(losses) == 18  # 6 images / batch 2 * 6 epochs
    assert sum(losses[-3:]) < 0.7 * sum(losses[:3])  # from the style colour (see below), not from black
    model, meta = checkpoint.load_model(path)
    assert meta["steps"] == 18 and meta["style_image"] == "style.png"
    assert meta["train_args"]["lr"] == 1e-2 and meta["arch"]["name"] == "classic"


def test_a_fresh_network_starts_at_the_style_images_colour(tmp_path, content_dir, style_image, vgg_weights):
    """Pixel values span 0-255 and Adam's steps are small: a network whose output starts near
    black (its conv biases at 0) spends its first thousands of steps on the colour alone.
    A fresh network starts at the style image's mean colour; a warm start keeps its own."""
    trainer = Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path / "a", max_steps=1, lr=1e-12))
    trainer.run()
    style_mean = np.asarray(Image.open(style_image).convert("RGB"), dtype=np.float64).mean(axis=(0, 1))
    x = torch.stack([trainer.dataset[i][0] for i in range(4)])
    with torch.no_grad():
        out = trainer.model(x).mean(dim=(0, 2, 3)).numpy()
    assert np.abs(out - style_mean).max() < 12 and style_mean.max() > 60, (out, style_mean)
    warm = Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path / "b", max_steps=1, lr=1e-12,
                        init_from=str(tmp_path / "a" / "model.pth")))

    def output_bias():
        return [m for m in warm.model.deconv3.modules() if isinstance(m, torch.nn.Conv2d)][-1].bias.clone()

    bias = output_bias()
    warm.run()
    assert torch.equal(bias, output_bias())


def test_resume_continues_exactly(tmp_path, content_dir, style_image, vgg_weights):
    """2 steps + resume 2 steps == 4 straight steps (3 steps an epoch: crosses an epoch)."""
    cfg = dict(content_dir=content_dir, style_image=style_image, vgg_weights=vgg_weights, epochs=2)
    straight = Trainer(_cfg(out=tmp_path / "a", max_steps=4, **cfg))
    straight.run()
    assert straight.step == 4
    Trainer(_cfg(out=tmp_path / "b", max_steps=2, **cfg)).run()
    resumed = Trainer(_cfg(out=tmp_path / "b", max_steps=4, resume="auto", **cfg))
    assert resumed.step == 2
    resumed.run()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    assert checkpoint.load_model(tmp_path / "b" / "model.pth")[1]["steps"] == 4


def test_unreadable_images_are_skipped_and_counted(tmp_path, style_image, vgg_weights, capsys):
    folder = tmp_path / "content"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), (i * 80, 100, 50)).save(folder / f"ok{i}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (folder / "notes.txt").write_text("not an image")
    trainer = Trainer(_cfg(folder, style_image, vgg_weights, tmp_path / "out"))
    trainer.run()
    assert len(trainer.files) == 4 and trainer.skipped == {0}  # broken.jpg sorts first
    assert "skipped 1 unreadable or blank content image" in capsys.readouterr().err


def test_blank_frames_are_skipped_not_trained_on(tmp_path, style_image, vgg_weights, capsys):
    """A single-colour image (the black first frame of a clip, a fade) goes through every
    instance norm of the network with zero variance: each multiplies the gradient by
    1/sqrt(eps) and the classic network's gradients overflow to NaN. Such images are
    skipped and counted like unreadable ones."""
    folder = tmp_path / "content"
    folder.mkdir()
    from conftest import make_photo

    for i in range(3):
        Image.fromarray(make_photo(40, 40, seed=20 + i)).save(folder / f"photo{i}.png")
    Image.new("RGB", (40, 40), (0, 0, 0)).save(folder / "a_black.png")  # sorts first: in the first batch
    trainer = Trainer(_cfg(folder, style_image, vgg_weights, tmp_path / "out", epochs=3))
    losses = []
    trainer.run(on_step=lambda step, loss: losses.append(loss["total"]))
    assert len(losses) == 6 and all(np.isfinite(losses)) and trainer.skipped == {0}
    assert "skipped 1 unreadable or blank content image" in capsys.readouterr().err


@pytest.mark.parametrize("problem", ["empty-folder", "missing-style", "missing-folder"])
def test_bad_inputs_fail_before_any_work(tmp_path, content_dir, style_image, vgg_weights, problem):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    kw = {"empty-folder": dict(content_dir=empty), "missing-style": dict(style_image=tmp_path / "nope.jpg"),
          "missing-folder": dict(content_dir=tmp_path / "nowhere")}[problem]
    args = dict(content_dir=content_dir, style_image=style_image, vgg_weights=vgg_weights, out=tmp_path / "o")
    args.update(kw)
    with pytest.raises(RtStyleError):
        Trainer(_cfg(**args))
    assert not (tmp_path / "o").exists()


def test_original_train_py_interface(tmp_path, content_dir, style_image, vgg_weights):
    """`python train.py ... --save-model-dir ./checkpoints` writes checkpoints/model.pth."""
    cmd = [sys.executable, str(ROOT / "train.py"), "--content-dir", str(content_dir), "--style-image",
           str(style_image), "--batch-size", "2", "--epochs", "2", "--save-model-dir", "./checkpoints",
           "--vgg-weights", vgg_weights, "--image-size", "32", "--workers", "0", "--device", "cpu"]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    model, meta = checkpoint.load_model(tmp_path / "checkpoints" / "model.pth")
    assert meta["steps"] == 6 and "training" not in torch.load(tmp_path / "checkpoints" / "model.pth",
                                                               weights_only=True)


def test_train_without_vgg_weights_offline_is_one_clear_error(tmp_path, content_dir, style_image):
    env = {"TORCH_HOME": str(tmp_path / "th"), "PATH": "/usr/bin:/bin", "https_proxy": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9"}
    env = {**os.environ, **env}
    env.pop("NO_PROXY", None), env.pop("no_proxy", None)
    r = subprocess.run([sys.executable, "-m", "rtstyle.cli", "train", "--content-dir", str(content_dir),
                        "--style-image", str(style_image), "--save-model-dir", str(tmp_path / "c")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2
    lines = [l for l in r.stderr.splitlines() if l.startswith("rtstyle: error")]
    assert len(lines) == 1 and "--vgg-weights" in lines[0] and "vgg16-397923af.pth" in lines[0]
    assert "Traceback" not in r.stderr


def test_cosine_schedule_decays_to_a_hundredth(tmp_path, content_dir, style_image, vgg_weights):
    lrs = []
    trainer = Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path, epochs=3, lr=1e-2, lr_schedule="cosine"))
    trainer.run(on_step=lambda step, l: lrs.append(trainer.optimizer.param_groups[0]["lr"]))
    assert len(lrs) == 9 and lrs[0] == pytest.approx(1e-2) and lrs[-1] == pytest.approx(1e-4)
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))


def test_crops_at_several_scales(tmp_path):
    """With max_scale, a crop shows a smaller part of the image, enlarged: fewer stripes."""
    from rtstyle.data import ContentImages

    stripes = ((np.arange(64) // 4) % 2 * 255).astype(np.uint8)  # 8 periods across
    Image.fromarray(np.repeat(np.tile(stripes, (64, 1))[..., None], 3, axis=2)).save(tmp_path / "s.png")

    def periods(ds, epoch):
        ds.set_epoch(epoch)
        row = ds[0][0][0, 16].numpy() > 127
        return int(np.count_nonzero(row[1:] != row[:-1]))  # edges along one row

    plain = ContentImages([tmp_path / "s.png"], image_size=32, max_scale=1.0)
    zoomed = ContentImages([tmp_path / "s.png"], image_size=32, max_scale=3.0)
    assert {periods(plain, e) for e in range(8)} == {15}  # the whole image, 16 bars
    counts = [periods(zoomed, e) for e in range(8)]
    assert max(counts) < 15 and len(set(counts)) > 1


def test_resume_without_a_checkpoint_yet_starts_from_step_zero(tmp_path, content_dir, style_image, vgg_weights,
                                                               capsys):
    """One command for the first start and every restart (torchrun --max-restarts)."""
    trainer = Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path / "new", resume="auto", max_steps=1))
    assert trainer.step == 0 and "starting from step 0" in capsys.readouterr().err
    with pytest.raises(RtStyleError):  # a named checkpoint that is not there is a mistake
        Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path / "new", resume=str(tmp_path / "nope.pth")))


def test_precision_auto_follows_the_hardware_and_fp16_is_for_gpus():
    from rtstyle.devices import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if cpu_has_native_bf16() else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(RtStyleError, match="fp16 is for CUDA"):
        resolve_precision("fp16", cpu)
    with pytest.raises(RtStyleError, match="unknown precision"):
        resolve_precision("fp8", cpu)


@pytest.mark.skipif(not cpu_has_native_bf16(),
                    reason="this CPU has no native bf16 (AVX512-BF16 / AMX): bf16 would be emulated, and auto "
                           "never picks it here")
def test_bf16_step_matches_fp32_within_bf16_rounding(tmp_path, content_dir, style_image, vgg_weights):
    """One step from the same weights and images, under bf16 autocast and in fp32. bf16 keeps
    8 significant bits (rounding error up to 2^-9 = 0.2% a value), the Gram matrices and
    losses are computed in fp32 and the sums accumulate in fp32: the losses, means over many
    terms, agree to 2% (seen: 0.25%), the gradient's direction to cosine 0.99 and its size to
    10% (seen: 1.6%) after backpropagating through VGG16 and the network."""
    result = {}
    for precision in ("fp32", "bf16"):
        t = Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path / precision, precision=precision,
                         image_size=48))
        assert t.precision == precision
        x = torch.stack([t.dataset[i][0] for i in range(2)])
        losses = t.train_step(x)
        result[precision] = losses, torch.cat([p.grad.flatten() for p in t.model.parameters()])
    (a, ga), (b, gb) = result["fp32"], result["bf16"]
    assert a != b  # bf16 really ran
    for k in a:
        assert b[k] == pytest.approx(a[k], rel=0.02), k
    assert torch.nn.functional.cosine_similarity(ga, gb, dim=0) > 0.99
    assert (ga - gb).norm() <= 0.1 * ga.norm()


def test_checkpoint_records_the_precision_and_resume_says_when_it_changes(tmp_path, content_dir, style_image,
                                                                           vgg_weights, capsys):
    cfg = dict(content_dir=content_dir, style_image=style_image, vgg_weights=vgg_weights, out=tmp_path, max_steps=1)
    Trainer(_cfg(**cfg, precision="bf16")).run()
    assert "in bf16" in capsys.readouterr().err  # the log line
    assert torch.load(tmp_path / "checkpoint.pth", weights_only=True)["training"]["precision"] == "bf16"
    assert checkpoint.load_model(tmp_path / "model.pth")[1]["precision"] == "bf16"
    Trainer(_cfg(**{**cfg, "max_steps": 2}, precision="fp32", resume="auto")).run()
    assert "was trained in bf16, this run continues in fp32" in capsys.readouterr().err
