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
    image_shape: tuple[int, ...] = (28, 28, 1),
    batch: int | str = "N",
) -> Path:
    """image [N,28,28,1] (or [N,*image_shape]) -> Reshape [N,784] -> MatMul + Add -> (Softmax) -> `output`."""
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
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, *image_shape])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [batch, 10])],
        initializer=[
            numpy_helper.from_array(np.array([-1, 784], np.int64), "shape"),
            numpy_helper.from_array(weights, "W"),
            numpy_helper.from_array(bias, "b"),
        ],
    )
    return _save(graph, path, metadata)


def rejecting_model(path: Path, weights: np.ndarray, bias: np.ndarray, ink_cut: float = 40.0) -> Path:
    """`linear_model`'s classifier plus the optional `not_digit` output [N,1]: sigmoid(ink_cut - total ink),
    so an image with less ink than `ink_cut` (in [0,1] pixel units) is rejected, one with more is not."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Reshape", ["image", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W"], ["scores"]),
        helper.make_node("Add", ["scores", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("MatMul", ["flat", "ink_w"], ["ink"]),
        helper.make_node("Add", ["ink", "ink_b"], ["rejection_logit"]),
        helper.make_node("Sigmoid", ["rejection_logit"], ["not_digit"]),
    ]
    graph = helper.make_graph(
        nodes,
        "linear_rejecting",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10]),
            helper.make_tensor_value_info("not_digit", TensorProto.FLOAT, ["N", 1]),
        ],
        initializer=[
            numpy_helper.from_array(np.array([-1, 784], np.int64), "shape"),
            numpy_helper.from_array(weights, "W"),
            numpy_helper.from_array(bias, "b"),
            numpy_helper.from_array(np.full((784, 1), -1.0, np.float32), "ink_w"),
            numpy_helper.from_array(np.array([ink_cut], np.float32), "ink_b"),
        ],
    )
    return _save(graph, path, {"mnist_toolkit.output.not_digit": "not_digit"} | _CONTRACT)


_CONTRACT = {
    "mnist_toolkit.input": "image",
    "mnist_toolkit.output": "probabilities",
    "mnist_toolkit.preprocess.layout": "NHWC",
    "mnist_toolkit.preprocess.size": "28x28",
    "mnist_toolkit.preprocess.scale": "1/255",
    "mnist_toolkit.preprocess.ink": "white-on-black",
    "mnist_toolkit.labels": '["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]',
}


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


def other_contract_model(path: Path, weights: np.ndarray, bias: np.ndarray, layout: str = "NCHW") -> Path:
    """The same linear classifier as `linear_model(weights, bias)`, built for another preprocessing and told so
    by its contract metadata: input in `layout`, black ink on white paper, output columns in another label order.
    A runner that follows the metadata scores it exactly as the plain model; one that does not reads garbage."""
    from toolkit import contract

    labels = ("3", "1", "4", "0", "5", "9", "2", "6", "8", "7")
    order = [int(label) for label in labels]
    # Black on white is x' = 1 - x, so W.x + b = -W.x' + (b + sum of W's rows).
    inverted_w, inverted_b = -weights, bias + weights.sum(axis=0)
    meta = contract.ModelContract(layout=layout, ink="black-on-white", labels=labels).to_metadata()
    shape = (1, 28, 28) if layout == "NCHW" else (28, 28, 1)
    return linear_model(path, inverted_w[:, order], inverted_b[order], metadata=meta, image_shape=shape)
