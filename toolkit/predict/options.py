"""What decides what `predict` scores and what its records hold: the options, and which model they name.

`PredictOptions` is the one declaration of every option: its name, type, default and help text. The `predict`
command builds its options from it (`command_options`) and the Python API its keywords (`takes_options`), so a
default or a help text is written here and nowhere else.

Pure Python: `mnist-toolkit --help` imports this module.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import textwrap
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from toolkit import modelkind
from toolkit.errors import ModelLoadError, UsageError
from toolkit.models import REFERENCE_ONNX
from toolkit.predict import located, records
from toolkit.predict.located import MAX_BYTES, Access

REFERENCE_MODEL = REFERENCE_ONNX  # package data: a wheel scores with no --model too
MODEL_ENV = "MNIST_TOOLKIT_MODEL"


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def option(default: Any, help: str, *, cli_type: Any = None, cli: bool = True) -> Any:
    """A PredictOptions field. `help` is what `predict --help` and the API's docstrings show; `cli_type` is
    what the command line parses when the field's own type is not one Typer reads (a path, a list); `cli`
    False keeps a tuning knob off the command line."""
    return field(default=default, metadata={"help": help, "cli_type": cli_type, "cli": cli})


@dataclass(kw_only=True)  # keywords only: the fields are in the order `predict --help` lists them
class PredictOptions:
    """Everything that decides what `predict` scores and what its records hold."""

    model: str | os.PathLike | None = option(
        None,
        "ONNX model with input image [N,28,28,1] and output probabilities [N,10], a path or a URL "
        "(s3://bucket/model.onnx: fetched once into the cache) (default: the shipped reference model).",
        cli_type=str | None,
    )
    batch_size: int = option(
        256, "Records per write to the output (local engine); images per onnxruntime call (Ray engine)."
    )
    workers: int | None = option(None, "Decode processes (0: decode in the main process) (default: one per CPU).")
    threads: int = option(1, "onnxruntime threads.")  # per process: the workers have the other cores
    top_k: int = option(0, "Add a top_k column with the K likeliest digits (0: none).")
    # 0.95: on renderings of other writers' digits (scripts/reference_card.py's tuning set), the lowest threshold
    # that leaves at most 1% of reads wrong and unflagged with the reference model (docs/models.md).
    min_confidence: float = option(0.95, "Flag records whose confidence is below this as low_confidence.")
    follow_symlinks: bool = option(False, "Follow symbolic links inside folders (loops are detected).")
    include: Sequence[str] = option(
        (),
        "Only score files matching this glob (name or relative path; repeatable) (default: image extensions).",
        cli_type=list[str] | None,
    )
    exclude: Sequence[str] = option(
        (), "Skip files and folders matching this glob (repeatable).", cli_type=list[str] | None
    )
    archives: bool = option(
        False,
        "Also read the .zip, .tar and .tar.gz archives met while walking folders, member by member (archives "
        "named as inputs are always read).",
    )
    storage_options: Sequence[str] = option(
        (),
        "KEY=VALUE passed to the object store's fsspec filesystem, e.g. endpoint_url=http://host:9000, "
        "profile=NAME, anon=true (repeatable; values are read as JSON when they parse). Without it the store's "
        "usual environment applies (AWS_* variables and files, gcloud credentials, AZURE_STORAGE_*).",
        cli_type=list[str] | None,
    )
    max_input_bytes: int = option(
        MAX_BYTES, "Archive members and objects declaring more bytes than this are error records, never read."
    )
    all_frames: bool = option(
        False, "One record per frame of animated GIFs and multi-page TIFFs (adds a frame column)."
    )
    multi_digit: bool = option(
        False,
        "Read every digit of each image, left to right: a number in a form field, a strip of digits, a number on "
        "a page (adds text, n_digits and per_digit columns; confidence is the least sure digit's).",
    )
    ray_address: str | None = option(
        None,
        "With --engine ray: auto joins the cluster `ray start` set up, ray://HOST:10001 a remote one (default: "
        "start a local Ray instance sized to this machine). Every node must see local inputs and the model at the "
        "same paths (object-store inputs need only the store's credentials).",
    )
    # 16,384: each block costs the driver a put, a task and a wait (about 3 us a file at 4,096 files a block,
    # under 1 us at 16,384: scripts/bench_engines.py), and a task of a few seconds is retried cheaply.
    shard_size: int = option(
        16384,
        "With --engine ray and --out DIR/: files per shard of the output dataset, on average (one Ray task each).",
    )
    chunk_size: int = option(64, "Files per task sent to a decode worker.", cli=False)

    def __post_init__(self) -> None:
        # Frozen pattern lists (they travel to workers and into the fingerprint); None, as a command line
        # gives for a repeatable option never used, and a lone pattern both mean what they say.
        self.include, self.exclude = _patterns(self.include), _patterns(self.exclude)
        if isinstance(self.storage_options, dict):  # Python callers may pass fsspec's own dict
            self.storage_options = tuple(f"{k}={json.dumps(v)}" for k, v in self.storage_options.items())
        self.storage_options = _patterns(self.storage_options)

    def validate(self, flags: bool = False) -> None:
        """UsageError for option values that cannot work, naming the options as the caller spells them:
        `--top-k` on the command line (`flags`), `top_k` in Python."""
        name = functools.partial(spelling, flags=flags)
        if self.batch_size < 1:
            raise UsageError(f"{name('batch_size')} must be at least 1, got {self.batch_size}")
        if self.workers is not None and self.workers < 0:
            raise UsageError(f"{name('workers')} must be 0 (decode in this process) or more, got {self.workers}")
        if self.threads < 1:
            raise UsageError(f"{name('threads')} must be at least 1, got {self.threads}")
        if not 0 <= self.top_k <= 10:
            raise UsageError(f"{name('top_k')} must be between 0 and 10, got {self.top_k}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise UsageError(f"{name('min_confidence')} must be between 0 and 1, got {self.min_confidence}")
        if self.shard_size < 1:
            raise UsageError(f"{name('shard_size')} must be at least 1, got {self.shard_size}")
        if self.max_input_bytes < 1:
            raise UsageError(f"{name('max_input_bytes')} must be at least 1, got {self.max_input_bytes}")
        self.access(flags)  # a storage option that is not KEY=VALUE
        if self.multi_digit and self.top_k:
            raise UsageError(
                f"{name('top_k')} ranks the classes of one digit; it does not combine with {name('multi_digit')}"
            )

    def access(self, flags: bool = False) -> Access:
        """How the workers reach archive members and objects (storage options parsed, the size limit)."""
        pairs = []
        for text in self.storage_options:
            key, sep, value = text.partition("=")
            if not sep or not key.strip():
                raise UsageError(
                    f"{spelling('storage_options', flags)} takes KEY=VALUE (e.g. endpoint_url=http://host:9000), "
                    f"got '{text}'"
                )
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
            pairs.append((key.strip(), parsed))
        return Access(tuple(pairs), self.max_input_bytes)

    def resolved_workers(self) -> int:
        return cpu_count() if self.workers is None else self.workers

    def resolved_threads(self) -> int:
        return self.threads

    def columns(self) -> tuple[str, ...]:
        """The record columns, in order, for these options."""
        return records.columns(self)


def _patterns(value: Sequence[str] | str | None) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())


class Spec(NamedTuple):
    """One option as declared on PredictOptions, for whatever builds an interface from it."""

    name: str
    default: Any
    type: Any  # the field's type, resolved
    help: str
    flag: str  # its command-line spelling
    cli_type: Any  # what the command line parses
    cli: bool  # on the command line at all


def spelling(name: str, flags: bool = False) -> str:
    """An option's name as a user wrote it: `top_k` in Python, `--top-k` on the command line."""
    return "--" + name.replace("_", "-") if flags else name


