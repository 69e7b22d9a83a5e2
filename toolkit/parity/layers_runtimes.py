"""Every layer's output, from the Keras model and from an export's intermediate tensors.

Keras: a model over the same input whose outputs are every layer's output. ONNX: the float activation tensors
(those computed from the input image, by type from onnx's shape inference) added as graph outputs and run
with onnxruntime; in an int8 (QDQ) export these include the DequantizeLinear outputs, the values the next op
really reads. Marking tensors as outputs keeps onnxruntime from fusing Q/DQ pairs into integer kernels, so an
int8 export is run in simulated quantization, as onnxruntime's own qdq_loss_debug does. TFLite: LiteRT's
interpreter keeps every intermediate tensor with `experimental_preserve_all_tensors`, on its built-in
kernels (the XNNPACK delegate would compute inside one opaque op and keep nothing).

Heavy imports stay inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import lazy
from toolkit.contract import INPUT_NAME
from toolkit.parity.layers_mapping import NCHW, ExportTensor, Mapping, map_layers

BATCH = 64
PROBE = 2  # images run to learn the tensors' shapes before mapping
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
Layers = Sequence[tuple[str, tuple[int, ...]]]


def unwrap(model: Any) -> Any:
    """The user's model inside `kerasmodel.as_contract`'s wrapper: the Reshape and Softmax it adds are not
    the model's layers, and the export's names carry the inner model's layer paths."""
    for layer in model.layers:
        if hasattr(layer, "layers") and model.name == f"{layer.name}_contract":
            return layer
    return model


def keras_activations(model: Any, images: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output on `images` (the contract tensor), in model order, by layer name."""
    keras = lazy.keras()
    model = unwrap(model)
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    probe = keras.Model(model.inputs[0], [layer.output for layer in layers])
    own_shape = tuple(model.inputs[0].shape)[1:]
    x = np.asarray(images, np.float32).reshape((len(images), *own_shape))
    chunks: list[list[np.ndarray]] = [[] for _ in layers]
    for start in range(0, len(x), BATCH):
        outputs = probe(x[start : start + BATCH], training=False)
        for chunk, output in zip(chunks, outputs if isinstance(outputs, (list, tuple)) else [outputs], strict=True):
            chunk.append(np.asarray(output))
    return {layer.name: np.concatenate(chunk) for layer, chunk in zip(layers, chunks, strict=True)}


def _onnx_candidates(model_proto: Any) -> list[ExportTensor]:
    """Every float tensor computed from the graph's input, in graph order (shapes still unknown)."""
    onnx = lazy.require("onnx", "train")
    inferred = onnx.shape_inference.infer_shapes(model_proto)
    graph = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.value_info, *graph.output, *graph.input]}
    initializers = {init.name for init in graph.initializer}
    live = {v.name for v in graph.input if v.name not in initializers}
    sources_of: dict[str, tuple[str, ...]] = {}
    found: list[ExportTensor] = []
    for node in graph.node:  # ONNX stores nodes in topological order
        if not any(name in live for name in node.input):
            continue
        if node.op_type in QDQ_OPS:
            # A Q/DQ pair is its input's value, requantized: it belongs to whatever produced that input. Its
            # scale's name may be borrowed from another layer's tensor, so its constant inputs say nothing.
            sources = (node.name, *sources_of.get(node.input[0], ()))
        else:
            weights = [name for name in node.input if name and name not in live]
            sources = (node.name, *node.output, *weights)
        for output in node.output:
            live.add(output)
            sources_of[output] = sources
            if types.get(output) == onnx.TensorProto.FLOAT:
                reads = tuple(name for name in node.input if name in live)
                found.append(ExportTensor(output, len(found), sources, (), node.op_type, reads))
    return found


