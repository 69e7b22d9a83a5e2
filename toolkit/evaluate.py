"""Score a model on the MNIST test set: accuracy, per-class precision/recall, confusion matrix, plots."""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from toolkit import data, fsutil, runtimes
from toolkit.errors import MissingExtraError


@dataclass(frozen=True)
class EvalReport:
    """Test-set metrics of one model, and where its report files were written."""

    model: str
    format: str
    accuracy: float
    precision: list[float]
    recall: list[float]
    confusion: list[list[int]]
    misclassified: list[int]
    report_path: Path | None = None
    confusion_png: Path | None = None
    misclassified_png: Path | None = None

    def to_json(self) -> dict:
        payload = asdict(self)
        for key in ("report_path", "confusion_png", "misclassified_png"):
            payload[key] = str(payload[key]) if payload[key] else None
        return payload


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int = 10) -> np.ndarray:
    """Counts of (label, prediction) pairs: rows are labels, columns predictions (the tutorials' crosstab)."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predictions.astype(np.int64)), 1)
    return matrix


def metrics(labels: np.ndarray, predictions: np.ndarray) -> tuple[float, list[float], list[float], np.ndarray]:
    """Accuracy, per-class precision and recall, and the confusion matrix."""
    matrix = confusion_matrix(labels, predictions)
    diagonal = np.diag(matrix).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(diagonal / matrix.sum(axis=0))
        recall = np.nan_to_num(diagonal / matrix.sum(axis=1))
    accuracy = float(diagonal.sum() / max(1, matrix.sum()))
    return accuracy, precision.round(6).tolist(), recall.round(6).tolist(), matrix


def evaluate(
    model_path: Path, out: Path | None = None, plots: bool = True, max_misclassified: int = 25, limit: int | None = None
) -> EvalReport:
    """Run `model_path` (any supported format) on the test set; write JSON and PNGs to `out` if given."""
    if out is not None and plots and importlib.util.find_spec("matplotlib") is None:
        # Before any work and before `out` exists: a failed run leaves no empty folder behind.
        raise MissingExtraError("matplotlib", "train", "or pass --no-plots")
    model = runtimes.load(Path(model_path), "evaluate")
    (_, _), (x_test, y_test) = data.load_mnist()
    if limit is not None:
        x_test, y_test = x_test[:limit], y_test[:limit]
    probabilities = model.predict(data.to_model_input(x_test))
    predictions = np.argmax(probabilities, axis=1)
    accuracy, precision, recall, matrix = metrics(y_test, predictions)
    wrong = np.flatnonzero(predictions != y_test)
    report = EvalReport(str(model_path), model.format, accuracy, precision, recall, matrix.tolist(), wrong.tolist())
    if out is None:
        return report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    confusion_png = misclassified_png = None
    if plots:
        from toolkit import plots as draw

        name = Path(model_path).name
        confusion_png = draw.confusion_matrix(matrix, out / "confusion.png", title=f"{name}: accuracy {accuracy:.4f}")
        # The most confident mistakes first: the ones a user most needs to see.
        confidence = probabilities.max(axis=1)
        shown = wrong[np.argsort(-confidence[wrong], kind="stable")][:max_misclassified]
        title = (
            f"{name}: all {len(wrong)} misclassified test images"
            if len(shown) == len(wrong)
            else f"{name}: the {len(shown)} most confident of {len(wrong)} misclassified test images"
        )
        misclassified_png = draw.image_grid(
            x_test[shown],
            y_test[shown],
            out / "misclassified.png",
            predictions=predictions[shown],
            indices=shown,
            confidences=confidence[shown],
            title=title,
        )
    report_path = out / "report.json"
    report = EvalReport(
        **{
            **asdict(report),
            "report_path": report_path,
            "confusion_png": confusion_png,
            "misclassified_png": misclassified_png,
        }
    )
    fsutil.write_json(report_path, report.to_json())
    return report
