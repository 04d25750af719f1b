"""The browser page's temporal filter (``web/stabilizer.mjs``), run outside the browser.

``rtstyle serve``'s page steadies the network's output with its own filter, written in
JavaScript (there is no OpenCV in the page). :class:`BrowserFilter` runs that same file in
Node.js, frame by frame, on frames given here, so ``rtstyle eval-temporal --browser-filter``
scores what the page shows with the figures the :class:`~rtstyle.stabilizer.Stabilizer` is
scored with. It needs the ``node`` command (Node.js 18 or later; Playwright's own copy is
used where there is no other).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import RtStyleError

FILTER = Path(__file__).resolve().parent / "web" / "stabilizer.mjs"

# Reads frames from stdin (width, height: uint32; the source and the network's output:
# float32 planes, RGB, 0-255, as the page has them), filters the output in place with the
# page's PageStabilizer and writes it back, with the filter's resets and keys (uint32) and
# its time in ms (float64).
DRIVER = r"""
import fs from 'node:fs';
const { PageStabilizer } = await import(process.argv[process.argv.length - 1]);
const filter = new PageStabilizer();
function read(n) {
  const buf = Buffer.alloc(n);
  for (let off = 0; off < n;) {
    let got;
    try { got = fs.readSync(0, buf, off, n - off, null); } catch (e) { if (e.code === 'EAGAIN') continue; throw e; }
    if (got === 0) return null;
    off += got;
  }
  return buf;
}
function write(buf) {
  for (let off = 0; off < buf.length;) off += fs.writeSync(1, buf, off, buf.length - off);
}
for (;;) {
  const head = read(8);
  if (head === null) break;
  const w = head.readUInt32LE(0), h = head.readUInt32LE(4), n = 3 * w * h;
  const body = read(8 * n);
  const x = new Float32Array(body.buffer, body.byteOffset, n), y = new Float32Array(body.buffer, body.byteOffset + 4 * n, n);
  const t0 = performance.now();
  filter.apply(`${w}x${h}`, x, y, w, h);
  const ms = performance.now() - t0;
  const tail = Buffer.alloc(16);
  tail.writeUInt32LE(filter.resets, 0); tail.writeUInt32LE(filter.keys, 4); tail.writeDoubleLE(ms, 8);
  write(Buffer.from(y.buffer, y.byteOffset, 4 * n)); write(tail);
}
"""


def node_command() -> str:
    """The Node.js executable: ``node`` on the PATH, else the one Playwright ships."""
    found = shutil.which("node") or shutil.which("nodejs")
    if found:
        return found
    try:
        from playwright._impl._driver import compute_driver_executable

        node = Path(compute_driver_executable()[0])
        if node.is_file():
            return str(node)
    except Exception:  # noqa: BLE001 (no Playwright, or another layout of it)
        pass
    raise RtStyleError("the browser page's filter runs in Node.js: install it (e.g. apt-get install nodejs)")


@dataclass
class BrowserFilterStats:
    resets: int = 0
    keys: int = 0
    ms: list[float] = field(default_factory=list)  # the filter's own time per frame, in JavaScript

    @property
    def frames(self) -> int:
        return len(self.ms)

    @property
    def median_ms(self) -> float | None:
        """The median: the first frames run before V8 has compiled the filter, several times slower."""
        return float(np.median(self.ms)) if self.ms else None


class BrowserFilter:
    """``web/stabilizer.mjs`` in a Node.js process: ``filter(source, stylized)`` -> the
    steadied uint8 frame, as the page would draw it (HxWx3 uint8 RGB in and out). The
    time in ``stats`` is the filter's own, measured in JavaScript."""

    def __init__(self, script: str | Path = FILTER):
        self.stats = BrowserFilterStats()
        self._process = subprocess.Popen([node_command(), "--input-type=module", "-e", DRIVER, "--",
                                          Path(script).resolve().as_uri()],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def __call__(self, source: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        if source.shape != stylized.shape:
            raise ValueError(f"source {source.shape} and stylized {stylized.shape} frames differ in size")
        h, w = source.shape[:2]
        planes = lambda a: np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32)  # noqa: E731
        try:
            self._process.stdin.write(struct.pack("<II", w, h) + planes(source).tobytes() + planes(stylized).tobytes())
            self._process.stdin.flush()
            body = self._read(12 * w * h + 16)
        except (BrokenPipeError, EOFError):
            self._process.kill()
            raise RtStyleError(f"the browser page's filter failed: {self._process.stderr.read().decode().strip()}") \
                from None
        resets, keys, ms = struct.unpack("<IId", body[-16:])
        self.stats.resets, self.stats.keys = resets, keys
        self.stats.ms.append(ms)
        out = np.frombuffer(body[:-16], np.float32).reshape(3, h, w).transpose(1, 2, 0)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)  # what a canvas's Uint8ClampedArray keeps

    def _read(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = self._process.stdout.read(left)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            self._process.wait(timeout=10)

    def __enter__(self) -> "BrowserFilter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
