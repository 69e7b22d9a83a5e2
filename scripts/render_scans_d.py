#!/usr/bin/env python3
"""Render synthetic scans of handwritten digits with known truth (set "d").

Five kinds of images are drawn, each from MNIST *training* digits turned into
pen strokes and composited as ink onto synthetic paper:

* ``pages``   one digit (25-150 px tall) anywhere on a whole A4/letter page at
              100-300 dpi; paper grain and tone gradient, sometimes a faint
              scribbled header/footer, a local shadow, a rotated sheet, dust,
              thin 1s; grey or RGB.
* ``forms``   one digit in one box of a printed row of boxes (single box, a row
              of 2-6 boxes, or a comb of ticks), sometimes touching or crossing
              the box line, tight crops or larger pieces of a form, labels,
              fills, rotated rows.
* ``photos``  3000x4000 / 4000x3000 phone photos of a sheet with one digit
              (100-400 px): vignette, uneven shadow, colour cast, blur, noise,
              JPEG, sometimes perspective and a dark table at a side.
* ``numbers`` 2-8 digit numbers on a small strip or field, with touching and
              overlapping neighbours, many 1s and some slant.
* ``blanks``  sheets with no digit at all: grain, dust and hairs, shading,
              shadow edges, scanner streaks, ruled lines, empty form boxes,
              pasted paper tiles, blank phone photos, faint printed headers.

Output: ``OUT_DIR/<kind>/NNNN.png|jpg`` and ``OUT_DIR/truth.csv`` with columns
``file,kind,truth,traits`` (traits = space separated conditions applied).
Every image is seeded from (seed, kind, index), so ``--jobs`` does not change
the output.

This script was written from the list of conditions only; apart from the MNIST
loading pipeline (``toolkit.data.load_mnist``) no project code or other
renderer was consulted.

Usage::

    python scripts/render_scans_d.py OUT_DIR [--kinds pages,forms,photos,numbers,blanks]
        [--count 100] [--seed 2468] [--jobs 2]
"""

import argparse
import csv
import functools
import math
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

KINDS = ("pages", "forms", "photos", "numbers", "blanks")
KIND_ID = {k: i for i, k in enumerate(KINDS)}

INK_THRESHOLD = 100  # MNIST grey level counted as ink
LEGIBLE_SHARE = 0.90  # largest 8-connected component share of the ink

# --------------------------------------------------------------------------
# MNIST digits
# --------------------------------------------------------------------------

_MNIST = None


def mnist():
    """Training images and per-label index lists (loaded once per process)."""
    global _MNIST
    if _MNIST is None:
        from toolkit import data

        (x_train, y_train), _ = data.load_mnist()
        by_label = [np.flatnonzero(y_train == d) for d in range(10)]
        _MNIST = (x_train, by_label)
    return _MNIST


def largest_share(mask_u8):
    """Share of the ink held by the largest 8-connected component."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask_u8, connectivity=8)
    if n <= 1:
        return 0.0
    areas = stats[1:, cv2.CC_STAT_AREA]
    return float(areas.max()) / float(areas.sum())


def pick_digit(rng, label=None):
    """A legible (not fragmented) MNIST training digit: (label, 28x28 uint8)."""
    x_train, by_label = mnist()
    if label is None:
        label = int(rng.integers(10))
    pool = by_label[label]
    while True:
        img = x_train[int(pool[rng.integers(len(pool))])]
        if largest_share((img >= INK_THRESHOLD).astype(np.uint8)) >= LEGIBLE_SHARE:
            return label, img


def ellipse(r):
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def thin_mask(m):
    """Zhang-Suen thinning of a 0/1 mask to a one pixel wide centre line."""
    img = np.pad(m.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p2, p3, p4 = img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:]
            p5, p6, p7 = img[2:, 2:], img[2:, 1:-1], img[2:, :-2]
            p8, p9 = img[1:-1, :-2], img[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            b = sum(p.astype(np.int16) for p in ring[:8])
            a = sum(((ring[i] == 0) & (ring[i + 1] == 1)).astype(np.int16) for i in range(8))
            if step == 0:
                c = ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
            else:
                c = ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
            rem = (img[1:-1, 1:-1] == 1) & (b >= 2) & (b <= 6) & (a == 1) & c
            if rem.any():
                img[1:-1, 1:-1][rem] = 0
                changed = True
    return img[1:-1, 1:-1]


def prune_spurs(skel, min_len):
    """Remove short side branches (thinning artefacts) of a centre line."""
    k = np.ones((3, 3), np.uint8)
    nb = cv2.filter2D(skel, -1, k, borderType=cv2.BORDER_CONSTANT) - skel
    ends = (skel == 1) & (nb == 1)
    forks = cv2.dilate(((skel == 1) & (nb >= 3)).astype(np.uint8), k)
    if not forks.any():
        return skel
    seg = skel & (1 - forks)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(seg, connectivity=8)
    at_fork = set(np.unique(lab[cv2.dilate(forks, k).astype(bool)]))
    out = skel.copy()
    for lb in set(np.unique(lab[ends])) & at_fork:
        if lb and stats[lb, cv2.CC_STAT_AREA] < min_len:
            out[lab == lb] = 0
    return out


def fill_small_holes(m, size):
    """Fill specks of background inside the ink (smaller than a real loop)."""
    contours, hier = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hier is None:
        return m
    m = m.copy()
    min_area = (0.05 * size) ** 2
    for c, h in zip(contours, hier[0], strict=True):
        if h[3] >= 0 and cv2.contourArea(c) < min_area:
            cv2.drawContours(m, [c], -1, 1, cv2.FILLED)
    return m


def count_holes(m, size):
    """Enclosed holes (loops) of a stroke mask, ignoring specks of background."""
    contours, hier = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hier is None:
        return 0
    min_area = max(1.5, (0.05 * size) ** 2)
    return sum(1 for c, h in zip(contours, hier[0], strict=True) if h[3] >= 0 and cv2.contourArea(c) >= min_area)


def crop_to_ink(a, level=0.03):
    ys, xs = np.nonzero(a > level)
    return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def digit_mask(rng, img, height, pen="normal", shear=0.0, stretch=None):
    """Pen-stroke alpha mask (float32 0..1) of an MNIST digit, `height` px of ink.

    The digit is upscaled smoothly and thresholded to a stroke; its centre line
    is redrawn with a round pen of the chosen width (thin/normal/thick, loops
    kept open), softened, optionally slanted and finally scaled so that its
    ink is `height` pixels tall.
    """
    height = max(8, int(round(height)))
    src = np.pad(img, 4).astype(np.float32)
    ys, xs = np.nonzero(src >= INK_THRESHOLD)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    src = src[y0 - 3 : y1 + 3, x0 - 3 : x1 + 3]
    inner = max(height, 120)  # working resolution
    s = inner / float(y1 - y0)
    sx = s * (stretch if stretch else rng.uniform(0.92, 1.08))
    up = cv2.resize(
        src, (max(4, round(src.shape[1] * sx)), max(4, round(src.shape[0] * s))), interpolation=cv2.INTER_CUBIC
    )
    soft = cv2.GaussianBlur(up, (0, 0), 0.35 * s)  # smooth away the 28 px grid
    m, loops = None, -1
    for level in (rng.uniform(100, 130), 155, 185, 215):
        # a higher level opens loops that MNIST filled with grey; keep it in one piece
        for cand in ((soft >= level), (up >= level)):
            cand = cand.astype(np.uint8)
            holes = count_holes(cand, inner)
            if holes > loops and (m is None or largest_share(cand) >= LEGIBLE_SHARE):
                m, loops = cand, holes

    # redraw the centre line (skeleton) with a round pen of the chosen width,
    # with a little pressure variation along the stroke.  Digits with a blob
    # (a loop MNIST filled in) keep their own outline, only thinned/thickened.
    m = fill_small_holes(m, inner)
    dtm = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    ridge = (dtm > 0) & (dtm >= cv2.dilate(dtm, np.ones((3, 3), np.uint8)))
    half = float(np.median(dtm[ridge])) if ridge.any() else 0.05 * inner
    blobby = dtm.max() > 2.2 * half
    skel = prune_spurs(thin_mask(m), 0.1 * inner)
    rel = {"thin": rng.uniform(0.035, 0.055), "normal": rng.uniform(0.065, 0.095), "thick": rng.uniform(0.11, 0.15)}[
        pen
    ]
    rel = max(rel, 1.8 / height)  # never thinner than ~1.8 px
    radius = rel * inner / 2.0
    dist = cv2.distanceTransform((1 - skel).astype(np.uint8), cv2.DIST_L2, 5)
    press = 1.0 + rng.uniform(0.05, 0.2) * np.clip(smooth_noise(rng, *m.shape, inner / 4.0), -1, 1)
    mat = None
    if shear:
        h, w = m.shape
        mat = np.float32([[1, -shear, shear * h if shear > 0 else 0], [0, 1, 0]])
        size = (int(w + abs(shear) * h) + 2, h)
    for _ in range(10):
        if blobby:
            a = outline_stroke(m, int(round(radius - half)), inner)
        else:
            a = np.clip(radius * press + 0.5 - dist, 0, 1).astype(np.float32)
        if mat is not None:
            a = cv2.warpAffine(a, mat, size, flags=cv2.INTER_LINEAR)
        a = crop_to_ink(a)
        rows = np.nonzero((a >= 0.5).any(axis=1))[0]
        f = height / float(rows[-1] - rows[0] + 1)
        out = cv2.resize(
            a,
            (max(2, round(a.shape[1] * f)), max(2, round(a.shape[0] * f))),
            interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR,
        )
        out = np.clip(crop_to_ink(out), 0, 1).astype(np.float32)
        # the pen must not close a loop, neither at working size nor at the final size
        if radius * f <= 0.8 or (
            count_holes((a > 0.5).astype(np.uint8), inner) >= loops
            and count_holes((out > 0.5).astype(np.uint8), 0) >= loops
        ):
            break
        radius *= 0.85
    return out


def outline_stroke(m, r, inner):
    """The digit's own outline, thickened (r > 0) or thinned (r < 0) by r px."""
    if r > 0:
        holes = count_holes(m, inner)
        for rr in range(r, 0, -1):
            d = cv2.dilate(m, ellipse(rr))
            if count_holes(d, inner) >= holes:
                m = d
                break
    elif r < 0:
        for rr in range(-r, 0, -1):
            e = cv2.erode(m, ellipse(rr))
            if e.any() and largest_share(e) >= LEGIBLE_SHARE:
                m = e
                break
    return cv2.GaussianBlur(m.astype(np.float32), (0, 0), max(0.6, inner / 150.0))


