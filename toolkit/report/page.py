"""One review page as HTML text: the batch's summary, links to the other pages, and the gallery of this page's
records. Everything the page needs is inside it; its Content-Security-Policy forbids loading anything else."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from toolkit.report.assets import CSS, SCRIPT
from toolkit.report.thumbs import Pictures

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
KINDS = (("error", "errors"), ("flagged", "flagged"), ("low", "low confidence"), ("blank", "blank"))


def kinds(record: dict[str, Any]) -> list[str]:
    """Why a record needs a look (empty: it does not)."""
    found = []
    if record.get("status") == "error":
        found.append("error")
    if record.get("flags"):
        found.append("flagged")
    if record.get("low_confidence"):
        found.append("low")
    if record.get("blank"):
        found.append("blank")
    return found


@dataclass
class Entry:
    """A gallery row: the record, its pictures, and the link to its explain picture (relative to the page)."""

    record: dict[str, Any]
    pictures: Pictures
    explain: str | None = None


@dataclass
class Batch:
    """What every page of a batch shows: its name, the storage key its corrections share, and its summary."""

    title: str
    key: str
    multi_digit: bool
    summary: str


def _bars(counts: Sequence[tuple[str, int]]) -> str:
    top = max((n for _, n in counts), default=0) or 1
    rows = "".join(
        f'<tr><td>{escape(label)}</td><td class="bar"><div style="width:{100 * n / top:.1f}%"></div></td>'
        f"<td>{n}</td></tr>"
        for label, n in counts
    )
    return f'<table class="bars">{rows}</table>'


def summary(rows: Sequence[dict[str, Any]], shown: int) -> str:
    """The summary block: counts, the digit and confidence histograms, flags and error kinds."""
    ok = [r for r in rows if r.get("status") == "ok"]
    counts = [("records", len(rows)), ("ok", len(ok)), ("errors", len(rows) - len(ok))]
    counts += [(label, sum(1 for r in rows if kind in kinds(r))) for kind, label in KINDS[1:]]
    counts.append(("to review", shown))
    digits = Counter(r["digit"] for r in ok if r.get("digit") is not None)
    bins = Counter(min(9, int(r["confidence"] * 10)) for r in ok if r.get("confidence") is not None)
    flags = Counter(f for r in rows for f in (r.get("flags") or "").split())
    errors = Counter(r.get("error_kind") or "unknown" for r in rows if r.get("status") == "error")
    table = "".join(f"<tr><td>{escape(k)}</td><td id='count-{k.replace(' ', '-')}'>{n}</td></tr>" for k, n in counts)
    parts = [
        f"<div><h2>Counts</h2><table>{table}</table></div>",
        f"<div><h2>Digits</h2>{_bars([(str(d), digits[d]) for d in range(10)])}</div>",
        "<div><h2>Confidence</h2>"
        + _bars([(f"{b / 10:.1f}-{(b + 1) / 10:.1f}", bins[b]) for b in range(10)])
        + "</div>",
        f"<div><h2>Flags</h2>{_bars(sorted(flags.items())) if flags else '<p>none</p>'}</div>",
        f"<div><h2>Errors</h2>{_bars(sorted(errors.items())) if errors else '<p>none</p>'}</div>",
    ]
    return f'<section class="summary">{"".join(parts)}</section>'


def _reading(record: dict[str, Any], multi_digit: bool) -> str:
    if record.get("status") != "ok":
        return f"<b>{escape(record.get('error_kind') or 'error')}</b>: {escape(record.get('error') or '')}"
    value = record.get("text") if multi_digit else record.get("digit")
    return "" if value is None else f"<b>{escape(str(value))}</b>"


def _images(pictures: Pictures) -> str:
    if pictures.original is None:
        return f'<span class="placeholder">{escape(pictures.problem or "no image")}</span>'
    inputs = "".join(f'<img class="input" alt="model input" src="{uri}">' for uri in pictures.inputs)
    return f'<img class="original" alt="original" src="{pictures.original}"> {inputs}'


def _row(i: int, entry: Entry, multi_digit: bool) -> str:
    record = entry.record
    confidence = record.get("confidence")
    digit = record.get("digit")
    flags = "".join(f'<span class="flag">{escape(f)}</span>' for f in (record.get("flags") or "").split())
    top_k = " ".join(str(v) for v in record.get("top_k") or [])
    frame = record.get("frame")
    where = escape(record["path"]) + (f" [frame {frame}]" if frame else "")
    explain = f' <a class="explain" href="{escape(entry.explain)}">what the model saw</a>' if entry.explain else ""
    status = "error" if record.get("status") == "error" else "ok"
    return (
        f'<tr class="rec {status}" data-i="{i}" data-kinds="{" ".join(kinds(record))}" '
        f'data-digit="{"" if digit is None else digit}" data-confidence="{"" if confidence is None else confidence}" '
        f'data-path="{escape(record["path"].lower())}" data-status="{status}" data-multi="{int(multi_digit)}">'
        f"<td class='pictures'>{_images(entry.pictures)}</td><td class='path'>{where}{explain}</td><td>{status}</td>"
        f"<td class='reading'>{_reading(record, multi_digit)}</td>"
        f"<td class='confidence'>{'' if confidence is None else f'{confidence:.4f}'}</td>"
        f"<td>{escape(top_k)}</td><td>{flags}</td>"
        f'<td><input class="correction" aria-label="correction" placeholder="{"text" if multi_digit else "digit"}">'
        "</td></tr>"
    )


def _nav(pages: Sequence[str], current: int) -> str:
    if len(pages) < 2:
        return ""
    links = [
        f"<span>page {n + 1}</span>" if n == current else f'<a href="{escape(name)}">page {n + 1}</a>'
        for n, name in enumerate(pages)
    ]
    return f"<nav>{''.join(links)}</nav>"


def _records_json(entries: Sequence[Entry]) -> str:
    keys = [[e.record["path"], e.record.get("frame") or 0] for e in entries]
    # "<" escaped so that no file name can end the script element.
    return json.dumps(keys, ensure_ascii=False).replace("<", "\\u003c")


_HEAD = (
    "<th>image | model input</th><th data-key='path'>path</th><th data-key='status'>status</th>"
    "<th data-key='digit' data-type='number'>reading</th><th data-key='confidence' data-type='number'>confidence</th>"
    "<th>top-k</th><th>flags</th><th>correction</th>"
)


def controls() -> str:
    options = "".join(f'<option value="{k}">{escape(label)}</option>' for k, label in KINDS)
    digits = "".join(f'<option value="{d}">{d}</option>' for d in range(10))
    return (
        '<div class="controls"><label>show <select id="filter"><option value="all">all</option>'
        f'{options}<option value="corrected">corrected</option></select></label>'
        f'<label>digit <select id="digit"><option value="">any</option>{digits}</select></label>'
        '<label>path <input id="search" type="search"></label>'
        '<span><span id="shown">0</span> shown</span>'
        '<span><span id="corrections">0</span> corrections</span>'
        '<button id="download" type="button">download corrections (CSV)</button>'
        '<button id="clear" type="button">clear corrections</button></div>'
    )


def render(batch: Batch, entries: Sequence[Entry], pages: Sequence[str], current: int) -> str:
    """The HTML of page `current` (0-based) of `pages` (their file names), holding `entries`."""
    rows = "".join(_row(i, e, batch.multi_digit) for i, e in enumerate(entries))
    of = f", page {current + 1} of {len(pages)}" if len(pages) > 1 else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        '<link rel="icon" href="data:,">'
        f"<title>Review: {escape(batch.title)}</title><style>{CSS}</style></head>"
        f'<body data-batch="{escape(batch.key)}"><h1>Review: {escape(batch.title)}</h1>'
        f"<p>{len(entries)} records on this page{of}.</p>{_nav(pages, current)}{batch.summary}"
        f"{controls()}<table id='gallery'><thead><tr>{_HEAD}</tr></thead><tbody>{rows}</tbody></table>"
        f"{_nav(pages, current)}"
        f'<script type="application/json" id="records">{_records_json(entries)}</script>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )
