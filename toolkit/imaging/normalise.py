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
6. The box is scaled (area interpolation) so that its longer side is 20 px, keeping the aspect ratio, and
   placed in a 28x28 field with its centre of mass at the centre (index 14, as in the MNIST arrays).

An image already in MNIST form (28x28, white digit on black, longer side at most 20 px, centre of mass within
a pixel of the centre) is passed through unchanged, so MNIST's own digits give exactly the tensor of the MNIST
arrays (`data.to_model_input`). An image without ink is reported `blank` with an all-zero tensor: the scorer
then does not pretend to read a digit in it.

Steps 5-6 above are the fast path for single-digit scans, images up to PAGE_SIDE px. A larger image (a whole
page, a photo, a form field) may hold a digit a few percent of its size, ruled lines and uneven light, and a
`multi_digit` reading wants every digit of a number: both go to `toolkit.imaging.segment` after step 3, which
finds the ink relative to the page, erases ruled lines and specks, and ends each digit with the same `to_field`
(`toolkit.imaging.common`).

Pillow decodes and converts; the per-pixel work (box filters, connected components, bounding boxes, moments,
area resizing) is OpenCV's, a few microseconds per call, so that normalising costs less than decoding. Every
engine (local, Ray) normalises through this module, so all of them give the same tensors.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from toolkit.imaging import cell, closer, light, orient, segment, sheet
from toolkit.imaging.common import (
    BLANK_CONTRAST,
    BOX,
    CENTRE,
    MAX_SIDE,
    PAGE_SIDE,
    SIZE,
    Normalized,
    Segmented,
    bar_marks,
    border,
    centre_of_mass,
    edge_like,
    median,
    paper_of,
    quantile,
    reduce,
    scaled,
    to_field,
    to_max_side,
)
from toolkit.imaging.digits import WIDE
from toolkit.imaging.frame import lined
from toolkit.imaging.rough import box3, rough_box

# Images up to this many pixels become OpenCV arrays as they are, like the files OpenCV decodes; larger ones are
# reduced by Pillow first, from files and memory alike, so memory stays near the image's own bytes.
ARRAY_MAX_PIXELS = 1 << 22
FRAME = 0.8  # ink across this share of a small image's sides may be a frame or a rule: see _not_one_digit
OVERSHOOT = 0.05  # float pixels up to 1.05 are in [0, 1], overshot by a resampler (`scale_range`)
MNIST_PEAK = 250  # a 28x28 digit passes through as it is only with ink this bright (MNIST's: 254-255)
DIM_MARGIN = 0.02  # `dim_paper`: light ink standing less than this above the border is none
TINY_SIDE, ENLARGED_SIDE = 12, 24  # images under TINY_SIDE px are enlarged to at least ENLARGED_SIDE
FINE_SIDE = 64  # a digit box larger than twice this is measured on a copy reduced to about this size


def normalize(image: Image.Image) -> np.ndarray:
    """Any decoded PIL image -> float32 (28, 28) in [0, 1], white ink on black (see the module docstring)."""
    return prepare(image).tensor


