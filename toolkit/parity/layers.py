"""Where an export stops agreeing with its Keras model: the first layer whose output differs by more than the
export kind explains.

Every Keras layer's output is compared with the export tensor that computes it (layers_mapping.py says which,
layers_runtimes.py runs both sides), on a stratified subset of images (`subset`, 256 by default: enough to
reach every class and most units, cheap enough to keep every activation in memory). Per layer:

- `max_abs`: the largest |keras - export| over all images and elements.
- `relative`: `max_abs` divided by the layer's activation scale, the largest |keras activation| over the images
  (floored at SCALE_FLOOR so a layer that is all zeros still gives a finite number). The maximum rather than
  the standard deviation because ReLU layers are mostly zeros: their std says little about the values the
  next layer reads, and the maximum is what float rounding errors are proportional to.
- `sqnr_db` (int8 exports only): 10*log10(sum(ref^2) / sum((ref - out)^2)), computed from norms with an
  epsilon floor exactly as onnxruntime's `qdq_loss_debug.compute_signal_to_quantization_noice_ratio`.

The rules, and why:

- float (ONNX, TFLite): a layer diverges when `relative` exceeds FLOAT_RELATIVE_LIMIT = 1e-3. Float32 rounding
  in differently ordered sums gives about 1e-7 to 1e-6 of the activation scale (measured on one-epoch zoo
  exports, ONNX and TFLite's built-in kernels: at most 1.1e-6); scaling one layer's weights by 1% moves that
  layer's output by about 1% of its scale (measured: 9.8e-3 to 1.1e-2). 1e-3 sits a decade and more from each.
- int8 (QDQ ONNX): a layer diverges when its SQNR falls below INT8_SQNR_DB = 25 dB. 8-bit activations carry
  a rounding noise of about 1/256 of their range; clean int8 zoo exports measured 33 dB and more at every layer
  (most 38 to 55 dB). Below 25 dB the noise exceeds 5% of the signal, more than rounding to 256 levels
  explains: a wrong scale, a clipped range, damaged weights (a kernel's scale off by 25% measured 12 dB).
- Layers the converter fused into one op (Conv + BatchNormalization + ReLU) are compared at the last of them
  (`Localisation.fused` says which): a change to the first shows up there.

Layers after the first divergence inherit its error, so only the first is named; all are listed. A SavedModel
maps no layer: its serving function runs the model as one opaque call, whose intermediate tensors it cannot
return without rewriting its graph, so every layer is listed as unmapped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.parity.comparator import sqnr_db

FLOAT_RELATIVE_LIMIT = 1e-3
FLOAT_FAILED_LIMIT = 1e-5  # for a float export that failed a numeric check: ten times the rounding measured
INT8_SQNR_DB = 25.0
SCALE_FLOOR = 1e-6
SUBSET_SIZE = 256
FLOAT, INT8 = "float", "int8"
FORMATS = ("onnx", "tflite", "savedmodel")


@dataclass(frozen=True)
class LayerDiff:
    """How far one layer's export tensor is from the Keras layer's output."""

    layer: str  # the Keras layer name
    export_tensor: str  # the export's tensor it was compared with
    max_abs: float  # max |keras - export| over the images
    relative: float  # max_abs / max |keras activation| (at least SCALE_FLOOR)
    sqnr_db: float | None  # int8 exports only

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Localisation:
    """The layer-by-layer comparison of one export."""

    layers: tuple[LayerDiff, ...]  # in the Keras model's layer order, those that could be mapped
    first_divergence: LayerDiff | None  # the first layer beyond what the export kind explains
    unmapped: tuple[str, ...]  # Keras layers with no export tensor found
    # Layers the converter fused into a later layer's op (Conv + BatchNormalization): layer -> that later layer,
    # whose tensor computes both. They have no output of their own to compare.
    fused: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "first_divergence": self.first_divergence.to_json() if self.first_divergence else None,
            "layers": [diff.to_json() for diff in self.layers],
            "unmapped": list(self.unmapped),
            "fused": dict(self.fused),
        }


def compare_layer(layer: str, tensor: str, reference: np.ndarray, output: np.ndarray, kind: str) -> LayerDiff:
    """One layer's LayerDiff: `reference` is the Keras output, `output` the export's, in the same layout."""
    ref = np.asarray(reference, np.float64)
    out = np.asarray(output, np.float64).reshape(ref.shape)
    max_abs = float(np.max(np.abs(ref - out))) if ref.size else 0.0
    scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, SCALE_FLOOR)
    return LayerDiff(layer, tensor, max_abs, max_abs / scale, sqnr_db(ref, out) if kind == INT8 else None)


def diverges(diff: LayerDiff, kind: str, limit: float = FLOAT_RELATIVE_LIMIT) -> bool:
    """Whether a layer's difference is beyond what the export kind explains (the rules above); a layer whose
    output is not finite (NaN, inf) always is. `limit`: the float rule's relative error."""
    if kind == INT8:
        return diff.sqnr_db is not None and not diff.sqnr_db >= INT8_SQNR_DB  # NaN: no
    return not diff.relative <= limit  # NaN compares false either way: it diverges


