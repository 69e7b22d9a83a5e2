"""A probe of how `predict` reads a digit in a small box of a form scanned whole. Plain sheets: an A4 sheet at
200 dpi (1654 x 2339 px) with a printed title, a label and a row of six boxes, an MNIST test digit written 0.7 of
a box tall in one of them. A 5 mm box at 200 dpi is 39 px, and the sheet is read from a copy 1,024 px long,
where it is 17 px (see `toolkit.imaging.closer`). `--varied`: sheets drawn with more of what scanned forms
have (A4 or letter at 150-300 dpi, several fields of boxes 4-9 mm wide in a grid or apart, tinted boxes, ruled
lines, a digit touching its box, the sheet askew, blurred, saved as JPEG). Each sheet is read from a saved file
by `predict_images`. A probe of our own, not a renderer written apart from the pipeline: its figures are tuning
evidence, not held-out ones.

    python scripts/probe_small_boxes.py [--count 10] [--sizes 40,50,60,80] [--seed 11]
    python scripts/probe_small_boxes.py --varied [--count 200] [--seed 11]
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

PAPER, PRINT, PEN = 240, 60, 20
TOP, LEFT, BOXES = 900, 300, 6  # the row of boxes: its top left corner on the sheet, and how many


def sheet(glyph: np.ndarray | None, box: int = 40, degrees: float = 0.0, in_box: int = 2, top: int = TOP) -> np.ndarray:
    """The sheet: `glyph` (MNIST, white on black; None: every box empty) written in box `in_box` of a row of
    BOXES boxes `box` px wide whose top is at `top`; the sheet turned `degrees`."""
    page = np.full((2339, 1654), PAPER, np.uint8)
    cv2.putText(page, "Application form", (150, 200), cv2.FONT_HERSHEY_SIMPLEX, 2.0, PRINT - 30, 4)
    cv2.putText(page, "Number:", (150, top - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.0, PRINT - 30, 2)
    for j in range(BOXES):
        cv2.rectangle(page, (LEFT + j * box, top), (LEFT + (j + 1) * box, top + box), PRINT, max(2, box // 25))
    if glyph is not None:
        size = int(box * 0.7)
        ink = cv2.resize(glyph, (size, size), interpolation=cv2.INTER_CUBIC)
        y, x = top + (box - size) // 2, LEFT + in_box * box + (box - size) // 2
        region = page[y : y + size, x : x + size]
        np.minimum(region, (255 - ink.astype(np.int32) * (255 - PEN) // 255).astype(np.uint8), out=region)
    if degrees:
        turn = cv2.getRotationMatrix2D((page.shape[1] / 2, page.shape[0] / 2), degrees, 1.0)
        page = cv2.warpAffine(page, turn, page.shape[::-1], flags=cv2.INTER_LINEAR, borderValue=PAPER)
    return page


def probe(count: int, sizes: list[int], seed: int) -> dict[tuple[int, int], tuple[int, int]]:
    """(box size, digit) -> (read right, sheets): `count` sheets a digit and size, each digit one of the first
    fifty MNIST test digits of its class, the row anywhere down the middle of the sheet, in any of its boxes."""
    from PIL import Image

    from toolkit.data import load_mnist
    from toolkit.predict import predict_images

    (_, _), (x, y) = load_mnist()
    rng = np.random.default_rng(seed)
    keys, paths = [], []
    with tempfile.TemporaryDirectory() as folder:
        for box in sizes:
            for digit in range(10):
                for n in range(count):
                    glyph = x[np.flatnonzero(y == digit)[int(rng.integers(0, 50))]]
                    page = sheet(glyph, box, in_box=int(rng.integers(0, BOXES)), top=600 + int(rng.integers(0, 800)))
                    path = Path(folder) / f"{box}-{digit}-{n}.png"
                    Image.fromarray(page).save(path)
                    keys.append((box, digit))
                    paths.append(str(path))
        records = predict_images(paths)
    right, total = Counter(), Counter()
    for (box, digit), record in zip(keys, records, strict=True):
        right[(box, digit)] += record["digit"] == digit
        total[(box, digit)] += 1
    return {key: (right[key], total[key]) for key in total}


def varied_sheet(rng: np.random.Generator, glyph: np.ndarray) -> tuple[np.ndarray, str, str]:
    """A form sheet drawn with `rng` (see the module docstring), `glyph` in one of its boxes: (pixels, the file's
    extension, its traits)."""
    wide, tall = (210, 297) if rng.random() < 0.5 else (216, 279)
    dpi = int(rng.choice([150, 200, 240, 300]))
    mm = dpi / 25.4
    paper = int(rng.integers(228, 249))
    page = np.full((round(tall * mm), round(wide * mm)), paper, np.uint8)
    ink = int(rng.integers(30, 121))
    scale = mm / 8
    cv2.putText(page, "Registration", (round(20 * mm), round(25 * mm)), cv2.FONT_HERSHEY_DUPLEX, 2 * scale, ink, 2)
    box_w = rng.uniform(4, 9) * mm
    box_h = box_w * rng.uniform(1.0, 1.25)
    rule = max(1, round(rng.uniform(0.15, 0.45) * mm))
    gap = 0.0 if rng.random() < 0.5 else rng.uniform(1, 3) * mm
    tint = rng.random() < 0.15
    boxes = []
    for k in range(int(rng.integers(2, 6))):
        top = round((45 + 30 * k) * mm)
        label = (round(20 * mm), top + round(box_h * 0.7))
        cv2.putText(page, "Code:", label, cv2.FONT_HERSHEY_SIMPLEX, scale, ink, max(1, round(scale)))
        for j in range(int(rng.integers(3, 9))):
            x0 = round(45 * mm + j * (box_w + gap))
            corners = (x0, top), (round(x0 + box_w), round(top + box_h))
            if tint:
                cv2.rectangle(page, *corners, paper - int(rng.integers(8, 21)), -1)
            cv2.rectangle(page, *corners, ink, rule)
            boxes.append(corners)
    for _ in range(int(rng.integers(1, 4)) if rng.random() < 0.3 else 0):
        y = round(rng.uniform(40, 250) * mm)
        cv2.line(page, (round(15 * mm), y), (page.shape[1] - round(15 * mm), y), ink, rule)
    (x0, y0), (x1, y1) = boxes[int(rng.integers(len(boxes)))]
    size = max(6, round((y1 - y0 - 2 * rule) * rng.uniform(0.55, 0.85)))
    written = cv2.resize(glyph, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    cols = np.flatnonzero(written.max(axis=0) > 0.2)
    left = round(rng.uniform(x0 + rule + 1, max(x0 + rule + 2, x1 - rule - size)))
    top = round(rng.uniform(y0 + rule + 1, max(y0 + rule + 2, y1 - rule - size)))
    touch = "none"
    if rng.random() < 0.3:  # the ink's left or right edge on its box's side, up to 2 px over it
        touch = "left" if rng.random() < 0.5 else "right"
        over = int(rng.integers(0, 3))
        left = x0 + rule // 2 - over - int(cols[0]) if touch == "left" else x1 - rule // 2 + over - int(cols[-1])
    sheet = page.astype(np.float32)
    region = sheet[top : top + size, left : left + size]
    cover = written[: region.shape[0], : region.shape[1]]
    region[:] = region * (1 - cover) + float(rng.integers(10, 50)) * cover
    sheet += np.linspace(0, rng.uniform(-12, 12), sheet.shape[1], dtype=np.float32)[None, :]
    sheet += rng.normal(0, rng.uniform(1, 3), sheet.shape).astype(np.float32)
    traits = [f"{'a4' if tall == 297 else 'letter'} dpi={dpi} box={round(box_w)}x{round(box_h)} rule={rule}"]
    traits += ["grid" if gap == 0 else "apart"] + (["tint"] if tint else []) + [f"touch={touch}"]
    if rng.random() < 0.4:
        degrees = rng.uniform(-3, 3)
        turn = cv2.getRotationMatrix2D((sheet.shape[1] / 2, sheet.shape[0] / 2), degrees, 1.0)
        sheet = cv2.warpAffine(sheet, turn, sheet.shape[::-1], flags=cv2.INTER_LINEAR, borderValue=paper)
        traits.append(f"rotated={degrees:+.1f}")
    if rng.random() < 0.5:
        sigma = rng.uniform(0.3, 0.9)
        sheet = cv2.GaussianBlur(sheet, (0, 0), sigma)
        traits.append(f"blur={sigma:.1f}")
    extension = "jpg" if rng.random() < 0.4 else "png"
    return np.clip(sheet, 0, 255).astype(np.uint8), extension, " ".join(traits + [extension])


def probe_varied(count: int, seed: int) -> list[tuple[str, int, dict]]:
    """`count` varied sheets (each from (seed, index) alone): (traits, digit, record) each."""
    from PIL import Image

    from toolkit.data import load_mnist
    from toolkit.predict import predict_images

    (_, _), (x, y) = load_mnist()
    drawn, paths = [], []
    with tempfile.TemporaryDirectory() as folder:
        for n in range(count):
            rng = np.random.default_rng(np.random.SeedSequence([seed, n]))
            k = int(rng.integers(len(x)))
            page, extension, traits = varied_sheet(rng, x[k])
            path = Path(folder) / f"{n:04d}.{extension}"
            quality = {"quality": int(rng.integers(75, 96))} if extension == "jpg" else {}
            Image.fromarray(page).save(path, **quality)
            drawn.append((traits, int(y[k])))
            paths.append(str(path))
        records = predict_images(paths)
    return [(traits, digit, record) for (traits, digit), record in zip(drawn, records, strict=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10, help="sheets of each digit at each box size")
    parser.add_argument("--sizes", default="40,50,60,80", help="box sizes in px, comma-separated")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--varied", action="store_true", help="varied sheets (see the module docstring)")
    args = parser.parse_args(argv)
    if args.varied:
        read = probe_varied(args.count, args.seed)
        for traits, digit, record in read:
            if record["digit"] != digit:
                print(f"{digit} read {record['digit']} ({record['flags']}): {traits}")
        print(f"read right: {sum(record['digit'] == digit for _, digit, record in read)}/{len(read)}")
        return 0
    sizes = [int(v) for v in args.sizes.split(",")]
    results = probe(args.count, sizes, args.seed)
    print("box px  " + " ".join(f"{d:>6}" for d in range(10)) + "   all")
    for box in sizes:
        cells = [results[(box, d)] for d in range(10)]
        right, total = sum(r for r, _ in cells), sum(n for _, n in cells)
        print(f"{box:6d}  " + " ".join(f"{r:>3}/{n:<2}" for r, n in cells) + f"  {right}/{total}")
    print(f"read right: {sum(r for r, _ in results.values())}/{sum(n for _, n in results.values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
