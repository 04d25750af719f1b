"""docs/images/serve.png, and the page's frame rate: `rtstyle serve` in headless Chromium,
its fake camera playing real frames of OpenCV's vtest.avi (Debian's opencv-doc package).

    python tools/serve_screenshot.py [--model FILE ...] [--style NAME] [--size 240]

Offers the built-in styles and any --model files, picks --style (default: the first),
lets the page run for --seconds, then saves the screenshot and prints the FPS counter.
Needs Chromium (apt-get install chromium) and Playwright (pip install playwright).
"""

import argparse
import json
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import cv2
from playwright.sync_api import sync_playwright

from rtstyle.media import VideoReader, resize_shorter
from rtstyle.serve import load_models, make_server, url_of

VTEST = next((p for p in ("/usr/share/doc/opencv-doc/examples/data/vtest.avi",
                           "/work/media/x/usr/share/doc/opencv-doc/examples/data/vtest.avi") if Path(p).is_file()), None)
ROOT = Path(__file__).resolve().parents[1]


def write_y4m(path: Path, video: str, frames: int, fps: int, height: int) -> Path:
    """The first `frames` frames of `video`, `height` px high, as a YUV4MPEG2 clip (text
    header, raw I420 frames): what Chromium's fake camera plays, in a loop."""
    with VideoReader(video) as reader, open(path, "wb") as f:
        for i, frame in enumerate(reader):
            if i == frames:
                break
            frame = resize_shorter(frame, height, multiple=2)
            if i == 0:
                f.write(f"YUV4MPEG2 W{frame.shape[1]} H{frame.shape[0]} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
            f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=[], metavar="FILE", help="also offer this model")
    ap.add_argument("--style", help="the model to show (default: the first offered)")
    ap.add_argument("--video", default=VTEST, help="what the fake camera plays (default: opencv-doc's vtest.avi)")
    ap.add_argument("--camera-fps", type=int, default=30, help="the fake camera's frame rate (default: 30)")
    ap.add_argument("--size", default="240", help="the page's processing size (default: 240)")
    ap.add_argument("--seconds", type=float, default=20, help="run this long before measuring (default: 20)")
    ap.add_argument("--no-stabilize", action="store_true", help="turn the page's Stabilize filter off")
    ap.add_argument("--out", default=str(ROOT / "docs" / "images" / "serve.png"))
    args = ap.parse_args()

    models = load_models(args.model)
    if not models:
        raise SystemExit("no models: no built-in styles are installed yet; pass --model FILE")
    style = args.style or models[0].id
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    server = make_server(models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        camera = write_y4m(Path(tmp) / "camera.y4m", args.video, 150, args.camera_fps, 360)
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}"])
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        page.goto(url_of(server))
        page.select_option("#size", args.size)
        if args.no_stabilize:
            page.uncheck("#stabilize")
        page.click(f"#styles button[data-id='{style}']")
        page.wait_for_function("s => document.getElementById('output').dataset.style === s", arg=style, timeout=60000)
        time.sleep(args.seconds)
        counter, status, version = page.text_content("#fps"), page.text_content("#status"), browser.version
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.out)
        browser.close()
    fps, ms = (float(re.search(rf"([\d.]+) {unit}", counter).group(1)) for unit in ("fps", "ms inference"))
    steady = re.search(r"([\d.]+) ms stabilize", counter)
    print(json.dumps({"screenshot": args.out, "style": style, "fps": fps, "inference_ms": ms,
                      "stabilize_ms": float(steady.group(1)) if steady else None,
                      "stabilize": not args.no_stabilize, "counter": counter, "status": status, "chromium": version}, indent=1))


if __name__ == "__main__":
    main()
