"""The scan contract: turn any decoded image into the model's 28x28 input, the way MNIST itself was made.

MNIST was built from NIST's black-and-white scans: each digit was scaled (anti-aliased) so that its longer
side is 20 px, keeping the aspect ratio, then placed in a 28x28 field so that its centre of mass sits at the
centre. A scanned digit differs from that in every respect (size, position, polarity, paper, noise, bit depth,
alpha, orientation), so `normalize` undoes each difference in turn:

1. EXIF orientation is applied (phones and scanners store rotated pixels plus a tag).
2. The pixels become one grey channel in [0, 1]: alpha is composited on white; 16-bit, 32-bit and float
   images are scaled by their range, never clipped at 255; palette, CMYK, 1-bit and colour images are
   converted to luminance.
3. Ink polarity comes from the background, estimated on the image border: light paper means dark ink, which
   is inverted so that ink is bright on black, as in MNIST.
4. The background level is subtracted and the contrast stretched so that solid ink is 1.
5. The ink's bounding box is found on a smoothed copy, keeping the heavy connected parts of the ink so that
   specks, dust and scan-edge marks away from the digit do not stretch it.
6. The box is scaled so that its longer side is 20 px (keeping the aspect ratio) and placed in a 28x28 field
   with its centre of mass at the centre (index 14, as in the MNIST arrays).

An image already in MNIST form (28x28, white digit on black, longer side at most 20 px, centre of mass within
a pixel of the centre) is passed through unchanged, so MNIST's own digits give exactly the tensor of the MNIST
arrays (`data.to_model_input`). An image without ink is reported `blank` with an all-zero tensor: the scorer
then does not pretend to read a digit in it.

Pure NumPy and Pillow: this module is the contract every engine (local, Ray) shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

SIZE = 28  # the model's field
BOX = 20  # the longer side of the digit inside the field
CENTRE = 14.0  # where MNIST puts the centre of mass, in index coordinates
MAX_SIDE = 1024  # larger images are box-reduced first: the digit ends up 20 px anyway
DETECT_SIDE = 64  # ink detection runs on a copy reduced to about this size (box filtering also averages noise)
BLANK_CONTRAST = 0.1  # ink fainter than this (on a 0..1 scale) above the paper counts as no ink
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class Normalized:
    """The model input for one image and what `prepare` found out about it."""

    tensor: np.ndarray  # float32 (28, 28) in [0, 1], white ink on black
    blank: bool  # no ink found: the tensor is all zeros and no digit should be read from it
    inverted: bool  # the image had dark ink on a light background
    passthrough: bool  # already in MNIST form, used as it was


def normalize(image: Image.Image) -> np.ndarray:
    """Any decoded PIL image -> float32 (28, 28) in [0, 1], white ink on black (see the module docstring)."""
    return prepare(image).tensor


def prepare(image: Image.Image) -> Normalized:
    """Like `normalize`, but also says whether the image was blank, inverted or already in MNIST form."""
    image = apply_orientation(image)
    if image.mode == "L" and image.size == (SIZE, SIZE):
        # The common case of MNIST-like files, checked on the uint8 pixels: several times faster. Ink that
        # fits in 20x20 leaves most of the border black, so the polarity needs no separate check.
        pixels = np.asarray(image)
        if _mnist_geometry(pixels):
            return Normalized(pixels.astype(np.float32) / np.float32(255.0), blank=False, inverted=False,
                              passthrough=True)
    return prepare_gray(to_gray(image))


def apply_orientation(image: Image.Image) -> Image.Image:
    """Rotate/flip an image as its EXIF orientation tag says (no copy when there is no tag)."""
    if "exif" not in image.info and image.format not in ("TIFF", "MPO"):
        return image  # nothing to read: PNG/GIF/BMP files without EXIF (the common case, kept cheap)
    try:
        orientation = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a corrupt EXIF block must not lose the picture; its pixels are still good
        return image
    if orientation in (None, 1):
        return image
    return ImageOps.exif_transpose(image) or image


def to_gray(image: Image.Image) -> np.ndarray:
    """One grey channel in [0, 1] (1 = white), float32, with alpha composited on white.

    High-bit-depth images are scaled by the range their type can hold, never clipped: Pillow's own conversion
    of 16-bit to 8-bit clips everything above 255 to white, which would erase a 16-bit scan.
    """
    mode = image.mode
    if mode == "L":
        return np.asarray(image, dtype=np.float32) / np.float32(255.0)
    if mode == "1":
        return np.asarray(image, dtype=np.float32)
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.float32) / np.float32(65535.0)
    if mode in ("I", "F"):
        return _scale_range(np.asarray(image, dtype=np.float64))
    has_alpha = mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info
    if has_alpha:
        return _composite_on_white(image)
    if mode != "RGB" and mode != "P":
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV: via RGB, as Pillow has no direct route for all
    return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255.0)


def _scale_range(values: np.ndarray) -> np.ndarray:
    """Map integer or float pixels to [0, 1] by the range they evidently use (1, 255, 65535 or min..max)."""
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if lo >= 0.0:
        for top in (1.0, 255.0, 65535.0):
            if hi <= top:
                return (values / top).astype(np.float32)
    span = hi - lo
    return ((values - lo) / span if span > 0 else np.zeros_like(values)).astype(np.float32)


def _composite_on_white(image: Image.Image) -> np.ndarray:
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    gray = np.asarray(Image.alpha_composite(white, rgba).convert("L"), dtype=np.float32) / np.float32(255.0)
    if np.ptp(gray) < BLANK_CONTRAST:
        # Uniform colour drawn with varying opacity (white ink on a transparent sheet, a mask exported from
        # a drawing program): the alpha channel is then the only place the digit exists.
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / np.float32(255.0)
        if np.ptp(alpha) >= BLANK_CONTRAST:
            return 1.0 - alpha
    return gray


def _border(values: np.ndarray) -> np.ndarray:
    """The pixels of a ring along the edges, about 4% of the shorter side wide (at least one pixel)."""
    h, w = values.shape
    k = max(1, round(0.04 * min(h, w)))
    if 2 * k >= min(h, w):
        return values.ravel()
    return np.concatenate([values[:k].ravel(), values[-k:].ravel(), values[k:-k, :k].ravel(),
                           values[k:-k, -k:].ravel()])


def _median(values: np.ndarray) -> float:
    """Upper median, without np.median's overhead (it matters at thousands of images per second)."""
    k = values.size // 2
    return float(np.partition(values, k)[k])


