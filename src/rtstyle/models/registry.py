"""Named architecture presets (a small timm-style registry)."""

from __future__ import annotations

from typing import Any

from .transformer import ArchConfig, TransformerNet

PRESETS: dict[str, ArchConfig] = {
    # Johnson et al. 2016 / PyTorch's fast_neural_style example.
    "classic": ArchConfig(name="classic", channels=(32, 64, 128), num_res_blocks=5, in_kernel=9, out_kernel=9),
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
