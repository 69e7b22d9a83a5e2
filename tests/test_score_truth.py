"""`scripts/score_truth.py`: the reading benchmark's scorer, on a folder of three images with their truth."""

from __future__ import annotations

import csv
import json

import numpy as np
from PIL import Image

from tests.scripts_loader import load_script


def _truth_folder(tmp_path, mnist_test):
    x, y = mnist_test
    first, second = (int(i) for i in np.flatnonzero(y == 3)[:2])
    rows = [
        ("forms/right.png", "forms", "3", x[first]),
        ("forms/wrong.png", "forms", "8", x[second]),  # a 3, said to be an 8: a miss of the reading
        ("blanks/paper.png", "blanks", "", np.zeros((28, 28), np.uint8)),
    ]
    for name, _, _, pixels in rows:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(255 - pixels).resize((84, 84), Image.BICUBIC).save(tmp_path / name)
    with open(tmp_path / "truth.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "kind", "truth", "traits"])
        writer.writerows((name, kind, truth, "plain") for name, kind, truth, _ in rows)
    return tmp_path


def test_scores_read_right_and_lists_every_miss_with_its_flags_and_not_digit(tmp_path, mnist_test):
    score_truth = load_script("score_truth")
    folder = _truth_folder(tmp_path, mnist_test)
    assert score_truth.main([str(folder), "--json", str(tmp_path / "s.json"), "--misses", "0"]) == 0
    figures = json.loads((tmp_path / "s.json").read_text())
    assert figures["forms"]["images"] == 2 and figures["forms"]["right"] == 0.5
    assert figures["blanks"]["right"] == 1.0 and figures["blanks"]["flagged_among_right"] == 0.0
    (miss,) = figures["forms"]["misses"]
    assert miss.startswith("forms/wrong.png: '8' read '3' (") and "not_digit 0." in miss
    # A sure 3 carries no flag: the miss says nobody was warned, and it counts as wrong and unflagged.
    assert ", unflagged;" in miss and figures["forms"]["wrong_unflagged"] == 0.5
