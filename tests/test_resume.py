"""--resume when inputs changed between a run and its resume: a changed input is scored again and its old record
replaced, a deleted or renamed-away input keeps its record flagged `input-gone`, names that differ only in how
they would be escaped never share a record, and every case is counted in the summary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_predict import interrupted_run, read_csv, write_pngs
from toolkit import data
from toolkit.predict.options import PredictOptions
from toolkit.predict.runner import run
from toolkit.render import summary_lines


@pytest.fixture(scope="module")
def digits():
    _, (x, y) = data.load_mnist()
    return x[:60], y[:60]


@pytest.fixture
def scored(tmp_path, monkeypatch, digits, onnx_model):
    """A folder `work/in` of 40 digits: 20 files, then the subfolders `sub` and `zz` of 10 each; a run of it
    interrupted after 36 records (all of `in` and `sub`, 6 of `zz`: batches of 4), and a function that
    resumes it: (work folder, out, resume)."""
    x, y = digits
    work = tmp_path / "work"
    write_pngs(work / "in", x[:20], y[:20])
    write_pngs(work / "in" / "sub", x[20:30], y[20:30], start=20)
    write_pngs(work / "in" / "zz", x[30:40], y[30:40], start=30)
    monkeypatch.chdir(work)
    out = tmp_path / "p.csv"
    options = PredictOptions(model=onnx_model, workers=0, chunk_size=4, batch_size=4)
    interrupted_run(monkeypatch, ["in"], out, options, after=35)

    def resume():
        return run(["in"], options, out=str(out), resume=True)

    return work, out, resume


def by_path(out: Path) -> dict[str, dict]:
    rows = read_csv(out)
    assert len({r["path"] for r in rows}) == len(rows), "two records share a path"
    return {r["path"]: r for r in rows}


def on_disk(work: Path) -> set[str]:
    return {str(p.relative_to(work)) for p in (work / "in").rglob("*.png")}


def test_a_file_replaced_under_the_same_name_is_scored_again(scored, digits):
    work, out, resume = scored
    x, _ = digits
    first = sorted(on_disk(work))[0]
    before = by_path(Path(str(out) + ".partial"))[first]
    Image.fromarray(x[55]).save(work / first)  # another digit, another size
    summary = resume()
    records = by_path(out)
    assert set(records) == on_disk(work)
    assert records[first]["digit"] != before["digit"] and records[first]["prob_0"] != before["prob_0"]
    assert (summary.changed, summary.gone, summary.exit_code) == (1, 0, 0)


def test_deleted_files_keep_their_records_flagged_gone(scored):
    work, out, resume = scored
    scored_before = list(by_path(Path(str(out) + ".partial")))
    for path in scored_before[:3]:
        os.remove(work / path)
    summary = resume()
    records = by_path(out)
    assert set(records) == on_disk(work) | set(scored_before[:3])
    assert [records[p]["flags"] for p in scored_before[:3]] == ["input-gone"] * 3
    assert all("input-gone" not in (r["flags"] or "") for p, r in records.items() if p not in scored_before[:3])
    assert (summary.changed, summary.gone) == (0, 3)
    assert "gone: 3 inputs not found again, their records kept and flagged input-gone" in summary_lines(summary)


@pytest.mark.parametrize("what", ["files", "folder"])
def test_renamed_inputs_are_scored_under_their_new_names_and_the_old_records_flagged(scored, what):
    work, out, resume = scored
    if what == "files":
        for path in sorted(on_disk(work))[:5]:
            os.rename(work / path, work / path.replace(".png", "-renamed.png"))
    else:
        os.rename(work / "in" / "sub", work / "in" / "sub-renamed")
    summary = resume()
    records = by_path(out)
    live = {p for p, r in records.items() if "input-gone" not in (r["flags"] or "")}
    assert live == on_disk(work) and len(live) == 40
    assert (summary.gone, summary.changed) == ((5, 0) if what == "files" else (10, 0))
    assert len(records) == 40 + summary.gone


def test_a_partly_scored_subfolder_replaced_by_a_symlink_is_not_walked_and_its_records_are_flagged(scored):
    work, out, resume = scored
    partial = by_path(Path(str(out) + ".partial"))
    shutil.move(work / "in" / "zz", work / "elsewhere")
    (work / "in" / "zz").symlink_to(work / "elsewhere", target_is_directory=True)
    summary = resume()
    records = by_path(out)
    for path, record in records.items():
        assert ("input-gone" in (record["flags"] or "")) == path.startswith("in/zz/"), path
    assert len([p for p in records if p.startswith("in/zz/")]) == len([p for p in partial if p.startswith("in/zz/")])
    assert summary.gone == len([p for p in partial if p.startswith("in/zz/")]) == 6


def flags_by_path(out: Path, fmt: str) -> dict[str, str | None]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(out, columns=["path", "flags"]).to_pylist()
        return {r["path"]: r["flags"] for r in table}
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        return {r["path"]: r["flags"] for r in rows}
    return {r["path"]: r["flags"] or None for r in read_csv(out)}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_finished_run_resumed_after_changes_replaces_and_flags_and_a_restored_file_loses_the_flag(
    tmp_path, monkeypatch, digits, onnx_model, fmt
):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    x, y = digits
    write_pngs(tmp_path / "in", x[:6], y[:6])
    monkeypatch.chdir(tmp_path)
    out = tmp_path / f"p.{fmt}"
    options = PredictOptions(model=onnx_model, workers=0)
    assert run(["in"], options, out=str(out)).exit_code == 0
    names = sorted(os.listdir("in"))
    os.rename(f"in/{names[0]}", "away.png")
    Image.fromarray(x[55]).save(f"in/{names[1]}")
    summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.changed, summary.gone) == (1, 1)
    flags = flags_by_path(out, fmt)
    assert len(flags) == 6 and flags[f"in/{names[0]}"] == "input-gone"
    assert [f for p, f in flags.items() if p != f"in/{names[0]}"] == [None] * 5
    os.rename("away.png", f"in/{names[0]}")  # moved back as it was: its record is current again
    summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.changed, summary.gone) == (0, 0)
    assert list(flags_by_path(out, fmt).values()) == [None] * 6
    again = run(["in"], options, out=str(out), resume=True)
    assert again.written is False  # nothing changed: the output is left as it is


def test_two_names_that_escaped_alike_are_two_inputs(tmp_path, monkeypatch, digits, onnx_model):
    """`a_\\xe9.png` (a backslash in the name) and `a_<byte E9>.png` must not share a spelling or a resume key."""
    x, y = digits
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(x[0]).save(folder / "a_\\xe9.png")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "c.csv"
    options = PredictOptions(model=onnx_model, workers=0)
    assert run(["in"], options, out=str(out)).exit_code == 0
    Image.fromarray(x[1]).save(os.fsencode(folder) + b"/a_\xe9.png", "PNG")
    summary = run(["in"], options, out=str(out), resume=True)
    assert summary.files == 1 and summary.written
    paths = [r["path"] for r in read_csv(out)]
    assert paths == ["in/a_\\\\xe9.png", "in/a_\\xe9.png"]


def test_a_replacement_with_the_same_size_and_mtime_goes_unnoticed(tmp_path, monkeypatch, digits, onnx_model):
    """The documented limit: the key is the path plus size and mtime_ns, not the content."""
    x, y = digits
    write_pngs(tmp_path / "in", x[:2], y[:2])
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "p.csv"
    options = PredictOptions(model=onnx_model, workers=0)
    run(["in"], options, out=str(out))
    name = sorted(os.listdir("in"))[0]
    stat = os.stat(f"in/{name}")
    content = bytearray(Path(f"in/{name}").read_bytes())
    content[-20] ^= 0xFF  # same size, other bytes
    Path(f"in/{name}").write_bytes(bytes(content))
    os.utime(f"in/{name}", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.changed, summary.gone, summary.written) == (0, 0, False)
    assert np.all(np.isfinite([float(r["confidence"]) for r in read_csv(out)]))


def scored_one_by_one(tmp_path, monkeypatch, images, labels, model) -> tuple[Path, PredictOptions]:
    """`images` written to tmp_path/in and scored into p.csv from tmp_path, a record a commit (so that an
    interrupted run stops exactly where it is told); the output and the options."""
    write_pngs(tmp_path / "in", images, labels)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "p.csv"
    options = PredictOptions(model=model, workers=0, chunk_size=1, batch_size=1)
    assert run(["in"], options, out=str(out)).exit_code == 0
    return out, options


def test_a_resume_interrupted_after_scoring_a_changed_input_again_keeps_only_its_latest_record(
    tmp_path, monkeypatch, digits, onnx_model
):
    x, y = digits
    out, options = scored_one_by_one(tmp_path, monkeypatch, x[:8], y[:8], onnx_model)
    first = sorted(os.listdir("in"))[0]
    Image.fromarray(x[55]).save(f"in/{first}")
    interrupted_run(monkeypatch, ["in"], out, options, after=1, resume=True)  # the changed input, scored again
    summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.changed, summary.gone, summary.files) == (0, 0, 0)
    records = by_path(out)  # one record per path
    assert len(records) == 8 and records[f"in/{first}"]["digit"] == read_csv(out)[-1]["digit"]


def test_the_latest_record_of_a_changed_input_is_kept_when_its_two_records_are_neighbours(
    tmp_path, monkeypatch, digits, onnx_model
):
    """The last input changed, and an interrupted resume scored it again: its old and new records lie side by
    side in the partial output. Records of one input next to each other were taken for the frames of one file,
    so the new one was dropped; once the input was deleted, the next resume kept the old one."""
    x, y = digits
    out, options = scored_one_by_one(tmp_path, monkeypatch, x[:6], y[:6], onnx_model)
    last = sorted(os.listdir("in"))[-1]
    old = by_path(out)[f"in/{last}"]["digit"]
    replacement = next(k for k in range(50, 500) if str(y[k]) != old)
    Image.fromarray(x[replacement]).save(f"in/{last}")
    interrupted_run(monkeypatch, ["in"], out, options, after=1, resume=True)  # the changed input, scored again
    new = read_csv(out.with_name(out.name + ".partial"))[-1]
    assert new["path"] == f"in/{last}" and new["digit"] != old
    os.remove(f"in/{last}")
    run(["in"], options, out=str(out), resume=True)
    kept = by_path(out)[f"in/{last}"]
    assert (kept["digit"], kept["flags"]) == (new["digit"], "input-gone")


def test_a_listed_file_missing_at_first_is_scored_by_a_resume_once_it_exists(tmp_path, monkeypatch, digits, onnx_model):
    """A path listed on stdin that did not exist got a `missing` record; once the file was there, every
    resume said the output was complete and kept the error: a record that could not be stat'ed was taken for
    one written without versions, which a resume cannot tell from its input."""
    import io

    x, y = digits
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "p.csv"
    options = PredictOptions(model=onnx_model, workers=0)
    assert run(["-"], options, out=str(out), stdin=io.StringIO("later.png\n")).exit_code == 3
    assert read_csv(out)[0]["error_kind"] == "missing"
    write_pngs(tmp_path / "w", x[:1], y[:1])
    os.replace(next((tmp_path / "w").iterdir()), "later.png")
    summary = run(["-"], options, out=str(out), stdin=io.StringIO("later.png\n"), resume=True)
    assert (summary.exit_code, summary.changed) == (0, 1)
    (record,) = read_csv(out)
    assert (record["path"], record["status"], record["digit"]) == ("later.png", "ok", str(y[0]))


def test_a_kill_after_the_output_went_into_place_keeps_change_detection(tmp_path, digits, onnx_model):
    """killed between moving the output into place and removing the partial run's state: the next resume still
    knows every input's version."""
    x, y = digits
    write_pngs(tmp_path / "in", x[:4], y[:4])
    out = tmp_path / "p.csv"
    args = ["predict", str(tmp_path / "in"), "--model", str(onnx_model), "--out", str(out), "--workers", "0"]
    killed = (
        "import os, sys\n"
        "from toolkit.predict import journal\n"
        "replace = os.replace\n"
        "def replace_then_die(src, dst):\n"
        "    replace(src, dst)\n"
        f"    if str(dst) == {str(out)!r}:\n"
        "        os._exit(9)\n"
        "journal.os.replace = replace_then_die\n"
        "from toolkit.cli import app\n"
        f"app({args!r}, prog_name='mnist-toolkit')\n"
    )
    assert subprocess.run([sys.executable, "-c", killed], capture_output=True).returncode == 9
    assert out.exists() and (tmp_path / "p.csv.partial.json").exists()
    name = sorted(os.listdir(tmp_path / "in"))[0]
    Image.fromarray(x[55]).save(tmp_path / "in" / name)
    done = subprocess.run([sys.executable, "-m", "toolkit", *args, "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "changed since: 1 input scored again" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "in") == ["p.csv", "p.csv.meta.json", "p.csv.sources"]


def test_a_finished_output_edited_by_hand_is_resumed_without_versions_and_says_so(
    tmp_path, monkeypatch, digits, onnx_model
):
    x, y = digits
    write_pngs(tmp_path / "in", x[:3], y[:3])
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "p.csv"
    options = PredictOptions(model=onnx_model, workers=0)
    run(["in"], options, out=str(out))
    rows = out.read_bytes().split(b"\r\n")
    out.write_bytes(b"\r\n".join([*rows[:2], rows[1], *rows[2:]]))  # one record twice: the sidecar no longer fits
    summary = run(["in"], options, out=str(out), resume=True)
    assert summary.exit_code == 0
    assert any("p.csv.sources does not match" in w for w in summary.warnings)


def test_a_broken_file_fixed_since_is_scored_again_and_the_run_exits_0(tmp_path, monkeypatch, digits, onnx_model):
    x, y = digits
    write_pngs(tmp_path / "in", x[:3], y[:3])
    (tmp_path / "in" / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "p.csv"
    options = PredictOptions(model=onnx_model, workers=0)
    assert run(["in"], options, out=str(out)).exit_code == 3
    Image.fromarray(x[3]).save(tmp_path / "in" / "zz-broken.png")
    summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.changed, summary.resumed_records, summary.resumed_errors, summary.exit_code) == (1, 3, 0, 0)
    assert summary.as_dict()["changed"] == 1 and summary.as_dict()["gone"] == 0
    assert [r["status"] for r in read_csv(out)] == ["ok"] * 4


def locked(patch, name: str) -> None:
    """Opening a file called `name` fails as it does without read permission (chmod does not stop root, who
    runs these tests): the error is of access, and fixing it (chmod, a remount) leaves size and mtime as they
    were."""
    from toolkit.predict import decode

    real_open = os.open

    def denied(path, *args, **kwargs):
        if os.path.basename(os.fsdecode(path)) == name:
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    patch.setattr(decode.os, "open", denied)


def scored_with_one_locked(tmp_path, monkeypatch, digits, model, count: int, at: int, fmt: str = "csv"):
    """`count` digits in tmp_path/in scored from tmp_path into p.<fmt>, a record a commit, the one at `at` (in
    name order) unreadable during the run: (out, options, its name, its label)."""
    x, y = digits
    write_pngs(tmp_path / "in", x[:count], y[:count])
    monkeypatch.chdir(tmp_path)
    name = sorted(os.listdir("in"))[at]
    out = tmp_path / f"p.{fmt}"
    options = PredictOptions(model=model, workers=0, chunk_size=1, batch_size=1)
    with monkeypatch.context() as patch:
        locked(patch, name)
        assert run(["in"], options, out=str(out)).exit_code == 3
    return out, options, name, str(y[at])


@pytest.fixture
def one_unreadable(tmp_path, monkeypatch, digits, onnx_model):
    """Six digits scored into p.csv, the third unreadable during the run (`scored_with_one_locked`)."""
    out, options, name, label = scored_with_one_locked(tmp_path, monkeypatch, digits, onnx_model, 6, 2)
    assert by_path(out)[f"in/{name}"]["error_kind"] == "unreadable"
    return out, options, name, label


def test_a_file_unreadable_at_first_is_scored_by_a_resume_once_it_can_be_read(one_unreadable):
    """A file predict could not open (permission denied) kept its error record through every resume once its
    permissions were fixed: chmod changes neither its size nor its mtime, and a resume skips an input recorded
    at the version it has now. An error of access is tried again, and its new record replaces the old one."""
    out, options, name, label = one_unreadable
    summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.retried, summary.changed, summary.files, summary.exit_code) == (1, 0, 1, 0)
    assert "unreadable before: 1 input tried again, their old records replaced" in summary_lines(summary)
    records = by_path(out)  # one record per path
    assert len(records) == 6
    assert (records[f"in/{name}"]["status"], records[f"in/{name}"]["digit"]) == ("ok", label)
    again = run(["in"], options, out=str(out), resume=True)  # an ok record is not tried again
    assert (again.retried, again.files, again.exit_code) == (0, 0, 0) and by_path(out) == records


def test_a_file_still_unreadable_keeps_one_error_record_and_a_decode_error_is_not_tried_again(
    one_unreadable, monkeypatch
):
    out, options, name, _ = one_unreadable
    with monkeypatch.context() as patch:
        locked(patch, name)
        summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.retried, summary.files, summary.exit_code) == (1, 1, 3)
    assert len(records := by_path(out)) == 6 and records[f"in/{name}"]["error_kind"] == "unreadable"
    # A file whose bytes are no image is not tried again: the same bytes give the same error.
    Path("in/broken.png").write_bytes(b"not a png")
    assert run(["in"], options, out=str(out), resume=True).retried == 1  # (the locked file, readable now)
    assert by_path(out)["in/broken.png"]["error_kind"] == "not-an-image"
    last = run(["in"], options, out=str(out), resume=True)
    assert (last.retried, last.files) == (0, 0)


