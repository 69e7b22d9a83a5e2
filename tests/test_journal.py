"""The journalled output (atomic, resumable, locked) and what resume reads back, on records made by hand."""

from __future__ import annotations

import csv
import fcntl
import io
import json

import pytest

from tests.made_records import make, write_all
from toolkit.errors import ToolkitError, UsageError
from toolkit.predict import resume
from toolkit.predict.journal import Journal
from toolkit.predict.options import PredictOptions
from toolkit.predict.stream import StreamOutput
from toolkit.predict.walk import Found


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
    assert sorted(kept) == ["out.csv.partial", "out.csv.partial.json", "out.csv.partial.sources"]
    failed = Journal(out, "csv", columns, {"model_sha256": "x"})
    failed.start(resume=False)
    failed.close()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == kept
    # A run with nothing to score still writes its output: the header alone.
    empty = Journal(out, "csv", columns, {"model_sha256": "x"})
    empty.start(resume=False)
    assert empty.finish()
    assert out.read_bytes() == (",".join(columns) + "\r\n").encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.csv.meta.json", "out.csv.sources"]


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
    assert sorted(p.name for p in nested.parent.iterdir()) == [
        "out.csv.partial",
        "out.csv.partial.json",
        "out.csv.partial.sources",
    ]


def test_resume_refuses_other_model_or_options(tmp_path):
    columns = PredictOptions().columns()
    out = tmp_path / "out.csv"
    journal = Journal(out, "csv", columns, {"model_sha256": "x"})
    journal.start(resume=False)
    journal.write(make(["a.png"], PredictOptions()))
    journal.close()
    with pytest.raises(UsageError, match="model_sha256"):
        Journal(out, "csv", columns, {"model_sha256": "y"}).start(resume=True)


def test_resume_of_a_finished_run_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(name.encode())
    options = PredictOptions()
    out = tmp_path / "out.csv"
    first = Journal(out, "csv", options.columns(), {"model_sha256": "x"})
    first.start(resume=False)
    assert first.admit(Found("a.png")) and first.admit(Found("b.png"))
    first.write(make(["a.png", "b.png"], options))
    assert first.finish()
    before = (out.read_bytes(), out.stat().st_mtime_ns)
    journal = Journal(out, "csv", options.columns(), {"model_sha256": "x"})
    journal.start(resume=True)
    assert "a.png" in journal.previous and "c.png" not in journal.previous
    assert not journal.admit(Found("a.png")) and not journal.admit(Found("b.png"))
    assert journal.finish() is False
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before
    # New files since: appended after the old records.
    journal = Journal(out, "csv", options.columns(), {"model_sha256": "x"})
    journal.start(resume=True)
    assert [journal.admit(Found(name)) for name in ("a.png", "b.png", "c.png")] == [False, False, True]
    journal.write(make(["a.png", "b.png", "c.png"], options)[2:])
    assert journal.finish()
    assert [r[0] for r in list(csv.reader(open(out, newline="")))[1:]] == ["a.png", "b.png", "c.png"]


def test_resume_refuses_other_columns(tmp_path):
    out = write_all(tmp_path, "csv", make(["a.png"], PredictOptions()), PredictOptions().columns())
    with pytest.raises(UsageError, match="other columns"):
        Journal(out, "csv", PredictOptions(top_k=2).columns(), {}).start(resume=True)


def test_resume_of_a_finished_run_refuses_other_model_or_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(name.encode())
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
    assert not same.admit(Found("a.png")) and not same.admit(Found("b.png"))
    assert same.finish() is False  # nothing new
    assert out.read_bytes() == before
    # Without the record of how it was made, a finished output is not resumed either.
    journal.meta.unlink()
    with pytest.raises(ToolkitError, match="out.csv.meta.json, which records the model and options"):
        Journal(out, "csv", options.columns(), dict(settings)).start(resume=True)


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


def test_a_kill_during_the_parquet_conversion_leaves_nothing_after_the_resume(tmp_path, onnx_model):
    """kill -9 while the finished CSV journal is being converted: the half-written Parquet temp file is there;
    the --resume that follows finishes the output and removes it."""
    import subprocess
    import sys

    pytest.importorskip("pyarrow")
    from tests.test_predict import write_pngs
    from toolkit import data

    _, (x, y) = data.load_mnist()
    write_pngs(tmp_path / "in", x[:5], y[:5])
    out = tmp_path / "o.parquet"
    args = ["predict", str(tmp_path / "in"), "--model", str(onnx_model), "--out", str(out), "--workers", "0"]
    killed = (
        "import os, sys\n"
        "import pyarrow.parquet as pq\n"
        "write = pq.ParquetWriter.write_batch\n"
        "def write_then_die(self, *a, **k):\n"
        "    write(self, *a, **k)\n"
        "    os._exit(9)\n"
        "pq.ParquetWriter.write_batch = write_then_die\n"
        "from toolkit.cli import app\n"
        f"app({args!r}, prog_name='mnist-toolkit')\n"
    )
    assert subprocess.run([sys.executable, "-c", killed], capture_output=True).returncode == 9
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "in")
    assert any(name.startswith(".o.parquet.") and name.endswith(".part") for name in left), left
    done = subprocess.run([sys.executable, "-m", "toolkit", *args, "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "in") == [
        "o.parquet",
        "o.parquet.meta.json",
        "o.parquet.sources",
    ]
    import pyarrow.parquet as pq

    assert pq.read_table(out).num_rows == 5


def test_a_state_left_beside_a_finished_output_and_stray_temp_files_go_with_the_next_run(tmp_path):
    out = tmp_path / "out.jsonl"
    columns = PredictOptions().columns()
    write_all(tmp_path, "jsonl", make(["a.png"]), columns)
    stray = [
        tmp_path / "out.jsonl.partial.json",  # killed after the rename, before the state was removed
        tmp_path / ".out.jsonl.partial.json.0a1b2c3d.part",
        tmp_path / ".out.jsonl.meta.json.0a1b2c3d.part",
        tmp_path / "out.jsonl.partial.kept",
    ]
    for path in stray:
        path.write_text("{}")
    unrelated = tmp_path / ".other.jsonl.0a1b2c3d.part"
    unrelated.write_text("not ours")
    journal = Journal(out, "jsonl", columns, {"model_sha256": "x"})
    journal.start(resume=True)
    journal.close()
    assert not any(path.exists() for path in stray) and unrelated.exists()
    assert journal.notes == []  # a stale state beside a finished output is no interrupted run to speak of
