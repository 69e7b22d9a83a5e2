"""scripts/render_writers.py: the held-out "other writers" set agrees with its labels.csv and with MNIST's test
labels, is dark ink on light paper, 20-160 px a side, and is byte-for-byte reproducible from its seed."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.scripts_loader import load_script

SCRIPT = Path(__file__).parents[1] / "scripts" / "render_writers.py"
COUNT, SEED = 40, 20261203


@pytest.fixture(scope="module")
def script():
    return load_script("render_writers")


def _render(script, out: Path, *args: str) -> Path:
    assert script.main([str(out), "--count", str(COUNT), *args]) == 0
    return out


@pytest.fixture(scope="module")
def rendered(script, tmp_path_factory) -> Path:
    return _render(script, tmp_path_factory.mktemp("writers") / "set")


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "labels.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _images(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".png", ".jpg") and p.stem.isdigit()}


def test_files_and_labels_csv_agree(script, rendered):
    rows = _rows(rendered)
    assert list(rows[0]) == ["file", "label", "traits"]
    assert len(rows) == COUNT
    assert [r["file"] for r in rows] == sorted(_images(rendered))
    assert not [p.name for p in rendered.iterdir() if p.name.startswith(".")], "a temporary file was left behind"
    for r in rows:
        traits = r["traits"].split("+")
        assert 1 <= len(traits) <= 3 and len(set(traits)) == len(traits) and set(traits) <= set(script.TRAITS)


def test_labels_are_the_mnist_test_labels_of_the_chosen_digits(rendered):
    from toolkit import data

    _, (_, y_test) = data.load_mnist()
    order = np.random.default_rng(SEED).permutation(len(y_test))  # image k is MNIST test digit order[k]
    rows = _rows(rendered)
    assert all(r["label"] in set("0123456789") for r in rows)
    assert [int(r["label"]) for r in rows] == [int(y_test[order[int(Path(r["file"]).stem)]]) for r in rows]
    assert len({r["label"] for r in rows}) >= 8, "40 random test digits should cover most classes"


def test_dark_ink_on_light_paper_and_sizes(rendered):
    for name in _images(rendered):
        grey = np.asarray(Image.open(rendered / name).convert("L"), dtype=np.float64)
        assert 20 <= grey.shape[0] <= 160 and 20 <= grey.shape[1] <= 160, (name, grey.shape)
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        assert border.mean() > grey.min() + 30, f"{name}: border {border.mean():.0f}, darkest {grey.min():.0f}"
        assert border.mean() >= 150, f"{name}: the paper should be light"


def test_same_seed_is_byte_identical_and_another_seed_differs(script, rendered, tmp_path):
    again = _render(script, tmp_path / "again")
    assert _images(again) == _images(rendered)
    assert (again / "labels.csv").read_bytes() == (rendered / "labels.csv").read_bytes()
    other = _render(script, tmp_path / "other", "--seed", "7")
    assert (other / "labels.csv").read_bytes() != (rendered / "labels.csv").read_bytes()
    same_name = set(_images(other)) & set(_images(rendered))
    assert sum(_images(other)[n] == _images(rendered)[n] for n in same_name) == 0


def test_start_renders_the_same_images_as_a_slice_of_the_full_run(script, rendered, tmp_path):
    part = tmp_path / "part"
    assert script.main([str(part), "--count", "5", "--start", str(COUNT - 5), "--preview", "5"]) == 0
    full = _images(rendered)
    assert _images(part) == {name: full[name] for name in sorted(full)[-5:]}
    assert Image.open(part / "preview.png").size[0] > 0
