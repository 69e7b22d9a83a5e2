"""Crops that hold no digit, made the way segmentation makes crops: what the model's `not_digit` output learns
to recognise.

A segmenter hands the model whatever ink it could not rule out: a patch of paper with its grain, a speck, the
edge of a shadow, a fragment of a ruled line, the corner of a form box, half of a digit cut off by a wrong cut,
two digits in one box, a letter or a scribble from a line of writing. `negative_crop` draws one such crop as a
scan shows it (dark ink on light paper, grey levels, noise), and `negative_fields` sends crops through the
same normaliser every scan goes through (`normalise.prepare_array`), so the model sees negatives exactly as it
would see them in `predict`. Crops the normaliser calls blank never reach the model and are skipped.

Digits for halves and pairs come from the caller (training uses MNIST's training images only). The reading
pipeline can call `negative_fields` with crops of its own (`fields_of`) to fine-tune the output on what its
segmentation really produces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from toolkit.imaging.normalise import prepare_array

Crop = np.ndarray  # uint8 (H, W) grey, dark ink on light paper
# Letters that no reader would take for a digit (no O, l, I, S, Z, B, g, q, b, G, T, z, s).
LETTERS = "acehkmnruvwxyAEFHKMNRUVWXY"


def _paper(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, float]:
    """A sheet of paper (float32, 0..255) with grain, and the ink level to draw with."""
    level = rng.uniform(170, 250)
    sheet = np.full((height, width), level, np.float32)
    sheet += rng.normal(0, rng.uniform(0.5, 6), sheet.shape).astype(np.float32)
    return sheet, float(rng.uniform(0, min(110, level - 60)))


def _finish(sheet: np.ndarray) -> Crop:
    return np.clip(np.rint(sheet), 0, 255).astype(np.uint8)


def _ink(sheet: np.ndarray, mask: np.ndarray, ink: float) -> np.ndarray:
    """`mask` (0..1 coverage) drawn in ink on `sheet`."""
    return sheet * (1 - mask) + ink * mask


def _size(rng: np.random.Generator) -> tuple[int, int]:
    side = int(rng.integers(20, 120))
    return side, max(12, int(side * rng.uniform(0.5, 1.6)))


def specks(rng: np.random.Generator, digits: np.ndarray) -> Crop:
    """Dust and toner specks on paper."""
    h, w = _size(rng)
    sheet, ink = _paper(rng, h, w)
    mask = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 6))):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(mask, centre, int(rng.integers(1, max(2, min(h, w) // 12))), 1.0, -1)
    return _finish(_ink(sheet, cv2.GaussianBlur(mask, (3, 3), 0), ink))


def dust(rng: np.random.Generator, digits: np.ndarray) -> Crop:
    """A clump of one to four soft round blobs (dust, a blot, toner) as large as a small digit's strokes are
    long: the segmenter crops the clump alone, and normalised it fills the field like a digit."""
    h, w = _size(rng)
    sheet, ink = _paper(rng, h, w)
    mask = np.zeros((h, w), np.float32)
    side = min(h, w)
    for _ in range(int(rng.integers(1, 5))):
        centre = (int(rng.uniform(0.25, 0.75) * w), int(rng.uniform(0.25, 0.75) * h))
        cv2.circle(mask, centre, max(2, int(rng.uniform(0.06, 0.2) * side)), float(rng.uniform(0.6, 1.0)), -1)
    blur = 2 * int(rng.uniform(0.02, 0.08) * side) + 1
    return _finish(_ink(sheet, cv2.GaussianBlur(mask, (blur, blur), 0), ink))


def shading(rng: np.random.Generator, digits: np.ndarray) -> Crop:
    """The edge of a shadow, a soft blob of shading or a tone boundary between two papers."""
    h, w = _size(rng)
    sheet, _ = _paper(rng, h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    depth = rng.uniform(20, 80)
    kind = rng.integers(3)
    if kind == 0:  # a straight soft edge at any angle
        angle = rng.uniform(0, np.pi)
        t = (xx - w / 2) * np.cos(angle) + (yy - h / 2) * np.sin(angle)
        shade = 1 / (1 + np.exp(-t / rng.uniform(1, max(h, w) / 4)))
    elif kind == 1:  # a blob
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.2, 0.7) * max(h, w)
        shade = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    else:  # a sharp tone boundary, as between two pasted tiles
        cut = int(rng.integers(w // 4, 3 * w // 4 + 1))
        shade = (xx >= cut).astype(np.float32) * rng.uniform(0.2, 0.6)
    return _finish(sheet - depth * shade.astype(np.float32))


def line_fragment(rng: np.random.Generator, digits: np.ndarray) -> Crop:
    """A piece of a ruled line or a box edge, maybe slightly tilted, maybe two of them crossing."""
    h, w = _size(rng)
    sheet, ink = _paper(rng, h, w)
    mask = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 3))):
        thickness = int(rng.integers(1, 4))
        y0, tilt = rng.uniform(0, h), rng.uniform(-0.09, 0.09) * w
        cv2.line(mask, (0, int(y0)), (w - 1, int(y0 + tilt)), 1.0, thickness)
        if rng.random() < 0.4:  # a vertical line alone is a "1"; only as a crossing
            x0, tilt = rng.uniform(0, w), rng.uniform(-0.09, 0.09) * h
            cv2.line(mask, (int(x0), 0), (int(x0 + tilt), h - 1), 1.0, thickness)
    return _finish(_ink(sheet, mask, ink))


def box_corner(rng: np.random.Generator, digits: np.ndarray) -> Crop:
    """The corner of a form box, or an empty box, possibly rotated a few degrees."""
    h, w = _size(rng)
    sheet, ink = _paper(rng, h, w)
    mask = np.zeros((h, w), np.float32)
    thickness = int(rng.integers(1, 4))
    if rng.random() < 0.6:
        x, y = int(rng.uniform(0.1, 0.6) * w), int(rng.uniform(0.1, 0.6) * h)
        # A corner opening down and to the left is a printed "7"; the other three are no digit.
        dx, dy = [(1, 1), (1, -1), (-1, -1)][rng.integers(3)]
        far_x, far_y = (w - 1 if dx > 0 else 0), (h - 1 if dy > 0 else 0)
        cv2.line(mask, (x, y), (far_x, y), 1.0, thickness)
        cv2.line(mask, (x, y), (x, far_y), 1.0, thickness)
    else:
        margin = int(rng.integers(1, max(2, min(h, w) // 5)))
        cv2.rectangle(mask, (margin, margin), (w - 1 - margin, h - 1 - margin), 1.0, thickness)
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-5, 5)), 1.0)
    return _finish(_ink(sheet, np.asarray(cv2.warpAffine(mask, turn, (w, h))), ink))


def _digit_mask(digit: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit (white on black) as ink coverage `height` px tall, cropped to its ink."""
    rows, cols = np.nonzero(digit > 40)
    cropped = digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].astype(np.float32) / 255
    width = max(2, round(cropped.shape[1] * height / cropped.shape[0] * rng.uniform(0.85, 1.15)))
    return cv2.resize(cropped, (width, height), interpolation=cv2.INTER_LINEAR)


