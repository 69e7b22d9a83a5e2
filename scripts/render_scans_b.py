"""Independent held-out renderer of realistic scans: for REPORTING how well the tool reads them, never for tuning.

Written without looking at the toolkit's reading pipeline or its own scan renderer; its paper, ink, lighting and
camera models are its own. Seeds were fixed before any tuning (default 777); each image is seeded from (seed, kind,
index), so the same arguments give byte-identical files whatever --jobs is. Only MNIST *test* digits are drawn.

    python scripts/render_scans_b.py OUT_DIR [--kinds pages,forms,photos,numbers,blanks] [--count 60] [--seed 777]
        [--preview] [--small] [--jobs N]

Writes OUT_DIR/<kind>/NNNN.<png|jpg> and OUT_DIR/truth.csv (file,kind,truth,traits; truth "" for blanks); --preview
adds OUT_DIR/preview_<kind>.png contact sheets (each image beside a zoom on its digits); --small renders pages,
photos and page-sized blanks at a quarter of the size (for tests).
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import os
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

KINDS = ("pages", "forms", "photos", "numbers", "blanks")
F32 = np.float32
Rng = np.random.Generator
Focus = tuple[float, float, float] | None  # (x, y, side) of the written digits in the final image, for previews
INKS = {"black_ink": (28, 28, 34), "blue_ink": (40, 52, 130), "pencil": (80, 80, 86)}  # reflectance, 0..255 RGB
BOX_COLOURS = {"grey_box": (85, 85, 90), "blue_box": (70, 105, 205),
               "red_box": (210, 75, 70), "green_box": (60, 145, 95)}  # fmt: skip
PAGE_INCHES = {"a4": (8.27, 11.69), "letter": (8.5, 11.0)}
LABELS = ("Code", "Class", "Grade", "Office use", "Item", "Qty", "Section", "Score", "Group")
CELL = 180  # preview cell side, px


@dataclass
class Scan:
    pixels: np.ndarray  # uint8, HxW (grey) or HxWx3 (RGB)
    truth: str
    traits: list[str]
    ext: str = "png"
    quality: int = 90
    focus: Focus = None


@functools.cache
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    from toolkit import data

    return data.load_mnist()[1]


# ---------------------------------------------------------------- materials: paper, ink, output


def noise_field(h: int, w: int, rng: Rng, cell: float, cell_x: float | None = None) -> np.ndarray:
    """Smooth noise of about unit amplitude with features `cell` px across: drawn small, upscaled."""
    gh, gw = max(2, round(h / cell) + 2), max(2, round(w / (cell_x or cell)) + 2)
    return cv2.resize(rng.standard_normal((gh, gw)).astype(F32), (w, h), interpolation=cv2.INTER_CUBIC)


def paper(h: int, w: int, rng: Rng, tone: float | None = None) -> np.ndarray:
    """Paper reflectance, HxWx3 float32 in grey levels: tone, slight tint, faint blotches, fibre mottling."""
    tone = rng.uniform(226, 248) if tone is None else tone
    tint = np.array([rng.uniform(0, 4), rng.uniform(-1, 2), rng.uniform(-7, 1)], F32)
    grey = tone + rng.uniform(0.8, 2.5) * noise_field(h, w, rng, max(h, w) / 4)
    grey += rng.uniform(0.5, 1.5) * noise_field(h, w, rng, 6)
    return grey[..., None] + tint


def digit_alpha(index: int, height: int, rng: Rng) -> np.ndarray:
    """MNIST test digit `index` as ink coverage 0..1, cropped to its strokes, `height` px tall."""
    img = mnist_test()[0][index]
    ys, xs = np.nonzero(img > 40)
    crop = np.pad(img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(F32) / 255, 2)
    s = height / (ys.max() - ys.min() + 1)
    size = (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s)))
    alpha = cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR)
    if s < 2.5:  # small: keep MNIST's own grey-level antialiasing
        alpha = np.clip(alpha * 1.3, 0, 1)
    else:  # large: smooth the upscaled strokes, then give them a pen's edge (higher level = thinner pen)
        alpha = cv2.GaussianBlur(alpha, (0, 0), 0.55 * s)
        soft = min(0.25, 1.2 / s)
        alpha = np.clip((alpha - rng.uniform(0.3, 0.5)) / (2 * soft) + 0.5, 0, 1)
    ys, xs = np.nonzero(alpha > 0.02)
    return alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def apply_ink(canvas: np.ndarray, alpha: np.ndarray, x: int, y: int, ink: tuple[float, ...]) -> None:
    """Multiply ink of reflectance `ink` into the canvas with coverage `alpha`, top-left at (x, y), clipped."""
    h, w = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if x0 < x1 and y0 < y1:
        a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
        canvas[y0:y1, x0:x1] *= 1 - a * (1 - np.asarray(ink, F32) / 255)


def pick_ink(rng: Rng, traits: list[str]) -> tuple[float, ...]:
    name = str(rng.choice(list(INKS), p=[0.5, 0.35, 0.15]))
    traits.append(name)
    return tuple(c + rng.uniform(-8, 8) for c in INKS[name])


def scanned(canvas: np.ndarray, rng: Rng, traits: list[str], truth: str, jpeg: float = 0, focus: Focus = None) -> Scan:
    """Scanner output: sensor grain, optics blur, 8-bit grey or RGB, PNG or (with chance `jpeg`) JPEG."""
    canvas += rng.standard_normal(canvas.shape[:2], dtype=F32)[..., None] * F32(rng.uniform(1.0, 3.5))
    canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.3, 0.7))
    gray, as_jpeg, quality = rng.random() < 0.5, rng.random() < jpeg, int(rng.integers(75, 96))
    if gray:
        canvas = canvas @ np.array([0.299, 0.587, 0.114], F32)
    traits += ["gray" if gray else "rgb"] + (["jpeg"] if as_jpeg else [])
    pixels = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    return Scan(pixels, truth, traits, "jpg" if as_jpeg else "png", quality, focus)


# ---------------------------------------------------------------- conditions


def rotate(canvas: np.ndarray, angle: float, fill: float, focus: Focus = None) -> tuple[np.ndarray, Focus]:
    """The whole sheet turned by `angle` degrees about its centre; uncovered corners show `fill`."""
    h, w = canvas.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    out = cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(fill, fill, fill))
    if focus is not None:
        fx, fy, side = focus
        focus = (m[0, 0] * fx + m[0, 1] * fy + m[0, 2], m[1, 0] * fx + m[1, 1] * fy + m[1, 2], side)
    return out, focus


def shade_patch(canvas: np.ndarray, rng: Rng) -> None:
    """A soft-edged local shadow or shading patch, 24-60 grey levels darker (on white) at its core."""
    h, w = canvas.shape[:2]
    sh, sw = h // 8 + 1, w // 8 + 1
    cx, cy, r = rng.uniform(0, sw), rng.uniform(0, sh), rng.uniform(0.1, 0.3) * min(sh, sw)
    angles, radii = np.sort(rng.uniform(0, 2 * np.pi, 7)), r * rng.uniform(0.6, 1.6, 7)
    pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
    poly = cv2.fillPoly(np.zeros((sh, sw), F32), [np.round(pts).astype(np.int32)], 1.0)
    mask = np.asarray(cv2.GaussianBlur(poly, (0, 0), r * rng.uniform(0.15, 0.4)), F32)
    mask *= rng.uniform(24, 60) / 226 / max(float(mask.max()), 1e-6)
    canvas *= (1 - cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR))[..., None]


def shading_gradient(canvas: np.ndarray, rng: Rng) -> None:
    """Uneven illumination across the sheet: a linear fall-off of 10-35 grey levels."""
    h, w = canvas.shape[:2]
    a = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(a) * np.linspace(0, 1, w, dtype=F32)[None] + np.sin(a) * np.linspace(0, 1, h, dtype=F32)[:, None]
    canvas *= (1 - rng.uniform(10, 35) / 240 * (ramp - ramp.min()) / (ramp.max() - ramp.min()))[..., None]


def dust(canvas: np.ndarray, rng: Rng) -> None:
    """Specks of dust and toner, 1-5 px across."""
    h, w = canvas.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(5, 60))):
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        cv2.circle(mask, centre, int(rng.integers(0, 3)), int(rng.integers(80, 230)), -1, cv2.LINE_AA)
    canvas *= (1 - mask.astype(F32) / 300)[..., None]


def ruled_lines(canvas: np.ndarray, rng: Rng) -> None:
    """Printed ruled lines 30-50 px apart (light blue or grey), sometimes with a red margin line."""
    h, w = canvas.shape[:2]
    spacing = int(rng.integers(30, 51))
    colour = (150.0, 180.0, 225.0) if rng.random() < 0.6 else (175.0, 175.0, 180.0)
    for y in range(int(rng.integers(spacing, 3 * spacing)), h, spacing):
        cv2.line(canvas, (0, y), (w - 1, y), colour, 1)
    if rng.random() < 0.5:
        x = int(w * rng.uniform(0.08, 0.15))
        cv2.line(canvas, (x, 0), (x, h - 1), (220.0, 140.0, 140.0), 1)


def scribble(xh: int, length: int, rng: Rng) -> np.ndarray:
    """A line of handwriting-like pen scribble (looped letters, ascenders, descenders, word gaps), x-height `xh`:
    coverage 0..1 of shape (4 xh, length)."""
    mask = np.zeros((4 * xh, length), np.uint8)
    base, slant, x = 2.8 * xh, rng.uniform(0, 0.4), float(xh)
    while x < length - 3 * xh:
        n = int(rng.integers(2, 8))
        t = np.linspace(0, 2 * np.pi * n, 20 * n)
        k = xh * rng.uniform(0.12, 0.2)
        heights = np.repeat(rng.choice([1.0, 1.0, 1.0, 2.0, -1.0], n) * rng.uniform(0.8, 1.1, n), 20)
        y = base - heights * xh * (1 - np.cos(t)) / 2 + np.cumsum(rng.normal(0, 0.04 * xh, t.size))
        xs = x + k * t - k * rng.uniform(0.9, 1.6) * np.sin(t) + slant * (base - y)
        pts = np.round(np.stack([xs, y], 1) * 16).astype(np.int32)
        cv2.polylines(mask, [pts], False, 255, max(1, round(xh / 8)), cv2.LINE_AA, shift=4)
        x = xs.max() + xh * rng.uniform(0.6, 1.5)
    return mask.astype(F32) / 255


def header_line(canvas: np.ndarray, rng: Rng, avoid: tuple[int, int], scale: float) -> None:
    """A faint line of scribbled handwriting, lighter than the digit, in a band clear of rows `avoid`."""
    h, w = canvas.shape[:2]
    band = scribble(max(5, round(rng.integers(8, 20) * scale)), int(w * rng.uniform(0.25, 0.7)), rng)
    for _ in range(50):
        y = int(rng.integers(int(0.04 * h), h - band.shape[0] - int(0.04 * h)))
        if y + band.shape[0] < avoid[0] or y > avoid[1]:
            ink = rng.uniform(130, 185) + np.array([0, 0, rng.uniform(0, 30)])
            apply_ink(canvas, band, int(rng.integers(int(0.04 * w), w - band.shape[1])), y, tuple(ink))
            return


def form_style(rng: Rng, traits: list[str]) -> tuple[int, int, int, int, tuple]:
    """Box size, count, gap, line width and colour of a printed row of form boxes."""
    size, n = int(rng.integers(30, 121)), 1 if rng.random() < 0.3 else int(rng.integers(3, 9))
    gap = 0 if rng.random() < 0.4 else int(rng.integers(3, size // 2 + 1))
    while n > 1 and n * size + (n - 1) * gap > 1140:
        n -= 1
    name = str(rng.choice(list(BOX_COLOURS), p=[0.55, 0.2, 0.15, 0.1]))
    traits += [name, "row" if n > 1 else "single_box"]
    return size, n, gap, int(rng.integers(1, 4)), tuple(float(c) for c in BOX_COLOURS[name])


def box_row(canvas: np.ndarray, x: int, y: int, style: tuple[int, int, int, int, tuple]) -> list[tuple[int, int]]:
    """A printed row of square form boxes in `style` (see form_style); returns each box's top-left corner."""
    size, n, gap, thick, colour = style
    corners = [(x + i * (size + gap), y) for i in range(n)]
    for bx, by in corners:
        cv2.rectangle(canvas, (bx, by), (bx + size - 1, by + size - 1), colour, thick)
    return corners


