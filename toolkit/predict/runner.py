"""A whole `predict` run, engine-independent: walk -> (skip what a resumed run already has) -> engine ->
journal -> summary. The CLI calls `run`; notebooks use `predict_folder` (in `toolkit.predict`)."""

from __future__ import annotations

import contextlib
import fnmatch
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from toolkit import fsutil, interrupts
from toolkit.errors import DISK_FULL, Interrupted, ToolkitError, UsageError, os_error_line
from toolkit.predict import located, shards, writers
from toolkit.predict.journal import Journal
from toolkit.predict.names import patterns, wanted
from toolkit.predict.options import PredictOptions, resolve_model
from toolkit.predict.records import Record
from toolkit.predict.resume import Previous
from toolkit.predict.stores import is_glob
from toolkit.predict.stream import StreamOutput
from toolkit.predict.summary import Summary
from toolkit.predict.walk import Found, Walker, check_inputs, count_files

Progress = Callable[[int, "int | None"], None]

# How often a run commits its output (seconds). Ctrl-C, SIGTERM and failures commit everything written; a
# `kill -9` loses at most this much work, which --resume scores again. Committing after every batch (an fsync
# and a rename each time) cost 5% of a 100,000-file run.
COMMIT_EVERY = 1.0


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
    `engines.local.LocalEngine`; Ray Data, `engines.ray.RayEngine`)."""

    notes: list[str]  # lines the user should read with the summary

    def __init__(self, model: Path, options: PredictOptions) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...

    def batches(self, found: Iterable[Found]) -> Iterator[list[Record]]:
        """Records of the files in `found`, in their order, in lists; all frames of a file in one list. An empty
        list says the engine is about to wait for input (a trickling stdin): the run commits its output then."""
        ...


class Output(Protocol):
    """Where records go: a journalled file that survives a kill and resumes (`journal.Journal`), or a stream
    (`journal.StreamOutput`, for `--out -`)."""

    previous: Previous  # what an earlier run already wrote (empty unless resuming)
    written: int  # records written by this run
    gone: int  # inputs of earlier records this run did not find (once finished)
    kept: tuple[int, int] | None  # earlier records and errors kept, when finishing dropped some
    notes: list[str]

    def admit(self, found: Found) -> bool:
        """Whether to score `found` (not when an earlier run recorded it as it is now)."""
        ...

    def start(self, resume: bool) -> None: ...

    def write(self, records: Sequence[Record]) -> None: ...

    def commit(self) -> None: ...

    def finish(self) -> bool: ...

    def close(self) -> None: ...


from toolkit.predict.engines import ENGINES  # noqa: E402


def engine_class(name: str) -> type[Engine]:
    """The engine class registered under `name`."""
    import importlib

    if name not in ENGINES:
        raise UsageError(f"unknown engine '{name}'; choose one of: {', '.join(ENGINES)}")
    module, attribute = ENGINES[name]
    return getattr(importlib.import_module(module), attribute)


def setup(
    inputs: list[str],
    options: PredictOptions,
    engine: str = "local",
    stdin=None,
    flags: bool = False,
    open_archives: bool = True,
    output: str | None = None,
) -> tuple[type[Engine], Path, Walker]:
    """What every way of scoring checks and builds first (the command and `predict_folder` alike): the engine
    class, the model path and the walker over `inputs` (which leaves archives whole for the workers unless
    `open_archives`, and never takes `output`, the run's own file, or its sidecars for an input). Raises
    ToolkitError, before anything is read or written, for bad options (named as command-line `flags`, or as
    Python keywords), inputs, engine or model."""
    engine_type = engine_class(engine)
    options.validate(flags)
    if not inputs:
        raise ToolkitError("no inputs; name files, folders, glob patterns or - for a list on stdin")
    check_inputs(inputs, options.access(flags))
    model = resolve_model(options.model, flags, options.access(flags))
    walker = Walker(inputs, stdin=stdin, open_archives=open_archives, output=output, **walk_options(options))
    return engine_type, model, walker


def check_targets(inputs: list[str], options: PredictOptions, out: str | None, summary: Path | None) -> None:
    """Refuse, before anything is read or written, output files whose writing would destroy data: --out and
    --summary the same file; either one an existing folder, FIFO or device (the atomic write would put a
    regular file in its place); or a file the run itself scores (a file named as an input, or one inside an
    input folder that the walk would take: `--out scans/x.png` replaced the scan just read)."""
    targets = ([("--out", out)] if out not in (None, "-") else []) + ([("--summary", str(summary))] if summary else [])
    if len(targets) == 2 and _same_file(targets[0][1], targets[1][1]):
        raise UsageError(f"--out and --summary both name {out}; give the summary a file of its own")
    include, exclude = patterns(options.include), patterns(options.exclude)
    for flag, target in targets:
        if os.path.lexists(target) and not os.path.isfile(target):
            raise UsageError(f"{flag} {target} is not a regular file (a folder, FIFO or device); name a file to write")
        for item in inputs:
            if item == "-" or located.is_located(item):
                continue
            if not os.path.exists(item):  # a glob the shell left alone: does it name the target?
                if is_glob(item) and fnmatch.fnmatch(os.path.normpath(target), os.path.normpath(item)):
                    raise UsageError(f"{flag} {target} matches the input {item}; write it elsewhere")
                continue
            if os.path.isfile(item) and _same_file(item, target):
                raise UsageError(f"{flag} {target} is one of the inputs; write it elsewhere")
            relative = os.path.relpath(os.path.realpath(target), os.path.realpath(item))
            inside = os.path.isdir(item) and relative != ".." and not relative.startswith(".." + os.sep)
            if inside and wanted(os.path.basename(target), relative, include, exclude):
                raise UsageError(f"{flag} {target} is in the input folder {item}, which is scored; write it elsewhere")


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (which need not exist yet)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def walk_options(options: PredictOptions) -> dict[str, Any]:
    """The Walker's keywords that the options decide."""
    return {
        "follow_symlinks": options.follow_symlinks,
        "include": options.include,
        "exclude": options.exclude,
        "archives": options.archives,
        "access": options.access(),
    }


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
    """The `predict` command: score every file under `inputs` into one output file (or stdout with out='-') and
    return the Summary. Bad options are named as the command's flags.

    `progress(files_done, total_or_None)` is called after each batch; the total comes from a second, counting
    walk in a thread (only when `progress` is given). `on_records` sees every batch (for a results table).
    """
    if shards.is_dataset(out):
        return run_dataset(
            inputs,
            options,
            out=str(out),
            fmt=fmt,
            resume=resume,
            summary_path=summary_path,
            stdin=stdin,
            progress=progress,
            engine=engine,
        )
    out, fmt = writers.output_format(out, fmt)
    if fmt == "parquet":
        writers.require_parquet()
    check_targets(inputs, options, out, summary_path)
    engine_type, model, walker = setup(inputs, options, engine, stdin, flags=True, output=out)
    summary = Summary(output=out, format=fmt, model=str(model))
    output = open_output(out, fmt, options, model, stdout)
    started = time.perf_counter()
    # SIGTERM too becomes KeyboardInterrupt here, so `kill` saves progress as Ctrl-C does.
    with interrupts.raising(), _closed_on_failure(output, out):
        found = _start(output, resume, inputs, out, walker, summary)
        with _started(engine_type, model, options) as scoring:
            report = _reporter(progress, inputs, options, already=output.previous.records)
            due = _every(COMMIT_EVERY)
            for batch in scoring.batches(found):
                if not batch:  # the engine is about to wait for input: what it gave so far is made durable
                    output.commit()
                    continue
                _take(batch, output, summary, due())
                if on_records is not None:
                    on_records(batch)
                if report is not None:
                    report(summary.files)
        summary.seconds = time.perf_counter() - started
        summary.written = output.finish()
        summary.changed, summary.gone = output.previous.changed, output.gone
        summary.retried = output.previous.retried
        if output.kept is not None:  # earlier records were dropped: count what the output still holds
            summary.resumed_records, summary.resumed_errors = output.kept
    _conclude(summary, walker, inputs, output.notes + scoring.notes)
    if summary_path is not None:
        write_summary(summary, Path(summary_path))
    return summary


def run_dataset(
    inputs: list[str],
    options: PredictOptions,
    *,
    out: str,
    fmt: str | None,
    resume: bool,
    summary_path: Path | None = None,
    stdin=None,
    progress: Progress | None = None,
    engine: str = "ray",
) -> Summary:
    """`predict --engine ray --out DIR/`: the workers write the records as shards of a dataset in DIR
    (`toolkit.predict.shards`), the driver walks and adds up their counts. A rerun with `resume` keeps the
    shards whose inputs did not change."""
    from toolkit.predict.engines.ray_dataset import RayDatasetEngine

    if engine != "ray":
        raise UsageError(
            f"--out {out} is a folder: a dataset of shards is written by --engine ray; name a file for the "
            f"{engine} engine"
        )
    fmt = fmt or "jsonl"
    if fmt not in shards.SUFFIX:
        raise UsageError(f"unknown --format '{fmt}'; choose one of: {', '.join(shards.SUFFIX)}")
    if fmt == "parquet":
        writers.require_parquet()
    # Archives stay whole: the worker of an archive's block lists it and reads its members (tar shards by the
    # thousand, in an object store, are never read by the driver).
    _, model, walker = setup(inputs, options, engine, stdin, flags=True, open_archives=False)
    dataset = shards.Dataset(out, fmt, options.access(True))
    recorded = {**fingerprint(model, options), "format": fmt, "shard_size": options.shard_size}
    dataset.check(recorded, resume)
    summary = Summary(output=dataset.name, format=fmt, model=str(model))
    made: list[tuple[int, str]] = []  # (position in the walk, shard)
    started = time.perf_counter()
    with interrupts.raising(), contextlib.ExitStack() as stack:
        with interrupts.deferred():
            scoring = stack.enter_context(RayDatasetEngine(model, options, dataset))
        interrupts.check()
        dataset.start(recorded, resume)  # written once Ray is up: a run that cannot start leaves no folder
        try:
            for row in scoring.shards(walker):
                made.append((row["position"], row["shard"]))
                if row["reused"]:
                    summary.resumed_records += int(row["summary"].get("records", 0))
                    summary.resumed_errors += int(row["summary"].get("errors", 0))
                else:
                    summary.merge(row["summary"])
                if progress is not None:
                    progress(summary.files, None)
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted after {len(made):,} shards; run the same command with --resume to continue"
            ) from None
        summary.seconds = time.perf_counter() - started
        stale = dataset.finish([name for _, name in sorted(made)], summary.as_dict())
    notes = list(scoring.notes)
    if stale:
        notes.append(f"removed {stale:,} shards of an earlier run that this run did not make")
    _conclude(summary, walker, inputs, notes)
    if summary_path is not None:
        write_summary(summary, Path(summary_path))
    return summary


