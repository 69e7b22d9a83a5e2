"""`mnist-toolkit report --apply CORRECTIONS PREDICTIONS --out FILE`: a corrected copy of a predictions file.

CORRECTIONS is the page's download, `path,frame,value`: the record's path as the predictions file spells it,
its frame (empty or 0 without --all-frames) and the digit (or, for --multi-digit records, the number's text)
a person read. A corrected record gets the new reading and the flag `corrected`; nothing else changes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError, first_line
from toolkit.predict import writers
from toolkit.report import table

FLAG = "corrected"


@dataclass
class ApplyResult:
    out: Path
    corrected: int
    unmatched: list[str]

    def lines(self) -> list[str]:
        lines = [f"corrected {self.corrected} records"]
        if self.unmatched:
            lines.append(f"{len(self.unmatched)} corrections match no record, e.g. {self.unmatched[0]}")
        return lines + [f"wrote {self.out}"]


def read_corrections(path: Path | str, multi_digit: bool) -> dict[tuple[str, int], str]:
    """The corrections file as {(path, frame): value}; a usage error, naming the line, for anything else."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    found: dict[tuple[str, int], str] = {}
    try:
        with writers.open_text(path, "r") as fh:
            reader = csv.reader(fh)
            if next(reader, None) != ["path", "frame", "value"]:
                raise UsageError(f"{path}: not a corrections file (its header must be path,frame,value)")
            for row in reader:
                if not row:
                    continue
                if len(row) != 3:
                    raise UsageError(f"{path}: line {reader.line_num} has {len(row)} fields, not 3")
                name, frame, value = row
                value = value.strip()
                if not value.isdigit() or not value.isascii() or (not multi_digit and len(value) != 1):
                    what = "digits" if multi_digit else "one digit"
                    raise UsageError(f"{path}: line {reader.line_num}: '{value}' is not {what}")
                if frame.strip() and not frame.strip().isdigit():
                    raise UsageError(f"{path}: line {reader.line_num}: frame '{frame}' is not a number")
                found[table.key(name, frame.strip())] = value
    except (csv.Error, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a corrections file ({first_line(exc)})") from None
    return found


def _flags(flags: str | None) -> str:
    have = (flags or "").split()
    return " ".join(have if FLAG in have else [*have, FLAG])


def apply(corrections: Path | str, predictions: Path | str, out: Path | str) -> ApplyResult:
    """Write `predictions` again at `out` (same format) with `corrections` applied."""
    out = Path(out)
    source = table.read(predictions)
    if table.file_format(out) != source.fmt:
        raise UsageError(f"--out {out}: name it .{source.fmt}, the format of {source.path.name}")
    if out.resolve() == source.path.resolve():
        raise UsageError(f"--out {out} is the predictions file itself; write the corrected copy elsewhere")
    multi_digit = "text" in source.columns
    wanted = read_corrections(corrections, multi_digit)
    if "flags" not in source.columns:
        raise UsageError(f"{source.path}: has no flags column to mark corrected records in")
    used: set[tuple[str, int]] = set()

    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        named = table.key(record["path"], record.get("frame"))
        value = wanted.get(named)
        if value is None:
            return None
        used.add(named)
        new: dict[str, Any] = {"flags": _flags(record.get("flags"))}
        if multi_digit:
            new["text"] = value
            new["n_digits"] = len(value)
            if "digit" in source.columns:  # predict fills it only for a one-digit reading
                new["digit"] = int(value) if len(value) == 1 else None
        else:
            new["digit"] = int(value)
        return new

    corrected = table.rewrite(source, out, change)
    unmatched = [f"{p} (frame {f})" if f else p for p, f in wanted if (p, f) not in used]
    return ApplyResult(out, corrected, unmatched)
