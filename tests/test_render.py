"""What the command line prints, from the values the library returns: tables, summaries, the progress bar."""

from __future__ import annotations

import io
import json
from collections import Counter
from types import SimpleNamespace

import pytest
from rich.console import Console

from toolkit import render, render_parity, zoo
from toolkit.predict.runner import Summary


@pytest.fixture
def console(monkeypatch) -> Console:
    """The console render prints its tables to, recording, wide enough for any row; plain lines still go to
    stdout, for capsys."""
    recording = Console(file=io.StringIO(), width=200, record=True, force_terminal=True)
    monkeypatch.setattr(render, "out_console", recording)
    return recording


def fake_parity(failing: bool = False):
    """Four exports of one model; with `failing`, the int8 one fails its tolerance check and disagrees twice."""
    from toolkit.parity import Check, ParityReport, ParitySummary

    def report(name, fmt, bad):
        checks = (Check("tolerance", not bad, "3 elements over tolerance" if bad else ""), Check("batch", True, ""))
        return ParityReport(
            name,
            fmt,
            "float",
            10000,
            1e-5,
            1e-5,
            argmax_agreement=9998 if bad else 10000,
            disagreements=(17, 4242) if bad else (),
            max_abs_diff=1.13e-6,
            mean_abs_diff=2.5e-9,
            p99_abs_diff=3.1e-8,
            max_rel_diff=4.4e-5,
            elements=100000,
            reference_accuracy=0.9953,
            candidate_accuracy=0.9952,
            per_class_disagreement=(0, 0, 1, 0, 0, 0, 0, 1, 0, 0) if bad else (),
            checks=checks,
        )

    exports = (("model.onnx", "onnx"), ("model_savedmodel", "savedmodel"), ("model.tflite", "tflite"))
    reports = tuple(report(name, fmt, False) for name, fmt in exports)
    reports += (report("model.int8.onnx", "onnx", failing),)
    return ParitySummary("model.keras", "0" * 64, 10000, 1e-5, 1e-5, 0.9953, reports, seconds=3.2)


# --- parity --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 100, 120, 160])
def test_parity_table_never_cuts_a_number(width):
    console = Console(width=width, record=True, force_terminal=True)
    summary = fake_parity()
    render_parity.print_parity(summary, console)
    text = console.export_text()
    rows = [render_parity.parity_row(r) for r in summary.reports]
    shown = render_parity.parity_columns(rows, width)
    assert "export" in shown and "verdict" in shown and "max abs" in shown
    for row in rows:
        for column in shown:
            if column != "export":
                assert row[column] in text, (column, row[column])
    assert all(len(line) <= width for line in text.splitlines())
    assert ("left out" in text) == (len(shown) < len(render_parity.PARITY_COLUMNS))
    if width >= 160:
        assert len(shown) == len(render_parity.PARITY_COLUMNS)


def test_parity_columns_drop_details_first():
    rows = [render_parity.parity_row(r) for r in fake_parity().reports]
    assert render_parity.parity_columns(rows, 1000) == list(render_parity.PARITY_COLUMNS)
    narrow = render_parity.parity_columns(rows, 70)
    left_out = [c for c in render_parity.PARITY_COLUMNS if c not in narrow]
    assert left_out and sorted(left_out) == sorted(render_parity.PARITY_OPTIONAL[: len(left_out)])
    assert {"export", "argmax", "max abs", "verdict"} <= set(narrow)


def test_parity_row_cells():
    row = render_parity.parity_row(fake_parity(failing=True).reports[-1])
    assert row == {
        "export": "model.int8.onnx",
        "format": "onnx",
        "argmax": "9,998",
        "max abs": "1.1e-06",
        "mean abs": "2.5e-09",
        "p99 abs": "3.1e-08",
        "max rel": "4.4e-05",
        ">tol": "0",
        "NaN/Inf": "0",
        "acc pts": "-0.01",
        "batch": "yes",
        "verdict": "FAIL",
    }


