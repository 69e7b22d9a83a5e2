"""Record writers (CSV, JSON Lines, Parquet), atomic output and resume.

While a run is going, records are appended to `<out>.partial` (in the output's own format; a CSV journal for
Parquet, which cannot be appended to) and, after each batch, `<out>.partial.json` notes how many bytes of it
are complete. At the end the partial file is flushed to disk and renamed over `<out>` (Parquet: converted into
a temporary file that is renamed), so a reader never sees half an output. After Ctrl-C or kill -9, `--resume`
cuts the partial file back to its last complete batch, skips every file already in it and appends the rest;
resuming a finished run finds nothing new and leaves the output untouched.

Paths are written so that they survive every format: names with commas, quotes or newlines are quoted (CSV)
or escaped (JSON); bytes that are not UTF-8 are written as `\\xNN`; a name that starts like a spreadsheet
formula is already spelled `./=name` by the walker.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from toolkit import lazy
from toolkit.errors import ToolkitError, UsageError

FORMATS = ("csv", "jsonl", "parquet")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
STATE_VERSION = 1

Record = dict[str, Any]


def display_path(path: str) -> str:
    """A path as text that any UTF-8 consumer accepts: undecodable bytes become `\\xNN`."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def output_format(out: str | None, fmt: str | None) -> tuple[str, str]:
    """(output path, format) from --out and --format: the format wins, else the extension, else CSV."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown --format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    if out is None:
        fmt = fmt or "csv"
        return f"predictions.{fmt}", fmt
    if out == "-":
        fmt = fmt or "csv"
        if fmt == "parquet":
            raise UsageError("Parquet cannot be streamed to stdout; pass --out FILE.parquet")
        return out, fmt
    if fmt is None:
        fmt = EXTENSIONS.get(os.path.splitext(out)[1].lower())
        if fmt is None:
            raise UsageError(f"cannot tell the output format from '{out}'; name it .csv, .jsonl or .parquet, "
                             "or pass --format")
    return out, fmt


def require_parquet():
    """pyarrow and pyarrow.parquet, or a one-line hint naming the extra."""
    pa = lazy.require("pyarrow", "parquet")
    lazy.require("pyarrow.parquet", "parquet")
    lazy.require("pyarrow.csv", "parquet")
    return pa


# --- cell formatting ------------------------------------------------------------------------------------


_CELL = {  # one dict lookup per cell instead of a chain of isinstance checks: CSV writing is per file
    type(None): lambda v: "",
    bool: lambda v: "true" if v else "false",
    float: lambda v: format(v, ".6g"),
    int: str,
    str: str,
}


def _cell(value: Any) -> str:
    return _CELL.get(type(value), str)(value)


def _json_value(value: Any) -> Any:
    return float(f"{value:.6g}") if isinstance(value, float) else value


class CsvWriter:
    """CSV with a header row; quoting as RFC 4180 (fields with commas, quotes or newlines are quoted)."""

    def __init__(self, stream: TextIO, columns: Sequence[str], header: bool = True):
        self.columns = tuple(columns)
        # CRLF as RFC 4180 says; it also makes the csv module quote names that contain a lone \r.
        self._writer = csv.writer(stream, lineterminator="\r\n")
        if header:
            self._writer.writerow(self.columns)

    def write(self, records: Iterable[Record]) -> None:
        columns, cell = self.columns, _CELL
        rows = []
        for record in records:
            row = [cell.get(type(v), str)(v) for v in map(record.get, columns)]
            row[0] = display_path(record["path"])
            rows.append(row)
        self._writer.writerows(rows)


class JsonlWriter:
    """One JSON object per line, keys in column order."""

    def __init__(self, stream: TextIO, columns: Sequence[str], header: bool = True):
        self.columns = tuple(columns)
        self._stream = stream

    def write(self, records: Iterable[Record]) -> None:
        lines = []
        for record in records:
            obj = {c: _json_value(record.get(c)) for c in self.columns}
            obj["path"] = display_path(record["path"])
            lines.append(json.dumps(obj, ensure_ascii=False, allow_nan=False))
        if lines:
            self._stream.write("\n".join(lines) + "\n")


def _writer_class(fmt: str):
    return JsonlWriter if fmt == "jsonl" else CsvWriter  # Parquet is journalled as CSV


def _open_text(path: Path | str, mode: str) -> TextIO:
    # newline="" lets the csv module control line ends (and keeps \r inside quoted names intact).
    return open(path, mode, encoding="utf-8", errors="backslashreplace", newline="")


# --- reading back (resume) ------------------------------------------------------------------------------


def _read_rows(path: Path, fmt: str) -> Iterator[tuple[list[str] | None, dict | None]]:
    """Stream a CSV/JSONL file: the CSV header then (path, status) per record."""
    with _open_text(path, "r") as fh:
        if fmt == "jsonl":
            for line in fh:
                if line.strip():
                    yield None, json.loads(line)
        else:
            reader = csv.reader(fh)
            header = next(reader, None)
            yield header, None
            for row in reader:
                yield None, {"path": row[0], "status": row[1] if len(row) > 1 else ""}


class Previous:
    """What a previous run already wrote: the paths it covered and how many of its records were errors."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.records = 0
        self.errors = 0

    def add(self, path: str, status: str) -> None:
        self.paths.add(path)
        self.records += 1
        self.errors += status == "error"

    def __contains__(self, path: str) -> bool:
        return display_path(path) in self.paths


