"""The model contract, in one place: tensor names and shapes, the preprocessing a scorer must apply, and the
ONNX `metadata_props` keys that carry both inside every exported ONNX file.

Pure Python (no NumPy, no TensorFlow), so the scorer can import it for free. An exported ONNX file is
self-describing: `read_contract(runtime.metadata)` tells a scorer everything it needs to feed the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata as importlib_metadata

from toolkit.errors import ModelLoadError

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
# An optional second output, [N,1]: the probability (sigmoid) that the crop holds no digit at all. Models
# without it honour the contract as before; models with it say so in their metadata (KEY_NOT_DIGIT).
NOT_DIGIT_NAME = "not_digit"
NOT_DIGIT_THRESHOLD = 0.5  # predict rejects a crop (and flags its record) when not_digit is at least this
# ... and marks a digit it reads low-confidence when not_digit is at least this: its odds of being no digit are
# at least 3 in 10 (chosen on the tuning renderings: the one wrong read left unflagged on a blank sheet had
# 0.45, no right read of a page, form or photo had over 0.3)
NOT_DIGIT_DOUBT = 0.3
INPUT_SHAPE = (28, 28, 1)  # per image; the batch dimension is symbolic
NUM_CLASSES = 10
CLASS_LABELS = tuple(str(digit) for digit in range(NUM_CLASSES))
BATCH_DIM = "batch"  # name of the symbolic batch dimension in exported ONNX files
CONTRACT_VERSION = "1"

# The preprocessing every model expects: what `toolkit.imaging.normalise.normalize` must produce.
LAYOUT = "NHWC"  # [N, 28, 28, 1]
SIZE = "28x28"  # height x width
SCALE = "1/255"  # float32 value = uint8 pixel * SCALE, so values lie in [0, 1]
INK = "white-on-black"  # ink is bright (1.0), background dark (0.0), as in MNIST
DTYPE = "float32"

# ONNX metadata_props keys. Values are strings; LABELS is a JSON list.
PREFIX = "mnist_toolkit."
KEY_CONTRACT_VERSION = PREFIX + "contract_version"
KEY_INPUT = PREFIX + "input"
KEY_OUTPUT = PREFIX + "output"
KEY_LAYOUT = PREFIX + "preprocess.layout"
KEY_SIZE = PREFIX + "preprocess.size"
KEY_SCALE = PREFIX + "preprocess.scale"
KEY_INK = PREFIX + "preprocess.ink"
KEY_DTYPE = PREFIX + "preprocess.dtype"
KEY_LABELS = PREFIX + "labels"
KEY_ARCHITECTURE = PREFIX + "architecture"
KEY_SOURCE_SHA256 = PREFIX + "source_sha256"
# The source model's weights (kerasmodel.weights_digest): the same model saved again keeps it, a file's sha256 not.
KEY_SOURCE_WEIGHTS = PREFIX + "source_weights_sha256"
KEY_SOURCE_ACCURACY = PREFIX + "source_test_accuracy"
KEY_TOOLKIT_VERSION = PREFIX + "toolkit_version"
KEY_QUANTIZATION = PREFIX + "quantization"  # "none" or "int8-qdq"
KEY_CONVERTER = PREFIX + "converter"  # e.g. "tf2onnx 1.17.0"; informational
KEY_FLOAT_NODES = PREFIX + "quantization.float_nodes"  # int8 only: JSON list of nodes kept in float
KEY_SOURCE_INPUT = PREFIX + "source_input"  # the source model's own input, e.g. "[N,784]"
KEY_SOURCE_OUTPUT = PREFIX + "source_output"  # "softmax" or "logits" (then the export adds the softmax)
# Present when the model has the optional `not_digit` output: its name (its meaning: NOT_DIGIT_MEANING).
KEY_NOT_DIGIT = PREFIX + "output.not_digit"
NOT_DIGIT_MEANING = "float32 [N,1], sigmoid: the probability that the image holds no digit"

QUANT_NONE = "none"
QUANT_INT8 = "int8-qdq"

# What a source Keras model may take (per image) and end in; exports wrap it to the contract.
SOURCE_INPUTS = {(28, 28, 1): "[N,28,28,1]", (28, 28): "[N,28,28]", (784,): "[N,784]"}
SOFTMAX, LOGITS = "softmax", "logits"

REQUIRED_KEYS = (KEY_INPUT, KEY_OUTPUT, KEY_LAYOUT, KEY_SIZE, KEY_SCALE, KEY_INK, KEY_LABELS)


def toolkit_version() -> str:
    """The installed mnist-toolkit version ("unknown" when running from a bare checkout)."""
    try:
        return importlib_metadata.version("mnist-toolkit")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def package_versions(*names: str) -> dict[str, str]:
    """Python's, mnist-toolkit's and each installed package's version among `names` (missing ones left out)."""
    import platform

    versions = {"python": platform.python_version(), "mnist-toolkit": toolkit_version()}
    for name in names:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


