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


def test_misclassified_shows_the_most_confident_mistakes_with_confidences(onnx_model, tmp_path, monkeypatch):
    from toolkit import plots

    drawn = {}

    def keep(images, labels, path, **options):
        drawn.update(options, labels=labels)
        return path

    monkeypatch.setattr(plots, "image_grid", keep)
    monkeypatch.setattr(plots, "confusion_matrix", lambda matrix, path, title="": path)
    report = evaluate.evaluate(onnx_model, tmp_path / "ev", max_misclassified=7)
    confidences = drawn["confidences"]
    assert len(confidences) == 7 and list(confidences) == sorted(confidences, reverse=True)
    assert set(drawn["indices"]) <= set(report.misclassified)
    assert all(p != label for p, label in zip(drawn["predictions"], drawn["labels"], strict=True))
    assert drawn["title"].endswith(f"the 7 most confident of {len(report.misclassified)} misclassified test images")


def test_training_curves_count_whole_epochs(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from toolkit import plots

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    history = {"loss": [0.9, 0.5, 0.4], "accuracy": [0.7, 0.8, 0.85], "val_loss": [0.6, 0.5, 0.45]}
    plots.training_curves(history, tmp_path / "curves.png")
    for ax in figures[0].axes:
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks == [1.0, 2.0, 3.0]


def test_image_grid_is_about_square(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from toolkit import plots

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    plots.image_grid(np.zeros((100, 28, 28), np.uint8), np.zeros(100, int), tmp_path / "grid.png")
    width, height = figures[0].get_size_inches()
    assert 0.6 < width / height < 1.4


def test_evaluate_without_matplotlib_says_no_plots_and_leaves_nothing(cli, onnx_model, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    out = tmp_path / "ev"
    result = cli("evaluate", onnx_model, "--out", out)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: this needs the Python package 'matplotlib', which is not installed; "
        "fix it with: pip install 'mnist-toolkit[train]', or pass --no-plots"
    )
    assert not out.exists()
    result = cli("evaluate", onnx_model, "--out", out, "--no-plots")
    assert result.exit_code == 0 and (out / "report.json").is_file() and not (out / "confusion.png").exists()


def test_evaluate_json_is_the_report_on_stdout(cli, onnx_model, tmp_path):
    result = cli("evaluate", onnx_model, "--out", tmp_path / "ev", "--no-plots", "--json")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    saved = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert payload == saved and 0.5 < payload["accuracy"] <= 1.0 and len(payload["confusion"]) == 10