def empty_boxes(canvas: np.ndarray, rng: Rng) -> None:
    """One to three rows of empty printed form boxes."""
    h, w = canvas.shape[:2]
    size, n, gap, thick, colour = form_style(rng, [])
    n = max(1, min(n, (w - 20) // (size + gap)))
    x, y = int(rng.integers(10, max(11, w - n * (size + gap) - 10))), int(rng.integers(10, max(11, h // 2)))
    for _ in range(int(rng.integers(1, 4))):
        if y + size < h - 5:
            box_row(canvas, x, y, (size, n, gap, thick, colour))
        y += int(size * rng.uniform(1.4, 2.5))


def photo_lighting(h: int, w: int, rng: Rng, paper_mask: np.ndarray, traits: list[str]) -> np.ndarray:
    """Low-res light map (vignette and/or a broad soft shadow), scaled so the darkest paper gets 20-60% of the
    brightest paper's light."""
    yy, xx = np.mgrid[0:h, 0:w].astype(F32)
    light, roll = np.ones((h, w), F32), rng.random()
    if roll < 0.7:
        cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
        light *= np.clip(1 - rng.uniform(0.3, 0.8) * d2, 0.05, 1)
        traits.append("vignette")
    if roll > 0.4:
        a, px, py = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        d = ((xx - px) * np.cos(a) + (yy - py) * np.sin(a)) / (rng.uniform(0.03, 0.2) * max(h, w))
        light *= 1 - rng.uniform(0.4, 0.8) / (1 + np.exp(-d))
        traits.append("shadow")
    ratio, lit = rng.uniform(0.2, 0.6), light[paper_mask > 0.5]
    traits.append(f"dark{round(ratio * 100)}")
    return np.clip(ratio + (1 - ratio) * (light - lit.min()) / (lit.max() - lit.min()), 0.5 * ratio, 1)


def table_edge(canvas: np.ndarray, rng: Rng) -> np.ndarray:
    """Pull one or two paper edges in so the table shows there; returns the paper's coverage (HxW, 0..1)."""
    h, w = canvas.shape[:2]
    quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    for edge in rng.choice(4, int(rng.integers(1, 3)), replace=False):
        i, j, inward = [(0, 1, (0, 1)), (1, 2, (-1, 0)), (2, 3, (0, -1)), (3, 0, (1, 0))][edge]
        for c in (i, j):
            quad[c] += np.array(inward) * rng.uniform(0.03, 0.12) * (h if inward[1] else w)
    mask = cv2.fillPoly(np.zeros((h, w), np.uint8), [np.round(quad * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    wood = rng.random() < 0.5
    colour = np.array((125, 88, 58) if wood else (rng.uniform(40, 90),) * 3, F32)
    grain = 1 + 0.1 * (noise_field(h, w, rng, h / 60, w / 3) if wood else noise_field(h, w, rng, 40))
    m = mask.astype(F32)[..., None] / 255
    canvas *= m
    canvas += (1 - m) * grain[..., None] * colour
    return m[..., 0]


def camera(canvas: np.ndarray, rng: Rng, traits: list[str]) -> np.ndarray:
    """Phone camera output: colour cast (warm or cool white balance), lens blur, shot and read noise, 8-bit."""
    warm = rng.random() < 0.5
    gains = [1.0, rng.uniform(0.9, 0.97), rng.uniform(0.75, 0.9)] if warm else [rng.uniform(0.85, 0.95), 0.96, 1.0]
    canvas *= np.array(gains, F32) * F32(rng.uniform(0.9, 1.06))
    blur = rng.uniform(0.5, 1.5)
    canvas = np.asarray(cv2.GaussianBlur(canvas, (0, 0), blur), F32)
    sigma = np.maximum(canvas, 0)  # shot noise grows with the signal, read noise does not (all in place: 36 M values)
    sigma *= F32(rng.uniform(0.02, 0.12))
    sigma += F32(rng.uniform(1, 9))
    noise = rng.standard_normal(canvas.shape, dtype=F32)
    noise *= np.sqrt(sigma, out=sigma)
    canvas += noise
    traits += ["warm" if warm else "cool", f"blur{blur:.1f}", "noise"]
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)


def chance(rng: Rng, p: float, traits: list[str], name: str) -> bool:
    """True with probability p, and then the condition `name` is recorded."""
    hit = bool(rng.random() < p)
    traits += [name] if hit else []
    return hit


# ---------------------------------------------------------------- kinds


def render_pages(rng: Rng, scale: float) -> Scan:
    """One digit anywhere on an A4 / letter page scanned at 100-200 dpi, maybe a faint header line."""
    size, dpi = str(rng.choice(list(PAGE_INCHES))), int(rng.integers(100, 201))
    w, h = (round(v * dpi * scale) for v in PAGE_INCHES[size])
    traits, canvas = [size, f"dpi{dpi}"], paper(h, w, rng)
    angle = rng.uniform(1, 5) * rng.choice([-1, 1]) if rng.random() < 0.3 else 0.0
    margin = int(abs(np.sin(np.radians(angle))) * max(h, w) / 2 + 0.03 * w) + 4
    index = int(rng.integers(10000))
    alpha = digit_alpha(index, max(20, round(rng.integers(25, 151) * scale)), rng)
    ah, aw = alpha.shape
    x, y = int(rng.integers(margin, w - margin - aw)), int(rng.integers(margin, h - margin - ah))
    if chance(rng, 0.5, traits, "header"):
        header_line(canvas, rng, (y - ah // 2, y + ah + ah // 2), scale)
    apply_ink(canvas, alpha, x, y, pick_ink(rng, traits))
    if chance(rng, 0.15, traits, "shadow"):
        shade_patch(canvas, rng)
    if chance(rng, 0.3, traits, "dust"):
        dust(canvas, rng)
    focus: Focus = (x + aw / 2, y + ah / 2, 2.5 * max(ah, aw))
    if angle:
        canvas, focus = rotate(canvas, angle, rng.uniform(240, 252), focus)
        traits.append("rotated")
    return scanned(canvas, rng, traits, str(mnist_test()[1][index]), focus=focus)


def render_forms(rng: Rng, scale: float) -> Scan:
    """One digit in one box of a printed row of form boxes, on a form crop 300-1200 px wide."""
    traits: list[str] = []
    style = form_style(rng, traits)
    size, n, gap, thick, colour = style
    row = n * size + (n - 1) * gap
    w, h = int(np.clip(row + rng.integers(40, 400), 300, 1200)), int(size * rng.uniform(1.5, 3.5)) + 40
    canvas = paper(h, w, rng)
    x0, y0 = int(rng.integers(20, w - row - 19)), int(rng.integers(20, h - size - 19))
    if y0 > 30 and chance(rng, 0.5, traits, "label"):
        mask = np.zeros((h, w), np.uint8)
        cv2.putText(mask, str(rng.choice(LABELS)), (x0, y0 - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1, cv2.LINE_AA)
        apply_ink(canvas, mask.astype(F32) / 255, 0, 0, colour)
    bx, by = box_row(canvas, x0, y0, style)[int(rng.integers(n))]
    index, inner = int(rng.integers(10000)), size - 2 * thick
    touching = chance(rng, 1 / 3, traits, "touching")
    share = rng.uniform(0.8, 1.1) if touching else rng.uniform(0.5, 0.8)  # digit height / box inside
    alpha = digit_alpha(index, max(14, int(inner * share)), rng)
    ah, aw = alpha.shape
    x, y = bx + (size - aw) // 2 + int(rng.integers(-2, 3)), by + (size - ah) // 2 + int(rng.integers(-2, 3))
    if touching:  # push the digit over one side of its box: its extreme lands up to a quarter of it past the line
        side, over = int(rng.integers(4)), rng.uniform(-0.02, 0.25)
        y = by - int(over * ah) if side == 0 else by + size - ah + int(over * ah) if side == 1 else y
        x = bx - int(over * aw) if side == 2 else bx + size - aw + int(over * aw) if side == 3 else x
    apply_ink(canvas, alpha, x, y, pick_ink(rng, traits))
    focus: Focus = (bx + size / 2, by + size / 2, 2.2 * size)
    if chance(rng, 0.3, traits, "rotated"):
        canvas, focus = rotate(canvas, rng.uniform(0.5, 5) * rng.choice([-1, 1]), float(canvas.mean()), focus)
    return scanned(canvas, rng, traits, str(mnist_test()[1][index]), jpeg=0.4, focus=focus)


def render_photos(rng: Rng, scale: float) -> Scan:
    """A phone photo (3000x4000 or 4000x3000 JPEG) of a paper with one digit: uneven light, colour cast, blur,
    sensor noise, sometimes the table at an edge."""
    portrait = rng.random() < 0.7
    w, h = (round(v * scale) for v in ((3000, 4000) if portrait else (4000, 3000)))
    traits, canvas = ["portrait" if portrait else "landscape"], paper(h, w, rng)
    index = int(rng.integers(10000))
    alpha = digit_alpha(index, max(24, round(rng.integers(100, 401) * scale)), rng)
    ah, aw = alpha.shape
    x, y = int(rng.uniform(0.18, 0.82) * w - aw / 2), int(rng.uniform(0.18, 0.82) * h - ah / 2)
    apply_ink(canvas, alpha, x, y, pick_ink(rng, traits))
    paper_mask = table_edge(canvas, rng) if chance(rng, 0.4, traits, "table") else np.ones((h, w), F32)
    small = (w // 16, h // 16)
    light = photo_lighting(small[1], small[0], rng, cv2.resize(paper_mask, small, interpolation=cv2.INTER_AREA), traits)
    canvas *= cv2.resize(light, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]
    pixels = camera(canvas, rng, traits)
    focus = (x + aw / 2, y + ah / 2, 2.5 * max(ah, aw))
    return Scan(pixels, str(mnist_test()[1][index]), traits, "jpg", int(rng.integers(80, 93)), focus)


def render_numbers(rng: Rng, scale: float) -> Scan:
    """A 2-8 digit number written on a paper strip 40-120 px high; about a fifth of the gaps touch or overlap."""
    n, h = int(rng.integers(2, 9)), int(rng.integers(40, 121))
    indices, base_h = [int(i) for i in rng.integers(0, 10000, n)], h * rng.uniform(0.5, 0.72)
    alphas = [digit_alpha(i, max(14, round(base_h * rng.uniform(0.92, 1.08))), rng) for i in indices]
    gaps = []
    for a, b in zip(alphas, alphas[1:], strict=False):
        narrow = min(a.shape[1], b.shape[1])
        gaps.append(-int(rng.uniform(0, 0.2) * narrow) if rng.random() < 0.2 else int(rng.uniform(0.08, 0.45) * base_h))
    xs = np.cumsum([int(rng.integers(6, 40))] + [a.shape[1] + g for a, g in zip(alphas, gaps, strict=False)])
    w = int(xs[-1] + alphas[-1].shape[1] + rng.integers(6, 40))
    traits, canvas = ["touching"] if min(gaps) <= 0 else [], paper(h, w, rng)
    if chance(rng, 0.3, traits, "tones"):  # tiles of slightly different paper side by side, seams mid-gap
        seams = [0] + [int(x0 + a.shape[1] + g / 2) for x0, a, g in zip(xs, alphas, gaps, strict=False)] + [w]
        tone = rng.uniform(220, 245)
        for s0, s1 in zip(seams, seams[1:], strict=False):
            tone = float(np.clip(tone + rng.choice([-1, 1]) * rng.uniform(5, 14), 205, 250))
            canvas[:, s0:s1] = paper(h, s1 - s0, rng, tone)
    ink, baseline = pick_ink(rng, traits), h * rng.uniform(0.78, 0.9)
    for x0, a in zip(xs, alphas, strict=False):
        y0 = int(np.clip(baseline - a.shape[0] + rng.normal(0, 0.03 * h), 1, h - a.shape[0] - 1))
        apply_ink(canvas, a, int(x0), y0, ink)
    if chance(rng, 0.2, traits, "rotated"):
        canvas, _ = rotate(canvas, rng.uniform(0.5, 2) * rng.choice([-1, 1]), float(canvas.mean()))
    return scanned(canvas, rng, traits, "".join(str(mnist_test()[1][i]) for i in indices), jpeg=0.3)


CONDITIONS: dict[str, tuple[float, Callable[[np.ndarray, Rng], None]]] = {
    "ruled": (0.35, ruled_lines), "boxes": (0.35, empty_boxes), "shading": (0.3, shading_gradient),
    "shadow": (0.3, shade_patch), "dust": (0.5, dust),
}  # fmt: skip


def render_blanks(rng: Rng, scale: float) -> Scan:
    """A sheet with no digit: paper texture plus some of ruled lines, empty form boxes, shading, shadow, dust."""
    if rng.random() < 0.5:
        dpi, (wi, hi) = int(rng.integers(100, 201)), PAGE_INCHES[str(rng.choice(list(PAGE_INCHES)))]
        w, h, traits = round(wi * dpi * scale), round(hi * dpi * scale), ["page"]
    else:
        w, h, traits = int(rng.integers(300, 1201)), int(rng.integers(150, 801)), ["crop"]
    canvas = paper(h, w, rng)
    for name, (p, condition) in CONDITIONS.items():
        if chance(rng, p, traits, name):
            condition(canvas, rng)
    if chance(rng, 0.3, traits, "rotated"):
        canvas, _ = rotate(canvas, rng.uniform(1, 3) * rng.choice([-1, 1]), rng.uniform(235, 252))
    return scanned(canvas, rng, traits, "", jpeg=0.2)


RENDERERS: dict[str, Callable[[Rng, float], Scan]] = {
    "pages": render_pages, "forms": render_forms, "photos": render_photos,
    "numbers": render_numbers, "blanks": render_blanks,
}  # fmt: skip


# ---------------------------------------------------------------- files, previews, CLI


def save(path: Path, img: Image.Image, ext: str = "png", quality: int = 90) -> None:
    """Encode `img` as PNG or JPEG into a temporary file beside `path`, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    img.save(tmp, "JPEG" if ext == "jpg" else "PNG", quality=quality, compress_level=4)
    os.replace(tmp, path)


def preview_cell(scan: Scan) -> np.ndarray:
    """The whole image and, beside it, a zoom on its digits (an image without digits fills both halves)."""
    img, cell = Image.fromarray(scan.pixels).convert("RGB"), Image.new("RGB", (2 * CELL, CELL), (128, 128, 128))
    parts = [(img, 2 * CELL)]
    if scan.focus is not None:
        x, y, r = (round(v) for v in (scan.focus[0], scan.focus[1], scan.focus[2] / 2))
        zoom = Image.new("RGB", (2 * r, 2 * r), (128, 128, 128))
        zoom.paste(img, (r - x, r - y))  # past the image's edges stays grey
        parts = [(img, CELL), (zoom, CELL)]
    for i, (part, width) in enumerate(parts):
        part = ImageOps.contain(part, (width, CELL))
        cell.paste(part, (i * CELL + (width - part.width) // 2, (CELL - part.height) // 2))
    return np.asarray(cell)


def contact_sheet(cells: list[tuple[str, np.ndarray]], per_row: int = 5) -> Image.Image:
    """Preview cells in a grid, each labelled with its file, truth and traits."""
    rows = (len(cells) + per_row - 1) // per_row
    sheet = Image.new("RGB", (per_row * (2 * CELL + 6), rows * (CELL + 18)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (label, cell) in enumerate(cells):
        x, y = (i % per_row) * (2 * CELL + 6), (i // per_row) * (CELL + 18)
        sheet.paste(Image.fromarray(cell), (x, y))
        draw.text((x + 2, y + CELL + 2), label[:62], fill=(0, 0, 0))
    return sheet


def make_one(job: tuple[Path, str, int, int, float, bool]) -> tuple[list[str], float, np.ndarray | None]:
    """Render, encode and write one image; returns its truth.csv row, its time and its preview cell."""
    out, kind, index, seed, scale, preview = job
    start = time.perf_counter()
    scan = RENDERERS[kind](np.random.default_rng([seed, zlib.crc32(kind.encode()), index]), scale)
    rel = f"{kind}/{index:04d}.{scan.ext}"
    save(out / rel, Image.fromarray(scan.pixels), scan.ext, scan.quality)
    row = [rel, kind, scan.truth, "+".join(scan.traits)]
    return row, time.perf_counter() - start, preview_cell(scan) if preview else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    parser.add_argument("--count", type=int, default=60, help="images per kind")
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--preview", action="store_true", help="also write OUT_DIR/preview_<kind>.png")
    parser.add_argument("--small", action="store_true", help="pages, photos and page blanks at 1/4 size (tests)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="worker processes")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not kinds or set(kinds) - set(KINDS) or args.count < 1:
        parser.error(f"--kinds must name some of {', '.join(KINDS)}; --count must be at least 1")
    out: Path = args.out_dir
    for kind in kinds:
        (out / kind).mkdir(parents=True, exist_ok=True)
    jobs = [(out, k, i, args.seed, 0.25 if args.small else 1.0, args.preview) for k in kinds for i in range(args.count)]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(make_one, jobs) if args.jobs > 1 else map(make_one, jobs))
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([["file", "kind", "truth", "traits"]] + [r[0] for r in results])
    (out / ".truth.csv.tmp").write_text(text.getvalue())
    os.replace(out / ".truth.csv.tmp", out / "truth.csv")
    for kind in kinds:
        mine = [r for r in results if r[0][1] == kind]
        if args.preview:
            cells = [(f"{Path(row[0]).stem} '{row[2]}' {row[3]}", cell) for row, _, cell in mine if cell is not None]
            save(out / f"preview_{kind}.png", contact_sheet(cells))
        mb = sum((out / row[0]).stat().st_size for row, _, _ in mine) / 1e6
        common = Counter(t for row, _, _ in mine for t in row[3].split("+") if t).most_common(8)
        seconds, top = sum(secs for _, secs, _ in mine), " ".join(f"{t}:{c}" for t, c in common)
        print(f"{kind:8s} {len(mine):4d} files {mb:7.1f} MB {seconds:6.1f} s  {top}")
    print(f"wrote {len(results)} images + truth.csv to {out} in {time.perf_counter() - start:.1f} s (seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
