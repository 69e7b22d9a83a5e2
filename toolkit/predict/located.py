"""Inputs that are not plain local files: members of archives and objects in object stores, read through fsspec.

Their paths are written in fsspec's URL form, so any fsspec user can open what a record names:

- an object: `s3://bucket/scans/a.png`, `gs://...`, `az://...`, `https://host/a.png`;
- a member of an archive: `zip://dir/a.png::scans.zip`, `tar://a.png::shard-0001.tar.gz`, and of an archive in
  an object store `zip://a.png::s3://bucket/scans.zip`. The member's name comes before the last `::`, the
  archive after it (an archive's own path may not hold `::`; nested archives are not read).

An archive is listed once, in the process that walks the inputs (a zip's central directory; a tar's headers,
which for a compressed tar means reading it through); each member then becomes one input to score. A worker
keeps the last few archives it read open, so the members of one archive cost one open per worker, and a tar's
members come in the order they are stored, so a compressed tar is read forwards.

Each member and object has a version, as a local file has (size, mtime_ns): (size, CRC-32) for a zip member,
(size, mtime) for a tar member, (size, a digest of the ETag or generation) for an object. `--resume` scores
again what changed and nothing else. Before a member or object is read its declared size is checked against a
limit (`Access.max_bytes`): a zip bomb is an error record, not a full memory.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import time
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, NamedTuple

ARCHIVE_SUFFIXES = {".zip": "zip", ".tar": "tar", ".tar.gz": "tar", ".tgz": "tar", ".tar.bz2": "tar", ".tar.xz": "tar"}
MAX_BYTES = 256 << 20  # the default limit on an archive member's or object's declared size
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_OPEN_ARCHIVES = 4  # archives a process keeps open (the members of one chunk come from one or two)


class Problem(Exception):
    """A member or object that cannot be read: `kind` is one of decode.ERROR_KINDS, the message one line."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Access(NamedTuple):
    """How to reach inputs that are not local files: the filesystem's storage options (endpoint, profile, anon;
    pairs, so that it hashes and pickles) and the largest declared size read."""

    storage: tuple[tuple[str, Any], ...] = ()
    max_bytes: int = MAX_BYTES

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.storage)


LOCAL = Access()


class Member(NamedTuple):
    """One entry of an archive worth scoring: its name in the archive and its version."""

    name: str
    version: tuple[int, int]


def is_located(path: str) -> bool:
    """Whether a path is a URL (an object, or an archive member in fsspec's chained form), not a local path."""
    return "://" in path and bool(_SCHEME.match(path))  # the substring test first: the walk asks for every file


_LAST_CHARS = {suffix[-2:] for suffix in ARCHIVE_SUFFIXES}


def archive_kind(name: str) -> str | None:
    """'zip' or 'tar' for a name with an archive's suffix (any case), else None."""
    if name[-2:].lower() not in _LAST_CHARS:  # most names: one slice, no loop (the walk asks for every file)
        return None
    lower = name.lower()
    for suffix, kind in ARCHIVE_SUFFIXES.items():
        if lower.endswith(suffix):
            return kind
    return None


def member_path(kind: str, name: str, archive: str) -> str:
    """The chained URL of member `name` of `archive`."""
    return f"{kind}://{name}::{archive}"


def split_member(path: str) -> tuple[str, str, str] | None:
    """(kind, member name, archive) of a chained member URL, else None (a plain URL or path)."""
    scheme, sep, rest = path.partition("://")
    if scheme not in ("zip", "tar") or not sep:
        return None
    name, sep, archive = rest.rpartition("::")
    return (scheme, name, archive) if sep and name and archive else None


def absolute(path: str, cwd: str) -> str:
    """`path` made independent of the working folder: a relative local path, or a member of an archive named
    by a relative local path, joined to `cwd`; URLs are left as they are."""
    member = split_member(path)
    if member is not None:
        kind, name, archive = member
        return member_path(kind, name, absolute(archive, cwd))
    return path if is_located(path) else os.path.join(cwd, path)


