#!/usr/bin/env python3
"""Render synthetic scans of handwritten digits with known truth (renderer E).

Five kinds of image, each listed in OUT/truth.csv (file, kind, truth, traits):

* pages    one digit 25-150 px tall somewhere on a whole A4/letter page scanned at 100-300 dpi
* forms    one digit written in a box of a printed form (a single box, a row of boxes, or boxes sharing walls)
* photos   a 3000x4000 phone photo of a sheet with one digit, with vignette, shadow, cast, blur and noise
* numbers  a number of 2-10 digits on a strip or in a field, some neighbours touching
* blanks   sheets with no digit at all (grain, shading, ruled lines, empty boxes, paper tiles, headers, a photo)

Every digit is an MNIST *training* digit (toolkit.data.load_mnist, train split): cropped, upscaled with
smoothing, thresholded, thinned or thickened by erosion/dilation, slanted by shear, anti-aliased and
composited as ink (multiplied) onto synthetic paper.  This renderer was written independently from a list of
conditions only, without looking at any other renderer.

The randomness of each image is seeded from (seed, kind, index), so the output does not depend on --jobs.
Images are written first (each atomically), truth.csv last.

Usage: render_scans_e.py OUT_DIR [--kinds pages,forms,photos,numbers,blanks] [--count 60] [--seed 777] [--jobs 2]
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from toolkit.data import load_mnist  # noqa: E402

KINDS = ("pages", "forms", "photos", "numbers", "blanks")
X_TRAIN: np.ndarray | None = None
BY_LABEL: list[np.ndarray] = []
BIG = 10**6


def init_mnist() -> None:
    """Load the MNIST training split once (before the worker pool forks)."""
    global X_TRAIN, BY_LABEL
    if X_TRAIN is None:
        (x_train, y_train), _ = load_mnist()
        X_TRAIN = x_train
        BY_LABEL = [np.flatnonzero(y_train == d) for d in range(10)]


# --- paper, light, dirt --------------------------------------------------------------------------


def smooth_noise(rng, h, w, cell, cell_x=None):
    """Low-frequency noise (std up to ~1) with features about `cell` px across (cell_x: horizontally)."""
    cell_x = cell if cell_x is None else cell_x
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell_x) + 2)
    small = rng.standard_normal((gh, gw), dtype=np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


PAPER_TINTS = {
    "white": (1.0, 1.0, 1.0),
    "cream": (1.0, 0.97, 0.9),
    "grey": (0.96, 0.96, 0.96),
    "bluish": (0.95, 0.97, 1.0),
    "recycled": (0.97, 0.95, 0.9),
}


def make_paper(rng, h, w, tone=None, grain=None):
    """Float32 RGB paper (0..255): tone, tint, cloudy formation and fine grain.  Returns (img, trait)."""
    tone = rng.uniform(205, 250) if tone is None else tone
    grain = rng.uniform(1.0, 4.0) if grain is None else grain
    name = str(rng.choice(list(PAPER_TINTS)))
    tint = np.array(PAPER_TINTS[name], np.float32) * (1 + rng.normal(0, 0.008, 3)).astype(np.float32)
    lum = tone * (1 + rng.uniform(0.002, 0.007) * smooth_noise(rng, h, w, rng.uniform(30, 120)))
    lum += 0.8 * grain * smooth_noise(rng, h, w, 3)
    lum += grain * rng.standard_normal((h, w), dtype=np.float32)
    return lum[..., None] * tint, f"paper={name} tone={tone:.0f} grain={grain:.1f}"


def lighting(rng, h, w, amount):
    """Multiplicative light map: 1 at its brightest, about 1-amount at its darkest (gradient + hot spot)."""
    hh, ww = max(2, h // 8), max(2, w // 8)
    yy, xx = np.mgrid[0:hh, 0:ww].astype(np.float32)
    yy, xx = yy / hh, xx / ww
    a = rng.uniform(0, 2 * np.pi)
    cx, cy = rng.uniform(0.2, 0.8, 2)
    m = rng.uniform(0.3, 1) * (np.cos(a) * xx + np.sin(a) * yy) + rng.uniform(0.3, 1) * (
        (xx - cx) ** 2 + (yy - cy) ** 2
    )
    m = (m - m.min()) / (np.ptp(m) + 1e-6)
    return cv2.resize(1 - amount * m, (w, h), interpolation=cv2.INTER_LINEAR)


def soft_blob(rng, h, w, s=8):
    """A soft-edged shape (0..1, peak 1): a random blob, or a band along one edge.  Returns (map, kind)."""
    hh, ww = max(4, h // s), max(4, w // s)
    m = np.zeros((hh, ww), np.uint8)
    if rng.random() < 0.5:
        kind = "blob"
        cx, cy = rng.uniform(0, ww), rng.uniform(0, hh)
        k = int(rng.integers(5, 10))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = rng.uniform(0.15, 0.45) * min(hh, ww) * rng.uniform(0.6, 1.4, k)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
    else:
        kind = "band"
        v = np.linspace(-0.05, 1.05, 7)
        u = rng.uniform(0.1, 0.45) + rng.uniform(-0.08, 0.08, 7)
        uv = np.concatenate([[[-0.05, -0.05]], np.stack([u, v], 1), [[-0.05, 1.05]]])
        side = int(rng.integers(4))
        x, y = [(uv[:, 0], uv[:, 1]), (1 - uv[:, 0], uv[:, 1]), (uv[:, 1], uv[:, 0]), (uv[:, 1], 1 - uv[:, 0])][side]
        pts = np.stack([x * ww, y * hh], 1)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    f = cv2.GaussianBlur(m.astype(np.float32), (0, 0), rng.uniform(0.02, 0.08) * min(hh, ww) + 1)
    f /= max(float(f.max()), 1e-6)
    return cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR), kind


def add_shadow(rng, img, delta):
    """Darken a soft-edged region by `delta` grey levels at its core."""
    m, kind = soft_blob(rng, img.shape[0], img.shape[1])
    ref = float(np.median(img[::16, ::16]))
    img *= (1 - m * (delta / max(ref, 1.0)))[..., None]
    return f"shadow=-{delta:.0f} shadow_{kind}"


def add_specks(rng, img, n, hairs=0):
    """Dust: small dark dots and a few short hairs."""
    h, w = img.shape[:2]
    for i in range(n + hairs):
        r = rng.uniform(0.4, 2.2)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        pad = 14
        x0, y0 = int(x) - pad, int(y) - pad
        m = np.zeros((2 * pad, 2 * pad), np.uint8)
        c = (int((x - x0) * 16), int((y - y0) * 16))
        if i < n:
            cv2.circle(m, c, max(1, int(r * 16)), int(rng.integers(90, 256)), -1, cv2.LINE_AA, 4)
        else:
            a = rng.uniform(0, np.pi)
            t = np.linspace(-1, 1, 6)[:, None] * rng.uniform(4, 12)
            pts = np.array(c) / 16 + t * [np.cos(a), np.sin(a)] + rng.normal(0, 1.0, (6, 2))
            cv2.polylines(
                m, [np.round(pts * 16).astype(np.int32)], False, int(rng.integers(60, 160)), 1, cv2.LINE_AA, 4
            )
        ink(img, m.astype(np.float32) / 255 * 0.85, (45, 42, 40), x0, y0)
    return f"specks={n}" + (f" hairs={hairs}" if hairs else "")


def ink(img, alpha, colour, x=0, y=0):
    """Darken img (float RGB) by alpha (0..1) of the given ink colour, alpha's top-left at (x, y); clipped."""
    h, w = alpha.shape
    H, W = img.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
    c = np.asarray(colour, np.float32) / 255
    img[y0:y1, x0:x1] *= 1 - a * (1 - c)