def choose_pen(rng, p=(0.3, 0.45, 0.25)):
    return str(rng.choice(["thin", "normal", "thick"], p=list(p)))


# --------------------------------------------------------------------------
# Colours, paper, ink
# --------------------------------------------------------------------------


def tone(rgb, C):
    """An RGB colour as a C-channel (1 = grey) float32 vector."""
    rgb = np.asarray(rgb, np.float32)
    if C == 1:
        return np.array([0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]], np.float32)
    return rgb


def pick_ink(rng, C):
    """Ballpoint-like ink: (name, colour)."""
    kind = str(rng.choice(["black", "blue", "darkgrey"], p=[0.45, 0.4, 0.15]))
    if kind == "black":
        v = rng.uniform(12, 48)
        rgb = (v + rng.uniform(-4, 4), v + rng.uniform(-4, 4), v + rng.uniform(0, 12))
    elif kind == "blue":
        rgb = (rng.uniform(15, 55), rng.uniform(25, 75), rng.uniform(100, 175))
    else:
        v = rng.uniform(50, 85)
        rgb = (v, v, v + rng.uniform(0, 8))
    return kind, tone(rgb, C)


PRINT_COLOURS = {
    "black": (25, 25, 30),
    "grey": (125, 125, 130),
    "blue": (45, 75, 175),
    "red": (205, 50, 50),
    "green": (45, 145, 85),
}


def pick_print(rng, C, names=None):
    name = str(rng.choice(names or list(PRINT_COLOURS)))
    rgb = np.array(PRINT_COLOURS[name], np.float32) + rng.uniform(-12, 12, 3)
    return name, tone(np.clip(rgb, 0, 255), C)


def smooth_noise(rng, h, w, cell):
    """Smooth random field (roughly -1..1) with blobs about `cell` px wide."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


def ramp(rng, h, w):
    """Linear ramp -0.5..0.5 in a random direction."""
    ang = rng.uniform(0, 2 * np.pi)
    c, s = math.cos(ang) / max(w, h), math.sin(ang) / max(w, h)
    f = np.arange(w, dtype=np.float32)[None, :] * c + np.arange(h, dtype=np.float32)[:, None] * s
    f -= f.min()
    return f / max(float(f.max()), 1e-6) - 0.5


def add_noise(rng, canvas, sigma, mono=False):
    """Add Gaussian grain (tiled from a 512 px tile, cheap for big images)."""
    H, W, C = canvas.shape
    T = 512
    tile = rng.standard_normal((T, T, 1 if mono else C), dtype=np.float32) * np.float32(sigma)
    tile = np.roll(tile, (int(rng.integers(T)), int(rng.integers(T))), axis=(0, 1))
    for y in range(0, H, T):
        for x in range(0, W, T):
            th, tw = min(T, H - y), min(T, W - x)
            canvas[y : y + th, x : x + tw] += tile[:th, :tw]


def make_paper(rng, h, w, C, base=None):
    """Off-white paper with grain, fibre mottling and a mild tone gradient."""
    base = float(rng.uniform(226, 250) if base is None else base)
    if rng.random() < 0.75:  # warmish paper
        tint = (rng.uniform(-1, 4), rng.uniform(-2, 2), rng.uniform(-9, 0))
    else:  # cool / neutral paper
        tint = (rng.uniform(-5, 0), rng.uniform(-2, 2), rng.uniform(0, 4))
    canvas = np.empty((h, w, C), np.float32)
    canvas[...] = tone(np.clip(base + np.array(tint), 0, 255), C)
    field = ramp(rng, h, w) * np.float32(rng.uniform(2, 8))
    field += smooth_noise(rng, h, w, rng.uniform(15, 60)) * np.float32(rng.uniform(0.5, 1.8))
    canvas += field[..., None]
    add_noise(rng, canvas, rng.uniform(0.8, 2.5), mono=True)
    return canvas, base


def paint(canvas, alpha, colour, x, y):
    """canvas = canvas*(1-alpha) + colour*alpha at (x, y), clipped to the canvas.

    Also used for layers: a layer is an (H, W, C+1) premultiplied array whose
    last channel is coverage; painting it with colour+[1] is the 'over' rule.
    """
    H, W = canvas.shape[:2]
    h, w = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
    reg = canvas[y0:y1, x0:x1]
    reg *= 1.0 - a
    reg += a * colour


def vary_ink(rng, a):
    """Slight ink-darkness variation along the strokes."""
    h, w = a.shape
    f = 1.0 - rng.uniform(0.04, 0.2) * (0.5 + 0.5 * np.clip(smooth_noise(rng, h, w, max(6, h / 3)), -1, 1))
    return (a * f * rng.uniform(0.93, 1.0)).astype(np.float32)


def new_layer(h, w, C):
    return np.zeros((h, w, C + 1), np.float32)


def lcol(colour):
    """Colour for painting into a layer (premultiplied, coverage 1)."""
    return np.concatenate([colour, [1.0]]).astype(np.float32)


def layer_onto(canvas, layer, x=0, y=0):
    h, w = layer.shape[:2]
    reg = canvas[y : y + h, x : x + w]
    reg *= 1.0 - layer[..., -1:]
    reg += layer[..., :-1]


def warp_affine(img, mat, size, border=0.0, flags=cv2.INTER_LINEAR):
    out = cv2.warpAffine(img, mat, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    return out[..., None] if out.ndim == 2 else out


def transform_points(mat, pts):
    pts = np.asarray(pts, np.float32)
    return pts @ mat[:, :2].T + mat[:, 2]


def box_corners(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x0, y1), (x1, y1)]


@functools.lru_cache(maxsize=64)
def font(size):
    return ImageFont.load_default(size=int(size))


def text_alpha(text, size):
    """Coverage mask of printed text in Pillow's default font."""
    f = font(size)
    x0, y0, x1, y1 = f.getbbox(text)
    im = Image.new("L", (x1 - x0 + 4, y1 - y0 + 4), 0)
    ImageDraw.Draw(im).text((2 - x0, 2 - y0), text, fill=255, font=f)
    return np.asarray(im, np.float32) / 255.0


