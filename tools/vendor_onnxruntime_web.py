"""Build-time step: copy the onnxruntime-web files that `rtstyle serve`'s page needs into
src/rtstyle/web/vendor/, so the page loads nothing from the internet.

    python tools/vendor_onnxruntime_web.py     # needs npm (apt-get install npm)

It runs `npm pack onnxruntime-web@VERSION`, checks the tarball against the pinned
integrity hash, and keeps only the WebGPU build: ort.webgpu.min.js and its WebAssembly
runtime (ort-wasm-simd-threaded.asyncify.mjs and .wasm; the 27 MB .wasm is stored
xz-compressed, 3.7 MB, and `rtstyle serve` unpacks it in memory at start-up). That one
runtime serves both the 'webgpu' and the 'wasm' (CPU) execution providers, so the page
needs no second ~14 MB CPU-only runtime. To move to another release, change VERSION and INTEGRITY (npm view
onnxruntime-web@X dist.integrity), run this, and rerun tests/test_serve.py.
"""

import json
import lzma
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.30.0"
INTEGRITY = "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
FILES = ("ort.webgpu.min.js", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")
DEST = Path(__file__).resolve().parents[1] / "src" / "rtstyle" / "web" / "vendor"

# The npm package carries no LICENSE file; its package.json and file headers say MIT, and
# this is the MIT licence text of https://github.com/microsoft/onnxruntime/blob/main/LICENSE.
LICENSE = """MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(["npm", "pack", f"onnxruntime-web@{VERSION}", "--json", "--pack-destination", tmp],
                             check=True, capture_output=True, text=True).stdout
        packed = json.loads(out)[0]
        if packed["integrity"] != INTEGRITY:
            raise SystemExit(f"onnxruntime-web {VERSION}: integrity {packed['integrity']} is not the pinned {INTEGRITY}")
        if DEST.exists():
            shutil.rmtree(DEST)
        DEST.mkdir(parents=True)
        with tarfile.open(Path(tmp) / packed["filename"]) as tar:
            for name in FILES:
                with tar.extractfile(f"package/dist/{name}") as src:
                    data = src.read()
                if name.endswith(".wasm"):  # 27 MB; xz keeps the repository and the wheel small
                    (DEST / f"{name}.xz").write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
                else:
                    (DEST / name).write_bytes(data)
    (DEST / "LICENSE").write_text(LICENSE)
    (DEST / "VERSION").write_text(f"onnxruntime-web {VERSION} (npm, {INTEGRITY})\n"
                                  f"files: {', '.join(f'dist/{n}' for n in FILES)}\n"
                                  f"stored: the .wasm xz-compressed (.wasm.xz); rtstyle serve unpacks it in memory\n"
                                  f"refresh: python tools/vendor_onnxruntime_web.py\n")
    for path in sorted(DEST.iterdir()):
        print(f"{path.stat().st_size:>10}  {path.relative_to(DEST.parents[3])}")


if __name__ == "__main__":
    main()
