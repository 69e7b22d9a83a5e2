"""The fifth scan renderer (scripts/render_scans_e.py, a tuning set written from the reading issue's list of
conditions only): truth.csv matches the files it wrote, blanks have no truth, numbers have 2-10 digits, the
same (seed, kind, index) gives byte-identical files whatever the number of worker processes, and ink is dark on
light paper."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rendered_scans import check_truth_table, check_two_workers_agree
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


def test_truth_csv_lists_every_file_written_and_its_truth(rendered):
    check_truth_table(rendered, KINDS, COUNT, longest_number=10)


def test_the_same_seed_gives_the_same_files_with_one_worker_or_two(rendered, tmp_path):
    check_two_workers_agree(SCRIPT, rendered, tmp_path, COUNT)


def test_an_unknown_kind_is_a_usage_error(renderer, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        renderer.main([str(tmp_path), "--kinds", "forms,letters"])
    assert exit_info.value.code == 2
