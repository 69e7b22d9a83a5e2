"""One answer for a path of the wrong kind, whichever command gets it: the same wording, exit code 2, one line,
and what to pass instead. Kinds are told by extension (and saved_model.pb for folders), so nothing loads here."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit import modelkind
from toolkit.errors import ModelKindError

ANY = "a Keras model (.keras or .h5), an ONNX model (.onnx), a SavedModel folder or a TFLite model (.tflite)"


@pytest.fixture
def files(tmp_path, monkeypatch) -> Path:
    """One file of each kind (contents never read) and a few folders, in the working directory."""
    monkeypatch.chdir(tmp_path)
    for name in ("m.keras", "m.h5", "m.onnx", "m.int8.onnx", "m.tflite", "notes.txt"):
        Path(name).write_bytes(b"never loaded: the kind is checked first")
    Path("export").mkdir()
    (Path("export") / "m.int8.onnx").write_bytes(b"x")
    (Path("export") / "m.onnx").write_bytes(b"x")
    Path("empty").mkdir()
    (Path("sm") / "1").mkdir(parents=True)
    (Path("sm") / "1" / "saved_model.pb").write_bytes(b"x")
    return tmp_path


CASES = [
    (
        ["predict", "samples", "--model", "m.keras"],
        "--model m.keras is a Keras model, but predict needs an ONNX model (.onnx); export it first: mnist-toolkit "
        "export m.keras --format onnx",
    ),
    (
        ["predict", "samples", "--model", "m.h5"],
        "--model m.h5 is a Keras model, but predict needs an ONNX model (.onnx); export it first: mnist-toolkit "
        "export m.h5 --format onnx",
    ),
    (
        ["predict", "samples", "--model", "m.tflite"],
        "--model m.tflite is a TFLite model, but predict needs an ONNX model (.onnx); export the Keras model it was "
        "made from with: mnist-toolkit export MODEL.keras --format onnx",
    ),
    (
        ["predict", "samples", "--model", "sm"],
        "--model sm is a SavedModel folder, but predict needs an ONNX model (.onnx); export the Keras model it was "
        "made from with: mnist-toolkit export MODEL.keras --format onnx",
    ),
    (
        ["predict", "samples", "--model", "export"],
        "--model export is a folder, not a model; predict needs an ONNX model (.onnx); pass the model file itself, "
        "e.g. --model export/m.onnx",
    ),
    (
        ["predict", "samples", "--model", "gone.onnx"],
        "--model gone.onnx: no such file or folder; predict needs an ONNX model (.onnx)",
    ),
    (
        ["export", "m.onnx", "--out", "o"],
        "m.onnx is an ONNX model, but export needs a Keras model (.keras or .h5); pass the .keras or .h5 file it was "
        "exported from",
    ),
    (["export", "empty", "--out", "o"], "empty is a folder, not a model; export needs a Keras model (.keras or .h5)"),
    (
        ["export", "gone.keras", "--out", "o"],
        "gone.keras: no such file or folder; export needs a Keras model (.keras or .h5)",
    ),
    (["parity", "m.tflite"], "name the exports to check against m.tflite; only a Keras model can export its own"),
    (
        ["parity", "m.keras", "empty"],
        f"EXPORT empty is a folder, not a model (a SavedModel folder holds saved_model.pb); parity needs {ANY}",
    ),
    (["evaluate", "notes.txt"], f"notes.txt: unknown model format '.txt'; evaluate needs {ANY}"),
    (
        ["evaluate", "empty"],
        f"empty is a folder, not a model (a SavedModel folder holds saved_model.pb); evaluate needs {ANY}",
    ),
    (
        ["data", "show", "--model", "notes.txt"],
        f"--model notes.txt: unknown model format '.txt'; data show needs {ANY}",
    ),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_wrong_kind_is_one_line_exit_2_in_every_command(cli, files, args, message):
    (files / "samples").mkdir()
    result = cli(*args)
    assert result.exit_code == 2, result.output
    command = " ".join(args[:2]) if args[0] == "data" else args[0]
    assert result.stderr.strip().splitlines() == [f"error: {message}; see 'mnist-toolkit {command} --help'"]


def test_the_environment_variable_pointing_nowhere_says_so(cli, files, monkeypatch):
    (files / "samples").mkdir()
    monkeypatch.setenv("MNIST_TOOLKIT_MODEL", str(files / "moved.onnx"))
    result = cli("predict", "samples", "--out", "o.csv")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: MNIST_TOOLKIT_MODEL={files / 'moved.onnx'}: no such file or folder; "
        "predict needs an ONNX model (.onnx); see 'mnist-toolkit predict --help'"
    )
    monkeypatch.setenv("MNIST_TOOLKIT_MODEL", "m.keras")
    result = cli("predict", "samples", "--out", "o.csv")
    assert result.exit_code == 2 and "export it first: mnist-toolkit export m.keras --format onnx" in result.stderr


def test_require_returns_the_kind(files):
    assert [modelkind.require(p) for p in ("m.keras", "m.h5", "m.onnx", "m.tflite", "sm", "sm/1")] == [
        "keras",
        "keras",
        "onnx",
        "tflite",
        "savedmodel",
        "savedmodel",
    ]
    assert modelkind.require("m.int8.onnx", ("onnx",), "predict") == "onnx"
    with pytest.raises(ModelKindError) as raised:
        modelkind.require("m.onnx", ("keras",), "export")
    assert raised.value.exit_code == 2


def test_predict_path_imports_no_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys; from toolkit.predict.options import resolve_model; import toolkit.modelkind; "
        "print(any(m.split('.')[0] in ('tensorflow', 'keras', 'h5py') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
