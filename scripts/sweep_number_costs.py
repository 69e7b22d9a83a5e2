"""Re-read numbers with other costs for the choice among cuts, without segmenting them again: a tuning tool for
`toolkit.imaging.reading.choose`.

Reading a number has two halves: the segmenter offers a lattice of cuts and candidate spans (slow, done once
here per image, as `predict --multi-digit` does it: `decode.prepare_path`), and the model's scores for the spans
choose the reading by its costs (`reading.SURE_CAP`, `CUT_COST`, `DOUBT_COST`, ...; fast). This script keeps
each image's lattice and scores, then reads them again under each setting asked for, with the records' own
rule (`reading.read_number`), and says against the folder's truth (`truth.csv`: file,kind,truth, as the
renderers write it; only kind `numbers`) how many strings each setting reads right, and which records it
gains and loses against the shipped costs. With the shipped costs it reads every string as `predict` does
(tested).

    python scripts/sweep_number_costs.py FOLDER... [--try DOUBT_COST=15,20 --try SURE_CAP=9] [--changes]

Tune on the tuning renderings only (renderers A, D, E and their larger samples), and read the held-out ones
(B, C) once at the end, for the report.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass
class Number:
    file: str
    truth: str
    plan: str | None
    scored: np.ndarray  # the model's rows for the tensors: probabilities, then not_digit when it has one


def lattices(folders: list[Path], model: str | None = None) -> list[Number]:
    """Each number image of `folders` segmented once, as predict reads it, with the model's scores."""
    from toolkit.onnxmodel import OnnxModel
    from toolkit.predict.decode import prepare_path
    from toolkit.predict.options import resolve_model

    scorer = OnnxModel(resolve_model(model), threads=1)
    out = []
    for folder in folders:
        with open(folder / "truth.csv", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["kind"] == "numbers"]
        for row in rows:
            (item,) = prepare_path(str(folder / row["file"]), multi_digit=True)
            tensors = np.zeros((0, 28, 28), np.float32) if item.tensor is None or item.blank else item.tensor
            scored = scorer.score(tensors.reshape(-1, 28, 28), with_not_digit=True)
            out.append(Number(f"{folder.name}/{row['file']}", row["truth"], item.plan, scored))
    return out


def text(number: Number) -> str:
    """The digits read, as a record's `text` says them (`reading.read_number`)."""
    from toolkit.imaging import reading

    if not len(number.scored):
        return ""
    kept, *_ = reading.read_number(number.plan, number.scored)
    return "".join(str(int(number.scored[k, :10].argmax())) for k in kept)


def read_with(numbers: list[Number], costs: dict[str, float]) -> list[str]:
    """Every number's text with `costs` (names of `toolkit.imaging.reading`'s constants) in place of the shipped
    ones, which are put back after."""
    from toolkit.imaging import reading

    shipped = {name: getattr(reading, name) for name in costs}
    try:
        for name, value in costs.items():
            setattr(reading, name, value)
        return [text(n) for n in numbers]
    finally:
        for name, value in shipped.items():
            setattr(reading, name, value)


def settings(tries: list[str]) -> list[dict[str, float]]:
    """`--try NAME=v1,v2` values, one setting per value, each name alone (the others shipped)."""
    from toolkit.imaging import reading

    out = []
    for spelled in tries:
        name, _, values = spelled.partition("=")
        if not isinstance(getattr(reading, name, None), (int, float)) or not name.isupper() or not values:
            raise SystemExit(f"--try {spelled}: expected NAME=v1,v2 with NAME a cost of toolkit.imaging.reading")
        out.extend({name: float(v)} for v in values.split(","))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders with truth.csv and number images")
    parser.add_argument("--try", dest="tries", action="append", default=[], help="NAME=v1,v2 (repeatable)")
    parser.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--changes", action="store_true", help="list the records each setting gains and loses")
    args = parser.parse_args(argv)
    for folder in args.folders:
        if not (folder / "truth.csv").is_file():
            raise SystemExit(f"{folder}: no truth.csv (render a set first, e.g. scripts/render_scans_a.py)")
    trials = settings(args.tries)
    numbers = lattices(args.folders, args.model)
    shipped = read_with(numbers, {})
    right = [said == n.truth for said, n in zip(shipped, numbers, strict=True)]
    print(f"shipped costs: {sum(right)} of {len(numbers)} strings right")
    for costs in trials:
        said = read_with(numbers, costs)
        now = [s == n.truth for s, n in zip(said, numbers, strict=True)]
        gained = [k for k in range(len(numbers)) if now[k] and not right[k]]
        lost = [k for k in range(len(numbers)) if right[k] and not now[k]]
        spelled = " ".join(f"{k}={v:g}" for k, v in costs.items())
        otherwise = sum(a != b for a, b in zip(said, shipped, strict=True))
        print(f"{spelled}: {sum(now)} right, +{len(gained)} -{len(lost)}, {otherwise} read otherwise")
        if args.changes:
            for k in gained + lost:
                mark, number = "+" if now[k] else "-", numbers[k]
                print(f"  {mark} {number.file}: {number.truth} read {shipped[k]!r} -> {said[k]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
