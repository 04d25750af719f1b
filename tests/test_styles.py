"""Built-in styles: selection by name, the default, the listing, and the shipped models."""

import json

import numpy as np
import pytest
from PIL import Image

import rtstyle.styles as styles
from conftest import make_photo, textured_model
from rtstyle import Stylizer, checkpoint
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
    assert main(["styles", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["default"] == "beta"
    assert [(s["name"], s["preset"], s["teacher"], s["credit"]) for s in listing["styles"]] == [
        ("alpha", "edge-fast", "t:0", "test A"), ("beta", "edge-fast", "t:1", "test B")]
    assert all(0 < s["bytes"] < 1_000_000 for s in listing["styles"])


def test_no_styles_installed_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(styles, "STYLES_DIR", tmp_path)
    img = tmp_path / "in.png"
    Image.fromarray(make_photo(20, 20, 1)).save(img)
    assert main(["stylize", "--input", str(img)]) == 2
    assert "pass --model" in capsys.readouterr().err