@functools.cache
def specs() -> tuple[Spec, ...]:
    """Every option, in declaration order."""
    hints = typing.get_type_hints(PredictOptions)
    out = []
    for f in fields(PredictOptions):  # every field has a plain default: option() takes no factory
        meta = f.metadata
        cli_type = meta["cli_type"] or hints[f.name]
        out.append(Spec(f.name, f.default, hints[f.name], meta["help"], spelling(f.name, True), cli_type, meta["cli"]))
    return tuple(out)


F = TypeVar("F", bound=Callable[..., Any])


def takes_options(*names: str) -> Callable[[F], F]:
    """Give a function that takes `**options` (PredictOptions fields) a signature listing them: `names`, or
    every field but `model` (a positional parameter of its own), as keyword-only parameters with their
    declared defaults. help() and editors show them, a misspelt keyword is a TypeError at the call, and the
    function's docstring gains a line of help for each."""

    def decorate(function: F) -> F:
        chosen = [s for s in specs() if (s.name in names if names else s.name != "model")]
        signature = inspect.signature(function)
        params = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        params += [
            inspect.Parameter(s.name, inspect.Parameter.KEYWORD_ONLY, default=s.default, annotation=s.type)
            for s in chosen
        ]
        full = signature.replace(parameters=params)

        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            full.bind(*args, **kwargs)  # the TypeError Python gives for an unknown keyword, at the call
            return function(*args, **kwargs)

        checked.__signature__ = full  # type: ignore[attr-defined]
        lines = "\n".join(
            textwrap.fill(f"{s.name}={s.default!r}: {s.help}", 110, initial_indent="    ", subsequent_indent="        ")
            for s in chosen
        )
        checked.__doc__ = f"{inspect.cleandoc(function.__doc__ or '')}\n\nOptions (see PredictOptions):\n{lines}\n"
        return typing.cast(F, checked)

    return decorate


