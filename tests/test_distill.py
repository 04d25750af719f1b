"""Distillation: a compact student learns to reproduce a teacher stylizer."""

import numpy as np
import pytest
import torch

from conftest import textured_model
from rtstyle import checkpoint
from rtstyle.cli import main
from rtstyle.distill import DistillConfig, Distiller


def _cfg(content_dir, teacher, out, **kw):
    base = dict(content_dir=str(content_dir), teacher=str(teacher), save_model_dir=str(out), arch="edge-fast",
                image_size=32, batch_size=2, epochs=40, lr=3e-3, seed=0, device="cpu", log_interval=0,
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
                 "--max-steps", "30", "--epochs", "30", "--lr", "3e-3", "--workers", "0", "--device", "cpu",
                 "--holdout", "1", "--json"])
    assert code == 0
    _, meta = checkpoint.load_model(out / "model.pth")
    assert meta["teacher"] == "two:1" and meta["fidelity"]["images"] == 1
    assert main(["distill", "--teacher", str(path), "--content-dir", str(content_dir),
                 "--save-model-dir", str(tmp_path / "x")]) == 2  # the extra input has no value
    assert "style_weights" in capsys.readouterr().err
