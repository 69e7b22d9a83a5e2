"""`--engine ray --out DIR/`: the workers write the records, as shards of a dataset, and the driver only walks.

The driver walks the inputs (streaming, as ever: never all paths in memory) and puts them into Ray's object
store as Arrow blocks of `shard_size` files, a window of blocks at a time (`RayEngine._windows`). Each block is
one Ray Data batch (`map_batches(batch_size=None)`) and one task, `write_shard`, which decodes, normalises and
scores the block with the pipeline every engine uses, makes its records and commits them as one shard
(`toolkit.predict.shards`: exactly once, visible only whole), and returns one small summary row. The driver
adds up those rows: per file it only walks and packs a path, a few microseconds.

Tasks, not an actor pool: a task whose node dies is retried by Ray on another node (`max_retries`), while an
actor pool waits for a dead actor's restart to find a free slot. Each worker process keeps its onnxruntime
session between tasks (`pipeline.scorer_for`), so the model is loaded once per process, not per block.

A resumed run sends every block again, and its task skips a block whose committed shard's manifest shows the
inputs unchanged (a stat per local file, in the worker; the listing's version for members and objects).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.predict import located, shards, writers
from toolkit.predict.engines.ray import (
    RayEngine,
    Window,
    describe,
    map_batches_with,
    quiet_ray_data,
    reraise_toolkit_error,
)
from toolkit.predict.options import PredictOptions
from toolkit.predict.pipeline import make_records, score_chunk
from toolkit.predict.sources import UNKNOWN, version_of
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

    def _put(self, files: list[Found], first: int) -> Any:
        pa = self._pa
        versions = [f.version or UNKNOWN for f in files]
        table = pa.table(
            {
                "index": pa.array(range(first, first + len(files)), pa.int64()),
                "path": pa.array([os.fsencode(f.path) for f in files], pa.binary()),
                "follow": pa.array([f.follow for f in files], pa.bool_()),
                "kind": pa.array([f.error[0] if f.error else "" for f in files], pa.string()),
                "message": pa.array([f.error[1] if f.error else "" for f in files], pa.string()),
                "size": pa.array([v[0] for v in versions], pa.int64()),
                "stamp": pa.array([v[1] for v in versions], pa.int64()),
                "block": pa.array([len(files)] * len(files), pa.int64()),
            }
        )
        return self._ray.put(table)

    def shards(self, found: Iterable[Found]) -> Iterator[dict[str, Any]]:
        """One row per block of `found`, once its shard is committed (or found committed): shard name, the
        shard's summary counts, and whether it was reused."""
        for window in self._windows(iter(found)):
            yield from self._window(window)

    def _window(self, window: Window) -> Iterator[dict[str, Any]]:
        ray = self._ray
        ds = ray.data.from_arrow_refs(window.refs_from(window.start))
        ds = map_batches_with(
            ds,
            write_shard,
            {"max_retries": SHARD_RETRIES},
            batch_size=None,  # a whole block: one shard
            batch_format="numpy",
            num_cpus=1,
            fn_kwargs={
                "model": str(self.model),
                "options": self.options,
                "dataset": self.dataset,
                "cwd": os.getcwd(),
            },
        )
        context = ds.context
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        context.max_errored_blocks = 0
        quiet_ray_data()
        names: set[str] = set()
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for name, summary, reused in zip(batch["shard"], batch["summary"], batch["reused"], strict=True):
                    if name in names:
                        raise ToolkitError(f"the Ray run committed shard {name} twice in one window")
                    names.add(str(name))
                    yield {"shard": str(name), "summary": json.loads(str(summary)), "reused": bool(reused)}
        except ToolkitError:
            raise
        except Exception as exc:
            reraise_toolkit_error(exc)
            raise ToolkitError(
                f"the Ray run failed: {describe(exc)}; committed shards are kept: run the same command with "
                "--resume to continue"
            ) from exc
        if len(names) != len(window.blocks):
            raise ToolkitError(f"the Ray run returned {len(names):,} shards for {len(window.blocks):,} blocks")


def write_shard(
    block: dict[str, np.ndarray], model: str, options: PredictOptions, dataset: shards.Dataset, cwd: str
) -> dict[str, np.ndarray]:
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
    if committed is not None and committed.get("versions") == versions:
        return _row(name, committed["summary"], reused=True)

    meta, probs = score_chunk(
        entries, options.all_frames, model, options.resolved_threads(), options.multi_digit, options.access()
    )
    # Records name inputs as the walk spelt them, not by the absolute paths this worker opened.
    spelled = dict(zip((e[0] for e in entries), walked, strict=True))
    meta = [m._replace(path=spelled.get(m.path, m.path)) for m in meta]
    records = make_records(meta, probs, options)
    summary = _counts(records)
    dataset.commit(name, _encode(records, dataset.fmt, options.columns()), {"versions": versions, "summary": summary})
    return _row(name, summary, reused=False)


def _row(name: str, summary: dict[str, Any], reused: bool) -> dict[str, np.ndarray]:
    return {
        "shard": np.array([name], object),
        "summary": np.array([json.dumps(summary)], object),
        "reused": np.array([reused]),
    }


def _counts(records: list) -> dict[str, Any]:
    """What the run's summary adds up from a shard."""
    from toolkit.predict.runner import Summary

    summary = Summary(output="", format="", model="")
    summary.add(records)
    return {
        "files": summary.files,
        "records": summary.records,
        "ok": summary.ok,
        "errors": summary.errors,
        "error_kinds": dict(summary.error_kinds),
        "digits": {str(k): v for k, v in summary.digits.items()},
        "low_confidence": summary.low_confidence,
        "blank": summary.blank,
        "flagged": dict(summary.flagged),
    }


def add_counts(summary: Any, counts: dict[str, Any]) -> None:
    """A shard's counts into the run's Summary."""
    for field in ("files", "records", "ok", "errors", "low_confidence", "blank"):
        setattr(summary, field, getattr(summary, field) + int(counts.get(field, 0)))
    summary.error_kinds.update(Counter(counts.get("error_kinds", {})))
    summary.digits.update(Counter({int(k): v for k, v in counts.get("digits", {}).items()}))
    summary.flagged.update(Counter(counts.get("flagged", {})))


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
