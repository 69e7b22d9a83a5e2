"""A sheet photographed on a desk, seen in perspective: its outline found (`find`) and the page warped flat
(`flatten`) for the segmenter, what it finds mapped back (`mapped_back`). A phone photo of a whole form shows the
paper as a quadrilateral on a darker desk, its boxes and rules leaning differently across it; neither the skew
(one angle for the whole sheet) nor the axis-aligned search for lines straightens that, and a table's or a row of
boxes' sides were read as sure 1s. The paper is found as the largest bright region of the working copy (Otsu's
threshold), its convex outline simplified to four corners, and the quadrilateral warped to a rectangle (OpenCV's
perspective transform) before the segmenter reads it; what it finds is mapped back to the photo's pixels. A scan,
whose paper fills the image, and a page on a lid brighter than itself are read as they are.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from toolkit.imaging.common import Segmented, mapped_box, shares

SHEET_MIN, SHEET_MAX = 0.2, 0.9  # the paper covers this share of the image at least, and at most (else: a scan)
DESK = 0.75  # ... and what lies around it is this much darker at most (its median over the paper's)
CORNERS = 0.02  # the outline is simplified to within this share of its length (four corners: a sheet)
LOOK_SIDE = 512  # px: the paper is looked for on a copy this long
SIDE_MIN = 0.2  # a sheet's sides are this share of the image's longer side or more (else: not warped)
EDGE_STEP, EDGE_REACH = 40, 4  # its outline: a step of this many grey levels over this many px either side


def find(gray: np.ndarray) -> np.ndarray | None:
    """The four corners (top left, top right, bottom right, bottom left; float32, `gray`'s pixels) of a sheet
    photographed on a darker desk in `gray` (grey floats, 1 = white), or None: no such sheet (a scan, a page on a
    brighter lid, a crop of paper only), or one whose outline is no quadrilateral."""
    scale = min(1.0, LOOK_SIDE / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    small = np.clip(small * 255, 0, 255).astype(np.uint8)
    _, bright = cv2.threshold(cv2.GaussianBlur(small, (5, 5), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))  # the writing on the paper
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    if not SHEET_MIN * small.size <= cv2.contourArea(hull) <= SHEET_MAX * small.size:
        return None
    quad = cv2.approxPolyDP(hull, CORNERS * cv2.arcLength(hull, True), True).reshape(-1, 2)
    if len(quad) != 4:
        return None
    inside = np.zeros_like(small)
    cv2.fillConvexPoly(inside, quad.astype(np.int32), 1)
    paper, desk = np.median(small[inside == 1]), np.median(small[inside == 0])
    if desk > DESK * paper or not _edged(small, quad):
        return None
    points = quad.astype(np.float32) / scale
    if cv2.contourArea(points, oriented=True) < 0:  # the hull's order, made clockwise on the image (y down)
        points = points[::-1]
    first = int(points.sum(axis=1).argmin())  # from the corner nearest the image's top left
    return np.roll(points, -first, axis=0)


def _edged(small: np.ndarray, quad: np.ndarray) -> bool:
    """Whether a quadrilateral (`quad`, in `small`'s pixels, uint8) is a sheet's outline: three of its sides or
    more within the image (a sheet photographed whole), each a sharp step from the paper to the desk, EDGE_STEP
    grey levels or more over EDGE_REACH px either side in the median of its length. The boundary Otsu draws
    between the lit and the shadowed part of one sheet (a vignette, a shadow) is a slope, not a step."""
    height, width = small.shape
    centre = quad.mean(axis=0)
    inner = 0
    for k in range(4):
        start, end = quad[k].astype(np.float64), quad[(k + 1) % 4].astype(np.float64)
        on_border = any(
            max(abs(start[axis] - edge), abs(end[axis] - edge)) <= 2
            for axis, edge in ((0, 0), (0, width - 1), (1, 0), (1, height - 1))
        )
        if on_border:
            continue
        along = (end - start) / max(1e-6, float(np.linalg.norm(end - start)))
        normal = np.array([-along[1], along[0]])
        if normal @ (centre - start) < 0:
            normal = -normal  # towards the paper
        points = start + np.linspace(0.1, 0.9, 24)[:, None] * (end - start)
        steps = []
        for point in points:
            x_in, y_in = np.round(point + EDGE_REACH * normal).astype(int)
            x_out, y_out = np.round(point - EDGE_REACH * normal).astype(int)
            if 0 <= x_in < width and 0 <= y_in < height and 0 <= x_out < width and 0 <= y_out < height:
                steps.append(int(small[y_in, x_in]) - int(small[y_out, x_out]))
        if not steps or np.median(steps) < EDGE_STEP:
            return False
        inner += 1
    return inner >= 3


def flatten(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A page (grey floats, 1 = white) that is a sheet photographed on a desk (`find`) warped flat, and the
    perspective transform from the flattened sheet's pixels back to `gray`'s; None for any other page, or a
    quadrilateral with a side under SIDE_MIN of the image."""
    corners = find(gray)
    if corners is None:
        return None
    top, right, bottom, left = (float(np.linalg.norm(corners[k] - corners[(k + 1) % 4])) for k in range(4))
    if min(top, right, bottom, left) < SIDE_MIN * max(gray.shape):
        return None
    width, height = round(max(top, bottom)), round(max(left, right))
    square = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    warp = cv2.getPerspectiveTransform(corners, square)
    flat = cv2.warpPerspective(gray, warp, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return flat, np.linalg.inv(warp)


def mapped_back(result: Segmented, back: np.ndarray, flat: tuple[int, ...], shape: tuple[int, ...]) -> Segmented:
    """`result`, read on a flattened sheet of `flat` (height, width), with its boxes and its small-box region
    (`Segmented.fine`, shares) in the pixels of the page it was photographed on (`shape`; `back`: the transform
    `flatten` gave)."""
    fine = None
    if result.fine is not None:
        left, top, across, down = result.fine
        region = (left * flat[1], top * flat[0], across * flat[1], down * flat[0])
        fine = shares(mapped_box(region, back, shape), shape)
    return replace(result, boxes=tuple(mapped_box(box, back, shape) for box in result.boxes or ()), fine=fine)
