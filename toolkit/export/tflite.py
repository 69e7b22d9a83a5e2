"""Keras -> TFLite through TensorFlow's converter, from the SavedModel so the signature names carry over.

Built-in TFLite ops only (no Flex/Select TF ops), so the file runs on `ai-edge-litert`'s interpreter alone;
TensorFlow's own `tf.lite.Interpreter` is deprecated and not used.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from toolkit import lazy
from toolkit.contract import INPUT_NAME, OUTPUT_NAME
from toolkit.errors import ExportError
from toolkit.export.savedmodel import OUTPUT_SETS, SIGNATURE, export_savedmodel


def _first_error_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # The converter's message starts with a location; the op it could not convert is on an "error:" line.
    for line in lines:
        if "error:" in line:
            return line[line.index("error:") + 6 :].strip()[:300]
    return (lines[0] if lines else type(exc).__name__)[:300]


def export_tflite(model: Any, path: Path, saved_model: Path | None = None) -> Path:
    """Write `model` as a float32 .tflite file; reuse `saved_model` when the caller already exported one."""
    if saved_model is None:
        with tempfile.TemporaryDirectory(prefix="mnist-toolkit-tflite-") as scratch:
            return export_tflite(model, path, export_savedmodel(model, Path(scratch) / "savedmodel"))
    tf = lazy.tensorflow()
    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[SIGNATURE])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    except Exception as exc:
        raise ExportError(f"TensorFlow's TFLite converter failed: {_first_error_line(exc)}") from None
    path = Path(path)
    path.write_bytes(flatbuffer)
    check_signature(path)
    return path


def check_signature(path: Path) -> None:
    """Open the file with ai-edge-litert and check its signature is the contract's."""
    litert = lazy.require("ai_edge_litert.interpreter", "train")
    signatures = litert.Interpreter(model_path=str(path)).get_signature_list()
    found = signatures.get(SIGNATURE)
    if not found or found.get("inputs") != [INPUT_NAME] or sorted(found.get("outputs", [])) not in OUTPUT_SETS:
        raise ExportError(
            f"{path}: signature '{SIGNATURE}' is {found}; expected input '{INPUT_NAME}' and output '{OUTPUT_NAME}' "
            "(and optionally 'not_digit')"
        )
