"""Everything the command line prints: Rich tables, the progress bar, summaries and one-line results.

Each function takes what a library function returned and writes it: tables and results on stdout, the predict
summary and progress on stderr. Nothing here decides anything about the run, and nothing heavy is imported:
`--help` loads this module.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from toolkit.predict.records import Record
    from toolkit.predict.runner import Summary
    from toolkit.zoo import Arch, Recipe

out_console = Console()


def print_json(payload: Any) -> None:
    """Machine output: one JSON document on stdout."""
    typer.echo(json.dumps(payload, indent=2))


def print_wrote(paths: Iterable[Path | str | None], err: bool = False) -> None:
    """`wrote PATH` for each file made (None: a file this run did not make)."""
    for path in paths:
        if path:
            typer.echo(f"wrote {path}", err=err)


def size(n: int) -> str:
    """A file size for people: kB below a megabyte, MB above."""
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


# --- data ------------------------------------------------------------------------------------------------


def print_fetched(result: Any) -> None:
    """The outcome of `data fetch` (a toolkit.data fetch result)."""
    verb = "already cached and verified" if result.cached_already else f"fetched from {result.source} and verified"
    typer.echo(f"MNIST {verb}: {result.path}")


def print_ascii(split: str, index: int, label: int, image: Any, predicted: int | None = None) -> None:
    """One digit's 28x28 pixel values, a row per line, under its split, index, label (and a model's answer)."""
    typer.echo(f"{split}[{index}] label={label}" + ("" if predicted is None else f" predicted={predicted}"))
    for row in image:
        typer.echo(" ".join(f"{int(v):3d}" for v in row))


# --- zoo, train, evaluate ----------------------------------------------------------------------------------


def recipe_text(recipe: Recipe) -> str:
    """A zoo recipe in one line: optimizer, loss, epochs, batch, then whatever the tutorial added."""
    r = recipe
    loss = "sparse CE" if r.loss.startswith("sparse") else "categorical CE"
    text = f"{r.optimizer}, {loss}, {r.epochs} ep, batch {r.batch_size}"
    if r.validation_split:
        text += f", val {r.validation_split}"
    if r.limit:
        text += f", first {r.limit} images"
    if r.augment:
        clean = f"last {r.clean_epochs} ep clean" + (
            "" if r.clean_writers is None else f", {r.clean_writers:.0%} writers"
        )
        text += f", {r.augment} augmentation" + (f" ({clean})" if r.clean_epochs else "")
    if r.learning_rate:
        text += f", lr {r.learning_rate}" + (f" {r.lr_schedule}" if r.lr_schedule else "")
    if r.label_smoothing:
        text += f", label smoothing {r.label_smoothing}"
    if r.ema:
        text += ", weight EMA"
    if r.writers:
        text += f", {r.writers:.0%} drawn as other writers"
    if r.negatives:
        text += f", {r.negatives} no-digit crops per digit"
    return text


def zoo_json(archs: Iterable[Arch]) -> list[dict[str, Any]]:
    """The zoo as `models --json` prints it."""
    from toolkit import zoo

    return [
        {
            "name": a.name,
            "params": zoo.param_count(a.name),
            "network": a.summary,
            "recipe": a.recipe.as_dict(),
            "reported_accuracy": a.reported_accuracy,
            "source": a.source,
            "notes": a.notes,
        }
        for a in archs
    ]


def print_zoo(archs: Iterable[Arch]) -> None:
    """The zoo as a table: name, parameters, network, recipe, the accuracy its tutorial reported."""
    from toolkit import zoo

    table = Table(title="model zoo")
    for column in ("name", "params", "network", "recipe", "reported"):
        table.add_column(column, overflow="fold", no_wrap=column in ("params", "reported"))
    for arch in archs:
        reported = f"{arch.reported_accuracy:.4f}" if arch.reported_accuracy else "-"
        table.add_row(arch.name, f"{zoo.param_count(arch.name):,}", arch.summary, recipe_text(arch.recipe), reported)
    out_console.print(table)


def print_reference(model: Path, card: Path, as_json: bool = False) -> None:
    """The shipped model's path and its model card (`models --reference`), for people or as one JSON document."""
    content = json.loads(card.read_text(encoding="utf-8"))
    if not as_json:
        typer.echo(f"reference model: {model}\nmodel card: {card}")
    print_json({"path": str(model), "card_path": str(card), "card": content} if as_json else content)


