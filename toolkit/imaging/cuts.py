"""Where a group of touching digits may be cut, for `toolkit.imaging.digits`: the thinnest columns of its ink
(`profile_minima`), the paths from top to bottom that cross the least ink from there (`least_ink_paths`), and
whether every such cut would part a single loop of ink (`one_loop`: a 0 written wide, whose hollow each cut
crosses, is one digit however wide it is).
"""

from __future__ import annotations

import cv2
import numpy as np

from toolkit.imaging.common import off_border

HOLLOW = 0.01  # a loop's hollow: paper the ink encloses, at least this x the digits' height squared
THROUGH = 2  # px: a cut crosses a hollow when at least this many of its pixels lie in it


def one_loop(mask: np.ndarray, paths: list[np.ndarray], height: float) -> bool:
    """Whether every one of `paths` (cuts across a group of ink, `mask`: the column each takes on each row)
    crosses a hollow of the ink: the group is then one looped digit cut through its loop (a wide 0 cut into a
    C and a reversed C read as 6 and 7), not digits side by side, where a cut between them crosses paper that
    the ink does not enclose. False without cuts."""
    if not paths:
        return False
    h, w = mask.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).view(np.uint8), connectivity=4)
    x, y, width, tall, area = (stats[:, k] for k in range(5))
    hollow = off_border(x, y, width, tall, mask.shape) & (area >= HOLLOW * height * height)
    hollow[0] = False  # (the ink)
    inside = hollow[labels]
    rows = np.arange(h)
    return all(int(inside[rows, np.clip(path, 0, w - 1)].sum()) >= THROUGH for path in paths)


def distinct(paths: list[np.ndarray]) -> list[np.ndarray]:
    """`paths` without the ones equal to a path before them."""
    return [p for k, p in enumerate(paths) if not any(np.array_equal(p, q) for q in paths[:k])]


def least_ink_paths(mask: np.ndarray, starts: list[tuple[int, int]]) -> list[np.ndarray]:
    """For each (column, reach) of `starts`, the cut from top to bottom of `mask` (a group of touching digits)
    that crosses the least ink, moving at most one column per row and staying within `reach` columns of
    `column`: the column it takes on each row. Straight steps and the starting column win ties. Dynamic
    programming, one vectorised step per row for all the cuts together (a group's cuts cost one pass over its
    rows, not one each)."""
    if not starts:
        return []
    rows, width = mask.shape
    column = np.array([c for c, _ in starts])
    reach = np.array([r for _, r in starts])
    lo, hi = np.maximum(1, column - reach), np.minimum(width - 1, column + reach + 1)
    window = np.arange(max(1, int((hi - lo).max())))
    at = lo[:, None] + window[None, :]  # (cut, window): the columns each cut may take
    # Crossing ink costs 1 a pixel; a hundredth per column away from the start keeps the cut put on paper.
    cost = mask[:, np.clip(at, 0, width - 1)].astype(np.float64) + 0.01 * np.abs(at - column[:, None])
    cost[:, at >= hi[:, None]] = np.inf  # beyond a cut's own reach
    came = np.zeros((rows, *at.shape), np.int8)
    total = cost[0].copy()
    left, right = np.full_like(total, np.inf), np.full_like(total, np.inf)
    for r in range(1, rows):
        left[:, 1:] = total[:, :-1] + 0.001
        right[:, :-1] = total[:, 1:] + 0.001
        # The first of (left, straight, right) that is least, as argmin over them would choose.
        came[r] = np.where(left <= total, np.where(left <= right, -1, 1), np.where(total <= right, 0, 1))
        total = np.minimum(np.minimum(left, total), right) + cost[r]
    paths = []
    for k, (c, _) in enumerate(starts):
        if hi[k] <= lo[k]:
            paths.append(np.full(rows, c, np.int64))
            continue
        path = np.empty(rows, np.int64)
        step = int(np.argmin(total[k]))
        for r in range(rows - 1, -1, -1):
            path[r] = step + lo[k]
            step += int(came[r, k, step])
        paths.append(path)
    return paths


def profile_minima(profile: np.ndarray, count: int, apart: float) -> list[int]:
    """Up to `count` columns where a group of touching digits may be cut: the thinnest local minima of its
    smoothed column ink profile, at least `apart` px from each other and from the group's edges."""
    width = len(profile)
    smooth = np.convolve(np.pad(profile, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    lo, hi = max(1, int(np.ceil(apart))), min(width - 1, int(width - apart) + 1)
    inner = np.arange(lo, hi)
    if not len(inner):
        return []
    # A local minimum: no higher than both neighbours (plateaus count once, at their first column).
    low = (smooth[inner] <= smooth[inner - 1]) & (smooth[inner] <= smooth[inner + 1])
    low &= smooth[inner] < smooth[inner - 1]  # the first column of a plateau
    found = inner[low] if low.any() else inner[[int(np.argmin(smooth[inner]))]]
    chosen: list[int] = []
    for column in found[np.argsort(smooth[found], kind="stable")]:
        if all(abs(int(column) - c) >= apart for c in chosen):
            chosen.append(int(column))
        if len(chosen) == count:
            break
    return chosen