def prepare(image: Image.Image, multi_digit: bool = False) -> Normalized:
    """Like `normalize`, but also says whether the image was blank, inverted or already in MNIST form.

    `multi_digit`: read every digit, left to right (see `toolkit.imaging.segment`); the tensor is then
    (n, 28, 28).

    Grey, RGB, RGBA and 16-bit grey images up to ARRAY_MAX_PIXELS take the path of files OpenCV decodes
    (`prepare_array`: the same reduction and the same grey), so the same pixels give the same tensors from a file
    or from memory; larger ones are reduced by Pillow (`_shrink`) from either."""
    image = orient.tiff_loaded(image)
    turn = orient.turn(image)
    small = image.width * image.height <= ARRAY_MAX_PIXELS
    if small and (pixels := _opencv_pixels(image if turn is None else image.transpose(turn))) is not None:
        return prepare_array(pixels, multi_digit)
    size, whole = image.size, image
    image = _shrink(image)
    factor = size[0] / image.size[0]
    if turn is not None:
        swapped = image.transpose(turn)
        size = size[::-1] if swapped.size != image.size else size
        image = swapped
    if image.mode == "L" and image.size == (SIZE, SIZE):
        passthrough = _mnist_passthrough(np.asarray(image), multi_digit)
        if passthrough is not None:
            return passthrough
    result = prepare_gray(to_gray(image), multi_digit)
    if turn is not None and whole.width * whole.height > 4 * ARRAY_MAX_PIXELS:
        return scaled(result, factor)  # no closer look: it would turn a second copy of a scan this large

    def crop(x: int, y: int, w: int, h: int) -> np.ndarray:  # the closer look's pixels, turned as `image` was
        upright = whole if turn is None else whole.transpose(turn)
        return to_gray(upright.crop((x, y, x + w, y + h)))

    return closer.finer(result, size, crop) or scaled(result, factor)


def _opencv_pixels(image: Image.Image) -> np.ndarray | None:
    """The image in OpenCV's layout (grey, BGR, BGRA; uint8 or uint16) for the common modes, else None (palette,
    1-bit, CMYK, 32-bit, grey with alpha keep Pillow's conversions)."""
    if image.mode == "L":
        return np.asarray(image)
    if image.mode in ("I;16", "I;16L", "I;16B"):
        return np.asarray(image).astype(np.uint16, copy=False)
    if image.mode == "RGB" and "transparency" not in image.info:
        return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
    if image.mode == "RGBA":
        return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGBA2BGRA)
    return None