def half_digit(rng: np.random.Generator, digits: np.ndarray) -> Crop:
    """A digit cut through by a wrong cut: its left, right, top or bottom 30-55% only."""
    mask = _digit_mask(digits[rng.integers(len(digits))], int(rng.integers(24, 100)), rng)
    h, w = mask.shape
    share = rng.uniform(0.3, 0.55)
    side = rng.integers(4)
    if side == 0:
        mask = mask[:, : max(2, int(w * share))]
    elif side == 1:
        mask = mask[:, int(w * (1 - share)) :]
    elif side == 2:
        mask = mask[: max(2, int(h * share))]
    else:
        mask = mask[int(h * (1 - share)) :]
    return _on_paper(mask, rng)


def two_digits(rng: np.random.Generator, digits: np.ndarray) -> Crop:
    """Two digits side by side in one crop, apart, touching or overlapping a little."""
    height = int(rng.integers(24, 100))
    left, right = (_digit_mask(digits[rng.integers(len(digits))], height, rng) for _ in range(2))
    gap = int(rng.uniform(-0.15, 0.25) * height)
    width = left.shape[1] + right.shape[1] + gap
    mask = np.zeros((height, max(width, left.shape[1], right.shape[1])), np.float32)
    mask[:, : left.shape[1]] = left
    start = max(0, left.shape[1] + gap)
    region = mask[:, start : start + right.shape[1]]
    np.maximum(region, right[:, : region.shape[1]], out=region)
    return _on_paper(mask, rng)


