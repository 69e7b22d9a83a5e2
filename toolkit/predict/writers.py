"""Writing records: the CSV and JSON Lines writers, the output format chosen from --out and --format, the
Parquet schema and the CSV-to-Parquet conversion, and the stream output for `--out -`.

Paths are written so that they survive every format: names with commas, quotes or newlines are quoted (CSV)
or escaped (JSON); the path itself is spelled reversibly by `records.path_text` (`\\` for a backslash,
`\\xNN` for a byte that is not UTF-8); a name that starts like a spreadsheet
formula is already spelled `./=name` by the walker. List cells (`top_k`) are lists in JSON Lines and Parquet,
space-separated in CSV.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from toolkit import fsutil, lazy
from toolkit.errors import UsageError
from toolkit.predict import records
from toolkit.predict.records import Record, path_text

FORMATS = ("csv", "jsonl", "parquet")

EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


def output_format(out: str | None, fmt: str | None) -> tuple[str, str]:
    """(output path, format) from --out and --format: the extension, or --format for a name without a known
    one (CSV when there is neither); an extension that says another format than --format is a usage error."""
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
    named = EXTENSIONS.get(os.path.splitext(out)[1].lower())
    if fmt is None:
        if named is None:
            raise UsageError(
                f"cannot tell the output format from '{out}'; name it .csv, .jsonl or .parquet, or pass --format"
            )
        return out, named
    if named is not None and named != fmt:
        raise UsageError(
            f"--format {fmt} contradicts --out {out} (a .{named} name); drop --format or rename the output"
        )
    return out, fmt


def require_parquet():
    """pyarrow and pyarrow.parquet, or a one-line hint naming the extra."""
    pa = lazy.require("pyarrow", "parquet")
    lazy.require("pyarrow.parquet", "parquet")
    lazy.require("pyarrow.csv", "parquet")
    return pa


# One dict lookup per cell instead of a chain of isinstance checks: CSV writing is per file.
_CELL: dict[type, Callable[[Any], str]] = {
    type(None): lambda v: "",
    bool: lambda v: "true" if v else "false",
    float: lambda v: format(v, ".6g"),
    int: str,
    str: str,
    list: lambda v: " ".join(map(_list_item, v)),
}


def _list_item(value: Any) -> str:
    """A list cell's item in CSV: top_k's digits as they are, --multi-digit's per_digit entries compact as
    `digit:confidence` (so a reading is `4:0.998 0:0.991`, left to right)."""
    if isinstance(value, dict):
        return f"{value['digit']}:{value['confidence']:.6g}"
    return str(value)


def _json_value(value: Any) -> Any:
    return float(f"{value:.6g}") if isinstance(value, float) else value


# A record's cells as printf codes, by type; True and False are spelled in the line pattern itself.
_CODE: dict[Any, str] = {type(None): "", True: "true", False: "false", float: "%.6g", int: "%d", str: "%s"}


class CsvWriter:
    """CSV with a header row; quoting as RFC 4180 (fields with commas, quotes or newlines are quoted).

    Records are spelled a line at a time by one `%` operation with a line pattern made once per shape of record
    (which cells are None, True, False, numbers or text): 1.6x faster than a cell at a time, which counts at
    100,000 files. A line that then needs quoting (a name with a comma, a quote or a newline) is spelled again
    by the csv module."""

    def __init__(self, stream: TextIO, columns: Sequence[str], header: bool = True):
        self.columns = tuple(columns)
        self._stream = stream
        self._patterns: dict[tuple, str | None] = {}
        if header:
            stream.write(csv_line(list(self.columns)))

    def _pattern(self, shape: tuple) -> str | None:
        """The line pattern of records of this shape; None when a cell has a type the patterns do not spell."""
        if shape not in self._patterns:
            codes = [_CODE.get(kind) for kind in shape]
            self._patterns[shape] = None if None in codes else ",".join(codes) + "\r\n"  # type: ignore[arg-type]
        return self._patterns[shape]

    def write(self, records: Iterable[Record]) -> None:
        rest, commas = self.columns[1:], len(self.columns) - 1
        lines = []
        for record in records:
            values = [path_text(record["path"]), *map(record.get, rest)]
            pattern = self._pattern(tuple([v if v is True or v is False else type(v) for v in values]))
            if pattern is not None:
                line = pattern % tuple([v for v in values if v is not None and v is not True and v is not False])
                if line.count(",") == commas and '"' not in line and "\n" not in line[:-1] and "\r" not in line[:-2]:
                    lines.append(line)
                    continue
            lines.append(csv_line([_CELL.get(type(v), str)(v) for v in values]))
        self._stream.write("".join(lines))


def csv_line(row: list[str]) -> str:
    """A CSV row as the writers spell it (RFC 4180 quoting, CRLF; the csv module quotes a name that holds a
    lone \\r for it)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(row)
    return buffer.getvalue()


