"""Engine-independent steps, which every engine composes the same way:

`prepare_chunk` (decode + normalise files, in a worker) -> `OnnxModel.score` (onnxruntime on a batch) ->
`make_records` (probabilities -> one record per file or frame). `score_chunk` runs the first two in a worker.
Nothing here imports TensorFlow or Keras.

Scored rows are the model's probabilities, with its `not_digit` output as an eleventh column when it has one
(`OnnxModel.score(..., with_not_digit=True)`): engines pass the one array along, and `make_records` reads it.
A single-digit scan the model rejects (not_digit >= NOT_DIGIT_THRESHOLD) keeps its digit but is flagged
`not-a-digit` and low-confidence. What the segmenter cut from a page is judged as candidates
(`reading.pick`): rejected ones are passed over, and a page whose candidates are all rejected has no digit
(blank, flagged `not-a-digit`). In a number a rejected candidate is dropped, and the record flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from toolkit.contract import NOT_DIGIT_DOUBT, NOT_DIGIT_THRESHOLD, NUM_CLASSES
from toolkit.onnxmodel import OnnxModel
from toolkit.predict import located, records
from toolkit.predict.decode import Item, failed, prepare_path
from toolkit.predict.located import LOCAL, Access
from toolkit.predict.options import PredictOptions
from toolkit.predict.records import PROB_COLUMNS, ItemMeta, Record
from toolkit.predict.walk import Found

# Per-item metadata, and the tensors of all items stacked in order (or, once scored, their probabilities).
Packed = tuple[list[ItemMeta], np.ndarray]
Scored = Packed

# A file to score as it crosses to a worker: (path, follow symlinks, known error); a Found is one too.
Entry = tuple[str, bool, tuple[str, str] | None]


def entries(found: Iterable[Found | Entry]) -> list[Entry]:
    """Walked files as the plain tuples that cross to a worker (a NamedTuple pickles several times slower, and
    this is per file; a Found's version stays behind: it is the output's business)."""
    return [(f[0], f[1], f[2]) for f in found]


def prepare_chunk(
    found: Sequence[Entry], all_frames: bool = False, multi_digit: bool = False, access: Access = LOCAL
) -> Packed:
    """Decode and normalise a chunk of files (runs in a worker): per-item metadata plus one stacked array of
    the tensors, which pickles far faster than many small arrays. Entries are (path, follow, error) tuples;
    `access` reaches archive members and objects."""
    items: list[Item] = []
    located.prefetch([path for path, _, error in found if error is None], access)
    for path, follow, error in found:
        if error is not None:
            items.append(failed(path, *error))
        else:
            items.extend(
                prepare_path(path, all_frames=all_frames, follow=follow, multi_digit=multi_digit, access=access)
            )
    return pack(items)


def score_chunk(
    found: Sequence[Entry],
    all_frames: bool,
    model: str,
    threads: int = 1,
    multi_digit: bool = False,
    access: Access = LOCAL,
) -> Scored:
    """`prepare_chunk`, then the chunk's tensors scored by this process's own session for `model`: per-item
    metadata plus the probabilities (N, 10) of the tensors. A worker that scores its own chunks sends back 40
    bytes an image instead of 3 KB, and the work spreads evenly over the cores."""
    meta, tensors = prepare_chunk(found, all_frames, multi_digit, access)
    return meta, scorer_for(model, threads).score(tensors, with_not_digit=True)


_MODELS: dict[tuple[str, int], OnnxModel] = {}


def scorer_for(model: str | Path, threads: int = 1) -> OnnxModel:
    """This process's OnnxModel for `model`, loaded once (raises ModelLoadError for a model predict cannot use)."""
    key = (str(model), threads)
    if key not in _MODELS:
        _MODELS[key] = OnnxModel(model, threads=threads)
    return _MODELS[key]


def pack(items: Sequence[Item]) -> Packed:
    """Items -> (their metadata, the tensors of all items stacked in order: one per single-digit item, one per
    digit (or alternative, see `reading.choose`) of a multi-digit item; none for a blank or failed item)."""
    meta = []
    tensors = []
    for item in items:
        tensor = item.tensor
        n = 0
        if tensor is not None and not item.blank:
            if tensor.ndim == 2:
                n = 1
                tensors.append(tensor)
            else:
                n = len(tensor)
                tensors.extend(tensor)
        flags = " ".join(item.flags) or None
        meta.append(ItemMeta(item.path, item.frame, n, item.blank, item.error_kind, item.error, flags, item.plan))
    stacked = np.stack(tensors) if tensors else np.zeros((0, 28, 28), np.float32)
    return meta, stacked