def command_options(command: F) -> F:
    """Give a Typer command a command-line option for each PredictOptions field with `cli`, with its declared
    type, default and help, after the command's own parameters; the command gets their values as one
    PredictOptions, its keyword-only parameter `options`."""
    import typer  # the command line's alone: the Python API does without it

    declared = [s for s in specs() if s.cli]
    own = inspect.signature(command, eval_str=True)
    parameters = [p for p in own.parameters.values() if p.name != "options"]
    parameters += [
        inspect.Parameter(
            s.name,
            inspect.Parameter.KEYWORD_ONLY,
            # A repeatable option never given is None to Typer; PredictOptions reads None as no patterns.
            default=None if s.default == () else s.default,
            annotation=typing.Annotated[s.cli_type, typer.Option(s.flag, help=s.help)],
        )
        for s in declared
    ]

    @functools.wraps(command)
    def with_options(**values: Any) -> Any:
        options = PredictOptions(**{s.name: values.pop(s.name) for s in declared})
        return command(**values, options=options)

    with_options.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
    # Typer resolves the annotations through these; the generated ones are objects already.
    with_options.__annotations__ = {p.name: p.annotation for p in parameters}
    return typing.cast(F, with_options)


def resolve_model(model: str | os.PathLike | None, flags: bool = False, access: Access | None = None) -> Path:
    """The ONNX model to use: the given path (a URL is fetched into the cache with `access`: `fetch_model`),
    else $MNIST_TOOLKIT_MODEL, else the shipped reference model.

    A path that is missing, a folder or another kind of model is a ModelKindError (exit 2) worded as in every
    other command, e.g. "export it first" for a .keras file. The option is named as the caller spells it:
    `--model` on the command line (`flags`), `model=` in Python.
    """
    name = "--model" if flags else "model"
    if model is not None and located.is_located(str(model)):
        return fetch_model(str(model), flags, access or Access())
    if model is not None:
        path, label = Path(model), "--model " if flags else "model="
    elif os.environ.get(MODEL_ENV):
        path, label = Path(os.environ[MODEL_ENV]), f"{MODEL_ENV}="
    else:
        path, label = REFERENCE_MODEL, ""
        if not path.is_file():
            raise ModelLoadError(
                f"no {name} given and the packaged reference model is missing ({path}); "
                f"reinstall mnist-toolkit, or pass {'--model MODEL.onnx' if flags else 'model=PATH'}"
            )
    modelkind.require(path, ("onnx",), "predict", label)
    return path


def fetch_model(url: str, flags: bool = False, access: Access | None = None) -> Path:
    """A model in an object store (`s3://bucket/models/m.onnx`), copied once into the toolkit's cache, keyed by
    its URL and version (a rewritten model is fetched again). ModelLoadError, one line, when it cannot be."""
    import hashlib

    from toolkit import fsutil
    from toolkit.data import home

    label = "--model" if flags else "model="
    if not url.lower().endswith(".onnx"):
        raise ModelLoadError(f"{label} {url}: predict needs an ONNX model (a .onnx object)")
    try:
        fs, path = located.filesystem(url, access or Access())
        info = fs.info(path)
        key = hashlib.blake2b(f"{url}\0{located.object_version(info)}".encode(), digest_size=12).hexdigest()
        target = home() / "models" / f"{key}.onnx"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with fsutil.atomic_open(target) as (fh, _):
                fh.write(fs.cat_file(path))
    except ImportError as exc:
        raise ModelLoadError(f"{label} {url}: {exc}; install mnist-toolkit[s3], [gcs] or [azure]") from None
    except FileNotFoundError:
        raise ModelLoadError(f"{label} {url}: no such object") from None
    except Exception as exc:  # each store raises its own errors (credentials, endpoint, network)
        from toolkit.errors import first_line

        raise ModelLoadError(f"{label} {url}: cannot fetch it ({first_line(exc, 200)})") from None
    return target