def relative(path: str) -> bool:
    """Whether `path` depends on the working folder: a relative local path, or a member of an archive named by
    one. A URL never does."""
    member = split_member(path)
    if member is not None:
        return relative(member[2])
    return not (is_located(path) or os.path.isabs(path))


def key_text(path: str, local_key: Any) -> str:
    """What identifies a located input for --resume: the archive's own key (`local_key`, for a local archive,
    however its path is spelt) and the member's name; the URL itself for objects."""
    member = split_member(path)
    if member is not None and not is_located(member[2]):
        kind, name, archive = member
        return f"{local_key(archive)}\0{kind}\0{name}"
    return "url\0" + path


def object_version(info: dict[str, Any]) -> tuple[int, int]:
    """An object's version from its listing: its size and a digest of what changes when it is rewritten (ETag,
    generation, modification time: the first a store gives)."""
    size = int(info.get("size") or 0)
    for field in ("ETag", "etag", "generation", "md5Hash", "content_md5", "LastModified", "last_modified", "mtime"):
        value = info.get(field)
        if value not in (None, ""):
            digest = hashlib.blake2b(str(value).encode(), digest_size=8).digest()
            return size, int.from_bytes(digest, "big", signed=True)
    return size, -1


def filesystem(url: str, access: Access = LOCAL) -> tuple[Any, str]:
    """fsspec's filesystem for `url` and the path in it, forgetting what it listed before: fsspec keeps one
    filesystem and its listings per process, and a worker or a notebook outlives a run, so a rewritten object
    would be seen at its old size. Raises ImportError (the store's package missing) or ValueError."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, **access.options)
    fs.invalidate_cache()
    return fs, path


PAGE = 1000  # objects an S3 listing page holds


def objects_under(fs: Any, root: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, info) of every object under the folder `root` of a store, streamed: from S3 (s3fs), page by page
    as the store lists them, in key order, so a prefix of a hundred million objects is never held whole;
    from other stores, folder by folder (fsspec's walk: one folder's listing at a time), in name order."""
    if hasattr(fs, "_iterdir") and hasattr(fs, "split_path"):  # s3fs
        from fsspec.asyn import sync

        bucket, key, _ = fs.split_path(root)
        pages = fs._iterdir(bucket, delimiter="", prefix=f"{key.rstrip('/')}/" if key else "")
        while page := sync(fs.loop, next_page, pages):
            for info in page:
                if info.get("type") == "file":
                    yield info["name"], info
        return
    for _folder, _dirs, files in fs.walk(root, detail=True):
        for name in sorted(files):
            yield files[name]["name"], files[name]


async def next_page(listing: Any) -> list[dict[str, Any]]:
    """Up to PAGE entries from an async listing; the listing stays open for the next call."""
    page: list[dict[str, Any]] = []
    async for entry in listing:
        page.append(entry)
        if len(page) >= PAGE:
            break
    return page


STORE_LOGGERS = ("gcsfs", "s3fs", "adlfs", "azure", "fsspec", "aiobotocore", "botocore", "google")


def quiet_store_logs() -> None:
    """The command line shows one line per problem: the stores' client libraries log every retried request
    (gcsfs with a whole traceback), and with no handler set Python prints those on stderr. A NullHandler keeps
    them off it (a program that sets up logging of its own still gets them)."""
    import logging

    for name in STORE_LOGGERS:
        logging.getLogger(name).addHandler(logging.NullHandler())


# --- listing (in the walking process) ----------------------------------------------------------------------


