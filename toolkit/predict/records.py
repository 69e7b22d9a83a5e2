"""The prediction record: one typed value per input item, and the one schema (column names, types, Arrow types)
that the writers, the engines, resume and the Python API all read.

A record is a `Record` (a TypedDict: a plain dict to the API's users, checked by mypy inside the toolkit). Which
optional columns a run's records carry follows from its options (`columns`); every column is declared once in
`COLUMNS`, with its Arrow type, so adding a column is one line here.

Between a worker and the process that makes records, an item travels as an `ItemMeta` (named fields, no
positions) beside the stacked tensors of all items.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict


class PerDigit(TypedDict):
    digit: int
    confidence: float


class Record(TypedDict, total=False):
    """One input item's prediction. `path`, `status` and the base columns are always there; `frame`, `top_k`
    and the --multi-digit columns only when the run asked for them (see `columns`)."""

    path: str
    status: str  # "ok" or "error"
    digit: int | None
    confidence: float | None
    prob_0: float | None
    prob_1: float | None
    prob_2: float | None
    prob_3: float | None
    prob_4: float | None
    prob_5: float | None
    prob_6: float | None
    prob_7: float | None
    prob_8: float | None
    prob_9: float | None
    error: str | None
    error_kind: str | None
    low_confidence: bool | None
    blank: bool | None
    flags: str | None
    not_digit: float | None
    text: str | None
    n_digits: int | None
    per_digit: list[PerDigit] | None
    frame: int | None
    top_k: list[int] | None


@dataclass(frozen=True)
class Column:
    """A record column: its name, its Arrow type (spelled for `arrow_type`) and which option adds it (None:
    always present)."""

    name: str
    arrow: str
    option: str | None = None


PROB_COLUMNS = tuple(f"prob_{d}" for d in range(10))
GONE = "input-gone"  # the flag of a record whose input a resumed run no longer found (kept, not dropped)

# Every column, in output order. `option` names the PredictOptions field that adds it.
COLUMNS: tuple[Column, ...] = (
    Column("path", "string"),
    Column("status", "string"),
    Column("digit", "int8"),
    Column("confidence", "float32"),
    *(Column(name, "float32") for name in PROB_COLUMNS),
    Column("error", "string"),
    Column("error_kind", "string"),
    Column("low_confidence", "bool"),
    Column("blank", "bool"),
    Column("flags", "string"),
    # The model's probability that the image (in a number: the least digit-like digit kept) holds no digit;
    # empty for models without the not_digit output.
    Column("not_digit", "float32"),
    # --multi-digit: the digits read left to right, how many, and each one's digit and confidence.
    Column("text", "string", "multi_digit"),
    Column("n_digits", "int16", "multi_digit"),
    Column("per_digit", "list<struct<digit:int8,confidence:float32>>", "multi_digit"),
    Column("frame", "int32", "all_frames"),
    Column("top_k", "list<int8>", "top_k"),
)
BY_NAME = {column.name: column for column in COLUMNS}
BASE_COLUMNS = tuple(c.name for c in COLUMNS if c.option is None)


def columns(options: Any) -> tuple[str, ...]:
    """The record columns, in order, for a run with these options (any object with the option fields)."""
    return tuple(c.name for c in COLUMNS if c.option is None or getattr(options, c.option))


def empty(path: str) -> dict[str, Any]:
    """Every base column present and empty: the start of a record."""
    fields: dict[str, Any] = dict.fromkeys(BASE_COLUMNS)
    fields["path"] = path
    return fields


def arrow_type(pa: Any, spelling: str) -> Any:
    """The pyarrow type for a column's `arrow` spelling (pyarrow is passed in: it is imported only when asked)."""
    if spelling.startswith("list<") and spelling.endswith(">"):
        return pa.list_(arrow_type(pa, spelling[5:-1]))
    if spelling.startswith("struct<") and spelling.endswith(">"):
        fields = [field.split(":", 1) for field in spelling[7:-1].split(",")]
        return pa.struct([(name, arrow_type(pa, kind)) for name, kind in fields])
    return {"bool": pa.bool_(), "string": pa.string()}.get(spelling) or getattr(pa, spelling)()


def arrow_schema(pa: Any, names: tuple[str, ...] | list[str]) -> Any:
    """The Arrow schema of records with these columns."""
    return pa.schema([(name, arrow_type(pa, BY_NAME[name].arrow)) for name in names])


class ItemMeta(NamedTuple):
    """What a worker knows of one item (a file, or a frame of it) besides its tensors: how many tensors it has
    in the stacked array (0 for a blank or failed item, one per digit or alternative with --multi-digit),
    whether it is blank, why it failed, its flags and, with --multi-digit, the segmenter's reading plan."""

    path: str
    frame: int
    n: int
    blank: bool
    error_kind: str | None
    error: str | None
    flags: str | None
    plan: str | None


def path_text(path: str) -> str:
    """How an input's path is spelled in a record, in every format: UTF-8 text that any consumer accepts, and
    reversible, so that two inputs never share a spelling. A backslash is doubled, and each byte that is not
    UTF-8 is written `\\xNN`, and so is a NUL (a listed line may hold one; CSV readers refuse it) (`path_bytes`
    reads them back)."""
    if "\\" not in path and "\0" not in path:
        try:
            path.encode("utf-8")
            return path
        except UnicodeEncodeError:
            pass
    raw = os.fsencode(path).replace(b"\\", b"\\\\").replace(b"\0", b"\\x00")
    return raw.decode("utf-8", "backslashreplace")


_ESCAPE = re.compile(rb"\\(\\|x[0-9a-fA-F]{2})")


def path_bytes(text: str) -> bytes:
    """The raw path a record's `path` spells (the inverse of `path_text`)."""
    raw = text.encode("utf-8", "surrogateescape")
    if b"\\" not in raw:
        return raw
    return _ESCAPE.sub(lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1)[1:], 16)]), raw)
