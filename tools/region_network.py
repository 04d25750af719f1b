"""How much of the network a still camera could skip: run it only on the parts of the frame
that changed (the boxes the stabilizer matches its flow in), with the instance norms'
statistics frozen at the last whole frame. A lead weighed, not built (docs/benchmarks.md,
"The network only where the picture changed, weighed").

    python tools/region_network.py vtest.avi [more clips] [--image-size 480] [--frames 300]

Prints, for the first clip, how far a frame stylized with another frame's statistics is from
its own, and how close the network run on a crop (frozen statistics; the crop aligned to the
network's 8-px grid, ``margin`` px of context each way) comes to the whole frame's output
inside the box; then, for each clip, the share of the frame the crops would cover (a frame
the stabilizer matches whole counts 1), and ONNX Runtime's time (one thread) against the
crop's area. The network is the default built-in, ``swirl``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from itertools import islice

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn

from rtstyle import scene
from rtstyle import stabilizer as stab
from rtstyle.checkpoint import load_model
from rtstyle.media import VideoReader, resize_shorter
from rtstyle.styles import resolve_model

GRID = 8  # the network's downsampling: a crop must start on its grid to see the same strokes


class FrozenNorm(nn.Module):
    """An instance norm that records its input's statistics (``freeze`` False) or uses the
    recorded ones (True)."""

    def __init__(self, norm: nn.InstanceNorm2d):
        super().__init__()
        self.norm, self.freeze, self.stats = norm, False, None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.freeze:
            self.stats = (x.mean((2, 3), keepdim=True), x.var((2, 3), keepdim=True, unbiased=False))
            return self.norm(x)
        mean, var = self.stats
        w, b = self.norm.weight[None, :, None, None], self.norm.bias[None, :, None, None]
        return (x - mean) / torch.sqrt(var + self.norm.eps) * w + b


def with_frozen_norms(model: nn.Module) -> list[FrozenNorm]:
    norms = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.InstanceNorm2d):
                norms.append(FrozenNorm(child))
                setattr(parent, name, norms[-1])
    return norms


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def crops_against_whole(frames: list[np.ndarray], margins: list[int]) -> None:
    model, _ = load_model(resolve_model(None, None, "cpu").with_suffix(".pth"))  # (the ONNX file's weights)
    model.eval()
    norms = with_frozen_norms(model)

    def run(x: np.ndarray, freeze: bool) -> torch.Tensor:
        for n in norms:
            n.freeze = freeze
        with torch.no_grad():
            return model(torch.from_numpy(x).permute(2, 0, 1)[None].float()).clamp(0, 255)

    first, later = frames[0], frames[min(30, len(frames) - 1)]
    run(first, False)  # the statistics of the first frame
    frozen = run(later, True)
    own = run(later, False)
    print(f"frame {min(30, len(frames) - 1)} with frame 0's statistics against its own: {psnr(frozen, own):.2f} dB")
    run(first, False)
    h, w = later.shape[:2]
    x0, y0 = w // 2 - 64, h // 2 - 64
    x1, y1 = x0 + 128, y0 + 128  # a 128-px box in the middle
    for m in margins:
        cx0, cy0 = max(0, x0 - m) // GRID * GRID, max(0, y0 - m) // GRID * GRID
        cx1, cy1 = min(w, x1 + m), min(h, y1 + m)
        out = run(np.ascontiguousarray(later[cy0:cy1, cx0:cx1]), True)
        inner = out[..., y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
        ref = frozen[..., y0:y1, x0:x1]
        print(f"margin {m:3d} px: the box {psnr(inner, ref):6.2f} dB, "
              f"largest difference {float((inner - ref).abs().max()):.1f} levels")


def crop_cover(path: str, size: int | None, frames: int, margin: int) -> tuple[float, float, int, int]:
    """(the mean share of the frame the crops cover, the mean over the frames matched by
    regions only, frames matched whole, frames) on ``path``, the stabilizer as by default."""
    s = stab.make_stabilizer("sharp")
    seen: dict[str, object] = {}
    found = stab.changed_regions

    def spy(gray, prev, noise, tile=scene.CHANGE_TILE):
        seen["regions"], seen["shape"] = found(gray, prev, noise, tile), gray.shape
        return seen["regions"]

    stab.changed_regions = spy
    shares, regional = [], []
    try:
        with VideoReader(path) as reader:
            for frame in islice(reader, frames):
                frame = resize_shorter(frame, size, multiple=2)
                seen.clear()
                s.prepare(frame)
                if seen.get("regions") is None:
                    shares.append(1.0)
                    continue
                h, w = frame.shape[:2]
                fh, fw = seen["shape"]
                cover = np.zeros((h, w), bool)
                for bx0, by0, bx1, by1 in seen["regions"][0]:
                    cx0 = max(0, int(bx0 * w / fw) - margin) // GRID * GRID
                    cy0 = max(0, int(by0 * h / fh) - margin) // GRID * GRID
                    cover[cy0:math.ceil(by1 * h / fh) + margin, cx0:math.ceil(bx1 * w / fw) + margin] = True
                shares.append(float(cover.mean()))
                regional.append(shares[-1])
    finally:
        stab.changed_regions = found
    whole = len(shares) - len(regional)
    return statistics.mean(shares), statistics.mean(regional) if regional else 1.0, whole, len(shares)


def network_ms(h: int, w: int, runs: int = 15) -> float:
    """ONNX Runtime's median time (one thread) for the default built-in on an h x w input."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(resolve_model(None, None, "cpu")), options,
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, h, w)).astype(np.float32)
    times = []
    for i in range(runs + 3):
        t0 = time.perf_counter()
        session.run(None, {name: x})
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--margin", type=int, default=48, help="px of context around each box (default 48)")
    a = p.parse_args()
    torch.set_num_threads(2)
    with VideoReader(a.clips[0]) as reader:
        frames = [resize_shorter(f, a.image_size, multiple=2) for f in islice(reader, 31)]
    crops_against_whole(frames, [0, 8, 16, 32, 48, 64, 96])
    for clip in a.clips:
        mean, regional, whole, n = crop_cover(clip, a.image_size, a.frames, a.margin)
        print(f"{clip}: crops cover {mean:.1%} of the frame on average ({whole} of {n} frames whole; "
              f"the others {regional:.1%})")
    h, w = frames[0].shape[:2]
    full = network_ms(h, w)
    for s in (1.0, 0.8, 0.5, 0.2):
        ch, cw = (max(GRID, round(d * math.sqrt(s) / GRID) * GRID) for d in (h, w))
        ms = full if s == 1.0 else network_ms(ch, cw)
        print(f"network on {cw}x{ch} ({ch * cw / (h * w):.0%} of the frame): {ms:.2f} ms ({ms / full:.0%})")


if __name__ == "__main__":
    main()
