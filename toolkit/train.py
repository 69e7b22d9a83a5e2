"""Train a zoo architecture with its tutorial's recipe and save the model, its history and its metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import data, fsutil, lazy, zoo
from toolkit.augment import KINDS
from toolkit.contract import package_versions
from toolkit.errors import UsageError
from toolkit.kerasmodel import save_keras_model
from toolkit.train_data import as_uint8, augmented_input

OPTIMIZERS = ("adam", "rmsprop", "sgd", "adamw", "nadam")
SAVE_FORMATS = {"keras": ".keras", "h5": ".h5"}  # h5: the legacy HDF5 file Keras 2 users can load


@dataclass(frozen=True)
class TrainResult:
    """What `train` produced and measured."""

    arch: str
    model_path: Path
    metrics_path: Path
    history_path: Path
    curves_path: Path
    test_accuracy: float
    test_loss: float
    train_seconds: float
    recipe: dict[str, Any]


def _optimizer(recipe: zoo.Recipe, steps_per_epoch: int):
    keras = lazy.keras()
    default = keras.optimizers.get(recipe.optimizer)
    lr = recipe.learning_rate if recipe.learning_rate is not None else default.get_config()["learning_rate"]
    if recipe.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, recipe.epochs * steps_per_epoch))
    if not recipe.ema:
        return type(default)(learning_rate=lr)
    # The saved weights are a moving average over the last ~1,000 steps (a tenth of a short run's steps).
    horizon = max(1.0, min(1000.0, recipe.epochs * steps_per_epoch / 10))
    return type(default)(learning_rate=lr, use_ema=True, ema_momentum=1 - 1 / horizon)


def validate_recipe(recipe: zoo.Recipe) -> None:
    """Reject recipes that cannot train, with a one-line reason."""
    if recipe.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {recipe.epochs}")
    if recipe.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {recipe.batch_size}")
    if not 0.0 <= recipe.validation_split < 1.0:
        raise UsageError(f"--validation-split must be in [0, 1), got {recipe.validation_split}")
    if recipe.limit is not None and not 1 <= recipe.limit <= 60000:
        raise UsageError(f"--limit must be between 1 and 60000, got {recipe.limit}")
    if recipe.learning_rate is not None and recipe.learning_rate <= 0:
        raise UsageError(f"--learning-rate must be positive, got {recipe.learning_rate}")
    if not 0.0 <= recipe.label_smoothing < 1.0:
        raise UsageError(f"label smoothing must be in [0, 1), got {recipe.label_smoothing}")
    if recipe.label_smoothing and recipe.loss.startswith("sparse"):
        raise UsageError("label smoothing needs one-hot targets: use the categorical_crossentropy loss")
    if recipe.augment is not None and recipe.augment not in KINDS:
        raise UsageError(f"unknown augmentation '{recipe.augment}'; choose one of: {', '.join(KINDS)}")
    if recipe.clean_epochs < 0:
        raise UsageError(f"clean epochs must be 0 or more, got {recipe.clean_epochs}")
    shares = (recipe.writers_share(clean=False), recipe.writers_share(clean=True))
    if not (all(0.0 <= share <= 1.0 for share in shares) and recipe.negatives >= 0.0):
        raise UsageError("the writers shares must be in [0, 1] and negatives per digit 0 or more")
    if not 0.0 <= recipe.coarse_scans <= 1.0:
        raise UsageError(f"the coarse scans share must be in [0, 1], got {recipe.coarse_scans}")
    if not 0.0 <= recipe.distill <= 1.0:
        raise UsageError(f"--distill must be in [0, 1], got {recipe.distill}")
    if recipe.distill and (recipe.teacher is None or recipe.loss.startswith("sparse")):
        raise UsageError("--distill needs a --teacher ONNX model and one-hot targets (categorical_crossentropy)")
    if recipe.teacher is not None and not Path(recipe.teacher).is_file():
        raise UsageError(f"--teacher {recipe.teacher}: no such file; pass an ONNX model of the image contract")
    if recipe.optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer '{recipe.optimizer}'; choose one of: {', '.join(OPTIMIZERS)}")


def _pin_threads(tf: Any, threads: int | None) -> int:
    """Fix TensorFlow's intra-op thread pool at `threads` (default: one per CPU) and return it.

    The pool size decides how matrix products split their sums, so it decides the float rounding and, over a
    run, the weights: with the same seed, 1 and 2 threads train different models. Once TensorFlow has started
    in a process its pool is fixed, so a different request then is refused rather than silently ignored.
    """
    from toolkit.predict.options import cpu_count

    wanted = threads or cpu_count()
    if wanted < 1:
        raise UsageError(f"--threads must be at least 1, got {wanted}")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(wanted)
    except RuntimeError:  # TensorFlow already runs in this process
        running = tf.config.threading.get_intra_op_parallelism_threads() or cpu_count()
        if running != wanted:
            raise UsageError(
                f"--threads {wanted}: TensorFlow already runs with {running} threads in this process; "
                "train in a new process"
            ) from None
    return wanted


def nll(probabilities: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of `labels` under softmax(log(probabilities) / temperature)."""
    z = np.log(np.maximum(probabilities.astype(np.float64), 1e-30)) / temperature
    z -= z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(labels)), labels]))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The softmax temperature that minimises `nll`: a grid over log T, fine enough for two decimals."""
    grid = np.geomspace(0.05, 2.0, 600)
    return round(float(grid[int(np.argmin([nll(probabilities, labels, t) for t in grid]))]), 4)


def has_not_digit(model: Any) -> bool:
    """Whether a Keras model has the optional `not_digit` output beside its probabilities."""
    return any(layer.name == zoo.NOT_DIGIT_NAME for layer in model.layers)


def digit_probabilities(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's `probabilities` output on `x`, whether or not it has other outputs."""
    out = model.predict(x, batch_size=1000, verbose=0)
    return np.asarray(out[0] if isinstance(out, list | tuple) else out)


