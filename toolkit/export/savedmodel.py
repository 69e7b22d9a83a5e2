"""Keras -> TensorFlow SavedModel through Keras's own export (`keras.export.ExportArchive`).

One `serving_default` signature taking `image` float32 [batch,28,28,1] and returning `probabilities`
float32 [batch,10], written under a numeric version folder so TensorFlow Serving can serve the parent
folder as it is (`--model_base_path=<out>/<name>.savedmodel`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit import lazy
from toolkit.contract import INPUT_NAME, INPUT_SHAPE, NOT_DIGIT_NAME, OUTPUT_NAME
from toolkit.errors import ExportError, first_line
from toolkit.kerasmodel import served_outputs

SIGNATURE = "serving_default"
OUTPUT_SETS = ([OUTPUT_NAME], sorted([OUTPUT_NAME, NOT_DIGIT_NAME]))  # what a signature may return
SERVING_VERSION = "1"


def export_savedmodel(model: Any, path: Path) -> Path:
    """Write `model` as a SavedModel folder at `path` with the contract's `serving_default` signature."""
    keras = lazy.keras()
    tf = lazy.tensorflow()
    spec = tf.TensorSpec([None, *INPUT_SHAPE], tf.float32, name=INPUT_NAME)

    def serve(image):
        return served_outputs(model, image)

    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(name=SIGNATURE, fn=serve, input_signature=[spec])
        archive.write_out(str(path), verbose=False)
    except Exception as exc:
        first = first_line(exc)
        raise ExportError(f"Keras could not export a SavedModel: {first[:300]}") from None
    return Path(path)


def check_signature(path: Path) -> None:
    """Read saved_model.pb (without loading the graph) and check what TensorFlow Serving will see."""
    lazy.tensorflow()
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    signatures = proto.meta_graphs[0].signature_def
    if SIGNATURE not in signatures:
        raise ExportError(f"{path}: no '{SIGNATURE}' signature (found {sorted(signatures)})")
    signature = signatures[SIGNATURE]
    if list(signature.inputs) != [INPUT_NAME] or sorted(signature.outputs) not in OUTPUT_SETS:
        raise ExportError(
            f"{path}: '{SIGNATURE}' maps {list(signature.inputs)} to {list(signature.outputs)}; "
            f"the contract is ['{INPUT_NAME}'] to ['{OUTPUT_NAME}'] (and optionally '{NOT_DIGIT_NAME}')"
        )
    if signature.method_name != "tensorflow/serving/predict":
        raise ExportError(f"{path}: signature method '{signature.method_name}' is not servable as predict")
