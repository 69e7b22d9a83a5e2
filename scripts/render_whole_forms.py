"""Render synthetic whole form sheets, each holding exactly one handwritten digit in one of its boxes.

A sheet is a page of paper (A4 or US letter at 150-300 dpi) with a printed title and 4-12 labelled fields (rows
of boxes, single boxes, combs, underlines, free-text areas), sometimes a table, a page frame or section rules.
One MNIST *training* digit (never a test digit) is written as pen ink into one box of one box-like field; all
other boxes stay empty. The sheet is then captured as a flatbed scan (sometimes rotated, grey or RGB, PNG or
JPEG) or, in about a quarter of the sheets, as a phone photo on a desk (perspective, vignetting, colour cast,
blur, JPEG).

    python scripts/render_whole_forms.py OUT_DIR --count N --seed S

writes OUT_DIR/forms/NNNN.png|jpg and OUT_DIR/truth.csv (file,kind,truth,traits). Sheet i draws everything from
its own generator seeded with (seed, i), so any sheet can be rendered alone with `render_one`. Traits, e.g.
`a4 dpi=200 fields=7 target=boxes5 cell=2 box=9.1mm rule=2 table digit=74% pen=0.5mm touching=left rotated=+1.4
grey jpeg=82`: paper, the field with the digit and which box (from 0), box height, rule width (px), extras, ink
height / box inner height, placement, lighting, capture (`rotated` is degrees clockwise; `photo size=WxH warm`).
Scans keep the sheet's pixel size (paper and dpi); photos do not.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from toolkit.data import load_mnist

PAPERS_MM = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}  # portrait width, height
DPIS = (150, 200, 240, 300)
LANDSCAPE_P = 0.1  # share of sheets turned sideways
PAPER_RGB = ((250, 250, 247), (247, 242, 226), (236, 236, 233), (243, 239, 231))  # white, cream, grey, ivory
PRINT_INKS = ((20, 20, 22), (70, 70, 74), (25, 55, 150), (25, 105, 60), (175, 35, 40))  # black grey blue green red
PEN_INKS = ((28, 42, 125), (22, 22, 30), (55, 55, 62))  # blue ballpoint, black, dark grey
PEN_MM = (0.35, 0.8)  # pen line width
DESK_RGB = ((120, 86, 58), (72, 72, 74), (92, 98, 104), (58, 48, 42))  # oak, slate, blue-grey, walnut
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)
TITLES = (
    "Application Form|ORDER FORM|Customer Registration|Delivery Note|Claim Form|Membership Application|"
    "Expense Report|STOCK REQUEST|Enrolment Form|Service Request|Return Authorisation"
).split("|")
INSTRUCTIONS = (
    "Please write clearly in capitals.|One character per box, black or blue ink.|"
    "Complete all sections and sign below.|Shaded areas are for office use only."
).split("|")
LABELS = (
    "Name|Surname|Date|Account|Amount|Qty|Code|Postcode|Phone|Reference|Customer No.|Invoice|Branch|Item|"
    "Price|Total|Age|ID number|Room|Batch|Serial|Signature|Email|City|Member No.|Units|Day|Month|Year"
).split("|")
TEXT_LABELS = "Address|Comments|Notes|Remarks|Description|Reason".split("|")  # for free-text areas
TABLE_HEADS = "Item|Description|Qty|Price|Total|Code|Date|Ref.".split("|")
FIELD_KINDS, FIELD_WEIGHTS = ("boxes", "box", "comb", "line", "area"), (0.4, 0.15, 0.15, 0.15, 0.15)
DIGIT_KINDS = ("boxes", "box", "comb")  # fields the digit may be written in
BOX_MM = (5.0, 12.0)  # box side
DIGIT_HEIGHT = (0.5, 0.95)  # digit height / box inner height
TOUCH_P, OFFSET_P = 0.2, 0.25  # digit crosses a box edge by 1-4 px / sits off-centre
ROTATE_P, ROTATE_DEG = 0.4, (0.3, 3.0)  # share of scans rotated, and by how much either way
PHOTO_P, PHOTO_LONG_PX = 0.25, (3000, 4000)  # share of phone photos, and their long side
SCAN_JPEG_P, JPEG_Q = 0.5, (70, 95)
GREY_P = 0.4  # share of greyscale scans

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (outer edges of a box)


@dataclass
class Style:
    """Choices shared by the whole sheet, so its fields look like one designed form."""

    dpi: int
    side_mm: float
    side: int  # box height in px
    rule: int  # box line width in px
    gap: int  # gap between separate boxes (0: neighbours share dividers)
    font: int
    label_px: int  # cap height of labels
    text_ink: tuple[int, int, int]
    box_ink: tuple[int, int, int]
    label_above: bool  # else to the left of the entry


@dataclass
class Field:
    """One labelled entry area; `cells` are its writable boxes once drawn."""

    label: str
    kind: str
    n: int
    cell_w: int
    pitch: int
    width: int
    height: int
    tick_h: int = 0
    cells: list[Rect] = field(default_factory=list)


@functools.cache
def training_digits() -> tuple[np.ndarray, np.ndarray]:
    (x_train, y_train), _ = load_mnist()
    return x_train, y_train


def px(mm: float, dpi: int) -> int:
    return max(1, int(round(mm * dpi / 25.4)))


def pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def font_size(cap_px: int, font: int) -> tuple[float, int]:
    """Scale and stroke thickness giving capitals cap_px tall."""
    return cap_px / cv2.getTextSize("H", font, 1.0, 1)[0][1], max(1, round(cap_px / 11))


def text_width(text: str, cap_px: int, font: int) -> int:
    return cv2.getTextSize(text, font, *font_size(cap_px, font))[0][0]


def put_text(img: np.ndarray, text: str, x: int, base_y: int, cap_px: int, font: int, ink) -> None:
    scale, thick = font_size(cap_px, font)
    cv2.putText(img, text, (x, base_y), font, scale, ink, thick, cv2.LINE_AA)


def outline(img: np.ndarray, r: Rect, t: int, ink) -> None:
    x0, y0, x1, y1 = r
    img[y0 : y0 + t, x0:x1] = ink
    img[y1 - t : y1, x0:x1] = ink
    img[y0:y1, x0 : x0 + t] = ink
    img[y0:y1, x1 - t : x1] = ink


def choose_style(rng: np.random.Generator, dpi: int) -> Style:
    side_mm = float(rng.uniform(*BOX_MM))
    ink = pick(rng, PRINT_INKS)
    return Style(
        dpi=dpi, side_mm=side_mm, side=px(side_mm, dpi), rule=int(rng.integers(1, 5)),
        gap=0 if rng.random() < 0.5 else px(rng.uniform(0.5, 2.0), dpi), font=pick(rng, FONTS),
        label_px=px(rng.uniform(2.2, 3.6), dpi), text_ink=ink,
        box_ink=ink if rng.random() < 0.6 else pick(rng, PRINT_INKS), label_above=rng.random() < 0.4,
    )  # fmt: skip


def plan_field(rng: np.random.Generator, kind: str, label: str, s: Style, max_w: int, max_area_h: int) -> Field:
    """Size one field's entry area so that it fits in max_w pixels."""
    if kind in ("line", "area"):
        width = min(max_w, px(rng.uniform(40, 170), s.dpi))
        height = s.side if kind == "line" else min(max_area_h, px(rng.uniform(15, 40), s.dpi))
        return Field(label, kind, 0, 0, 0, width, height)
    cell_w = min(max_w, int(round(s.side * rng.uniform(0.85, 1.15))))
    pitch = cell_w - s.rule if kind == "comb" or s.gap == 0 else cell_w + s.gap  # shared dividers or gaps
    n = 1 if kind == "box" else max(1, min(int(rng.integers(2, 11)), (max_w - cell_w) // pitch + 1))
    tick_h = int(s.side * rng.uniform(0.25, 0.5))
    return Field(label, kind, n, cell_w, pitch, (n - 1) * pitch + cell_w, s.side, tick_h)


def draw_entry(img: np.ndarray, f: Field, x: int, y: int, s: Style) -> None:
    bottom = y + f.height
    if f.kind == "line":
        img[bottom - s.rule : bottom, x : x + f.width] = s.box_ink
    elif f.kind == "area":
        outline(img, (x, y, x + f.width, bottom), s.rule, s.box_ink)
    else:
        f.cells = [(x + i * f.pitch, y, x + i * f.pitch + f.cell_w, bottom) for i in range(f.n)]
        if f.kind == "comb":
            img[bottom - s.rule : bottom, x : x + f.width] = s.box_ink
            for x0, _, x1, _ in f.cells:
                img[bottom - f.tick_h : bottom, x0 : x0 + s.rule] = s.box_ink
                img[bottom - f.tick_h : bottom, x1 - s.rule : x1] = s.box_ink
        else:
            for cell in f.cells:
                outline(img, cell, s.rule, s.box_ink)


def draw_title(rng: np.random.Generator, img: np.ndarray, s: Style, left: int, right: int, top: int) -> int:
    """Title, optional instruction line and rule; returns the y where the fields may start."""
    cap, title = px(rng.uniform(4.0, 7.0), s.dpi), pick(rng, TITLES)
    x = (left + right - text_width(title, cap, s.font)) // 2 if rng.random() < 0.5 else left
    y = top + cap
    put_text(img, title, x, y, cap, s.font, s.text_ink)
    if rng.random() < 0.6:
        y += s.label_px * 2 + px(2, s.dpi)
        put_text(img, pick(rng, INSTRUCTIONS), left, y, s.label_px, s.font, s.text_ink)
    y += px(rng.uniform(3, 6), s.dpi)
    if rng.random() < 0.5:
        img[y : y + px(0.4, s.dpi), left:right] = s.text_ink
    return y + px(rng.uniform(5, 9), s.dpi)


def draw_fields(rng: np.random.Generator, img: np.ndarray, s: Style, box: Rect) -> tuple[list[Field], Field, list[str]]:
    """Plan, fit and draw 4-12 fields (sometimes rules and a table) inside box; returns the fields, the one the
    digit goes into and the extras' traits."""
    left, top, right, bottom = box
    labels = [LABELS[i] for i in rng.permutation(len(LABELS))[: int(rng.integers(4, 13))]]
    kinds = [str(k) for k in rng.choice(FIELD_KINDS, size=len(labels), p=FIELD_WEIGHTS)]
    if not any(k in DIGIT_KINDS for k in kinds):
        kinds[int(rng.integers(len(kinds)))] = "boxes"
    labels = [pick(rng, TEXT_LABELS) if k == "area" else t for k, t in zip(kinds, labels, strict=True)]
    label_w = 0 if s.label_above else max(text_width(t, s.label_px, s.font) for t in labels) + px(4, s.dpi)
    label_h = s.label_px + px(2, s.dpi) if s.label_above else 0
    max_w, max_area_h = right - left - label_w, (bottom - top) // 6
    fields = [plan_field(rng, k, t, s, max_w, max_area_h) for k, t in zip(kinds, labels, strict=True)]
    target = pick(rng, [f for f in fields if f.kind in DIGIT_KINDS])
    while sum(f.height + label_h + px(2, s.dpi) for f in fields) > bottom - top and len(fields) > 4:
        fields.remove(max((f for f in fields if f is not target), key=lambda f: f.height))
    spare = bottom - top - sum(f.height + label_h for f in fields)
    gap, rules, y = int(min(px(rng.uniform(4, 14), s.dpi), spare // len(fields))), rng.random() < 0.35, top
    for i, f in enumerate(fields):
        base_y = y + s.label_px if label_h else y + (f.height + s.label_px) // 2
        put_text(img, f.label, left, base_y, s.label_px, s.font, s.text_ink)
        draw_entry(img, f, left + label_w, y + label_h, s)
        y += f.height + label_h + gap
        if rules and i < len(fields) - 1 and rng.random() < 0.4:
            img[y - gap // 2 : y - gap // 2 + max(1, s.rule - 1), left:right] = s.text_ink
    extras = ["rules"] if rules else []
    if bottom - y > px(30, s.dpi) and rng.random() < 0.5:
        draw_table(rng, img, s, (left, y, right, bottom))
        extras.append("table")
    return fields, target, extras


def draw_table(rng: np.random.Generator, img: np.ndarray, s: Style, box: Rect) -> None:
    """A grid with a header row, placed in the free space under the fields."""
    left, top, right, bottom = box
    cols, row_h, t = int(rng.integers(3, 6)), px(rng.uniform(7, 10), s.dpi), max(1, s.rule - 1)
    rows = int(min(rng.integers(3, 7), (bottom - top - t) // row_h))
    xs = np.linspace(left, right - t, cols + 1).astype(int)
    for r in range(rows + 1):
        img[top + r * row_h : top + r * row_h + t, left:right] = s.box_ink
    for x in xs:
        img[top : top + rows * row_h + t, x : x + t] = s.box_ink
    for c, head in enumerate(rng.permutation(TABLE_HEADS)[:cols]):
        put_text(img, str(head), xs[c] + px(2, s.dpi), top + (row_h + s.label_px) // 2, s.label_px, s.font, s.text_ink)


def make_paper(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Float RGB paper: a tint, soft mottling and fine grain."""
    base = np.float32(pick(rng, PAPER_RGB)) + rng.uniform(-4, 4, 3).astype(np.float32)
    coarse = rng.standard_normal((h // 64 + 2, w // 64 + 2)).astype(np.float32)
    lum = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) * np.float32(rng.uniform(0.3, 1.5))
    lum += rng.standard_normal((h, w), dtype=np.float32) * np.float32(rng.uniform(1.0, 3.5))
    return base + lum[..., None]


def pen_coverage(crop: np.ndarray, dh: int, pen_px: float) -> np.ndarray:
    """Ink coverage of an MNIST crop scaled to height dh with a margin, its strokes thinned or thickened towards
    pen_px and anti-aliased (drawn 4x larger, then area-averaged down)."""
    scale, ss, pad = dh / crop.shape[0], 4, 3
    margin = int(round(pad * scale)) + 1
    size = (int(round(crop.shape[1] * scale)) + 2 * margin, dh + 2 * margin)
    shift = (margin - pad * scale) * ss
    m = np.float32([[scale * ss, 0, shift], [0, scale * ss, shift]])
    big = cv2.warpAffine(np.pad(crop, pad).astype(np.float32) / 255, m, (size[0] * ss, size[1] * ss))
    ink = (big > 0.3).astype(np.uint8)
    inside = cv2.distanceTransform(ink, cv2.DIST_L2, 5) / ss
    stroke_px = 4 * float(inside[ink > 0].mean())  # mean depth of a stroke is about a quarter of its width
    grow = float(np.clip((pen_px - stroke_px) / 2, -0.2 * stroke_px, 1.0))  # thin gently: MNIST strokes vary
    if grow < 0:
        ink = (inside > -grow).astype(np.uint8)
    elif grow > 0:
        ink = (cv2.distanceTransform(1 - ink, cv2.DIST_L2, 5) / ss <= grow).astype(np.uint8)
    return cv2.resize(ink.astype(np.float32), size, interpolation=cv2.INTER_AREA)


def write_digit(rng: np.random.Generator, sheet: np.ndarray, digit: np.ndarray, cell: Rect, s: Style, comb: bool):
    """Composite an MNIST digit as pen ink into one box (comb cells have no top) of the float sheet; returns traits."""
    ix0, iy0, ix1, iy1 = cell[0] + s.rule, cell[1] + s.rule, cell[2] - s.rule, cell[3] - s.rule
    iw, ih = ix1 - ix0, iy1 - iy0
    ys, xs = np.nonzero(digit > 40)
    crop = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    ch, cw = crop.shape
    lo, hi = int(np.ceil(DIGIT_HEIGHT[0] * ih)) + 1, int(DIGIT_HEIGHT[1] * ih) - 1  # 1 px slack for rounding
    dh = int(np.clip(round(min(rng.uniform(*DIGIT_HEIGHT) * ih, 0.9 * (iw - 2) * ch / cw)), lo, hi))
    pen_mm = rng.uniform(*PEN_MM)
    cov = pen_coverage(crop, dh, pen_mm * s.dpi / 25.4)
    for _ in range(2):  # the pen changed the height a little: rescale the ink to dh (and to fit the width)
        ys, xs = np.nonzero(cov > 0.5)  # the ink's own box, which placement and touching refer to
        f = min(dh / (ys.max() + 1 - ys.min()), (iw - 2) / (xs.max() + 1 - xs.min()))
        cov = cv2.resize(cov, (round(cov.shape[1] * f), round(cov.shape[0] * f)), interpolation=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(cov > 0.5)
    bx, by, dw, dh = xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()
    traits = [f"digit={100 * dh / ih:.0f}%", f"pen={pen_mm:.1f}mm"]
    # Near the centre, 1 px clear of the rules so the anti-aliased edge does not touch them.
    x0 = np.clip(ix0 + (iw - dw) / 2 + rng.normal(0, 0.04 * iw), ix0 + 1, ix1 - dw - 1)
    y0 = np.clip(iy0 + (ih - dh) / 2 + rng.normal(0, 0.04 * ih), iy0 + 1, iy1 - dh - 1)
    if rng.random() < TOUCH_P:
        k = int(rng.integers(1, 5))
        side = pick(rng, ("left", "right", "bottom") + (() if comb else ("top",)))
        x0 = {"left": ix0 - k, "right": ix1 - dw + k}.get(side, x0)
        y0 = {"top": iy0 - k, "bottom": iy1 - dh + k}.get(side, y0)
        traits.append(f"touching={side}")
    elif rng.random() < OFFSET_P:  # anywhere inside
        x0, y0 = ix0 + 1 + rng.uniform(0, max(0, iw - dw - 2)), iy0 + 1 + rng.uniform(0, max(0, ih - dh - 2))
        traits.append("offset")
    px0, py0 = int(round(x0)) - bx, int(round(y0)) - by
    alpha = (cov * rng.uniform(0.85, 1.0))[..., None]
    patch = sheet[py0 : py0 + cov.shape[0], px0 : px0 + cov.shape[1]]
    patch[:] = patch * (1 - alpha) + np.float32(pick(rng, PEN_INKS)) * alpha
    return traits


def light_and_dust(rng: np.random.Generator, sheet: np.ndarray, traits: list[str]) -> None:
    """Illumination gradient, shadow band and dust specks, in place."""
    h, w = sheet.shape[:2]
    ys, xs = np.ogrid[0:h, 0:w]
    factor = np.ones((h, w), np.float32)
    if rng.random() < 0.4:
        a = rng.uniform(0, 2 * np.pi)
        t = (np.cos(a) * xs / w + np.sin(a) * ys / h).astype(np.float32)
        factor *= 1 - np.float32(rng.uniform(0.03, 0.12)) * (t - t.min()) / (t.max() - t.min() + 1e-6)
        traits.append("gradient")
    if rng.random() < 0.2:
        coord = (xs / w if rng.random() < 0.5 else ys / h).astype(np.float32)
        edge = rng.uniform(0.05, 0.25)
        rel = coord - edge if rng.random() < 0.5 else 1 - edge - coord  # shadow over one side of the sheet
        band = 1 / (1 + np.exp(rel / np.float32(rng.uniform(0.01, 0.04))))
        factor *= 1 - np.float32(rng.uniform(0.1, 0.3)) * band.astype(np.float32)
        traits.append("shadow")
    sheet *= factor[..., None]
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(2, 12))):
            grey = float(rng.uniform(40, 150))
            centre = (int(rng.integers(w)), int(rng.integers(h)))
            cv2.circle(sheet, centre, int(rng.integers(1, 4)), (grey, grey, grey), -1, cv2.LINE_AA)
        traits.append("dust")


def scan(rng: np.random.Generator, sheet: np.ndarray, traits: list[str]) -> np.ndarray:
    """Flatbed scan: slight optical blur, sometimes a small rotation, sometimes greyscale; uint8."""
    img = np.clip(cv2.GaussianBlur(sheet, (0, 0), rng.uniform(0.3, 0.7)), 0, 255).astype(np.uint8)
    if rng.random() < ROTATE_P:
        angle = rng.uniform(*ROTATE_DEG) * (1 if rng.random() < 0.5 else -1)  # clockwise if > 0
        h, w = img.shape[:2]
        lid = float(rng.uniform(225, 250) if rng.random() < 0.8 else rng.uniform(15, 40))  # white or black lid
        m = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
        img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(lid, lid, lid))
        traits.append(f"rotated={angle:+.1f}")
    if rng.random() < GREY_P:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        traits.append("grey")
    return img


def photo_corners(rng: np.random.Generator, sheet_hw: tuple[int, int], frame_hw: tuple[int, int]) -> np.ndarray:
    """Where the sheet's corners land in the photo: scaled, turned a little, skewed, and kept inside the frame."""
    (sh, sw), (fh, fw) = sheet_hw, frame_hw
    corners = np.float32([[-sw, -sh], [sw, -sh], [sw, sh], [-sw, sh]]) / 2
    corners += rng.uniform(-1, 1, (4, 2)).astype(np.float32) * np.float32(rng.uniform(0.01, 0.05)) * [sw, sh]
    a = np.deg2rad(rng.uniform(-4, 4))
    corners = corners @ np.float32([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    centre = np.float32([fw * (0.5 + rng.uniform(-0.03, 0.03)), fh * (0.5 + rng.uniform(-0.03, 0.03))])
    scale = rng.uniform(0.75, 0.92) * min(fh / sh, fw / sw)
    while True:
        dst = centre + corners * np.float32(scale)
        if (dst >= 0.01 * np.float32([fw, fh])).all() and (dst <= 0.99 * np.float32([fw, fh])).all():
            return dst
        scale *= 0.97


def desk_and_light(rng: np.random.Generator, dst: np.ndarray, h: int, w: int, cast: float):
    """Small (h, w) maps for a photo: the desk with the sheet's soft shadow (uint8 RGB; `dst` are the sheet's
    corners at this scale) and the light on the scene (vignetting, exposure, colour cast) as a per-channel gain."""
    coarse = rng.standard_normal((h // 16 + 2, w // 2 + 2)).astype(np.float32)  # streaky, like wood or cloth
    desk = np.float32(pick(rng, DESK_RGB)) * np.float32(rng.uniform(0.8, 1.15))
    desk = desk + (cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) * 7)[..., None]
    shadow = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(shadow, (dst + rng.uniform(0.5, 3, 2)).astype(np.int32), 1.0)
    desk *= 1 - 0.4 * cv2.GaussianBlur(shadow, (0, 0), 3)[..., None]
    ys, xs = np.ogrid[0:h, 0:w]
    r2 = ((xs / w - 0.5 - rng.uniform(-0.1, 0.1)) ** 2 + (ys / h - 0.5 - rng.uniform(-0.1, 0.1)) ** 2) * 2
    gain = (1 - rng.uniform(0.15, 0.4) * r2)[..., None] * rng.uniform(0.85, 1.05) * np.float32([1 + cast, 1, 1 - cast])
    return np.clip(desk, 0, 255).astype(np.uint8), gain.astype(np.float32)


def photograph(rng: np.random.Generator, sheet: np.ndarray, traits: list[str]) -> np.ndarray:
    """Phone photo: the sheet on a darker desk with perspective, vignetting, colour cast, blur and noise."""
    sheet_u8 = np.clip(sheet, 0, 255).astype(np.uint8)
    sh, sw = sheet_u8.shape[:2]
    long_px = int(rng.integers(PHOTO_LONG_PX[0], PHOTO_LONG_PX[1] + 1))
    fh, fw = (long_px, long_px * 3 // 4) if sh >= sw else (long_px * 3 // 4, long_px)
    dst = photo_corners(rng, (sh, sw), (fh, fw))
    cast = rng.uniform(0.02, 0.08) * (1 if rng.random() < 0.5 else -1)  # warm (> 0) or cool
    desk, gain = desk_and_light(rng, dst / 8, fh // 8, fw // 8, cast)  # smooth maps: drawn small, scaled up
    frame = cv2.resize(desk, (fw, fh), interpolation=cv2.INTER_LINEAR)
    m = cv2.getPerspectiveTransform(np.float32([[0, 0], [sw, 0], [sw, sh], [0, sh]]), dst)
    cv2.warpPerspective(sheet_u8, m, (fw, fh), dst=frame, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
    img = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.5, 1.5))
    gain_u8 = cv2.resize(np.clip(gain * 200, 0, 255).astype(np.uint8), (fw, fh), interpolation=cv2.INTER_LINEAR)
    img = cv2.multiply(img, gain_u8, scale=1 / 200)
    noise = rng.integers(-2, 3, (fh, fw), dtype=np.int8)
    noise += rng.integers(-2, 3, (fh, fw), dtype=np.int8)  # sensor noise, sd 2 grey levels
    traits.append(f"photo size={fw}x{fh} {'warm' if cast > 0 else 'cool'}")
    return cv2.add(img, cv2.merge([noise] * 3), dtype=cv2.CV_8U)


def encode(rng: np.random.Generator, img: np.ndarray, as_jpeg: bool, traits: list[str]) -> tuple[str, bytes]:
    """File extension and PNG or JPEG bytes of an RGB or grey image."""
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
    if as_jpeg:
        quality = int(rng.integers(JPEG_Q[0], JPEG_Q[1] + 1))
        traits.append(f"jpeg={quality}")
        ext, params = "jpg", [cv2.IMWRITE_JPEG_QUALITY, quality]
    else:
        traits.append("png")
        ext, params = "png", [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode(f".{ext}", bgr, params)
    if not ok:
        raise RuntimeError(f"could not encode a {ext} image")
    return ext, buf.tobytes()


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def render_one(index: int, seed: int, out_dir: str) -> tuple[str, str, str]:
    """Render sheet `index` of run `seed` into out_dir/forms/; returns (relative file, truth digit, traits)."""
    rng = np.random.default_rng([seed, index])
    x_train, y_train = training_digits()
    k = int(rng.integers(len(x_train)))
    paper, dpi = pick(rng, tuple(PAPERS_MM)), int(pick(rng, DPIS))
    w, h = px(PAPERS_MM[paper][0], dpi), px(PAPERS_MM[paper][1], dpi)
    traits = [paper, f"dpi={dpi}"]
    if rng.random() < LANDSCAPE_P:
        w, h = h, w
        traits.insert(1, "landscape")
    s, margin = choose_style(rng, dpi), px(rng.uniform(12, 22), dpi)
    printed = np.full((h, w, 3), 255, np.uint8)  # the printed form, multiplied onto the paper below
    top = draw_title(rng, printed, s, margin, w - margin, margin)
    fields, target, extras = draw_fields(rng, printed, s, (margin, top, w - margin, h - margin))
    if rng.random() < 0.3:
        inset = px(rng.uniform(4, 8), dpi)
        outline(printed, (margin - inset, margin - inset, w - margin + inset, h - margin + inset), s.rule, s.text_ink)
        extras.append("frame")
    cell = int(rng.integers(len(target.cells)))
    name = "box" if target.kind == "box" else f"{target.kind}{target.n}"
    traits += [f"fields={len(fields)}", f"target={name}", f"cell={cell}", f"box={s.side_mm:.1f}mm", f"rule={s.rule}"]
    sheet = make_paper(rng, h, w) * (printed.astype(np.float32) / np.float32(255))
    traits += extras + write_digit(rng, sheet, x_train[k], target.cells[cell], s, target.kind == "comb")
    light_and_dust(rng, sheet, traits)
    is_photo = rng.random() < PHOTO_P
    img = photograph(rng, sheet, traits) if is_photo else scan(rng, sheet, traits)
    ext, data = encode(rng, img, is_photo or rng.random() < SCAN_JPEG_P, traits)
    rel = f"forms/{index:04d}.{ext}"
    write_atomic(Path(out_dir) / rel, data)
    return rel, str(int(y_train[k])), " ".join(traits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render whole form sheets, each with one handwritten MNIST digit.")
    parser.add_argument("out_dir", help="folder for forms/ and truth.csv")
    parser.add_argument("--count", type=int, default=12, help="number of sheets (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="run seed; sheet i uses (seed, i)")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    rows = []
    for i in range(args.count):
        rows.append(render_one(i, args.seed, args.out_dir))
        print("  ".join(rows[-1]), flush=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "kind", "truth", "traits"])
    writer.writerows((rel, "forms", truth, traits) for rel, truth, traits in rows)
    write_atomic(Path(args.out_dir) / "truth.csv", out.getvalue().encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