def test_parity_failures_disagreements_and_verdict_are_printed():
    console = Console(width=200, record=True, force_terminal=True)
    render_parity.print_parity(fake_parity(failing=True), console)
    lines = console.export_text().splitlines()
    assert "FAIL model.int8.onnx: tolerance: 3 elements over tolerance" in lines
    assert "model.int8.onnx: 2 argmax disagreements, by true label 2:1 7:1" in lines
    assert lines[-1] == "parity FAILED: 3 of 4 exports pass (3.2 s)"


# --- zoo, evaluate, export ----------------------------------------------------------------------------


def test_recipe_text_names_what_the_tutorial_added():
    recipe = zoo.Recipe(
        optimizer="adamw",
        loss="sparse_categorical_crossentropy",
        epochs=30,
        batch_size=128,
        validation_split=0.1,
        limit=6000,
        augment="elastic",
        clean_epochs=2,
        learning_rate=0.001,
        lr_schedule="cosine",
        label_smoothing=0.1,
        ema=True,
    )
    assert render.recipe_text(recipe) == (
        "adamw, sparse CE, 30 ep, batch 128, val 0.1, first 6000 images, elastic augmentation (last 2 ep clean), "
        "lr 0.001 cosine, label smoothing 0.1, weight EMA"
    )
    assert render.recipe_text(zoo.Recipe()) == "adam, categorical CE, 10 ep, batch 32"
    mixed = zoo.Recipe(augment="affine", clean_epochs=6, writers=0.4, clean_writers=0.0)
    assert render.recipe_text(mixed) == (
        "adam, categorical CE, 10 ep, batch 32, affine augmentation (last 6 ep clean, 0% writers), "
        "40% drawn as other writers"
    )


def test_zoo_table_and_json(console, capsys):
    render.print_zoo([zoo.get("mlp256")])
    text = console.export_text()
    assert "model zoo" in text and "mlp256" in text and "203,530" in text
    render.print_json(render.zoo_json([zoo.get("cnn2")]))
    [row] = json.loads(capsys.readouterr().out)
    assert (
        row["name"] == "cnn2"
        and row["reported_accuracy"] == 0.9927
        and row["recipe"] == zoo.get("cnn2").recipe.as_dict()
    )


def test_evaluation_tables_and_files(console, capsys, tmp_path):
    confusion = [[0] * 10 for _ in range(10)]
    for digit in range(10):
        confusion[digit][digit] = 9
    confusion[3][5] = 1
    report = SimpleNamespace(
        format="onnx",
        accuracy=0.9,
        misclassified=[17],
        confusion=confusion,
        precision=[1.0] * 10,
        recall=[0.5] * 10,
        report_path=tmp_path / "report.json",
        confusion_png=None,
        misclassified_png=None,
    )
    render.print_evaluation(tmp_path / "m.onnx", report)
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{tmp_path / 'm.onnx'} (onnx): accuracy 0.9000 (1 of 91 wrong)",
        f"wrote {report.report_path}",
    ]
    text = console.export_text()
    assert "per class" in text and "1.0000" in text and "0.5000" in text and "confusion matrix" in text


def test_export_table_int8_line_and_manifest(console, capsys, tmp_path):
    onnx = SimpleNamespace(format="onnx", path=tmp_path / "m.onnx", size=1_234_567, sha256="ab" * 32, opset=17)
    int8 = SimpleNamespace(
        size=400_000,
        float_size=1_234_567,
        size_ratio=0.324,
        test_accuracy=0.9901,
        source_accuracy=0.9912,
        accuracy_drop_points=0.11,
        argmax_agreement=0.9981,
    )
    result = SimpleNamespace(
        source=SimpleNamespace(architecture="cnn2"),
        out=tmp_path,
        seconds=2.0,
        files=[onnx],
        int8=int8,
        manifest=tmp_path / "manifest.json",
    )
    render.print_export(tmp_path / "m.keras", result)
    assert capsys.readouterr().out.splitlines() == [
        "int8 ONNX: 400.0 kB (32% of the float ONNX's 1.23 MB); test accuracy 0.9901 vs 0.9912 for the Keras "
        "model (drop 0.11 points); argmax agreement 99.81%",
        f"wrote {tmp_path / 'manifest.json'}",
    ]
    text = console.export_text()
    assert "m.onnx" in text and "1.23 MB" in text and "abababababababab" in text and "17" in text


