"""The local engine: decode in a pool of worker processes, score in this process, keep input order.

Layout on an N-core machine (defaults): N worker processes decode and normalise chunks of 64 files
(`pipeline.prepare_chunk`) while this process walks the inputs, keeps up to 4 chunks per worker in flight
(bounded memory, and the workers never wait for work while onnxruntime runs), gathers finished chunks in input
order and scores them in batches of 256 with a single-threaded onnxruntime session (the workers have the
cores; threads spinning for work would steal them). Records come out as soon as their batch is scored, so the
first ones are written long before a big walk ends.

A worker that dies (a decoder crash on a hostile file) breaks the pool; the engine starts a new one, retries the
chunk one file at a time and records the file that kills a worker again as `worker-crashed`.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from pathlib import Path

import numpy as np

from toolkit.predict.decode import Item, quiet_warnings
from toolkit.predict.pipeline import (
    Packed,
    PredictOptions,
    Record,
    Scorer,
    make_records,
    pack,
    prepare_chunk,
)
from toolkit.predict.walk import Found

IN_FLIGHT_PER_WORKER = 4
_UNSAFE_TO_FORK = ("tensorflow", "torch", "onnxruntime", "jax")


def _init_worker() -> None:
    """Workers leave Ctrl-C to the parent and die with it (even after kill -9 of the parent)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    quiet_warnings()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:  # best effort; the pipe to the parent closing also ends the worker
            pass


def _context():
    """fork when it is safe (fast start: workers inherit NumPy and Pillow), else forkserver, else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if ("fork" in methods and threading.active_count() == 1
            and not any(name in sys.modules for name in _UNSAFE_TO_FORK)):
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["toolkit.predict.pipeline"])
        return context
    return multiprocessing.get_context("spawn")


class LocalEngine:
    """Use as a context manager: the pool starts first (before onnxruntime creates any thread), then the
    session; `batches(found)` yields lists of records in input order, all frames of a file in one list."""

    def __init__(self, model: Path, options: PredictOptions):
        self.model = Path(model)
        self.options = options
        self.workers = options.resolved_workers()
        self._pool: ProcessPoolExecutor | None = None
        self.scorer: Scorer | None = None
        self._loading: threading.Thread | None = None
        self._load_error: BaseException | None = None
        self.crashed = 0
        self.notes: list[str] = []  # things the user should hear about (shown with the summary)

    def __enter__(self) -> LocalEngine:
        if self.workers > 0:
            try:
                self._pool = self._new_pool()
                # With fork, the first task forks every worker right now, before onnxruntime starts a thread.
                self._pool.submit(_ready).result()
            except (OSError, BrokenProcessPool) as exc:  # no /dev/shm, no fork allowed, too many processes
                self.notes.append(f"worker processes unavailable ({exc}); decoding in the main process")
                self.close(wait=False)
                self.workers = 0
        if self.workers > 0:
            # Loading onnxruntime and the model takes a good part of a second: do it while the workers
            # already decode the first chunks.
            self._loading = threading.Thread(target=self._load_scorer, name="predict-load", daemon=True)
            self._loading.start()
        else:
            self._load_scorer()
            self._raise_load_error()
        return self

    def _load_scorer(self) -> None:
        try:
            self.scorer = Scorer(self.model, threads=self.options.resolved_threads())
        except BaseException as exc:  # re-raised in the main thread by _wait_for_scorer
            self._load_error = exc

    def _raise_load_error(self) -> None:
        if self._load_error is not None:
            error, self._load_error = self._load_error, None
            raise error

    def wait_for_scorer(self) -> Scorer:
        """The scorer, once loaded (raises the load error, e.g. a bad model, in the caller's thread)."""
        if self._loading is not None:
            self._loading.join()
            self._loading = None
        self._raise_load_error()
        assert self.scorer is not None
        return self.scorer

    def __exit__(self, exc_type, *exc) -> None:
        # After an error or Ctrl-C, do not wait for a worker that may be stuck on a file: workers die with us.
        self.close(wait=exc_type is None)

    def close(self, wait: bool = True) -> None:
        if self._loading is not None:
            self._loading.join()
            self._loading = None
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=_context(), initializer=_init_worker)

    # ---------------------------------------------------------------------------------------------------

    def batches(self, found: Iterable[Found]) -> Iterator[list[Record]]:
        """Records for the files in `found`, scored in batches, in the order the files came."""
        options = self.options
        if self._pool is None:
            yield from self._inline(_chunks(iter(found), options.chunk_size))
            return
        yield from self._pooled(found)
        self.wait_for_scorer()  # a bad model fails the run even when there was nothing to score

    def _pooled(self, found: Iterable[Found]) -> Iterator[list[Record]]:
        options = self.options
        feed = _Feed(found, options.chunk_size)
        pending: deque[tuple[list[Found], Future]] = deque()
        limit = self.workers * IN_FLIGHT_PER_WORKER
        metas: list = []
        arrays: list[np.ndarray] = []
        buffered = 0
        try:
            while True:
                # Keep the workers fed; wait for input only when there is nothing else to wait for.
                while len(pending) < limit:
                    chunk = feed.take(block=not pending and not metas)
                    if not chunk:
                        break
                    pending.append((chunk, self._submit(chunk)))
                if not pending:
                    if metas:  # input is slow to come: score what is here rather than wait
                        yield self._score(metas, arrays)
                        metas, arrays, buffered = [], [], 0
                        continue
                    if feed.done:
                        break
                    continue
                chunk, future = pending.popleft()
                try:
                    meta, tensors = future.result()
                except BrokenProcessPool:
                    meta, tensors = self._recover(chunk, pending)
                metas.extend(meta)
                arrays.append(tensors)
                buffered += len(tensors)
                if buffered >= options.batch_size or len(metas) >= 4 * options.batch_size or not pending:
                    yield self._score(metas, arrays)
                    metas, arrays, buffered = [], [], 0
            if metas:
                yield self._score(metas, arrays)
        finally:
            feed.stop()

    def _inline(self, chunks: Iterator[list[Found]]) -> Iterator[list[Record]]:
        """workers=0: decode in this process (debugging, tiny runs, places without multiprocessing)."""
        for chunk in chunks:
            meta, tensors = prepare_chunk(chunk, self.options.all_frames)
            yield self._score(list(meta), [tensors])

    def _submit(self, chunk: list[Found]) -> Future:
        assert self._pool is not None
        try:
            # Plain tuples: a NamedTuple pickles several times slower, and this is per file.
            return self._pool.submit(prepare_chunk, [tuple(f) for f in chunk], self.options.all_frames)
        except BrokenProcessPool as exc:  # a worker died since the last submit: handled when this is due
            broken: Future = Future()
            broken.set_exception(exc)
            return broken

    def _score(self, metas: list, arrays: list[np.ndarray]) -> list[Record]:
        tensors = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        return make_records(metas, self.wait_for_scorer().score(tensors), self.options)

    def _recover(self, chunk: list[Found], pending: deque) -> Packed:
        """The pool broke (a worker died). Start a new pool, decode `chunk` one file per task to find the
        culprit, and resubmit the chunks that were waiting."""
        self.close(wait=False)
        self._pool = self._new_pool()
        metas, arrays = [], []
        for entry in chunk:
            try:
                meta, tensors = self._submit([entry]).result()
            except BrokenProcessPool:
                self.crashed += 1
                self.close(wait=False)
                self._pool = self._new_pool()
                meta, tensors = pack([Item(entry.path, 0, None, error_kind="worker-crashed",
                                           error="decoding this file killed the worker process")])
            metas.extend(meta)
            arrays.append(tensors)
        waiting = [c for c, _ in pending]
        pending.clear()
        for c in waiting:
            pending.append((c, self._submit(c)))
        return metas, np.concatenate(arrays) if arrays else np.zeros((0, 28, 28), np.float32)


