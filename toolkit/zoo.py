"""The model zoo: every network from the five Keras MNIST tutorials, plus one of our own, by name.

Each architecture carries its tutorial's training recipe as defaults, so `train --arch NAME` with no other
option reproduces that tutorial. Every model maps `image` float32 [N,28,28,1] in [0,1] to `probabilities`
float32 [N,10] (softmax). Keras is imported inside the builders only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from toolkit.contract import INPUT_NAME, INPUT_SHAPE, NOT_DIGIT_NAME, OUTPUT_NAME  # re-exported: zoo.INPUT_NAME etc.
from toolkit.errors import UsageError


@dataclass(frozen=True)
class Recipe:
    """How a tutorial trained its network."""

    optimizer: str = "adam"
    learning_rate: float | None = None  # None: the optimizer's Keras default
    loss: str = "categorical_crossentropy"  # or "sparse_categorical_crossentropy"
    epochs: int = 10
    batch_size: int = 32
    # Fraction of the training images held out for validation. 0 means the tutorial validated on the test
    # set (or not at all); we then show the test set as the validation curve, for monitoring only.
    validation_split: float = 0.0
    limit: int | None = None  # train on the first N training images only
    augment: str | None = None  # "affine" or "elastic": distort the training images afresh every epoch
    clean_epochs: int = 0  # with augment: the last N epochs (never the first) see the images undistorted
    lr_schedule: str | None = None  # "cosine": cosine decay to zero over the run
    label_smoothing: float = 0.0  # categorical targets 1 - s for the label, s / 10 spread over all ten
    ema: bool = False  # keep the moving average of the weights (the optimizer's use_ema)
    writers: float = 0.0  # share of each epoch's digits drawn as other writers' scans (toolkit.other_writers)
    clean_writers: float | None = None  # that share in the clean epochs (None: the same as in the others)
    coarse_scans: float = 0.0  # share of each epoch's digits (clean ones too) scanned at a few pixels (other_writers)
    negatives: float = 0.0  # crops with no digit (toolkit.imaging.negatives) per training digit, each epoch
    teacher: str | None = None  # an ONNX model whose softened probabilities are mixed into the digits' targets
    distill: float = 0.0  # with a teacher: its share of the targets of the digits drawn as MNIST

    def writers_share(self, clean: bool) -> float:
        """The share of an epoch's digits drawn as other writers: `clean_writers` in the clean epochs, when set."""
        return self.clean_writers if clean and self.clean_writers is not None else self.writers

    def with_overrides(self, **overrides: Any) -> Recipe:
        """A copy with the non-None overrides applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> Recipe:
        """The recipe a metrics.json recorded. Fields added since it was written take their defaults, which is
        what runs without them did; its `augment: false` is today's None."""
        fields = dict(recorded)
        if fields.get("augment") is False:
            fields["augment"] = None
        return cls(**fields)


@dataclass(frozen=True)
class Arch:
    """One zoo entry: how to build the network, how its tutorial trained it, what it reported."""

    name: str
    summary: str
    build: Callable[[], Any]
    recipe: Recipe
    reported_accuracy: float | None
    source: str
    notes: str = ""


def _layers():
    from toolkit import lazy

    keras = lazy.keras()  # with the environment training expects (oneDNN off), whoever builds first
    return keras, keras.layers


def _sequential(body: list, name: str, normal_init: bool = False, not_digit: bool = False):
    """Wrap a list of layers between the contract's named input and softmax output (and, with `not_digit`, a
    sigmoid `not_digit` output beside it, from the same features)."""
    keras, layers = _layers()
    inputs = keras.Input(shape=INPUT_SHAPE, name=INPUT_NAME)
    x = inputs
    for layer in body:
        x = layer(x)
    # The first tutorial initialises every Dense layer, the output included, from a normal distribution.
    init = {"kernel_initializer": "random_normal"} if normal_init else {}
    outputs = layers.Dense(10, activation="softmax", name=OUTPUT_NAME, **init)(x)
    if not_digit:
        rejection = layers.Dense(1, activation="sigmoid", name=NOT_DIGIT_NAME)(x)
        return keras.Model(inputs, [outputs, rejection], name=name.replace("-", "_"))
    return keras.Model(inputs, outputs, name=name.replace("-", "_"))


