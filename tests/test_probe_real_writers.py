"""scripts/probe_real_writers.py: its images are what it says they are, its data is read from the cache
without the network, and its figures add up."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from PIL import Image

from tests.scripts_loader import load_script

probe = load_script("probe_real_writers")


def test_a_digit_is_drawn_dark_on_white_at_each_settings_size():
    counts = np.zeros((8, 8), np.int64)
    counts[2:6, 3] = 16  # a stroke of full blocks
    counts[2:6, 4] = 8  # beside it, half-full ones
    small = probe.drawn(counts, "8 px")
    assert small.shape == (8, 8) and small.dtype == np.uint8
    assert small[3, 3] == 0 and small[3, 4] == 128 and small[0, 0] == 255
    enlarged = probe.drawn(counts, "32 px")
    assert enlarged.shape == (32, 32) and enlarged.min() < 32 and enlarged[0, 0] == 255  # bilinear: softened
    framed = probe.drawn(counts, "32 px in 48")
    assert framed.shape == (48, 48)
    assert (framed[:8] == 255).all() and (framed[:, -8:] == 255).all()  # 8 px of paper round the digit
    assert np.array_equal(framed[8:40, 8:40], enlarged)


def test_the_digits_come_from_the_cache_without_the_network(tmp_path, monkeypatch):
    rows = [[*range(64), 3], [*([16] * 64), 7]]
    with gzip.open(tmp_path / "uci-digits.csv.gz", "wt") as fh:
        fh.write("\n".join(",".join(map(str, row)) for row in rows) + "\n")

    def no_network(*args, **kwargs):
        raise AssertionError("the cache was there: nothing should be downloaded")

    monkeypatch.setattr(probe.subprocess, "run", no_network)
    images, labels = probe.cached_digits(tmp_path)
    assert images.shape == (2, 8, 8) and images[0, 1, 0] == 8 and (images[1] == 16).all()
    assert labels.tolist() == [3, 7]


def test_the_figures_count_right_wrong_flagged_and_no_digit(tmp_path, mnist_test):
    x, y = mnist_test
    labels = {}
    for i in range(12):
        name = f"{i:04d}.png"
        Image.fromarray(255 - x[i]).save(tmp_path / name)  # dark on white, as scans come
        labels[name] = int(y[i])
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(tmp_path / "0012.png")  # blank paper
    labels["0012.png"] = 1
    figures = probe.score(None, tmp_path, labels)
    assert figures["images"] == 13
    assert figures["no_digit"] == pytest.approx(1 / 13, abs=1e-4)
    assert figures["right"] == pytest.approx(12 / 13, abs=1e-4)  # the shipped model reads these 12 right
    assert figures["wrong_unflagged"] == 0.0 and figures["rejected"] <= 1 / 13 + 1e-4
    wrong = probe.score(None, tmp_path, {name: (digit + 1) % 10 for name, digit in labels.items()})
    assert wrong["right"] == 0.0 and wrong["right_flagged"] == 0.0
    assert wrong["wrong_unflagged"] > 0.5  # sure reads of the wrong label: what the figure is there to show


def test_an_mnist_digit_is_counted_in_blocks_as_the_uci_digits_were(mnist_test):
    x, _ = mnist_test
    counts = probe.block_counts(x[1])  # a 2
    assert counts.shape == (8, 8) and counts.min() >= 0 and counts.max() <= 16
    assert counts.max() >= 12  # solid strokes fill whole blocks
    assert (counts[0] > 0).any() and (counts[-1] > 0).any()  # fitted to the grid: ink in the first and last rows
