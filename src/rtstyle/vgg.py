"""The loss network: VGG16's convolutional feature stack, frozen, ImageNet-pretrained.

Defined here (no torchvision) with torchvision's module indices, so that the official
weights (``features.0.weight`` ...) load unchanged. Only the layers up to relu4_3 are
built: nothing deeper is used by the losses.

:func:`import_keras_vgg16` converts Keras's ImageNet VGG16 (the Oxford/Caffe weights, in an
ONNX export or Keras's .h5 file) into that layout: the Caffe preprocessing (BGR, 0-255,
mean subtracted) is folded into the first convolution, so the network keeps torchvision's
normalisation, and the activations are divided by :data:`FEATURE_SCALE` so that they sit
on torchvision's scale.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from collections import namedtuple
from pathlib import Path

import numpy as np
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

# Keras / Caffe convention: BGR, 0-255, minus this mean (in B, G, R order); zero padding there
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# Caffe-convention activations are this many times torchvision's: 255 x the mean ImageNet std
FEATURE_SCALE = 255.0 * sum(IMAGENET_STD) / 3  # 57.63
# Keras's layer names in torchvision's order, and the index of each conv in ``features``
KERAS_CONV_NAMES = [f"block{b}_conv{c}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)) for c in range(1, n + 1)]


def _conv_indices() -> list[int]:
    """Where each conv sits in torchvision's ``features`` (conv + ReLU take two slots, a pool one)."""
    out, i = [], 0
    for v in _VGG16_CFG:
        if v != "M":
            out.append(i)
        i += 1 if v == "M" else 2
    return out


