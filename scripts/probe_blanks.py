"""A probe of blank sheets that a scanner or a camera marks: plain paper with specks, soft shading, a cast
shadow's edge and faint streaks along the scan (full length or a stretch of it), as small images and as pages,
read by `predict_images` in single-digit mode. What matters is a digit read with no flag: a blank sheet read as
a sure digit is the worst a batch can hold. A probe of our own, written after the second held-out renderer's
report showed blank sheets read as sure 1s: its figures are tuning evidence, not held-out ones.

    python scripts/probe_blanks.py [--count 150] [--seed 5]
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

# What a record of no digit says by being one: on a blank sheet these flags are its reading, not a warning.
NO_DIGIT_FLAGS = {"blank-page", "lines-only", "not-a-digit", "writing-only", "cut-by-border"}


def sheet(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """One blank sheet (uint8 grey) and what marks it: a page (1,100-2,300 px tall, A4's shape) or a small image
    (120-600 px), shading, a shadow's edge, streaks, specks, noise and blur."""
    if rng.random() < 0.5:
        h = int(rng.integers(1100, 2300))
        w = int(h / 1.41)
    else:
        h = int(rng.integers(120, 600))
        w = int(h * rng.uniform(0.7, 2.5))
    img = np.full((h, w), rng.uniform(200, 245), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    traits = []
    if rng.random() < 0.5:  # a soft patch of shading
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.05, 0.3) * min(h, w)
        img -= rng.uniform(8, 30) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        traits.append("shading")
    if rng.random() < 0.5:  # a cast shadow's soft edge, at any angle
        a = rng.uniform(0, np.pi)
        d = (xx - w / 2) * np.cos(a) + (yy - h / 2) * np.sin(a) - rng.uniform(-0.3, 0.3) * min(h, w)
        img -= rng.uniform(15, 50) / (1 + np.exp(-d / rng.uniform(3, 40)))
        traits.append("shadow")
    if rng.random() < 0.7:  # faint streaks along the scan, 1-3 px wide
        for _ in range(int(rng.integers(1, 3))):
            x0, width, darker = int(rng.integers(0, w)), int(rng.integers(1, 4)), rng.uniform(6, 35)
            y0, y1 = (0, h) if rng.random() < 0.6 else sorted(rng.integers(0, h, 2).tolist())
            img[y0:y1, x0 : x0 + width] -= darker
        traits.append("streak")
    for _ in range(int(rng.integers(0, 25))):  # specks
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(img, centre, int(rng.integers(1, 4)), float(rng.uniform(40, 170)), -1)
    img += rng.normal(0, rng.uniform(1, 4), img.shape).astype(np.float32)
    blur = int(rng.choice([0, 3, 5]))
    if blur:
        img = cv2.GaussianBlur(img, (blur, blur), 0)
    return np.clip(img, 0, 255).astype(np.uint8), traits


def probe(count: int, seed: int) -> tuple[Counter, Counter]:
    """(how the sheets were read: blank / digit, flagged / digit, unflagged; the digits read with no flag)."""
    from toolkit.predict import predict_images

    rng = np.random.default_rng(seed)
    sheets = [sheet(rng)[0] for _ in range(count)]
    said, unflagged = Counter(), Counter()
    for record in predict_images(sheets):
        flags = set((record["flags"] or "").split())
        if record["digit"] is None:
            said["blank" if not flags - NO_DIGIT_FLAGS else "blank, flagged"] += 1
        elif record["low_confidence"] or flags:
            said["digit, flagged"] += 1
        else:
            said["digit, unflagged"] += 1
            unflagged[record["digit"]] += 1
    return said, unflagged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=150, help="sheets")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    said, unflagged = probe(args.count, args.seed)
    for key in ("blank", "blank, flagged", "digit, flagged", "digit, unflagged"):
        print(f"{key:18} {said[key]:4d}")
    if unflagged:
        print("digits read with no flag: " + ", ".join(f"{d}: {n}" for d, n in sorted(unflagged.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