def _scan_text(path: Path, fmt: str, columns: Sequence[str], previous: Previous) -> None:
    mismatch = UsageError(f"cannot --resume: {path} has other columns than this run writes; use the same "
                          "options or a new --out")
    first = True
    for header, row in _read_rows(path, fmt):
        if header is not None:
            if list(header) != list(columns):
                raise mismatch
            continue
        if row is None:
            continue
        if first and fmt == "jsonl" and list(row) != list(columns):
            raise mismatch
        first = False
        previous.add(row["path"], row["status"])


def _scan_parquet(path: Path, columns: Sequence[str], previous: Previous) -> None:
    require_parquet()
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    if list(parquet.schema_arrow.names) != list(columns):
        raise UsageError(f"cannot --resume: {path} has other columns than this run writes; use the same "
                         "options or a new --out")
    for batch in parquet.iter_batches(columns=["path", "status"], batch_size=65536):
        for p, s in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            previous.add(p, s)


# --- the journal ------------------------------------------------------------------------------------------


class Journal:
    """Appends records to `<out>.partial`, commits after each batch, and renames into place at the end."""

    def __init__(self, out: Path, fmt: str, columns: Sequence[str], fingerprint: dict[str, Any]):
        self.out = Path(out)
        self.fmt = fmt
        self.columns = tuple(columns)
        self.fingerprint = fingerprint
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.state = self.out.with_name(self.out.name + ".partial.json")
        self.previous = Previous()
        self._stream: TextIO | None = None
        self._writer = None
        self.written = 0
        self.errors = 0
        self.notes: list[str] = []

    # Starting ----------------------------------------------------------------------------------------

    def start(self, resume: bool) -> None:
        """Fresh: an empty partial file. Resume: pick up the partial file, else the finished output."""
        if self.out.exists() and self.out.is_dir():
            raise UsageError(f"--out {self.out} is a folder; name a file")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.partial.exists() and self.state.exists():
            self._resume_partial()
        elif resume and self.out.exists():
            self._resume_finished()
        else:
            if self.state.exists():
                self.notes.append(f"started over: the interrupted run's records in {self.partial} were "
                                  "discarded (--resume continues an interrupted run)")
            self._open_fresh()

    def _open_fresh(self) -> None:
        self._stream = _open_text(self.partial, "w")
        self._writer = _writer_class(self.fmt)(self._stream, self.columns)
        self.commit()

    def _resume_partial(self) -> None:
        try:
            state = json.loads(self.state.read_text())
        except (OSError, ValueError) as exc:
            raise ToolkitError(f"cannot --resume: {self.state} is unreadable ({exc}); run without --resume "
                               "to start over") from None
        mismatch = [k for k, v in self.fingerprint.items() if state.get("fingerprint", {}).get(k) != v]
        if state.get("version") != STATE_VERSION or state.get("format") != self.fmt or mismatch:
            what = ", ".join(mismatch) or "format"
            raise UsageError(f"cannot --resume: the interrupted run differs in {what}; run it with the same "
                             "model and options, or without --resume to start over")
        committed = int(state["committed_bytes"])
        # Anything after the last commit may be half a record (kill -9 mid-write): cut it off.
        with open(self.partial, "r+b") as fh:
            fh.truncate(committed)
        _scan_text(self.partial, "jsonl" if self.fmt == "jsonl" else "csv", self.columns, self.previous)
        self._stream = _open_text(self.partial, "a")
        self._writer = _writer_class(self.fmt)(self._stream, self.columns, header=False)
        self.commit()

    def _resume_finished(self) -> None:
        """The output of a finished run: remember its paths; it is copied into a partial file only if new
        files turn up (so a run with nothing new changes nothing)."""
        if self.fmt == "parquet":
            _scan_parquet(self.out, self.columns, self.previous)
        else:
            _scan_text(self.out, self.fmt, self.columns, self.previous)

    def _reopen_finished(self) -> None:
        if self.fmt == "parquet":
            self._stream = _open_text(self.partial, "w")
            self._writer = CsvWriter(self._stream, self.columns)
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(self.out).iter_batches(batch_size=65536):
                self._writer.write(batch.to_pylist())
        else:
            shutil.copyfile(self.out, self.partial)
            self._stream = _open_text(self.partial, "a")
            self._writer = _writer_class(self.fmt)(self._stream, self.columns, header=False)
        self.commit()

    # Writing -----------------------------------------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        """Append a batch. Records of one file must come in one call (resume works file by file)."""
        if not records:
            return
        if self._stream is None:
            self._reopen_finished()
        self._writer.write(records)
        self.written += len(records)
        self.errors += sum(1 for r in records if r["status"] == "error")

    def commit(self) -> None:
        """Make everything written so far survive a kill: flush it and note its length."""
        if self._stream is None:
            return
        self._stream.flush()
        state = {"version": STATE_VERSION, "format": self.fmt, "output": str(self.out),
                 "committed_bytes": self._stream.tell(), "fingerprint": self.fingerprint}
        _write_atomic_text(self.state, json.dumps(state, indent=1) + "\n")

    def finish(self) -> bool:
        """Move the complete output into place. False when there was nothing new to write (resume)."""
        if self._stream is None:
            return False
        self.commit()
        os.fsync(self._stream.fileno())
        self._stream.close()
        self._stream = None
        if self.fmt == "parquet":
            csv_to_parquet(self.partial, self.out, self.columns)
            self.partial.unlink()
        else:
            os.replace(self.partial, self.out)
        self.state.unlink(missing_ok=True)
        return True

    def close(self) -> None:
        """Stop without finishing (interrupt, failure): commit what is complete so --resume can go on."""
        if self._stream is not None:
            try:
                self.commit()
            finally:
                self._stream.close()
                self._stream = None


