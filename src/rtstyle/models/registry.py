"""Named architecture presets (a small timm-style registry)."""

from __future__ import annotations

from typing import Any

from .transformer import ArchConfig, TransformerNet

PRESETS: dict[str, ArchConfig] = {
    # Johnson et al. 2016 / PyTorch's fast_neural_style example: 1.68 M parameters.
    "classic": ArchConfig(name="classic", channels=(32, 64, 128), num_res_blocks=5, in_kernel=9, out_kernel=9),
    # Real time on a 2-core CPU (docs/benchmarks.md has the trade-off table): no conv at
    # full resolution (a 3x3 stride-2 stem, a pixel-shuffle head), residual blocks at 1/8
    # resolution, depthwise-separable blocks and decoder, zero padding folded into the
    # convs, anti-aliased (blurred) downsampling for shift consistency, and the encoder's
    # 1/2- and 1/4-resolution features added to the decoder's (no weights, no measurable
    # time; closer to a distillation teacher: docs/styles.md).
    "edge": ArchConfig(name="edge", channels=(16, 32, 64), num_res_blocks=5, in_kernel=3, out_kernel=3,
                       strides=(2, 2, 2), block="separable", padding="zeros", upsample="shuffle",
                       blur=True, separable_decoder=True, skip=True),
    # The same without anti-aliasing and with 4 blocks: a little faster, textures follow
    # the pixel grid more.
    "edge-fast": ArchConfig(name="edge-fast", channels=(16, 32, 64), num_res_blocks=4, in_kernel=3, out_kernel=3,
                            strides=(2, 2, 2), block="separable", padding="zeros", upsample="shuffle",
                            blur=False, separable_decoder=True, skip=True),
    # Between classic and edge: edge's cheap layers, with the residual blocks at 1/4
    # resolution as in classic (4x their cost; finer texture).
    "compact": ArchConfig(name="compact", channels=(16, 32, 64), num_res_blocks=5, in_kernel=3, out_kernel=3,
                          strides=(2, 2, 1), block="separable", padding="zeros", upsample="shuffle",
                          blur=True, separable_decoder=True),
}


def preset_names() -> list[str]:
    return sorted(PRESETS)


def get_preset(name: str) -> ArchConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose one of: {', '.join(preset_names())}") from None


def build_model(config: ArchConfig | dict[str, Any] | str = "classic") -> TransformerNet:
    """Build a TransformerNet from a preset name, an ArchConfig or its dict form."""
    if isinstance(config, str):
        config = get_preset(config)
    elif isinstance(config, dict):
        config = ArchConfig.from_dict(config)
    return TransformerNet(config)
