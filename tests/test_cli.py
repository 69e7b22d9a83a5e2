"""The CLI through Typer's CliRunner: exit codes and messages, for success and for bad input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from toolkit import data

SAMPLES = Path(__file__).resolve().parents[1] / "artifacts" / "samples"


def test_models_lists_every_arch_with_params(cli):
    result = cli("models")
    assert result.exit_code == 0
    for name in ("mlp256", "mlp689x3", "cnn3", "cnn2", "cnn-bn"):
        assert name in result.stdout
    assert "203,530" in result.stdout  # mlp256: 784*256+256 + 256*10+10
    assert "rmsprop" in result.stdout and "0.9927" in result.stdout


def test_unknown_arch_is_one_line_exit_2(cli, tmp_path):
    result = cli("train", "--arch", "resnet", "--out", tmp_path)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown architecture 'resnet'; choose one of: mlp256, mlp1000, mlp1000x2, mlp689x3, mlp512x2, "
        "mlp-deep, cnn3, cnn2, cnn-bn, cnn-lite; see 'mnist-toolkit train --help'"
    ]
    assert "Traceback" not in result.output


def test_train_cli_writes_model_and_refuses_overwrite(cli, tmp_path, keras_loaded):
    args = ("train", "--arch", "mlp256", "--out", tmp_path, "--epochs", "1", "--limit", "600", "--quiet")
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert "mlp256: test accuracy 0." in result.stdout and f"wrote {tmp_path / 'mlp256.keras'}" in result.stdout
    written = (tmp_path / "mlp256.keras").read_bytes()
    again = cli(*args)
    assert again.exit_code == 2 and "already exists; pass --force" in again.stderr
    assert (tmp_path / "mlp256.keras").read_bytes() == written


def test_train_cli_force_overwrites_an_existing_model(cli, mlp_model, tmp_path):
    # A copy of the session's model (trained on 1,024 images) is the model to overwrite: only --force trains here.
    out = tmp_path / "m"
    shutil.copytree(mlp_model.parent, out)
    before = (out / "mlp256.keras").read_bytes()
    result = cli("train", "--arch", "mlp256", "--out", out, "--epochs", "1", "--limit", "600", "--quiet", "--force")
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'mlp256.keras'}" in result.stdout
    assert json.loads((out / "metrics.json").read_text())["recipe"]["limit"] == 600
    assert (out / "mlp256.keras").read_bytes() != before


def test_evaluate_prints_tables(cli, mlp_model, tmp_path):
    result = cli("evaluate", mlp_model, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "accuracy 0." in result.stdout and "confusion matrix" in result.stdout and "precision" in result.stdout
    assert json.loads((tmp_path / "report.json").read_text())["format"] == "keras"


def test_evaluate_rejects_files_that_are_not_models(cli, tmp_path):
    fake = tmp_path / "model.keras"
    fake.write_text("not a model")
    result = cli("evaluate", fake)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {fake}: not a Keras model file (a .keras file is a zip archive)"
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\0" * 10)
    result = cli("evaluate", other)
    assert result.exit_code == 2 and "unknown model format '.bin'" in result.stderr


def test_evaluate_missing_path_is_usage_error(cli, tmp_path):
    result = cli("evaluate", tmp_path / "nope.keras")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'nope.keras'}: no such file or folder; evaluate needs a "
        "Keras model (.keras or .h5), an ONNX model (.onnx), a SavedModel folder or a "
        "TFLite model (.tflite); see 'mnist-toolkit evaluate --help'"
    )


def test_data_fetch_from_corrupt_npz(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_TOOLKIT_HOME", str(tmp_path / "home"))
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    result = cli("data", "fetch", "--from", bad)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {bad}: not an MNIST .npz (a Keras mnist.npz is a zip archive of four arrays)"
    ]
    assert not (tmp_path / "home" / "mnist.npz").exists()


def test_data_fetch_from_real_npz_then_cached(cli, tmp_path, monkeypatch):
    source = tmp_path / "copy.npz"
    shutil.copy(data.cache_path(), source)
    monkeypatch.setenv("MNIST_TOOLKIT_HOME", str(tmp_path / "home"))
    result = cli("data", "fetch", "--from", source)
    assert result.exit_code == 0, result.output
    assert f"fetched from {source} and verified" in result.stdout
    assert "already cached and verified" in cli("data", "fetch").stdout


def test_data_show_grid_and_ascii(cli, tmp_path, mlp_model):
    png = tmp_path / "grid.png"
    result = cli("data", "show", "--out", png, "--count", "6", "--model", mlp_model)
    assert result.exit_code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    ascii_result = cli("data", "show", "--ascii", "--start", "0")
    lines = ascii_result.stdout.splitlines()
    assert lines[0] == "test[0] label=7" and len(lines) == 29
    (_, _), (x_test, _) = data.load_mnist()
    assert [int(v) for v in lines[8].split()] == x_test[0][7].tolist()
    assert np.count_nonzero(x_test[0]) > 0


@pytest.mark.parametrize("args", [["data", "show", "--start", "10000"], ["data", "show", "--count", "0"]])
def test_data_show_bad_range(cli, args):
    result = cli(*args)
    assert result.exit_code == 2


def test_unwritable_output_is_one_line_not_a_traceback(cli, mlp_model, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = cli("evaluate", mlp_model, "--out", blocker / "report")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: {blocker} is a file, not a folder (it is on the way to {blocker / 'report'}); choose another path"
    ]
    assert "Traceback" not in result.output
    denied = tmp_path / "locked"
    denied.mkdir(mode=0o500)
    result = cli("evaluate", mlp_model, "--out", denied / "report")
    if os.geteuid() != 0:  # root writes anywhere
        assert result.exit_code == 1 and "check the path and its permissions" in result.stderr


def test_predict_out_under_a_file_names_the_file(cli, tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file")
    result = cli("predict", SAMPLES / "sample-00000-png-label-7.png", "--out", blocker / "x.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: {blocker} is a file, not a folder; choose another path"]


def test_models_needs_no_keras():
    """A core-only install has no Keras: listing the zoo must still work (and fast)."""
    import subprocess
    import sys

    block = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('keras', 'tensorflow', 'matplotlib'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "sys.argv = ['mnist-toolkit', 'models']\n"
        "from toolkit.cli import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "cnn-bn" in done.stdout and "322,474" in done.stdout


def test_json_output_of_models_and_parity(cli, monkeypatch):
    import json

    result = cli("models", "--json")
    assert result.exit_code == 0
    zoo_rows = json.loads(result.stdout)
    assert {row["name"] for row in zoo_rows} >= {"mlp256", "cnn-bn"}
    assert next(r for r in zoo_rows if r["name"] == "cnn2")["reported_accuracy"] == 0.9927
    from tests.test_render import fake_parity
    from toolkit import parity

    monkeypatch.setattr(parity, "run", lambda *a, **k: fake_parity())
    result = cli("parity", "model.keras", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["passed"] is True and len(payload["exports"]) == 4


def test_version(cli):
    from toolkit.contract import toolkit_version

    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"mnist-toolkit {toolkit_version()}"


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`predict ... --out - | head -1`: the reader leaves early; no message, no traceback, exit 141."""
    import subprocess
    import sys

    from PIL import Image

    (_, _), (x, _) = data.load_mnist()
    for i in range(1500):  # ~200 KB of CSV: more than a pipe holds, so the writer is still writing
        Image.fromarray(x[i]).save(tmp_path / f"{i:04d}.png")
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "predict", str(tmp_path), "--out", "-", "--workers", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert first.startswith(b"path,status,digit") and stderr == ""


