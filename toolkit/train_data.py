"""What a recipe trains on, epoch by epoch: MNIST's digits, distorted afresh each epoch (`augment`), a share of
them drawn as other writers' scans (`writers`), and crops with no digit (`negatives`).

A model with a `not_digit` output learns from all three: its digit output is trained on the digits only (the
negatives carry weight 0 there), its `not_digit` output on both (1 for a negative, 0 for a digit). A model
without that output never sees negatives. Every epoch is made afresh from the recipe's seed, so a run is
reproducible; the recipe's last `clean_epochs` skip the affine distortion (never the first epoch), but keep
the negatives and the writers (at `clean_writers` of the digits, when the recipe sets it), which teach what
MNIST alone cannot.

With a `teacher` (an ONNX model, `distill` > 0), the targets of the digits drawn as MNIST are mixed with the
teacher's probabilities on the very image the model sees, softened at DISTILL_TEMPERATURE: the teacher's
view of which other digits an image resembles carries more than its label. Digits drawn as other writers keep
their labels, since a teacher trained on MNIST alone reads them worse than the student.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from toolkit import lazy, zoo
from toolkit.augment import KINDS, distort

Targets = Any  # an array, or a list of arrays in the order of the model's outputs
Teacher = Callable[[np.ndarray], np.ndarray]  # model tensors (N, 28, 28, 1) -> probabilities (N, 10)
DISTILL_TEMPERATURE = 2.0


def as_uint8(x: np.ndarray) -> np.ndarray:
    """Model tensors (N, 28, 28, 1) in [0, 1] back to MNIST's uint8 (N, 28, 28)."""
    return np.clip(np.rint(x[..., 0] * 255), 0, 255).astype(np.uint8)


def soften(probabilities: np.ndarray, temperature: float = DISTILL_TEMPERATURE) -> np.ndarray:
    """softmax(log(p) / T): the same ranking, flatter for T > 1."""
    z = np.log(np.maximum(probabilities.astype(np.float64), 1e-30)) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


def onnx_teacher(path: str) -> Teacher:
    """A teacher that scores with an ONNX model of the image contract (onnxruntime, batches of 1,000)."""
    from toolkit.onnxmodel import OnnxModel

    model = OnnxModel(path)
    return lambda images: np.concatenate([model.score(images[i : i + 1000]) for i in range(0, len(images), 1000)])


def epoch_images(
    x: np.ndarray,
    targets: np.ndarray,
    recipe: zoo.Recipe,
    rng: np.random.Generator,
    distorted: bool,
    rejects: bool,
    teacher: Teacher | None = None,
) -> tuple[np.ndarray, Targets, Any]:
    """One epoch: inputs, targets and sample weights (None when every sample counts alike), shuffled.

    `targets` are the digits' targets as the recipe's loss wants them; `rejects`: the model has a `not_digit`
    output, so negatives are added and the targets become a list, one per output; `teacher`: mixed into the
    targets of the digits drawn as MNIST by the recipe's `distill` share."""
    from toolkit.imaging.negatives import negative_fields
    from toolkit.other_writers import coarse_fields, writer_fields

    images, digit_targets = x.copy(), targets
    as_mnist = np.ones(len(x), bool)
    # Each draw takes its share of the digits still drawn as MNIST; coarse scans come in every epoch (the clean
    # ones too: the not_digit output learns the clean epochs' lesson last).
    for redrawn, redraw in (
        (recipe.writers_share(clean=not distorted), writer_fields),
        (recipe.coarse_scans, coarse_fields),
    ):
        if redrawn:
            left = np.flatnonzero(as_mnist)
            chosen = left[rng.random(len(left)) < redrawn]
            fields, kept = redraw(as_uint8(x[chosen]), rng)
            images[chosen[kept]] = fields[..., None]
            as_mnist[chosen[kept]] = False
    count = int(round(recipe.negatives * len(x))) if rejects else 0
    negatives = negative_fields(count, rng, as_uint8(x))[..., None] if count else np.zeros((0, *x.shape[1:]), x.dtype)
    all_images = np.concatenate([images, negatives.astype(x.dtype)])
    if distorted and recipe.augment:
        # Digits and negatives alike: resampling softens strokes, and a model shown only distorted digits
        # learns to take every crisp crop (MNIST's own test digits) for no digit.
        all_images = distort(all_images[..., 0], rng, KINDS[str(recipe.augment)])[..., None]
    if teacher is not None and recipe.distill:
        digit_targets = digit_targets.copy()
        taught = np.flatnonzero(as_mnist)
        share = np.float32(recipe.distill)
        digit_targets[taught] = (1 - share) * digit_targets[taught] + share * soften(teacher(all_images[taught]))
    if not rejects:
        order = rng.permutation(len(all_images))
        return all_images[order], digit_targets[order], None
    blank_targets = np.zeros((len(negatives), *digit_targets.shape[1:]), digit_targets.dtype)
    is_negative = np.concatenate([np.zeros(len(images)), np.ones(len(negatives))]).astype(np.float32)
    order = rng.permutation(len(all_images))
    # In the order of the model's outputs: probabilities, then not_digit.
    y = [np.concatenate([digit_targets, blank_targets])[order], is_negative[order, None]]
    weights = [(1 - is_negative)[order], np.ones(len(order), np.float32)]
    return all_images[order], y, weights


def augmented_input(x: np.ndarray, y: np.ndarray, recipe: zoo.Recipe, seed: int, rejects: bool = False) -> Any:
    """Keras input that makes every epoch afresh (`epoch_images`): distorted, except in the recipe's last
    `clean_epochs` (the first epoch is always distorted)."""
    keras = lazy.keras()
    batch_size = recipe.batch_size
    distorted_epochs = max(1, recipe.epochs - recipe.clean_epochs)
    per_epoch = len(x) + (int(round(recipe.negatives * len(x))) if rejects else 0)

    class Epochs(keras.utils.PyDataset):  # type: ignore[name-defined]  # Keras, imported at run time
        def __init__(self) -> None:
            super().__init__()
            self._rng = np.random.default_rng(seed)
            self._epoch: tuple[np.ndarray, Targets, Any] | None = None
            self._epochs_served = 0
            self._teacher = onnx_teacher(recipe.teacher) if recipe.teacher and recipe.distill else None

        def __len__(self) -> int:
            return -(-per_epoch // batch_size)

        def __getitem__(self, index: int) -> tuple:
            if self._epoch is None:
                distorted = self._epochs_served < distorted_epochs
                self._epoch = epoch_images(x, y, recipe, self._rng, distorted, rejects, self._teacher)
            images, targets, weights = self._epoch
            batch = slice(index * batch_size, (index + 1) * batch_size)
            if weights is None:
                return images[batch], targets[batch]
            return images[batch], tuple(t[batch] for t in targets), tuple(w[batch] for w in weights)

        def on_epoch_end(self) -> None:
            self._epoch = None
            self._epochs_served += 1

    return Epochs()
