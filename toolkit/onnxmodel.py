"""THE ONNX runner: every command that scores an ONNX file (`predict`, `evaluate`, `parity`, `data show`) does it
through `OnnxModel`, so all of them accept the same models, feed them the same way (the contract in the file's
metadata: tensor names, label order, layout, ink polarity, scale) and say the same thing about the ones they
refuse. onnxruntime is imported inside `open_session` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import contract
from toolkit.contract import INPUT_NAME, NOT_DIGIT_NAME, NUM_CLASSES, OUTPUT_NAME
from toolkit.errors import ModelFileError, ModelLoadError, first_line

NEEDS = "input float32 [N,28,28,1] and output [N,10]"


def needs(layout: str = "NHWC") -> str:
    """What the toolkit needs of a model whose metadata names `layout`."""
    if layout == "NCHW":
        return "input float32 [N,1,28,28] (its metadata says NCHW) and output [N,10]"
    return NEEDS


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
        reason = first_line(exc, 200)
        # Not ONNX at all (or empty); a model that parses but will not load (an unknown operator) is not this.
        if "INVALID_PROTOBUF" in reason or "No graph was found" in reason:
            raise ModelFileError(f"{path}: not an ONNX model (the file does not parse as ONNX)") from None
        raise ModelLoadError(f"{path}: cannot load as an ONNX model ({reason})") from None


def interface(session: Any) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    """(inputs, outputs) of a session, as TensorInfo."""
    return tuple(map(tensor_info, session.get_inputs())), tuple(map(tensor_info, session.get_outputs()))


def output_index(outputs: Sequence[TensorInfo]) -> int:
    """Which output holds the probabilities: the one named as the contract says, else the first."""
    return next((i for i, o in enumerate(outputs) if o.name == OUTPUT_NAME), 0)


def not_digit_output(outputs: Sequence[TensorInfo], named: str | None = None) -> TensorInfo | None:
    """The optional `not_digit` output ([N,1] float32): the one the metadata names, else the one so named."""
    wanted = named or NOT_DIGIT_NAME
    found = next((o for o in outputs if o.name == wanted), None)
    ok = found is not None and found.dtype == "float32" and found.shape is not None and tuple(found.shape[1:]) == (1,)
    return found if ok else None


def describe(tensor: TensorInfo) -> str:
    """`float32 [N,28,28,1]`: a tensor's type and shape, symbolic dimensions as N."""
    dims = ",".join("N" if d is None else str(d) for d in tensor.shape or ())
    return f"{tensor.dtype} [{dims}]"


def interface_problems(
    inputs: Sequence[TensorInfo],
    outputs: Sequence[TensorInfo],
    *,
    layout: str = "NHWC",
    exact: bool = False,
    fixed_batch: bool = False,
) -> list[str]:
    """How a model's declared interface breaks the contract (empty when it does not): one float32 input
    [N,28,28,1] ([N,1,28,28] when the model's metadata says NCHW) and an output [N,10]. `exact` also asks for
    what an export made by the toolkit has: the contract's tensor names, one output, a symbolic batch size
    (unless `fixed_batch` allows a fixed one)."""
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
        elif exact and not fixed_batch and tensor.shape[0] is not None:
            problems.append(f"{role} '{tensor.name}' has a fixed batch size {tensor.shape[0]}; it must be symbolic")
        if exact and tensor.name != name:
            problems.append(f"{role} is named '{tensor.name}', not '{name}'")
    extra = [o for o in outputs if o.name != OUTPUT_NAME and o != not_digit_output(outputs)]
    if exact and (len(outputs) > 2 or extra):
        problems.append(
            f"{len(outputs)} outputs {[t.name for t in outputs]}; expected '{OUTPUT_NAME}' "
            f"(and optionally '{NOT_DIGIT_NAME}' [N,1])"
        )
    return problems


DIGITS = [str(d) for d in range(NUM_CLASSES)]