def draw_polyline(canvas, pts, colour, alpha, thickness=1):
    """Antialiased polyline painted with the given opacity."""
    pts = np.asarray(pts, np.float64)
    x0, y0 = (np.floor(pts.min(0)) - thickness - 2).astype(int)
    x1, y1 = (np.ceil(pts.max(0)) + thickness + 2).astype(int)
    patch = np.zeros((y1 - y0, x1 - x0), np.uint8)
    p = np.round((pts - [x0, y0]) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(patch, [p], False, 255, int(thickness), cv2.LINE_AA, shift=4)
    paint(canvas, patch.astype(np.float32) * np.float32(alpha / 255.0), colour, int(x0), int(y0))


# --------------------------------------------------------------------------
# Marks that are not digits: scribbles, dust, hairs, streaks, rules, text
# --------------------------------------------------------------------------


def scribble_word(rng, x, baseline, xh):
    """Cursive-like squiggle: a chain of loops (prolate cycloid) = one 'word'."""
    pts = []
    for _ in range(int(rng.integers(3, 10))):
        p = xh * rng.uniform(0.55, 1.0)
        loop = rng.uniform(0.5, 1.6)
        amp = xh * (rng.uniform(1.7, 2.3) if rng.random() < 0.2 else rng.uniform(0.7, 1.05))
        t = np.linspace(0, 2 * np.pi, 22, endpoint=False)
        pts.append(np.stack([x + p / (2 * np.pi) * (t - loop * np.sin(t)), baseline - amp * 0.5 * (1 + np.cos(t))], 1))
        x += p
    pts = np.concatenate(pts)
    pts[:, 1] += np.cumsum(rng.normal(0, xh * 0.01, len(pts)))
    return pts, x


def draw_scribble_line(rng, canvas, x0, x1, baseline, xh, colour, alpha, thickness):
    x = x0
    while True:
        pts, xe = scribble_word(rng, x, baseline + rng.normal(0, xh * 0.05), xh)
        if xe > x1:
            break
        draw_polyline(canvas, pts, colour, alpha, thickness)
        x = xe + xh * rng.uniform(0.7, 1.6)


def outside(boxes, x, y):
    return all(not (bx0 <= x <= bx1 and by0 <= y <= by1) for bx0, by0, bx1, by1 in boxes)


def draw_specks(rng, canvas, n, avoid=()):
    """Small dark dust dots (radius 0.5-2 px)."""
    H, W, C = canvas.shape
    for _ in range(n):
        for _try in range(30):
            cx, cy = rng.uniform(2, W - 2), rng.uniform(2, H - 2)
            if outside(avoid, cx, cy):
                break
        else:
            continue
        r = rng.uniform(0.5, 2.0)
        s = int(math.ceil(r)) + 2
        ix, iy = int(cx), int(cy)
        yy, xx = np.mgrid[-s : s + 1, -s : s + 1].astype(np.float32)
        d = np.hypot(xx - (cx - ix), yy - (cy - iy))
        a = np.clip(r + 0.5 - d, 0, 1) * np.float32(rng.uniform(0.35, 0.9))
        paint(canvas, a, tone([rng.uniform(20, 90)] * 3, C), ix - s, iy - s)


def draw_hairs(rng, canvas, n, avoid=()):
    """Thin, faint, long curved hairs / fibres."""
    H, W, C = canvas.shape
    for _ in range(n):
        for _try in range(30):
            cx, cy = rng.uniform(0, W), rng.uniform(0, H)
            if outside(avoid, cx, cy):
                break
        else:
            continue
        length = rng.uniform(60, max(65, min(250, 0.9 * max(W, H))))
        steps = 40
        ang = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.08, steps) + rng.uniform(-0.06, 0.06))
        st = length / steps
        pts = np.stack([cx + np.cumsum(st * np.cos(ang)), cy + np.cumsum(st * np.sin(ang))], 1)
        draw_polyline(canvas, pts, tone([rng.uniform(40, 100)] * 3, C), rng.uniform(0.15, 0.4), 1)


def draw_streak(rng, canvas):
    """Faint scanner streak: a long slightly uneven line across the page."""
    H, W, C = canvas.shape
    vertical = rng.random() < 0.7
    length = H if vertical else W
    across = W if vertical else H
    width = int(rng.integers(1, 4))
    pos = int(rng.integers(0, across - width))
    amp = rng.uniform(6, 20) * (-1 if rng.random() < 0.8 else 0.6)
    mod = 1.0 + 0.35 * np.clip(smooth_noise(rng, length, 1, rng.uniform(40, 300))[:, 0], -1, 1)
    prof = np.hanning(width + 2)[1:-1].astype(np.float32)
    band = (amp * mod[:, None] * prof[None, :]).astype(np.float32)
    if vertical:
        canvas[:, pos : pos + width] += band[..., None]
    else:
        canvas[pos : pos + width, :] += band.T[..., None]


def draw_rules(rng, canvas, C):
    """Ruled notebook paper: lines 30-50 px apart, maybe a margin line."""
    H, W = canvas.shape[:2]
    gap = rng.uniform(30, 50)
    colour = tone(
        (rng.uniform(140, 190), rng.uniform(175, 210), rng.uniform(215, 240))
        if rng.random() < 0.7
        else [rng.uniform(150, 190)] * 3,
        C,
    )
    th = 1 if rng.random() < 0.7 else 2
    y = rng.uniform(0.5, 2.0) * gap
    while y < H - 2:
        line = np.full((th, W), rng.uniform(0.6, 0.95), np.float32)
        paint(canvas, line, colour, 0, int(y))
        y += gap
    if rng.random() < 0.4:
        x = int(rng.uniform(0.06, 0.15) * W)
        paint(canvas, np.full((H, th), 0.7, np.float32), tone((225, 120, 120), C), x, 0)
    return gap


HEADER_WORDS = [
    "Department",
    "Office",
    "Record",
    "Sheet",
    "Report",
    "Internal",
    "Use",
    "Only",
    "Name",
    "Signature",
    "Date",
    "Page",
    "Reviewed",
    "Archive",
    "Notes",
    "Copy",
    "Student",
    "Survey",
    "Return",
    "Attached",
    "Form",
    "Reference",
    "Section",
]


def header_text(rng):
    return " ".join(str(w) for w in rng.choice(HEADER_WORDS, size=int(rng.integers(2, 6))))


# --------------------------------------------------------------------------
# Light
# --------------------------------------------------------------------------


