"""Reading a predictions file back (CSV, JSON Lines or Parquet, as `predict` writes them) and writing a copy of
it in the same format with some records changed.

The report needs typed values (numbers, flags, lists); the corrected copy must keep every other cell exactly as
`predict` wrote it, so writing works on the file's own rows (CSV cells, JSON objects, Arrow rows), not on
re-serialised records.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit import fsutil
from toolkit.errors import UsageError, first_line
from toolkit.predict import records, writers

_INTS = {"digit", "n_digits", "frame"}
_BOOLS = {"low_confidence", "blank"}
_FLOATS = {"confidence", *records.PROB_COLUMNS}


@dataclass
class Table:
    """A predictions file: its format, its columns in order, and its records (dicts with typed values; `path`
    spelled as in the file)."""

    path: Path
    fmt: str
    columns: list[str]
    rows: list[dict[str, Any]]


def file_format(path: Path | str) -> str:
    """csv, jsonl or parquet from a predictions file's name; a usage error for anything else."""
    fmt = writers.EXTENSIONS.get(os.path.splitext(str(path))[1].lower())
    if fmt is None:
        raise UsageError(f"{path}: cannot tell the format from the name; predictions are .csv, .jsonl or .parquet")
    return fmt


def _cell(name: str, text: str) -> Any:
    """A CSV cell as the typed value `predict` had before writing it."""
    if text == "":
        return None
    if name in _INTS:
        return int(text)
    if name in _FLOATS:
        return float(text)
    if name in _BOOLS:
        return text == "true"
    if name == "top_k":
        return [int(v) for v in text.split()]
    if name == "per_digit":
        pairs = (v.split(":", 1) for v in text.split())
        return [{"digit": int(d), "confidence": float(c)} for d, c in pairs]
    return text


def _csv_rows(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    fh = writers.open_text(path, "r")
    reader = csv.reader(fh)
    header = next(reader, None)
    if header is None:
        fh.close()
        raise UsageError(f"{path}: empty file, not a predictions file")

    def rows() -> Iterator[list[str]]:
        with fh:
            for row in reader:
                if len(row) != len(header):
                    raise UsageError(f"{path}: line {reader.line_num} has {len(row)} fields, not {len(header)}")
                yield row

    return header, rows()


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with writers.open_text(path, "r") as fh:
        try:
            for number, obj in writers.jsonl_values(fh):
                if not isinstance(obj, dict):
                    raise UsageError(f"{path}: line {number} is not a record")
                yield obj
        except ValueError as exc:
            raise UsageError(f"{path}: {exc}") from None


def _parquet_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    pa = writers.require_parquet()
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, ValueError) as exc:
        raise UsageError(f"{path}: not a readable Parquet file ({first_line(exc)})") from None
    return list(table.schema.names), table.to_pylist()


def read(path: Path | str) -> Table:
    """The records of a predictions file. Usage errors (one line) for a missing, unreadable or foreign file."""
    path = Path(path)
    fmt = file_format(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        if fmt == "csv":
            header, raw = _csv_rows(path)
            columns = header
            rows = [{name: _cell(name, text) for name, text in zip(header, row, strict=True)} for row in raw]
        elif fmt == "jsonl":
            rows = list(_jsonl_rows(path))
            columns = list(rows[0]) if rows else list(records.BASE_COLUMNS)
        else:
            columns, rows = _parquet_rows(path)
    except (csv.Error, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: not a predictions file ({first_line(exc)})") from None
    missing = [name for name in ("path", "status") if name not in columns]
    if missing:
        raise UsageError(f"{path}: not a predictions file (no {' or '.join(missing)} column)")
    return Table(path, fmt, columns, rows)


def key(path_text: str, frame: Any) -> tuple[str, int]:
    """How a record is named in corrections: its path as spelled in the file, and its frame (0 without one)."""
    return path_text, int(frame) if frame not in (None, "") else 0


def rewrite(table: Table, out: Path | str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> int:
    """Write `table`'s file again at `out`, atomically, in its format, with each record for which `change`
    returns new cell values (typed, as `read` gives them) updated; the number of records changed."""
    changed = 0
    with fsutil.atomic_open(Path(out)) as (fh, _):
        if table.fmt == "parquet":
            changed = _rewrite_parquet(table, fh, change)
        else:
            import io

            text = io.TextIOWrapper(fh, encoding="utf-8", errors="backslashreplace", newline="")
            changed = _rewrite_text(table, text, change)
            text.flush()
            text.detach()
    return changed


def _csv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _rewrite_text(table: Table, stream: Any, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> int:
    changed = 0
    if table.fmt == "csv":
        header, raw = _csv_rows(table.path)
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow(header)
        for row, typed in zip(raw, table.rows, strict=True):
            new = change(typed)
            if new:
                changed += 1
                for name, value in new.items():
                    row[header.index(name)] = _csv_text(value)
            writer.writerow(row)
        return changed
    for obj in _jsonl_rows(table.path):
        new = change(obj)
        if new:
            changed += 1
            obj.update(new)
        stream.write(json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n")
    return changed


def _rewrite_parquet(table: Table, fh: Any, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> int:
    pa = writers.require_parquet()
    import pyarrow.parquet as pq

    source = pq.read_table(table.path)
    rows = source.to_pylist()
    changed = 0
    for row in rows:
        new = change(row)
        if new:
            changed += 1
            row.update(new)
    pq.write_table(pa.Table.from_pylist(rows, schema=source.schema), fh)
    return changed
