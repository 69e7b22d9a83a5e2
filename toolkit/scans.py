"""Scan-like renderings of MNIST digits, for the samples folder and for measuring accuracy on scans.

A rendering is what a scanner or a phone makes of a digit written on paper: dark ink on light (slightly uneven)
paper, 40-200 px, off-centre, rotated up to 10 degrees, noisy, sometimes with dust specks, saved in one of the
common formats (8-bit PNG, JPEG, TIFF, BMP, 16-bit PNG, RGBA PNG). Everything is drawn from a seeded generator:
the same index and seed always give the same file. The true label goes into the file name (`label-<d>`).

Pages and strips use the same glyphs and paper: `render_page` writes a number (or one digit) 20-120 px tall
anywhere on an A4 sheet at 200 dpi or a phone photo, optionally under a ruled header line, in a form box or on a
writing line; `render_strip` writes a number of touching, overlapping or spaced digits with a jittered baseline.
Their file names carry the digits (`text-<digits>`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

STYLES = ("png", "jpeg", "tiff", "bmp", "png16", "rgba")
EXTENSIONS = {"png": "png", "jpeg": "jpg", "tiff": "tif", "bmp": "bmp", "png16": "png", "rgba": "png"}
LABEL_PATTERN = re.compile(r"label-(\d)")
STYLE_PATTERN = re.compile(r"-(" + "|".join(STYLES) + r")-label-")


def _crop(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit (uint8, white on black) as ink coverage in [0, 1], cropped to its ink."""
    ink = np.asarray(digit, dtype=np.float32) / np.float32(255.0)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size:
        ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return ink


def _glyph(ink: np.ndarray, scale: float, angle: float) -> np.ndarray:
    """Cropped ink coverage scaled by `scale` (bicubic) and rotated by `angle` degrees, clipped to [0, 1]."""
    h, w = max(1, round(ink.shape[0] * scale)), max(1, round(ink.shape[1] * scale))
    glyph = Image.fromarray(ink, "F").resize((w, h), Image.Resampling.BICUBIC)
    glyph = glyph.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    return np.clip(np.asarray(glyph, dtype=np.float32), 0.0, 1.0)