_INDEX = np.arange(SIZE, dtype=np.float64)


def _centre_of_mass(values: np.ndarray) -> tuple[float, float]:
    total = float(values.sum())
    if total <= 0:
        return (values.shape[0] - 1) / 2, (values.shape[1] - 1) / 2
    rows = np.arange(values.shape[0], dtype=np.float64)
    cols = np.arange(values.shape[1], dtype=np.float64)
    return float(values.sum(axis=1) @ rows) / total, float(values.sum(axis=0) @ cols) / total


def is_mnist_form(ink: np.ndarray) -> bool:
    """True for a 28x28 white-on-black digit that MNIST's own procedure would leave as it is: dark border,
    ink no more than 20 px across, centre of mass within a pixel of the centre."""
    if ink.shape != (SIZE, SIZE) or _median(_border(ink)) > 0.02:
        return False
    return _mnist_geometry(ink)


def _mnist_geometry(ink: np.ndarray) -> bool:
    rows = ink.sum(axis=1, dtype=np.float64)
    cols = ink.sum(axis=0, dtype=np.float64)
    r, c = rows.nonzero()[0], cols.nonzero()[0]
    if r.size == 0 or max(r[-1] - r[0], c[-1] - c[0]) >= BOX:
        return False
    total = rows.sum()
    return abs(rows.dot(_INDEX) / total - CENTRE) <= 1.0 and abs(cols.dot(_INDEX) / total - CENTRE) <= 1.0


def _box3(values: np.ndarray) -> np.ndarray:
    """3x3 mean filter with edge padding (cheap, and enough to tell single-pixel noise from strokes)."""
    p = np.pad(values, 1, mode="edge")
    out = p[:-2, :-2] + p[:-2, 1:-1] + p[:-2, 2:] + p[1:-1, :-2] + p[1:-1, 1:-1] + p[1:-1, 2:]
    out += p[2:, :-2] + p[2:, 1:-1] + p[2:, 2:]
    return out / np.float32(9.0)


def _components(mask: np.ndarray, weight: np.ndarray) -> list[tuple[float, int, int, int, int]]:
    """8-connected components of a small mask: (mass, top, bottom, left, right) each, by union-find on runs."""
    parent: list[int] = []
    runs: list[tuple[int, int, int]] = []  # (row, start, end) inclusive

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    previous: list[int] = []
    for row in range(mask.shape[0]):
        starts, ends = np.flatnonzero(edges[row] == 1), np.flatnonzero(edges[row] == -1) - 1
        current = []
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            index = len(runs)
            runs.append((row, start, end))
            parent.append(index)
            for other in previous:
                _, o_start, o_end = runs[other]
                if o_start <= end + 1 and o_end >= start - 1:  # touching, diagonals included
                    a, b = find(index), find(other)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
            current.append(index)
        previous = current
    found: dict[int, list] = {}
    for index, (row, start, end) in enumerate(runs):
        mass = float(weight[row, start : end + 1].sum())
        root = find(index)
        if root not in found:
            found[root] = [mass, row, row, start, end]
        else:
            box = found[root]
            box[0] += mass
            box[2] = row
            box[3], box[4] = min(box[3], start), max(box[4], end)
    return [tuple(box) for box in found.values()]


def _noise_and_level(values: np.ndarray) -> tuple[float, float]:
    """Background level (median of the border) and noise (scaled MAD of the border)."""
    border = _border(values)
    level = _median(border)
    return level, 1.4826 * _median(np.abs(border - level))