def calibrate(model, x: np.ndarray, y: np.ndarray) -> float:
    """Fold a fitted temperature into the last Dense layer (softmax(z / T) = softmax((W / T) x + b / T)), so the
    model's confidences mean what they say at no cost per image and with the same predicted digits. Label
    smoothing trains confidences that stop near 0.9 even for digits the model never gets wrong."""
    temperature = fit_temperature(digit_probabilities(model, x), y)
    last = model.get_layer(zoo.OUTPUT_NAME)  # every zoo network ends in Dense(10, softmax) named so
    kernel, bias = last.get_weights()
    last.set_weights([kernel / temperature, bias / temperature])
    return temperature


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising the cross-entropy of sigmoid(a * logit + b) against 0/1 labels: a two-parameter
    logistic regression by Newton steps, halved while they do not lower the loss. The targets are Platt's
    (1999): (N+ + 1) / (N+ + 2) for a positive and 1 / (N- + 2) for a negative, not 1 and 0, so a set the
    output already separates perfectly still gives finite (a, b), not a step function."""
    labels = np.asarray(labels, np.float64)
    positives = labels.sum()
    targets = np.where(labels > 0.5, (positives + 1) / (positives + 2), 1 / (len(labels) - positives + 2))

    def loss(a: float, b: float) -> float:
        z = a * logits + b
        return float(np.sum(np.logaddexp(0, z) - targets * z))

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a * logits + b)))
        grad = np.array([np.sum((p - targets) * logits), np.sum(p - targets)])
        w = p * (1 - p) + 1e-12
        hess = np.array([[np.sum(w * logits * logits), np.sum(w * logits)], [np.sum(w * logits), np.sum(w)]])
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        scale = 1.0
        while scale > 1e-6 and loss(a - scale * step[0], b - scale * step[1]) > current:
            scale /= 2
        a, b = a - scale * step[0], b - scale * step[1]
        previous, current = current, loss(a, b)
        if np.abs(scale * step).max() < 1e-8 or previous - current < 1e-10 * max(1.0, abs(previous)):
            break
    return round(float(a), 5), round(float(b), 5)


def calibrate_not_digit(model: Any, x: np.ndarray, seed: int, count: int = 10000) -> dict[str, float]:
    """Fit Platt scaling of the `not_digit` output on a fresh, balanced set (training digits, as MNIST and as
    other writers, against as many new negatives) and fold it into that output's Dense layer
    (sigmoid(a * (w x + b0) + b) = sigmoid((a w) x + a b0 + b)). Returns a, b and the set's size."""
    from toolkit.imaging.negatives import negative_fields
    from toolkit.other_writers import writer_fields

    rng = np.random.default_rng(seed + 1)  # not the training epochs' stream
    count = min(count, len(x))
    digits = as_uint8(x[rng.choice(len(x), count, replace=False)])
    drawn, _ = writer_fields(digits[: count // 2], rng)
    positives = np.concatenate([digits[count // 2 :].astype(np.float32) / 255, drawn])
    negatives = negative_fields(len(positives), rng, digits)
    images = np.concatenate([positives, negatives])[..., None]
    labels = np.concatenate([np.zeros(len(positives)), np.ones(len(negatives))])
    rejection = np.asarray(model.predict(images, batch_size=1000, verbose=0)[1])[:, 0]
    a, b = fit_platt(_logit(rejection), labels)
    layer = model.get_layer(zoo.NOT_DIGIT_NAME)
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel * a, bias * a + b])
    return {"a": a, "b": b, "images": int(len(images))}


@dataclass(frozen=True)
class _Split:
    """The images a run fits on, validates on and is tested on, as model tensors with integer labels."""

    x_fit: np.ndarray
    y_fit: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class _Scores:
    loss: float
    accuracy: float
    per_class: dict[str, float]


def _model_path(out: Path, arch: str, save_format: str, force: bool) -> Path:
    """Where the model goes, refused before anything trains when the run could not save it there."""
    if save_format not in SAVE_FORMATS:
        raise UsageError(f"unknown save format '{save_format}'; choose one of: {', '.join(SAVE_FORMATS)}")
    model_path = out / f"{arch}{SAVE_FORMATS[save_format]}"
    if model_path.exists() and not force:
        raise UsageError(f"{model_path} already exists; pass --force to overwrite it or choose another --out")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; it must be a folder")
    return model_path


def _start_tensorflow(seed: int, threads: int | None) -> int:
    """Seed Keras, make TensorFlow's ops deterministic and pin its thread pool; returns the thread count."""
    keras = lazy.keras()
    tf = lazy.tensorflow()
    threads = _pin_threads(tf, threads)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return threads


def _split(arrays: data.Arrays, recipe: zoo.Recipe) -> _Split:
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    if recipe.limit is not None:
        x_train, y_train = x_train[: recipe.limit], y_train[: recipe.limit]
    x_train = data.to_model_input(x_train)
    x_test, y_test = data.to_model_input(arrays["x_test"]), arrays["y_test"]
    # Hold out the last fraction, as Keras's validation_split does, so curves match the tutorials.
    if recipe.validation_split > 0:
        cut = int(len(x_train) * (1 - recipe.validation_split))
        return _Split(x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:], x_test, y_test)
    return _Split(x_train, y_train, x_test, y_test, x_test, y_test)


def _targets(labels: np.ndarray, recipe: zoo.Recipe) -> np.ndarray:
    """Labels as the recipe's loss wants them: integers for a sparse loss, one-hot rows otherwise."""
    if recipe.loss.startswith("sparse"):
        return labels.astype(np.int64)
    return lazy.keras().utils.to_categorical(labels, 10).astype(np.float32)


def _compiled(entry: zoo.Arch, recipe: zoo.Recipe, fit_images: int) -> Any:
    """The architecture built and compiled with the recipe's optimizer and loss (and binary cross-entropy for a
    `not_digit` output)."""
    keras = lazy.keras()
    model = entry.build()
    steps = -(-int(fit_images * (1 + recipe.negatives)) // recipe.batch_size)
    loss: Any = recipe.loss
    if recipe.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    if has_not_digit(model):
        losses = {zoo.OUTPUT_NAME: loss, zoo.NOT_DIGIT_NAME: "binary_crossentropy"}
        metrics = {zoo.OUTPUT_NAME: ["accuracy"], zoo.NOT_DIGIT_NAME: ["binary_accuracy"]}
        model.compile(optimizer=_optimizer(recipe, steps), loss=losses, metrics=metrics)
    else:
        model.compile(optimizer=_optimizer(recipe, steps), loss=loss, metrics=["accuracy"])
    return model


def _fit(model: Any, split: _Split, recipe: zoo.Recipe, seed: int, verbose: int) -> tuple[Any, float]:
    """Train for the recipe's epochs, on distorted images when it asks for augmentation; returns Keras's
    History and the seconds it took."""
    targets = _targets(split.y_fit, recipe)
    fit_data: Any = split.x_fit
    fit_kwargs: dict[str, Any] = {"batch_size": recipe.batch_size, "y": targets, "shuffle": True}
    rejects = has_not_digit(model)
    if recipe.augment or recipe.writers or rejects or recipe.distill:
        fit_data, fit_kwargs = augmented_input(split.x_fit, targets, recipe, seed, rejects), {}
    val_targets: Any = _targets(split.y_val, recipe)
    if rejects:  # validation images are all digits
        val_targets = {zoo.OUTPUT_NAME: val_targets, zoo.NOT_DIGIT_NAME: np.zeros((len(split.y_val), 1), np.float32)}
    validation_data = (split.x_val, val_targets)
    started = time.perf_counter()
    history = model.fit(fit_data, epochs=recipe.epochs, validation_data=validation_data, verbose=verbose, **fit_kwargs)
    return history, time.perf_counter() - started


def _evaluate(model: Any, split: _Split, recipe: zoo.Recipe) -> _Scores:
    probabilities = digit_probabilities(model, split.x_test)
    predicted = np.argmax(probabilities, axis=1)
    if has_not_digit(model):  # the digit output's loss, on test digits
        test_loss, test_accuracy = nll(probabilities, split.y_test), float(np.mean(predicted == split.y_test))
    else:
        test_loss, test_accuracy = model.evaluate(
            split.x_test, _targets(split.y_test, recipe), batch_size=1000, verbose=0
        )
    y_test = split.y_test
    per_class = {str(d): float(np.mean(predicted[y_test == d] == d)) for d in range(10)}
    return _Scores(float(test_loss), float(test_accuracy), per_class)


def _validation_label(recipe: zoo.Recipe) -> str:
    if recipe.validation_split:
        return f"last {recipe.validation_split:.0%} of the training images"
    return "the test set (monitoring only)"


def _write_records(out: Path, arch: str, recipe: zoo.Recipe, history: dict, metrics: dict) -> tuple[Path, Path, Path]:
    """metrics.json, history.json and curves.png in `out`; returns their paths in that order."""
    history_path, metrics_path, curves_path = out / "history.json", out / "metrics.json", out / "curves.png"
    fsutil.write_json(history_path, history)
    fsutil.write_json(metrics_path, metrics)
    from toolkit import plots

    epochs = f"{recipe.epochs} epoch" + ("" if recipe.epochs == 1 else "s")
    title = f"{arch}: {epochs}, validation on {_validation_label(recipe)}"
    plots.training_curves(history, curves_path, title=title)
    return metrics_path, history_path, curves_path


def train(
    arch: str,
    out: Path,
    *,
    seed: int = 0,
    force: bool = False,
    verbose: int = 0,
    save_format: str = "keras",
    threads: int | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train `arch` with its recipe (overridden by any non-None keyword in `overrides`) and save it to `out`.

    Writes `<arch>.keras` (`<arch>.h5` with save_format="h5"), `history.json`, `metrics.json` and `curves.png`.
    Same seed, same `threads` (default: one per CPU, recorded in metrics.json), same CPU instruction set, same
    weights: seeds are fixed, TensorFlow runs its ops deterministically and oneDNN is off (`toolkit.lazy`).
    """
    entry = zoo.get(arch)
    recipe = entry.recipe.with_overrides(**overrides)
    validate_recipe(recipe)
    out = Path(out)
    model_path = _model_path(out, arch, save_format, force)

    arrays = data.load_arrays()
    threads = _start_tensorflow(seed, threads)
    split = _split(arrays, recipe)
    model = _compiled(entry, recipe, len(split.x_fit))
    history, train_seconds = _fit(model, split, recipe, seed, verbose)
    # Label smoothing trains confidences that stop near 0.9; a temperature fitted on the training images brings
    # them back to what the model's accuracy warrants, without changing a predicted digit.
    temperature = calibrate(model, split.x_fit, split.y_fit) if recipe.label_smoothing else None
    not_digit_platt = calibrate_not_digit(model, split.x_fit, seed) if has_not_digit(model) else None
    scores = _evaluate(model, split, recipe)

    out.mkdir(parents=True, exist_ok=True)
    save_keras_model(model, model_path)
    metrics = {
        "arch": arch,
        "test_accuracy": scores.accuracy,
        "test_loss": scores.loss,
        "per_class_test_accuracy": scores.per_class,
        "reported_test_accuracy": entry.reported_accuracy,
        "train_seconds": round(train_seconds, 2),
        "train_images": int(len(split.x_fit)),
        "validation": _validation_label(recipe),
        "params": int(model.count_params()),
        "seed": seed,
        "threads": threads,
        "temperature": temperature,
        "not_digit_platt": not_digit_platt,
        "recipe": recipe.as_dict(),
        "data_digest": data.data_digest(arrays),
        "versions": package_versions("keras", "tensorflow", "tensorflow-cpu", "numpy"),
    }
    hist = {k: [float(v) for v in values] for k, values in history.history.items()}
    paths = _write_records(out, arch, recipe, hist, metrics)  # metrics, history, curves: TrainResult's order
    return TrainResult(arch, model_path, *paths, scores.accuracy, scores.loss, train_seconds, recipe.as_dict())
