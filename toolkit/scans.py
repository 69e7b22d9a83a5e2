"""Scan-like renderings of MNIST digits, for the samples folder and for measuring accuracy on scans.

A rendering is what a scanner or a phone makes of a digit written on paper: dark ink on light (slightly uneven)
paper, 40-200 px, off-centre, rotated up to 10 degrees, noisy, sometimes with dust specks, saved in one of the
common formats (8-bit PNG, JPEG, TIFF, BMP, 16-bit PNG, RGBA PNG). Everything is drawn from a seeded generator:
the same index and seed always give the same file. The true label goes into the file name (`label-<d>`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

STYLES = ("png", "jpeg", "tiff", "bmp", "png16", "rgba")
EXTENSIONS = {"png": "png", "jpeg": "jpg", "tiff": "tif", "bmp": "bmp", "png16": "png", "rgba": "png"}
LABEL_PATTERN = re.compile(r"label-(\d)")
STYLE_PATTERN = re.compile(r"-(" + "|".join(STYLES) + r")-label-")


def _coverage(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage in [0, 1] on a canvas of 40-200 px: the digit scaled, rotated and placed off-centre."""
    ink = np.asarray(digit, dtype=np.float32) / np.float32(255.0)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size:
        ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    side = int(rng.integers(40, 201))
    target = side * float(rng.uniform(0.45, 0.75))  # the digit's longer side on the canvas
    scale = target / max(ink.shape)
    h, w = max(1, round(ink.shape[0] * scale)), max(1, round(ink.shape[1] * scale))
    glyph = Image.fromarray(ink, "F").resize((w, h), Image.Resampling.BICUBIC)
    glyph = glyph.rotate(float(rng.uniform(-10, 10)), resample=Image.Resampling.BICUBIC, expand=True)
    glyph_a = np.clip(np.asarray(glyph, dtype=np.float32), 0.0, 1.0)
    gh, gw = glyph_a.shape
    height, width = max(side, gh + 2), max(40, int(side * rng.uniform(0.8, 1.2)), gw + 2)
    top = int(rng.integers(0, height - gh + 1))
    left = int(rng.integers(0, width - gw + 1))
    canvas = np.zeros((height, width), np.float32)
    canvas[top : top + gh, left : left + gw] = glyph_a
    return canvas


def render(digit: np.ndarray, rng: np.random.Generator, style: str = "png") -> Image.Image:
    """One scan-like PIL image of an MNIST digit (uint8 28x28, white on black) in the given style."""
    coverage = _coverage(digit, rng)
    h, w = coverage.shape
    paper = float(rng.uniform(0.78, 0.98))
    ink = float(rng.uniform(0.0, 0.3))
    # Uneven lighting: a gentle gradient across the sheet.
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    tilt = rng.uniform(-0.04, 0.04, size=2)
    lighting = tilt[0] * (gy / h - 0.5) + tilt[1] * (gx / w - 0.5)
    gray = paper + lighting - (paper - ink) * coverage
    gray += rng.normal(0.0, rng.uniform(0.0, 0.04), size=gray.shape).astype(np.float32)
    if rng.random() < 0.3:  # dust: a few dark specks of 1-2 px
        for _ in range(int(rng.integers(1, 6))):
            y, x, s = int(rng.integers(0, h)), int(rng.integers(0, w)), int(rng.integers(1, 3))
            gray[y : y + s, x : x + s] = float(rng.uniform(0.0, 0.5))
    gray = np.clip(gray, 0.0, 1.0)

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


def write_scans(images: np.ndarray, labels: np.ndarray, folder: Path, *, seed: int = 0,
                indices: Iterable[int] | None = None, prefix: str = "scan") -> list[Path]:
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
        return {"total": self.total, "correct": self.correct, "accuracy": round(self.accuracy, 5),
                "error_records": self.errors, "blank": self.blank,
                "by_style": {k: round(c / t, 5) for k, (c, t) in sorted(self.by_style.items())}}


def scan_accuracy(model: Path, folder: Path, *, count: int = 10000, seed: int = 0,
                  render_missing: bool = True) -> ScanAccuracy:
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
