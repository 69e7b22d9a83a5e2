"""Tiny ONNX models for the predict tests, built with onnx.helper: no TensorFlow, under a second.

The main one is a ridge-regression linear classifier on MNIST pixels with a softmax, honouring the model
contract (input `image` float32 [N,28,28,1], output `probabilities` [N,10]); it reads MNIST at about 85%,
enough to tell a right normalisation from a wrong one. (Fixture-only: the package's exporter converts real
Keras models.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _save(graph, path: Path, metadata: dict[str, str] | None = None) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tests")
    model.ir_version = 8  # readable by any onnxruntime >= 1.14
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def ridge_weights(images: np.ndarray, labels: np.ndarray, alpha: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares weights (784, 10) and bias (10,) mapping pixels in [0,1] to one-hot labels."""
    x = images.reshape(len(images), -1).astype(np.float64) / 255.0
    x = np.hstack([x, np.ones((len(x), 1))])
    y = np.eye(10)[labels]
    solution = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)
    # Scale the scores so that the softmax is decisive where the regression is.
    return (solution[:-1] * 8).astype(np.float32), (solution[-1] * 8).astype(np.float32)


def linear_model(
    path: Path,
    weights: np.ndarray,
    bias: np.ndarray,
    metadata: dict[str, str] | None = None,
    output: str = "probabilities",
    softmax: bool = True,
) -> Path:
    """image [N,28,28,1] -> Reshape [N,784] -> MatMul + Add -> (Softmax) -> `output` [N,10]."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Reshape", ["image", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W"], ["scores"]),
        helper.make_node("Add", ["scores", "b"], ["logits" if softmax else output]),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], [output], axis=1))
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", 10])],
        initializer=[
            numpy_helper.from_array(np.array([-1, 784], np.int64), "shape"),
            numpy_helper.from_array(weights, "W"),
            numpy_helper.from_array(bias, "b"),
        ],
    )
    return _save(graph, path, metadata)


def flat_input_model(path: Path) -> Path:
    """A model with the wrong input contract: image [N,784]."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["image", "W"], ["probabilities"])],
        "flat",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 784])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        initializer=[numpy_helper.from_array(np.zeros((784, 10), np.float32), "W")],
    )
    return _save(graph, path)
