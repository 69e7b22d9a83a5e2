"""Where a run's records go when they go to a file: atomic, resumable and locked (`Journal`).

While a run is going, records are appended to `<out>.partial` (in the output's own format; a CSV journal for
Parquet, which cannot be appended to) and, at each commit (see `runner.COMMIT_EVERY`), `<out>.partial.json` notes
how many bytes of it are complete, the model and options they were made with (the fingerprint) and the folder
relative paths start from. Both files appear with the first records, so a run that fails before (a bad model)
leaves nothing. At the end the partial file is flushed to disk and renamed over `<out>` (Parquet: converted into a
temporary file that is renamed), so a reader never sees half an output, and the fingerprint is kept beside it in
`<out>.meta.json`. After Ctrl-C or kill -9, `--resume` cuts the partial file back to its last commit, skips every
file already in it (`resume.Previous`) and appends the rest; resuming a finished run finds nothing new and leaves
the output untouched. Either way `--resume` refuses, in one line, a model or options other than the fingerprint's,
and a partial file, state or output that is damaged or was edited by hand.

A run holds an exclusive lock (`flock`) on `<out>.lock` from start to end, so a second run writing the same
`--out` fails at once instead of interleaving its records with the first one's.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from toolkit import fsutil
from toolkit.errors import ToolkitError, UsageError, first_line
from toolkit.predict.records import Record, path_bytes
from toolkit.predict.resume import (
    Damaged,
    Previous,
    base_folder,
    differences,
    scan_parquet,
    scan_text,
    with_gone_flag,
)
from toolkit.predict.sources import ENTRY, UNKNOWN, Version, open_versions, read_versions, version_of
from toolkit.predict.walk import Found
from toolkit.predict.writers import CsvWriter, JsonlWriter, csv_line, csv_to_parquet, open_text, writer_for

STATE_VERSION = 1


class Journal:
    """Appends records to `<out>.partial`, commits when told (`commit`), and renames into place at the end.

    Call `start`, then `write` per batch and `commit` whenever what was written must survive a kill, then
    `finish` (success) or `close` (anything else, which commits too): both release the lock `start` takes."""

    def __init__(self, out: Path, fmt: str, columns: Sequence[str], fingerprint: dict[str, Any]):
        self.out = Path(out)
        self.fmt = fmt
        self.columns = tuple(columns)
        self._kind_at = self.columns.index("error_kind") if "error_kind" in self.columns else None
        self.fingerprint = fingerprint
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.state = self.out.with_name(self.out.name + ".partial.json")
        self.meta = self.out.with_name(self.out.name + ".meta.json")
        self.lock = self.out.with_name(self.out.name + ".lock")
        # The version (size, mtime_ns) of each record's input, one 16-byte entry per record, in record order:
        # what lets a later --resume tell a changed input from the one that was scored.
        self.sources = self.out.with_name(self.out.name + ".partial.sources")
        self.final_sources = self.out.with_name(self.out.name + ".sources")
        self._sources_fh: BinaryIO | None = None
        self._admitted: dict[str, Version] = {}  # versions of inputs admitted and not yet written
        self._sidecar_count: Any = None  # how many records a finished output's sidecar says it describes
        self.previous = Previous()
        self._cwd = os.getcwd()
        self._stream: TextIO | None = None
        self._writer: CsvWriter | JsonlWriter | None = None
        self._lock_file: BinaryIO | None = None
        self._fresh = False  # a new output, whose partial file is created with the first records
        self._made_folders: list[Path] = []
        self.written = 0
        self.gone = 0  # inputs of earlier records this run did not reach (known when it finishes)
        self.kept: tuple[int, int] | None = None  # earlier records and errors kept, when finishing dropped some
        self.notes: list[str] = []

    @property
    def base(self) -> str:
        """The folder the relative paths of the output are relative to, kept in the state and the sidecar: the
        first run's folder once it has written one, else this run's."""
        return self.previous.base if self.previous.relative else self._cwd

    def _recorded(self) -> dict[str, Any]:
        """What the state file and the sidecar record, and what a resume must match."""
        return {"version": STATE_VERSION, "format": self.fmt, **self.fingerprint}

    def admit(self, found: Found) -> bool:
        """Whether this run scores `found`: not when an earlier run recorded it at its current version."""
        version = found.version if found.version is not None else version_of(found.path, found.follow)
        if not self.previous.admit(found.path, version):
            return False
        self._admitted[found.path] = version
        return True

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
            self._clean_leftovers()
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
            self._lock_file = fsutil.lock_exclusive(self.lock)
        except BlockingIOError:
            raise ToolkitError(
                f"another predict run is writing {self.out}; wait for it to end or choose another --out"
            ) from None

    def _clean_leftovers(self) -> None:
        """Remove what a run on this output killed at the wrong moment left behind, which nothing else would
        ever remove: temporary files of its atomic writes (state, sidecar, Parquet conversion), the copies a
        finishing resume was making, and a state file whose partial file was already moved into place. Safe
        under the lock: no other run is writing this output."""
        name = re.escape(self.out.name)
        temporary = re.compile(rf"^\.{name}(\.partial\.json|\.meta\.json|\.sources)?\.[0-9a-f]{{8}}\.part$")
        for entry in os.scandir(self.out.parent):
            if temporary.match(entry.name) and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
        for copy in (self.partial, self.sources):
            copy.with_name(copy.name + ".kept").unlink(missing_ok=True)
        if self.state.exists() and not self.partial.exists():  # killed after the output went into place
            self.state.unlink()
            self.sources.unlink(missing_ok=True)  # its versions were copied beside the output first

    def _unlock(self) -> None:
        fsutil.unlock(self.lock, self._lock_file)
        self._lock_file = None

    def _open_fresh(self) -> None:
        # The old state goes first: a kill between the two steps must not leave it describing the new file.
        self.state.unlink(missing_ok=True)
        self._stream = open_text(self.partial, "w")
        self._sources_fh = open(self.sources, "wb")
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
        versions = read_versions(self.sources, state.get("committed_records"))
        try:
            scan_text(self.partial, "jsonl" if self.fmt == "jsonl" else "csv", self.columns, self.previous, versions)
        except Damaged as exc:
            raise self._damaged(f"{self.partial} {exc}") from None
        self._sources_fh = open_versions(
            self.sources, self.previous.records, self.sources, state.get("committed_records")
        )
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
        count = meta.get("records")
        versions = read_versions(self.final_sources, count)
        try:
            if self.fmt == "parquet":
                scan_parquet(self.out, self.columns, self.previous, versions)
            else:
                scan_text(self.out, self.fmt, self.columns, self.previous, versions)
        except Damaged as exc:
            raise ToolkitError(f"cannot --resume {self.out}: {self.out} {exc}; {start_over}") from None
        self._sidecar_count = count
        if count != self.previous.records:
            self.previous.forget_versions()
            self.notes.append(
                f"{self.final_sources} does not match {self.out}: inputs changed since they were scored cannot be "
                "told from the ones that were"
            )

    def _reopen_finished(self) -> None:
        if self.fmt == "parquet":
            self._stream = open_text(self.partial, "w")
            self._writer = CsvWriter(self._stream, self.columns)
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(self.out).iter_batches(batch_size=65536):
                rows = batch.to_pylist()
                for row in rows:  # the writer spells paths itself: give it the paths, not their spelling
                    row["path"] = os.fsdecode(path_bytes(row["path"]))
                self._writer.write(rows)
        else:
            shutil.copyfile(self.out, self.partial)
            self._stream = open_text(self.partial, "a")
            self._writer = writer_for(self.fmt, self._stream, self.columns, header=False)
        self._sources_fh = open_versions(
            self.sources, self.previous.records, self.final_sources, self._sidecar_count, copy=True
        )
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
            assert self._writer is not None and self._sources_fh is not None
            self._writer.write(records)
            admitted = self._admitted
            self._sources_fh.write(b"".join(ENTRY.pack(*admitted.get(r["path"], UNKNOWN)) for r in records))
            for record in records:
                admitted.pop(record["path"], None)
        self.written += len(records)

    def commit(self) -> None:
        """Make everything written so far survive a kill: flush it and note its length."""
        if self._stream is None:
            return
        with fsutil.naming(self.partial):
            self._stream.flush()
            if self._sources_fh is not None:
                self._sources_fh.flush()
        state = {
            "version": STATE_VERSION,
            "format": self.fmt,
            "output": str(self.out),
            "cwd": self.base,
            "committed_bytes": self._stream.tell(),
            "committed_records": self.previous.records + self.written,
            "fingerprint": self.fingerprint,
        }
        fsutil.write_json(self.state, state)

    def finish(self) -> bool:
        """Move the complete output into place. False when a resume had nothing to change."""
        try:
            if self._stream is None:
                if not self._fresh and not self.previous.needs_rewrite:
                    self.gone = self.previous.gone
                    return False
                with fsutil.naming(self.partial):
                    self._open_fresh() if self._fresh else self._reopen_finished()  # a header alone, or a rewrite
            self.commit()
            self.gone = self.previous.gone
            assert self._stream is not None and self._sources_fh is not None
            with fsutil.naming(self.partial):
                for fh in (self._stream, self._sources_fh):
                    os.fsync(fh.fileno())
                    fh.close()
            self._stream = self._sources_fh = None
            source, sources, total = self.partial, self.sources, self.previous.records + self.written
            if self.previous.records and self.previous.needs_rewrite:
                with fsutil.naming(self.partial):
                    source, sources, total = self._rewritten()
            # The sidecar first: until the state file goes, a --resume goes by the partial file and its state.
            fsutil.write_json(
                self.meta,
                {
                    "about": f"the model and options {self.out.name} was made with; predict --resume checks them",
                    "version": STATE_VERSION,
                    "format": self.fmt,
                    "cwd": self.base,
                    "records": total,
                    "fingerprint": self.fingerprint,
                },
            )
            # The versions before the output: a kill between the two leaves the new versions beside the old
            # output only while the partial file and its state still say how to resume.
            with fsutil.atomic_open(self.final_sources) as (fh, _), open(sources, "rb") as versions:
                shutil.copyfileobj(versions, fh)
            if self.fmt == "parquet":
                csv_to_parquet(source, self.out, self.columns)
                source.unlink()
            else:
                os.replace(source, self.out)
            for leftover in (self.partial, self.sources, sources, self.state):
                leftover.unlink(missing_ok=True)
            return True
        finally:
            if self._stream is None:
                self._unlock()

    def _rewritten(self) -> tuple[Path, Path, int]:
        """A copy of the partial file and its sources in which the earlier records of inputs scored again are
        dropped and those of inputs this run did not reach are flagged gone (inputs back as they were lose the
        flag); this run's records are copied as they are. Returns the two files and the number of records."""
        kept_path, kept_sources = (path.with_name(path.name + ".kept") for path in (self.partial, self.sources))
        earlier, count, kept, errors = self.previous.records, 0, 0, 0
        with (
            open_text(self.partial, "r") as src,
            open(self.sources, "rb") as versions,
            open_text(kept_path, "w") as dst,
            open(kept_sources, "wb") as dst_versions,
        ):
            for index, fields, line in self._records_in(src):
                if index is None:  # the CSV header
                    dst.write(line)
                    continue
                entry = versions.read(ENTRY.size)
                if index < earlier:
                    path, status, kind = (
                        (fields[0], fields[1], fields[self._kind_at] if self._kind_at is not None else None)
                        if isinstance(fields, list)
                        else (fields["path"], fields["status"], fields.get("error_kind"))
                    )
                    verdict = self.previous.verdict(path, ENTRY.unpack(entry) if entry else UNKNOWN, index, kind)
                    if verdict == Previous.CHANGED:
                        continue
                    line = self._flagged(fields, line, gone=verdict == 0)
                    kept, errors = kept + 1, errors + (status == "error")
                dst.write(line)
                dst_versions.write(entry)
                count += 1
            for fh in (dst, dst_versions):
                fh.flush()
                os.fsync(fh.fileno())
        self.kept = (kept, errors)
        return kept_path, kept_sources, count

    def _records_in(self, src: TextIO) -> Iterator[tuple[int | None, Any, str]]:
        """(record index, its fields, its text) for each record of a partial file (index None: the CSV header).
        JSON Lines records are parsed only where an earlier run wrote them."""
        if self.fmt == "jsonl":
            index = 0
            for line in src:
                if line.strip():
                    yield index, json.loads(line) if index < self.previous.records else None, line
                    index += 1
            return
        for index, row in enumerate(csv.reader(src), -1):
            yield (index if index >= 0 else None), row, csv_line(row)

    def _flagged(self, fields: Any, line: str, gone: bool) -> str:
        """A record's text with the gone flag added (`gone`) or taken away."""
        if isinstance(fields, dict):
            flags = with_gone_flag(fields.get("flags"), gone)
            if flags == fields.get("flags"):
                return line
            return json.dumps({**fields, "flags": flags}, ensure_ascii=False, allow_nan=False) + "\n"
        at = self.columns.index("flags")
        flags = with_gone_flag(fields[at] or None, gone) or ""
        return line if flags == fields[at] else csv_line([*fields[:at], flags, *fields[at + 1 :]])

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
                        if self._sources_fh is not None:
                            self._sources_fh.close()
                            self._sources_fh = None
        finally:
            self._unlock()
            for folder in self._made_folders:
                try:
                    folder.rmdir()
                except OSError:  # not empty: the partial file is there for --resume
                    break
