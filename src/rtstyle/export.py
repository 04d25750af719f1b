"""ONNX export: the same TransformerNet, with dynamic height and width, checked against
PyTorch on export; int8 static quantization calibrated on real images; fp16 for GPUs.

The exported graph takes ``image``: float32 [N, 3, H, W], RGB in [0, 255], H and W
multiples of the network's downsampling factor (the ONNX backend pads and crops), and
gives ``stylized`` in [0, 255]. The architecture config and metadata travel in the
model's metadata properties, so an .onnx file describes itself like a checkpoint does.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from torch import nn

from .errors import RtStyleError
from .fileio import atomic_output
from .media import list_images, read_image, resize_shorter
from .models import TransformerNet
from .models.layers import subpixel_decoder, winograd_blocks

INPUT_NAME, OUTPUT_NAME = "image", "stylized"
OPSET = 18


def _need(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise RtStyleError(f"ONNX export needs the '{module}' package: pip install onnx") from None


class _Exportable(nn.Module):
    """The network proper (aligned sizes), with the output clamped to [0, 255], rearranged
    for speed with the same arithmetic: nearest-upsampling decoder layers run at the low
    resolution (:class:`~rtstyle.models.layers.SubpixelUpsampleConv`), the residual
    blocks' wide 3x3 convolutions by Winograd's algorithm
    (:class:`~rtstyle.models.layers.WinogradConv3x3`; not for a graph that is to be
    quantized or halved: its transformed tiles need float32's range and precision)."""

    def __init__(self, model: TransformerNet, winograd: bool = True):
        super().__init__()
        fast = subpixel_decoder(copy.deepcopy(model))
        self.model = winograd_blocks(fast) if winograd else fast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_aligned(x).clamp(0.0, 255.0)


def _metadata(model: TransformerNet, meta: dict[str, Any]) -> dict[str, str]:
    return {
        "rtstyle.arch": json.dumps(model.config.to_dict()),
        "rtstyle.meta": json.dumps(meta, default=str),
        "rtstyle.downsample": str(model.config.downsample_factor),
        "rtstyle.input_range": "255",
    }


def _set_metadata(onnx_model, props: dict[str, str]) -> None:
    del onnx_model.metadata_props[:]
    for k, v in props.items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = k, v


def parity_inputs(factor: int, seed: int = 0) -> list[np.ndarray]:
    """Two smooth, photo-like inputs of different (aligned) sizes for the parity check."""
    rng = np.random.default_rng(seed)
    out = []
    for h, w in ((24 * factor, 32 * factor), (17 * factor, 13 * factor)):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = np.stack([xx / w, yy / h, 0.5 + 0.5 * np.sin((xx + 2 * yy) / 7.0)], 0) * 255
        img += rng.normal(0, 8, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.float32)[None])
    return out


def max_abs_diff(path: str | os.PathLike, model: TransformerNet, inputs: Iterable[np.ndarray]) -> float:
    """Largest |ONNX Runtime - PyTorch| over ``inputs`` (pixel values in [0, 255])."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    with torch.no_grad():
        for x in inputs:
            ref = model.forward_aligned(torch.from_numpy(x)).clamp(0, 255).numpy()
            got = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
            worst = max(worst, float(np.abs(got.astype(np.float32) - ref).max()))
    return worst


def export_onnx(model: TransformerNet, path: str | os.PathLike, meta: dict[str, Any] | None = None,
                check: bool = True, winograd: bool = True) -> dict[str, Any]:
    """Export ``model`` to ONNX (float32, dynamic batch, height and width); returns a report
    with the maximum absolute difference from PyTorch on two input sizes. ``winograd=False``
    keeps the direct 3x3 convolutions: the base for int8 or fp16 conversion."""
    onnx = _need("onnx")
    _need("onnxruntime")
    model = model.eval().cpu()
    factor = model.config.downsample_factor
    example = torch.from_numpy(parity_inputs(factor)[1])
    path = Path(path)
    with atomic_output(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Exportable(model, winograd), (example,), str(tmp), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            opset_version=OPSET, dynamo=False,
            dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                          OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"}},
        )
        proto = onnx.load(str(tmp))
        _set_metadata(proto, _metadata(model, dict(meta or {})))
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        report: dict[str, Any] = {"output": str(path), "precision": "fp32", "bytes": tmp.stat().st_size}
        if check:
            report["max_abs_diff"] = max_abs_diff(tmp, model, parity_inputs(factor))
    return report


@contextlib.contextmanager
def _quiet_root_logger():
    """ONNX Runtime's quantization tools log through the root logger; keep that out of
    the user's terminal."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


