"""The fifth scan renderer (scripts/render_scans_e.py, a tuning set written from the reading issue's list of
conditions only): truth.csv matches the files it wrote, blanks have no truth, numbers have 2-10 digits, the
same (seed, kind, index) gives byte-identical files whatever the number of worker processes, and ink is dark on
light paper."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.scripts_loader import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "render_scans_e.py"
KINDS = "forms,numbers,blanks"  # pages and photos are 2-12 MP: rendered for the tuning runs, not here
COUNT = 3


@pytest.fixture(scope="module")
def renderer():
    return load_script("render_scans_e")


@pytest.fixture(scope="module")
def rendered(renderer, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scans_e")
    renderer.main([str(out), "--kinds", KINDS, "--count", str(COUNT), "--jobs", "1"])
    return out


def rows(out: Path) -> list[dict[str, str]]:
    with open(out / "truth.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_truth_csv_lists_every_file_written_and_its_truth(rendered):
    table = rows(rendered)
    assert list(table[0]) == ["file", "kind", "truth", "traits"]
    assert sorted(r["kind"] for r in table) == sorted(k for k in KINDS.split(",") for _ in range(COUNT))
    written = {p.relative_to(rendered).as_posix() for k in KINDS.split(",") for p in (rendered / k).iterdir()}
    assert written == {r["file"] for r in table}
    for r in table:
        assert r["traits"] and r["file"].startswith(r["kind"] + "/")
        if r["kind"] == "blanks":
            assert r["truth"] == ""
        elif r["kind"] == "numbers":
            assert r["truth"].isdigit() and 2 <= len(r["truth"]) <= 10
        else:
            assert len(r["truth"]) == 1 and r["truth"].isdigit()
        with Image.open(rendered / r["file"]) as img:
            grey = np.asarray(img.convert("L"), np.float32)
        if r["kind"] != "blanks":  # dark ink on light paper
            assert np.median(grey) > 120 and np.percentile(grey, 0.5) < np.median(grey) - 40, r


def test_the_same_seed_gives_the_same_files_with_one_worker_or_two(rendered, tmp_path):
    # As a user runs it: its worker processes import the script by name, which a test's loader does not give.
    command = [sys.executable, str(SCRIPT), str(tmp_path), "--kinds", "forms", "--count", str(COUNT), "--jobs", "2"]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    for r in rows(tmp_path):
        assert (tmp_path / r["file"]).read_bytes() == (rendered / r["file"]).read_bytes(), r["file"]


def test_an_unknown_kind_is_a_usage_error(renderer, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        renderer.main([str(tmp_path), "--kinds", "forms,letters"])
    assert exit_info.value.code == 2
