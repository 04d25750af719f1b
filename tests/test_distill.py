"""Distillation: a compact student learns to reproduce a teacher stylizer."""

import numpy as np
import pytest
import torch
from conftest import textured_model

from rtstyle import checkpoint
from rtstyle.cli import main
from rtstyle.data import to_tensor
from rtstyle.distill import DistillConfig, Distiller
from rtstyle.errors import RtStyleError


def _cfg(content_dir, teacher, out, **kw):
    base = dict(content_dir=str(content_dir), teacher=str(teacher), save_model_dir=str(out), arch="edge-fast",
                image_size=32, batch_size=2, epochs=40, lr=3e-3, seed=0, device="cpu", precision="fp32", log_interval=0,
                checkpoint_interval=0, progress=False, holdout=1)
    base.update(kw)
    return DistillConfig(**base)


def test_distillation_from_a_checkpoint_teacher_drives_the_error_down(tmp_path, content_dir):
    # a teacher the student can represent exactly: the same architecture, other weights
    teacher = checkpoint.save_model(textured_model("edge-fast", seed=3), tmp_path / "teacher.pth")
    losses = []
    d = Distiller(_cfg(content_dir, teacher, tmp_path / "out", max_steps=120, lr=1e-2, lowpass_weight=1.0,
                       max_scale=1.5, lr_schedule="cosine"))  # the built-in styles' recipe
    assert len(d.files) == 5 and len(d.holdout_files) == 1  # one image kept out for fidelity
    path = d.run(on_step=lambda step, l: losses.append(l["pixel"]))
    assert d.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5])
    model, meta = checkpoint.load_model(path)
    assert meta["teacher"] == "teacher.pth" and meta["arch"]["name"] == "edge-fast"
    f = meta["fidelity"]
    assert f["images"] == 1 and f["student_vs_teacher_db"] > 10 and f["teacher_self_shift_db"] > 10


def test_onnx_teacher_with_an_extra_input(tmp_path, content_dir, capsys):
    """An ONNX stylizer taking [0, 1] pixels and a style-weights vector, as multistyle26 does."""
    class TwoStyles(torch.nn.Module):
        def forward(self, image, style_weights):
            warm = torch.stack([image[:, 0], image[:, 1] * 0.8, image[:, 2] * 0.5], 1)
            cool = torch.stack([image[:, 0] * 0.5, image[:, 1] * 0.8, image[:, 2]], 1)
            return warm * style_weights[0] + cool * style_weights[1]
    path = tmp_path / "two.onnx"
    torch.onnx.export(TwoStyles(), (torch.rand(1, 3, 8, 8), torch.tensor([1.0, 0.0])), str(path), dynamo=False,
                      input_names=["image", "style_weights"], output_names=["stylized"],
                      dynamic_axes={"image": {2: "h", 3: "w"}, "stylized": {2: "h", 3: "w"}})
    out = tmp_path / "student"
    code = main(["distill", "--teacher", str(path), "--teacher-input", "style_weights=onehot:2:1",
                 "--teacher-range", "1", "--teacher-name", "two:1", "--content-dir", str(content_dir),
                 "--save-model-dir", str(out), "--arch", "edge-fast", "--image-size", "32", "--batch-size", "2",
                 "--max-steps", "30", "--epochs", "30", "--lr", "3e-3", "--workers", "0", "--device", "cpu", "--precision", "fp32",
                 "--holdout", "1", "--json"])
    assert code == 0
    _, meta = checkpoint.load_model(out / "model.pth")
    assert meta["teacher"] == "two:1" and meta["fidelity"]["images"] == 1
    assert main(["distill", "--teacher", str(path), "--content-dir", str(content_dir),
                 "--save-model-dir", str(tmp_path / "x")]) == 2  # the extra input has no value
    assert "style_weights" in capsys.readouterr().err


def _texture_teacher(path):
    """An ONNX teacher with a fine texture (a 2-px checkerboard) whose phase flips with an
    erratic function of the whole image (the parity of its mean brightness x 10), as a real
    teacher's texture does not follow a 2-px shift of its input: no network learns to match
    it pixel for pixel (pixel losses learn the mean of both phases: no texture, blur), while
    its statistics (Gram matrices) are the same in either phase."""
    class Textured(torch.nn.Module):
        def forward(self, image):
            h, w = image.shape[-2:]
            level = torch.floor(image.mean() * 10)
            phase = level - 2 * torch.floor(level / 2)  # 0 or 1
            grid = torch.arange(h).view(-1, 1) + torch.arange(w).view(1, -1) + phase
            checker = grid - 2 * torch.floor(grid / 2)
            return (image * 0.6 + 50 + 60 * (checker * 2 - 1)).clamp(0, 255)
    torch.onnx.export(Textured(), (torch.rand(1, 3, 8, 8) * 255,), str(path), dynamo=False, input_names=["image"],
                      output_names=["stylized"], dynamic_axes={"image": {2: "h", 3: "w"}, "stylized": {2: "h", 3: "w"}})
    return path