TORCHVISION_CONV_INDICES = _conv_indices()  # [0, 2, 5, 7, 10, ..., 28]


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
    relu3_3 and relu4_3.

    It runs channels-last (NHWC) whatever the input's layout, on a CPU as on a GPU: there
    the max-pools are 4-10x faster than on NCHW maps and the convolutions no slower."""

    def __init__(self):
        super().__init__()
        self.features = _make_features(max(LAYER_INDICES.values()))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.requires_grad_(False)
        self.to(memory_format=torch.channels_last)
        self.eval()

    def train(self, mode: bool = True):  # always in eval mode: it is a fixed loss network
        return super().train(False)

    def _layers(self, x: torch.Tensor, last: int):
        """Yield (index, activation) through ``features`` up to index ``last``."""
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        for i, layer in enumerate(self.features[: last + 1]):
            x = layer(x)
            yield i, x

    def forward(self, x: torch.Tensor) -> VGGOutputs:
        wanted = set(LAYER_INDICES.values())
        return VGGOutputs(*(a for i, a in self._layers(x, max(wanted)) if i in wanted))

    def content(self, x: torch.Tensor) -> torch.Tensor:
        """relu2_2 alone (the content loss's layer), without the deeper layers: a third of
        :meth:`forward`'s work."""
        *_, (_, a) = self._layers(x, LAYER_INDICES["relu2_2"])
        return a

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
        out: dict = {"source": "file", "path": str(path), "available": Path(path).is_file()}
        if out["available"]:
            try:
                out["provenance"] = weights_provenance(path)
            except RtStyleError:
                out["provenance"] = None
        return out
    cache = _hub_cache_path()
    return {"source": "torch.hub cache", "path": str(cache), "url": VGG16_URL, "available": cache.is_file()}


def _load_file(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors, truncated files, not a torch file
        raise RtStyleError(f"cannot read VGG16 weights from {path}: {str(e).splitlines()[0]}") from None


@torch.no_grad()
def frame_features(vgg: VGG16Features, frame: np.ndarray):
    """The loss network's features of one RGB uint8 frame (H, W, 3), on ``vgg``'s device."""
    device = next(vgg.parameters()).device
    return vgg(torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float().to(device))


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


# -- import of Keras/Caffe-convention weights ---------------------------------------------
_LAYER_RE = re.compile(r"block([1-5])_conv([1-3])")


def _layer_name(text: str) -> str | None:
    m = _LAYER_RE.search(text)
    return m.group(0) if m else None


def read_keras_onnx(path: Path) -> dict[str, tuple]:
    """{``block{b}_conv{c}``: (kernel OIHW, bias)} from an ONNX export of a Keras VGG16
    (e.g. tf2onnx's): the weights of each Conv node, named by the layer its weight
    initializer (or the node) is named after. Needs the onnx package."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise RtStyleError("reading an ONNX file needs onnx: pip install onnx") from None
    try:
        model = onnx.load(str(path))
    except Exception as e:
        raise RtStyleError(f"cannot read {path} as ONNX: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from None
    init = {t.name: t for t in model.graph.initializer}
    layers: dict[str, tuple] = {}
    for node in model.graph.node:
        if node.op_type != "Conv" or len(node.input) < 3:
            continue
        name = _layer_name(node.input[1]) or _layer_name(node.name)
        if name is None or node.input[1] not in init or node.input[2] not in init:
            continue
        layers[name] = (numpy_helper.to_array(init[node.input[1]]), numpy_helper.to_array(init[node.input[2]]))
    return layers


def read_keras_h5(path: Path) -> dict[str, tuple]:
    """{``block{b}_conv{c}``: (kernel OIHW, bias)} from a Keras weights file (.h5), e.g.
    ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``: in each layer's group the 4-D
    dataset is the kernel (Keras's HWIO order), the 1-D one the bias. Needs h5py."""
    try:
        import h5py
    except ImportError:
        raise RtStyleError("reading a Keras .h5 file needs h5py: pip install 'rtstyle[h5]'") from None
    found: dict[str, dict[int, object]] = {}

    def visit(name, obj):
        layer = _layer_name(name)
        if layer and isinstance(obj, h5py.Dataset) and obj.ndim in (1, 4):
            found.setdefault(layer, {})[obj.ndim] = obj[()]

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except OSError as e:
        raise RtStyleError(f"cannot read {path} as HDF5: {e}") from None
    return {k: (v[4].transpose(3, 2, 0, 1), v[1]) for k, v in found.items() if 1 in v and 4 in v}


def fold_caffe_preprocessing(layers: dict[str, tuple]) -> dict[str, torch.Tensor]:
    """torchvision-layout ``features.N.weight/bias`` from Keras-convention conv weights.

    Keras/Caffe's VGG16 takes BGR in 0-255 minus :data:`CAFFE_MEAN_BGR`; this network takes
    RGB normalised by torchvision's mean and std, x_n = (x - 255 m) / (255 s). The first
    convolution is rewritten to take x_n: its input channels are reversed (BGR -> RGB), each
    scaled by 255 s_c, and the bias absorbs the kernel's response to (255 m_c - Caffe's mean_c).
    Exact away from the border; at the border, zero padding of x_n is Caffe's
    (255 m - mean) = (-0.005, -0.50, -0.41) in R, G, B instead of 0. Then the first kernel and
    every bias are divided by :data:`FEATURE_SCALE`: through ReLUs and max-pools that divides
    every activation by it exactly, putting the features on torchvision's scale."""
    missing = [n for n in KERAS_CONV_NAMES[:10] if n not in layers]  # up to relu4_3 is what the losses use
    if missing:
        raise RtStyleError(f"no weights for {missing[0]} (found {len(layers)} of VGG16's convolutions)")
    widths = [v for v in _VGG16_CFG if v != "M"]
    state: dict[str, torch.Tensor] = {}
    in_ch = 3
    for name, index, width in zip(KERAS_CONV_NAMES, TORCHVISION_CONV_INDICES, widths, strict=True):
        if name not in layers:
            break  # block5 is optional: the loss network stops at relu4_3
        w = torch.tensor(np.asarray(layers[name][0], dtype=np.float64))
        b = torch.tensor(np.asarray(layers[name][1], dtype=np.float64))
        if tuple(w.shape) != (width, in_ch, 3, 3) or tuple(b.shape) != (width,):
            raise RtStyleError(f"{name} has shape {tuple(w.shape)} / {tuple(b.shape)}, not VGG16's "
                               f"{(width, in_ch, 3, 3)} / {(width,)}")
        if index == 0:
            w = w.flip(1)  # input channels B, G, R -> R, G, B
            std = torch.tensor(IMAGENET_STD, dtype=torch.float64) * 255
            shift = torch.tensor(IMAGENET_MEAN, dtype=torch.float64) * 255 - torch.tensor(CAFFE_MEAN_BGR[::-1])
            b = b + (w.sum((2, 3)) * shift).sum(1)
            w = w * std.view(1, 3, 1, 1) / FEATURE_SCALE
        state[f"features.{index}.weight"] = w.float()
        state[f"features.{index}.bias"] = (b / FEATURE_SCALE).float()
        in_ch = width
    return state


def import_keras_vgg16(source: str | os.PathLike, output: str | os.PathLike) -> dict[str, object]:
    """Read Keras-convention VGG16 conv weights (ONNX or .h5), fold the preprocessing in
    (:func:`fold_caffe_preprocessing`) and write a features state dict that ``--vgg-weights``
    takes, with its provenance under the key ``"provenance"``. Returns that provenance."""
    from .fileio import atomic_output

    source = Path(source)
    if not source.is_file():
        raise RtStyleError(f"file not found: {source}")
    suffix = source.suffix.lower()
    if suffix == ".onnx":
        layers = read_keras_onnx(source)
    elif suffix in (".h5", ".hdf5", ".keras"):
        layers = read_keras_h5(source)
    else:
        raise RtStyleError(f"{source}: expected an ONNX file (.onnx) or Keras weights (.h5)")
    state = fold_caffe_preprocessing(layers)
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    provenance = {
        "format": "rtstyle.vgg16-import",
        "source": source.name,
        "source_sha256": digest.hexdigest(),
        "convolutions": len(state) // 2,
        "convention": f"Keras/Caffe: BGR, 0-255, mean {CAFFE_MEAN_BGR} subtracted",
        "folded": "preprocessing folded into features.0 (takes torchvision-normalised RGB); first kernel and "
                  f"every bias divided by {FEATURE_SCALE:.2f} (activations on torchvision's scale)",
        "feature_scale": FEATURE_SCALE,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    with atomic_output(output) as tmp:
        torch.save({**state, "provenance": provenance}, tmp)
    return {"output": str(output), **provenance}


def weights_provenance(path: str | os.PathLike) -> dict | None:
    """The provenance stored by :func:`import_keras_vgg16`, or None."""
    state = _load_file(Path(path))
    prov = state.get("provenance") if isinstance(state, dict) else None
    return prov if isinstance(prov, dict) else None
