"""Checks shared by the tests of the scan renderers written from the reading issue's conditions
(scripts/render_scans_c.py and scripts/render_scans_e.py, in tests/test_render_scans_c_e.py): their truth.csv and
files agree, and the same seed gives the same files with one worker process or two."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def rows(out: Path) -> list[dict[str, str]]:
    """The rows of a rendered set's truth.csv."""
    with open(out / "truth.csv", newline="") as f:
        return list(csv.DictReader(f))


def check_truth_table(rendered: Path, kinds: str, count: int, longest_number: int) -> None:
    """truth.csv lists every file written, `count` of each of `kinds` (comma-separated) in that order, with its
    truth: none for a blank sheet, 2 to `longest_number` digits for a number, one digit otherwise; and every
    image with a digit is dark ink on light paper."""
    table = rows(rendered)
    assert list(table[0]) == ["file", "kind", "truth", "traits"]
    assert [r["kind"] for r in table] == [k for k in kinds.split(",") for _ in range(count)]
    written = {p.relative_to(rendered).as_posix() for k in kinds.split(",") for p in (rendered / k).iterdir()}
    assert written == {r["file"] for r in table}
    for r in table:
        assert r["traits"] and r["file"].startswith(r["kind"] + "/")
        if r["kind"] == "blanks":
            assert r["truth"] == ""
        elif r["kind"] == "numbers":
            assert r["truth"].isdigit() and 2 <= len(r["truth"]) <= longest_number
        else:
            assert len(r["truth"]) == 1 and r["truth"].isdigit()
        with Image.open(rendered / r["file"]) as img:
            grey = np.asarray(img.convert("L"), np.float32)
        if r["kind"] != "blanks":  # dark ink on light paper
            assert np.median(grey) > 120 and np.percentile(grey, 0.5) < np.median(grey) - 40, r


def check_two_workers_agree(script: Path, rendered: Path, out: Path, count: int) -> None:
    """`script` run as a user runs it (its worker processes import it by name, which a test's loader does not
    give), forms only, with two workers, writes the same bytes as `rendered` (one worker)."""
    command = [sys.executable, str(script), str(out), "--kinds", "forms", "--count", str(count), "--jobs", "2"]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    for r in rows(out):
        assert (out / r["file"]).read_bytes() == (rendered / r["file"]).read_bytes(), r["file"]
