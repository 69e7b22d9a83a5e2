"""Load any model file (.keras, .onnx, SavedModel folder, .tflite) behind one `predict(batch)` interface.

Every runtime takes the model contract's `image` float32 [N,28,28,1] and returns `probabilities` [N,10].
Each backend is imported only when a model of its kind is opened.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import lazy
from toolkit.errors import ModelLoadError
from toolkit.zoo import INPUT_NAME, OUTPUT_NAME

FORMATS = ("keras", "onnx", "savedmodel", "tflite")


def detect_format(path: Path) -> str:
    """Which runtime a path needs, from its extension (or, for a folder, a saved_model.pb inside)."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: no such model file or folder")
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise ModelLoadError(f"{path}: a folder, but not a SavedModel (no saved_model.pb inside)")
    suffix = path.suffix.lower()
    if suffix == ".keras":
        return "keras"
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".tflite":
        return "tflite"
    raise ModelLoadError(
        f"{path}: unknown model format '{suffix or 'no extension'}'; expected .keras, .onnx, .tflite or a "
        "SavedModel folder"
    )


@dataclass
class Runtime:
    """A loaded model. `predict` runs it in chunks of `batch_size` and stacks the outputs."""

    path: Path
    format: str
    _run: Any = field(repr=False)
    metadata: dict[str, str] = field(default_factory=dict)

    def predict(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """images: float32 [N,28,28,1] -> probabilities float32 [N,10]."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1:] != (28, 28, 1):
            raise ModelLoadError(f"input must be [N,28,28,1], got {list(images.shape)}")
        chunks = [np.asarray(self._run(images[i : i + batch_size]), dtype=np.float32)
                  for i in range(0, len(images), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, 10), np.float32)


def load_keras_model(path: Path):
    """Load a .keras file with safe_mode on (never off: a .keras file can carry code)."""
    keras = lazy.keras()
    if not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{path}: not a Keras model file (a .keras file is a zip archive)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files; all mean the same to the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ModelLoadError(f"{path}: cannot load as a Keras model ({first[:300]})") from None


def _open_keras(path: Path) -> Runtime:
    model = load_keras_model(path)
    return Runtime(path, "keras", lambda x: model.predict_on_batch(x))


def _open_onnx(path: Path) -> Runtime:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot load as an ONNX model ({str(exc).splitlines()[0][:300]})") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelLoadError(f"{path}: expected one input '{INPUT_NAME}', found {[i.name for i in inputs]}")
    input_name = inputs[0].name
    output_names = [o.name for o in session.get_outputs()]
    output = OUTPUT_NAME if OUTPUT_NAME in output_names else output_names[0]
    meta = dict(session.get_modelmeta().custom_metadata_map)
    return Runtime(path, "onnx", lambda x: session.run([output], {input_name: x})[0], meta)


def _open_savedmodel(path: Path) -> Runtime:
    tf = lazy.tensorflow()
    try:
        loaded = tf.saved_model.load(str(path))
        serve = loaded.signatures["serving_default"]
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot load as a SavedModel ({str(exc).splitlines()[0][:300]})") from None
    input_name = next(iter(serve.structured_input_signature[1]))
    output_name = OUTPUT_NAME if OUTPUT_NAME in serve.structured_outputs else next(iter(serve.structured_outputs))

    def run(x: np.ndarray) -> np.ndarray:
        return serve(**{input_name: tf.constant(x)})[output_name].numpy()

    # `loaded` must outlive the signature function, so the closure keeps a reference to it.
    run.loaded = loaded  # type: ignore[attr-defined]
    return Runtime(path, "savedmodel", run)


def _open_tflite(path: Path) -> Runtime:
    litert = lazy.require("ai_edge_litert.interpreter", "train")
    try:
        interpreter = litert.Interpreter(model_path=str(path), num_threads=2)
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot load as a TFLite model ({str(exc).splitlines()[0][:300]})") from None
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    state = {"batch": None}

    def run(x: np.ndarray) -> np.ndarray:
        if state["batch"] != len(x):
            interpreter.resize_tensor_input(input_index, list(x.shape))
            interpreter.allocate_tensors()
            state["batch"] = len(x)
        interpreter.set_tensor(input_index, x)
        interpreter.invoke()
        return interpreter.get_tensor(output_index).copy()

    return Runtime(path, "tflite", run)


_OPENERS = {"keras": _open_keras, "onnx": _open_onnx, "savedmodel": _open_savedmodel, "tflite": _open_tflite}


def load(path: Path) -> Runtime:
    """Open any supported model file or folder."""
    path = Path(path)
    return _OPENERS[detect_format(path)](path)
