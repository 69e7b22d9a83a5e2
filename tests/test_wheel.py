"""The wheel carries the reference model: built with `pip wheel`, installed core-only into a fresh venv, its
`mnist-toolkit predict` scores artifacts/samples from another folder with no --model.

The wheel goes in with `pip install --no-deps`; its dependencies are this venv's own packages, linked into the
fresh venv only when the wheel's Requires-Dist pulls them in (recursively, extras left out, each installed version
inside its specifier). That is what a core install holds, without the ~10 s pip spends copying them from its cache.
The build itself still gets setuptools for pip's isolated build environment from pip's index or cache."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "artifacts" / "samples"


def _pip(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args], cwd=cwd, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def _requires_dist(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(name).decode()).get_all("Requires-Dist") or []


def _core_closure(requires: list[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions a core install needs: `requires` and, recursively, theirs, following only the
    extras some requirement asks for."""
    found: dict[str, metadata.Distribution] = {}
    followed: dict[str, set[str]] = {}  # name -> the extras whose requirements are already queued
    todo: list[tuple[Requirement, set[str]]] = [(Requirement(r), set()) for r in requires]
    while todo:
        requirement, owner_extras = todo.pop()
        marker = requirement.marker
        if marker is not None and not any(marker.evaluate({"extra": e}) for e in {"", *owner_extras}):
            continue
        name = canonicalize_name(requirement.name)
        if name in followed and set(requirement.extras) <= followed[name]:
            continue
        dist = found.get(name) or metadata.distribution(name)
        # What pip would have refused to install is refused here too.
        assert requirement.specifier.contains(dist.version, prereleases=True), (str(requirement), dist.version)
        found[name] = dist
        followed[name] = followed.get(name, set()) | set(requirement.extras)
        todo += [(Requirement(r), followed[name]) for r in dist.requires or []]
    return found


def _link(dists: dict[str, metadata.Distribution], into: Path) -> None:
    """Symlink each distribution's top-level modules and .dist-info (from its RECORD) into `into`."""
    into.mkdir()
    for dist in dists.values():
        for top in {f.parts[0] for f in dist.files or ()} - {"..", "__pycache__"}:
            (into / top).symlink_to(dist.locate_file(top))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Build from a copy of the sources, so the build leaves nothing in the checkout.
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "toolkit", source / "toolkit", ignore=shutil.ignore_patterns("__pycache__"))
    _pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(root / "dist"), str(source), cwd=root)
    (built,) = (root / "dist").glob("mnist_toolkit-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel and its core dependencies only; returns the venv's folder."""
    root = tmp_path_factory.mktemp("install")
    _link(_core_closure(_requires_dist(wheel)), root / "core")
    env_dir = root / "venv"
    # No pip of its own (faster): the running pip installs into it.
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = env_dir / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "core-dependencies.pth").write_text(f"{root / 'core'}\n")
    python = env_dir / "bin" / "python"
    _pip("--python", str(python), "install", "--quiet", "--no-deps", "--no-index", str(wheel), cwd=root)
    return env_dir


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MNIST_TOOLKIT_MODEL")}


def test_the_wheel_carries_the_reference_model_and_no_repository_folders(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {"toolkit/models/reference.onnx", "toolkit/models/model_card.json"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "artifacts/", "scripts/"))]


def test_a_core_install_brings_no_training_stack(installed, tmp_path):
    listed = subprocess.run(
        [
            installed / "bin" / "python",
            "-c",
            "import importlib.util as u, json, toolkit; print(json.dumps({'found': [m for m in ('tensorflow', "
            "'keras', 'h5py', 'matplotlib', 'toolkit') if u.find_spec(m)], 'toolkit': toolkit.__file__}))",
        ],
        cwd=tmp_path,  # `python -c` puts the working folder first on sys.path: not the checkout
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(listed.stdout)
    assert seen["found"] == ["toolkit"]
    assert Path(seen["toolkit"]).is_relative_to(installed)  # the wheel's copy, not this checkout's


def test_a_core_only_wheel_scores_the_samples_with_no_model_option(installed, tmp_path):
    result = subprocess.run(
        [installed / "bin" / "mnist-toolkit", "predict", str(SAMPLES), "--out", "p.csv", "--summary", "s.json"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    model = Path(json.loads((tmp_path / "s.json").read_text())["model"])
    assert model.is_relative_to(installed) and model.parts[-3:] == ("toolkit", "models", "reference.onnx")
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert len(rows) == len(list(SAMPLES.iterdir())) == 40
    assert all(row["status"] == "ok" for row in rows)
    # The true label is in each file name (sample-00000-png-label-7.png); the reference model reads them all.
    right = sum(row["digit"] == Path(row["path"]).stem.rsplit("-", 1)[1] for row in rows)
    assert right == 40


def test_a_missing_model_in_the_environment_variable_is_an_error_not_a_fallback(installed, tmp_path):
    env = {**_clean_env(), "MNIST_TOOLKIT_MODEL": str(tmp_path / "gone.onnx")}
    result = subprocess.run(
        [installed / "bin" / "mnist-toolkit", "predict", str(SAMPLES), "--out", "q.csv"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert f"MNIST_TOOLKIT_MODEL={tmp_path / 'gone.onnx'}: no such file or folder" in result.stderr
