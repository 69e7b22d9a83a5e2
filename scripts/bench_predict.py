"""Benchmark `mnist-toolkit predict` against its ceiling and against the naive way, measured in one run.

Builds (once) a folder of N MNIST test images as PNG files, then measures, on the same warm files:

1. decode-only: one process, a plain Pillow loop (open + load) and nothing else: the ceiling per core;
2. predict end to end: `mnist-toolkit predict FOLDER` as a user runs it, start-up included (wall clock of the
   whole process, from launch to exit);
3. naive Keras: a script that imports Keras, loads the .keras model, decodes with a Pillow loop and calls
   `model.predict`, start-up included.

It prints the three rates and the two ratios the README quotes (end-to-end / decode-only, and predict's
speed-up over the naive script); `--json FILE` also writes them. With `--rss` it samples the resident memory
of predict's whole process tree (main process plus workers) and reports the peak.

    python scripts/bench_predict.py --count 10000 --model toolkit/models/reference.onnx \\
        --keras artifacts/reference/model.keras
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAIVE = r"""
import os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras
from PIL import Image
folder, model_path, out = sys.argv[1:4]
model = keras.saving.load_model(model_path, compile=False)
paths = sorted(os.path.join(folder, name) for name in os.listdir(folder))
images = np.stack([np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255.0 for p in paths])
probabilities = model.predict(images[..., None], batch_size=256, verbose=0)
with open(out, "w") as fh:
    for path, row in zip(paths, probabilities):
        fh.write(f"{path},{int(row.argmax())},{row.max():.6f}\n")
"""


def build_folder(folder: Path, count: int) -> list[Path]:
    """N MNIST test images as PNG files (test images repeat past 10,000), reused when already there."""
    from PIL import Image

    from toolkit import data

    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("*.png"))
    if len(existing) == count:
        return existing
    for stale in existing:
        stale.unlink()
    (_, _), (x_test, y_test) = data.load_mnist()
    paths = []
    for i in range(count):
        path = folder / f"{i:07d}-label-{int(y_test[i % len(x_test)])}.png"
        Image.fromarray(x_test[i % len(x_test)]).save(path)
        paths.append(path)
    return paths


def decode_only(paths: list[Path]) -> float:
    """Files per second of a one-process Pillow loop that only decodes."""
    from PIL import Image

    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.load()
    return len(paths) / (time.perf_counter() - started)


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            with open(f"/proc/{current}/task/{current}/children") as fh:
                todo.extend(int(child) for child in fh.read().split())
        except OSError:
            continue
    return total


def timed(cmd: list[str], *, sample_rss: bool = False) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds of a whole command (start-up included) and, optionally, its peak tree RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    if sample_rss:
        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], tree_rss(proc.pid))
                time.sleep(0.05)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    done = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    if done.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{stderr[-2000:]}")
    return seconds, peak[0], done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10000, help="number of PNG files")
    parser.add_argument("--model", type=Path, default=ROOT / "toolkit/models/reference.onnx")
    parser.add_argument("--keras", type=Path, default=ROOT / "artifacts/reference/model.keras",
                        help="the same model as .keras, for the naive script (skipped if missing)")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "mnist-bench-png")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the median counts")
    parser.add_argument("--rss", action="store_true", help="also report predict's peak resident memory")
    parser.add_argument("--predict-args", default="", help="extra arguments for predict, e.g. '--workers 1'")
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    args = parser.parse_args()

    folder = args.folder / str(args.count)
    paths = build_folder(folder, args.count)
    decode_only(paths[:2000])  # warm the page cache and Pillow's plugin registry
    decode_rate = statistics.median(decode_only(paths) for _ in range(args.repeat))

    cli = [sys.executable, "-m", "toolkit", "predict", str(folder), "--model", str(args.model)]
    results: dict = {"files": args.count, "decode_only_files_per_s": round(decode_rate, 1), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "predictions.csv"
        runs = [timed([*cli, "--out", str(out), *args.predict_args.split()], sample_rss=args.rss)
                for _ in range(args.repeat)]
        seconds = statistics.median(r[0] for r in runs)
        results["predict_seconds"] = round(seconds, 3)
        results["predict_files_per_s"] = round(args.count / seconds, 1)
        if args.rss:
            results["predict_peak_rss_mb"] = round(max(r[1] for r in runs) / 2**20, 1)
        rows = out.read_text().count("\n") - 1
        if rows != args.count:
            raise SystemExit(f"predict wrote {rows} records for {args.count} files")
        if args.keras.is_file():
            naive = [timed([sys.executable, "-c", NAIVE, str(folder), str(args.keras), str(Path(tmp) / "n.csv")])
                     for _ in range(args.repeat)]
            naive_seconds = statistics.median(r[0] for r in naive)
            results["naive_keras_seconds"] = round(naive_seconds, 3)
            results["naive_keras_files_per_s"] = round(args.count / naive_seconds, 1)

    results["ratio_predict_vs_decode_only"] = round(results["predict_files_per_s"] / decode_rate, 3)
    if "naive_keras_files_per_s" in results:
        results["speedup_vs_naive_keras"] = round(results["predict_files_per_s"] /
                                                  results["naive_keras_files_per_s"], 2)
    print(f"files: {args.count:,} PNG ({folder}), {os.cpu_count()} CPUs")
    print(f"decode-only (1 process, Pillow open+load): {decode_rate:10,.0f} files/s")
    print(f"predict end to end (start-up included):    {results['predict_files_per_s']:10,.0f} files/s "
          f"({results['predict_seconds']:.2f} s)")
    if "naive_keras_files_per_s" in results:
        print(f"naive Keras script (start-up included):    {results['naive_keras_files_per_s']:10,.0f} files/s "
              f"({results['naive_keras_seconds']:.2f} s)")
    print(f"predict / decode-only: {results['ratio_predict_vs_decode_only']:.2f}x")
    if "speedup_vs_naive_keras" in results:
        print(f"predict vs naive Keras: {results['speedup_vs_naive_keras']:.2f}x faster")
    if args.rss:
        print(f"predict peak RSS (main process + workers): {results['predict_peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
