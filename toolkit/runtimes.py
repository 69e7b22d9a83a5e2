"""Load any model file (.keras or .h5, .onnx, SavedModel folder, .tflite) behind one `predict(batch)` interface.

Every runtime takes the model contract's `image` float32 [N,28,28,1] and returns `probabilities` [N,10], with
the optional `not_digit` output appended as an eleventh column when the model has one (`onnxmodel.joined`), so
parity compares both with the same rules. Each backend is imported only when a model of its kind is opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import fsutil, lazy, modelkind, onnxmodel
from toolkit.contract import NOT_DIGIT_NAME, NUM_CLASSES, OUTPUT_NAME
from toolkit.errors import ModelLoadError, first_line
from toolkit.kerasmodel import as_contract, load_keras_model, unsafe_layers
from toolkit.modelkind import FORMATS, serving_version
from toolkit.onnxmodel import TensorInfo, joined

__all__ = [
    "FORMATS",
    "Runtime",
    "TensorInfo",
    "detect_format",
    "keras_runtime",
    "load",
    "load_keras_model",
    "serving_version",
    "unsafe_layers",
]


def detect_format(path: Path, command: str = "mnist-toolkit", label: str = "") -> str:
    """Which runtime a path needs (keras, onnx, savedmodel, tflite); ModelKindError (exit 2) when none."""
    return modelkind.require(path, FORMATS, command, label)


@dataclass
class Runtime:
    """A loaded model. `predict` runs it in chunks of `batch_size` and stacks the outputs.

    `inputs`/`outputs` describe the model's interface as its file declares it, so callers (parity) can check
    the contract instead of trusting that the first tensor is the right one.
    """

    path: Path
    format: str
    _run: Any = field(repr=False)
    metadata: dict[str, str] = field(default_factory=dict)
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()

    def predict(self, images: np.ndarray, batch_size: int = 512, with_not_digit: bool = False) -> np.ndarray:
        """images: float32 [N,28,28,1] -> probabilities float32 [N,10]; `with_not_digit`: [N,11] when the model
        has the not_digit output, as column 10."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1:] != (28, 28, 1):
            raise ModelLoadError(f"input must be [N,28,28,1], got {list(images.shape)}")
        chunks = [
            np.asarray(self._run(images[i : i + batch_size]), dtype=np.float32)
            for i in range(0, len(images), batch_size)
        ]
        out = np.concatenate(chunks) if chunks else np.zeros((0, NUM_CLASSES), np.float32)
        return out if with_not_digit else out[:, :NUM_CLASSES]


def _keras_info(tensor: Any) -> TensorInfo:
    # Sequential models have no `output_names`; the layer that made a tensor names it in every model.
    history = getattr(tensor, "_keras_history", None)
    name = history[0].name if history else tensor.name
    return TensorInfo(name, str(tensor.dtype), tuple(tensor.shape))


def keras_runtime(model: Any, path: Path) -> Runtime:
    """A Runtime around a Keras model already in memory and already in contract form (`kerasmodel.as_contract`),
    so callers holding one need not load it twice."""
    inputs = tuple(map(_keras_info, model.inputs))
    outputs = tuple(map(_keras_info, model.outputs))

    def run(x: np.ndarray) -> np.ndarray:
        out = model.predict_on_batch(x)
        return joined(list(out) if isinstance(out, (list, tuple)) else [out])

    return Runtime(Path(path), "keras", run, inputs=inputs, outputs=outputs)


def _open_keras(path: Path, command: str) -> Runtime:
    served, _ = as_contract(load_keras_model(path), path)
    return keras_runtime(served, path)


def _open_onnx(path: Path, command: str) -> Runtime:
    # The one ONNX runner predict uses too: the file's contract metadata decides label order, layout, ink and
    # scale. Its outputs are left to the caller's numbers (parity reports NaN or logits as a failure).
    model = onnxmodel.OnnxModel(path, threads=None, strict=False, command=command)

    def run(x: np.ndarray) -> np.ndarray:
        return model.score(x, with_not_digit=True)

    return Runtime(path, "onnx", run, model.metadata, inputs=model.inputs, outputs=model.outputs)


