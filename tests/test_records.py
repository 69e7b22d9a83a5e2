"""Writers, atomic output and resume, without a model: records are made by hand."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os

import numpy as np
import pytest

from toolkit.errors import ToolkitError, UsageError
from toolkit.predict import resume, writers
from toolkit.predict.journal import Journal, StreamOutput
from toolkit.predict.pipeline import PredictOptions, make_records

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
    """Records for `paths`: ok ones with a peaked distribution, errors where asked, one blank."""
    options = options or PredictOptions()
    meta, rows = [], []
    for i, path in enumerate(paths):
        if i in error_at:
            meta.append((path, 0, False, False, "truncated", "image file is truncated"))
        elif i == 2:
            meta.append((path, 0, False, True, None, None))
        else:
            meta.append((path, 0, True, False, None, None))
            row = np.full(10, 0.01, np.float32)
            row[i % 10] = 0.91
            rows.append(row)
    return make_records(meta, np.array(rows, np.float32).reshape(-1, 10), options)


def test_record_fields():
    options = PredictOptions(top_k=3, all_frames=True)
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


def write_all(tmp_path, fmt, records, columns):
    out = tmp_path / f"out.{fmt}"
    journal = Journal(out, fmt, columns, {"model_sha256": "x"})
    journal.start(resume=False)
    journal.write(records)
    assert journal.finish()
    assert not journal.partial.exists() and not journal.state.exists() and not journal.lock.exists()
    assert journal.meta.exists()
    return out


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
    assert [r[0] for r in rows[1:]] == [writers.display_path(p) for p in ODD_NAMES]
    assert rows[1 + 5][0] == "latin1-\\xe9.png"
    # No cell starts like a formula.
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_jsonl_survives_odd_names(tmp_path):
    options = PredictOptions()
    records = make(ODD_NAMES, options)
    out = write_all(tmp_path, "jsonl", records, options.columns())
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(ODD_NAMES)
    objects = [json.loads(line) for line in lines]
    assert [o["path"] for o in objects] == [writers.display_path(p) for p in ODD_NAMES]
    assert list(objects[0]) == list(options.columns())
    assert objects[2]["blank"] is True and objects[2]["digit"] is None


def test_parquet_types_and_nulls(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    options = PredictOptions(top_k=2)
    records = make(ODD_NAMES, options, error_at=(4,))
    out = write_all(tmp_path, "parquet", records, options.columns())
    table = pq.read_table(out)
    assert table.schema.names == list(options.columns())
    assert str(table.schema.field("digit").type) == "int8"
    assert str(table.schema.field("prob_0").type) == "float"
    rows = table.to_pylist()
    assert [r["path"] for r in rows] == [writers.display_path(p) for p in ODD_NAMES]
    assert rows[4]["status"] == "error" and rows[4]["digit"] is None and rows[4]["error_kind"] == "truncated"
    assert rows[0]["confidence"] == pytest.approx(0.91) and rows[0]["low_confidence"] is False
    top_k_type = table.schema.field("top_k").type
    assert top_k_type.num_fields == 1 and str(top_k_type.value_type) == "int8"
    assert rows[0]["top_k"] == records[0]["top_k"] and len(rows[0]["top_k"]) == 2
    assert rows[4]["top_k"] is None  # an error record ranks nothing


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_resume_after_a_torn_write(tmp_path, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    options = PredictOptions()
    columns = options.columns()
    names = [f"f{i:03d}.png" for i in range(50)]
    out = tmp_path / f"out.{fmt}"
    journal = Journal(out, fmt, columns, {"model_sha256": "x"})
    journal.start(resume=False)
    journal.write(make(names[:20], options))
    journal.commit()
    journal.write(make(names[20:30], options))  # written but never committed: "killed" before the commit
    journal._stream.flush()
    journal._stream.write("garbage, half a rec")  # and a torn record
    journal._stream.flush()
    journal._stream.close()
    journal._lock_file.close()  # the kernel releases a killed process's lock
    assert not out.exists()

    again = Journal(out, fmt, columns, {"model_sha256": "x"})
    again.start(resume=True)
    assert again.previous.records == 20
    todo = [n for n in names if n not in again.previous]
    assert todo == names[20:]
    again.write(make(todo, options))
    assert again.finish()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        got = [r["path"] for r in pq.read_table(out).to_pylist()]
    elif fmt == "jsonl":
        got = [json.loads(line)["path"] for line in out.read_text().splitlines()]
    else:
        got = [row[0] for row in list(csv.reader(open(out, newline="")))[1:]]
    assert got == names


def test_resume_refuses_other_model_or_options(tmp_path):
    columns = PredictOptions().columns()
    out = tmp_path / "out.csv"
    journal = Journal(out, "csv", columns, {"model_sha256": "x"})
    journal.start(resume=False)
    journal.write(make(["a.png"], PredictOptions()))
    journal.close()
    with pytest.raises(UsageError, match="model_sha256"):
        Journal(out, "csv", columns, {"model_sha256": "y"}).start(resume=True)


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    options = PredictOptions()
    out = write_all(tmp_path, "csv", make(["a.png", "b.png"], options), options.columns())
    before = (out.read_bytes(), out.stat().st_mtime_ns)
    journal = Journal(out, "csv", options.columns(), {"model_sha256": "x"})
    journal.start(resume=True)
    assert "a.png" in journal.previous and "c.png" not in journal.previous
    assert journal.finish() is False
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before
    # New files since: appended after the old records.
    journal = Journal(out, "csv", options.columns(), {"model_sha256": "x"})
    journal.start(resume=True)
    journal.write(make(["a.png", "b.png", "c.png"], options)[2:])
    assert journal.finish()
    assert [r[0] for r in list(csv.reader(open(out, newline="")))[1:]] == ["a.png", "b.png", "c.png"]


def test_resume_refuses_other_columns(tmp_path):
    out = write_all(tmp_path, "csv", make(["a.png"], PredictOptions()), PredictOptions().columns())
    with pytest.raises(UsageError, match="other columns"):
        Journal(out, "csv", PredictOptions(top_k=2).columns(), {}).start(resume=True)


def test_a_reader_never_sees_half_an_output(tmp_path):
    options = PredictOptions()
    out = tmp_path / "out.csv"
    out.write_text("old complete output\n")
    journal = Journal(out, "csv", options.columns(), {"model_sha256": "x"})
    journal.start(resume=False)
    journal.write(make(["a.png", "b.png"], options))
    journal.commit()
    assert out.read_text() == "old complete output\n"  # untouched until the rename
    journal.finish()
    assert out.read_text().startswith("path,status,digit")


def test_resume_of_a_finished_run_refuses_other_model_or_options(tmp_path):
    options = PredictOptions()
    settings = {"model_sha256": "a" * 64, "min_confidence": 0.5}
    out = tmp_path / "out.csv"
    journal = Journal(out, "csv", options.columns(), settings)
    journal.start(resume=False)
    journal.write(make(["a.png", "b.png"], options))
    assert journal.finish()
    before = out.read_bytes()
    for other, message in [
        ({**settings, "min_confidence": 1.0}, "min_confidence (was 0.5, now 1.0)"),
        ({**settings, "model_sha256": "b" * 64}, "model_sha256 (was aaaaaaaaaaaa..., now bbbb"),
    ]:
        with pytest.raises(UsageError, match=r"^cannot --resume: .*out.csv was made with other settings: ") as info:
            Journal(out, "csv", options.columns(), other).start(resume=True)
        assert message in str(info.value) and "\n" not in str(info.value)
    same = Journal(out, "csv", options.columns(), dict(settings))
    same.start(resume=True)
    assert same.finish() is False  # nothing new
    assert out.read_bytes() == before
    # Without the record of how it was made, a finished output is not resumed either.
    journal.meta.unlink()
    with pytest.raises(ToolkitError, match="out.csv.meta.json, which records the model and options"):
        Journal(out, "csv", options.columns(), dict(settings)).start(resume=True)


def interrupted(tmp_path, fmt):
    """A run killed after one committed batch of three records: its journal's output path."""
    options = PredictOptions()
    out = tmp_path / f"out.{fmt}"
    journal = Journal(out, fmt, options.columns(), {"model_sha256": "x"})
    journal.start(resume=False)
    journal.write(make(["a.png", "b.png", "c.png"], options))
    journal.commit()
    journal._stream.close()
    journal._lock_file.close()  # the kernel releases a killed process's lock
    return out


