"""The scan renderers written from the reading issue's list of conditions only: the second held-out one
(scripts/render_scans_c.py, numbers of 2-8 digits) and the third tuning one (scripts/render_scans_e.py, numbers of
2-10 digits). For each: truth.csv matches the files it wrote, blanks have no truth, numbers have their digits, the
same (seed, kind, index) gives byte-identical files whatever the number of worker processes, ink is dark on light
paper, and an unknown kind is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rendered_scans import check_truth_table, check_two_workers_agree
from tests.scripts_loader import load_script

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
KINDS = "forms,numbers,blanks"  # pages and photos are 2-12 MP: rendered for the benchmark and tuning runs, not here
# name: (images per kind, most digits in a number, what its main returns)
RENDERERS = {"render_scans_c": (2, 8, 0), "render_scans_e": (3, 10, None)}


@pytest.fixture(scope="module", params=sorted(RENDERERS))
def renderer(request):
    return request.param, load_script(request.param)


@pytest.fixture(scope="module")
def rendered(renderer, tmp_path_factory) -> Path:
    name, module = renderer
    count, _, returns = RENDERERS[name]
    out = tmp_path_factory.mktemp(name)
    assert module.main([str(out), "--kinds", KINDS, "--count", str(count), "--jobs", "1"]) == returns
    return out


def test_truth_csv_lists_every_file_written_and_its_truth(renderer, rendered):
    count, longest, _ = RENDERERS[renderer[0]]
    check_truth_table(rendered, KINDS, count, longest_number=longest)


def test_the_same_seed_gives_the_same_files_with_one_worker_or_two(renderer, rendered, tmp_path):
    name = renderer[0]
    check_two_workers_agree(SCRIPTS / f"{name}.py", rendered, tmp_path, RENDERERS[name][0])


def test_an_unknown_kind_is_a_usage_error(renderer, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        renderer[1].main([str(tmp_path), "--kinds", "forms,letters"])
    assert exit_info.value.code == 2
