"""What kind of model a path is, and one answer, worded the same in every command, when it is the wrong kind.

Pure Python (no NumPy, no onnxruntime, no TensorFlow): `predict` checks its --model here before anything loads.
Every refusal is a ModelKindError (exit code 2) saying what the path is, what the command needs and how to get
it, e.g. "--model cnn3.keras is a Keras model, but predict needs an ONNX model (.onnx); export it first:
mnist-toolkit export cnn3.keras --format onnx".
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from toolkit.errors import ModelKindError

FORMATS = ("keras", "onnx", "savedmodel", "tflite")
EXPORT_FORMATS = ("onnx", "savedmodel", "tflite")  # what an export can be (int8 ONNX is ONNX)
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")  # Keras 3 archives, and legacy HDF5 from Keras 2 or 3
H5_SUFFIXES = (".h5", ".hdf5")
_SUFFIXES = {**dict.fromkeys(KERAS_SUFFIXES, "keras"), ".onnx": "onnx", ".tflite": "tflite"}

KIND = {
    "keras": "a Keras model",
    "onnx": "an ONNX model",
    "savedmodel": "a SavedModel folder",
    "tflite": "a TFLite model",
}
_NEED = {
    "keras": "a Keras model (.keras or .h5)",
    "onnx": "an ONNX model (.onnx)",
    "savedmodel": "a SavedModel folder",
    "tflite": "a TFLite model (.tflite)",
}


def serving_version(path: Path) -> Path | None:
    """In a TensorFlow Serving model folder (`<name>/<version>/saved_model.pb`), the highest version's folder."""
    versions = [
        child
        for child in Path(path).iterdir()
        if child.is_dir() and child.name.isdigit() and (child / "saved_model.pb").is_file()
    ]
    return max(versions, key=lambda child: int(child.name)) if versions else None


def format_of(path: Path) -> str | None:
    """The kind of an existing path from its extension (a folder: SavedModel if it holds one), else None."""
    path = Path(path)
    if path.is_dir():
        return "savedmodel" if (path / "saved_model.pb").is_file() or serving_version(path) else None
    return _SUFFIXES.get(path.suffix.lower())


def needs(accepted: Iterable[str]) -> str:
    """ "an ONNX model (.onnx)", "a Keras model (.keras or .h5) or an ONNX model (.onnx)", ..."""
    phrases = [_NEED[fmt] for fmt in FORMATS if fmt in accepted]
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _hint(path: Path, have: str, accepted: tuple[str, ...]) -> str:
    if accepted == ("onnx",):
        if have == "keras":
            return f"export it first: mnist-toolkit export {path} --format onnx"
        return "export the Keras model it was made from with: mnist-toolkit export MODEL.keras --format onnx"
    if accepted == ("keras",):
        return "pass the .keras or .h5 file it was exported from"
    if have == "keras":
        return "pass the Keras model as MODEL, followed by the exports to check"
    return ""


def _inside(folder: Path, accepted: tuple[str, ...]) -> Path | None:
    """A model file of an accepted kind directly inside `folder` (an export folder, say), to suggest."""
    try:
        # An export folder holds x.onnx beside x.int8.onnx; suggest the float model first.
        files = sorted(folder.iterdir(), key=lambda p: (p.name.endswith(".int8.onnx"), p.name))
        return next((p for p in files if format_of(p) in accepted), None)
    except OSError:
        return None


def require(
    path: Path | str, accepted: Iterable[str] = FORMATS, command: str = "mnist-toolkit", label: str = ""
) -> str:
    """The kind of `path` (keras, onnx, savedmodel, tflite) when it is one `command` accepts.

    Otherwise ModelKindError, one line: missing, a folder that is no SavedModel, an unknown extension, or
    the wrong kind, each with what to pass instead. `label` prefixes the path ("--model ", "EXPORT ").
    """
    path = Path(path)
    accepted = tuple(fmt for fmt in FORMATS if fmt in set(accepted))
    where, need = f"{label}{path}", needs(accepted)
    if not path.exists():
        raise ModelKindError(f"{where}: no such file or folder; {command} needs {need}")
    have = format_of(path)
    if have is None and path.is_dir():
        found = _inside(path, accepted)
        advice = f"; pass the model file itself, e.g. {label}{found}" if found else ""
        what = " (a SavedModel folder holds saved_model.pb)" if "savedmodel" in accepted else ""
        raise ModelKindError(f"{where} is a folder, not a model{what}; {command} needs {need}{advice}")
    if have is None:
        raise ModelKindError(f"{where}: unknown model format '{path.suffix or 'no extension'}'; {command} needs {need}")
    if have not in accepted:
        hint = _hint(path, have, accepted)
        raise ModelKindError(f"{where} is {KIND[have]}, but {command} needs {need}" + (f"; {hint}" if hint else ""))
    return have
