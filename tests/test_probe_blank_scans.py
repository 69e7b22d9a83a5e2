"""scripts/probe_blank_scans.py: blank scans and photos render, are listed in truth.csv and are reproducible."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from tests.scripts_loader import load_script

COUNT = 12
SEED = 33  # twelve images: crops, pages and one phone photo; seed 34 starts with crops and a page


def _render(out: Path, seed: int, count: int = COUNT) -> list[dict[str, str]]:
    assert load_script("probe_blank_scans").main([str(out), "--count", str(count), "--seed", str(seed)]) == 0
    with open(out / "truth.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def test_blank_scans_render_listed_and_reproducible(tmp_path: Path) -> None:
    first = _render(tmp_path / "a", SEED)
    assert len(first) == COUNT
    assert list(first[0]) == ["file", "kind", "truth", "traits"]
    for row in first:
        assert row["kind"] == "blanks"
        assert row["truth"] == ""
        assert row["file"].startswith("blanks/")
        assert row["traits"]
        path = tmp_path / "a" / row["file"]
        assert path.is_file()
        with Image.open(path) as im:
            im.load()
            assert min(im.size) >= 40
        assert ("jpeg" in row["traits"].split("+")) == row["file"].endswith(".jpg")

    # same seed: the same list, byte for byte, and the same pixels
    again = _render(tmp_path / "b", SEED)
    assert (tmp_path / "a" / "truth.csv").read_bytes() == (tmp_path / "b" / "truth.csv").read_bytes()
    pngs = [row["file"] for row in first if row["file"].endswith(".png")]
    assert pngs, "expected at least one PNG among the images"
    assert np.array_equal(_pixels(tmp_path / "a" / pngs[0]), _pixels(tmp_path / "b" / pngs[0]))
    assert [row["file"] for row in again] == [row["file"] for row in first]

    # another seed: other images
    other = _render(tmp_path / "c", SEED + 1, count=4)
    differ = 0
    for a_row, c_row in zip(first[:4], other, strict=True):
        a_px, c_px = _pixels(tmp_path / "a" / a_row["file"]), _pixels(tmp_path / "c" / c_row["file"])
        differ += a_px.shape != c_px.shape or not np.array_equal(a_px, c_px)
    assert differ == 4
