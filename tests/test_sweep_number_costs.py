"""scripts/sweep_number_costs.py: with the shipped costs it reads every number as predict does, another cost
reads them otherwise and is put back after, and a cost it does not know is one clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts_loader import SCRIPTS, load_script
from toolkit.imaging import reading

sweep = load_script("sweep_number_costs")


@pytest.fixture(scope="module")
def numbers(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("numbers")
    command = [sys.executable, str(SCRIPTS / "render_scans_a.py"), str(out), "--kinds", "numbers", "--count", "12"]
    subprocess.run([*command, "--seed", "77", "--jobs", "1"], check=True, capture_output=True)
    return out


def test_the_shipped_costs_read_every_number_as_predict_does_and_another_cost_reads_otherwise(numbers):
    from toolkit.predict import predict_images

    lattices = sweep.lattices([numbers])
    assert len(lattices) == 12 and all(n.truth.isdigit() for n in lattices)
    files = [str(numbers / n.file.split("/", 1)[1]) for n in lattices]
    said = [r["text"] or "" for r in predict_images(files, multi_digit=True)]
    assert sweep.read_with(lattices, {}) == said
    shipped = reading.CUT_COST
    uncut = sweep.read_with(lattices, {"CUT_COST": 1000.0})  # a cut costs more than any reading gains
    assert reading.CUT_COST == shipped  # put back
    assert all(len(a) <= len(b) for a, b in zip(uncut, said, strict=True)) and uncut != said


def test_a_cost_the_reading_does_not_have_is_one_clear_error(numbers, capsys):
    for spelled in ("NOPE=1", "CUT_COST", "choose=1"):
        with pytest.raises(SystemExit) as raised:
            sweep.main([str(numbers), "--try", spelled])
        assert "expected NAME=v1,v2 with NAME a cost of toolkit.imaging.reading" in str(raised.value)
    with pytest.raises(SystemExit, match="no truth.csv"):
        sweep.main([str(numbers / "numbers")])
    assert sweep.main([str(numbers), "--try", "CUT_COST=1,1000", "--changes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("shipped costs: ") and lines[0].endswith("of 12 strings right")
    assert lines[1].startswith("CUT_COST=1: ") and "+0 -0, 0 read otherwise" in lines[1]  # the shipped value
