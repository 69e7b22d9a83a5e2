"""Record writers (CSV, JSON Lines, Parquet), atomic output and resume.

While a run is going, records are appended to `<out>.partial` (in the output's own format; a CSV journal for
Parquet, which cannot be appended to) and, after each batch, `<out>.partial.json` notes how many bytes of it
are complete and the model and options they were made with (the fingerprint). At the end the partial file is
flushed to disk and renamed over `<out>` (Parquet: converted into a temporary file that is renamed), so a
reader never sees half an output, and the fingerprint is kept beside it in `<out>.meta.json`. After Ctrl-C or
kill -9, `--resume` cuts the partial file back to its last complete batch, skips every file already in it and
appends the rest; resuming a finished run finds nothing new and leaves the output untouched. Either way
`--resume` refuses, in one line, a model or options other than the fingerprint's, and a partial file, state or
output that is damaged or was edited by hand.

A run holds an exclusive lock (`flock`) on `<out>.lock` from start to end, so a second run writing the same
`--out` fails at once instead of interleaving its records with the first one's.

Paths are written so that they survive every format: names with commas, quotes or newlines are quoted (CSV)
or escaped (JSON); bytes that are not UTF-8 are written as `\\xNN`; a name that starts like a spreadsheet
formula is already spelled `./=name` by the walker.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from toolkit import fsutil, lazy
from toolkit.errors import ToolkitError, UsageError, first_line

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


def _per_digit_cell(value: list) -> str:
    """--multi-digit's per_digit list in CSV, compact: `4:0.998 0:0.991` (digit:confidence, left to right)."""
    return " ".join(f"{d['digit']}:{d['confidence']:.6g}" for d in value)


_CELL = {  # one dict lookup per cell instead of a chain of isinstance checks: CSV writing is per file
    type(None): lambda v: "",
    bool: lambda v: "true" if v else "false",
    float: lambda v: format(v, ".6g"),
    int: str,
    str: str,
    list: _per_digit_cell,
}


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

    def __init__(self, stream: TextIO, columns: Sequence[str]):
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


def _writer(fmt: str, stream: TextIO, columns: Sequence[str], header: bool = True) -> CsvWriter | JsonlWriter:
    """The writer for `fmt` (Parquet is journalled as CSV); `header`: CSV only, False when appending."""
    return JsonlWriter(stream, columns) if fmt == "jsonl" else CsvWriter(stream, columns, header=header)


def _open_text(path: Path | str, mode: str) -> TextIO:
    # newline="" lets the csv module control line ends (and keeps \r inside quoted names intact).
    return open(path, mode, encoding="utf-8", errors="backslashreplace", newline="")


# --- reading back (resume) ------------------------------------------------------------------------------


class _Damaged(Exception):
    """A file to resume from is not as this module writes it (cut, torn or edited by hand): what is wrong."""


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


def _other_columns(path: Path) -> UsageError:
    return UsageError(f"cannot --resume: {path} has other columns than this run writes; use the same options or "
                      "a new --out")


def _scan_text(path: Path, fmt: str, columns: Sequence[str], previous: Previous) -> None:
    """Note every record of a CSV/JSONL file in `previous`; _Damaged where a line is not a record of ours."""
    columns = list(columns)
    with _open_text(path, "r") as fh:
        if fmt == "jsonl":
            first = True
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    raise _Damaged(f"line {number} is not JSON") from None
                if not (isinstance(obj, dict) and isinstance(obj.get("path"), str)
                        and isinstance(obj.get("status"), str)):
                    raise _Damaged(f"line {number} is not a record (an object with a path and a status)")
                if list(obj) != columns:
                    if first:
                        raise _other_columns(path)
                    raise _Damaged(f"line {number} has other keys than the lines before it")
                first = False
                previous.add(obj["path"], obj["status"])
            return
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:
                raise _Damaged("is empty (not even a header row)")
            if header != columns:
                raise _other_columns(path)
            for row in reader:
                if len(row) != len(columns):
                    raise _Damaged(f"line {reader.line_num} is blank" if not row else
                                   f"line {reader.line_num} has {len(row)} fields, not {len(columns)}")
                previous.add(row[0], row[1])
        except csv.Error as exc:
            raise _Damaged(f"line {reader.line_num} is not CSV ({first_line(exc)})") from None