def print_trained(arch: str, result: Any) -> None:
    """The outcome of `train` (a toolkit.train result) and the files it wrote."""
    typer.echo(
        f"{arch}: test accuracy {result.test_accuracy:.4f}, test loss {result.test_loss:.4f}, "
        f"trained in {result.train_seconds:.1f} s"
    )
    print_wrote((result.model_path, result.metrics_path, result.history_path, result.curves_path))


def print_evaluation(model: Path, report: Any) -> None:
    """An evaluation report: accuracy, per-class precision and recall, the confusion matrix, the files."""
    typer.echo(
        f"{model} ({report.format}): accuracy {report.accuracy:.4f} "
        f"({len(report.misclassified)} of {sum(map(sum, report.confusion))} wrong)"
    )
    per_class = Table(title="per class")
    for column in ("digit", "precision", "recall"):
        per_class.add_column(column, justify="right")
    for digit in range(10):
        per_class.add_row(str(digit), f"{report.precision[digit]:.4f}", f"{report.recall[digit]:.4f}")
    out_console.print(per_class)
    confusion = Table(title="confusion matrix (rows: label, columns: predict)")
    confusion.add_column("label", justify="right")
    for digit in range(10):
        confusion.add_column(str(digit), justify="right")
    for digit, row in enumerate(report.confusion):
        confusion.add_row(str(digit), *(str(v) for v in row))
    out_console.print(confusion)
    print_wrote((report.report_path, report.confusion_png, report.misclassified_png))


# --- export, parity ------------------------------------------------------------------------------------


def print_export(model: Path, result: Any) -> None:
    """What `export` made: a table of the files, the int8 model's size and accuracy, the manifest."""
    table = Table(
        title=f"{model.name} ({result.source.architecture}) exported to {result.out} in {result.seconds:.1f} s"
    )
    for column in ("format", "file", "size", "sha256", "opset"):
        table.add_column(column, overflow="fold")
    for exported in result.files:
        table.add_row(
            exported.format,
            exported.path.relative_to(result.out).as_posix(),
            size(exported.size),
            exported.sha256[:16],
            str(exported.opset or "-"),
        )
    out_console.print(table)
    if result.int8:
        q = result.int8
        typer.echo(
            f"int8 ONNX: {size(q.size)} ({q.size_ratio:.0%} of the float ONNX's {size(q.float_size)}); "
            f"test accuracy {q.test_accuracy:.4f} vs {q.source_accuracy:.4f} for the Keras model "
            f"(drop {q.accuracy_drop_points:.2f} points); argmax agreement {q.argmax_agreement:.2%}"
        )
    print_wrote((result.manifest,))


# --- predict ---------------------------------------------------------------------------------------------


class progress_bar:  # noqa: N801 - used like a function: `with render.progress_bar() as progress:`
    """A Rich progress bar on stderr when it is a terminal, as the callback `predict` reports to; None (no
    callback, so no counting walk either) otherwise."""

    def __init__(self, stream: Any = None, quiet: bool = False) -> None:
        self._stream = stream
        self._quiet = quiet
        self._progress: Any = None
        self._task: Any = None
        self._started = 0.0
        self._first = 0

    def __enter__(self):
        if self._quiet or not (self._stream or sys.stderr).isatty():
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=Console(file=self._stream) if self._stream else Console(stderr=True),
            transient=True,
        )
        return self.update

    def update(self, done: int, total: int | None) -> None:
        if self._task is None:  # started lazily: the worker pool must start before any thread does
            self._progress.start()
            self._task = self._progress.add_task("scoring", total=total, rate="")
            self._started, self._first = perf_counter(), done
        self._progress.update(self._task, completed=done, total=total, rate=self.rate(done))

    def rate(self, done: int) -> str:
        """The rate of the files scored since the bar started (the first batch came before its clock did), and
        only once there is a second's worth: a tiny run would otherwise show millions of files per second."""
        elapsed = perf_counter() - self._started
        return f"{(done - self._first) / elapsed:,.0f} files/s" if elapsed >= 1.0 else ""

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.stop()