def low_grid(h, w, step):
    hs, ws = max(2, h // step), max(2, w // step)
    yy, xx = np.mgrid[0:hs, 0:ws].astype(np.float32)
    return yy * (h / hs), xx * (w / ws)


def shadow_patch(rng, yy, xx, h, w):
    """Soft dark patch, profile 0..1 (1 at the centre)."""
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    ry, rx = rng.uniform(0.08, 0.35) * h, rng.uniform(0.08, 0.35) * w
    a = rng.uniform(0, np.pi)
    u = ((xx - cx) * math.cos(a) + (yy - cy) * math.sin(a)) / rx
    v = (-(xx - cx) * math.sin(a) + (yy - cy) * math.cos(a)) / ry
    return np.exp(-(u * u + v * v))


def shadow_edge(rng, yy, xx, h, w, soft=(0.01, 0.06)):
    """Soft shadow edge across the image, profile 0..1 (1 on the dark side)."""
    a = rng.uniform(0, 2 * np.pi)
    py, px = rng.uniform(0.15, 0.85) * h, rng.uniform(0.15, 0.85) * w
    s = (xx - px) * math.cos(a) + (yy - py) * math.sin(a)
    sw = rng.uniform(*soft) * max(h, w)
    return 1.0 / (1.0 + np.exp(-np.clip(s / sw, -30, 30)))


def scan_shadow(rng, canvas, base, traits):
    """A local shadow 20-40 grey levels deep: a soft patch or a shadow edge."""
    H, W = canvas.shape[:2]
    yy, xx = low_grid(H, W, 8)
    levels = rng.uniform(20, 40)
    if rng.random() < 0.5:
        prof = shadow_patch(rng, yy, xx, H, W)
        traits.append("shadow")
    else:
        prof = shadow_edge(rng, yy, xx, H, W)
        traits.append("shadow_edge")
    light = 1.0 - (levels / base) * prof
    canvas *= cv2.resize(light.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)[..., None]


# --------------------------------------------------------------------------
# Finishing and saving
# --------------------------------------------------------------------------


def finish_scan(rng, canvas, traits, jpeg_p=0.25):
    """Scanner softness and noise; PNG mostly, JPEG (q 70-95) sometimes."""
    if rng.random() < 0.7:
        s = rng.uniform(0.3, 0.8)
        canvas = cv2.GaussianBlur(canvas, (0, 0), s)
        canvas = canvas[..., None] if canvas.ndim == 2 else canvas
    add_noise(rng, canvas, rng.uniform(0.5, 2.0))
    img = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    if img.shape[2] == 1:
        img = img[..., 0]
    if rng.random() < jpeg_p:
        q = int(rng.integers(70, 96))
        traits.append(f"jpeg={q}")
        return img, "jpg", q
    return img, "png", None


def save_image(path, img, ext, quality):
    if img.ndim == 3:
        img = np.ascontiguousarray(img[..., ::-1])  # RGB -> BGR for OpenCV
    if ext == "jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    else:
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode("." + ext, img, params)
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


def channels(rng, traits, p_rgb=0.5):
    C = 3 if rng.random() < p_rgb else 1
    traits.append("rgb" if C == 3 else "grey")
    return C


# --------------------------------------------------------------------------
# Kind: pages
# --------------------------------------------------------------------------


def page_size(rng, traits):
    """A4 or letter page at 100-300 dpi, at most about 2500 x 3500 px."""
    fmt = "a4" if rng.random() < 0.55 else "letter"
    w_in, h_in = (8.27, 11.69) if fmt == "a4" else (8.5, 11.0)
    dpi_max = min(300.0, 2500 / w_in, 3499 / h_in)
    dpi = float(rng.choice([100, 150, 200, 240, dpi_max, rng.uniform(100, dpi_max)]))
    dpi = min(dpi, dpi_max)
    traits += [fmt, f"dpi={int(dpi)}"]
    return int(round(h_in * dpi)), int(round(w_in * dpi)), dpi


def render_page(rng):
    traits = []
    H, W, dpi = page_size(rng, traits)
    C = channels(rng, traits)
    canvas, base = make_paper(rng, H, W, C)

    bands = []  # scribbled header/footer
    if rng.random() < 0.35:
        where = str(rng.choice(["header", "footer", "both"]))
        xh = rng.uniform(0.006, 0.011) * H
        colour = tone((rng.uniform(60, 110), rng.uniform(60, 110), rng.uniform(70, 160)), C)
        alpha = rng.uniform(0.18, 0.4)
        th = 1 if dpi < 200 or rng.random() < 0.5 else 2
        for place in ["header", "footer"] if where == "both" else [where]:
            y = rng.uniform(0.04, 0.09) * H if place == "header" else rng.uniform(0.9, 0.96) * H
            nlines = int(rng.integers(1, 3))
            for j in range(nlines):
                bl = y + j * xh * 3.2
                draw_scribble_line(
                    rng, canvas, rng.uniform(0.06, 0.15) * W, rng.uniform(0.45, 0.92) * W, bl, xh, colour, alpha, th
                )
            bands.append((y - 3 * xh, y + nlines * 3.2 * xh + xh))
        traits.append("scribble_" + where)

    thin_one = rng.random() < 0.2
    label, img = pick_digit(rng, 1 if thin_one else None)
    pen = "thin" if thin_one else choose_pen(rng)
    height = int(round(math.exp(rng.uniform(math.log(25), math.log(150)))))
    ink_name, ink = pick_ink(rng, C)
    a = vary_ink(rng, digit_mask(rng, img, height, pen))
    h, w = a.shape
    rotate = rng.random() < 0.3
    angle = rng.uniform(1, 5) * rng.choice([-1, 1]) if rotate else 0.0
    mat = cv2.getRotationMatrix2D((W / 2.0, H / 2.0), angle, 1.0)
    m = int(0.02 * W)
    for _try in range(200):
        x = int(rng.integers(m, W - w - m))
        y = int(rng.integers(m, H - h - m))
        if any(y < b1 + 0.02 * H and y + h > b0 - 0.02 * H for b0, b1 in bands):
            continue
        c = transform_points(mat, box_corners(x, y, x + w, y + h))
        if c[:, 0].min() > 4 and c[:, 1].min() > 4 and c[:, 0].max() < W - 4 and c[:, 1].max() < H - 4:
            break
    paint(canvas, a, ink, x, y)
    traits += [f"h={height}", f"pen={pen}", f"ink={ink_name}"]
    if thin_one:
        traits.append("thin_one")

    if rotate:
        lid = tone([min(255.0, base + rng.uniform(-18, 6))] * 3, C)
        canvas = warp_affine(canvas, mat, (W, H), border=tuple(float(v) for v in lid))
        traits.append(f"rotated={angle:+.1f}")
    c = transform_points(mat, box_corners(x, y, x + w, y + h))
    digit_box = (c[:, 0].min() - 20, c[:, 1].min() - 20, c[:, 0].max() + 20, c[:, 1].max() + 20)

    if rng.random() < 0.35:
        scan_shadow(rng, canvas, base, traits)
    if rng.random() < 0.35:
        draw_specks(rng, canvas, int(rng.integers(3, 16)), [digit_box])
        traits.append("dust")
    img, ext, q = finish_scan(rng, canvas, traits)
    return img, str(label), traits, ext, q


# --------------------------------------------------------------------------
# Kind: forms
# --------------------------------------------------------------------------

LABEL_WORDS = [
    "Code",
    "Amount",
    "Qty",
    "Grade",
    "Class",
    "Score",
    "Item",
    "Ref",
    "Total",
    "Mark",
    "Seat",
    "Room",
    "Check",
    "Units",
    "Day",
    "Group",
    "Level",
    "Answer",
    "Number",
    "Points",
    "Month",
    "Year",
    "Team",
    "Zone",
]
TITLE_WORDS = [
    "Registration Form",
    "Answer Sheet",
    "Survey",
    "Order Form",
    "Exam Record",
    "Application",
    "Inventory Sheet",
    "Attendance",
    "Claim Form",
    "Entry Form",
]


def row_geometry(style, n, bw, bh, lw, gap, x0, y0, tick_h=0):
    """Line bars (filled rects) and inner cells of a row of boxes or a comb."""
    bars, cells = [], []
    if style == "comb":
        xs = [x0 + i * bw for i in range(n + 1)]
        bars.append((x0, y0 + bh - lw, xs[-1] + lw, y0 + bh))
        bars += [(x, y0 + bh - tick_h, x + lw, y0 + bh) for x in xs]
        cells = [(x + lw, y0, x + bw, y0 + bh - lw) for x in xs[:-1]]
        return bars, cells, (x0, y0, xs[-1] + lw, y0 + bh)
    step = bw - lw if gap == 0 else bw + gap
    for i in range(n):
        bx = x0 + i * step
        bars += [
            (bx, y0, bx + bw, y0 + lw),
            (bx, y0 + bh - lw, bx + bw, y0 + bh),
            (bx, y0, bx + lw, y0 + bh),
            (bx + bw - lw, y0, bx + bw, y0 + bh),
        ]
        cells.append((bx + lw, y0 + lw, bx + bw - lw, y0 + bh - lw))
    return bars, cells, (x0, y0, x0 + (n - 1) * step + bw, y0 + bh)


def row_width(style, n, bw, lw, gap):
    if style == "comb":
        return n * bw + lw
    step = bw - lw if gap == 0 else bw + gap
    return (n - 1) * step + bw


def random_row(rng, style=None, max_width=None, n=None, bh=None):
    style = style or str(rng.choice(["boxes", "single", "comb"], p=[0.6, 0.2, 0.2]))
    bh = int(bh or rng.integers(30, 121))
    bw = int(np.clip(bh * rng.uniform(0.75, 1.25), 30, 120))
    lw = int(min(rng.integers(1, 6), max(1, bh // 10)))
    gap = 0 if (style == "comb" or rng.random() < 0.5) else int(rng.integers(3, max(4, bw // 3)))
    if n is None:
        n = 1 if style == "single" else int(rng.integers(2, 7))
    if max_width:
        while n > 1 and row_width(style, n, bw, lw, gap) > max_width:
            n -= 1
    return dict(style=style, n=n, bw=bw, bh=bh, lw=lw, gap=gap, tick=int(bh * rng.uniform(0.25, 0.5)))


def draw_row(layer, row, x0, y0, colour, fill=None, line_mask=None, opacity=1.0):
    bars, cells, ext = row_geometry(
        row["style"], row["n"], row["bw"], row["bh"], row["lw"], row["gap"], x0, y0, row["tick"]
    )
    if fill is not None:
        for cx0, cy0, cx1, cy1 in cells:
            paint(layer, np.ones((cy1 - cy0, cx1 - cx0), np.float32), lcol(fill), cx0, cy0)
    for bx0, by0, bx1, by1 in bars:
        paint(layer, np.full((by1 - by0, bx1 - bx0), opacity, np.float32), lcol(colour), bx0, by0)
        if line_mask is not None:
            line_mask[by0:by1, bx0:bx1] = 1
    return cells, ext


def digit_in_cell(rng, cell, line_mask, touching, row):
    """Digit mask and position inside a cell (>= 3 px clear) or touching its line."""
    ix0, iy0, ix1, iy1 = cell
    iw, ih = ix1 - ix0, iy1 - iy0
    label, img = pick_digit(rng)
    pen = choose_pen(rng)
    if not touching:
        h = float(np.clip(ih * rng.uniform(0.5, 0.85), 12, ih - 6))
        a = digit_mask(rng, img, h, pen)
        while a.shape[1] > iw - 6 or a.shape[0] > ih - 6:
            h *= 0.9 * min((iw - 6) / a.shape[1], (ih - 6) / a.shape[0], 1.0)
            a = digit_mask(rng, img, h, pen)
        mh, mw = a.shape
        x = int(rng.integers(ix0 + 3, ix1 - 3 - mw + 1))
        y = int(rng.integers(iy0 + 3, iy1 - 3 - mh + 1))
        return label, pen, a, x, y, None
    modes = ["bottom", "top", "left", "right"]
    probs = [0.45, 0.2, 0.15, 0.2]
    if row["style"] == "comb":
        modes, probs = ["bottom", "left", "right"], [0.6, 0.2, 0.2]
    mode = str(rng.choice(modes, p=probs))
    h = max(12.0, ih * rng.uniform(0.65, 1.0))
    a = digit_mask(rng, img, h, pen)
    while a.shape[1] > iw - 2:
        h *= 0.9 * (iw - 2) / a.shape[1]
        a = digit_mask(rng, img, h, pen)
    mh, mw = a.shape
    ink = a > 0.4
    xr = int(rng.integers(ix0 + 1, ix1 - mw)) if ix1 - mw > ix0 + 1 else ix0 + (iw - mw) // 2
    yr = int(rng.integers(iy0 + 1, iy1 - mh)) if iy1 - mh > iy0 + 1 else iy0 + (ih - mh) // 2
    if row["style"] == "comb":  # ticks are short: sit near the baseline
        yr = iy1 - mh - int(rng.integers(0, 3))
    k = int(rng.integers(1, row["lw"] + 9))
    for attempt in range(40):
        x, y = {"bottom": (xr, iy1 - mh + k), "top": (xr, iy0 - k), "right": (ix1 - mw + k, yr), "left": (ix0 - k, yr)}[
            mode
        ]
        if (line_mask[y : y + mh, x : x + mw].astype(bool) & ink).any():
            break
        k += 1
        if attempt == 15 and mode != "bottom":  # fall back to a tail over the bottom line
            mode, k = "bottom", 1
    else:
        mode = "near"  # (not expected) close but not touching
    return label, pen, a, x, y, mode


def render_form(rng):
    traits = []
    C = channels(rng, traits, 0.6)
    tight = rng.random() < 0.55
    traits.append("crop" if tight else "form_piece")
    main = random_row(rng, max_width=480 if tight else 1100)
    traits.append(f"{main['style']}={main['n']}" if main["style"] != "single" else "single")
    traits += [f"box={main['bw']}x{main['bh']}", f"lw={main['lw']}"]
    pname, pcol = pick_print(rng, C)
    traits.append(f"print={pname}")
    fill = None
    if main["style"] != "comb" and rng.random() < 0.3:
        fill = np.clip(255 - (255 - pcol) * rng.uniform(0.07, 0.2) - rng.uniform(0, 10), 0, 255)
        traits.append("fill")
    touching = rng.random() < 0.4
    angle = rng.uniform(1, 5) * rng.choice([-1, 1]) if rng.random() < 0.35 else 0.0

    rows = [main]
    if not tight:
        for _ in range(int(rng.integers(1, 4))):
            rows.append(random_row(rng, style=main["style"] if rng.random() < 0.6 else None, max_width=1100))
        rng.shuffle(rows)
    text_col = tone([rng.uniform(20, 70)] * 3, C) if rng.random() < 0.6 else pcol
    label_p = 0.5 if tight else 0.85

    # layout: title, then rows stacked vertically (each with an optional label)
    ops = []  # ("text", alpha, x, y) / ("row", row, x, y) / ("rule", y)
    pad = 140 + int(0.1 * 1400)
    y = pad
    xl = pad
    if not tight and rng.random() < 0.6:
        t = text_alpha(str(rng.choice(TITLE_WORDS)), int(rng.integers(18, 34)))
        ops.append(("text", t, xl, y))
        y += t.shape[0] + int(rng.integers(15, 45))
    right = xl
    main_box = None
    for row in rows:
        lab = None
        if rng.random() < label_p:
            word = str(rng.choice(LABEL_WORDS)) + (":" if rng.random() < 0.4 else "")
            lab = text_alpha(word, int(np.clip(row["bh"] * rng.uniform(0.3, 0.55), 10, 30)))
        above = lab is not None and rng.random() < 0.3
        x0r, y0r = xl, y
        if lab is not None and above:
            ops.append(("text", lab, xl, y))
            y += lab.shape[0] + int(rng.integers(4, 10))
        xb = xl + (lab.shape[1] + int(rng.integers(8, 26)) if lab is not None and not above else 0)
        if lab is not None and not above:
            ops.append(("text", lab, xl, y + (row["bh"] - lab.shape[0]) // 2))
        ops.append(("row", row, xb, y))
        xr = xb + row_width(row["style"], row["n"], row["bw"], row["lw"], row["gap"])
        right = max(right, xr)
        if row is main:
            main_box = (x0r, y0r, xr, y + row["bh"])
        y += row["bh"] + int(rng.integers(20, 70))
        if not tight and rng.random() < 0.35:
            ops.append(("rule", y - 12))
    content_w = right - xl
    if not tight:
        content_w = max(content_w, int(rng.integers(600, 1300)))
    H, W = y + pad, xl + content_w + pad

    layer = new_layer(H, W, C)
    line_mask = np.zeros((H, W), np.uint8)
    main_cells = None
    for op in ops:
        if op[0] == "text":
            paint(layer, op[1], lcol(text_col), op[2], op[3])
        elif op[0] == "rule":
            paint(layer, np.ones((int(rng.integers(1, 3)), content_w), np.float32), lcol(pcol), xl, op[1])
        else:
            is_main = op[1] is main
            cells, _ = draw_row(layer, op[1], op[2], op[3], pcol, fill, line_mask if is_main else None)
            if is_main:
                main_cells = cells
    if len(rows) > 1:
        traits.append(f"rows={len(rows)}")
    if any(op[0] == "text" for op in ops):
        traits.append("label")

    cell = main_cells[int(rng.integers(len(main_cells)))]
    label, pen, a, x, y, mode = digit_in_cell(rng, cell, line_mask, touching, main)
    ink_name, ink = pick_ink(rng, C)
    paint(layer, vary_ink(rng, a), lcol(ink), x, y)
    traits += [f"h={a.shape[0]}", f"pen={pen}", f"ink={ink_name}"]
    if mode == "near":
        traits.append("near_edge")
    elif mode:
        traits += ["touching", f"touch={mode}"]

    mat = cv2.getRotationMatrix2D(((main_box[0] + main_box[2]) / 2.0, (main_box[1] + main_box[3]) / 2.0), angle, 1.0)
    if angle:
        layer = warp_affine(layer, mat, (W, H))
        traits.append(f"rotated={angle:+.1f}")
    if tight:
        keep = box_corners(*main_box) + box_corners(x, y, x + a.shape[1], y + a.shape[0])
        c = transform_points(mat, keep)
        bx0, by0, bx1, by1 = c[:, 0].min(), c[:, 1].min(), c[:, 0].max(), c[:, 1].max()
        m = rng.integers(4, 41, 4)
        short = rng.uniform(150, 220) - (bx1 - bx0 + m[0] + m[2])
        if short > 0:  # a crop is at least ~150 px wide
            left = int(short * rng.uniform(0.2, 0.8))
            m[0] += left
            m[2] += int(short) - left + 1
    else:
        ys, xs = np.nonzero(layer[..., -1] > 0.02)
        bx0, by0, bx1, by1 = xs.min(), ys.min(), xs.max(), ys.max()
        m = rng.integers(20, 121, 4)
    cx0, cy0 = max(0, int(bx0) - int(m[0])), max(0, int(by0) - int(m[1]))
    cx1, cy1 = min(W, int(bx1) + int(m[2])), min(H, int(by1) + int(m[3]))
    layer = layer[cy0:cy1, cx0:cx1]
    canvas, base = make_paper(rng, cy1 - cy0, cx1 - cx0, C)
    layer_onto(canvas, layer)
    if rng.random() < 0.15:
        scan_shadow(rng, canvas, base, traits)
    img, ext, q = finish_scan(rng, canvas, traits)
    return img, str(label), traits, ext, q


# --------------------------------------------------------------------------
# Kind: photos (and blank photos)
# --------------------------------------------------------------------------


def table_texture(rng, H, W):
    """Dark table top (wood grain or plain dark), RGB."""
    if rng.random() < 0.6:
        colour = np.array([rng.uniform(60, 110), rng.uniform(38, 70), rng.uniform(20, 45)], np.float32)
    else:
        colour = np.array([rng.uniform(30, 75)] * 3, np.float32) + rng.uniform(-5, 5, 3).astype(np.float32)
    along_x = rng.random() < 0.5
    small = rng.standard_normal((6, 200) if along_x else (200, 6)).astype(np.float32)
    grain = cv2.resize(small, (W // 8, H // 8), interpolation=cv2.INTER_CUBIC)
    grain += 0.5 * smooth_noise(rng, H // 8, W // 8, 40)
    grain = cv2.resize(grain, (W, H), interpolation=cv2.INTER_LINEAR)
    f = (1.0 + 0.08 * np.clip(grain, -2, 2))[..., None]
    return f * colour


def render_photo(rng, with_digit=True):
    traits = ["photo"]
    portrait = rng.random() < 0.6
    H, W = (4000, 3000) if portrait else (3000, 4000)
    traits.append(f"{W}x{H}")
    C = 3
    table = rng.random() < 0.4
    persp = rng.random() < 0.4

    # where the sheet lies in the frame
    if table:
        side = str(rng.choice(["left", "right", "top", "bottom"]))
        f = rng.uniform(0.04, 0.22)
        rect = [-0.05 * W, -0.05 * H, 1.05 * W, 1.05 * H]
        if side == "left":
            rect[0] = f * W
        elif side == "right":
            rect[2] = (1 - f) * W
        elif side == "top":
            rect[1] = f * H
        else:
            rect[3] = (1 - f) * H
        traits.append(f"table={side}")
    else:
        e = rng.uniform(0.03, 0.08)
        rect = [-e * W, -e * H, (1 + e) * W, (1 + e) * H]
    src = np.float32([[rect[0], rect[1]], [rect[2], rect[1]], [rect[2], rect[3]], [rect[0], rect[3]]])
    quad = src.copy()
    if persp:
        quad += (rng.uniform(-0.025, 0.025, (4, 2)) * [W, H]).astype(np.float32)
        traits.append("perspective")

    # light: vignette x uneven shadow, scaled so darkest paper = ratio x brightest
    step = 16
    yy, xx = low_grid(H, W, step)
    hs, ws = yy.shape
    r2 = ((xx - W * rng.uniform(0.4, 0.6)) / (W / 2)) ** 2 + ((yy - H * rng.uniform(0.4, 0.6)) / (H / 2)) ** 2
    light = 1.0 - rng.uniform(0.15, 0.45) * r2 / 2.0
    light *= 1.0 - rng.uniform(0.2, 0.7) * shadow_edge(rng, yy, xx, H, W, soft=(0.02, 0.15))
    if rng.random() < 0.5:
        light *= 1.0 - rng.uniform(0.1, 0.4) * shadow_patch(rng, yy, xx, H, W)
    light *= 1.0 + rng.uniform(0.0, 0.25) * ramp(rng, hs, ws)
    sheet_lo = np.zeros((hs, ws), np.uint8)
    cv2.fillPoly(sheet_lo, [np.round(quad / [W / ws, H / hs]).astype(np.int32)], 1)
    on_paper = sheet_lo.astype(bool)
    lmin, lmax = float(light[on_paper].min()), float(light[on_paper].max())
    ratio = rng.uniform(0.2, 0.6)
    light = ratio + (1 - ratio) * (light - lmin) / max(lmax - lmin, 1e-6)
    light = np.clip(light, 0.6 * ratio, 1.0).astype(np.float32) * np.float32(rng.uniform(0.9, 1.02))
    traits.append(f"light_ratio={ratio:.2f}")

    paper, base = make_paper(rng, H, W, C, base=rng.uniform(232, 250))
    truth = ""
    if with_digit:
        label, img = pick_digit(rng)
        pen = choose_pen(rng, (0.2, 0.5, 0.3))
        height = int(rng.integers(100, 401))
        ink_name, ink = pick_ink(rng, C)
        a = vary_ink(rng, digit_mask(rng, img, height, pen))
        h, w = a.shape
        best = None
        for _try in range(200):
            x = int(rng.uniform(max(0.08 * W, rect[0] + 0.05 * W), min(0.92 * W, rect[2] - 0.05 * W) - w))
            y = int(rng.uniform(max(0.08 * H, rect[1] + 0.05 * H), min(0.92 * H, rect[3] - 0.05 * H) - h))
            lv = light[min(hs - 1, int((y + h / 2) / H * hs)), min(ws - 1, int((x + w / 2) / W * ws))]
            if best is None or lv > best[0]:
                best = (lv, x, y)
            if lv >= 0.35:
                break
        _, x, y = best
        paint(paper, a, ink, x, y)
        truth = str(label)
        traits += [f"h={height}", f"pen={pen}", f"ink={ink_name}"]

    if persp:
        hom = cv2.getPerspectiveTransform(src, quad)
        paper = cv2.warpPerspective(paper, hom, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if table:
        mask = np.zeros((H, W), np.uint8)
        cv2.fillPoly(mask, [np.round(quad * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        frame = table_texture(rng, H, W).astype(np.float32)
        # soft drop shadow of the sheet on the table
        sh = cv2.GaussianBlur(sheet_lo.astype(np.float32), (0, 0), rng.uniform(1.0, 3.0))
        sh = np.roll(sh, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
        frame *= (1.0 - 0.55 * cv2.resize(sh, (W, H), interpolation=cv2.INTER_LINEAR))[..., None]
        m = (mask.astype(np.float32) / 255.0)[..., None]
        paper -= frame
        paper *= m
        paper += frame
    frame = paper
    frame *= cv2.resize(light, (W, H), interpolation=cv2.INTER_LINEAR)[..., None]
    warm = rng.random() < 0.55
    if warm:
        gains = [1.0, rng.uniform(0.92, 0.98), rng.uniform(0.76, 0.9)]
    else:
        gains = [rng.uniform(0.84, 0.94), rng.uniform(0.94, 0.99), 1.0]
    frame *= np.array(gains, np.float32)
    traits.append("warm" if warm else "cool")
    s = rng.uniform(0.5, 1.5)
    frame = cv2.GaussianBlur(frame, (0, 0), s)
    traits.append(f"blur={s:.1f}")
    add_noise(rng, frame, rng.uniform(1.0, 2.5), mono=True)
    add_noise(rng, frame, rng.uniform(1.0, 3.0))
    img = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
    q = int(rng.integers(70, 93))
    traits.append(f"jpeg={q}")
    return img, truth, traits, "jpg", q


def render_photo_kind(rng):
    return render_photo(rng, True)


# --------------------------------------------------------------------------
# Kind: numbers
# --------------------------------------------------------------------------


def render_number(rng):
    traits = []
    C = channels(rng, traits)
    n = int(rng.integers(2, 9))
    digits = [1 if rng.random() < 0.3 else int(rng.choice([0, 2, 3, 4, 5, 6, 7, 8, 9])) for _ in range(n)]
    truth = "".join(str(d) for d in digits)
    h0 = rng.uniform(20, 80)
    slant = 0.0
    if rng.random() < 0.3:
        slant = rng.uniform(0.12, 0.35) if rng.random() < 0.85 else -rng.uniform(0.06, 0.15)
        traits.append(f"slant={slant:+.2f}")
    pen = choose_pen(rng)
    ink_name, ink = pick_ink(rng, C)
    masks = [digit_mask(rng, pick_digit(rng, d)[1], h0 * rng.uniform(0.9, 1.1), pen, shear=slant) for d in digits]

    touch = {i for i in range(n - 1) if rng.random() < 0.13}
    beside_one = [i for i in range(n - 1) if digits[i] == 1 or digits[i + 1] == 1]
    if beside_one and rng.random() < 0.3:
        touch.add(int(rng.choice(beside_one)))

    Hc = int(h0 * 2.4) + 40
    Wc = int(sum(m.shape[1] for m in masks) + n * h0 * 0.6) + 60
    work = np.zeros((Hc, Wc), np.float32)
    rmost = np.full(Hc, -(10**6), np.int64)  # rightmost ink column per row so far
    baseline = int(h0 * 1.5) + 20
    overlaps = 0
    X = 20
    for i, m in enumerate(masks):
        mh, mw = m.shape
        y = int(round(baseline + h0 * rng.uniform(-0.06, 0.06))) - mh
        ink_rows = m > 0.35
        has = ink_rows.any(axis=1)
        left = np.where(has, ink_rows.argmax(axis=1), 10**6)
        right = np.where(has, mw - 1 - ink_rows[:, ::-1].argmax(axis=1), -(10**6))
        if i > 0:
            if (i - 1) in touch:
                prev = rmost[y : y + mh]  # slide until the inks touch
            else:  # keep clear, also diagonally
                pad = np.pad(rmost, 3, constant_values=-(10**6))
                prev = np.max(np.stack([pad[y + 3 + d : y + 3 + d + mh] for d in range(-3, 4)]), 0)
            ok = has & (prev > -(10**5))
            X_touch = int((prev[ok] - left[ok]).max()) + 1 if ok.any() else int(rmost.max()) + 1
            if (i - 1) in touch:
                k = 0 if rng.random() < 0.6 else int(rng.integers(1, min(4, max(1, round(0.06 * h0))) + 1))
                overlaps += k > 0
                X = X_touch - k
            else:
                X = X_touch + max(3, int(round(h0 * rng.uniform(0.12, 0.45))))
        reg = work[y : y + mh, X : X + mw]
        np.maximum(reg, m, out=reg)
        rmost[y : y + mh] = np.maximum(rmost[y : y + mh], np.where(has, X + right, -(10**6)))
    a = vary_ink(rng, crop_to_ink(work))
    ys, xs = np.nonzero(work > 0.03)
    ih, iw = a.shape

    deco = str(rng.choice(["none", "rule", "box"], p=[0.45, 0.3, 0.25]))
    ml, mr = (int(rng.uniform(0.2, 1.2) * h0) + 6 for _ in range(2))
    mt, mb = (int(rng.uniform(0.2, 0.9) * h0) + 6 for _ in range(2))
    if deco == "box":
        ml, mr, mt, mb = ml + 8, mr + 8, mt + 8, mb + 8
    Hp, Wp = ih + mt + mb, iw + ml + mr
    canvas, base = make_paper(rng, Hp, Wp, C)
    if deco == "rule":
        ry = mt + ih + int(rng.integers(2, int(0.15 * h0) + 4))
        col = tone((rng.uniform(80, 160), rng.uniform(90, 170), rng.uniform(120, 200)), C)
        th = int(rng.integers(1, 3))
        x0, x1 = int(rng.uniform(0, ml / 2)), Wp - int(rng.uniform(0, mr / 2))
        paint(canvas, np.full((th, x1 - x0), rng.uniform(0.6, 1.0), np.float32), col, x0, min(ry, Hp - th - 1))
        traits.append("rule")
    elif deco == "box":
        _, col = pick_print(rng, C, ["black", "grey", "blue", "red", "green"])
        lw = int(rng.integers(1, 4))
        bx0 = int(rng.integers(2, ml - 4 - lw + 1))
        by0 = int(rng.integers(2, mt - 4 - lw + 1))
        bx1 = Wp - int(rng.integers(2, mr - 4 - lw + 1))
        by1 = Hp - int(rng.integers(2, mb - 4 - lw + 1))
        for r in [
            (bx0, by0, bx1, by0 + lw),
            (bx0, by1 - lw, bx1, by1),
            (bx0, by0, bx0 + lw, by1),
            (bx1 - lw, by0, bx1, by1),
        ]:
            paint(canvas, np.ones((r[3] - r[1], r[2] - r[0]), np.float32), col, r[0], r[1])
        traits.append("box")
    paint(canvas, a, ink, ml, mt)

    traits += [f"digits={n}", f"h={int(h0)}", f"pen={pen}", f"ink={ink_name}"]
    ones = digits.count(1)
    if ones:
        traits.append(f"ones={ones}")
    if touch:
        traits.append(f"touching={len(touch)}")
        if overlaps:
            traits.append(f"overlap={overlaps}")
        if any(digits[i] == 1 or digits[i + 1] == 1 for i in touch):
            traits.append("touching_one")
    if rng.random() < 0.1:
        scan_shadow(rng, canvas, base, traits)
    img, ext, q = finish_scan(rng, canvas, traits)
    return img, truth, traits, ext, q


# --------------------------------------------------------------------------
# Kind: blanks
# --------------------------------------------------------------------------


def paste_tiles(rng, canvas, traits):
    """2-3 paper tiles of slightly different tone with visible seams."""
    H, W, C = canvas.shape
    k = int(rng.integers(2, 4))
    vertical = rng.random() < 0.5  # seams running top-bottom
    L = W if vertical else H
    cuts = np.sort(rng.uniform(0.2, 0.8, k - 1)) * L
    coord = np.arange(L, dtype=np.float32)
    other = np.arange(H if vertical else W, dtype=np.float32)
    for c in cuts:
        tilt = rng.uniform(-0.01, 0.01)
        edge = c + tilt * (other - other.mean())  # per row/col
        beyond = coord[None, :] >= edge[:, None]
        if not vertical:
            beyond = beyond.T
        tint = rng.uniform(3, 12) * rng.choice([-1, 1]) + rng.uniform(-3, 3, C)
        canvas += beyond[..., None] * tint.astype(np.float32)
        seam = np.abs(coord[None, :] - edge[:, None]) < rng.uniform(0.7, 1.8)
        if not vertical:
            seam = seam.T
        canvas -= seam[..., None] * np.float32(rng.uniform(10, 35))
    traits.append(f"tiles={k}")


def draw_empty_boxes(rng, canvas, traits, C):
    H, W = canvas.shape[:2]
    row = random_row(
        rng,
        style=str(rng.choice(["boxes", "single", "comb"], p=[0.7, 0.1, 0.2])),
        max_width=W - 40,
        bh=int(rng.integers(30, max(31, min(121, H - 30)))),
    )
    if row["bh"] > H - 20 or row_width(row["style"], row["n"], row["bw"], row["lw"], row["gap"]) > W - 20:
        return
    _, pcol = pick_print(rng, C)
    fill = None
    if row["style"] != "comb" and rng.random() < 0.3:
        fill = np.clip(255 - (255 - pcol) * rng.uniform(0.07, 0.2), 0, 255)
    layer = new_layer(H, W, C)
    rw = row_width(row["style"], row["n"], row["bw"], row["lw"], row["gap"])
    slot = row["bh"] + int(rng.integers(20, 80))  # rows never overlap
    nslots = max(1, (H - 20) // slot)
    nrows = min(nslots, 1 if H < 400 else int(rng.integers(1, 4)))
    first = int(rng.integers(10, max(11, H - 10 - (nslots - 1) * slot - row["bh"])))
    picks = sorted(rng.choice(nslots, size=nrows, replace=False))
    for y in (first + int(i) * slot for i in picks):
        x = int(rng.integers(10, W - rw - 10 + 1))
        draw_row(layer, row, x, y, pcol, fill)
    traits.append(f"empty_{row['style']}={row['n']}")
    if rng.random() < 0.4:
        angle = rng.uniform(1, 3) * rng.choice([-1, 1])
        layer = warp_affine(layer, cv2.getRotationMatrix2D((W / 2.0, H / 2.0), angle, 1.0), (W, H))
        traits.append(f"rotated={angle:+.1f}")
    layer_onto(canvas, layer)


def render_blank(rng):
    r = rng.random()
    if r < 0.14:
        img, _, traits, ext, q = render_photo(rng, with_digit=False)
        return img, "", traits, ext, q
    traits = []
    if r < 0.5:
        W = int(rng.integers(200, 601))
        H = int(rng.integers(60, 601))
        traits.append(f"strip={W}x{H}")
    else:
        H, W, _ = page_size(rng, traits)
    C = channels(rng, traits)
    canvas, base = make_paper(rng, H, W, C)
    feats = [
        f
        for f, p in [
            ("tiles", 0.15),
            ("ruled", 0.2),
            ("header", 0.2),
            ("boxes", 0.2),
            ("shading", 0.3),
            ("shadow_edge", 0.25),
            ("streak", 0.25),
            ("dust", 0.45),
        ]
        if rng.random() < p
    ]
    if "tiles" in feats:
        paste_tiles(rng, canvas, traits)
    if "ruled" in feats:
        gap = draw_rules(rng, canvas, C)
        traits.append(f"ruled={int(gap)}")
    if "header" in feats:
        size = int(np.clip(rng.uniform(0.008, 0.016) * H, 10, 40)) if H > 1000 else int(rng.integers(10, 18))
        t = text_alpha(header_text(rng), size)
        if t.shape[1] < W - 10 and t.shape[0] < H - 10:
            x = int(rng.integers(5, W - t.shape[1] - 4))
            y = int(rng.integers(3, max(4, min(H - t.shape[0] - 3, int(0.08 * H) + 4))))
            paint(canvas, t * np.float32(rng.uniform(0.35, 0.7)), tone([rng.uniform(60, 140)] * 3, C), x, y)
            traits.append("header")
    if "boxes" in feats:
        draw_empty_boxes(rng, canvas, traits, C)
    if "shading" in feats:
        yy, xx = low_grid(H, W, 8)
        light = 1.0 - (rng.uniform(15, 40) / base) * shadow_patch(rng, yy, xx, H, W)
        canvas *= cv2.resize(light.astype(np.float32), (W, H))[..., None]
        traits.append("shading")
    if "shadow_edge" in feats:
        yy, xx = low_grid(H, W, 8)
        light = 1.0 - (rng.uniform(20, 45) / base) * shadow_edge(rng, yy, xx, H, W)
        canvas *= cv2.resize(light.astype(np.float32), (W, H))[..., None]
        traits.append("shadow_edge")
    if "streak" in feats:
        k = int(rng.integers(1, 4))
        for _ in range(k):
            draw_streak(rng, canvas)
        traits.append(f"streaks={k}")
    if "dust" in feats:
        area = H * W / 1e6
        draw_specks(rng, canvas, int(rng.integers(3, 10) + area * rng.uniform(2, 10)))
        nh = int(rng.integers(0, 4))
        if nh:
            draw_hairs(rng, canvas, nh)
        traits.append("dust" + (f" hairs={nh}" if nh else ""))
    if not feats:
        traits.append("plain")
    img, ext, q = finish_scan(rng, canvas, traits)
    return img, "", traits, ext, q


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

RENDERERS = {
    "pages": render_page,
    "forms": render_form,
    "photos": render_photo_kind,
    "numbers": render_number,
    "blanks": render_blank,
}


def render_one(task):
    kind, index, seed, out_dir = task
    rng = np.random.default_rng(np.random.SeedSequence([seed, KIND_ID[kind], index]))
    img, truth, traits, ext, q = RENDERERS[kind](rng)
    rel = f"{kind}/{index:04d}.{ext}"
    save_image(Path(out_dir) / rel, img, ext, q)
    return rel, kind, truth, " ".join(traits)


def _init_worker():
    cv2.setNumThreads(1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=2468)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        ap.error(f"unknown kinds {bad}; choose from {','.join(KINDS)}")
    out = Path(args.out_dir)
    for k in kinds:
        (out / k).mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    mnist()  # load once, shared by forked workers
    heavy_first = sorted(kinds, key=lambda k: (k != "photos", k != "pages"))
    tasks = [(k, i, args.seed, str(out)) for k in heavy_first for i in range(args.count)]
    if args.jobs > 1:
        ctx = mp.get_context("fork")
        with ctx.Pool(args.jobs, initializer=_init_worker) as pool:
            rows = list(pool.imap_unordered(render_one, tasks, chunksize=1))
    else:
        _init_worker()
        rows = [render_one(t) for t in tasks]
    rows.sort(key=lambda r: (KIND_ID[r[1]], r[0]))

    tmp = out / ".truth.csv.tmp"
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "kind", "truth", "traits"])
        w.writerows(rows)
    os.replace(tmp, out / "truth.csv")
    counts = {k: sum(r[1] == k for r in rows) for k in kinds}
    print(
        f"wrote {len(rows)} images to {out} in {time.time() - t0:.1f}s: "
        + ", ".join(f"{k}={v}" for k, v in counts.items())
    )


if __name__ == "__main__":
    main()