def make_records(meta: Sequence[ItemMeta], probs: np.ndarray, options: PredictOptions) -> list[Record]:
    """One record per item: `meta` as made by `pack`, `probs` the model's rows for the items' tensors, in
    order (and the not_digit column, when the model has one). Blank images get no digit (and are flagged);
    failures get status `error`. With `multi_digit`, see `_number_record`. Every engine makes its records here."""
    if not options.multi_digit:
        return _digit_records(meta, probs, options)
    out: list[Record] = []
    columns = options.columns()
    k = 0
    for item in meta:
        if item.n:
            record = _number_record(item, probs[k : k + item.n], options)
            k += item.n
        else:
            record = _no_digit(item)
            record["n_digits"] = 0 if item.blank else None
            record["flags"] = item.flags
        if options.all_frames:
            record["frame"] = item.frame
        out.append(cast(Record, {c: record.get(c) for c in columns}))  # exactly the run's columns, in order
    return out


def _no_digit(item: ItemMeta) -> dict[str, Any]:
    """The record of a blank or failed item."""
    if item.blank:
        return dict(records.empty(item.path), status="ok", low_confidence=True, blank=True)
    error = f"{item.error_kind}: {item.error}"
    return dict(records.empty(item.path), status="error", error=error, error_kind=item.error_kind)


def _digit_records(meta: Sequence[ItemMeta], probs: np.ndarray, options: PredictOptions) -> list[Record]:
    """`make_records` for single digits. Per file, so the probabilities are turned into Python numbers for the
    whole batch at once and each record is built in column order (no reordering pass)."""
    rejection = probs[:, NUM_CLASSES].tolist() if probs.shape[1] > NUM_CLASSES else None
    probs = probs[:, :NUM_CLASSES]
    rows = probs.tolist()
    digits = probs.argmax(axis=1).tolist() if len(probs) else []
    top_k, threshold, frames = options.top_k, options.min_confidence, options.all_frames
    ranked = np.argsort(-probs, axis=1, kind="stable")[:, :top_k].tolist() if top_k and len(probs) else []
    out: list[Record] = []
    k = 0
    for item in meta:
        flags = item.flags
        at: int | None = k
        both = None
        if item.plan:  # a page's candidates for its digit: the model picks (reading.pick)
            at, both, flags = _pick(item, probs, rejection, k)
        if item.n and at is not None:
            row, digit = rows[at], digits[at]
            if both is not None:  # read otherwise with the line it touched kept: read from both views
                row, digit = both.tolist(), int(both.argmax())
            confidence = row[digit]
            record: dict[str, Any] = {"path": item.path, "status": "ok", "digit": digit, "confidence": confidence}
            record.update(zip(PROB_COLUMNS, row, strict=True))
            record.update(error=None, error_kind=None, low_confidence=confidence < threshold, blank=False)
            record["flags"] = flags
            record["not_digit"] = None
            if rejection is not None:
                _judge(record, rejection[at])
            top = ranked[at] if top_k else None  # digits, likeliest first; their probabilities are in prob_*
            if top_k and both is not None:
                top = np.argsort(-both, kind="stable")[:top_k].tolist()
        elif item.n:  # candidates, all rejected: no digit on the page
            record = dict(records.empty(item.path), status="ok", low_confidence=True, blank=True, flags=flags)
            record["not_digit"] = min(rejection[k : k + item.n]) if rejection is not None else None
            top = None
        else:
            record = _no_digit(item)
            record["flags"] = flags
            top = None
        k += item.n
        if frames:
            record["frame"] = item.frame
        if top_k:
            record["top_k"] = top
        out.append(cast(Record, record))
    return out


def _pick(
    item: ItemMeta, probs: np.ndarray, rejection: list[float] | None, k: int
) -> tuple[int | None, np.ndarray | None, str | None]:
    """Which of an item's candidate rows (from row `k`) is its digit (None: the model rejected them all), the
    probabilities to read it by when its twin with the line it touched kept (or erased) reads another digit
    (`reading.joint` of the two; else None: its own row), and its flags: `ambiguous` as the model's choice
    makes it, `several-digits` judged on the chosen candidate when it is not the heaviest (the segmenter judged
    the heaviest), `touches-line` only when the one read touched an erased line and reads otherwise with it
    kept, `cut-by-border` when the image's border cuts the one read; `straight-stroke` when the one read is a 1
    straighter than a pen draws (`reading.straight_one`), `lying-stroke` when it is a 1 lying further over than a
    1 is written (`reading.lying_one`); `faint-ink` when it is ink barely darker than the
    paper (`reading.faint`). On a page, a faint or lying one chosen is not read (`reading.unread`): no digit, and
    that flag alone. When none is read otherwise, `cut-by-border` when every candidate was a straight mark into
    the border read as a 1 (`reading.edge_ones`), else `not-a-digit`."""
    from toolkit.imaging import reading

    assert item.plan is not None
    scored = probs[k : k + item.n]
    if rejection is not None:
        scored = np.column_stack([scored, rejection[k : k + item.n]])
    chosen, ambiguous, wide = reading.pick(item.plan, scored)
    if chosen is not None and (why := reading.unread(item.plan, scored, chosen)):
        return None, None, why  # on a page, faint ink or a lying bar is no digit read
    flags = [f for f in (item.flags or "").split() if f != "ambiguous" and (f != "several-digits" or not chosen)]
    if ambiguous:
        flags.append("ambiguous")
    if chosen and wide:
        flags.append("several-digits")
    twin = None if chosen is None else reading.differing_twin(item.plan, scored, chosen)
    if chosen is None:  # nothing read: what was said of the marks no longer applies, and why nothing was
        edges = reading.edge_ones(item.plan, scored)
        flags = [f for f in flags if f not in ("several-digits", "touches-line")]
        flags.append("cut-by-border" if len(edges) == item.n else "not-a-digit")
    elif twin is None:
        flags = [f for f in flags if f != "touches-line"]  # no line touched what was read, or it changed nothing
    elif "touches-line" not in flags:
        flags.append("touches-line")  # the segmenter said it of the heaviest candidate only
    if chosen is not None and reading.cut_by_border(item.plan, chosen):
        flags.append("cut-by-border")
    if chosen is not None and reading.straight_one(item.plan, scored, chosen):
        flags.append("straight-stroke")
    if chosen is not None and reading.lying_one(item.plan, scored, chosen):
        flags.append("lying-stroke")
    if chosen is not None and reading.faint(item.plan, chosen):
        flags.append("faint-ink")
    both = None if twin is None else reading.joint(scored[chosen], scored[twin])
    return (None if chosen is None else k + chosen), both, " ".join(flags) or None


