"""Benchmark `mnist-toolkit parity` with and without a warm reference, as a CI job runs it.

A cnn3 model (trained briefly: the time parity takes does not depend on how well a model reads digits) is
exported to ONNX and TFLite once. Then, alternating, `--repeat` times each, as separate processes, start-up
included, on all 10,000 MNIST test images:

- cold: ONNX + TFLite against the Keras model with no cached reference (TensorFlow loads the model and runs
  it on every image: what every run did before references were cached);
- warm: the same command again, its reference outputs read from the cache;
- golden, no TensorFlow: one ONNX against a reference saved with --save-reference, with TensorFlow blocked
  from import (a CI job with only onnxruntime).

    python scripts/bench_parity.py [--model M.keras] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NO_TENSORFLOW = (
    "import sys\n"
    "for name in ('tensorflow', 'keras', 'tf2onnx'):\n"
    "    sys.modules[name] = None\n"
    "from toolkit.cli import app\n"
    "app(sys.argv[1:], prog_name='mnist-toolkit')\n"
)


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a cnn3 .keras model (default: train one briefly)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()

    from toolkit import data

    work = Path(tempfile.mkdtemp(prefix="bench-parity-"))
    # A private cache folder holding only the MNIST cache, so "cold" really starts without a reference.
    home = work / "home"
    home.mkdir()
    os.symlink(data.cache_path(), home / data.cache_path().name)
    env = {**os.environ, "MNIST_TOOLKIT_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cli = [sys.executable, "-m", "toolkit"]
    model = options.model
    if model is None:
        from toolkit.train import train

        model = train("cnn3", work / "cnn3", epochs=1, limit=4096, batch_size=128).model_path
    subprocess.run(
        [*cli, "export", str(model), "--format", "onnx,tflite", "--out", str(work / "exports")], check=True, env=env
    )
    onnx, tflite = next((work / "exports").glob("*.onnx")), next((work / "exports").glob("*.tflite"))
    golden = work / "golden.npz"
    subprocess.run(
        [*cli, "parity", str(model), str(onnx), "--save-reference", str(golden)],
        check=True,
        env=env,
        capture_output=True,
    )

    times: dict[str, list[float]] = {"cold": [], "warm": [], "golden-no-tf": []}
    for _ in range(options.repeat):
        shutil.rmtree(home / "parity", ignore_errors=True)
        times["cold"].append(timed([*cli, "parity", str(model), str(onnx), str(tflite)], env))
        times["warm"].append(timed([*cli, "parity", str(model), str(onnx), str(tflite)], env))
        times["golden-no-tf"].append(
            timed([sys.executable, "-c", NO_TENSORFLOW, "parity", str(golden), str(onnx)], env)
        )
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"parity of cnn3 on 10,000 images, medians of {options.repeat} alternated runs, start-up included")
    cold = medians["cold"]
    rows = (
        ("ONNX + TFLite, cold (Keras runs)", cold),
        ("ONNX + TFLite, warm reference", medians["warm"]),
        ("one ONNX, golden file, no TensorFlow", medians["golden-no-tf"]),
    )
    for label, seconds in rows:
        print(f"  {label:38} {seconds:6.2f} s  ({cold / seconds:.1f}x the cold run's speed)")
    if options.json:
        options.json.write_text(json.dumps({"medians": medians, "runs": times}, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
