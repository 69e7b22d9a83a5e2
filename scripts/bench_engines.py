"""Benchmark the two `predict` engines against each other on the same files, measured in one run.

Builds (once) a folder of N MNIST test images as PNG files, then, several times and alternating the order:

1. local, end to end: `mnist-toolkit predict FOLDER --engine local` as a user runs it (wall clock of the whole
   process, start-up included);
2. ray, end to end: the same with `--engine ray` (imports Ray, starts a local Ray instance sized to the
   machine, runs, shuts it down);
3. ray, warm: `predict_folder(..., engine="ray")` in a process where Ray is already running (as on a cluster
   driver, or a notebook): what a run costs once the Ray instance exists (actor pool start included).

It checks that both engines wrote byte-identical CSV files, then prints the medians and the ratios the README
quotes; `--json FILE` also writes them.

    python scripts/bench_engines.py --count 10000 --model toolkit/models/reference.onnx
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WARM = r"""
import json, logging, sys, time
import ray
from toolkit.predict import predict_folder
from toolkit.predict.options import cpu_count
folder, model, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
ray.init(address="local", num_cpus=cpu_count(), include_dashboard=False, log_to_driver=False,
         logging_level=logging.ERROR)
times, firsts, steady = [], [], []
for _ in range(repeats):
    started = time.perf_counter()
    n, first = 0, None
    for _record in predict_folder(folder, model=model, engine="ray"):
        n += 1
        if first is None:
            first = time.perf_counter()
    ended = time.perf_counter()
    times.append(ended - started)
    firsts.append(first - started)
    steady.append((n - 1) / (ended - first))
ray.shutdown()
print(json.dumps({"files": n, "seconds": times, "first_record": firsts, "steady_rate": steady}))
"""


def build_folder(folder: Path, count: int) -> Path:
    """N MNIST test digits as PNG files (cycling through the 10,000 test images); reused when already there."""
    from PIL import Image

    from toolkit import data

    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.png"))) == count:
        return folder
    (_, _), (x_test, y_test) = data.load_mnist()
    for i in range(count):
        path = folder / f"{i:06d}-label-{int(y_test[i % len(y_test)])}.png"
        if not path.exists():
            Image.fromarray(x_test[i % len(x_test)]).save(path)
    return folder


def run_cli(engine: str, folder: Path, model: Path, out: Path) -> float:
    """Wall clock of one `mnist-toolkit predict` process, from launch to exit."""
    command = [
        sys.executable,
        "-m",
        "toolkit",
        "predict",
        str(folder),
        "--model",
        str(model),
        "--out",
        str(out),
        "--engine",
        engine,
    ]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"predict --engine {engine} failed ({result.returncode}): {result.stderr.strip()}")
    noise = [line for line in result.stderr.splitlines() if not _summary_line(line)]
    if noise:
        print(f"  note: --engine {engine} printed {len(noise)} unexpected stderr line(s): {noise[0][:120]}")
    return seconds


def _summary_line(line: str) -> bool:
    return line.startswith(("scored ", "errors: ", "digits: ", "low confidence: ", "wrote ", "warning: "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="images in the folder (default 10,000)")
    parser.add_argument("--folder", type=Path, default=None, help="where to build or reuse the PNG folder")
    parser.add_argument("--model", type=Path, default=ROOT / "toolkit" / "models" / "reference.onnx")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each engine (the median is reported)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    if not args.model.is_file():
        raise SystemExit(f"no model at {args.model}; pass --model MODEL.onnx")
    folder = build_folder(args.folder or Path(tempfile.gettempdir()) / f"mnist-toolkit-bench-{args.count}", args.count)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.count:,} PNG files in {folder}; model {args.model}; {cpus} CPUs; {args.repeats} runs each")

    times: dict[str, list[float]] = {"local": [], "ray": []}
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {engine: Path(tmp) / f"{engine}.csv" for engine in times}
        for repeat in range(args.repeats):
            order = ("local", "ray") if repeat % 2 == 0 else ("ray", "local")
            for engine in order:
                seconds = run_cli(engine, folder, args.model, outputs[engine])
                times[engine].append(seconds)
                print(f"  run {repeat + 1}: {engine:5} {seconds:6.2f} s  ({args.count / seconds:,.0f} files/s)")
            identical = outputs["local"].read_bytes() == outputs["ray"].read_bytes()
            if not identical:
                raise SystemExit("the two engines wrote different CSV files")
        print("  outputs: byte-identical CSV from both engines")

    result = subprocess.run(
        [sys.executable, "-c", WARM, str(folder), str(args.model), str(args.repeats)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise SystemExit(f"warm Ray runs failed: {result.stderr.strip()[-2000:]}")
    warm = json.loads(result.stdout.strip().splitlines()[-1])
    for i, seconds in enumerate(warm["seconds"]):
        print(
            f"  run {i + 1}: ray warm (Ray already running) {seconds:6.2f} s  ({args.count / seconds:,.0f} files/s); "
            f"first record after {warm['first_record'][i]:.2f} s, then {warm['steady_rate'][i]:,.0f} files/s"
        )

    local, ray_cold, ray_warm = (statistics.median(v) for v in (times["local"], times["ray"], warm["seconds"]))
    figures = {
        "files": args.count,
        "cpus": cpus,
        "model": str(args.model),
        "repeats": args.repeats,
        "local_seconds": round(local, 2),
        "ray_seconds": round(ray_cold, 2),
        "ray_warm_seconds": round(ray_warm, 2),
        "local_files_per_second": round(args.count / local),
        "ray_files_per_second": round(args.count / ray_cold),
        "ray_warm_files_per_second": round(args.count / ray_warm),
        "ray_over_local": round(ray_cold / local, 2),
        "ray_warm_over_local": round(ray_warm / local, 2),
        "ray_warm_first_record_seconds": round(statistics.median(warm["first_record"]), 2),
        "ray_warm_steady_files_per_second": round(statistics.median(warm["steady_rate"])),
    }
    print(f"median local        {local:6.2f} s  {figures['local_files_per_second']:>7,} files/s")
    print(
        f"median ray (cold)   {ray_cold:6.2f} s  {figures['ray_files_per_second']:>7,} files/s  "
        f"{figures['ray_over_local']:.2f}x the local time"
    )
    print(
        f"median ray (warm)   {ray_warm:6.2f} s  {figures['ray_warm_files_per_second']:>7,} files/s  "
        f"{figures['ray_warm_over_local']:.2f}x the local time"
    )
    print(
        f"ray (warm): first record after {figures['ray_warm_first_record_seconds']:.2f} s (actor pool start), "
        f"then {figures['ray_warm_steady_files_per_second']:,} files/s"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