def list_members(archive: str, kind: str, access: Access = LOCAL) -> Iterator[Member]:
    """The regular files of an archive, in stored order, with their versions. Raises Problem when it is not a
    readable archive of its kind."""
    with _open_source(archive, access) as source:
        if kind == "zip":
            try:
                with zipfile.ZipFile(source) as zf:
                    infos = zf.infolist()
            except (zipfile.BadZipFile, EOFError, ValueError) as exc:
                raise Problem("corrupt", f"not a readable zip archive ({exc})") from None
            for info in infos:
                if not info.is_dir():
                    yield Member(info.filename, (info.file_size, info.CRC))
            return
        try:
            with tarfile.open(fileobj=source, mode="r:*") as tf:
                entries = tf.getmembers()
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise Problem("corrupt", f"not a readable tar archive ({exc})") from None
        for entry in entries:
            if entry.isfile():
                yield Member(entry.name, (entry.size, int(entry.mtime) * 1_000_000_000))


def _open_source(path: str, access: Access) -> Any:
    """A seekable binary file for a local path or a URL. Raises Problem."""
    try:
        if not is_located(path):
            return open(path, "rb")
        fs, inner = filesystem(path, access)
        return fs.open(inner, "rb")
    except FileNotFoundError:
        raise Problem("vanished", "disappeared after it was listed") from None
    except PermissionError:
        raise Problem("unreadable", "permission denied") from None
    except ImportError as exc:
        raise Problem("unreadable", f"{exc}; install the extra for this store, e.g. mnist-toolkit[s3]") from None
    except (OSError, ValueError) as exc:
        raise Problem("unreadable", _line(exc)) from None


# --- reading (in the workers) ------------------------------------------------------------------------------


_FETCHED: dict[str, bytes] = {}  # objects fetched ahead by `prefetch`, taken by `read`


def prefetch(paths: list[str], access: Access = LOCAL) -> None:
    """Fetch the objects among `paths` (URLs, not archive members) all at once, for `read` to take: an object
    store answers each request in tens of milliseconds, so a chunk read one object after the other would wait
    far longer than it decodes. Each object is read up to `access.max_bytes` + 1 bytes (the limit still holds);
    whatever fails here is read again, alone, by `read`, which then says why."""
    urls = [p for p in paths if is_located(p) and split_member(p) is None]
    _FETCHED.clear()
    if len(urls) < 2:
        return
    try:
        import fsspec

        fs, _ = filesystem(urls[0], access)
        inner = [fsspec.core.strip_protocol(url) for url in urls]
        results = fs.cat_ranges(inner, [0] * len(inner), [access.max_bytes + 1] * len(inner), on_error="return")
    except Exception:  # a store without ranged reads, or mixed stores: each object is read on its own
        return
    for url, data in zip(urls, results, strict=True):
        if isinstance(data, bytes):
            _FETCHED[url] = data


def read(path: str, access: Access = LOCAL) -> bytes:
    """The bytes of an archive member or an object, once its declared size passes `access.max_bytes`. Raises
    Problem (kind and one line) for whatever stops it: missing, too large, corrupt, unreadable."""
    member = split_member(path)
    if member is not None:
        kind, name, archive = member
        return _archive(archive, kind, access).read(name, access.max_bytes)
    data = _FETCHED.pop(path, None)
    if data and len(data) <= access.max_bytes:
        return data
    return _read_object(path, access)  # says why: the size it declares, or the error


def _read_object(url: str, access: Access) -> bytes:
    try:
        fs, path = filesystem(url, access)
        with fs.open(path, "rb") as fh:
            _check_size(getattr(fh, "size", None), access.max_bytes)
            data = fh.read(access.max_bytes + 1)
    except Problem:
        raise
    except FileNotFoundError:
        raise Problem("vanished", "object disappeared after it was listed") from None
    except PermissionError as exc:
        raise Problem("unreadable", f"access denied ({_line(exc)})") from None
    except ImportError as exc:
        raise Problem("unreadable", f"{exc}; install the extra for this store, e.g. mnist-toolkit[s3]") from None
    except Exception as exc:  # each store raises its own errors: every one is this object's error record
        raise Problem("unreadable", _line(exc)) from None
    _check_size(len(data), access.max_bytes)
    if not data:
        raise Problem("empty", "zero-byte object")
    return data


