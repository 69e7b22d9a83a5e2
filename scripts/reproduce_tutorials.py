"""Train every zoo architecture with its tutorial's recipe and compare with the accuracy the tutorial reported.

    python scripts/reproduce_tutorials.py [--arch NAME ...] [--out artifacts/runs/tutorials] [--resume]

Writes artifacts/reports/tutorials.md and tutorials.json. A reported figure counts as met when the measured
test accuracy is at most 0.5 points below it. With --resume, an architecture whose run folder already holds
a model and metrics.json (same recipe, same seed) is not trained again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from toolkit import zoo
from toolkit.train import train

TOLERANCE = 0.005
REPORTS = Path("artifacts/reports")


def run(arch: str, out: Path, resume: bool, seed: int) -> dict:
    metrics_path = out / arch / "metrics.json"
    if not (resume and metrics_path.exists() and (out / arch / f"{arch}.keras").exists()):
        train(arch, out / arch, seed=seed, force=True, verbose=2)
    metrics = json.loads(metrics_path.read_text())
    if metrics["recipe"] != zoo.get(arch).recipe.as_dict() or metrics["seed"] != seed:
        raise SystemExit(f"{metrics_path}: trained with another recipe or seed; run without --resume")
    reported = zoo.get(arch).reported_accuracy
    measured = metrics["test_accuracy"]
    return {
        "arch": arch,
        "source": zoo.get(arch).source,
        "reported_accuracy": reported,
        "measured_accuracy": round(measured, 4),
        "difference_points": None if reported is None else round((measured - reported) * 100, 2),
        "met": None if reported is None else measured >= reported - TOLERANCE,
        "train_seconds": metrics["train_seconds"],
        "params": metrics["params"],
        "recipe": metrics["recipe"],
        "versions": metrics["versions"],
    }


def markdown(rows: list[dict]) -> str:
    lines = [
        "# Tutorial reproduction",
        "",
        "Each zoo architecture trained with its tutorial's recipe (`scripts/reproduce_tutorials.py`, seed 0, "
        "CPU, 2 cores). A reported figure is met when the measured test accuracy is at most 0.5 points below it.",
        "",
        "| arch | tutorial | params | recipe | reported | measured | Δ points | met | train time (s) |",
        "|---|---|---:|---|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        recipe = r["recipe"]
        text = f"{recipe['optimizer']}, {recipe['epochs']} ep, batch {recipe['batch_size']}"
        if recipe["limit"]:
            text += f", first {recipe['limit']}"
        if recipe["augment"]:
            text += ", augmented"
        reported = "–" if r["reported_accuracy"] is None else f"{r['reported_accuracy']:.4f}"
        diff = "–" if r["difference_points"] is None else f"{r['difference_points']:+.2f}"
        met = "–" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['arch']} | {r['source']} | {r['params']:,} | {text} | {reported} | "
                     f"{r['measured_accuracy']:.4f} | {diff} | {met} | {r['train_seconds']:.0f} |")
    versions = rows[0]["versions"] if rows else {}
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", choices=list(zoo.ZOO), help="repeat; default: all")
    parser.add_argument("--out", type=Path, default=Path("artifacts/runs/tutorials"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = [run(arch, args.out, args.resume, args.seed) for arch in (args.arch or list(zoo.ZOO))]
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "tutorials.json").write_text(json.dumps(rows, indent=2) + "\n")
    (REPORTS / "tutorials.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0 if all(r["met"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
