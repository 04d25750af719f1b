"""Style networks: reusable layers, TransformerNet, and named presets.

This package knows nothing of files, devices, training or ONNX; one definition serves
training, inference and export.
"""

from .registry import PRESETS, build_model, get_preset, preset_names
from .transformer import ArchConfig, TransformerNet

__all__ = ["ArchConfig", "TransformerNet", "PRESETS", "build_model", "get_preset", "preset_names"]
