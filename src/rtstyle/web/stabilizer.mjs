// The page's temporal filter: rtstyle's Stabilizer (stabilizer.py) in plain JavaScript,
// with a cheaper motion estimate (there is no OpenCV here).
//
// The network's output y is split in two bands. The low band (BAND x BAND cell means:
// colour and shading) is a motion-compensated running average: the previous low band,
// carried by the motion, blended in where the motion is trusted (STRENGTH). The high band
// (the rest: the style's texture, its strokes) is never averaged with other texture, which
// is what blurs moving cameras: a *key* frame's texture is carried instead, by the motion
// composed from the key to the present (resampled once, bicubic, not once per frame). A new
// key is taken every KEY_INTERVAL frames (four times that while the camera is still), when
// the carried key covers less than KEY_COVER of the frame, or when the network draws
// STALE_RATIO times the texture's energy that the key carries on STALE_COVER of the frame
// (a key taken on a black frame, on which it draws none), and fades in over FADE frames.
// On a still camera a key is not trusted within REACH px of where the picture differs from
// the key's: the network's output changes that far around a change (a subtitle gone), and
// the key would hold the strokes it drew around what is gone.
// Where no key holds, the network's own texture shows. While the camera is still (the
// motion, averaged over frames at each point with weight PERSIST on the past, under STILL px
// on average), motion under a dead zone does not move a key: on a still camera sub-pixel
// motion is noise, and the carried strokes would swim. The dead zone follows the noise, as
// the stabilizer's does: DEAD_ZONE_PER_LEVEL px a gray level of the frame's photometric
// error against the previous one, between DEAD_ZONE_MIN and DEAD_ZONE px (a clean picture's
// slow motion is followed rather than held). The local energy of the
// texture's finest detail is given back (by at most MAX_GAIN) to what its sources had, as
// mixing and resampling lose some; where the newest key covers under UNCARRIED[0] of the
// frame (its cover smoothed over frames, COVER_RATE: content that turns or deforms, where
// keys tear within a few frames and the texture is nearly always a mix), the cap rises,
// up to MAX_GAIN_UNCARRIED at UNCARRIED[1] and under: the strokes keep their energy. Where no
// key has the content (the strip a pan brings in), the cap rises so too, cell by cell.
//
// Motion: pyramidal Lucas-Kanade on the source frame's gray levels, scaled to about
// FLOW_SIDE px on the shorter side (but reduced at most MAX_REDUCTION times: on larger
// sizes a coarser motion could not follow faces and hands; STILL and DEAD_ZONE grow with
// it): a WINDOW x WINDOW window every STEP px, coarse to fine
// over LEVELS levels, with a brightness offset; at each level a window takes a neighbour's
// motion where that fits it better (DIS's spatial propagation, both ways), and the field is
// 3x3-median filtered; each pixel then takes the motions of the windows over it, weighted
// by how well each carries it (DIS's densification): from each pixel of this frame to
// where it was in the previous one. Trust is photometric on the
// source: the previous (or key) frame carried by the motion must match this one (allowing for
// a change of exposure) within PHOTO_TOL (KEY_TOL) gray levels, falling to 0 at twice that; pixels from outside the frame
// are not trusted, nor is a flow that tears or swirls (neighbouring vectors differing by
// more than STRAIN_TOL px per px). A scene cut (mean difference over CUT_ERROR, or under
// CUT_FRACTION of the frame trusted) starts afresh. Flat regions that stay where they are (a
// letterbox's bars: flat in both frames, FLAT_VAR in FLAT_WINDOW-px windows, their edge
// unmoved) have no motion: the motion estimate spreads the picture's into them.
//
// Planes are float32, RGB, 0-255: x the frame the network saw, y its output [3, h, w].

const BAND = 4, FLOW_SIDE = 120, LEVELS = 3, STEP = 4, WINDOW = 8, ITERS = 4, MARGIN = 0.9, SAME = 0.02;
const STRENGTH = 0.8, TEXTURE_STRENGTH = 0.75, PHOTO_TOL = 30, KEY_TOL = 15, CUT_ERROR = 12, CUT_FRACTION = 0.35;
const EXPOSURE_STEP = 0.02, FLASH_STEP = 0.25, FLASH_FLOOR = 40;
const STILL = 0.15, DEAD_ZONE = 0.35, PERSIST = 0.7, KEY_INTERVAL = 24, KEY_COVER = 0.6, FADE = 8, MAX_GAIN = 1.4, STRAIN_TOL = 0.5;
const NEGLIGIBLE = 1 / 512, MAX_REDUCTION = 2;
const MAX_GAIN_UNCARRIED = 1.8, UNCARRIED = [0.5, 0.25], COVER_RATE = 0.1;
const FLAT_VAR = 1, FLAT_WINDOW = 9;
const DEAD_ZONE_PER_LEVEL = 0.13, DEAD_ZONE_MIN = 0.1;
const STALE_RATIO = 3, STALE_COVER = 0.25, STALE_FLOOR = 100;
const REACH = 20, CHANGE_LEVEL = 90;

const clamp = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);

// Bilinear sample of the w x h plane a at (u, v), clamped to the edges.
function bilinear(a, w, h, u, v) {
  u = clamp(u, 0, w - 1);
  v = clamp(v, 0, h - 1);
  const i0 = u | 0, j0 = v | 0, i1 = i0 + 1 < w ? i0 + 1 : i0, j1 = j0 + 1 < h ? j0 + 1 : j0;
  const fu = u - i0, fv = v - j0, r0 = j0 * w, r1 = j1 * w;
  return (1 - fv) * (a[r0 + i0] + fu * (a[r0 + i1] - a[r0 + i0])) + fv * (a[r1 + i0] + fu * (a[r1 + i1] - a[r1 + i0]));
}

// Where each of nn samples falls among n, pixel centres aligned: the two neighbours and
// the weight of the second (bilinear resizing, one axis).
function axis(n, nn) {
  const i0 = new Int32Array(nn), i1 = new Int32Array(nn), t = new Float32Array(nn), scale = n / nn;
  for (let k = 0; k < nn; k++) {
    const u = clamp((k + 0.5) * scale - 0.5, 0, n - 1);
    i0[k] = u | 0;
    i1[k] = Math.min(i0[k] + 1, n - 1);
    t[k] = u - i0[k];
  }
  return { i0, i1, t };
}

