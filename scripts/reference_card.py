"""The reference model's measurements beyond MNIST, for its model card (scripts/train_reference.py) and docs:

- **held out** (report only): other writers' scans rendered by `scripts/render_writers.py`, code written apart
  from the training augmentation, read through `predict` as a user would;
- **tuning** (where the low_confidence threshold is chosen): MNIST test digits drawn as other writers by the
  training side's own `toolkit.other_writers` with a seed of its own, scored as `predict` would score them;
- **calibration**: expected calibration error (15 equal-width confidence bins) on each;
- **not_digit**: how often the output rejects crops with no digit (`toolkit.imaging.negatives`, a seed no
  training run uses, halves and pairs cut from MNIST *test* digits) and how often it rejects real digits.

    python scripts/reference_card.py MODEL.onnx [--heldout DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit import data  # noqa: E402
from toolkit.contract import NOT_DIGIT_THRESHOLD  # noqa: E402
from toolkit.onnxmodel import OnnxModel  # noqa: E402

TUNING_SEED, NEGATIVES_SEED = 1811, 1913  # seeds no training run uses (training: the recipe's seed and seed + 1)
WRONG_UNFLAGGED = 0.01  # the low_confidence threshold keeps wrong-and-unflagged reads at or below this share


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: the gap between confidence and accuracy, averaged over equal-width bins of
    confidence, weighted by how many reads fall in each."""
    confidence, right = probs.max(axis=1), probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - right[inside].mean())
    return float(total)


def flag_figures(confidence: np.ndarray, right: np.ndarray, threshold: float) -> dict[str, float]:
    """What flagging reads under `threshold` does: wrong reads left unflagged and right reads flagged (shares of
    all reads), and the flag's precision (flagged reads that are wrong) and recall (wrong reads flagged)."""
    flagged = confidence < threshold
    wrong = ~right
    return {
        "threshold": round(float(threshold), 4),
        "wrong_unflagged": round(float(np.mean(wrong & ~flagged)), 5),
        "right_flagged": round(float(np.mean(right & flagged)), 5),
        "flag_precision": round(float((wrong & flagged).sum() / max(1, flagged.sum())), 4),
        "flag_recall": round(float((wrong & flagged).sum() / max(1, wrong.sum())), 4),
    }


def choose_threshold(confidence: np.ndarray, right: np.ndarray) -> dict[str, float]:
    """The lowest threshold (steps of 0.05) at which wrong-and-unflagged reads are at most WRONG_UNFLAGGED."""
    for threshold in np.arange(0.05, 1.0, 0.05):
        figures = flag_figures(confidence, right, float(threshold))
        if figures["wrong_unflagged"] <= WRONG_UNFLAGGED:
            return figures
    return flag_figures(confidence, right, 0.99)


def tuning(model: Path, count: int = 5000) -> dict:
    """Accuracy, ECE and the chosen low_confidence threshold on the tuning renderings."""
    from toolkit.other_writers import writer_fields

    _, (x_test, y_test) = data.load_mnist()
    fields, kept = writer_fields(x_test[:count], np.random.default_rng(TUNING_SEED))
    probs = OnnxModel(model).score(fields)
    labels = y_test[:count][kept]
    right = probs.argmax(axis=1) == labels
    return {
        "images": int(len(kept)),
        "accuracy": round(float(right.mean()), 5),
        "ece": round(ece(probs, labels), 5),
        "low_confidence": choose_threshold(probs.max(axis=1), right),
    }


def mnist(model: Path) -> dict:
    _, (x_test, y_test) = data.load_mnist()
    scored = OnnxModel(model).score(x_test.astype(np.float32) / 255, with_not_digit=True)
    probs = scored[:, :10]
    out = {"accuracy": round(float(np.mean(probs.argmax(axis=1) == y_test)), 5), "ece": round(ece(probs, y_test), 5)}
    if scored.shape[1] > 10:
        out["not_digit_rejects_digits"] = round(float(np.mean(scored[:, 10] >= NOT_DIGIT_THRESHOLD)), 5)
    return out


