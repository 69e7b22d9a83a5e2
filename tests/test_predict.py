"""`predict` end to end: the API, the CLI, bad files, every image mode, odd names, resume after kill -9,
and the promise that scoring never imports TensorFlow."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit import data
from toolkit.predict import decode, predict_folder
from toolkit.predict.options import PredictOptions

CLI = [sys.executable, "-m", "toolkit"]


@pytest.fixture(scope="module")
def mnist_test():
    (_, _), (x_test, y_test) = data.load_mnist()
    return x_test, y_test


def write_pngs(folder: Path, images: np.ndarray, labels: np.ndarray, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        path = folder / f"{start + i:05d}-label-{int(label)}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


# --- API ---------------------------------------------------------------------------------------------------


def test_predict_folder_yields_records_in_walk_order(tmp_path, onnx_model, mnist_test):
    x, y = mnist_test
    write_pngs(tmp_path / "a", x[:40], y[:40])
    write_pngs(tmp_path / "b", x[40:60], y[40:60], start=40)
    records = list(predict_folder(tmp_path, model=onnx_model, workers=1, batch_size=16))
    assert [Path(r["path"]).name for r in records] == sorted(p.name for p in tmp_path.glob("*/*.png"))
    assert all(r["status"] == "ok" for r in records)
    correct = sum(r["digit"] == int(Path(r["path"]).stem[-1]) for r in records)
    assert correct >= 45  # the linear test model reads MNIST at ~85%
    for r in records:
        assert sum(r[f"prob_{d}"] for d in range(10)) == pytest.approx(1.0, abs=1e-4)
        assert r["confidence"] == max(r[f"prob_{d}"] for d in range(10))


def test_workers_do_not_change_results(tmp_path, onnx_model, mnist_test):
    x, y = mnist_test
    write_pngs(tmp_path, x[:30], y[:30])
    inline = list(predict_folder(tmp_path, model=onnx_model, workers=0))
    pooled = list(predict_folder(tmp_path, model=onnx_model, workers=2, chunk_size=7, batch_size=5))
    assert inline == pooled


FREEZE_PROBE = """
import gc, sys
from toolkit.predict import predict_folder
from toolkit.predict.engines import pool
if sys.argv[3] == "cli":
    pool.own_the_process()
