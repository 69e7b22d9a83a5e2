"""Probe renderer: scans and phone photos of paper that holds no digit at all.

Every image is a blank: a single form field or cell, a strip cut from a form, a whole A4/letter page scanned at
100-200 dpi, or a 12-megapixel phone photo of an empty sheet lying on a darker desk. Each one gets between one and
four everyday conditions drawn at random from: dust and specks, a hair or fibre, a scanner streak, a soft cast
shadow (edge, hand or phone shaped), a shading blob, a fold or crease, punch holes, staples, seams between pieces
of paper of different tones, ruled lines (with a red margin line at times), empty printed form boxes, printed
letter-only labels, bleed-through of writing from the back, pencil smudges or eraser marks, a coffee ring, a faint
stamp or ink blot, JPEG blockiness, blur, and a sheet turned 0.5-3 degrees on the scanner with the lid showing.
Nothing is ever shaped like a digit on purpose, so anything a digit reader reads off these images is a false
positive; truth.csv says which conditions each image carries, so the false positives can be traced to a cause.

This is a probe written apart from the reading pipeline: it imports nothing from the toolkit and shares no code
with the other renderers, so it does not inherit their notion of what a blank looks like.

Usage:
    python scripts/probe_blank_scans.py OUT_DIR [--count N] [--seed S]

Writes OUT_DIR/blanks/NNNN.png or .jpg and OUT_DIR/truth.csv (file,kind,truth,traits), with kind always
``blanks``, truth always empty and traits the size class, the conditions drawn and ``jpeg`` when saved as JPEG.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

KIND = "blanks"
# Conditions, in the order they are laid down on the paper (printing before marks, marks before lighting);
# rotate, streak, blur and blocky belong to the scanner or camera and are applied afterwards.
CONDITIONS = (
    "seam",
    "bleed",
    "ruled",
    "boxes",
    "text",
    "stamp",
    "coffee",
    "smudge",
    "fold",
    "blob",
    "punch",
    "staple",
    "hair",
    "dust",
    "shadow",
    "rotate",
    "streak",
    "blur",
    "blocky",
)
SCANNER_ONLY = frozenset({"rotate", "streak"})  # a phone photo has no scanner lid and no sensor line

LABELS = (
    "Name",
    "First name",
    "Surname",
    "Signature",
    "Date of birth",
    "Date",
    "Address",
    "City",
    "Country",
    "Email",
    "Phone",
    "Office use only",
    "Checked by",
    "Initials",
    "Remarks",
    "Class",
    "Grade",
    "Score",
    "Total",
    "Amount",
    "Reference",
    "Code",
    "Section",
    "Teacher",
    "Student",
    "Please print clearly",
    "Do not write here",
    "Day",
    "Month",
    "Year",
    "Comments",
    "Department",
    "Account",
    "Title",
    "Place of birth",
    "Nationality",
)
TITLES = (
    "Application Form",
    "Registration",
    "Enrolment Form",
    "Survey",
    "Order Form",
    "Answer Sheet",
    "Claim Form",
    "Attendance Record",
    "Examination",
)
STAMP_WORDS = ("RECEIVED", "PAID", "COPY", "APPROVED", "FILED", "CHECKED", "ORIGINAL", "VOID", "ENTERED")
for _word in LABELS + TITLES + STAMP_WORDS:  # the printed words must never carry a digit
    assert not any(ch.isdigit() for ch in _word), _word

FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
)
PAPER_MM = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
DROPOUT = ((150, 190, 235), (240, 165, 175), (165, 210, 175), (175, 175, 175), (235, 200, 140))
SUB = 16  # OpenCV drawing with shift=4: coordinates in 1/16 px


class Sheet:
    """The canvas being drawn: float32 H x W x C (C is 1 or 3, RGB), 0-255, and what it stands for."""

    def __init__(self, img: np.ndarray, size: str, ppmm: float) -> None:
        self.img = img
        self.size = size  # field, strip, page or photo
        self.ppmm = ppmm  # pixels per millimetre of paper
        self.alpha: np.ndarray | None = None  # photos only: where the sheet is (punch holes show the desk)

    @property
    def h(self) -> int:
        return self.img.shape[0]

    @property
    def w(self) -> int:
        return self.img.shape[1]

    @property
    def small(self) -> bool:
        return self.size in ("field", "strip")


# ----------------------------------------------------------------------------------------------------------------
# Small helpers


def _tone(img: np.ndarray, rgb) -> np.ndarray:
    c = np.asarray(rgb, np.float32).reshape(-1)
    if c.size == 1:
        c = np.repeat(c, 3)
    if img.shape[2] == 1:
        return np.array([0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]], np.float32)
    return c


def _pts(points) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * SUB).astype(np.int32)


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * SUB)), int(round(y * SUB))


def _ink(img, mask, color, strength=1.0, *, blur=0.0, mode="mul", at=(0, 0)) -> None:
    """Lay ``mask`` (uint8 0-255 or float 0-1, top-left at ``at``, may overhang) onto ``img``.

    mode "mul" multiplies the paper by the ink's transmittance (ink on paper); "lerp" replaces the paper by the
    colour (holes, opaque metal, lightening).
    """
    ox, oy = int(at[0]), int(at[1])
    mh, mw = mask.shape[:2]
    if mask.dtype == np.uint8:
        bx, by, bw, bh = cv2.boundingRect(mask)
        if bw == 0 or bh == 0:
            return
    else:
        bx, by, bw, bh = 0, 0, mw, mh
    pad = int(np.ceil(3 * blur)) + 1
    x0, y0 = max(bx - pad, 0), max(by - pad, 0)
    x1, y1 = min(bx + bw + pad, mw), min(by + bh + pad, mh)
    m = mask[y0:y1, x0:x1].astype(np.float32)
    if mask.dtype == np.uint8:
        m *= 1.0 / 255.0
    if blur > 0:
        m = cv2.GaussianBlur(m, (0, 0), blur)
    # clip to the image
    h, w = img.shape[:2]
    ix0, iy0 = max(ox + x0, 0), max(oy + y0, 0)
    ix1, iy1 = min(ox + x1, w), min(oy + y1, h)
    if ix1 <= ix0 or iy1 <= iy0:
        return
    m = m[iy0 - oy - y0 : iy1 - oy - y0, ix0 - ox - x0 : ix1 - ox - x0]
    m = (m * strength)[..., None]
    region = img[iy0:iy1, ix0:ix1]
    col = _tone(img, color)
    if mode == "mul":
        region *= 1.0 - m * (1.0 - col / 255.0)
    else:
        region += (col - region) * m


def _lowres(h: int, w: int, cap: int = 320) -> tuple[int, int]:
    f = min(1.0, cap / max(h, w))
    return max(2, round(h * f)), max(2, round(w * f))


def _smooth_noise(rng, h: int, w: int, cells: float) -> np.ndarray:
    """Zero-mean, unit-ish smooth noise with about ``cells`` blobs along the longer side."""
    gh = max(2, int(round(cells * h / max(h, w))) + 1)
    gw = max(2, int(round(cells * w / max(h, w))) + 1)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    return x, y


def _dark_rgb(rng, lo=0.0, hi=70.0):
    v = rng.uniform(lo, hi)
    return (v + rng.uniform(-6, 6), v + rng.uniform(-6, 6), v + rng.uniform(-6, 10))


def _paper_tone(rng) -> float:
    return float(250.0 - 100.0 * rng.beta(1.2, 3.0))


def _paper(rng, h: int, w: int, channels: int, tone: float) -> np.ndarray:
    """Blank paper: a tone with a colour cast, uneven light, cloudy fibre and low-frequency blotches."""
    base = np.full(3, tone, np.float32)
    if channels == 3:
        warm = rng.normal(0.0, 3.0)
        base += np.array([warm, 0.3 * warm, -1.2 * warm], np.float32) + rng.normal(0.0, 1.5, 3).astype(np.float32)
    else:
        base = _tone(np.zeros((1, 1, 1)), base)
    lh, lw = _lowres(h, w, 256)
    x, y = _grid(lh, lw)
    ang = rng.uniform(0, 2 * np.pi)
    light = 1.0 + rng.uniform(0.0, 0.10) * ((x / lw - 0.5) * np.cos(ang) + (y / lh - 0.5) * np.sin(ang))
    light += rng.uniform(0.002, 0.012) * _smooth_noise(rng, lh, lw, rng.uniform(3, 9))
    light = cv2.resize(light.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    th, tw = max(2, h // 3), max(2, w // 3)
    fibre = cv2.resize(rng.standard_normal((th, tw)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    light += rng.uniform(0.003, 0.012) * fibre
    return light[..., None] * base[None, None, :]


def _wander(rng, start, length: float, curl: float = 1.0, step: float = 1.0) -> np.ndarray:
    """A smooth random curve of the given length: a hair, a fibre, a streak of graphite."""
    n = max(int(length / step), 3)
    s = np.arange(n) * step
    kappa = rng.normal(0.0, 1.5 / length) * curl + np.zeros(n)
    for _ in range(3):
        period = rng.uniform(0.3, 1.5) * length
        kappa += rng.normal(0.0, 3.0 / length) * curl * np.sin(2 * np.pi * s / period + rng.uniform(0, 2 * np.pi))
    theta = rng.uniform(0, 2 * np.pi) + np.cumsum(kappa * step)
    pts = np.stack([np.cos(theta), np.sin(theta)], axis=1) * step
    return np.asarray(start, np.float64) + np.cumsum(pts, axis=0)


def _rot(points, cx: float, cy: float, deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    p = np.asarray(points, np.float64) - (cx, cy)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return p @ r.T + (cx, cy)


def _side_point(side: int, inward: float, across: float, h: int, w: int) -> tuple[float, float, float]:
    """Point ``inward`` (fraction) in from one image side, ``across`` along it; and the inward direction."""
    if side == 0:
        return inward * w, across * h, 0.0
    if side == 1:
        return (1 - inward) * w, across * h, np.pi
    if side == 2:
        return across * w, inward * h, np.pi / 2
    return across * w, (1 - inward) * h, -np.pi / 2


# ----------------------------------------------------------------------------------------------------------------
# Conditions


def draw_dust(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    mask = np.zeros((h, w), np.uint8)
    if sh.small:
        n, clumps = int(rng.integers(1, 10)), int(rng.random() < 0.4)
    else:
        area = h * w / sh.ppmm**2 / 62370.0  # in A4 sheets
        n, clumps = int(area * rng.uniform(15, 300)), int(rng.integers(0, 5))
    pts = [rng.uniform((0, 0), (w, h)) for _ in range(n)]
    for _ in range(clumps):
        c = rng.uniform((0.1 * w, 0.1 * h), (0.9 * w, 0.9 * h))
        spread = rng.uniform(1.5, 8.0)
        pts += [c + rng.normal(0, spread, 2) for _ in range(int(rng.integers(4, 22)))]
    for x, y in pts:
        v = int(rng.uniform(90, 255))
        r = rng.uniform(0.5, 2.0)
        if rng.random() < 0.12:  # a short bit of lint
            ang, ln = rng.uniform(0, np.pi), rng.uniform(2, 6)
            d = np.array([np.cos(ang), np.sin(ang)]) * ln / 2
            cv2.line(mask, _pt(x - d[0], y - d[1]), _pt(x + d[0], y + d[1]), v, 1, cv2.LINE_AA, 4)
        elif r < 0.75:
            xi, yi = int(x), int(y)
            if 0 <= xi < w and 0 <= yi < h:
                mask[yi, xi] = max(mask[yi, xi], v)
        else:
            axes = (int(r * SUB), int(r * rng.uniform(0.55, 1.0) * SUB))
            cv2.ellipse(mask, _pt(x, y), axes, rng.uniform(0, 180), 0, 360, v, -1, cv2.LINE_AA, 4)
    _ink(sh.img, mask, _dark_rgb(rng, 5, 70), rng.uniform(0.55, 1.0), blur=rng.uniform(0.3, 0.6))


def draw_hair(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    n = 1 if sh.small or rng.random() < 0.6 else int(rng.integers(2, 4))
    for _ in range(n):
        length = rng.uniform(20, 200)
        if sh.small:
            start = rng.uniform((-0.2 * w, -0.2 * h), (1.2 * w, 1.2 * h))
            # aim it across the crop so that it shows
            path = _wander(rng, (0, 0), length, curl=rng.uniform(0.3, 1.5))
            path += np.array([w / 2, h / 2]) - path[len(path) // 2] + rng.normal(0, 0.25, 2) * (w, h)
        else:
            start = rng.uniform((0, 0), (w, h))
            path = _wander(rng, start, length, curl=rng.uniform(0.3, 2.0))
        mask = np.zeros((h, w), np.uint8)
        fibre = rng.random() < 0.35
        thick = 1 if fibre or rng.random() < 0.7 else 2
        cv2.polylines(mask, [_pts(path)], False, 255, thick, cv2.LINE_AA, 4)
        if fibre:
            color = rng.choice([(70, 90, 150), (150, 150, 150), (150, 60, 60), (90, 90, 90)]) + rng.normal(0, 10, 3)
            strength = rng.uniform(0.3, 0.7)
        else:
            color, strength = _dark_rgb(rng, 10, 80), rng.uniform(0.6, 1.0)
        _ink(sh.img, mask, color, strength, blur=float(rng.choice([0.0, 0.4, 0.7])))


def draw_streak(rng, sh: Sheet) -> None:
    n = 1 if rng.random() < 0.75 else int(rng.integers(2, 4))
    for _ in range(n):
        vertical = rng.random() < 0.7
        view = sh.img if vertical else sh.img.transpose(1, 0, 2)
        length, across = view.shape[0], view.shape[1]
        pos = rng.uniform(0.1, 0.9) * across if sh.small else rng.uniform(0, across)
        width = rng.uniform(0.8, 3.0)
        amp = rng.uniform(5, 35) * (-1 if rng.random() < 0.7 else 1)
        a, b = 0, length
        if rng.random() < 0.4:
            a = int(rng.uniform(0, 0.6) * length)
            b = int(a + rng.uniform(0.3, 1.0) * (length - a))
        lo, hi = pos - width / 2, pos + width / 2
        cols = np.arange(max(int(np.floor(lo)), 0), min(int(np.ceil(hi)) + 1, across))
        if cols.size == 0 or b - a < 2:
            continue
        cover = np.clip(np.minimum(cols + 1, hi) - np.maximum(cols, lo), 0, 1).astype(np.float32)
        along = 1.0 + 0.3 * _smooth_noise(rng, b - a, 1, rng.uniform(2, 12))[:, 0]
        ramp = np.minimum(1.0, np.minimum(np.arange(b - a), np.arange(b - a)[::-1]) / 4.0 + 0.25)
        if a == 0:
            ramp[: (b - a) // 2] = 1.0
        if b == length:
            ramp[(b - a) // 2 :] = 1.0
        gains = np.ones(view.shape[2], np.float32)
        if view.shape[2] == 3 and rng.random() < 0.3:
            gains = rng.uniform(0.1, 1.0, 3).astype(np.float32)
        delta = amp * (along * ramp)[:, None, None] * cover[None, :, None] * gains[None, None, :]
        view[a:b, cols[0] : cols[-1] + 1] += delta.astype(np.float32)


def _shadow_shape(rng, lh: int, lw: int, kinds) -> np.ndarray:
    kind = str(rng.choice(kinds))
    dim = min(lh, lw)
    side = int(rng.integers(4))
    if kind == "edge":
        x, y = _grid(lh, lw)
        u, v = x / lw, y / lh
        inward, across = [(u, v), (1 - u, v), (v, u), (1 - v, u)][side]
        depth = rng.uniform(0.08, 0.55)
        m = (inward < depth + np.tan(rng.normal(0, 0.3)) * (across - 0.5)).astype(np.float32)
        sigma = rng.uniform(0.01, 0.12) * dim
    else:
        m8 = np.zeros((lh, lw), np.uint8)
        cx, cy, ang = _side_point(side, rng.uniform(-0.15, 0.2), rng.uniform(0.2, 0.8), lh, lw)
        ang += rng.normal(0, 0.4)
        scale = rng.uniform(0.7, 1.4)
        if kind == "hand":
            pr = 0.2 * dim * scale
            cv2.ellipse(m8, (int(cx), int(cy)), (int(pr * 1.1), int(pr)), np.rad2deg(ang), 0, 360, 255, -1)
            spread = rng.uniform(0.15, 0.3)
            for k, off in enumerate((-1.5, -0.5, 0.5, 1.5)):
                fa = ang + off * spread
                fl = dim * rng.uniform(0.18, 0.3) * scale * (0.8 if k in (0, 3) else 1.0)
                fx, fy = cx + np.cos(fa) * (pr + fl / 2), cy + np.sin(fa) * (pr + fl / 2)
                axes = (int(fl / 2), max(1, int(dim * 0.035 * scale)))
                cv2.ellipse(m8, (int(fx), int(fy)), axes, np.rad2deg(fa), 0, 360, 255, -1)
            ta = ang + rng.choice([-1, 1]) * rng.uniform(0.9, 1.3)
            tl = dim * 0.16 * scale
            tx, ty = cx + np.cos(ta) * (pr + tl / 3), cy + np.sin(ta) * (pr + tl / 3)
            axes = (int(tl / 2), max(1, int(dim * 0.04 * scale)))
            cv2.ellipse(m8, (int(tx), int(ty)), axes, np.rad2deg(ta), 0, 360, 255, -1)
        else:  # a phone held over the sheet
            size = (dim * rng.uniform(0.25, 0.4) * scale, dim * rng.uniform(0.5, 0.8) * scale)
            box = cv2.boxPoints(((cx, cy), size, np.rad2deg(ang) + 90 + rng.normal(0, 15)))
            cv2.fillPoly(m8, [np.round(box).astype(np.int32)], 255)
        m = m8.astype(np.float32) / 255.0
        sigma = rng.uniform(0.02, 0.08) * dim
    return cv2.GaussianBlur(m, (0, 0), max(sigma, 0.6))


def _darken_field(img: np.ndarray, low: np.ndarray, strength: float, tint=(1.0, 1.0, 1.0)) -> None:
    up = cv2.resize(low, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR) * strength
    if img.shape[2] == 1:
        img *= (1.0 - up)[..., None]
        return
    for c in range(3):
        img[..., c] *= 1.0 - np.clip(up * tint[c], 0, 0.95)


def draw_shadow(rng, sh: Sheet) -> None:
    lh, lw = _lowres(sh.h, sh.w)
    kinds = ("edge", "edge", "hand", "phone") if sh.size != "photo" else ("edge", "hand", "hand", "phone")
    m = _shadow_shape(rng, lh, lw, kinds)
    tint = (1.06, 1.0, 0.9) if rng.random() < 0.6 else (1.0, 1.0, 1.0)
    _darken_field(sh.img, m, rng.uniform(0.12, 0.45), tint)


def draw_blob(rng, sh: Sheet) -> None:
    lh, lw = _lowres(sh.h, sh.w)
    m8 = np.zeros((lh, lw), np.uint8)
    dim = min(lh, lw)
    size = 0.0
    for _ in range(int(rng.integers(1, 4))):
        c = rng.uniform((0.05 * lw, 0.05 * lh), (0.95 * lw, 0.95 * lh))
        ax = rng.uniform(0.08, 0.4, 2) * (dim if not sh.small else (lw, lh))
        size = max(size, float(ax.mean()))
        cv2.ellipse(m8, (int(c[0]), int(c[1])), (int(ax[0]) + 1, int(ax[1]) + 1), rng.uniform(0, 180), 0, 360, 255, -1)
    m = cv2.GaussianBlur(m8.astype(np.float32) / 255.0, (0, 0), max(0.6, size * rng.uniform(0.3, 0.7)))
    m = cv2.resize(m, (sh.w, sh.h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:  # yellowed with age or a damp patch
        _ink(sh.img, m, (150, 120, 60), rng.uniform(0.1, 0.4))
    else:
        _ink(sh.img, m, (0, 0, 0), rng.uniform(0.05, 0.25))


def draw_fold(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    x, y = _grid(h, w)
    n = 1 if rng.random() < 0.8 or sh.small else 2
    kind = "small" if sh.small else str(rng.choice(["across", "across", "along", "corner"]))
    frac = [rng.choice([1 / 2, 1 / 3, 2 / 3])] if n == 1 else [1 / 3, 2 / 3]
    corner = rng.integers(4)
    for f in frac:
        if kind == "small":
            x0, y0 = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
            ang = rng.uniform(0, np.pi)
        elif kind == "across":
            x0, y0, ang = w / 2, (f + rng.normal(0, 0.02)) * h, np.deg2rad(rng.normal(0, 1.0))
        elif kind == "along":
            x0, y0, ang = (f + rng.normal(0, 0.02)) * w, h / 2, np.pi / 2 + np.deg2rad(rng.normal(0, 1.0))
        else:
            a, b = rng.uniform(0.05, 0.3) * min(h, w), rng.uniform(0.05, 0.3) * min(h, w)
            cx, cy = (0 if corner % 2 == 0 else w), (0 if corner < 2 else h)
            sx, sy = (1 if cx == 0 else -1), (1 if cy == 0 else -1)
            x0, y0 = cx + sx * a / 2, cy + sy * b / 2
            ang = np.arctan2(sy * b, -sx * a)
        ux, uy = np.cos(ang), np.sin(ang)
        ref = max(h, w) / 2
        t = (x - x0) * ux + (y - y0) * uy
        d = (x - x0) * -uy + (y - y0) * ux
        if rng.random() < 0.4:
            d = d + rng.normal(0, 0.015) * ref * (t / ref) ** 2
        wid = rng.uniform(1.0, 4.0) * max(sh.ppmm / 6.0, 0.7)
        g = d / wid
        a_amp = rng.uniform(0.04, 0.14) * rng.choice([-1, 1])
        f_mul = 1.0 - a_amp * 1.65 * g * np.exp(-0.5 * g * g)
        crease = rng.uniform(0.0, 0.14)
        if crease > 0.03:
            f_mul -= crease * np.exp(-((d / rng.uniform(0.6, 1.2)) ** 2))
        f_mul += rng.uniform(0.0, 0.035) * rng.choice([-1, 1]) * np.tanh(d / (wid * rng.uniform(8, 30)))
        sh.img *= f_mul.astype(np.float32)[..., None]


def draw_punch(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    r = sh.ppmm * rng.uniform(2.6, 3.3)
    centres = []
    if sh.small:
        side = int(rng.integers(4))
        inward = rng.uniform(-0.6, 1.4) * r
        across = rng.uniform(0.15, 0.85)
        cx, cy, _ = _side_point(side, 0, across, h, w)
        dx, dy = [(1, 0), (-1, 0), (0, 1), (0, -1)][side]
        centres.append((cx + dx * inward, cy + dy * inward))
    else:
        side = int(rng.choice([0, 0, 0, 2, 2, 1]))
        n = int(rng.choice([2, 2, 3, 4]))
        spacing = (108.0 if n == 3 else 80.0) * sh.ppmm
        edge = rng.uniform(9, 14) * sh.ppmm
        run = w if side in (2, 3) else h
        mid = run / 2 + rng.normal(0, 4) * sh.ppmm
        for k in range(n):
            along = mid + (k - (n - 1) / 2) * spacing
            cx, cy, _ = _side_point(side, 0, along / run, h, w)
            dx, dy = [(1, 0), (-1, 0), (0, 1), (0, -1)][side]
            centres.append((cx + dx * edge, cy + dy * edge))
    mask = np.zeros((h, w), np.uint8)
    for cx, cy in centres:
        cv2.circle(mask, _pt(cx, cy), int(r * SUB), 255, -1, cv2.LINE_AA, 4)
    if sh.alpha is not None:  # a photo: the desk shows through
        sh.alpha *= 1.0 - mask.astype(np.float32) / 255.0
        return
    dark = rng.random() < 0.55
    if dark:
        color = (rng.uniform(8, 60),) * 3
    else:
        color = (rng.uniform(225, 252),) * 3
    _ink(sh.img, mask, color, 1.0, mode="lerp")
    # the hole's wall throws a thin crescent of shadow onto the lid (or catches light on a black lid)
    off = rng.normal(0, 1.2, 2)
    ring = np.zeros((h, w), np.uint8)
    for cx, cy in centres:
        cv2.circle(ring, _pt(cx + off[0], cy + off[1]), int(r * SUB), 255, -1, cv2.LINE_AA, 4)
    ring = cv2.subtract(mask, ring)
    if dark:
        _ink(sh.img, ring, (120, 120, 120), rng.uniform(0.2, 0.5), blur=0.6, mode="lerp")
    else:
        _ink(sh.img, ring, (60, 60, 60), rng.uniform(0.2, 0.5), blur=0.8)


def draw_staple(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    n = 1 if sh.small or rng.random() < 0.75 else 2
    length = rng.uniform(10, 13) * sh.ppmm
    thick = max(1.0, rng.uniform(0.35, 0.65) * sh.ppmm)
    removed = rng.random() < 0.2
    if sh.small:
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        ang = rng.uniform(0, 180)
    else:
        corner = 0 if rng.random() < 0.7 else int(rng.integers(1, 4))
        ox, oy = rng.uniform(6, 16, 2) * sh.ppmm
        cx = ox if corner in (0, 2) else w - ox
        cy = oy if corner in (0, 1) else h - oy
        ang = float(rng.choice([0, 45, 90, 135])) + rng.normal(0, 8)
    for k in range(n):
        a = np.deg2rad(ang)
        d = np.array([np.cos(a), np.sin(a)]) * length / 2
        nrm = np.array([-np.sin(a), np.cos(a)])
        c = np.array([cx, cy]) + (k * rng.uniform(10, 20) * sh.ppmm) * nrm
        p0, p1 = c - d, c + d
        if removed:  # only the two holes and a dent remain
            mask = np.zeros((h, w), np.uint8)
            for p in (p0, p1):
                cv2.circle(mask, _pt(*p), int(max(0.6, thick * 0.4) * SUB), 255, -1, cv2.LINE_AA, 4)
            _ink(sh.img, mask, (40, 40, 40), rng.uniform(0.6, 0.95))
            dent = np.zeros((h, w), np.uint8)
            cv2.line(dent, _pt(*p0), _pt(*p1), 255, 1, cv2.LINE_AA, 4)
            _ink(sh.img, dent, (90, 90, 90), rng.uniform(0.05, 0.15), blur=0.8)
            continue
        shadow = np.zeros((h, w), np.uint8)
        so = nrm * rng.uniform(0.8, 2.0)
        cv2.line(shadow, _pt(*(p0 + so)), _pt(*(p1 + so)), 255, int(round(thick)) + 1, cv2.LINE_AA, 4)
        _ink(sh.img, shadow, (60, 60, 60), rng.uniform(0.2, 0.45), blur=1.2)
        bar = np.zeros((h, w), np.uint8)
        cv2.line(bar, _pt(*p0), _pt(*p1), 255, max(1, int(round(thick))), cv2.LINE_AA, 4)
        for p in (p0, p1):
            cv2.circle(bar, _pt(*p), int(thick * 0.65 * SUB), 255, -1, cv2.LINE_AA, 4)
        _ink(sh.img, bar, _dark_rgb(rng, 40, 100), rng.uniform(0.85, 1.0), mode="lerp")
        if thick >= 2:
            hi = np.zeros((h, w), np.uint8)
            ho = -nrm * thick * 0.2
            cv2.line(hi, _pt(*(p0 + d * 0.1 + ho)), _pt(*(p1 - d * 0.1 + ho)), 255, 1, cv2.LINE_AA, 4)
            _ink(sh.img, hi, (215, 215, 220), rng.uniform(0.3, 0.6), mode="lerp")


def draw_seam(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    x, y = _grid(h, w)
    vertical = rng.random() < 0.5
    n = 1 if rng.random() < 0.65 else 2
    spots = (
        np.sort(rng.uniform(0.2, 0.8, n)) if n == 1 else np.array([rng.uniform(0.15, 0.45), rng.uniform(0.55, 0.85)])
    )
    max_tilt = 3.0 if sh.small else 0.6
    ch = sh.img.shape[2]
    prev = np.ones(ch, np.float32)
    for s in spots:
        tilt = np.deg2rad(rng.uniform(-max_tilt, max_tilt))
        if vertical:
            d = (x - s * w) * np.cos(tilt) - (y - h / 2) * np.sin(tilt)
        else:
            d = (y - s * h) * np.cos(tilt) - (x - w / 2) * np.sin(tilt)
        step = np.clip(d + 0.5, 0.0, 1.0)
        f = 1.0 + rng.choice([-1, 1]) * rng.uniform(0.03, 0.14)
        tone = np.full(ch, f, np.float32)
        if ch == 3:
            tone *= 1.0 + rng.normal(0, 0.015, 3).astype(np.float32)
        for c in range(ch):
            sh.img[..., c] *= 1.0 + step * (tone[c] / prev[c] - 1.0)
        prev = tone
        line = rng.random()
        if line < 0.45:  # glue line or cut edge: a thin darker line
            prof = np.exp(-((d / rng.uniform(0.5, 1.2)) ** 2)) * rng.uniform(0.1, 0.45)
            sh.img *= (1.0 - prof)[..., None]
        elif line < 0.6:  # a hair of gap showing the lid
            prof = np.exp(-((d / rng.uniform(0.4, 0.9)) ** 2)) * rng.uniform(0.2, 0.6)
            sh.img += (250.0 - sh.img) * prof[..., None]
        elif line < 0.85:  # the upper sheet's edge throws a little shadow onto the lower one
            sgn = rng.choice([-1, 1])
            prof = np.where(sgn * d > 0, np.exp(-np.abs(d) / rng.uniform(1.5, 6.0)), 0.0) * rng.uniform(0.08, 0.3)
            sh.img *= (1.0 - prof.astype(np.float32))[..., None]


def draw_ruled(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    sp = rng.uniform(25, 60)
    thick = 1 if rng.random() < 0.7 else 2
    if rng.random() < 0.6:
        color = (rng.uniform(110, 175), rng.uniform(155, 205), rng.uniform(210, 245))
    else:
        color = (rng.uniform(120, 200),) * 3
    slope = np.tan(np.deg2rad(rng.normal(0, 0.25)))
    first = rng.uniform(0, sp) if sh.small else rng.uniform(15, 40) * sh.ppmm
    mask = np.zeros((h, w), np.uint8)
    yk = first
    while yk < h + abs(slope) * w + sp:
        cv2.line(
            mask, _pt(-5, yk - slope * (w / 2 + 5)), _pt(w + 5, yk + slope * (w / 2 + 5)), 255, thick, cv2.LINE_AA, 4
        )
        yk += sp
    _ink(sh.img, mask, color, rng.uniform(0.45, 0.95), blur=float(rng.choice([0.0, 0.4])))
    if rng.random() < 0.4:
        xm = rng.uniform(0.1, 0.9) * w if sh.small else rng.uniform(22, 35) * sh.ppmm
        red = np.zeros((h, w), np.uint8)
        lines = [xm] if rng.random() < 0.7 else [xm, xm + rng.uniform(3, 5)]
        for xl in lines:
            cv2.line(
                red, _pt(xl, -5), _pt(xl + rng.normal(0, 0.5), h + 5), 255, int(rng.integers(1, 3)), cv2.LINE_AA, 4
            )
        red_color = (rng.uniform(200, 235), rng.uniform(70, 130), rng.uniform(80, 140))
        _ink(sh.img, red, red_color, rng.uniform(0.5, 0.95))


def _box_row(mask, cx, cy, cw, ch, n, style, angle, thick, gap) -> None:
    total = n * cw + (n - 1) * gap
    left, top = cx - total / 2, cy - ch / 2
    polys: list[tuple[np.ndarray, bool]] = []
    if style == "grid":
        polys.append((np.array([[left, top], [left + total, top], [left + total, top + ch], [left, top + ch]]), True))
        for k in range(1, n):
            xk = left + k * cw
            polys.append((np.array([[xk, top], [xk, top + ch]]), False))
    elif style == "separate":
        for k in range(n):
            x0 = left + k * (cw + gap)
            polys.append((np.array([[x0, top], [x0 + cw, top], [x0 + cw, top + ch], [x0, top + ch]]), True))
    else:  # comb: a baseline with ticks
        polys.append((np.array([[left, top + ch], [left + total, top + ch]]), False))
        tick = ch * 0.35
        for k in range(n + 1):
            xk = left + k * cw
            polys.append((np.array([[xk, top + ch - tick], [xk, top + ch]]), False))
    for p, closed in polys:
        cv2.polylines(mask, [_pts(_rot(p, cx, cy, angle))], closed, 255, thick, cv2.LINE_AA, 4)


def draw_boxes(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    mask = np.zeros((h, w), np.uint8)
    thick = int(rng.choice([1, 1, 2, 3]))

    def angle() -> float:
        return float(rng.uniform(1, 5) * rng.choice([-1, 1])) if rng.random() < 0.35 else float(rng.normal(0, 0.2))

    if sh.size == "field":
        if rng.random() < 0.7:
            ml, mr = rng.uniform(-0.12, 0.22, 2) * w
            mt, mb = rng.uniform(-0.12, 0.22, 2) * h
            bw, bh = w - ml - mr, h - mt - mb
            _box_row(mask, ml + bw / 2, mt + bh / 2, bw, bh, 1, "grid", angle(), thick, 0)
        else:
            cw = w * rng.uniform(0.6, 1.0)
            style = str(rng.choice(["grid", "separate", "comb"]))
            cx = w / 2 + rng.normal(0, 0.1) * w
            _box_row(
                mask,
                cx,
                h / 2 + rng.normal(0, 0.08) * h,
                cw,
                h * rng.uniform(0.6, 1.05),
                3,
                style,
                angle(),
                thick,
                cw * rng.uniform(0.1, 0.3),
            )
    elif sh.size == "strip":
        n = int(rng.integers(2, 9))
        ch = h * rng.uniform(0.5, 0.95)
        cw = ch * rng.uniform(0.7, 1.25)
        style = str(rng.choice(["grid", "grid", "separate", "comb"]))
        gap = cw * rng.uniform(0.08, 0.35)
        total = n * cw + (n - 1) * gap
        cx = rng.uniform(min(total / 2, w / 2), max(w - total / 2, w / 2)) + rng.normal(0, 0.1) * w
        _box_row(mask, cx, h / 2 + rng.normal(0, 0.06) * h, cw, ch, n, style, angle(), thick, gap)
    else:
        for _ in range(int(rng.integers(1, 7))):
            n = int(rng.choice([1, 1, 2, 3, 4, 6, 8]))
            ch = rng.uniform(6, 12) * sh.ppmm
            cw = ch * rng.uniform(0.75, 1.3)
            gap = cw * rng.uniform(0.1, 0.4)
            style = str(rng.choice(["grid", "grid", "separate", "comb"]))
            total = n * cw + (n - 1) * gap
            cx = rng.uniform(min(total / 2 + 15 * sh.ppmm, w / 2), max(w - total / 2 - 15 * sh.ppmm, w / 2))
            cy = rng.uniform(0.08, 0.92) * h
            _box_row(mask, cx, cy, cw, ch, n, style, angle(), thick, gap)
    if rng.random() < 0.6:
        color, strength = _dark_rgb(rng, 0, 80), rng.uniform(0.7, 1.0)
    else:
        color, strength = DROPOUT[int(rng.integers(len(DROPOUT)))], rng.uniform(0.6, 1.0)
    _ink(sh.img, mask, color, strength, blur=float(rng.choice([0.0, 0.0, 0.5])))


def _put_label(mask, rng, text: str, x: float, y: float, cap: float, thick: int | None = None) -> float:
    """Print ``text`` with its baseline at y, capital height ``cap`` px; return the width drawn."""
    font = int(FONTS[int(rng.integers(len(FONTS)))]) | (cv2.FONT_ITALIC if rng.random() < 0.1 else 0)
    (_, h1), _ = cv2.getTextSize("H", font, 1.0, 1)
    scale = cap / max(h1, 1)
    if thick is None:
        thick = 1 if cap < 18 or rng.random() < 0.6 else 2
    (tw, _), _ = cv2.getTextSize(text, font, scale, thick)
    cv2.putText(mask, text, (int(round(x)), int(round(y))), font, scale, 255, thick, cv2.LINE_AA)
    return float(tw)


def draw_text(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    mask = np.zeros((h, w), np.uint8)
    word = LABELS[int(rng.integers(len(LABELS)))]
    if sh.size == "field":
        cap = rng.uniform(6, 14)
        where = rng.random()
        if where < 0.7:  # a label in the top-left corner, sometimes cut by the crop
            _put_label(mask, rng, word, rng.uniform(-0.15, 0.12) * w, cap + rng.uniform(-0.5, 0.3) * cap + 2, cap)
        else:  # a caption under a signature line
            yb = h - rng.uniform(2, 6)
            _put_label(mask, rng, word, rng.uniform(0.02, 0.3) * w, yb, cap)
            ly = yb - cap - rng.uniform(3, 8)
            cv2.line(mask, _pt(-2, ly), _pt(w + 2, ly), 255, 1, cv2.LINE_AA, 4)
    elif sh.size == "strip":
        cap = rng.uniform(7, min(20, 0.3 * h))
        if rng.random() < 0.6:  # a label at the left, the field following it
            yb = h / 2 + cap / 2 + rng.normal(0, 0.1) * h
            tw = _put_label(mask, rng, word + (":" if rng.random() < 0.5 else ""), rng.uniform(2, 12), yb, cap)
            if rng.random() < 0.6:
                ly = yb + rng.uniform(1, 4)
                _dotted_or_solid(mask, rng, tw + rng.uniform(8, 20), w + 2, ly)
        else:  # a label along the top
            _put_label(mask, rng, word, rng.uniform(-0.05, 0.2) * w, cap + rng.uniform(1, 8), cap)
    else:
        margin = rng.uniform(15, 25) * sh.ppmm
        top = rng.uniform(15, 30) * sh.ppmm
        if rng.random() < 0.5:
            title = TITLES[int(rng.integers(len(TITLES)))]
            cap = rng.uniform(4, 7) * sh.ppmm
            _put_label(mask, rng, title, w / 2 - rng.uniform(0.1, 0.3) * w, top, cap, thick=max(1, int(cap / 12)))
            top += cap + rng.uniform(10, 20) * sh.ppmm
        cap = rng.uniform(2.2, 3.6) * sh.ppmm
        pitch = rng.uniform(9, 22) * sh.ppmm
        lines = rng.random() < 0.5
        n = int(rng.integers(2, 11))
        picks = rng.choice(len(LABELS), size=min(n, len(LABELS)), replace=False)
        y = top
        for k in picks:
            if y > h - 15 * sh.ppmm:
                break
            tw = _put_label(mask, rng, LABELS[int(k)] + (":" if rng.random() < 0.4 else ""), margin, y, cap)
            if lines:
                _dotted_or_solid(mask, rng, margin + tw + 3 * sh.ppmm, w - margin, y + 1)
            y += pitch
    if rng.random() < 0.8:
        color, strength = _dark_rgb(rng, 0, 70), rng.uniform(0.75, 1.0)
    else:
        color, strength = DROPOUT[int(rng.integers(len(DROPOUT)))], rng.uniform(0.7, 1.0)
    _ink(sh.img, mask, color, strength, blur=float(rng.choice([0.0, 0.0, 0.45])))


def _dotted_or_solid(mask, rng, x0: float, x1: float, y: float) -> None:
    if x1 <= x0:
        return
    if rng.random() < 0.6:
        cv2.line(mask, _pt(x0, y), _pt(x1, y), 255, 1, cv2.LINE_AA, 4)
        return
    pitch = rng.uniform(3, 6)
    for xd in np.arange(x0, x1, pitch):
        cv2.circle(mask, _pt(xd, y), int(0.7 * SUB), 255, -1, cv2.LINE_AA, 4)


def _cursive(rng, x0: float, y0: float, width: float, xh: float) -> list[np.ndarray]:
    """Loopy pen strokes in the rhythm of running handwriting; no letter or numeral in particular."""
    strokes = []
    x = x0
    slant = np.tan(np.deg2rad(rng.uniform(-5, 25)))
    base = y0
    while x < x0 + width:
        nlet = int(rng.integers(2, 8))
        adv = xh * rng.uniform(0.7, 1.1)
        loop = adv * rng.uniform(0.2, 0.6)
        heights = xh * rng.choice([1.0, 1.0, 1.0, 1.0, 2.2, -1.6], size=nlet) * rng.uniform(0.8, 1.2, nlet)
        t = np.linspace(0, nlet, nlet * 14)
        hk = heights[np.minimum(t.astype(int), nlet - 1)]
        px = x + adv * t - loop * np.sin(2 * np.pi * t)
        rise = hk * (1 - np.cos(2 * np.pi * t)) / 2
        py = base - rise
        px = px + (base - py) * slant
        strokes.append(np.stack([px, py], axis=1))
        x += adv * nlet + xh * rng.uniform(0.8, 2.0)
        base += rng.normal(0, 0.08 * xh)
    return strokes


def draw_bleed(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    mask = np.zeros((h, w), np.uint8)
    xh = rng.uniform(2.0, 4.0) * sh.ppmm
    pitch = rng.uniform(2.5, 4.0) * xh
    if sh.small:
        x0, width = rng.uniform(-0.5, 0.2) * w, w * rng.uniform(0.8, 1.6)
        y = rng.uniform(0.2, 0.8) * h
        nlines = int(rng.integers(1, 4))
        y -= pitch * (nlines - 1) / 2
    else:
        x0 = rng.uniform(10, 40) * sh.ppmm
        width = w - x0 - rng.uniform(10, 40) * sh.ppmm
        y = rng.uniform(0.05, 0.6) * h
        nlines = int(rng.integers(3, 21))
    thick = int(rng.choice([1, 2, 2, 3]))
    for _ in range(nlines):
        lw = width * rng.uniform(0.5, 1.0)
        for stroke in _cursive(rng, x0, y, lw, xh):
            cv2.polylines(mask, [_pts(stroke)], False, 255, thick, cv2.LINE_AA, 4)
        y += pitch
    mask = np.ascontiguousarray(mask[:, ::-1])  # written on the back: seen mirrored
    color = (70, 90, 150) if rng.random() < 0.6 else (70, 70, 70)
    _ink(sh.img, mask, color, rng.uniform(0.05, 0.14), blur=rng.uniform(1.0, 3.0))


def _roi_mask(rng, sh: Sheet, size: float) -> tuple[int, int, int]:
    """A square region of side ~2*size around a random centre: (x0, y0, side)."""
    if sh.small:
        cx, cy = rng.uniform(0.1, 0.9) * sh.w, rng.uniform(0.1, 0.9) * sh.h
    else:
        cx, cy = rng.uniform(0.05, 0.95) * sh.w, rng.uniform(0.05, 0.95) * sh.h
    side = int(2.6 * size) + 4
    return int(cx - side / 2), int(cy - side / 2), side


def draw_smudge(rng, sh: Sheet) -> None:
    size = rng.uniform(0.25, 0.8) * min(sh.h, sh.w) if sh.small else rng.uniform(8, 30) * sh.ppmm
    x0, y0, side = _roi_mask(rng, sh, size)
    c = side / 2
    m8 = np.zeros((side, side), np.uint8)
    rub = rng.uniform(0, np.pi)
    for _ in range(int(rng.integers(3, 10))):
        p = c + rng.normal(0, 0.35 * size, 2)
        a = rub + rng.normal(0, 0.3)
        d = np.array([np.cos(a), np.sin(a)]) * size * rng.uniform(0.3, 0.9)
        cv2.line(
            m8,
            _pt(*(p - d)),
            _pt(*(p + d)),
            int(rng.uniform(120, 255)),
            max(1, int(size * rng.uniform(0.15, 0.4))),
            cv2.LINE_AA,
            4,
        )
    m = cv2.GaussianBlur(m8.astype(np.float32) / 255.0, (0, 0), max(0.8, size * rng.uniform(0.08, 0.2)))
    grain = 0.6 + 0.4 * np.clip(_smooth_noise(rng, side, side, side / 3.0), -1, 1)
    m *= grain
    if rng.random() < 0.6:  # graphite rubbed into the paper
        _ink(sh.img, m, (90, 92, 102), rng.uniform(0.1, 0.35), at=(x0, y0))
        return
    # an eraser: the paper is roughened a little lighter, with leftover graphite streaks and crumbs
    _ink(sh.img, m, (252, 252, 250), rng.uniform(0.15, 0.5), mode="lerp", at=(x0, y0))
    streaks = np.zeros((side, side), np.uint8)
    for _ in range(int(rng.integers(3, 12))):
        p = c + rng.normal(0, 0.3 * size, 2)
        d = np.array([np.cos(rub), np.sin(rub)]) * size * rng.uniform(0.1, 0.5)
        cv2.line(streaks, _pt(*(p - d)), _pt(*(p + d)), 255, 1, cv2.LINE_AA, 4)
    _ink(sh.img, streaks, (90, 92, 102), rng.uniform(0.05, 0.18), blur=0.7, at=(x0, y0))
    crumbs = np.zeros((side, side), np.uint8)
    for _ in range(int(rng.integers(0, 6))):
        p = c + rng.normal(0, 0.6 * size, 2)
        cv2.ellipse(
            crumbs,
            _pt(*p),
            (int(rng.uniform(1, 3) * SUB), int(rng.uniform(0.6, 1.2) * SUB)),
            rng.uniform(0, 180),
            0,
            360,
            255,
            -1,
            cv2.LINE_AA,
            4,
        )
    _ink(sh.img, crumbs, (120, 120, 125), rng.uniform(0.2, 0.5), at=(x0, y0))


def draw_coffee(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    if sh.small:
        radius = rng.uniform(0.4, 2.5) * min(h, w)
        ang = rng.uniform(0, 2 * np.pi)
        # put the rim through the crop
        px, py = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        cx, cy = px - np.cos(ang) * radius, py - np.sin(ang) * radius
    else:
        radius = rng.uniform(25, 45) * sh.ppmm
        cx, cy = rng.uniform(-0.05, 1.05) * w, rng.uniform(-0.05, 1.05) * h
    rim_w = rng.uniform(1.0, 3.5) * max(sh.ppmm / 5.0, 0.6)
    color = (rng.uniform(130, 175), rng.uniform(90, 120), rng.uniform(50, 80))
    n_rings = 1 if rng.random() < 0.75 else 2
    for k in range(n_rings):
        if k:
            cx, cy = cx + rng.normal(0, 0.25) * radius, cy + rng.normal(0, 0.25) * radius
        ext = radius * 1.15 + 4 * rim_w
        x0, y0 = int(max(cx - ext, 0)), int(max(cy - ext, 0))
        x1, y1 = int(min(cx + ext, w)), int(min(cy + ext, h))
        if x1 <= x0 or y1 <= y0:
            continue
        x, y = _grid(y1 - y0, x1 - x0)
        dx, dy = x + x0 - cx, y + y0 - cy
        r = np.sqrt(dx * dx + dy * dy)
        th = np.arctan2(dy, dx)
        rad = radius * np.ones_like(th)
        for harm, amp in ((1, 0.03), (2, 0.02), (3, 0.012), (7, 0.006)):
            rad += radius * rng.normal(0, amp) * np.sin(harm * th + rng.uniform(0, 2 * np.pi))
        rel = r - rad
        rim = np.where(rel < 0, np.exp(-((rel / (rim_w * 2.5)) ** 2)), np.exp(-((rel / (rim_w * 0.6)) ** 2)))
        inner = 1.0 / (1.0 + np.exp(np.clip(rel / max(rim_w, 1.0), -30, 30)))
        m = rim * rng.uniform(0.25, 0.6) + inner * rng.uniform(0.02, 0.12)
        if rng.random() < 0.45:  # an incomplete ring
            start, span = rng.uniform(0, 2 * np.pi), rng.uniform(0.8, 1.7) * np.pi
            arc = np.mod(th - start, 2 * np.pi)
            m *= np.clip(1.0 - (arc - span) / 0.6, 0, 1) * np.clip(arc / 0.4, 0, 1)
        _ink(sh.img, m.astype(np.float32), color, 1.0, at=(x0, y0))


def draw_stamp(rng, sh: Sheet) -> None:
    h, w = sh.h, sh.w
    color = [(50, 70, 170), (110, 70, 160), (200, 50, 60), (40, 40, 45)][int(rng.integers(4))]
    diam = rng.uniform(0.6, 2.0) * min(h, w) if sh.small else rng.uniform(20, 45) * sh.ppmm
    side = int(diam * 1.6) + 8
    c = side / 2
    m8 = np.zeros((side, side), np.uint8)
    if rng.random() < 0.65:  # a rubber stamp impression
        t = max(1, int(rng.uniform(0.5, 1.0) * diam / 45))
        word = STAMP_WORDS[int(rng.integers(len(STAMP_WORDS)))]
        if rng.random() < 0.5:
            cv2.circle(m8, _pt(c, c), int(diam / 2 * SUB), 255, t + 1, cv2.LINE_AA, 4)
            cv2.circle(m8, _pt(c, c), int(diam / 2 * 0.82 * SUB), 255, t, cv2.LINE_AA, 4)
            text_w = diam * 0.7
        else:
            bw, bh = diam, diam * rng.uniform(0.35, 0.6)
            for inset, tk in ((0.0, t + 1), (0.06 * bh, t)):
                cv2.rectangle(
                    m8,
                    _pt(c - bw / 2 + inset, c - bh / 2 + inset),
                    _pt(c + bw / 2 - inset, c + bh / 2 - inset),
                    255,
                    tk,
                    cv2.LINE_AA,
                    4,
                )
            text_w = bw * 0.8
        font = cv2.FONT_HERSHEY_DUPLEX if rng.random() < 0.5 else cv2.FONT_HERSHEY_SIMPLEX
        (tw, th), _ = cv2.getTextSize(word, font, 1.0, 1)
        scale = text_w / max(tw, 1)
        tt = max(1, int(scale * 1.5))
        cv2.putText(m8, word, (int(c - tw * scale / 2), int(c + th * scale / 2)), font, scale, 255, tt, cv2.LINE_AA)
        rot = cv2.getRotationMatrix2D((c, c), rng.uniform(-25, 25), 1.0)
        m8 = cv2.warpAffine(m8, rot, (side, side), flags=cv2.INTER_LINEAR)
        tex_cells, strength = side / 5.0, rng.uniform(0.15, 0.5)
    else:  # an ink blot with splatter
        for _ in range(int(rng.integers(3, 9))):
            p = c + rng.normal(0, 0.12 * diam, 2)
            ax = (int(rng.uniform(0.08, 0.25) * diam * SUB), int(rng.uniform(0.06, 0.2) * diam * SUB))
            cv2.ellipse(m8, _pt(*p), ax, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA, 4)
        for _ in range(int(rng.integers(0, 15))):
            a, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.25, 0.7) * diam
            p = c + np.array([np.cos(a), np.sin(a)]) * dist
            cv2.circle(m8, _pt(*p), int(rng.uniform(0.5, 0.03 * diam + 1) * SUB), 255, -1, cv2.LINE_AA, 4)
        tex_cells, strength = side / 12.0, rng.uniform(0.12, 0.4)
    m = m8.astype(np.float32) / 255.0
    tex = np.clip((_smooth_noise(rng, side, side, tex_cells) + rng.uniform(0.2, 1.2)) * 1.5, 0, 1)
    m = cv2.GaussianBlur(m * tex, (0, 0), rng.uniform(0.4, 1.2))
    if sh.small:
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    else:
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.05, 0.95) * h
    _ink(sh.img, m, color, strength, at=(int(cx - c), int(cy - c)))


DRAW = {
    "seam": draw_seam,
    "bleed": draw_bleed,
    "ruled": draw_ruled,
    "boxes": draw_boxes,
    "text": draw_text,
    "stamp": draw_stamp,
    "coffee": draw_coffee,
    "smudge": draw_smudge,
    "fold": draw_fold,
    "blob": draw_blob,
    "punch": draw_punch,
    "staple": draw_staple,
    "hair": draw_hair,
    "dust": draw_dust,
    "shadow": draw_shadow,
}


# ----------------------------------------------------------------------------------------------------------------
# Scanner and camera


def _rotate_on_lid(rng, img: np.ndarray, small: bool) -> np.ndarray:
    """Turn the sheet 0.5-3 degrees on the scanner glass; the lid (white or black) shows where paper is not."""
    h, w, ch = img.shape
    deg = rng.uniform(0.5, 3.0) * rng.choice([-1, 1])
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    if small or rng.random() < 0.3:  # the sheet also sits off the corner of the glass: a strip of lid shows
        reach = 0.3 if small else 0.015
        rot[0, 2] += rng.uniform(-reach, reach) * w
        rot[1, 2] += rng.uniform(-reach, reach) * h
    paper = cv2.warpAffine(img, rot, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(np.ones((h, w), np.float32), rot, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)
    black = rng.random() < 0.45
    lid_v = rng.uniform(8, 45) if black else rng.uniform(225, 252)
    lid = np.full(ch, lid_v, np.float32)
    if ch == 3:
        lid += rng.normal(0, 2, 3).astype(np.float32)
    out = paper.reshape(h, w, ch) * alpha[..., None] + lid * (1.0 - alpha[..., None])
    # the paper edge throws a thin shadow onto a white lid; on a black lid it glows a little
    halo = np.clip(cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.8, 2.5)) - alpha, 0, 1)
    if black:
        out += halo[..., None] * rng.uniform(20, 60)
    else:
        out *= 1.0 - halo[..., None] * rng.uniform(0.6, 1.5)
    return out.astype(np.float32)


def _blocky(rng, img: np.ndarray) -> np.ndarray:
    u8 = np.clip(img, 0, 255).astype(np.uint8)
    if u8.shape[2] == 1:
        u8 = u8[..., 0]
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(5, 31))])
    assert ok
    out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out.reshape(img.shape).astype(np.float32)


def _grain(rng, img: np.ndarray, sigma: float) -> None:
    h, w, ch = img.shape
    noise = rng.standard_normal((h, w), dtype=np.float32)
    noise *= sigma
    img += noise[..., None]
    if ch == 3:  # a little colour noise, coarser than a pixel
        chroma = rng.standard_normal((max(2, h // 2), max(2, w // 2), 3), dtype=np.float32)
        chroma *= sigma * 0.5
        img += cv2.resize(chroma, (w, h), interpolation=cv2.INTER_LINEAR)


def render_scan(rng, size: str, conds: list[str]) -> np.ndarray:
    if size == "field":
        hpx = int(rng.integers(40, 161))
        wpx = int(np.clip(hpx * rng.uniform(0.7, 1.45), 40, 160))
        rgb, ppmm = rng.random() < 0.35, rng.uniform(100, 200) / 25.4
    elif size == "strip":
        hpx, wpx = int(rng.integers(60, 161)), int(rng.integers(150, 601))
        rgb, ppmm = rng.random() < 0.35, rng.uniform(100, 200) / 25.4
    else:
        wmm, hmm = PAPER_MM[str(rng.choice(["a4", "a4", "letter"]))]
        dpi = int(rng.integers(100, 201))
        ppmm = dpi / 25.4
        hpx, wpx = int(round(hmm * ppmm)), int(round(wmm * ppmm))
        if rng.random() < 0.15:
            hpx, wpx = wpx, hpx
        rgb = rng.random() < 0.5
    sh = Sheet(_paper(rng, hpx, wpx, 3 if rgb else 1, _paper_tone(rng)), size, ppmm)
    for cond in CONDITIONS:
        if cond in conds and cond in DRAW:
            DRAW[cond](rng, sh)
    img = sh.img
    if "rotate" in conds:
        img = _rotate_on_lid(rng, img, sh.small)
        sh.img = img
    if "streak" in conds:
        draw_streak(rng, sh)
    # every scanner's optics soften a little; the blur condition is a clearly out-of-focus or smeared scan
    sigma = rng.uniform(0.7, 1.8) if "blur" in conds else rng.uniform(0.25, 0.5)
    img = cv2.GaussianBlur(img, (0, 0), sigma).reshape(img.shape)
    _grain(rng, img, rng.uniform(0.6, 3.0))
    if "blocky" in conds:
        img = _blocky(rng, img)
    img += 0.5
    out = np.clip(img, 0, 255, out=img).astype(np.uint8)
    return out[..., 0] if out.shape[2] == 1 else out


def _desk(rng, lh: int, lw: int) -> np.ndarray:
    palette = [(105, 72, 45), (140, 100, 65), (70, 70, 72), (35, 35, 38), (60, 70, 90), (45, 85, 70), (130, 120, 110)]
    base = np.array(palette[int(rng.integers(len(palette)))], np.float32) * rng.uniform(0.7, 1.15)
    base += rng.normal(0, 6, 3).astype(np.float32)
    x, y = _grid(lh, lw)
    tex = 1.0 + 0.05 * _smooth_noise(rng, lh, lw, rng.uniform(3, 8))
    if rng.random() < 0.5:  # wood grain
        ang = rng.uniform(0, np.pi)
        warp = 6.0 * _smooth_noise(rng, lh, lw, 4)
        u = x * np.cos(ang) + y * np.sin(ang) + warp
        tex += rng.uniform(0.04, 0.12) * np.sin(2 * np.pi * u / rng.uniform(3, 12)) * (0.6 + 0.4 * np.sin(u / 7.0))
    return np.clip(tex[..., None] * base[None, None, :], 0, 255).astype(np.float32)


def render_photo(rng, conds: list[str]) -> np.ndarray:
    portrait = rng.random() < 0.7
    fw, fh = (3000, 4000) if portrait else (4000, 3000)
    wmm, hmm = PAPER_MM[str(rng.choice(["a4", "a4", "letter"]))]
    ppmm = rng.uniform(1500, 2000) / hmm
    sw, shh = int(round(wmm * ppmm)), int(round(hmm * ppmm))
    if (rng.random() < 0.85) != portrait:
        sw, shh = shh, sw
    sheet = Sheet(_paper(rng, shh, sw, 3, _paper_tone(rng)), "photo", ppmm)
    sheet.alpha = np.ones((shh, sw), np.float32)
    for cond in CONDITIONS:
        if cond in conds and cond in DRAW and cond != "shadow":
            DRAW[cond](rng, sheet)
    _grain(rng, sheet.img, rng.uniform(0.3, 1.0))
    # where the sheet lands in the frame: fitted, turned a little, seen at a slant
    fill = rng.uniform(0.6, 0.95)
    k = fill * min(fw / sw, fh / shh)
    a, b = sw * k / 2, shh * k / 2
    centre = np.array([fw / 2, fh / 2]) + rng.normal(0, 0.04, 2) * (fw, fh)
    dst = _rot([[-a, -b], [a, -b], [a, b], [-a, b]], 0, 0, rng.normal(0, 4)) + centre
    far = int(rng.integers(4))  # the edge further from the camera looks shorter
    tilt = rng.uniform(0.0, 0.12)
    i, j = far, (far + 1) % 4
    mid = (dst[i] + dst[j]) / 2
    dst[i] += (mid - dst[i]) * tilt
    dst[j] += (mid - dst[j]) * tilt
    dst += rng.normal(0, 0.01 * min(fw, fh), (4, 2))
    src = np.array([[0, 0], [sw, 0], [sw, shh], [0, shh]], np.float32)
    hom = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    sheet_u8 = np.clip(sheet.img + 0.5, 0, 255).astype(np.uint8)
    warped = cv2.warpPerspective(sheet_u8, hom, (fw, fh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpPerspective(sheet.alpha, hom, (fw, fh), flags=cv2.INTER_LINEAR, borderValue=0.0)
    # desk and light at an eighth of the size, then scaled up
    lh, lw = fh // 8, fw // 8
    desk = _desk(rng, lh, lw)
    low = np.diag([1 / 8, 1 / 8, 1]).astype(np.float64) @ hom
    a_low = cv2.warpPerspective(sheet.alpha, low, (lw, lh), flags=cv2.INTER_AREA, borderValue=0.0)
    shift = np.float32([[1, 0, rng.normal(0, 4)], [0, 1, rng.normal(2, 3)]])
    drop = cv2.GaussianBlur(cv2.warpAffine(a_low, shift, (lw, lh)), (0, 0), rng.uniform(2, 8))
    desk *= (1.0 - rng.uniform(0.2, 0.6) * drop)[..., None]
    x, y = _grid(lh, lw)
    ox, oy = rng.normal(0, 0.1, 2)
    r = np.sqrt(((x / lw - 0.5 - ox) * 2) ** 2 + ((y / lh - 0.5 - oy) * 2) ** 2) / np.sqrt(2)
    floor = rng.uniform(0.3, 0.6)
    light = 1.0 - (1.0 - floor) * np.clip(r, 0, 1.3) ** rng.uniform(1.6, 3.0)
    ang = rng.uniform(0, 2 * np.pi)
    light *= 1.0 + rng.uniform(0, 0.25) * ((x / lw - 0.5) * np.cos(ang) + (y / lh - 0.5) * np.sin(ang))
    light *= rng.uniform(0.85, 1.1)
    if "shadow" in conds:
        light *= 1.0 - rng.uniform(0.15, 0.5) * _shadow_shape(rng, lh, lw, ("edge", "hand", "hand", "phone"))
    gains = (1.0 + rng.normal(0, 0.02, 3)).astype(np.float32)  # white balance
    light3 = np.ascontiguousarray(light[..., None] * gains, dtype=np.float32)
    # full size from here on: in place, to keep a 12-megapixel frame quick
    out = warped.astype(np.float32)
    del warped
    desk_full = cv2.resize(desk, (fw, fh), interpolation=cv2.INTER_LINEAR)
    out -= desk_full
    out *= alpha[..., None]
    out += desk_full
    del desk_full, alpha
    out *= cv2.resize(light3, (fw, fh), interpolation=cv2.INTER_LINEAR)
    # sensor noise, a little coarser than a pixel after the phone's demosaicing and denoising
    noise = rng.standard_normal((fh // 2, fw // 2, 3), dtype=np.float32)
    noise *= rng.uniform(1.5, 5.0)
    out += cv2.resize(noise, (fw, fh), interpolation=cv2.INTER_LINEAR)
    out += 0.5
    img = np.clip(out, 0, 255, out=out).astype(np.uint8)
    if "blur" in conds:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(1.2, 3.5))
    if "blocky" in conds:
        img = _blocky(rng, img.astype(np.float32)).astype(np.uint8)
    return img


# ----------------------------------------------------------------------------------------------------------------
# Driver


def render_one(seed: int, index: int) -> tuple[np.ndarray, list[str], bool, int]:
    """One blank image: the pixels (RGB or grey), its traits, whether it is saved as JPEG and the quality."""
    rng = np.random.default_rng([seed, index])
    u = rng.random()
    if u < 0.45:
        size = "field" if rng.random() < 0.55 else "strip"
    elif u < 0.80:
        size = "page"
    else:
        size = "photo"
    allowed = [c for c in CONDITIONS if not (size == "photo" and c in SCANNER_ONLY)]
    # the scanner-only conditions are drawn a little more often on scans, so they are as common overall
    weight = np.array([1.25 if c in SCANNER_ONLY else 1.0 for c in allowed])
    n = int(rng.integers(1, 5))
    picked = set(rng.choice(allowed, size=n, replace=False, p=weight / weight.sum()).tolist())
    conds = [c for c in CONDITIONS if c in picked]
    jpeg = size == "photo" or rng.random() < 0.2  # with the photos, about a third are JPEG
    quality = int(rng.integers(60, 93))
    img = render_photo(rng, conds) if size == "photo" else render_scan(rng, size, conds)
    traits = [size, *conds] + (["jpeg"] if jpeg else [])
    return img, traits, jpeg, quality


def _encode(img: np.ndarray, jpeg: bool, quality: int) -> bytes:
    bgr = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    if jpeg:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    else:
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError("could not encode image")
    return buf.tobytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="where blanks/ and truth.csv go")
    parser.add_argument("--count", type=int, default=200, help="how many images (default 200)")
    parser.add_argument("--seed", type=int, default=2718, help="random seed (default 2718)")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must not be negative")
    out_dir: Path = args.out_dir
    img_dir = out_dir / KIND
    img_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = []
    tally: Counter[str] = Counter()
    for index in range(args.count):
        img, traits, jpeg, quality = render_one(args.seed, index)
        name = f"{index:04d}.{'jpg' if jpeg else 'png'}"
        stale = img_dir / f"{index:04d}.{'png' if jpeg else 'jpg'}"
        if stale.exists():
            stale.unlink()
        (img_dir / name).write_bytes(_encode(img, jpeg, quality))
        rows.append((f"{KIND}/{name}", KIND, "", "+".join(traits)))
        tally.update(traits)
    with open(out_dir / "truth.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("file", "kind", "truth", "traits"))
        writer.writerows(rows)
    order = ["field", "strip", "page", "photo", *CONDITIONS, "jpeg"]
    summary = " ".join(f"{t}={tally[t]}" for t in order if tally[t])
    print(f"wrote {args.count} blanks to {out_dir} in {time.perf_counter() - started:.1f}s: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
