"""How a group of handwritten digits leans, for the cuts between them (`toolkit.imaging.digits`): slanted digits
side by side overlap in x, and a cut parts them only along their slant."""

from __future__ import annotations

import numpy as np

MOST_SLANT, SLANT_STEP = 0.6, 0.05  # the slants tried, in columns per row
LEAN_GAIN = 1.25  # a slant is taken when it makes the column ink profile this much sharper than upright


def lean(mask: np.ndarray) -> np.ndarray:
    """How a group of digits (`mask`) leans: for each row, how many columns right of where it would stand were
    the digits upright (`stood_upright`), the leftmost ink then at column 0. The slant tried, from -MOST_SLANT
    to MOST_SLANT columns per row in SLANT_STEP steps, is the one whose column ink profile is sharpest (the sum
    of its squared column counts: upright strokes pile up in few columns); the group stands as it is unless a
    slant sharpens the profile by LEAN_GAIN (upright writing, and the odd stroke, stays put)."""
    rows = mask.shape[0]
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return np.zeros(rows, np.int64)
    offsets = np.arange(rows) - (rows - 1) / 2
    best = np.full(rows, int(xs.min()), np.int64)
    sharpest = 0.0
    for slant in np.arange(-MOST_SLANT, MOST_SLANT + SLANT_STEP / 2, SLANT_STEP):
        drift = np.rint(slant * offsets).astype(np.int64)
        at = xs - drift[ys]
        sharp = float(np.square(np.bincount(at - at.min()).astype(np.float64)).sum())
        if not drift.any():
            sharp *= LEAN_GAIN
        if sharp > sharpest:
            best, sharpest = drift + int(at.min()), sharp
    return best


def stood_upright(mask: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """A group of digits (`mask`) stood upright: each row r moved left by `shift[r]` columns (see `lean`), as
    wide as its ink then is."""
    rows, width = mask.shape
    ys, xs = np.nonzero(mask)
    xs = xs - shift[ys]
    out = np.zeros((rows, int(xs.max()) + 1 if len(xs) else width), bool)
    out[ys, xs] = True
    return out
