"""The scan renderer: the shipped samples come out byte for byte as before, pages and strips are
deterministic, labelled in their names and draw what they say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toolkit import data, scans

SAMPLES = Path(__file__).parents[1] / "artifacts" / "samples"


@pytest.fixture(scope="module")
def mnist_test():
    (_, _), (x_test, y_test) = data.load_mnist()
    return x_test, y_test


def test_the_shipped_samples_render_identically(tmp_path, mnist_test):
    x, y = mnist_test
    shipped = sorted(SAMPLES.glob("sample-000[0-1]*"))
    indices = [int(p.name.split("-")[1]) for p in shipped]
    made = scans.write_scans(x, y, tmp_path, seed=0, indices=indices, prefix="sample")
    assert [p.name for p in made] == [p.name for p in shipped]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(made, shipped, strict=True))


def test_pages_and_strips_are_deterministic_and_named_by_their_digits(tmp_path, mnist_test):
    x, y = mnist_test
    first = scans.write_strips(x, y, tmp_path / "a", count=3, heights=[30], seed=4)
    again = scans.write_strips(x, y, tmp_path / "b", count=3, heights=[30], seed=4)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    for path in first:
        text = scans.text_from_name(path)
        assert text is not None and 2 <= len(text) <= 6
    [page] = scans.write_pages(x, y, tmp_path / "c", count=1, heights=[60], seed=4, box=True)
    assert scans.text_from_name(page) is not None and len(scans.text_from_name(page)) == 1


def test_the_boxes_are_where_the_ink_is(mnist_test):
    x, y = mnist_test
    made = scans.render_strip([x[0], x[1], x[2]], [int(v) for v in y[:3]], np.random.default_rng(1), height=50)
    ink = 255 - np.asarray(made.image, dtype=np.int32)
    assert made.text == "".join(str(int(v)) for v in y[:3]) and len(made.boxes) == 3
    lefts = [b[0] for b in made.boxes]
    assert lefts == sorted(lefts)
    for left, top, width, height in made.boxes:
        assert 40 <= height <= 60
        assert ink[top : top + height, left : left + width].mean() > ink.mean()
    page = scans.render_page([x[0]], [int(y[0])], np.random.default_rng(2), height=80, header=True)
    assert page.image.size == scans.A4_200DPI