def onnx_outputs(path: Path, layers: Layers, images: np.ndarray) -> tuple[Mapping, dict[str, np.ndarray]]:
    """Map `layers` to the ONNX export's tensors and run it on `images`: the mapping and each mapped tensor's
    values, in Keras' layout."""
    onnx = lazy.require("onnx", "train")
    import onnxruntime as ort

    model_proto = onnx.load(str(path))
    candidates = _onnx_candidates(model_proto)
    declared = {output.name for output in model_proto.graph.output}
    for candidate in candidates:
        if candidate.name not in declared:
            value_info = onnx.helper.make_tensor_value_info(candidate.name, onnx.TensorProto.FLOAT, None)
            model_proto.graph.output.append(value_info)
    session = ort.InferenceSession(model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    probe = session.run([c.name for c in candidates], {INPUT_NAME: images[:PROBE]})
    tensors = [replace(c, shape=tuple(value.shape)) for c, value in zip(candidates, probe, strict=True)]
    mapping = map_layers(layers, tensors)
    wanted = sorted({match.tensor for match in mapping.matches.values()})
    chunks: list[list[np.ndarray]] = [[] for _ in wanted]
    for start in range(0, len(images), BATCH):
        for chunk, value in zip(chunks, session.run(wanted, {INPUT_NAME: images[start : start + BATCH]}), strict=True):
            chunk.append(value)
    values = {name: np.concatenate(chunk) for name, chunk in zip(wanted, chunks, strict=True)}
    return mapping, _in_keras_layout(mapping, values)


def _in_keras_layout(mapping: Mapping, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = dict(values)
    for match in mapping.matches.values():
        if match.layout == NCHW:
            out[match.tensor] = np.transpose(values[match.tensor], (0, 2, 3, 1))
    return out


def _tflite_interpreter(path: Path) -> Any:
    litert = lazy.require("ai_edge_litert.interpreter", "train")
    return litert.Interpreter(
        model_path=str(path),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )


def _tflite_run(interpreter: Any, images: np.ndarray) -> None:
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(images.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, np.ascontiguousarray(images, np.float32))
    interpreter.invoke()


def _tflite_value(interpreter: Any, detail: dict) -> np.ndarray:
    """A tensor's values as floats: quantized tensors dequantized with their own scale and zero point."""
    value = interpreter.get_tensor(detail["index"])
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if value.dtype != np.float32 and scale:
        return (value.astype(np.float32) - zero_point) * scale
    return value.astype(np.float32)


def _tflite_candidates(interpreter: Any) -> dict[int, ExportTensor]:
    """Every tensor an op computes, by tensor index, in execution order (shapes as last run)."""
    details = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
    # The op list is not in LiteRT's public API; it is how its own model analyzer walks a graph.
    ops = [op for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]
    computed = {int(i) for op in ops for i in op["outputs"]} | {d["index"] for d in interpreter.get_input_details()}
    found: dict[int, ExportTensor] = {}
    for op in ops:
        inputs = [int(i) for i in op["inputs"] if int(i) >= 0]
        weights = [details[i]["name"] for i in inputs if i not in computed]
        reads = tuple(details[i]["name"] for i in inputs if i in computed)
        for i in (int(i) for i in op["outputs"]):
            name = details[i]["name"]
            shape = tuple(interpreter.get_tensor(i).shape)
            found[i] = ExportTensor(name, len(found), (name, *weights), shape, op["op_name"], reads)
    return found


def tflite_outputs(path: Path, layers: Layers, images: np.ndarray) -> tuple[Mapping, dict[str, np.ndarray]]:
    """`onnx_outputs` for a TFLite file."""
    interpreter = _tflite_interpreter(path)
    _tflite_run(interpreter, images[:PROBE])
    details = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
    candidates = _tflite_candidates(interpreter)
    mapping = map_layers(layers, list(candidates.values()))
    index_of = {tensor.name: index for index, tensor in candidates.items()}
    wanted = sorted({match.tensor for match in mapping.matches.values()})
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in wanted}
    for start in range(0, len(images), BATCH):
        _tflite_run(interpreter, images[start : start + BATCH])
        for name in wanted:
            chunks[name].append(_tflite_value(interpreter, details[index_of[name]]))
    values = {name: np.concatenate(chunk) for name, chunk in chunks.items()}
    return mapping, _in_keras_layout(mapping, values)
