"""The ``rtstyle`` command. The only place that turns exceptions into exit codes:
a user's mistake is one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .errors import RtStyleError

EXIT_USAGE = 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="where to run: auto picks CUDA, then Apple MPS, then CPU (default: auto)")


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtstyle", description="Real-time neural style transfer.")
    parser.add_argument("--version", action="version", version=f"rtstyle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    t = sub.add_parser("train", help="train a style model (Johnson et al. 2016)",
                       description="Train a feed-forward style network against a frozen VGG16.")
    t.add_argument("--content-dir", required=True, help="folder of content images (searched recursively)")
    t.add_argument("--style-image", required=True, help="the style image")
    t.add_argument("--save-model-dir", default="checkpoints", help="where model.pth and checkpoint.pth go")
    t.add_argument("--arch", default="classic", help="architecture preset (default: classic)")
    t.add_argument("--epochs", type=_positive_int, default=2)
    t.add_argument("--batch-size", type=_positive_int, default=4)
    t.add_argument("--image-size", type=_positive_int, default=256, help="training crop size (default: 256)")
    t.add_argument("--style-size", type=_positive_int, default=None,
                   help="resize the style image so its shorter side is this (default: its own size)")
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--content-weight", type=_non_negative_float, default=1e5)
    t.add_argument("--style-weight", type=_non_negative_float, default=1e10)
    t.add_argument("--tv-weight", type=_non_negative_float, default=0.0, help="total-variation weight (default: 0)")
    t.add_argument("--seed", type=int, default=42)
    _add_device(t)
    t.add_argument("--vgg-weights", default=None, metavar="PATH",
                   help="local VGG16 weights (full or features-only state dict) instead of the torch.hub download")
    t.add_argument("--checkpoint-interval", type=int, default=1000, help="save a checkpoint every N steps (0: never)")
    t.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CHECKPOINT",
                   help="continue from a checkpoint (default: SAVE_MODEL_DIR/checkpoint.pth)")
    t.add_argument("--log-interval", type=int, default=100, help="log losses every N steps (0: never)")
    t.add_argument("--workers", type=int, default=min(4, max(0, (os.cpu_count() or 1) - 1)),
                   help="data-loading worker processes")
    t.add_argument("--max-steps", type=_positive_int, default=None, help="stop after this many steps")
    _add_progress(t)

    s = sub.add_parser("stylize", help="stylize an image, a folder, a video or a webcam",
                       description="Apply a style model to an image, a folder of images, a video file, "
                                   "or a live camera/stream.")
    s.add_argument("--model", required=True, help="a model file (.pth)")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="an image, a folder of images, or a video file")
    src.add_argument("--webcam", nargs="?", const="0", default=None, metavar="SOURCE",
                     help="camera index (default 0), device path, or stream URL (rtsp://, http://)")
    s.add_argument("--output", help="output file or folder (default: beside the input, *_stylized)")
    s.add_argument("--image-size", type=_positive_int, default=None,
                   help="resize so the shorter side is N pixels before stylizing (default: input size)")
    _add_device(s)
    s.add_argument("--show", action=argparse.BooleanOptionalAction, default=None,
                   help="webcam: show a live window (default: when a display exists)")
    s.add_argument("--max-frames", type=_positive_int, default=None, help="webcam: stop after N frames")
    s.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    _add_progress(s)

    e = sub.add_parser("export", help="export a model to ONNX (fp32, int8 or fp16)",
                       description="Export a model to ONNX with dynamic height and width, checked against PyTorch.")
    e.add_argument("--model", required=True, help="a model file (.pth)")
    e.add_argument("--output", required=True, help="the .onnx file to write")
    prec = e.add_mutually_exclusive_group()
    prec.add_argument("--int8", action="store_true", help="static int8 quantization (needs --calibration-dir)")
    prec.add_argument("--fp16", action="store_true", help="float16 weights and arithmetic, for GPUs")
    e.add_argument("--calibration-dir", help="real images to calibrate int8 activations with")
    e.add_argument("--calibration-size", type=_positive_int, default=256,
                   help="shorter side of the calibration images (default: 256)")
    e.add_argument("--json", action="store_true", help="print the report as JSON")

    i = sub.add_parser("info", help="versions, devices and where the VGG16 weights come from")
    i.add_argument("--vgg-weights", default=None, metavar="PATH")
    i.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else args.progress


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    from .training import TrainConfig, train

    fields = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields and k != "progress"},
                      progress=_progress(args))
    path = train(cfg)
    return {"model": str(path)}


def cmd_stylize(args: argparse.Namespace) -> dict[str, Any]:
    from . import pipeline
    from .media import input_kind
    from .stylizer import Stylizer

    output = Path(args.output) if args.output else None
    if args.webcam is not None:
        stylizer = Stylizer.load(args.model, device=args.device, image_size=args.image_size)
        source: str | int = int(args.webcam) if args.webcam.isdigit() else args.webcam
        return pipeline.stylize_stream(stylizer, source, output, show=args.show,
                                       max_frames=args.max_frames, progress=_progress(args))
    src = Path(args.input)
    kind = input_kind(src)  # checks the input before the model is loaded
    output = output or pipeline.default_output(src, kind)
    stylizer = Stylizer.load(args.model, device=args.device, image_size=args.image_size)
    if kind == "image":
        return pipeline.stylize_image_file(stylizer, src, output)
    if kind == "folder":
        return pipeline.stylize_folder(stylizer, src, output, progress=_progress(args))
    return pipeline.stylize_video(stylizer, src, output, progress=_progress(args))


def cmd_export(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    from . import export
    from .checkpoint import load_model

    output = Path(args.output)
    if output.suffix.lower() != ".onnx":
        raise RtStyleError(f"output {output} must be an .onnx file")
    if args.int8 and not args.calibration_dir:
        raise RtStyleError("--int8 needs --calibration-dir DIR (real images to calibrate with)")
    model, meta = load_model(args.model)
    meta.pop("arch", None)
    if not (args.int8 or args.fp16):
        return export.export_onnx(model, output, meta)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        report = export.export_onnx(model, fp32, meta)
        if args.int8:
            result = export.quantize_int8(fp32, output, args.calibration_dir, size=args.calibration_size)
        else:
            result = export.convert_fp16(fp32, output)
        if not args.fp16:  # fp16 kernels may be missing from ONNX Runtime's CPU provider
            inputs = export.parity_inputs(model.config.downsample_factor)
            result["vs_fp32"] = export.output_difference(fp32, output, inputs)
        result["fp32_max_abs_diff_vs_torch"] = report["max_abs_diff"]
        return result


def _print_export(r: dict[str, Any]) -> None:
    line = f"wrote {r['output']} ({r['precision']}, {r['bytes'] / 1e6:.2f} MB)"
    if "max_abs_diff" in r:
        line += f"; max |ONNX Runtime - PyTorch| = {r['max_abs_diff']:.2e} (pixel values 0-255)"
    if "vs_fp32" in r:
        d = r["vs_fp32"]
        line += f"; vs fp32: mean |diff| {d['mean_abs_diff']:.2f}, max {d['max_abs_diff']:.1f} (0-255)"
    print(line)


def cmd_info(args: argparse.Namespace) -> dict[str, Any]:
    import platform

    import torch

    from .devices import mps_available, resolve_device
    from .models import preset_names
    from .vgg import describe_weights_source

    def version(mod: str) -> str | None:
        try:
            return __import__(mod).__version__
        except Exception:
            return None

    cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return {
        "rtstyle": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {m: version(m) for m in ("torch", "numpy", "PIL", "cv2", "av", "onnxruntime")},
        "devices": {"default": str(resolve_device("auto")), "cuda": cuda, "mps": mps_available(),
                    "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "architectures": preset_names(),
        "vgg16_weights": describe_weights_source(args.vgg_weights),
    }


def _print_info(info: dict[str, Any]) -> None:
    print(f"rtstyle {info['rtstyle']} (Python {info['python']}, {info['platform']})")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v))
    d = info["devices"]
    print(f"default device: {d['default']}; CUDA: {', '.join(d['cuda']) or 'none'}; "
          f"MPS: {'yes' if d['mps'] else 'no'}; CPU cores: {d['cpu_cores']} (torch threads {d['torch_threads']})")
    print(f"architectures: {', '.join(info['architectures'])}")
    w = info["vgg16_weights"]
    state = "present" if w["available"] else "not present"
    if w["source"] == "file":
        print(f"VGG16 weights (training only): {w['path']} ({state})")
    else:
        print(f"VGG16 weights (training only): {w['path']} ({state}; downloaded from {w['url']} on first "
              f"training run, or pass --vgg-weights PATH)")


COMMANDS = {"train": cmd_train, "stylize": cmd_stylize, "export": cmd_export, "info": cmd_info}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = COMMANDS[args.command](args)
    except RtStyleError as e:
        print(f"rtstyle: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("rtstyle: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # disk full, permissions, ... : still one line, no traceback
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"rtstyle: error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "info" and not args.json:
        _print_info(result)
    elif args.command == "export" and not args.json:
        _print_export(result)
    elif getattr(args, "json", False):
        print(json.dumps(result, indent=2))
    elif args.command == "stylize":
        print(f"wrote {result['output']}" if result.get("output") else f"{result['frames']} frames", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
