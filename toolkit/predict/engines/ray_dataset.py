"""`--engine ray --out DIR/`: the workers write the records, as shards of a dataset, and the driver only walks.

The driver walks the inputs (streaming, as ever: never all paths in memory), cuts the walk into blocks of about
`shard_size` files and puts each into Ray's object store as an Arrow table. Each block is one Ray task,
`write_shard_table`, which decodes, normalises and scores the block with the pipeline every engine uses, makes
its records and commits them as one shard (`toolkit.predict.shards`: exactly once, visible only whole), and
returns one small summary row. The driver keeps two blocks per cluster CPU in flight and adds up the rows: per
file it only walks and packs a path.

Plain Ray tasks, not Ray Data: a Ray Data run keeps a streaming executor polling in the driver, which cost
15 us of the driver's CPU per file here (scripts/bench_engines.py), three times the budget; with one task per
block the driver's share is the walk. And tasks, not actors: a task whose node dies is retried by Ray on another
node (`max_retries`), while an actor pool waits for a dead actor's restart to find a free slot. Each worker
process keeps its onnxruntime session between tasks (`pipeline.scorer_for`), so the model is loaded once per
process, not per block.

A resumed run sends every block again, and its task skips a block whose committed shard's manifest shows the
inputs unchanged (a stat per local file, in the worker; the listing's version for members and objects).
"""

from __future__ import annotations

import io
import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.predict import located, names, shards, walk, writers
from toolkit.predict.engines.ray import RayEngine, describe, reraise_toolkit_error
from toolkit.predict.options import PredictOptions
from toolkit.predict.pipeline import Entry, make_records, score_chunk
from toolkit.predict.resume import RETRIED_KINDS
from toolkit.predict.sources import UNKNOWN, version_of
from toolkit.predict.summary import Summary
from toolkit.predict.walk import Found

SHARD_RETRIES = 3  # a block's task is tried again this often (a lost node, a killed worker) before the run fails


class RayDatasetEngine(RayEngine):
    """The Ray engine whose workers write shards: `shards(found)` yields one summary row per block."""

    def __init__(self, model: Path, options: PredictOptions, dataset: shards.Dataset):
        super().__init__(model, options)
        self.chunk = options.shard_size  # a block of the walk is a shard
        self.dataset = dataset

    def _blocks(self, found: Iterator[Found]) -> Iterator[list[Found]]:
        """Blocks cut where the content says, not every `shard_size` files: a block ends after a path whose CRC-32
        is a multiple of `shard_size` (so blocks average `shard_size` files), or at 4 x `shard_size`. A file
        added or removed in the middle of a walk changes its own block, and the blocks after it stay the same
        shards: a --resume scores that block again, not everything after it."""
        size, longest = self.options.shard_size, 4 * self.options.shard_size
        block: list[Found] = []
        for f in found:
            block.append(f)
            if len(block) >= longest or zlib.crc32(os.fsencode(f.path)) % size == 0:
                yield block
                block = []
        if block:
            yield block

    def _columns(self, files: list[Found], first: int) -> dict[str, Any]:
        """The Ray engine's block columns, with each file's version as the listing gave it (UNKNOWN: the worker
        stats the file) and the block's length (a worker checks that it got the whole block)."""
        pa = self._pa
        versions = [f.version or UNKNOWN for f in files]
        return {
            **super()._columns(files, first),
            "size": pa.array([v[0] for v in versions], pa.int64()),
            "stamp": pa.array([v[1] for v in versions], pa.int64()),
            "block": pa.array([len(files)] * len(files), pa.int64()),
            "archive": pa.array([f.archive or "" for f in files], pa.string()),
        }

    def shards(self, found: Iterable[Found]) -> Iterator[dict[str, Any]]:
        """One row per block of `found`, as its shard is committed (or found committed), in the order they
        finish: shard name, the block's position in the walk, the shard's counts, and whether it was reused.
        At most two blocks per cluster CPU are in flight, so the walk (and the driver's memory) keeps pace
        with the workers."""
        ray = self._ray
        task = ray.remote(num_cpus=1, max_retries=SHARD_RETRIES, retry_exceptions=False)(write_shard_table)
        limit = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        arguments = (str(self.model), self.options, self.dataset, os.getcwd())
        pending: dict[Any, int] = {}
        index = 0
        for position, files in enumerate(self._blocks(iter(found))):
            pending[task.remote(self._put(files, index), *arguments)] = position
            index += len(files)
            while len(pending) >= limit:
                yield from self._finished(pending)
        while pending:
            yield from self._finished(pending)

    def _finished(self, pending: dict[Any, int]) -> Iterator[dict[str, Any]]:
        """The rows of the tasks in `pending` that are done (at least one), removed from it."""
        ray = self._ray
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            position = pending.pop(ref)
            try:
                row = ray.get(ref)
            except Exception as exc:
                reraise_toolkit_error(exc)
                raise ToolkitError(
                    f"the Ray run failed: {describe(exc)}; committed shards are kept: run the same command with "
                    "--resume to continue"
                ) from exc
            yield {**row, "position": position}


