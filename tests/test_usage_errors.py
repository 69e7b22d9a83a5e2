"""Every usage error the command-line parser finds is one line on stderr naming the command's help, exit 2: no
usage block, no Rich box. Help shows flags as flags and wraps whole sentences."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def one_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.mark.parametrize(
    "args, line",
    [
        (
            ["predict", "DIR", "--format", "xml"],
            "error: --format: 'xml' is not one of 'csv', 'jsonl', 'parquet'; see 'mnist-toolkit predict --help'",
        ),
        (["predict", "DIR", "--bogus"], "error: no such option: --bogus; see 'mnist-toolkit predict --help'"),
        (
            ["predict", "DIR", "--tabel"],
            "error: no such option: --tabel (did you mean --table?); see 'mnist-toolkit predict --help'",
        ),
        (["predict"], "error: missing argument 'INPUT'; see 'mnist-toolkit predict --help'"),
        (
            ["predict", "DIR", "--top-k", "two"],
            "error: --top-k must be a whole number, got two; see 'mnist-toolkit predict --help'",
        ),
        (["predict", "DIR", "--out"], "error: option '--out' requires an argument; see 'mnist-toolkit predict --help'"),
        (
            ["parity", "m.keras", "--atol", "-1"],
            "error: --atol must be at least 0, got -1; see 'mnist-toolkit parity --help'",
        ),
        (
            ["parity", "m.keras", "--atol", "abc"],
            "error: --atol must be a number, got abc; see 'mnist-toolkit parity --help'",
        ),
        (
            ["parity", "m.keras", "--atol", "nan"],
            "error: --atol must be at least 0, got nan; see 'mnist-toolkit parity --help'",
        ),
        (
            ["export", "m.keras", "--out", "o", "--opset", "12"],
            "error: --opset must be at least 13, got 12; see 'mnist-toolkit export --help'",
        ),
        (
            ["export", "m.keras", "--out", "o", "--opset", "22"],
            "error: --opset must be at most 21, got 22; see 'mnist-toolkit export --help'",
        ),
        (
            ["data", "fetch", "--from", "/nonexistent"],
            "error: --from: path '/nonexistent' does not exist; see 'mnist-toolkit data fetch --help'",
        ),
        (
            ["data", "show", "--count", "0"],
            "error: --count must be at least 1, got 0; see 'mnist-toolkit data show --help'",
        ),
        (
            ["data", "show", "--split", "val"],
            "error: --split: 'val' is not one of 'train', 'test'; see 'mnist-toolkit data show --help'",
        ),
        (["train"], "error: missing option '--arch'; see 'mnist-toolkit train --help'"),
        (["bogus"], "error: no such command 'bogus'; see 'mnist-toolkit --help'"),
        (["data", "bogus"], "error: no such command 'bogus'; see 'mnist-toolkit data --help'"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_usage_error_is_one_line(cli, args, line):
    assert one_line(cli(*args)) == line


def test_a_flag_given_a_value_takes_it_as_an_input(cli, tmp_path):
    """`--table true`: a flag takes no value, so `true` is an input; the help shows no placeholder to invite it."""
    result = cli("predict", "--table", tmp_path / "true")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'true'}: no such file or folder; see 'mnist-toolkit predict --help'"
    ]


def test_the_installed_command_prints_one_line_too(tmp_path):
    # The console script, not the test runner: what a user's terminal shows, no box around it.
    done = subprocess.run(
        [sys.executable, "-m", "toolkit", "data", "show", "--count", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: --count must be at least 1, got 0; see 'mnist-toolkit data show --help'\n"


@pytest.mark.parametrize("command", [["predict"], ["evaluate"], ["models"], ["parity"], ["data", "show"]])
def test_help_shows_flags_as_flags(cli, command):
    text = cli(*command, "--help").stdout
    assert "<bool>" not in text and "╭" not in text
    assert "  --help " in text


def test_predict_help_names_its_flags_without_a_value(cli):
    lines = cli("predict", "--help").stdout.splitlines()
    for flag in ("--table", "--resume", "--multi-digit", "--all-frames", "--follow-symlinks"):
        (line,) = [line for line in lines if line.strip().startswith(flag + " ")]
        assert line.split()[1] != "<bool>" and not line.split()[1].startswith("<"), line


def test_the_bare_program_prints_its_help(cli):
    result = cli()
    assert result.exit_code == 2 and "Usage: mnist-toolkit [OPTIONS] COMMAND" in result.output


def test_the_toolkits_own_usage_errors_say_where_the_help_is_too(cli, tmp_path, onnx_model):
    (tmp_path / "x.png").write_bytes(b"")
    result = cli("predict", tmp_path, "--model", onnx_model, "--ray-address", "auto")
    assert (result.exit_code, result.stderr.splitlines()) == (
        2,
        ["error: --ray-address needs --engine ray; see 'mnist-toolkit predict --help'"],
    )
    result = cli("data", "show", "--start", "99999")
    assert result.exit_code == 2 and result.stderr.strip().endswith("; see 'mnist-toolkit data show --help'")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07")
    result = cli("predict", tmp_path, "--model", onnx_model, "--out", tmp_path / "o.csv")  # a run error: no hint
    assert result.exit_code in (0, 3) and "--help" not in result.stderr


def test_outputs_that_would_destroy_data_are_refused_before_anything_is_read(cli, tmp_path, onnx_model):
    """--out and --summary naming one file wrote the summary over the predictions; --out naming a scan of the
    run (named, or inside an input folder) replaced it with CSV; --out naming a device (as root) replaced the
    device with a regular file. Each is now one line, exit 2, and nothing is written."""
    import shutil

    scans_dir = tmp_path / "scans"
    scans_dir.mkdir()
    sample = next((ROOT / "artifacts" / "samples").glob("*-label-7.png"))
    scan = scans_dir / "a.png"
    shutil.copy(sample, scan)
    before = scan.read_bytes()
    os.mkfifo(tmp_path / "pipe")
    cases = [
        (["--out", tmp_path / "o.csv", "--summary", tmp_path / "o.csv"], "--out and --summary both name"),
        (["--out", scan, "--format", "csv"], f"--out {scan} is in the input folder {scans_dir}, which is scored"),
        (["--out", tmp_path / "o.csv", "--summary", scans_dir], f"--summary {scans_dir} is not a regular file"),
        (["--out", tmp_path / "pipe", "--format", "csv"], f"--out {tmp_path / 'pipe'} is not a regular file"),
    ]
    for extra, said in cases:
        line = one_line(cli("predict", scans_dir, "--model", onnx_model, *extra))
        assert line.startswith(f"error: {said}"), line
    line = one_line(cli("predict", scan, "--model", onnx_model, "--out", scan, "--format", "csv"))
    assert line.startswith(f"error: --out {scan} is one of the inputs"), line
    star = str(scans_dir / "*.png")  # a glob the shell left alone
    line = one_line(cli("predict", star, "--model", onnx_model, "--out", scan, "--format", "csv"))
    assert line.startswith(f"error: --out {scan} matches the input {star}"), line
    assert scan.read_bytes() == before and not (tmp_path / "o.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "scans"]
    # An output beside the scans that the walk does not take is fine.
    result = cli("predict", scans_dir, "--model", onnx_model, "--out", scans_dir / "p.csv", "--workers", "0")
    assert result.exit_code == 0, result.output
