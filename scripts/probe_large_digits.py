"""A probe of how `predict` reads one digit drawn large: an image over 320 px (a page to the normaliser) that a
single digit fills, as a 600 dpi scan of one digit, a drawing app's canvas or an MNIST digit saved large
gives. A probe of our own, not a renderer written apart from the pipeline: its figures are tuning evidence,
except the `--writers` rows, which enlarge the held-out writers' files (`scripts/render_writers.py`, never
tuned on).

Settings, each on `--count` MNIST test digits read from memory by `predict_images`:
- `dark on white`: the digit filling 40-80% of a square image of 400-2,000 px, dark ink on light paper;
- `phone-like`: 600 and 1,600 px, a vignette down to 40-60%, a shadow step, a 1 px blur, JPEG;
- `white on black`: the MNIST digit scaled up as it is to 400-1,000 px;
- `dim paper`: 600 px, paper at 0.35, ink at 0.05;
- `writers` (with `--writers DIR`): the files of a `render_writers.py` folder scaled up to 500-1,400 px, as
  they are and turned over (light on dark), beside their reads at their own size.

It prints read right, wrong and unflagged, and blank, per setting.

    python scripts/probe_large_digits.py [--count 100] [--seed 5] [--writers DIR]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def drawn(digit: np.ndarray, side: int, share: float, paper: float = 0.95, ink: float = 0.05) -> np.ndarray:
    """An MNIST digit (white on black) drawn dark on light paper, `share` of a `side` px square, as uint8."""
    size = int(side * share)
    glyph = np.clip(cv2.resize(digit.astype(np.float32) / 255, (size, size), interpolation=cv2.INTER_CUBIC), 0, 1)
    gray = np.full((side, side), paper, np.float32)
    at = (side - size) // 2
    gray[at : at + size, at : at + size] = paper + (ink - paper) * glyph
    return (gray * 255).astype(np.uint8)


def phone_like(digit: np.ndarray, side: int, darkest: float, rng: np.random.Generator) -> np.ndarray:
    """`drawn` at 70% of the side, lit by a vignette down to `darkest` with a shadow step, blurred, as a JPEG."""
    gray = drawn(digit, side, 0.7).astype(np.float32) / 255
    rows, columns = np.mgrid[0:side, 0:side].astype(np.float32)
    gray *= 1 - (1 - darkest) * (np.hypot(rows - side / 2, columns - side / 2) / (side / np.sqrt(2))) ** 2
    gray *= np.where(columns > side * rng.uniform(0.3, 0.7), 1.0, 0.8)
    gray = cv2.GaussianBlur(gray, (0, 0), 1.0) + rng.normal(0, 0.01, gray.shape).astype(np.float32)
    _, jpeg = cv2.imencode(".jpg", (np.clip(gray, 0, 1) * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)


def enlarged(image: np.ndarray, side: int) -> np.ndarray:
    """`image` scaled up (cubic) so that its longer side is `side` px."""
    factor = side / max(image.shape)
    return cv2.resize(image, (round(image.shape[1] * factor), round(image.shape[0] * factor)), cv2.INTER_CUBIC)


def settings(rng: np.random.Generator) -> Iterator[tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    """(name, how to draw one MNIST digit) for every setting but the writers'."""
    for side in (400, 600, 1000, 2000):
        for share in (0.8, 0.6, 0.4):
            yield f"dark on white, {side} px, {share:.0%}", lambda d, s=side, f=share: drawn(d, s, f)
    for side in (600, 1600):
        for darkest in (0.4, 0.6):
            yield f"phone-like, {side} px, vignette to {darkest}", lambda d, s=side, k=darkest: phone_like(d, s, k, rng)
    for side in (400, 560, 1000):
        yield f"white on black, {side} px", lambda d, s=side: cv2.resize(d, (s, s), interpolation=cv2.INTER_CUBIC)
    yield "dim paper, 600 px", lambda d: drawn(d, 600, 0.6, paper=0.35, ink=0.05)


def scored(records: list[dict], labels: list[int]) -> str:
    right = sum(r["digit"] == t for r, t in zip(records, labels, strict=True))
    unflagged = sum(
        r["digit"] is not None and r["digit"] != t and not (r["low_confidence"] or r["flags"])
        for r, t in zip(records, labels, strict=True)
    )
    blank = sum(bool(r["blank"]) for r in records)
    share = 100 * right / len(labels)
    return f"right {share:5.1f}%  wrong and unflagged {unflagged}  blank {blank}  (of {len(labels)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="MNIST test digits per setting")
    parser.add_argument("--seed", type=int, default=5, help="which digits, and the phone-like draws")
    parser.add_argument("--writers", type=Path, help="a render_writers.py folder (labels.csv and its files)")
    args = parser.parse_args(argv)

    from PIL import Image

    from toolkit import data
    from toolkit.predict import predict_images

    (_, _), (x_test, y_test) = data.load_mnist()
    rng = np.random.default_rng(args.seed)
    chosen = rng.choice(len(x_test), args.count, replace=False)
    labels = y_test[chosen].tolist()
    for name, draw in settings(rng):
        print(f"{name:38} {scored(predict_images([draw(x_test[i]) for i in chosen]), labels)}", flush=True)
    if args.writers is not None:
        rows = list(csv.DictReader((args.writers / "labels.csv").open()))[: 6 * args.count]
        own = [np.asarray(Image.open(args.writers / row["file"]).convert("L")) for row in rows]
        truth = [int(row["label"]) for row in rows]
        sides = rng.integers(500, 1400, len(own))
        for turned in (False, True):
            images = [255 - image for image in own] if turned else own
            how = "turned over, " if turned else ""
            print(f"{'writers, ' + how + 'own size':38} {scored(predict_images(images), truth)}", flush=True)
            big = [enlarged(image, int(side)) for image, side in zip(images, sides, strict=True)]
            print(f"{'writers, ' + how + '500-1,400 px':38} {scored(predict_images(big), truth)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