def open_output(out: str, fmt: str, options: PredictOptions, model: Path, stdout=None) -> Output:
    """Where the records of a run go: a journalled file, or `stdout` (default sys.stdout) for out='-'."""
    if out == "-":
        return StreamOutput(stdout if stdout is not None else sys.stdout, fmt, options.columns())
    return Journal(Path(out), fmt, options.columns(), fingerprint(model, options))


def _start(
    output: Output, resume: bool, inputs: list[str], out: str, walker: Walker, summary: Summary
) -> Iterator[Found]:
    """Open the output (taking up what an earlier run wrote, with `resume`) and return the files left to score."""
    output.start(resume)
    previous = output.previous
    previous.check_inputs(inputs, out)
    summary.resumed_records, summary.resumed_errors = previous.records, previous.errors
    return (f for f in walker if output.admit(f))


@contextlib.contextmanager
def _started(engine_type: type[Engine], model: Path, options: PredictOptions) -> Iterator[Engine]:
    """The engine, up and running, closed at the end of the block."""
    with contextlib.ExitStack() as stack:
        # An interrupt in the middle of starting the engine (forking its workers) would leave it half started
        # and never closed: it waits until the engine is up, then ends the run as usual.
        with interrupts.deferred():
            scoring = stack.enter_context(engine_type(model, options))
        interrupts.check()
        yield scoring


