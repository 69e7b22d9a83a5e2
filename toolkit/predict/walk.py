"""Lazy, safe discovery of the files to score.

Inputs are files, folders (walked recursively), glob patterns, or `-` for a newline-separated list of paths
on stdin. The walk yields one `Found` per file as it goes (a folder of a million files is never listed into
memory whole; folders of up to `SORT_LIMIT` entries are visited in name order, larger ones in the order the
file system gives), and never opens anything that could block or loop:

- FIFOs, sockets and devices are skipped and counted, whatever their name;
- symbolic links inside folders are skipped and counted unless `follow_symlinks`; when followed, a folder
  reached twice (a link loop, or two inputs overlapping) is walked once;
- a folder named like an image (`x.png/`) is walked, not opened;
- inside folders only files with an image extension (any case) are taken, unless `include` patterns say
  otherwise; `exclude` patterns drop files and prune folders. Both match the file name or the path relative
  to the input folder, case-insensitively. Files named explicitly (arguments, stdin) are always taken, and so
  are glob matches (as if the shell had expanded the pattern) unless excluded.

Archives (.zip, .tar, .tar.gz) named as inputs are read member by member, and so are those met while walking
with `archives`; their image members (by the same rules as files in a folder) become inputs of their own,
named in fsspec's chained form (`located`). URLs (`s3://bucket/scans/`, `gs://...`, globs of them) are walked
through fsspec, folder by folder. Both carry their version in `Found.version`.
"""

from __future__ import annotations

import errno
import glob
import itertools
import os
import re
import stat
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, TypeVar

from toolkit.errors import UsageError, first_line
from toolkit.predict import located, stores
from toolkit.predict.located import LOCAL, Access
from toolkit.predict.names import is_output, matches, patterns, wanted
from toolkit.predict.stores import is_glob

T = TypeVar("T")

SORT_LIMIT = 50_000  # folders with more entries than this are streamed unsorted, to keep memory bounded
# Spreadsheets run a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Found(NamedTuple):
    """One file to score. `error` is set when it is already known to fail (a listed path that is missing).
    A plain tuple underneath: chunks of them cross process boundaries, and tuples pickle fastest."""

    path: str
    follow: bool = True  # may the file itself be a symlink (named explicitly, or --follow-symlinks)
    error: tuple[str, str] | None = None
    version: tuple[int, int] | None = None  # known from the listing (archive members, objects); else stat'ed
    archive: str | None = None  # 'zip' or 'tar': an archive left whole, for the worker to open (open_archives)


def sorted_up_to(items: Iterator[T], limit: int, key: Callable[[T], str]) -> Iterator[T]:
    """`items` sorted by `key` when there are at most `limit` of them, else in the order they come (memory
    stays bounded: a folder or a glob of millions is never held whole)."""
    head: list[T] = []
    for item in items:
        head.append(item)
        if len(head) > limit:
            yield from head
            yield from items
            return
    yield from sorted(head, key=key)


def safe_path(path: str) -> str:
    """The same local path, spelled so that no spreadsheet reads it as a formula (`=x.png` -> `./=x.png`) and
    nothing reads it as a URL (`zip:/x.png` is a folder `zip:` here, never an archive member)."""
    return "./" + path if path.startswith(_FORMULA_START) or located.is_located(path) else path


def archive_inputs(
    archive: str,
    kind: str,
    access: Access,
    include: list[re.Pattern],
    exclude: list[re.Pattern],
    spelled: str | None = None,
) -> tuple[list[Found], Counter[str]]:
    """The image members of an archive as inputs, in stored order, named in chained form after the archive as
    `spelled` (default: as read); one error input when it is not a readable archive; and what was skipped."""
    skipped: Counter[str] = Counter()
    try:
        members = list(located.list_members(archive, kind, access))
    except located.Problem as problem:
        return [Found(spelled or archive, error=(problem.kind, str(problem)))], skipped
    found = []
    for member in members:
        name = member.name.rsplit("/", 1)[-1]
        if wanted(name, member.name, include, exclude):
            found.append(Found(located.member_path(kind, member.name, spelled or archive), version=member.version))
        else:
            skipped["excluded" if exclude and matches(exclude, name, member.name) else "not-an-image-name"] += 1
    return found, skipped