def _coverage(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage in [0, 1] on a canvas of 40-200 px: the digit scaled, rotated and placed off-centre."""
    ink = _crop(digit)
    side = int(rng.integers(40, 201))
    target = side * float(rng.uniform(0.45, 0.75))  # the digit's longer side on the canvas
    glyph_a = _glyph(ink, target / max(ink.shape), float(rng.uniform(-10, 10)))
    gh, gw = glyph_a.shape
    height, width = max(side, gh + 2), max(40, int(side * rng.uniform(0.8, 1.2)), gw + 2)
    top, left = int(rng.integers(0, height - gh + 1)), int(rng.integers(0, width - gw + 1))
    canvas = np.zeros((height, width), np.float32)
    canvas[top : top + gh, left : left + gw] = glyph_a
    return canvas


def shade(
    coverage: np.ndarray,
    rng: np.random.Generator,
    *,
    paper: tuple[float, float] = (0.78, 0.98),
    ink: tuple[float, float] = (0.0, 0.3),
    tilt: float = 0.04,
    noise: float = 0.04,
    dust: float = 0.3,
    specks: int = 6,
    vignette: float = 0.0,
) -> tuple[np.ndarray, float]:
    """Ink coverage -> grey in [0, 1] (1 = white) on paper of a random tone, lit unevenly (a gradient up to
    `tilt` across the sheet, and a darkening towards the corners up to `vignette`, as phone photos have),
    with Gaussian noise up to `noise` and, with probability `dust`, up to `specks` - 1 dark specks of 1-2 px.
    Returns the grey image and the paper tone."""
    h, w = coverage.shape
    paper_tone = float(rng.uniform(*paper))
    ink_tone = float(rng.uniform(*ink))
    # Broadcast rows and columns rather than full-size coordinate grids: a 4000x3000 page would need 96 MB.
    gy = np.arange(h, dtype=np.float32)[:, None]
    gx = np.arange(w, dtype=np.float32)[None, :]
    slope = rng.uniform(-tilt, tilt, size=2)
    lighting = slope[0] * (gy / h - 0.5) + slope[1] * (gx / w - 0.5)
    gray = paper_tone + lighting - (paper_tone - ink_tone) * coverage
    gray += rng.normal(0.0, rng.uniform(0.0, noise), size=gray.shape).astype(np.float32)
    if rng.random() < dust:
        for _ in range(int(rng.integers(1, specks))):
            y, x, s = int(rng.integers(0, h)), int(rng.integers(0, w)), int(rng.integers(1, 3))
            gray[y : y + s, x : x + s] = float(rng.uniform(0.0, 0.5))
    if vignette > 0:
        strength = float(rng.uniform(0.5, 1.0)) * vignette
        cy, cx = rng.uniform(0.3, 0.7, size=2)
        gray -= strength * 2.0 * ((gy / h - cy) ** 2 + (gx / w - cx) ** 2)
    return np.clip(gray, 0.0, 1.0), paper_tone


def render(digit: np.ndarray, rng: np.random.Generator, style: str = "png") -> Image.Image:
    """One scan-like PIL image of an MNIST digit (uint8 28x28, white on black) in the given style."""
    coverage = _coverage(digit, rng)
    gray, paper = shade(coverage, rng)
    return styled(gray, paper, style)


def styled(gray: np.ndarray, paper: float, style: str) -> Image.Image:
    """A grey rendering (1 = white) as a PIL image in one of STYLES."""
    h, w = gray.shape
    if style == "png16":
        return Image.fromarray(np.round(gray * 65535).astype(np.uint16))  # mode I;16
    if style == "rgba":
        # Ink on a transparent sheet, as drawing programs export it: colour is the ink, alpha its coverage.
        alpha = np.clip(1.0 - gray / max(paper, 1e-3), 0.0, 1.0)
        rgb = np.empty((h, w, 4), np.uint8)
        rgb[..., :3] = np.array([20, 30, 90], np.uint8)  # dark blue ink
        rgb[..., 3] = np.round(alpha * 255).astype(np.uint8)
        return Image.fromarray(rgb, "RGBA")
    gray8 = np.round(gray * 255).astype(np.uint8)
    if style in ("jpeg", "bmp"):
        # Colour scans: a warm paper tint.
        tint = np.array([1.0, 0.97, 0.9], np.float32)
        rgb = np.clip(gray8[..., None].astype(np.float32) * tint, 0, 255).astype(np.uint8)
        return Image.fromarray(rgb, "RGB")
    return Image.fromarray(gray8, "L")


def save(image: Image.Image, path: Path, style: str, rng: np.random.Generator) -> Path:
    """Write a rendering in its style's format (JPEG at a random quality between 60 and 95)."""
    fmt = {"png": "PNG", "png16": "PNG", "rgba": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "bmp": "BMP"}[style]
    options = {"quality": int(rng.integers(60, 96))} if fmt == "JPEG" else {}
    image.save(path, fmt, **options)
    return path


def write_scans(
    images: np.ndarray,
    labels: np.ndarray,
    folder: Path,
    *,
    seed: int = 0,
    indices: Iterable[int] | None = None,
    prefix: str = "scan",
) -> list[Path]:
    """Render MNIST digits into `folder` as `<prefix>-<index>-<style>-label-<d>.<ext>`, cycling the styles."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, index in enumerate(range(len(images)) if indices is None else indices):
        rng = np.random.default_rng([seed, int(index)])
        style = STYLES[n % len(STYLES)]
        name = f"{prefix}-{int(index):05d}-{style}-label-{int(labels[index])}.{EXTENSIONS[style]}"
        paths.append(save(render(images[index], rng, style), folder / name, style, rng))
    return paths


# --- pages and strips ---------------------------------------------------------------------------------------

A4_200DPI = (1654, 2339)  # width, height in pixels of an A4 sheet scanned at 200 dpi
PHOTO = (4000, 3000)  # a phone photo of a sheet
PAGE_STYLES = ("png", "jpeg")  # scanners and phones deliver these; the other styles add nothing at page size
TEXT_PATTERN = re.compile(r"text-(\d+)")


@dataclass(frozen=True)
class Rendered:
    """A rendered page or strip: the image, the digits drawn on it (left to right) and their ink boxes."""

    image: Image.Image
    text: str
    boxes: tuple[tuple[int, int, int, int], ...]  # (left, top, width, height) of each digit's ink


def _row(
    digits: list[np.ndarray],
    rng: np.random.Generator,
    height: int,
    gap: tuple[float, float],
    jitter: float,
    angle: float,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Coverage of MNIST digits written left to right, about `height` px tall: each digit scaled as MNIST
    scaled it (its 20 px box becomes `height` px, +-10%), rotated up to `angle` degrees, its baseline moved
    up to `jitter` x height, and spaced by a gap drawn from `gap` x height (negative: the digits touch or
    overlap). Returns the tight coverage and each digit's box in it."""
    glyphs, lefts, tops = [], [], []
    x = 0
    for n, digit in enumerate(digits):
        glyph = _glyph(_crop(digit), height / 20.0 * float(rng.uniform(0.9, 1.1)), float(rng.uniform(-angle, angle)))
        if n:
            x = max(0, x + round(height * float(rng.uniform(*gap))))
        glyphs.append(glyph)
        lefts.append(x)
        # Digits sit on a common baseline (their bottoms), each moved by its own jitter.
        tops.append(-glyph.shape[0] + round(height * float(rng.uniform(-jitter, jitter))))
        x += glyph.shape[1]
    top0 = min(tops)
    canvas = np.zeros((max(t - top0 + g.shape[0] for t, g in zip(tops, glyphs, strict=True)), x), np.float32)
    boxes = []
    for glyph, left, top in zip(glyphs, lefts, tops, strict=True):
        region = canvas[top - top0 : top - top0 + glyph.shape[0], left : left + glyph.shape[1]]
        np.maximum(region, glyph, out=region)  # overlapping strokes: ink does not add up beyond solid
        boxes.append(_ink_box(glyph, left, top - top0))
    return canvas, boxes


def _ink_box(glyph: np.ndarray, left: int, top: int) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect((glyph > 0.25).view(np.uint8))
    return left + x, top + y, w, h


def _finish(
    coverage: np.ndarray,
    rng: np.random.Generator,
    style: str,
    digits: str,
    boxes: list[tuple[int, int, int, int]],
    **shading,
) -> Rendered:
    # A scanner's optics blur a little; the blur also anti-aliases the ruled lines drawn pixel-exact.
    coverage = cv2.GaussianBlur(coverage, (0, 0), float(rng.uniform(0.3, 0.8)))
    gray, paper = shade(coverage, rng, **shading)
    return Rendered(styled(gray, paper, style), digits, tuple(boxes))


def render_strip(
    digits: list[np.ndarray],
    labels: list[int],
    rng: np.random.Generator,
    *,
    height: int,
    gap: tuple[float, float] = (-0.1, 0.5),
    jitter: float = 0.08,
    style: str = "png",
) -> Rendered:
    """A strip of handwritten digits (a number cut out of a form): MNIST digits `height` px tall written left
    to right (see `_row`), with a margin of 0.2-0.8 x height around them, on scan-like paper."""
    row, boxes = _row(digits, rng, height, gap, jitter, angle=8.0)
    margin = [round(height * float(rng.uniform(0.2, 0.8))) for _ in range(4)]  # top, bottom, left, right
    coverage = np.pad(row, ((margin[0], margin[1]), (margin[2], margin[3])))
    boxes = [(x + margin[2], y + margin[0], w, h) for x, y, w, h in boxes]
    return _finish(coverage, rng, style, "".join(map(str, labels)), boxes)


def render_page(
    digits: list[np.ndarray],
    labels: list[int],
    rng: np.random.Generator,
    *,
    height: int,
    size: tuple[int, int] = A4_200DPI,
    header: bool = False,
    box: bool = False,
    underline: bool = False,
    photo: bool = False,
    style: str = "png",
) -> Rendered:
    """A whole page (`size` = width, height) with one number written somewhere on it: the MNIST `digits`
    `height` px tall (see `_row`); no digits: an empty field of that height. `header`: a ruled line across the
    top of the sheet. `box`: a ruled form box around the number. `underline`: a rule the number sits on,
    touching it. `photo`: lit like a phone photo (strong gradient, dark corners). Specks of dust are scattered
    over the sheet."""
    width, page_height = size
    if digits:
        row, boxes = _row(digits, rng, height, (0.05, 0.4), 0.06, angle=8.0)
    else:
        row, boxes = np.zeros((height, round(0.8 * height)), np.float32), []
    rh, rw = row.shape
    pad = round(height * 0.8)  # room for the box and away from the sheet's edge
    top = int(rng.integers(pad + page_height // 8, page_height - rh - pad))
    left = int(rng.integers(pad, width - rw - pad))
    coverage = np.zeros((page_height, width), np.float32)
    coverage[top : top + rh, left : left + rw] = row
    boxes = [(x + left, y + top, w, h) for x, y, w, h in boxes]
    thickness = int(rng.integers(1, 5))
    if header:  # a rule under a letterhead, most of the sheet wide, above the number
        y = int(rng.integers(page_height // 20, page_height // 8))
        x0 = int(rng.integers(width // 20, width // 8))
        cv2.line(coverage, (x0, y), (width - x0, y), 1.0, thickness)
    if box:  # a form field drawn around the number, a margin of 0.2-0.6 x height on each side
        gaps = [round(height * float(rng.uniform(0.2, 0.6))) for _ in range(4)]
        cv2.rectangle(
            coverage, (left - gaps[0], top - gaps[1]), (left + rw + gaps[2], top + rh + gaps[3]), 1.0, thickness
        )
    if underline:  # a form's writing line through the bottom rows of the digits, a digit beyond them each side
        y = top + rh - 1 - thickness // 2
        cv2.line(coverage, (left - height, y), (left + rw + height, y), 1.0, thickness)
    shading = {"tilt": 0.15, "vignette": 0.3, "paper": (0.8, 0.98)} if photo else {"tilt": 0.06}
    return _finish(coverage, rng, style, "".join(map(str, labels)), boxes, noise=0.03, dust=0.8, specks=40, **shading)


def write_pages(
    images: np.ndarray,
    labels: np.ndarray,
    folder: Path,
    *,
    count: int,
    heights: Iterable[int],
    seed: int = 0,
    digits: tuple[int, int] = (1, 1),
    **options,
) -> list[Path]:
    """Render `count` pages for each height into `folder` as `page-h<height>-<n>-<style>-text-<digits>.<ext>`
    (PNG or JPEG in turn), each with a number of `digits` (min, max) MNIST test digits drawn at random.
    `options` go to `render_page` (header, box, photo, size)."""
    return _write(
        render_page,
        images,
        labels,
        folder,
        count=count,
        heights=heights,
        seed=seed,
        digits=digits,
        prefix="page",
        **options,
    )


def write_strips(
    images: np.ndarray,
    labels: np.ndarray,
    folder: Path,
    *,
    count: int,
    heights: Iterable[int],
    seed: int = 0,
    digits: tuple[int, int] = (2, 6),
    **options,
) -> list[Path]:
    """Render `count` strips for each height into `folder` as `strip-h<height>-<n>-<style>-text-<digits>.<ext>`,
    each a number of `digits` (min, max) MNIST test digits. `options` go to `render_strip` (gap, jitter)."""
    return _write(
        render_strip,
        images,
        labels,
        folder,
        count=count,
        heights=heights,
        seed=seed,
        digits=digits,
        prefix="strip",
        **options,
    )


def _write(
    render_one,
    images,
    labels,
    folder: Path,
    *,
    count: int,
    heights: Iterable[int],
    seed: int,
    digits: tuple[int, int],
    prefix: str,
    **options,
) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for height in heights:
        for n in range(count):
            rng = np.random.default_rng([seed, int(height), n])
            picks = rng.integers(0, len(images), size=int(rng.integers(digits[0], digits[1] + 1)))
            style = PAGE_STYLES[n % len(PAGE_STYLES)]
            made = render_one(
                [images[i] for i in picks], [int(labels[i]) for i in picks], rng, height=height, style=style, **options
            )
            name = f"{prefix}-h{height:03d}-{n:05d}-{style}-text-{made.text}.{EXTENSIONS[style]}"
            paths.append(save(made.image, folder / name, style, rng))
    return paths


def text_from_name(path: str | Path) -> str | None:
    """The true digits encoded in a page's or strip's file name (`text-<digits>`), or None."""
    match = TEXT_PATTERN.search(Path(path).name)
    return match.group(1) if match else None


def label_from_name(path: str | Path) -> int | None:
    """The true label encoded in a rendering's file name, or None."""
    match = LABEL_PATTERN.search(Path(path).name)
    return int(match.group(1)) if match else None


@dataclass
class ScanAccuracy:
    """Accuracy of a model on scan-like renderings, overall and per rendering style."""

    total: int = 0
    correct: int = 0
    errors: int = 0
    blank: int = 0
    by_style: dict[str, list[int]] = field(default_factory=dict)  # style -> [correct, total]

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 5),
            "error_records": self.errors,
            "blank": self.blank,
            "by_style": {k: round(c / t, 5) for k, (c, t) in sorted(self.by_style.items())},
        }


def scan_accuracy(
    model: Path, folder: Path, *, count: int = 10000, seed: int = 0, render_missing: bool = True
) -> ScanAccuracy:
    """Score renderings of the first `count` MNIST test digits with `model` through the predict pipeline.

    The renderings are written to `folder` first (skipped when they are already there and `render_missing`
    finds the expected number of files).
    """
    from toolkit import data
    from toolkit.predict import predict_folder

    folder = Path(folder)
    existing = sorted(folder.glob("scan-*")) if folder.is_dir() else []
    if render_missing and len(existing) != count:
        (_, _), (x_test, y_test) = data.load_mnist()
        for stale in existing:
            stale.unlink()
        write_scans(x_test, y_test, folder, seed=seed, indices=range(count))
    result = ScanAccuracy()
    per_style: dict[str, Counter] = {}
    for record in predict_folder([folder], model=model):
        truth = label_from_name(record["path"])
        if truth is None:
            continue
        style = STYLE_PATTERN.search(Path(record["path"]).name)
        fmt = per_style.setdefault(style.group(1) if style else "other", Counter())
        result.total += 1
        fmt["total"] += 1
        if record["status"] != "ok":
            result.errors += 1
            continue
        if record["blank"]:
            result.blank += 1
        if record["digit"] == truth:
            result.correct += 1
            fmt["correct"] += 1
    result.by_style = {k: [v["correct"], v["total"]] for k, v in per_style.items()}
    return result
