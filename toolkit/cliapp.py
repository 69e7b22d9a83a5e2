"""What the commands in `toolkit.cli` are built from: the app, the parameter declarations they share or that
would crowd the commands, and how every error ends as one line on stderr with its exit code: ToolkitError from
a command (`handle_errors`), and the usage errors the parser finds before any command runs (`OneLineErrors`).
Light: `--help` imports it."""

from __future__ import annotations

import difflib
import functools
import os
import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from toolkit import interrupts
from toolkit.errors import ToolkitError, os_error_line

# Typer's validation messages, reworded to read as the rest of the toolkit's errors ("--count must be at least 1").
_REWORDED = (
    (re.compile(r"^Value error, "), ""),
    (re.compile(r"^Input should be greater than or equal to (.+)$"), r"must be at least \1"),
    (re.compile(r"^Input should be less than or equal to (.+)$"), r"must be at most \1"),
    (re.compile(r"^Input should be greater than (.+)$"), r"must be more than \1"),
    (re.compile(r"^Input should be less than (.+)$"), r"must be less than \1"),
    (re.compile(r"^Input should be a valid integer.*$"), "must be a whole number"),
    (re.compile(r"^Input should be a valid number.*$"), "must be a number"),
    (re.compile(r"^Input should be (.+)$"), r"must be \1"),
)


def usage_error_line(exc: Any, prog: str = "mnist-toolkit") -> str:
    """A usage error the command-line parser found (a click UsageError) as the one line every toolkit error is:
    what is wrong, then where the help is. `prog` names the help when the error does not know its command."""
    name = type(exc).__name__
    if name == "NoSuchOption":
        # Click offers every option sharing a prefix ("--bogus": "--out"); only a likely typo is worth naming.
        close = difflib.get_close_matches(exc.option_name, sorted(exc.possibilities or ()), n=2, cutoff=0.75)
        what = f"no such option: {exc.option_name}" + (f" (did you mean {' or '.join(close)}?)" if close else "")
    elif name == "BadParameter" and exc.param is not None:
        detail = exc.message.strip().rstrip(".")
        for pattern, replacement in _REWORDED:
            detail = pattern.sub(replacement, detail)
        hint = exc.param.opts[0] if exc.param.param_type_name == "option" else exc.param.human_readable_name
        errors = exc.__cause__.errors() if hasattr(exc.__cause__, "errors") else ()
        if detail.startswith("must "):
            given = f", got {errors[0]['input']}" if errors and "input" in errors[0] else ""
            what = f"{hint} {detail}{given}"
        else:
            what = f"{hint}: {detail}"
    else:
        what = exc.format_message().strip().rstrip(".")
        what = what[:1].lower() + what[1:]  # "Missing option '--arch'" reads as a clause after "error:"
    what = " ".join(what.split())  # one line, whatever the message held
    where = exc.ctx.command_path if exc.ctx is not None else prog
    return f"error: {what}; see '{where} --help'"


