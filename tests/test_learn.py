"""rtstyle learn: a picture in, a user style out, within the budget; user style names."""

import json
import shlex
import time

import numpy as np
import pytest
import torch
from conftest import make_photo, textured_model
from PIL import Image

import rtstyle.styles as styles
from rtstyle import Stylizer, checkpoint, learn
from rtstyle.cli import main

BUDGET_S = 30


@pytest.fixture(scope="module")
def painting(tmp_path_factory):
    """A bold 'painting': coloured diagonal strokes."""
    yy, xx = np.mgrid[0:90, 0:120]
    img = np.stack([(xx + yy) // 6 % 2 * 220, (xx - yy) // 5 % 2 * 180, np.full_like(xx, 60)], -1)
    path = tmp_path_factory.mktemp("painting") / "My Painting.png"
    Image.fromarray(img.astype(np.uint8)).save(path)
    return path


def _learn(painting, vgg_weights, content_dir, *extra):
    return ["learn", str(painting), "--vgg-weights", vgg_weights, "--content-dir", str(content_dir),
            "--image-size", "32", "--batch-size", "2", "--device", "cpu", *extra]


def test_learn_keeps_its_budget_and_installs_a_style_every_command_takes(painting, vgg_weights, content_dir,
                                                                        tmp_path, user_dirs, capsys):
    t0 = time.monotonic()
    assert main(_learn(painting, vgg_weights, content_dir, "--minutes", str(BUDGET_S / 60), "--json")) == 0
    wall = time.monotonic() - t0
    result = json.loads(capsys.readouterr().out)
    assert result["name"] == "my-painting" and result["painting"] == "My Painting.png"
    # planned by the clock: many steps, stopped before the budget ran out (the export and
    # install share the margin; on a slow or busy machine the last step may overrun a little)
    assert result["steps"] > 3 and result["minutes_budget"] == BUDGET_S / 60
    assert result["wall_s"] <= wall + 0.1 and wall < BUDGET_S + 10
    folder = styles.user_styles_dir()
    assert sorted(p.name for p in folder.iterdir()) == ["my-painting.json", "my-painting.onnx", "my-painting.pth"]
    assert not any(p.is_file() for p in (user_dirs / "cache" / "rtstyle").rglob("*"))  # work files gone
    _, meta = checkpoint.load_model(folder / "my-painting.pth")
    assert meta["arch"]["name"] == "edge" and meta["painting"] == "My Painting.png"
    assert meta["steps"] == result["steps"]
    assert meta["train_args"]["init_from"] == str(learn.START) and meta["start"] == "edge-photo"

    # by name: stylize --style / --model (inference.py's form), the Python API, styles, sheet
    photo = tmp_path / "photo.png"
    Image.fromarray(make_photo(40, 56, 1)).save(photo)
    expected = Stylizer.load(folder / "my-painting.onnx").stylize(make_photo(40, 56, 1))
    start = Stylizer.load(learn.START, device="cpu").stylize(make_photo(40, 56, 1))
    assert np.abs(expected.astype(int) - start).mean() > 1  # it learned something: not the start network
    for i, args in enumerate((["--style", "my-painting"], ["--model", "my-painting"], ["--model", "user:my-painting"])):
        out = tmp_path / f"out{i}.png"
        assert main(["stylize", *args, "--input", str(photo), "--output", str(out), "--device", "cpu"]) == 0
        assert np.array_equal(np.asarray(Image.open(out)), expected)
    assert np.array_equal(Stylizer.load("my-painting", device="cpu").stylize(make_photo(40, 56, 1)), expected)
    capsys.readouterr()
    assert main(["styles", "--json"]) == 0
    mine = [s for s in json.loads(capsys.readouterr().out)["styles"] if s["user"]]
    assert [(s["name"], s["painting"], s["learned"]["steps"]) for s in mine] == [
        ("my-painting", "My Painting.png", result["steps"])]
    assert main(["styles"]) == 0
    assert "my-painting (your style)" in capsys.readouterr().out
    assert main(["sheet", "--input", str(photo), "--output", str(tmp_path / "sheet.png"), "--json"]) == 0
    assert "my-painting" in json.loads(capsys.readouterr().out)["styles"]

    # the same name again: refused unless --replace; removed by styles --remove
    assert main(_learn(painting, vgg_weights, content_dir, "--steps", "1")) == 2
    assert "already have a style named 'my-painting'" in capsys.readouterr().err
    assert main(_learn(painting, vgg_weights, content_dir, "--steps", "2", "--replace", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    assert main(["styles", "--remove", "my-painting"]) == 0
    assert not any(folder.iterdir())
    assert main(["stylize", "--style", "my-painting", "--input", str(photo), "--output", str(tmp_path / "x.png")]) == 2


def test_the_equivalent_train_command_makes_the_same_model(painting, vgg_weights, content_dir, tmp_path,
                                                          user_dirs, capsys):
    """`learn --json` prints the `rtstyle train` command of its recipe: run for the same
    steps, it makes the same network (learning rate, style weight and paths included)."""
    assert main(_learn(painting, vgg_weights, content_dir, "--steps", "3", "--json")) == 0
    result = json.loads(capsys.readouterr().out)
    args = shlex.split(result["equivalent"])
    assert args[:2] == ["rtstyle", "train"] and "--lr" in args
    out = tmp_path / "train"
    assert main([*args[1:], "--save-model-dir", str(out), "--device", "cpu", "--no-progress"]) == 0
    learned, _ = checkpoint.load_model(result["model"])
    trained, _ = checkpoint.load_model(out / "model.pth")
    for (name, a), b in zip(learned.state_dict().items(), trained.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    start, _ = checkpoint.load_model(learn.START)
    assert not all(torch.equal(a, b) for a, b in zip(learned.state_dict().values(), start.state_dict().values(), strict=True))


def test_learning_starts_from_a_network_that_gives_back_the_photo():
    """The shipped start (tools/learn_start.py) keeps the photo: its output's brightness
    follows the photo's far more closely than any built-in style's does, so the minutes of
    `learn` go to the painting's style, not to recovering the photo."""
    photo = make_photo(96, 128, 1)

    def likeness(name_or_path) -> float:
        out = Stylizer.load(name_or_path, device="cpu").stylize(photo).astype(float).mean(-1)
        ref = photo.astype(float).mean(-1)
        return float(np.corrcoef(out.ravel(), ref.ravel())[0, 1])

    start = likeness(learn.START)
    assert start > 0.9
    assert all(likeness(name) < start - 0.08 for name in styles.builtin_styles())


@pytest.mark.parametrize("args, message", [
    (["--name", "swirl"], "'swirl' is a built-in style's name"),
    (["--name", "../evil"], "bad style name '../evil'"),
    (["--name", "Caps"], "bad style name"),
    (["--name", "user:x"], "bad style name"),
])
def test_bad_names_and_budgets_are_refused_before_any_work(painting, vgg_weights, content_dir, args, message, capsys):
    assert main(_learn(painting, vgg_weights, content_dir, *args)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not styles.user_styles_dir().exists()


def test_bad_paths_are_refused(tmp_path, vgg_weights, content_dir, painting, capsys):
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    for args, message in (([str(tmp_path / "nope.jpg")], "no such image file"), ([str(text)], "cannot read image"),
                          ([str(painting), "--content-dir", str(tmp_path / "none")], "content folder not found")):
        cmd = ["learn", *args, "--vgg-weights", vgg_weights, "--steps", "1"]
        if "--content-dir" not in args:
            cmd += ["--content-dir", str(content_dir)]
        assert main(cmd) == 2
        assert message in capsys.readouterr().err
    assert main(["learn", str(painting), "--steps", "1", "--vgg-weights", str(tmp_path / "no-vgg.pth")]) == 2
    assert "no-vgg.pth" in capsys.readouterr().err
    assert not styles.user_styles_dir().exists()


def test_a_user_style_never_shadows_a_builtin_and_stays_reachable(tmp_path, monkeypatch, capsys):
    """User styles take no built-in's name; if a later release adds a built-in with a user
    style's name, the plain name is the built-in's and user:NAME the user's."""
    d = tmp_path / "pkg"
    d.mkdir()
    checkpoint.save_model(textured_model("edge-fast", seed=0), d / "alpha.pth")
    (d / "index.json").write_text(json.dumps({"default": "alpha", "styles": [
        {"name": "alpha", "file": "alpha.pth", "credit": "A"}]}))
    monkeypatch.setattr(styles, "STYLES_DIR", d)
    mine = tmp_path / "mine.pth"
    checkpoint.save_model(textured_model("edge-fast", seed=1), mine)
    with pytest.raises(styles.RtStyleError, match="built-in style's name"):
        styles.install_user_style("alpha", {".pth": mine}, {"credit": "mine"})
    styles.install_user_style("beta", {".pth": mine}, {"credit": "mine"})
    assert styles.resolve_model("beta") == styles.user_styles_dir() / "beta.pth"
    # a new release ships a built-in "beta"
    checkpoint.save_model(textured_model("edge-fast", seed=2), d / "beta.pth")
    (d / "index.json").write_text(json.dumps({"default": "alpha", "styles": [
        {"name": "alpha", "file": "alpha.pth", "credit": "A"}, {"name": "beta", "file": "beta.pth", "credit": "B"}]}))
    assert styles.resolve_model("beta") == d / "beta.pth"
    assert styles.resolve_model("user:beta") == styles.user_styles_dir() / "beta.pth"
    assert list(styles.all_styles()) == ["alpha", "beta", "user:beta"]
    assert main(["styles"]) == 0
    assert "user:beta (your style (a built-in now has this name: select yours as user:beta))" in capsys.readouterr().out
    # a damaged record is not a style (and breaks nothing)
    (styles.user_styles_dir() / "gamma.json").write_text("{not json")
    assert list(styles.user_styles()) == ["beta"]
