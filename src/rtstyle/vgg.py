"""The loss network: VGG16's convolutional feature stack, frozen, ImageNet-pretrained.

Defined here (no torchvision) with torchvision's module indices, so that the official
weights (``features.0.weight`` ...) load unchanged. Only the layers up to relu4_3 are
built: nothing deeper is used by the losses.
"""

from __future__ import annotations

import os
from collections import namedtuple
from pathlib import Path

import torch
from torch import nn

from .errors import RtStyleError

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
VGG16_FILENAME = os.path.basename(VGG16_URL)
# torchvision's cfg "D": numbers are conv widths, "M" a 2x2 max-pool.
_VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
# indices of the ReLUs whose outputs the losses use, in torchvision's numbering
LAYER_INDICES = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

VGGOutputs = namedtuple("VGGOutputs", list(LAYER_INDICES))


def _make_features(last_index: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 3
    for v in _VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = v
        if len(layers) > last_index:
            break
    return nn.Sequential(*layers[: last_index + 1])


class VGG16Features(nn.Module):
    """Frozen VGG16 features. Takes RGB images in [0, 255] (the style network's range),
    normalises them for ImageNet inside, and returns the activations at relu1_2, relu2_2,
    relu3_3 and relu4_3."""

    def __init__(self):
        super().__init__()
        self.features = _make_features(max(LAYER_INDICES.values()))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):  # always in eval mode: it is a fixed loss network
        return super().train(False)

    def forward(self, x: torch.Tensor) -> VGGOutputs:
        x = (x - self.mean) / self.std
        outs = []
        wanted = set(LAYER_INDICES.values())
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in wanted:
                outs.append(x)
        return VGGOutputs(*outs)

    def load_features_state_dict(self, state: dict[str, torch.Tensor], source: str = "state dict") -> None:
        """Load a full VGG16 state dict (``features.N.*`` and ``classifier.*`` keys) or a
        features-only one (``N.*`` keys); classifier weights and deeper layers are ignored."""
        if not isinstance(state, dict):
            raise RtStyleError(f"{source} is not a VGG16 state dict")
        if any(k.startswith("features.") for k in state):
            state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        own = self.features.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise RtStyleError(f"{source} is not a VGG16 state dict (missing {missing[0]})")
        for k, v in own.items():
            if tuple(state[k].shape) != tuple(v.shape):
                raise RtStyleError(f"{source} is not a VGG16 state dict ({k} has shape {tuple(state[k].shape)})")
        self.features.load_state_dict({k: state[k] for k in own})


def _hub_cache_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILENAME


def describe_weights_source(path: str | os.PathLike | None = None) -> dict[str, str | bool]:
    """Where the VGG16 weights would come from, for ``rtstyle info``."""
    if path:
        return {"source": "file", "path": str(path), "available": Path(path).is_file()}
    cache = _hub_cache_path()
    return {"source": "torch.hub cache", "path": str(cache), "url": VGG16_URL, "available": cache.is_file()}


def _load_file(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors, truncated files, not a torch file
        raise RtStyleError(f"cannot read VGG16 weights from {path}: {str(e).splitlines()[0]}") from None


def load_vgg16(weights: str | os.PathLike | None = None, device: torch.device | str = "cpu") -> VGG16Features:
    """Build the loss network and load pretrained weights.

    ``weights`` is a local file (a full or features-only VGG16 state dict). Without it,
    the official torchvision weights are taken from the torch.hub cache, downloading them
    (hash-checked) on first use.
    """
    net = VGG16Features()
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise RtStyleError(f"VGG16 weights file not found: {path}")
        net.load_features_state_dict(_load_file(path), source=str(path))
    else:
        try:
            state = torch.hub.load_state_dict_from_url(
                VGG16_URL, map_location="cpu", check_hash=True, progress=True, weights_only=True
            )
        except Exception as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise RtStyleError(
                f"cannot get the pretrained VGG16 weights ({reason}): download {VGG16_URL} "
                f"into {_hub_cache_path().parent} or pass a local copy with --vgg-weights PATH"
            ) from None
        net.load_features_state_dict(state, source=VGG16_URL)
    return net.to(device)