def first_divergence(
    diffs: tuple[LayerDiff, ...] | list[LayerDiff], kind: str, failed: bool = False
) -> LayerDiff | None:
    """The first layer, in model order, that diverges; None when none does. `failed`: the float export failed
    a numeric check, so its error is no rounding whatever its size: then, when no layer passes the float
    rule, the first beyond FLOAT_FAILED_LIMIT is named (a bias off by 1e-4 fails the 1e-5 gate but stays
    under FLOAT_RELATIVE_LIMIT)."""
    first = next((diff for diff in diffs if diverges(diff, kind)), None)
    if first is None and failed and kind == FLOAT:
        first = next((diff for diff in diffs if diverges(diff, kind, FLOAT_FAILED_LIMIT)), None)
    return first


def subset(images: np.ndarray, labels: np.ndarray, n: int = SUBSET_SIZE, seed: int = 0) -> np.ndarray:
    """`n` of `images`, spread evenly over the labels and chosen with `seed`: the same call, the same images."""
    from toolkit.parity.reference import stratified

    if n >= len(images):
        return np.asarray(images, np.float32)
    return np.asarray(images[stratified(np.asarray(labels), n, seed)], np.float32)


def localise(
    keras_model: Any, export_path: Path, fmt: str, kind: str, images: np.ndarray, failed: bool = False
) -> Localisation:
    """Compare every layer of `keras_model` (as loaded, or wrapped by `kerasmodel.as_contract`) with the export
    at `export_path` (`fmt` one of FORMATS, `kind` "float" or "int8") on `images` (the contract tensor);
    `failed`: the export failed a numeric check (see `first_divergence`)."""
    from toolkit.parity import layers_runtimes

    if fmt not in (*FORMATS, "onnx-int8") or kind not in (FLOAT, INT8):
        raise ValueError(f"cannot localise a {fmt} export of kind {kind}")
    images = np.asarray(images, np.float32)
    activations = layers_runtimes.keras_activations(keras_model, images)
    if fmt == "savedmodel":
        # A SavedModel's serving function calls the model as one opaque function; its intermediate tensors
        # are not outputs it can return without rewriting the graph, so no layer is mapped.
        return Localisation((), None, tuple(activations))
    shapes = [(name, tuple(value.shape)) for name, value in activations.items()]
    run = layers_runtimes.tflite_outputs if fmt == "tflite" else layers_runtimes.onnx_outputs
    mapping, values = run(Path(export_path), shapes, images)
    diffs = tuple(
        compare_layer(name, match.tensor, activations[name], values[match.tensor], kind)
        for name, match in mapping.matches.items()
    )
    return Localisation(diffs, first_divergence(diffs, kind, failed), mapping.unmapped, dict(mapping.fused))