def test_perceptual_term_brings_the_students_texture_closer_to_the_teachers(tmp_path, content_dir, vgg_weights):
    """The same short distillation of a tiny student, with pixel losses (blur: they learn the
    mean of the teacher's two phases) and with the built-ins' recipe of low-pass + Gram
    terms: the latter's output is nearer the teacher's in Gram distance, and sharper, on the
    held-out image (the figures the built-ins are judged by)."""
    teacher = _texture_teacher(tmp_path / "textured.onnx")
    common = dict(max_steps=40, lr=1e-2, vgg_weights=vgg_weights, image_size=32, fidelity_size=48)
    plain = Distiller(_cfg(content_dir, teacher, tmp_path / "plain", **common))
    plain.run()
    seen = []
    gram = Distiller(_cfg(content_dir, teacher, tmp_path / "gram", perceptual_weight=1e5, pixel_weight=0,
                           structure_weight=0, lowpass_weight=1, **common))
    gram.run(on_step=lambda step, losses: seen.append(losses))
    assert all("gram" in s for s in seen) and seen[-1]["gram"] < seen[0]["gram"]
    a, b = plain.fidelity_result, gram.fidelity_result
    for f in (a, b):
        assert f["images"] == 1 and f["gram_distance"] > 0 and f["teacher_self_gram_distance"] >= 0
        # stored to 3 decimals
        assert f["sharpness_vs_teacher"] == pytest.approx(f["student_sharpness"] / f["teacher_sharpness"], abs=5e-4)
    # seen: 0.59x the Gram distance, 2.9x the sharpness
    assert b["gram_distance"] < 0.8 * a["gram_distance"], (a, b)
    assert b["sharpness_vs_teacher"] > 2 * a["sharpness_vs_teacher"], (a, b)


def test_init_from_starts_at_that_models_weights(tmp_path, content_dir):
    start = textured_model("edge-fast", seed=5)
    path = checkpoint.save_model(start, tmp_path / "start.pth")
    teacher = checkpoint.save_model(textured_model("edge-fast", seed=3), tmp_path / "teacher.pth")
    d = Distiller(_cfg(content_dir, teacher, tmp_path / "out", max_steps=1, init_from=str(path)))
    for k, v in start.state_dict().items():
        torch.testing.assert_close(d.model.state_dict()[k], v, rtol=0, atol=0)
    d.run()  # no data-dependent re-init of the output layer: the model is the start
    assert checkpoint.load_model(tmp_path / "out" / "model.pth")[1]["train_args"]["init_from"] == str(path)
    with pytest.raises(RtStyleError, match="its architecture is 'edge-fast', not 'edge'"):
        Distiller(_cfg(content_dir, teacher, tmp_path / "x", arch="edge", init_from=str(path)))


def _noise_response(model, x, level=8.0):
    """Mean absolute change of ``model``'s output (0-255) when its input batch ``x`` gets
    Gaussian noise of ``level`` gray levels (fixed seed)."""
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        noisy = (x + level * torch.randn(x.shape, generator=g)).clamp(0, 255)
        return float((model(noisy) - model(x)).abs().mean())


def test_input_noise_teaches_the_student_that_noise_is_not_content(tmp_path, content_dir):
    """Two students start at their teacher (a seeded network that turns input noise into
    output texture) and are distilled from it alike, one with ``--input-noise`` and
    ``--noise-weight``: without
    it the student has little to learn and stays about as noise-sensitive as the teacher; with
    it, the same noise on held-out photos changes its output much less, while its output
    on clean photos stays close to the teacher's. (The plain student drifts a little: Adam
    turns rounding-sized gradients into steps.)"""
    from conftest import make_photo

    teacher_model = textured_model("edge-fast", seed=3)
    teacher = checkpoint.save_model(teacher_model, tmp_path / "teacher.pth")
    common = dict(max_steps=60, lr=3e-3, pixel_weight=1.0, structure_weight=1.0, init_from=str(teacher))
    runs = {}
    for name, noise in (("plain", {}), ("noisy", {"input_noise": 12.0, "noise_weight": 100.0})):
        d = Distiller(_cfg(content_dir, teacher, tmp_path / name, **noise, **common))
        d.run()
        runs[name] = d.model.eval()
    x = torch.stack([to_tensor(make_photo(64, 64, seed=s)) for s in (21, 22)])
    own = _noise_response(teacher_model, x)
    plain, noisy = _noise_response(runs["plain"], x), _noise_response(runs["noisy"], x)
    print("noise response: teacher", own, "plain", plain, "noisy", noisy)
    assert noisy < 0.6 * min(own, plain), (own, plain, noisy)
    with torch.no_grad():
        drift = float((runs["noisy"](x) - teacher_model(x)).abs().mean())
        spread = float(teacher_model(x).std())
    assert drift < 0.5 * spread, (drift, spread)
