"""Make the shipped reference model: train the best zoo architecture, export it to ONNX, measure it, and write
toolkit/models/{reference.onnx, model_card.json} (package data: every install scores with it) and
artifacts/reference/model.keras (its Keras source, kept in the repository only).

    python scripts/train_reference.py [--arch cnn-bn] [--epochs N] [--seed 0] [--threads N] [--from-run DIR]
                                      [--scan-count 10000]
    python scripts/train_reference.py --measure-only   # re-measure the shipped model's card figures, no training

--from-run reuses a model that `mnist-toolkit train --arch ARCH --epochs N` (same recipe, same seed) already wrote
to DIR instead of training again. The card records the test and scan accuracy and the single-thread
onnxruntime throughput of the new model and of the model it replaces, measured in the same run on the same
images.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from toolkit import data, models, runtimes, scans, zoo
from toolkit.export import export
from toolkit.kerasmodel import load_keras_model, save_keras_model
from toolkit.train import calibrate, digit_probabilities, nll, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_card  # noqa: E402  (scripts/: the figures beyond MNIST)
import render_writers  # noqa: E402  (scripts/: the held-out other writers, rendered apart from training code)

HELDOUT_COUNT = 3000  # render_writers.py's default seed

KERAS_OUT = Path("artifacts/reference/model.keras")
ONNX_OUT, CARD_OUT = models.REFERENCE_ONNX, models.MODEL_CARD
REFERENCE_EPOCHS = None  # None: the zoo recipe's epochs
THROUGHPUT_BATCH, THROUGHPUT_REPEATS = 256, 5


def throughput(paths: list[Path], images: np.ndarray) -> list[float]:
    """Images per second of each ONNX model on `images`: onnxruntime on one thread (predict's scorer), batches of
    THROUGHPUT_BATCH, median of THROUGHPUT_REPEATS runs; the models take turns so that load on the machine
    hits them alike."""
    from toolkit.onnxmodel import OnnxModel

    scorers = [OnnxModel(path, threads=1) for path in paths]
    for scorer in scorers:
        scorer.score(images[:THROUGHPUT_BATCH])  # warm-up
    runs: list[list[float]] = [[] for _ in scorers]
    for _ in range(THROUGHPUT_REPEATS):
        for scorer, times in zip(scorers, runs, strict=True):
            started = time.perf_counter()
            for i in range(0, len(images), THROUGHPUT_BATCH):
                scorer.score(images[i : i + THROUGHPUT_BATCH])
            times.append(len(images) / (time.perf_counter() - started))
    return [round(statistics.median(times), 1) for times in runs]


def throughput_entry(rate: float, previous_rate: float | None) -> dict:
    """The model card's `ort_single_thread` entry."""
    return {
        "images_per_second": rate,
        "replaced_model_images_per_second": previous_rate,
        "ratio_to_replaced": round(rate / previous_rate, 3) if previous_rate else None,
        "how": f"onnxruntime CPU, 1 intra-op thread, batches of {THROUGHPUT_BATCH} over the 10,000 test images, "
        f"median of {THROUGHPUT_REPEATS} runs" + (", both models in turn in one run" if previous_rate else ""),
    }


def measure_only() -> int:
    """Re-measure the shipped model's ONNX test accuracy and throughput into its card, training nothing."""
    card = json.loads(CARD_OUT.read_text())
    (_, _), (x_test, y_test) = data.load_mnist()
    images = data.to_model_input(x_test)
    card["onnx_test_accuracy"] = round(
        float(np.mean(runtimes.load(ONNX_OUT).predict(images).argmax(axis=1) == y_test)), 5
    )
    (rate,) = throughput([ONNX_OUT], images[..., 0])
    card["ort_single_thread"] = throughput_entry(rate, None)
    CARD_OUT.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({k: card[k] for k in ("onnx_test_accuracy", "ort_single_thread")}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="cnn-lite", choices=list(zoo.ZOO))
    parser.add_argument("--epochs", type=int, default=REFERENCE_EPOCHS, help="override the recipe's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="TensorFlow threads (default: one per CPU); part of the seed")
    parser.add_argument("--from-run", type=Path, help="folder holding <arch>.keras and metrics.json")
    parser.add_argument("--scan-count", type=int, default=10000)
    parser.add_argument("--measure-only", action="store_true", help="re-measure the shipped model; train nothing")
    args = parser.parse_args(argv)
    if args.measure_only:
        return measure_only()

    run = args.from_run or Path("artifacts/runs/reference")
    keras_path = run / f"{args.arch}.keras"
    recipe = zoo.get(args.arch).recipe.with_overrides(epochs=args.epochs)
    if args.from_run is None:
        train(args.arch, run, seed=args.seed, threads=args.threads, force=True, verbose=2, epochs=args.epochs)
    metrics = json.loads((run / "metrics.json").read_text())
    threads = metrics["threads"]
    if (
        zoo.Recipe.from_dict(metrics["recipe"]) != recipe
        or metrics["seed"] != args.seed
        or args.threads not in (None, threads)
    ):
        raise SystemExit(
            f"{run}: trained with another recipe, seed or thread count than {args.arch}'s with epochs "
            f"{recipe.epochs}, seed {args.seed}" + (f", {args.threads} threads" if args.threads else "")
        )
    previous = Path(tempfile.mkdtemp()) / "previous.onnx"
    if ONNX_OUT.is_file():
        shutil.copy(ONNX_OUT, previous)

    KERAS_OUT.parent.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    with tempfile.TemporaryDirectory() as tmp:
        staged_keras = Path(tmp) / "model.keras"
        model = load_keras_model(keras_path)
        before = digit_probabilities(model, data.to_model_input(x_test))
        # `train` calibrates label-smoothed models itself; a run from before it did is calibrated here, the same way.
        temperature, fitted_by = metrics.get("temperature"), "mnist-toolkit train"
        if temperature is None and recipe.label_smoothing:
            temperature = calibrate(model, data.to_model_input(x_train), y_train)
            fitted_by = "scripts/train_reference.py"
        save_keras_model(model, staged_keras)
        result = export(staged_keras, ["onnx"], Path(tmp) / "export")
        shutil.copy(result.path("onnx"), ONNX_OUT.with_suffix(".part"))
        shutil.copy(staged_keras, KERAS_OUT.with_suffix(".part"))
    ONNX_OUT.with_suffix(".part").replace(ONNX_OUT)
    KERAS_OUT.with_suffix(".part").replace(KERAS_OUT)

    onnx_probs = runtimes.load(ONNX_OUT).predict(data.to_model_input(x_test))
    onnx_accuracy = float(np.mean(onnx_probs.argmax(axis=1) == y_test))
    if not np.array_equal(onnx_probs.argmax(axis=1), before.argmax(axis=1)):
        raise SystemExit("calibration changed a predicted digit; it must only rescale the confidences")
    replaced = None
    with tempfile.TemporaryDirectory() as tmp:
        heldout_dir = Path(tmp) / "heldout"
        render_writers.main([str(heldout_dir), "--count", str(HELDOUT_COUNT)])
        beyond = reference_card.card(ONNX_OUT, heldout_dir)
        previous_beyond = reference_card.card(previous, heldout_dir) if previous.is_file() else None
        scan = scans.scan_accuracy(ONNX_OUT, Path(tmp) / "scans", count=args.scan_count, seed=args.seed)
        if previous.is_file():  # the model it replaces, on the same test images and the same renderings
            previous_probs = runtimes.load(previous).predict(data.to_model_input(x_test))
            replaced = {
                "test_accuracy": round(float(np.mean(previous_probs.argmax(axis=1) == y_test)), 5),
                "scan_accuracy": round(
                    scans.scan_accuracy(previous, Path(tmp) / "scans", count=args.scan_count, seed=args.seed).accuracy,
                    5,
                ),
                "sha256": data.sha256_file(previous),
                "beyond_mnist": previous_beyond,
            }
    images = data.to_model_input(x_test)[..., 0]
    if previous.is_file():
        rate, previous_rate = throughput([ONNX_OUT, previous], images)
    else:
        (rate,), previous_rate = throughput([ONNX_OUT], images), None
    shutil.rmtree(previous.parent)
    epochs = "" if args.epochs is None else f" --epochs {args.epochs}"

    card = {
        "architecture": args.arch,
        "summary": zoo.get(args.arch).summary,
        "recipe": metrics["recipe"],
        "seed": args.seed,
        "threads": threads,
        "params": metrics["params"],
        "test_accuracy": round(metrics["test_accuracy"], 5),
        "calibration": {
            "temperature": temperature,
            "how": "softmax temperature fitted by negative log-likelihood on the 60,000 training images "
            f"(undistorted) and folded into the output layer's weights by {fitted_by}; predicted digits "
            "unchanged; 'before' is the model as its run saved it",
            "test_nll_before": round(nll(before, y_test), 5),
            "test_nll_after": round(nll(onnx_probs, y_test), 5),
            "test_median_confidence_before": round(float(np.median(before.max(axis=1))), 5),
            "test_median_confidence_after": round(float(np.median(onnx_probs.max(axis=1))), 5),
        },
        "onnx_test_accuracy": round(onnx_accuracy, 5),
        "scan_accuracy": round(scan.accuracy, 5),
        "scan_test": scan.as_dict(),
        "ort_single_thread": throughput_entry(rate, previous_rate),
        "replaced_model": replaced,
        "train_seconds": metrics["train_seconds"],
        "data_digest": metrics["data_digest"],
        "sha256": {
            str(KERAS_OUT): data.sha256_file(KERAS_OUT),
            "toolkit/models/reference.onnx": data.sha256_file(ONNX_OUT),
        },
        "versions": metrics["versions"],
        "command": " ".join(["python scripts/train_reference.py", *(argv if argv is not None else sys.argv[1:])]),
        "trained_with": f"mnist-toolkit train --arch {args.arch}{epochs} --seed {args.seed} --threads {threads} "
        "(the zoo recipe" + (f", {args.epochs} epochs)" if args.epochs else ", unchanged)"),
        "input": {
            "name": zoo.INPUT_NAME,
            "shape": "[N,28,28,1]",
            "dtype": "float32",
            "range": "[0,1], white ink on black",
        },
        "output": {"name": zoo.OUTPUT_NAME, "shape": "[N,10]", "dtype": "float32", "meaning": "softmax"},
        "not_digit_output": {
            "name": zoo.NOT_DIGIT_NAME,
            "shape": "[N,1]",
            "dtype": "float32",
            "meaning": "sigmoid: the probability that the image holds no digit",
            "platt_calibration": metrics.get("not_digit_platt"),
        }
        if metrics.get("not_digit_platt")
        else None,
        "beyond_mnist": beyond,
    }
    CARD_OUT.write_text(json.dumps(card, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: card[k]
                for k in ("architecture", "test_accuracy", "onnx_test_accuracy", "scan_accuracy", "ort_single_thread")
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
