"""Other people's handwriting and scanning, drawn from MNIST digits: the training side of the `writers` recipe.

MNIST's digits were written by a few hundred people with similar pens and scanned one way. Scans that reach
`predict` differ: thin and thick pens, digits written small and scanned at low resolution, blur, slant and
squashed aspect, a ruled line or underline crossing the digit, and crops that segmentation cut off-centre or
clipped. `writer_crop` turns one MNIST digit into such a crop, as the scan shows it (dark ink on light paper,
grey levels, paper grain), with a random 1-3 of these traits; `writer_fields` sends the crops through the
normaliser every scan goes through (`toolkit.imaging.normalise.prepare_array`), so training sees exactly the
tensors `predict` would make of them.

This is training code: held-out measurements use renderings made by separately written code
(`scripts/render_writers.py`), never this module.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from toolkit.imaging.normalise import prepare_array

WORK = 64  # px: the digit's height while it is being changed


def _thickness(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A thinner or thicker pen: erode or dilate the stroke at working resolution."""
    size = int(rng.integers(2, 7))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    if rng.random() < 0.4:
        thinner = cv2.erode(mask, kernel)
        return thinner if thinner.max() > 0.5 and thinner.sum() > 0.35 * mask.sum() else mask
    return cv2.dilate(mask, kernel)


def _lowres(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Written small and scanned coarsely: down to 8-16 px tall, then back up."""
    h, w = mask.shape
    small_h = int(rng.integers(8, 17))
    small = cv2.resize(mask, (max(2, round(w * small_h / h)), small_h), interpolation=cv2.INTER_AREA)
    interpolation = cv2.INTER_NEAREST if rng.random() < 0.3 else cv2.INTER_LINEAR
    return cv2.resize(small, (w, h), interpolation=interpolation)


def _blur(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.8, 3.0))


def _slant(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Slanted (shear) and squashed or stretched."""
    h, w = mask.shape
    shear, aspect = rng.uniform(-0.45, 0.45), rng.uniform(0.6, 1.5)
    grow = int(abs(shear) * h)
    matrix = np.array([[aspect, -shear, grow / 2 + max(0, shear) * h / 2], [0, 1, 0]], np.float32)
    return cv2.warpAffine(mask, matrix, (max(2, int(w * aspect) + grow), h))


def _line(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A ruled line, underline or strike-through across the digit, about as dark as the ink."""
    h, w = mask.shape
    out = mask.copy()
    y = rng.choice([rng.uniform(0.85, 1.0), rng.uniform(0.3, 0.7), rng.uniform(0.0, 0.15)]) * (h - 1)
    tilt = rng.uniform(-0.08, 0.08) * w
    cv2.line(out, (0, int(y)), (w - 1, int(y + tilt)), float(rng.uniform(0.6, 1.0)), int(rng.integers(2, 6)))
    return out


TRAITS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "pen": _thickness,
    "lowres": _lowres,
    "blur": _blur,
    "slant": _slant,
    "line": _line,
}


def crop_box(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cut out as a segmenter might: centred with a margin, off-centre, or clipped by up to 12% on one side."""
    rows, cols = np.nonzero(mask > 0.2)
    if not len(rows):
        return mask
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    h, w = bottom - top, right - left
    how = rng.random()
    if how < 0.2:  # clipped
        cut = int(rng.uniform(0.04, 0.12) * (h if rng.random() < 0.5 else w))
        side = rng.integers(4)
        # Measured on the other side, the cut can be longer than this one: a digit blurred away but for the line
        # drawn across it is 3 px tall and 120 wide, and a cut of 14 left nothing (a training run crashed on it).
        cut = min(cut, (h if side < 2 else w) - 1)
        top, bottom = top + cut * (side == 0), bottom - cut * (side == 1)
        left, right = left + cut * (side == 2), right - cut * (side == 3)
        margins = [0, 0, 0, 0]
    elif how < 0.45:  # off-centre
        margins = [int(rng.uniform(0, 0.4) * max(h, w)) for _ in range(4)]
    else:
        margins = [int(rng.uniform(0.05, 0.2) * max(h, w))] * 4
    padded = np.pad(mask, WORK)
    return padded[
        top - margins[0] + WORK : bottom + margins[1] + WORK, left - margins[2] + WORK : right + margins[3] + WORK
    ]


def writer_crop(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit (uint8 28x28, white on black) as another writer's scanned crop: uint8 grey, dark on
    light, 20-120 px tall, with 1-3 random traits."""
    mask = cv2.resize(digit.astype(np.float32) / 255, (WORK, WORK), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    for name in rng.choice(list(TRAITS), int(rng.integers(1, 4)), replace=False):
        mask = TRAITS[str(name)](mask, rng).clip(0, 1)
    mask = crop_box(mask, rng)
    height = int(rng.integers(20, 121))
    width = max(4, round(mask.shape[1] * height / max(1, mask.shape[0])))
    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)
    paper = rng.uniform(170, 250)
    ink = rng.uniform(0, min(110, paper - 70))
    sheet = paper - (paper - ink) * mask + rng.normal(0, rng.uniform(0.5, 6), mask.shape)
    return np.clip(np.rint(sheet), 0, 255).astype(np.uint8)


def writer_fields(digits: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`digits` (uint8 (N, 28, 28)) drawn by other writers and normalised as `predict` would: float32
    (n, 28, 28) tensors and the indices (into `digits`) they came from; crops the normaliser calls blank are
    left out."""
    return _fields(digits, rng, writer_crop)


def _fields(
    digits: np.ndarray, rng: np.random.Generator, crop: Callable[[np.ndarray, np.random.Generator], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    fields, kept = [np.zeros((0, 28, 28), np.float32)], []
    for i, digit in enumerate(digits):
        result = prepare_array(crop(digit, rng), whole=True)
        if not result.blank:
            fields.append(result.tensor[None])
            kept.append(i)
    return np.concatenate(fields).astype(np.float32), np.asarray(kept, np.int64)


def coarse_crop(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit (uint8 28x28, white on black) scanned at a few pixels: its ink area-reduced until it is
    6-12 px on its longer side, grey levels rounded to 8-32 steps (a coarse scanner's counts), 0-3 px of paper
    round it, then enlarged 1-4 times (bilinear, or nearest as an image viewer does) or left that small; uint8
    grey, dark on light, as the file would hold it. The look of a digit from a grid of a few cells, which
    `not_digit` must tell apart from dust and shading."""
    ink = digit.astype(np.float32) / 255
    rows, cols = np.nonzero(ink > 0.1)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] if len(rows) else ink
    side = int(rng.integers(6, 13))
    scale = side / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    small = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    steps = int(rng.integers(8, 33))
    small = np.round(small * steps) / steps
    small = np.pad(small, int(rng.integers(0, 4)))
    factor = int(rng.integers(1, 5))
    if factor > 1:
        how = cv2.INTER_NEAREST if rng.random() < 0.3 else cv2.INTER_LINEAR
        small = cv2.resize(small, (small.shape[1] * factor, small.shape[0] * factor), interpolation=how)
    paper = rng.uniform(180, 250)
    dark = rng.uniform(0, min(90, paper - 90))
    sheet = paper - (paper - dark) * np.clip(small, 0, 1) + rng.normal(0, rng.uniform(0.5, 4), small.shape)
    return np.clip(np.rint(sheet), 0, 255).astype(np.uint8)


def coarse_fields(digits: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`digits` (uint8 (N, 28, 28)) scanned coarsely (`coarse_crop`) and normalised as `predict` would, as
    `writer_fields` gives them."""
    return _fields(digits, rng, coarse_crop)
