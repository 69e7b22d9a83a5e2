"""Benchmark `mnist-toolkit predict` against the script a user would write instead, measured in one run.

Folders are built once (and reused): MNIST digits as 28x28 PNG files, dark ink on white as scans come (10,000
test digits, and a large set of `--large` files drawn from the training and test digits in turn), and
scan-like renderings (`toolkit.scans`: 40-200 px, dark ink on light paper, PNG/JPEG/TIFF/BMP/16-bit/RGBA) drawn
with a seed the preprocessing was never tuned on. On each folder, with warm files:

- decode-only: a one-process Pillow loop (open + load) and nothing else, the per-core decode rate;
- plain: a plain onnxruntime script, as a user writes it in a dozen lines (Pillow open, convert("L"),
  resize to 28x28, invert when the mean is bright, one session with the same model, batches of 256, a CSV
  line per file), start-up included;
- predict: `python -m toolkit predict FOLDER --out X.csv` with its defaults, start-up included.

plain and predict alternate, `--repeat` times each; medians count. Both are checked for one line per file and
scored against the labels in the file names. Then a per-stage breakdown, in CPU seconds on one core, of what
predict does per file (walk, read, decode, normalise, infer, records + CSV), so the next bottleneck is visible,
and the start-up cost: the `mnist-toolkit` console script on 40 files.

    python scripts/bench_predict.py [--count 10000] [--large 100000] [--seed 7] [--repeat 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import compileall
import io
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

PLAIN = r"""
import os, sys
import numpy as np, onnxruntime as ort
from PIL import Image
folder, model, out = sys.argv[1:4]
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs)
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
with open(out, "w") as fh:
    for i in range(0, len(paths), 256):
        chunk = paths[i:i + 256]
        x = np.stack([np.asarray(Image.open(p).convert("L").resize((28, 28)), np.float32) / 255 for p in chunk])
        x = np.where(x.mean(axis=(1, 2), keepdims=True) > 0.5, 1 - x, x)  # dark ink on white: make it MNIST's
        for p, row in zip(chunk, session.run(None, {name: x[..., None]})[0]):
            fh.write(f"{p},{row.argmax()},{row.max():.4f}\n")
