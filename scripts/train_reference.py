"""Make the shipped reference model: train the best zoo architecture, export it to ONNX, measure it, and write
toolkit/models/{reference.onnx, model_card.json} (package data: every install scores with it) and
artifacts/reference/model.keras (its Keras source, kept in the repository only).

    python scripts/train_reference.py [--arch cnn-bn] [--seed 0] [--from-run DIR] [--scan-count 10000]

--from-run reuses a model that `mnist-toolkit train --arch ARCH` (same recipe, same seed) already wrote to DIR,
e.g. the tutorial reproduction's run folder, instead of training again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from toolkit import data, models, runtimes, scans, zoo
from toolkit.export import export
from toolkit.train import train

KERAS_OUT = Path("artifacts/reference/model.keras")
ONNX_OUT, CARD_OUT = models.REFERENCE_ONNX, models.MODEL_CARD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="cnn-bn", choices=list(zoo.ZOO))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--from-run", type=Path, help="folder holding <arch>.keras and metrics.json")
    parser.add_argument("--scan-count", type=int, default=10000)
    args = parser.parse_args(argv)

    run = args.from_run or Path("artifacts/runs/reference")
    keras_path = run / f"{args.arch}.keras"
    if args.from_run is None:
        train(args.arch, run, seed=args.seed, force=True, verbose=2)
    metrics = json.loads((run / "metrics.json").read_text())
    if metrics["recipe"] != zoo.get(args.arch).recipe.as_dict() or metrics["seed"] != args.seed:
        raise SystemExit(f"{run}: trained with another recipe or seed than {args.arch}'s defaults, seed {args.seed}")

    KERAS_OUT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged_keras = Path(tmp) / "model.keras"
        shutil.copy(keras_path, staged_keras)
        result = export(staged_keras, ["onnx"], Path(tmp) / "export")
        shutil.copy(result.path("onnx"), ONNX_OUT.with_suffix(".part"))
        shutil.copy(staged_keras, KERAS_OUT.with_suffix(".part"))
    ONNX_OUT.with_suffix(".part").replace(ONNX_OUT)
    KERAS_OUT.with_suffix(".part").replace(KERAS_OUT)

    (_, _), (x_test, y_test) = data.load_mnist()
    onnx_probs = runtimes.load(ONNX_OUT).predict(data.to_model_input(x_test))
    onnx_accuracy = float(np.mean(onnx_probs.argmax(axis=1) == y_test))
    with tempfile.TemporaryDirectory() as tmp:
        scan = scans.scan_accuracy(ONNX_OUT, Path(tmp) / "scans", count=args.scan_count, seed=args.seed)

    card = {
        "architecture": args.arch,
        "summary": zoo.get(args.arch).summary,
        "recipe": metrics["recipe"],
        "seed": args.seed,
        "params": metrics["params"],
        "test_accuracy": round(metrics["test_accuracy"], 5),
        "onnx_test_accuracy": round(onnx_accuracy, 5),
        "scan_accuracy": round(scan.accuracy, 5),
        "scan_test": scan.as_dict(),
        "train_seconds": metrics["train_seconds"],
        "data_digest": metrics["data_digest"],
        "sha256": {str(KERAS_OUT): data.sha256_file(KERAS_OUT),
                   "toolkit/models/reference.onnx": data.sha256_file(ONNX_OUT)},
        "versions": metrics["versions"],
        "command": " ".join(["python scripts/train_reference.py", *(argv if argv is not None else sys.argv[1:])]),
        "trained_with": f"mnist-toolkit train --arch {args.arch} --seed {args.seed} (the zoo recipe, unchanged)",
        "input": {"name": zoo.INPUT_NAME, "shape": "[N,28,28,1]", "dtype": "float32",
                  "range": "[0,1], white ink on black"},
        "output": {"name": zoo.OUTPUT_NAME, "shape": "[N,10]", "dtype": "float32", "meaning": "softmax"},
    }
    CARD_OUT.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({k: card[k] for k in ("architecture", "test_accuracy", "onnx_test_accuracy", "scan_accuracy")},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