def heldout(model: Path, folder: Path, threshold: float) -> dict:
    """Accuracy, ECE and flag figures on the held-out renderings, read by `predict` from their files."""
    from toolkit.predict import predict_folder

    with open(folder / "labels.csv", newline="") as fh:
        rows = {row["file"]: row for row in csv.DictReader(fh)}
    probs, labels, traits, rejected = [], [], [], []
    for record in predict_folder([folder], model=model):
        row = rows.get(Path(record["path"]).name)
        if row is None or record["status"] != "ok" or record["blank"]:
            continue
        probs.append([record[f"prob_{d}"] for d in range(10)])
        labels.append(int(row["label"]))
        traits.append(row["traits"].split("+"))
        rejected.append((record.get("not_digit") or 0.0) >= NOT_DIGIT_THRESHOLD)
    p, y = np.asarray(probs, np.float64), np.asarray(labels)
    right = p.argmax(axis=1) == y
    by_trait: dict[str, Counter] = {}
    for ok, names in zip(right, traits, strict=True):
        for name in names:
            by_trait.setdefault(name, Counter()).update(total=1, right=int(ok))
    return {
        "images": len(rows),
        "read": int(len(y)),
        "accuracy": round(float(right.sum() / len(rows)), 5),
        "ece": round(ece(p, y), 5),
        "flags_at_chosen_threshold": flag_figures(p.max(axis=1), right, threshold),
        "not_digit_rejects_digits": round(float(np.mean(rejected)), 5),
        "by_trait": {k: round(v["right"] / v["total"], 4) for k, v in sorted(by_trait.items())},
    }


def not_digit(model: Path, count: int = 4000) -> dict:
    """Rejection of fresh negatives (each kind) and of MNIST test digits, at NOT_DIGIT_THRESHOLD."""
    from toolkit.imaging.negatives import KINDS, fields_of, negative_crop

    scorer = OnnxModel(model)
    if scorer.not_digit_name is None:
        return {}
    _, (x_test, _) = data.load_mnist()
    rng = np.random.default_rng(NEGATIVES_SEED)
    per_kind = {}
    rejected_all = []
    for kind in KINDS:
        fields = fields_of([negative_crop(rng, x_test, kind)[0] for _ in range(count // len(KINDS))])
        rejected = scorer.score(fields, with_not_digit=True)[:, 10] >= NOT_DIGIT_THRESHOLD
        per_kind[kind] = round(float(rejected.mean()), 4)
        rejected_all.append(rejected)
    digits = scorer.score(x_test.astype(np.float32) / 255, with_not_digit=True)[:, 10] >= NOT_DIGIT_THRESHOLD
    caught = np.concatenate(rejected_all)
    true_rejects, false_rejects = int(caught.sum()), int(digits.sum())
    return {
        "threshold": NOT_DIGIT_THRESHOLD,
        "negatives": int(len(caught)),
        "recall_on_negatives": round(float(caught.mean()), 4),
        "precision": round(true_rejects / max(1, true_rejects + false_rejects), 4),
        "rejected_mnist_test_digits": round(float(digits.mean()), 5),
        "recall_by_kind": per_kind,
        "how": "precision: rejected negatives over all rejections; negatives from toolkit.imaging.negatives, seed "
        f"{NEGATIVES_SEED} (halves and pairs cut from MNIST test digits), against the 10,000 MNIST test digits",
    }


def card(model: Path, heldout_dir: Path | None) -> dict:
    figures: dict = {"mnist_test": mnist(model), "tuning": tuning(model), "not_digit": not_digit(model)}
    if heldout_dir is not None:
        threshold = figures["tuning"]["low_confidence"]["threshold"]
        figures["heldout"] = heldout(model, heldout_dir, threshold)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--heldout", type=Path, help="a folder scripts/render_writers.py wrote")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    figures = card(args.model, args.heldout)
    text = json.dumps(figures, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
