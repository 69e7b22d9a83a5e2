"""A pool of worker processes on this machine that decode, normalise and score chunks of files
(`pipeline.score_chunk`), and hand the results back in input order.

Each worker scores its own chunks with its own single-threaded onnxruntime session, so every core does the
whole job and only ten probabilities an image cross back. The first task a worker runs loads the model: a
model predict cannot use fails the run then, before the first record, with the model's one-line reason.

A worker that dies (a decoder crash on a hostile file) breaks the pool; the pool is replaced, the chunk is
retried one file at a time (`shared.one_by_one`) and the file that kills a worker again becomes a
`worker-crashed` item. Used by the local engine, and by the Ray engine to finish a window after a crash.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import multiprocessing
import os
import queue
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import FrameType

import numpy as np

from toolkit.predict.decode import quiet_worker
from toolkit.predict.engines.shared import CRASHED, one_by_one
from toolkit.predict.options import PredictOptions
from toolkit.predict.pipeline import Entry, Scored, entries, score_chunk, scorer_for
from toolkit.predict.records import ItemMeta
from toolkit.predict.walk import Found

IN_FLIGHT_PER_WORKER = 4
UNSAFE_TO_FORK = ("tensorflow", "torch", "onnxruntime", "jax")

Gathered = tuple[list[ItemMeta], list[np.ndarray]]  # items of finished chunks, and their probabilities chunk by chunk


def init_worker() -> None:
    """Workers leave Ctrl-C to the parent and die with it (even after kill -9 of the parent). Their stderr goes
    to /dev/null: libpng prints a line for each corrupt PNG, and the parent reports every file itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    quiet_worker()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:  # best effort; the pipe to the parent closing also ends the worker
            pass


def start_context():
    """fork when it is safe (fast start: workers inherit NumPy and Pillow), else forkserver, else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and not any(name in sys.modules for name in UNSAFE_TO_FORK):
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["toolkit.predict.pipeline"])
        return context
    return multiprocessing.get_context("spawn")


def unguarded_main() -> bool:
    """True when this call comes from the top level of a script outside an `if __name__ == "__main__":` block.
    Workers started by spawn or forkserver import the script again, which would start the run again in each
    of them (Python stops that with a RuntimeError in every worker)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        return False  # interactive, -c, or -m (run as a module: workers import it under another name)
    frame: FrameType | None = sys._getframe()
    top = None
    while frame is not None:  # the outermost frame running the script's own top-level code
        if frame.f_globals is vars(main) and frame.f_code.co_name == "<module>":
            top = frame
        frame = frame.f_back
    if top is None:
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) and "__name__" in ast.unparse(node.test):
            if node.lineno <= top.f_lineno <= (node.end_lineno or node.lineno):
                return False
    return True


# Whether objects frozen before the workers are forked stay frozen in this process too. Only a process that is the
# command's own (the CLI's predict: `own_the_process`) keeps them frozen; in someone else's (a notebook, a test
# runner) the collector goes on seeing everything after the fork.
_process_is_ours = False


def own_the_process() -> None:
    """Called by the CLI: this process lives for one command, so what it has made by the time the workers are
    forked (the imports, mostly) can stay frozen to the end."""
    global _process_is_ours
    _process_is_ours = True


@contextlib.contextmanager
def frozen_for_the_workers(forks: bool) -> Iterator[None]:
    """Around the task that forks the workers: the garbage collector's objects frozen first, as the gc module's
    documentation advises before fork. The workers then never walk what they inherit (their copies of its pages
    stay shared), nor does this process afterwards when it is ours, nor at its exit. Measured (medians of 15 and
    7 alternated runs): 40 files 0.34 -> 0.29 s wall, 10,000 MNIST PNGs 0.68 -> 0.61 s."""
    if forks:
        gc.freeze()
    try:
        yield
    finally:
        if forks and not _process_is_ours:
            gc.unfreeze()


def load_model(model: str, threads: int) -> bool:
    scorer_for(model, threads)
    return True


