"""Where a run's records go when they go to stdout (`--out -`): `StreamOutput`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from toolkit.errors import UsageError
from toolkit.predict.records import Record
from toolkit.predict.resume import Previous
from toolkit.predict.walk import Found
from toolkit.predict.writers import CsvWriter, JsonlWriter, writer_for


class StreamOutput:
    """Records to stdout (`--out -`): no journal, no resume, written as they come. The CSV header comes with
    the first records (or at the end of a run that had none), so a run that fails before any record was
    scored (a bad model) prints nothing on stdout."""

    def __init__(self, stream: TextIO, fmt: str, columns: Sequence[str]):
        self._stream = stream
        self._fmt = fmt
        self._columns = tuple(columns)
        self._writer: CsvWriter | JsonlWriter | None = None
        self.previous = Previous()
        self.written = 0
        self.gone = 0
        self.kept: tuple[int, int] | None = None
        self.notes: list[str] = []

    def admit(self, found: Found) -> bool:
        return True

    def start(self, resume: bool) -> None:
        if resume:
            raise UsageError("--resume needs --out FILE (stdout cannot be resumed)")

    def _open(self) -> CsvWriter | JsonlWriter:
        if self._writer is None:
            self._writer = writer_for(self._fmt, self._stream, self._columns)
        return self._writer

    def write(self, records: Sequence[Record]) -> None:
        if not records:
            return
        self._open().write(records)
        self.written += len(records)

    def commit(self) -> None:
        self._stream.flush()

    def finish(self) -> bool:
        self._open()
        self._stream.flush()
        return True

    def close(self) -> None:
        self._stream.flush()