def _ready() -> bool:
    return True


class _Feed:
    """Walks the inputs in a thread into a bounded queue, so that a slow walk or a trickling stdin never
    holds up scoring, and hands them out in chunks of what is there (up to `size`)."""

    _END = object()

    def __init__(self, found: Iterable[Found], size: int, depth: int = 4096):
        self.size = size
        self.done = False
        self._queue: queue.Queue = queue.Queue(depth)
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(found,), name="predict-walk", daemon=True)
        self._thread.start()

    def _run(self, found: Iterable[Found]) -> None:
        try:
            for item in found:
                while not self._stopped.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stopped.is_set():
                    return
        except BaseException as exc:  # reported in the main thread, not lost in this one
            self._error = exc
        finally:
            while not self._stopped.is_set():
                try:
                    self._queue.put(self._END, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def take(self, block: bool) -> list[Found]:
        """Up to `size` items; waits for the first one only if `block`. Empty when none are ready."""
        if self.done:
            return []
        chunk: list[Found] = []
        try:
            item = self._queue.get(block=block)
            while True:
                if item is self._END:
                    self.done = True
                    self.raise_error()
                    break
                chunk.append(item)
                if len(chunk) >= self.size:
                    break
                item = self._queue.get_nowait()
        except queue.Empty:
            pass
        return chunk

    def raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def stop(self) -> None:
        self._stopped.set()


def _chunks(found: Iterator[Found], size: int) -> Iterator[list[Found]]:
    while True:
        chunk = list(islice(found, size))
        if not chunk:
            return
        yield chunk

