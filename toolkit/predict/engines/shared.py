"""What both engines share: cutting the walk into chunks, and scoring a chunk one file at a time to isolate the
file that breaks its worker."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

import numpy as np

from toolkit.predict.decode import failed
from toolkit.predict.options import PredictOptions
from toolkit.predict.pipeline import Entry, Packed, entries, make_records, pack, score_chunk
from toolkit.predict.records import ItemMeta, Record
from toolkit.predict.walk import Found

T = TypeVar("T")

CRASHED = ("worker-crashed", "decoding this file killed the worker process")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter), lazily: a walk of millions is never held whole."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def one_by_one(
    entries: Sequence[Entry],
    attempt: Callable[[list[Entry]], Packed],
    crash: tuple[type[BaseException], ...],
    on_crash: Callable[[Entry, BaseException], tuple[str, str]],
    row_shape: tuple[int, ...],
) -> Packed:
    """`attempt` each entry alone; an entry whose attempt raises one of `crash` becomes an error item with the
    (kind, message) `on_crash` gives (which may also repair what the crash broke, e.g. start a new pool). The
    others keep their results, in order. `row_shape` is the shape of a row of the arrays `attempt` returns
    (tensors (28, 28) or scored rows (10,)), for when no entry gives one (scored rows are 11 wide for a model
    with the not_digit output)."""
    metas, arrays = [], []
    for entry in entries:
        try:
            meta, array = attempt([entry])
            arrays.append(array)
        except crash as exc:
            meta, _ = pack([failed(entry[0], *on_crash(entry, exc))])
        metas.extend(meta)
    return metas, np.concatenate(arrays) if arrays else np.zeros((0, *row_shape), np.float32)


def records_of(meta: list[ItemMeta], probs: list[np.ndarray], options: PredictOptions) -> list[Record]:
    """Records of scored chunks gathered together: their items, and their probabilities chunk by chunk (none
    for an empty gathering)."""
    if not meta:
        return []
    filled = [p for p in probs if len(p)] or probs[:1]  # a chunk of failures only may say 10 columns, not 11
    return make_records(meta, filled[0] if len(filled) == 1 else np.concatenate(filled), options)


def score_here(found: Iterable[Found], model: str, options: PredictOptions) -> Iterator[list[Record]]:
    """Records of `found` decoded and scored in this process, chunk by chunk: where no worker process can run
    (`--workers 0`, a sandbox without fork, a script without a main guard)."""
    for chunk in chunks(found, options.chunk_size):
        meta, probs = score_chunk(
            entries(chunk), options.all_frames, model, options.resolved_threads(), options.multi_digit, options.access()
        )
        yield make_records(meta, probs, options)