def _check_size(size: int | None, limit: int) -> None:
    if size is not None and size > limit:
        raise Problem("too-large", f"{size:,} bytes, over the {limit:,}-byte limit for archive members and objects")


class _Archive:
    """An archive open for reading members by name (zip: random access; tar: an index of its members)."""

    def __init__(self, archive: str, kind: str, access: Access):
        self.source = _open_source(archive, access)
        self.kind = kind
        try:
            if kind == "zip":
                self.zip: zipfile.ZipFile | None = zipfile.ZipFile(self.source)
                self.tar: tarfile.TarFile | None = None
            else:
                self.zip = None
                self.tar = tarfile.open(fileobj=self.source, mode="r:*")
                self.index = {m.name: m for m in self.tar.getmembers()}
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
            self.source.close()
            raise Problem("corrupt", f"the archive is not readable ({_line(exc)})") from None

    def read(self, name: str, limit: int) -> bytes:
        try:
            if self.zip is not None:
                info = self.zip.getinfo(name)
                _check_size(info.file_size, limit)
                with self.zip.open(info) as fh:
                    data = fh.read(limit + 1)
            else:
                assert self.tar is not None
                entry = self.index.get(name)
                if entry is None or not entry.isfile():
                    raise KeyError(name)
                _check_size(entry.size, limit)
                extracted = self.tar.extractfile(entry)
                assert extracted is not None
                data = extracted.read(limit + 1)
        except Problem:
            raise
        except KeyError:
            raise Problem("vanished", "no longer in the archive") from None
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise Problem("corrupt", f"the archive member is damaged ({_line(exc)})") from None
        except RuntimeError as exc:  # zipfile: encrypted members, unsupported compression
            raise Problem("unreadable", _line(exc)) from None
        except NotImplementedError as exc:
            raise Problem("unsupported-format", _line(exc)) from None
        _check_size(len(data), limit)
        if not data:
            raise Problem("empty", "zero-byte archive member")
        return data

    def close(self) -> None:
        for handle in (self.zip, self.tar, self.source):
            if handle is not None:
                handle.close()


_OPEN: OrderedDict[tuple[str, str, str], tuple[_Archive, Any, float]] = OrderedDict()
RECHECK_SECONDS = 10.0  # how long an archive in an object store is trusted unchanged without asking the store


def _archive(archive: str, kind: str, access: Access) -> _Archive:
    """This process's open archive, opened again when it changed since it was opened (a worker outlives runs:
    a local archive is stat'ed at every read, a stored one asked for its ETag every RECHECK_SECONDS)."""
    key = (archive, kind, repr(access))  # repr: a storage option's value may be a dict, which does not hash
    held = _OPEN.get(key)
    now = time.monotonic()
    if held is not None:
        opened, stamp, checked = held
        if is_located(archive) and now - checked < RECHECK_SECONDS:
            _OPEN.move_to_end(key)
            return opened
        if _stamp(archive, access) == stamp:
            _OPEN[key] = (opened, stamp, now)
            _OPEN.move_to_end(key)
            return opened
        opened.close()
        del _OPEN[key]
    stamp = _stamp(archive, access)
    opened = _Archive(archive, kind, access)
    _OPEN[key] = (opened, stamp, now)
    while len(_OPEN) > _OPEN_ARCHIVES:
        _OPEN.popitem(last=False)[1][0].close()
    return opened


def _stamp(archive: str, access: Access) -> Any:
    """What changes when an archive is rewritten: a local file's identity, size and mtime; an object's version."""
    try:
        if not is_located(archive):
            st = os.stat(archive)
            return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns
        fs, path = filesystem(archive, access)
        return object_version(fs.info(path))
    except Exception:  # gone or unreachable: opening it says why
        return None


def _line(exc: BaseException) -> str:
    from toolkit.errors import first_line

    return first_line(exc, 200)
