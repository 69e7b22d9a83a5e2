"""The CSV, JSON Lines and Parquet writers and the output format, on records made by hand."""

from __future__ import annotations

import csv
import json

import pytest

from tests.made_records import ODD_NAMES, make, write_all
from toolkit.errors import UsageError
from toolkit.predict import writers
from toolkit.predict.options import PredictOptions
from toolkit.predict.records import path_text


def test_output_format_resolution():
    assert writers.output_format(None, None) == ("predictions.csv", "csv")
    assert writers.output_format(None, "jsonl") == ("predictions.jsonl", "jsonl")
    assert writers.output_format("x.PARQUET", None) == ("x.PARQUET", "parquet")
    assert writers.output_format("x.txt", "csv") == ("x.txt", "csv")
    with pytest.raises(UsageError, match="cannot tell the output format"):
        writers.output_format("x.txt", None)
    with pytest.raises(UsageError, match="stdout"):
        writers.output_format("-", "parquet")
    assert writers.output_format("x.jsonl", "jsonl") == ("x.jsonl", "jsonl")
    with pytest.raises(UsageError) as contradiction:
        writers.output_format("x.jsonl", "csv")
    assert str(contradiction.value) == (
        "--format csv contradicts --out x.jsonl (a .jsonl name); drop --format or rename the output"
    )


def test_csv_survives_odd_names(tmp_path):
    options = PredictOptions()
    records = make(ODD_NAMES, options, error_at=(1,))
    out = write_all(tmp_path, "csv", records, options.columns())
    raw = out.read_bytes()
    raw.decode("utf-8")  # valid UTF-8 throughout
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(options.columns())
    assert len(rows) == len(ODD_NAMES) + 1
    assert [r[0] for r in rows[1:]] == [path_text(p) for p in ODD_NAMES]
    assert rows[1 + 5][0] == "latin1-\\xe9.png"
    # No cell starts like a formula.
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def _cell(value) -> str:
    """A CSV cell as docs/predict.md describes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return format(value, ".6g") if isinstance(value, float) else str(value)


def test_csv_lines_are_spelled_as_the_csv_module_spells_them_cell_by_cell():
    """The writer's line patterns (one `%` per record) give the bytes the csv module gives: odd names, errors
    with commas and quotes, flags, numbers of other types (NumPy), lists, None, True and False."""
    for options in (PredictOptions(), PredictOptions(top_k=2)):
        _same_as_the_csv_module(options)


def _same_as_the_csv_module(options: PredictOptions) -> None:
    import io

    import numpy as np

    records = make(ODD_NAMES, options, error_at=(1, 4))
    records[2]["error"] = 'cannot read "x, y": bad\r\nfile'
    records[3]["confidence"] = np.float32(0.25)
    records[3]["flags"] = "ambiguous"
    records[5]["confidence"] = float("nan")
    records[7]["flags"] = 'said "no"'  # a quote and no comma, in a plain name's record
    columns = options.columns()
    got = io.StringIO()
    writer = writers.CsvWriter(got, columns)
    writer.write(records[:3])
    writer.write(records[3:])
    expected = io.StringIO()
    plain = csv.writer(expected, lineterminator="\r\n")
    plain.writerow(columns)
    for record in records:
        plain.writerow([path_text(record["path"]), *(_cell(record[c]) for c in columns[1:])])
    assert got.getvalue() == expected.getvalue()
    assert '"cannot read ""x, y"": bad\r\nfile"' in got.getvalue()
    assert ",0.25," in got.getvalue() and ",nan," in got.getvalue()


def test_jsonl_survives_odd_names(tmp_path):
    options = PredictOptions()
    records = make(ODD_NAMES, options)
    out = write_all(tmp_path, "jsonl", records, options.columns())
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(ODD_NAMES)
    objects = [json.loads(line) for line in lines]
    assert [o["path"] for o in objects] == [path_text(p) for p in ODD_NAMES]
    assert list(objects[0]) == list(options.columns())
    assert objects[2]["blank"] is True and objects[2]["digit"] is None


def test_parquet_types_and_nulls(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    options = PredictOptions(top_k=2, min_confidence=0.5)
    records = make(ODD_NAMES, options, error_at=(4,))
    out = write_all(tmp_path, "parquet", records, options.columns())
    table = pq.read_table(out)
    assert table.schema.names == list(options.columns())
    assert str(table.schema.field("digit").type) == "int8"
    assert str(table.schema.field("prob_0").type) == "float"
    rows = table.to_pylist()
    assert [r["path"] for r in rows] == [path_text(p) for p in ODD_NAMES]
    assert rows[4]["status"] == "error" and rows[4]["digit"] is None and rows[4]["error_kind"] == "truncated"
    assert rows[0]["confidence"] == pytest.approx(0.91) and rows[0]["low_confidence"] is False
    top_k_type = table.schema.field("top_k").type
    assert top_k_type.num_fields == 1 and str(top_k_type.value_type) == "int8"
    assert rows[0]["top_k"] == records[0]["top_k"] and len(rows[0]["top_k"]) == 2
    assert rows[4]["top_k"] is None  # an error record ranks nothing


def test_jsonl_top_k_is_a_list_of_digits(tmp_path):
    options = PredictOptions(top_k=3)
    records = make(["a", "b"], options)
    out = write_all(tmp_path, "jsonl", records, options.columns())
    objects = [json.loads(line) for line in out.read_text().splitlines()]
    assert objects[0]["top_k"] == records[0]["top_k"] and len(objects[0]["top_k"]) == 3
    assert all(isinstance(d, int) for d in objects[0]["top_k"])
