"""`mnist-toolkit report PREDICTIONS --out report.html`: the review pages of a batch."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit import fsutil
from toolkit.errors import UsageError
from toolkit.report import page, table, thumbs

PAGE_SIZE = 5000  # records per page: a page of this many thumbnails still opens in a few seconds


@dataclass
class ReportResult:
    """What `build` wrote: the pages, the records in the batch, how many are shown, how many of those had no
    picture, and how many explain pictures were made."""

    pages: list[Path]
    records: int
    shown: int
    unreadable: int
    explained: int = 0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        more = f" on {len(self.pages)} pages" if len(self.pages) > 1 else ""
        lines = [f"{self.shown} of {self.records} records to review{more}"]
        if self.unreadable:
            lines.append(f"{self.unreadable} images could not be opened (shown as placeholders)")
        if self.explained:
            lines.append(f"{self.explained} explain pictures made")
        lines += self.notes
        lines += [f"wrote {p}" for p in self.pages]
        return lines


def page_names(out: Path, count: int) -> list[Path]:
    """report.html, report-2.html, ...: the pages' paths."""
    return [out if n == 0 else out.with_name(f"{out.stem}-{n + 1}{out.suffix}") for n in range(count)]


def _check(out: Path, page_size: int, explain_limit: int) -> None:
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out {out}: name the review page .html")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; name the page, e.g. {out / 'report.html'}")
    if page_size < 1:
        raise UsageError("--page-size must be at least 1")
    if explain_limit < 0:
        raise UsageError("--explain-limit must be 0 or more")


def _explain_links(
    selected: list[dict[str, Any]], explain_dir: Path | None, out: Path, options: dict[str, Any]
) -> tuple[dict[int, str], int]:
    """Explain pictures for the first `limit` selected records (made when asked) and links, relative to the
    pages, to every selected record's picture that exists."""
    if explain_dir is None:
        return {}, 0
    from toolkit import explain

    limit = options["limit"]
    made = explain.explain_records(selected[:limit], explain_dir, root=options["root"], model=options["model"])
    links = {}
    for i, record in enumerate(selected):
        picture = explain_dir / explain.picture_name(record["path"], record.get("frame") or 0)
        if picture.is_file():
            links[i] = Path(os.path.relpath(picture, out.parent.resolve())).as_posix()
    return links, made


def build(
    predictions: Path | str,
    out: Path | str,
    *,
    root: str | None = None,
    show_all: bool = False,
    page_size: int = PAGE_SIZE,
    workers: int | None = None,
    explain_dir: Path | str | None = None,
    explain_limit: int = 200,
    model: str | None = None,
) -> ReportResult:
    """Write the review pages of a predictions file: the records that need a look (all with `show_all`)."""
    out = Path(out)
    _check(out, page_size, explain_limit)
    if root is not None and not os.path.isdir(root):
        raise UsageError(f"--root {root}: no such folder")
    batch_table = table.read(predictions)
    rows = batch_table.rows
    selected = [r for r in rows if show_all or page.kinds(r)]
    multi_digit = "text" in batch_table.columns
    jobs = [thumbs.Job(thumbs.resolve(r["path"], root), r.get("frame") or 0, multi_digit) for r in selected]
    pictures = thumbs.draw_all(jobs, workers)
    options = {"limit": explain_limit, "root": root, "model": model}
    links, explained = _explain_links(selected, Path(explain_dir) if explain_dir else None, out, options)
    entries = [page.Entry(r, p, links.get(i)) for i, (r, p) in enumerate(zip(selected, pictures, strict=True))]
    key = hashlib.sha1(str(batch_table.path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    batch = page.Batch(batch_table.path.name, key, multi_digit, page.summary(rows, len(selected)))
    chunks = [entries[at : at + page_size] for at in range(0, len(entries), page_size)] or [[]]
    paths = page_names(out, len(chunks))
    names = [p.name for p in paths]
    for n, (path, chunk) in enumerate(zip(paths, chunks, strict=True)):
        fsutil.write_text(path, page.render(batch, chunk, names, n))
    unreadable = sum(1 for p in pictures if p.original is None)
    return ReportResult(paths, len(rows), len(selected), unreadable, explained)
