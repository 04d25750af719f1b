"""Measure the browser page's "Stabilize" filter the way `rtstyle eval-temporal` measures
the stabilizer: warping error and sharpness, bare against filtered, per clip.

The filter's own code runs: the ``stabilizer`` object and its constants are cut out of
``src/rtstyle/web/app.js`` and run by Node.js on the frames the page would hand it
(planar float RGB, the network's output at the page's default processing size, 240 px on
the shorter side); its output goes through a ``Uint8ClampedArray`` as the page's canvas
does. The sharp stabilizer of ``rtstyle stylize`` is scored on the same frames beside it.

    python tools/browser_filter_eval.py vtest.avi bikes.mp4 pan.mp4 [--size 240] [--frames 150]

Needs ``node`` on the PATH (Debian: ``apt-get install nodejs``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from rtstyle.media import VideoReader, resize_shorter
from rtstyle.stabilizer import Stabilizer
from rtstyle.stylizer import Stylizer
from rtstyle.temporal import WarpingErrorMeter

APP = Path(__file__).resolve().parents[1] / "src" / "rtstyle" / "web" / "app.js"

RUNNER = """
const fs = require('fs');
%s
const [w, h, count] = [%d, %d, %d];
const n = w * h;
const src = fs.readFileSync(process.argv[2]), sty = fs.readFileSync(process.argv[3]);
const out = Buffer.alloc(sty.length);
for (let f = 0; f < count; f++) {
  const o = f * 3 * n, x = new Float32Array(3 * n), y = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) {
    x[c * n + i] = src[o + 3 * i + c];
    y[c * n + i] = sty[o + 3 * i + c];
  }
  stabilizer.apply(`model ${w}x${h}`, x, y, w, h);
  const px = new Uint8ClampedArray(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) px[3 * i + c] = y[c * n + i];
  out.set(px, o);
}
fs.writeFileSync(process.argv[4], out);
"""


def filter_code() -> str:
    """The page's filter: its constants and the ``stabilizer`` object, as app.js has them."""
    text = APP.read_text()
    start = text.index("const CELL")
    end = text.index("\n};\n", text.index("const stabilizer = {")) + 3
    return text[start:end]


def browser_filter(source: list[np.ndarray], stylized: list[np.ndarray]) -> list[np.ndarray]:
    h, w = source[0].shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        np.stack(source).tofile(d / "src.bin")
        np.stack(stylized).tofile(d / "sty.bin")
        (d / "run.js").write_text(RUNNER % (filter_code(), w, h, len(source)))
        subprocess.run(["node", str(d / "run.js"), str(d / "src.bin"), str(d / "sty.bin"), str(d / "out.bin")],
                       check=True)
        out = np.fromfile(d / "out.bin", np.uint8).reshape(len(source), h, w, 3)
    return list(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clips", nargs="+")
    p.add_argument("--size", type=int, default=240, help="the page's processing size (default: 240)")
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--style", default=None)
    args = p.parse_args()
    stylizer = Stylizer.load(args.style, device="cpu")
    rows = []
    for clip in args.clips:
        with VideoReader(clip) as reader:
            source = [resize_shorter(f, args.size, multiple=4) for _, f in zip(range(args.frames), reader, strict=False)]
        bare = [stylizer.stylize_frame(f) for f in source]
        page = browser_filter(source, bare)
        stab = Stabilizer()
        sharp = [stab(s, y) for s, y in zip(source, bare, strict=True)]
        meter = WarpingErrorMeter()
        for s, b, pg, sh in zip(source, bare, page, sharp, strict=True):
            meter.update(s, {"bare": b, "page": pg, "sharp": sh})
        r = {k: meter.result(k) for k in ("bare", "page", "sharp")}
        row = {"clip": Path(clip).name, "frames": len(source), "size": [source[0].shape[1], source[0].shape[0]],
               **{k: {"warping_error": v["warping_error"], "sharpness": v["sharpness"]} for k, v in r.items()}}
        rows.append(row)
        e0, s0 = r["bare"]["warping_error"], r["bare"]["sharpness"]
        print(f"| {row['clip']} | {row['size'][0]}x{row['size'][1]} | {e0:.6f} | "
              f"{r['page']['warping_error'] / e0:.0%} | {r['page']['sharpness'] / s0:.0%} | "
              f"{r['sharp']['warping_error'] / e0:.0%} | {r['sharp']['sharpness'] / s0:.0%} |", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
