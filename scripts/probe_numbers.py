"""A probe of how `predict --multi-digit` reads numbers whose digits touch: 2-8 MNIST test digits written in a
row on plain paper, each gap touching (the next digit slid left until its ink meets its neighbour's, then up
to 8% of the height further) with probability `--touching`, read from memory by `predict_images`. It reports
read right (the whole string), wrong and unflagged, and flagged among the right reads, overall and by how
many gaps touch. A probe of our own, not a renderer written apart from the pipeline: its figures are tuning
evidence, not held-out ones.

Digits stand upright, 24-67 px tall (a number's height, give or take 2 px a digit), their tops within 6 px
of each other, 2 px to a third of their height apart where they do not touch, dark ink on light paper,
blurred 0.4-1.0 px, with sensor noise: the touching is the hard thing about them.

    python scripts/probe_numbers.py [--count 300] [--seed 1] [--touching 0.25] [--out DIR]
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

INK_LEVEL = 0.35  # a glyph's pixel at this share of full ink or more is ink, for where two digits touch
MARGIN = 20  # px of paper around the row


def glyph(digit: np.ndarray, height: int, aspect: float = 1.0) -> np.ndarray:
    """An MNIST digit (white on black, uint8) cropped to its ink and scaled to `height` px, its width times
    `aspect`: ink in [0, 1], float32."""
    rows, cols = np.nonzero(digit > 30)
    ink = digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].astype(np.float32) / 255
    width = max(2, round(ink.shape[1] * height / ink.shape[0] * aspect))
    return cv2.resize(ink, (width, height), interpolation=cv2.INTER_LINEAR)


def _meet(row: np.ndarray, ink: np.ndarray, top: int, start: int) -> int:
    """The left column for `ink` (placed at `top`) where it first touches what `row` holds, sliding it left from
    `start`: the first column at which some ink pixel of it is 8-adjacent to ink already there."""
    height, width = ink.shape
    own = ink >= INK_LEVEL
    near = cv2.dilate((row >= INK_LEVEL).view(np.uint8), np.ones((3, 3), np.uint8))[top : top + height]
    for left in range(start, -1, -1):
        there = near[:, left : left + width].astype(bool)
        if (there & own[:, : there.shape[1]]).any():
            return left
    return 0


def number_image(
    glyphs: list[np.ndarray], tops: list[int], gaps: list[int], paper: float, ink: float, blur: float
) -> np.ndarray:
    """A row of `glyphs` (ink in [0, 1]) on paper, dark ink, as float grey. `tops`: each glyph's top row below
    the margin; `gaps`: for each glyph after the first, the px of paper between it and the row so far when
    positive, else a touching gap: it is slid left until its ink meets the row's, then that many px further."""
    height = max(g.shape[0] + t for g, t in zip(glyphs, tops, strict=True)) + 2 * MARGIN
    width = sum(g.shape[1] for g in glyphs) + MARGIN * (len(glyphs) + 2) + 4 * max(g.shape[0] for g in glyphs)
    row = np.zeros((height, width), np.float32)
    right = MARGIN
    for k, (g, top) in enumerate(zip(glyphs, tops, strict=True)):
        top += MARGIN
        if k == 0:
            left = MARGIN
        elif gaps[k - 1] > 0:
            left = right + gaps[k - 1]
        else:
            left = max(0, _meet(row, g, top, right + 2) + gaps[k - 1])
        region = row[top : top + g.shape[0], left : left + g.shape[1]]
        np.maximum(region, g[:, : region.shape[1]], out=region)
        right = max(right, left + g.shape[1])
    row = row[:, : right + MARGIN]
    grey = paper - (paper - ink) * row
    return cv2.GaussianBlur(grey, (0, 0), blur)


def draw(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, touching: float) -> tuple[np.ndarray, str, int]:
    """One number: (image uint8, its digits, how many of its gaps touch)."""
    count = int(rng.integers(2, 9))
    picked = rng.integers(0, len(x), count)
    height = int(rng.integers(26, 66))
    glyphs = [glyph(x[k], height + int(rng.integers(-2, 3)), float(rng.uniform(0.9, 1.1))) for k in picked]
    tops = [int(rng.integers(0, 7)) for _ in picked]
    gaps = []
    for _ in range(count - 1):
        if rng.random() < touching:
            gaps.append(-int(rng.integers(0, max(1, int(0.08 * height)) + 1)))
        else:
            gaps.append(int(rng.integers(max(2, int(0.08 * height)), max(3, int(0.35 * height)))))
    touches = sum(g <= 0 for g in gaps)
    image = number_image(glyphs, tops, gaps, rng.uniform(200, 245), rng.uniform(20, 90), rng.uniform(0.4, 1.0))
    # Noise from a generator of its own: the next number's draw must not depend on this one's size.
    image = image + np.random.default_rng(int(rng.integers(2**31))).normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), "".join(str(int(y[k])) for k in picked), touches


def probe(count: int, seed: int, touching: float, out: Path | None = None) -> dict[str, Counter]:
    """Draw and read `count` numbers: per number of touching gaps (and "all"), counts of images, right reads,
    wrong unflagged reads and flagged right reads."""
    from toolkit import data
    from toolkit.predict import predict_images

    _, (x, y) = data.load_mnist()
    rng = np.random.default_rng(seed)
    drawn = [draw(x, y, rng, touching) for _ in range(count)]
    records = predict_images([image for image, _, _ in drawn], multi_digit=True)
    tally: dict[str, Counter] = {}
    for k, ((image, truth, touches), record) in enumerate(zip(drawn, records, strict=True)):
        right = (record.get("text") or "") == truth
        flagged = bool(record.get("flags")) or bool(record.get("low_confidence"))
        for key in ("all", f"{touches} touching"):
            c = tally.setdefault(key, Counter())
            c["images"] += 1
            c["right"] += right
            c["wrong, unflagged"] += not right and not flagged
            c["right, flagged"] += right and flagged
        if out is not None:
            cv2.imwrite(str(out / f"{k:04d}-{truth}-read-{record.get('text') or 'none'}.png"), image)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--touching", type=float, default=0.25, help="the chance that a gap touches")
    parser.add_argument("--out", type=Path, help="also save each image here, named by its truth and its read")
    args = parser.parse_args(argv)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    tally = probe(args.count, args.seed, args.touching, args.out)
    for key in sorted(tally, key=lambda k: (k != "all", k)):
        c = tally[key]
        print(
            f"{key:12} {c['images']:4} images  read right {c['right'] / c['images']:6.1%}  "
            f"wrong, unflagged {c['wrong, unflagged'] / c['images']:5.1%}  "
            f"flagged among right {c['right, flagged'] / max(1, c['right']):5.1%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
