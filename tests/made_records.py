"""Records made by hand, and journals written with them, for the writer, journal and resume tests."""

from __future__ import annotations

import os

import numpy as np

from toolkit.predict.journal import Journal
from toolkit.predict.options import PredictOptions
from toolkit.predict.pipeline import make_records
from toolkit.predict.records import ItemMeta

ODD_NAMES = [
    "plain.png",
    "comma,name.png",
    'quote"name.png',
    "new\nline.png",
    "./=SUM(A1).png",
    os.fsdecode(b"latin1-\xe9.png"),
    "tab\tand\rcr.png",
    "ünïcödé.png",
]


def make(paths, options=None, error_at=()):
    """Records for `paths`: ok ones with a peaked distribution, errors where asked, one blank (the third)."""
    options = options or PredictOptions(min_confidence=0.5)
    meta, rows = [], []
    for i, path in enumerate(paths):
        if i in error_at:
            meta.append(ItemMeta(path, 0, 0, False, "truncated", "image file is truncated", None, None))
        elif i == 2:
            meta.append(ItemMeta(path, 0, 0, True, None, None, None, None))
        else:
            meta.append(ItemMeta(path, 0, 1, False, None, None, None, None))
            row = np.full(10, 0.01, np.float32)
            row[i % 10] = 0.91
            rows.append(row)
    return make_records(meta, np.array(rows, np.float32).reshape(-1, 10), options)


def write_all(tmp_path, fmt, records, columns):
    out = tmp_path / f"out.{fmt}"
    journal = Journal(out, fmt, columns, {"model_sha256": "x"})
    journal.start(resume=False)
    journal.write(records)
    assert journal.finish()
    assert not journal.partial.exists() and not journal.state.exists() and not journal.lock.exists()
    assert journal.meta.exists()
    return out