assert pool.start_context().get_start_method() == "fork"
before = gc.get_freeze_count()
records = list(predict_folder(sys.argv[1], model=sys.argv[2], workers=2, chunk_size=4))
print(len(records), sum(r["status"] == "ok" for r in records), before, gc.get_freeze_count())
"""


@pytest.mark.parametrize("process", ["library", "cli"])
def test_objects_are_frozen_before_fork_and_stay_frozen_only_in_the_clis_process(
    tmp_path, onnx_model, mnist_test, process
):
    # The CLI's process lives for one command: what it made before forking the workers stays frozen, so the
    # collector never walks it again (a tenth of a 10,000-file run). A notebook's process is not ours: after the
    # fork its collector sees everything again. Each case in a fresh process, where fork is the start method.
    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:10], y[:10])
    done = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE, str(tmp_path / "in"), str(onnx_model), process],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    records, ok, before, after = map(int, done.stdout.split())
    assert (records, ok, before) == (10, 10, 0)
    if process == "cli":
        assert after > 10_000  # the imports' objects (NumPy, OpenCV, the toolkit), frozen
    else:
        assert after == 0


def test_mnist_files_score_exactly_as_the_arrays(tmp_path, onnx_model, mnist_test):
    from toolkit.onnxmodel import OnnxModel

    x, y = mnist_test
    write_pngs(tmp_path, x[:50], y[:50])
    records = list(predict_folder(tmp_path, model=onnx_model, workers=0))
    expected = OnnxModel(onnx_model).score(data.to_model_input(x[:50]))
    got = np.array([[r[f"prob_{d}"] for d in range(10)] for r in records], np.float32)
    np.testing.assert_array_equal(got, expected)


def test_first_records_come_before_the_walk_ends(tmp_path, onnx_model, mnist_test):
    import threading

    from toolkit.predict.runner import run

    x, y = mnist_test
    paths = write_pngs(tmp_path / "in", x[:8], y[:8])
    first_batch = threading.Event()
    waited = []

    def lines():
        for i in range(600):
            if i == 200:  # the walk stalls here until records have been written (or 20 s pass)
                waited.append(first_batch.wait(20))
            yield f"{paths[i % len(paths)]}\n".encode()

    summary = run(
        ["-"],
        PredictOptions(model=onnx_model, workers=1, batch_size=16),
        out=str(tmp_path / "o.csv"),
        stdin=lines(),
        on_records=lambda batch: first_batch.set(),
    )
    assert summary.records == 600
    assert waited == [True]


def test_a_run_commits_once_a_second_and_whenever_it_waits_for_input(tmp_path, monkeypatch, onnx_model, mnist_test):
    """Commits (an fsync and a rename each) are spaced COMMIT_EVERY apart, but a run that has scored everything
    it was given and waits for more (a trickling stdin) commits first: a `kill -9` then loses nothing scored."""
    import threading

    from toolkit.predict import journal, runner
    from toolkit.predict.runner import run

    x, y = mnist_test
    paths = write_pngs(tmp_path / "in", x[:8], y[:8])
    commit = journal.Journal.commit
    committed: list[int] = []
    all_given = threading.Event()
    batches: list[int] = []

    def counting_commit(self):
        commit(self)
        committed.append(self.written)
        if self.written == 150:
            all_given.set()

    waited = []

    def lines():
        for i in range(300):
            if i == 150:  # stdin goes quiet: what was scored must be committed before more comes
                waited.append(all_given.wait(20))
            yield f"{paths[i % len(paths)]}\n".encode()

    monkeypatch.setattr(journal.Journal, "commit", counting_commit)
    monkeypatch.setattr(runner, "COMMIT_EVERY", 1e9)
    summary = run(
        ["-"],
        PredictOptions(model=onnx_model, workers=1, batch_size=16, chunk_size=16),
        out=str(tmp_path / "o.csv"),
        stdin=lines(),
        on_records=lambda batch: batches.append(len(batch)),
    )
    assert summary.records == 300 and waited == [True]
    assert 150 in committed and committed[-1] == 300
    assert len(batches) >= 300 // 16 and len(committed) < len(batches), (batches, committed)  # not one a batch


# --- bad input -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory, mnist_test):
    x, _ = mnist_test
    folder = tmp_path_factory.mktemp("bad")
    png = encoded(Image.fromarray(x[0]), "PNG")
    jpeg = encoded(Image.fromarray(x[0]).resize((200, 200)), "JPEG")
    files = {
        "empty.png": b"",
        "truncated.png": png[: len(png) // 2],
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "header-only.png": png[:12],
        "text.png": b"hello, this is not an image\n",
        "page.png": b"<!DOCTYPE html><html><body>404 not found</body></html>",
        "document.png": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        "vector.png": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
        "phone.png": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        "random.png": bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8)),
        # 12,000 x 12,000 1-bit pixels: 144 M, over the 89 M limit, in a file of a few kB.
        "bomb.png": encoded(Image.new("1", (12000, 12000)), "PNG"),
        "good.png": png,
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    os.mkfifo(folder / "fifo.png")
    (folder / "dir.png").mkdir()
    (folder / "dir.png" / "inside.png").write_bytes(png)
    return folder


EXPECTED_KINDS = {
    "empty.png": "empty",
    "truncated.png": "truncated",
    "truncated.jpg": "truncated",
    "header-only.png": "truncated",
    "text.png": "not-an-image",
    "page.png": "not-an-image",
    "document.png": "unsupported-format",
    "vector.png": "unsupported-format",
    "phone.png": "unsupported-format",
    "random.png": "not-an-image",
    "bomb.png": "too-large",
}


def test_bad_files_become_specific_error_records(bad_folder, onnx_model):
    records = {Path(r["path"]).name: r for r in predict_folder(bad_folder, model=onnx_model, workers=1)}
    assert set(records) == set(EXPECTED_KINDS) | {"good.png", "inside.png"}  # the FIFO is skipped
    for name, kind in EXPECTED_KINDS.items():
        record = records[name]
        assert (record["status"], record["error_kind"]) == ("error", kind), (name, record["error"])
        assert record["error"].startswith(kind + ": ") and "\n" not in record["error"]
        assert record["digit"] is None and record["prob_0"] is None
    assert records["good.png"]["status"] == records["inside.png"]["status"] == "ok"
    assert "HTML" in records["page.png"]["error"] and "PDF" in records["document.png"]["error"]


def test_pixel_limit_is_kept_even_if_disabled(tmp_path, monkeypatch):
    (tmp_path / "big.png").write_bytes(encoded(Image.new("1", (12000, 12000)), "PNG"))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    [item] = decode.prepare_path(str(tmp_path / "big.png"))
    assert item.error_kind == "too-large"


def test_vanished_and_unreadable_files(tmp_path, monkeypatch):
    [item] = decode.prepare_path(str(tmp_path / "gone.png"))
    assert (item.error_kind, item.error) == ("vanished", "file disappeared after it was listed")
    (tmp_path / "locked.png").write_bytes(b"\x89PNG")
    real_open = os.open

    def denied(path, *args, **kwargs):
        if str(path).endswith("locked.png"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(decode.os, "open", denied)
    [item] = decode.prepare_path(str(tmp_path / "locked.png"))
    assert item.error_kind == "unreadable"


def test_a_fifo_that_replaced_a_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "late.png")
    [item] = decode.prepare_path(str(tmp_path / "late.png"))
    assert item.error_kind == "not-a-file"


def crash_on_marker(found, *args):
    """Stands in for score_chunk in a worker: dies like a decoder segfault on files named *crash*."""
    from toolkit.predict.pipeline import score_chunk

    if any("crash" in os.path.basename(path) for path, _, _ in found):
        os._exit(11)
    return score_chunk(found, *args)


def test_a_worker_crash_costs_one_error_record(tmp_path, onnx_model, mnist_test, monkeypatch):
    # The stand-in is pickled by reference (tests.test_predict.crash_on_marker), so workers started by any
    # method import and run it.
    from toolkit.predict.engines import pool

    x, y = mnist_test
    write_pngs(tmp_path, x[:20], y[:20])
    (tmp_path / "00007-crash.png").write_bytes(encoded(Image.fromarray(x[0]), "PNG"))
    monkeypatch.setattr(pool, "score_chunk", crash_on_marker)
    records = list(predict_folder(tmp_path, model=onnx_model, workers=2, chunk_size=4))
    assert len(records) == 21
    crashed = [r for r in records if r["status"] == "error"]
    assert [Path(r["path"]).name for r in crashed] == ["00007-crash.png"]
    assert crashed[0]["error_kind"] == "worker-crashed"


# --- valid images of every kind --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zoo_folder(tmp_path_factory, mnist_test):
    """One MNIST digit (a 7) saved in every mode and container the issue lists."""
    x, _ = mnist_test
    folder = tmp_path_factory.mktemp("modes")
    digit = Image.fromarray(x[0])
    paper = Image.fromarray(255 - np.asarray(digit.resize((84, 84), Image.Resampling.BICUBIC)))
    rgba = np.zeros((84, 84, 4), np.uint8)
    rgba[..., 3] = np.asarray(digit.resize((84, 84)))
    exif = Image.Exif()
    exif[0x0112] = 8
    frames = [digit, Image.fromarray(x[1]), Image.fromarray(x[2])]
    files = {
        "one-bit.png": encoded(paper.convert("1"), "PNG"),
        "gray.png": encoded(digit, "PNG"),
        "gray-alpha.png": encoded(paper.convert("LA"), "PNG"),
        "palette.gif": encoded(paper.convert("P"), "GIF", transparency=255),
        "rgb.jpg": encoded(paper.convert("RGB"), "JPEG", quality=95),
        "rgba.png": encoded(Image.fromarray(rgba, "RGBA"), "PNG"),
        "cmyk.jpg": encoded(paper.convert("CMYK"), "JPEG", quality=95),
        "cmyk.tif": encoded(paper.convert("CMYK"), "TIFF"),
        "sixteen.png": encoded(Image.fromarray(np.asarray(paper).astype(np.uint16) * 257), "PNG"),
        "float.tif": encoded(Image.fromarray(np.asarray(paper, np.float32) / 255, "F"), "TIFF"),
        "animated.gif": encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100),
        "pages.tif": encoded(frames[0], "TIFF", save_all=True, append_images=frames[1:2]),
        "rotated.jpg": encoded(paper.convert("RGB").transpose(Image.Transpose.ROTATE_270), "JPEG", exif=exif),
        "png-named.jpg": encoded(digit, "PNG"),
        "UPPER.PNG": encoded(digit, "PNG"),
        "bitmap.bmp": encoded(paper, "BMP"),
        "web.webp": encoded(paper.convert("RGB"), "WEBP", lossless=True),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def test_every_mode_and_container_is_scored_ok(zoo_folder, onnx_model):
    records = list(predict_folder(zoo_folder, model=onnx_model, workers=1))
    assert len(records) == 17
    assert all(r["status"] == "ok" and not r["blank"] for r in records), [r for r in records if r["error"]]
    by_name = {Path(r["path"]).name: r for r in records}
    for name in ("gray.png", "png-named.jpg", "UPPER.PNG", "animated.gif", "pages.tif"):
        assert by_name[name]["digit"] == 7


def test_all_frames_adds_one_record_per_frame(zoo_folder, onnx_model):
    records = list(
        predict_folder(
            [zoo_folder / "animated.gif", zoo_folder / "pages.tif", zoo_folder / "gray.png"],
            model=onnx_model,
            all_frames=True,
            workers=0,
        )
    )
    assert [(Path(r["path"]).name, r["frame"]) for r in records] == [
        ("animated.gif", 0),
        ("animated.gif", 1),
        ("animated.gif", 2),
        ("pages.tif", 0),
        ("pages.tif", 1),
        ("gray.png", 0),
    ]
    assert [r["digit"] for r in records[:3]] == [7, 2, 1]


# --- odd names in every format -------------------------------------------------------------------------------

ODD = [
    b"comma,name.png",
    b'quote"name.png',
    b"new\nline.png",
    b"latin1-\xe9.png",
    b"=HYPERLINK(1).png",
    b"+plus.png",
    b"[markup].png",
]


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory, mnist_test):
    x, _ = mnist_test
    folder = tmp_path_factory.mktemp("odd")
    png = encoded(Image.fromarray(x[0]), "PNG")
    for name in ODD:
        Path(os.fsdecode(os.fsencode(folder) + b"/" + name)).write_bytes(png)
    return folder


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_odd_names_survive_every_format(odd_folder, onnx_model, tmp_path, fmt, monkeypatch):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    monkeypatch.chdir(odd_folder)
    out = tmp_path / f"out.{fmt}"
    result = subprocess.run(
        [*CLI, "predict", ".", "=HYPERLINK(1).png", "--model", onnx_model, "--out", out, "--workers", "1"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    if fmt == "csv":
        out.read_bytes().decode("utf-8")
        paths = [r["path"] for r in read_csv(out)]
    elif fmt == "jsonl":
        paths = [json.loads(line)["path"] for line in out.read_text(encoding="utf-8").splitlines()]
    else:
        import pyarrow.parquet as pq

        paths = pq.read_table(out).column("path").to_pylist()
    assert len(paths) == len(ODD)  # the file named on the command line once, though "." holds it too
    assert sorted(paths) == sorted("./" + os.fsdecode(n).replace("\udce9", "\\xe9") for n in ODD)
    assert not any(p.startswith(("=", "+", "-", "@")) for p in paths)


# --- CLI ---------------------------------------------------------------------------------------------------------


def test_cli_all_good_exit_0_with_summary(cli, tmp_path, onnx_model, mnist_test):
    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:25], y[:25])
    out, summary = tmp_path / "p.csv", tmp_path / "s.json"
    result = cli(
        "predict",
        tmp_path / "in",
        "--model",
        onnx_model,
        "--out",
        out,
        "--summary",
        summary,
        "--workers",
        "1",
        "--top-k",
        "3",
    )
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert len(rows) == 25 and list(rows[0])[:15] == [
        "path",
        "status",
        "digit",
        "confidence",
        *[f"prob_{d}" for d in range(10)],
        "error",
    ]
    assert "top_k" in rows[0] and len(rows[0]["top_k"].split()) == 3
    assert "scored 25 files" in result.stderr and "digits:" in result.stderr and "files/s" in result.stderr
    report = json.loads(summary.read_text())
    assert report["files"] == 25 and report["errors"] == 0 and report["exit_code"] == 0
    assert sum(report["digits"].values()) == 25
    assert not (tmp_path / "p.csv.partial").exists()


def test_cli_error_records_exit_3(cli, bad_folder, onnx_model, tmp_path):
    out = tmp_path / "p.jsonl"
    result = cli("predict", bad_folder, "--model", onnx_model, "--out", out, "--workers", "1")
    assert result.exit_code == 3
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 13 and sum(r["status"] == "error" for r in lines) == 11
    assert "truncated 3" in result.stderr and "fifo 1" in result.stderr


def test_cli_usage_errors_exit_2_one_line(cli, tmp_path, onnx_model):
    result = cli("predict", tmp_path / "missing", "--model", onnx_model)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing'}: no such file or folder; see 'mnist-toolkit predict --help'"
    ]
    result = cli("predict", tmp_path, "--model", onnx_model, "--out", tmp_path / "x.txt")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    result = cli("predict", tmp_path, "--model", onnx_model, "--batch-size", "0")
    assert result.exit_code == 2 and "--batch-size" in result.stderr
    result = cli("predict", tmp_path, "--model", tmp_path / "nope.onnx")
    assert result.exit_code == 2 and result.stderr.strip() == (
        f"error: --model {tmp_path / 'nope.onnx'}: no such file or folder; predict needs an ONNX model (.onnx); "
        "see 'mnist-toolkit predict --help'"
    )


def test_cli_wrong_model_contract_is_one_line(cli, tmp_path, mnist_test):
    from tests.onnx_models import flat_input_model

    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:2], y[:2])
    model = flat_input_model(tmp_path / "flat.onnx")
    result = cli("predict", tmp_path / "in", "--model", model, "--out", tmp_path / "o.csv")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {model}: model input is float32 [N,784]; predict needs input float32 [N,28,28,1] and output [N,10]"
    ]
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    result = cli("predict", tmp_path / "in", "--model", tmp_path / "junk.onnx", "--out", tmp_path / "o.csv")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1  # not a model: a usage error
    assert "not an ONNX model" in result.stderr and "Traceback" not in result.output


def test_cli_parquet_without_pyarrow_names_the_extra(cli, tmp_path, onnx_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    result = cli("predict", tmp_path, "--model", onnx_model, "--out", tmp_path / "o.parquet")
    assert result.exit_code == 1
    assert "pip install 'mnist-toolkit[parquet]'" in result.stderr


def test_a_listed_path_with_a_nul_byte_is_one_missing_record_and_the_run_goes_on(tmp_path, onnx_model, mnist_test):
    """`find -print0 | predict -`, or a list with a NUL in one line: os.stat raised ValueError, not OSError,
    and the run stopped with a traceback, the files in flight unrecorded. The line is now a `missing` record,
    its path spelled with `\\x00` (CSV readers refuse a NUL), and every other file is scored."""
    import csv

    from typer.testing import CliRunner

    from toolkit.cli import app

    x, y = mnist_test
    paths = write_pngs(tmp_path, x[:4], y[:4])
    listing = f"{paths[0]}\n{paths[1]}\n{tmp_path}/a\0b.png\n{paths[2]}\n{paths[3]}\n"
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(
        app, ["predict", "-", "--model", str(onnx_model), "--out", str(out), "--workers", "0"], input=listing
    )
    assert result.exit_code == 3, result.output  # some input failed
    assert "Traceback" not in result.output
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["path"] for r in rows] == [str(p) for p in paths[:2]] + [f"{tmp_path}/a\\x00b.png"] + [
        str(p) for p in paths[2:]
    ]
    assert [r["error_kind"] for r in rows] == ["", "", "missing", "", ""]


def test_cli_stdin_list_stdout_and_table(tmp_path, onnx_model, mnist_test):
    from typer.testing import CliRunner

    from toolkit.cli import app

    x, y = mnist_test
    paths = write_pngs(tmp_path, x[:3], y[:3])
    runner = CliRunner()
    listing = "\n".join(str(p) for p in paths) + "\n"
    result = runner.invoke(
        app,
        ["predict", "-", "--model", str(onnx_model), "--out", "-", "--format", "jsonl", "--workers", "0"],
        input=listing,
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == [str(p) for p in paths]
    result = runner.invoke(
        app,
        [
            "predict",
            str(tmp_path),
            "--model",
            str(onnx_model),
            "--table",
            "--out",
            str(tmp_path / "t.csv"),
            "--workers",
            "0",
        ],
    )
    assert result.exit_code == 0 and "predictions: 3 records in" in result.stdout
    assert "00000-label-7.png" in result.stdout and result.stdout.count(" ok ") == 3


def test_stdout_stays_empty_when_the_model_is_bad(tmp_path, mnist_test):
    from typer.testing import CliRunner

    from tests.onnx_models import linear_model
    from toolkit.cli import app

    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:2], y[:2])
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    nan = linear_model(tmp_path / "nan.onnx", np.full((784, 10), np.nan, np.float32), np.zeros(10, np.float32))
    # junk: fails to load (in a thread, while the worker decodes); nan: loads, then fails on the first batch.
    for model, code in ((tmp_path / "junk.onnx", 2), (nan, 1)):
        result = CliRunner().invoke(
            app, ["predict", str(tmp_path / "in"), "--model", str(model), "--out", "-", "--workers", "1"]
        )
        assert result.exit_code == code and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""


@pytest.mark.parametrize("workers", ["0", "1"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_bad_model_fails_before_any_output_file_exists(cli, tmp_path, mnist_test, workers, fmt):
    from tests.onnx_models import linear_model

    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:3], y[:3])
    models = tmp_path / "models"
    models.mkdir()
    (models / "junk.onnx").write_bytes(b"not a model")
    nan = linear_model(models / "nan.onnx", np.full((784, 10), np.nan, np.float32), np.zeros(10, np.float32))
    # junk fails to load (with workers, in a thread while they decode); nan loads, then fails on the first batch.
    for model, code in ((models / "junk.onnx", 2), (nan, 1)):  # not a model: a usage error; a broken one: 1
        out = tmp_path / "runs" / f"p.{fmt}"
        result = cli("predict", tmp_path / "in", "--model", model, "--out", out, "--workers", workers)
        assert result.exit_code == code and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith(f"error: {model}: ")
        assert not (tmp_path / "runs").exists()  # no output, partial file, state or lock, nor the folder made for them


def test_a_full_disk_is_named_and_the_run_resumes(cli, tmp_path, monkeypatch, onnx_model, mnist_test):
    import errno

    from toolkit.errors import ToolkitError
    from toolkit.predict import writers
    from toolkit.predict.runner import run

    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:30], y[:30])
    out = tmp_path / "p.csv"
    full = (
        f"{out}.partial: the disk is full (No space left on device); free some space and run the same "
        "command with --resume to continue"
    )

    def disk_full_at(batch: int):
        write, calls = writers.CsvWriter.write, []

        def fill_up(writer, records):
            calls.append(len(records))
            if len(calls) == batch:
                raise OSError(errno.ENOSPC, "No space left on device")  # as write() raises it: no file name
            write(writer, records)

        return fill_up

    args = ["predict", tmp_path / "in", "--model", onnx_model, "--out", out, "--workers", "0"]
    with monkeypatch.context() as patch:
        patch.setattr(writers.CsvWriter, "write", disk_full_at(1))
        result = cli(*args)
    assert result.exit_code == 1 and result.stderr.splitlines() == [f"error: {full}"]
    with monkeypatch.context() as patch:  # the third batch of eight finds the disk full
        patch.setattr(writers.CsvWriter, "write", disk_full_at(3))
        with pytest.raises(ToolkitError) as info:
            run([str(tmp_path / "in")], PredictOptions(model=onnx_model, workers=0, chunk_size=8), out=str(out))
    assert str(info.value) == full and info.value.exit_code == 1
    assert not out.exists() and not (tmp_path / "p.csv.lock").exists()
    result = cli(*args, "--resume")
    assert result.exit_code == 0 and "resumed: 16 records" in result.stderr, result.stderr
    paths = [r["path"] for r in read_csv(out)]
    assert len(paths) == 30 == len(set(paths))


def test_outputs_of_every_format_get_the_same_mode(cli, tmp_path, onnx_model, mnist_test):
    pytest.importorskip("pyarrow")
    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:2], y[:2])
    for umask, mode in ((0o022, 0o644), (0o027, 0o640)):
        previous = os.umask(umask)
        try:
            for fmt in ("csv", "jsonl", "parquet"):
                out = tmp_path / f"{umask:o}" / f"p.{fmt}"
                result = cli("predict", tmp_path / "in", "--model", onnx_model, "--out", out, "--workers", "0")
                assert result.exit_code == 0, result.stderr
                for path in (out, out.with_name(out.name + ".meta.json")):
                    assert oct(path.stat().st_mode & 0o777) == oct(mode), (path, umask)
        finally:
            os.umask(previous)


def test_resume_of_a_finished_output_checks_model_and_options(cli, tmp_path, onnx_model, mnist_test):
    from tests.onnx_models import linear_model

    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:3], y[:3])
    out = tmp_path / "p.csv"
    args = ["predict", tmp_path / "in", "--out", out, "--workers", "0"]
    assert cli(*args, "--model", onnx_model).exit_code == 0
    before = out.read_bytes()
    write_pngs(tmp_path / "in", x[3:4], y[3:4], start=3)  # a file added since
    result = cli(*args, "--model", onnx_model, "--resume", "--min-confidence", "1.0")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: cannot --resume: {out} was made with other settings: min_confidence (was 0.95, now 1.0); run it "
        "with the same model and options, or without --resume to start over; see 'mnist-toolkit predict --help'"
    ]
    other = linear_model(tmp_path / "uniform.onnx", np.zeros((784, 10), np.float32), np.zeros(10, np.float32))
    result = cli(*args, "--model", other, "--resume")
    assert result.exit_code == 2 and "model_sha256 (was " in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert out.read_bytes() == before
    result = cli(*args, "--model", onnx_model, "--resume")  # the same settings: the new file is appended
    assert result.exit_code == 0 and "resumed: 3 records" in result.stderr
    assert len(read_csv(out)) == 4
    result = cli(*args, "--model", onnx_model, "--resume")
    assert result.exit_code == 0 and "nothing new" in result.stderr


def test_a_second_run_writing_the_same_out_fails_at_once(cli, tmp_path, onnx_model, mnist_test):
    import fcntl

    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:2], y[:2])
    out = tmp_path / "p.csv"
    args = ["predict", tmp_path / "in", "--model", onnx_model, "--out", out, "--workers", "0"]
    with open(tmp_path / "p.csv.lock", "ab") as held:  # as a running predict holds it
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = cli(*args)
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [
            f"error: another predict run is writing {out}; wait for it to end or choose another --out"
        ]
        assert not out.exists() and not (tmp_path / "p.csv.partial").exists()
    result = cli(*args)
    assert result.exit_code == 0 and len(read_csv(out)) == 2
    assert not (tmp_path / "p.csv.lock").exists()


def test_help_documents_exit_codes(cli):
    result = cli("predict", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Exit codes: 0 every input scored; 3 some inputs became error records" in text


# --- interruption and resume -------------------------------------------------------------------------------


def _wait_for_commit(state: Path, minimum: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"predict ended early: {proc.stderr.read()}")
        try:
            if json.loads(state.read_text())["committed_bytes"] >= minimum:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    raise AssertionError("no records were committed in time")


@pytest.mark.parametrize("how", ["kill-9", "ctrl-c", "sigterm", "sighup"])
def test_resume_after_interruption_gives_every_input_exactly_once(tmp_path, onnx_model, mnist_test, how):
    x, y = mnist_test
    paths = write_pngs(tmp_path / "in", x[:300], y[:300])
    out = tmp_path / "p.csv"
    state = tmp_path / "p.csv.partial.json"
    args = [*CLI, "predict", "-", "--model", str(onnx_model), "--out", str(out), "--batch-size", "16", "--workers", "1"]
    # Paths arrive on stdin; the run cannot finish before stdin closes, so it is surely interrupted mid-way.
    # A shell starts background jobs with SIGINT ignored, and Python then never raises KeyboardInterrupt;
    # restore the default so the child behaves as in a terminal whatever runs this suite.
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    proc.stdin.write("".join(f"{p}\n" for p in paths[:150]))
    proc.stdin.flush()
    _wait_for_commit(state, 2000, proc)
    if how == "kill-9":
        proc.kill()
        proc.wait(timeout=30)
    else:
        proc.send_signal({"ctrl-c": signal.SIGINT, "sigterm": signal.SIGTERM, "sighup": signal.SIGHUP}[how])
        assert proc.wait(timeout=30) == 130
        lines = proc.stderr.read().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: interrupted after ") and "--resume" in lines[0]
    proc.stdin.close()
    assert not out.exists() and (tmp_path / "p.csv.partial").exists()

    listing = "".join(f"{p}\n" for p in paths)
    done = subprocess.run([*args, "--resume"], input=listing, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resumed:" in done.stderr
    got = [r["path"] for r in read_csv(out)]
    assert sorted(got) == sorted(str(p) for p in paths) and len(got) == 300
    assert not (tmp_path / "p.csv.partial").exists() and not state.exists()

    before = (out.read_bytes(), out.stat().st_mtime_ns)
    again = subprocess.run([*args, "--resume"], input=listing, capture_output=True, text=True)
    assert again.returncode == 0 and "nothing new" in again.stderr
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before


def test_an_interrupt_while_the_workers_start_leaves_none_behind(tmp_path, monkeypatch, onnx_model, mnist_test):
    """SIGTERM just after a worker is forked, before the pool's manager thread exists: cut there, the pool has a
    worker nobody ever stops, and the process waits for it at exit forever. The run must end as interrupted and
    its workers with it."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from toolkit.errors import Interrupted
    from toolkit.predict.runner import run

    spawn = getattr(ProcessPoolExecutor, "_spawn_process", None)
    if spawn is None:
        pytest.skip("this Python's ProcessPoolExecutor starts its workers another way")
    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:5], y[:5])
    sent = []

    def spawn_then_terminate(executor):
        spawn(executor)
        if not sent:
            sent.append(True)
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(ProcessPoolExecutor, "_spawn_process", spawn_then_terminate)
    try:
        with pytest.raises(Interrupted, match="^interrupted after 0 new records"):
            run([str(tmp_path / "in")], PredictOptions(model=onnx_model, workers=1), out=str(tmp_path / "p.csv"))
        assert sent
        deadline = time.monotonic() + 30
        while multiprocessing.active_children():
            assert time.monotonic() < deadline, "a worker was left waiting for work"
            time.sleep(0.05)
    finally:
        for child in multiprocessing.active_children():  # so that a failure does not hang the test session
            child.kill()
    assert list(tmp_path.glob("p.csv*")) == []


