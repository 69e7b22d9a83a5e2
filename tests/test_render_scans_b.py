"""The independent held-out scan renderer (scripts/render_scans_b.py): truth.csv matches the files it wrote, blanks
have no truth, numbers have 2-8 digits, the same seed gives byte-identical files, and ink is dark on light paper."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.scripts_loader import load_script as load_scripts_module

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "render_scans_b.py"
COUNT = 4


def load_script():
    return load_scripts_module("render_scans_b")


@pytest.fixture(scope="module")
def renderer():
    return load_script()


@pytest.fixture(scope="module")
def rendered(renderer, tmp_path_factory) -> Path:
    """Every kind, COUNT images each, small sizes, in this process."""
    out = tmp_path_factory.mktemp("scans_b")
    assert renderer.main([str(out), "--count", str(COUNT), "--small", "--jobs", "1", "--preview"]) == 0
    return out


def rows(out: Path) -> list[dict[str, str]]:
    with open(out / "truth.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_truth_csv_and_files_agree(rendered):
    table = rows(rendered)
    assert list(table[0]) == ["file", "kind", "truth", "traits"]
    kinds = ("pages", "forms", "photos", "numbers", "blanks")
    assert [r["kind"] for r in table] == [k for k in kinds for _ in range(COUNT)]
    written = {p.relative_to(rendered).as_posix() for k in kinds for p in (rendered / k).iterdir()}
    assert written == {r["file"] for r in table}  # every file listed, nothing else left (no temp files)
    for r in table:
        assert r["file"].startswith(r["kind"] + "/") and r["traits"]
        with Image.open(rendered / r["file"]) as img:
            assert img.format == ("JPEG" if r["file"].endswith(".jpg") else "PNG")
            assert img.mode in ("L", "RGB")
    for kind in kinds:
        assert (rendered / f"preview_{kind}.png").stat().st_size > 0


def test_truths_by_kind(rendered):
    for r in rows(rendered):
        if r["kind"] == "blanks":
            assert r["truth"] == ""
        elif r["kind"] == "numbers":
            assert r["truth"].isdigit() and 2 <= len(r["truth"]) <= 8
        else:
            assert r["truth"].isdigit() and len(r["truth"]) == 1


def test_dark_ink_on_light_paper(rendered):
    for r in rows(rendered):
        with Image.open(rendered / r["file"]) as img:
            grey = np.asarray(img.convert("L"), dtype=np.float32)
        paper = np.percentile(grey, 50)
        assert paper > (60 if r["kind"] == "photos" else 150), r  # photos may be in deep shadow
        if r["kind"] != "blanks":
            assert np.percentile(grey, 0.01) < paper - 60, r  # some clearly darker ink


def test_same_seed_is_byte_identical(renderer, tmp_path):
    """Two runs with one seed, one of them in worker processes, write the same bytes; another seed differs."""
    args = ["--kinds", "forms,numbers,blanks", "--count", "2", "--small"]
    renderer.main([str(tmp_path / "a"), *args, "--jobs", "1"])
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "b"), *args, "--jobs", "2"], check=True, cwd=ROOT)
    renderer.main([str(tmp_path / "c"), *args, "--jobs", "1", "--seed", "778"])
    files = [r["file"] for r in rows(tmp_path / "a")] + ["truth.csv"]
    assert files[:-1] == [r["file"] for r in rows(tmp_path / "b")]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "truth.csv").read_bytes() != (tmp_path / "c" / "truth.csv").read_bytes()


def test_rejects_unknown_kind(renderer, tmp_path):
    with pytest.raises(SystemExit):
        renderer.main([str(tmp_path), "--kinds", "pages,letters"])