def test_sizes():
    assert [render.size(n) for n in (999, 12_345, 1_000_000, 25_500_000)] == [
        "1.0 kB",
        "12.3 kB",
        "1.00 MB",
        "25.50 MB",
    ]


# --- predict -------------------------------------------------------------------------------------------


def record(path, digit=None, confidence=None, *, error=None, blank=False, low=False, flags=None, text=None):
    return {
        "path": path,
        "status": "error" if error else "ok",
        "digit": digit,
        "confidence": confidence,
        "error": error,
        "blank": blank,
        "low_confidence": low,
        "flags": flags,
        **({"text": text} if text else {}),
    }


def test_records_table_is_relative_to_the_shared_folder(console):
    render.print_records(
        [
            record("/scans/a/7.png", 7, 0.98765),
            record("/scans/b/[red]x.png", error="cannot identify image file"),
            record("/scans/a/blank.png", blank=True, low=True),
            record("/scans/a/page.png", 3, 0.4, low=True, flags="several-candidates"),
            record("/scans/a/n.png", 1, 0.9, text="1984"),
        ]
    )
    text = console.export_text()
    assert "predictions: 5 records in /scans/" in text
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert any(line.startswith("│ a/7.png │ ok │ 7 │ 0.9877 │") for line in lines)
    assert any("b/[red]x.png │ error" in line and "cannot identify image file" in line for line in lines)
    assert any("a/blank.png" in line and "│ blank │" in line for line in lines)
    assert any("a/page.png" in line and "low confidence, several-candidates" in line for line in lines)
    assert any("a/n.png │ ok │ 1984 │" in line for line in lines)


def make_summary(**counts) -> Summary:
    summary = Summary(output="out.csv", format="csv", model="m.onnx", seconds=2.0)
    for name, value in counts.items():
        setattr(summary, name, value)
    return summary


def test_summary_lines_of_a_clean_run():
    summary = make_summary(files=1, records=1, ok=1, digits=Counter({7: 1}))
    assert render.summary_lines(summary) == [
        "scored 1 file (1 record) in 2.00 s, 0 files/s: 1 ok, 0 errors",
        "digits: 0:0  1:0  2:0  3:0  4:0  5:0  6:0  7:1  8:0  9:0",
        "low confidence: 0, blank: 0",
        "wrote out.csv",
    ]


def test_summary_lines_say_everything_that_needs_a_look():
    summary = make_summary(
        files=2000,
        records=2001,
        ok=1990,
        errors=11,
        error_kinds=Counter({"decode": 10, "vanished": 1}),
        skipped=Counter({"not-an-image-name": 4}),
        low_confidence=5,
        blank=2,
        resumed_records=1000,
        resumed_errors=3,
        flagged=Counter({"several-candidates": 6}),
        warnings=["a note"],
        written=False,
    )
    assert render.summary_lines(summary) == [
        "scored 2,000 files (2,001 records) in 2.00 s, 1,000 files/s: 1,990 ok, 11 errors",
        "errors: decode 10, vanished 1",
        "skipped (no record): not-an-image-name 4",
        "low confidence: 5, blank: 2",
        "resumed: 1,000 records were already in the output (3 errors)",
        "warning: flagged for a look (see the flags column): several-candidates 6",
        "warning: a note",
        "out.csv is complete; nothing new",
    ]


