"""Where a run's records go: its output file, atomic, resumable and locked (`Journal`), or stdout (`StreamOutput`).

While a run is going, records are appended to `<out>.partial` (in the output's own format; a CSV journal for
Parquet, which cannot be appended to) and, after each batch, `<out>.partial.json` notes how many bytes of it
are complete, the model and options they were made with (the fingerprint) and the folder relative paths start
from. Both files appear with the first records, so a run that fails before (a bad model) leaves nothing. At the
end the partial file is flushed to disk and renamed over `<out>` (Parquet: converted into a temporary file that
is renamed), so a reader never sees half an output, and the fingerprint is kept beside it in `<out>.meta.json`.
After Ctrl-C or kill -9, `--resume` cuts the partial file back to its last complete batch, skips every file
already in it (`resume.Previous`) and appends the rest; resuming a finished run finds nothing new and leaves the
output untouched. Either way `--resume` refuses, in one line, a model or options other than the fingerprint's,
and a partial file, state or output that is damaged or was edited by hand.

A run holds an exclusive lock (`flock`) on `<out>.lock` from start to end, so a second run writing the same
`--out` fails at once instead of interleaving its records with the first one's.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from toolkit import fsutil
from toolkit.errors import ToolkitError, UsageError, first_line
from toolkit.predict.resume import Damaged, Previous, base_folder, differences, scan_parquet, scan_text
from toolkit.predict.writers import CsvWriter, JsonlWriter, Record, csv_to_parquet, open_text, writer_for

STATE_VERSION = 1


class Journal:
    """Appends records to `<out>.partial`, commits after each batch, and renames into place at the end.

    Call `start`, then `write`/`commit` per batch, then `finish` (success) or `close` (anything else): both
    release the lock that `start` takes."""

    def __init__(self, out: Path, fmt: str, columns: Sequence[str], fingerprint: dict[str, Any]):
        self.out = Path(out)
        self.fmt = fmt
        self.columns = tuple(columns)
        self.fingerprint = fingerprint
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.state = self.out.with_name(self.out.name + ".partial.json")
        self.meta = self.out.with_name(self.out.name + ".meta.json")
        self.lock = self.out.with_name(self.out.name + ".lock")
        self.previous = Previous()
        self._cwd = os.getcwd()
        self._stream: TextIO | None = None
        self._writer: CsvWriter | JsonlWriter | None = None
        self._lock_file: BinaryIO | None = None
        self._fresh = False  # a new output, whose partial file is created with the first records
        self._made_folders: list[Path] = []
        self.written = 0
        self.notes: list[str] = []

    @property
    def base(self) -> str:
        """The folder the relative paths of the output are relative to, kept in the state and the sidecar: the
        first run's folder once it has written one, else this run's."""
        return self.previous.base if self.previous.relative else self._cwd

    def _recorded(self) -> dict[str, Any]:
        """What the state file and the sidecar record, and what a resume must match."""
        return {"version": STATE_VERSION, "format": self.fmt, **self.fingerprint}

    # Starting ----------------------------------------------------------------------------------------

    def start(self, resume: bool) -> None:
        """Lock `<out>`; then resume: pick up the partial file, else the finished output; fresh: nothing yet.

        A fresh run creates its partial file and state with its first records (or in `finish`, for a run with
        none), so a run that fails before scoring anything (a bad model) leaves no file behind, and an
        interrupted run's partial file survives it for a later --resume."""
        if self.out.exists() and self.out.is_dir():
            raise UsageError(f"--out {self.out} is a folder; name a file")
        # Folders this run creates, deepest first: a run that ends with nothing in them takes them away again.
        self._made_folders = [f for f in (self.out.parent, *self.out.parent.parents) if not f.exists()]
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            if resume and self.partial.exists() and self.state.exists():
                self._resume_partial()
            elif resume and self.out.exists():
                self._resume_finished()
            else:
                if self.state.exists():
                    self.notes.append(
                        f"started over: the interrupted run's records in {self.partial} were "
                        "discarded (--resume continues an interrupted run)"
                    )
                self._fresh = True
        except BaseException:
            self.close()
            raise

    def _lock(self) -> None:
        """An exclusive lock on `<out>.lock` for the whole run, or a one-line error if another run holds it."""
        try:
            import fcntl
        except ImportError:  # not a POSIX system: no lock
            return
        while True:
            fh = open(self.lock, "ab")  # held open until _unlock
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise ToolkitError(
                    f"another predict run is writing {self.out}; wait for it to end or choose another --out"
                ) from None
            except OSError:  # a file system without locks (some network mounts): go on unlocked
                fh.close()
                return
            # The run that held the lock before us removes the file before it lets go (see _unlock): if it did
            # since we opened it, we hold a lock nobody else will look at; take the new file's instead.
            try:
                if os.path.samestat(os.fstat(fh.fileno()), os.stat(self.lock)):
                    self._lock_file = fh
                    return
            except FileNotFoundError:
                pass
            fh.close()

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self.lock.unlink(missing_ok=True)  # while still holding the lock: see _lock
            self._lock_file.close()
            self._lock_file = None

    def _open_fresh(self) -> None:
        # The old state goes first: a kill between the two steps must not leave it describing the new file.
        self.state.unlink(missing_ok=True)
        self._stream = open_text(self.partial, "w")
        self._writer = writer_for(self.fmt, self._stream, self.columns)
        self.commit()

    def _damaged(self, what: str) -> ToolkitError:
        return ToolkitError(f"cannot --resume {self.out}: {what}; delete {self.partial} and {self.state} to start over")

    def _resume_partial(self) -> None:
        try:
            state = json.loads(self.state.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise self._damaged(f"{self.state} is unreadable ({first_line(exc)})") from None
        if not isinstance(state, dict) or not isinstance(state.get("fingerprint"), dict):
            raise self._damaged(f"{self.state} is not a resume state (no fingerprint)")
        committed = state.get("committed_bytes")
        if not isinstance(committed, int) or isinstance(committed, bool) or committed < 0:
            raise self._damaged(f"{self.state} has no valid committed_bytes")
        differs = differences(
            {"version": state.get("version"), "format": state.get("format"), **state["fingerprint"]}, self._recorded()
        )
        if differs:
            raise UsageError(
                f"cannot --resume: the interrupted run differs in {differs}; run it with the same "
                "model and options, or without --resume to start over"
            )
        # Anything after the last commit may be half a record (kill -9 mid-write): cut it off. A file shorter
        # than its last commit was cut or replaced since; truncate would pad it with NUL bytes.
        with open(self.partial, "r+b") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < committed:
                raise self._damaged(
                    f"{self.partial} is shorter ({size:,} bytes) than its last commit ({committed:,} bytes)"
                )
            if committed:
                fh.seek(committed - 1)
                if fh.read(1) != b"\n":
                    raise self._damaged(
                        f"the last commit in {self.state} ({committed:,} bytes) does not end a record of {self.partial}"
                    )
            fh.truncate(committed)
        self.previous = Previous(base_folder(state))
        try:
            scan_text(self.partial, "jsonl" if self.fmt == "jsonl" else "csv", self.columns, self.previous)
        except Damaged as exc:
            raise self._damaged(f"{self.partial} {exc}") from None
        self._stream = open_text(self.partial, "a")
        self._writer = writer_for(self.fmt, self._stream, self.columns, header=False)
        self.commit()

    def _resume_finished(self) -> None:
        """The output of a finished run: check that it was made with this run's model and options (its
        `<out>.meta.json`), and remember its paths; it is copied into a partial file only if new files turn up
        (so a run with nothing new changes nothing)."""
        start_over = "run without --resume to start over"
        try:
            meta = json.loads(self.meta.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ToolkitError(
                f"cannot --resume {self.out}: {self.meta}, which records the model and options it "
                f"was made with, is missing; {start_over}"
            ) from None
        except (OSError, ValueError) as exc:
            raise ToolkitError(
                f"cannot --resume {self.out}: {self.meta} is unreadable ({first_line(exc)}); {start_over}"
            ) from None
        if not isinstance(meta, dict) or not isinstance(meta.get("fingerprint"), dict):
            raise ToolkitError(f"cannot --resume {self.out}: {self.meta} records no fingerprint; {start_over}")
        differs = differences(
            {"version": meta.get("version"), "format": meta.get("format"), **meta["fingerprint"]}, self._recorded()
        )
        if differs:
            raise UsageError(
                f"cannot --resume: {self.out} was made with other settings: {differs}; run it with "
                "the same model and options, or without --resume to start over"
            )
        self.previous = Previous(base_folder(meta))
        try:
            if self.fmt == "parquet":
                scan_parquet(self.out, self.columns, self.previous)
            else:
                scan_text(self.out, self.fmt, self.columns, self.previous)
        except Damaged as exc:
            raise ToolkitError(f"cannot --resume {self.out}: {self.out} {exc}; {start_over}") from None

    def _reopen_finished(self) -> None:
        if self.fmt == "parquet":
            self._stream = open_text(self.partial, "w")
            self._writer = CsvWriter(self._stream, self.columns)
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(self.out).iter_batches(batch_size=65536):
                self._writer.write(batch.to_pylist())
        else:
            shutil.copyfile(self.out, self.partial)
            self._stream = open_text(self.partial, "a")
            self._writer = writer_for(self.fmt, self._stream, self.columns, header=False)
        self.commit()

    # Writing -----------------------------------------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        """Append a batch. Records of one file must come in one call (resume works file by file)."""
        if not records:
            return
        with fsutil.naming(self.partial):
            if self._stream is None and self._fresh:
                self._open_fresh()
            elif self._stream is None:
                self._reopen_finished()
            assert self._writer is not None
            self._writer.write(records)
        self.written += len(records)

    def commit(self) -> None:
        """Make everything written so far survive a kill: flush it and note its length."""
        if self._stream is None:
            return
        with fsutil.naming(self.partial):
            self._stream.flush()
        state = {
            "version": STATE_VERSION,
            "format": self.fmt,
            "output": str(self.out),
            "cwd": self.base,
            "committed_bytes": self._stream.tell(),
            "fingerprint": self.fingerprint,
        }
        fsutil.write_json(self.state, state)

    def finish(self) -> bool:
        """Move the complete output into place. False when there was nothing new to write (resume)."""
        try:
            if self._stream is None:
                if not self._fresh:
                    return False
                with fsutil.naming(self.partial):
                    self._open_fresh()  # a run with no records still gets its output: the header alone
            self.commit()
            assert self._stream is not None  # opened above when there was nothing to resume
            with fsutil.naming(self.partial):
                os.fsync(self._stream.fileno())
                self._stream.close()
            self._stream = None
            # The sidecar first: until the state file goes, a --resume goes by the partial file and its state.
            fsutil.write_json(
                self.meta,
                {
                    "about": f"the model and options {self.out.name} was made with; predict --resume checks them",
                    "version": STATE_VERSION,
                    "format": self.fmt,
                    "cwd": self.base,
                    "fingerprint": self.fingerprint,
                },
            )
            if self.fmt == "parquet":
                csv_to_parquet(self.partial, self.out, self.columns)
                self.partial.unlink()
            else:
                os.replace(self.partial, self.out)
            self.state.unlink(missing_ok=True)
            return True
        finally:
            if self._stream is None:
                self._unlock()

    def close(self) -> None:
        """Stop without finishing (interrupt, failure): commit what is complete so --resume can go on."""
        try:
            if self._stream is not None:
                try:
                    self.commit()
                finally:
                    stream, self._stream = self._stream, None
                    with fsutil.naming(self.partial):
                        stream.close()
        finally:
            self._unlock()
            for folder in self._made_folders:
                try:
                    folder.rmdir()
                except OSError:  # not empty: the partial file is there for --resume
                    break


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
        self.notes: list[str] = []

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
