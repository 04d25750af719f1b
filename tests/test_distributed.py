"""Scale-out training: `rtstyle train` under torchrun (DDP, gloo on CPU), gradient
accumulation, preemption, TensorBoard logging and COCO-style folders.

Equivalence, as tested here (CPU, float32, the same seed):
- 2 processes x batch 1 under torchrun take the same optimizer step as 1 process x batch 1
  x --grad-accum 2 (the same two images a step) from the same state: the same gradient up
  to float32 summation order (1e-5 of the largest gradient; seen: up to 3e-7 with other
  kernels, 0 with the same ones). The gradient is read from Adam's first moment in the
  checkpoints. Weights are not compared across the two: Adam turns the rounding noise of
  gradients that are truly zero (e.g. conv biases followed by instance norm, which cancels
  them) into full-size +-lr steps, so after a step they differ by up to 2 lr wherever
  summation order differs (other thread counts, other CPUs' kernels);
- a DDP job preempted and resumed == the same job run straight, to the last bit;
- --grad-accum 2 (or any split into micro-batches) == one batch of the same images: the
  same loss (rtol 1e-5) and the same gradient, to the same tolerance.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import tiny_train_config
from PIL import Image

from rtstyle import Stylizer, checkpoint
from rtstyle.data import content_root, find_content_images, scan_images
from rtstyle.errors import RtStyleError
from rtstyle.media import list_images
from rtstyle.training import Trainer

GRAD_RTOL = 1e-5  # float32 summation-order noise, relative to the largest gradient
LAUNCH_ENV = {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "MASTER_ADDR": "127.0.0.1"}


_cfg = functools.partial(tiny_train_config, epochs=2)


def _torchrun_cmd(content_dir, style_image, vgg_weights, out, *extra) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "rtstyle.cli", "train", "--content-dir", str(content_dir), "--style-image", str(style_image),
            "--vgg-weights", vgg_weights, "--save-model-dir", str(out), "--image-size", "32", "--batch-size", "1",
            "--epochs", "2", "--seed", "3", "--device", "cpu", "--precision", "fp32", "--no-progress", *extra]


def _load(path) -> dict:
    return torch.load(path, weights_only=True)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_PORT")}
    return {**env, **LAUNCH_ENV}


def _torchrun(*args, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(_torchrun_cmd(*args, **kw), capture_output=True, text=True, timeout=240, env=_env())
    assert r.returncode == 0, r.stderr[-4000:]
    return r


def _moments(state: dict) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Adam's (exp_avg, exp_avg_sq) of a training checkpoint, by parameter name."""
    model, _ = checkpoint.model_from_checkpoint(state)
    opt = state["training"]["optimizer"]
    index = opt["param_groups"][0]["params"]
    names = [n for n, _ in model.named_parameters()]
    assert len(index) == len(names)
    return {n: (opt["state"][i]["exp_avg"], opt["state"][i]["exp_avg_sq"]) for n, i in zip(names, index, strict=True)}