def test_no_images_is_a_warning_and_exit_3(cli, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    out = tmp_path / "o.csv"
    result = cli("predict", tmp_path / "in", "--out", out)
    assert result.exit_code == 3
    assert (
        f"warning: no image files found in {tmp_path / 'in'} (not-an-image-name 1 skipped); exit code 3"
        in result.stderr.splitlines()
    )
    from toolkit.predict.options import PredictOptions

    assert out.read_text().splitlines() == [",".join(PredictOptions().columns())]


# --- predict's options: declared once, on PredictOptions ----------------------------------------------------


def predict_params() -> dict:
    import typer.main

    from toolkit.cli import app

    return {p.name: p for p in typer.main.get_command(app).commands["predict"].params}


def test_predict_options_come_from_their_declaration():
    from toolkit.predict.options import specs

    params = predict_params()
    for spec in specs():
        if not spec.cli:
            assert spec.name not in params
            continue
        param = params[spec.name]
        assert param.opts == [spec.flag] and param.help == spec.help
        assert param.default == (None if spec.default == () else spec.default), spec.name
    assert [s.name for s in specs() if not s.cli] == ["chunk_size"]


def test_predict_without_options_runs_with_the_declared_defaults(cli, monkeypatch, tmp_path):
    from toolkit.predict import runner
    from toolkit.predict.options import PredictOptions

    seen = {}

    def fake_run(inputs, options, **kwargs):
        seen.update(inputs=inputs, options=options, **kwargs)
        return runner.Summary(output=str(tmp_path / "p.csv"), format="csv", model="m.onnx", files=1, records=1, ok=1)

    monkeypatch.setattr(runner, "run", fake_run)
    result = cli("predict", "scans")
    assert result.exit_code == 0, result.output
    assert seen["inputs"] == ["scans"] and seen["options"] == PredictOptions()
    assert (seen["out"], seen["fmt"], seen["resume"], seen["engine"]) == (None, None, False, "local")
    assert result.stderr.splitlines()[-1] == f"wrote {tmp_path / 'p.csv'}"

    args = ["--include", "*.png", "--include", "*.tif", "--top-k", "3", "--model", "m.onnx", "--workers", "0"]
    assert cli("predict", "scans", *args).exit_code == 0
    assert seen["options"] == PredictOptions(model="m.onnx", include=("*.png", "*.tif"), top_k=3, workers=0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--top-k", "11"], "error: --top-k must be between 0 and 10, got 11"),
        (["--threads", "0"], "error: --threads must be at least 1, got 0"),
        (["--ray-address", "auto"], "error: --ray-address needs --engine ray"),
        (["--table", "--out", "-"], "error: --table prints to stdout, so it cannot be combined with --out -"),
    ],
)
def test_bad_predict_options_are_named_as_flags(cli, tmp_path, args, message):
    result = cli("predict", tmp_path, *args)
    assert (result.exit_code, result.stderr.strip()) == (2, message + "; see 'mnist-toolkit predict --help'")


