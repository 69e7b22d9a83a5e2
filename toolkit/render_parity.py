"""What `parity` prints: the table of exports (columns left out, never cut, when the terminal is narrow), every
failed check, where each compared export diverges, disagreements by class, and the verdict. A part of `render`
of its own: the parity table is most of what the command line prints about exports.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from toolkit.render import out_console

# Parity table columns, and the order in which they are left out when the terminal is too narrow for all of
# them: a number is never cut (a cut "1.1e-0" reads as a different number), a detail column is dropped instead.
PARITY_COLUMNS = (
    "export",
    "format",
    "argmax",
    "max abs",
    "mean abs",
    "p99 abs",
    "max rel",
    ">tol",
    "NaN/Inf",
    "acc pts",
    "batch",
    "verdict",
)
PARITY_OPTIONAL = ("p99 abs", "mean abs", "max rel", "NaN/Inf", "batch", ">tol", "acc pts", "format")


def _number(value: float | None) -> str:
    return "-" if value is None or value != value else (f"{value:.1e}" if value else "0")


def parity_row(r: Any) -> dict[str, str]:
    """One export's parity report (a toolkit.parity.ParityReport) as the table's cells, by column."""
    ran = r.check("load") is None and r.check("shape") is None
    accuracy = (
        f"{(r.candidate_accuracy - r.reference_accuracy) * 100:+.2f}"
        if r.candidate_accuracy is not None and r.reference_accuracy is not None
        else "-"
    )
    batch = r.check("batch")
    cells = (
        r.name,
        r.format,
        f"{r.argmax_agreement:,}" if ran else "-",
        _number(r.max_abs_diff),
        _number(r.mean_abs_diff),
        _number(r.p99_abs_diff),
        _number(r.max_rel_diff),
        f"{r.elements_out_of_tolerance:,}" if ran else "-",
        f"{r.nonfinite:,}" if ran else "-",
        accuracy,
        ("yes" if batch.passed else "NO") if batch else "-",
        "PASS" if r.passed else "FAIL",
    )
    return dict(zip(PARITY_COLUMNS, cells, strict=True))


def parity_columns(rows: list[dict[str, str]], width: int) -> list[str]:
    """The parity columns that fit in `width` characters without cutting a cell (export names may wrap)."""
    columns = list(PARITY_COLUMNS)

    def needed() -> int:
        sizes = [max([len(c), *(len(row[c]) for row in rows)]) for c in columns]
        sizes[0] = min(sizes[0], 24)  # the export name wraps; the others never do
        return sum(sizes) + 2 * (len(columns) - 1)

    for optional in PARITY_OPTIONAL:
        if needed() <= width:
            break
        columns.remove(optional)
    return columns


def parity_title(summary: Any) -> str:
    """What was compared with what, on which images: the parity table's title."""
    images = "MNIST test images" if summary.data == "mnist-test" else f"images ({summary.data})"
    against = "" if summary.reference in ("", summary.model) else f", reference {summary.reference}"
    accuracy = "" if summary.reference_accuracy is None else f"; reference accuracy {summary.reference_accuracy:.4f}"
    return (
        f"parity of {summary.model} on {summary.images:,} {images} (atol {summary.atol:g}, rtol {summary.rtol:g}"
        f"{accuracy}{against})"
    )


def parity_table(summary: Any, rows: list[dict[str, str]], columns: list[str]) -> Table:
    """The parity table of a toolkit.parity.ParitySummary, with `columns` of its `rows`."""
    from rich import box

    table = Table(title=parity_title(summary), box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        if column == "export":
            table.add_column(column, overflow="fold", min_width=min(24, max((len(r[column]) for r in rows), default=6)))
        else:
            table.add_column(
                column,
                no_wrap=True,
                justify="left" if column in ("format", "verdict") else "right",
                min_width=max([len(column), *(len(row[column]) for row in rows)]),
            )
    for row in rows:
        cells = [row[c] for c in columns]
        if "verdict" in columns:
            cells[-1] = "[green]PASS[/green]" if row["verdict"] == "PASS" else "[red]FAIL[/red]"
        table.add_row(*cells)
    return table


def print_parity(summary: Any, console: Console | None = None) -> None:
    """The parity table, what it left out, every failed check, where each compared export diverges, disagreements
    by class, and the verdict."""
    from toolkit.parity.report import divergence_phrase

    # CI logs are not terminals; rich would squeeze the table into 80 columns there.
    console = console or (out_console if out_console.is_terminal else Console(width=140))
    rows = [parity_row(r) for r in summary.reports]
    columns = parity_columns(rows, console.width)
    console.print(parity_table(summary, rows, columns))

    def say(line: str) -> None:
        # Names and details are data: no markup, no highlighting; and, where the output is not a terminal (a CI
        # log), one line each however long, so that a grep finds the whole of it.
        console.print(line, markup=False, highlight=False, soft_wrap=not console.is_terminal)

    if len(columns) < len(PARITY_COLUMNS):
        left_out = ", ".join(c for c in PARITY_COLUMNS if c not in columns)
        say(f"(narrow terminal: {left_out} left out; --json or --report has everything)")
    for r in summary.reports:
        for check in r.failures:
            say(f"FAIL {r.name}: {check.name}: {check.detail}")
        if r.localisation is not None:
            say(f"{r.name}: layers: {divergence_phrase(r).removeprefix('; ')}")
        if r.disagreements and r.per_class_disagreement:
            by_class = " ".join(f"{digit}:{count}" for digit, count in enumerate(r.per_class_disagreement) if count)
            say(f"{r.name}: {len(r.disagreements):,} argmax disagreements, by true label {by_class}")
    passed = sum(r.passed for r in summary.reports)
    verdict = "PASSED" if summary.passed else "FAILED"
    say(f"parity {verdict}: {passed} of {len(summary.reports)} exports pass ({summary.seconds:.1f} s)")
