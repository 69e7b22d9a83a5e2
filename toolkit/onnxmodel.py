"""The one way the toolkit opens an ONNX file and checks its interface against the model contract, shared by
`predict` (the scorer), `evaluate` (runtimes) and `parity`, so that all three accept the same models and say
the same thing about the ones they refuse. onnxruntime is imported inside `open_session` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.contract import INPUT_NAME, NUM_CLASSES, OUTPUT_NAME
from toolkit.errors import ModelLoadError, first_line

NEEDS = "input float32 [N,28,28,1] and output [N,10]"


@dataclass(frozen=True)
class TensorInfo:
    """Name, element type and shape (None for a symbolic dimension) of a model input or output."""

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None


def tensor_info(arg: Any) -> TensorInfo:
    """TensorInfo of an onnxruntime NodeArg ("tensor(float)" -> "float32"; symbolic dimensions -> None)."""
    dtype = arg.type.removeprefix("tensor(").removesuffix(")")
    dtype = {"float": "float32", "double": "float64"}.get(dtype, dtype)
    shape = tuple(d if isinstance(d, int) else None for d in arg.shape) if arg.shape is not None else None
    return TensorInfo(arg.name, dtype, shape)


def open_session(path: Path | str, threads: int | None = None):
    """An onnxruntime CPU session for `path`, or ModelLoadError in one line. With `threads`, that many
    intra-op threads that do not spin (a spinning thread steals the core of a decoding worker)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot load as an ONNX model ({first_line(exc, 200)})") from None


def interface(session: Any) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    """(inputs, outputs) of a session, as TensorInfo."""
    return tuple(map(tensor_info, session.get_inputs())), tuple(map(tensor_info, session.get_outputs()))


def output_index(outputs: Sequence[TensorInfo]) -> int:
    """Which output holds the probabilities: the one named as the contract says, else the first."""
    return next((i for i, o in enumerate(outputs) if o.name == OUTPUT_NAME), 0)


def describe(tensor: TensorInfo) -> str:
    """`float32 [N,28,28,1]`: a tensor's type and shape, symbolic dimensions as N."""
    dims = ",".join("N" if d is None else str(d) for d in tensor.shape or ())
    return f"{tensor.dtype} [{dims}]"


def interface_problems(
    inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], *, layout: str = "NHWC", exact: bool = False
) -> list[str]:
    """How a model's declared interface breaks the contract (empty when it does not): one float32 input
    [N,28,28,1] ([N,1,28,28] when the model's metadata says NCHW) and an output [N,10]. `exact` also asks for
    what an export made by the toolkit has: the contract's tensor names, one output, a symbolic batch size."""
    image_shape = (1, 28, 28) if layout == "NCHW" else (28, 28, 1)
    if len(inputs) != 1:
        return [f"model has {len(inputs)} inputs {[t.name for t in inputs]}, not one"]
    if not outputs:
        return ["model has no outputs"]
    problems = []
    roles = (
        ("input", inputs[0], INPUT_NAME, image_shape),
        ("output", outputs[output_index(outputs)], OUTPUT_NAME, (NUM_CLASSES,)),
    )
    for role, tensor, name, shape in roles:
        if (
            tensor.dtype != "float32"
            or tensor.shape is None
            or len(tensor.shape) != len(shape) + 1
            or tuple(tensor.shape[1:]) != shape
        ):
            problems.append(f"model {role} is {describe(tensor)}")
        elif exact and tensor.shape[0] is not None:
            problems.append(f"{role} '{tensor.name}' has a fixed batch size {tensor.shape[0]}; it must be symbolic")
        if exact and tensor.name != name:
            problems.append(f"{role} is named '{tensor.name}', not '{name}'")
    if exact and len(outputs) != 1:
        problems.append(f"{len(outputs)} outputs {[t.name for t in outputs]}; expected one named '{OUTPUT_NAME}'")
    return problems
