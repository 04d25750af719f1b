"""``rtstyle bench``: speed, memory and shift consistency, reproducibly.

Speed: each (model, backend, size) runs in a fresh child process (so its peak RSS is
its own), a few warm-up frames, then N timed frames through the backend's frame call
(uint8 HxWx3 in and out: pre- and post-processing included). Shift consistency: the
PSNR between f(shift(x)) shifted back and f(x), on real photos, interior only. Video:
the real end-to-end command (`rtstyle stylize`), timed from start-up to exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RtStyleError
from .metrics import shift_consistency
from .sysinfo import machine, peak_rss_mb


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise RtStyleError(f"size {text!r} must look like 640x480") from None
    if w < 8 or h < 8:
        raise RtStyleError(f"size {text!r} is too small")
    return w, h


def parse_input_value(spec: str) -> tuple[str, np.ndarray]:
    """``NAME=onehot:N:I`` (a float vector of N zeros with a 1 at I) or ``NAME=v1,v2,...``."""
    name, sep, value = spec.partition("=")
    if not sep or not name:
        raise RtStyleError(f"input value {spec!r} must look like NAME=onehot:26:3 or NAME=0.5,0.5")
    try:
        if value.startswith("onehot:"):
            n, i = (int(v) for v in value[len("onehot:"):].split(":"))
            if not 0 <= i < n:
                raise ValueError
            arr = np.zeros(n, np.float32)
            arr[i] = 1.0
        else:
            arr = np.array([float(v) for v in value.split(",")], np.float32)
    except ValueError:
        raise RtStyleError(f"input value {spec!r} must look like NAME=onehot:26:3 or NAME=0.5,0.5") from None
    return name, arr


# -- child process: one model, one backend, one size ----------------------------------
def _child(spec: dict[str, Any]) -> dict[str, Any]:
    from .runtime import load_backend

    options = {}
    if spec["model"].endswith(".onnx"):
        # the network alone, as an inference loop runs it: ONNX Runtime's default spinning
        # workers (the video path turns them off: there they share the cores with the
        # decoding and encoding threads)
        options = {"extra_inputs": {k: np.asarray(v, np.float32) for k, v in spec.get("extra", {}).items()},
                   "input_range": spec.get("input_range"), "spinning": True}
    backend = load_backend(spec["model"], spec.get("device", "cpu"), **options)
    w, h = spec["size"]
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    for _ in range(spec["warmup"]):
        backend(frame)
    times = []
    for _ in range(spec["runs"]):
        t0 = time.perf_counter()
        backend(frame)
        times.append(time.perf_counter() - t0)
    return {"times_ms": [t * 1e3 for t in times],
            "peak_rss_mb": peak_rss_mb()}


def measure(model: str, size: tuple[int, int], runs: int, warmup: int, extra: dict | None = None,
            input_range: float | None = None) -> dict[str, Any]:
    spec = {"model": model, "size": size, "runs": runs, "warmup": warmup, "input_range": input_range,
            "extra": {k: np.asarray(v).tolist() for k, v in (extra or {}).items()}}
    r = subprocess.run([sys.executable, "-m", "rtstyle.bench", json.dumps(spec)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RtStyleError(f"benchmark of {model} failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    t = np.array(out["times_ms"])
    return {"median_ms": float(np.median(t)), "min_ms": float(t.min()), "max_ms": float(t.max()),
            "fps": float(1000 / np.median(t)), "peak_rss_mb": round(out["peak_rss_mb"], 1)}


# -- shift consistency ----------------------------------------------------------------
def load_photos(folder: str | os.PathLike | None, size: int = 256, limit: int = 8) -> list[np.ndarray]:
    from .media import list_images, read_image, resize_shorter

    if folder is None:
        return []
    files = list_images(folder)[:limit]
    if not files:
        raise RtStyleError(f"no photos under {folder}")
    out = []
    for f in files:
        img = resize_shorter(read_image(f), size)
        h, w = img.shape[:2]
        top, left = (h - size) // 2, (w - size) // 2
        out.append(np.ascontiguousarray(img[top: top + size, left: left + size]))
    return out


# -- end to end on a video ------------------------------------------------------------
def run_stylize(args: list[str]) -> dict[str, Any]:
    """``rtstyle stylize ARGS --json --no-progress`` in a fresh process: its JSON summary."""
    cmd = [sys.executable, "-m", "rtstyle.cli", "stylize", *args, "--json", "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RtStyleError(f"stylize failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(r.stdout)


def video_end_to_end(model: str, video: str, image_size: int | None, output_dir: str) -> dict[str, Any]:
    """Run ``rtstyle stylize`` on a real video; wall time includes start-up."""
    out = Path(output_dir) / "bench_out.mp4"
    args = ["--model", model, "--input", video, "--output", str(out), "--no-temporal"]
    if image_size:
        args += ["--image-size", str(image_size)]
    t0 = time.perf_counter()
    summary = run_stylize(args)
    seconds = time.perf_counter() - t0
    frames = summary["frames"]
    return {"video": video, "image_size": image_size, "frames": frames, "wall_s": round(seconds, 2),
            "fps": round(frames / seconds, 1), "peak_rss_mb": summary["peak_rss_mb"]}


# -- the whole benchmark --------------------------------------------------------------
def _prepare_models(presets: list[str], models: list[str], tmp: Path, backends: list[str],
                    photos_dir: str | None) -> list[dict[str, Any]]:
    """Files to benchmark: each preset (seeded random weights: speed does not depend on
    them) or given checkpoint, as .pth and exported .onnx (and int8 .onnx)."""
    import torch

    from . import checkpoint, export
    from .models import build_model

    entries = []
    sources = [(p, None) for p in presets] + [(Path(m).stem, m) for m in models]
    for name, path in sources:
        if path is None:
            torch.manual_seed(0)
            model, trained = build_model(name), False
            pth = tmp / f"{name}.pth"
            checkpoint.save_model(model, pth)
        else:
            model, meta = checkpoint.load_model(path)
            pth, trained = Path(path), True
        onnx_path = tmp / f"{name}.onnx"
        report = export.export_onnx(model, onnx_path)
        entry = {"name": name, "arch": model.config.name, "trained": trained,
                 "params": sum(p.numel() for p in model.parameters()),
                 "files": {"torch": str(pth), "onnx": str(onnx_path)},
                 "onnx_max_abs_diff": report["max_abs_diff"]}
        if "onnx-int8" in backends and photos_dir:
            int8, base = tmp / f"{name}.int8.onnx", tmp / f"{name}.direct.onnx"
            export.export_onnx(model, base, check=False, winograd=False)  # what `export --int8` quantizes
            export.quantize_int8(base, int8, photos_dir)
            entry["files"]["onnx-int8"] = str(int8)
        entries.append(entry)
    return entries


def run(presets: list[str], models: list[str], backends: list[str], sizes: list[tuple[int, int]], runs: int,
        warmup: int, photos_dir: str | None = None, reference: str | None = None,
        reference_inputs: dict[str, np.ndarray] | None = None, reference_range: float | None = None,
        video: str | None = None, video_image_size: int | None = None, log=print) -> dict[str, Any]:
    from .runtime.onnx_backend import OnnxBackend

    photos = load_photos(photos_dir)
    results: dict[str, Any] = {"machine": machine(), "runs": runs, "warmup": warmup, "rows": [], "shift": [],
                               "video": []}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        entries = _prepare_models(presets, models, tmp, backends, photos_dir)
        if reference:
            entries.append({"name": f"reference:{Path(reference).stem}", "arch": "reference", "trained": True,
                            "files": {"onnx": reference}, "extra": reference_inputs or {},
                            "input_range": reference_range})
        for e in entries:
            for backend in backends:
                path = e["files"].get(backend)
                if path is None:
                    continue
                for size in sizes:
                    r = measure(path, size, runs, warmup, e.get("extra"), e.get("input_range"))
                    row = {"model": e["name"], "backend": backend, "size": f"{size[0]}x{size[1]}", **r}
                    results["rows"].append(row)
                    log(f"{row['model']:>22s} {backend:>9s} {row['size']:>9s}  median {r['median_ms']:8.1f} ms "
                        f"(min {r['min_ms']:.1f}, max {r['max_ms']:.1f})  {r['fps']:6.1f} FPS  "
                        f"peak RSS {r['peak_rss_mb']:.0f} MB")
            if photos:
                b = OnnxBackend(e["files"]["onnx"], "cpu", extra_inputs=e.get("extra"),
                                input_range=e.get("input_range"))
                sc = shift_consistency(b, photos)
                results["shift"].append({"model": e["name"], "trained": e["trained"], "psnr_db": sc})
                log(f"{e['name']:>22s} shift consistency (PSNR dB, {len(photos)} photos, shifts dx,dy): "
                    + ", ".join(f"({k}) {v:.1f}" for k, v in sc.items())
                    + ("" if e["trained"] else "  [untrained weights]"))
            if video and e["arch"] != "reference":
                v = video_end_to_end(e["files"]["onnx"], video, video_image_size, tmpdir)
                results["video"].append({"model": e["name"], **v})
                log(f"{e['name']:>22s} end to end {Path(video).name} at --image-size {video_image_size}: "
                    f"{v['frames']} frames in {v['wall_s']} s = {v['fps']} FPS, peak RSS {v['peak_rss_mb']:.0f} MB")
        for e in entries:
            e.pop("files", None)
            e.pop("extra", None)
        results["models"] = entries
    return results


if __name__ == "__main__":  # the child process of measure()
    print(json.dumps(_child(json.loads(sys.argv[1]))))