def _scan_parquet(path: Path, columns: Sequence[str], previous: Previous) -> None:
    pa = require_parquet()
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        if list(parquet.schema_arrow.names) != list(columns):
            raise _other_columns(path)
        for batch in parquet.iter_batches(columns=["path", "status"], batch_size=65536):
            for p, s in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
                previous.add(p, s)
    except (pa.ArrowException, ValueError) as exc:  # not Parquet, or cut short
        raise _Damaged(f"is not a readable Parquet file ({first_line(exc)})") from None


def _differences(recorded: Any, current: dict[str, Any]) -> str:
    """What differs between a recorded fingerprint and this run's, as `key (was X, now Y)`; empty if nothing."""
    recorded = recorded if isinstance(recorded, dict) else {}
    parts = []
    for key, now in current.items():
        was = recorded.get(key)
        if was == now:
            continue
        if key not in recorded:
            parts.append(f"{key} (not recorded)")
        elif isinstance(was, list | dict) or isinstance(now, list | dict):
            parts.append(key)
        elif key.endswith("sha256"):
            parts.append(f"{key} (was {str(was)[:12]}..., now {str(now)[:12]}...)")
        else:
            parts.append(f"{key} (was {was}, now {now})")
    return ", ".join(parts)


# --- the journal ------------------------------------------------------------------------------------------