"""


def build_mnist(folder: Path, count: int) -> Path:
    """`count` MNIST digits as dark-on-white PNG files, the test digits first, then the training ones, in turn
    (reused when already there)."""
    import numpy as np
    from PIL import Image

    from toolkit import data

    if _complete(folder, count):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    x, y = np.concatenate([x_test, x_train]), np.concatenate([y_test, y_train])
    for i in range(count):
        j = i % len(x)
        Image.fromarray(255 - x[j]).save(folder / f"{i:07d}-label-{int(y[j])}.png")
    return folder


def build_scans(folder: Path, count: int, seed: int) -> Path:
    """`count` scan-like renderings of MNIST test digits drawn with `seed` (reused when already there)."""
    from toolkit import data, scans

    if _complete(folder, count):
        return folder
    (_, _), (x_test, y_test) = data.load_mnist()
    scans.write_scans(x_test, y_test, folder, seed=seed, indices=range(min(count, len(x_test))))
    return folder


def _complete(folder: Path, count: int) -> bool:
    return folder.is_dir() and sum(1 for _ in os.scandir(folder)) == count


def decode_only(paths: list[str]) -> float:
    """Files per second of a one-process Pillow loop that only decodes."""
    from PIL import Image

    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.load()
    return len(paths) / (time.perf_counter() - started)


def wall(cmd: list[str]) -> float:
    """Wall seconds of a whole command, start-up included; exits on failure."""
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def accuracy(csv_path: Path, path_column: int, digit_column: int, header: bool) -> tuple[int, float]:
    """(rows, share of rows whose digit matches the label in the file name) of a CSV output."""
    import csv

    from toolkit.scans import label_from_name

    with open(csv_path, newline="") as fh:
        rows = list(csv.reader(fh))[1 if header else 0 :]
    right = sum(1 for r in rows if r[digit_column] != "" and int(r[digit_column]) == label_from_name(r[path_column]))
    return len(rows), right / max(1, len(rows))


def stages(folder: Path, model: Path) -> dict[str, float]:
    """CPU seconds per stage of predict's work on every file of `folder`, one core, one pass each."""
    import numpy as np

    from toolkit.imaging import normalise
    from toolkit.onnxmodel import OnnxModel
    from toolkit.predict import decode
    from toolkit.predict.options import PredictOptions
    from toolkit.predict.pipeline import make_records, pack
    from toolkit.predict.walk import Walker
    from toolkit.predict.writers import CsvWriter

    clock = time.process_time
    seconds: dict[str, float] = {}
    started = clock()
    paths = [found.path for found in Walker([str(folder)])]
    seconds["walk"] = clock() - started
    started = clock()
    sources = [decode.read_file(path) for path in paths]
    seconds["read"] = clock() - started
    started = clock()
    decoded = []
    for source in sources:  # the same choice of decoder as decode.prepare_path
        pixels = decode.decode_fast(source.getvalue())
        if pixels is None:
            pixels = decode.open_image(source)
            pixels.load()
        decoded.append(pixels)
    seconds["decode"] = clock() - started
    started = clock()
    results = [normalise.prepare_array(p) if isinstance(p, np.ndarray) else normalise.prepare(p) for p in decoded]
    seconds["normalise"] = clock() - started
    scorer = OnnxModel(model)
    tensors = np.stack([r.tensor for r in results])
    started = clock()
    probs = np.concatenate(
        [scorer.score(tensors[i : i + 256], with_not_digit=True) for i in range(0, len(tensors), 256)]
    )
    seconds["infer"] = clock() - started
    options = PredictOptions()
    items = [decode.Item(path, 0, r.tensor, blank=r.blank) for path, r in zip(paths, results, strict=True)]
    started = clock()
    meta, _ = pack(items)
    CsvWriter(io.StringIO(), options.columns()).write(make_records(meta, probs, options))
    seconds["records+write"] = clock() - started
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10000, help="files per folder")
    parser.add_argument("--large", type=int, default=100000, help="files in the large MNIST set (0: none)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the scan renderings")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command; the median counts")
    parser.add_argument("--model", type=Path, default=ROOT / "toolkit/models/reference.onnx")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "mnist-bench")
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    args = parser.parse_args()

    sets = {
        "mnist-png": build_mnist(args.folder / f"mnist-dark-{args.count}", args.count),
        "scans": build_scans(args.folder / f"scans-seed{args.seed}-{args.count}", args.count, args.seed),
    }
    if args.large:
        sets["mnist-png-large"] = build_mnist(args.folder / f"mnist-dark-{args.large}", args.large)
    results: dict = {"files": args.count, "cpus": os.cpu_count(), "scan_seed": args.seed, "sets": {}}
    python = sys.executable
    # As an installed package runs: pip compiles a wheel's modules to bytecode when it installs it, and a run
    # writes its own cache otherwise. Where PYTHONDONTWRITEBYTECODE is set (this machine's shell), the toolkit
    # would be compiled from source at every start (50 ms of the 40-file run), the plain script's libraries not.
    compileall.compile_dir(ROOT / "toolkit", quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        out, plain_out = Path(tmp) / "predictions.csv", Path(tmp) / "plain.csv"
        predict = [python, "-m", "toolkit", "predict", "--model", str(args.model), "--out", str(out)]
        plain = [python, "-c", PLAIN]
        for name, folder in sets.items():
            paths = sorted(str(p) for p in folder.iterdir())
            decode_only(paths[:2000])  # warm the page cache and Pillow's plugin registry
            times: dict[str, list[float]] = {"predict": [], "plain": []}
            for _ in range(args.repeat):  # alternated, so that a slow spell of the machine hits both
                times["predict"].append(wall([*predict, str(folder)]))
                times["plain"].append(wall([*plain, str(folder), str(args.model), str(plain_out)]))
            count = len(paths)
            rows, predict_acc = accuracy(out, 0, 2, header=True)
            plain_rows, plain_acc = accuracy(plain_out, 0, 1, header=False)
            if rows != count or plain_rows != count:
                raise SystemExit(f"{name}: predict wrote {rows} rows, plain {plain_rows}, for {count} files")
            predict_s, plain_s = statistics.median(times["predict"]), statistics.median(times["plain"])
            decode_rate = statistics.median(decode_only(paths) for _ in range(3))
            results["sets"][name] = {
                "predict_seconds": round(predict_s, 3),
                "plain_seconds": round(plain_s, 3),
                "files": count,
                "predict_files_per_s": round(count / predict_s),
                "plain_files_per_s": round(count / plain_s),
                "decode_only_files_per_s": round(decode_rate),
                "speedup_vs_plain": round(plain_s / predict_s, 2),
                "predict_vs_decode_only": round(count / predict_s / decode_rate, 2),
                "predict_accuracy": round(predict_acc, 4),
                "plain_accuracy": round(plain_acc, 4),
                "stages_cpu_us_per_file": {k: round(v / count * 1e6, 1) for k, v in stages(folder, args.model).items()},
            }
        small = Path(tmp) / "forty"
        small.mkdir()
        for path in sorted(sets["mnist-png"].iterdir())[:40]:
            (small / path.name).write_bytes(path.read_bytes())
        console = [str(Path(python).parent / "mnist-toolkit"), *predict[3:]]  # the console script users run
        results["startup_40_files_seconds"] = round(
            statistics.median(wall([*console, str(small)]) for _ in range(args.repeat)), 3
        )

    print(f"{args.count:,} files per set, {os.cpu_count()} CPUs, medians of {args.repeat} alternated runs")
    print(
        f"{'':12} {'predict':>9} {'plain':>9} {'speed-up':>9} {'decode-only':>12} {'vs decode':>10} "
        f"{'acc predict':>12} {'acc plain':>10}"
    )
    for name, r in results["sets"].items():
        print(
            f"{name:12} {r['predict_seconds']:8.2f}s {r['plain_seconds']:8.2f}s {r['speedup_vs_plain']:8.2f}x "
            f"{r['decode_only_files_per_s']:9,}/s {r['predict_vs_decode_only']:9.2f}x "
            f"{r['predict_accuracy']:12.4f} {r['plain_accuracy']:10.4f}"
        )
    print("CPU microseconds per file, one core:")
    for name, r in results["sets"].items():
        stage = r["stages_cpu_us_per_file"]
        print(f"  {name:10} " + "  ".join(f"{k} {v:.0f}" for k, v in stage.items()) + f"  = {sum(stage.values()):.0f}")
    print(f"predict on 40 files: {results['startup_40_files_seconds']:.2f} s wall")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