@dataclass(frozen=True)
class Adaptation:
    """How a source Keras model differs from the contract, and so what its exports wrap around it."""

    input_shape: str = SOURCE_INPUTS[INPUT_SHAPE]  # the model's own input, e.g. "[N,784]"
    output: str = SOFTMAX  # SOFTMAX or LOGITS

    @property
    def needed(self) -> bool:
        """Whether the model needs a wrapper to honour the contract."""
        return self.input_shape != SOURCE_INPUTS[INPUT_SHAPE] or self.output != SOFTMAX

    def describe(self) -> str:
        """One phrase for reports and metadata: what the wrapper adds."""
        steps = []
        if self.input_shape != SOURCE_INPUTS[INPUT_SHAPE]:
            steps.append(f"reshapes image [N,28,28,1] to the model's input {self.input_shape}")
        if self.output == LOGITS:
            steps.append("applies softmax to the model's logits")
        return " and ".join(steps) if steps else "none"


@dataclass(frozen=True)
class ModelContract:
    """What a scorer needs to feed an exported model and read its output."""

    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    layout: str = LAYOUT
    size: str = SIZE
    scale: str = SCALE
    ink: str = INK
    dtype: str = DTYPE
    labels: tuple[str, ...] = CLASS_LABELS
    architecture: str = ""
    source_sha256: str = ""
    source_weights: str = ""
    source_test_accuracy: float | None = None
    toolkit_version: str = ""
    quantization: str = QUANT_NONE
    adaptation: Adaptation = Adaptation()
    not_digit_name: str | None = None  # the optional not_digit output's name, when the model has it

    @property
    def scale_factor(self) -> float:
        """SCALE as a number: "1/255" -> 0.00392..."""
        numerator, _, denominator = self.scale.partition("/")
        return float(numerator) / float(denominator or 1)

    def to_metadata(self) -> dict[str, str]:
        """The ONNX metadata_props this contract is written as."""
        meta = {
            KEY_CONTRACT_VERSION: CONTRACT_VERSION,
            KEY_INPUT: self.input_name,
            KEY_OUTPUT: self.output_name,
            KEY_LAYOUT: self.layout,
            KEY_SIZE: self.size,
            KEY_SCALE: self.scale,
            KEY_INK: self.ink,
            KEY_DTYPE: self.dtype,
            KEY_LABELS: json.dumps(list(self.labels)),
            KEY_ARCHITECTURE: self.architecture,
            KEY_SOURCE_SHA256: self.source_sha256,
            KEY_SOURCE_WEIGHTS: self.source_weights,
            KEY_TOOLKIT_VERSION: self.toolkit_version,
            KEY_QUANTIZATION: self.quantization,
            KEY_SOURCE_INPUT: self.adaptation.input_shape,
            KEY_SOURCE_OUTPUT: self.adaptation.output,
        }
        if self.source_test_accuracy is not None:
            meta[KEY_SOURCE_ACCURACY] = f"{self.source_test_accuracy:.6f}"
        if self.not_digit_name:
            meta[KEY_NOT_DIGIT] = self.not_digit_name
        return meta


def read_contract(metadata: dict[str, str], source: str = "model") -> ModelContract:
    """Parse ONNX metadata_props (e.g. `runtimes.Runtime.metadata`) back into a ModelContract.

    Raises ModelLoadError naming the missing key when the file was not exported by mnist-toolkit.
    """
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if missing:
        raise ModelLoadError(
            f"{source}: no mnist-toolkit contract in its metadata (missing {missing[0]}); "
            "export it with `mnist-toolkit export`"
        )
    version = metadata.get(KEY_CONTRACT_VERSION, CONTRACT_VERSION)
    if version != CONTRACT_VERSION:
        # A later contract may change what a value means; reading it as version 1 would score it wrongly.
        raise ModelLoadError(
            f"{source}: its metadata follows model contract version {version!r}; this mnist-toolkit reads "
            f"version {CONTRACT_VERSION}; upgrade mnist-toolkit or export the model again"
        )
    try:
        labels = tuple(str(label) for label in json.loads(metadata[KEY_LABELS]))
        accuracy = metadata.get(KEY_SOURCE_ACCURACY)
        return ModelContract(
            input_name=metadata[KEY_INPUT],
            output_name=metadata[KEY_OUTPUT],
            layout=metadata[KEY_LAYOUT],
            size=metadata[KEY_SIZE],
            scale=metadata[KEY_SCALE],
            ink=metadata[KEY_INK],
            dtype=metadata.get(KEY_DTYPE, DTYPE),
            labels=labels,
            architecture=metadata.get(KEY_ARCHITECTURE, ""),
            source_sha256=metadata.get(KEY_SOURCE_SHA256, ""),
            source_weights=metadata.get(KEY_SOURCE_WEIGHTS, ""),
            source_test_accuracy=float(accuracy) if accuracy else None,
            toolkit_version=metadata.get(KEY_TOOLKIT_VERSION, ""),
            quantization=metadata.get(KEY_QUANTIZATION, QUANT_NONE),
            adaptation=Adaptation(
                metadata.get(KEY_SOURCE_INPUT, Adaptation.input_shape),
                metadata.get(KEY_SOURCE_OUTPUT, Adaptation.output),
            ),
            not_digit_name=metadata.get(KEY_NOT_DIGIT) or None,
        )
    except (ValueError, TypeError) as exc:
        raise ModelLoadError(f"{source}: malformed mnist-toolkit metadata ({exc})") from None
