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

import ast
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import FrameType

from toolkit.predict.engines.pool import WorkerPool, start_context
from toolkit.predict.engines.shared import chunks, records_of
from toolkit.predict.options import PredictOptions
from toolkit.predict.pipeline import make_records, score_chunk, scorer_for
from toolkit.predict.records import Record
from toolkit.predict.walk import Found


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
            options = self.options
            for chunk in chunks(found, options.chunk_size):
                meta, probs = score_chunk(
                    chunk, options.all_frames, self.model, options.resolved_threads(), options.multi_digit
                )
                yield make_records(meta, probs, options)
            return
        for gathered, scored in self._pool.ordered(found):
            yield records_of(gathered, scored, self.options)