def print_records(records: Sequence[Record], top_k: bool = False) -> None:
    """Records as a table on stdout (`predict --table`): file (relative to the folder they share), status,
    digit (or the number read), confidence, [top_k], and a note (the error, blank, low confidence, flags)."""
    from toolkit.predict.records import path_text

    paths = [path_text(r["path"]) for r in records]
    try:
        common = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    except ValueError:  # absolute and relative paths mixed
        common = ""
    where = f" in {common}/" if common else ""
    table = Table(title=f"predictions: {len(records)} records{where}")
    for column in ("file", "status", "digit", "confidence", *(("top_k",) if top_k else ()), "note"):
        table.add_column(column, overflow="fold", justify="right" if column in ("digit", "confidence") else "left")
    for path, r in zip(paths, records, strict=True):
        note = r["error"] or ("blank" if r["blank"] else "low confidence" if r["low_confidence"] else "")
        if flags := r.get("flags"):
            note = f"{note}, {flags}" if note else flags
        confidence = "" if r["confidence"] is None else f"{r['confidence']:.4f}"
        digit = r.get("text") or ("" if r["digit"] is None else str(r["digit"]))
        name = os.path.relpath(path, common) if common else path
        # Text, not markup: a file may well be called "[red]x.png".
        ranked = (" ".join(map(str, r.get("top_k") or ())),) if top_k else ()
        table.add_row(Text(name), r["status"], digit, confidence, *ranked, Text(note))
    out_console.print(table)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _counts(counter: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items()))


def summary_lines(s: Summary) -> list[str]:
    """A predict run's summary (a toolkit.predict.runner.Summary) in a few lines, as shown on stderr."""
    out = [
        f"scored {_count(s.files, 'file')} ({_count(s.records, 'record')}) in {s.seconds:.2f} s, "
        f"{s.rate:,.0f} files/s: {s.ok:,} ok, {_count(s.errors, 'error')}"
    ]
    if s.error_kinds:
        out.append("errors: " + _counts(s.error_kinds))
    if s.skipped:
        out.append("skipped (no record): " + _counts(s.skipped))
    if s.digits:
        out.append("digits: " + "  ".join(f"{d}:{s.digits.get(d, 0):,}" for d in range(10)))
    out.append(f"low confidence: {s.low_confidence:,}, blank: {s.blank:,}")
    if s.resumed_records:
        out.append(f"resumed: {s.resumed_records:,} records were already in the output ({s.resumed_errors:,} errors)")
    if s.changed:
        out.append(f"changed since: {_count(s.changed, 'input')} scored again, their old records replaced")
    if s.retried:
        out.append(f"unreadable before: {_count(s.retried, 'input')} tried again, their old records replaced")
    if s.gone:
        out.append(f"gone: {_count(s.gone, 'input')} not found again, their records kept and flagged input-gone")
    if s.flagged:
        out.append("warning: flagged for a look (see the flags column): " + _counts(s.flagged))
    out.extend(f"warning: {w}" for w in s.warnings)
    if s.output != "-":
        out.append(f"wrote {s.output}" if s.written else f"{s.output} is complete; nothing new")
    return out


ERRORS_SHOWN = 20  # error records `predict --verbose` lists; the output holds them all


def verbose_lines(s: Summary, failed: Sequence[Record]) -> list[str]:
    """What `predict --verbose` adds to the summary: the model, and the first error records, one line each."""
    shown = failed[:ERRORS_SHOWN]
    lines = [f"model: {s.model}", *(f"error record: {r['path']}: {r['error']}" for r in shown)]
    if s.errors > len(shown):
        lines.append(f"error records: the first {len(shown)} of {s.errors:,} shown; all are in the output")
    return lines


def print_summary(summary: Summary, failed: Sequence[Record] | None = None) -> None:
    """The predict summary on stderr, so that stdout holds only records (`--out -`) or the table; with `failed`
    (a list, for --verbose), the model and those error records too."""
    for line in (verbose_lines(summary, failed) if failed is not None else []) + summary_lines(summary):
        typer.echo(line, err=True)
