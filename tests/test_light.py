"""Uneven light is divided out before ink is looked for (`toolkit.imaging.light`): vignettes down to a fifth of
the centre's brightness, soft shadows, pasted papers of different tone, and photos whose dark border would
fool a polarity judged on the border."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from toolkit.imaging import light, normalise, reading


def vignette(shape: tuple[int, int], darkest: float) -> np.ndarray:
    """Paper light that falls from 1 at the centre to `darkest` in the corners."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((y - h / 2) / (h / 2), (x - w / 2) / (w / 2)) / np.sqrt(2)
    return 1.0 - (1.0 - darkest) * r**2


def photo(digit: np.ndarray, height: int, at: tuple[int, int], darkest: float, seed: int) -> np.ndarray:
    """A grey photo (0..1, 1000x750) of a dark `digit` (an MNIST image, white on black) `height` px tall at
    `at` (row, column), paper lit by a vignette down to `darkest`, with a soft shadow band and noise."""
    rng = np.random.default_rng(seed)
    shape = (1000, 750)
    ink = np.zeros(shape, np.float32)
    glyph = cv2.resize(digit.astype(np.float32) / 255.0, (height, height), interpolation=cv2.INTER_CUBIC)
    ink[at[0] : at[0] + height, at[1] : at[1] + height] = np.clip(glyph, 0, 1)
    lightness = vignette(shape, darkest)
    shadow = cv2.GaussianBlur(
        (np.arange(shape[1]) > shape[1] * 0.6).astype(np.float32)[None].repeat(shape[0], 0), (0, 0), 40
    )
    lightness *= 1.0 - 0.3 * shadow
    gray = 0.85 * lightness * (1.0 - 0.8 * ink)
    return np.clip(gray + rng.normal(0, 0.01, shape).astype(np.float32), 0, 1)


def glyph(shape: tuple[int, int], text: str, origin: tuple[int, int]) -> np.ndarray:
    """A 0..1 mask of `text` drawn large (a pen stroke of 18 px) at `origin` (x, y of its baseline)."""
    mask = np.zeros(shape, np.uint8)
    cv2.putText(mask, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 6, 255, 18)
    return mask.astype(np.float32) / 255.0


def read(gray: np.ndarray, scorer) -> tuple[int | None, normalise.Normalized]:
    result = normalise.prepare_array((gray * 255).astype(np.uint8))
    if result.blank:
        return None, result
    return int(scorer.score(result.tensor[None])[0].argmax()), result


@pytest.mark.parametrize("corner", ["top-left", "bottom-right"])
def test_a_digit_in_a_dark_corner_of_a_photo_is_read(mnist_test, scorer, corner):
    """Paper at 20% of the centre's light where the digit is: read, and its box is where it was drawn."""
    x, y = mnist_test
    at = (40, 40) if corner == "top-left" else (820, 570)
    for digit in (3, 7):
        gray = photo(x[np.flatnonzero(y == digit)[0]], 130, at, darkest=0.2, seed=digit)
        read_digit, result = read(gray, scorer)
        assert read_digit == digit, (corner, digit, result.flags)
        left, top, _, _ = result.boxes[0]
        assert abs(top - at[0]) < 40 and abs(left - at[1]) < 40, result.boxes


def test_the_photo_border_does_not_decide_the_polarity():
    """The border of a vignetted photo is darker than mid-grey, yet the ink is dark on light paper."""
    gray = 0.9 * vignette((800, 600), 0.2)
    assert float(np.median(np.concatenate([gray[0], gray[-1]]))) < 0.5
    gray *= 1.0 - 0.9 * glyph(gray.shape, "7", (250, 450))
    ink, inverted = light.flatten(gray, page=True)
    assert inverted
    assert ink[300:460, 240:420].max() > 0.8  # the stroke, at full contrast
    assert abs(float(np.median(ink))) < 0.02  # the paper, flat


def test_light_ink_on_dark_paper_stays_light():
    gray = 0.15 + 0.75 * glyph((600, 800), "4", (300, 400))
    ink, inverted = light.flatten(gray, page=True)
    assert not inverted
    assert ink.max() > 0.7 and abs(float(np.median(ink))) < 0.02


def test_light_ink_on_dark_paper_is_flattened_as_dark_ink_on_light_paper_is():
    """The same stroke either way round gives the same ink. Light ink was the paper estimate subtracted: where
    a stroke was wider than the estimate's square (a 9's loop filled in, on a digit cropped to its ink), the
    estimate took it for paper and the stroke was lost; dark ink keeps such a stroke (its paper is floored)."""
    gray = np.full((40, 30), 0.9, np.float32)
    gray[5:35, 4:8] = 0.0  # a stroke 4 px wide
    gray[5:20, 10:26] = 0.0  # a blot 16 px across, wider than the 9 px square of a 30 px field
    dark_ink, inverted = light.flatten(gray, page=False)
    light_ink, light_inverted = light.flatten(1.0 - gray, page=False)
    assert inverted and not light_inverted
    np.testing.assert_allclose(light_ink, dark_ink, atol=1e-5)
    assert light_ink[10:15, 14:22].min() > 0.9  # the blot's middle, at full contrast