def _judge(record: dict[str, Any], not_digit: float) -> None:
    """Record the model's not_digit probability; at NOT_DIGIT_DOUBT or above the record is low-confidence, at
    NOT_DIGIT_THRESHOLD or above also flagged."""
    record["not_digit"] = not_digit
    if not_digit >= NOT_DIGIT_DOUBT:
        record["low_confidence"] = True
    if not_digit >= NOT_DIGIT_THRESHOLD:
        record["flags"] = " ".join(f for f in (record["flags"], "not-a-digit") if f)


def _number_record(item: ItemMeta, scored: np.ndarray, options: PredictOptions) -> dict[str, Any]:
    """--multi-digit: `text` (the digits read, left to right), `n_digits`, `per_digit` (each digit with its
    confidence) and `confidence`, the least confident digit's. Where the segmenter offered alternative readings
    of touching digits, the model's scores choose (`reading.choose`), and a close call is flagged `ambiguous`.
    Candidates the model rejects (its not_digit output, when it has one) are dropped, and the record flagged
    `not-a-digit` (a full-height 1 cut from a touching neighbour is kept, flagged so: `reading.rejected_ones`);
    a bar straighter than a pen draws is not read as a 1 beside other digits, and the record says
    `straight-stroke` (`reading.straight_slots`). The segmenter's `touches-line` stays only when a digit read
    reads otherwise with the line it touched kept. `digit` and the `prob_` columns are filled only when exactly
    one digit was read."""
    from toolkit.imaging import reading

    probs = scored[:, :NUM_CLASSES]
    kept, chosen, cut, ambiguous, ones = reading.read_number(item.plan, scored)  # ones: cut from a neighbour, kept
    rejection = scored[chosen, NUM_CLASSES] if scored.shape[1] > NUM_CLASSES else np.zeros(len(chosen))
    said = (
        "split" if cut else "",
        "ambiguous" if ambiguous else "",
        "not-a-digit" if len(kept) < len(chosen) or ones else "",
        "straight-stroke" if reading.straight_slots(item.plan, scored) else "",
    )
    # The segmenter's flags, but `touches-line` only when a digit read reads otherwise with its line kept.
    segmenter = (item.flags or "").split()
    if "touches-line" in segmenter and reading.spans_kept_agree(item.plan, scored, chosen):
        segmenter.remove("touches-line")
    flags = " ".join(dict.fromkeys(f for f in (*segmenter, *said) if f))  # each once: both may say `ambiguous`
    if not kept:
        return dict(
            records.empty(item.path), status="ok", low_confidence=True, blank=False, flags=flags or None,
            text="", n_digits=0, per_digit=[], not_digit=float(rejection.min()),
        )  # fmt: skip
    chosen = kept
    doubt = float(scored[chosen, NUM_CLASSES].max()) if scored.shape[1] > NUM_CLASSES else None
    read = probs[chosen].argmax(axis=1).tolist()
    sure = probs[chosen].max(axis=1).tolist()
    confidence = min(sure)
    record = dict(
        records.empty(item.path),
        status="ok",
        confidence=confidence,
        low_confidence=confidence < options.min_confidence
        or len(kept) < len(rejection)
        or bool(ones)
        or ambiguous
        or (doubt is not None and doubt >= NOT_DIGIT_DOUBT),
        blank=False,
        flags=flags or None,
        not_digit=doubt,
        text="".join(map(str, read)),
        n_digits=len(read),
        per_digit=[{"digit": d, "confidence": float(f"{c:.6g}")} for d, c in zip(read, sure, strict=True)],
    )
    if len(chosen) == 1:
        record["digit"] = read[0]
        record.update(zip(PROB_COLUMNS, probs[chosen[0]].tolist(), strict=True))
    return record
