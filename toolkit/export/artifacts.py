"""The formats an export can write, what their files are called, and the values describing what was written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FORMATS = ("onnx", "savedmodel", "tflite", "onnx-int8")  # the deployable formats, the ones parity checks
KERAS_FORMAT = "keras"  # the source model itself as .keras: how a legacy .h5 becomes a .keras file
ALL_FORMATS = (KERAS_FORMAT, *FORMATS)
DEFAULT_FORMATS = ("onnx", "savedmodel")
FLOAT_FORMATS = ("onnx", "savedmodel", "tflite")


def file_names(stem: str) -> dict[str, str]:
    """Names of each format's artifact inside the export folder."""
    return {
        KERAS_FORMAT: f"{stem}.keras",
        "onnx": f"{stem}.onnx",
        "savedmodel": f"{stem}.savedmodel",
        "tflite": f"{stem}.tflite",
        "onnx-int8": f"{stem}.int8.onnx",
    }


@dataclass(frozen=True)
class Source:
    """The Keras model file (.keras or .h5) an export was made from."""

    path: Path
    sha256: str
    architecture: str


@dataclass(frozen=True)
class ExportedFile:
    """One exported artifact. For a SavedModel, `path` is the TensorFlow Serving folder (with `1/` inside),
    `size` the total of its files and `sha256` a digest of its manifest entries."""

    format: str
    path: Path
    size: int
    sha256: str
    opset: int | None


@dataclass(frozen=True)
class Int8Summary:
    """How much the int8 ONNX file saves and what it costs, measured on the 10,000 test images."""

    path: Path
    size: int
    float_size: int
    test_accuracy: float
    source_accuracy: float
    argmax_agreement: float
    calibration_images: int
    float_nodes: tuple[str, ...]

    @property
    def accuracy_drop_points(self) -> float:
        """Percentage points of test accuracy lost to quantization (negative: gained)."""
        return round(100 * (self.source_accuracy - self.test_accuracy), 4)

    @property
    def size_ratio(self) -> float:
        return self.size / self.float_size if self.float_size else float("nan")


@dataclass(frozen=True)
class ExportResult:
    """What `export` wrote, and where."""

    out: Path
    source: Source
    source_accuracy: float | None
    opset: int
    files: tuple[ExportedFile, ...]
    manifest: Path
    int8: Int8Summary | None = None
    seconds: float = 0.0
    timings: tuple[tuple[str, float], ...] = ()  # (step, seconds), in the order they ran

    def path(self, fmt: str) -> Path:
        """Where format `fmt` was written."""
        for exported in self.files:
            if exported.format == fmt:
                return exported.path
        raise KeyError(fmt)
