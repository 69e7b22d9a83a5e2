"""Keras model files (.keras, and legacy .h5 from Keras 2 or 3): load them in safe mode, save them, and present
any MNIST-shaped Keras model through the contract.

People bring Sequential and functional models, taking [N,784], [N,28,28] or [N,28,28,1] and ending in a softmax
or in logits. `as_contract` wraps such a model so it takes `image` [N,28,28,1] and returns `probabilities`
[N,10] (a Reshape in front, a Softmax behind when it ends in logits), so every runtime, export and parity
check sees the one contract. `Adaptation` records what was added, for the export's metadata. Keras is
imported inside the functions only.
"""

from __future__ import annotations

import contextlib
import json
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolkit import fsutil, lazy
from toolkit.contract import (
    INPUT_NAME,
    INPUT_SHAPE,
    LOGITS,
    NOT_DIGIT_NAME,
    NUM_CLASSES,
    OUTPUT_NAME,
    SOFTMAX,
    SOURCE_INPUTS,
    Adaptation,
)
from toolkit.errors import ModelLoadError, first_line
from toolkit.modelkind import H5_SUFFIXES

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _config_layers(config: Any) -> Iterator[dict]:
    """Every layer config in a saved Keras model config, nested models included."""
    if isinstance(config, dict):
        inner = config.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
            for layer in inner["layers"]:
                if isinstance(layer, dict):
                    yield layer
                    yield from _config_layers(layer)


def is_hdf5(path: Path) -> bool:
    """Whether a file is HDF5 (Keras's legacy .h5 format), by its signature rather than its name."""
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


def read_config(path: Path) -> dict | None:
    """The model config a Keras file carries, without deserialising anything: config.json in a .keras archive,
    the `model_config` attribute of a legacy .h5 file. None when the file has none."""
    path = Path(path)
    try:
        if path.suffix.lower() in H5_SUFFIXES:
            h5py = lazy.require("h5py", "train")
            with h5py.File(path, "r") as h5:
                raw = h5.attrs.get("model_config")
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw) if raw is not None else None
        else:
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile, OSError):
        return None  # not readable as a Keras file: the loader reports that itself
    return config if isinstance(config, dict) else None


def _builtin_layer_names() -> frozenset[str]:
    keras = lazy.keras()
    return frozenset(["Sequential", "Functional", "Model", *dir(keras.layers)])


def unsafe_layers(path: Path) -> list[str]:
    """Layers of a Keras model file that are not built-in Keras layers (Lambda, custom classes), as descriptions.

    Read from the saved config without deserialising anything, so it is safe on any file.
    """
    found = []
    builtin = None
    for layer in _config_layers(read_config(path)):
        name = (layer.get("config") or {}).get("name", "?")
        class_name = layer.get("class_name", "?")
        module = layer.get("module")
        if class_name == "Lambda":
            found.append(f"layer '{name}' is a Lambda layer (arbitrary Python code)")
        elif class_name in ("TFOpLambda", "SlicingOpLambda"):
            found.append(
                f"layer '{name}' is a TensorFlow op called on a Keras tensor ({class_name}), not a Keras layer"
            )
        elif layer.get("registered_name") or (module is not None and not module.startswith("keras")):
            custom = layer.get("registered_name") or class_name
            found.append(f"layer '{name}' is a custom layer class '{custom}', not a built-in Keras layer")
        elif module is None:
            # Legacy (.h5) configs name the class only; Keras 3's registry of built-in layers decides.
            builtin = builtin if builtin is not None else _builtin_layer_names()
            if class_name not in builtin:
                found.append(f"layer '{name}' is a custom layer class '{class_name}', not a built-in Keras layer")
    return found


