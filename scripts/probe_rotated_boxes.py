"""A probe of how `predict` reads a digit in a single form box turned askew: MNIST test digits written dark into
one printed box of 50-110 px, touching its left, right, top or bottom side from inside (or clear of them, in the
centre), the box's rules 1-3 px, dark or grey, the whole image turned by 1.5-5 degrees either way (`--turn 0`:
square, for comparison), each read in memory by `predict_images`. A probe of our own, not a renderer written
apart from the pipeline: its figures are tuning evidence, not held-out ones.

    python scripts/probe_rotated_boxes.py [--count 160] [--seed 3] [--turn 5]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAPER, PEN, MARGIN = 232, 20, 30
RULES = (40, 120)
SIDES = ("left", "right", "top", "bottom", "centre")


def sheet(glyph: np.ndarray, side: int, where: str, rule: int, pen: int, turn: float, rng) -> np.ndarray:
    """A `side` px box printed `rule` grey, `pen` px thick, with `glyph` (MNIST, white on black) written 0.6-0.85
    of the box tall against its `where` side (1 px inside it), on grainy paper, turned by `turn` degrees."""
    size = side + 2 * MARGIN
    page = np.full((size, size), float(PAPER)) + rng.normal(0, 2, (size, size))
    cv2.rectangle(page, (MARGIN, MARGIN), (MARGIN + side, MARGIN + side), rule, pen)
    tall = int(side * rng.uniform(0.6, 0.85))
    ink = cv2.resize(glyph, (tall, tall), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    rows, cols = np.nonzero(ink > 0.3)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]  # the digit's own ink box
    high, wide = ink.shape
    left, top = MARGIN + (side - wide) // 2, MARGIN + (side - high) // 2
    if where == "left":
        left = MARGIN + 1
    elif where == "right":
        left = MARGIN + side - wide - 1
    elif where == "top":
        top = MARGIN + 1
    elif where == "bottom":
        top = MARGIN + side - high - 1
    region = page[top : top + high, left : left + wide]
    np.minimum(region, PAPER - ink * (PAPER - PEN), out=region)
    turned = cv2.getRotationMatrix2D((size / 2, size / 2), turn, 1.0)
    page = cv2.warpAffine(page, turned, (size, size), flags=cv2.INTER_LINEAR, borderValue=PAPER)
    return np.clip(page, 0, 255).astype(np.uint8)


def probe(count: int, seed: int, turn: float) -> tuple[dict[str, tuple[int, int]], int]:
    """Per side: (read right, images); and how many were read wrong with no flag."""
    from toolkit.data import load_mnist
    from toolkit.predict import predict_images

    (_, _), (x, y) = load_mnist()
    rng = np.random.default_rng(seed)
    images, labels, sides = [], [], []
    for n in range(count):
        k = int(rng.integers(len(x)))
        angle = float(rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 5.0)) * turn / 5.0
        where = SIDES[n % len(SIDES)]
        side, pen = int(rng.integers(50, 111)), int(rng.integers(1, 4))
        images.append(sheet(x[k], side, where, RULES[n % 2], pen, angle, rng))
        labels.append(int(y[k]))
        sides.append(where)
    right, total, unflagged = Counter(), Counter(), 0
    for record, label, where in zip(predict_images(images), labels, sides, strict=True):
        total[where] += 1
        right[where] += record["digit"] == label
        unflagged += record["digit"] != label and not record["low_confidence"] and not record["flags"]
    return {where: (right[where], total[where]) for where in SIDES}, unflagged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=160)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--turn", type=float, default=5.0, help="the largest turn in degrees (0: square boxes)")
    args = parser.parse_args(argv)
    results, unflagged = probe(args.count, args.seed, args.turn)
    print("  ".join(f"{where} {r}/{n}" for where, (r, n) in results.items()))
    right = sum(r for r, _ in results.values())
    print(f"read right: {right}/{args.count}; wrong with no flag: {unflagged}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