class OneLineErrors(TyperGroup):
    """The app's group: a usage error the parser finds (unknown option, bad value, missing argument) is one line
    on stderr, exit 2, as every other error is, instead of the usage and a box."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:  # a bare `mnist-toolkit` or `mnist-toolkit data`: the help is the answer
            exc.show()
            sys.exit(exc.exit_code)
        except UsageError as exc:
            typer.echo(usage_error_line(exc, self.command_path(args, prog_name)), err=True)
            sys.exit(exc.exit_code)
        except ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.exit(1)
        # Without standalone mode a command's return value comes back, and Exit(n) as n.
        sys.exit(code if isinstance(code, int) else 0)

    def command_path(self, args, prog_name) -> str:
        """The command `args` name, for the errors the parser raises before it knows (a missing option value)."""
        path = [prog_name or "mnist-toolkit"]
        command: Any = self
        for arg in sys.argv[1:] if args is None else args:
            command = getattr(command, "commands", {}).get(arg)
            if command is None:
                break
            path.append(arg)
        return " ".join(path)


# Plain Click help (no Rich panels): paragraphs wrap at the terminal width, flags show no value placeholder.
app = typer.Typer(
    name="mnist-toolkit",
    help="Train the classic Keras MNIST networks, export them, verify export parity, batch-score scans.",
    cls=OneLineErrors,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},
    pretty_exceptions_show_locals=False,
)
data_app = typer.Typer(help="Fetch, verify and look at the MNIST data.", no_args_is_help=True, rich_markup_mode=None)
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


# train
Teacher = Annotated[
    Path | None,
    typer.Option(help="ONNX model to distil from (with --distill): its softened probabilities join the targets."),
]
Distill = Annotated[
    float | None, typer.Option(help="The teacher's share of the targets of the digits drawn as MNIST, 0 to 1.")
]
TrainThreads = Annotated[
    int | None,
    typer.Option(
        help="TensorFlow threads (default: one per CPU). The weights depend on it: pass the `threads` of a run's "
        "metrics.json to reproduce it on another machine.",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout instead of tables.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise; a usage error (2) also says where the help is."""
    typer.echo(f"error: {message}{help_hint() if code == 2 else ''}", err=True)
    return typer.Exit(code)


def help_hint() -> str:
    """`; see 'mnist-toolkit COMMAND --help'`: where a usage error's fix is described."""
    from typer._click.globals import get_current_context

    context = get_current_context(silent=True)
    return f"; see '{context.command_path} --help'" if context is not None else ""


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


# --- what the commands in toolkit.cli are declared with ---------------------------------------------


class SaveFormat(str, Enum):
    keras = "keras"
    h5 = "h5"


class Split(str, Enum):
    train = "train"
    test = "test"


# Model paths are checked by the command (toolkit.modelkind), not by Typer, so that a missing file, a folder or
# the wrong kind of model gets the same one-line answer, exit code 2, in every command.
ExistingModel = Annotated[
    Path, typer.Argument(metavar="MODEL", help="A .keras, .h5, .onnx or .tflite file, or a SavedModel folder.")
]


PARITY_EPILOG = (
    "An element fails only when it exceeds both atol and rtol*|keras|. Float exports pass when every element "
    "is within tolerance and all 10,000 argmaxes agree; int8 ONNX passes when its outputs' signal-to-noise "
    "ratio against the Keras model's is at least 30 dB, at least 99% of argmaxes agree and its accuracy is within "
    "0.5 points of the Keras model's. Every export must also honour the interface "
    "contract, output no NaN/Inf, and give the same outputs at batch 1 as at batch 512. "
    "Exit codes: 0 every export passes; 1 any export fails a check (the table says which check and why); "
    "2 usage error."
)


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
        metavar="INPUT",
        help="Image files, folders (walked recursively), glob patterns, archives (.zip, .tar, .tar.gz: read "
        "member by member), object-store URLs (s3://bucket/scans/, gs://..., az://..., https://...; globs too), "
        "or - to read newline-separated paths from stdin.",
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
    bool,
    typer.Option(
        "--table", help="Also print the records as a table on stdout (for small runs; top_k too with --top-k)."
    ),
]
ReferenceFlag = Annotated[
    bool, typer.Option("--reference", help="Print the shipped reference model's path and its model card instead.")
]
AsciiFlag = Annotated[
    bool, typer.Option("--ascii", help="Print image START's pixel values instead (and --model's prediction).")
]
QuietFlag = Annotated[
    bool, typer.Option("--quiet", help="Records only: no summary or progress on stderr (an error is still one line).")
]
VerboseFlag = Annotated[
    bool,
    typer.Option("--verbose", help="Also name the model, every warning and the first error records in the summary."),
]
EngineChoice = Annotated[
    PredictEngine,
    typer.Option(
        help="local: decode processes on this machine. ray: Ray Data tasks decode, an actor pool scores (one "
        "onnxruntime session per actor); needs the ray extra: pip install 'mnist-toolkit[ray]'."
    ),
]
