"""Render a HELD-OUT "other writers" test set: MNIST *test* digits redrawn as crops that look like other people's
handwriting and scanning (dark ink on light paper, other pens, slants, sizes, tight crops and scan defects).

Report only: use it to REPORT a model's accuracy on unfamiliar handwriting, never to train, tune, pick a
checkpoint or set a threshold. It is written independently of the toolkit's training augmentation and scan
renderer (only `toolkit.data.load_mnist` is used), so it does not share their assumptions.

    python scripts/render_writers.py OUT_DIR [--count 3000] [--seed 20261203] [--start 0] [--preview N]

Writes OUT_DIR/NNNNN.png (some .jpg) and OUT_DIR/labels.csv (file,label,traits). Image NNNNN depends only on
(seed, NNNNN), so --start renders a later slice of the same sequence; labels.csv keeps other slices' rows.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIN_SIDE, MAX_SIDE, WORK = 20, 160, 4  # crop side limits (px); MNIST is upsampled WORK times for pen work
SIDES = ("top", "bottom", "left", "right")
HARSH = {"thin", "thick", "lowres", "blur", "line", "clipped", "noise", "faint"}  # two or more: each is applied gently


class Sample:
    """One crop being rendered. `ink` is coverage in [0, 1]: the tight digit at work scale, then the whole crop."""

    def __init__(self, rng: np.random.Generator, ink: np.ndarray, mild: bool) -> None:
        self.rng, self.ink, self.mild = rng, ink, mild  # mild: two or more harsh traits, each applied gently
        self.dh = 0  # digit height in the crop, px
        self.margins: dict[str, float] = {}  # per side, in digit heights; negative = clipped
        self.near: list[str] = []  # sides an offcentre crop hugs
        self.low: tuple[int, int] | None = None  # lowres: (drawn height, upscaling interpolation)
        self.box = (0, 0, 0, 0)  # digit's y0, x0, y1, x1 in the crop (may reach outside it)
        self.paper, self.pen, self.colour = np.full(3, 235.0), np.full(3, 30.0), False
        self.img: np.ndarray | None = None  # composed float image, HxWx3
        self.jpeg: int | None = None


def _tight(a: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(a > 0.05)
    return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] if len(ys) else a


def _binary(a: np.ndarray) -> np.ndarray:
    return (a > 0.5).astype(np.uint8)


def _stroke_width(a: np.ndarray) -> float:
    """Mean pen width in px: twice the area over the perimeter (a long stroke's perimeter is twice its length)."""
    contours, _ = cv2.findContours(_binary(a), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return 2.0 * float(_binary(a).sum()) / max(sum(cv2.arcLength(c, True) for c in contours), 1.0)


def _loops(a: np.ndarray, w: float, min_area: float) -> int:
    """Enclosed counters of at least min_area px, as drawn or once gaps narrower than the pen width w are closed."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * math.ceil(w / 2) + 1,) * 2)
    counts = [0]
    for b in (_binary(a), cv2.morphologyEx(_binary(a), cv2.MORPH_CLOSE, kernel)):
        contours, hier = cv2.findContours(b, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        holes = [c for c, h in zip(contours, hier[0] if hier is not None else (), strict=True) if h[3] >= 0]
        counts.append(sum(cv2.contourArea(c) >= min_area for c in holes))
    return max(counts)


# --- traits: one function each ---------------------------------------------------------------------------------
def lowres(s: Sample) -> None:
    """Digit drawn 8-16 px high, then scaled up blocky (nearest) or blurry (linear)."""
    h = int(s.rng.integers(11 if s.mild else 8, 17))
    s.low = (h, cv2.INTER_NEAREST if s.rng.random() < 0.5 else cv2.INTER_LINEAR)
    s.dh = max(s.dh, math.ceil(1.8 * h))


def faint(s: Sample) -> None:
    """Low contrast: ink 120-150 on paper 200-240, always at least 70 apart."""
    ink = s.rng.uniform(120, 135 if s.mild else 150)
    s.pen = np.full(3, ink)
    s.paper = np.full(3, max(s.rng.uniform(200, 240), ink + (85 if s.mild else 70)))
    s.colour = False


def thin(s: Sample) -> None:
    """Thinner pen, 0.4-0.7x: keeps the part of each stroke within that fraction of its local width of its centre."""
    w, h = _stroke_width(s.ink), s.ink.shape[0]
    f = s.rng.uniform(0.55 if s.mild else 0.4, 0.7)
    s.dh = max(s.dh, math.ceil(1.2 * h / (f * w)))  # the thin stroke stays >= 1.2 px in the crop
    d = cv2.distanceTransform(np.pad(_binary(s.ink), 2), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    half = cv2.dilate(d, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * math.ceil(w / 2) + 1,) * 2))
    s.ink = _tight(np.clip(d - (1 - f) * half + 0.5, 0, 1) * (d > 0))


def thick(s: Sample) -> None:
    """Thicker pen, 1.5-2.5x (dilation), the stroke at most a quarter of the digit's height (at least 1.2x), backed
    off while it would shrink one of the digit's loops below 1.5 px across in the crop."""
    w, h = _stroke_width(s.ink), s.ink.shape[0]
    f = min(s.rng.uniform(1.5, 1.9 if s.mild else 2.5), max(1.2, 0.25 * h / w))
    pad = np.pad(s.ink, int(2 * w) + 2)
    loops = _loops(pad, w, 0.15 * w * w)
    while True:
        r = round((f - 1) * w / 2)
        out = cv2.dilate(pad, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        if f <= 1.2 or _loops(out, w, max(0.5 * w * w, (1.5 * h / s.dh) ** 2)) >= loops:
            break
        f = max(1.2, f - 0.2)
    s.ink = _tight(out)


def slant(s: Sample) -> None:
    """Shear -0.45..0.45 (at least 0.15 either way)."""
    k = s.rng.uniform(0.15, 0.45) * s.rng.choice([-1.0, 1.0])
    h, w = s.ink.shape
    m = np.float32([[1, k, 1 + max(0.0, -k * h)], [0, 1, 0]])
    s.ink = _tight(cv2.warpAffine(s.ink, m, (math.ceil(w + abs(k) * h) + 2, h), flags=cv2.INTER_LINEAR))


def aspect(s: Sample) -> None:
    """Width squashed 0.6-0.85x or stretched 1.2-1.5x."""
    f = s.rng.uniform(0.6, 0.85) if s.rng.random() < 0.5 else s.rng.uniform(1.2, 1.5)
    h, w = s.ink.shape
    s.ink = cv2.resize(s.ink, (max(1, round(w * f)), h), interpolation=cv2.INTER_LINEAR)


def offcentre(s: Sample) -> None:
    """One side's margin 0-3% of the crop, the opposite one 25-40%: on one axis or both."""
    axes = [("top", "bottom"), ("left", "right")]
    for near, far in [axes[i] for i in s.rng.permutation(2)][: 1 + (s.rng.random() < 0.3)]:
        if s.rng.random() < 0.5:
            near, far = far, near
        extent = 1.0 if near in ("top", "bottom") else s.ink.shape[1] / s.ink.shape[0]
        p = s.rng.uniform(0.25, 0.4)
        s.margins[near] = s.rng.uniform(0, 0.03) * extent
        s.margins[far] = p * (extent + s.margins[near]) / (1 - p)
        s.near.append(near)


def clipped(s: Sample) -> None:
    """The crop cuts up to 12% of the digit's box off at one edge (halved while that removes >7% of the ink)."""
    side = str(s.rng.choice(s.near or list(SIDES)))
    c = s.rng.uniform(0.03, 0.06) if s.mild else s.rng.uniform(0.05, 0.12)
    a = s.ink if side in ("top", "bottom") else s.ink.T
    a = a if side in ("top", "left") else a[::-1]
    while c > 0.02 and a[: round(c * len(a))].sum() > 0.07 * a.sum():
        c /= 2
    s.margins[side] = -c * (1.0 if side in ("top", "bottom") else s.ink.shape[1] / s.ink.shape[0])


def line(s: Sample) -> None:
    """A ruled line touching the digit's top or foot, a lighter strikethrough (wide digits only) or an underline:
    1-3 px, sometimes tilted a few degrees, as dark as the ink or lighter."""
    hh, ww = s.ink.shape
    y0, x0, y1, x1 = max(s.box[0], 0), max(s.box[1], 0), min(s.box[2], hh), min(s.box[3], ww)
    t = int(s.rng.integers(1, min(3, max(1, s.dh // 20)) + 1))
    level, kind = s.rng.uniform(0.45, 1.0), s.rng.random()
    tilt = math.tan(math.radians(s.rng.uniform(-4, 4))) if s.rng.random() < 0.5 else 0.0
    xa, xb = -4.0, ww + 4.0
    if kind < 0.3 and x1 - x0 >= 0.5 * (y1 - y0):  # strikethrough
        y, level, t = y0 + s.rng.uniform(0.35, 0.65) * (y1 - y0), 0.45 + 0.3 * (level - 0.45), 1
    elif kind < 0.6 and s.box[2] + 2 < hh:  # underline at the digit's foot
        y = s.box[2] - 0.5 + s.rng.uniform(-0.5, 1.5)
        xa, xb = x0 - s.rng.uniform(0, 0.3) * s.dh, x1 + s.rng.uniform(0, 0.3) * s.dh
    else:  # ruled line through the foot (or, on a wide digit, the top)
        top = s.rng.random() < 0.3 and x1 - x0 >= 0.5 * (y1 - y0)
        y = y0 + (y1 - y0) * (s.rng.uniform(0.02, 0.15) if top else s.rng.uniform(0.8, 0.98))
    xc = (xa + xb) / 2
    ends = [(round(16 * x), round(16 * (y + tilt * (x - xc)))) for x in (xa, xb)]
    canvas = np.zeros((hh, ww), np.uint8)
    cv2.line(canvas, ends[0], ends[1], 255, t, cv2.LINE_AA, shift=4)
    s.ink = np.maximum(s.ink, canvas.astype(np.float32) / 255 * level)


def blur(s: Sample) -> None:
    """Gaussian blur, sigma 0.7-2 px (at most a 20th of the digit's height)."""
    sigma = min(s.rng.uniform(0.7, 1.2 if s.mild else 2.0), max(0.7, s.dh / 20))
    s.ink = cv2.GaussianBlur(s.ink, (0, 0), sigma)


def noise(s: Sample) -> None:
    """Paper texture and grain, sometimes speckle, sometimes saved as JPEG at quality 40-80."""
    assert s.img is not None
    hh, ww = s.img.shape[:2]
    amp = (s.rng.uniform(2, 5) if s.mild else s.rng.uniform(3, 9)) * min(1.0, float(s.paper[0] - s.pen.mean()) / 150)
    grain = cv2.resize(s.rng.normal(0, amp, (hh // 8 + 2, ww // 8 + 2)), (ww, hh), interpolation=cv2.INTER_CUBIC)
    grain += s.rng.normal(0, amp / 2, (hh, ww))
    if s.rng.random() < 0.5:  # speckle: dust and fibres, lighter than the ink
        dots = np.zeros(hh * ww, np.float32)
        n = int(s.rng.poisson(hh * ww / 400))
        dots[s.rng.integers(0, hh * ww, n)] = s.rng.uniform(60, 160, n)
        grain -= cv2.GaussianBlur(dots.reshape(hh, ww), (0, 0), 0.7)
    s.img += grain[..., None]
    if s.rng.random() < 0.6:
        s.jpeg = int(s.rng.integers(55 if s.mild else 40, 81))


TRAITS = ["thin", "thick", "lowres", "blur", "slant", "aspect", "line", "offcentre", "clipped", "noise", "faint"]
PIPELINE: list[tuple[str, list[Callable[[Sample], None]]]] = [  # stages in order; traits in the order applied
    ("plan", [lowres, faint]),
    ("pen", [slant, aspect, thick, thin]),
    ("layout", [offcentre, clipped]),
    ("ink", [line, blur]),
    ("paper", [noise]),
]


def pick_traits(rng: np.random.Generator) -> list[str]:
    """1-3 distinct traits, uniformly (a thin pen and a thick one together are redrawn)."""
    p = np.array([1.18 if t in ("thin", "thick") else 1.0 for t in TRAITS])  # evens out the redraws
    while True:
        chosen = {str(t) for t in rng.choice(TRAITS, int(rng.integers(1, 4)), replace=False, p=p / p.sum())}
        if not {"thin", "thick"} <= chosen:
            return [t for t in TRAITS if t in chosen]


def _plan(s: Sample) -> None:
    s.dh = round(math.exp(s.rng.uniform(math.log(14), math.log(120))))
    paper = s.rng.uniform(170, 250)
    ink = s.rng.uniform(0, min(90, paper - 100))
    s.paper, s.pen = np.full(3, paper), np.full(3, ink)
    if s.rng.random() < 0.25:  # a coloured pen: mostly blue, sometimes red; cream-ish paper
        blue = s.rng.random() < 0.75
        s.pen = np.array([0.5 * ink, 0.7 * ink, ink + 90] if blue else [ink + 90, 0.4 * ink, 0.4 * ink])
        s.paper, s.colour = s.paper - np.array([0, 0, s.rng.uniform(0, 12)]), True
    base = s.rng.uniform(0.06, 0.3)
    s.margins = {k: base * s.rng.uniform(0.7, 1.3) for k in SIDES}


def _place(s: Sample) -> None:
    """Scale the tight digit to the crop's digit height (through `low` px for lowres) and lay out the crop."""
    (h, w), dh = s.ink.shape, s.dh
    while True:  # the largest digit height <= the planned one that keeps the crop within MAX_SIDE
        dw = max(1, round(w * dh / h))
        px = {k: round(v * dh) for k, v in s.margins.items()}
        if max(dh + px["top"] + px["bottom"], dw + px["left"] + px["right"]) <= MAX_SIDE:
            break
        dh -= 1
    if s.low:
        lh = min(s.low[0], dh)
        small = cv2.resize(s.ink, (max(1, round(w * lh / h)), lh), interpolation=cv2.INTER_AREA)
        digit = cv2.resize(small / max(float(small.max()), 0.3), (dw, dh), interpolation=s.low[1])
    else:
        digit = cv2.resize(s.ink, (dw, dh), interpolation=cv2.INTER_AREA if dh < h else cv2.INTER_CUBIC)
    for a, b, size in (("top", "bottom", dh), ("left", "right", dw)):
        short = MIN_SIDE - (size + px[a] + px[b])
        grow = [k for k in (a, b) if k not in s.near and px[k] >= 0] or [a, b]
        for i, k in enumerate(grow):
            px[k] += max(0, short) // len(grow) + (i < max(0, short) % len(grow))
    hh, ww, top, left = dh + px["top"] + px["bottom"], dw + px["left"] + px["right"], px["top"], px["left"]
    canvas = np.zeros((hh, ww), np.float32)
    ys, xs, ye, xe = max(0, top), max(0, left), min(hh, top + dh), min(ww, left + dw)
    canvas[ys:ye, xs:xe] = digit[ys - top : ye - top, xs - left : xe - left]
    s.ink, s.dh, s.box = np.clip(canvas, 0, 1), dh, (top, left, top + dh, left + dw)


def render(digit: np.ndarray, rng: np.random.Generator, traits: list[str]) -> tuple[np.ndarray, int | None]:
    """One MNIST digit (uint8 28x28, white on black) -> (uint8 crop, L or RGB; JPEG quality or None for PNG)."""
    up = cv2.resize(digit.astype(np.float32) / 255, None, fx=WORK, fy=WORK, interpolation=cv2.INTER_CUBIC)
    ink = _tight(np.clip((up - 0.25) / 0.4, 0, 1))  # crisper edges, as a real pen at this scale
    harsh = len(HARSH & set(traits))
    s = Sample(rng, ink, harsh >= 2)
    _plan(s)
    if harsh >= 2:  # stacked harsh traits only on digits at least 24 (two) or 36 (three) px high
        s.dh = max(s.dh, 12 * harsh)
    for stage, steps in PIPELINE:
        for step in (f for f in steps if f.__name__ in traits):
            step(s)
        if stage == "layout":
            _place(s)
        if stage == "ink":
            a = np.clip(s.ink, 0, 1)[..., None]
            s.img = s.paper * (1 - a) + s.pen * a
    assert s.img is not None
    img = np.clip(np.rint(s.img), 0, 255).astype(np.uint8)
    return (img if s.colour else img[..., 0]), s.jpeg


def _write_atomic(path: Path, save: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.part")
    save(tmp)
    os.replace(tmp, path)


def write_preview(out: Path, rows: list[dict[str, str]], n: int) -> Path:
    """A contact sheet of the first n images at their own size, each with its label and traits underneath."""
    cols, cell, text = min(10, n), MAX_SIDE + 12, 30
    sheet = np.full((math.ceil(n / cols) * (cell + text), cols * cell, 3), 96, np.uint8)
    for i, row in enumerate(rows[:n]):
        y, x = (i // cols) * (cell + text) + 6, (i % cols) * cell + 6
        img = np.asarray(Image.open(out / row["file"]).convert("RGB"))
        zoom = max(1, MAX_SIDE // max(img.shape[:2]))  # small crops blown up by a whole factor, pixels kept
        img = np.repeat(np.repeat(img, zoom, 0), zoom, 1)
        sheet[y : y + img.shape[0], x : x + img.shape[1]] = img
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(sheet, f"{row['label']}  {row['file']} x{zoom}", (x, y + cell + 2), font, 0.45, (0, 255, 255), 1)
        tags = "+".join(t[:5] for t in row["traits"].split("+"))
        cv2.putText(sheet, tags, (x, y + cell + 18), font, 0.38, (255, 255, 255), 1)
    path = out / "preview.png"
    _write_atomic(path, lambda p: Image.fromarray(sheet).save(p, format="PNG"))
    return path


def main(argv: list[str] | None = None) -> int:
    from toolkit import data

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--start", type=int, default=0, help="number of the first image (renders a later slice)")
    parser.add_argument("--preview", type=int, default=0, metavar="N", help="also write preview.png of the first N")
    args = parser.parse_args(argv)
    if args.count < 1 or args.start < 0 or args.preview < 0:
        parser.error("--count must be >= 1, --start and --preview >= 0")
    _, (x_test, y_test) = data.load_mnist()
    order = np.random.default_rng(args.seed).permutation(len(x_test))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for k in range(args.start, args.start + args.count):
        rng = np.random.default_rng([args.seed, k])
        idx = int(order[k % len(order)])
        traits = pick_traits(rng)
        img, quality = render(x_test[idx], rng, traits)
        name = f"{k:05d}." + ("jpg" if quality else "png")
        (args.out_dir / f"{k:05d}.{'png' if quality else 'jpg'}").unlink(missing_ok=True)  # from another seed
        fmt = {"format": "JPEG", "quality": quality} if quality else {"format": "PNG"}
        _write_atomic(args.out_dir / name, lambda p, img=img, fmt=fmt: Image.fromarray(img).save(p, **fmt))
        rows.append({"file": name, "label": str(int(y_test[idx])), "traits": "+".join(traits)})
    labels, table = args.out_dir / "labels.csv", {}
    if labels.exists():  # other slices' rows stay
        table = {Path(r["file"]).stem: r for r in csv.DictReader(labels.read_text().splitlines())}
    table.update((Path(r["file"]).stem, r) for r in rows)
    text = io.StringIO()
    writer = csv.DictWriter(text, ["file", "label", "traits"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(table[k] for k in sorted(table))
    _write_atomic(labels, lambda p: p.write_text(text.getvalue()))
    if args.preview:
        write_preview(args.out_dir, rows, min(args.preview, len(rows)))
    counts = Counter(t for r in rows for t in r["traits"].split("+"))
    jpgs = sum(r["file"].endswith(".jpg") for r in rows)
    mix = ", ".join(f"{t} {counts[t]}" for t in TRAITS)
    print(f"wrote {len(rows)} images ({jpgs} jpg) to {args.out_dir} (seed {args.seed}, start {args.start}): {mix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