def test_an_interrupted_resume_that_read_the_file_keeps_only_its_new_record(one_unreadable, monkeypatch):
    """The resume that scored the unreadable file again was interrupted: the partial output holds its error
    record and, later, its new one at the same version. The next resume keeps the new one only."""
    out, options, name, label = one_unreadable
    interrupted_run(monkeypatch, ["in"], out, options, after=1, resume=True)
    summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.retried, summary.files) == (0, 0)
    records = by_path(out)
    assert len(records) == 6
    assert (records[f"in/{name}"]["status"], records[f"in/{name}"]["digit"]) == ("ok", label)


def test_an_unreadable_file_no_longer_walked_keeps_its_record_flagged_gone(one_unreadable):
    out, options, name, _ = one_unreadable
    os.remove(f"in/{name}")
    summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.retried, summary.gone) == (0, 1)
    record = by_path(out)[f"in/{name}"]
    assert (record["error_kind"], record["flags"]) == ("unreadable", "input-gone")


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_an_unreadable_file_is_tried_again_from_a_finished_jsonl_or_parquet_output(
    tmp_path, monkeypatch, digits, onnx_model, fmt
):
    """The error kind is read back from every format a finished output may have (CSV: above)."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    out, options, _, _ = scored_with_one_locked(tmp_path, monkeypatch, digits, onnx_model, 4, 1, fmt)
    summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.retried, summary.files, summary.exit_code) == (1, 1, 0)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(out, columns=["path", "status"]).to_pylist()
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["path"], r["status"]) for r in rows) == [(f"in/{n}", "ok") for n in sorted(os.listdir("in"))]


def test_an_interrupted_resume_that_read_the_last_file_keeps_only_its_new_record(
    tmp_path, monkeypatch, digits, onnx_model
):
    """The unreadable file is the last one: the record the interrupted resume wrote for it lies right after its
    error record, where records of one file at one version were taken for its frames, one entry with the error
    record's say: the next resume scored it a third time, and once the file was gone it kept both records."""
    out, options, name, _ = scored_with_one_locked(tmp_path, monkeypatch, digits, onnx_model, 5, 4)
    interrupted_run(monkeypatch, ["in"], out, options, after=1, resume=True)
    partial = read_csv(out.with_name(out.name + ".partial"))
    assert [(r["path"], r["status"]) for r in partial[-2:]] == [(f"in/{name}", "error"), (f"in/{name}", "ok")]
    summary = run(["in"], options, out=str(out), resume=True)
    assert (summary.retried, summary.files) == (0, 0)
    assert by_path(out)[f"in/{name}"]["status"] == "ok"
    os.remove(f"in/{name}")
    run(["in"], options, out=str(out), resume=True)
    kept = by_path(out)[f"in/{name}"]  # one record, the new one, flagged gone
    assert (kept["status"], kept["flags"]) == ("ok", "input-gone")
