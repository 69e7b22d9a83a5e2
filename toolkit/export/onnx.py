"""Keras -> ONNX through tf2onnx, by converting a `tf.function` with an explicit input signature.

`tf2onnx.convert.from_keras` is broken on Keras 3 models (KeyError 'keras_tensor_…', missing `output_names`
and `_get_save_spec`; tf2onnx issues #2448, #2348, #2329). Tracing the model ourselves avoids every Keras-2
assumption it makes and lets us name the tensors: the signature's TensorSpec names the input `image`, and
returning a dict names the output `probabilities` (instead of `Identity:0`).

tf2onnx 1.17 converts up to opset 18; opsets 19-21 are reached with onnx's version converter, which has
adapters for every op these networks use.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from toolkit import lazy
from toolkit.contract import (
    BATCH_DIM,
    INPUT_NAME,
    INPUT_SHAPE,
    KEY_CONVERTER,
    NOT_DIGIT_NAME,
    NUM_CLASSES,
    OUTPUT_NAME,
    ModelContract,
)
from toolkit.errors import ExportError, UsageError, first_line
from toolkit.kerasmodel import all_layers, served_outputs

DEFAULT_OPSET = 17
OPSETS = range(13, 22)  # every value is covered by tests/test_export.py
TF2ONNX_MAX_OPSET = 18


def check_opset(opset: int) -> int:
    """The opset, or a UsageError naming the supported range."""
    if opset not in OPSETS:
        raise UsageError(
            f"--opset {opset} is not supported; choose {OPSETS.start}..{OPSETS.stop - 1} (default {DEFAULT_OPSET})"
        )
    return opset


def _quiet(name: str) -> tuple[logging.Logger, int]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # we report unsupported ops ourselves, naming the Keras layer
    return logger, level


def layer_for(node_name: str, layer_names: list[str], traced: bool | None = None) -> str | None:
    """The Keras layer a TensorFlow node name ("cnn3_1/conv2d_1/BiasAdd") came from, if it can be told.

    Keras 3 traces every layer in a name scope made unique with a `_<n>` suffix, so in such a graph
    "conv2d_1" is the layer `conv2d`, not `conv2d_1`. `traced=True` reads every path part that way (exactly one
    suffix), `traced=False` wants the layer name itself; None accepts either, preferring the longest name,
    which is enough to name a layer in an error message.
    """
    best = None
    for part in node_name.split("/"):
        if traced is not None:
            base, _, number = part.rpartition("_")
            wanted = base if traced and base and number.isdigit() else (None if traced else part)
            if wanted is not None and wanted in layer_names:
                return wanted
            continue
        for name in layer_names:
            suffix = part[len(name) :]
            if part.startswith(name) and (suffix == "" or (suffix[0] == "_" and suffix[1:].isdigit())):
                if best is None or len(name) > len(best):
                    best = name
        if best:
            return best
    return None


def unsupported_ops(model_proto: Any) -> list[tuple[str, str]]:
    """(op_type, node name) of every node no ONNX schema knows: TensorFlow ops tf2onnx could not convert."""
    onnx = lazy.require("onnx", "train")
    versions = {entry.domain or "": entry.version for entry in model_proto.opset_import}
    found = []
    for node in model_proto.graph.node:
        domain = node.domain or ""
        if domain not in ("", "ai.onnx"):
            continue  # contrib domains (com.microsoft) are not ours to judge; onnxruntime checks them
        if not onnx.defs.has(node.op_type, domain):
            found.append((node.op_type, node.name))
        elif versions.get(domain, 0) and not _has_version(onnx, node.op_type, versions[domain]):
            found.append((node.op_type, node.name))
    return found


def _has_version(onnx: Any, op_type: str, version: int) -> bool:
    try:
        onnx.defs.get_schema(op_type, version)
        return True
    except Exception:  # SchemaError: no version of the op at or below this opset
        return False


def _rename_value(graph: Any, old: str, new: str) -> None:
    if old == new:
        return
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if value.name == old:
            value.name = new


def _width(value: Any) -> int | None:
    """The last dimension of a graph output, when it is fixed."""
    dims = value.type.tensor_type.shape.dim
    return dims[-1].dim_value if dims and dims[-1].HasField("dim_value") else None


def finish_interface(model_proto: Any) -> None:
    """Name the graph's input and output by the contract and call their first dimension `batch`."""
    graph = model_proto.graph
    initializers = {init.name for init in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    if len(inputs) != 1 or len(graph.output) not in (1, 2):
        raise ExportError(
            f"the ONNX graph has {len(inputs)} inputs and {len(graph.output)} outputs; the contract needs one "
            f"input and the '{OUTPUT_NAME}' output (and optionally '{NOT_DIGIT_NAME}')"
        )
    _rename_value(graph, inputs[0].name, INPUT_NAME)
    # tf2onnx orders outputs by name (not_digit before probabilities): tell them apart by width, probabilities
    # first.
    outputs = sorted(graph.output, key=lambda value: _width(value) != NUM_CLASSES)
    for value, name in zip(outputs, (OUTPUT_NAME, NOT_DIGIT_NAME), strict=False):
        _rename_value(graph, value.name, name)
    if len(outputs) == 2 and graph.output[0].name != OUTPUT_NAME:
        first, second = (type(graph.output[0])(), type(graph.output[0])())
        first.CopyFrom(graph.output[1])
        second.CopyFrom(graph.output[0])
        del graph.output[:]
        graph.output.extend([first, second])
    for value in (inputs[0], *graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = BATCH_DIM


def stamp(model_proto: Any, contract: ModelContract, extra: dict[str, str] | None = None) -> None:
    """Write the contract (and any extra keys) into metadata_props, replacing earlier values of those keys."""
    meta = {**contract.to_metadata(), **(extra or {})}
    kept = [(p.key, p.value) for p in model_proto.metadata_props if p.key not in meta]
    del model_proto.metadata_props[:]
    for key, value in [*kept, *meta.items()]:
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = key, value
    wrapper = contract.adaptation.describe()
    model_proto.doc_string = (
        f"mnist-toolkit export of '{contract.architecture or 'model'}': input "
        f"'{contract.input_name}' float32 [batch,28,28,1] in [0,1] (white ink on black), "
        f"output '{contract.output_name}' float32 [batch,10] (softmax over digits 0-9)"
        + (
            f" and '{contract.not_digit_name}' float32 [batch,1] (sigmoid: no digit)."
            if contract.not_digit_name
            else "."
        )
        + (f" The export {wrapper}." if contract.adaptation.needed else "")
    )


def check(model_proto: Any, what: str) -> None:
    """onnx.checker with full shape inference; failures become one-line ExportErrors."""
    onnx = lazy.require("onnx", "train")
    try:
        onnx.checker.check_model(model_proto, full_check=True)
    except Exception as exc:
        first = first_line(exc)
        raise ExportError(f"{what} fails onnx.checker: {first[:300]}") from None


def convert(model: Any, opset: int = DEFAULT_OPSET) -> Any:
    """Trace `model` with the contract's input signature and convert it to an ONNX ModelProto at `opset`."""
    check_opset(opset)
    tf = lazy.tensorflow()
    tf2onnx = lazy.require("tf2onnx", "train")
    onnx = lazy.require("onnx", "train")

    spec = tf.TensorSpec([None, *INPUT_SHAPE], tf.float32, name=INPUT_NAME)

    def serve(image):
        return served_outputs(model, image)

    function = tf.function(serve, input_signature=[spec])
    logger, level = _quiet("tf2onnx")
    try:
        model_proto, _ = tf2onnx.convert.from_function(
            function, input_signature=[spec], opset=min(opset, TF2ONNX_MAX_OPSET)
        )
    except Exception as exc:
        first = first_line(exc)
        raise ExportError(f"tf2onnx could not convert the model: {first[:300]}") from None
    finally:
        logger.setLevel(level)

    missing = unsupported_ops(model_proto)
    if missing:
        op_type, node = missing[0]
        layer = layer_for(node, [layer.name for layer in all_layers(model)])
        where = f"layer '{layer}'" if layer else f"node '{node}'"
        others = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ExportError(
            f"cannot export to ONNX: {where} uses TensorFlow op '{op_type}', which tf2onnx cannot "
            f"convert{others}; replace that layer with built-in layers tf2onnx supports"
        )

    if opset > TF2ONNX_MAX_OPSET:
        try:
            model_proto = onnx.version_converter.convert_version(model_proto, opset)
        except Exception as exc:
            first = first_line(exc)
            raise ExportError(
                f"cannot upgrade the ONNX model to opset {opset}: {first[:300]}; "
                f"use --opset {TF2ONNX_MAX_OPSET} or lower"
            ) from None
    # Newer opsets need a newer IR version; the version converter leaves it where tf2onnx put it.
    needed = onnx.helper.find_min_ir_version_for(list(model_proto.opset_import), ignore_unknown=True)
    model_proto.ir_version = max(model_proto.ir_version, needed)
    finish_interface(model_proto)
    return model_proto


def export_onnx(model: Any, path: Path, *, contract: ModelContract, opset: int = DEFAULT_OPSET) -> Path:
    """Write `model` as an ONNX file carrying the contract in metadata_props; onnx.checker must pass."""
    onnx = lazy.require("onnx", "train")
    tf2onnx = lazy.require("tf2onnx", "train")
    model_proto = convert(model, opset)
    stamp(model_proto, contract, {KEY_CONVERTER: f"tf2onnx {tf2onnx.__version__}"})
    check(model_proto, "the ONNX export")
    path = Path(path)
    onnx.save(model_proto, str(path))
    return path
