"""Uneven light is divided out before ink is looked for (`toolkit.imaging.light`): vignettes down to a fifth of
the centre's brightness, soft shadows, pasted papers of different tone, and photos whose dark border would
fool a polarity judged on the border."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from toolkit.imaging import light, normalise


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
