"""scripts/render_scans_a.py: the tuning set of realistic scans agrees with its truth.csv, has the promised sizes
and formats, draws dark ink on light paper, and is byte-for-byte reproducible from its seed whatever --jobs is."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.scripts_loader import load_script

COUNT, SEED = 3, 4242
KINDS = ("pages", "forms", "photos", "numbers", "blanks")


@pytest.fixture(scope="module")
def script():
    return load_script("render_scans_a")


def _render(script, out: Path, *args: str) -> Path:
    assert script.main([str(out), "--count", str(COUNT), "--small", *args]) == 0
    return out


@pytest.fixture(scope="module")
def rendered(script, tmp_path_factory) -> Path:
    return _render(script, tmp_path_factory.mktemp("scans_a") / "set", "--seed", str(SEED), "--preview")


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "truth.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _images(out: Path) -> dict[str, bytes]:
    """Every rendered image under out, by its path relative to out."""
    return {f"{p.parent.name}/{p.name}": p.read_bytes() for kind in KINDS for p in sorted((out / kind).glob("*.*"))}


def test_truth_csv_and_files_agree(rendered):
    rows = _rows(rendered)
    assert list(rows[0]) == ["file", "kind", "truth", "traits"]
    assert [r["file"] for r in rows] == sorted(_images(rendered), key=lambda f: (KINDS.index(f.split("/")[0]), f))
    assert [r["kind"] for r in rows] == [k for k in KINDS for _ in range(COUNT)]
    for r in rows:
        kind, name = r["file"].split("/")
        assert kind == r["kind"] and name.split(".")[0] in {f"{i:04d}" for i in range(COUNT)}
        traits = r["traits"].split("+")
        assert traits and all(traits) and len(set(traits)) == len(traits)
        assert r["truth"] == "" or r["truth"].isdigit()
    assert not list(rendered.rglob(".*")), "a temporary file was left behind"


def test_truth_per_kind(rendered):
    for r in _rows(rendered):
        if r["kind"] == "blanks":
            assert r["truth"] == ""
        elif r["kind"] == "numbers":
            assert 2 <= len(r["truth"]) <= 12
        else:
            assert len(r["truth"]) == 1


def test_sizes_and_formats(script, rendered):
    for r in _rows(rendered):
        with Image.open(rendered / r["file"]) as image:
            assert image.format == ("JPEG" if r["file"].endswith(".jpg") else "PNG")
            assert image.mode in ("L", "RGB")
            assert ("jpeg" in r["traits"].split("+")) == (image.format == "JPEG") or r["kind"] == "photos"
            assert ("grey" in r["traits"].split("+")) == (image.mode == "L")
            w, h = image.size
        if r["kind"] == "photos":
            assert image.format == "JPEG" and image.mode == "RGB"
            assert (w, h) in ((1000, 750), (750, 1000))  # 4000 x 3000 at a quarter
        elif r["kind"] == "pages" or "page" in r["traits"].split("+"):
            sheet = script.A4_MM if "a4" in r["traits"].split("+") else script.LETTER_MM
            assert abs(h / w - sheet[1] / sheet[0]) < 0.01
            assert sheet[0] / 25.4 * 130 / 4 - 1 <= w <= sheet[0] / 25.4 * 200 / 4 + 1  # 130-200 dpi, quarter size
        elif r["kind"] == "forms":
            assert 30 <= min(w, h) and max(w, h) <= 1600
        else:
            assert 20 <= h <= 1200 and 30 <= w <= 2500


def test_dark_ink_on_light_paper(rendered):
    for r in _rows(rendered):
        grey = np.asarray(Image.open(rendered / r["file"]).convert("L"), np.float32)
        paper, darkest = np.percentile(grey, 75), np.sort(grey, axis=None)[10]  # a small digit has few pixels
        assert paper > 110, r  # light paper (photos have dim corners, so not the median of the brightest)
        if r["truth"]:
            assert paper - darkest > 60, r  # the digits are plainly darker than the paper


def test_previews_written(rendered):
    for kind in KINDS:
        with Image.open(rendered / f"preview_{kind}.png") as preview:
            assert preview.size[0] > 100 and preview.size[1] > 100


def test_number_row_places_touching_and_spaced_digits(script):
    """A gap of 0 makes neighbouring inks meet on some row, a positive gap keeps them that far apart."""
    bar = np.zeros((20, 4), np.float32)
    bar[:, 1:3] = 1.0
    for gap, touching in ((0, True), (-1, True), (5, False)):
        row, boxes = script.number_row([bar, bar], [-20, -20], [gap])
        (x0, _, w0, _), (x1, _, _, _) = boxes
        assert (x1 - (x0 + w0) <= 0) == touching
        if not touching:
            assert x1 - (x0 + w0) == gap
        assert row.shape[0] == 20


def test_render_one_is_deterministic_and_seeded(script):
    from toolkit import data

    (x_train, y_train), _ = data.load_mnist()
    script._init(x_train, y_train)
    for kind in KINDS:
        a, b = script.render_one(kind, 1, SEED, small=True), script.render_one(kind, 1, SEED, small=True)
        assert np.array_equal(a.image, b.image) and a.truth == b.truth and a.traits == b.traits
        c = script.render_one(kind, 1, SEED + 1, small=True)
        assert c.image.shape != a.image.shape or not np.array_equal(a.image, c.image)


def test_same_seed_same_bytes_any_jobs_other_seed_differs(script, rendered, tmp_path):
    again = _render(script, tmp_path / "again", "--seed", str(SEED), "--jobs", "2")
    assert _images(again) == _images(rendered)
    assert (again / "truth.csv").read_text() == (rendered / "truth.csv").read_text()
    other = _images(_render(script, tmp_path / "other", "--seed", str(SEED + 1)))
    first = _images(rendered)
    assert all(other.get(name) != data for name, data in first.items())


def test_rerender_of_some_kinds_keeps_the_others(script, tmp_path):
    out = _render(script, tmp_path / "set", "--kinds", "forms,numbers")
    assert {r["kind"] for r in _rows(out)} == {"forms", "numbers"}
    _render(script, out, "--kinds", "forms", "--count", "2", "--seed", "7")
    rows = _rows(out)
    assert [r["kind"] for r in rows] == ["forms"] * 2 + ["numbers"] * COUNT
    assert sorted(p.name for p in (out / "forms").iterdir()) == sorted(Path(r["file"]).name for r in rows[:2])


def test_rejects_unknown_kinds(script, tmp_path):
    with pytest.raises(SystemExit):
        script.main([str(tmp_path / "x"), "--kinds", "pages,faces"])


def test_test_digits_draw_the_same_scenes_with_other_digits(script, rendered, tmp_path):
    """--digits test: the digits come from MNIST's test set (the shipped model never trained on them); blank
    sheets hold no digit, so they are the same bytes, while the scenes with digits are not."""
    out = _render(script, tmp_path / "test", "--seed", str(SEED), "--kinds", "forms,blanks", "--digits", "test")
    mine, train = _images(out), _images(rendered)
    assert all(mine[name] == train[name] for name in mine if name.startswith("blanks/"))
    assert all(mine[name] != train[name] for name in mine if name.startswith("forms/"))
    with pytest.raises(SystemExit):
        script.main([str(tmp_path / "x"), "--digits", "validation"])
