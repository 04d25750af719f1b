"""How far each stabilizer mode moves the style away from what the network drew: the Gram
(style) distance of stabilized frames to the bare network's frames, as a share of the
unstyled source frame's Gram distance to them (0%: the style's statistics untouched;
100%: as far off as no style at all). Sums over relu1_2, relu2_2, relu3_3 and relu4_3, as
the training loss does; 8 frames spread over the first ``--frames`` of each clip
(:class:`rtstyle.temporal_eval.StyleDistance`; `rtstyle eval-temporal CLIPS --vgg-weights W`
gives the default mode's alone).

    python tools/temporal_gram.py --vgg-weights vgg16-keras.pth vtest.avi bikes.mp4 [--image-size N]
        [--browser-filter]     # a third column: the serve page's filter (web/stabilizer.mjs, in Node.js)
"""

from __future__ import annotations

import argparse
import contextlib

import numpy as np

from rtstyle.media import VideoReader, resize_shorter
from rtstyle.stabilizer import make_stabilizer
from rtstyle.stylizer import Stylizer
from rtstyle.temporal_eval import StyleDistance
from rtstyle.web_filter import BrowserFilter


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--vgg-weights", required=True)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--style", default=None)
    p.add_argument("--browser-filter", action="store_true", help="also the serve page's filter (needs node)")
    args = p.parse_args()
    style = StyleDistance(args.vgg_weights)
    stylizer = Stylizer.load(args.style, device="cpu")
    for clip in args.clips:
        with VideoReader(clip) as reader:
            src = [resize_shorter(f, args.image_size, multiple=2) for _, f in zip(range(args.frames), reader, strict=False)]
        bare = [stylizer.stylize_frame(f) for f in src]
        picks = list(range(10, len(src), max(1, len(src) // 8)))[:8]
        outs = []  # each mode's output, on the picked frames only
        for mode in ("sharp", "fast", "page") if args.browser_filter else ("sharp", "fast"):
            kept = {}
            with BrowserFilter() if mode == "page" else contextlib.nullcontext(make_stabilizer(mode)) as stab:
                for t, (s, y) in enumerate(zip(src, bare, strict=True)):
                    out = stab(s, y)  # every frame goes through, in order
                    if t in picks:
                        kept[t] = out
            outs.append(kept)
        # the bare frames' features and the unstyled frames' distance to them serve every mode
        shares = np.mean([style.shares(src[t], bare[t], *(o[t] for o in outs)) for t in picks], axis=0)
        print(f"| {clip} | {len(picks)} | " + " | ".join(f"{v:.1%}" for v in shares) + " |", flush=True)


if __name__ == "__main__":
    main()