def read_paths(out: Path, fmt: str) -> list[str]:
    """The path column of an output file, in order."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(out, columns=["path"]).column("path").to_pylist()
    if fmt == "jsonl":
        return [json.loads(line)["path"] for line in out.read_text(encoding="utf-8").splitlines()]
    return [r["path"] for r in read_csv(out)]


def interrupted_run(
    monkeypatch, inputs: list[str], out: Path, options: PredictOptions, after: int, resume: bool = False
) -> None:
    """Run predict and stop it as Ctrl-C does once `after` records are committed (in-process, so the moment is
    exact, every batch committed): the output is left as `<out>.partial` for a --resume."""
    from toolkit.errors import Interrupted
    from toolkit.predict import journal, runner
    from toolkit.predict.runner import run

    commit = journal.Journal.commit
    stopped = []

    def commit_then_stop(journal):
        commit(journal)
        if journal.written >= after and not stopped:
            stopped.append(journal.written)
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(journal.Journal, "commit", commit_then_stop)
        patch.setattr(runner, "COMMIT_EVERY", 0.0)
        with pytest.raises(Interrupted, match="--resume"):
            run(inputs, options, out=str(out), resume=resume)
    assert (resume or not out.exists()) and out.with_name(out.name + ".partial").exists()


SPELLINGS = {  # the same folder, `data` in the current folder `work`, as a resume might name it
    "absolute": lambda work: str(work / "data"),
    "dot-slash": lambda work: "./data",
    "parent": lambda work: "../work/data",
    "symlink": lambda work: "link-to-data",
    "trailing-slash": lambda work: "data/",
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_resume_with_the_folder_spelled_otherwise_gives_each_file_once(
    tmp_path, monkeypatch, onnx_model, mnist_test, fmt, spelling
):
    from toolkit.predict.runner import run

    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    x, y = mnist_test
    work = tmp_path / "work"
    write_pngs(work / "data", x[:50], y[:50])
    (work / "link-to-data").symlink_to(work / "data", target_is_directory=True)
    monkeypatch.chdir(work)
    out = tmp_path / f"p.{fmt}"
    options = PredictOptions(model=onnx_model, workers=0, chunk_size=10)
    interrupted_run(monkeypatch, ["data"], out, options, after=20)

    summary = run([SPELLINGS[spelling](work)], options, out=str(out), resume=True)
    assert (summary.resumed_records, summary.files, summary.exit_code) == (20, 30, 0)
    paths = read_paths(out, fmt)
    assert len(paths) == 50
    assert sorted(os.path.realpath(p) for p in paths) == sorted(os.path.realpath(p) for p in work.glob("data/*"))
    # Each record keeps the spelling of the run that scored it.
    assert all(p.startswith("data/") for p in paths[:20])
    new = SPELLINGS[spelling](work)
    assert all(p.startswith(new.rstrip("/") + "/") for p in paths[20:])

    again = run([SPELLINGS[spelling](work)], options, out=str(out), resume=True)
    assert (again.resumed_records, again.files, again.written) == (50, 0, False)


def test_resume_from_a_list_on_stdin_gives_each_file_once(tmp_path, monkeypatch, onnx_model, mnist_test):
    from toolkit.predict.runner import run

    x, y = mnist_test
    paths = write_pngs(tmp_path / "data", x[:40], y[:40])
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "p.csv"
    options = PredictOptions(model=onnx_model, workers=0, chunk_size=10)
    interrupted_run(monkeypatch, ["data"], out, options, after=10)
    # The list names some files as the folder walk did, some through "..", in another order, one twice.
    listing = [f"data/../data/{p.name}" for p in reversed(paths[::2])] + [str(p) for p in paths[1::2]]
    summary = run(["-"], options, out=str(out), resume=True, stdin=io.StringIO("\n".join(listing) + "\n"))
    assert (summary.resumed_records, summary.files) == (10, 30)
    got = read_paths(out, "csv")
    assert len(got) == 40 and len({os.path.realpath(p) for p in got}) == 40


def test_resume_from_another_folder_with_relative_inputs_is_refused(cli, tmp_path, monkeypatch, onnx_model, mnist_test):
    x, y = mnist_test
    write_pngs(tmp_path / "work" / "data", x[:30], y[:30])
    (tmp_path / "elsewhere" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    out = tmp_path / "p.csv"
    interrupted_run(monkeypatch, ["data"], out, PredictOptions(model=onnx_model, workers=0, chunk_size=10), after=10)
    partial = (tmp_path / "p.csv.partial").read_bytes()
    monkeypatch.chdir(tmp_path / "elsewhere")
    args = ["predict", "--model", onnx_model, "--out", out, "--workers", "0", "--resume"]
    result = cli(*args, "data")  # would be elsewhere/data: other files under the same relative names
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: cannot --resume from {tmp_path / 'elsewhere'}: the paths already in {out} are relative to "
        f"{tmp_path / 'work'}, where the first run started; run it from there, or name every input by an absolute "
        "path; see 'mnist-toolkit predict --help'"
    ]
    assert (tmp_path / "p.csv.partial").read_bytes() == partial
    result = cli(*args, tmp_path / "work" / "data")  # an absolute path means the same anywhere
    assert result.exit_code == 0, result.stderr
    assert "resumed: 10 records" in result.stderr
    got = read_paths(out, "csv")
    assert len(got) == 30 and len({os.path.realpath(tmp_path / "work" / p) for p in got}) == 30


# --- the light path ------------------------------------------------------------------------------------------

BLOCK_HEAVY = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        # Everything outside the core dependencies (numpy, Pillow, onnxruntime, typer, rich).
        if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "tf_keras", "torch", "onnx", "pyarrow",
                                  "matplotlib", "ai_edge_litert", "scipy", "pandas"):
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
sys.argv = ["mnist-toolkit", *sys.argv[1:]]
from toolkit.cli import app
try:
    app(prog_name="mnist-toolkit")
except SystemExit as exc:
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "ssl"))
    print("HEAVY:", heavy, file=sys.stderr)
    raise
"""


