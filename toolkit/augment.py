"""Random distortions of MNIST training images, done with OpenCV (no TensorFlow): the training side of `augment`.

Each image gets its own small affine jitter (rotation, zoom, shift, about the image centre) and, optionally, an
elastic distortion: a random displacement field, smoothed by a Gaussian and scaled, as in Simard et al. (2003),
"Best practices for convolutional neural networks applied to visual document analysis". Handwriting varies in
both ways; the affine part covers slant and size, the elastic part the wobble of the stroke.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SIDE = 28


@dataclass(frozen=True)
class Distortion:
    """How strongly to distort: each draw is uniform in ±the given amount."""

    rotation: float = 10.0  # degrees
    zoom: float = 0.1  # fraction of the size
    shift: float = 2.0  # pixels
    elastic_alpha: float = 0.0  # pixels per unit of the smoothed field; 0: no elastic distortion
    elastic_sigma: float = 6.0  # pixels: the Gaussian that smooths the field; larger means gentler


AFFINE = Distortion()
ELASTIC = Distortion(elastic_alpha=34.0)
KINDS = {"affine": AFFINE, "elastic": ELASTIC}  # Recipe.augment names one of these


_GRID = np.meshgrid(np.arange(SIDE, dtype=np.float32), np.arange(SIDE, dtype=np.float32))


def distort(images: np.ndarray, rng: np.random.Generator, how: Distortion = AFFINE) -> np.ndarray:
    """Randomly distorted copies of float32 (N,28,28) images (ink high, background 0); the same `rng` state
    gives the same result."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise ValueError(f"distort takes (N,{SIDE},{SIDE}) images, got {images.shape}")
    n = len(images)
    angles = rng.uniform(-how.rotation, how.rotation, n)
    scales = rng.uniform(1 - how.zoom, 1 + how.zoom, n)
    shifts = rng.uniform(-how.shift, how.shift, (n, 2))
    noise = rng.uniform(-1, 1, (n, SIDE, SIDE, 2)).astype(np.float32) if how.elastic_alpha else None
    centre = ((SIDE - 1) / 2, (SIDE - 1) / 2)
    grid_x, grid_y = _GRID
    out = np.empty_like(images)
    for i in range(n):
        # Where each output pixel comes from: its elastically displaced position, through the inverse of the
        # affine jitter. One interpolation for both, so strokes are not blurred twice.
        forward = cv2.getRotationMatrix2D(centre, float(angles[i]), float(scales[i]))
        forward[:, 2] += shifts[i]
        (a, b, c), (d, e, f) = cv2.invertAffineTransform(forward).astype(np.float32)
        x, y = grid_x, grid_y
        if noise is not None:
            field = cv2.GaussianBlur(noise[i], (0, 0), how.elastic_sigma) * np.float32(how.elastic_alpha)
            x, y = grid_x + field[..., 0], grid_y + field[..., 1]
        out[i] = cv2.remap(images[i], a * x + b * y + c, d * x + e * y + f, cv2.INTER_LINEAR, borderValue=0)
    return out