def write_shard_table(table: Any, model: str, options: PredictOptions, dataset: shards.Dataset, cwd: str) -> dict:
    """The Ray task of one block (an Arrow table, as `_put` made it): `write_shard` on its columns."""
    block = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    return write_shard(block, model, options, dataset, cwd)


def write_shard(
    block: dict[str, np.ndarray], model: str, options: PredictOptions, dataset: shards.Dataset, cwd: str
) -> dict[str, Any]:
    """The task of one block: skip it when its committed shard holds these inputs as they are now, else
    decode, score, make the records and commit them as one shard. One summary row."""
    from toolkit.predict.decode import quiet_worker

    quiet_worker()
    paths = [bytes(p) for p in block["path"]]
    first, count = int(block["index"][0]), len(paths)
    if int(block["block"][0]) != count or int(block["index"][-1]) != first + count - 1:
        raise ToolkitError(f"a block of the walk reached a worker cut ({count} of {int(block['block'][0])} files)")
    name = shards.shard_name(paths)
    walked = [os.fsdecode(p) for p in paths]
    entries = [
        (located.absolute(path, cwd), bool(follow), (str(kind), str(message)) if kind else None)
        for path, follow, kind, message in zip(walked, block["follow"], block["kind"], block["message"], strict=True)
    ]
    versions = [
        [int(size), int(stamp)] if (size, stamp) != UNKNOWN else list(version_of(entry[0], entry[1]))
        for entry, size, stamp in zip(entries, block["size"], block["stamp"], strict=True)
    ]
    committed = dataset.manifest(name)
    if committed is not None and committed.get("versions") == versions and not _access_errors(committed):
        return _row(name, committed["summary"], reused=True)

    # Records name inputs as the walk spelt them, not by the absolute paths this worker opened.
    spelled = dict(zip((e[0] for e in entries), walked, strict=True))
    entries = _opened(entries, [str(k) for k in block["archive"]], spelled, cwd, options)
    meta, probs = score_chunk(
        entries, options.all_frames, model, options.resolved_threads(), options.multi_digit, options.access()
    )
    meta = [m._replace(path=spelled.get(m.path, m.path)) for m in meta]
    records = make_records(meta, probs, options)
    summary = Summary(output="", format="", model="")
    summary.add(records)
    counts = summary.counts()
    dataset.commit(name, _encode(records, dataset.fmt, options.columns()), {"versions": versions, "summary": counts})
    return _row(name, counts, reused=False)


def _opened(
    entries: list[Entry], archives: list[str], spelled: dict[str, str], cwd: str, options: PredictOptions
) -> list[Entry]:
    """The block's entries with each archive the walk left whole (`archives`: its kind, '' for other inputs)
    replaced by its image members, listed here, in the worker (`walk.archive_inputs`); `spelled` learns how the
    records name them (after the archive as the walk spelt it)."""
    include, exclude = names.patterns(options.include), names.patterns(options.exclude)
    opened: list[Entry] = []
    for entry, kind in zip(entries, archives, strict=True):
        if not kind or entry[2] is not None:
            opened.append(entry)
            continue
        as_walked = spelled[entry[0]]
        members, _ = walk.archive_inputs(entry[0], kind, options.access(), include, exclude, spelled=as_walked)
        for member in members:
            path = entry[0] if member.error else located.absolute(member.path, cwd)
            spelled[path] = member.path
            opened.append((path, True, member.error))
    return opened


def _access_errors(manifest: dict[str, Any]) -> bool:
    """Whether a committed shard holds errors of access (`resume.RETRIED_KINDS`): a resume scores its block
    again, as the local engines score such an input again, since what caused them is fixed without touching
    the files."""
    kinds = manifest.get("summary", {}).get("error_kinds", {})
    return any(kinds.get(kind) for kind in RETRIED_KINDS)


def _row(name: str, summary: dict[str, Any], reused: bool) -> dict[str, Any]:
    return {"shard": name, "summary": summary, "reused": reused}


def _encode(records: list, fmt: str, columns: tuple[str, ...]) -> bytes:
    """A shard's bytes in `fmt`."""
    if fmt == "parquet":
        with tempfile.TemporaryDirectory() as folder:
            source, target = Path(folder) / "shard.csv", Path(folder) / "shard.parquet"
            with writers.open_text(source, "w") as fh:
                writers.writer_for("csv", fh, columns).write(records)
            writers.csv_to_parquet(source, target, columns)
            return target.read_bytes()
    buffer = io.StringIO(newline="")
    writers.writer_for(fmt, buffer, columns).write(records)
    return buffer.getvalue().encode("utf-8", "backslashreplace")
