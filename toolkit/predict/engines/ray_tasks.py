"""The Ray engine's worker side: a function and a class that Ray ships to its workers.

`decode_rows` (a stateless task per chunk of files) runs `pipeline.prepare_chunk`, exactly what the local
engine's workers run, and lays the items out as columns, one row per tensor; `Predictor` (run by an actor pool)
scores those rows with one `OnnxModel` for the actor's lifetime.
"""

from __future__ import annotations

import os

import numpy as np

from toolkit.errors import ToolkitError, first_line
from toolkit.onnxmodel import OnnxModel
from toolkit.predict.decode import quiet_worker
from toolkit.predict.engines.shared import one_by_one
from toolkit.predict.located import LOCAL, Access, absolute
from toolkit.predict.pipeline import Entry, prepare_chunk
from toolkit.predict.records import ItemMeta

# The columns of a decoded row, and their NumPy types: the walk's index, the path as bytes (names need not be
# UTF-8), whether the row holds a tensor (`has`), then the item's fields as `records.ItemMeta` names them.
ROW_TYPES: dict[str, type] = {
    "index": np.int64,
    "path": object,
    "frame": np.int32,
    "has": bool,
    "blank": bool,
    "error_kind": object,
    "error": object,
    "flags": object,
    "plan": object,
}
TEXT_FIELDS = ("error_kind", "error", "flags", "plan")  # None travels as "" (Arrow columns of one type)


def named(exc: BaseException) -> str:
    """`Class: first line of the message`, or just `Class` when there is no message."""
    line, name = first_line(exc, 200), exc.__class__.__name__
    return name if line == name else f"{name}: {line}"


def decode_rows(
    rows: dict[str, np.ndarray],
    all_frames: bool = False,
    cwd: str = "/",
    multi_digit: bool = False,
    access: Access = LOCAL,
) -> dict[str, np.ndarray]:
    """Decode and normalise a batch of (index, path, follow, kind, message) rows into one row per tensor of
    each item (a file, or a frame of it; an item read with `multi_digit` has one per digit), or one row with a
    zero image for an item without any. Never raises because of a file.

    Paths are bytes (file names need not be UTF-8) relative to the driver's working folder `cwd`; archive
    members and objects are reached with `access`."""
    quiet_worker()
    paths = [os.fsdecode(bytes(p)) for p in rows["path"]]
    entries: list[Entry] = [
        (absolute(path, cwd), bool(follow), (str(kind), str(message)) if kind else None)
        for path, follow, kind, message in zip(paths, rows["follow"], rows["kind"], rows["message"], strict=True)
    ]
    try:
        meta, tensors = prepare_chunk(entries, all_frames, multi_digit, access)
    except Exception:  # a bug or a decoder failure nobody foresaw: find the file, keep the others
        meta, tensors = one_by_one(
            entries,
            lambda one: prepare_chunk(one, all_frames, multi_digit, access),
            (Exception,),
            lambda _entry, exc: ("corrupt", f"decoding failed unexpectedly ({named(exc)})"),
            (28, 28),
        )
    return as_rows(meta, tensors, rows["index"].tolist(), [bytes(p) for p in rows["path"]])


def as_rows(meta: list[ItemMeta], tensors: np.ndarray, indices: list[int], paths: list[bytes]) -> dict[str, np.ndarray]:
    """`pack`'s (items, stacked tensors) as aligned columns, one row per tensor (one row for an item without
    any), every row of an item carrying its fields; a file's items start with its frame 0."""
    values: dict[str, list] = {name: [] for name in ROW_TYPES}
    images = np.zeros((sum(max(1, item.n) for item in meta), 28, 28), np.float32)
    position, row, k = -1, 0, 0
    for item in meta:
        if item.frame == 0:
            position += 1
        if item.n:
            images[row : row + item.n] = tensors[k : k + item.n]
            k += item.n
        fields = {name: getattr(item, name) or "" for name in TEXT_FIELDS}
        for has in [True] * item.n or [False]:
            values["index"].append(indices[position])
            values["path"].append(paths[position])
            values["frame"].append(item.frame)
            values["has"].append(has)
            values["blank"].append(item.blank)
            for name, value in fields.items():
                values[name].append(value)
            row += 1
    columns: dict[str, np.ndarray] = {name: np.asarray(values[name], kind) for name, kind in ROW_TYPES.items()}
    columns["image"] = images
    return columns


class Predictor:
    """The actor-side scorer: one onnxruntime session for the actor's lifetime, not one per batch."""

    def __init__(self, model: str, threads: int = 1):
        self.scorer = OnnxModel(model, threads=threads)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        has = rows["has"].astype(bool)
        probs = np.full((len(has), self.scorer.width), np.nan, np.float32)
        fatal = ""
        try:
            if has.any():
                probs[has] = self.scorer.score(rows["image"][has], with_not_digit=True)
        except ToolkitError as exc:
            # A model that turns out not to work (logits): a one-line error for the driver to raise; raised
            # here, it would reach the driver as a traceback inside Ray's error text.
            fatal = str(exc)
        out = {name: rows[name] for name in ROW_TYPES}
        out["probs"] = probs
        out["fatal"] = np.full(len(has), fatal, object)
        return out
