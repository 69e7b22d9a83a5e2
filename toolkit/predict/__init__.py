"""Batch-score folders of scanned digits with onnxruntime, from Python.

    from toolkit.predict import predict_folder, predict_images

    for record in predict_folder("scans/"):
        print(record["path"], record["digit"], record["confidence"])

    [record] = predict_images([Image.open("seven.png")])

Both return the records the `predict` command writes: one dict per file (or image), keys in column order
(`path, status, digit, confidence, prob_0..prob_9, error, error_kind, low_confidence, blank, flags, not_digit`, then
`text, n_digits, per_digit`, `frame` and `top_k` when the options ask for them). A bad file is a record with
status `error`, never an exception; a bad model or bad options raise `toolkit.errors.ToolkitError` (its
message is one line), a misspelt keyword TypeError.

`run` is the whole command (output file, resume, summary). `options` declares every option once, with its
default and help, for the command and these functions alike. Building blocks, shared by every engine: `walk`
(discovery), `decode` (decode + normalise one path), `records` (the record and its schema), `pipeline` (scoring),
`writers` (CSV, JSON Lines, Parquet), `resume` (what an earlier run wrote), `journal` (the atomic, resumable
output file); `engines/` holds the process-pool engine and the Ray one, `runner` the whole command.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from os import PathLike
from typing import TYPE_CHECKING, Any

from toolkit.predict.options import PredictOptions, resolve_model, takes_options
from toolkit.predict.records import Record

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from toolkit.predict.runner import run

    ImageLike = Image.Image | np.ndarray | str | PathLike

__all__ = ["PredictOptions", "Record", "predict_folder", "predict_images", "run"]


def __getattr__(name: str) -> Any:
    # `run` is runner.run itself, imported on first use: the runner brings NumPy and the scorer, and
    # `mnist-toolkit --help` imports this package for the options' declaration.
    if name == "run":
        from toolkit.predict.runner import run

        return run
    raise AttributeError(f"module 'toolkit.predict' has no attribute {name!r}")


@takes_options()
def predict_folder(
    inputs: str | PathLike | Iterable[str | PathLike],
    model: str | PathLike | None = None,
    *,
    engine: str = "local",
    **options: Any,
) -> Iterator[Record]:
    """Yield one record per image file under `inputs` (files, folders walked recursively, glob patterns), in
    walk order, as soon as each chunk is scored.

    model: an ONNX file; default $MNIST_TOOLKIT_MODEL, else the reference model shipped with the package.
    engine: "local" (worker processes on this machine) or "ray" (Ray Data; `pip install 'mnist-toolkit[ray]'`).
    The other keywords are PredictOptions fields, listed below; `predict --help` explains them too.

    Safe to call from a script without an `if __name__ == "__main__":` guard: where worker processes would
    have to re-run that script, the files are decoded in this process instead (slower, never a crash).
    Stop iterating early and the workers are shut down.
    """
    from toolkit.predict.runner import setup

    if isinstance(inputs, (str, PathLike)):
        inputs = [inputs]
    chosen = PredictOptions(model=model, **options)
    engine_type, model_path, walker = setup([str(i) for i in inputs], chosen, engine)
    with engine_type(model_path, chosen) as scorer:
        for batch in scorer.batches(walker):
            yield from batch


@takes_options("top_k", "min_confidence", "multi_digit")
def predict_images(images: Iterable[ImageLike], model: str | PathLike | None = None, **options: Any) -> list[Record]:
    """Score images already in memory, or a few files, in this process: one record per item, in order.

    Items may be PIL images, NumPy arrays (H x W grey or H x W x 3/4 RGB(A); uint8, uint16 or float in
    [0, 1]) or paths. Each goes through the same normalisation as `predict` (a scan, a photo or an MNIST
    digit alike); a path that cannot be read or decoded gives an `error` record. The `path` of an in-memory
    item is `<image N>`, N its position.
    """
    from toolkit.predict import decode
    from toolkit.predict.pipeline import make_records, pack, scorer_for

    chosen = PredictOptions(model=model, **options)
    chosen.validate()
    scorer = scorer_for(resolve_model(chosen.model))
    items: list[decode.Item] = []
    for index, image in enumerate(images):
        if isinstance(image, (str, PathLike)):
            items.extend(decode.prepare_path(str(image), multi_digit=chosen.multi_digit))
        else:
            opened, label = _as_image(image, index), f"<image {index}>"
            if (on_file := decode.jpeg_file_of(opened)) is not None:  # read as its file is: the same pixels
                read = decode.prepare_path(on_file, multi_digit=chosen.multi_digit)
                items.extend(replace(item, path=label) for item in read)
            else:
                items.append(decode.prepare_image(opened, label, multi_digit=chosen.multi_digit))
    meta, tensors = pack(items)
    return make_records(meta, scorer.score(tensors, with_not_digit=True), chosen)


def _as_image(image: Image.Image | np.ndarray, index: int) -> Image.Image:
    """A PIL image for an in-memory item (arrays are taken as grey or RGB(A), as Pillow and Matplotlib use)."""
    import numpy as np
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if not isinstance(image, np.ndarray):
        raise TypeError(f"item {index}: expected a PIL image, a NumPy array or a path, got {type(image).__name__}")
    from toolkit.imaging.normalise import scale_range

    array: np.ndarray = image
    if array.dtype.kind == "f":
        array = array.astype(np.float32)
        if array.ndim == 3:  # Pillow has no float colour mode: 8 bits a channel, by the range grey floats use
            array = np.round(scale_range(array) * 255).astype(np.uint8)
    elif array.dtype == np.uint16 and array.ndim == 3:  # nor a 16-bit colour mode: the high byte of each
        array = (array >> 8).astype(np.uint8)
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    try:
        return Image.fromarray(array)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"item {index}: cannot use an array of shape {array.shape} and type {array.dtype} as an image ({exc})"
        ) from None
