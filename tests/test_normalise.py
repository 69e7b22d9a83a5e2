"""The scan contract: every kind of decoded image becomes the MNIST-style tensor, MNIST itself unchanged."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from toolkit import data
from toolkit.imaging import normalise


@pytest.fixture(scope="module")
def mnist_test():
    (_, _), (x_test, y_test) = data.load_mnist()
    return x_test, y_test


def scan_of(digit: np.ndarray, scale: int = 4, pad: tuple[int, int, int, int] = (10, 30, 25, 5)) -> np.ndarray:
    """Dark ink on light paper, upscaled, off-centre: uint8."""
    big = np.asarray(Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC))
    top, bottom, left, right = pad
    ink = np.pad(big, ((top, bottom), (left, right)))
    return (235 - ink.astype(np.float32) * 0.8).clip(0, 255).astype(np.uint8)


def similar(a: np.ndarray, b: np.ndarray, tolerance: float = 0.06) -> bool:
    return float(np.abs(a - b).mean()) < tolerance


def test_mnist_images_give_exactly_the_mnist_arrays(mnist_test):
    x, _ = mnist_test
    expected = data.to_model_input(x[:3000])[..., 0]
    for i in range(3000):
        result = normalise.prepare(Image.fromarray(x[i]))
        assert result.passthrough and not result.blank
        assert result.tensor.dtype == np.float32
        assert np.array_equal(result.tensor, expected[i]), i


def test_mnist_digits_saved_dark_on_white_give_exactly_the_mnist_arrays(mnist_test):
    x, _ = mnist_test
    expected = data.to_model_input(x[:500])[..., 0]
    for i in range(500):
        for result in (normalise.prepare(Image.fromarray(255 - x[i])), normalise.prepare_array(255 - x[i])):
            assert result.passthrough and result.inverted and not result.blank, i
            assert np.array_equal(result.tensor, expected[i]), i
    near = 255 - x[0]
    near[0, 0] = 200  # one mark outside the 20x20 box: not MNIST's form, the general path decides
    assert not normalise.prepare_array(near).passthrough


def test_mnist_png_round_trip_is_exact(mnist_test):
    x, _ = mnist_test
    buffer = io.BytesIO()
    Image.fromarray(x[7]).save(buffer, "PNG")
    buffer.seek(0)
    assert np.array_equal(normalise.normalize(Image.open(buffer)), data.to_model_input(x[7:8])[0, ..., 0])


def test_scan_is_inverted_cropped_scaled_and_centred(mnist_test):
    x, _ = mnist_test
    result = normalise.prepare(Image.fromarray(scan_of(x[0])))
    t = result.tensor
    assert result.inverted and not result.passthrough and not result.blank
    assert t.shape == (28, 28) and t.dtype == np.float32 and 0.0 <= t.min() and t.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(t.max(axis=1) > 0.05), np.flatnonzero(t.max(axis=0) > 0.05)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (19, 20, 21)
    total = t.sum()
    cy = (t.sum(axis=1) * np.arange(28)).sum() / total
    cx = (t.sum(axis=0) * np.arange(28)).sum() / total
    assert abs(cy - 14) <= 0.75 and abs(cx - 14) <= 0.75
    assert similar(t, data.to_model_input(x[:1])[0, ..., 0], 0.08)


def test_aspect_ratio_is_kept(mnist_test):
    x, y = mnist_test
    one = x[int(np.flatnonzero(y == 1)[0])]
    t = normalise.normalize(Image.fromarray(scan_of(one, scale=5)))
    rows, cols = np.flatnonzero(t.max(axis=1) > 0.05), np.flatnonzero(t.max(axis=0) > 0.05)
    assert rows[-1] - rows[0] + 1 >= 19 and cols[-1] - cols[0] + 1 < 15


@pytest.fixture(scope="module")
def reference(mnist_test):
    """A scan as 8-bit grey and its normalised tensor: every other mode must give (nearly) the same."""
    x, _ = mnist_test
    gray = scan_of(x[3])
    return gray, normalise.normalize(Image.fromarray(gray))


def test_sixteen_bit_is_scaled_not_clipped(reference):
    gray, expected = reference
    image = Image.fromarray(gray.astype(np.uint16) * 257)
    assert image.mode == "I;16"
    result = normalise.prepare(image)
    assert not result.blank and similar(result.tensor, expected, 0.02)
    # What a naive convert("L") does: everything above 255 becomes white, the digit is gone.
    assert np.asarray(image.convert("L")).min() == 255


def test_float_and_32bit_images(reference):
    gray, expected = reference
    assert similar(normalise.normalize(Image.fromarray(gray.astype(np.float32) / 255, "F")), expected, 0.02)
    assert similar(normalise.normalize(Image.fromarray(gray.astype(np.int32) * 256)), expected, 0.02)


@pytest.mark.parametrize("mode", ["1", "P", "RGB", "CMYK", "LA", "YCbCr"])
def test_every_mode_converts(reference, mode):
    gray, expected = reference
    image = Image.fromarray(gray).convert(mode)
    tolerance = 0.12 if mode == "1" else 0.03
    assert similar(normalise.normalize(image), expected, tolerance)


def test_alpha_is_composited_on_white(reference):
    gray, expected = reference
    ink = 255 - gray.astype(np.int32)
    rgba = np.zeros((*gray.shape, 4), np.uint8)
    rgba[..., 3] = np.clip(ink * 255 // max(1, ink.max()), 0, 255)  # black ink on a transparent sheet
    result = normalise.prepare(Image.fromarray(rgba, "RGBA"))
    assert not result.blank and similar(result.tensor, expected, 0.06)


def test_palette_with_transparency(reference):
    gray, expected = reference
    image = Image.fromarray(gray).convert("P")
    image.info["transparency"] = int(np.asarray(image)[0, 0])  # the paper colour is transparent
    assert similar(normalise.normalize(image), expected, 0.06)


def test_white_ink_on_transparent_uses_alpha(reference):
    gray, expected = reference
    rgba = np.full((*gray.shape, 4), 255, np.uint8)
    rgba[..., 3] = 255 - gray
    assert similar(normalise.normalize(Image.fromarray(rgba, "RGBA")), expected, 0.06)


def test_exif_orientation_is_applied(reference):
    gray, expected = reference
    # Stored rotated, with the tag that tells viewers to rotate it back (6: rotate 90 clockwise to view).
    stored = Image.fromarray(gray).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif)
    buffer.seek(0)
    assert similar(normalise.normalize(Image.open(buffer)), expected, 0.04)


# Stored turned by the inverse of what each orientation tag asks, so that applying the tag shows it upright.
_STORED = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_tiff_opened_by_the_caller_is_turned_upright_once(reference, tmp_path, orientation, compression):
    """Pillow turns a TIFF itself when it loads it: turned again by its tag, it read sideways. Its memory-mapped
    load of an uncompressed TIFF turned a quarter scrambled the pixels. A file path was read right."""
    from toolkit.predict import predict_images
    from toolkit.predict.decode import prepare_path

    gray, expected = reference
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "turned.tif"
    Image.fromarray(gray).transpose(_STORED[orientation]).save(path, exif=exif.tobytes(), compression=compression)
    assert np.array_equal(normalise.normalize(Image.open(path)), expected)
    (record,) = predict_images([Image.open(path)])
    assert record["digit"] == predict_images([Image.fromarray(gray)])[0]["digit"] and record["digit"] is not None
    (item,) = prepare_path(str(path))
    assert np.array_equal(item.tensor, expected)


def test_every_frame_of_a_turned_uncompressed_tiff_is_read_upright_even_once_the_file_is_gone(reference, tmp_path):
    """The bytes of a quarter-turned uncompressed TIFF are read again through the open file, at the frame the
    caller seeked to: reopened by name, a later frame was still scrambled, and a file deleted (or a relative
    path after a change of folder) raised."""
    import os

    gray, expected = reference
    other = np.ascontiguousarray(gray[::-1])  # a second page: the same scan upside down
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "pages.tif"
    stored = [Image.fromarray(g).transpose(Image.Transpose.ROTATE_90) for g in (gray, other)]
    stored[0].save(path, save_all=True, append_images=stored[1:], exif=exif.tobytes(), compression=None)
    second = Image.open(path)
    second.seek(1)
    assert np.array_equal(normalise.normalize(second), normalise.normalize(Image.fromarray(other)))
    first = Image.open(path)
    os.remove(path)
    assert np.array_equal(normalise.normalize(first), expected)


@pytest.mark.parametrize("kind", ["white", "black", "grey-noise", "dark-noise"])
def test_blank_images_are_flagged(kind):
    rng = np.random.default_rng(0)
    pixels = {
        "white": np.full((80, 60), 255, np.uint8),
        "black": np.zeros((28, 28), np.uint8),
        "grey-noise": np.clip(rng.normal(220, 6, (120, 90)), 0, 255).astype(np.uint8),
        "dark-noise": np.clip(rng.normal(20, 4, (50, 50)), 0, 255).astype(np.uint8),
    }[kind]
    result = normalise.prepare(Image.fromarray(pixels))
    assert result.blank and not result.tensor.any()


def test_specks_far_from_the_digit_do_not_stretch_the_box(reference):
    gray, expected = reference
    specked = gray.copy()
    specked[2:4, 2:4] = 0
    specked[-5:-3, -4:-2] = 10
    assert similar(normalise.normalize(Image.fromarray(specked)), expected, 0.01)


def test_noise_does_not_break_normalisation(reference):
    gray, expected = reference
    rng = np.random.default_rng(1)
    noisy = np.clip(gray + rng.normal(0, 10, gray.shape), 0, 255).astype(np.uint8)
    assert similar(normalise.normalize(Image.fromarray(noisy)), expected, 0.06)


def test_off_centre_28x28_is_recentred(mnist_test):
    x, _ = mnist_test
    shifted = np.roll(x[0], (-4, 4), axis=(0, 1))  # white on black but off-centre: not MNIST form
    result = normalise.prepare(Image.fromarray(shifted))
    assert not result.passthrough
    assert similar(result.tensor, data.to_model_input(x[:1])[0, ..., 0], 0.03)


def test_large_images_are_reduced_first():
    page = np.full((3000, 2200), 240, np.uint8)
    page[1000:1600, 900:960] = 20  # a bar, the "digit" (a pen stroke narrower than light.PAPER_SHARE of the page)
    result = normalise.prepare(Image.fromarray(page))
    assert not result.blank and result.tensor.max() == pytest.approx(1.0)


@pytest.mark.parametrize("size", [800, 1600])
def test_white_ink_on_a_transparent_palette_sheet_is_read_at_any_size(size):
    """Large palette images go grey through their palette; the digit drawn only in alpha must survive it, even
    when the palette is padded with entries the image never uses (as GIF writers pad it)."""
    from PIL import ImageDraw

    sheet = Image.new("P", (size, size), 0)
    sheet.putpalette([255, 255, 255] * 2 + [0, 0, 0] * 254)  # 0: the transparent sheet, 1: the white ink
    ImageDraw.Draw(sheet).ellipse([size * 0.35, size * 0.25, size * 0.65, size * 0.75], outline=1, width=size // 25)
    sheet.info["transparency"] = 0
    result = normalise.prepare(sheet)
    assert not result.blank and result.tensor.max() == pytest.approx(1.0)
    assert sheet.getpalette()[:6] == [255] * 6 and sheet.info["transparency"] == 0  # the image is left as it was


@pytest.mark.parametrize("gap", [4, 12])
def test_a_small_strip_of_several_digits_is_flagged_in_single_digit_mode(mnist_test, gap):
    """Flags do not depend on size: a 200 px strip of four digits says `several-digits`, as a page would."""
    x, _ = mnist_test
    strip = np.full((60, 8 + 4 * (44 + gap)), 235, np.uint8)
    for i in range(4):
        digit = np.asarray(Image.fromarray(255 - x[i]).resize((44, 44)))
        at = 4 + i * (44 + gap)
        strip[8:52, at : at + 44] = np.minimum(strip[8:52, at : at + 44], digit)
    assert max(strip.shape) <= 320  # the small-image path
    assert "several-digits" in normalise.prepare(Image.fromarray(strip)).flags
    single = np.full((60, 60), 235, np.uint8)
    single[8:52, 8:52] = np.minimum(single[8:52, 8:52], np.asarray(Image.fromarray(255 - x[0]).resize((44, 44))))
    assert normalise.prepare(Image.fromarray(single)).flags == ()


def test_dark_ink_on_paper_darker_than_mid_grey_is_read_and_light_ink_on_a_dark_ground_still_is(mnist_test):
    """A scan or photo underexposed: its paper darker than mid-grey. The fast path took any border darker
    than 0.5 for the dark ground of light ink, found the paper to be the ink and read nothing (0 of 40 scan
    renderings at half brightness). Which way the ink stands from the paper decides now (`dim_paper`)."""
    from toolkit import scans
    from toolkit.predict import predict_images

    x, y = mnist_test
    scanned = [np.asarray(scans.render(x[k], np.random.default_rng(k), "png")).astype(np.float32) for k in range(12)]
    for name, change in (
        ("half brightness", lambda g: g * 0.5),
        ("a third of it", lambda g: g * 0.35),
        ("light ink on dark grey", lambda g: (255 - g) * 0.6 + 60),
    ):
        said = predict_images([change(g).astype(np.uint8) for g in scanned])
        assert [r["digit"] for r in said] == list(y[:12]), name
    assert not normalise.dim_paper(np.zeros((28, 28), np.float32), 0.0)  # nothing stands out: no dim paper


def test_a_page_reads_the_same_as_grey_grey_with_alpha_palette_and_float(mnist_test):
    """The reading issue's one pipeline: the same pixels, the same reading. A page over MAX_SIDE was reduced to
    MAX_SIDE exactly when OpenCV's layout took it (grey, RGB, RGBA, 16-bit) and by a whole factor rounded up
    otherwise (grey with alpha, palette, 1-bit, float arrays): a 2,339 px A4 page became 780 px instead of
    1,024, and a digit 25-40 px tall on it was lost (these three pages read nothing but as grey). Every path
    now reduces to MAX_SIDE exactly (`to_max_side`)."""
    from toolkit import scans
    from toolkit.predict import predict_images

    x, y = mnist_test
    for seed in (123, 137, 142):
        rng = np.random.default_rng(seed)
        page = scans.render_page([x[seed]], [int(y[seed])], rng, height=int(rng.integers(25, 40))).image
        assert max(page.size) > 2 * normalise.MAX_SIDE
        forms = [page, page.convert("LA"), page.convert("P"), np.asarray(page.convert("L"), np.float32) / 255]
        assert [r["digit"] for r in predict_images(forms)] == [y[seed]] * 4, seed


def test_white_ink_on_transparent_black_larger_than_max_side_keeps_its_strokes(mnist_test, tmp_path):
    """A drawing program's export: white strokes on a transparent black sheet, 1,500 px. Reduced before its
    alpha was applied, the black under transparency bled into the strokes' edges and the digit came out an
    outline (read 1, flagged straight-stroke). Composited first, it reads as a crop of it under MAX_SIDE does,
    from memory and from a file."""
    import cv2

    from toolkit.predict import predict_images

    x, y = mnist_test
    sheet = np.zeros((1500, 1500, 4), np.uint8)
    coverage = cv2.resize(x[0], (500, 500), interpolation=cv2.INTER_NEAREST)
    drawn = sheet[500:1000, 500:1000]
    drawn[coverage > 0, :3] = 255
    drawn[..., 3] = coverage
    cv2.imwrite(str(tmp_path / "drawn.png"), sheet)
    said = predict_images([sheet, sheet[:1024, :1024].copy(), str(tmp_path / "drawn.png")])
    assert [(r["digit"], r["flags"]) for r in said] == [(y[0], None)] * 3, said


def test_a_faint_mnist_shaped_digit_is_stretched_not_passed_through(mnist_test):
    """A 28x28 digit shaped as MNIST's but faint (its peak far under white) passed through as it was, and the
    model read faint ink: 270 of 300 right at a quarter of the ink, 80 at an eighth, and at a twenty-fifth
    (no ink a scanner would call ink) 41, the rest confident wrong digits. Only ink at full white passes
    through now; fainter goes the general way, stretched, or is blank when there is nothing to stretch."""
    from toolkit.predict import predict_images

    x, y = mnist_test
    for divisor in (2, 4):
        said = predict_images([x[k] // divisor for k in range(100)])
        assert [r["digit"] for r in said] == list(y[:100]), divisor
    said = predict_images([x[k] // 25 for k in range(100)])
    assert all(r["blank"] and r["digit"] is None for r in said)
    assert normalise.prepare_array(x[0]).passthrough and not normalise.prepare_array(x[0] // 2).passthrough


def test_float_pixels_a_resampler_overshot_past_one_stay_in_the_unit_range(mnist_test):
    """Floats in [0, 1] with one pixel at 1.0001 (a resampler's overshoot) were taken for 0..255, divided by
    255, and the image read blank. Up to 1.05 they are clipped to 1; above that, 0..255 as before."""
    from toolkit.predict import predict_images

    x, y = mnist_test
    exact = x[0] / 255.0
    overshot = exact.copy()
    overshot[0, 0], overshot[5, 5] = 1.0001, 1.04
    said = predict_images([exact, overshot, x[0].astype(np.float64)])  # the last: floats in 0..255
    assert [r["digit"] for r in said] == [y[0]] * 3


def test_eight_bit_values_stored_in_sixteen_bits_are_read(mnist_test, tmp_path):
    """A grey scan saved with `astype(uint16)`, or converted by Pillow to I;16, keeps its 0..255 values:
    divided by 65535 they were all but black, and the image read blank. A 16-bit image with nothing above
    255 is read on the 8-bit range; a real 16-bit one (values to 65535) as before."""
    import cv2

    from toolkit import scans
    from toolkit.predict import predict_images

    x, y = mnist_test
    grey = np.asarray(scans.render(x[0], np.random.default_rng(0), "png").convert("L"))
    cv2.imwrite(str(tmp_path / "as16.png"), grey.astype(np.uint16))
    forms = [
        Image.fromarray(grey).convert("I;16"),
        grey.astype(np.uint16),
        str(tmp_path / "as16.png"),
        grey.astype(np.uint16) * 257,
    ]
    assert [r["digit"] for r in predict_images(forms)] == [y[0]] * 4


def test_a_digit_cropped_to_its_ink_reads_the_same_white_on_black_as_dark_on_white(mnist_test):
    """A digit cropped to its own ink (no margin) goes to the segmenter, which judged its polarity again from the
    edges of two paper estimates, and on such a crop took white ink on black for dark ink on grey: 89% of them
    read right against 98% dark on white, 7% blank. A small image's polarity is the fast path's (its border,
    and dim paper), and light ink is flattened as dark ink is."""
    import cv2

    from toolkit.predict import predict_images

    x, y = mnist_test
    keep = [i for i in range(400) if y[i] != 1][:120]  # (a 1 cropped to its ink is nearly all ink: no paper)
    crops = []
    for i in keep:
        rows, cols = np.nonzero(x[i] > 30)
        ink = x[i][rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        scale = 40 / ink.shape[0]
        crops.append(cv2.resize(ink, (max(1, round(ink.shape[1] * scale)), 40), interpolation=cv2.INTER_AREA))
    white_on_black = [r["digit"] for r in predict_images(crops)]
    dark_on_white = [r["digit"] for r in predict_images([255 - c for c in crops])]
    assert white_on_black == dark_on_white
    assert sum(d == y[i] for d, i in zip(white_on_black, keep, strict=True)) >= 0.95 * len(keep)


@pytest.mark.parametrize(("side", "inset", "thick"), [(60, 0, 3), (100, 2, 3), (100, 0, 1), (200, 2, 6)])
def test_a_cell_cut_out_along_its_box_reads_its_digit_and_an_empty_one_is_blank(mnist_test, side, inset, thick):
    """A form's cell cut out along its box has the box's lines along its edges, where the paper is looked for:
    the lines were taken for the paper, the paper for ink, and 0-30 of 100 such digits read right; an empty
    cell read as an 8 or a 0."""
    import cv2

    from toolkit.predict import predict_images

    x, y = mnist_test
    cells, empty = [], []
    for i in range(40):
        digit = cv2.resize(255 - x[i], (int(0.6 * side),) * 2, interpolation=cv2.INTER_AREA)
        cell = np.full((side, side), 240, np.uint8)
        at = (side - digit.shape[0]) // 2
        cell[at : at + digit.shape[0], at : at + digit.shape[0]] = np.minimum(240, digit)
        box = (inset, inset), (side - 1 - inset, side - 1 - inset)
        cells.append(cv2.rectangle(cell, *box, 30, thick))
        empty.append(cv2.rectangle(np.full((side, side), 240, np.uint8), *box, 30, thick))
    read = predict_images(cells)
    assert sum(r["digit"] == y[i] for i, r in enumerate(read)) >= 38
    assert all(r["blank"] for r in predict_images(empty))


def test_a_bold_digit_cropped_to_its_ink_is_no_frame(mnist_test):
    """Its strokes fill the rows and columns along its edges as a box's lines do, and its corners too at times
    (a 2's foot): a cell's frame is told by the paper inside it."""
    import cv2

    from toolkit.imaging import cell
    from toolkit.imaging.common import border

    x, _ = mnist_test
    for i in range(300):
        rows, cols = np.nonzero(x[i] > 30)
        ink = x[i][rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        crop = cv2.resize(255 - ink, (48, 48), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        ring = border(crop)
        assert cell.unframed(crop, float(np.median(ring)), float(ring.mean())) is crop, i


def test_a_digit_scanned_at_eight_pixels_is_read_not_dropped_as_dust(mnist_test):
    """An 8x8 thumbnail of a digit (real handwriting comes so: the UCI digits) was all smaller than the least a
    digit may be, and every one read as a blank image. Enlarged first, it is read; blank paper stays blank."""
    import cv2

    from toolkit.onnxmodel import OnnxModel
    from toolkit.predict.options import resolve_model

    x, y = mnist_test
    tensors = []
    for digit in x[:40]:
        rows, columns = np.nonzero(digit > 25)
        ink = digit[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1].astype(np.float32) / 255
        scale = 7 / max(ink.shape)  # as the UCI digits: a column or row of paper beside the ink
        small = cv2.resize(
            ink,
            (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale))),
            interpolation=cv2.INTER_AREA,
        )
        sheet = np.zeros((8, 8), np.float32)
        # Centred, or (every fourth) against the top left corner, where the segmenter reads it and gives its box.
        top, left = ((8 - small.shape[0]) // 2, (8 - small.shape[1]) // 2) if len(tensors) % 4 else (0, 0)
        sheet[top : top + small.shape[0], left : left + small.shape[1]] = small
        result = normalise.prepare_array(np.round(255 * (1 - np.clip(sheet, 0, 1))).astype(np.uint8))
        assert not result.blank
        for left, top, width, height in result.boxes or ():  # in the image's own pixels, not the enlarged copy's
            assert 0 <= left and 0 <= top and left + width <= 8 and top + height <= 8
        tensors.append(result.tensor)
    probs = OnnxModel(resolve_model(None)).score(np.stack(tensors))
    assert np.mean(probs.argmax(axis=1) == y[:40]) >= 0.8
    assert normalise.prepare_array(np.full((8, 8), 250, np.uint8)).blank
    assert normalise.prepare_array(np.full((8, 8), 250, np.uint8)).tensor.max() == 0


def _uci_like(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit (white on black) as a tight low-resolution scan comes: cropped to its ink, fitted into 32 px,
    counted in 4x4 blocks (8x8 cells, as the UCI digits were made), enlarged again to 32 px, dark on white."""
    import cv2

    rows, cols = np.nonzero(digit > 25)
    ink = digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].astype(np.float32) / 255
    scale = 32 / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    fitted = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    sheet = np.zeros((32, 32), np.float32)
    top, left = (32 - fitted.shape[0]) // 2, (32 - fitted.shape[1]) // 2
    sheet[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    cells = np.round(cv2.resize(sheet, (8, 8), interpolation=cv2.INTER_AREA) * 16) / 16
    enlarged = np.clip(cv2.resize(cells, (32, 32), interpolation=cv2.INTER_LINEAR), 0, 1)
    return np.round(255 * (1 - enlarged)).astype(np.uint8)


def test_a_blurred_digit_cropped_to_its_ink_is_read_not_blank(mnist_test):
    """A digit cropped to its own ink and blurred (a low-resolution scan enlarged) runs along the crop's edges,
    so its border ring, taken for paper, was half ink and half grey between: the paper's noise came out 0.3-0.5,
    every stroke sat under the threshold it set, and 4-7% of such crops read as a blank image with no flag (the
    probe of real writers' MNIST proxy). The paper is then the ring's commonest level (`common.paper_of`)."""
    from toolkit.imaging.common import border, paper, paper_of
    from toolkit.predict import predict_images

    x, y = mnist_test
    keep = [i for i in range(150) if y[i] != 1][:120]  # (a 1 from border to border reads as an edge: see scans.md)
    crops = [_uci_like(x[i]) for i in keep]
    noisy = [c.astype(np.float32) / 255 for c in crops if paper(border(c.astype(np.float32) / 255))[1] >= 0.1]
    assert len(noisy) >= 15  # the case this is about
    for crop in noisy:
        level, noise = paper_of(crop)
        assert level > 0.95 and noise < 0.05, (level, noise)
    said = predict_images(crops)
    assert sum(r["blank"] for r in said) <= 1
    assert sum(r["digit"] == y[i] for r, i in zip(said, keep, strict=True)) >= 0.9 * len(keep)  # 89% before
    clean = np.full((40, 40), 0.9, np.float32) + np.random.default_rng(0).normal(0, 0.02, (40, 40)).astype(np.float32)
    assert paper_of(clean) == paper(border(clean))  # a quiet ring is measured as before
