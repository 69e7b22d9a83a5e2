"""Which tensor of an export holds which Keras layer's output: by name first, then by shape and layout.

Converters keep the Keras layer path in the names they give nodes and tensors (tf2onnx: the node name
"cnn3_1/conv2d_1/Relu"; TFLite: the tensor name, one path per op fused into it, joined by ";"), and the
weights a node reads carry the path of the layer they belong to even when the node itself got a generated
name ("Conv__104"). So a tensor *claims* every layer named by its node, by itself and by its weights, and a
layer's output is the last tensor claiming it whose shape fits the Keras output (as it is, or channels-first
for a 4-D tensor the converter transposed).

When converters fuse layers (Conv + BatchNormalization + ReLU into one op), one tensor is the last for
several layers: it is the output of the latest of them, and the earlier ones are *fused* into it rather than
compared with a tensor that is not theirs. A layer no name claims may still take an unclaimed tensor of the
right shape that sits between its neighbours' tensors; failing that it is unmapped, and said to be.

Pure Python: the runtimes (layers_runtimes.py) list the tensors, this module only decides.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

NHWC = "nhwc"  # the layout Keras computes in: the tensor is compared as it is
NCHW = "nchw"  # channels first (tf2onnx's convolutions): transposed to Keras' layout before comparing
# Activation functions, as ONNX and TFLite spell them (upper case, no underscores): a Keras layer's activation
# is part of that layer, even when the converter gives its op a name of its own ("StatefulPartitionedCall:0").
ACTIVATION_OPS = frozenset(
    "RELU RELU6 RELUN1TO1 LEAKYRELU PRELU ELU SELU GELU SOFTMAX LOGSOFTMAX SIGMOID LOGISTIC TANH SOFTPLUS "
    "SOFTSIGN HARDSIGMOID HARDSWISH CLIP IDENTITY".split()
)


@dataclass(frozen=True)
class ExportTensor:
    """One activation tensor of an export, as a runtime lists it."""

    name: str
    order: int  # position in the export's execution order
    sources: tuple[str, ...]  # names that may carry layer paths: its op's, its own, its weights'
    shape: tuple[int, ...]
    op: str = ""  # the op type that computes it ("Relu", "SOFTMAX")
    inputs: tuple[str, ...] = ()  # the activation tensors that op reads


@dataclass(frozen=True)
class Match:
    tensor: str
    layout: str  # NHWC or NCHW


@dataclass(frozen=True)
class Mapping:
    """The outcome: each Keras layer matched, fused into a later layer's tensor, or unmapped."""

    matches: dict[str, Match] = field(default_factory=dict)
    fused: dict[str, str] = field(default_factory=dict)  # layer -> the layer whose tensor computes it too
    unmapped: tuple[str, ...] = ()


def _parts(sources: Iterable[str]) -> list[str]:
    return [piece for source in sources for piece in source.split(";") if piece]


def is_traced(sources: Iterable[str], layer_names: Sequence[str]) -> bool:
    """Whether the names follow Keras 3's tracing convention (every layer scope suffixed `_<n>`).

    Decided for the whole export, because one name alone is ambiguous ("conv2d_1" is `conv2d` traced, or
    `conv2d_1` not): the reading that explains more of the model's layers wins.
    """
    from toolkit.export.onnx import layer_for

    parts = set(_parts(sources))
    found = {flag: {layer_for(part, list(layer_names), flag) for part in parts} - {None} for flag in (True, False)}
    return len(found[True]) >= len(found[False]) and bool(found[True])


def claims(sources: Iterable[str], layer_names: Sequence[str], traced: bool) -> set[str]:
    """The Keras layers these names mention."""
    from toolkit.export.onnx import layer_for

    found = {layer_for(part, list(layer_names), traced) for part in _parts(sources)}
    return {name for name in found if name is not None}


def layout(keras_shape: Sequence[int], shape: Sequence[int]) -> str | None:
    """How a tensor of `shape` holds a Keras output of `keras_shape` (batch first in both), or None."""
    keras_shape, shape = tuple(keras_shape[1:]), tuple(shape[1:])
    if shape == keras_shape:
        return NHWC
    if len(shape) == 3 and shape == (keras_shape[2], keras_shape[0], keras_shape[1]):
        return NCHW
    return None