def test_summary_goes_to_stderr_and_names_no_file_for_stdout(capsys):
    summary = make_summary()
    summary.output = "-"
    render.print_summary(summary)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.splitlines()[-1] == "low confidence: 0, blank: 0"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(monkeypatch):
    with render.progress_bar(io.StringIO()) as progress:
        assert progress is None
    screen = Terminal()
    clock = iter([100.0, 100.2, 100.5, 102.0])
    monkeypatch.setattr(render, "perf_counter", lambda: next(clock))
    with render.progress_bar(screen) as progress:
        assert progress is not None
        progress(10, None)  # the bar starts with the first batch, its clock too
        bar = progress.__self__
        assert bar.rate(40) == ""  # half a second in: too early for a rate
        assert bar.rate(40) == "15 files/s"  # (40 - 10) files in 2 s
    assert "scoring" in screen.getvalue()


def test_summary_counts_one_error_as_one():
    summary = make_summary(files=2, records=2, ok=1, errors=1, error_kinds=Counter({"decode": 1}))
    assert render.summary_lines(summary)[0] == "scored 2 files (2 records) in 2.00 s, 1 files/s: 1 ok, 1 error"


def test_verbose_summary_names_the_model_and_the_first_error_records(capsys):
    summary = make_summary(files=25, records=25, errors=25, error_kinds=Counter({"decode": 25}))
    failed = [record(f"/scans/{i}.png", error=f"decode: broken {i}") for i in range(render.ERRORS_SHOWN)]
    for r in failed:
        r["error_kind"] = "decode"
    render.print_summary(summary, failed)
    lines = capsys.readouterr().err.splitlines()
    assert lines[:3] == [
        "model: m.onnx",
        "error record: /scans/0.png: decode: broken 0",
        "error record: /scans/1.png: decode: broken 1",
    ]
    assert lines[21] == "error records: the first 20 of 25 shown; all are in the output"
    assert lines[22:] == render.summary_lines(summary)


def test_records_table_shows_top_k_when_asked(console):
    ranked = {**record("/scans/7.png", 7, 0.9), "top_k": [7, 1, 9]}
    render.print_records([ranked], top_k=True)
    lines = [" ".join(line.split()) for line in console.export_text().splitlines()]
    assert any("┃ top_k ┃" in line for line in lines)
    assert any(line.startswith("│ 7.png │ ok │ 7 │ 0.9000 │ 7 1 9 │") for line in lines)
    render.print_records([ranked])
    assert "top_k" not in console.export_text()


def test_reference_model_path_and_card(capsys, tmp_path):
    card = tmp_path / "card.json"
    card.write_text('{"architecture": "cnn-bn"}')
    render.print_reference(tmp_path / "m.onnx", card)
    assert capsys.readouterr().out.splitlines() == [
        f"reference model: {tmp_path / 'm.onnx'}",
        f"model card: {card}",
        "{",
        '  "architecture": "cnn-bn"',
        "}",
    ]
    render.print_reference(tmp_path / "m.onnx", card, as_json=True)
    assert json.loads(capsys.readouterr().out) == {
        "path": str(tmp_path / "m.onnx"),
        "card_path": str(card),
        "card": {"architecture": "cnn-bn"},
    }


def test_parity_failure_lines_are_never_wrapped_in_a_log():
    import numpy as np

    from toolkit.parity import ParitySummary, compare

    reference = np.full((4, 10), 0.1, np.float32)
    failing = compare(reference, reference + 0.05, name="a/rather/long/path/to/the/export/model.onnx", fmt="onnx")
    summary = ParitySummary("model.keras", "0" * 64, 4, 1e-5, 1e-5, None, (failing,), seconds=0.1)
    console = Console(width=60, record=True, force_terminal=False)
    render_parity.print_parity(summary, console)
    fails = [line for line in console.export_text().splitlines() if line.startswith("FAIL ")]
    assert fails and all(len(line) > 60 for line in fails)  # each failure whole on its line, past the width
    assert all(line.split(": ")[0] == "FAIL a/rather/long/path/to/the/export/model.onnx" for line in fails)
