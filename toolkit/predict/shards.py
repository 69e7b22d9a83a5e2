"""A run's records as a dataset of shards that the workers write themselves (`--engine ray --out DIR/`), each
exactly once, the way Hadoop's and Spark's output committers do it:

- the walk is cut into blocks of consecutive files where their paths' CRC says (about `shard_size` files
  each), so an input added or removed changes one block only; a block's shard is named after a digest of its
  paths (`part-1f0c...jsonl`): the same inputs give the same names;
- a worker writes a shard whole to `DIR/_temporary/` and then commits it: a rename into `DIR/` on a local or
  shared filesystem (atomic), a single PUT in an object store (an object appears whole or not at all). A shard
  is visible only complete; a killed worker leaves a temporary file nobody reads; a retried block commits the
  same name again, so no record is ever there twice;
- beside each shard, `part-...json` (its manifest, written before the shard is committed) holds the inputs'
  versions and the shard's counts. A `--resume` worker skips a block whose committed shard's manifest matches the
  inputs as they are now; a changed input gets its block scored again, and the new shard replaces the old;
- when every block is committed, the driver removes shards of earlier runs that this run did not produce (the
  inputs changed and the blocks moved), clears `_temporary/` and writes `_SUCCESS` with the run's summary.

Read the dataset with any Parquet/JSON reader over `DIR/part-*` (pyarrow.dataset, DuckDB, Spark, Ray Data);
`_SUCCESS` lists the shards in walk order.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from toolkit.errors import UsageError
from toolkit.predict import located
from toolkit.predict.located import LOCAL, Access

TEMPORARY = "_temporary"
SUCCESS = "_SUCCESS"
RUN = "_run.json"  # what every shard of the dataset was made with (model, columns, options)
SUFFIX = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet"}


def is_dataset(out: str | None) -> bool:
    """Whether `--out` names a dataset folder (a trailing slash, or an existing local folder)."""
    if not out or out == "-":
        return False
    return out.endswith(("/", os.sep)) or os.path.isdir(out)


def shard_name(paths: Sequence[bytes]) -> str:
    """The shard of the block that holds `paths` (without suffix): the same inputs, the same name."""
    digest = hashlib.blake2b(digest_size=12)
    for path in paths:
        digest.update(path)
        digest.update(b"\0")
    return f"part-{digest.hexdigest()}"


class Dataset:
    """The output folder `root` (a local path or a URL) of shards in format `fmt`."""

    def __init__(self, root: str, fmt: str, access: Access = LOCAL):
        self.name = root  # as the user spelt it
        self.local = not located.is_located(root)
        # Workers run in other folders, on other machines: a local dataset is named by its absolute path.
        self.root = os.path.abspath(root) if self.local else root.rstrip("/")
        self.fmt = fmt
        self.access = access
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        if self._fs is None:
            if self.local:
                from fsspec.implementations.local import LocalFileSystem

                self._fs = LocalFileSystem()
            else:
                self._fs, _ = located.filesystem(self.root, self.access)
        return self._fs

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fs": None}  # workers make their own filesystem

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    # --- driver ---------------------------------------------------------------------------------------------

    def start(self, recorded: dict[str, Any], resume: bool, flag: str = "--resume") -> None:
        """`check` the folder, then write RUN into it."""
        self.check(recorded, resume, flag)
        self.fs.makedirs(self.root, exist_ok=True)
        self.write(RUN, json.dumps(recorded, indent=1).encode())

    def check(self, recorded: dict[str, Any], resume: bool, flag: str = "--resume") -> None:
        """UsageError unless the folder may take this run's shards: a fresh run needs it free of shards, a
        resumed one the same `recorded` settings (model, columns, options). Writes nothing."""
        from toolkit.predict.resume import differences

        fs = self.fs
        if fs.exists(self.root) and not fs.isdir(self.root):
            raise UsageError(f"--out {self.name} is a file; name a folder (with a trailing /) for a dataset")
        existing = self.shards()
        if existing and not resume:
            raise UsageError(
                f"--out {self.name} already holds {len(existing):,} shards; add {flag} to continue that run, "
                "or name a new folder"
            )
        if existing:
            try:
                before = json.loads(fs.cat_file(self.path(RUN)))
            except (OSError, ValueError):
                before = {}
            changed = differences(before, recorded)
            if changed:
                raise UsageError(f"cannot {flag} into {self.name}: its shards were made with other settings: {changed}")

    def shards(self) -> list[str]:
        """Committed shards (names with suffix), in walk order."""
        try:
            names = [p.rsplit("/", 1)[-1] for p in self.fs.ls(self.root, detail=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if n.startswith("part-") and n.endswith(SUFFIX[self.fmt]))

    def finish(self, made: Iterable[str], summary: dict[str, Any]) -> int:
        """After every block is committed: drop shards this run did not make (and their manifests), clear the
        temporary folder, write SUCCESS. Returns how many stale shards went."""
        keep = set(made)
        stale = [name for name in self.shards() if name.removesuffix(SUFFIX[self.fmt]) not in keep]
        for name in stale:
            base = name.removesuffix(SUFFIX[self.fmt])
            self.fs.rm(self.path(name))
            if self.fs.exists(self.path(base + ".json")):
                self.fs.rm(self.path(base + ".json"))
        self.write(SUCCESS, json.dumps({**summary, "shards": list(made)}, indent=1).encode())
        if self.fs.exists(self.path(TEMPORARY)):
            self.fs.rm(self.path(TEMPORARY), recursive=True)
        return len(stale)

    # --- workers --------------------------------------------------------------------------------------------

    def manifest(self, name: str) -> dict[str, Any] | None:
        """The manifest of a committed shard, or None (never committed, or the manifest does not describe the
        shard there: a commit cut between the two)."""
        try:
            found = json.loads(self.fs.cat_file(self.path(name + ".json")))
            size = self.fs.size(self.path(name + SUFFIX[self.fmt]))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and found.get("bytes") == size else None

    def commit(self, name: str, payload: bytes, manifest: dict[str, Any]) -> None:
        """Write shard `name` whole, then make it visible in one step; its manifest first."""
        self.write(name + ".json", json.dumps({**manifest, "bytes": len(payload)}).encode())
        self.write(name + SUFFIX[self.fmt], payload)

    def write(self, name: str, payload: bytes) -> None:
        """`payload` as `root/name`, appearing whole or not at all."""
        target = self.path(name)
        if not self.local:
            self.fs.pipe_file(target, payload)  # one PUT: an object store shows an object whole or not at all
            return
        folder = self.path(TEMPORARY)
        os.makedirs(folder, exist_ok=True)
        temporary = os.path.join(folder, f"{name}.{uuid.uuid4().hex}")
        with open(temporary, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, target)
