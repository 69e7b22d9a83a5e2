"""Train every zoo architecture with its tutorial's recipe and compare with the accuracy the tutorial reported.

    python scripts/reproduce_tutorials.py [--arch NAME ...] [--seeds 0,1,2] [--threads N] [--out DIR] [--resume]

Each architecture with a reported figure is trained once per seed (default 0, 1 and 2) and reported as mean ±
standard deviation, since one run says little when runs differ by tenths of a point; the others are trained
with the first seed only. A reported figure counts as met when the mean is at most 0.5 points below it.
Writes artifacts/reports/tutorials.md and tutorials.json. With --resume, a run folder that already holds a
model and metrics.json (same recipe, seed and threads) is not trained again.

Same seed, same --threads (TensorFlow's thread count, default one per CPU) and the same kind of CPU give the
same weights; the report records the threads. Expect several hours on two cores for every seed of every row.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit import zoo  # noqa: E402 - after the path set-up, so the script runs from a checkout

TOLERANCE = 0.005
REPORTS = Path("artifacts/reports")


def run_one(arch: str, folder: Path, seed: int, threads: int | None, resume: bool) -> dict:
    """Train `arch` with `seed` into `folder` (or reuse it with --resume) and return its metrics.json."""
    from toolkit.train import train

    metrics_path = folder / "metrics.json"
    if not (resume and metrics_path.exists() and (folder / f"{arch}.keras").exists()):
        train(arch, folder, seed=seed, threads=threads, force=True, verbose=2)
    metrics = json.loads(metrics_path.read_text())
    same = (
        zoo.Recipe.from_dict(metrics["recipe"]) == zoo.get(arch).recipe
        and metrics["seed"] == seed
        and (threads is None or metrics.get("threads") == threads)
    )
    if not same:
        raise SystemExit(f"{metrics_path}: trained with another recipe, seed or thread count; run without --resume")
    return metrics


def summarise(arch: str, runs: list[dict]) -> dict:
    """One report row from the metrics of an architecture's runs (one per seed)."""
    accuracies = [r["test_accuracy"] for r in runs]
    mean = statistics.fmean(accuracies)
    std = statistics.stdev(accuracies) if len(accuracies) > 1 else None
    reported = zoo.get(arch).reported_accuracy
    return {
        "arch": arch,
        "source": zoo.get(arch).source,
        "reported_accuracy": reported,
        "seeds": [r["seed"] for r in runs],
        "threads": sorted({r.get("threads") for r in runs}, key=str),
        "accuracies": [round(a, 4) for a in accuracies],
        "measured_accuracy": round(mean, 4),
        "std": None if std is None else round(std, 4),
        "difference_points": None if reported is None else round((mean - reported) * 100, 2),
        "met": None if reported is None else mean >= reported - TOLERANCE,
        "train_seconds": round(statistics.fmean(r["train_seconds"] for r in runs), 1),
        "params": runs[0]["params"],
        "recipe": zoo.Recipe.from_dict(runs[0]["recipe"]).as_dict(),
        "versions": runs[0]["versions"],
    }


def markdown(rows: list[dict]) -> str:
    """The report as a Markdown table."""
    lines = [
        "# Tutorial reproduction",
        "",
        "Each zoo architecture trained with its tutorial's recipe (`scripts/reproduce_tutorials.py`, CPU). Rows "
        "with a reported figure: mean ± standard deviation over the seeds listed; the rest: one seed. A reported "
        "figure is met when the mean is at most 0.5 points below it.",
        "",
        "| arch | tutorial | params | recipe | reported | measured | Δ points | met | seeds | threads | "
        "train time (s) |",
        "|---|---|---:|---|---:|---:|---:|---|---|---:|---:|",
    ]
    for r in rows:
        recipe = r["recipe"]
        text = f"{recipe['optimizer']}, {recipe['epochs']} ep, batch {recipe['batch_size']}"
        if recipe["limit"]:
            text += f", first {recipe['limit']}"
        if recipe["augment"]:
            text += f", {recipe['augment']} augmentation"
        reported = "–" if r["reported_accuracy"] is None else f"{r['reported_accuracy']:.4f}"
        measured = f"{r['measured_accuracy']:.4f}" + ("" if r["std"] is None else f" ± {r['std']:.4f}")
        diff = "–" if r["difference_points"] is None else f"{r['difference_points']:+.2f}"
        met = "–" if r["met"] is None else ("yes" if r["met"] else "**no**")
        seeds = ", ".join(map(str, r["seeds"]))
        threads = ", ".join(str(t) for t in r["threads"] if t is not None) or "?"
        lines.append(
            f"| {r['arch']} | {r['source']} | {r['params']:,} | {text} | {reported} | {measured} | {diff} | "
            f"{met} | {seeds} | {threads} | {r['train_seconds']:.0f} |"
        )
    versions = rows[0]["versions"] if rows else {}
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", choices=list(zoo.ZOO), help="repeat; default: all")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds for rows with a reported figure")
    parser.add_argument("--threads", type=int, help="TensorFlow threads (default: one per CPU)")
    parser.add_argument("--out", type=Path, default=Path("artifacts/runs/tutorials"))
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if not seeds:
        parser.error("--seeds is empty")
    rows = []
    for arch in args.arch or list(zoo.ZOO):
        arch_seeds = seeds if zoo.get(arch).reported_accuracy is not None else seeds[:1]
        runs = [run_one(arch, args.out / arch / f"seed{seed}", seed, args.threads, args.resume) for seed in arch_seeds]
        rows.append(summarise(arch, runs))
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "tutorials.json").write_text(json.dumps(rows, indent=2) + "\n")
    (REPORTS / "tutorials.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0 if all(r["met"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