class _ImageCalibration:
    """Feeds real images to ONNX Runtime's calibrator (aligned sizes, [0, 255])."""

    def __init__(self, files: list[Path], size: int, factor: int):
        self.files, self.size, self.factor = files, size, factor
        self._it = iter(files)

    def get_next(self):
        for path in self._it:
            try:
                frame = resize_shorter(read_image(path), self.size, multiple=self.factor)
            except RtStyleError:
                continue
            return {INPUT_NAME: np.ascontiguousarray(frame.transpose(2, 0, 1)[None], dtype=np.float32)}
        return None

    def rewind(self):
        self._it = iter(self.files)


def quantize_int8(fp32_path: str | os.PathLike, out_path: str | os.PathLike, calibration_dir: str | os.PathLike,
                  max_images: int = 32, size: int = 256) -> dict[str, Any]:
    """Static int8 quantization (QDQ, per-channel 7-bit weights, int8 activations) with ONNX
    Runtime's tools, calibrated on the real images under ``calibration_dir``."""
    _need("onnx")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    calib_dir = Path(calibration_dir)
    if not calib_dir.is_dir():
        raise RtStyleError(f"calibration folder not found: {calib_dir}")
    files = list_images(calib_dir)[:max_images]
    if not files:
        raise RtStyleError(f"no images to calibrate with under {calib_dir}")
    import onnx

    proto = onnx.load(str(fp32_path))
    props = {p.key: p.value for p in proto.metadata_props}
    factor = int(props.get("rtstyle.downsample", "4"))
    # The first and the last conv stay in float: they touch the pixels directly, cost
    # little, and quantizing them costs the most precision.
    convs = [n.name for n in proto.graph.node if n.op_type == "Conv"]
    keep_float = convs[:1] + convs[-1:]
    out_path = Path(out_path)
    with atomic_output(out_path) as tmp, warnings.catch_warnings(), _quiet_root_logger():
        warnings.simplefilter("ignore")
        prep = tmp.with_name(tmp.stem + ".prep.onnx")
        try:
            quant_pre_process(str(fp32_path), str(prep), skip_symbolic_shape=True)
            quantize_static(
                str(prep), str(tmp), _ImageCalibration(files, size, factor),
                quant_format=QuantFormat.QDQ, per_channel=True, op_types_to_quantize=["Conv"], activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                nodes_to_exclude=keep_float,
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
                # weights in 7 bits: x86 CPUs without VNNI (AVX2 only) multiply 8-bit pairs into
                # 16-bit sums that saturate with 8-bit weights (mean |int8 - fp32| 6.6 against
                # 1.8 of 255 on the tests' net, AMD EPYC with AVX2 only); exact sums with VNNI or without
                reduce_range=True,
            )
        finally:
            prep.unlink(missing_ok=True)
        q = onnx.load(str(tmp))
        props["rtstyle.precision"] = "int8"
        props["rtstyle.calibration_images"] = str(len(files))
        _set_metadata(q, props)
        onnx.save(q, str(tmp))
        size_bytes = tmp.stat().st_size
    return {"output": str(out_path), "precision": "int8", "calibration_images": len(files), "bytes": size_bytes}


def convert_fp16(fp32_path: str | os.PathLike, out_path: str | os.PathLike) -> dict[str, Any]:
    """Weights and arithmetic in float16 (for GPUs), float32 input and output kept."""
    onnx = _need("onnx")
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = onnx.load(str(fp32_path))
    props = {p.key: p.value for p in proto.metadata_props}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        half = convert_float_to_float16(proto, keep_io_types=True)
    props["rtstyle.precision"] = "fp16"
    _set_metadata(half, props)
    out_path = Path(out_path)
    with atomic_output(out_path) as tmp:
        onnx.save(half, str(tmp))
        size_bytes = tmp.stat().st_size
    return {"output": str(out_path), "precision": "fp16", "bytes": size_bytes}


def output_difference(a_path: str | os.PathLike, b_path: str | os.PathLike, images: list[np.ndarray]) -> dict[str, float]:
    """Mean and max absolute pixel difference (0-255) between two ONNX models' outputs."""
    import onnxruntime as ort

    sa = ort.InferenceSession(str(a_path), providers=["CPUExecutionProvider"])
    sb = ort.InferenceSession(str(b_path), providers=["CPUExecutionProvider"])
    diffs = []
    for x in images:
        d = np.abs(sa.run([OUTPUT_NAME], {INPUT_NAME: x})[0] - sb.run([OUTPUT_NAME], {INPUT_NAME: x})[0])
        diffs.append(d)
    return {"mean_abs_diff": float(np.mean([d.mean() for d in diffs])), "max_abs_diff": float(max(d.max() for d in diffs))}
