"""The Ray engine: the local engine's decoding, normalisation, scorer and records, run on Ray Data.

The walk stays in the driver (it decides what a resumed run skips); its files go into Ray's object store a
chunk at a time, as small Arrow blocks, and are scored one window at a time (10,240 files first, so that
records come out quickly, then windows four times larger, up to `MAX_WINDOW`): the driver never holds more
than a window's block references, however many files there are. Each window is one Ray dataset:

1. `ray_tasks.decode_rows`, a stateless task per chunk of files: `pipeline.prepare_chunk` (decode + normalise,
   exactly what the local engine's worker processes run). Bad files come back as error rows; an exception
   nobody foresaw is caught there too and costs one error row, so no task fails and no block is dropped
   because of a file.
2. `ray_tasks.Predictor`, a callable class run by an actor pool: one `OnnxModel` (one onnxruntime session)
   per actor for the whole window, scoring batches of `batch_size` images.

The driver streams the scored rows back in input order (`preserve_order`), checks that no file is missing,
and makes the records with `pipeline.make_records`, the one place records are made.

A file that kills its Ray worker (a decoder crash) fails its task after Ray's retries; the rest of that window
is then scored by a pool of worker processes on the driver's machine (`pool.WorkerPool`, the local engine's),
which isolates the file as one `worker-crashed` record and makes the same records, and the next window is back
on Ray.

Workers open files at the driver's absolute paths and actors load the model from its absolute path: on a
cluster, inputs and model must be on storage every node mounts at the same path, and every node needs
mnist-toolkit installed in the Python environment Ray runs.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from itertools import chain
from pathlib import Path
from typing import Any, Self

import numpy as np

from toolkit import lazy
from toolkit.errors import ToolkitError, first_line
from toolkit.onnxmodel import OnnxModel
from toolkit.predict.engines import ray_reaper
from toolkit.predict.engines.pool import WorkerPool, start_context, unguarded_main
from toolkit.predict.engines.ray_tasks import ROW_TYPES, Predictor, decode_rows, named
from toolkit.predict.engines.shared import chunks, records_of, score_here
from toolkit.predict.options import PredictOptions, cpu_count
from toolkit.predict.pipeline import make_records
from toolkit.predict.records import ItemMeta, Record
from toolkit.predict.walk import Found

FIRST_WINDOW = 10_240  # files in the first window; each next one is 4x larger, up to MAX_WINDOW
MAX_WINDOW = 1_048_576  # a window costs an actor-pool start (about 2 s), so later windows are large
MIN_CHUNK = 256  # files per decode task at least: scheduling a Ray task costs milliseconds, a PNG ~0.2 ms
DECODE_RETRIES = 2  # Ray Data retries tasks forever by default: a file that crashes its decoder would hang the run
DECODE_CPUS = 1.0  # CPUs reserved per decode task: decoding is the work
# Actors reserve no CPU: an actor sits idle most of the time, and a reserved core would leave one decode task
# fewer; like the local engine's scorer, it shares the cores with the decoders.
PREDICT_CPUS = 0.0
CONNECT_TIMEOUT = 5.0  # seconds to wait for a cluster's port to answer
CPUS_PER_ACTOR = 4  # one predictor actor per this many CPUs of the cluster (at least one)


# --- driver side ----------------------------------------------------------------------------------------------------


class Window:
    """A window of walked files in the object store: blocks of (first index, file count, ref)."""

    def __init__(self, blocks: list[tuple[int, int, Any]]):
        self.blocks = blocks
        self.start = blocks[0][0]
        self.stop = blocks[-1][0] + blocks[-1][1]

    def __len__(self) -> int:
        return self.stop - self.start

    def refs_from(self, index: int) -> list[Any]:
        """The refs of the blocks that hold files from `index` on."""
        return [ref for first, n, ref in self.blocks if first + n > index]


class _Crash(Exception):
    """A Ray worker process or actor died (a decoder crash, after Ray's retries, or a lost node)."""


class RayEngine:
    """Use as a context manager: checks the model, then connects to Ray (or starts a local instance);
    `batches(found)` yields lists of records in input order, all frames of a file in one list."""

    def __init__(self, model: Path, options: PredictOptions):
        self.model = Path(model).resolve()
        self.options = options
        self.address = options.ray_address
        self.chunk = max(options.chunk_size, MIN_CHUNK)
        self.notes: list[str] = []  # things the user should hear about (shown with the summary)
        self._ray: Any = None
        self._pa: Any = None
        self._started = False
        self._reaper: subprocess.Popen | None = None
        if options.workers is not None:
            self.notes.append("--workers is ignored by the Ray engine: Ray runs a decode task per free CPU")

    def __enter__(self) -> Self:
        self._ray = lazy.require("ray", "ray")
        lazy.require("ray.data", "ray")
        self._pa = lazy.require("pyarrow", "ray")
        # A model that cannot work fails here, in one line, before Ray starts. The actors load their own
        # sessions, so this one is dropped at once rather than kept open (threads, memory) for the whole run.
        OnnxModel(self.model, threads=1)
        self._connect()
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            self._started = False
            self._ray.shutdown()
            ray_reaper.stop(self._reaper)
            self._reaper = None

    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():  # a notebook or a test session has set Ray up: use it as it is
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
        if self.address is None:
            # "local": a new instance sized to this machine, even if RAY_ADDRESS names a cluster. Its own temp dir
            # (kept short: Ray's socket paths must fit in 107 bytes) tells its processes from any other Ray's, so
            # that a reaper can end them if this process is killed.
            base = os.environ.get("RAY_TMPDIR") or ("/tmp" if os.path.isdir("/tmp") else None)
            folder = tempfile.mkdtemp(prefix="mnist-toolkit-ray-", dir=base)
            self._reaper = ray_reaper.start(folder)
            kwargs.update(address="local", num_cpus=cpu_count(), _temp_dir=folder)
        else:
            _check_reachable(self.address)
            kwargs.update(address=self.address)
        # ray.init installs a SIGTERM handler that exits at once; the run's own saves progress first.
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGTERM) if in_main else None
        try:
            ray.init(**kwargs)
        except Exception as exc:
            where = (
                "start a local Ray instance"
                if self.address is None
                else f"connect to the Ray cluster at {self.address}"
            )
            ray_reaper.stop(self._reaper, clean=False)
            self._reaper = None
            raise ToolkitError(f"cannot {where} ({first_line(exc, 200)})") from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        self._started = True

    # --- windows ----------------------------------------------------------------------------------------------

    def batches(self, found: Iterable[Found]) -> Iterator[list[Record]]:
        """Records for the files in `found`, scored in batches, in the order the files came."""
        for window in self._windows(iter(found)):
            done = window.start  # the files before this one have their records out
            try:
                for rows in self._ordered(self._pipeline(window.refs_from(done)), window):
                    done = rows[-1]["index"] + 1
                    yield self._records(rows)
            except _Crash:
                self.notes.append(
                    f"a Ray worker died (a decoder crash or a lost node); files {done + 1:,} to "
                    f"{window.stop:,} of this run were scored by the local engine on this machine"
                )
                yield from self._local(window, done)

    def _windows(self, found: Iterator[Found]) -> Iterator[Window]:
        """The walk as windows of blocks in the object store. A walk that ends within a quarter window of a
        full window joins it, rather than paying a dataset for a few files."""
        size, index, waiting = FIRST_WINDOW, 0, 0
        pending: deque[tuple[int, int, Any]] = deque()
        end: list[Found] = []  # an empty chunk after the last one sends what is left as the last window
        for files in chain(self._blocks(found), [end]):
            if files:
                pending.append((index, len(files), self._put(files, index)))
                index += len(files)
                waiting += len(files)
            if not files or waiting >= size + size // 4:
                blocks, taken = [], 0
                while pending and (not files or taken < size):
                    blocks.append(pending.popleft())
                    taken += blocks[-1][1]
                    waiting -= blocks[-1][1]
                if blocks:
                    yield Window(blocks)
                size = min(4 * size, MAX_WINDOW)

    def _blocks(self, found: Iterator[Found]) -> Iterator[list[Found]]:  # the blocks of the object store
        return chunks(found, self.chunk)

    def _put(self, files: list[Found], first: int) -> Any:
        """One block of walked files as an Arrow table in the object store."""
        return self._ray.put(self._pa.table(self._columns(files, first)))

    def _columns(self, files: list[Found], first: int) -> dict[str, Any]:
        """A block's columns. Paths as bytes: names need not be UTF-8 (Arrow strings must be)."""
        pa = self._pa
        return {
            "index": pa.array(range(first, first + len(files)), pa.int64()),
            "path": pa.array([os.fsencode(f.path) for f in files], pa.binary()),
            "follow": pa.array([f.follow for f in files], pa.bool_()),
            "kind": pa.array([f.error[0] if f.error else "" for f in files], pa.string()),
            "message": pa.array([f.error[1] if f.error else "" for f in files], pa.string()),
        }

    # --- the pipeline ------------------------------------------------------------------------------------------

    def _pipeline(self, refs: list[Any]):
        """decode tasks -> predictor actors over the blocks `refs`."""
        ray = self._ray
        ds = ray.data.from_arrow_refs(refs)
        ds = map_batches_with(
            ds,
            decode_rows,
            {"max_retries": DECODE_RETRIES},
            batch_size=self.chunk,
            batch_format="numpy",
            num_cpus=DECODE_CPUS,
            fn_kwargs={
                "all_frames": self.options.all_frames,
                "cwd": os.getcwd(),
                "multi_digit": self.options.multi_digit,
                "access": self.options.access(),
            },
        )
        # No actor restarts: an actor dies with its node, or with onnxruntime on a batch that would kill it
        # again; either way the window is finished by the local engine rather than retried forever.
        ds = map_batches_with(
            ds,
            Predictor,
            {"max_restarts": 0},
            batch_size=self.options.batch_size,
            batch_format="numpy",
            num_cpus=PREDICT_CPUS,
            fn_constructor_kwargs={"model": str(self.model), "threads": self.options.resolved_threads()},
            compute=ray.data.ActorPoolStrategy(size=self._actors()),
        )
        context = ds.context
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        context.execution_options.preserve_order = True
        context.max_errored_blocks = 0  # a failed task fails the run: a dropped block would lose records
        quiet_ray_data()
        return ds

    def _actors(self) -> int:
        cpus = int(self._ray.cluster_resources().get("CPU", 1))
        return max(1, cpus // CPUS_PER_ACTOR)

    def _ordered(self, ds, window: Window) -> Iterator[list[dict[str, Any]]]:
        """The window's scored rows in input order, in lists of whole files (a file's frames never split),
        checking that every file comes back exactly once."""
        expected = window.start
        held: list[dict[str, Any]] = []  # rows of the batch's last file: more of its frames may follow
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2):
                if len(batch["fatal"]) and batch["fatal"][0]:
                    raise ToolkitError(str(batch["fatal"][0]))
                rows = held + _unpack(batch)
                if not rows:
                    continue
                cut = len(rows)
                while cut and rows[cut - 1]["index"] == rows[-1]["index"]:
                    cut -= 1
                held = rows[cut:]
                if cut:
                    expected = _check_order(rows[:cut], expected)
                    yield rows[:cut]
        except ToolkitError:
            raise
        except Exception as exc:
            reraise_toolkit_error(exc)
            if _is_crash(exc):
                raise _Crash from exc
            raise ToolkitError(f"the Ray run failed: {describe(exc)}") from exc
        if held:
            expected = _check_order(held, expected)
            yield held
        if expected != window.stop:
            raise ToolkitError(f"the Ray run returned {expected - window.start:,} of {len(window):,} files")

    def _local(self, window: Window, start: int) -> Iterator[list[Record]]:
        """After a worker crash: the window's remaining files through a pool of worker processes on this
        machine, which isolates a file that kills its decoder (one `worker-crashed` record) and makes the same
        records."""
        found = (
            Found(
                os.fsdecode(entry["path"]),
                entry["follow"],
                (entry["kind"], entry["message"]) if entry["kind"] else None,
            )
            for ref in window.refs_from(start)
            for entry in self._ray.get(ref).to_pylist()
            if entry["index"] >= start
        )
        try:
            if start_context().get_start_method() != "fork" and unguarded_main():
                raise OSError("they would re-run this script, which calls predict at its top level")
            pool = WorkerPool(cpu_count(), str(self.model), self.options)
        except (OSError, BrokenProcessPool) as exc:
            self.notes.append(f"worker processes unavailable ({exc}); those files were decoded in this process")
            yield from score_here(found, str(self.model), self.options)
            return
        try:
            for meta, probs in pool.ordered(found):
                yield records_of(meta, probs, self.options)
        finally:
            pool.close()

    def _records(self, rows: list[dict[str, Any]]) -> list[Record]:
        """Scored rows -> records by `pipeline.make_records`, each with its path as the walk spelled it. The
        rows of one item (a file or a frame; one row per digit with --multi-digit) follow each other."""
        meta: list[ItemMeta] = []
        keys = [(r["index"], r["frame"]) for r in rows]
        starts = [i for i, key in enumerate(keys) if i == 0 or key != keys[i - 1]]
        for start, stop in zip(starts, starts[1:] + [len(rows)], strict=True):
            r = rows[start]
            meta.append(
                ItemMeta(
                    os.fsdecode(r["path"]),
                    r["frame"],
                    sum(bool(x["has"]) for x in rows[start:stop]),
                    r["blank"],
                    r["error_kind"] or None,
                    r["error"] or None,
                    r["flags"] or None,
                    r["plan"] or None,
                )
            )
        probs = [r["probs"] for r in rows if r["has"]]
        stacked = np.stack(probs).astype(np.float32, copy=False) if probs else np.zeros((0, 11), np.float32)
        return make_records(meta, stacked, self.options)


