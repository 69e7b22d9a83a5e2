"""scripts/render_whole_forms.py: deterministic whole form sheets, one handwritten digit each, with their truth."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.scripts_loader import load_script

mod = load_script("render_whole_forms")

SEED, COUNT = 0, 4  # seed 0's first four sheets: a landscape JPEG scan, a JPEG scan, a PNG scan and a photo
# Sheet pixel sizes (portrait width, height) of A4 and US letter at the renderer's resolutions.
SHEET_PX = {
    ("a4", 150): (1240, 1754),
    ("a4", 200): (1654, 2339),
    ("a4", 240): (1984, 2806),
    ("a4", 300): (2480, 3508),
    ("letter", 150): (1275, 1650),
    ("letter", 200): (1700, 2200),
    ("letter", 240): (2040, 2640),
    ("letter", 300): (2550, 3300),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, list[dict[str, str]]]:
    out = tmp_path_factory.mktemp("forms")
    assert mod.main([str(out), "--count", str(COUNT), "--seed", str(SEED)]) == 0
    with open(out / "truth.csv", newline="") as f:
        return out, list(csv.DictReader(f))


def traits_of(row: dict[str, str]) -> dict[str, str]:
    return dict(t.partition("=")[::2] for t in row["traits"].split())


def test_truth_rows_match_the_files(run):
    out, rows = run
    assert [r["file"] for r in rows] == [f"forms/{i:04d}.{Path(r['file']).suffix[1:]}" for i, r in enumerate(rows)]
    assert sorted(p.name for p in (out / "forms").iterdir()) == sorted(Path(r["file"]).name for r in rows)
    assert not list(out.rglob("*.tmp"))
    for row in rows:
        assert row["kind"] == "forms"
        traits = traits_of(row)
        assert ("jpeg" in traits) == row["file"].endswith(".jpg")
        assert ("png" in traits) == row["file"].endswith(".png")
        assert cv2.imread(str(out / row["file"]), cv2.IMREAD_UNCHANGED) is not None


def test_exactly_one_digit_is_recorded_per_sheet(run):
    _, rows = run
    assert len(rows) == COUNT
    for row in rows:
        assert row["truth"] in list("0123456789")
        words = row["traits"].split()
        assert sum(w.startswith("target=") for w in words) == 1
        assert sum(w.startswith("cell=") for w in words) == 1
        traits = traits_of(row)
        assert traits["target"].rstrip("0123456789") in mod.DIGIT_KINDS
        assert 4 <= int(traits["fields"]) <= 12
        assert 50 <= int(traits["digit"].rstrip("%")) <= 95


def test_scans_have_the_sheet_size_and_photos_the_camera_size(run):
    out, rows = run
    kinds = set()
    for row in rows:
        traits = traits_of(row)
        img = cv2.imread(str(out / row["file"]), cv2.IMREAD_UNCHANGED)
        height, width = img.shape[:2]
        if "photo" in traits:
            kinds.add("photo")
            assert traits["size"] == f"{width}x{height}" and 3000 <= max(width, height) <= 4000
            assert row["file"].endswith(".jpg") and img.ndim == 3
            continue
        kinds.add("scan")
        paper = "a4" if "a4" in traits else "letter"
        w, h = SHEET_PX[(paper, int(traits["dpi"]))]
        assert (width, height) == ((h, w) if "landscape" in traits else (w, h))
        assert img.ndim == (2 if "grey" in traits else 3)
    assert kinds == {"scan", "photo"}


def test_same_seed_same_bytes_other_seed_differs(run, tmp_path):
    out, rows = run
    rel, truth, traits = mod.render_one(2, SEED, str(tmp_path / "again"))
    assert (rel, truth, traits) == (rows[2]["file"], rows[2]["truth"], rows[2]["traits"])
    assert (tmp_path / "again" / rel).read_bytes() == (out / rel).read_bytes()
    other = mod.render_one(2, SEED + 1, str(tmp_path / "other"))
    first = cv2.imread(str(out / rel), cv2.IMREAD_UNCHANGED)
    second = cv2.imread(str(tmp_path / "other" / other[0]), cv2.IMREAD_UNCHANGED)
    assert other[2] != traits
    assert first.shape != second.shape or not np.array_equal(first, second)


def test_digit_ink_stays_in_and_around_its_box():
    digits = mod.training_digits()[0]
    for seed in range(12):  # enough draws to include digits touching a box edge (by at most 4 px)
        rng = np.random.default_rng(seed)
        style = mod.choose_style(rng, int(mod.pick(rng, mod.DPIS)))
        sheet = np.full((400, 400, 3), 240, np.float32)
        cell = (100, 100, 100 + style.side, 100 + style.side)
        traits = mod.write_digit(rng, sheet, digits[seed], cell, style, comb=False)
        ys, xs = np.nonzero((sheet < 200).any(axis=2))
        assert len(ys) > 0, traits
        assert cell[0] - 4 <= xs.min() and xs.max() < cell[2] + 4, traits
        assert cell[1] - 4 <= ys.min() and ys.max() < cell[3] + 4, traits
        assert 50 <= int(traits[0].removeprefix("digit=").rstrip("%")) <= 95, traits


@pytest.mark.parametrize("argv", [["out", "--count", "many"], ["out", "--count", "0"], ["--seed", "1"]])
def test_bad_arguments_exit_cleanly(argv, capsys):
    with pytest.raises(SystemExit) as info:
        mod.main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err
