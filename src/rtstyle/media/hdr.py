"""HDR video in: frames coded with the PQ (HDR10) or HLG transfer, BT.2020 primaries, as
phones record them (an iPhone's default is HLG), turned into the SDR BT.709 pictures the
network was trained on and every player shows.

Read as plain 8-bit RGB, such a frame looks dim and washed out: HLG's reference white sits
at 75% of the signal, PQ's at 58%, and BT.2020's primaries are read as BT.709's. Here the
signal goes to display light (PQ's own nits; HLG through its reference display's OOTF at
1000 nits, system gamma 1.2: ITU-R BT.2100), reference white (203 nits, ITU-R BT.2408) to
SDR white, the primaries to BT.709 (out-of-gamut colours clipped), highlights above 0.75 of
white rolled off smoothly towards it (the brightest channel's, so hues keep), and the result
encoded for a BT.1886 display (gamma 2.4).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

PQ, HLG = 16, 18  # the transfer characteristics' codes (ITU-T H.273), as frames carry them
BT2020 = 9  # the primaries' code
REFERENCE_WHITE = 203.0  # nits: HDR's graphics white, SDR's 100%
KNEE = 0.75  # of SDR white, where the highlights' roll-off starts

# linear BT.2020 RGB to linear BT.709 RGB (ITU-R BT.2087)
_BT2020_TO_BT709 = np.array([[1.6605, -0.5876, -0.0728],
                             [-0.1246, 1.1329, -0.0083],
                             [-0.0182, -0.1006, 1.1187]], np.float32)
# 8-bit BT.1886 signal (gamma 2.4) for the square root of the light, in 16-bit steps
_ENCODE = np.round(255.0 * (np.arange(65536) / 65535.0) ** (2 / 2.4)).astype(np.uint8)
_LUMA = {True: np.array([[0.2627, 0.6780, 0.0593]], np.float32),   # BT.2020
         False: np.array([[0.2126, 0.7152, 0.0722]], np.float32)}  # BT.709


@functools.lru_cache(maxsize=2)
def _signal_to_light(transfer: int) -> np.ndarray:
    """For each 16-bit code value of the signal: PQ's display light in nits, or HLG's scene
    light (0-1), as float32."""
    e = np.arange(65536, dtype=np.float64) / 65535.0
    if transfer == PQ:
        m1, m2 = 2610 / 16384, 2523 / 4096 * 128
        c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
        p = e ** (1 / m2)
        light = 10000.0 * (np.maximum(p - c1, 0.0) / (c2 - c3 * p)) ** (1 / m1)
    else:
        a = 0.17883277
        b, c = 1 - 4 * a, 0.5 - a * np.log(4 * a)
        light = np.where(e <= 0.5, e * e / 3.0, (np.exp((np.maximum(e, 0.5) - c) / a) + b) / 12.0)
    return light.astype(np.float32)


def is_hdr(transfer: int | None) -> bool:
    return transfer in (PQ, HLG)


def to_sdr(rgb16: np.ndarray, transfer: int, bt2020: bool = True) -> np.ndarray:
    """An HxWx3 uint16 R'G'B' frame coded with ``transfer`` (:data:`PQ` or :data:`HLG`), in
    BT.2020 primaries (``bt2020``) -> the HxWx3 uint8 SDR BT.709 frame."""
    light = _signal_to_light(transfer)[rgb16]
    if transfer == HLG:  # scene light -> display light on the reference 1000-nit display
        luma = cv2.max(cv2.transform(light, _LUMA[bt2020]), 1e-6)
        gain = cv2.pow(luma, 0.2)
        light = cv2.multiply(light, cv2.merge([gain, gain, gain]), scale=1000.0 / REFERENCE_WHITE)
    else:
        light *= 1.0 / REFERENCE_WHITE
    if bt2020:
        light = cv2.transform(light, _BT2020_TO_BT709)
    np.maximum(light, 0.0, out=light)
    # the brightest channel rolled off from KNEE towards 1 (tanh), the others scaled with it
    r, g, b = cv2.split(light)
    peak = cv2.max(cv2.max(r, g), b)
    over = cv2.max(peak - KNEE, 0.0) * (2.0 / (1.0 - KNEE))
    tanh = 1.0 - 2.0 / (cv2.exp(over) + 1.0)  # tanh(over / 2)
    ratio = (KNEE + (1.0 - KNEE) * tanh) / cv2.max(peak, KNEE)
    light = cv2.multiply(light, cv2.merge([ratio, ratio, ratio]))
    # gamma 2.4 by a table, indexed by the square root of the light (fine steps near black)
    root = cv2.sqrt(np.minimum(light, 1.0, out=light))
    return _ENCODE[cv2.multiply(root, 65535.0, dtype=cv2.CV_16U)]
