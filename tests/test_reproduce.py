"""scripts/reproduce_tutorials.py: seeds are summarised as mean ± standard deviation and judged on the mean
(the training itself is the train module's, tested in test_train.py)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from tests.scripts_loader import load_script

SCRIPT = Path(__file__).parents[1] / "scripts" / "reproduce_tutorials.py"


@pytest.fixture(scope="module")
def script():
    return load_script("reproduce_tutorials")


def _runs(accuracies: list[float]) -> list[dict]:
    return [
        {
            "test_accuracy": a,
            "seed": seed,
            "threads": 2,
            "train_seconds": 10.0 + seed,
            "params": 669706,
            "recipe": {"optimizer": "adam", "epochs": 4, "batch_size": 128, "limit": None, "augment": False},
            "versions": {"keras": "3"},
        }
        for seed, a in enumerate(accuracies)
    ]


def test_three_seeds_give_mean_and_std_and_the_mean_decides(script):
    row = script.summarise("mlp512x2", _runs([0.9761, 0.9747, 0.9770]))  # reported: 0.9805
    assert row["measured_accuracy"] == round(statistics.fmean([0.9761, 0.9747, 0.9770]), 4) == 0.9759
    assert row["std"] == round(statistics.stdev([0.9761, 0.9747, 0.9770]), 4) == 0.0012
    assert row["seeds"] == [0, 1, 2] and row["threads"] == [2] and row["train_seconds"] == 11.0
    assert row["difference_points"] == -0.46 and row["met"] is True
    low = script.summarise("mlp512x2", _runs([0.9761, 0.9747, 0.9740]))  # mean 0.9749: 0.56 points below
    assert low["met"] is False
    table = script.markdown([row, script.summarise("mlp1000", _runs([0.98]))])
    assert (
        "| mlp512x2 | tutorial 2 | 669,706 | adam, 4 ep, batch 128 | 0.9805 | 0.9759 ± 0.0012 | -0.46 | yes | "
        "0, 1, 2 | 2 | 11 |" in table
    )
    assert "| mlp1000 | tutorial 1 | 669,706 | adam, 4 ep, batch 128 | – | 0.9800 | – | – | 0 | 2 | 10 |" in table


def test_bad_seeds_are_a_usage_error(script, capsys):
    with pytest.raises(SystemExit) as exited:
        script.main(["--seeds", "0,one"])
    assert exited.value.code == 2 and "--seeds must be comma-separated integers" in capsys.readouterr().err
