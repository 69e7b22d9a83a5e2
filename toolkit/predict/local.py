"""The local engine: decode, normalise and score in a pool of worker processes, keep input order.

Layout on an N-core machine (defaults): N worker processes each take chunks of 64 files, decode and normalise
them and score them with their own single-threaded onnxruntime session (`pipeline.score_chunk`), so every core
does the whole job and only ten probabilities an image cross back. This process walks the inputs in a thread,
keeps up to 4 chunks per worker in flight (bounded memory, and no worker waits for work), gathers finished
chunks in input order and turns them into records (`pipeline.make_records`). Records come out as soon as their
chunk is done, so the first ones are written long before a big walk ends.

The first task a worker runs loads the model: a model predict cannot use fails the run then, before the first
record, with the scorer's one-line reason.

A worker that dies (a decoder crash on a hostile file) breaks the pool; the engine starts a new one, retries the
chunk one file at a time and records the file that kills a worker again as `worker-crashed`.
"""

from __future__ import annotations

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
from itertools import islice
from pathlib import Path
from types import FrameType

import numpy as np

from toolkit.predict.decode import Item, quiet_worker
from toolkit.predict.pipeline import (
    PredictOptions,
    Record,
    Scored,
    make_records,
    pack,
    score_chunk,
    scorer_for,
)
from toolkit.predict.walk import Found

IN_FLIGHT_PER_WORKER = 4
_UNSAFE_TO_FORK = ("tensorflow", "torch", "onnxruntime", "jax")


def _init_worker() -> None:
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