def _by_name(
    layers: Sequence[tuple[str, tuple[int, ...]]], tensors: Sequence[ExportTensor], claimed: dict[str, set[str]]
) -> dict[str, tuple[ExportTensor, str]]:
    chosen = {}
    latest_first = sorted(tensors, key=lambda t: -t.order)
    for name, shape in layers:
        for tensor in latest_first:
            fits = layout(shape, tensor.shape) if name in claimed[tensor.name] else None
            if fits is not None:
                chosen[name] = (tensor, fits)
                break
    return chosen


def _by_shape(
    layers: Sequence[tuple[str, tuple[int, ...]]],
    tensors: Sequence[ExportTensor],
    claimed: dict[str, set[str]],
    chosen: dict[str, tuple[ExportTensor, str]],
    fused: dict[str, str],
) -> None:
    """Give each layer still without a tensor the last unclaimed, unused tensor of its shape between its
    neighbours' tensors: an op the converter named after nothing ("Conv__12") still sits where its layer does."""
    used = {tensor.name for tensor, _ in chosen.values()}
    for index, (name, shape) in enumerate(layers):
        if name in chosen or name in fused:
            continue
        before = [chosen[n][0].order for n, _ in layers[:index] if n in chosen]
        after = [chosen[n][0].order for n, _ in layers[index + 1 :] if n in chosen]
        low, high = max(before, default=-1), min(after, default=math.inf)
        free = [
            t
            for t in tensors
            if not claimed[t.name] and t.name not in used and low < t.order < high and layout(shape, t.shape)
        ]
        if free:
            tensor = max(free, key=lambda t: t.order)
            chosen[name] = (tensor, layout(shape, tensor.shape) or NHWC)
            used.add(tensor.name)


def _activations_after(
    layers: Sequence[tuple[str, tuple[int, ...]]],
    tensors: Sequence[ExportTensor],
    claimed: dict[str, set[str]],
    chosen: dict[str, tuple[ExportTensor, str]],
) -> None:
    """Move a layer's match onto the unclaimed activation ops that follow its tensor (a Dense layer's softmax,
    which TFLite names after the signature rather than the layer), as long as the shape still fits."""
    used = {tensor.name for tensor, _ in chosen.values()}
    readers: dict[str, list[ExportTensor]] = {}
    for tensor in tensors:
        for name in tensor.inputs:
            readers.setdefault(name, []).append(tensor)
    shapes = dict(layers)
    for name in list(chosen):
        tensor, fits = chosen[name]
        while True:
            following = [
                t
                for t in readers.get(tensor.name, [])
                if t.op.upper().replace("_", "") in ACTIVATION_OPS and not claimed[t.name] and t.name not in used
            ]
            fitting = [t for t in following if layout(shapes[name], t.shape) == fits]
            if len(fitting) != 1:
                break
            tensor = fitting[0]
            used.add(tensor.name)
        chosen[name] = (tensor, fits)


def map_layers(layers: Sequence[tuple[str, tuple[int, ...]]], tensors: Sequence[ExportTensor]) -> Mapping:
    """Map Keras layers, given in model order as (name, output shape), to the export's activation tensors."""
    names = [name for name, _ in layers]
    traced = is_traced([s for t in tensors for s in t.sources], names)
    claimed = {t.name: claims(t.sources, names, traced) for t in tensors}
    chosen = _by_name(layers, tensors, claimed)
    position = {name: index for index, name in enumerate(names)}
    owner: dict[str, str] = {}
    for name in sorted(chosen, key=position.__getitem__):
        owner[chosen[name][0].name] = name  # model order: the latest layer choosing a tensor keeps it
    fused = {name: owner[tensor.name] for name, (tensor, _) in chosen.items() if owner[tensor.name] != name}
    for name in fused:
        del chosen[name]
    _by_shape(layers, tensors, claimed, chosen, fused)
    _activations_after(layers, tensors, claimed, chosen)
    matches = {name: Match(chosen[name][0].name, chosen[name][1]) for name in names if name in chosen}
    unmapped = tuple(name for name in names if name not in matches and name not in fused)
    return Mapping(matches, fused, unmapped)