// The plane a (w x h) resized to ww x hh by bilinear interpolation between pixel centres.
function grow(a, w, h, ww, hh) {
  const out = new Float32Array(ww * hh), X = axis(w, ww), Y = axis(h, hh);
  for (let y = 0; y < hh; y++) {
    const r0 = Y.i0[y] * w, r1 = Y.i1[y] * w, fv = Y.t[y], o = y * ww;
    for (let x = 0; x < ww; x++) {
      const i0 = X.i0[x], i1 = X.i1[x], fu = X.t[x];
      const top = a[r0 + i0] + fu * (a[r0 + i1] - a[r0 + i0]), bottom = a[r1 + i0] + fu * (a[r1 + i1] - a[r1 + i0]);
      out[o + x] = top + fv * (bottom - top);
    }
  }
  return out;
}

// Means of f x f cells of the plane a (w x h): a ceil(w / f) x ceil(h / f) plane.
function shrink(a, w, h, f) {
  const ww = Math.ceil(w / f), hh = Math.ceil(h / f), sum = new Float32Array(ww * hh);
  const col = new Int32Array(w);
  for (let x = 0; x < w; x++) col[x] = (x / f) | 0;
  for (let y = 0; y < h; y++) {
    const row = ((y / f) | 0) * ww, o = y * w;
    for (let x = 0; x < w; x++) sum[row + col[x]] += a[o + x];
  }
  for (let cy = 0; cy < hh; cy++) {
    const rows = Math.min(f, h - cy * f);
    for (let cx = 0; cx < ww; cx++) sum[cy * ww + cx] /= rows * Math.min(f, w - cx * f);
  }
  return sum;
}

// The energy of the finest detail of a ([3, h, w]): the squared 4-neighbour Laplacian,
// summed over the three planes, averaged over BAND x BAND cells (edges reflected, as
// OpenCV's). Resampling and mixing take the finest detail first; the energy of the whole
// band hardly notices (stabilizer.py's local_energy).
function detailEnergy(a, w, h) {
  const sq = new Float32Array(w * h);
  for (let c = 0, n = w * h; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      const o = c * n + y * w, u = c * n + (y > 0 ? y - 1 : Math.min(1, h - 1)) * w;
      const d = c * n + (y + 1 < h ? y + 1 : Math.max(h - 2, 0)) * w, r = y * w;
      for (let x = 0; x < w; x++) {
        const l = x > 0 ? x - 1 : Math.min(1, w - 1), rr = x + 1 < w ? x + 1 : Math.max(w - 2, 0);
        const v = a[o + l] + a[o + rr] + a[u + x] + a[d + x] - 4 * a[o + x];
        sq[r + x] += v * v;
      }
    }
  }
  return shrink(sq, w, h, BAND);
}

// A pyramid of the gray plane g (w x h), finest first, with each level's gradients.
function pyramid(g, w, h) {
  const levels = [];
  for (let l = 0; l < LEVELS; l++) {
    const gx = new Float32Array(w * h), gy = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        gx[i] = 0.5 * (g[y * w + Math.min(x + 1, w - 1)] - g[y * w + Math.max(x - 1, 0)]);
        gy[i] = 0.5 * (g[Math.min(y + 1, h - 1) * w + x] - g[Math.max(y - 1, 0) * w + x]);
      }
    }
    levels.push({ g, gx, gy, w, h });
    if (l + 1 < LEVELS) {
      g = shrink(g, w, h, 2);
      w = Math.ceil(w / 2);
      h = Math.ceil(h / 2);
    }
  }
  return levels;
}

// The first pixel (x or y) of the WINDOW-wide window centred at c.
const windowStart = (c) => Math.max(0, Math.round(c - WINDOW / 2 + 0.5));