def finish(rng, img, blur, noise):
    """Optics blur and sensor/scanner noise."""
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    if noise > 0:
        img += noise * rng.standard_normal(img.shape[:2], dtype=np.float32)[..., None]
    return img


def encode(img, gray, ext, quality):
    u8 = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    u8 = cv2.cvtColor(u8, cv2.COLOR_RGB2GRAY if gray else cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode("." + ext, u8, params)
    if not ok:
        raise RuntimeError("image encoding failed")
    return buf.tobytes()


def pick_format(rng, p_gray, p_jpeg, q=(70, 95)):
    gray = bool(rng.random() < p_gray)
    ext = "jpg" if rng.random() < p_jpeg else "png"
    quality = int(rng.integers(q[0], q[1] + 1))
    trait = ("gray" if gray else "rgb") + (f" jpeg q={quality}" if ext == "jpg" else " png")
    return (ext, gray, quality), trait


# --- digits as ink -----------------------------------------------------------------------------


def stroke_width(m):
    """Mean stroke width of a binary mask, estimated as 2 * area / perimeter."""
    contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    per = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(m.sum()) / max(per, 1.0)


def glyph(idx, height, stroke_px, slant, soft):
    """Alpha map (float32 0..1, cropped to the ink) of MNIST training digit `idx`, about `height` px tall.

    Worked at twice the final size: cubic upscale, smoothing, threshold, erode/dilate toward the stroke width
    (erosion stops before it would break strokes apart), shear, then area-downscale for anti-aliasing."""
    g = X_TRAIN[idx].astype(np.float32) / 255.0
    ys, xs = np.nonzero(g > 0.25)
    g = np.pad(g[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], 3)
    f = 2.0 * height / (ys.max() - ys.min() + 1)
    big = cv2.GaussianBlur(cv2.resize(g, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC), (0, 0), 0.35 * f)
    m = (big > 0.4).astype(np.uint8)
    cur = stroke_width(m)
    r = int(round((cur - 2 * stroke_px) / 2))
    if r > 0:
        parts = cv2.connectedComponents(m)[0]
        r = min(r, int(0.3 * cur))
        while r > 0:
            e = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
            if cv2.connectedComponents(e)[0] <= parts and e.sum() > 0.3 * m.sum():
                m = e
                break
            r -= 1
    elif r < 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (1 - 2 * r, 1 - 2 * r)))
    if slant:
        h, w = m.shape
        off = slant * h if slant > 0 else 0.0
        M = np.float32([[1, -slant, off + 2], [0, 1, 0]])
        m = cv2.warpAffine(m * 255, M, (int(w + abs(slant) * h + 4), h), flags=cv2.INTER_LINEAR)
        m = (m > 127).astype(np.uint8)
    h, w = m.shape
    a = cv2.resize(m.astype(np.float32), (max(1, round(w / 2)), max(1, round(h / 2))), interpolation=cv2.INTER_AREA)
    a = cv2.GaussianBlur(np.pad(a, 3), (0, 0), soft)
    ys, xs = np.nonzero(a > 0.02)
    return np.ascontiguousarray(a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def ink_bbox(shape, thr=0.05):
    ys, xs = np.nonzero(shape > thr)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


INKS = (
    ("black", (28, 28, 32), 0.3),
    ("blue", (35, 55, 150), 0.3),
    ("navy", (25, 30, 85), 0.15),
    ("pencil", (85, 85, 90), 0.15),
    ("felt", (14, 14, 16), 0.1),
)


class Pen:
    """One writer's pen: ink colour and opacity, stroke width (as a fraction of digit height), edge softness."""

    def __init__(self, rng, stroke=(0.05, 0.15)):
        i = int(rng.choice(len(INKS), p=[p for *_, p in INKS]))
        self.name = INKS[i][0]
        self.colour = np.clip(np.array(INKS[i][1], np.float32) + rng.normal(0, 6, 3), 0, 255)
        self.opacity = rng.uniform(0.55, 0.8) if self.name == "pencil" else rng.uniform(0.82, 1.0)
        self.stroke = rng.uniform(*stroke)
        if self.name == "felt":
            self.stroke = max(self.stroke, 0.12)
        self.soft = rng.uniform(0.3, 0.7)

    def digit(self, rng, label, height, slant=0.0, idx=None):
        """(shape alpha, mnist index) of a training digit with this label."""
        idx = int(rng.choice(BY_LABEL[label])) if idx is None else idx
        return glyph(idx, height, max(1.4, self.stroke * height), slant, self.soft), idx

    def put(self, rng, img, shape, x, y):
        a = shape * self.opacity
        if self.name == "pencil":
            a *= np.clip(1 - 0.3 * np.abs(rng.standard_normal(a.shape, dtype=np.float32)), 0.35, 1)
        ink(img, a, self.colour, x, y)

    def trait(self):
        return f"ink={self.name} stroke={self.stroke:.2f}"


def pick_slant(rng, p=0.5, lo=0.08, hi=0.35):
    if rng.random() >= p:
        return 0.0
    return float(rng.uniform(lo, hi) * (1 if rng.random() < 0.8 else -1))


def ink_in_rect(shape, gx, gy, rect, thr=0.5):
    """Pixels of shape (placed at gx, gy) with alpha > thr inside the inclusive rect (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = rect
    h, w = shape.shape
    ax0, ay0, ax1, ay1 = max(x0 - gx, 0), max(y0 - gy, 0), min(x1 - gx + 1, w), min(y1 - gy + 1, h)
    if ax0 >= ax1 or ay0 >= ay1:
        return 0
    return int((shape[ay0:ay1, ax0:ax1] > thr).sum())


# --- handwriting-like scribbles and printed layouts -----------------------------------------------


def chaikin(p, n=3):
    for _ in range(n):
        q, r = 0.75 * p[:-1] + 0.25 * p[1:], 0.25 * p[:-1] + 0.75 * p[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        p = np.vstack([p[:1], mid, p[-1:]])
    return p


def scribble(rng, length, xh, thick):
    """Mask (uint8) of cursive-looking words along a baseline; returns (mask, baseline y in the mask)."""
    base = int(2.3 * xh) + thick + 2
    mask = np.zeros((base + int(1.1 * xh) + thick + 2, int(length + 9 * xh + 4)), np.uint8)
    x = 0.5 * xh + 2
    while x < length:
        pts = [(x, base - rng.uniform(0, 0.4) * xh)]
        for _ in range(int(rng.integers(2, 9))):
            w, kind = xh * rng.uniform(0.45, 0.95), rng.random()
            top = xh * (rng.uniform(1.6, 2.1) if kind < 0.2 else rng.uniform(0.75, 1.05))
            bottom = -xh * rng.uniform(0.6, 0.9) if kind > 0.92 else 0.0
            pts += [(x + w * rng.uniform(0.1, 0.5), base - top), (x + w * rng.uniform(0.6, 1.0), base - bottom)]
            x += w
        p = chaikin(np.array(pts, np.float64), 3)
        cv2.polylines(mask, [np.round(p * 16).astype(np.int32)], False, 255, thick, cv2.LINE_AA, 4)
        x += xh * rng.uniform(0.7, 1.6)
    return mask, base


FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
)
LABELS = (
    "Code",
    "No.",
    "Qty",
    "Ref",
    "Total",
    "Age",
    "Item",
    "Zip",
    "ID",
    "Class",
    "Score",
    "Amount",
    "Day",
    "Box",
    "Unit",
    "Grade",
    "Seat",
    "Room",
    "Size",
    "Count",
    "Part",
    "Level",
    "Row",
    "Group",
    "Lot",
    "Key",
    "Set",
    "Tel",
    "Account",
    "Month",
)
HEADERS = (
    "OFFICE USE ONLY",
    "APPLICATION FORM",
    "Section B",
    "ORDER FORM",
    "Survey sheet",
    "For official use",
    "CUSTOMER DETAILS",
    "Stock record",
    "INSPECTION SHEET",
    "Please write clearly in black ink",
    "Attendance register",
    "Delivery note",
)
LINE_COLOURS = {
    "black": (25, 25, 25),
    "grey": (125, 125, 125),
    "blue": (40, 80, 190),
    "red": (200, 45, 45),
    "green": (40, 140, 70),
}
FILLS = {
    "yellow": (255, 248, 205),
    "blue": (228, 238, 255),
    "pink": (255, 230, 232),
    "green": (230, 248, 232),
    "grey": (236, 236, 236),
}
SIDES = ("left", "right", "top", "bottom")


def font_for(rng, cap_h):
    """(font, scale, thickness) printing capitals about cap_h px tall."""
    font = FONTS[int(rng.integers(len(FONTS)))]
    (_, h1), _ = cv2.getTextSize("H", font, 1.0, 1)
    return font, cap_h / h1, max(1, int(round(cap_h / 15)))


class Layout:
    """Printed elements (filled rects, text, fills) in layout coordinates, drawn later onto a canvas."""

    def __init__(self):
        self.rects, self.texts, self.fills, self.bounds = [], [], [], []

    def box(self, x, y, w, h, lw):
        x1, y1 = x + w - 1, y + h - 1
        sides = {
            "top": (x, y, x1, y + lw - 1),
            "bottom": (x, y1 - lw + 1, x1, y1),
            "left": (x, y, x + lw - 1, y1),
            "right": (x1 - lw + 1, y, x1, y1),
        }
        self.rects += sides.values()
        self.bounds.append((x, y, x1, y1))
        return sides

    def text(self, s, x, y, font, scale, thick):
        (tw, th), base = cv2.getTextSize(s, font, scale, thick)
        self.texts.append((s, int(x), int(y), font, scale, thick))
        self.bounds.append((int(x), int(y) - th, int(x) + tw, int(y) + base))

    def hline(self, y, x0, x1, lw, bound=True):
        self.rects.append((x0, y, x1, y + lw - 1))
        if bound:
            self.bounds.append((x0, y, x1, y + lw - 1))

    def extent(self):
        b = np.array(self.bounds)
        return int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max())

    def draw(self, img, ox, oy, line_col, text_col, opacity, fill_col=None):
        H, W = img.shape[:2]
        if fill_col is not None:
            for x0, y0, x1, y1 in self.fills:
                img[max(y0 + oy, 0) : max(y1 + oy + 1, 0), max(x0 + ox, 0) : max(x1 + ox + 1, 0)] *= (
                    np.array(fill_col, np.float32) / 255
                )
        lm = np.zeros((H, W), np.float32)
        for x0, y0, x1, y1 in self.rects:
            lm[max(y0 + oy, 0) : max(y1 + oy + 1, 0), max(x0 + ox, 0) : max(x1 + ox + 1, 0)] = 1
        ink(img, lm * opacity, line_col)
        if self.texts:
            tm = np.zeros((H, W), np.uint8)
            for s, x, y, font, scale, thick in self.texts:
                cv2.putText(tm, s, (x + ox, y + oy), font, scale, 255, thick, cv2.LINE_AA)
            ink(img, tm.astype(np.float32) / 255 * opacity, text_col)


def box_row(rng, lay, x, y, style, n, bw, bh, lw, gap, label, side, font):
    """A row of n boxes (with an optional label left of or above it); returns [(inner rect, sides)]."""
    step = {"row": bw + gap, "shared": bw - lw}.get(style, bw)
    out = []
    for i in range(n):
        bx = x + i * step
        sides = lay.box(bx, y, bw, bh, lw)
        inner = (bx + lw, y + lw, bx + bw - 1 - lw, y + bh - 1 - lw)
        lay.fills.append(inner)
        out.append((inner, sides))
    if label:
        (tw, th), _ = cv2.getTextSize(label, *font[:2], font[2])
        if side == "left":
            lay.text(label, x - tw - int(rng.integers(6, 20)), y + (bh + th) // 2, *font)
        else:
            lay.text(label, x + int(rng.integers(0, 10)), y - int(rng.integers(5, 12)), *font)
    return out


def compose(rng, lay, region, colours, inks=(), angle=0.0, fill_col=None, paper=None):
    """Paper covering `region` of the layout, printed elements, inks [(pen, shape, x, y)], rotated by angle.

    A rotated piece is drawn on a padded canvas and cropped to the bounding box of the rotated region."""
    rx0, ry0, rx1, ry1 = region
    W, H = rx1 - rx0 + 1, ry1 - ry0 + 1
    P = int(0.1 * max(W, H)) + 12 if angle else 0
    CW, CH = W + 2 * P, H + 2 * P
    ox, oy = P - rx0, P - ry0
    img, ptrait = make_paper(rng, CH, CW, **(paper or {}))
    line_col, text_col, opacity = colours
    lay.draw(img, ox, oy, line_col, text_col, opacity, fill_col)
    for pen, shape, x, y in inks:
        pen.put(rng, img, shape, x + ox, y + oy)
    if angle:
        M = cv2.getRotationMatrix2D((CW / 2, CH / 2), angle, 1.0)
        img = cv2.warpAffine(img, M, (CW, CH), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        pts = np.array([[P, P, 1], [P + W, P, 1], [P, P + H, 1], [P + W, P + H, 1]], np.float64) @ M.T
        x0, y0 = np.floor(pts.min(0)).astype(int)
        x1, y1 = np.ceil(pts.max(0)).astype(int)
        img = np.ascontiguousarray(img[max(y0, 0) : min(y1, CH), max(x0, 0) : min(x1, CW)])
    return img, ptrait


def print_colours(rng):
    name = str(rng.choice(list(LINE_COLOURS), p=[0.35, 0.2, 0.2, 0.15, 0.1]))
    line = np.clip(np.array(LINE_COLOURS[name], np.float32) + rng.normal(0, 8, 3), 0, 255)
    text = line if rng.random() < 0.5 else np.array((30, 30, 30), np.float32)
    return name, (line, text, rng.uniform(0.8, 1.0))


# --- the five kinds -----------------------------------------------------------------------------


def render_pages(rng, index, seed=0):
    tr = []
    paper_size = "a4" if rng.random() < 0.6 else "letter"
    dpi = int(rng.choice([100, 120, 150, 200, 240, 300])) if rng.random() < 0.7 else int(rng.integers(100, 301))
    inches = (8.27, 11.69) if paper_size == "a4" else (8.5, 11.0)
    W, H = round(inches[0] * dpi), round(inches[1] * dpi)
    if rng.random() < 0.1:
        W, H = H, W
    tr += [f"{paper_size} dpi={dpi} {W}x{H}"]
    img, ptrait = make_paper(rng, H, W)
    angle = float(rng.uniform(1, 5) * rng.choice([-1, 1])) if rng.random() < 0.35 else 0.0
    pen = Pen(rng)
    label, height = int(rng.integers(10)), int(rng.integers(25, 151))
    shape, _ = pen.digit(rng, label, height, pick_slant(rng, 0.4))
    ah, aw = shape.shape
    margin = int((0.16 if angle else 0.04) * min(W, H))
    gx, gy = int(rng.integers(margin, W - margin - aw)), int(rng.integers(margin, H - margin - ah))
    pen.put(rng, img, shape, gx, gy)
    tr += [f"digit_h={height}", pen.trait(), ptrait]
    if rng.random() < 0.45:  # a faint handwritten header or note elsewhere on the page
        xh = max(5.0, dpi * rng.uniform(0.05, 0.1))
        length = W * rng.uniform(0.2, 0.6)
        for _ in range(40):
            header = rng.random() < 0.5
            x = rng.uniform(0.06 * W, 0.94 * W - length)
            y = rng.uniform(0.05 * H + 2.5 * xh, 0.15 * H) if header else rng.uniform(0.1 * H, 0.95 * H)
            if (
                x + length + 9 * xh + 30 < gx
                or x - 30 > gx + aw
                or y + 1.5 * xh + 30 < gy
                or y - 2.5 * xh - 30 > gy + ah
            ):
                mask, base = scribble(rng, length, xh, max(1, int(round(xh / 7))))
                note_pen = Pen(rng)
                ink(img, mask.astype(np.float32) / 255 * rng.uniform(0.25, 0.6), note_pen.colour, int(x), int(y) - base)
                tr.append("header" if header else "note")
                break
    tr.append(add_specks(rng, img, int(rng.integers(3, 60)), int(rng.integers(0, 3))))
    if rng.random() < 0.35:
        tr.append(add_shadow(rng, img, rng.uniform(20, 60)))
    amount = rng.uniform(0.02, 0.12)
    img *= lighting(rng, H, W, amount)[..., None]
    tr.append(f"falloff={amount:.2f}")
    if angle:
        bg = (248, 248, 248) if rng.random() < 0.5 else (35, 35, 38)
        M = cv2.getRotationMatrix2D((W / 2, H / 2), angle, 1.0)
        img = cv2.warpAffine(img, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=bg)
        tr.append(f"rotated={angle:+.1f} bed={'white' if bg[0] > 128 else 'dark'}")
    blur, noise = rng.uniform(0.3, 0.8), rng.uniform(0.8, 3.0)
    img = finish(rng, img, blur, noise)
    fmt, ftrait = pick_format(rng, 0.5, 0.5)
    return img, str(label), tr + [f"blur={blur:.1f} noise={noise:.1f}", ftrait], fmt


def render_form(rng, digit=True, rot=(0.5, 5.0), p_rot=0.35, touching=False):
    """A piece of a printed form, with one digit in one box (digit=True) or all boxes empty.

    touching: the digit touches or crosses the box edge, else it stays at least 3 px inside."""
    tr = []
    bw = int(rng.integers(30, 121))
    bh = int(np.clip(round(bw * rng.uniform(0.8, 1.25)), 30, 120))
    lw = int(rng.integers(1, 5))
    style = str(rng.choice(["single", "row", "shared"], p=[0.3, 0.35, 0.35]))
    n = 1 if style == "single" else int(rng.integers(2, 9))
    gap = int(rng.integers(3, max(4, bw // 2))) if style == "row" else 0
    cname, colours = print_colours(rng)
    font = font_for(rng, float(np.clip(bh * rng.uniform(0.22, 0.45), 8, 26)))
    side = "left" if rng.random() < 0.6 else "above"
    label = str(rng.choice(LABELS)) if rng.random() < 0.85 else ""
    lay = Layout()
    boxes = box_row(rng, lay, 0, 0, style, n, bw, bh, lw, gap, label, side, font)
    tr += [f"style={style} n={n} box={bw}x{bh} lw={lw} line={cname}" + (f" label={side}" if label else "")]
    row_fills = len(lay.fills)
    inks, dig_box, truth = [], None, ""
    if digit:
        k = int(rng.integers(n))
        (ix0, iy0, ix1, iy1), sides = boxes[k]
        iw, ih = ix1 - ix0 + 1, iy1 - iy0 + 1
        pen = Pen(rng)
        lab, slant = int(rng.integers(10)), pick_slant(rng, 0.4, 0.05, 0.3)
        truth = str(lab)
        if touching:
            wanted = (
                [str(rng.choice(SIDES))]
                if rng.random() < 0.8
                else [str(rng.choice(["left", "right"])), str(rng.choice(["top", "bottom"]))]
            )
            h = max(10, int(ih * rng.uniform(0.6, 1.0)))
            shape, idx = pen.digit(rng, lab, h, slant)
            if shape.shape[1] > iw:
                shape, _ = pen.digit(rng, lab, max(10, int(h * iw / shape.shape[1])), slant, idx)
            ah, aw = shape.shape
            gx = ix0 + (iw - aw) // 2 + int(rng.integers(-iw // 10, iw // 10 + 1))
            gy = iy0 + (ih - ah) // 2 + int(rng.integers(-ih // 10, ih // 10 + 1))
            dx = sum({"left": -1, "right": 1}.get(s, 0) for s in wanted)
            dy = sum({"top": -1, "bottom": 1}.get(s, 0) for s in wanted)
            for _ in range(bw + bh):
                if all(ink_in_rect(shape, gx, gy, sides[s]) for s in wanted):
                    break
                gx, gy = gx + dx, gy + dy
            over = int(rng.integers(0, 1 + int(0.2 * min(ah, aw))))
            gx, gy = gx + dx * over, gy + dy * over
            touched = [s for s in SIDES if ink_in_rect(shape, gx, gy, sides[s])]
            if touched:
                tr.append(f"touching touch={','.join(touched)}")
        else:  # at least 3 px inside the inner edge of the lines
            h = max(8, min(int(ih * rng.uniform(0.45, 0.9)), ih - 8))
            shape, idx = pen.digit(rng, lab, h, slant)
            for _ in range(12):
                x0, y0, x1, y1 = ink_bbox(shape)
                if x1 - x0 + 1 <= iw - 8 and y1 - y0 + 1 <= ih - 8:
                    break
                h = max(6, int(h * 0.85))
                shape, _ = pen.digit(rng, lab, h, slant, idx)
            x0, y0, x1, y1 = ink_bbox(shape)
            gx = int(rng.integers(ix0 + 3 - x0, max(ix0 + 4 - x0, ix1 - 3 - x1 + 1)))
            gy = int(rng.integers(iy0 + 3 - y0, max(iy0 + 4 - y0, iy1 - 3 - y1 + 1)))
            inside = min(gx + x0 - ix0, ix1 - gx - x1, gy + y0 - iy0, iy1 - gy - y1)
            tr.append(f"inside={inside}")
        x0, y0, x1, y1 = ink_bbox(shape)
        dig_box = (gx + x0, gy + y0, gx + x1, gy + y1)
        inks = [(pen, shape, gx, gy)]
        tr += [f"in_box={k + 1}/{n} digit_h={shape.shape[0]}", pen.trait()]
    large = rng.random() < 0.5
    if large:  # a larger piece: more rows of empty boxes, ruled lines, a header
        label_h = cv2.getTextSize("Hg", *font[:2], font[2])[0][1] + 14 if side == "above" else 0
        g = int(rng.integers(14, 45))
        pitch = bh + label_h + g
        n_above = int(rng.integers(0, 3))
        n_below = int(rng.integers(0 if n_above else 1, 4))
        for j in list(range(-n_above, 0)) + list(range(1, n_below + 1)):
            nn = int(rng.integers(1, 9)) if style != "single" else 1
            box_row(
                rng,
                lay,
                int(rng.integers(-bw, bw + 1)),
                j * pitch,
                style,
                nn,
                bw,
                bh,
                lw,
                gap,
                str(rng.choice(LABELS)),
                side,
                font,
            )
        for j in range(-n_above - 1, n_below + 1):
            if rng.random() < 0.5:
                lay.hline(j * pitch + bh + g // 2, -BIG, BIG, int(rng.integers(1, 3)), bound=False)
        if rng.random() < 0.6:
            hf = font_for(rng, rng.uniform(10, 24))
            x0, y0, _, _ = lay.extent()
            lay.text(str(rng.choice(HEADERS)), x0 + int(rng.integers(0, 60)), y0 - int(rng.integers(15, 40)), *hf)
        tr.append(f"crop=large rows={n_above + n_below + 1}")
    else:
        tr.append("crop=tight")
    ext = lay.extent()
    if dig_box:
        ext = (min(ext[0], dig_box[0]), min(ext[1], dig_box[1]), max(ext[2], dig_box[2]), max(ext[3], dig_box[3]))
    lo, hi = (10, 121) if large else (3, 21)
    m = rng.integers(lo, hi, 4)
    region = (ext[0] - m[0], ext[1] - m[1], ext[2] + m[2], ext[3] + m[3])
    fill_name = str(rng.choice(list(FILLS))) if rng.random() < 0.25 else None
    if fill_name:
        lay.fills = lay.fills if rng.random() < 0.5 else lay.fills[:row_fills]
        tr.append(f"fill={fill_name}")
    angle = float(rng.uniform(*rot) * rng.choice([-1, 1])) if rng.random() < p_rot else 0.0
    img, ptrait = compose(
        rng,
        lay,
        region,
        colours,
        inks,
        angle,
        FILLS.get(fill_name),
        dict(tone=rng.uniform(228, 252), grain=rng.uniform(0.6, 2.0)),
    )
    if angle:
        tr.append(f"rotated={angle:+.1f}")
    tr.append(add_specks(rng, img, int(rng.integers(0, 8))))
    amount = rng.uniform(0.0, 0.06)
    img *= lighting(rng, img.shape[0], img.shape[1], amount)[..., None]
    blur, noise = rng.uniform(0.3, 0.7), rng.uniform(0.8, 2.5)
    img = finish(rng, img, blur, noise)
    return img, truth, tr + [ptrait, f"falloff={amount:.2f} blur={blur:.1f} noise={noise:.1f}"]


def render_forms(rng, index, seed=0):
    # 9 of every 20 consecutive forms touch the box edge, in an order shuffled per block of 20
    plan = np.random.default_rng([seed, 1, 10**6 + index // 20]).permutation(20)
    img, truth, tr = render_form(rng, touching=bool(plan[index % 20] < 9))
    fmt, ftrait = pick_format(rng, 0.3, 0.4, (75, 95))
    return img, truth, tr + [ftrait], fmt


def make_table(rng, H, W):
    """Dark table top: wood grain or a plain dark surface."""
    name = str(rng.choice(["wood", "dark", "black", "slate"]))
    base = np.array(
        {"wood": (95, 65, 40), "dark": (50, 48, 50), "black": (22, 22, 24), "slate": (60, 65, 75)}[name], np.float32
    ) * rng.uniform(0.7, 1.2)
    vertical = rng.random() < 0.5
    cells = (rng.uniform(300, 900), rng.uniform(25, 70)) if vertical else (rng.uniform(25, 70), rng.uniform(300, 900))
    lum = 1 + rng.uniform(0.03, 0.1) * smooth_noise(rng, H, W, *cells) + 0.08 * smooth_noise(rng, H, W, 250)
    return lum[..., None] * base, name


def render_photo(rng, digit=True):
    tr = []
    W, H = (3000, 4000) if rng.random() < 0.6 else (4000, 3000)
    tr.append(f"{W}x{H}")
    img, ptrait = make_paper(rng, H, W, tone=rng.uniform(215, 248), grain=rng.uniform(1.0, 3.0))
    truth = ""
    if digit:
        pen = Pen(rng, stroke=(0.04, 0.13))
        lab, height = int(rng.integers(10)), int(rng.integers(100, 401))
        shape, _ = pen.digit(rng, lab, height, pick_slant(rng, 0.4))
        ah, aw = shape.shape
        pen.put(
            rng,
            img,
            shape,
            int(rng.integers(int(0.25 * W), int(0.75 * W) - aw)),
            int(rng.integers(int(0.25 * H), int(0.75 * H) - ah)),
        )
        truth = str(lab)
        tr += [f"digit_h={height}", pen.trait()]
    tr += [ptrait, add_specks(rng, img, int(rng.integers(5, 40)), int(rng.integers(0, 3)))]
    persp = rng.random() < 0.45
    edges = list(rng.choice(SIDES, size=int(rng.integers(1, 3)), replace=False)) if rng.random() < 0.4 else []
    small_mask = np.ones((H // 16, W // 16), bool)
    if persp or edges:
        src = np.float32([[0, 0], [W, 0], [W, H], [0, H]])
        dst = src.copy()
        if persp:
            dst += np.float32([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * rng.uniform(0, 0.035, (4, 2)) * [W, H]
            tr.append("perspective")
        for e in edges:
            corners, axis, sign = {
                "left": ([0, 3], 0, 1),
                "right": ([1, 2], 0, -1),
                "top": ([0, 1], 1, 1),
                "bottom": ([2, 3], 1, -1),
            }[str(e)]
            for c in corners:
                dst[c, axis] = src[c, axis] + sign * rng.uniform(0.05, 0.15) * (W, H)[axis]
        M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
        img = cv2.warpPerspective(img, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if edges:
            mask = np.zeros((H, W), np.uint8)
            cv2.fillPoly(mask, [np.round(dst * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
            table, tname = make_table(rng, H, W)
            m = mask.astype(np.float32)[..., None] / 255
            img *= m
            img += table * (1 - m)
            del table, m
            small_mask = cv2.resize(mask, (W // 16, H // 16), interpolation=cv2.INTER_AREA) > 250
            tr.append(f"table={tname} table_edges={','.join(str(e) for e in edges)}")
    # light: vignette and a soft shadow, scaled so the darkest paper is `ratio` of the brightest
    hh, ww = H // 16, W // 16
    yy, xx = np.mgrid[0:hh, 0:ww].astype(np.float32)
    yy, xx = yy / hh, xx / ww
    cx, cy = rng.uniform(0.3, 0.7, 2)
    vig = 1 - rng.uniform(0.3, 1.0) * ((xx - cx) ** 2 + (yy - cy) ** 2) / 0.5
    shadow, skind = soft_blob(rng, hh, ww, s=1)
    a = rng.uniform(0, 2 * np.pi)
    grad = 1 + rng.uniform(0, 0.3) * (np.cos(a) * (xx - 0.5) + np.sin(a) * (yy - 0.5))
    L0 = vig * (1 - rng.uniform(0.25, 0.7) * shadow) * grad
    ratio = rng.uniform(0.2, 0.6)
    lo, hi = float(L0[small_mask].min()), float(L0[small_mask].max())
    L = np.clip(ratio + (1 - ratio) * (L0 - lo) / max(hi - lo, 1e-6), 0.08, 1.0)
    img *= cv2.resize(L, (W, H), interpolation=cv2.INTER_LINEAR)[..., None]
    gains = np.exp(rng.normal(0, 0.07, 3)).astype(np.float32)
    gains = gains / gains.max() * rng.uniform(0.95, 1.08)
    img *= gains
    blur = rng.uniform(0.5, 1.5)
    img = cv2.GaussianBlur(img, (0, 0), blur)
    na, nb = rng.uniform(2, 16), rng.uniform(0.03, 0.15)
    img += np.sqrt(na + nb * np.clip(img, 0, 255)) * rng.standard_normal(img.shape, dtype=np.float32)
    tr += [
        f"min_light={ratio:.2f} shadow_{skind} cast={'/'.join(f'{g:.2f}' for g in gains)}",
        f"blur={blur:.1f} noise={np.sqrt(na + nb * 128):.1f}",
    ]
    return img, truth, tr


def render_photos(rng, index, seed=0):
    img, truth, tr = render_photo(rng)
    q = int(rng.integers(70, 93))
    return img, truth, tr + [f"rgb jpeg q={q}"], ("jpg", False, q)


def render_numbers(rng, index, seed=0):
    n = int(rng.integers(2, 9)) if rng.random() < 0.85 else int(rng.integers(9, 11))
    labels = [1 if rng.random() < 0.3 else int(rng.integers(10)) for _ in range(n)]
    H = int(rng.integers(20, 61))
    pen = Pen(rng)
    slant = pick_slant(rng, 0.4, 0.12, 0.4)
    shapes = [
        pen.digit(rng, lab, int(np.clip(round(H * rng.uniform(0.9, 1.08)), 20, 60)), slant + rng.normal(0, 0.03))[0]
        for lab in labels
    ]
    # digit bottoms on a common baseline (with jitter); each digit placed against the ink already there
    jit = max(1, int(0.04 * H))
    rows = max(s.shape[0] for s in shapes) + 2 * jit + 12
    base = rows - jit - 6
    R = np.full(rows, -BIG, np.int64)
    xs, ys, joined = [], [], 0
    for k, s in enumerate(shapes):
        m = s > 0.5
        has = m.any(1)
        left = np.where(has, m.argmax(1), BIG)
        right = np.where(has, m.shape[1] - 1 - m[:, ::-1].argmax(1), -BIG)
        y = base - int(np.nonzero(has)[0].max()) + int(rng.integers(-jit, jit + 1))
        if k == 0:
            x = 0
        else:
            touch = rng.random() < 0.2
            target = (
                -int(rng.integers(0, 3))
                if touch
                else int(rng.integers(max(2, int(0.08 * H)), max(3, int(0.4 * H)) + 1))
            )
            Ru = R if touch else np.maximum(R, np.maximum(np.r_[R[1:], -BIG], np.r_[-BIG, R[:-1]]))
            r_here = Ru[y : y + s.shape[0]]
            valid = has & (r_here > -BIG)
            x = (
                target + 1 + int((r_here - left)[valid].max())
                if valid.any()
                else target + 1 + int(R.max()) - int(left.min())
            )
            joined += touch
        xs.append(x)
        ys.append(y)
        R[y : y + s.shape[0]] = np.maximum(R[y : y + s.shape[0]], np.where(has, x + right, -BIG))
    width = max(x + s.shape[1] for x, s in zip(xs, shapes, strict=True))
    tr = [
        f"n={n} h={H} ones={labels.count(1)} joined={joined}/{n - 1}",
        pen.trait(),
        f"slant={slant:+.2f}" if slant else "",
    ]
    lay = Layout()
    cname, colours = print_colours(rng)
    ext = (0, 0, width - 1, rows - 1)
    if rng.random() < 0.35:
        lw, yb = int(rng.integers(1, 3)), base + int(rng.integers(-2, 7))
        rule = (-int(rng.integers(3, 25)), yb, width + int(rng.integers(3, 25)), yb + lw - 1)
        lay.hline(yb, rule[0], rule[2], lw)
        tr.append("baseline")
        if any(ink_in_rect(s, x, y, rule) for s, x, y in zip(shapes, xs, ys, strict=True)):
            tr.append("touching touch=baseline")
    if rng.random() < 0.45:
        b = lay.extent() if lay.bounds else ext
        b = (min(b[0], ext[0]), min(b[1], ext[1]), max(b[2], ext[2]), max(b[3], ext[3]))
        c, lw = rng.integers(4, 15, 4), int(rng.integers(1, 3))
        lay.box(
            b[0] - c[0] - lw,
            b[1] - c[1] - lw,
            b[2] - b[0] + c[0] + c[2] + 2 * lw + 1,
            b[3] - b[1] + c[1] + c[3] + 2 * lw + 1,
            lw,
        )
        tr.append(f"field=box lw={lw} line={cname}")
        if rng.random() < 0.5:
            font = font_for(rng, rng.uniform(8, 18))
            lab = str(rng.choice(LABELS))
            (tw, th), _ = cv2.getTextSize(lab, *font[:2], font[2])
            lay.text(lab, b[0] - c[0] - lw - tw - int(rng.integers(6, 18)), (b[1] + b[3] + th) // 2, *font)
            tr.append("label")
    else:
        tr.append("field=strip")
    if lay.bounds:
        e = lay.extent()
        ext = (min(e[0], ext[0]), min(e[1], ext[1]), max(e[2], ext[2]), max(e[3], ext[3]))
    mx, my = rng.integers(4, 40, 2), rng.integers(4, 30, 2)
    region = (ext[0] - mx[0], ext[1] - my[0], ext[2] + mx[1], ext[3] + my[1])
    img, ptrait = compose(
        rng,
        lay,
        region,
        colours,
        [(pen, s, x, y) for s, x, y in zip(shapes, xs, ys, strict=True)],
        paper=dict(grain=rng.uniform(0.6, 3.0)),
    )
    tr += [ptrait, add_specks(rng, img, int(rng.integers(0, 6)))]
    img *= lighting(rng, img.shape[0], img.shape[1], rng.uniform(0, 0.06))[..., None]
    img = finish(rng, img, rng.uniform(0.3, 0.8), rng.uniform(0.8, 3.0))
    fmt, ftrait = pick_format(rng, 0.5, 0.5)
    return img, "".join(map(str, labels)), tr + [ftrait], fmt


BLANK_VARIANTS = ("paper", "shade", "ruled", "boxes", "tiles", "header", "photo")


def printed_header(rng, img):
    H, W = img.shape[:2]
    font = font_for(rng, rng.uniform(10, 30))
    text = str(rng.choice(HEADERS))
    (tw, th), _ = cv2.getTextSize(text, *font[:2], font[2])
    x = int((W - tw) / 2) if rng.random() < 0.5 else int(rng.integers(5, max(6, W // 4)))
    y = int(rng.integers(th + 5, max(th + 6, H // 6)))
    m = np.zeros((H, W), np.uint8)
    cv2.putText(m, text, (x, y), *font[:2], 255, font[2], cv2.LINE_AA)
    if rng.random() < 0.5:
        m[y + 6 : y + 7 + int(rng.integers(0, 2)), max(0, x) : x + tw] = 255
    grey = rng.uniform(60, 140)
    ink(img, m.astype(np.float32) / 255 * rng.uniform(0.25, 0.6), (grey, grey, grey))
    return "header"


def render_blanks(rng, index, seed=0):
    variant = BLANK_VARIANTS[index % len(BLANK_VARIANTS)]
    tr = [f"variant={variant}"]
    if variant == "photo":
        img, _, t = render_photo(rng, digit=False)
        q = int(rng.integers(70, 93))
        return img, "", tr + t + [f"rgb jpeg q={q}"], ("jpg", False, q)
    if variant == "boxes":
        img, _, t = render_form(rng, digit=False, rot=(1.0, 3.0), p_rot=0.5)
        fmt, ftrait = pick_format(rng, 0.4, 0.4)
        return img, "", tr + t + [ftrait], fmt
    if rng.random() < 0.25:
        dpi = int(rng.integers(90, 151))
        W, H = round(8.27 * dpi), round(11.69 * dpi)
        tr.append(f"a4 dpi={dpi}")
    else:
        W, H = int(rng.integers(200, 1601)), int(rng.integers(150, 1601))
    tr.append(f"{W}x{H}")
    tone = rng.uniform(205, 245)
    img, ptrait = make_paper(rng, H, W, tone=tone)
    tr.append(ptrait)
    if variant == "tiles":  # pasted paper pieces of slightly different tones side by side
        k, along_x = int(rng.integers(2, 6)), rng.random() < 0.5
        size = W if along_x else H
        cuts = np.r_[0, np.sort(rng.choice(np.arange(size // 8, size - size // 8), k - 1, replace=False)), size]
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            if rng.random() < 0.3:
                continue
            delta = rng.uniform(3, 15) * rng.choice([-1, 1])
            tile, _ = make_paper(rng, H if along_x else b - a, b - a if along_x else W, tone=tone + delta)
            if along_x:
                img[:, a:b] = tile
            else:
                img[a:b] = tile
            if a > 0 and rng.random() < 0.5:
                sh = 1 - rng.uniform(0.04, 0.12) * np.exp(-np.arange(6, dtype=np.float32) / 2)
                seg = img[:, a : a + 6] if along_x else img[a : a + 6]
                seg *= sh[None, :, None] if along_x else sh[:, None, None]
        tr.append(f"tiles={k} {'columns' if along_x else 'rows'}")
    if variant == "ruled":
        sp, lw = int(rng.integers(30, 51)), int(rng.integers(1, 3))
        col = (150, 180, 230) if rng.random() < 0.6 else (165, 165, 165)
        m = np.zeros((H, W), np.float32)
        for y in range(int(rng.integers(10, 40 + sp)), H, sp):
            m[y : y + lw] = 1
        if rng.random() < 0.4:
            x = int(rng.integers(40, 130))
            m2 = np.zeros((H, W), np.float32)
            m2[:, x : x + lw] = 1
            ink(img, m2 * rng.uniform(0.5, 0.9), (220, 90, 90))
            tr.append("margin")
        ink(img, m * rng.uniform(0.5, 0.9), col)
        tr.append(f"ruled={sp} lw={lw}")
    if variant == "header" or (variant == "ruled" and rng.random() < 0.3):
        tr.append(printed_header(rng, img))
    n_shadows = int(rng.integers(1, 4)) if variant == "shade" else int(rng.random() < 0.25)
    for _ in range(n_shadows):
        tr.append(add_shadow(rng, img, rng.uniform(20, 70)))
    amount = rng.uniform(0.02, 0.25 if variant == "shade" else 0.1)
    img *= lighting(rng, H, W, amount)[..., None]
    tr.append(f"falloff={amount:.2f}")
    n_specks = int(rng.integers(20, 150) if variant == "paper" else rng.integers(2, 30))
    tr.append(add_specks(rng, img, n_specks, int(rng.integers(0, 4 if variant == "paper" else 2))))
    img = finish(rng, img, rng.uniform(0.3, 0.8), rng.uniform(0.8, 3.0))
    fmt, ftrait = pick_format(rng, 0.5, 0.5)
    return img, "", tr + [ftrait], fmt


RENDERERS = {
    "pages": render_pages,
    "forms": render_forms,
    "photos": render_photos,
    "numbers": render_numbers,
    "blanks": render_blanks,
}


# --- driver ---------------------------------------------------------------------------------------


def work(task):
    out, kind, index, seed = task
    rng = np.random.default_rng([seed, KINDS.index(kind), index])
    img, truth, traits, (ext, gray, quality) = RENDERERS[kind](rng, index, seed)
    rel = f"{kind}/{index:04d}.{ext}"
    path = os.path.join(out, rel)
    tmp = path + ".part"
    with open(tmp, "wb") as fh:
        fh.write(encode(img, gray, ext, quality))
    os.replace(tmp, path)
    return rel, kind, truth, " ".join(t for t in traits if t)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output folder (OUT/<kind>/NNNN.png|jpg and OUT/truth.csv)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    ap.add_argument("--count", type=int, default=60, help="images per kind (default 60)")
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    args = ap.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        ap.error(f"unknown kind(s) {', '.join(bad)}; choose from {', '.join(KINDS)}")
    out = Path(args.out)
    for k in kinds:
        (out / k).mkdir(parents=True, exist_ok=True)
    init_mnist()
    tasks = [(str(out), kind, i, args.seed) for i in range(args.count) for kind in kinds]
    t0 = time.time()
    rows = []
    if args.jobs > 1:
        with mp.get_context("fork").Pool(args.jobs, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
            for row in pool.imap_unordered(work, tasks, chunksize=1):
                rows.append(row)
                if len(rows) % 25 == 0:
                    print(f"{len(rows)}/{len(tasks)} images, {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    else:
        cv2.setNumThreads(1)
        rows = [work(t) for t in tasks]
    rows.sort(key=lambda r: (KINDS.index(r[1]), r[0]))
    tmp = out / "truth.csv.part"
    with open(tmp, "w", newline="") as fh:
        csv.writer(fh).writerows([("file", "kind", "truth", "traits"), *rows])
    os.replace(tmp, out / "truth.csv")
    print(f"wrote {len(rows)} images and {out / 'truth.csv'} in {time.time() - t0:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
