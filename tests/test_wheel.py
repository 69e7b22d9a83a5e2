"""The wheel carries the reference model: built with `pip wheel`, installed core-only into a fresh venv, its
`mnist-toolkit predict` scores artifacts/samples from another folder with no --model.

This is the one test that uses the network (pip and PyPI, through pip's cache when it is warm): about 12 s
with a warm cache, so it is not marked slow."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "artifacts" / "samples"


def _pip(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args], cwd=cwd, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_a_core_only_wheel_scores_the_samples_with_no_model_option(tmp_path):
    # Build from a copy of the sources, so the build leaves nothing in the checkout.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "toolkit", source / "toolkit", ignore=shutil.ignore_patterns("__pycache__"))
    _pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(source), cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("mnist_toolkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"toolkit/models/reference.onnx", "toolkit/models/model_card.json"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "artifacts/", "scripts/"))]

    # A fresh venv without pip of its own (faster); the running pip installs into it: the core dependencies only.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    _pip("--python", str(python), "install", "--quiet", str(wheel), cwd=tmp_path)
    listed = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util as u; print([m for m in ('tensorflow', 'keras', "
            "'h5py', 'toolkit') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.strip() == "['toolkit']"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MNIST_TOOLKIT_MODEL")}
    result = subprocess.run(
        [env_dir / "bin" / "mnist-toolkit", "predict", str(SAMPLES), "--out", "p.csv", "--summary", "s.json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    model = Path(json.loads((elsewhere / "s.json").read_text())["model"])
    assert model.is_relative_to(env_dir) and model.parts[-3:] == ("toolkit", "models", "reference.onnx")
    rows = list(csv.DictReader((elsewhere / "p.csv").open()))
    assert len(rows) == len(list(SAMPLES.iterdir())) == 40
    assert all(row["status"] == "ok" for row in rows)
    # The true label is in each file name (sample-00000-png-label-7.png); the reference model reads them all.
    right = sum(row["digit"] == Path(row["path"]).stem.rsplit("-", 1)[1] for row in rows)
    assert right == 40

    # And pointing the environment variable at nothing says so, instead of falling back.
    env["MNIST_TOOLKIT_MODEL"] = str(tmp_path / "gone.onnx")
    result = subprocess.run(
        [env_dir / "bin" / "mnist-toolkit", "predict", str(SAMPLES), "--out", "q.csv"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert f"MNIST_TOOLKIT_MODEL={tmp_path / 'gone.onnx'}: no such file or folder" in result.stderr