// Motion from each pixel of `cur` to where it was in `prev` (pyramids of the same size):
// Lucas-Kanade on WINDOW x WINDOW windows every STEP px, coarse to fine, with spatial
// propagation (adopt) and each level's field median-filtered (a window that went astray
// takes its neighbours' motion); a dense [2, h, w] field (x then y) at the finest level,
// each pixel's motion a weighted mean of its windows'. The propagation, the brightness
// offset and the densification (2026-12-06) took bikes.mp4 from 46% to 38% of the
// network's flicker, at 25-35% more time (docs/web.md). No propagation where the frame was
// not reduced (`propagate` false): there a window adopts the pixels' noise as motion, and
// a still, very noisy picture swam (0.64 of the network's flicker left, 0.50 without it).
function motion(cur, prev, propagate = true) {
  let field = null, fw = 0, fh = 0;
  const mid = (STEP - 1) / 2;
  for (let l = LEVELS - 1; l >= 0; l--) {
    const { g, gx, gy, w, h } = cur[l], p = prev[l].g;
    const bw = Math.ceil(w / STEP), bh = Math.ceil(h / STEP), nb = bw * bh, next = new Float32Array(2 * nb);
    for (let by = 0; by < bh; by++) {
      for (let bx = 0; bx < bw; bx++) {
        const cx = bx * STEP + mid, cy = by * STEP + mid;
        const x0 = windowStart(cx), x1 = Math.min(w, x0 + WINDOW), y0 = windowStart(cy), y1 = Math.min(h, y0 + WINDOW);
        let dx = 0, dy = 0;
        if (field) { // the coarser level's motion at this window's centre, in this level's pixels
          const u = ((cx + 0.5) / 2 - 0.5 - mid) / STEP, v = ((cy + 0.5) / 2 - 0.5 - mid) / STEP;
          dx = 2 * bilinear(field, fw, fh, u, v);
          dy = 2 * bilinear(field.subarray(fw * fh), fw, fh, u, v);
        }
        // spatial propagation: the left and upper windows' motion, where it fits this one better
        const k = by * bw + bx;
        next[k] = dx;
        next[nb + k] = dy;
        if (propagate) adopt(g, p, w, h, x0, x1, y0, y1, next, nb, k, bx > 0 ? k - 1 : -1, by > 0 ? k - bw : -1);
        dx = next[k];
        dy = next[nb + k];
        // Lucas-Kanade with a brightness offset: gradients and differences less their means
        let a = 0, b = 0, c = 0, sgx = 0, sgy = 0;
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const i = y * w + x;
            a += gx[i] * gx[i];
            b += gx[i] * gy[i];
            c += gy[i] * gy[i];
            sgx += gx[i];
            sgy += gy[i];
          }
        }
        const n = (x1 - x0) * (y1 - y0), mgx = sgx / n, mgy = sgy / n;
        a -= n * mgx * mgx;
        b -= n * mgx * mgy;
        c -= n * mgy * mgy;
        const det = a * c - b * b;
        if (det > 1e-2 * n * n) { // enough texture in two directions to tell where it went
          for (let it = 0; it < ITERS; it++) {
            let ex = 0, ey = 0, se = 0;
            for (let y = y0; y < y1; y++) {
              for (let x = x0; x < x1; x++) {
                const i = y * w + x, e = bilinear(p, w, h, x + dx, y + dy) - g[i];
                ex += gx[i] * e;
                ey += gy[i] * e;
                se += e;
              }
            }
            ex -= mgx * se;
            ey -= mgy * se;
            const sx = -(c * ex - b * ey) / det, sy = -(a * ey - b * ex) / det;
            dx += clamp(sx, -2, 2);
            dy += clamp(sy, -2, 2);
            if (sx * sx + sy * sy < 1e-4) break;
          }
        }
        next[k] = dx;
        next[nb + k] = dy;
      }
    }
    // and back: the right and lower windows' motion, where it fits better
    for (let by = propagate ? bh - 1 : -1; by >= 0; by--) {
      for (let bx = bw - 1; bx >= 0; bx--) {
        const k = by * bw + bx, x0 = windowStart(bx * STEP + mid), y0 = windowStart(by * STEP + mid);
        const x1 = Math.min(w, x0 + WINDOW), y1 = Math.min(h, y0 + WINDOW);
        adopt(g, p, w, h, x0, x1, y0, y1, next, nb, k, bx + 1 < bw ? k + 1 : -1, by + 1 < bh ? k + bw : -1);
      }
    }
    field = median3(next, bw, bh);
    fw = bw;
    fh = bh;
  }
  // dense: at each pixel, the motions of the windows that cover it, each weighted by how
  // well it carries this pixel (1 / its difference in gray levels, at least 1), as DIS does
  const { w, h, g } = cur[0], p = prev[0].g, dense = new Float32Array(2 * w * h), fy = field.subarray(fw * fh);
  const first = (t) => Math.max(0, Math.ceil((t - mid - WINDOW / 2 + 0.5) / STEP - 1e-6)); // the windows over t
  const last = (t, nw) => Math.min(nw - 1, Math.floor((t - mid + WINDOW / 2 - 0.5) / STEP + 1e-6));
  for (let y = 0; y < h; y++) {
    const by0 = first(y), by1 = last(y, fh);
    for (let x = 0; x < w; x++) {
      const bx1 = last(x, fw), gi = g[y * w + x];
      let sw = 0, su = 0, sv = 0;
      for (let by = by0; by <= by1; by++) {
        for (let bx = first(x); bx <= bx1; bx++) {
          const j = by * fw + bx, du = field[j], dv = fy[j];
          const wt = 1 / Math.max(1, Math.abs(bilinear(p, w, h, x + du, y + dv) - gi));
          sw += wt;
          su += wt * du;
          sv += wt * dv;
        }
      }
      dense[y * w + x] = su / sw;
      dense[w * h + y * w + x] = sv / sw;
    }
  }
  return dense;
}

// Spatial propagation (DIS's): window k of the field ([2, nb]: x then y) takes the motion of
// its neighbour i or j (-1: none) where that fits it better (a smaller mean-free sum of
// squared differences, by at least 1 - MARGIN: on noise they fit about alike, and the
// motion should not wander). A window that went astray (no texture, the coarser level's
// motion wrong there) takes its neighbour's.
function adopt(g, p, w, h, x0, x1, y0, y1, field, nb, k, i, j) {
  let best = -1;
  for (const q of [i, j]) {
    if (q < 0 || Math.abs(field[q] - field[k]) + Math.abs(field[nb + q] - field[nb + k]) < SAME) continue;
    if (best < 0) best = zssd(g, p, w, h, x0, x1, y0, y1, field[k], field[nb + k]);
    const cost = zssd(g, p, w, h, x0, x1, y0, y1, field[q], field[nb + q]);
    if (cost < MARGIN * best) {
      best = cost;
      field[k] = field[q];
      field[nb + k] = field[nb + q];
    }
  }
}

// The mean-free sum of squared differences between the window [x0, x1) x [y0, y1) of g and
// the plane p sampled at that window moved by (dx, dy).
function zssd(g, p, w, h, x0, x1, y0, y1, dx, dy) {
  let s = 0, s2 = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const e = bilinear(p, w, h, x + dx, y + dy) - g[y * w + x];
      s += e;
      s2 += e * e;
    }
  }
  return s2 - s * s / ((x1 - x0) * (y1 - y0));
}

// Each of the two planes of a [2, h, w] field replaced by its 3x3 median (edges: the
// median of the neighbours there, fewer).
function median3(a, w, h) {
  const out = new Float32Array(a.length), v = [];
  for (let c = 0; c < 2; c++) {
    const o = c * w * h;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (y > 0 && x > 0 && y < h - 1 && x < w - 1) {
          const i = o + y * w + x;
          out[i] = median9(a[i - w - 1], a[i - w], a[i - w + 1], a[i - 1], a[i], a[i + 1], a[i + w - 1], a[i + w], a[i + w + 1]);
          continue;
        }
        v.length = 0;
        for (let j = Math.max(0, y - 1); j <= Math.min(h - 1, y + 1); j++) {
          for (let i = Math.max(0, x - 1); i <= Math.min(w - 1, x + 1); i++) v.push(a[o + j * w + i]);
        }
        v.sort((p, q) => p - q);
        out[o + y * w + x] = v.length & 1 ? v[v.length >> 1] : 0.5 * (v[(v.length >> 1) - 1] + v[v.length >> 1]);
      }
    }
  }
  return out;
}

