"""Built-in styles: selection by name, the default, the listing, and the shipped models."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_photo, textured_model
from PIL import Image

import rtstyle.styles as styles
from rtstyle import Stylizer, checkpoint, cli
from rtstyle.cli import main


@pytest.fixture
def style_dir(tmp_path, monkeypatch):
    """A style registry with two small models, laid out as the package's own."""
    d = tmp_path / "styles"
    d.mkdir()
    for i, name in enumerate(["alpha", "beta"]):
        checkpoint.save_model(textured_model("edge-fast", seed=i), d / f"{name}.pth", {"teacher": f"t:{i}"})
    index = {"default": "beta", "styles": [
        {"name": "alpha", "file": "alpha.pth", "teacher": "t:0", "credit": "test A"},
        {"name": "beta", "file": "beta.pth", "teacher": "t:1", "credit": "test B"},
        {"name": "gamma", "file": "gamma.pth", "teacher": "t:2", "credit": "not installed"}]}
    (d / "index.json").write_text(json.dumps(index))
    monkeypatch.setattr(styles, "STYLES_DIR", d)
    return d


def test_default_named_and_unknown_styles(style_dir, tmp_path, capsys):
    img = tmp_path / "in.png"
    Image.fromarray(make_photo(40, 56, 1)).save(img)
    beta = Stylizer.load(style_dir / "beta.pth", device="cpu").stylize(make_photo(40, 56, 1))
    alpha = Stylizer.load(style_dir / "alpha.pth", device="cpu").stylize(make_photo(40, 56, 1))
    assert main(["stylize", "--input", str(img), "--output", str(tmp_path / "d.png")]) == 0  # no model: default
    assert np.array_equal(np.asarray(Image.open(tmp_path / "d.png")), beta)
    assert main(["stylize", "--style", "alpha", "--input", str(img), "--output", str(tmp_path / "a.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), alpha)
    assert main(["stylize", "--model", "alpha", "--input", str(img), "--output", str(tmp_path / "m.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "m.png")), alpha)  # inference.py --model NAME
    capsys.readouterr()
    for args in (["--style", "gamma"], ["--model", "nosuch"]):
        assert main(["stylize", *args, "--input", str(img), "--output", str(tmp_path / "x.png")]) == 2
        err = capsys.readouterr().err
        assert "built-in styles: alpha, beta" in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_styles_listing(style_dir, capsys):
    fidelity = {"photos": 8, "photo_size": 700, "style_fraction": 0.55, "content_distance": 60.0}
    checkpoint.save_model(textured_model("edge-fast", seed=3), style_dir / "delta.pth",
                          {"style_image": "wave.jpg", "painting": "wave.jpg", "painting_fidelity": fidelity})
    index = json.loads((style_dir / "index.json").read_text())
    index["styles"].append({"name": "delta", "file": "delta.pth", "painting": "wave.jpg", "credit": "The Wave, H, 1831"})
    (style_dir / "index.json").write_text(json.dumps(index))
    assert main(["styles", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["default"] == "beta"
    assert [(s["name"], s["preset"], s["teacher"], s["painting"], s["credit"]) for s in listing["styles"]] == [
        ("alpha", "edge-fast", "t:0", None, "test A"), ("beta", "edge-fast", "t:1", None, "test B"),
        ("delta", "edge-fast", None, "wave.jpg", "The Wave, H, 1831")]
    assert listing["styles"][2]["painting_fidelity"] == fidelity
    assert all(0 < s["bytes"] < 1_000_000 for s in listing["styles"])
    assert main(["styles"]) == 0
    text = capsys.readouterr().out
    assert "delta: edge-fast" in text and "painting wave.jpg" in text and "style distance 55%" in text


def test_no_styles_installed_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(styles, "STYLES_DIR", tmp_path)
    img = tmp_path / "in.png"
    Image.fromarray(make_photo(20, 20, 1)).save(img)
    assert main(["stylize", "--input", str(img)]) == 2
    assert "pass --model" in capsys.readouterr().err


def test_sheet_names_every_style_under_its_tile(style_dir, tmp_path, capsys):
    img = tmp_path / "photo.png"
    Image.fromarray(make_photo(60, 80, 3)).save(img)
    out = tmp_path / "sheet.png"
    assert main(["sheet", "--input", str(img), "--output", str(out), "--image-size", "48", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["styles"] == ["alpha", "beta"]
    sheet = np.asarray(Image.open(out))
    # three 64x48 tiles (original, alpha, beta) with 28-px label strips, 6-px gaps, in one row
    assert sheet.shape == (6 + 48 + 28 + 6, 4 * 6 + 3 * 64, 3)
    tiles = [sheet[6:54, 6 + i * 70:70 + i * 70] for i in range(3)]
    assert not np.array_equal(tiles[1], tiles[2])  # each style rendered by its own model
    alpha = Stylizer.load(style_dir / "alpha.pth", device="cpu").stylize(tiles[0])
    assert np.abs(tiles[1].astype(int) - alpha).max() <= 1
    labels = [sheet[54:82, 6 + i * 70:70 + i * 70] for i in range(3)]
    assert all((lab < 128).any() for lab in labels)  # a name is written under each tile
    assert main(["sheet", "--input", str(img), "--output", str(tmp_path / "s.txt")]) == 2
    assert main(["sheet", "--input", str(img), "--output", str(tmp_path / "s.png"), "--model", "nosuch"]) == 2
    assert not (tmp_path / "s.txt").exists() and not (tmp_path / "s.png").exists()


def test_the_shipped_styles():
    """Every built-in that ships: an edge model of at most 1 MB (and its ONNX export) that
    loads and stylizes, with where it comes from on record: the teacher its index entry
    names and its fidelity to it within the sharp-styles targets, or the painting it was
    trained on, credited, with its distances to the painting (docs/styles.md)."""
    shipped = styles.builtin_styles()
    assert len(shipped) >= 4 and styles.default_style() in shipped
    photo = make_photo(48, 64, 5)
    for s in shipped.values():
        onnx = s.path.with_suffix(".onnx")
        assert s.path.stat().st_size <= 1_000_000 and onnx.stat().st_size <= 1_000_000
        _, meta = checkpoint.load_model(s.path)
        assert meta["arch"]["name"] == "edge" and bool(s.teacher) != bool(s.painting), s.name
        if s.teacher:
            assert meta["teacher"] == s.teacher
            f = meta["fidelity"]
            assert f["images"] == 8 and f["student_vs_teacher_db"] > 15
            # the sharp-styles targets, as recorded at the end of distillation
            assert f["student_vs_teacher_db"] >= f["teacher_self_shift_db"] - 3, s.name
            assert f["sharpness_vs_teacher"] >= 0.85 and f["gram_ratio"] <= 10, s.name
        else:
            assert meta["painting"] == meta["style_image"] == s.painting
            assert "vgg16" in meta["train_args"]["vgg_weights"].lower()  # trained with the real loss network
            f = meta["painting_fidelity"]
            assert f["photos"] >= 8 and f["photo_size"] == 700 and f["style_fraction"] < 1, s.name
        out = Stylizer.load(s.path, device="cpu").stylize(photo)
        assert out.shape == photo.shape and np.abs(out.astype(int) - photo).mean() > 10
        assert np.abs(Stylizer.load(onnx).stylize(photo).astype(int) - out).max() <= 2


def test_painting_styles_are_credited():
    """A style trained on a painting names it (title, artist, year) in the index, in
    `rtstyle styles --json`, in the README and in NOTICE."""
    root = Path(__file__).resolve().parents[1]
    readme, notice = (" ".join((root / name).read_text().split()) for name in ("README.md", "NOTICE"))
    painted = [s for s in styles.builtin_styles().values() if s.painting]
    assert len(painted) >= 3
    listing = {r["name"]: r for r in cli.cmd_styles(None)["styles"]}
    for s in painted:
        title, artist = s.credit.split(", ")[:2]
        assert title in readme and artist in readme and title in notice and artist in notice, s.name
        assert listing[s.name]["painting"] == s.painting and listing[s.name]["painting_fidelity"], s.name


def test_a_builtin_runs_its_onnx_export_on_the_cpu(style_dir):
    from rtstyle.export import export_onnx

    model, meta = checkpoint.load_model(style_dir / "alpha.pth")
    meta.pop("arch", None)
    export_onnx(model, style_dir / "alpha.onnx", meta)
    assert styles.resolve_model("alpha", device="cpu") == style_dir / "alpha.onnx"
    assert styles.resolve_model(style="alpha", device="mps") == style_dir / "alpha.pth"
    assert styles.resolve_model("beta", device="cpu") == style_dir / "beta.pth"  # no export: the checkpoint
    photo = make_photo(40, 56, 2)
    onnx = Stylizer.load("alpha", device="cpu")
    assert onnx.backend.name == "onnxruntime"
    torch_out = Stylizer.load(style_dir / "alpha.pth", device="cpu").stylize(photo)
    assert np.abs(onnx.stylize(photo).astype(int) - torch_out).max() <= 1
