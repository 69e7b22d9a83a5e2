"""Draw artifacts/reports/pages.png for the README: what predict finds and reads on a whole page and in a
strip of touching digits. Renderings of MNIST test digits (`toolkit.scans`), read with the shipped reference
model through the same normaliser predict uses; OpenCV draws the boxes and labels.

    python scripts/make_pages_figure.py [--out artifacts/reports/pages.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GREEN = (40, 150, 40)
RED = (40, 40, 210)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _read(pixels: np.ndarray, scorer, multi_digit: bool):
    """(boxes, digits, confidences, flags) of what the pipeline reads in `pixels`."""
    from toolkit.imaging import normalise, reading

    result = normalise.prepare_array(pixels, multi_digit=multi_digit)
    if result.blank:
        return [], [], [], result.flags
    probs = scorer.score(reading.tensors(result), with_not_digit=True)
    chosen = reading.decide(result, probs)
    return (
        [result.boxes[k] for k in chosen],
        probs[chosen, :10].argmax(axis=1).tolist(),
        probs[chosen, :10].max(axis=1).tolist(),
        result.flags,
    )


def _label(canvas: np.ndarray, text: str, at: tuple[int, int], scale: float = 0.6, colour=GREEN) -> None:
    cv2.putText(canvas, text, at, FONT, scale, colour, 1, cv2.LINE_AA)


def _panel(image: np.ndarray, width: int) -> np.ndarray:
    return cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA)


def main() -> None:
    from toolkit import data, scans
    from toolkit.onnxmodel import OnnxModel
    from toolkit.predict.options import REFERENCE_MODEL

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "reports" / "pages.png")
    args = parser.parse_args()
    scorer = OnnxModel(REFERENCE_MODEL)
    (_, _), (x, y) = data.load_mnist()

    def nth(digit: int, n: int = 0) -> np.ndarray:
        return x[np.flatnonzero(y == digit)[n]]

    # 1. An A4 page at 200 dpi: a header rule, a 9 of 80 px in a form box (the case), dust, uneven light.
    page = scans.render_page([nth(9)], [9], np.random.default_rng(3), height=80, header=True, box=True)
    pixels = np.asarray(page.image)
    boxes, digits, sure, flags = _read(pixels, scorer, multi_digit=False)
    whole = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    left, top, width, height = boxes[0]
    cv2.rectangle(whole, (left - 6, top - 6), (left + width + 6, top + height + 6), GREEN, 12)
    overview = _panel(whole, 420)
    _label(overview, "1654x2339 page, 200 dpi", (10, 22), 0.55, (60, 60, 60))
    # The digit's surroundings at full resolution: the form box is erased before the digit is cut out.
    pad = 90
    crop = cv2.cvtColor(pixels[top - pad : top + height + pad, left - pad : left + width + pad], cv2.COLOR_GRAY2BGR)
    crop = _panel(crop, 300)
    s = 300 / (width + 2 * pad)
    cv2.rectangle(
        crop, (round(pad * s), round(pad * s)), (round((pad + width) * s), round((pad + height) * s)), GREEN, 2
    )
    _label(crop, f"read {digits[0]} ({sure[0]:.3f})", (10, 26), 0.7)
    _label(
        crop,
        "form box ignored" + (f", flags: {' '.join(flags)}" if flags else ""),
        (10, crop.shape[0] - 12),
        0.5,
        (60, 60, 60),
    )

    # 2. A strip of touching and overlapping digits, read with --multi-digit.
    number = "40236"
    strip = scans.render_strip(
        [nth(int(d), 2) for d in number],
        [int(d) for d in number],
        np.random.default_rng(1),
        height=60,
        gap=(-0.1, -0.02),
    )
    pixels = np.asarray(strip.image)
    boxes, digits, sure, _ = _read(pixels, scorer, multi_digit=True)
    drawn = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    for (left, top, width, height), digit in zip(boxes, digits, strict=True):
        cv2.rectangle(drawn, (left, top), (left + width, top + height), GREEN, 1)
        _label(drawn, str(digit), (left + 2, top + height + 16), 0.55)
    drawn = cv2.copyMakeBorder(drawn, 0, 22, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    drawn = _panel(drawn, 720)
    text = "".join(map(str, digits))
    caption = f"--multi-digit: text {text}, confidence {min(sure):.3f} (the least sure digit)"

    # Layout: page | crop on top, the strip below, captions.
    top_row = np.full((max(overview.shape[0], crop.shape[0]), 740, 3), 255, np.uint8)
    top_row[: overview.shape[0], : overview.shape[1]] = overview
    top_row[20 : 20 + crop.shape[0], 440 : 440 + crop.shape[1]] = crop
    bottom = np.full((drawn.shape[0] + 40, 740, 3), 255, np.uint8)
    bottom[: drawn.shape[0], 10 : 10 + drawn.shape[1]] = drawn
    _label(bottom, caption, (10, drawn.shape[0] + 28), 0.55, (60, 60, 60))
    figure = np.vstack([top_row, np.full((12, 740, 3), 255, np.uint8), bottom])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), figure, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"page: read {digits and text}; wrote {args.out}")


if __name__ == "__main__":
    main()
