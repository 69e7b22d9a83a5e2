"""Engine-independent building blocks: options, the record schema, the worker-side chunk function, and the
ONNX scorer that turns a batch of tensors into records.

Every engine (the local process pool today, Ray later) composes the same three steps:
`prepare_chunk` (decode + normalise paths, in a worker) -> `Scorer.score` (onnxruntime on a batch) ->
`make_records` (probabilities -> one record per file or frame). Nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import contract, modelkind, onnxmodel
from toolkit.errors import ModelLoadError, UsageError
from toolkit.models import REFERENCE_ONNX
from toolkit.predict.decode import Item, failed, prepare_path

PROB_COLUMNS = tuple(f"prob_{d}" for d in range(10))
BASE_COLUMNS = ("path", "status", "digit", "confidence", *PROB_COLUMNS, "error")
EXTRA_COLUMNS = ("error_kind", "low_confidence", "blank", "flags")
# --multi-digit: the digits read left to right, how many, and each one's digit and confidence.
MULTI_COLUMNS = ("text", "n_digits", "per_digit")
REFERENCE_MODEL = REFERENCE_ONNX  # package data: a wheel scores with no --model too
MODEL_ENV = "MNIST_TOOLKIT_MODEL"

Record = dict[str, Any]


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@dataclass
class PredictOptions:
    """Everything that decides what `predict` scores and what its records hold."""

    model: str | os.PathLike | None = None  # None: $MNIST_TOOLKIT_MODEL, else the shipped reference model
    batch_size: int = 256  # images per onnxruntime call
    workers: int | None = None  # decode processes; None: one per CPU
    threads: int | None = None  # onnxruntime intra-op threads; None: 1 (the workers have the other cores)
    top_k: int = 0  # add a `top_k` column: the K likeliest digits, a list (CSV: space-separated)
    min_confidence: float = 0.5  # below this a record is flagged low_confidence
    all_frames: bool = False  # one record per frame of animated GIFs / multi-page TIFFs (adds `frame`)
    follow_symlinks: bool = False
    include: Sequence[str] = field(default_factory=tuple)
    exclude: Sequence[str] = field(default_factory=tuple)
    chunk_size: int = 64  # files per task sent to a worker
    ray_address: str | None = None  # Ray engine: None starts a local instance; "auto" or "ray://..." joins
    multi_digit: bool = False  # read every digit of each image, left to right (adds MULTI_COLUMNS)

    def validate(self) -> None:
        """UsageError for option values that cannot work."""
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.workers is not None and self.workers < 0:
            raise UsageError(f"--workers must be 0 (decode in this process) or more, got {self.workers}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be at least 1, got {self.threads}")
        if not 0 <= self.top_k <= 10:
            raise UsageError(f"--top-k must be between 0 and 10, got {self.top_k}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise UsageError(f"--min-confidence must be between 0 and 1, got {self.min_confidence}")
        if self.multi_digit and self.top_k:
            raise UsageError("--top-k ranks the classes of one digit; it does not combine with --multi-digit")

    def resolved_workers(self) -> int:
        return cpu_count() if self.workers is None else self.workers

    def resolved_threads(self) -> int:
        return self.threads or 1

    def columns(self) -> tuple[str, ...]:
        """The record columns, in order, for these options."""
        extra = (("frame",) if self.all_frames else ()) + (("top_k",) if self.top_k else ())
        return BASE_COLUMNS + EXTRA_COLUMNS + (MULTI_COLUMNS if self.multi_digit else ()) + extra


def resolve_model(model: str | os.PathLike | None) -> Path:
    """The ONNX model to use: the given path, else $MNIST_TOOLKIT_MODEL, else the shipped reference model.

    A path that is missing, a folder or another kind of model is a ModelKindError (exit 2) worded as in every
    other command, e.g. "export it first" for a .keras file.
    """
    if model is not None:
        path, label = Path(model), "--model "
    elif os.environ.get(MODEL_ENV):
        path, label = Path(os.environ[MODEL_ENV]), f"{MODEL_ENV}="
    else:
        path, label = REFERENCE_MODEL, ""
        if not path.is_file():
            raise ModelLoadError(
                f"no --model given and the packaged reference model is missing ({path}); "
                "reinstall mnist-toolkit, or pass --model MODEL.onnx"
            )
    modelkind.require(path, ("onnx",), "predict", label)
    return path


# --- worker side ----------------------------------------------------------------------------------


# Per item: (path, frame, number of tensors, blank, error kind, error, flags or None, plan or None); the
# tensors of all items, stacked in order.
Meta = tuple[str, int, int, bool, str | None, str | None, str | None, str | None]
Packed = tuple[list[Meta], np.ndarray]


# A file to score as it crosses to a worker: (path, follow symlinks, known error); a Found is one too.
Entry = tuple[str, bool, tuple[str, str] | None]


def prepare_chunk(found: Sequence[Entry], all_frames: bool = False, multi_digit: bool = False) -> Packed:
    """Decode and normalise a chunk of files (runs in a worker): per-item metadata plus one stacked array of
    the tensors, which pickles far faster than many small arrays. Entries are Found or plain
    (path, follow, error) tuples."""
    items: list[Item] = []
    for path, follow, error in found:
        if error is not None:
            items.append(failed(path, *error))
        else:
            items.extend(prepare_path(path, all_frames=all_frames, follow=follow, multi_digit=multi_digit))
    return pack(items)


Scored = tuple[list[Meta], np.ndarray]


def score_chunk(
    found: Sequence[Entry], all_frames: bool, model: str, threads: int = 1, multi_digit: bool = False
) -> Scored:
    """`prepare_chunk`, then the chunk's tensors scored by this process's own session for `model`: per-item
    metadata plus the probabilities (N, 10) of the tensors. A worker that scores its own chunks sends back 40
    bytes an image instead of 3 KB, and the work spreads evenly over the cores."""
    meta, tensors = prepare_chunk(found, all_frames, multi_digit)
    return meta, scorer_for(model, threads).score(tensors)


_SCORERS: dict[tuple[str, int], Scorer] = {}


def scorer_for(model: str | Path, threads: int = 1) -> Scorer:
    """This process's Scorer for `model`, loaded once (raises ModelLoadError for a model predict cannot use)."""
    key = (str(model), threads)
    if key not in _SCORERS:
        _SCORERS[key] = Scorer(model, threads=threads)
    return _SCORERS[key]