// The median of nine numbers: a sorting network's 19 exchanges (Paeth's), no array.
function median9(p0, p1, p2, p3, p4, p5, p6, p7, p8) {
  let t;
  if (p1 > p2) { t = p1; p1 = p2; p2 = t; }
  if (p4 > p5) { t = p4; p4 = p5; p5 = t; }
  if (p7 > p8) { t = p7; p7 = p8; p8 = t; }
  if (p0 > p1) { t = p0; p0 = p1; p1 = t; }
  if (p3 > p4) { t = p3; p3 = p4; p4 = t; }
  if (p6 > p7) { t = p6; p6 = p7; p7 = t; }
  if (p1 > p2) { t = p1; p1 = p2; p2 = t; }
  if (p4 > p5) { t = p4; p4 = p5; p5 = t; }
  if (p7 > p8) { t = p7; p7 = p8; p8 = t; }
  if (p0 > p3) { t = p0; p0 = p3; p3 = t; }
  if (p5 > p8) { t = p5; p5 = p8; p8 = t; }
  if (p4 > p7) { t = p4; p4 = p7; p7 = t; }
  if (p3 > p6) { t = p3; p3 = p6; p6 = t; }
  if (p1 > p4) { t = p1; p1 = p4; p4 = t; }
  if (p2 > p5) { t = p2; p2 = p5; p5 = t; }
  if (p4 > p7) { t = p4; p4 = p7; p7 = t; }
  if (p4 > p2) { t = p4; p4 = p2; p2 = t; }
  if (p6 > p4) { t = p6; p6 = p4; p4 = t; }
  if (p4 > p2) { t = p4; p4 = p2; p2 = t; }
  return p4;
}

// Trust in how the field `flow` ([2, h, w]) carries texture, multiplied into `trust` in
// place: 1 where neighbouring vectors agree within STRAIN_TOL px per px, 0 at twice that.
// A flow that tears or swirls (behind a passing car, the motion-blurred background passes
// the photometric check whatever the flow) would carry the strokes into marbled swirls.
function unstrained(trust, flow, w, h) {
  const n = w * h;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let s = 0;
      if (x + 1 < w) s = Math.max(s, Math.abs(flow[i + 1] - flow[i]), Math.abs(flow[n + i + 1] - flow[n + i]));
      if (x > 0) s = Math.max(s, Math.abs(flow[i - 1] - flow[i]), Math.abs(flow[n + i - 1] - flow[n + i]));
      if (y + 1 < h) s = Math.max(s, Math.abs(flow[i + w] - flow[i]), Math.abs(flow[n + i + w] - flow[n + i]));
      if (y > 0) s = Math.max(s, Math.abs(flow[i - w] - flow[i]), Math.abs(flow[n + i - w] - flow[n + i]));
      trust[i] *= clamp(2 - s / STRAIN_TOL, 0, 1);
    }
  }
  return trust;
}

// Where the w x h plane g is flat: its variance in FLAT_WINDOW x FLAT_WINDOW windows (cut
// at the frame's edges) under FLAT_VAR (a Uint8Array of 0 and 1).
function flatMask(g, w, h) {
  const r = FLAT_WINDOW >> 1, n = w * h, s1 = new Float64Array(n), s2 = new Float64Array(n);
  for (let y = 0; y < h; y++) { // each row's window sums of g and g squared
    const o = y * w;
    let a = 0, b = 0;
    for (let x = 0; x < Math.min(r, w); x++) { a += g[o + x]; b += g[o + x] * g[o + x]; }
    for (let x = 0; x < w; x++) {
      if (x + r < w) { const v = g[o + x + r]; a += v; b += v * v; }
      if (x - r - 1 >= 0) { const v = g[o + x - r - 1]; a -= v; b -= v * v; }
      s1[o + x] = a;
      s2[o + x] = b;
    }
  }
  const flat = new Uint8Array(n);
  for (let x = 0; x < w; x++) { // then down each column
    const cols = Math.min(w, x + r + 1) - Math.max(0, x - r);
    let a = 0, b = 0;
    for (let y = 0; y < Math.min(r, h); y++) { a += s1[y * w + x]; b += s2[y * w + x]; }
    for (let y = 0; y < h; y++) {
      if (y + r < h) { a += s1[(y + r) * w + x]; b += s2[(y + r) * w + x]; }
      if (y - r - 1 >= 0) { a -= s1[(y - r - 1) * w + x]; b -= s2[(y - r - 1) * w + x]; }
      const k = cols * (Math.min(h, y + r + 1) - Math.max(0, y - r)), m = a / k;
      flat[y * w + x] = b / k - m * m < FLAT_VAR ? 1 : 0;
    }
  }
  return flat;
}

