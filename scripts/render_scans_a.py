"""Render the TUNING set of realistic scans: MNIST *training* digits written on pages, in form boxes, in phone
photos, as multi-digit numbers, and blank sheets with no digit at all.

Tune on this set only: it is what the reading pipeline (toolkit/imaging) may be adjusted against. The held-out
renderer (scripts/render_scans_b.py) is written independently and draws MNIST *test* digits; report on that one.

    python scripts/render_scans_a.py OUT_DIR [--kinds pages,forms,photos,numbers,blanks] [--count 60]
        [--seed 4242] [--small] [--jobs N] [--preview] [--digits train|test]

Writes OUT_DIR/<kind>/NNNN.png|jpg and OUT_DIR/truth.csv (file,kind,truth,traits): `file` relative to OUT_DIR,
`truth` the digits written (empty for blanks), `traits` the conditions drawn for that image joined by "+"; rows
of kinds not rendered this time stay while their images do. Image NNNN of a kind depends only on (seed, kind,
NNNN), so the output is the same for any --jobs. --small renders the page-sized kinds (pages, photos, page
blanks) at a quarter of their width and height, for fast tests. --preview also writes OUT_DIR/preview_<kind>.png
contact sheets (page-sized images with a zoom on the digits) and the run ends with a count per kind. --digits
test writes MNIST test digits instead, which the shipped model never trained on (it reads the training digits
it was fitted to better than anyone's): the same scenes, a fairer test of the model's part, still tuning data.

Kinds (each image draws its own mix of conditions):
  pages    one digit 25-150 px tall anywhere on an A4 or letter sheet scanned at 130-200 dpi; header lines of
           faint handwriting, local shadows, a rotated sheet, thin "1"s, black or blue ink, PNG/JPEG, RGB/grey.
  forms    one digit in a printed box 30-120 px, often one of a row of empty boxes; touching or crossing the box
           edge, rotated, with a ruled line under the row.
  photos   a 4000x3000 phone photo of a sheet with one digit 100-400 px tall: vignette and soft shadow, colour
           cast, blur, sensor noise, JPEG; sometimes the sheet's edge and the table beside it.
  numbers  2-12 digits 20-80 px tall side by side with touching/overlapping neighbours (often "1"s), jittered
           baselines, on a strip or a field of a page; two paper tones pasted together, ruled lines.
  blanks   page- or strip-sized paper with no digit: shading, dust, lined paper, empty boxes, shadows, faint
           writing, rotated sheets and tone tiles.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import re
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(Path(__file__).resolve().parent) not in sys.path:
    # Workers started by spawn or forkserver import this file by its module name.
    sys.path.insert(0, str(Path(__file__).resolve().parent))

KINDS = ("pages", "forms", "photos", "numbers", "blanks")
KIND_CODES = {"pages": 1, "forms": 2, "photos": 3, "numbers": 4, "blanks": 5}  # fixed: part of every image's seed
A4_MM, LETTER_MM = (210.0, 297.0), (215.9, 279.4)  # width, height of the sheets
PHOTO = (4000, 3000)  # a phone photo, landscape; portrait photos swap the sides
SMALL = 0.25  # --small: page-sized images at a quarter of their width and height
FILE_PATTERN = re.compile(r"^\d{4}\.(png|jpg)$")

# The MNIST digits to write, set once per process by `_init` (workers inherit or receive them).
_DIGITS: np.ndarray | None = None
_LABELS: np.ndarray | None = None
_BY_LABEL: list[np.ndarray] = []


def _init(images: np.ndarray, labels: np.ndarray) -> None:
    """Make the MNIST digits to write (training digits, or test ones with --digits test) available to the
    renderers of this process; one OpenCV thread each."""
    global _DIGITS, _LABELS, _BY_LABEL
    _DIGITS, _LABELS = images, labels
    _BY_LABEL = [np.flatnonzero(labels == d) for d in range(10)]
    cv2.setNumThreads(1)


def _pick(rng: np.random.Generator, label: int | None = None) -> tuple[np.ndarray, int]:
    """A random one of the digits `_init` was given (of `label` if given) and its label."""
    assert _DIGITS is not None and _LABELS is not None, "call _init first"
    index = int(rng.choice(_BY_LABEL[label])) if label is not None else int(rng.integers(len(_DIGITS)))
    return _DIGITS[index], int(_LABELS[index])


# --- small helpers ----------------------------------------------------------------------------------------------


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A value between lo and hi, small values as likely as large ones in ratio (25-50 px as 75-150 px)."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _signed(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A magnitude between lo and hi with a random sign."""
    return _uniform(rng, lo, hi) * (1.0 if rng.random() < 0.5 else -1.0)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell_y: float, cell_x: float | None = None) -> np.ndarray:
    """Low-frequency noise of standard deviation about 1: normal values on a grid `cell` px apart, cubically
    interpolated up to h x w (float32). Different cells along y and x give streaks (wood grain, paper fibre)."""
    cell_x = cell_y if cell_x is None else cell_x
    gh, gw = max(2, math.ceil(h / max(cell_y, 1.0)) + 1), max(2, math.ceil(w / max(cell_x, 1.0)) + 1)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _ink(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A pen's colour (RGB 0-255): black-ish (2 in 3) or ballpoint blue, and its name."""
    if rng.random() < 0.65:
        level = _uniform(rng, 12, 60)
        return np.array([level + rng.uniform(-4, 4) for _ in range(3)], np.float32), "black"
    return np.array([_uniform(rng, 15, 60), _uniform(rng, 25, 75), _uniform(rng, 105, 165)], np.float32), "blue"


def _print_colour(rng: np.random.Generator) -> np.ndarray:
    """The colour of a printed form's lines: dark grey mostly, sometimes a light 'drop-out' colour."""
    if rng.random() < 0.7:
        level = _uniform(rng, 25, 110)
        return np.full(3, level, np.float32)
    palette = ([225, 120, 120], [120, 150, 215], [120, 185, 140], [200, 160, 90], [150, 150, 150])
    base = np.array(palette[int(rng.integers(len(palette)))], np.float32)
    return np.clip(base + rng.uniform(-20, 20, 3), 0, 255).astype(np.float32)


def _paper_tint(rng: np.random.Generator) -> tuple[float, float, float]:
    """Per-channel factors of a sheet's colour: neutral, slightly ivory or slightly bluish white."""
    t = _uniform(rng, -0.02, 0.05)
    return (1.0, 1.0 - 0.3 * abs(t), 1.0 - 1.5 * t) if t > 0 else (1.0 + 1.5 * t, 1.0 + 0.5 * t, 1.0)


def _paper(rng: np.random.Generator, h: int, w: int, tone: float, *, tilt: float = 0.03, mottle: float = 4.0):
    """A sheet's grey tone field (float32, 0-255): `tone`, a gradient of up to `tilt` x tone across it (uneven
    lighting in the scanner) and a blotchy unevenness of up to `mottle` grey levels."""
    gy = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    gx = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    slope = rng.uniform(-tilt, tilt, size=2) * tone
    field = np.full((h, w), tone, np.float32)
    field += slope[0] * gy
    field += slope[1] * gx
    amount = _uniform(rng, 0.0, mottle)
    if amount > 0.3:
        field += amount * _smooth_noise(rng, h, w, _uniform(rng, 0.05, 0.25) * max(h, w))
    return field


# --- glyphs: MNIST digits as pen or marker strokes -------------------------------------------------------------


def _crop(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit (uint8, white on black) as ink coverage in [0, 1], cropped to its ink."""
    ink = np.asarray(digit, np.float32) / np.float32(255.0)
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0.1), np.flatnonzero(ink.max(axis=0) > 0.1)
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] if rows.size else ink


def _rotate(image: np.ndarray, angle: float) -> np.ndarray:
    """`image` rotated `angle` degrees counter-clockwise on a canvas grown to hold all of it (bilinear)."""
    if abs(angle) < 1e-3:
        return image
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    nw, nh = math.ceil(h * sin + w * cos), math.ceil(h * cos + w * sin)
    matrix[0, 2] += nw / 2 - w / 2
    matrix[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(image, matrix, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0)


def _ring(img: np.ndarray) -> list[np.ndarray]:
    """The eight neighbours P2..P9 (N, NE, E, SE, S, SW, W, NW) of every inner pixel of a padded image."""
    return [
        img[:-2, 1:-1],
        img[:-2, 2:],
        img[1:-1, 2:],
        img[2:, 2:],
        img[2:, 1:-1],
        img[2:, :-2],
        img[1:-1, :-2],
        img[:-2, :-2],
    ]


def _crossings(ring: list[np.ndarray]) -> np.ndarray:
    """How many times the ring of neighbours goes from background to ink (1: they form one run)."""
    return sum(((ring[i] == 0) & (ring[(i + 1) % 8] == 1)).astype(np.uint8) for i in range(8))


def _thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning: a boolean mask reduced to its one-pixel-wide skeleton."""
    img = np.pad(mask.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for first in (True, False):
            ring = _ring(img)
            p2, p4, p6, p8 = ring[0], ring[2], ring[4], ring[6]
            count = sum(ring)
            if first:
                keep = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                keep = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (img[1:-1, 1:-1] == 1) & (count >= 2) & (count <= 6) & (_crossings(ring) == 1) & keep
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
    return img[1:-1, 1:-1].astype(bool)


def _prune(skeleton: np.ndarray, steps: int) -> np.ndarray:
    """Remove the end pixels of a skeleton `steps` times: spurs up to that long vanish, strokes get shorter."""
    img = np.pad(skeleton.astype(np.uint8), 1)
    for _ in range(steps):
        ring = _ring(img)
        count = sum(ring)
        ends = (img[1:-1, 1:-1] == 1) & (count >= 1) & (count <= 2) & (_crossings(ring) == 1)
        if not ends.any():
            break
        img[1:-1, 1:-1][ends] = 0
    return img[1:-1, 1:-1].astype(bool)


def _stroke_width(mask: np.ndarray) -> float:
    """The mean stroke width of a binary shape: twice its area over its outline's length."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(mask.sum()) / max(perimeter, 1.0)


def _downsample(coverage: np.ndarray, ss: int) -> np.ndarray:
    """Supersampled coverage averaged down by `ss` and cropped to its ink (1 px margin kept)."""
    h, w = coverage.shape
    ph, pw = (-h) % ss, (-w) % ss
    coverage = np.pad(coverage, ((0, ph), (0, pw)))
    small = cv2.resize(coverage, ((w + pw) // ss, (h + ph) // ss), interpolation=cv2.INTER_AREA)
    rows, cols = np.flatnonzero(small.max(axis=1) > 0.02), np.flatnonzero(small.max(axis=0) > 0.02)
    if not rows.size:
        return small
    small = small[max(rows[0] - 1, 0) : rows[-1] + 2, max(cols[0] - 1, 0) : cols[-1] + 2]
    return np.clip(small, 0.0, 1.0).astype(np.float32)


def _natural_glyph(ink: np.ndarray, height: float, stroke: float, angle: float, ss: int) -> np.ndarray:
    """The digit's own (MNIST, felt-tip like) strokes scaled to `height` px, thickened or thinned a little
    towards `stroke` px by moving its outline, rotated; coverage in [0, 1]."""
    h0, w0 = ink.shape
    scale = height * ss / h0
    big = cv2.resize(np.pad(ink, 2), (round((w0 + 4) * scale), round((h0 + 4) * scale)), interpolation=cv2.INTER_CUBIC)
    mask = (_rotate(big, angle) > 0.5).astype(np.uint8)
    width = _stroke_width(mask)
    grow = float(np.clip((stroke * ss - width) / 2, -0.3 * width, 0.6 * width))
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform(1 - mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    signed = np.where(mask > 0, inside - 0.5, 0.5 - outside)  # distance to the outline, positive inside
    return _downsample(np.clip(signed + grow + 0.5, 0.0, 1.0), ss)


def _pen_glyph(ink: np.ndarray, height: float, stroke: float, angle: float, ss: int) -> np.ndarray | None:
    """The digit redrawn with a pen of even width `stroke` px along its skeleton, `height` px tall, rotated;
    coverage in [0, 1]. None when the digit has no skeleton to speak of."""
    h0, w0 = ink.shape
    k = int(np.clip(round(height / h0), 3, 8))  # skeleton resolution: k px per MNIST px
    big = cv2.resize(np.pad(ink, 1), ((w0 + 2) * k, (h0 + 2) * k), interpolation=cv2.INTER_CUBIC)
    mask = big > 0.45
    skeleton = _prune(_thin(mask), round(0.5 * _stroke_width(mask)))  # spurs off; ends shortened alike
    ys, xs = np.nonzero(skeleton)
    if ys.size < 3:
        return None
    # Scale so the drawn ink (skeleton plus the pen's width) is `height` tall, then rotate about the centre.
    scale = max(height - stroke, 0.5 * height) / max(float(ys.max() - ys.min()), 1.0) * ss
    turn = cv2.getRotationMatrix2D((0.0, 0.0), angle, scale)[:, :2]
    centre = np.array([xs.mean(), ys.mean()])
    radius = stroke * ss / 2

    def place(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return (np.stack([px, py], 1) - centre) @ turn.T

    points = place(xs.astype(float), ys.astype(float))
    origin = points.min(axis=0) - radius - 3
    size = np.ceil(points.max(axis=0) - origin + radius + 3).astype(int)
    canvas = np.zeros((size[1], size[0]), np.uint8)
    segments = []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):  # each pair of 8-neighbours once
        ny, nx = ys + dy, xs + dx
        ok = (ny < skeleton.shape[0]) & (nx >= 0) & (nx < skeleton.shape[1])
        ok[ok] = skeleton[ny[ok], nx[ok]]
        a, b = place(xs[ok].astype(float), ys[ok].astype(float)), place(nx[ok].astype(float), ny[ok].astype(float))
        segments += [np.round((np.stack([p, q]) - origin) * 4).astype(np.int32) for p, q in zip(a, b, strict=True)]
    cv2.polylines(canvas, segments, False, 255, 1, cv2.LINE_8, 2)
    dots = np.round(points - origin).astype(int)
    canvas[dots[:, 1], dots[:, 0]] = 255
    distance = cv2.distanceTransform((canvas == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return _downsample(np.clip(radius - distance, 0.0, 1.0), ss)


def glyph(
    digit: np.ndarray,
    rng: np.random.Generator,
    *,
    height: float,
    stroke: float,
    angle: float,
    pen: bool,
) -> np.ndarray:
    """An MNIST digit as ink coverage (float32 in [0, 1], cropped to its ink): `height` px tall before the
    rotation by `angle` degrees (counter-clockwise), drawn with a pen of even width `stroke` px (`pen`) or with
    MNIST's own strokes brought towards that width; the ink's density varies a little along the strokes."""
    ink = _crop(digit)
    ss = 4 if height <= 120 else 2
    coverage = _pen_glyph(ink, height, stroke, angle, ss) if pen else None
    if coverage is None:
        coverage = _natural_glyph(ink, height, stroke, angle, ss)
    density = _uniform(rng, 0.8, 1.0)
    variation = _uniform(rng, 0.0, 0.25)
    if variation > 0.02:
        h, w = coverage.shape
        noise = _smooth_noise(rng, h, w, max(4.0, height / 4))
        coverage = coverage * np.clip(density - variation * np.abs(noise), 0.4, 1.0)
    else:
        coverage = coverage * density
    return coverage.astype(np.float32)


def _stroke(rng: np.random.Generator, height: float, *, lo: float = 0.06, hi: float = 0.15, least: float = 1.3):
    """A pen width for a digit `height` px tall: lo-hi of its height, at least `least` px."""
    return max(least, height * _uniform(rng, lo, hi))


# --- scenes: paper, layers of ink and print, light ---------------------------------------------------------------


class Layer:
    """Coverage of one colour over the image (float32 in [0, 1], or uint8 0-255 for anti-aliased drawings), and
    the box (x0, y0, x1, y1) that holds everything drawn on it, so compositing can skip the rest."""

    def __init__(self, h: int, w: int, colour: np.ndarray, dtype: type) -> None:
        self.cover = np.zeros((h, w), dtype)
        self.colour = np.asarray(colour, np.float32)
        self.box = [w, h, 0, 0]

    def grow(self, x0: float, y0: float, x1: float, y1: float) -> None:
        h, w = self.cover.shape
        self.box = [
            max(0, min(self.box[0], math.floor(x0))),
            max(0, min(self.box[1], math.floor(y0))),
            min(w, max(self.box[2], math.ceil(x1))),
            min(h, max(self.box[3], math.ceil(y1))),
        ]

    def coverage(self) -> tuple[tuple[slice, slice], np.ndarray] | None:
        """The drawn part's slices and its coverage as float32 in [0, 1]; None if nothing was drawn."""
        x0, y0, x1, y1 = self.box
        if x1 <= x0 or y1 <= y0:
            return None
        part = self.cover[y0:y1, x0:x1]
        if part.dtype == np.uint8:
            part = part.astype(np.float32) * np.float32(1 / 255)
        return (slice(y0, y1), slice(x0, x1)), part


class Scene:
    """An image being drawn. The sheet (paper tone field, printed lines, faint writing, ink) is drawn in sheet
    coordinates and mapped into the image by a rotation about the image centre (`angle` degrees, counter-
    clockwise). Outside the sheet's outline (if one is set) shows a background: a scanner lid or a table. Dust
    lies on top in image coordinates; `light` (a multiplier field) darkens parts of everything."""

    SHEET_LAYERS = ("print", "faint", "ink")

    def __init__(self, paper: np.ndarray, tint=(1.0, 1.0, 1.0), angle: float = 0.0) -> None:
        self.paper = paper
        self.h, self.w = paper.shape
        self.tint = np.asarray(tint, np.float32)
        self.angle = float(angle)
        self.matrix = cv2.getRotationMatrix2D((self.w / 2, self.h / 2), self.angle, 1.0)
        self.layers: dict[str, Layer] = {}
        self.sheet: np.ndarray | None = None
        self.background: tuple[np.ndarray, np.ndarray | float] | None = None  # (RGB factors, grey tone field)
        self.light: np.ndarray | None = None

    # coordinates

    def to_image(self, points) -> np.ndarray:
        """Sheet coordinates (N x 2, x y) -> image coordinates."""
        points = np.asarray(points, np.float64).reshape(-1, 2)
        return points @ self.matrix[:, :2].T + self.matrix[:, 2]

    def inside(self, x0: float, y0: float, x1: float, y1: float, margin: float = 2.0) -> bool:
        """Whether the sheet rectangle lands inside the image, `margin` px from its edges."""
        corners = self.to_image([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        return bool(
            (corners[:, 0] >= margin).all()
            and (corners[:, 0] <= self.w - margin).all()
            and (corners[:, 1] >= margin).all()
            and (corners[:, 1] <= self.h - margin).all()
        )

    # drawing

    def layer(self, name: str, colour: np.ndarray) -> Layer:
        """The layer `name` ("print", "faint", "ink" or "dust"), made with `colour` on first use."""
        if name not in self.layers:
            self.layers[name] = Layer(self.h, self.w, colour, np.float32 if name == "ink" else np.uint8)
        return self.layers[name]

    def polyline(self, name: str, colour, points, thickness: int, *, value: float = 1.0, closed: bool = False):
        """An anti-aliased line through sheet `points` on layer `name`, of coverage `value`."""
        layer = self.layer(name, colour)
        pts = self.to_image(points)
        fixed = np.round(pts * 16).astype(np.int32)  # 4 fractional bits
        cv2.polylines(layer.cover, [fixed], closed, int(round(255 * value)), max(1, int(thickness)), cv2.LINE_AA, 4)
        pad = thickness + 2
        layer.grow(pts[:, 0].min() - pad, pts[:, 1].min() - pad, pts[:, 0].max() + pad, pts[:, 1].max() + pad)

    def rectangle(self, name: str, colour, x0: float, y0: float, x1: float, y1: float, thickness: int) -> None:
        """A rectangle outline in sheet coordinates, the line centred on its edges."""
        self.polyline(name, colour, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], thickness, closed=True)

    def put(self, coverage: np.ndarray, colour, centre: tuple[float, float]) -> tuple[int, int, int, int]:
        """Ink coverage (already rotated as it should appear) centred on a sheet point; returns the ink's box
        (x, y, w, h) in the image."""
        layer = self.layer("ink", colour)
        cx, cy = self.to_image([centre])[0]
        gh, gw = coverage.shape
        x0, y0 = int(round(cx - gw / 2)), int(round(cy - gh / 2))
        ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(self.w, x0 + gw), min(self.h, y0 + gh)
        part = coverage[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
        region = layer.cover[iy0:iy1, ix0:ix1]
        np.maximum(region, part, out=region)
        layer.grow(ix0, iy0, ix1, iy1)
        x, y, w, h = cv2.boundingRect((part > 0.25).astype(np.uint8))
        return ix0 + x, iy0 + y, w, h

    def fill_paper(self, polygon, tone: np.ndarray | float) -> None:
        """Replace the paper inside a sheet polygon by another tone (a pasted piece of other paper)."""
        mask = np.zeros((self.h, self.w), np.uint8)
        cv2.fillPoly(mask, [np.round(self.to_image(polygon) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        weight = mask.astype(np.float32) * np.float32(1 / 255)
        self.paper += (tone - self.paper) * weight

    def set_sheet(self, polygon, background_tone: np.ndarray | float, background_rgb) -> None:
        """The sheet's outline (sheet coordinates); outside it the image shows the background."""
        mask = np.zeros((self.h, self.w), np.uint8)
        cv2.fillPoly(mask, [np.round(self.to_image(polygon) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        self.sheet = mask.astype(np.float32) * np.float32(1 / 255)
        self.background = (np.asarray(background_rgb, np.float32), background_tone)

    def specks(self, rng: np.random.Generator, count: int, scale: float = 1.0) -> None:
        """Dust and dirt: `count` dark specks of 1-4 px (a few in small clusters), anywhere on the image."""
        layer = self.layer("dust", np.full(3, _uniform(rng, 20, 80), np.float32))
        for _ in range(count):
            x, y = rng.uniform(0, self.w), rng.uniform(0, self.h)
            for _ in range(1 if rng.random() < 0.8 else int(rng.integers(2, 6))):
                px, py = x + rng.normal(0, 3 * scale), y + rng.normal(0, 3 * scale)
                radius = min(3.0, max(0.4, _loguniform(rng, 0.4, 2.0) * max(scale, 0.5)))
                centre = (int(round(px * 16)), int(round(py * 16)))
                cv2.circle(
                    layer.cover,
                    centre,
                    int(round(radius * 16)),
                    int(255 * _uniform(rng, 0.35, 1.0)),
                    -1,
                    cv2.LINE_AA,
                    4,
                )
                layer.grow(px - radius - 2, py - radius - 2, px + radius + 2, py + radius + 2)

    # output

    def compose(
        self,
        rng: np.random.Generator,
        *,
        blur: float,
        noise: float,
        cast=(1.0, 1.0, 1.0),
        chroma: float = 0.0,
    ) -> np.ndarray:
        """The finished RGB image (uint8): paper under print, faint writing and ink, the background outside the
        sheet, dust, light, a colour cast; then an optical blur of `blur` px and sensor noise of `noise` grey
        levels (plus colour noise of `chroma` levels)."""
        covers = [(name, self.layers[name].coverage()) for name in self.SHEET_LAYERS if name in self.layers]
        dust = self.layers["dust"].coverage() if "dust" in self.layers else None
        out = np.empty((self.h, self.w, 3), np.float32)
        for c in range(3):
            plane = self.paper * self.tint[c]
            for name, drawn in covers:
                if drawn is not None:
                    where, cov = drawn
                    sub = plane[where]
                    sub += (self.layers[name].colour[c] - sub) * cov
            if self.sheet is not None and self.background is not None:
                rgb, tone = self.background
                behind = tone * rgb[c]
                plane -= behind
                plane *= self.sheet
                plane += behind
            if dust is not None:
                where, cov = dust
                sub = plane[where]
                sub += (self.layers["dust"].colour[c] - sub) * cov
            if self.light is not None:
                plane *= self.light
            if cast[c] != 1.0:
                plane *= np.float32(cast[c])
            out[..., c] = plane
        if blur > 0.05:
            out = cv2.GaussianBlur(out, (0, 0), blur)
        if noise > 0:
            grain = rng.standard_normal((self.h, self.w), dtype=np.float32)
            grain *= np.float32(noise)
            out += grain[..., None]
        if chroma > 0:
            colour_noise = rng.standard_normal((max(1, self.h // 2), max(1, self.w // 2), 3), dtype=np.float32)
            out += cv2.resize(colour_noise * np.float32(chroma), (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        np.clip(out, 0, 255, out=out)
        out += 0.5
        return out.astype(np.uint8)


# --- things drawn on sheets -------------------------------------------------------------------------------------


def _cursive_word(rng: np.random.Generator, x: float, baseline: float, xh: float) -> np.ndarray:
    """A handwriting-like word: a run of 2-8 loopy 'letters' (a prolate cycloid: the pen advances while it
    swings up and down, looping back at the top when the swing is wide), some with ascenders or descenders,
    slanted. Returns its points (N x 2, sheet coordinates)."""
    letters = int(rng.integers(2, 9))
    slant = _uniform(rng, -0.1, 0.45)
    t = np.linspace(0, 2 * math.pi, 14, endpoint=False)
    points = [(x - 0.3 * xh, baseline + 0.1 * xh)]  # a lead-in stroke from below the baseline
    for _ in range(letters):
        advance = xh * _uniform(rng, 0.45, 0.9)
        a = advance / (2 * math.pi)
        b = a * _uniform(rng, 0.2, 1.7)  # > a: the pen loops back at the top (e, l) - else an arch (n, u)
        roll = rng.random()
        if roll < 0.18:  # ascender (l, h, k, b)
            lift, sign = xh * _uniform(rng, 1.8, 2.5), 1.0
        elif roll < 0.28:  # descender (g, y, p)
            lift, sign = xh * _uniform(rng, 1.2, 1.8), -1.0
        else:
            lift, sign = xh * _uniform(rng, 0.7, 1.1), 1.0
        px = x + a * t + sign * b * np.sin(t)
        py = baseline - sign * lift * (1 - np.cos(t)) / 2
        points += list(zip(px, py, strict=True))
        x += advance
    pts = np.array(points + [(x, baseline)], np.float64)
    pts[:, 0] += slant * (baseline - pts[:, 1])
    pts += rng.normal(0, 0.04 * xh, pts.shape)
    return pts


def _writing(
    scene: Scene,
    rng: np.random.Generator,
    x0: float,
    baseline: float,
    length: float,
    xh: float,
    colour: np.ndarray,
    value: float,
) -> float:
    """A faint line of handwriting-like words from x0 along `baseline`, about `length` px long, x-height `xh`
    px, drawn at coverage `value` on the "faint" layer. Returns the x where it ends."""
    thickness = max(1, int(round(xh / _uniform(rng, 5, 9))))
    x = x0
    drift = _uniform(rng, -0.02, 0.02)  # the line rises or falls a little
    while x < x0 + length:
        word = _cursive_word(rng, x, baseline + drift * (x - x0), xh)
        scene.polyline("faint", colour, word, thickness, value=value)
        x = float(word[:, 0].max()) + xh * _uniform(rng, 0.7, 1.8)
    return x


def _faint_colour(rng: np.random.Generator, ink: np.ndarray) -> tuple[np.ndarray, float]:
    """Colour and coverage of faint writing: the pen's ink or pencil grey, at 15-45 % strength."""
    colour = ink if rng.random() < 0.5 else np.full(3, _uniform(rng, 60, 110), np.float32)
    return colour, _uniform(rng, 0.15, 0.45)


def _boxes(
    scene: Scene,
    colour: np.ndarray,
    x: float,
    y: float,
    count: int,
    box_w: float,
    box_h: float,
    gap: float,
    thickness: int,
) -> list[tuple[float, float, float, float]]:
    """A row of `count` printed boxes from (x, y): outlines `thickness` px centred on their edges, `gap` px
    apart (0: a comb of boxes sharing their walls). Returns each box (x0, y0, x1, y1) in sheet coordinates."""
    boxes = []
    for n in range(count):
        x0 = x + n * (box_w + gap)
        boxes.append((x0, y, x0 + box_w, y + box_h))
        scene.rectangle("print", colour, x0, y, x0 + box_w, y + box_h, thickness)
    return boxes


def _shadow_shape(
    rng: np.random.Generator, h: int, w: int, near: tuple[float, float] | None = None
) -> tuple[np.ndarray, str]:
    """A soft shadow's shape on a small h x w grid (float32, peak 1): a blob (round or oblong, near `near` when
    given), a band across the sheet, or a darkening from one edge (a book's spine, a fold). And its name."""
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    form = ("blob", "band", "edge")[int(rng.choice(3, p=[0.45, 0.25, 0.3]))]
    if form == "blob":
        cx, cy = (
            (near[0] + rng.normal(0, 0.08 * w), near[1] + rng.normal(0, 0.08 * h))
            if near
            else (_uniform(rng, 0, w), _uniform(rng, 0, h))
        )
        sx, sy = _uniform(rng, 0.06, 0.3) * w, _uniform(rng, 0.05, 0.25) * h
        theta = _uniform(rng, 0, math.pi)
        dx, dy = gx - cx, gy - cy
        u, v = dx * math.cos(theta) + dy * math.sin(theta), -dx * math.sin(theta) + dy * math.cos(theta)
        shape = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    elif form == "band":
        theta = _uniform(rng, 0, math.pi)
        cx, cy = near if near and rng.random() < 0.5 else (_uniform(rng, 0, w), _uniform(rng, 0, h))
        distance = (gx - cx) * math.cos(theta) + (gy - cy) * math.sin(theta)
        width = _uniform(rng, 0.04, 0.2) * max(h, w)
        shape = np.exp(-0.5 * (distance / width) ** 2)
    else:
        side = int(rng.integers(4))
        distance = (gx, w - 1 - gx, gy, h - 1 - gy)[side]
        reach = _uniform(rng, 0.08, 0.4) * (w if side < 2 else h)
        shape = np.clip(1 - distance / reach, 0, 1) ** _uniform(rng, 1.0, 2.5)
    return (shape / max(float(shape.max()), 1e-6)).astype(np.float32), form


def _light(shape_small: np.ndarray, depth: float, h: int, w: int) -> np.ndarray:
    """A full-size light multiplier 1 - depth x shape from a small shadow shape."""
    light = 1.0 - depth * shape_small
    return cv2.resize(light.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def _scan_shadow(scene: Scene, rng: np.random.Generator, paper: float, near: tuple[float, float] | None) -> str:
    """A local shadow on a scan, at least 20 (up to about 100) grey levels deep on the paper; returns its form."""
    small_h, small_w = max(8, scene.h // 8), max(8, scene.w // 8)
    if near is not None:
        near = (near[0] * small_w / scene.w, near[1] * small_h / scene.h)
    shape, form = _shadow_shape(rng, small_h, small_w, near)
    depth = _uniform(rng, max(0.1, 24.0 / paper), 0.42)
    scene.light = _light(shape, depth, scene.h, scene.w)
    return form


# --- what a rendering returns ------------------------------------------------------------------------------------


@dataclass
class Drawn:
    """A finished rendering: the image (uint8, H x W x 3 RGB or H x W grey), the digits on it, its traits, the
    digits' box (x, y, w, h) in the image for previews, and how to save it (JPEG quality, None for PNG)."""

    image: np.ndarray
    truth: str
    traits: list[str]
    box: tuple[int, int, int, int] | None
    quality: int | None


def _finish(
    rng: np.random.Generator, image: np.ndarray, traits: list[str], *, jpeg: float, grey: float, quality=(60, 96)
) -> tuple[np.ndarray, int | None]:
    """Pick grey or RGB output and PNG or JPEG (with probabilities `grey`, `jpeg`), noting them in traits."""
    if rng.random() < grey:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        traits.append("grey")
    if rng.random() < jpeg:
        traits.append("jpeg")
        return image, int(rng.integers(*quality))
    return image, None


def _ink_extent(cov: np.ndarray) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) edges of a glyph's ink (coverage over 0.3), right and bottom exclusive."""
    x, y, w, h = cv2.boundingRect((cov > 0.3).astype(np.uint8))
    return x, y, x + w, y + h


# --- pages ------------------------------------------------------------------------------------------------------


def render_page(rng: np.random.Generator, small: bool = False) -> Drawn:
    """One digit 25-150 px tall anywhere on an A4 or letter sheet scanned at 130-200 dpi (see the module
    docstring); header writing, shadows, a rotated sheet and thin "1"s drawn at random."""
    f = SMALL if small else 1.0
    name = "a4" if rng.random() < 0.6 else "letter"
    dpi = int(rng.integers(130, 201))
    w, h = (round(side / 25.4 * dpi * f) for side in (A4_MM if name == "a4" else LETTER_MM))
    traits = [name]
    angle = _signed(rng, 1.0, 5.0) if rng.random() < 0.35 else 0.0
    tone = _uniform(rng, 200, 250)
    scene = Scene(_paper(rng, h, w, tone, tilt=0.04), tint=_paper_tint(rng), angle=angle)
    if angle:
        traits.append("rotated")
        lid = _uniform(rng, 150, 255) if rng.random() < 0.3 else _uniform(rng, 225, 255)
        scene.set_sheet([(0, 0), (w, 0), (w, h), (0, h)], lid, np.ones(3))
    ink, ink_name = _ink(rng)

    thin1 = rng.random() < 0.15
    digit, label = _pick(rng, 1 if thin1 else None)
    height = max(10.0, _loguniform(rng, 25, 150) * f)
    if thin1:
        traits.append("thin1")
        stroke, pen = _uniform(rng, 1.2, 2.2), True  # a fine pen, at any size
    else:
        stroke, pen = _stroke(rng, height, least=1.3), rng.random() < 0.55
    cov = glyph(digit, rng, height=height, stroke=stroke, angle=_uniform(rng, -10, 10) + angle, pen=pen)
    gh, gw = cov.shape

    margin_x, margin_y = 0.05 * w, 0.04 * h
    header_bottom = margin_y
    xh = max(2.5, _uniform(rng, 6, 14) * dpi / 200 * f)
    lines = int(rng.integers(1, 3)) if rng.random() < 0.5 else 0
    if lines:
        traits.append("header")
        colour, value = _faint_colour(rng, ink)
        baseline = _uniform(rng, margin_y + 2.5 * xh, 0.22 * h)
        for _ in range(lines):
            x0 = _uniform(rng, margin_x, 0.35 * w)
            _writing(scene, rng, x0, baseline, _uniform(rng, 0.15, 0.9) * (w - margin_x - x0), xh, colour, value)
            header_bottom = baseline + 1.8 * xh
            baseline += _uniform(rng, 3.0, 4.5) * xh
    lo_y = header_bottom + (max(_uniform(rng, 0.3, 3.0) * height, 3 * xh) if lines else 0)
    centre = (w / 2, max(lo_y + gh / 2, h / 2))
    for _ in range(100):  # somewhere that stays on the (possibly rotated) sheet, below any header
        cx = _uniform(rng, margin_x + gw / 2, w - margin_x - gw / 2)
        cy = _uniform(rng, min(lo_y + gh / 2, h - margin_y - gh / 2), h - margin_y - gh / 2)
        if scene.inside(cx - gw / 2, cy - gh / 2, cx + gw / 2, cy + gh / 2, margin=0.03 * min(w, h)):
            centre = (cx, cy)
            break
    box = scene.put(cov, ink, centre)
    if ink_name == "blue":
        traits.append("blue")

    if rng.random() < 0.4:
        near = (box[0] + box[2] / 2, box[1] + box[3] / 2) if rng.random() < 0.4 else None
        traits.append("shadow")
        _scan_shadow(scene, rng, tone, near)
    if rng.random() < 0.7:
        traits.append("dust")
        scene.specks(rng, int(rng.integers(1, 60)), scale=max(f * 2, 0.5))
    image = scene.compose(rng, blur=_uniform(rng, 0.3, 0.9), noise=_uniform(rng, 1.0, 5.0))
    image, quality = _finish(rng, image, traits, jpeg=0.5, grey=0.5)
    return Drawn(image, str(label), traits, box, quality)


# --- forms ------------------------------------------------------------------------------------------------------


def render_form(rng: np.random.Generator, small: bool = False) -> Drawn:
    """One digit in a printed form box 30-120 px (often one of a row of empty boxes), sometimes touching or
    crossing the box's edge, sometimes rotated up to 5 degrees, sometimes over a ruled line."""
    box_h = int(rng.integers(30, 121))
    box_w = int(np.clip(round(box_h * _uniform(rng, 0.7, 1.4)), 30, 120))
    count = 1 if rng.random() < 0.3 else int(rng.integers(2, 9))
    thickness = int(rng.integers(1, 5))
    gap = 0.0 if rng.random() < 0.4 else float(rng.integers(3, 26))
    slot = int(rng.integers(count))
    touch = rng.random() < 0.4
    angle = _signed(rng, 0.5, 5.0) if rng.random() < 0.35 else 0.0
    ruled = rng.random() < 0.3
    traits = [f"boxes{count}" if count > 1 else "box"]

    row_w = count * box_w + (count - 1) * gap
    spare = math.ceil(0.5 * row_w * abs(math.sin(math.radians(angle)))) + 2  # room for the rotation
    left, right = (round(_uniform(rng, 0.3, 1.5) * box_w) for _ in range(2))
    top = round(_uniform(rng, 0.35, 1.0) * box_h) + spare
    bottom = round(_uniform(rng, 0.35, 1.0) * box_h) + spare + (round(0.7 * box_h) if ruled else 0)
    w, h = left + row_w + right, top + box_h + bottom
    w, h = int(math.ceil(w)), int(math.ceil(h))

    tone = _uniform(rng, 205, 250)
    scene = Scene(_paper(rng, h, w, tone, tilt=0.03, mottle=3.0), tint=_paper_tint(rng), angle=angle)
    printed = _print_colour(rng)
    boxes = _boxes(scene, printed, left, top, count, box_w, box_h, gap, thickness)
    if ruled:
        traits.append("ruled")
        y = top + box_h + _uniform(rng, 0.15, 0.6) * box_h
        scene.polyline("print", printed, [(0, y), (w, y)], int(rng.integers(1, 3)))

    ink, ink_name = _ink(rng)
    digit, label = _pick(rng)
    height = box_h * _uniform(rng, 0.5, 0.85)
    stroke = _stroke(rng, height, lo=0.07, hi=0.16)
    pen = rng.random() < 0.5
    tilt = _uniform(rng, -8, 8)
    cov = glyph(digit, rng, height=height, stroke=stroke, angle=tilt + angle, pen=pen)
    left_ink, top_ink, right_ink, bottom_ink = _ink_extent(cov)
    if right_ink - left_ink > 0.9 * box_w - thickness:  # too wide for its box: a smaller digit
        height *= (0.85 * box_w - thickness) / (right_ink - left_ink)
        cov = glyph(digit, rng, height=height, stroke=stroke, angle=tilt + angle, pen=pen)
        left_ink, top_ink, right_ink, bottom_ink = _ink_extent(cov)
    gh, gw = cov.shape
    # The ink's extent from the glyph's centre (which is what gets placed); the sheet's rotation is small enough
    # to take these as sheet distances.
    ink_l, ink_t, ink_r, ink_b = left_ink - gw / 2, top_ink - gh / 2, right_ink - gw / 2, bottom_ink - gh / 2
    x0, y0, x1, y1 = boxes[slot]
    inner = thickness / 2  # from the line's centre to its inner edge
    # Clear of the lines: the range of centres that keep the ink `clear` px inside the box.
    clear = max(3.0, 0.05 * box_h)
    cx_lo, cx_hi = x0 + inner + clear - ink_l, x1 - inner - clear - ink_r
    cy_lo, cy_hi = y0 + inner + clear - ink_t, y1 - inner - clear - ink_b
    cx, cy = _uniform(rng, cx_lo, max(cx_lo, cx_hi)), _uniform(rng, cy_lo, max(cy_lo, cy_hi))
    if touch:
        side = ("bottom", "top", "left", "right")[int(rng.choice(4, p=[0.35, 0.2, 0.2, 0.25]))]
        # How far the ink's extreme goes past the line's inner edge: 0 touches it, `thickness` lies on it, more
        # (up to a quarter of the digit) crosses it.
        over = 0.5 + _uniform(rng, 0.0, 1.0) * thickness  # (half a pixel: drawn lines sit on pixel centres)
        if rng.random() < 0.5:
            over += _uniform(rng, 0.0, 0.25) * (bottom_ink - top_ink)
        if side == "bottom":
            cy = y1 - inner + over - ink_b
        elif side == "top":
            cy = y0 + inner - over - ink_t
        elif side == "left":
            cx = x0 + inner - over - ink_l
        else:
            cx = x1 - inner + over - ink_r
        traits.append(f"touch-{side}")
    box = scene.put(cov, ink, (cx, cy))
    if angle:
        traits.append("rotated")
    if ink_name == "blue":
        traits.append("blue")
    if rng.random() < 0.5:
        scene.specks(rng, int(rng.integers(1, 8)))
    image = scene.compose(rng, blur=_uniform(rng, 0.3, 0.8), noise=_uniform(rng, 1.0, 5.0))
    image, quality = _finish(rng, image, traits, jpeg=0.4, grey=0.5)
    return Drawn(image, str(label), traits, box, quality)


# --- phone photos -----------------------------------------------------------------------------------------------


def render_photo(rng: np.random.Generator, small: bool = False) -> Drawn:
    """A phone photo (4000x3000 or 3000x4000 JPEG) of a sheet with one digit 100-400 px tall: vignette and a
    soft shadow (the darkest paper 20-60 % as bright as the brightest), a warm or cool cast, blur, sensor noise,
    a slight rotation, sometimes the sheet's edge and the table beyond it."""
    f = SMALL if small else 1.0
    landscape = rng.random() < 0.5
    w, h = (round(PHOTO[0] * f), round(PHOTO[1] * f)) if landscape else (round(PHOTO[1] * f), round(PHOTO[0] * f))
    traits = ["landscape" if landscape else "portrait"]
    angle = _uniform(rng, -4.0, 4.0)
    tone = _uniform(rng, 215, 250)
    scene = Scene(_paper(rng, h, w, tone, tilt=0.02, mottle=3.0), tint=_paper_tint(rng), angle=angle)
    if abs(angle) >= 1.0:
        traits.append("tilted")

    # The sheet: larger than the frame, or with one edge inside it and the table beyond.
    big = 0.25 * max(w, h)
    x0, y0, x1, y1 = -big, -big, w + big, h + big
    edge = rng.random() < 0.45
    if edge:
        side = ("left", "right", "top", "bottom")[int(rng.integers(4))]
        inset = _uniform(rng, 0.04, 0.25)
        if side == "left":
            x0 = inset * w
        elif side == "right":
            x1 = (1 - inset) * w
        elif side == "top":
            y0 = inset * h
        else:
            y1 = (1 - inset) * h
        traits.append(f"edge-{side}")
        wood = rng.random() < 0.5
        base = _uniform(rng, 50, 130)
        grain = _smooth_noise(rng, h, w, *((3 * h, 0.01 * w) if rng.random() < 0.5 else (0.01 * h, 3 * w)))
        table = base + (_uniform(rng, 6, 18) if wood else 4.0) * grain
        table += _uniform(rng, 2, 8) * _smooth_noise(rng, h, w, 0.15 * max(h, w))
        rgb = np.array([1.15, 0.9, 0.65]) if wood else np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.08, 0.08, 3)
        scene.set_sheet([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], table, rgb)

    ink, ink_name = _ink(rng)
    digit, label = _pick(rng)
    height = max(20.0, _uniform(rng, 100, 400) * f)
    stroke = _stroke(rng, height, lo=0.04, hi=0.13, least=max(2.0 * f, 1.5))
    cov = glyph(digit, rng, height=height, stroke=stroke, angle=_uniform(rng, -10, 10) + angle, pen=rng.random() < 0.6)
    gh, gw = cov.shape
    margin = 0.06 * min(w, h)
    vx0, vy0, vx1, vy1 = max(x0, 0) + margin, max(y0, 0) + margin, min(x1, w) - margin, min(y1, h) - margin
    centre = ((vx0 + vx1) / 2, (vy0 + vy1) / 2)
    for _ in range(100):
        cx = _uniform(rng, vx0 + gw / 2, max(vx0 + gw / 2, vx1 - gw / 2))
        cy = _uniform(rng, vy0 + gh / 2, max(vy0 + gh / 2, vy1 - gh / 2))
        if scene.inside(cx - gw / 2, cy - gh / 2, cx + gw / 2, cy + gh / 2, margin=margin):
            centre = (cx, cy)
            break
    if rng.random() < 0.3:
        traits.append("header")
        colour, value = _faint_colour(rng, ink)
        xh = max(3.0, _uniform(rng, 0.06, 0.14) * height)
        baseline = _uniform(rng, vy0 + 2.5 * xh, max(vy0 + 2.5 * xh, centre[1] - gh / 2 - 0.5 * height))
        if baseline < centre[1] - gh / 2 - 3 * xh:
            start = _uniform(rng, vx0, vx0 + 0.3 * (vx1 - vx0))
            _writing(scene, rng, start, baseline, _uniform(rng, 0.3, 0.8) * (vx1 - start), xh, colour, value)
        else:
            traits.pop()
    box = scene.put(cov, ink, centre)
    if ink_name == "blue":
        traits.append("blue")

    # Light: vignette, a directional falloff and often a soft shadow, rescaled over the visible paper so its
    # darkest part is 20-60 % as bright as its brightest.
    sh, sw = max(8, h // 16), max(8, w // 16)
    gy, gx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    u, v = gx / (sw - 1) - _uniform(rng, 0.35, 0.65), gy / (sh - 1) - _uniform(rng, 0.35, 0.65)
    light = 1.0 / (1.0 + _uniform(rng, 0.5, 2.5) * (u * u + v * v))
    theta = _uniform(rng, 0, 2 * math.pi)
    light *= 1.0 + _uniform(rng, 0.0, 0.4) * (u * math.cos(theta) + v * math.sin(theta))
    if rng.random() < 0.75:
        traits.append("shadow")
        shadow = np.zeros((sh, sw), np.float32)
        side = int(rng.integers(4))
        ex = (_uniform(rng, -0.1, 0.2), _uniform(rng, 0.8, 1.1), _uniform(rng, 0, 1), _uniform(rng, 0, 1))[side]
        ey = (_uniform(rng, 0, 1), _uniform(rng, 0, 1), _uniform(rng, -0.1, 0.2), _uniform(rng, 0.8, 1.1))[side]
        axes = (int(_uniform(rng, 0.15, 0.5) * sw), int(_uniform(rng, 0.15, 0.5) * sh))
        cv2.ellipse(shadow, (int(ex * sw), int(ey * sh)), axes, _uniform(rng, 0, 180), 0, 360, 1.0, -1)
        shadow = cv2.GaussianBlur(shadow, (0, 0), _uniform(rng, 0.04, 0.12) * max(sw, sh))
        light *= 1.0 - _uniform(rng, 0.3, 0.6) * shadow / max(float(shadow.max()), 1e-6)
    sheet_small = (
        cv2.resize(scene.sheet, (sw, sh), interpolation=cv2.INTER_AREA) > 0.99 if scene.sheet is not None else None
    )
    paper_light = light[sheet_small] if sheet_small is not None and sheet_small.any() else light
    lo, hi = float(paper_light.min()), float(paper_light.max())
    ratio = _uniform(rng, 0.2, 0.6)
    light = ratio + (1 - ratio) * (light - lo) / max(hi - lo, 1e-6)
    scene.light = cv2.resize(np.clip(light, 0.08, 1.1).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    traits.append(f"dim{int(ratio * 10) * 10}")

    warm = rng.random() < 0.5
    k = _uniform(rng, 0.05, 0.18)
    cast = (1.0, 1.0 - 0.4 * k, 1.0 - k) if warm else (1.0 - k, 1.0 - 0.3 * k, 1.0)
    traits.append("warm" if warm else "cool")
    if rng.random() < 0.4:
        scene.specks(rng, int(rng.integers(1, 30)), scale=max(2.0 * f, 0.5))
    image = scene.compose(
        rng, blur=_uniform(rng, 0.5, 1.5), noise=_uniform(rng, 2.0, 7.0), cast=cast, chroma=_uniform(rng, 0.5, 3.0)
    )
    return Drawn(image, str(label), traits, box, int(rng.integers(70, 93)))


# --- numbers ----------------------------------------------------------------------------------------------------


def _ink_profile(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a glyph that hold ink, and the first and last inked column of each."""
    ink = cov > 0.3
    rows = np.flatnonzero(ink.any(axis=1))
    first = ink[rows].argmax(axis=1)
    last = ink.shape[1] - 1 - ink[rows, ::-1].argmax(axis=1)
    return rows, first, last


def number_row(glyphs: list[np.ndarray], tops: list[int], gaps: list[float], nest: float = 0.25):
    """Glyphs written left to right: glyph i's top `tops[i]` px from a common line, and between glyphs i and
    i+1 an ink gap of `gaps[i]` px, measured where their inks come closest on the same row (0: the inks touch,
    negative: they overlap by that much). Shapes that interlock (a "1" under the arm of a "7") do not slide
    into each other by more than `nest` x the narrower one's width, even if their inks then stay apart.
    Returns the row's coverage and each glyph's (x, y, w, h) box."""
    y_min = min(tops)
    height = max(t + g.shape[0] for t, g in zip(tops, glyphs, strict=True)) - y_min
    right = np.full(height, -np.inf)  # the rightmost ink so far on each row
    lefts: list[int] = []
    previous = (0, 0)  # the last glyph's ink: right edge on the row, width
    for i, cov in enumerate(glyphs):
        rows, first, last = _ink_profile(cov)
        at = rows + tops[i] - y_min
        ink_left, ink_right = int(first.min()), int(last.max()) + 1
        if i == 0:
            x = 0
        else:
            before = right[at]
            shared = np.isfinite(before)
            if shared.any():
                x = math.ceil(float(np.max(before[shared] - first[shared])) + 1 + gaps[i - 1])
            else:  # no row in common (a digit far above the others): by the boxes
                x = math.ceil(previous[0] - ink_left + gaps[i - 1])
            nested = previous[0] - round(nest * min(previous[1], ink_right - ink_left)) - ink_left
            x = max(x, nested)
        lefts.append(x)
        right[at] = np.maximum(right[at], x + last)
        previous = (x + ink_right, ink_right - ink_left)
    shift = -min(lefts)
    lefts = [x + shift for x in lefts]
    width = max(x + g.shape[1] for x, g in zip(lefts, glyphs, strict=True))
    canvas = np.zeros((height, width), np.float32)
    boxes = []
    for cov, x, top in zip(glyphs, lefts, tops, strict=True):
        y = top - y_min
        region = canvas[y : y + cov.shape[0], x : x + cov.shape[1]]
        np.maximum(region, cov, out=region)
        bx, by, bw, bh = cv2.boundingRect((cov > 0.25).astype(np.uint8))
        boxes.append((x + bx, y + by, bw, bh))
    return canvas, boxes


def render_number(rng: np.random.Generator, small: bool = False) -> Drawn:
    """A number of 2-12 MNIST digits 20-80 px tall written side by side: about a fifth of the gaps touching or
    overlapping (often next to a "1"), a jittered baseline, on a strip or a field of a page, sometimes across
    two pasted paper tones or on a ruled line."""
    n = int(rng.integers(2, 13))
    height = _uniform(rng, 20, 80)
    picks = [_pick(rng) for _ in range(n)]
    touching = [rng.random() < 0.2 for _ in range(n - 1)]
    traits = []
    if rng.random() < 0.35:  # "1"s next to touching neighbours
        for _ in range(int(rng.integers(1, 3))):
            i = int(rng.integers(n))
            picks[i] = _pick(rng, 1)
            if i > 0:
                touching[i - 1] = True
            if i < n - 1 and (i == 0 or rng.random() < 0.6):
                touching[i] = True
        traits.append("ones")
    labels = "".join(str(label) for _, label in picks)
    pen = rng.random() < 0.5
    stroke = _stroke(rng, height, lo=0.06, hi=0.15)
    slant = _uniform(rng, -6, 6)
    jitter = _uniform(rng, 0.02, 0.1)
    glyphs, tops = [], []
    for digit, _ in picks:
        size = height * _uniform(rng, 0.88, 1.1)
        cov = glyph(digit, rng, height=size, stroke=stroke, angle=slant + _uniform(rng, -5, 5), pen=pen)
        glyphs.append(cov)
        tops.append(-cov.shape[0] + round(height * _uniform(rng, -jitter, jitter)))
    widths = [_ink_extent(cov)[2] - _ink_extent(cov)[0] for cov in glyphs]
    gaps = [
        # Touching: the strokes meet and overlap by up to a stroke's width (never more than 12 % of the height
        # or a third of the narrower digit: a "1" is not swallowed by its neighbour). Else a small gap, >= 2 px.
        -min(_uniform(rng, 0.0, 1.0) * stroke, 0.12 * height, 0.3 * min(widths[i], widths[i + 1]))
        if touch
        else max(2.0, _uniform(rng, 0.04, 0.35) * height)
        for i, touch in enumerate(touching)
    ]
    if any(touching):
        traits.append("touching")
    row, boxes = number_row(glyphs, tops, gaps)
    rh, rw = row.shape

    field = rng.random() < 0.35
    traits.insert(0, "field" if field else "strip")
    if field:
        left, right = (round(_uniform(rng, 0.8, 4.0) * height) for _ in range(2))
        top, bottom = (round(_uniform(rng, 0.6, 2.5) * height) for _ in range(2))
    else:
        left, right, top, bottom = (round(_uniform(rng, 0.15, 0.8) * height) for _ in range(4))
    ruled = rng.random() < 0.3
    if ruled:
        bottom = max(bottom, round(0.3 * height) + 3)
    w, h = rw + left + right, rh + top + bottom
    tone = _uniform(rng, 200, 250)
    paper = _paper(rng, h, w, tone, tilt=0.03, mottle=3.0)
    scene = Scene(paper, tint=_paper_tint(rng))

    if rng.random() < 0.3 and n > 1:  # two paper tones pasted side by side, the seam between two digits
        traits.append("tones")
        i = int(rng.integers(n - 1))
        a, b = boxes[i], boxes[i + 1]
        seam = left + (a[0] + a[2] + b[0]) / 2
        other = tone + _signed(rng, 12, 50)
        if other > 252:
            other = tone - _uniform(rng, 12, 50)
        piece = _paper(rng, h, w, other, tilt=0.04, mottle=3.0)
        if rng.random() < 0.5:
            scene.fill_paper([(seam, -10), (w + 10, -10), (w + 10, h + 10), (seam, h + 10)], piece)
        else:
            scene.fill_paper([(-10, -10), (seam, -10), (seam, h + 10), (-10, h + 10)], piece)
        if rng.random() < 0.5:  # a thin seam where the two pieces meet
            scene.polyline(
                "print", np.full(3, other * 0.8, np.float32), [(seam, 0), (seam, h)], 1, value=_uniform(rng, 0.2, 0.6)
            )
    printed = _print_colour(rng) if rng.random() < 0.5 else np.array([130, 160, 210], np.float32)
    if ruled:
        traits.append("ruled")
        baseline = top + rh - round(height * _uniform(rng, 0.0, 0.1))  # the digits sit on (or dip over) it
        thickness = int(rng.integers(1, 3))
        scene.polyline("print", printed, [(0, baseline), (w, baseline)], thickness)
        if field and rng.random() < 0.5:
            spacing = max(1.3 * height, _uniform(rng, 30, 50))
            for y in np.arange(baseline - spacing, 0, -spacing):
                if y + 2 < top - 0.3 * height:
                    scene.polyline("print", printed, [(0, y), (w, y)], thickness)
    elif field and rng.random() < 0.4:  # a printed form field around the number
        traits.append("framed")
        pad = [round(_uniform(rng, 0.25, 0.7) * height) for _ in range(4)]
        scene.rectangle(
            "print",
            printed,
            left - pad[0],
            top - pad[1],
            left + rw + pad[2],
            top + rh + pad[3],
            int(rng.integers(1, 3)),
        )

    ink, ink_name = _ink(rng)
    box = scene.put(row, ink, (left + rw / 2, top + rh / 2))
    if ink_name == "blue":
        traits.append("blue")
    if rng.random() < 0.5:
        scene.specks(rng, int(rng.integers(1, 10)))
    image = scene.compose(rng, blur=_uniform(rng, 0.3, 0.8), noise=_uniform(rng, 1.0, 5.0))
    image, quality = _finish(rng, image, traits, jpeg=0.4, grey=0.5)
    return Drawn(image, labels, traits, box, quality)


# --- blanks -----------------------------------------------------------------------------------------------------


def render_blank(rng: np.random.Generator, small: bool = False) -> Drawn:
    """Paper with no digit, page- or strip-sized: shading, and at random dust, lined paper, empty form boxes,
    a shadow, faint writing, a rotated sheet, tone tiles pasted side by side."""
    page = rng.random() < 0.5
    f = SMALL if small and page else 1.0
    if page:
        name = "a4" if rng.random() < 0.6 else "letter"
        dpi = int(rng.integers(130, 201))
        w, h = (round(side / 25.4 * dpi * f) for side in (A4_MM if name == "a4" else LETTER_MM))
        traits = ["page", name]
    else:
        w, h = int(rng.integers(80, 1201)), int(rng.integers(30, 301))
        traits = ["strip"]
    unit = f  # lengths given in full-size pixels are scaled with the image
    angle = _signed(rng, 1.0, 3.0) if rng.random() < 0.3 else 0.0
    tone = _uniform(rng, 195, 250)
    scene = Scene(_paper(rng, h, w, tone, tilt=0.04, mottle=4.0), tint=_paper_tint(rng), angle=angle)
    if angle:
        traits.append("rotated")
        if page:
            lid = _uniform(rng, 150, 255) if rng.random() < 0.3 else _uniform(rng, 225, 255)
            scene.set_sheet([(0, 0), (w, 0), (w, h), (0, h)], lid, np.ones(3))
    ink, _ = _ink(rng)

    if rng.random() < 0.25:  # tiles of other paper pasted side by side
        traits.append("tiles")
        count = int(rng.integers(2, 5))
        cuts = np.sort(rng.uniform(0.15, 0.85, count - 1)) * w
        edges = [-10.0, *cuts.tolist(), w + 10.0]
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            if rng.random() < 0.7:
                other = float(np.clip(tone + _signed(rng, 10, 50), 150, 252))
                scene.fill_paper([(a, -10), (b, -10), (b, h + 10), (a, h + 10)], _paper(rng, h, w, other))
    if rng.random() < 0.35:  # lined paper
        traits.append("lined")
        spacing = max(8.0, _uniform(rng, 30, 50) * unit)
        colour = np.array([_uniform(rng, 120, 170), _uniform(rng, 150, 190), _uniform(rng, 190, 230)], np.float32)
        if rng.random() < 0.3:
            colour = np.full(3, _uniform(rng, 90, 170), np.float32)
        thickness = int(rng.integers(1, 3))
        start = _uniform(rng, 0.05, 0.15) * h if page else _uniform(rng, 0, spacing)
        for y in np.arange(start, h, spacing):
            scene.polyline("print", colour, [(-20, y), (w + 20, y)], thickness, value=_uniform(rng, 0.6, 1.0))
        if page and rng.random() < 0.5:  # the red margin line of a notebook
            x = _uniform(rng, 0.08, 0.15) * w
            scene.polyline("print", colour, [(x, -20), (x, h + 20)], thickness)
    if rng.random() < 0.3:  # empty form boxes
        box_h = int(rng.integers(30, 121))
        if not page:
            box_h = min(box_h, int(0.8 * h))
        if box_h >= 12:
            box_w = int(np.clip(round(box_h * _uniform(rng, 0.7, 1.4)), 12, 120))
            count = 1 if rng.random() < 0.3 else int(rng.integers(2, 9))
            gap = 0.0 if rng.random() < 0.4 else float(rng.integers(3, 26))
            count = max(1, min(count, int((w - 10) // (box_w + gap))))
            row_w = count * box_w + (count - 1) * gap
            if row_w < w - 4:
                traits.append("boxes")
                x = _uniform(rng, 2, w - row_w - 2)
                y = _uniform(rng, 2, h - box_h - 2)
                _boxes(scene, _print_colour(rng), x, y, count, box_w, box_h, gap, int(rng.integers(1, 5)))
    if rng.random() < 0.3:  # faint writing
        xh = max(2.5, _uniform(rng, 6, 14) * unit)
        if h > 4 * xh:
            traits.append("header")
            colour, value = _faint_colour(rng, ink)
            lines = int(rng.integers(1, 4)) if page else 1
            baseline = _uniform(rng, 2.5 * xh, max(2.5 * xh, (0.3 if page else 1.0) * h - 1.5 * xh))
            for _ in range(lines):
                if baseline > h - 1.5 * xh:
                    break
                x0 = _uniform(rng, 0.03, 0.3) * w
                _writing(scene, rng, x0, baseline, _uniform(rng, 0.2, 0.9) * (w - x0), xh, colour, value)
                baseline += _uniform(rng, 3.0, 4.5) * xh
    if rng.random() < 0.35:
        traits.append("shadow")
        _scan_shadow(scene, rng, tone, None)
    if rng.random() < 0.6:
        traits.append("dust")
        scene.specks(rng, int(rng.integers(1, 60 if page else 12)), scale=max(2 * f, 0.5) if page else 1.0)
    if len(traits) == (2 if page else 1):
        traits.append("plain")
    image = scene.compose(rng, blur=_uniform(rng, 0.3, 0.9), noise=_uniform(rng, 1.0, 5.0))
    image, quality = _finish(rng, image, traits, jpeg=0.4, grey=0.5)
    return Drawn(image, "", traits, None, quality)


RENDERERS = {
    "pages": render_page,
    "forms": render_form,
    "photos": render_photo,
    "numbers": render_number,
    "blanks": render_blank,
}


# --- writing the set --------------------------------------------------------------------------------------------


def render_one(kind: str, index: int, seed: int, small: bool = False) -> Drawn:
    """Image `index` of `kind`: drawn from a generator seeded by (seed, kind, index) alone."""
    rng = np.random.default_rng([seed, KIND_CODES[kind], index])
    return RENDERERS[kind](rng, small)


def _save(drawn: Drawn, path: Path) -> None:
    """Write atomically: a temporary file in the same folder, renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    image = Image.fromarray(drawn.image)
    if drawn.quality is None:
        image.save(tmp, format="PNG", compress_level=4)
    else:
        image.save(tmp, format="JPEG", quality=drawn.quality)
    os.replace(tmp, path)


def _task(job: tuple[str, int, int, bool, str]) -> dict:
    """Render and write one image (runs in a worker); returns its truth.csv row and its box for the preview."""
    kind, index, seed, small, out_dir = job
    drawn = render_one(kind, index, seed, small)
    name = f"{kind}/{index:04d}.{'png' if drawn.quality is None else 'jpg'}"
    _save(drawn, Path(out_dir) / name)
    shape = drawn.image.shape
    return {
        "file": name,
        "kind": kind,
        "truth": drawn.truth,
        "traits": "+".join(drawn.traits),
        "box": drawn.box,
        "size": (shape[1], shape[0]),
    }


def _tile(path: Path, box: tuple[int, int, int, int] | None, width: int, height: int) -> np.ndarray:
    """A preview tile: the image fitted into width x height; a big image with a known digit box gets its left
    half, and a zoom on the digits (box outlined in red on the thumbnail) the right half."""
    image = np.asarray(Image.open(path).convert("RGB"))
    tile = np.full((height, width, 3), 40, np.uint8)

    def fit(img: np.ndarray, w: int, h: int) -> np.ndarray:
        scale = min(w / img.shape[1], h / img.shape[0], 3.0)
        size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST)

    big = max(image.shape[:2]) > 700
    if big and box is not None:
        x, y, w, h = box
        pad = max(w, h) // 2 + 12
        crop = image[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad]
        thumb = fit(image, width // 2 - 4, height)
        scale = thumb.shape[1] / image.shape[1]
        thumb = thumb.copy()
        cv2.rectangle(
            thumb,
            (int(x * scale) - 2, int(y * scale) - 2),
            (int((x + w) * scale) + 2, int((y + h) * scale) + 2),
            (255, 0, 0),
            1,
        )
        zoom = fit(crop, width // 2 - 4, height)
        tile[: thumb.shape[0], : thumb.shape[1]] = thumb
        tile[: zoom.shape[0], width // 2 : width // 2 + zoom.shape[1]] = zoom
    else:
        thumb = fit(image, width, height)
        tile[: thumb.shape[0], : thumb.shape[1]] = thumb
    return tile


def write_preview(out_dir: Path, kind: str, rows: list[dict], columns: int = 8) -> Path:
    """OUT_DIR/preview_<kind>.png: a contact sheet of the kind's images with their file, truth and traits."""
    width, height, caption = 300, 220, 34
    cells = max(1, len(rows))
    grid_rows = math.ceil(cells / columns)
    sheet = np.full((grid_rows * (height + caption), min(cells, columns) * width, 3), 20, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for n, row in enumerate(rows):
        x, y = (n % columns) * width, (n // columns) * (height + caption)
        tile = _tile(out_dir / row["file"], row.get("box"), width - 4, height - 4)
        sheet[y + 2 : y + 2 + tile.shape[0], x + 2 : x + 2 + tile.shape[1]] = tile
        label = f"{Path(row['file']).stem} [{row['truth']}] {row['size'][0]}x{row['size'][1]}"
        cv2.putText(sheet, label, (x + 4, y + height + 12), font, 0.42, (255, 255, 0), 1, cv2.LINE_AA)
        cv2.putText(sheet, row["traits"][:48], (x + 4, y + height + 28), font, 0.36, (230, 230, 230), 1, cv2.LINE_AA)
    path = out_dir / f"preview_{kind}.png"
    Image.fromarray(sheet).save(path, format="PNG")
    return path


def _parse_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown kind(s) {', '.join(unknown) or '(none)'}; choose from {KINDS}")
    return [k for k in KINDS if k in kinds]  # in the canonical order, once each


def main(argv: list[str] | None = None) -> int:
    from toolkit import data

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--kinds", type=_parse_kinds, default=list(KINDS), help="comma-separated, of " + ",".join(KINDS)
    )
    parser.add_argument("--count", type=int, default=60, help="images per kind (default 60)")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--small", action="store_true", help="page-sized kinds at a quarter size (fast tests)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (the output does not depend on it)")
    parser.add_argument("--preview", action="store_true", help="also write OUT_DIR/preview_<kind>.png")
    parser.add_argument(
        "--digits",
        choices=("train", "test"),
        default="train",
        help="which MNIST digits to write: train (default), or test, digits the shipped model never trained on",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 10000 or args.jobs < 1:
        parser.error("--count must be 1-10000 and --jobs >= 1")

    started = time.monotonic()
    train, test = data.load_mnist()
    images, labels = train if args.digits == "train" else test
    out: Path = args.out_dir
    for kind in args.kinds:
        folder = out / kind
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.iterdir():  # an earlier run's images (other count, other formats)
            if FILE_PATTERN.match(stale.name):
                stale.unlink()
    jobs = [(kind, i, args.seed, args.small, str(out)) for kind in args.kinds for i in range(args.count)]
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs, initializer=_init, initargs=(images, labels)) as pool:
            rows = list(pool.map(_task, jobs, chunksize=2))
    else:
        _init(images, labels)
        rows = [_task(job) for job in jobs]

    kept = []  # rows of kinds not rendered this time whose images are still there
    if (out / "truth.csv").exists():
        with (out / "truth.csv").open(newline="") as fh:
            kept = [r for r in csv.DictReader(fh) if r.get("kind") not in args.kinds and (out / r["file"]).is_file()]
    order = {kind: n for n, kind in enumerate(KINDS)}
    table = sorted(kept + rows, key=lambda r: (order.get(r["kind"], len(KINDS)), r["file"]))
    text = io.StringIO()
    writer = csv.DictWriter(text, ["file", "kind", "truth", "traits"], lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(table)
    tmp = out / ".truth.csv.tmp"
    tmp.write_text(text.getvalue())
    os.replace(tmp, out / "truth.csv")
    if args.preview:
        for kind in args.kinds:
            write_preview(out, kind, [r for r in rows if r["kind"] == kind])
    counts = Counter(r["kind"] for r in rows)
    elapsed = time.monotonic() - started
    print(f"wrote {len(rows)} images to {out} in {elapsed:.1f} s (seed {args.seed}{', small' if args.small else ''})")
    for kind in args.kinds:
        print(f"  {kind:8s} {counts[kind]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
