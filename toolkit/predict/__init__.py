"""Batch-score folders of scanned digits with onnxruntime, from Python.

    from toolkit.predict import predict_folder, predict_images

    for record in predict_folder("scans/"):
        print(record["path"], record["digit"], record["confidence"])

    [record] = predict_images([Image.open("seven.png")])

Both return the records the `predict` command writes: one dict per file (or image), keys in column order
(`path, status, digit, confidence, prob_0..prob_9, error, error_kind, low_confidence, blank`, then `frame`
and `top_k` when asked for). A bad file is a record with status `error`, never an exception; a bad model or
bad options raise `toolkit.errors.ToolkitError` (its message is one line).

`run` is the whole command (output file, resume, summary). Building blocks, shared by every engine: `walk`
(discovery), `decode` (decode + normalise one path), `pipeline` (scoring and records), `writers` (CSV, JSON
Lines, Parquet), `resume` (what an earlier run wrote), `journal` (the atomic, resumable output file); `local` is
the process-pool engine, `ray_engine` the Ray one, `runner` the whole command.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from os import PathLike
from typing import Any

import numpy as np
from PIL import Image

from toolkit.predict.pipeline import PredictOptions, Record, resolve_model

__all__ = ["PredictOptions", "Record", "predict_folder", "predict_images", "run"]

ImageLike = Image.Image | np.ndarray | str | PathLike


def predict_folder(
    inputs: str | PathLike | Iterable[str | PathLike],
    model: str | PathLike | None = None,
    *,
    engine: str = "local",
    batch_size: int = 256,
    workers: int | None = None,
    threads: int | None = None,
    top_k: int = 0,
    min_confidence: float = 0.5,
    all_frames: bool = False,
    follow_symlinks: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    chunk_size: int = 64,
    ray_address: str | None = None,
    multi_digit: bool = False,
) -> Iterator[Record]:
    """Yield one record per image file under `inputs` (files, folders walked recursively, glob patterns), in
    walk order, as soon as each chunk is scored.

    model: an ONNX file; default $MNIST_TOOLKIT_MODEL, else the reference model shipped with the package.
    engine: "local" (worker processes on this machine) or "ray" (Ray Data; `pip install 'mnist-toolkit[ray]'`).
    batch_size: images per onnxruntime call (Ray engine). workers: decoding processes (default one per CPU;
    0 decodes in this process). threads: onnxruntime threads per process (default 1). top_k: add a `top_k`
    list of the K likeliest digits. min_confidence: below it a record is flagged `low_confidence`.
    all_frames: one record per frame of animated GIFs and multi-page TIFFs (adds `frame`).
    follow_symlinks, include, exclude: what the walk takes (see `mnist-toolkit predict --help`).
    chunk_size: files per worker task. ray_address: None starts a local Ray, "auto" or "ray://..." joins one.
    multi_digit: read every digit of a number, left to right (adds `text`, `n_digits` and `per_digit`).

    Safe to call from a script without an `if __name__ == "__main__":` guard: where worker processes would
    have to re-run that script, the files are decoded in this process instead (slower, never a crash).
    Stop iterating early and the workers are shut down.
    """
    from toolkit.predict.runner import setup

    if isinstance(inputs, (str, PathLike)):
        inputs = [inputs]
    options = PredictOptions(
        model=model,
        batch_size=batch_size,
        workers=workers,
        threads=threads,
        top_k=top_k,
        min_confidence=min_confidence,
        all_frames=all_frames,
        follow_symlinks=follow_symlinks,
        include=tuple(include),
        exclude=tuple(exclude),
        chunk_size=chunk_size,
        ray_address=ray_address,
        multi_digit=multi_digit,
    )
    engine_type, model_path, walker = setup([str(i) for i in inputs], options, engine)
    with engine_type(model_path, options) as scorer:
        for batch in scorer.batches(walker):
            yield from batch


def predict_images(
    images: Iterable[ImageLike],
    model: str | PathLike | None = None,
    *,
    top_k: int = 0,
    min_confidence: float = 0.5,
    multi_digit: bool = False,
) -> list[Record]:
    """Score images already in memory, or a few files, in this process: one record per item, in order.

    Items may be PIL images, NumPy arrays (H x W grey or H x W x 3/4 RGB(A); uint8, uint16 or float in
    [0, 1]) or paths. Each goes through the same normalisation as `predict` (a scan, a photo or an MNIST
    digit alike); a path that cannot be read or decoded gives an `error` record. The `path` of an in-memory
    item is `<image N>`, N its position.
    """
    from toolkit.predict import decode
    from toolkit.predict.pipeline import make_records, pack, scorer_for

    options = PredictOptions(model=model, top_k=top_k, min_confidence=min_confidence, multi_digit=multi_digit)
    options.validate()
    scorer = scorer_for(resolve_model(options.model))
    items: list[decode.Item] = []
    for index, image in enumerate(images):
        if isinstance(image, (str, PathLike)):
            items.extend(decode.prepare_path(str(image), multi_digit=multi_digit))
        else:
            items.append(decode.prepare_image(_as_image(image, index), f"<image {index}>", multi_digit=multi_digit))
    meta, tensors = pack(items)
    return make_records(meta, scorer.score(tensors), options)


def _as_image(image: Image.Image | np.ndarray, index: int) -> Image.Image:
    """A PIL image for an in-memory item (arrays are taken as grey or RGB(A), as Pillow and Matplotlib use)."""
    if isinstance(image, Image.Image):
        return image
    if not isinstance(image, np.ndarray):
        raise TypeError(f"item {index}: expected a PIL image, a NumPy array or a path, got {type(image).__name__}")
    array: np.ndarray = image
    if array.dtype.kind == "f":
        array = array.astype(np.float32)
        if array.ndim == 3:  # Pillow has no float colour mode: 8 bits a channel are plenty for a digit
            array = np.round(np.clip(array, 0.0, 1.0) * 255).astype(np.uint8)
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    try:
        return Image.fromarray(array)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"item {index}: cannot use an array of shape {array.shape} and type {array.dtype} as an image ({exc})"
        ) from None


def run(*args: Any, **kwargs: Any):
    """The whole `predict` command; see `toolkit.predict.runner.run`."""
    from toolkit.predict.runner import run as _run

    return _run(*args, **kwargs)
