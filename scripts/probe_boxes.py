"""A probe of how `predict` reads a digit written against a form box's side: MNIST test digits stamped dark
into the middle box of a row of three, at box sizes, rule tones and positions that touch the box's left side
or lie on it, each read from a saved PNG by `predict_images`. A probe of our own, not a renderer written apart
from the pipeline: its figures are tuning evidence, not held-out ones.

Positions: `centre` (clear of the box), `touch` (the ink's left edge 1 px into the box's left side), `on` (the
stroke's centre on that side, as a 1 written down it). Rule tones: 40 (as dark as the pen, 20) and 150 (grey).

    python scripts/probe_boxes.py [--digit 1] [--count 15] [--sizes 40,70,110]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAPER, PEN = 235, 20
RULES = (40, 150)
POSITIONS = ("centre", "touch", "on")


def sheet(glyph: np.ndarray, box: int, rule: int, where: str) -> np.ndarray:
    """A row of three `box` px boxes printed `rule` grey, `glyph` (MNIST, white on black) written 0.8 of the
    box tall in the middle one, at `where` (see the module's docstring)."""
    page = np.full((box + 40, 3 * box + 40), PAPER, np.uint8)
    for b in range(3):
        cv2.rectangle(page, (20 + b * box, 20), (20 + (b + 1) * box, 20 + box), rule, max(2, box // 30))
    size = int(box * 0.8)
    ink = cv2.resize(glyph, (size, size), interpolation=cv2.INTER_CUBIC)
    cols = np.flatnonzero(ink.max(axis=0) > 60)
    side = 20 + box  # the middle box's left side
    left = {
        "centre": side + (box - size) // 2,
        "touch": side - int(cols[0]) - 1,
        "on": side - (int(cols[0]) + int(cols[-1])) // 2,
    }[where]
    top = 20 + (box - size) // 2
    region = page[top : top + size, left : left + size]
    np.minimum(region, (255 - ink.astype(np.int32) * (255 - PEN) // 255).astype(np.uint8), out=region)
    return page


def probe(digit: int, count: int, sizes: list[int]) -> dict[tuple[int, int, str], tuple[int, int]]:
    """(box size, rule tone, position) -> (read right, images)."""
    from PIL import Image

    from toolkit.data import load_mnist
    from toolkit.predict import predict_images

    (_, _), (x, y) = load_mnist()
    glyphs = x[np.flatnonzero(y == digit)[:count]]
    keys, paths = [], []
    with tempfile.TemporaryDirectory() as folder:
        for box in sizes:
            for rule in RULES:
                for where in POSITIONS:
                    for n, glyph in enumerate(glyphs):
                        path = Path(folder) / f"{box}-{rule}-{where}-{n}.png"
                        Image.fromarray(sheet(glyph, box, rule, where)).save(path)
                        keys.append((box, rule, where))
                        paths.append(str(path))
        records = predict_images(paths)
    right, total = Counter(), Counter()
    for key, record in zip(keys, records, strict=True):
        right[key] += record["digit"] == digit
        total[key] += 1
    return {key: (right[key], total[key]) for key in total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digit", type=int, default=1, choices=range(10))
    parser.add_argument("--count", type=int, default=15, help="MNIST test digits of that class, the first N")
    parser.add_argument("--sizes", default="40,70,110", help="box sizes in px, comma-separated")
    args = parser.parse_args(argv)
    sizes = [int(v) for v in args.sizes.split(",")]
    results = probe(args.digit, args.count, sizes)
    print("box px  rule  " + "  ".join(f"{p:>7}" for p in POSITIONS))
    for box in sizes:
        for rule in RULES:
            cells = [results[(box, rule, where)] for where in POSITIONS]
            print(f"{box:6d}  {rule:4d}  " + "  ".join(f"{r:>3}/{n:<3}" for r, n in cells))
    right = sum(r for r, _ in results.values())
    print(f"read right: {right}/{sum(n for _, n in results.values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