def load_keras_model(path: Path):
    """Load a Keras model file (.keras, or legacy .h5 from Keras 2 or 3) with safe_mode on.

    Never with safe_mode off: a Keras file can carry code. Lambda and custom layers are refused by reading
    the config first, so nothing in the file runs.
    """
    keras = lazy.keras()
    path = Path(path)
    if path.suffix.lower() in H5_SUFFIXES:
        if not is_hdf5(path):
            raise ModelLoadError(f"{path}: not a Keras model file (a .h5 file is HDF5)")
        if read_config(path) is None:
            raise ModelLoadError(
                f"{path}: an HDF5 file without a model config (weights only?); save the whole model with model.save()"
            )
    elif not zipfile.is_zipfile(path):
        hint = "; it is HDF5, so rename it to .h5" if is_hdf5(path) else ""
        raise ModelLoadError(f"{path}: not a Keras model file (a .keras file is a zip archive){hint}")
    unsafe = unsafe_layers(path)
    if unsafe:
        raise ModelLoadError(
            f"{path}: refused: {unsafe[0]}; mnist-toolkit loads models in Keras safe mode and "
            "supports built-in Keras layers only, so rebuild the model without it"
        )
    try:
        with _quiet_keras():
            return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files; all mean the same to the user
        raise ModelLoadError(f"{path}: cannot load as a Keras model ({first_line(exc)})") from None


def save_keras_model(model: Any, path: Path) -> Path:
    """Save `model` atomically as .keras, or as legacy HDF5 when `path` ends in .h5 (for Keras 2 users)."""
    path = Path(path)
    # Keras picks the format from the suffix, so the temp file keeps it; the rename makes the save atomic.
    with fsutil.atomic_open(path, suffix=path.suffix) as (_, tmp), _quiet_keras():
        model.save(tmp)
    return path


@contextlib.contextmanager
def _quiet_keras() -> Iterator[None]:
    """Silence Keras's warnings for the block: "HDF5 is legacy" (the user chose it), and Keras 3's advice on
    how Keras 2 models passed `input_shape` (the user cannot change a saved file)."""
    from absl import logging as absl_logging

    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        absl_logging.set_verbosity(level)


def all_layers(model: Any) -> Iterator[Any]:
    """Every layer of a Keras model, the layers of nested models included (depth first)."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def _shape(tensor: Any) -> str:
    return "[" + ",".join("N" if d is None else str(d) for d in tuple(tensor.shape)) + "]"


def _final_layer(model: Any) -> Any:
    """The layer that computes the model's output, looking inside nested models."""
    keras = lazy.keras()
    history = getattr(model.outputs[0], "_keras_history", None)
    layer = history[0] if history else model.layers[-1]  # outputs[0]: the probabilities (not_digit is second)
    return _final_layer(layer) if isinstance(layer, keras.Model) else layer


def _ends_in_softmax(model: Any, source: Path) -> bool:
    """True when the model's output is a softmax, False when it is logits (no activation)."""
    keras = lazy.keras()
    layer = _final_layer(model)
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    if activation is not None:
        name = getattr(activation, "__name__", type(activation).__name__)
        if name in ("softmax", "linear"):
            return name == "softmax"
        raise ModelLoadError(
            f"{source}: its output layer '{layer.name}' ends in a {name} activation; mnist-toolkit "
            "needs softmax probabilities or logits, so end the model in softmax or in no activation"
        )
    # A final layer without an activation (Dropout, Reshape, BatchNormalization...): ask the model itself.
    import numpy as np

    probe = np.random.default_rng(0).random((4, *tuple(model.inputs[0].shape)[1:]), dtype=np.float32)
    out = model(probe, training=False)
    out = np.asarray(out[0] if isinstance(out, (list, tuple)) else out)
    return bool(out.min() >= 0 and np.allclose(out.sum(axis=1), 1.0, atol=1e-3))


def has_not_digit(model: Any) -> bool:
    """Whether the model has two outputs, the second the optional `not_digit` [N,1] (named by its layer)."""
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) != 2 or tuple(outputs[1].shape)[1:] != (1,):
        return False
    history: Any = getattr(outputs[1], "_keras_history", None)
    return bool(history) and history[0].name == NOT_DIGIT_NAME