def _reduce(values: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return values
    return np.asarray(Image.fromarray(values, "F").reduce(factor), dtype=np.float32)


def _ink_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right), inclusive, of the digit's ink in `ink`, or None if there is no ink."""
    h, w = ink.shape
    factor = max(1, -(-max(h, w) // DETECT_SIDE))
    coarse = _reduce(ink, factor)
    level, noise = _noise_and_level(coarse)
    smooth = _box3(coarse - level)
    # The 3x3 mean divides independent noise by 3; five of those sigmas above the paper is ink.
    threshold = max(BLANK_CONTRAST, 5.0 * noise / 3.0)
    mask = smooth > threshold
    if mask.sum() < 2:
        return None
    # Specks, dust and shadows are separate, much lighter blobs: keep the components that weigh at least
    # a tenth of the heaviest (digits written with a break keep both parts) and box them together.
    parts = _components(mask, smooth)
    heaviest = max(part[0] for part in parts)
    kept = [part for part in parts if part[0] >= 0.1 * heaviest]
    rows = (min(p[1] for p in kept), max(p[2] for p in kept))
    cols = (min(p[3] for p in kept), max(p[4] for p in kept))
    # Measure the box at full resolution inside the coarse box grown by one coarse cell: the smoothing above
    # spreads ink by a pixel, which at 28 px would shrink the digit by a tenth. A pixel counts when it is
    # itself inky (above the noise, and a tenth of solid ink) and so is its neighbourhood (not lone noise).
    top, bottom = max(0, (rows[0] - 1) * factor), min(h, (rows[1] + 2) * factor)
    left, right = max(0, (cols[0] - 1) * factor), min(w, (cols[1] + 2) * factor)
    full_level, full_noise = _noise_and_level(ink)
    region = ink[top:bottom, left:right] - full_level
    inky = region[region > max(BLANK_CONTRAST, 3.0 * full_noise)]
    solid = float(np.percentile(inky, 90)) if inky.size else float(region.max())
    threshold = max(3.0 * full_noise, 0.1 * solid, 0.02)
    fine = (region > threshold) & (_box3(region) > threshold / 2)
    fr, fc = np.flatnonzero(fine.any(axis=1)), np.flatnonzero(fine.any(axis=0))
    if fr.size == 0:
        return top, bottom - 1, left, right - 1
    return top + int(fr[0]), top + int(fr[-1]), left + int(fc[0]), left + int(fc[-1])


def prepare_gray(gray: np.ndarray) -> Normalized:
    """The steps after decoding (3-6 of the module docstring), on a grey float image (1 = white)."""
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or gray.size == 0:
        raise ValueError(f"expected a non-empty 2-D grey image, got shape {gray.shape}")
    h, w = gray.shape
    if max(h, w) > MAX_SIDE:
        gray = _reduce(gray, -(-max(h, w) // MAX_SIDE))
    inverted = _median(_border(gray)) > 0.5
    ink = 1.0 - gray if inverted else gray
    if not inverted and is_mnist_form(ink):
        return Normalized(ink, blank=False, inverted=False, passthrough=True)

    box = _ink_box(ink)
    if box is None:
        return Normalized(np.zeros((SIZE, SIZE), np.float32), blank=True, inverted=inverted, passthrough=False)
    top, bottom, left, right = box
    level, noise = _noise_and_level(ink)
    patch = ink[top : bottom + 1, left : right + 1] - level
    # Solid ink is the upper part of the ink pixels' range; the floor sits just above the paper noise.
    floor = 2.0 * noise
    inky = patch[patch > max(BLANK_CONTRAST, 3.0 * noise)]
    solid = float(np.percentile(inky, 90)) if inky.size else float(patch.max())
    if solid - floor < BLANK_CONTRAST / 2:
        return Normalized(np.zeros((SIZE, SIZE), np.float32), blank=True, inverted=inverted, passthrough=False)
    patch = np.clip((patch - floor) / (solid - floor), 0.0, 1.0).astype(np.float32)

    ph, pw = patch.shape
    scale = BOX / max(ph, pw)
    new_h, new_w = max(1, round(ph * scale)), max(1, round(pw * scale))
    resized = Image.fromarray(patch, "F").resize((new_w, new_h), Image.Resampling.LANCZOS)
    digit = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    peak = float(digit.max())
    if peak <= 0:
        return Normalized(np.zeros((SIZE, SIZE), np.float32), blank=True, inverted=inverted, passthrough=False)
    digit /= np.float32(peak)  # MNIST digits always reach full white

    cy, cx = _centre_of_mass(digit)
    y0 = min(max(round(CENTRE - cy), 0), SIZE - new_h)
    x0 = min(max(round(CENTRE - cx), 0), SIZE - new_w)
    out = np.zeros((SIZE, SIZE), np.float32)
    out[y0 : y0 + new_h, x0 : x0 + new_w] = digit
    return Normalized(out, blank=False, inverted=inverted, passthrough=False)