def _shrink(image: Image.Image) -> Image.Image:
    """An image with a side over 2 x MAX_SIDE, box-reduced in its own mode before any conversion, so that a scan
    near the pixel limit never exists in memory as float (4-8 bytes a pixel) or as a second full-size copy; by a
    whole factor that leaves its longer side at MAX_SIDE or more, which `prepare_gray` then reduces to MAX_SIDE
    exactly, as every other path does (by a factor that rounds up, a 2,339 px page became 780 px, not 1,024)."""
    factor = max(image.size) // MAX_SIDE
    if factor <= 1:
        return image
    if image.mode == "P":
        image = _palette_to_grey(image)
    elif image.mode == "1":  # no box filter for it
        image = image.convert("L")
    if image.mode.startswith("I;16"):  # reduce() does not take 16-bit; the box resize does the same job
        width, height = image.size
        return image.resize((-(-width // factor), -(-height // factor)), Image.Resampling.BOX)
    return image.reduce(factor)


def _palette_to_grey(image: Image.Image) -> Image.Image:
    """A large palette image as grey, one byte a pixel throughout (as RGB or RGBA it would take three or four
    times the memory): its palette entries are composited on white and turned grey, then the pixels converted
    once. The image's own palette is put back afterwards."""
    palette = image.getpalette("RGB") or []
    rgb = np.asarray(palette, np.float32).reshape(-1, 3)
    alpha = np.full(len(rgb), 255.0, np.float32)
    transparency = image.info.get("transparency")
    if isinstance(transparency, int) and transparency < len(alpha):
        alpha[transparency] = 0.0
    elif isinstance(transparency, bytes):
        given = np.frombuffer(transparency, np.uint8)[: len(alpha)]
        alpha[: len(given)] = given
    opacity = alpha / np.float32(255.0)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32) / np.float32(255.0)
    # Judged on the entries the image uses: a palette padded with black would otherwise hide a digit drawn
    # only in its alpha (white ink on a transparent sheet).
    used = np.flatnonzero(np.asarray(image.histogram()[: len(luma)]) > 0)
    grey = luma * opacity + (np.float32(1.0) - opacity)
    if np.ptp(grey[used]) < BLANK_CONTRAST <= np.ptp(opacity[used]):
        grey = np.float32(1.0) - opacity
    lut = np.clip(np.rint(grey * 255.0), 0, 255).astype(np.uint8)
    info = dict(image.info)
    try:
        image.info.pop("transparency", None)
        image.putpalette(np.repeat(lut, 3).tobytes())
        return image.convert("L")
    finally:
        image.putpalette(palette)
        image.info.update(info)


def prepare_array(
    pixels: np.ndarray, multi_digit: bool = False, *, whole: bool = False, finer: closer.Source | None = None
) -> Normalized:
    """Like `prepare`, for pixels already decoded in OpenCV's layout (orientation applied): H x W grey,
    H x W x 3 BGR or H x W x 4 BGRA, uint8 or uint16. `whole`: a small image's ink is one crop, normalised as
    it is even when it is wide (training crops: what a segmenter hands the model), never segmented. `finer`: the
    image at its own resolution when `pixels` were decoded reduced (a JPEG libjpeg scaled down), for the closer
    look at a page's small boxes (`closer.finer`)."""
    if pixels.shape == (SIZE, SIZE) and pixels.dtype == np.uint8:
        passthrough = _mnist_passthrough(pixels, multi_digit)
        if passthrough is not None:
            return passthrough
    height, width = pixels.shape[:2]
    if max(height, width) > MAX_SIDE and pixels.ndim == 3 and pixels.shape[2] == 4:
        # Composited at full size, then reduced (`prepare_gray`): averaging colours a transparent sheet hides
        # into the strokes' edges turns white ink drawn on transparent black into an outline.
        return prepare_gray(bgr_to_gray(pixels), multi_digit)
    if max(height, width) > MAX_SIDE:
        # As `_shrink`, reduced in its own type before any float copy; to MAX_SIDE exactly rather than by a whole
        # factor: a page may hold a digit of 40 px, and a JPEG the decoder already halved (2339 -> 1170 px) would
        # otherwise be halved again, to 585 px.
        reduced = to_max_side(pixels)
        result, factor = prepare_gray(bgr_to_gray(reduced), multi_digit), width / reduced.shape[1]
        size, own = ((width, height), lambda: pixels) if finer is None else finer
        near = closer.finer(result, size, lambda x, y, w, h: bgr_to_gray(own()[y : y + h, x : x + w]))
        return scaled(near, width / size[0]) if near else scaled(result, factor)  # boxes in `pixels`'s own
    return prepare_gray(bgr_to_gray(pixels), multi_digit, whole=whole)


def _not_one_digit(near: tuple[int, int, int, int], shape: tuple[int, int]) -> bool:
    """True when the ink's box (top, bottom, left, right) is no single digit's: wider than WIDE x its height
    (digits side by side), across the image's whole width (a rule), or across FRAME of it both ways (a box
    around the field; a digit cropped tight to its ink goes to the segmenter too, which reads it as well)."""
    height, width = near[1] - near[0], near[3] - near[2]
    across = width >= FRAME * shape[1]
    return width > WIDE * height or (across and height >= FRAME * shape[0]) or width >= 0.95 * shape[1]


def _mnist_passthrough(pixels: np.ndarray, multi_digit: bool = False) -> Normalized | None:
    """The common case of MNIST-like files, checked on the 28x28 uint8 pixels: several times faster than the
    general path. Ink that fits in 20x20 leaves most of the border black, so polarity needs no separate check.
    An MNIST digit saved dark on white (as scans come) is the same case inverted: every pixel outside the 20x20
    box pure white."""
    inverted = not _mnist_geometry(pixels)
    if inverted:
        pixels = 255 - pixels
        if not _mnist_geometry(pixels):
            return None
    if int(pixels.max()) < MNIST_PEAK:  # faint ink: the general path stretches it
        return None
    tensor = pixels.astype(np.float32) / np.float32(255.0)
    result = Normalized(tensor, blank=False, inverted=inverted, passthrough=True)
    return _one_digit(result) if multi_digit else result


def _one_digit(result: Normalized) -> Segmented:
    """A passed-through MNIST image as a multi-digit reading: one digit, the whole field."""
    return Segmented(
        result.tensor[None], blank=False, inverted=result.inverted, passthrough=True, boxes=((0, 0, SIZE, SIZE),)
    )


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
        values = np.asarray(image)
        return values.astype(np.float32) / _sixteen_bit_top(values)
    if mode in ("I", "F"):
        return scale_range(np.asarray(image, dtype=np.float64))
    has_alpha = mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info
    if has_alpha:
        return _composite_on_white(image)
    if mode != "RGB" and mode != "P":
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV: via RGB, as Pillow has no direct route for all
    return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255.0)


def dim_paper(gray: np.ndarray, level: float) -> bool:
    """Whether an image whose border is darker than mid-grey (`level`) is dark ink on dim paper (a scan or photo
    underexposed) rather than light ink on a dark ground: its darkest pixels stand further below the border than
    its lightest stand above it, twice as far (percentiles 0.5 and 99.5, so that noise does not decide)."""
    step = max(1, max(gray.shape) // 256)
    low, high = np.percentile(gray[::step, ::step], (0.5, 99.5))
    return float(level - low) > 2.0 * max(float(high - level), DIM_MARGIN)


def scale_range(values: np.ndarray) -> np.ndarray:
    """Map integer or float pixels to [0, 1] by the range they evidently use (1, 255, 65535 or min..max)."""
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if lo >= 0.0:
        if hi <= 1.0 + OVERSHOOT:  # a resampler's overshoot past 1.0 leaves the range [0, 1], not 0..255
            return np.minimum(values, 1.0).astype(np.float32)
        for top in (255.0, 65535.0):
            if hi <= top:
                return (values / top).astype(np.float32)
    span = hi - lo
    return ((values - lo) / span if span > 0 else np.zeros_like(values)).astype(np.float32)


_TYPE_MAX = {np.uint8: np.float32(255.0), np.uint16: np.float32(65535.0)}


def _sixteen_bit_top(values: np.ndarray) -> np.float32:
    """The white of 16-bit pixels: 65535, or 255 when none is above it (8-bit values in 16 bits: all but black)."""
    return np.float32(255.0) if values.size and int(values.max()) <= 255 else np.float32(65535.0)


def bgr_to_gray(pixels: np.ndarray) -> np.ndarray:
    """`to_gray` for an OpenCV pixel array (grey, BGR or BGRA; uint8 or uint16), scaled by its type's range."""
    top = _sixteen_bit_top(pixels) if pixels.dtype == np.uint16 else _TYPE_MAX[pixels.dtype.type]
    if pixels.ndim == 2:
        return pixels.astype(np.float32) / top
    if pixels.shape[2] == 4:
        luma = cv2.cvtColor(pixels, cv2.COLOR_BGRA2GRAY).astype(np.float32) / top
        return _over_white(luma, pixels[..., 3].astype(np.float32) / top)
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY).astype(np.float32) / top


def _composite_on_white(image: Image.Image) -> np.ndarray:
    rgba = np.asarray(image.convert("RGBA"))
    luma = cv2.cvtColor(rgba, cv2.COLOR_RGBA2GRAY).astype(np.float32) / np.float32(255.0)
    return _over_white(luma, rgba[..., 3].astype(np.float32) / np.float32(255.0))


def _over_white(luma: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Grey in [0, 1] of a colour (its luminance `luma`) with opacity `alpha`, composited on white paper."""
    gray = luma * alpha + (np.float32(1.0) - alpha)
    if np.ptp(gray) < BLANK_CONTRAST and np.ptp(alpha) >= BLANK_CONTRAST:
        # Uniform colour drawn with varying opacity (white ink on a transparent sheet, a mask exported from
        # a drawing program): the alpha channel is then the only place the digit exists.
        return np.float32(1.0) - alpha
    return gray


def is_mnist_form(ink: np.ndarray) -> bool:
    """True for a 28x28 white-on-black digit that MNIST's own procedure would leave as it is: dark border,
    ink no more than 20 px across, centre of mass within a pixel of the centre, and its peak at full white (every
    MNIST digit's is 254 or 255: fainter ink needs the general path's stretch)."""
    if ink.shape != (SIZE, SIZE) or median(border(ink)) > 0.02 or float(ink.max()) < MNIST_PEAK / 255:
        return False
    return _mnist_geometry(ink)


def _mnist_geometry(ink: np.ndarray) -> bool:
    # Bounding box of the non-zero pixels and the moments: two C calls, a few microseconds in all.
    _, _, w, h = cv2.boundingRect(ink if ink.dtype == np.uint8 else (ink != 0).view(np.uint8))
    if w == 0 or max(w, h) > BOX:
        return False
    cy, cx = centre_of_mass(ink)
    return abs(cy - CENTRE) <= 1.0 and abs(cx - CENTRE) <= 1.0


def _fine_box(
    ink: np.ndarray, near: tuple[int, int, int, int], level: float, noise: float
) -> tuple[tuple[int, int, int, int], float]:
    """(top, bottom, left, right), inclusive, of the ink inside `near` (see `rough.rough_box`), pixel by pixel, and
    the level of solid ink there (see `_region_solid_level`). A pixel counts when it is itself inky (above the
    noise, and a tenth of solid ink) and so is its neighbourhood (not lone noise). `level` and `noise` describe
    the paper of `ink` (see `common.paper`)."""
    top, bottom, left, right = near
    region = ink[top:bottom, left:right] - np.float32(level)
    solid = _region_solid_level(region, noise)
    threshold = max(3.0 * noise, 0.1 * solid, 0.02)
    fine = ((region > threshold) & (box3(region) > threshold / 2)).view(np.uint8)
    x, y, fw, fh = cv2.boundingRect(fine)
    if fw == 0:
        return (top, bottom - 1, left, right - 1), solid
    return (top + y, top + y + fh - 1, left + x, left + x + fw - 1), solid


def _region_solid_level(region: np.ndarray, noise: float) -> float:
    """The level of solid ink in `region` (paper subtracted): the 90th percentile of its clearly inky pixels."""
    inky = region[region > max(BLANK_CONTRAST, 3.0 * noise)]
    return quantile(inky, 0.9) if inky.size else float(region.max())


def prepare_gray(gray: np.ndarray, multi_digit: bool = False, *, whole: bool = False) -> Normalized:
    """The steps after decoding (3-6 of the module docstring), on a grey float image (1 = white). Pages (over
    PAGE_SIDE) and `multi_digit` readings go to `toolkit.imaging.segment`, and so does ink wider than a digit
    unless `whole` (see `prepare_array`)."""
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or gray.size == 0:
        raise ValueError(f"expected a non-empty 2-D grey image, got shape {gray.shape}")
    (h, w), full = gray.shape, gray
    if max(h, w) > MAX_SIDE:
        gray = to_max_side(gray)
    elif max(h, w) < TINY_SIDE:
        # A digit scanned at a few pixels (an 8x8 thumbnail): read enlarged, or the whole digit is smaller than the
        # least a digit may be (MIN_DIGIT) and is dropped as dust. Its boxes are given in its own pixels.
        factor = -(-ENLARGED_SIDE // max(h, w))
        enlarged = cv2.resize(gray, (w * factor, h * factor), interpolation=cv2.INTER_LINEAR)
        return scaled(prepare_gray(enlarged, multi_digit, whole=whole), 1 / factor)
    ring = border(gray)
    level, noise = paper_of(gray, ring)
    if not whole and max(h, w) <= PAGE_SIDE:  # a form's cell cut out along its box: its lines are no paper
        unframed = cell.unframed(gray, level, float(ring.mean()))
        if unframed is not gray:
            gray = unframed
            level, noise = paper_of(gray)
    inverted = level > 0.5
    ink = 1.0 - gray if inverted else gray
    if not inverted and is_mnist_form(ink):
        result = Normalized(ink, blank=False, inverted=False, passthrough=True)
        return _one_digit(result) if multi_digit else result
    if not inverted and dim_paper(gray, level):
        inverted, ink = True, 1.0 - gray
    if max(ink.shape) > PAGE_SIDE:
        found = sheet.flatten(gray)  # a sheet photographed on a desk is read flattened
        result = segment.read(*light.working_ink(gray if found is None else found[0]), multi_digit=multi_digit)
        if found is not None:
            result = sheet.mapped_back(result, found[1], found[0].shape, gray.shape)
        return closer.finer(result, (w, h), lambda x, y, cw, ch: full[y : y + ch, x : x + cw]) or scaled(
            result, w / ink.shape[1]
        )
    if multi_digit:
        return segment.read(*light.working_ink(gray, light.kept_polarity(gray, level, inverted)), multi_digit=True)

    rough = rough_box(ink)
    if rough is None:
        return Normalized(np.zeros((SIZE, SIZE), np.float32), blank=True, inverted=inverted, passthrough=False)
    near = rough.near
    if not whole and (_not_one_digit(near, ink.shape) or lined(ink, rough, 1.0 - level if inverted else level)):
        # Wider than one digit, or boxed or ruled: the segmenter decides (and erases form boxes and rules, and flags
        # several digits side by side) on a field or strip of any size, as it does on a page.
        return segment.read(*light.working_ink(gray, light.kept_polarity(gray, level, inverted)))
    if inverted:
        level = 1.0 - level  # the paper of `ink`; the noise is the same
    # A digit much larger than the 20 px it becomes is measured and cut from an area-reduced copy: the same
    # digit in the end (area of area is area), for a fraction of the per-pixel work.
    step = max(near[1] - near[0], near[3] - near[2]) // FINE_SIDE
    if step > 1:
        ink = reduce(ink, step)
        level, noise = paper_of(ink)
        near = (near[0] // step, -(-near[1] // step), near[2] // step, -(-near[3] // step))
    (top, bottom, left, right), solid = _fine_box(ink, near, level, noise)
    # Solid ink is the upper part of the ink pixels' range; the floor sits just above the paper noise.
    floor = 2.0 * noise
    if solid - floor < BLANK_CONTRAST / 2:
        return Normalized(np.zeros((SIZE, SIZE), np.float32), blank=True, inverted=inverted, passthrough=False)
    patch = ink[top : bottom + 1, left : right + 1] - np.float32(level + floor)
    patch *= np.float32(1.0 / (solid - floor))
    np.clip(patch, 0.0, 1.0, out=patch)

    out = to_field(patch)
    if out is None:
        return Normalized(np.zeros((SIZE, SIZE), np.float32), blank=True, inverted=inverted, passthrough=False)
    # A bar straighter than a pen draws, or lying further over than a 1 is written, is flagged when read as a 1.
    marks = bar_marks(out, patch.shape)
    if (top == 0 and bottom == ink.shape[0] - 1) or (left == 0 and right == ink.shape[1] - 1):
        # From border to border: a shadow's or a tile's edge across the image, or a digit cut off. Offered as a
        # page offers what its border cuts ("e", see `reading.pick`): read as a 1 it is an edge, no digit. A
        # digit cropped to its own height (a 1 written from top to bottom) is kept, flagged cut-by-border.
        plan = "pick:1e" if "s" in marks or edge_like(ink, (top, bottom, left, right), solid, level) else "keep:1e"
        return Segmented(out, blank=False, inverted=inverted, passthrough=False, plan=plan + marks)
    if marks:
        return Segmented(out, blank=False, inverted=inverted, passthrough=False, plan="keep:1" + marks)
    return Normalized(out, blank=False, inverted=inverted, passthrough=False)