// The weight (feathered) of the flat regions of two gray planes (w x h) that stay
// where they are: flat in both, and no part of their edge moved (where one of the two is flat
// and the other not, within 2 px): a letterbox's bars, not a blown-out sky whose horizon
// moves nor the black around things moving on it (the network's halos move with them). The
// motion has nothing to match there and spreads the picture's into them, so the texture
// carried there crawls where the network's own holds still: their motion is 0. null where
// there are none (as the CLI's stabilizer's static_flat). a and b: flatMask of g and of p.
function staticFlat(a, b, w, h) {
  const n = w * h;
  const moved = new Uint8Array(n), rows = new Uint8Array(n);
  for (let y = 0; y < h; y++) { // where the two differ, grown by 2 px: rows, then columns
    for (let x = 0; x < w; x++) {
      let m = 0;
      for (let dx = -2; dx <= 2 && !m; dx++) { const xx = x + dx; if (xx >= 0 && xx < w) m = a[y * w + xx] ^ b[y * w + xx]; }
      rows[y * w + x] = m;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let m = 0;
      for (let dy = -2; dy <= 2 && !m; dy++) { const yy = y + dy; if (yy >= 0 && yy < h) m = rows[yy * w + x]; }
      moved[y * w + x] = m;
    }
  }
  const label = new Int32Array(n).fill(-1), stack = new Int32Array(n), stays = [];
  let any = false;
  for (let i = 0; i < n; i++) { // the regions flat in both (8-connected), and whether any edge of each moved
    if (!(a[i] & b[i]) || label[i] >= 0) continue;
    const id = stays.length;
    let top = 0, still = true;
    label[i] = id;
    stack[top++] = i;
    while (top > 0) {
      const j = stack[--top], x = j % w, y = (j - x) / w;
      if (moved[j]) still = false;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx, yy = y + dy, k = yy * w + xx;
          if (xx < 0 || xx >= w || yy < 0 || yy >= h || label[k] >= 0 || !(a[k] & b[k])) continue;
          label[k] = id;
          stack[top++] = k;
        }
      }
    }
    stays.push(still);
    any = any || still;
  }
  if (!any) return null;
  let weight = new Float32Array(n);
  for (let i = 0; i < n; i++) weight[i] = label[i] >= 0 && stays[label[i]] ? 1 : 0;
  for (let k = 0; k < 3; k++) weight = feather(weight, w, h);
  return weight;
}

// 3x3 box blur of a w x h plane (trust maps: soft edges), the edges replicated.
function feather(a, w, h) {
  const rows = new Float32Array(w * h), out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) rows[o + x] = (a[o + (x > 0 ? x - 1 : 0)] + a[o + x] + a[o + (x + 1 < w ? x + 1 : x)]) / 3;
  }
  for (let y = 0; y < h; y++) {
    const up = (y > 0 ? y - 1 : 0) * w, o = y * w, down = (y + 1 < h ? y + 1 : y) * w;
    for (let x = 0; x < w; x++) out[o + x] = (rows[up + x] + rows[o + x] + rows[down + x]) / 3;
  }
  return out;
}

// Whether each point of the w x h mask a (0 or 1) has a 1 within k px along both axes (a
// square), by running counts: O(1) a point, whatever k.
function within(a, w, h, k) {
  const rows = new Uint8Array(w * h), out = new Uint8Array(w * h), run = new Int32Array(Math.max(w, h) + 1);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) run[x + 1] = run[x] + a[o + x];
    for (let x = 0; x < w; x++) rows[o + x] = run[Math.min(w, x + k + 1)] > run[Math.max(0, x - k)] ? 1 : 0;
  }
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) run[y + 1] = run[y] + rows[y * w + x];
    for (let y = 0; y < h; y++) out[y * w + x] = run[Math.min(h, y + k + 1)] > run[Math.max(0, y - k)] ? 1 : 0;
  }
  return out;
}

// The trust map t (w x h) set to 0, in place, within r px (a square) of where the picture
// changed: where diff, the photometric error, is over CHANGE_LEVEL gray levels. The network's
// output changes that far around a change of its input (as the CLI's stabilizer, which takes
// a disc).
function reached(t, diff, w, h, r) {
  const k = Math.round(r), n = w * h, changed = new Uint8Array(n);
  if (k < 1) return t;
  let any = false;
  for (let i = 0; i < n; i++) {
    changed[i] = diff[i] > CHANGE_LEVEL ? 1 : 0;
    any ||= changed[i] === 1;
  }
  if (!any) return t;
  const near = within(changed, w, h, k);
  for (let i = 0; i < n; i++) if (near[i]) t[i] = 0;
  return t;
}

// Across a jump of brightness (the means differ by more than FLASH_STEP, both above
// FLASH_FLOOR: a flash, which clips what is bright), the darker of `a` and `b` with its gray
// levels mapped onto the brighter's (their histograms matched), so that the motion and the
// trust compare like with like: { a } or { b }, the one replaced; null where no jump is (as
// the CLI's stabilizer's matched_levels).
function matchedLevels(a, b) {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  if (Math.min(ma, mb) <= FLASH_FLOOR || Math.abs(mb / ma - 1) <= FLASH_STEP) return null;
  const [dark, bright] = ma < mb ? [a, b] : [b, a];
  const level = (v) => clamp(Math.round(v), 0, 255);
  const cdf = new Float64Array(256), ref = new Float64Array(256);
  for (let i = 0; i < n; i++) {
    cdf[level(dark[i])]++;
    ref[level(bright[i])]++;
  }
  for (let k = 1; k < 256; k++) {
    cdf[k] += cdf[k - 1];
    ref[k] += ref[k - 1];
  }
  const lut = new Float32Array(256);
  for (let k = 0, j = 0; k < 256; k++) { // the first level whose share reaches this one's
    while (j < 255 && ref[j] < cdf[k]) j++;
    lut[k] = j;
  }
  const lifted = new Float32Array(n);
  for (let i = 0; i < n; i++) lifted[i] = lut[level(dark[i])];
  return ma < mb ? { a: lifted } : { b: lifted };
}

// Trust of the field `flow` ([2, h, w], this frame -> `other`): 1 where `other` carried
// matches `gray` within tol, 0 at twice that and outside the frame; and the mean difference.
// A change of exposure is not a change of content: where the mean brightness differs by
// more than EXPOSURE_STEP, `other` is compared at this frame's brightness too (scaled by the
// ratio of the means), and the closer of the two comparisons counts (as the CLI's stabilizer).
function trustOf(gray, other, flow, w, h, tol) {
  const n = w * h, t = new Float32Array(n), carried = new Float32Array(n), inside = new Uint8Array(n);
  const diff = new Float32Array(n); // 0 outside the frame
  let sumG = 0, sumC = 0, count = 0, error = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x, u = x + flow[i], v = y + flow[n + i];
      carried[i] = bilinear(other, w, h, u, v);
      error += Math.abs(carried[i] - gray[i]);
      if (u >= 0 && v >= 0 && u <= w - 1 && v <= h - 1) {
        inside[i] = 1;
        sumG += gray[i];
        sumC += carried[i];
        count++;
      }
    }
  }
  let g = 1; // the gain the comparison is made at
  const gain = count && sumC / count > 1 ? clamp(sumG / sumC, 0.5, 2) : 1;
  if (Math.abs(gain - 1) > EXPOSURE_STEP) {
    let scaled = 0;
    for (let i = 0; i < n; i++) scaled += Math.abs(Math.min(255, carried[i] * gain) - gray[i]);
    if (scaled < error) [g, error] = [gain, scaled];
  }
  for (let i = 0; i < n; i++) {
    if (!inside[i]) continue;
    const d = Math.abs((g === 1 ? carried[i] : Math.min(255, carried[i] * g)) - gray[i]);
    t[i] = clamp(2 - d / tol, 0, 1);
    diff[i] = d;
  }
  return { trust: t, error: error / n, diff };
}

