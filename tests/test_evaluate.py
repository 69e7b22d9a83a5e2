"""evaluate: metrics are right on known inputs, and the report files are written."""

from __future__ import annotations

import json

import numpy as np

from toolkit import evaluate


def test_metrics_on_known_predictions():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predictions = np.array([0, 1, 1, 1, 2, 0])
    accuracy, precision, recall, matrix = evaluate.metrics(labels, predictions)
    assert accuracy == 4 / 6
    assert matrix[0].tolist()[:3] == [1, 1, 0] and matrix[2].tolist()[:3] == [1, 0, 1]
    assert precision[:3] == [0.5, round(2 / 3, 6), 1.0]
    assert recall[:3] == [0.5, 1.0, 0.5]
    assert precision[5] == 0.0 and recall[5] == 0.0  # absent classes are 0, not NaN


def test_evaluate_writes_report_and_plots(mlp_model, tmp_path):
    report = evaluate.evaluate(mlp_model, tmp_path / "ev")
    assert 0.5 < report.accuracy < 1.0 and report.format == "keras"
    assert sum(map(sum, report.confusion)) == 10000
    assert len(report.misclassified) == round((1 - report.accuracy) * 10000)
    saved = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert saved["accuracy"] == report.accuracy and saved["confusion"] == report.confusion
    for name in ("confusion.png", "misclassified.png"):
        assert (tmp_path / "ev" / name).read_bytes()[:4] == b"\x89PNG"
