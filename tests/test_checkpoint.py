import os
import pickle

import pytest
import torch

from rtstyle import checkpoint
from rtstyle.errors import RtStyleError
from rtstyle.models import build_model


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": _RunsCode()}, path)
    with pytest.raises(RtStyleError, match="would run code"):
        checkpoint.load_model(path)


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"hello, this is a text file\n", "not a model checkpoint"),
    (pickle.dumps({"not": "a model"}), "not a"),
], ids=["empty", "text", "other-pickle"])
def test_files_that_are_not_checkpoints_are_refused(tmp_path, content, match):
    path = tmp_path / "model.pth"
    path.write_bytes(content)
    with pytest.raises(RtStyleError, match=match):
        checkpoint.load_model(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "m.pth"
    checkpoint.save_model(build_model("classic"), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RtStyleError, match="not a model checkpoint"):
        checkpoint.load_model(path)


def test_missing_model_and_wrong_state_dict(tmp_path):
    with pytest.raises(RtStyleError, match="not found"):
        checkpoint.load_model(tmp_path / "nope.pth")
    torch.save({"conv1.conv2d.weight": torch.zeros(2, 2)}, tmp_path / "odd.pth")
    with pytest.raises(RtStyleError, match="not a usable style model"):
        checkpoint.load_model(tmp_path / "odd.pth")


def test_saved_model_is_a_plain_dict_with_config_and_metadata(tmp_path):
    path = checkpoint.save_model(build_model("classic"), tmp_path / "out" / "model.pth", {"style_image": "x.jpg"})
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["format"] == "rtstyle.model" and ckpt["arch"]["name"] == "classic"
    assert ckpt["meta"]["style_image"] == "x.jpg" and ckpt["meta"]["versions"]["rtstyle"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pth"]  # no temp file left