// The texture `fresh` ([3, h, w]) with each layer's texture carried by its flow (bicubic)
// mixed in by its weight, in order: fresh = fresh + weight * (carried - fresh). Flows and
// weights are at the motion's resolution (f times coarser). In one pass: each layer's share
// of the result is its weight times what the later ones leave, and a layer is not sampled
// where its share is negligible (under a key that covers everything, say).
function mix(fresh, layers, w, h, f) {
  const n = w * h, fw = Math.ceil(w / f), fh = Math.ceil(h / f), nf = fw * fh, out = fresh.slice();
  const shares = layers.map(() => new Float32Array(nf));
  for (let i = 0; i < nf; i++) {
    let left = 1;
    for (let l = layers.length - 1; l >= 0; l--) {
      shares[l][i] = layers[l].weight[i] * left;
      left *= 1 - layers[l].weight[i];
    }
  }
  const X = axis(fw, w), Y = axis(fh, h);
  const lerp = (a, r0, r1, i0, i1, fu, fv) => {
    const top = a[r0 + i0] + fu * (a[r0 + i1] - a[r0 + i0]);
    return top + fv * (a[r1 + i0] + fu * (a[r1 + i1] - a[r1 + i0]) - top);
  };
  for (let py = 0; py < h; py++) {
    const r0 = Y.i0[py] * fw, r1 = Y.i1[py] * fw, fv = Y.t[py];
    for (let px = 0; px < w; px++) {
      const i0 = X.i0[px], i1 = X.i1[px], fu = X.t[px], i = py * w + px;
      for (let l = 0; l < layers.length; l++) {
        const share = lerp(shares[l], r0, r1, i0, i1, fu, fv);
        if (share < NEGLIGIBLE) continue;
        const { flow, tex } = layers[l];
        const sx = clamp(px + f * lerp(flow, r0, r1, i0, i1, fu, fv), 0, w - 1);
        const sy = clamp(py + f * lerp(flow, r0 + nf, r1 + nf, i0, i1, fu, fv), 0, h - 1);
        const ix = sx | 0, iy = sy | 0, tx = sx - ix, ty = sy - iy, ux = 1 - tx, uy = 1 - ty;
        if (tx === 0 && ty === 0) { // on a pixel (a key that has not moved): no resampling
          const j = iy * w + ix;
          for (let base = 0; base < 3 * n; base += n) out[base + i] += share * (tex[base + j] - fresh[base + i]);
          continue;
        }
        // cubic convolution weights (a = -0.75, as OpenCV's), 4 along each axis
        const x1 = (1.25 * tx - 2.25) * tx * tx + 1, x2 = (1.25 * ux - 2.25) * ux * ux + 1;
        const x0 = ((-0.75 * (tx + 1) + 3.75) * (tx + 1) - 6) * (tx + 1) + 3, x3 = 1 - x0 - x1 - x2;
        const y1 = (1.25 * ty - 2.25) * ty * ty + 1, y2 = (1.25 * uy - 2.25) * uy * uy + 1;
        const y0 = ((-0.75 * (ty + 1) + 3.75) * (ty + 1) - 6) * (ty + 1) + 3, y3 = 1 - y0 - y1 - y2;
        const c0 = ix > 0 ? ix - 1 : 0, c2 = ix + 1 < w ? ix + 1 : w - 1, c3 = ix + 2 < w ? ix + 2 : w - 1;
        const q0 = (iy > 0 ? iy - 1 : 0) * w, q1 = iy * w, q2 = (iy + 1 < h ? iy + 1 : h - 1) * w;
        const q3 = (iy + 2 < h ? iy + 2 : h - 1) * w;
        for (let base = 0; base < 3 * n; base += n) {
          const a = base + q0, b = base + q1, c = base + q2, d = base + q3;
          const s = y0 * (x0 * tex[a + c0] + x1 * tex[a + ix] + x2 * tex[a + c2] + x3 * tex[a + c3])
            + y1 * (x0 * tex[b + c0] + x1 * tex[b + ix] + x2 * tex[b + c2] + x3 * tex[b + c3])
            + y2 * (x0 * tex[c + c0] + x1 * tex[c + ix] + x2 * tex[c + c2] + x3 * tex[c + c3])
            + y3 * (x0 * tex[d + c0] + x1 * tex[d + ix] + x2 * tex[d + c2] + x3 * tex[d + c3]);
          out[base + i] += share * (s - fresh[base + i]);
        }
      }
    }
  }
  return out;
}

