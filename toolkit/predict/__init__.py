"""Batch-score folders of scanned digits with onnxruntime.

    from toolkit.predict import predict_folder
    for record in predict_folder("scans/", model="model.onnx"):
        print(record["path"], record["digit"], record["confidence"])

`predict_folder` yields the same records the `predict` command writes (one dict per file, keys in column
order); `run` is the whole command (output file, resume, summary). Building blocks, shared by every engine:
`walk` (discovery), `decode` (decode + normalise one path), `pipeline` (scoring and records), `records`
(writers, atomic output, resume); `local` is the process-pool engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from os import PathLike
from typing import Any

from toolkit.predict.pipeline import PredictOptions, Record, resolve_model

__all__ = ["PredictOptions", "Record", "predict_folder", "run"]


def predict_folder(inputs: str | PathLike | Iterable[str | PathLike], model: str | PathLike | None = None,
                   *, engine: str = "local", **options: Any) -> Iterator[Record]:
    """Yield one record per image file under `inputs` (files, folders, glob patterns), in walk order.

    `options` are the fields of PredictOptions (batch_size, workers, top_k, min_confidence, all_frames, multi_digit,
    follow_symlinks, include, exclude, ...). Records are dicts with the `predict` columns; bad files give
    records with status 'error' instead of exceptions. Stop early and the workers are shut down.
    """
    from toolkit.predict.runner import engine_class
    from toolkit.predict.walk import Walker, check_inputs

    if isinstance(inputs, (str, PathLike)):
        inputs = [inputs]
    inputs = [str(i) for i in inputs]
    opts = PredictOptions(model=model, **options)
    opts.validate()
    check_inputs(inputs)
    walker = Walker(inputs, follow_symlinks=opts.follow_symlinks, include=opts.include, exclude=opts.exclude)
    with engine_class(engine)(resolve_model(opts.model), opts) as scorer:
        for batch in scorer.batches(walker):
            yield from batch


def run(*args: Any, **kwargs: Any):
    """The whole `predict` command; see `toolkit.predict.runner.run`."""
    from toolkit.predict.runner import run as _run

    return _run(*args, **kwargs)
