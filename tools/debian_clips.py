"""Fetch the real clips of issue 16's seventh-, ninth-, eighteenth- and nineteenth-session
checks from seventeen Debian packages (docs/benchmarks.md, "Large frames: the flow reduced at
most 2.5 times", "Five more held-out clips", "Six more held-out clips" and "Nine more
held-out clips"):

    python tools/debian_clips.py --out clips/
    rtstyle eval-temporal clips/dog.mp4 clips/hello.mp4 clips/diver.mov clips/ball.mp4 \\
        clips/ball_vp9.avi --frames 300 [--image-size 240] [--browser-filter]
    rtstyle eval-temporal clips/launch.webm clips/coin.mov clips/teapot.mov \\
        clips/calais1906.ogv clips/cockatoo.mp4 --frames 300 [--image-size 240]
    rtstyle eval-temporal clips/cube.mpeg clips/homer.avi clips/lego.mp4 clips/webcam.avi \\
        clips/birds.mp4 clips/dice.mpg --frames 300 [--image-size 240]
    rtstyle eval-temporal clips/robot.mkv clips/blupi.mkv clips/crowd.mkv clips/tour.mp4 \\
        clips/butterfly.avi clips/visualizer1.mp4 clips/visualizer2.mp4 clips/slides.mp4 \\
        --frames 300 [--image-size 240] [--browser-filter]

- ``dog.mp4``: a phone's 1920x1080 video of a dog, 41 frames, hand-held
  (forensics-samples-files: ``original-files/movie1/VID_20191220_170832.mp4``);
- ``hello.mp4``: a 1280x720 screen recording with a webcam inset, 249 frames (the same
  package: ``original-files/movie2/movie-hello.mp4``);
- ``diver.mov``: a diver under water, 640x480 MJPEG, 351 frames (pd-extendedview:
  ``usr/share/doc/pd-extendedview/media/diver.mov``);
- ``ball.mp4`` and ``ball_vp9.avi``: classroom clips of a thrown ball, 720x576 (255 frames)
  and 320x240 VP9 (295 frames) (python3-mecavideo: ``usr/share/pymecavideo/data/video/``
  ``balle-jbart.mp4`` and ``balle1-vp9.avi``);
- ``launch.webm``: a rocket launch, 640x360 VP8, 194 frames: still shots of the pad, one
  cut, smoke and fire (renpy-demo: ``usr/share/games/renpy/demo/game/oa4_launch.webm``);
- ``coin.mov``: a coin pushed about a table by a pen, a still camera, 568x320, 242 frames
  (node-opencv: ``usr/share/doc/node-opencv/examples/files/motion.mov``);
- ``teapot.mov``: a rendered room, the camera circling a glass teapot, 256x256 MJPEG, 91
  frames (gem-doc: ``usr/share/gem/examples/data/anim-1.mov``);
- ``calais1906.ogv``: film of the 1906 French Grand Prix (grain, scratches, splices),
  214x160 Theora, 288 frames (python-nbsphinx-doc:
  ``usr/share/doc/python-nbsphinx/html/www/wikimediacommons/Shepard_Calais_1906_FrenchGP.ogv.160p.ogv``);
- ``cockatoo.mp4``: a cockatoo nodding close to a hand-held camera, 1280x720, 280 frames
  (python3-imageio: ``usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4``);
- ``cube.mpeg``: a hand-held camera moving about a die on a pile of comics, grey, 384x288
  MPEG-1, 79 frames (visp-images-data: ``usr/share/visp-images-data/ViSP-images/video/cube.mpeg``);
- ``homer.avi``: a cartoon off the television, a pan after a walking figure, 160x120
  Indeo 3, 86 frames (gem-doc: ``usr/share/gem/examples/data/homer.avi``);
- ``lego.mp4``: a Lego model under a lamp, a still camera, 560x320, 166 frames
  (python3-hug-doc: ``usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4``);
- ``webcam.avi``: a webcam's 160x120 MJPEG of a face in a dim room, 68 frames (kphotoalbum:
  ``usr/share/kphotoalbum/demo/movie.avi``);
- ``birds.mp4``: a rendered slow zoom into a wallpaper of birds and lilies, 1280x720, 31
  frames (wordpress-theme-twentytwentytwo: ``.../twentytwentytwo/assets/videos/birds.mp4``);
- ``dice.mpg``: rendered dice tumbling on pure black, 320x240 MPEG-1, 162 frames (gem-doc:
  ``usr/share/gem/examples/data/alea.mpg``).

Copies the files as they are (no re-encoding). Needs ``apt-get`` and ``dpkg`` (a Debian or
Ubuntu machine with its package lists: ``apt-get update`` first) and about 265 MB of
downloads (visp-images-data alone is 74 MB, lebiniou-data 53 MB); a development aid only.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

FILES = {  # package -> {path inside it: name in --out}
    "forensics-samples-files": {
        "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4": "dog.mp4",
        "usr/share/forensics-samples/original-files/movie2/movie-hello.mp4": "hello.mp4"},
    "pd-extendedview": {"usr/share/doc/pd-extendedview/media/diver.mov": "diver.mov"},
    "python3-mecavideo": {"usr/share/pymecavideo/data/video/balle-jbart.mp4": "ball.mp4",
                          "usr/share/pymecavideo/data/video/balle1-vp9.avi": "ball_vp9.avi"},
    "renpy-demo": {"usr/share/games/renpy/demo/game/oa4_launch.webm": "launch.webm"},
    "node-opencv": {"usr/share/doc/node-opencv/examples/files/motion.mov": "coin.mov"},
    "gem-doc": {"usr/share/gem/examples/data/anim-1.mov": "teapot.mov",
                "usr/share/gem/examples/data/homer.avi": "homer.avi",
                "usr/share/gem/examples/data/alea.mpg": "dice.mpg"},
    "python-nbsphinx-doc": {"usr/share/doc/python-nbsphinx/html/www/wikimediacommons/"
                            "Shepard_Calais_1906_FrenchGP.ogv.160p.ogv": "calais1906.ogv"},
    "python3-imageio": {"usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4": "cockatoo.mp4"},
    "visp-images-data": {"usr/share/visp-images-data/ViSP-images/video/cube.mpeg": "cube.mpeg"},
    "python3-hug-doc": {"usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4": "lego.mp4"},
    "kphotoalbum": {"usr/share/kphotoalbum/demo/movie.avi": "webcam.avi"},
    "wordpress-theme-twentytwentytwo": {
        "usr/share/wordpress/wp-content/themes/twentytwentytwo/assets/videos/birds.mp4": "birds.mp4"},
    "planetblupi-common": {"usr/share/planetblupi/movie/history2.mkv": "robot.mkv",
                           "usr/share/planetblupi/movie/play103.mkv": "blupi.mkv",
                           "usr/share/planetblupi/movie/win005.mkv": "crowd.mkv"},
    "pampi": {"usr/share/pampi/presentations/data/pampi-help/tour.mp4": "tour.mp4"},
    "tupi-data": {"usr/share/tupi/data/help/examples/example.avi": "butterfly.avi"},
    "lebiniou-data": {"usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-19-53.mp4": "visualizer1.mp4",
                      "usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-28-28.mp4": "visualizer2.mp4"},
    "janus-demos": {"usr/share/janus/demos/surround/ChID-BLITS-EBU.mp4": "slides.mp4"},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="clips", help="folder for the clips (default: clips)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(["apt-get", "download", *FILES], cwd=work, check=True)
        tree = work / "tree"
        for deb in sorted(work.glob("*.deb")):
            subprocess.run(["dpkg", "-x", str(deb), str(tree)], check=True)
        for members in FILES.values():
            for member, name in members.items():
                shutil.copyfile(tree / member, out / name)
                print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