def _one_process(cfg) -> Trainer:
    """A :class:`Trainer` for ``cfg`` run in this process with one thread, the arithmetic of
    each torchrun rank (``OMP_NUM_THREADS=1``); the thread count is restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(cfg)
        trainer.run()
    finally:
        torch.set_num_threads(threads)
    return trainer


def _assert_same_step(got: dict, want: dict, m_before: dict | None = None) -> None:
    """Two checkpoints took the same optimizer step from the same state: the same gradient.

    Adam's first moment after a step is m = 0.9 m_before + 0.1 g; both runs start the step
    from identical weights and moments, so m - m' = 0.1 (g - g'), and g - g' is float32
    summation-order noise: ranks' gradients summed by gloo instead of accumulated in one
    process, one thread per rank instead of two, other kernels on another CPU. That noise is
    bounded relative to the gradient's scale (the largest |g|), not elementwise: GRAD_RTOL.
    (Weights are not compared after the step: Adam's first steps move every weight by about
    +-lr whatever its gradient's size, so a gradient that is truly zero, such as a conv bias
    followed by instance norm, turns rounding noise into full-size steps of either sign.)
    """
    mg, mw = _moments(got), _moments(want)
    assert mg.keys() == mw.keys()
    before = m_before or {n: (torch.zeros_like(m), None) for n, (m, _) in mw.items()}
    grad = {n: (mw[n][0] - 0.9 * before[n][0]) / 0.1 for n in mw}
    scale = max(g.abs().max().item() for g in grad.values())
    assert scale > 0
    for n in mw:
        g_got = (mg[n][0] - 0.9 * before[n][0]) / 0.1
        torch.testing.assert_close(g_got, grad[n], rtol=0, atol=GRAD_RTOL * scale, msg=n)


def test_two_process_gloo_run_matches_one_process_and_resumes(tmp_path, content_dir, style_image, vgg_weights):
    """2 ranks x batch 1 under torchrun take the optimizer steps of one process with batch 1 x
    --grad-accum 2 (the same two images a step), and a preempted job resumes exactly.

    6 images make 3 steps an epoch. The job stops after step 1, resumes mid-epoch to step 3,
    and resumes again into epoch 2 for step 4. Steps 1 and 4 are checked against one process
    taking the same step from the same state (the same gradient, see _assert_same_step); the
    resumed job's step 4 is checked against a job that ran 4 steps straight: the same
    processes doing the same arithmetic (one thread a rank), so equal to the last bit.
    """
    out = tmp_path / "ddp"
    one = functools.partial(_cfg, content_dir, style_image, vgg_weights, batch_size=1, grad_accum=2)

    def ddp(out, steps: int, *extra) -> dict:
        r = _torchrun(content_dir, style_image, vgg_weights, out, "--max-steps", str(steps), "--workers", "0",
                      "--log-interval", "1", *extra)
        assert r.stderr.count("training classic") == 1  # rank 0 alone logs
        assert r.stderr.count("model written to") == 1 and r.stderr.count(f"step {steps}/{steps}") == 1
        assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pth", "model.pth"]  # one model, rank 0's
        _, meta = checkpoint.load_model(out / "model.pth")
        assert meta["steps"] == steps and meta["world_size"] == 2 and meta["images_per_step"] == 2
        state = _load(out / "checkpoint.pth")
        assert state["training"]["step"] == steps
        return {"stderr": r.stderr, "state": state}

    first = ddp(out, 1)
    line = next(line for line in first["stderr"].splitlines() if line.startswith("training "))
    assert "world size 2" in line and "gloo" in line and "2 images per step" in line, line
    ref = _one_process(one(tmp_path / "one", max_steps=1))
    _assert_same_step(first["state"], ref.training_state())

    assert "resuming at step 1" in ddp(out, 3, "--resume")["stderr"]  # preempted mid-epoch
    at_3 = shutil.copy(out / "checkpoint.pth", tmp_path / "at-3.pth")
    last = ddp(out, 4, "--resume")  # into epoch 2
    assert "resuming at step 3" in last["stderr"]
    ref = _one_process(one(tmp_path / "one-resumed", max_steps=4, resume=str(at_3)))
    _assert_same_step(last["state"], ref.training_state(), m_before=_moments(_load(at_3)))

    straight = ddp(tmp_path / "straight", 4)["state"]
    resumed = last["state"]
    torch.testing.assert_close(resumed["state_dict"], straight["state_dict"], rtol=0, atol=0)
    torch.testing.assert_close(resumed["training"].pop("optimizer"), straight["training"].pop("optimizer"),
                               rtol=0, atol=0)  # Adam's moments and step counts
    assert resumed["training"] == straight["training"]  # step, seed, batch, precision, ...

    photo = Image.open(find_content_images(content_dir)[0])
    styled = Stylizer.load(out / "model.pth", device="cpu").stylize(photo)
    assert styled.size == photo.size


def test_sigterm_under_torchrun_checkpoints_and_stops(tmp_path, content_dir, style_image, vgg_weights):
    """Preemption: SIGTERM to torchrun reaches every rank (and its data-loader workers);
    all ranks finish the same step, rank 0 writes checkpoint.pth, the job exits."""
    out = tmp_path / "pre"
    cmd = _torchrun_cmd(content_dir, style_image, vgg_weights, out, "--epochs", "100", "--workers", "1",
                        "--log-interval", "1", "--checkpoint-interval", "0")
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=_env())
    lines, deadline = [], time.monotonic() + 180
    try:
        for line in p.stderr:
            lines.append(line)
            if line.startswith("step 2/"):
                p.send_signal(signal.SIGTERM)
            assert time.monotonic() < deadline, "".join(lines)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    err = "".join(lines)
    assert p.returncode != 0
    done = [line for line in lines if line.startswith("interrupted at step ")]
    assert len(done) == 1, err[-4000:]
    step = int(done[0].split()[3].rstrip(":"))
    assert 2 <= step < 300
    assert torch.load(out / "checkpoint.pth", weights_only=True)["training"]["step"] == step
    assert not (out / "model.pth").exists()


def test_grad_accum_is_one_batch_of_the_same_images(tmp_path, content_dir, style_image, vgg_weights):
    big = Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path / "a", batch_size=3))
    acc = Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path / "b", batch_size=2, grad_accum=2))
    x = torch.stack([big.dataset[i][0] for i in range(3)])
    l_big = big.train_step(x)
    l_acc = acc.train_step([x[:2], x[2:]])  # unequal micro-batches: weighted 2/3 and 1/3
    for k in ("content", "style", "total"):
        assert l_acc[k] == pytest.approx(l_big[k], rel=1e-5)
    grads = {n: p.grad for n, p in big.model.named_parameters()}
    scale = max(g.abs().max().item() for g in grads.values())
    for n, p in acc.model.named_parameters():
        torch.testing.assert_close(p.grad, grads[n], rtol=0, atol=1e-5 * scale, msg=n)


def test_grad_accum_counts_optimizer_steps(tmp_path, content_dir, style_image, vgg_weights):
    """6 images, batch 2 x accum 2: ceil(6 / 4) = 2 optimizer steps an epoch (the last one
    has a single micro-batch); intervals and --max-steps count optimizer steps."""
    steps = []
    t = Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path, batch_size=2, grad_accum=2, epochs=2,
                     checkpoint_interval=3))
    assert t.steps_per_epoch == 2 and t.total_steps == 4
    t.run(on_step=lambda step, _: steps.append(step))
    assert steps == [1, 2, 3, 4]
    state = torch.load(tmp_path / "checkpoint.pth", weights_only=True)["training"]
    assert state["step"] == 4 and state["grad_accum"] == 2 and state["world_size"] == 1


def test_tensorboard_log(tmp_path, content_dir, style_image, vgg_weights):
    pytest.importorskip("tensorboard")  # in the test extra; the error without it is tested below
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = tmp_path / "tb"
    Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path / "out", max_steps=3, log_interval=1,
                 log_dir=str(logs), sample_interval=2)).run()
    assert list(logs.glob("events.out.tfevents.*"))
    ev = EventAccumulator(str(logs), size_guidance={"images": 0, "scalars": 0})
    ev.Reload()
    tags = ev.Tags()
    for tag in ("loss/total", "loss/content", "loss/style", "lr", "images_per_s"):
        assert tag in tags["scalars"], tags
    assert [e.step for e in ev.Scalars("loss/total")] == [1, 2, 3]
    assert ev.Scalars("lr")[0].value == pytest.approx(1e-3)
    assert [e.step for e in ev.Images("samples/stylized")] == [2, 3]  # every 2 steps and at the end
    assert [e.step for e in ev.Images("samples/content")] == [0]


def test_log_dir_without_tensorboard_is_one_clear_error(tmp_path, content_dir, style_image, vgg_weights,
                                                        monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    with pytest.raises(RtStyleError, match=r"rtstyle\[tensorboard\]"):
        Trainer(_cfg(content_dir, style_image, vgg_weights, tmp_path / "out", log_dir=str(tmp_path / "tb")))
    assert not (tmp_path / "out").exists() and not (tmp_path / "tb").exists()


def test_coco_root_trains_on_the_train_split(tmp_path):
    root = tmp_path / "coco"
    for split, n in (("train2017", 3), ("val2017", 2)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (20, 20)).save(root / split / f"{i:012d}.jpg")
    (root / "annotations").mkdir()
    (root / "annotations" / "captions_train2017.json").write_text("{}")
    assert content_root(root) == root / "train2017"
    files = find_content_images(root)
    assert [os.path.basename(f) for f in files] == [f"{i:012d}.jpg" for i in range(3)]
    assert all(os.path.dirname(f) == str(root / "train2017") for f in files)


def test_folder_scan_matches_list_images(content_dir, tmp_path):
    """The fast scandir walk finds what media.list_images finds, in the same order."""
    (tmp_path / "a" / ".hidden").mkdir(parents=True)
    (tmp_path / "a-b").mkdir()
    for rel in ("a/1.JPG", "a/.hidden/2.jpg", "a-b/3.png", "a/.4.png", "a/5.txt", "6.webp"):
        (tmp_path / rel).write_bytes(b"")
    for folder in (content_dir, tmp_path):
        assert scan_images(folder) == [str(p) for p in list_images(folder)]