def _take(batch: list[Record], output: Output, summary: Summary, commit: bool) -> None:
    """One scored batch: written to the output (and committed when `commit`) before it counts; an interrupt
    commits what was written, so it never loses what was counted."""
    output.write(batch)
    if commit:
        output.commit()
    interrupts.check()
    summary.add(batch)


def _every(seconds: float) -> Callable[[], bool]:
    """A clock that says True at its first call, then once `seconds` have passed since it last said True."""
    last = -math.inf

    def due() -> bool:
        nonlocal last
        now = time.monotonic()
        if now - last < seconds:
            return False
        last = now
        return True

    return due


def _reporter(
    progress: Progress | None, inputs: list[str], options: PredictOptions, already: int
) -> Callable[[int], None] | None:
    """`progress` as called per batch, with the files done, and the files left to do in this run once the
    counting walk knows them (a resumed run does not do again what it `already` has). None without `progress`."""
    if progress is None:
        return None
    total: dict[str, int | None] = {"n": None}
    if "-" not in inputs:  # stdin can be read only once
        _count_in_background(inputs, options, total)

    def report(done: int) -> None:
        left = total["n"]
        if left is not None and already:
            left = max(0, left - already)
        progress(done, left)

    return report


@contextlib.contextmanager
def _closed_on_failure(output: Output, out: str) -> Iterator[None]:
    """Close the output when the run fails, keeping what it committed, and word an interrupt or a full disk as
    the line to show: both end with how to continue."""
    try:
        yield
    except KeyboardInterrupt:
        output.close()
        hint = "" if out == "-" else "; run the same command with --resume to continue where it stopped"
        raise Interrupted(f"interrupted after {output.written:,} new records{hint}") from None
    except OSError as exc:
        # The error to report is this one, not a second one from closing (a full disk fails that commit too);
        # the state then still describes the last batch committed.
        with contextlib.suppress(OSError):
            output.close()
        if out != "-" and exc.errno in DISK_FULL:
            raise ToolkitError(os_error_line(exc, "run the same command with --resume to continue")) from None
        raise
    except BaseException:
        output.close()
        raise


def _conclude(summary: Summary, walker: Walker, inputs: list[str], notes: list[str]) -> None:
    """What the walk skipped, and the warnings to show: no image at all first, then the output's, the engine's
    and the walk's notes (at most 20 lines)."""
    summary.skipped = walker.skipped
    empty = []
    if summary.empty:
        skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(walker.skipped.items()))
        empty.append(
            f"no image files found in {', '.join('the paths read from stdin' if i == '-' else i for i in inputs)}"
            + (f" ({skipped} skipped)" if skipped else "")
            + "; exit code 3"
        )
    summary.warnings = (empty + notes + walker.warnings)[:20]


def _count_in_background(inputs: list[str], options: PredictOptions, total: dict) -> None:
    def count() -> None:
        try:
            total["n"] = count_files(inputs, **walk_options(options))
        except Exception:  # the total only feeds the ETA; the real walk reports problems
            total["n"] = None

    threading.Thread(target=count, name="predict-count", daemon=True).start()


def write_summary(summary: Summary, path: Path) -> None:
    """The summary as JSON, written atomically."""
    fsutil.write_json(path, summary.as_dict())