def test_pasted_papers_of_two_tones_make_no_ink():
    """A boundary between two paper tones is shade, not a stroke: after flattening it stands out by less than
    the noise-free threshold of ink."""
    gray = np.full((400, 1200), 0.92, np.float32)
    gray[:, 600:] = 0.78
    ink, inverted = light.flatten(gray, page=True)
    assert inverted and float(np.abs(ink).max()) < 0.02


def test_a_blank_photo_with_a_vignette_stays_blank():
    gray = (0.9 * vignette((1000, 750), 0.2) * 255).astype(np.uint8)
    assert normalise.prepare_array(gray).blank


def test_a_light_border_means_dark_ink_whatever_the_edges_of_the_paper_estimates_say():
    """A broad shadow or the white lid's wedges around a sheet askew can give the closing (the paper under dark
    ink) more edge than the opening; the edge test then called a light page light ink on dark, and the paper
    between a digit's strokes became its "ink" (3 of the tuning renderer's 60 pages)."""
    gray = np.full((600, 400), 0.8, np.float32)
    gray[250:300, 150:200] = 0.2  # a dark mark: the two estimates part
    lit, dark = gray.copy(), gray.copy()
    lit[::7] = 1.0  # the closing's edges far outweigh the opening's
    assert np.abs(np.diff(lit, axis=0)).mean() > np.abs(np.diff(dark, axis=0)).mean()
    assert light.dark_ink(gray, lit, dark)
    dark_border = np.full_like(gray, 0.3)
    dark_border[50:550, 50:350] = gray[50:550, 50:350]  # a photo's dark surround: the edges decide
    assert not light.dark_ink(dark_border, lit, dark)


def sheet_on_the_lid(mnist_test, digit: int, degrees: float) -> np.ndarray:
    """A 200 dpi A4 page (uint8) of grey paper with a dark 2 px edge and a 60 px `digit`, turned by `degrees`
    on a scanner whose lid is white."""
    x, y = mnist_test
    sheet = np.full((2339, 1654), 0.75, np.float32)
    glyph_ink = cv2.resize(x[np.flatnonzero(y == digit)[0]].astype(np.float32) / 255, (60, 60))
    sheet[1100:1160, 500:560] *= 1.0 - 0.85 * glyph_ink
    cv2.rectangle(sheet, (0, 0), (1653, 2338), 0.45, 2)
    turn = cv2.getRotationMatrix2D((827, 1170), degrees, 1.0)
    turned = cv2.warpAffine(sheet, turn, (1654, 2339), flags=cv2.INTER_LINEAR, borderValue=1.0)
    return (turned * 255).astype(np.uint8)


@pytest.mark.parametrize("degrees", [2.5, -2.0])
def test_a_page_askew_on_a_white_lid_is_read(mnist_test, scorer, degrees):
    page = sheet_on_the_lid(mnist_test, 5, degrees)
    result = normalise.prepare_array(page)
    assert result.inverted and not result.blank
    chosen = scorer.score(reading.tensors(result), with_not_digit=True)
    picked = reading.decide(result, chosen)
    assert picked and int(chosen[picked[0], :10].argmax()) == 5, result.flags
    left, top, width, height = result.boxes[picked[0]]
    assert 400 < left < 600 and 1000 < top < 1200 and max(width, height) < 100  # the digit, not the sheet's edge


def test_a_photo_with_a_desk_beyond_the_papers_edge_is_read(mnist_test, scorer):
    """The grain of a desk beyond the paper's edge, flattened, is many heavy "objects" along the image's border:
    they took every candidate slot and the digit was never offered to the model."""
    x, y = mnist_test
    gray = photo(x[np.flatnonzero(y == 6)[0]], 120, (500, 450), 0.5, seed=4)
    wood = np.random.default_rng(5).uniform(0.1, 0.5, (30, 16)).astype(np.float32)
    gray[:, :250] = np.clip(cv2.resize(wood, (250, 1000), interpolation=cv2.INTER_CUBIC), 0.05, 0.6)  # the desk
    result = normalise.prepare_array((np.clip(gray, 0, 1) * 255).astype(np.uint8))
    chosen = scorer.score(reading.tensors(result), with_not_digit=True)
    picked = reading.decide(result, chosen)
    assert picked and int(chosen[picked[0], :10].argmax()) == 6, result.flags
    left, top, _, _ = result.boxes[picked[0]]
    assert abs(left - 450) < 40 and abs(top - 500) < 40
    assert "ambiguous" not in result.flags  # the desk is no rival