def pack(items: Sequence[Item]) -> Packed:
    """Items -> (metadata tuples, the tensors of all items stacked in order: one per single-digit item, one per
    digit (or alternative, see `segment.choose`) of a multi-digit item)."""
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
        meta.append(
            (item.path, item.frame, n, item.blank, item.error_kind, item.error, " ".join(item.flags) or None, item.plan)
        )
    stacked = np.stack(tensors) if tensors else np.zeros((0, 28, 28), np.float32)
    return meta, stacked


# --- scoring ----------------------------------------------------------------------------------------


class Scorer:
    """An onnxruntime session for a model that honours the model contract (`toolkit.contract`): one float32
    image input [N,28,28,1] (or [N,1,28,28] if its metadata says NCHW), one output [N,10] of probabilities.

    A file exported by mnist-toolkit carries the contract in its metadata_props (tensor names, layout, scale,
    ink polarity, labels) and the scorer follows it; any other ONNX file is taken to follow the defaults and
    is checked by shape. Either way a model that cannot work fails here, in one line, before any file is read.
    """

    def __init__(self, model: Path | str, threads: int = 1):
        self.path = Path(model)
        self.session = onnxmodel.open_session(self.path, threads)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.contract = (
            contract.read_contract(self.metadata, str(self.path))
            if contract.KEY_INPUT in self.metadata
            else contract.ModelContract()
        )
        self.input_name, self.output_name = self._check()
        self._checked_output = False

    def _check(self) -> tuple[str, str]:
        c = self.contract
        inputs, outputs = onnxmodel.interface(self.session)
        named = [o for o in outputs if o.name == c.output_name]
        # The output the metadata names, else the one the contract names, else the first.
        output = named[0] if named else outputs[onnxmodel.output_index(outputs)] if outputs else None
        mismatch = onnxmodel.interface_problems(inputs, [output] if output else [], layout=c.layout)
        if mismatch:
            raise ModelLoadError(f"{self.path}: {'; '.join(mismatch)}; predict needs {onnxmodel.NEEDS}")
        if c.input_name != inputs[0].name and contract.KEY_INPUT in self.metadata:
            raise ModelLoadError(
                f"{self.path}: metadata names input '{c.input_name}', the graph has '{inputs[0].name}'"
            )
        problems = []
        if c.layout not in ("NHWC", "NCHW"):
            problems.append(f"layout {c.layout}")
        if c.size != "28x28":
            problems.append(f"size {c.size}")
        if c.ink not in ("white-on-black", "black-on-white"):
            problems.append(f"ink {c.ink}")
        try:
            self.scale = c.scale_factor * 255.0
        except (ValueError, ZeroDivisionError):
            problems.append(f"scale {c.scale}")
        if problems:
            raise ModelLoadError(
                f"{self.path}: the model asks for preprocessing predict cannot give ({', '.join(problems)})"
            )
        labels = list(c.labels)
        if sorted(labels) != [str(d) for d in range(10)]:
            raise ModelLoadError(f"{self.path}: the model's labels are {labels[:12]}; predict needs the digits 0-9")
        # Columns of the output, reordered so that column d is the probability of digit d.
        self.order = None if labels == [str(d) for d in range(10)] else [labels.index(str(d)) for d in range(10)]
        assert output is not None  # interface_problems refuses a model without outputs
        return inputs[0].name, output.name

    def score(self, tensors: np.ndarray) -> np.ndarray:
        """float32 (N, 28, 28) as `preprocess.normalize` makes them -> probabilities float32 (N, 10)."""
        if len(tensors) == 0:
            return np.zeros((0, 10), np.float32)
        batch = np.ascontiguousarray(tensors, dtype=np.float32)
        if self.contract.ink == "black-on-white":
            batch = 1.0 - batch
        if abs(self.scale - 1.0) > 1e-9:
            batch = batch * np.float32(self.scale)
        shape = (len(batch), 1, 28, 28) if self.contract.layout == "NCHW" else (len(batch), 28, 28, 1)
        out = self.session.run([self.output_name], {self.input_name: batch.reshape(shape)})[0]
        out = np.asarray(out, dtype=np.float32)
        if self.order is not None:
            out = out[:, self.order]
        # Every batch: NaN or Inf fails every comparison below, and no record can hold it (JSON cannot).
        finite = np.isfinite(out).all(axis=1)
        if not finite.all():
            raise ModelLoadError(
                f"{self.path}: the model produced NaN/Inf for {int((~finite).sum()):,} of "
                f"{len(out):,} images in a batch; predict needs finite probabilities"
            )
        if not self._checked_output:
            sums = out.sum(axis=1)
            if out.min() < -1e-3 or np.abs(sums - 1.0).max() > 0.02:
                raise ModelLoadError(
                    f"{self.path}: the model's output rows do not sum to 1 (got {sums[0]:.3g}); "
                    "predict needs softmax probabilities, not logits"
                )
            self._checked_output = True
        return out