class WorkerPool:
    """`workers` processes scoring chunks for `model` with `options`. Raises OSError or BrokenProcessPool when
    no worker process can be started (no /dev/shm, no fork allowed, too many processes)."""

    def __init__(self, workers: int, model: str, options: PredictOptions):
        self.workers = workers
        self.model = model
        self.options = options
        context = start_context()
        self._pool: ProcessPoolExecutor | None = self._new_pool(context)
        try:
            # The first worker loads the model now, while the walk starts. With fork this first task starts
            # every worker, with the parent's objects frozen (`frozen_for_the_workers`).
            with frozen_for_the_workers(context.get_start_method() == "fork"):
                self._model_ready: Future | None = self._pool.submit(load_model, model, options.resolved_threads())
        except BaseException:
            self.close(wait=False)
            raise

    def _new_pool(self, context: multiprocessing.context.BaseContext) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=init_worker)

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def _renew(self) -> None:
        """A new pool for a broken one. The broken pool is shut down and waited for first: its manager thread,
        left running, closes pipes while the new pool opens its own, and a closed descriptor number handed out
        again can then be closed under the new pool (seen as EBADF in the fork server). A broken pool's
        workers are killed first: the executor ends them with SIGTERM and waits, and a worker that does not die of
        it (seen: stuck on a pipe, the whole run waiting for it) would hold the wait forever."""
        processes = getattr(self._pool, "_processes", None) or {}
        for process in list(processes.values()):
            with contextlib.suppress(Exception):
                process.kill()
        self.close(wait=True)
        self._pool = self._new_pool(start_context())

    def check_model(self) -> None:
        """Raise the model's load error (ModelLoadError), if any, in this thread; once."""
        if self._model_ready is not None:
            ready, self._model_ready = self._model_ready, None
            try:
                ready.result()
            except BrokenProcessPool:  # the worker died loading it: the first chunk will tell more
                pass

    def submit(self, chunk: list[Found] | list[Entry]) -> Future:
        """Score `chunk` in a worker. When the pool is broken (a worker died since the last submit), or no worker
        can be started for it (seen: EBADF from the fork server just after a worker crashed), the chunk's
        future says the pool broke, and it is scored again in a new pool when it is due (`recover`)."""
        assert self._pool is not None
        options = self.options
        try:
            return self._pool.submit(
                score_chunk,
                entries(chunk),
                options.all_frames,
                self.model,
                options.resolved_threads(),
                options.multi_digit,
                options.access(),
            )
        except (BrokenProcessPool, OSError) as exc:
            broken: Future = Future()
            broken.set_exception(exc if isinstance(exc, BrokenProcessPool) else BrokenProcessPool(str(exc)))
            return broken

    def recover(self, chunk: list[Found], pending: deque[tuple[list[Found], Future]]) -> Scored:
        """The pool broke (a worker died): a new pool scores `chunk` one file per task to find the culprit, and
        the chunks that were waiting are submitted again."""
        self._renew()

        def crashed(_entry: Entry, _exc: BaseException) -> tuple[str, str]:
            self._renew()
            return CRASHED

        scored = one_by_one(entries(chunk), lambda one: self.submit(one).result(), (BrokenProcessPool,), crashed, (10,))
        waiting = [c for c, _ in pending]
        pending.clear()
        pending.extend((c, self.submit(c)) for c in waiting)
        return scored

    def ordered(self, found: Iterable[Found]) -> Iterator[Gathered]:
        """The scored chunks of `found`, in input order, gathered in groups of about `batch_size` items, or sooner
        when the next chunk is not ready yet; an empty group when everything is handed over and the walk has
        nothing ready (the engine's caller then commits its output)."""
        feed = Feed(found, self.options.chunk_size)
        pending: deque[tuple[list[Found], Future]] = deque()
        limit = self.workers * IN_FLIGHT_PER_WORKER
        metas: list[ItemMeta] = []
        probs: list[np.ndarray] = []
        try:
            while True:
                if not pending and not metas and feed.waiting():
                    yield [], []  # all handed over and no input ready: say so before waiting for it
                # Keep the workers fed; wait for input only when there is nothing else to wait for.
                while len(pending) < limit and (chunk := feed.take(block=not pending and not metas)):
                    pending.append((chunk, self.submit(chunk)))
                if not pending:
                    if metas:  # input is slow to come: hand over what is here rather than wait
                        yield metas, probs
                        metas, probs = [], []
                    elif feed.done:
                        break
                    continue
                chunk, future = pending.popleft()
                try:
                    meta, scored = future.result()
                except BrokenProcessPool:
                    meta, scored = self.recover(chunk, pending)
                self.check_model()
                metas.extend(meta)
                probs.append(scored)
                if len(metas) >= self.options.batch_size or not pending or not pending[0][1].done():
                    yield metas, probs
                    metas, probs = [], []
            if metas:
                yield metas, probs
        finally:
            feed.stop()
        self.check_model()  # a bad model fails the run even when there was nothing to score


class Feed:
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

    def _put(self, item: object) -> bool:
        """Queue `item`, waiting while the queue is full; False once the feed is stopped."""
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, found: Iterable[Found]) -> None:
        try:
            for item in found:
                if not self._put(item):
                    return
        except BaseException as exc:  # reported in the main thread, not lost in this one
            self._error = exc
        finally:
            self._put(self._END)

    def waiting(self) -> bool:
        """Whether a blocking `take` would wait: the walk is not over and nothing it found is queued."""
        return not self.done and self._queue.empty()

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
