"""The record schema and how records are made from a model's probabilities."""

from __future__ import annotations

import os
import typing

import numpy as np
import pytest

from tests.made_records import make
from toolkit.predict import records
from toolkit.predict.options import PredictOptions
from toolkit.predict.pipeline import make_records
from toolkit.predict.records import COLUMNS, ItemMeta, Record


def test_record_fields():
    options = PredictOptions(top_k=3, all_frames=True, min_confidence=0.5)
    records = make(["a", "b", "c", "d"], options, error_at=(3,))
    assert list(records[0]) == list(options.columns())
    ok, _, blank, error = records
    assert ok["status"] == "ok" and ok["digit"] == 0 and ok["confidence"] == pytest.approx(0.91)
    assert ok["low_confidence"] is False and ok["blank"] is False and ok["frame"] == 0
    assert ok["top_k"][0] == 0 and len(ok["top_k"]) == 3 and all(isinstance(d, int) for d in ok["top_k"])
    assert blank["status"] == "ok" and blank["blank"] is True and blank["digit"] is None
    assert blank["low_confidence"] is True and blank["top_k"] is None
    assert error["status"] == "error" and error["error"] == "truncated: image file is truncated"
    assert error["error_kind"] == "truncated" and error["prob_0"] is None


def test_the_typed_record_and_the_column_table_are_one_schema():
    assert list(typing.get_type_hints(Record)) == [c.name for c in COLUMNS]
    assert records.columns(PredictOptions()) == records.BASE_COLUMNS
    assert records.columns(PredictOptions(multi_digit=True))[-3:] == ("text", "n_digits", "per_digit")
    assert records.columns(PredictOptions(top_k=2, all_frames=True))[-2:] == ("frame", "top_k")


def test_arrow_types_come_from_the_column_table():
    pa = pytest.importorskip("pyarrow")
    schema = records.arrow_schema(pa, records.columns(PredictOptions(multi_digit=True, top_k=0, all_frames=True)))
    assert schema.field("digit").type == pa.int8()
    assert schema.field("low_confidence").type == pa.bool_()
    assert schema.field("prob_9").type == pa.float32()
    assert schema.field("frame").type == pa.int32()
    assert schema.field("per_digit").type == pa.list_(pa.struct([("digit", pa.int8()), ("confidence", pa.float32())]))
    with pytest.raises(KeyError):
        records.arrow_schema(pa, ["no_such_column"])


def test_a_multi_digit_item_reads_its_digits_and_keeps_its_flags():
    options = PredictOptions(multi_digit=True, min_confidence=0.5)
    probs = np.full((2, 10), 0.01, np.float32)
    probs[0, 4], probs[1, 2] = 0.91, 0.6
    meta = [
        ItemMeta("n.png", 0, 2, False, None, None, "faint", None),
        ItemMeta("blank.png", 0, 0, True, None, None, "blank-page", None),
        ItemMeta("bad.png", 0, 0, False, "corrupt", "broken", None, None),
    ]
    number, blank, bad = make_records(meta, probs, options)
    assert (number["text"], number["n_digits"], number["digit"], number["flags"]) == ("42", 2, None, "faint")
    assert number["confidence"] == pytest.approx(0.6) and number["low_confidence"] is False
    assert number["per_digit"] == [{"digit": 4, "confidence": pytest.approx(0.91)}, {"digit": 2, "confidence": 0.6}]
    assert (blank["status"], blank["blank"], blank["n_digits"], blank["text"]) == ("ok", True, 0, None)
    assert blank["flags"] == "blank-page"
    assert (bad["status"], bad["error"], bad["n_digits"], bad["text"]) == ("error", "corrupt: broken", None, None)
    assert list(number) == list(options.columns())


def test_path_spelling_is_reversible_so_no_two_names_share_one():
    from toolkit.predict.records import path_bytes, path_text

    names = [b"plain.png", b"a_\\xe9.png", b"a_\xe9.png", b"a_\\\\xe9.png", b"back\\slash", b"\\", b"caf\xc3\xa9.png"]
    names += [b"tail\\", b"\\x4", b"\xff\xfe", "日本.png".encode()]
    spelled = [path_text(os.fsdecode(name)) for name in names]
    assert len(set(spelled)) == len(names)
    assert [path_bytes(text) for text in spelled] == names
    assert spelled[:3] == ["plain.png", "a_\\\\xe9.png", "a_\\xe9.png"]
    assert all(text.encode("utf-8") for text in spelled)  # every spelling is valid UTF-8