def test_predict_never_imports_tensorflow_nor_ssl(tmp_path, onnx_model, mnist_test):
    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:20], y[:20])
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCK_HEAVY,
            "predict",
            str(tmp_path / "in"),
            "--model",
            str(onnx_model),
            "--out",
            str(tmp_path / "o.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY: []" in result.stderr
    assert len(read_csv(tmp_path / "o.csv")) == 20


# --- the model contract in ONNX metadata ----------------------------------------------------------------


@pytest.fixture(scope="module")
def ridge(mnist_test):
    from tests.onnx_models import ridge_weights

    (x_train, y_train), _ = data.load_mnist()
    return ridge_weights(x_train[:12000], y_train[:12000])


def test_metadata_contract_is_followed(tmp_path, ridge, mnist_test):
    from tests.onnx_models import linear_model
    from toolkit import contract
    from toolkit.onnxmodel import OnnxModel

    x, _ = mnist_test
    weights, bias = ridge
    plain = OnnxModel(linear_model(tmp_path / "plain.onnx", weights, bias))
    # The same classifier with its output columns shuffled, told by the labels in its metadata.
    labels = ["3", "1", "4", "0", "5", "9", "2", "6", "8", "7"]
    order = [int(label) for label in labels]
    stamped = linear_model(
        tmp_path / "stamped.onnx",
        weights[:, order],
        bias[order],
        metadata=contract.ModelContract(labels=tuple(labels)).to_metadata(),
    )
    tensors = data.to_model_input(x[:64])[..., 0]
    np.testing.assert_allclose(OnnxModel(stamped).score(tensors), plain.score(tensors), atol=1e-6)


def test_unsupported_preprocessing_and_logits_are_one_line_errors(cli, tmp_path, ridge, mnist_test):
    from tests.onnx_models import linear_model
    from toolkit import contract

    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:3], y[:3])
    weights, bias = ridge
    odd = linear_model(
        tmp_path / "odd.onnx",
        weights,
        bias,
        metadata=contract.ModelContract(size="32x32", ink="red-on-green").to_metadata(),
    )
    result = cli("predict", tmp_path / "in", "--model", odd, "--out", tmp_path / "o.csv")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {odd}: the model asks for preprocessing predict cannot give (size 32x32, ink red-on-green)"
    ]
    logits = linear_model(tmp_path / "logits.onnx", weights, bias, softmax=False)
    result = cli("predict", tmp_path / "in", "--model", logits, "--out", tmp_path / "o.csv")
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "not logits" in result.stderr


