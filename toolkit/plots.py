"""Every PNG the toolkit draws. matplotlib is imported inside each function (it is a `[train]` extra)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from toolkit.lazy import require


def _pyplot():
    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def image_grid(
    images: np.ndarray,
    labels: np.ndarray,
    path: Path,
    predictions: np.ndarray | None = None,
    title: str = "",
    columns: int | None = None,
    indices: Sequence[int] | np.ndarray | None = None,
    confidences: np.ndarray | None = None,
) -> Path:
    """A grid of digits captioned `label=L` (and `predict=P`, with its confidence if given, red when wrong),
    like the tutorials draw. The grid is about square unless `columns` is given."""
    plt = _pyplot()
    count = len(images)
    columns = columns or max(1, min(count, round(np.sqrt(count))))
    rows = max(1, -(-count // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.55), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= count:
            continue
        ax.imshow(np.asarray(images[i]).reshape(28, 28), cmap="binary")
        caption = f"label={int(labels[i])}"
        wrong = False
        if predictions is not None:
            caption += f"\npredict={int(predictions[i])}"
            if confidences is not None:
                caption += f" ({float(confidences[i]):.2f})"
            wrong = int(predictions[i]) != int(labels[i])
        if indices is not None:
            caption = f"#{int(indices[i])} " + caption
        ax.set_title(caption, fontsize=7, color="red" if wrong else "black")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def training_curves(history: dict[str, list[float]], path: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, train and validation, side by side; epochs are whole numbers."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        for prefix, style in (("", "o-"), ("val_", "s--")):
            # A model with a not_digit output logs its digits' accuracy as probabilities_accuracy.
            values = history.get(prefix + key) or history.get(f"{prefix}probabilities_{key}")
            if values:
                epochs = range(1, len(values) + 1)
                ax.plot(epochs, values, style, label="validation" if prefix else "train")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def confusion_matrix(matrix: np.ndarray, path: Path, title: str = "") -> Path:
    """The confusion matrix as a heat map, labels down, predictions across, counts in the cells."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    shown = ax.imshow(np.log1p(matrix), cmap="Blues")
    threshold = np.log1p(matrix).max() / 2
    for (row, col), value in np.ndenumerate(matrix):
        colour = "white" if np.log1p(value) > threshold else "black"
        ax.text(col, row, str(int(value)), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    ax.set_title(title or "confusion matrix")
    fig.colorbar(shown, ax=ax, label="log(1 + count)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