class JsonlWriter:
    """One JSON object per line, keys in column order."""

    def __init__(self, stream: TextIO, columns: Sequence[str]):
        self.columns = tuple(columns)
        self._stream = stream

    def write(self, records: Iterable[Record]) -> None:
        lines = []
        for record in records:
            obj = {c: _json_value(record.get(c)) for c in self.columns}
            obj["path"] = path_text(record["path"])
            lines.append(json.dumps(obj, ensure_ascii=False, allow_nan=False))
        if lines:
            self._stream.write("\n".join(lines) + "\n")


def writer_for(fmt: str, stream: TextIO, columns: Sequence[str], header: bool = True) -> CsvWriter | JsonlWriter:
    """The writer for `fmt` (Parquet is journalled as CSV); `header`: CSV only, False when appending."""
    return JsonlWriter(stream, columns) if fmt == "jsonl" else CsvWriter(stream, columns, header=header)


def jsonl_values(lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON value) of each non-blank line; ValueError("line N is not JSON") otherwise."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise ValueError(f"line {number} is not JSON") from None
        yield number, value


def open_text(path: Path | str, mode: str) -> TextIO:
    # newline="" lets the csv module control line ends (and keeps \r inside quoted names intact).
    return cast(TextIO, open(path, mode, encoding="utf-8", errors="backslashreplace", newline=""))


def arrow_schema(columns: Sequence[str]):
    """The Arrow types of the record columns (declared in `records.COLUMNS`)."""
    return records.arrow_schema(require_parquet(), list(columns))


def _list_array(pa, cells, kind):
    """A CSV journal's list cells (text, null for none) -> the Arrow list column of type `kind`, with Arrow's
    compute functions (no Python loop over rows): `7 1` -> [7, 1]; `4:0.998 0:0.991` -> [{digit, confidence}]."""
    import pyarrow.compute as pc

    lists = pc.split_pattern(cells, " ")
    if not pa.types.is_struct(kind.value_type):
        return lists.cast(kind)
    pairs = pc.split_pattern(pc.list_flatten(lists), ":")
    digits = pc.cast(pc.list_element(pairs, 0), pa.int8())
    confidences = pc.cast(pc.list_element(pairs, 1), pa.float32())
    entries = pa.StructArray.from_arrays([digits, confidences], ["digit", "confidence"])
    return pa.ListArray.from_arrays(lists.offsets, entries, type=kind, mask=pc.is_null(lists))


def csv_to_parquet(source: Path, target: Path, columns: Sequence[str]) -> None:
    """Convert a CSV journal into a Parquet file, streaming, atomically (temp file, then rename)."""
    pa = require_parquet()
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    # The CSV journal spells list columns as text ("7 1", "4:0.998 0:0.991"); they are read as text and
    # turned into lists batch by batch.
    lists = [c for c in columns if pa.types.is_list(schema.field(c).type)]
    read_types = {c: (pa.string() if c in lists else schema.field(c).type) for c in columns}
    read = pacsv.ReadOptions(block_size=8 << 20)
    parse = pacsv.ParseOptions(newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        column_types=read_types,
        strings_can_be_null=True,
        null_values=[""],
        true_values=["true"],
        false_values=["false"],
        quoted_strings_can_be_null=True,
    )
    with (
        fsutil.atomic_open(target) as (fh, _),
        pacsv.open_csv(source, read_options=read, parse_options=parse, convert_options=convert) as reader,
        pq.ParquetWriter(fh, schema) as writer,
    ):
        for batch in reader:
            arrays = [
                _list_array(pa, batch.column(c), schema.field(c).type) if c in lists else batch.column(c)
                for c in columns
            ]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