// y = grow(low) + grow(gain) * tex, in place ([3, h, w]; low [3, lh, lw], gain [lh, lw]);
// tex is multiplied by the gain in place. With sign -1 instead: tex = y - grow(low) (the
// high band of y; no gain).
function compose(low, gain, tex, y, w, h, lw, lh, sign = 1) {
  const n = w * h, nl = lw * lh, X = axis(lw, w), Y = axis(lh, h);
  for (let py = 0; py < h; py++) {
    const r0 = Y.i0[py] * lw, r1 = Y.i1[py] * lw, fv = Y.t[py];
    for (let px = 0; px < w; px++) {
      const i0 = X.i0[px], i1 = X.i1[px], fu = X.t[px], i = py * w + px;
      let g = 1;
      if (gain) {
        const top = gain[r0 + i0] + fu * (gain[r0 + i1] - gain[r0 + i0]);
        g = top + fv * (gain[r1 + i0] + fu * (gain[r1 + i1] - gain[r1 + i0]) - top);
      }
      for (let c = 0; c < 3; c++) {
        const a = c * nl, t = a + r0, b = a + r1, j = c * n + i;
        const lt = low[t + i0] + fu * (low[t + i1] - low[t + i0]);
        const l = lt + fv * (low[b + i0] + fu * (low[b + i1] - low[b + i0]) - lt);
        if (sign < 0) {
          tex[j] = y[j] - l;
        } else {
          tex[j] *= g;
          y[j] = l + tex[j];
        }
      }
    }
  }
}

export class PageStabilizer {
  constructor() {
    this.resets = 0; // first frames, cuts, size or style changes
    this.keys = 0; // keys taken
    this.reset();
  }

  reset() {
    this.key = '';
    this.prev = null; // the previous frame's gray pyramid
    this.low = null; // the previous output's low band
    this.held = []; // the keys carried: { gray, flow, age, tex, energy }
    this.tex = null; // the previous output's texture and its energy
    this.energy = null;
    this.ema = null; // the motion's running average at each point: see apply
    this.cover = null; // the newest key's cover of the frame, smoothed
    this.flat = null; // a gray plane and where it is flat: see apply
  }