def test_a_diagonal_shadow_edge_is_no_digit_but_a_leaning_one_is_read(mnist_test, scorer):
    """The edge of a shadow crossing a blank strip at 45 degrees, a long straight band, was read as a 1 (0.999,
    unflagged). A 1 leans far less."""
    strip = np.full((190, 1100), 0.85, np.float32)
    rows, columns = np.mgrid[0:190, 0:1100].astype(np.float32)
    strip -= 0.12 * np.exp(-(((columns - rows - 60) / 6.0) ** 2)) * (columns < 250)  # the shadow's dark rim
    result = normalise.prepare_array((strip * 255).astype(np.uint8))
    assert result.blank, (result.plan, result.boxes)
    x, y = mnist_test
    one = cv2.resize(x[np.flatnonzero(y == 1)[0]], (120, 120), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    turn = cv2.getRotationMatrix2D((60, 60), 20.0, 1.0)  # leaning 20 degrees (more than most 1s)
    one = cv2.warpAffine(one, turn, (120, 120)) / 255
    strip = np.full((190, 1100), 0.85, np.float32)
    strip[35:155, 500:620] *= 1 - 0.8 * one
    read_digit, result = read(strip, scorer)
    assert read_digit == 1, result.flags


def test_a_small_strip_whose_dark_corners_darken_its_border_reads_dark_ink():
    """The border of a small image decides its polarity for the segmenter only when it agrees with the image's
    middle: a strip of three digits whose vignette darkens its border to mid-grey around light paper was read
    as light ink on a dark ground (none of 20 read whole), when the paper estimates' edges tell it right."""
    from toolkit import data
    from toolkit.predict import predict_images

    (_, _), (x, y) = data.load_mnist()
    rows, cols = np.mgrid[0:120, 0:300]
    fall = (((rows - 60) / 60) ** 2 + ((cols - 150) / 150) ** 2) / 2
    strips, truth = [], []
    for k in range(20):
        gray = (0.85 * (1 - 0.8 * fall)).astype(np.float32)
        for j in range(3):
            digit = cv2.resize(x[3 * k + j], (70, 70), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
            gray[25:95, 40 + 75 * j : 110 + 75 * j] *= 1 - 0.9 * digit
        strips.append((np.clip(gray, 0, 1) * 255).astype(np.uint8))
        truth.append("".join(str(d) for d in y[3 * k : 3 * k + 3]))
    assert float(np.median(np.concatenate([strips[0][0], strips[0][-1]]))) < 0.5 * 255  # a dark border
    read = [r["text"] for r in predict_images(strips, multi_digit=True)]
    assert sum(r == t for r, t in zip(read, truth, strict=True)) >= 16


@pytest.mark.parametrize(
    ("side", "darkest", "paper"), [(600, 1.0, 0.92), (1000, 1.0, 0.92), (1600, 0.4, 0.92), (600, 1.0, 0.35)]
)
def test_a_digit_drawn_large_on_a_scan_is_read_whole(mnist_test, side, darkest, paper):
    """One digit filling most of a 600-1,600 px scan (80% of its side) has pen strokes wider than the closing's
    square (3.5% of the side): the closing took the strokes' middles for paper, and the digit was read hollow or
    not at all (25-26 of these 30 MNIST test digits read right, 0s and 9s read blank; 76 of 100 on dark grey
    paper). The square is made wider than the strokes (`light.page_kernel`), through a vignette too."""
    from toolkit.predict import predict_images

    x, y = mnist_test
    size, at = int(0.8 * side), (side - int(0.8 * side)) // 2
    sheets = []
    for glyph in x[:30]:
        stroke = np.clip(cv2.resize(glyph.astype(np.float32) / 255, (size, size), interpolation=cv2.INTER_CUBIC), 0, 1)
        gray = np.full((side, side), paper, np.float32)
        gray[at : at + size, at : at + size] *= 1.0 - 0.9 * stroke
        sheets.append((gray * vignette(gray.shape, darkest) * 255).astype(np.uint8))
    ink = normalise.to_max_side(sheets[0].astype(np.float32) / 255) if side > 1024 else sheets[0] / 255
    assert light.page_kernel(ink) > 2 * light.kernel_side(ink.shape, True)
    said = [record["digit"] for record in predict_images(sheets)]
    assert said == y[:30].tolist()


def test_the_square_stays_as_it_was_for_small_digits_rules_and_a_shadow_band_across_the_page(mnist_test):
    """Only a digit drawn large widens the closing: a page with a small digit, a rule across it, and a soft shadow
    band running corner to corner (a wide straight stroke, but across the sheet, meeting two of its sides) keeps
    the square `kernel_side` gives, and so does a blank sheet (Otsu's split of its grain is no ink)."""
    x, y = mnist_test
    page = np.full((1400, 1000), 0.9, np.float32)
    assert light.page_kernel(normalise.to_max_side(page)) == light.kernel_side((1024, 731), True)
    rows, columns = np.mgrid[0:1400, 0:1000].astype(np.float32)
    page -= 0.25 * np.exp(-(((columns - 0.7 * rows) / 90.0) ** 2))  # the shadow band
    page[700:703, 80:920] = 0.2  # a rule
    glyph = cv2.resize(x[np.flatnonzero(y == 3)[0]].astype(np.float32) / 255, (120, 120))
    page[300:420, 600:720] *= 1.0 - 0.85 * np.clip(glyph, 0, 1)
    ink = normalise.to_max_side(page)
    assert light.page_kernel(ink) == light.kernel_side(ink.shape, True)


def test_an_mnist_digit_enlarged_white_on_black_is_read(mnist_test):
    """An MNIST digit scaled up to 560 px as it is, white on black (a canvas saved large): the opening that
    estimates a dark ground was narrower than its strokes, and 89% of such digits read blank. Its strokes are
    measured turned over, as dark ink's are (`light.page_kernel`)."""
    from toolkit.predict import predict_images

    x, y = mnist_test
    sheets = [cv2.resize(glyph, (560, 560), interpolation=cv2.INTER_CUBIC) for glyph in x[100:130]]
    assert light.page_kernel(sheets[0].astype(np.float32) / 255) > 2 * light.kernel_side((560, 560), True)
    said = [record["digit"] for record in predict_images(sheets)]
    assert said == y[100:130].tolist()


def test_a_soft_shadow_beside_a_small_digit_is_paper_not_a_bold_stroke(mnist_test):
    """A soft elliptic shadow (45% darker in its middle, 120 x 400 px on a 1,400 px page) beside a digit 60 px
    tall passed for a digit drawn large (`light.page_kernel`: a part a fifth of the page, stroke-like): the
    closing was widened to keep it, and it was read as a sure 1, unflagged, or left as faint ink that hid the
    digit. A shadow darkens gradually towards its middle, a pen's stroke is dark through (`light._soft`): the
    square stays as `kernel_side` gives it, the shadow is divided out, and the digit is read."""
    from toolkit.predict import predict_images

    x, y = mnist_test
    rows, columns = np.mgrid[0:1400, 0:1000].astype(np.float32)
    sheets = []
    for k in range(10):
        angle = np.deg2rad(20 + 5 * k)
        along = (columns - 450) * np.cos(angle) + (rows - 650) * np.sin(angle)
        across = -(columns - 450) * np.sin(angle) + (rows - 650) * np.cos(angle)
        page = 0.91 * (1 - 0.45 * np.exp(-((along / 60.0) ** 2 + (across / 200.0) ** 2)))
        glyph = cv2.resize(x[k].astype(np.float32) / 255, (60, 60), interpolation=cv2.INTER_CUBIC)
        page[640:700, 600:660] *= 1 - 0.85 * np.clip(glyph, 0, 1)
        sheets.append((page * 255).astype(np.uint8))
    ink = normalise.to_max_side(sheets[0].astype(np.float32) / 255)
    assert light.page_kernel(ink) == light.kernel_side(ink.shape, True)
    assert [record["digit"] for record in predict_images(sheets)] == y[:10].tolist()


@pytest.mark.parametrize(("depth", "texture"), [(0.5, 0.25), (0.6, 0.5)])
def test_a_digit_drawn_large_in_pencil_is_no_soft_shadow(mnist_test, depth, texture):
    """A digit drawn across a sheet in pencil: light (40-50% of the paper's light taken) and grainy (a quarter to
    half of its darkness varying with the grain). Its strokes are as dark through as at their darkest, give or
    take the grain, so `light._soft` does not take it for a shadow: the closing is still widened for it
    (`page_kernel`) and it reads whole."""
    from toolkit.predict import predict_images

    x, y = mnist_test
    rng = np.random.default_rng(0)
    sheets = []
    for glyph in x[:10]:
        stroke = np.clip(cv2.resize(glyph.astype(np.float32) / 255, (640, 640), interpolation=cv2.INTER_CUBIC), 0, 1)
        grain = cv2.GaussianBlur(rng.random((640, 640)).astype(np.float32), (0, 0), 1.5)
        grain = (grain - grain.min()) / (grain.max() - grain.min())
        gray = np.full((800, 800), 0.92, np.float32)
        gray[80:720, 80:720] *= 1 - depth * stroke * (1 - texture + texture * grain)
        sheets.append((gray * 255).astype(np.uint8))
    assert light.page_kernel(sheets[0] / 255) > 2 * light.kernel_side((800, 800), True)
    assert [record["digit"] for record in predict_images(sheets)] == y[:10].tolist()