def _edit_state(out, **changes):
    state_path = out.with_name(out.name + ".partial.json")
    state = json.loads(state_path.read_text())
    for key, value in changes.items():
        if value is None:
            del state[key]
        else:
            state[key] = value(state[key]) if callable(value) else value
    state_path.write_text(json.dumps(state))


def _bad_jsonl_line(out):
    partial = out.with_name(out.name + ".partial")
    lines = partial.read_bytes().split(b"\n")
    lines[1] = b"X" + lines[1][1:]  # same length: the commit still ends where it did
    partial.write_bytes(b"\n".join(lines))


def _blank_csv_line(out):
    partial = out.with_name(out.name + ".partial")
    header, rest = partial.read_bytes().split(b"\r\n", 1)
    partial.write_bytes(header + b"\r\n\r\n" + rest)
    _edit_state(out, committed_bytes=lambda n: n + 2)


def _shorter(out):
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(partial.read_bytes()[:-10])


DAMAGE = {
    "bad-jsonl-line": ("jsonl", _bad_jsonl_line, "out.jsonl.partial line 2 is not JSON"),
    "blank-csv-line": ("csv", _blank_csv_line, "out.csv.partial line 2 is blank"),
    "no-committed-bytes": ("csv", lambda out: _edit_state(out, committed_bytes=None), "has no valid committed_bytes"),
    "shorter-than-committed": ("csv", _shorter, "is shorter ("),
    "commit-mid-record": (
        "jsonl",
        lambda out: _edit_state(out, committed_bytes=lambda n: n - 3),
        "does not end a record",
    ),
    "state-not-json": ("csv", lambda out: out.with_name(out.name + ".partial.json").write_text("{"), "unreadable"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_resume_of_a_damaged_partial_run_is_a_one_line_error(tmp_path, damage):
    fmt, spoil, what = DAMAGE[damage]
    out = interrupted(tmp_path, fmt)
    spoil(out)
    partial, state = out.with_name(out.name + ".partial"), out.with_name(out.name + ".partial.json")
    before = partial.read_bytes()
    journal = Journal(out, fmt, PredictOptions().columns(), {"model_sha256": "x"})
    with pytest.raises(ToolkitError) as info:
        journal.start(resume=True)
    message = str(info.value)
    assert type(info.value) is ToolkitError and info.value.exit_code == 1
    assert message.startswith(f"cannot --resume {out}: ") and what in message and "\n" not in message
    assert message.endswith(f"; delete {partial} and {state} to start over")
    assert partial.read_bytes() == before  # neither cut nor padded with NUL bytes
    assert not journal.lock.exists()


def test_a_second_journal_on_the_same_output_is_refused_until_the_first_ends(tmp_path):
    columns = PredictOptions().columns()
    out = tmp_path / "out.csv"
    first = Journal(out, "csv", columns, {})
    first.start(resume=False)
    with pytest.raises(ToolkitError, match=f"^another predict run is writing {out}"):
        Journal(out, "csv", columns, {}).start(resume=False)
    first.write(make(["a.png"], PredictOptions()))
    assert first.finish() and not first.lock.exists()
    second = Journal(out, "csv", columns, {})
    second.start(resume=True)
    assert "a.png" in second.previous
    second.close()
    # A lock file left by a killed run (nobody holds it) does not stop the next run.
    out.with_name("out.csv.lock").write_bytes(b"")
    third = Journal(out, "csv", columns, {})
    third.start(resume=False)
    with open(third.lock, "rb") as other, pytest.raises(BlockingIOError):
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    third.close()


def test_state_and_summary_writes_use_unique_temp_names(tmp_path):
    from toolkit.predict.runner import Summary, write_summary

    # Whatever sits at a fixed temporary name (another writer's temp file, here a folder) is no obstacle.
    (tmp_path / ".out.csv.partial.json.tmp").mkdir()
    (tmp_path / ".summary.json.tmp").mkdir()
    out = write_all(tmp_path, "csv", make(["a.png"], PredictOptions()), PredictOptions().columns())
    assert out.exists()
    write_summary(Summary(output=str(out), format="csv", model="m.onnx", files=1), tmp_path / "summary.json")
    assert json.loads((tmp_path / "summary.json").read_text())["files"] == 1


def test_stdout_gets_no_header_before_the_first_records(tmp_path):
    columns = PredictOptions().columns()
    failed = io.StringIO()
    output = StreamOutput(failed, "csv", columns)
    output.start(resume=False)
    output.close()  # the run failed before scoring anything (a bad model)
    assert failed.getvalue() == ""
    empty = io.StringIO()
    output = StreamOutput(empty, "csv", columns)
    output.start(resume=False)
    assert output.finish()
    assert empty.getvalue() == ",".join(columns) + "\r\n"  # a run with nothing to score: the header alone


def test_jsonl_top_k_is_a_list_of_digits(tmp_path):
    options = PredictOptions(top_k=3)
    records = make(["a", "b"], options)
    out = write_all(tmp_path, "jsonl", records, options.columns())
    objects = [json.loads(line) for line in out.read_text().splitlines()]
    assert objects[0]["top_k"] == records[0]["top_k"] and len(objects[0]["top_k"]) == 3
    assert all(isinstance(d, int) for d in objects[0]["top_k"])


def test_file_keys_see_through_the_spelling_of_folders_not_of_files(tmp_path):
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "a.png").write_bytes(b"")
    (tmp_path / "alias").symlink_to(tmp_path / "data", target_is_directory=True)
    (tmp_path / "data" / "link.png").symlink_to(tmp_path / "data" / "a.png")
    keys = resume.FileKeys(str(tmp_path / "data" / "sub"))  # relative paths are taken from here
    same = [
        "../a.png",
        f"{tmp_path}/data/a.png",
        f"{tmp_path}/./data/sub/../a.png",
        f"{tmp_path}/alias/a.png",
        "../../alias/a.png",
    ]
    assert len({keys.key(p) for p in same}) == 1
    assert len({keys.key(p) for p in ["../a.png", "../b.png", "../link.png", "a.png"]}) == 4
    # A folder that is gone is keyed by its resolved path: still one key for several spellings.
    assert keys.key("../gone/x.png") == keys.key(f"{tmp_path}/alias/gone/x.png") != keys.key("../gone/y.png")


def test_previous_keeps_16_bytes_a_file_and_one_key_for_all_frames(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    previous = resume.Previous()
    for i in range(1000):
        for _ in range(3):  # three frames of one file
            previous.add(f"scans/{i:04d}.png", "error" if i % 10 == 0 else "ok")
    assert (previous.records, previous.errors) == (3000, 300)
    assert "scans/0999.png" in previous and f"{tmp_path}/scans/0000.png" in previous
    assert "scans/1000.png" not in previous and "0000.png" not in previous
    assert previous._high.nbytes + previous._low.nbytes == 16 * 1000
    previous.add("scans/1000.png", "ok")  # added after a lookup: found too
    assert "./scans/1000.png" in previous and "scans/0500.png" in previous


def test_state_and_sidecar_record_the_folder_relative_paths_start_from(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    columns = PredictOptions().columns()
    out = tmp_path / "out.csv"
    journal = Journal(out, "csv", columns, {"model_sha256": "x"})
    journal.start(resume=False)
    journal.write(make(["a.png"], PredictOptions()))
    journal.commit()
    assert json.loads(journal.state.read_text())["cwd"] == str(tmp_path / "work")
    journal.finish()
    assert json.loads(journal.meta.read_text())["cwd"] == str(tmp_path / "work")
    monkeypatch.chdir(tmp_path)
    again = Journal(out, "csv", columns, {"model_sha256": "x"})
    again.start(resume=True)
    assert again.previous.base == str(tmp_path / "work")
    assert "work/a.png" in again.previous and "a.png" not in again.previous
    with pytest.raises(UsageError, match=f"relative to {tmp_path / 'work'}, where the first run started"):
        again.previous.check_inputs(["scans"], out)
    again.previous.check_inputs([str(tmp_path / "scans")], out)  # absolute: fine from anywhere
    again.close()


def test_a_run_that_fails_before_its_first_records_leaves_no_file(tmp_path):
    columns = PredictOptions().columns()
    out = tmp_path / "out.csv"
    journal = Journal(out, "csv", columns, {"model_sha256": "x"})
    journal.start(resume=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv.lock"]  # held while it runs
    journal.close()  # failed (a bad model) before any record
    assert list(tmp_path.iterdir()) == []
    # An interrupted run's partial file survives a fresh run that fails, so --resume can still go on.
    journal = Journal(out, "csv", columns, {"model_sha256": "x"})
    journal.start(resume=False)
    journal.write(make(["a.png"], PredictOptions()))
    journal.close()
    kept = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(kept) == ["out.csv.partial", "out.csv.partial.json"]
    failed = Journal(out, "csv", columns, {"model_sha256": "x"})
    failed.start(resume=False)
    failed.close()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == kept
    # A run with nothing to score still writes its output: the header alone.
    empty = Journal(out, "csv", columns, {"model_sha256": "x"})
    empty.start(resume=False)
    assert empty.finish()
    assert out.read_bytes() == (",".join(columns) + "\r\n").encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.csv.meta.json"]


def test_folders_made_for_the_output_go_again_when_a_run_fails_before_any_record(tmp_path):
    columns = PredictOptions().columns()
    nested = tmp_path / "new" / "deeper" / "out.csv"
    failed = Journal(nested, "csv", columns, {"model_sha256": "x"})
    failed.start(resume=False)
    assert nested.parent.is_dir()
    failed.close()
    assert list(tmp_path.iterdir()) == []
    interrupted = Journal(nested, "csv", columns, {"model_sha256": "x"})
    interrupted.start(resume=False)
    interrupted.write(make(["a.png"], PredictOptions()))
    interrupted.close()  # its partial file stays for --resume, and the folders with it
    assert sorted(p.name for p in nested.parent.iterdir()) == ["out.csv.partial", "out.csv.partial.json"]
