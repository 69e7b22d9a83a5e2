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

Then, at scale (`--skip scale` leaves it out), with 1 and then 2 worker CPUs:

4. local with `--workers K`, end to end, as in 1;
5. ray dataset, warm: `run(..., out="DIR/", engine="ray")` in a process where a Ray instance of K CPUs is
   running: the workers write the shards, the driver walks; its wall time, and the driver's own CPU time per
   file (`time.process_time` of the driver process, which includes Ray's threads in it), over the whole run
   and per file beyond a fifth of the folder (a run on the files labelled 0 or 5 subtracted: the run's fixed
   costs left out, which is what 100M files cost).

    python scripts/bench_engines.py --count 10000 --model toolkit/models/reference.onnx [--skip compare scale]
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


SCALE = r"""
import json, logging, shutil, sys, time
import ray
from toolkit.predict.options import PredictOptions
from toolkit.predict.runner import run
folder, model, repeats, cpus, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
def once(inputs):
    shutil.rmtree(out, ignore_errors=True)
    cpu, wall = time.process_time(), time.perf_counter()
    summary = run(inputs, PredictOptions(model=model), out=out + "/", engine="ray")
    return time.perf_counter() - wall, time.process_time() - cpu, summary.files
seconds, driver, marginal = [], [], []
once([folder])  # warms Ray up (imports, worker processes): not counted
for repeat in range(repeats):
    wall, cpu, files = once([folder])
    _, part_cpu, part_files = once([folder + "/*-label-[05].png"])  # about a fifth: the digits labelled 0 or 5
    seconds.append(wall)
    driver.append(cpu / files * 1e6)
    marginal.append((cpu - part_cpu) / (files - part_files) * 1e6)
ray.shutdown()
print(json.dumps({"files": files, "seconds": seconds, "driver_us_per_file": driver, "marginal_us_per_file": marginal}))
"""


def scale(folder: Path, model: Path, count: int, repeats: int) -> dict:
    """Throughput against worker CPUs (1, 2), local engine and warm Ray dataset, and the driver's CPU per file."""
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cpus in (1, 2):
            local = [
                run_cli("local", folder, model, Path(tmp) / "local.csv", ["--workers", str(cpus)])
                for _ in range(repeats)
            ]
            result = subprocess.run(
                [sys.executable, "-c", SCALE, str(folder), str(model), str(repeats), str(cpus), f"{tmp}/ds"],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if result.returncode != 0:
                raise SystemExit(f"Ray dataset runs failed: {result.stderr.strip()[-2000:]}")
            ray = json.loads(result.stdout.strip().splitlines()[-1])
            local_s, ray_s = statistics.median(local), statistics.median(ray["seconds"])
            driver = statistics.median(ray["driver_us_per_file"])
            marginal = statistics.median(ray["marginal_us_per_file"])
            figures[f"cpus_{cpus}"] = {
                "local_seconds": round(local_s, 2),
                "local_files_per_second": round(count / local_s),
                "ray_dataset_warm_seconds": round(ray_s, 2),
                "ray_dataset_warm_files_per_second": round(count / ray_s),
                "ray_dataset_warm_over_local": round(ray_s / local_s, 2),
                "driver_cpu_us_per_file": round(driver, 2),
                "driver_cpu_us_per_extra_file": round(marginal, 2),
            }
            print(
                f"{cpus} CPU(s): local {local_s:6.2f} s ({count / local_s:,.0f} files/s); ray dataset warm "
                f"{ray_s:6.2f} s ({count / ray_s:,.0f} files/s, {ray_s / local_s:.2f}x the local time); "
                f"driver CPU {driver:.2f} us/file, {marginal:.2f} us per file beyond a fifth"
            )
    return figures


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


def run_cli(engine: str, folder: Path, model: Path, out: Path, more: list[str] | None = None) -> float:
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
        *(more or []),
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
    parser.add_argument("--skip", nargs="*", default=(), choices=("compare", "scale"))
    args = parser.parse_args()
    if not args.model.is_file():
        raise SystemExit(f"no model at {args.model}; pass --model MODEL.onnx")
    folder = build_folder(args.folder or Path(tempfile.gettempdir()) / f"mnist-toolkit-bench-{args.count}", args.count)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.count:,} PNG files in {folder}; model {args.model}; {cpus} CPUs; {args.repeats} runs each")
    figures = {} if "compare" in args.skip else compare(folder, args)
    if "scale" not in args.skip:
        figures["scale"] = scale(folder, args.model, args.count, args.repeats)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")


def compare(folder: Path, args: argparse.Namespace) -> dict:
    """Local against Ray, cold and warm, single-file output (1-3 above)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

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
    return figures


if __name__ == "__main__":
    main()
