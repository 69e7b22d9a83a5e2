"""The local engine: decode, normalise and score in a pool of worker processes (`pool.WorkerPool`), keeping input
order.

Layout on an N-core machine (defaults): N worker processes each take chunks of 64 files, decode, normalise and
score them; this process walks the inputs in a thread, keeps up to 4 chunks per worker in flight (bounded memory,
and no worker waits for work), gathers finished chunks in input order and turns them into records
(`pipeline.make_records`). Records come out as soon as their chunk is done, so the first ones are written long
before a big walk ends. With no worker processes (`--workers 0`, or where none can start) the same steps run in
this process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from toolkit.predict.engines.pool import WorkerPool, start_context, unguarded_main
from toolkit.predict.engines.shared import records_of, score_here
from toolkit.predict.options import PredictOptions
from toolkit.predict.pipeline import scorer_for
from toolkit.predict.records import Record
from toolkit.predict.walk import Found


class LocalEngine:
    """Use as a context manager; `batches(found)` yields lists of records in input order, all frames of a file
    in one list."""

    def __init__(self, model: Path, options: PredictOptions):
        self.model = str(Path(model).resolve())
        self.options = options
        self.workers = options.resolved_workers()
        self._pool: WorkerPool | None = None
        self.notes: list[str] = []  # things the user should hear about (shown with the summary)

    def __enter__(self) -> LocalEngine:
        if self.workers > 0 and start_context().get_start_method() != "fork" and unguarded_main():
            self.notes.append(
                "decoding in this process: worker processes would re-run this script, which calls "
                'predict at its top level; put the call under `if __name__ == "__main__":`'
            )
            self.workers = 0
        if self.workers > 0:
            try:
                self._pool = WorkerPool(self.workers, self.model, self.options)
            except (OSError, BrokenProcessPool) as exc:
                self.notes.append(f"worker processes unavailable ({exc}); decoding in the main process")
                self.workers = 0
        if self.workers == 0:
            scorer_for(self.model, self.options.resolved_threads())
        return self

    def __exit__(self, exc_type, *exc) -> None:
        # After an error or Ctrl-C, do not wait for a worker that may be stuck on a file: workers die with us.
        self.close(wait=exc_type is None)

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.close(wait)
            self._pool = None

    def batches(self, found: Iterable[Found]) -> Iterator[list[Record]]:
        """Records for the files in `found`, in the order the files came."""
        if self._pool is None:
            yield from score_here(found, self.model, self.options)
            return
        for gathered, scored in self._pool.ordered(found):
            yield records_of(gathered, scored, self.options)
