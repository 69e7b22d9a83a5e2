"""A whole `predict` run, engine-independent: walk -> (skip what a resumed run already has) -> engine ->
journal -> summary. The CLI calls `run`; notebooks use `predict_folder` (in `toolkit.predict`)."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from toolkit import fsutil, interrupts
from toolkit.errors import DISK_FULL, Interrupted, ToolkitError, UsageError, os_error_line
from toolkit.predict import writers
from toolkit.predict.journal import Journal, StreamOutput
from toolkit.predict.pipeline import PredictOptions, Record, resolve_model
from toolkit.predict.resume import Previous
from toolkit.predict.walk import Found, Walker, check_inputs, count_files

Progress = Callable[[int, "int | None"], None]


@dataclass
class Summary:
    """What a run did. `exit_code`: 0 every input scored, 3 some became error records or there was no image
    to score at all."""

    output: str
    format: str
    model: str
    files: int = 0
    records: int = 0
    ok: int = 0
    errors: int = 0
    error_kinds: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    digits: Counter = field(default_factory=Counter)
    low_confidence: int = 0
    blank: int = 0
    seconds: float = 0.0
    resumed_records: int = 0
    resumed_errors: int = 0
    written: bool = True
    warnings: list[str] = field(default_factory=list)
    flagged: Counter = field(default_factory=Counter)  # records by flag (toolkit.segment.FLAGS)

    @property
    def rate(self) -> float:
        return self.files / self.seconds if self.seconds > 0 else 0.0

    @property
    def empty(self) -> bool:
        """Nothing was scored, now or in the run this one resumed: the inputs held no image files."""
        return self.records == 0 and self.resumed_records == 0

    @property
    def exit_code(self) -> int:
        return 3 if self.errors or self.resumed_errors or self.empty else 0

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        for r in records:
            self.records += 1
            if r.get("frame", 0) == 0:
                self.files += 1
            if r["status"] == "ok":
                self.ok += 1
                if r["blank"]:
                    self.blank += 1  # also flagged low_confidence in the record, but counted apart here
                else:
                    if "per_digit" in r:  # --multi-digit: every digit read counts
                        self.digits.update(d["digit"] for d in r["per_digit"])
                    else:
                        self.digits[r["digit"]] += 1
                    if r["low_confidence"]:
                        self.low_confidence += 1
                if r.get("flags"):
                    self.flagged.update(r["flags"].split())
            else:
                self.errors += 1
                self.error_kinds[r["error_kind"]] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "format": self.format,
            "model": self.model,
            "files": self.files,
            "records": self.records,
            "ok": self.ok,
            "errors": self.errors,
            "error_kinds": dict(sorted(self.error_kinds.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "digits": {str(d): self.digits.get(d, 0) for d in range(10)},
            "low_confidence": self.low_confidence,
            "blank": self.blank,
            "seconds": round(self.seconds, 3),
            "files_per_second": round(self.rate, 1),
            "resumed_records": self.resumed_records,
            "resumed_errors": self.resumed_errors,
            "output_written": self.written,
            "exit_code": self.exit_code,
            "warnings": self.warnings,
            "flagged": dict(sorted(self.flagged.items())),
        }

    def lines(self) -> list[str]:
        """The human summary, a few lines for stderr."""
        out = [
            f"scored {_count(self.files, 'file')} ({_count(self.records, 'record')}) in {self.seconds:.2f} s, "
            f"{self.rate:,.0f} files/s: {self.ok:,} ok, {self.errors:,} errors"
        ]
        if self.error_kinds:
            out.append("errors: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.error_kinds.items())))
        if self.skipped:
            out.append("skipped (no record): " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.skipped.items())))
        if self.digits:
            out.append("digits: " + "  ".join(f"{d}:{self.digits.get(d, 0):,}" for d in range(10)))
        out.append(f"low confidence: {self.low_confidence:,}, blank: {self.blank:,}")
        if self.resumed_records:
            out.append(
                f"resumed: {self.resumed_records:,} records were already in the output ({self.resumed_errors:,} errors)"
            )
        if self.flagged:
            out.append(
                "warning: flagged for a look (see the flags column): "
                + ", ".join(f"{k} {v:,}" for k, v in sorted(self.flagged.items()))
            )
        out.extend(f"warning: {w}" for w in self.warnings)
        if self.output != "-":
            out.append(f"wrote {self.output}" if self.written else f"{self.output} is complete; nothing new")
        return out


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def fingerprint(model: Path, options: PredictOptions) -> dict[str, Any]:
    """What must not change between an interrupted run and its --resume."""
    from toolkit.data import sha256_file

    return {
        "model_sha256": sha256_file(model),
        "columns": list(options.columns()),
        "min_confidence": options.min_confidence,
        "top_k": options.top_k,
        "all_frames": options.all_frames,
        "multi_digit": options.multi_digit,
    }


class Engine(Protocol):
    """What scores: built as Engine(model_path, options) and used as a context manager (the local process pool,
    `local.LocalEngine`; Ray Data, `ray_engine.RayEngine`)."""

    notes: list[str]  # lines the user should read with the summary

    def __init__(self, model: Path, options: PredictOptions) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...

    def batches(self, found: Iterable[Found]) -> Iterator[list[Record]]:
        """Records of the files in `found`, in their order, in lists; all frames of a file in one list."""
        ...


class Output(Protocol):
    """Where records go: a journalled file that survives a kill and resumes (`records.Journal`), or a stream
    (`records.StreamOutput`, for `--out -`)."""

    previous: Previous  # what an earlier run already wrote (empty unless resuming)
    written: int  # records written by this run
    notes: list[str]

    def start(self, resume: bool) -> None: ...

    def write(self, records: Sequence[Record]) -> None: ...

    def commit(self) -> None: ...

    def finish(self) -> bool: ...

    def close(self) -> None: ...


ENGINES = {"local": ("toolkit.predict.local", "LocalEngine"), "ray": ("toolkit.predict.ray_engine", "RayEngine")}


def engine_class(name: str) -> type[Engine]:
    """The engine class registered under `name`."""
    import importlib

    if name not in ENGINES:
        raise UsageError(f"unknown engine '{name}'; choose one of: {', '.join(ENGINES)}")
    module, attribute = ENGINES[name]
    return getattr(importlib.import_module(module), attribute)


def setup(
    inputs: list[str], options: PredictOptions, engine: str = "local", stdin=None
) -> tuple[type[Engine], Path, Walker]:
    """What every way of scoring checks and builds first (the command and `predict_folder` alike): the engine
    class, the model path and the walker over `inputs`. Raises ToolkitError, before anything is read or written,
    for bad options, inputs, engine or model."""
    engine_type = engine_class(engine)
    options.validate()
    if not inputs:
        raise ToolkitError("no inputs; name files, folders, glob patterns or - for a list on stdin")
    check_inputs(inputs)
    model = resolve_model(options.model)
    walker = Walker(
        inputs, follow_symlinks=options.follow_symlinks, include=options.include, exclude=options.exclude, stdin=stdin
    )
    return engine_type, model, walker


def run(
    inputs: list[str],
    options: PredictOptions,
    *,
    out: str | None = None,
    fmt: str | None = None,
    resume: bool = False,
    summary_path: Path | None = None,
    stdin=None,
    stdout=None,
    progress: Progress | None = None,
    on_records: Callable[[list], None] | None = None,
    engine: str = "local",
) -> Summary:
    """Score every file under `inputs` into one output file (or stdout with out='-') and return the Summary.

    `progress(files_done, total_or_None)` is called after each batch; the total comes from a second, counting
    walk in a thread (only when `progress` is given). `on_records` sees every batch (for a results table).
    """
    out, fmt = writers.output_format(out, fmt)
    if fmt == "parquet":
        writers.require_parquet()
    Engine, model, walker = setup(inputs, options, engine, stdin)  # noqa: N806 - a class
    columns = options.columns()
    summary = Summary(output=out, format=fmt, model=str(model))
    if out == "-":
        stream = stdout if stdout is not None else sys.stdout
        journal: Output = StreamOutput(stream, fmt, columns)
    else:
        journal = Journal(Path(out), fmt, columns, fingerprint(model, options))
    started = time.perf_counter()
    # SIGTERM too becomes KeyboardInterrupt here, so `kill` saves progress as Ctrl-C does.
    with interrupts.raising():
        try:
            journal.start(resume)
            previous = journal.previous
            previous.check_inputs(inputs, out)
            summary.resumed_records, summary.resumed_errors = previous.records, previous.errors
            found = (f for f in walker if f.path not in previous) if previous.records else iter(walker)
            with contextlib.ExitStack() as stack:
                # An interrupt in the middle of starting the engine (forking its workers) would leave it half
                # started and never closed: it waits until the engine is up, then ends the run as usual.
                with interrupts.deferred():
                    scoring = stack.enter_context(Engine(model, options))
                interrupts.check()
                total: dict[str, int | None] = {"n": None}
                if progress is not None and "-" not in inputs:
                    _count_in_background(inputs, options, total)
                for batch in scoring.batches(found):
                    journal.write(batch)
                    journal.commit()
                    interrupts.check()
                    summary.add(batch)
                    if on_records is not None:
                        on_records(batch)
                    if progress is not None:
                        left = total["n"]
                        if left is not None and previous.records:
                            left = max(0, left - previous.records)
                        progress(summary.files, left)
            summary.seconds = time.perf_counter() - started
            summary.written = journal.finish()
        except KeyboardInterrupt:
            journal.close()
            hint = "" if out == "-" else "; run the same command with --resume to continue where it stopped"
            raise Interrupted(f"interrupted after {journal.written:,} new records{hint}") from None
        except OSError as exc:
            # The error to report is this one, not a second one from closing (a full disk fails that commit
            # too); the state then still describes the last batch committed.
            with contextlib.suppress(OSError):
                journal.close()
            if out != "-" and exc.errno in DISK_FULL:
                raise ToolkitError(os_error_line(exc, "run the same command with --resume to continue")) from None
            raise
        except BaseException:
            journal.close()
            raise
    summary.skipped = walker.skipped
    empty = (
        [
            f"no image files found in {', '.join(inputs)}"
            + (
                f" ({', '.join(f'{k} {v:,}' for k, v in sorted(walker.skipped.items()))} skipped)"
                if walker.skipped
                else ""
            )
            + "; exit code 3"
        ]
        if summary.empty
        else []
    )
    summary.warnings = (empty + journal.notes + scoring.notes + walker.warnings)[:20]
    if summary_path is not None:
        write_summary(summary, Path(summary_path))
    return summary


def _count_in_background(inputs: list[str], options: PredictOptions, total: dict) -> None:
    def count() -> None:
        try:
            total["n"] = count_files(
                inputs, follow_symlinks=options.follow_symlinks, include=options.include, exclude=options.exclude
            )
        except Exception:  # the total only feeds the ETA; the real walk reports problems
            total["n"] = None

    threading.Thread(target=count, name="predict-count", daemon=True).start()


def write_summary(summary: Summary, path: Path) -> None:
    """The summary as JSON, written atomically."""
    fsutil.write_json(path, summary.as_dict())