def _mlp(widths: list[int], dropout: float, *, normal_init: bool = False, input_dropout: float = 0.0):
    _, layers = _layers()
    init = {"kernel_initializer": "random_normal"} if normal_init else {}
    body = [layers.Flatten()]
    if input_dropout:
        body.append(layers.Dropout(input_dropout))
    for width in widths:
        body.append(layers.Dense(width, activation="relu", **init))
        if dropout:
            body.append(layers.Dropout(dropout))
    return body


def build_mlp256():
    return _sequential(_mlp([256], 0.0, normal_init=True), "mlp256", normal_init=True)


def build_mlp1000():
    return _sequential(_mlp([1000], 0.5, normal_init=True), "mlp1000", normal_init=True)


def build_mlp1000x2():
    return _sequential(_mlp([1000, 1000], 0.5, normal_init=True), "mlp1000x2", normal_init=True)


def build_mlp689x3():
    return _sequential(_mlp([689, 689, 689], 0.5), "mlp689x3")


def build_mlp512x2():
    return _sequential(_mlp([512, 512], 0.2), "mlp512x2")


def build_mlp_deep():
    return _sequential(_mlp([1024, 512, 256], 0.1, input_dropout=0.1), "mlp-deep")


def build_cnn3():
    _, layers = _layers()
    body = [
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
    ]
    return _sequential(body, "cnn3")


def build_cnn2():
    _, layers = _layers()
    body = [
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(800, activation="relu"),
    ]
    return _sequential(body, "cnn2")