def test_predict_help_shows_every_declared_option(cli):
    from toolkit.predict.options import specs

    result = cli("predict", "--help")
    assert result.exit_code == 0
    for spec in specs():
        assert (spec.flag in result.stdout) == spec.cli


def test_evaluate_writes_nothing_without_out(cli, onnx_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("evaluate", onnx_model)
    assert result.exit_code == 0 and "accuracy" in result.stdout and "wrote" not in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_predict_quiet_prints_records_only_and_verbose_says_more(cli, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SAMPLES / "sample-00000-png-label-7.png", inputs)
    (inputs / "broken.png").write_bytes(b"not an image")
    quiet = cli("predict", inputs, "--out", "-", "--quiet", "--workers", "0")
    assert quiet.exit_code == 3 and quiet.stderr == ""
    assert quiet.stdout.splitlines()[0].startswith("path,status,digit")
    assert len(quiet.stdout.splitlines()) == 3
    verbose = cli("predict", inputs, "--out", tmp_path / "o.csv", "--verbose", "--workers", "0")
    lines = verbose.stderr.splitlines()
    assert verbose.exit_code == 3
    assert lines[0].startswith("model: ") and lines[0].endswith("reference.onnx")
    assert lines[1].startswith(f"error record: {inputs / 'broken.png'}: ")
    assert lines[2].endswith(": 1 ok, 1 error")
    both = cli("predict", inputs, "--quiet", "--verbose")
    assert (both.exit_code, both.stderr) == (
        2,
        "error: --quiet and --verbose contradict each other; choose one; see 'mnist-toolkit predict --help'\n",
    )


def test_models_reference_prints_the_shipped_model_and_its_card(cli):
    from toolkit.models import MODEL_CARD, REFERENCE_ONNX

    result = cli("models", "--reference")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:2] == [f"reference model: {REFERENCE_ONNX}", f"model card: {MODEL_CARD}"]
    card = json.loads(cli("models", "--reference", "--json").stdout)
    assert card["path"] == str(REFERENCE_ONNX) and card["card"]["architecture"] == "cnn-lite"


def test_data_show_ascii_with_a_model_prints_its_prediction(cli, onnx_model):
    result = cli("data", "show", "--ascii", "--start", "0", "--model", onnx_model)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "test[0] label=7 predicted=7"
    assert len(result.stdout.splitlines()) == 29


def test_predict_model_that_is_not_onnx_is_a_usage_error(cli, tmp_path):
    for name, content in (("notes.onnx", b"just some text\n"), ("empty.onnx", b"")):
        (tmp_path / name).write_bytes(content)
        result = cli("predict", SAMPLES, "--model", tmp_path / name, "--out", tmp_path / "o.csv")
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [
            f"error: {tmp_path / name}: not an ONNX model (the file does not parse as ONNX); "
            "see 'mnist-toolkit predict --help'"
        ]
        assert not (tmp_path / "o.csv").exists()


def test_predict_no_images_on_stdin_says_stdin(cli, tmp_path):
    from typer.testing import CliRunner

    from toolkit.cli import app

    result = CliRunner().invoke(app, ["predict", "-", "--out", str(tmp_path / "o.csv")], input="\n")
    assert result.exit_code == 3
    assert "warning: no image files found in the paths read from stdin; exit code 3" in result.stderr.splitlines()