class Journal:
    """Appends records to `<out>.partial`, commits after each batch, and renames into place at the end.

    Call `start`, then `write`/`commit` per batch, then `finish` (success) or `close` (anything else): both
    release the lock that `start` takes."""

    def __init__(self, out: Path, fmt: str, columns: Sequence[str], fingerprint: dict[str, Any]):
        self.out = Path(out)
        self.fmt = fmt
        self.columns = tuple(columns)
        self.fingerprint = fingerprint
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.state = self.out.with_name(self.out.name + ".partial.json")
        self.meta = self.out.with_name(self.out.name + ".meta.json")
        self.lock = self.out.with_name(self.out.name + ".lock")
        self.previous = Previous()
        self._stream: TextIO | None = None
        self._writer: CsvWriter | JsonlWriter | None = None
        self._lock_file: BinaryIO | None = None
        self.written = 0
        self.errors = 0
        self.notes: list[str] = []

    def _recorded(self) -> dict[str, Any]:
        """What the state file and the sidecar record, and what a resume must match."""
        return {"version": STATE_VERSION, "format": self.fmt, **self.fingerprint}

    # Starting ----------------------------------------------------------------------------------------

    def start(self, resume: bool) -> None:
        """Lock `<out>`; then fresh: an empty partial file; resume: pick up the partial file, else the finished
        output."""
        if self.out.exists() and self.out.is_dir():
            raise UsageError(f"--out {self.out} is a folder; name a file")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            if resume and self.partial.exists() and self.state.exists():
                self._resume_partial()
            elif resume and self.out.exists():
                self._resume_finished()
            else:
                if self.state.exists():
                    self.notes.append(f"started over: the interrupted run's records in {self.partial} were "
                                      "discarded (--resume continues an interrupted run)")
                self._open_fresh()
        except BaseException:
            self.close()
            raise

    def _lock(self) -> None:
        """An exclusive lock on `<out>.lock` for the whole run, or a one-line error if another run holds it."""
        try:
            import fcntl
        except ImportError:  # not a POSIX system: no lock
            return
        while True:
            fh = open(self.lock, "ab")  # held open until _unlock
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise ToolkitError(f"another predict run is writing {self.out}; wait for it to end or choose "
                                   "another --out") from None
            except OSError:  # a file system without locks (some network mounts): go on unlocked
                fh.close()
                return
            # The run that held the lock before us removes the file before it lets go (see _unlock): if it did
            # since we opened it, we hold a lock nobody else will look at; take the new file's instead.
            try:
                if os.path.samestat(os.fstat(fh.fileno()), os.stat(self.lock)):
                    self._lock_file = fh
                    return
            except FileNotFoundError:
                pass
            fh.close()

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self.lock.unlink(missing_ok=True)  # while still holding the lock: see _lock
            self._lock_file.close()
            self._lock_file = None

    def _open_fresh(self) -> None:
        self._stream = _open_text(self.partial, "w")
        self._writer = _writer(self.fmt, self._stream, self.columns)
        self.commit()

    def _damaged(self, what: str) -> ToolkitError:
        return ToolkitError(f"cannot --resume {self.out}: {what}; delete {self.partial} and {self.state} to "
                            "start over")

    def _resume_partial(self) -> None:
        try:
            state = json.loads(self.state.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise self._damaged(f"{self.state} is unreadable ({first_line(exc)})") from None
        if not isinstance(state, dict) or not isinstance(state.get("fingerprint"), dict):
            raise self._damaged(f"{self.state} is not a resume state (no fingerprint)")
        committed = state.get("committed_bytes")
        if not isinstance(committed, int) or isinstance(committed, bool) or committed < 0:
            raise self._damaged(f"{self.state} has no valid committed_bytes")
        differs = _differences({"version": state.get("version"), "format": state.get("format"),
                                **state["fingerprint"]}, self._recorded())
        if differs:
            raise UsageError(f"cannot --resume: the interrupted run differs in {differs}; run it with the same "
                             "model and options, or without --resume to start over")
        # Anything after the last commit may be half a record (kill -9 mid-write): cut it off. A file shorter
        # than its last commit was cut or replaced since; truncate would pad it with NUL bytes.
        with open(self.partial, "r+b") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < committed:
                raise self._damaged(f"{self.partial} is shorter ({size:,} bytes) than its last commit "
                                    f"({committed:,} bytes)")
            if committed:
                fh.seek(committed - 1)
                if fh.read(1) != b"\n":
                    raise self._damaged(f"the last commit in {self.state} ({committed:,} bytes) does not end "
                                        f"a record of {self.partial}")
            fh.truncate(committed)
        try:
            _scan_text(self.partial, "jsonl" if self.fmt == "jsonl" else "csv", self.columns, self.previous)
        except _Damaged as exc:
            raise self._damaged(f"{self.partial} {exc}") from None
        self._stream = _open_text(self.partial, "a")
        self._writer = _writer(self.fmt, self._stream, self.columns, header=False)
        self.commit()

    def _resume_finished(self) -> None:
        """The output of a finished run: check that it was made with this run's model and options (its
        `<out>.meta.json`), and remember its paths; it is copied into a partial file only if new files turn up
        (so a run with nothing new changes nothing)."""
        start_over = "run without --resume to start over"
        try:
            meta = json.loads(self.meta.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ToolkitError(f"cannot --resume {self.out}: {self.meta}, which records the model and options it "
                               f"was made with, is missing; {start_over}") from None
        except (OSError, ValueError) as exc:
            raise ToolkitError(f"cannot --resume {self.out}: {self.meta} is unreadable ({first_line(exc)}); "
                               f"{start_over}") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("fingerprint"), dict):
            raise ToolkitError(f"cannot --resume {self.out}: {self.meta} records no fingerprint; {start_over}")
        differs = _differences({"version": meta.get("version"), "format": meta.get("format"),
                                **meta["fingerprint"]}, self._recorded())
        if differs:
            raise UsageError(f"cannot --resume: {self.out} was made with other settings: {differs}; run it with "
                             "the same model and options, or without --resume to start over")
        try:
            if self.fmt == "parquet":
                _scan_parquet(self.out, self.columns, self.previous)
            else:
                _scan_text(self.out, self.fmt, self.columns, self.previous)
        except _Damaged as exc:
            raise ToolkitError(f"cannot --resume {self.out}: {self.out} {exc}; {start_over}") from None

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
            self._writer = _writer(self.fmt, self._stream, self.columns, header=False)
        self.commit()

    # Writing -----------------------------------------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        """Append a batch. Records of one file must come in one call (resume works file by file)."""
        if not records:
            return
        if self._stream is None:
            self._reopen_finished()
        assert self._writer is not None
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
        fsutil.write_json(self.state, state)

    def finish(self) -> bool:
        """Move the complete output into place. False when there was nothing new to write (resume)."""
        try:
            if self._stream is None:
                return False
            self.commit()
            os.fsync(self._stream.fileno())
            self._stream.close()
            self._stream = None
            # The sidecar first: until the state file goes, a --resume goes by the partial file and its state.
            fsutil.write_json(self.meta, {
                "about": f"the model and options {self.out.name} was made with; predict --resume checks them",
                "version": STATE_VERSION, "format": self.fmt, "fingerprint": self.fingerprint})
            if self.fmt == "parquet":
                csv_to_parquet(self.partial, self.out, self.columns)
                self.partial.unlink()
            else:
                os.replace(self.partial, self.out)
            self.state.unlink(missing_ok=True)
            return True
        finally:
            if self._stream is None:
                self._unlock()

    def close(self) -> None:
        """Stop without finishing (interrupt, failure): commit what is complete so --resume can go on."""
        try:
            if self._stream is not None:
                try:
                    self.commit()
                finally:
                    self._stream.close()
                    self._stream = None
        finally:
            self._unlock()


# --- Parquet -------------------------------------------------------------------------------------------


def arrow_schema(columns: Sequence[str]):
    """The Arrow types of the record columns."""
    pa = require_parquet()
    types = {"path": pa.string(), "status": pa.string(), "digit": pa.int8(), "confidence": pa.float32(),
             "error": pa.string(), "error_kind": pa.string(), "low_confidence": pa.bool_(),
             "blank": pa.bool_(), "frame": pa.int32(), "top_k": pa.string(), "flags": pa.string(),
             "text": pa.string(), "n_digits": pa.int16(), "per_digit": _per_digit_type(pa)}
    return pa.schema([(c, types.get(c, pa.float32())) for c in columns])


def _per_digit_type(pa):
    return pa.list_(pa.struct([("digit", pa.int8()), ("confidence", pa.float32())]))


def _per_digit_array(pa, cells):
    """The CSV journal's `4:0.998 0:0.991` cells (strings, null for none) -> Arrow list<struct<digit,
    confidence>>, with Arrow's compute functions (no Python loop over rows)."""
    import pyarrow.compute as pc

    lists = pc.split_pattern(cells, " ")
    pairs = pc.split_pattern(pc.list_flatten(lists), ":")
    digits = pc.cast(pc.list_element(pairs, 0), pa.int8())
    confidences = pc.cast(pc.list_element(pairs, 1), pa.float32())
    entries = pa.StructArray.from_arrays([digits, confidences], ["digit", "confidence"])
    return pa.ListArray.from_arrays(lists.offsets, entries, type=_per_digit_type(pa), mask=pc.is_null(lists))


def csv_to_parquet(source: Path, target: Path, columns: Sequence[str]) -> None:
    """Convert a CSV journal into a Parquet file, streaming, atomically (temp file, then rename)."""
    require_parquet()
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    pa = require_parquet()
    # per_digit is a list in Parquet; CSV holds it as a compact string, read as such and converted per batch.
    lists = [i for i, c in enumerate(schema.names) if c == "per_digit"]
    journal = schema
    for i in lists:
        journal = journal.set(i, pa.field("per_digit", pa.string()))
    read = pacsv.ReadOptions(block_size=8 << 20)
    parse = pacsv.ParseOptions(newlines_in_values=True)
    convert = pacsv.ConvertOptions(column_types=journal, strings_can_be_null=True, null_values=[""],
                                   true_values=["true"], false_values=["false"], quoted_strings_can_be_null=True)
    with fsutil.atomic_open(target) as (fh, _), \
            pacsv.open_csv(source, read_options=read, parse_options=parse, convert_options=convert) as reader, \
            pq.ParquetWriter(fh, schema) as writer:
        for batch in reader:
            if lists:
                arrays = list(batch.columns)
                for i in lists:
                    arrays[i] = _per_digit_array(pa, arrays[i])
                batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
            writer.write_batch(batch)


class StreamOutput:
    """Records to stdout (`--out -`): no journal, no resume, written as they come. The CSV header comes with
    the first records (or at the end of a run that had none), so a run that fails before any record was
    scored (a bad model) prints nothing on stdout."""

    def __init__(self, stream: TextIO, fmt: str, columns: Sequence[str]):
        self._stream = stream
        self._fmt = fmt
        self._columns = tuple(columns)
        self._writer: CsvWriter | JsonlWriter | None = None
        self.previous = Previous()
        self.written = 0
        self.errors = 0
        self.notes: list[str] = []

    def start(self, resume: bool) -> None:
        if resume:
            raise UsageError("--resume needs --out FILE (stdout cannot be resumed)")

    def _open(self) -> CsvWriter | JsonlWriter:
        if self._writer is None:
            self._writer = _writer(self._fmt, self._stream, self._columns)
        return self._writer

    def write(self, records: Sequence[Record]) -> None:
        if not records:
            return
        self._open().write(records)
        self.written += len(records)
        self.errors += sum(1 for r in records if r["status"] == "error")

    def commit(self) -> None:
        self._stream.flush()

    def finish(self) -> bool:
        self._open()
        self._stream.flush()
        return True

    def close(self) -> None:
        self._stream.flush()