def make_records(meta, probs: np.ndarray, options: PredictOptions) -> list[Record]:
    """One record per item: `meta` as made by `pack`, `probs` the model's rows for the items' tensors, in
    order. Blank images get no digit (and are flagged); failures get status `error`. With `multi_digit`, see
    `_number_record`. Every engine makes its records here."""
    if options.multi_digit:
        return _number_records(meta, probs, options)
    records: list[Record] = []
    rows = probs.tolist()
    digits = probs.argmax(axis=1).tolist() if len(probs) else []
    top_k = options.top_k
    ranked = np.argsort(-probs, axis=1, kind="stable")[:, :top_k].tolist() if top_k and len(probs) else []
    threshold = options.min_confidence
    k = 0
    for path, frame, has, blank, kind, error, *more in meta:
        top = None
        if has:
            row, digit = rows[k], digits[k]
            confidence = row[digit]
            record: Record = {"path": path, "status": "ok", "digit": digit, "confidence": confidence}
            record.update(zip(PROB_COLUMNS, row, strict=True))
            record.update(error=None, error_kind=None, low_confidence=confidence < threshold, blank=False)
            if top_k:
                top = ranked[k]  # digits, likeliest first; their probabilities are in the prob_* columns
            k += 1
        else:
            record = dict.fromkeys(BASE_COLUMNS)
            record["path"] = path
            if blank:
                record.update(status="ok", error_kind=None, low_confidence=True, blank=True)
            else:
                record.update(
                    status="error", error=f"{kind}: {error}", error_kind=kind, low_confidence=None, blank=None
                )
        record["flags"] = more[0] if more else None
        if options.all_frames:
            record["frame"] = frame
        if top_k:
            record["top_k"] = top
        records.append(record)
    return records


def _number_records(meta, probs: np.ndarray, options: PredictOptions) -> list[Record]:
    """`make_records` for --multi-digit: `text` (the digits read, left to right), `n_digits`, `per_digit` (each
    digit with its confidence) and `confidence`, the least confident digit's. Where the segmenter offered
    alternative readings of touching digits, the model's probabilities choose (`segment.choose`). `digit` and
    the `prob_` columns are filled only when exactly one digit was read."""
    from toolkit import segment

    records: list[Record] = []
    digits = probs.argmax(axis=1) if len(probs) else np.zeros(0, np.int64)
    confidences = probs.max(axis=1) if len(probs) else np.zeros(0, np.float32)
    k = 0
    for path, frame, n, blank, kind, error, *more in meta:
        record: Record = dict.fromkeys(BASE_COLUMNS)
        record["path"] = path
        flags, plan = (more + [None, None])[:2]
        if n:
            chosen, cut = segment.choose(plan, probs[k : k + n])
            chosen = [k + i for i in chosen]
            if cut:
                flags = f"{flags} split" if flags else "split"
            read = digits[chosen].tolist()
            sure = confidences[chosen].tolist()
            confidence = min(sure)
            record.update(
                status="ok",
                confidence=confidence,
                error_kind=None,
                low_confidence=confidence < options.min_confidence,
                blank=False,
            )
            if len(chosen) == 1:
                record["digit"] = read[0]
                record.update(zip(PROB_COLUMNS, probs[chosen[0]].tolist(), strict=True))
            record.update(
                text="".join(map(str, read)),
                n_digits=len(read),
                per_digit=[{"digit": d, "confidence": float(f"{c:.6g}")} for d, c in zip(read, sure, strict=True)],
            )
            k += n
        elif blank:
            record.update(
                status="ok", error_kind=None, low_confidence=True, blank=True, text=None, n_digits=0, per_digit=None
            )
        else:
            record.update(
                status="error",
                error=f"{kind}: {error}",
                error_kind=kind,
                low_confidence=None,
                blank=None,
                text=None,
                n_digits=None,
                per_digit=None,
            )
        record["flags"] = flags
        if options.all_frames:
            record["frame"] = frame
        records.append({c: record.get(c) for c in options.columns()})
    return records
