"""Design-time ablation behind the edge presets (docs/benchmarks.md): what each choice
costs or saves at 640x480 in ONNX Runtime on this machine. Seeded random weights: speed
does not depend on them.

    python tools/edge_ablation.py [--runs 30] [--size 640x480]
"""

import argparse
import dataclasses
import tempfile
from pathlib import Path

import torch
from torch import nn

from rtstyle.bench import measure, parse_size
from rtstyle.export import export_onnx
from rtstyle.models import build_model, get_preset, layers


class _DepthToSpace(nn.Module):  # torch's own pixel shuffle: exports as ONNX DepthToSpace
    def __init__(self, out_channels, factor):
        super().__init__()
        self.op = nn.PixelShuffle(factor)

    def forward(self, x):
        return self.op(x)


def variants():
    edge = get_preset("edge")
    yield "edge (as shipped)", edge, False
    yield "edge, reflection padding", dataclasses.replace(edge, padding="reflect"), False
    yield "edge, nearest resize + conv", dataclasses.replace(edge, upsample="nearest"), False
    yield "edge, DepthToSpace shuffle", edge, True
    yield "edge, no blur (anti-aliasing off)", dataclasses.replace(edge, blur=False), False
    yield "edge, full 3x3 residual blocks", dataclasses.replace(edge, block="basic"), False
    yield "edge, full 3x3 decoder convs", dataclasses.replace(edge, separable_decoder=False), False
    yield "edge, 9x9 ends", dataclasses.replace(edge, in_kernel=9, out_kernel=9), False
    yield "edge, 24-48-96 wide", dataclasses.replace(edge, channels=(24, 48, 96)), False
    yield "edge, 1/4-resolution blocks (compact)", get_preset("compact"), False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--size", default="640x480")
    args = ap.parse_args()
    size = parse_size(args.size)
    original = layers.PixelShuffle
    with tempfile.TemporaryDirectory() as tmp:
        print("| variant | parameters | median ms | min | max |\n|---|---|---|---|---|")
        for name, cfg, depth_to_space in variants():
            layers.PixelShuffle = _DepthToSpace if depth_to_space else original
            torch.manual_seed(0)
            model = build_model(cfg)
            path = Path(tmp) / "m.onnx"
            export_onnx(model, path, check=False)
            r = measure(str(path), size, args.runs, 3)
            params = sum(p.numel() for p in model.parameters())
            print(f"| {name} | {params / 1e3:.0f} k | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['max_ms']:.1f} |",
                  flush=True)
    layers.PixelShuffle = original


if __name__ == "__main__":
    main()