def _context():
    """fork when it is safe (fast start: workers inherit NumPy and Pillow), else forkserver, else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and not any(name in sys.modules for name in _UNSAFE_TO_FORK):
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["toolkit.predict.pipeline"])
        return context
    return multiprocessing.get_context("spawn")


def _unguarded_main() -> bool:
    """True when this call comes from the top level of a script outside an `if __name__ == "__main__":` block.
    Workers started by spawn or forkserver import the script again, which would start the run again in each
    of them (Python stops that with a RuntimeError in every worker)."""
    import ast

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


class LocalEngine:
    """Use as a context manager; `batches(found)` yields lists of records in input order, all frames of a file
    in one list."""

    def __init__(self, model: Path, options: PredictOptions):
        self.model = str(Path(model).resolve())
        self.options = options
        self.workers = options.resolved_workers()
        self._pool: ProcessPoolExecutor | None = None
        self._model_ready: Future | None = None
        self.notes: list[str] = []  # things the user should hear about (shown with the summary)

    def __enter__(self) -> LocalEngine:
        if self.workers > 0 and _context().get_start_method() != "fork" and _unguarded_main():
            self.notes.append(
                "decoding in this process: worker processes would re-run this script, which calls "
                'predict at its top level; put the call under `if __name__ == "__main__":`'
            )
            self.workers = 0
        if self.workers > 0:
            try:
                self._pool = self._new_pool()
                # The first worker loads the model now, while the walk starts.
                self._model_ready = self._pool.submit(_load_model, self.model, self.options.resolved_threads())
            except (OSError, BrokenProcessPool) as exc:  # no /dev/shm, no fork allowed, too many processes
                self.notes.append(f"worker processes unavailable ({exc}); decoding in the main process")
                self.close(wait=False)
                self.workers = 0
        if self.workers == 0:
            scorer_for(self.model, self.options.resolved_threads())
        return self

    def _check_model(self) -> None:
        """Raise the model's load error (ModelLoadError), if any, in this thread; once."""
        if self._model_ready is not None:
            ready, self._model_ready = self._model_ready, None
            try:
                ready.result()
            except BrokenProcessPool:  # the worker died loading it: the first chunk will tell more
                pass

    def __exit__(self, exc_type, *exc) -> None:
        # After an error or Ctrl-C, do not wait for a worker that may be stuck on a file: workers die with us.
        self.close(wait=exc_type is None)

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=_context(), initializer=_init_worker)

    # ---------------------------------------------------------------------------------------------------

    def batches(self, found: Iterable[Found]) -> Iterator[list[Record]]:
        """Records for the files in `found`, in the order the files came."""
        if self._pool is None:
            for chunk in _chunks(iter(found), self.options.chunk_size):
                meta, probs = self._score_here(chunk)
                yield self._records(meta, [probs])
            return
        yield from self._pooled(found)
        self._check_model()  # a bad model fails the run even when there was nothing to score

    def _pooled(self, found: Iterable[Found]) -> Iterator[list[Record]]:
        feed = _Feed(found, self.options.chunk_size)
        pending: deque[tuple[list[Found], Future]] = deque()
        limit = self.workers * IN_FLIGHT_PER_WORKER
        metas: list = []
        probs: list[np.ndarray] = []
        try:
            while True:
                # Keep the workers fed; wait for input only when there is nothing else to wait for.
                while len(pending) < limit:
                    chunk = feed.take(block=not pending and not metas)
                    if not chunk:
                        break
                    pending.append((chunk, self._submit(chunk)))
                if not pending:
                    if metas:  # input is slow to come: hand over what is here rather than wait
                        yield self._records(metas, probs)
                        metas, probs = [], []
                        continue
                    if feed.done:
                        break
                    continue
                chunk, future = pending.popleft()
                try:
                    meta, scored = future.result()
                except BrokenProcessPool:
                    meta, scored = self._recover(chunk, pending)
                self._check_model()
                metas.extend(meta)
                probs.append(scored)
                # Records go out in batches of about batch_size (each batch costs the output a commit), or
                # sooner when the next chunk is not ready yet.
                if len(metas) >= self.options.batch_size or not pending or not pending[0][1].done():
                    yield self._records(metas, probs)
                    metas, probs = [], []
            if metas:
                yield self._records(metas, probs)
        finally:
            feed.stop()

    def _score_here(self, chunk: list[Found]) -> Scored:
        """workers=0: decode and score in this process (debugging, tiny runs, places without multiprocessing)."""
        return score_chunk(
            chunk, self.options.all_frames, self.model, self.options.resolved_threads(), self.options.multi_digit
        )

    def _submit(self, chunk: list[Found]) -> Future:
        assert self._pool is not None
        try:
            # Plain tuples: a NamedTuple pickles several times slower, and this is per file.
            entries = [(f.path, f.follow, f.error) for f in chunk]
            return self._pool.submit(
                score_chunk,
                entries,
                self.options.all_frames,
                self.model,
                self.options.resolved_threads(),
                self.options.multi_digit,
            )
        except BrokenProcessPool as exc:  # a worker died since the last submit: handled when this is due
            broken: Future = Future()
            broken.set_exception(exc)
            return broken

    def _records(self, meta: list, probs: list[np.ndarray]) -> list[Record]:
        """Records of chunks gathered together: their metadata, and their probabilities chunk by chunk."""
        return make_records(meta, probs[0] if len(probs) == 1 else np.concatenate(probs), self.options)

    def _recover(self, chunk: list[Found], pending: deque) -> Scored:
        """The pool broke (a worker died). Start a new pool, score `chunk` one file per task to find the
        culprit, and resubmit the chunks that were waiting.

        The broken pool is shut down and waited for before the next one starts: its manager thread, left running,
        closes pipes while the new pool opens its own, and a closed descriptor number handed out again can then
        be closed under the new pool (seen as EBADF in the fork server). A broken pool's workers are already
        being terminated, so the wait is short."""
        self.close(wait=True)
        self._pool = self._new_pool()
        metas, probs = [], []
        for entry in chunk:
            try:
                meta, scored = self._submit([entry]).result()
            except BrokenProcessPool:
                self.close(wait=True)
                self._pool = self._new_pool()
                meta, _ = pack(
                    [
                        Item(
                            entry.path,
                            0,
                            None,
                            error_kind="worker-crashed",
                            error="decoding this file killed the worker process",
                        )
                    ]
                )
                scored = np.zeros((0, 10), np.float32)
            metas.extend(meta)
            probs.append(scored)
        waiting = [c for c, _ in pending]
        pending.clear()
        for c in waiting:
            pending.append((c, self._submit(c)))
        return metas, np.concatenate(probs)


def _load_model(model: str, threads: int) -> bool:
    scorer_for(model, threads)
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