def test_nan_or_inf_from_the_model_is_a_one_line_error(cli, tmp_path, mnist_test):
    from tests.onnx_models import linear_model
    from toolkit.errors import ModelLoadError
    from toolkit.onnxmodel import OnnxModel

    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:3], y[:3])
    nan = linear_model(tmp_path / "nan.onnx", np.full((784, 10), np.nan, np.float32), np.zeros(10, np.float32))
    result = cli("predict", tmp_path / "in", "--model", nan, "--out", tmp_path / "o.jsonl", "--workers", "0")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {nan}: the model produced NaN/Inf for 3 of 3 images in a batch; predict needs finite probabilities"
    ]
    # Checked on every batch, not only the first: this model overflows (Inf - Inf in its softmax) only on
    # images with enough ink.
    weights = np.zeros((784, 10), np.float32)
    weights[:, 0] = 1e38
    scorer = OnnxModel(linear_model(tmp_path / "overflow.onnx", weights, np.zeros(10, np.float32)))
    faint = np.zeros((2, 28, 28), np.float32)
    faint[:, 14, 14] = 0.1
    np.testing.assert_allclose(scorer.score(faint)[:, 0], 1.0)
    with pytest.raises(ModelLoadError, match="the model produced NaN/Inf for 2 of 2 images"):
        scorer.score(data.to_model_input(x[:2])[..., 0])