def _write_atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# --- Parquet -------------------------------------------------------------------------------------------


def arrow_schema(columns: Sequence[str]):
    """The Arrow types of the record columns."""
    pa = require_parquet()
    types = {"path": pa.string(), "status": pa.string(), "digit": pa.int8(), "confidence": pa.float32(),
             "error": pa.string(), "error_kind": pa.string(), "low_confidence": pa.bool_(),
             "blank": pa.bool_(), "frame": pa.int32(), "top_k": pa.string()}
    return pa.schema([(c, types.get(c, pa.float32())) for c in columns])


def csv_to_parquet(source: Path, target: Path, columns: Sequence[str]) -> None:
    """Convert a CSV journal into a Parquet file, streaming, atomically (temp file, then rename)."""
    require_parquet()
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    read = pacsv.ReadOptions(block_size=8 << 20)
    parse = pacsv.ParseOptions(newlines_in_values=True)
    convert = pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True, null_values=[""],
                                   true_values=["true"], false_values=["false"], quoted_strings_can_be_null=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with pacsv.open_csv(source, read_options=read, parse_options=parse, convert_options=convert) as reader, \
                pq.ParquetWriter(tmp, schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def records_to_parquet(records: Sequence[Record], target: Path, columns: Sequence[str]) -> None:
    """Write records straight to a Parquet file (small outputs, tests)."""
    require_parquet()
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{**r, "path": display_path(r["path"])} for r in records]
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(columns)), target)


class StreamOutput:
    """Records to stdout (`--out -`): no journal, no resume, written as they come."""

    def __init__(self, stream: TextIO, fmt: str, columns: Sequence[str]):
        self._stream = stream
        self._writer = _writer_class(fmt)(stream, columns)
        self.previous = Previous()
        self.written = 0
        self.errors = 0
        self.notes: list[str] = []

    def start(self, resume: bool) -> None:
        if resume:
            raise UsageError("--resume needs --out FILE (stdout cannot be resumed)")

    def write(self, records: Sequence[Record]) -> None:
        self._writer.write(records)
        self.written += len(records)
        self.errors += sum(1 for r in records if r["status"] == "error")

    def commit(self) -> None:
        self._stream.flush()

    def finish(self) -> bool:
        self._stream.flush()
        return True

    def close(self) -> None:
        self._stream.flush()