def joined(outputs: Sequence[Any]) -> np.ndarray:
    """A model's outputs side by side as one float32 array: probabilities (N, 10), then not_digit (N, 1) as an
    eleventh column when there is one."""
    if len(outputs) == 1:
        return np.asarray(outputs[0], np.float32)
    return np.concatenate([np.asarray(o, np.float32).reshape(len(o), -1) for o in outputs], axis=1)


class OnnxModel:
    """An onnxruntime session for a model that honours the model contract (`toolkit.contract`): one float32
    image input [N,28,28,1] (or [N,1,28,28] if its metadata says NCHW), an output [N,10] of probabilities.

    A file exported by mnist-toolkit carries the contract in its metadata_props (tensor names, layout, scale,
    ink polarity, labels) and the runner follows it; any other ONNX file is taken to follow the defaults and
    is checked by shape. Either way a model that cannot work fails here, in one line, before any image is read.

    `score` takes images as the normaliser makes them (float32 (N, 28, 28), white ink on black, in [0, 1]) and
    returns column d = the probability of digit d, whatever the model's own layout, ink, scale and label order.
    A model with the optional `not_digit` output ([N,1]: the probability that the image holds no digit) has it
    appended as an eleventh column when `score` is asked `with_not_digit`: the one array every engine and
    parity pass along (`width` says how many columns that gives).
    With `strict` (what predict uses), an output that is not finite or not a probability row is an error;
    parity and evaluate leave it to their numbers to judge.
    """

    def __init__(self, model: Path | str, threads: int | None = 1, strict: bool = True, command: str = "predict"):
        self.path = Path(model)
        self.strict = strict
        self.command = command  # who is asking, for the messages: "predict needs ..."
        self.session = open_session(self.path, threads)
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.contract = (
            contract.read_contract(self.metadata, str(self.path))
            if contract.KEY_INPUT in self.metadata
            else contract.ModelContract()
        )
        self.inputs, self.outputs = interface(self.session)
        self.input_name, self.output_name = self._check_interface()
        rejection = not_digit_output(self.outputs, self.contract.not_digit_name)
        self.not_digit_name = rejection.name if rejection else None
        self.width = NUM_CLASSES + (1 if self.not_digit_name else 0)  # columns of score(..., with_not_digit=True)
        self.scale = self._check_preprocessing()
        self.order = self._label_order()
        # Many exporters write a fixed batch size (often 1): such a model is called with that many images.
        declared = self.inputs[0].shape[0] if self.inputs[0].shape else None
        self.batch = declared if declared and declared > 0 else None
        self._checked_output = False

    def _check_interface(self) -> tuple[str, str]:
        c, inputs, outputs = self.contract, self.inputs, self.outputs
        named = [o for o in outputs if o.name == c.output_name]
        # The output the metadata names, else the one the contract names, else the first.
        output = named[0] if named else outputs[output_index(outputs)] if outputs else None
        mismatch = interface_problems(inputs, [output] if output else [], layout=c.layout)
        if mismatch:
            raise ModelLoadError(f"{self.path}: {'; '.join(mismatch)}; {self.command} needs {needs(c.layout)}")
        # A file whose metadata and graph disagree was edited or broken after export: predict refuses it;
        # parity (not strict) names it in its interface check.
        if self.strict and c.input_name != inputs[0].name and contract.KEY_INPUT in self.metadata:
            raise ModelLoadError(
                f"{self.path}: metadata names input '{c.input_name}', the graph has '{inputs[0].name}'"
            )
        assert output is not None  # interface_problems refuses a model without outputs
        return inputs[0].name, output.name

    def _check_preprocessing(self) -> float:
        """The factor that turns a [0, 1] image into the model's scale; ModelLoadError for preprocessing the
        command cannot give."""
        c = self.contract
        problems = []
        if c.layout not in ("NHWC", "NCHW"):
            problems.append(f"layout {c.layout}")
        if c.size != "28x28":
            problems.append(f"size {c.size}")
        if c.ink not in ("white-on-black", "black-on-white"):
            problems.append(f"ink {c.ink}")
        scale = 1.0
        try:
            scale = c.scale_factor * 255.0
        except (ValueError, ZeroDivisionError):
            scale = float("nan")
        if not 0.0 < scale < float("inf"):  # NaN too
            problems.append(f"scale {c.scale}")
        if problems:
            raise ModelLoadError(
                f"{self.path}: the model asks for preprocessing {self.command} cannot give ({', '.join(problems)})"
            )
        return scale

    def _label_order(self) -> list[int] | None:
        """Columns of the output, reordered so that column d is the probability of digit d (None: as they are)."""
        labels = list(self.contract.labels)
        if sorted(labels) != DIGITS:
            raise ModelLoadError(
                f"{self.path}: the model's labels are {labels[:12]}; {self.command} needs the digits 0-9"
            )
        return None if labels == DIGITS else [labels.index(d) for d in DIGITS]

    def score(self, tensors: np.ndarray, with_not_digit: bool = False) -> np.ndarray:
        """float32 (N, 28, 28) (or (N, 28, 28, 1)), white ink on black in [0, 1] -> probabilities float32 (N, 10);
        `with_not_digit`: (N, `width`), the not_digit output (if the model has one) as column 10."""
        width = self.width if with_not_digit else NUM_CLASSES
        if len(tensors) == 0:
            return np.zeros((0, width), np.float32)
        batch = np.ascontiguousarray(tensors, dtype=np.float32)
        if self.contract.ink == "black-on-white":
            batch = 1.0 - batch
        if abs(self.scale - 1.0) > 1e-9:
            batch = batch * np.float32(self.scale)
        shape = (len(batch), 1, 28, 28) if self.contract.layout == "NCHW" else (len(batch), 28, 28, 1)
        names = [self.output_name] + ([self.not_digit_name] if width > NUM_CLASSES and self.not_digit_name else [])
        out = self._run(batch.reshape(shape), names)
        if self.order is not None:
            out[:, :NUM_CLASSES] = out[:, self.order]
        if self.strict:
            self._check_output(out[:, :NUM_CLASSES])
            if out.shape[1] > NUM_CLASSES and not np.isfinite(out[:, NUM_CLASSES]).all():
                raise ModelLoadError(f"{self.path}: the model produced NaN/Inf in its not_digit output")
        return out

    def _run(self, batch: np.ndarray, names: list[str]) -> np.ndarray:
        """The model's outputs `names` for `batch`, side by side, in calls of the batch size the model declares,
        if it declares one (the last call padded with zeros, its padding dropped)."""
        if self.batch is None or self.batch == len(batch):
            return joined(self.session.run(names, {self.input_name: batch}))
        size, parts = self.batch, []
        for start in range(0, len(batch), size):
            part = batch[start : start + size]
            if len(part) < size:
                part = np.concatenate([part, np.zeros((size - len(part), *part.shape[1:]), np.float32)])
            parts.append(joined(self.session.run(names, {self.input_name: part}))[: len(batch) - start])
        return np.concatenate(parts)

    def _check_output(self, out: np.ndarray) -> None:
        # Every batch: NaN or Inf fails every comparison a record makes, and no record can hold it (JSON cannot).
        finite = np.isfinite(out).all(axis=1)
        if not finite.all():
            raise ModelLoadError(
                f"{self.path}: the model produced NaN/Inf for {int((~finite).sum()):,} of "
                f"{len(out):,} images in a batch; {self.command} needs finite probabilities"
            )
        if not self._checked_output:
            sums = out.sum(axis=1)
            if out.min() < -1e-3 or np.abs(sums - 1.0).max() > 0.02:
                raise ModelLoadError(
                    f"{self.path}: the model's output rows do not sum to 1 (got {sums[0]:.3g}); "
                    f"{self.command} needs softmax probabilities, not logits"
                )
            self._checked_output = True
