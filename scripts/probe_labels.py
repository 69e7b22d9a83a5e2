"""A probe of how `predict` reads a digit written in a row of form boxes with a label printed before it ("Qty",
"Item no."): MNIST test digits stamped into one box of a row of 1, 2, 4 or 6 boxes of 36-90 px, the label in
three sizes, read by `predict_images` in single-digit mode. A probe of our own, written after the held-out
renderer's report showed a form read blank and flagged `writing-only`: its figures are tuning evidence, not
held-out ones.

    python scripts/probe_labels.py [--count 200] [--seed 7]
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

PAPER, PEN, PRINT, RULE = 235, 20, 60, 90
WORDS = ("Qty", "Code", "Item no.", "Grade", "Total")
ROWS = (1, 2, 4, 6)  # boxes in a row
SIZES = (36, 50, 70, 90)  # box side, px
SCALES = (0.5, 0.8, 1.1)  # the label's font scale, per 50 px of box


def sheet(glyph: np.ndarray, box: int, boxes: int, word: str, scale: float, which: int) -> np.ndarray:
    """`word` printed before a row of `boxes` boxes of `box` px, `glyph` (MNIST, white on black) written 0.75
    of the box tall in the middle of box `which` (counted from 0, left to right)."""
    font_scale = scale * box / 50
    thick = max(1, int(2 * font_scale))
    (width, height), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thick)
    start = 20 + width + 12
    page = np.full((box + 40, start + boxes * box + 20), PAPER, np.uint8)
    baseline = (20, 20 + box // 2 + height // 2)
    cv2.putText(page, word, baseline, cv2.FONT_HERSHEY_SIMPLEX, font_scale, PRINT, thick, cv2.LINE_AA)
    for k in range(boxes):
        cv2.rectangle(page, (start + k * box, 20), (start + (k + 1) * box, 20 + box), RULE, max(2, box // 30))
    size = int(box * 0.75)
    ink = cv2.resize(glyph, (size, size), interpolation=cv2.INTER_CUBIC)
    left, top = start + which * box + (box - size) // 2, 20 + (box - size) // 2
    region = page[top : top + size, left : left + size]
    np.minimum(region, (255 - ink.astype(np.int32) * (255 - PEN) // 255).astype(np.uint8), out=region)
    return page


def probe(count: int, seed: int) -> tuple[dict[tuple[int, bool], tuple[int, int]], Counter]:
    """((boxes in the row, digit in the first box) -> (read right, images), the flags of the wrong reads)."""
    from toolkit.data import load_mnist
    from toolkit.predict import predict_images

    (_, _), (x, y) = load_mnist()
    rng = np.random.default_rng(seed)
    images, truths, keys = [], [], []
    for n in range(count):
        digit = int(rng.integers(0, 10))
        glyph = x[np.flatnonzero(y == digit)[int(rng.integers(0, 500))]]
        box, boxes = int(rng.choice(SIZES)), int(rng.choice(ROWS))
        which = int(rng.integers(0, 6)) % boxes
        images.append(sheet(glyph, box, boxes, WORDS[n % len(WORDS)], float(rng.choice(SCALES)), which))
        truths.append(digit)
        keys.append((boxes, which == 0))
    right, total, wrong = Counter(), Counter(), Counter()
    for key, truth, record in zip(keys, truths, predict_images(images), strict=True):
        total[key] += 1
        right[key] += record["digit"] == truth
        if record["digit"] != truth:
            wrong[record["flags"] or "(no flag)"] += 1
    return {key: (right[key], total[key]) for key in sorted(total)}, wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="images")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    results, wrong = probe(args.count, args.seed)
    print("boxes  digit in    read right")
    for (boxes, first), (r, n) in results.items():
        print(f"{boxes:5d}  {'first box' if first else 'another':10}  {r:>3}/{n:<3}")
    print(f"read right: {sum(r for r, _ in results.values())}/{args.count}")
    for flags, n in wrong.most_common():
        print(f"  wrong, flagged {flags}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