@pytest.mark.slow
def test_models_exported_by_the_toolkit_score(tmp_path, mlp_model, mnist_test):
    """The exporter's ONNX files and this scorer agree on the contract (names, shapes, metadata)."""
    export = pytest.importorskip("toolkit.export.onnx")
    from toolkit import contract, runtimes

    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:20], y[:20])
    model = runtimes.load_keras_model(mlp_model)
    onnx_path = export.export_onnx(model, tmp_path / "mlp.onnx", contract=contract.ModelContract(architecture="mlp256"))
    records = list(predict_folder(tmp_path / "in", model=onnx_path, workers=0))
    assert len(records) == 20 and all(r["status"] == "ok" for r in records)
    expected = model.predict(data.to_model_input(x[:20]), verbose=0)
    got = np.array([[r[f"prob_{d}"] for d in range(10)] for r in records], np.float32)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_help_loads_nothing_heavy():
    """`mnist-toolkit --help` must start fast: it imports neither the scorer nor NumPy, Pillow, onnxruntime."""
    code = (
        "import sys; sys.argv = ['mnist-toolkit', 'predict', '--help']\n"
        "from toolkit.cli import app\n"
        "try:\n    app(prog_name='mnist-toolkit')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('onnxruntime', 'numpy', 'PIL', 'tensorflow', 'keras', 'toolkit.predict.runner',"
        " 'toolkit.predict.pipeline')"
        " if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip().splitlines()[-1] == "[]"


# --- pages and numbers ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def numbers_folder(tmp_path_factory, mnist_test):
    """Numbers in strips (text in the file name), a blank A4 page, a page with a digit in a form box, and a
    truncated file."""
    from toolkit import scans

    x, y = mnist_test
    folder = tmp_path_factory.mktemp("numbers")
    for n, number in enumerate(("4021", "739", "58")):
        images = [x[np.flatnonzero(y == int(d))[k]] for k, d in enumerate(number)]
        made = scans.render_strip(
            images,
            [int(d) for d in number],
            np.random.default_rng(n),
            height=40,
            gap=(0.1, 0.4),
            style=("png", "jpeg")[n % 2],
        )
        made.image.save(folder / f"strip-{n}-text-{number}.{('png', 'jpg')[n % 2]}")
    form = scans.render_page([x[np.flatnonzero(y == 9)[0]]], [9], np.random.default_rng(5), height=80, box=True)
    form.image.save(folder / "form-text-9.png")
    blank = scans.render_page([], [], np.random.default_rng(6), height=80)
    blank.image.save(folder / "page-blank.png")
    png = encoded(Image.fromarray(x[0]), "PNG")
    (folder / "zz-cut.png").write_bytes(png[: len(png) // 2])
    return folder


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_multi_digit_reads_numbers_in_every_format(cli, numbers_folder, tmp_path, fmt):
    from toolkit.predict.options import REFERENCE_MODEL

    if fmt == "parquet":
        pyarrow = pytest.importorskip("pyarrow.parquet")
    out, summary = tmp_path / f"out.{fmt}", tmp_path / "summary.json"
    result = cli(
        "predict",
        numbers_folder,
        "--multi-digit",
        "--model",
        REFERENCE_MODEL,
        "--out",
        out,
        "--summary",
        summary,
        "--workers",
        "1",
    )
    assert result.exit_code == 3, result.output  # the truncated file: an error record, as in single-digit mode
    if fmt == "csv":
        rows = read_csv(out)
        per_digit = [r["per_digit"] for r in rows]
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        per_digit = [r["per_digit"] for r in rows]
    else:
        rows = pyarrow.read_table(out).to_pylist()
        per_digit = [r["per_digit"] for r in rows]
    by_name = {Path(r["path"]).name: r for r in rows}
    assert list(rows[0])[-4:] == ["not_digit", "text", "n_digits", "per_digit"]
    for name, row in by_name.items():
        if "-text-" in name:
            truth = name.split("-text-")[1].split(".")[0]
            assert row["text"] == truth and int(row["n_digits"]) == len(truth)
            assert row["status"] == "ok" and row["blank"] in (False, "false")
    strip = by_name["strip-0-text-4021.png"]
    assert strip["digit"] in (None, "")  # several digits: no single digit, no prob_ columns
    assert float(strip["confidence"]) == pytest.approx(
        min(float(c.split(":")[1]) for c in _per_digit_cells(per_digit[rows.index(strip)])), abs=1e-5
    )
    form = by_name["form-text-9.png"]
    assert int(form["digit"]) == 9 and float(form["prob_9"]) == pytest.approx(float(form["confidence"]), abs=1e-5)
    blank = by_name["page-blank.png"]
    assert blank["blank"] in (True, "true") and blank["flags"] == "blank-page" and int(blank["n_digits"]) == 0
    assert by_name["zz-cut.png"]["error_kind"] == "truncated"
    assert "flagged for a look (see the flags column): blank-page 1" in result.stderr
    assert json.loads(summary.read_text())["flagged"] == {"blank-page": 1}


def _per_digit_cells(value) -> list[str]:
    """per_digit as `digit:confidence` strings, whatever the format gave: CSV text or a list of dicts."""
    if isinstance(value, str):
        return value.split()
    return [f"{d['digit']}:{d['confidence']}" for d in value]


def test_multi_digit_is_the_same_in_the_main_process_and_in_workers(numbers_folder):
    from toolkit.predict.options import REFERENCE_MODEL

    inline = list(predict_folder(numbers_folder, model=REFERENCE_MODEL, workers=0, multi_digit=True))
    pooled = list(
        predict_folder(numbers_folder, model=REFERENCE_MODEL, workers=2, chunk_size=2, batch_size=3, multi_digit=True)
    )
    assert inline == pooled
    assert [r["text"] for r in inline if r["text"]] == ["9", "4021", "739", "58"]


def test_single_digit_mode_flags_a_blank_page_and_reads_the_form(numbers_folder):
    from toolkit.predict.options import REFERENCE_MODEL

    records = {Path(r["path"]).name: r for r in predict_folder(numbers_folder, model=REFERENCE_MODEL, workers=0)}
    assert records["form-text-9.png"]["digit"] == 9 and records["form-text-9.png"]["flags"] is None
    assert records["page-blank.png"]["blank"] and records["page-blank.png"]["flags"] == "blank-page"
    assert "text" not in records["form-text-9.png"]  # the multi-digit columns come only with --multi-digit


def test_resume_refuses_to_mix_single_and_multi_digit(cli, numbers_folder, tmp_path):
    from toolkit.predict.options import REFERENCE_MODEL

    out = tmp_path / "out.jsonl"
    first = cli("predict", numbers_folder, "--model", REFERENCE_MODEL, "--out", out, "--workers", "0")
    assert first.exit_code == 3
    mixed = cli(
        "predict",
        numbers_folder,
        "--multi-digit",
        "--model",
        REFERENCE_MODEL,
        "--out",
        out,
        "--resume",
        "--workers",
        "0",
    )
    assert mixed.exit_code == 2 and "cannot --resume" in mixed.stderr and len(mixed.stderr.splitlines()) == 1
    # A finished multi-digit run resumed with a new file: only that file is read, appended once.
    out = tmp_path / "numbers.csv"
    assert (
        cli(
            "predict", numbers_folder, "--multi-digit", "--model", REFERENCE_MODEL, "--out", out, "--workers", "0"
        ).exit_code
        == 3
    )
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "zzz-text-58.jpg").write_bytes((numbers_folder / "strip-2-text-58.png").read_bytes())
    again = cli(
        "predict",
        numbers_folder,
        extra,
        "--multi-digit",
        "--model",
        REFERENCE_MODEL,
        "--out",
        out,
        "--resume",
        "--workers",
        "0",
    )
    assert again.exit_code == 3 and "scored 1 file" in again.stderr
    assert [r["text"] for r in read_csv(out)].count("58") == 2


def test_multi_digit_with_top_k_is_a_usage_error(cli, numbers_folder, onnx_model):
    result = cli("predict", numbers_folder, "--multi-digit", "--top-k", "3", "--model", onnx_model)
    assert result.exit_code == 2 and "--top-k" in result.stderr and "--multi-digit" in result.stderr


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_model_with_a_fixed_batch_of_one_scores_every_file(cli, tmp_path, ridge, mnist_test, workers):
    """Many exporters write `image [1,28,28,1]`: such a model is called one image at a time, never with a batch
    it cannot take."""
    from tests.onnx_models import linear_model

    x, y = mnist_test
    write_pngs(tmp_path / "in", x[:10], y[:10])
    weights, bias = ridge
    fixed = linear_model(tmp_path / "fixed.onnx", weights, bias, batch=1)
    outs = {}
    for name, model in (("fixed", fixed), ("symbolic", linear_model(tmp_path / "sym.onnx", weights, bias))):
        out = tmp_path / f"{name}.csv"
        result = cli("predict", tmp_path / "in", "--model", model, "--out", out, "--workers", workers)
        assert result.exit_code == 0, result.output
        outs[name] = [(r["digit"], r["confidence"]) for r in read_csv(out)]
    assert outs["fixed"] == outs["symbolic"] and len(outs["fixed"]) == 10


def test_a_worker_that_cannot_be_started_costs_a_new_pool_not_the_run(tmp_path, onnx_model, mnist_test, monkeypatch):
    """Starting a worker failed once in CI with EBADF from the fork server, just after a worker had crashed, and
    the OSError ended the run. Now the chunk is scored again in a new pool when it is due: every file has its
    record, the same as without the failure."""
    from concurrent.futures import ProcessPoolExecutor

    from toolkit.predict.engines import pool

    calls = {"submit": 0}

    class FailingOnce(ProcessPoolExecutor):
        def submit(self, *args, **kwargs):
            calls["submit"] += 1
            if calls["submit"] == 3:
                raise OSError(9, "Bad file descriptor")
            return super().submit(*args, **kwargs)

    x, y = mnist_test
    write_pngs(tmp_path, x[:20], y[:20])
    expected = [(r["path"], r["digit"]) for r in predict_folder(tmp_path, model=onnx_model, workers=0)]
    monkeypatch.setattr(pool, "ProcessPoolExecutor", FailingOnce)
    records = list(predict_folder(tmp_path, model=onnx_model, workers=2, chunk_size=4))
    assert calls["submit"] > 3  # the failure happened, and scoring went on
    assert all(r["status"] == "ok" for r in records)
    assert [(r["path"], r["digit"]) for r in records] == expected