def _batch_norm_body(stem: int, convs: int, dense: int, dropout: float) -> list:
    """A 5x5 stem and two 3x3 convs with batch norm, max-pooled, then a Dense layer with batch norm: the body of
    both our networks."""
    _, layers = _layers()

    def conv(filters: int, size: int) -> list:
        return [layers.Conv2D(filters, size, use_bias=False), layers.BatchNormalization(), layers.ReLU()]

    return [
        *conv(stem, 5),
        layers.MaxPooling2D(2),  # 24x24 -> 12x12
        *conv(convs, 3),
        *conv(convs, 3),
        layers.MaxPooling2D(2),  # 10x10 -> 8x8 -> 4x4
        layers.Flatten(),
        layers.Dropout(dropout),
        layers.Dense(dense, use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Dropout(dropout),
    ]


def build_cnn_bn():
    """Our own: a 5x5 stem and two 3x3 convs with batch norm, sized for 2 CPU cores; trained augmented."""
    return _sequential(_batch_norm_body(32, 64, 256, 0.25), "cnn-bn")


def build_cnn_lite():
    """Our own, a third of cnn-bn's cost: a 5x5 stem of 16 and two 3x3 convs of 32 with batch norm, Dense 128,
    and a `not_digit` output beside the digits. Channel counts are multiples of 16, which onnxruntime's CPU
    kernels run fastest (20/40 channels measured 2.7x slower than 16/32)."""
    return _sequential(_batch_norm_body(16, 32, 128, 0.2), "cnn-lite", not_digit=True)


_MLP_RECIPE = Recipe(epochs=10, batch_size=200, validation_split=0.2)

ZOO: dict[str, Arch] = {
    a.name: a
    for a in (
        Arch("mlp256", "Dense 256 relu (normal init) -> 10", build_mlp256, _MLP_RECIPE, 0.9769, "tutorial 1"),
        Arch("mlp1000", "Dense 1000 relu, Dropout 0.5 -> 10", build_mlp1000, _MLP_RECIPE, None, "tutorial 1"),
        Arch("mlp1000x2", "2 x (Dense 1000 relu, Dropout 0.5) -> 10", build_mlp1000x2, _MLP_RECIPE, None, "tutorial 1"),
        Arch(
            "mlp689x3",
            "3 x (Dense 689 relu, Dropout 0.5) -> 10",
            build_mlp689x3,
            Recipe(epochs=20, batch_size=10000, limit=10000),
            None,
            "tutorial 1",
            "trains on the first 10,000 images, one full-batch step per epoch",
        ),
        Arch(
            "mlp512x2",
            "2 x (Dense 512 relu, Dropout 0.2) -> 10",
            build_mlp512x2,
            Recipe(epochs=4, batch_size=128),
            0.9805,
            "tutorial 2",
        ),
        Arch(
            "mlp-deep",
            "Dropout 0.1, Dense 1024/512/256 relu + Dropout 0.1 each -> 10",
            build_mlp_deep,
            Recipe(loss="sparse_categorical_crossentropy", epochs=10, batch_size=512),
            0.9826,
            "tutorial 4",
        ),
        Arch(
            "cnn3",
            "Conv 32, MaxPool, Conv 64, MaxPool, Conv 64, Dense 64 -> 10",
            build_cnn3,
            Recipe(optimizer="rmsprop", epochs=5, batch_size=64),
            0.992,
            "tutorial 3",
        ),
        Arch(
            "cnn2",
            "Conv 32, MaxPool, Conv 32, MaxPool, Dense 800 -> 10",
            build_cnn2,
            Recipe(epochs=10, batch_size=32),
            0.9927,
            "tutorial 5",
            "the tutorial ends in a sigmoid under categorical cross-entropy; we use softmax",
        ),
        Arch(
            "cnn-bn",
            "Conv 5x5 32+BN, MaxPool, 2 x Conv 64+BN, MaxPool, Dense 256+BN -> 10",
            build_cnn_bn,
            Recipe(
                epochs=20,
                batch_size=128,
                learning_rate=0.002,
                augment="affine",
                clean_epochs=2,
                lr_schedule="cosine",
                label_smoothing=0.1,
                ema=True,
            ),
            None,
            "mnist-toolkit",
            "our own design; the reference model before cnn-lite",
        ),
        Arch(
            "cnn-lite",
            "Conv 5x5 16+BN, MaxPool, 2 x Conv 32+BN, MaxPool, Dense 128+BN -> 10 and not_digit",
            build_cnn_lite,
            Recipe(
                epochs=30,
                batch_size=128,
                learning_rate=0.003,
                augment="affine",
                clean_epochs=6,
                lr_schedule="cosine",
                label_smoothing=0.1,
                ema=True,
                writers=0.4,
                clean_writers=0.0,
                negatives=0.3,
            ),
            None,
            "mnist-toolkit",
            "our own design; the reference model: other writers' scans and crops with no digit in its training",
        ),
    )
}


def get(name: str) -> Arch:
    """The zoo entry called `name`, or a UsageError listing the valid names."""
    try:
        return ZOO[name]
    except KeyError:
        raise UsageError(f"unknown architecture '{name}'; choose one of: {', '.join(ZOO)}") from None


# Weights of each network, as Keras counts them (tests/test_zoo.py builds every one and compares): listing the
# zoo then needs no Keras, and takes milliseconds instead of seconds.
_PARAMS = {
    "mlp256": 203_530,
    "mlp1000": 795_010,
    "mlp1000x2": 1_796_010,
    "mlp689x3": 1_498_585,
    "mlp512x2": 669_706,
    "mlp-deep": 1_462_538,
    "cnn3": 93_322,
    "cnn2": 658_378,
    "cnn-bn": 322_474,
    "cnn-lite": 82_011,
}


def param_count(name: str) -> int:
    """Number of weights of an architecture."""
    return _PARAMS[get(name).name]