def check_inputs(inputs: Iterable[str], access: Access = LOCAL) -> None:
    """UsageError for a command-line input that neither exists nor is a glob that matches something."""
    for item in inputs:
        if item == "-" or os.path.lexists(item):
            continue
        if located.is_located(item):
            stores.check_url(item, access)
            continue
        if is_glob(item):
            if next(glob.iglob(item, recursive=True), None) is None:
                raise UsageError(f"no files match '{item}'")
            continue
        raise UsageError(f"{item}: no such file or folder")


class Walker:
    """Iterate over the files of some inputs; `skipped` counts what was passed over, by reason."""

    def __init__(
        self,
        inputs: Iterable[str],
        *,
        follow_symlinks: bool = False,
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
        stdin=None,
        sort_limit: int = SORT_LIMIT,
        archives: bool = False,
        access: Access = LOCAL,
        open_archives: bool = True,
        output: str | None = None,
    ):
        self.inputs = [os.fspath(i) for i in inputs]
        # The run's own output and its sidecars (.partial, .lock, .meta.json, .sources), which a glob such as
        # '*' in the output's folder would otherwise name as inputs.
        self._output = os.path.realpath(output) if output not in (None, "-") else None
        self.archives = archives
        self.access = access
        self.open_archives = open_archives
        self.follow_symlinks = follow_symlinks
        self.include = patterns(include)
        self.exclude = patterns(exclude)
        self.stdin = stdin
        self.sort_limit = sort_limit
        self.skipped: Counter[str] = Counter()
        self.warnings: list[str] = []
        self._seen_dirs: set[tuple[int, int]] = set()
        self._last_dev = 0
        # Files named on the command line, or matched by a glob there (up to `sort_limit` a glob), so that a
        # folder walked too does not give them a second record; and those given one already, so that a file
        # named twice (`a.png ./a.png`, a glob and a name) gives one.
        self._named: set[tuple[int, int]] = set()
        self._given: set[tuple[int, int]] = set()
        for item in self.inputs:
            if item == "-" or (located.is_located(item) and not os.path.lexists(item)):
                continue
            globbed = not os.path.lexists(item) and is_glob(item)
            for path in itertools.islice(glob.iglob(item, recursive=True), sort_limit) if globbed else (item,):
                try:
                    st = os.stat(path)
                except (OSError, ValueError):
                    continue
                if stat.S_ISREG(st.st_mode):
                    self._named.add((st.st_dev, st.st_ino))

    def __iter__(self) -> Iterator[Found]:
        for item in self.inputs:
            if item == "-":
                yield from self._from_lines(self.stdin if self.stdin is not None else _stdin_lines())
            elif located.is_located(item) and not os.path.lexists(item):
                yield from self._remote(item)
            elif not os.path.lexists(item) and is_glob(item):
                for match in self._matches(item):
                    yield from self._top(match, from_glob=True)
            else:
                yield from self._top(item)

    def _matches(self, pattern: str) -> Iterator[str]:
        """A glob's matches sorted, as a shell gives them, when there are at most `sort_limit`, else streamed in
        the file system's order (memory stays bounded, as for folders)."""
        return sorted_up_to(glob.iglob(pattern, recursive=True), self.sort_limit, key=str)

    def _from_lines(self, stream) -> Iterator[Found]:
        for raw in stream:
            if isinstance(raw, bytes):
                raw = os.fsdecode(raw)
            line = raw.rstrip("\n").rstrip("\r")
            if line and located.is_located(line) and not os.path.lexists(line):
                yield from self._remote(line, listed=True)
            elif line:
                yield from self._top(line, listed=True)

    def _top(self, path: str, *, from_glob: bool = False, listed: bool = False) -> Iterator[Found]:
        """An input named directly: symlinks are followed (as `find -H` does)."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if listed:
                yield Found(safe_path(path), error=("missing", "no such file"))
            elif os.path.lexists(path):
                self.skipped["broken-symlink"] += 1
            else:
                yield Found(safe_path(path), error=("vanished", "file disappeared after it was listed"))
            return
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self.skipped["symlink-loop"] += 1
            else:
                yield Found(safe_path(path), error=("unreadable", exc.strerror or str(exc)))
            return
        except ValueError:  # a NUL byte in a listed line: no file can be named so
            yield Found(safe_path(path), error=("missing", "no such file: the path holds a NUL byte"))
            return
        if stat.S_ISDIR(st.st_mode):
            yield from self._walk(path, st)
        elif stat.S_ISREG(st.st_mode):
            # Glob matches are what the shell would have expanded: taken like named files, minus --exclude.
            if from_glob and self.exclude and matches(self.exclude, os.path.basename(path), path):
                self.skipped["excluded"] += 1
                return
            if self._output is not None and is_output(path, self._output):
                self.skipped["own-output"] += 1
                return
            if not listed:  # a list on stdin is taken line by line (it may hold millions: no set of them)
                if (st.st_dev, st.st_ino) in self._given:
                    self.skipped["named-twice"] += 1
                    return
                self._given.add((st.st_dev, st.st_ino))
            kind = located.archive_kind(path)
            if kind is not None:
                yield from self._members(safe_path(path), kind)
            else:
                yield Found(safe_path(path))
        else:
            self.skipped[_special_kind(st.st_mode)] += 1

    def _wanted(self, name: str, relative: str) -> bool:
        return wanted(name, relative, self.include, self.exclude)

    def _walk(self, root: str, root_stat: os.stat_result) -> Iterator[Found]:
        key = (root_stat.st_dev, root_stat.st_ino)
        if key in self._seen_dirs:
            self.skipped["folder-seen-twice"] += 1
            return
        self._seen_dirs.add(key)
        # Every path found starts with `root`: spelt safely once for all (safe_path), not once a file.
        if safe_path(root) != root:
            root = "./" + root
        # Depth-first with an explicit stack: very deep trees must not hit Python's recursion limit.
        stack: list[tuple[str, str, int]] = [(root, "", root_stat.st_dev)]
        follow = self.follow_symlinks
        while stack:
            folder, relative, dev = stack.pop()
            subfolders: list[tuple[str, str, int]] = []
            try:
                for entry in self._entries(folder):
                    rel = f"{relative}{entry.name}"
                    kind = self._classify(entry)
                    if kind == "dir":
                        if self.exclude and matches(self.exclude, entry.name, rel):
                            self.skipped["excluded-folder"] += 1
                        else:
                            subfolders.append((entry.path, rel + "/", self._last_dev))
                    elif kind == "file":
                        if self._named and (dev, entry.inode()) in self._named:
                            self.skipped["named-twice"] += 1
                        elif self._archive(entry.name, rel):
                            yield from self._members(entry.path, located.archive_kind(entry.name) or "")
                        elif self._wanted(entry.name, rel):
                            yield Found(entry.path, follow)
                        elif self.exclude and matches(self.exclude, entry.name, rel):
                            self.skipped["excluded"] += 1
                        else:
                            self.skipped["not-an-image-name"] += 1
                    else:
                        self.skipped[kind] += 1
            except OSError as exc:
                self.skipped["unreadable-folder"] += 1
                self.warnings.append(f"{folder}: cannot list folder ({exc.strerror or exc})")
            stack.extend(reversed(subfolders))

    def _archive(self, name: str, relative: str) -> bool:
        """Whether a file met while walking is an archive to read (with `archives`; counted when not)."""
        if located.archive_kind(name) is None or (self.exclude and matches(self.exclude, name, relative)):
            return False
        if not self.archives:
            self.skipped["archive-not-read"] += 1
            if self.skipped["archive-not-read"] == 1:
                self.warnings.append(f"{name}: archives met in folders are not read unless --archives is given")
        return self.archives

    def _members(self, archive: str, kind: str) -> Iterator[Found]:
        """The image members of an archive (`archive_inputs`), or with `open_archives` False the archive as one
        input, with its version, for a worker to open (shard by shard, at scale)."""
        if not self.open_archives:
            yield Found(archive, version=stores.version(archive, self.access), archive=kind)
            return
        found, skipped = archive_inputs(archive, kind, self.access, self.include, self.exclude)
        self.skipped.update(skipped)
        yield from found

    def _remote(self, url: str, listed: bool = False) -> Iterator[Found]:
        """An object store input: an object, a member of an archive in the store (or a local one, in chained
        form), a folder (walked folder by folder, each in name order) or a glob."""
        member = located.split_member(url)
        if member is not None:
            yield from self._one_member(url, *member)
            return
        try:
            fs, root = stores.filesystem(url, self.access)
            if is_glob(root):
                matches = fs.glob(root, detail=True)
                for path in sorted(matches):
                    yield from self._object(fs, path, matches[path], named=True)
                return
            info = fs.info(root)
            # A web page of links is a "file" to fsspec's info and a folder to its listing: a URL ending in /
            # is taken as the folder it names.
            if info.get("type") != "directory" and not (url.endswith("/") and fs.isdir(root)):
                yield from self._object(fs, root, info, named=True)
                return
            for path, info in located.objects_under(fs, root):
                relative = path[len(root.rstrip("/")) + 1 :]
                name = relative.rsplit("/", 1)[-1]
                if self.exclude and matches(self.exclude, name, relative):
                    self.skipped["excluded"] += 1
                elif located.archive_kind(name) is None or self._archive(name, relative):
                    yield from self._object(fs, path, info, named=False)
        except FileNotFoundError:
            if listed:
                yield Found(url, error=("missing", "no such object"))
            else:
                yield Found(url, error=("vanished", "object disappeared after it was listed"))
        except UsageError as exc:
            self.warnings.append(str(exc))
            self.skipped["unreachable"] += 1
        except Exception as exc:  # each store raises its own errors: a warning, and the other inputs go on
            self.warnings.append(f"{url}: cannot list it ({first_line(exc, 200)})")
            self.skipped["unreadable-folder"] += 1

    def _object(self, fs: Any, path: str, info: dict[str, Any], named: bool) -> Iterator[Found]:
        if info.get("type") == "directory":
            return
        url = fs.unstrip_protocol(path)
        name = path.rsplit("/", 1)[-1]
        kind = located.archive_kind(name)
        if kind is not None:
            yield from self._members(url, kind)
        elif named or self._wanted(name, name):
            yield Found(url, version=located.object_version(info))
        else:
            self.skipped["not-an-image-name"] += 1

    def _one_member(self, url: str, kind: str, name: str, archive: str) -> Iterator[Found]:
        """A member named by its chained URL: the archive is listed for its version."""
        try:
            versions = {m.name: m.version for m in located.list_members(archive, kind, self.access)}
        except located.Problem as problem:
            yield Found(url, error=(problem.kind, str(problem)))
            return
        if name in versions:
            yield Found(url, version=versions[name])
        else:
            yield Found(url, error=("missing", "no such member in the archive"))

    def _entries(self, folder: str) -> Iterator[os.DirEntry]:
        """A folder's entries: sorted by name when there are at most `sort_limit`, else streamed."""
        with os.scandir(folder) as it:
            yield from sorted_up_to(it, self.sort_limit, key=lambda entry: entry.name)

    def _classify(self, entry: os.DirEntry) -> str:
        """'dir', 'file', or the reason to skip the entry. Uses the d_type the listing gave where it can."""
        try:
            if entry.is_symlink():
                if not self.follow_symlinks:
                    return "symlink"
                try:
                    st = os.stat(entry.path)
                except FileNotFoundError:
                    return "broken-symlink"
                except OSError:
                    return "symlink-loop"
                if stat.S_ISDIR(st.st_mode):
                    return self._new_dir(st)
                return "file" if stat.S_ISREG(st.st_mode) else _special_kind(st.st_mode)
            if entry.is_dir(follow_symlinks=False):
                # Without links a folder is met twice only when two inputs overlap (`scans scans/a`).
                return self._new_dir(entry.stat(follow_symlinks=False), "folder-seen-twice")
            if entry.is_file(follow_symlinks=False):
                return "file"
            return _special_kind(entry.stat(follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return "vanished-before-scoring"
        except OSError:
            return "unreadable-entry"

    def _new_dir(self, st: os.stat_result, reason: str = "symlink-loop") -> str:
        key = (st.st_dev, st.st_ino)
        if key in self._seen_dirs:
            return reason
        self._seen_dirs.add(key)
        self._last_dev = st.st_dev
        return "dir"


def _stdin_lines() -> Iterator[bytes]:
    """Lines of stdin read straight from the file descriptor. Not via sys.stdin: the walk runs in a thread,
    and a thread blocked inside sys.stdin's buffered reader makes the interpreter abort at exit (Ctrl-C)."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by an in-memory stream (tests, notebooks)
        stream = getattr(sys.stdin, "buffer", sys.stdin)
        yield from (line if isinstance(line, bytes) else line.encode() for line in stream)
        return
    pending = b""
    while True:
        block = os.read(fd, 1 << 16)
        if not block:
            break
        lines = (pending + block).split(b"\n")
        pending = lines.pop()
        yield from (line + b"\n" for line in lines)
    if pending:
        yield pending


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "not-a-file"


def count_files(inputs: Iterable[str], **options) -> int:
    """How many files a walk with these options would yield (for a progress bar's total; stdin excluded)."""
    walker = Walker([i for i in inputs if i != "-"], **options)
    return sum(1 for _ in walker)