def _strokes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Writing-like pen strokes: a few smooth random polylines."""
    mask = np.zeros((height, width), np.uint8)  # OpenCV draws anti-aliased on 8-bit images only
    thickness = max(1, height // int(rng.integers(8, 16)))
    for _ in range(int(rng.integers(1, 4))):
        points = np.cumsum(rng.normal(0, height / 4, (int(rng.integers(4, 9)), 2)), axis=0)
        points += (rng.uniform(0, width), rng.uniform(0, height))
        cv2.polylines(mask, [np.rint(points).astype(np.int32)], False, 255, thickness, cv2.LINE_AA)
    return mask.astype(np.float32) / 255


def writing(rng: np.random.Generator, digits: np.ndarray) -> Crop:
    """A letter that is no digit, a short run of letters, or a scribble."""
    height = int(rng.integers(24, 100))
    if rng.random() < 0.4:
        return _on_paper(_strokes(rng, height, int(height * rng.uniform(0.6, 2.5))), rng, crop=False)
    text = "".join(rng.choice(list(LETTERS), int(rng.integers(1, 4))))
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_COMPLEX]))
    scale = height / 30
    thickness = max(1, int(scale * rng.uniform(1, 3)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    drawn = np.zeros((th + base + 2 * thickness, tw + 2 * thickness), np.uint8)
    cv2.putText(drawn, text, (thickness, th + thickness), font, scale, 255, thickness, cv2.LINE_AA)
    mask: np.ndarray = drawn.astype(np.float32) / 255
    if rng.random() < 0.5:  # slanted like handwriting
        shear = np.array([[1, rng.uniform(-0.4, 0.4), 0], [0, 1, 0]], np.float32)
        mask = np.asarray(cv2.warpAffine(mask, shear, (mask.shape[1] + mask.shape[0] // 2, mask.shape[0])))
    return _on_paper(mask, rng)


def _on_paper(mask: np.ndarray, rng: np.random.Generator, crop: bool = True) -> Crop:
    """Ink coverage on a sheet with a small random margin, cropped as a segmenter would crop it."""
    if crop:
        rows, cols = np.nonzero(mask > 0.1)
        if len(rows):
            mask = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = mask.shape
    pad = [int(rng.integers(0, max(1, s // 5) + 1)) for s in (h, w, h, w)]
    sheet, ink = _paper(rng, h + pad[0] + pad[2], w + pad[1] + pad[3])
    full = np.zeros(sheet.shape, np.float32)
    full[pad[0] : pad[0] + h, pad[1] : pad[1] + w] = mask
    return _finish(_ink(sheet, full, ink))


KINDS: dict[str, Callable[[np.random.Generator, np.ndarray], Crop]] = {
    "specks": specks,
    "dust": dust,
    "shading": shading,
    "line": line_fragment,
    "box": box_corner,
    "half-digit": half_digit,
    "two-digits": two_digits,
    "writing": writing,
}


def negative_crop(rng: np.random.Generator, digits: np.ndarray, kind: str | None = None) -> tuple[Crop, str]:
    """One crop with no single digit in it, and its kind (chosen at random unless given)."""
    kind = kind or str(rng.choice(list(KINDS)))
    return KINDS[kind](rng, digits), kind


def like_a_one(field: np.ndarray) -> bool:
    """A tall narrow stroke: a vertical line, a slash or half of a 0 normalised into the field is a "1"."""
    rows, cols = np.nonzero(field > 0.3)
    return bool(len(rows)) and cols.max() - cols.min() < 8 and rows.max() - rows.min() >= 14


def fields_of(crops: Sequence[np.ndarray]) -> np.ndarray:
    """Negative crops as the model sees them (float32 (n, 28, 28)), each normalised whole, as a crop the
    segmenter hands over. Left out: the ones the normaliser calls blank (they never reach the model) and the
    ones that normalise into the shape of a "1" (a negative that looks like a digit would teach the model to
    reject that digit)."""
    results = (prepare_array(crop, whole=True) for crop in crops)
    fields = [r.tensor for r in results if not r.blank and not like_a_one(r.tensor)]
    return np.stack(fields) if fields else np.zeros((0, 28, 28), np.float32)


def negative_fields(n: int, rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """`n` normalised negatives (float32 (n, 28, 28)), all kinds mixed; `digits` are uint8 (N, 28, 28) MNIST-form
    digits to cut halves and pairs from."""
    out: list[np.ndarray] = [np.zeros((0, 28, 28), np.float32)]
    while sum(map(len, out)) < n:
        out.append(fields_of([negative_crop(rng, digits)[0] for _ in range(n - sum(map(len, out)))]))
    return np.concatenate(out)[:n]