def served_outputs(model: Any, image: Any) -> dict[str, Any]:
    """The outputs an export serves for `image`, by contract name: `probabilities`, and `not_digit` when the
    model (in contract form) has it."""
    out = model(image, training=False)
    if isinstance(out, (list, tuple)):
        return {OUTPUT_NAME: out[0], NOT_DIGIT_NAME: out[1]} if len(out) == 2 else {OUTPUT_NAME: out[0]}
    return {OUTPUT_NAME: out}


def adaptation(model: Any, source: Path | str = "model") -> Adaptation:
    """What `model` needs to honour the contract; ModelLoadError (one line) when it is not MNIST-shaped."""
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):  # a Sequential model that was never built has no inputs
        raise ModelLoadError(
            f"{source}: the model has no defined input shape; build it with an Input layer before saving it"
        ) from None
    if len(inputs) != 1 or (len(outputs) != 1 and not has_not_digit(model)):
        raise ModelLoadError(
            f"{source}: the model has {len(inputs)} inputs and {len(outputs)} outputs; an MNIST "
            f"model has one input image and one output of 10 scores (and optionally '{NOT_DIGIT_NAME}' [N,1])"
        )
    in_shape, out_shape = tuple(inputs[0].shape)[1:], tuple(outputs[0].shape)[1:]
    if in_shape not in SOURCE_INPUTS or out_shape != (NUM_CLASSES,):
        raise ModelLoadError(
            f"{source}: the model maps {_shape(inputs[0])} to {_shape(outputs[0])}; an MNIST "
            "model takes [N,28,28,1], [N,28,28] or [N,784] and returns [N,10]"
        )
    return Adaptation(SOURCE_INPUTS[in_shape], SOFTMAX if _ends_in_softmax(model, Path(source)) else LOGITS)


def as_contract(model: Any, source: Path | str = "model") -> tuple[Any, Adaptation]:
    """`model` presented as the contract: `image` [N,28,28,1] in, `probabilities` [N,10] out.

    A model that already honours it is returned as it is; any other MNIST-shaped model is wrapped in a new
    Keras model (Reshape in, Softmax out for logits, lists of one tensor unpacked) that shares its weights.
    """
    adapted = adaptation(model, source)
    # Functional models from Keras 2 files take and return lists of one tensor; the wrapper unpacks them.
    listed = [isinstance(getattr(model, attr, None), list) for attr in ("_inputs_struct", "_outputs_struct")]
    listed[1] = listed[1] and not has_not_digit(model)  # two outputs: probabilities and not_digit, as they are
    if not adapted.needed and not any(listed):
        return model, adapted
    keras = lazy.keras()
    inputs = keras.Input(INPUT_SHAPE, name=INPUT_NAME)
    own_shape = tuple(model.inputs[0].shape)[1:]
    x = inputs if own_shape == INPUT_SHAPE else keras.layers.Reshape(own_shape, name="to_model_input")(inputs)
    x = model([x] if listed[0] else x)
    rejection = keras.layers.Identity(name=NOT_DIGIT_NAME)(x[1]) if has_not_digit(model) else None
    if isinstance(x, (list, tuple)):
        x = x[0]
    if adapted.output == LOGITS:
        x = keras.layers.Softmax(name=OUTPUT_NAME)(x)
    outputs = x if rejection is None else [x, rejection]
    # A name of its own: the wrapped model is one of the wrapper's layers, and layer names must be unique.
    return keras.Model(inputs, outputs, name=f"{model.name}_contract"), adapted


def weights_digest(model: Any) -> str:
    """sha256 of a model's weights (shapes and float32 values, in the model's order): what an export records
    of its source, since saving the same model again changes the file's sha256 but not this."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for weight in model.weights:
        values = np.ascontiguousarray(np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight, np.float32))
        digest.update(repr(values.shape).encode())
        digest.update(values.tobytes())
    return digest.hexdigest()