def _unpack(batch: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """A scored numpy batch -> one dict per row (the driver regroups rows by file)."""
    columns = {name: batch[name].tolist() for name in ROW_TYPES}
    probs = batch["probs"]
    return [{**{name: columns[name][i] for name in ROW_TYPES}, "probs": probs[i]} for i in range(len(probs))]


def _check_reachable(address: str) -> None:
    """Fail in one line, in seconds, for a HOST:PORT (or ray://HOST:PORT) nobody answers on: Ray itself would
    retry for minutes, printing warnings. Other forms ('auto') are left to Ray, which fails fast for them."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or exc.__class__.__name__
        raise ToolkitError(
            f"cannot connect to the Ray cluster at {address} ({reason}); is `ray start` running "
            "there, and is the port open?"
        ) from None


def _check_order(rows: list[dict[str, Any]], expected: int) -> int:
    """The next file index due after `rows`, checking that they continue the input order without a gap (a
    file's rows, one per frame or per digit, follow each other)."""
    for row in rows:
        if row["index"] != expected - 1:
            if row["index"] != expected:
                raise ToolkitError(
                    f"the Ray run lost or reordered files (file #{row['index']} came when #{expected} was due)"
                )
            expected += 1
    return expected


def map_batches_with(ds, fn, remote_args: dict[str, Any], **kwargs):
    """`ds.map_batches(fn, **kwargs)` with Ray remote arguments (`max_retries`, `max_restarts`), which since
    Ray 2.51 only pass through a deprecated catch-all; a Ray that refuses them gets its defaults."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ds.map_batches(fn, **kwargs, **remote_args)
        except TypeError:
            return ds.map_batches(fn, **kwargs)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """An exception and everything it wraps (causes, contexts, and the `cause` of Ray's task errors)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        error = stack.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        stack.extend([error.__context__, error.__cause__, getattr(error, "cause", None)])


def reraise_toolkit_error(exc: BaseException) -> None:
    """A task that failed with one of our errors (a model whose outputs are logits) fails the run with that
    error's one line, not with Ray's wrapped traceback."""
    from ray.exceptions import RayError

    for error in _chain(exc):
        if isinstance(error, ToolkitError) and not isinstance(error, RayError):
            raise error.with_traceback(None) from None


def _is_crash(exc: BaseException) -> bool:
    from ray import exceptions

    crashes = (
        exceptions.WorkerCrashedError,
        exceptions.NodeDiedError,
        exceptions.ObjectLostError,
        exceptions.ActorDiedError,
    )
    return any(isinstance(error, crashes) for error in _chain(exc))


def describe(exc: BaseException) -> str:
    """One line for a failed Ray run: the first error named in Ray's text (which carries the worker's
    traceback: `ModuleNotFoundError: No module named 'toolkit'` on a node without the package), else the
    exception's own first line."""
    for line in str(exc).splitlines():
        match = _ERROR_LINE.match(line.strip())
        if match and not match.group(1).startswith(("ray.", "UserCodeException", "RayTaskError")):
            return line.strip()[:300]
    return named(exc)


_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)): \S")


def quiet_ray_data() -> None:
    """Ray Data logs each run's plan, stats and ignored block errors on stderr; the run reports what matters
    itself (Ray Data's file log keeps everything)."""
    for handler in logging.getLogger("ray.data").handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.CRITICAL)