  // Steadies y, the network's output for the frame x (both [3, h, w]), in place. `key`
  // names the model and frame size: a change of either starts afresh.
  apply(key, x, y, w, h) {
    const n = w * h, tuned = Math.max(1, Math.round(Math.min(w, h) / FLOW_SIDE));
    // reduced at most MAX_REDUCTION times; the still camera's thresholds, set for FLOW_SIDE,
    // grow with the finer motion, which reads the same noise as larger motion in its own pixels
    const f = Math.min(MAX_REDUCTION, tuned), finer = tuned / f;
    const fw = Math.ceil(w / f), fh = Math.ceil(h / f), nf = fw * fh;
    const lum = new Float32Array(n);
    for (let i = 0; i < n; i++) lum[i] = 0.299 * x[i] + 0.587 * x[n + i] + 0.114 * x[2 * n + i];
    const gray = f > 1 ? shrink(lum, w, h, f) : lum, pyr = pyramid(gray, fw, fh);
    // the two bands of the output
    const lw = Math.ceil(w / BAND), lh = Math.ceil(h / BAND), nl = lw * lh;
    const low = new Float32Array(3 * nl), high = new Float32Array(3 * n);
    for (let c = 0; c < 3; c++) low.set(shrink(y.subarray(c * n, (c + 1) * n), w, h, BAND), c * nl);
    compose(low, null, high, y, w, h, lw, lh, -1);
    const energy = detailEnergy(high, w, h);
    const prev = this.prev, prevLow = this.low;
    this.prev = pyr;
    let flow = null, trust = null, noise = 0;
    if (key === this.key && prev) {
      // a flash is not a cut: across a jump of brightness, the two frames at the same levels
      const same = matchedLevels(gray, prev[0].g);
      const now = same?.a ? pyramid(same.a, fw, fh) : pyr, then = same?.b ? pyramid(same.b, fw, fh) : prev;
      flow = motion(now, then, f > 1);
      // regions that stay flat where they are do not move (the previous frame's mask is kept,
      // unless its levels were matched to this one's)
      const flat = flatMask(now[0].g, fw, fh);
      const held = staticFlat(flat, this.flat?.g === then[0].g ? this.flat.mask : flatMask(then[0].g, fw, fh), fw, fh);
      this.flat = { g: now[0].g, mask: flat };
      if (held) for (let i = 0; i < nf; i++) { flow[i] *= 1 - held[i]; flow[nf + i] *= 1 - held[i]; }
      const t = trustOf(now[0].g, then[0].g, flow, fw, fh, PHOTO_TOL);
      noise = t.error;
      let trusted = 0;
      for (let i = 0; i < nf; i++) trusted += t.trust[i] > 0.5;
      if (t.error <= CUT_ERROR && trusted >= CUT_FRACTION * nf) trust = feather(unstrained(t.trust, flow, fw, fh), fw, fh);
    }
    this.key = key;
    if (!trust) { // a first frame or a new scene: the output as it is, and the first key
      this.resets++;
      this.keys++;
      this.held = [{ gray, flow: new Float32Array(2 * nf), age: 0, tex: high, energy }];
      this.cover = null;
      this.low = low;
      this.tex = high;
      this.energy = energy;
      this.ema = null;
      return;
    }
    // keys: carried on by this frame's motion (on a still camera, sub-pixel motion is noise).
    // Noise and motion are told apart by how they last: the motion at each point is
    // averaged over frames (PERSIST), where the noise's direction changes from frame to
    // frame and averages out while motion persists. Stillness and the dead zone are judged
    // on that average (on this frame's motion alone, Lucas-Kanade's noise on a still, noisy
    // camera passed for motion under 1 px, and the strokes swam)
    if (!this.ema || this.ema.length !== 2 * nf) this.ema = new Float32Array(2 * nf);
    const ema = this.ema;
    for (let i = 0; i < 2 * nf; i++) ema[i] = PERSIST * ema[i] + (1 - PERSIST) * flow[i];
    let mean = 0;
    for (let i = 0; i < nf; i++) mean += Math.sqrt(ema[i] * ema[i] + ema[nf + i] * ema[nf + i]);
    const still = mean / nf < STILL * finer, step = still ? flow.slice() : flow;
    const deadZone = clamp(DEAD_ZONE_PER_LEVEL * noise, DEAD_ZONE_MIN, DEAD_ZONE);
    if (still) {
      for (let i = 0; i < nf; i++) {
        const k = clamp(Math.sqrt(ema[i] * ema[i] + ema[nf + i] * ema[nf + i]) / (deadZone * finer) - 1, 0, 1);
        step[i] *= k;
        step[nf + i] *= k;
      }
    }
    const views = this.held.map((k, i) => {
      const moved = new Float32Array(2 * nf), ky = k.flow.subarray(nf);
      for (let yy = 0; yy < fh; yy++) {
        for (let xx = 0; xx < fw; xx++) {
          const j = yy * fw + xx, u = xx + step[j], v = yy + step[nf + j];
          moved[j] = step[j] + bilinear(k.flow, fw, fh, u, v);
          moved[nf + j] = step[nf + j] + bilinear(ky, fw, fh, u, v);
        }
      }
      k.flow = moved;
      k.age++;
      const { trust: t, diff } = trustOf(gray, k.gray, moved, fw, fh, KEY_TOL);
      if (still) reached(t, diff, fw, fh, REACH * fw / w); // not within the network's reach of a change
      const weight = feather(unstrained(t, moved, fw, fh), fw, fh);
      if (i === 1) for (let j = 0; j < nf; j++) weight[j] *= Math.min(1, k.age / FADE);
      return { key: k, weight };
    });
    // the low band: the previous one carried, blended in where trusted
    const outLow = new Float32Array(3 * nl), flowY = flow.subarray(nf);
    const planes = [0, 1, 2].map((c) => prevLow.subarray(c * nl, (c + 1) * nl));
    for (let ly = 0; ly < lh; ly++) {
      const v = (ly + 0.5) * BAND / f - 0.5;
      for (let lx = 0; lx < lw; lx++) {
        const u = (lx + 0.5) * BAND / f - 0.5, i = ly * lw + lx, k = STRENGTH * bilinear(trust, fw, fh, u, v);
        const pu = lx + bilinear(flow, fw, fh, u, v) * f / BAND, pv = ly + bilinear(flowY, fw, fh, u, v) * f / BAND;
        for (let c = 0; c < 3; c++) {
          const j = c * nl + i;
          outLow[j] = low[j] + k * (bilinear(planes[c], lw, lh, pu, pv) - low[j]);
        }
      }
    }
    // the texture: the previous frame's carried one frame where trusted (TEXTURE_STRENGTH),
    // then each key's, carried from the key; each mixed in by its weight, in that order
    const layers = [];
    if (this.tex) {
      // not from within bicubic's reach (2 px) of the frame's edge, where the border is
      // repeated: carried frame after frame, that drew streaks into the strip a pan brings in
      const m = 2 / f, weight = trust.map((t) => t * TEXTURE_STRENGTH);
      for (let yy = 0; yy < fh; yy++) {
        for (let xx = 0; xx < fw; xx++) {
          const j = yy * fw + xx, u = xx + flow[j], v = yy + flow[nf + j];
          if ((flow[j] || flow[nf + j]) && (u < m || v < m || u > fw - 1 - m || v > fh - 1 - m)) weight[j] = 0;
        }
      }
      layers.push({ flow, tex: this.tex, energy: this.energy, weight });
    }
    for (const { key: k, weight } of views) layers.push({ flow: k.flow, tex: k.tex, energy: k.energy, weight, key: true });
    const tex = mix(high, layers, w, h, f);
    const target = energy.slice(); // what the texture's energy should be, cell by cell
    // and where the network now draws far more texture than the newest key carries (a key
    // taken on a black frame, on which the network draws none): a new key is due
    let stale = 0;
    const had = new Uint8Array(nl); // whether a key has the content, cell by cell
    for (const layer of layers) {
      const lf = layer.flow, lfy = lf.subarray(nf), newest = layer === layers[layers.length - 1];
      for (let ly = 0; ly < lh; ly++) {
        for (let lx = 0; lx < lw; lx++) {
          const u = (lx + 0.5) * BAND / f - 0.5, v = (ly + 0.5) * BAND / f - 0.5, i = ly * lw + lx;
          const du = bilinear(lf, fw, fh, u, v) * f / BAND, dv = bilinear(lfy, fw, fh, u, v) * f / BAND;
          const wt = bilinear(layer.weight, fw, fh, u, v), carried = bilinear(layer.energy, lw, lh, lx + du, ly + dv);
          target[i] += wt * (carried - target[i]);
          if (layer.key && lx + du >= 0 && ly + dv >= 0 && lx + du <= lw - 1 && ly + dv <= lh - 1) had[i] = 1;
          if (newest && energy[i] + STALE_FLOOR > STALE_RATIO * (carried + STALE_FLOOR)) stale += wt;
        }
      }
    }
    // its energy given back (the cap rising where keys hold on little of the frame), and the
    // two bands put together into y
    const newest = views[views.length - 1].weight;
    let cover = 0;
    for (let i = 0; i < nf; i++) cover += newest[i];
    cover /= nf;
    this.cover = this.cover === null ? cover : this.cover + COVER_RATE * (cover - this.cover);
    const uncarried = clamp((UNCARRIED[0] - this.cover) / (UNCARRIED[0] - UNCARRIED[1]), 0, 1);
    const cap = MAX_GAIN + uncarried * Math.max(0, MAX_GAIN_UNCARRIED - MAX_GAIN);
    // (where no key has the content, the strip a pan brings in, the cap rises as where keys
    // hold on little)
    const gain = detailEnergy(tex, w, h), rise = Math.max(0, MAX_GAIN_UNCARRIED - cap);
    for (let i = 0; i < nl; i++) gain[i] = clamp(Math.sqrt((target[i] + 1) / (gain[i] + 1)), 1, cap + rise * (1 - had[i]));
    compose(outLow, gain, tex, y, w, h, lw, lh);
    this.low = outLow;
    this.tex = tex;
    this.energy = target;
    // the key schedule
    if (this.held.length === 2 && this.held[1].age >= FADE) this.held.shift();
    const interval = KEY_INTERVAL * (still ? 4 : 1);
    if (this.held.length === 1 && (this.held[0].age >= interval || cover < KEY_COVER || stale > STALE_COVER * nl)) {
      this.held.push({ gray, flow: new Float32Array(2 * nf), age: 0, tex: high, energy });
      this.keys++;
    }
  }
}