def _tf_info(name: str, spec: Any) -> TensorInfo:
    shape = tuple(spec.shape.as_list()) if spec.shape.rank is not None else None
    return TensorInfo(name, spec.dtype.name, shape)


def _open_savedmodel(path: Path, command: str) -> Runtime:
    tf = lazy.tensorflow()
    if not (path / "saved_model.pb").is_file():
        path = serving_version(path) or path  # a TensorFlow Serving folder: serve its newest version
    try:
        loaded = tf.saved_model.load(str(path))
        serve = loaded.signatures["serving_default"]
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot load as a SavedModel ({first_line(exc)})") from None
    input_name = next(iter(serve.structured_input_signature[1]))
    output_name = OUTPUT_NAME if OUTPUT_NAME in serve.structured_outputs else next(iter(serve.structured_outputs))

    names = [output_name] + ([NOT_DIGIT_NAME] if NOT_DIGIT_NAME in serve.structured_outputs else [])

    def run(x: np.ndarray) -> np.ndarray:
        out = serve(**{input_name: tf.constant(x)})
        return joined([out[name].numpy() for name in names])

    # `loaded` must outlive the signature function, so the closure keeps a reference to it.
    run.loaded = loaded  # type: ignore[attr-defined]
    inputs = tuple(_tf_info(k, v) for k, v in serve.structured_input_signature[1].items())
    outputs = tuple(_tf_info(k, v) for k, v in serve.structured_outputs.items())
    return Runtime(path, "savedmodel", run, inputs=inputs, outputs=outputs)


def _open_tflite(path: Path, command: str) -> Runtime:
    litert = lazy.require("ai_edge_litert.interpreter", "train")
    try:
        # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." from C++ on every load.
        with fsutil.silenced_stderr():
            interpreter = litert.Interpreter(model_path=str(path), num_threads=2)
            interpreter.allocate_tensors()
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot load as a TFLite model ({first_line(exc)})") from None
    input_details, output_details = interpreter.get_input_details(), interpreter.get_output_details()
    # Tensor names inside a .tflite file are internal ("serving_default_image:0") and the outputs' order is the
    # converter's: probabilities are the output 10 wide, not_digit the one 1 wide.
    if len(output_details) == 2:
        output_details.sort(key=lambda d: int(d["shape_signature"][-1]) != NUM_CLASSES)
    input_index, output_indices = input_details[0]["index"], [d["index"] for d in output_details]
    signature = dict(interpreter.get_signature_list().get("serving_default", {}))
    if len(output_details) == 2:
        signature["outputs"] = [OUTPUT_NAME, NOT_DIGIT_NAME]

    def info(details: list, names: list) -> tuple[TensorInfo, ...]:
        return tuple(
            TensorInfo(
                names[i] if i < len(names) else d["name"],
                np.dtype(d["dtype"]).name,
                tuple(None if n < 0 else int(n) for n in d["shape_signature"]),
            )
            for i, d in enumerate(details)
        )

    state: dict[str, int | None] = {"batch": None}

    def run(x: np.ndarray) -> np.ndarray:
        if state["batch"] != len(x):
            interpreter.resize_tensor_input(input_index, list(x.shape))
            interpreter.allocate_tensors()
            state["batch"] = len(x)
        interpreter.set_tensor(input_index, x)
        interpreter.invoke()
        return joined([interpreter.get_tensor(index).copy() for index in output_indices])

    return Runtime(
        path,
        "tflite",
        run,
        inputs=info(input_details, signature.get("inputs", [])),
        outputs=info(output_details, signature.get("outputs", [])),
    )


_OPENERS = {"keras": _open_keras, "onnx": _open_onnx, "savedmodel": _open_savedmodel, "tflite": _open_tflite}


def load(path: Path, command: str = "mnist-toolkit", label: str = "") -> Runtime:
    """Open any supported model file or folder; `command` and `label` word the answer for a path that is none."""
    path = Path(path)
    return _OPENERS[detect_format(path, command, label)](path, command)
