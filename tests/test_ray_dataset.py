"""`--engine ray --out DIR/`: workers write the records as shards, exactly once. The commit protocol on its own
(no Ray); the dataset against the local engine's records and a --resume after an input was added, on the
session's local Ray; and a multi-node cluster on this machine losing a worker node mid-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_predict import read_csv
from toolkit import data
from toolkit.errors import UsageError
from toolkit.predict import predict_folder, shards
from toolkit.predict.options import PredictOptions
from toolkit.predict.runner import run

ROOT = Path(__file__).resolve().parents[1]


def records_in(folder: Path) -> list[dict]:
    """Every record of a JSONL dataset, in walk order (as _SUCCESS lists the shards)."""
    order = json.loads((folder / shards.SUCCESS).read_text())["shards"]
    return [json.loads(line) for name in order for line in (folder / f"{name}.jsonl").read_text().splitlines()]


def write_digits(folder: Path, x: np.ndarray, y: np.ndarray, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        Image.fromarray(255 - image).save(folder / f"{start + i:05d}-label-{int(label)}.png", compress_level=1)


# --- the commit protocol ----------------------------------------------------------------------------------------


def test_a_shard_is_visible_only_once_committed_and_its_manifest_must_match_it(tmp_path):
    dataset = shards.Dataset(str(tmp_path / "out") + "/", "jsonl")
    dataset.start({"model_sha256": "a"}, resume=False)
    name = shards.shard_name([b"a.png", b"b.png"])
    assert name == shards.shard_name([b"a.png", b"b.png"]) != shards.shard_name([b"b.png", b"a.png"])

    # A worker killed while writing leaves a temporary file: never listed, never read.
    (tmp_path / "out" / shards.TEMPORARY).mkdir(exist_ok=True)  # start() wrote _run.json through it
    (tmp_path / "out" / shards.TEMPORARY / f"{name}.jsonl.0123").write_text('{"path": "half')
    assert dataset.shards() == [] and dataset.manifest(name) is None

    dataset.commit(name, b'{"path": "a.png"}\n{"path": "b.png"}\n', {"versions": [[1, 2], [3, 4]]})
    assert dataset.shards() == [f"{name}.jsonl"]
    assert dataset.manifest(name)["versions"] == [[1, 2], [3, 4]]
    # A shard that is not the one its manifest describes (a commit cut between the two) is not trusted.
    (tmp_path / "out" / f"{name}.jsonl").write_text('{"path": "a.png"}\n')
    assert dataset.manifest(name) is None

    stale = shards.shard_name([b"gone.png"])
    dataset.commit(stale, b"{}\n", {"versions": []})
    assert dataset.finish([name], {"files": 2}) == 1
    assert sorted(os.listdir(tmp_path / "out")) == sorted([shards.RUN, shards.SUCCESS, f"{name}.jsonl", f"{name}.json"])
    assert json.loads((tmp_path / "out" / shards.SUCCESS).read_text())["shards"] == [name]


def test_a_resume_scores_again_a_block_whose_shard_holds_an_error_of_access():
    """As the local engines try an unreadable input again (tests/test_resume.py), a resume of a dataset scores
    again a block whose committed shard holds one, whatever its inputs' versions say; other errors stay."""
    from toolkit.predict.engines.ray_dataset import _access_errors

    def manifest(kinds: dict) -> dict:
        return {"versions": [[1, 2]], "summary": {"files": 1, "errors": sum(kinds.values()), "error_kinds": kinds}}

    assert _access_errors(manifest({"unreadable": 1, "not-an-image": 2}))
    assert not _access_errors(manifest({"not-an-image": 2, "truncated": 1}))
    assert not _access_errors(manifest({})) and not _access_errors({"versions": []})


def test_a_folder_with_shards_needs_resume_and_the_same_settings(tmp_path):
    root = str(tmp_path / "out") + "/"
    first = shards.Dataset(root, "jsonl")
    first.start({"model_sha256": "a", "min_confidence": 0.95}, resume=False)
    first.commit(shards.shard_name([b"a.png"]), b"{}\n", {"versions": []})
    with pytest.raises(UsageError, match="already holds 1 shards; add --resume"):
        shards.Dataset(root, "jsonl").start({"model_sha256": "a", "min_confidence": 0.95}, resume=False)
    with pytest.raises(UsageError, match=r"other settings: min_confidence \(was 0.95, now 0.5\)"):
        shards.Dataset(root, "jsonl").start({"model_sha256": "a", "min_confidence": 0.5}, resume=True)
    shards.Dataset(root, "jsonl").start({"model_sha256": "a", "min_confidence": 0.95}, resume=True)


def test_a_folder_output_needs_the_ray_engine(cli, tmp_path, onnx_model):
    write_digits(tmp_path / "in", np.zeros((1, 28, 28), np.uint8), np.zeros(1, int))
    result = cli("predict", tmp_path / "in", "--model", onnx_model, "--out", f"{tmp_path}/out/")
    assert result.exit_code == 2
    assert "a dataset of shards is written by --engine ray" in result.output
    assert not (tmp_path / "out").exists()


# --- on Ray -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    _, (x, y) = data.load_mnist()
    return x[:900], y[:900]


@pytest.mark.slow
def test_the_dataset_holds_the_local_engines_records_once_each_and_resume_redoes_one_block(
    ray_session, tmp_path, monkeypatch, digits, onnx_model
):
    x, y = digits
    monkeypatch.chdir(tmp_path)
    write_digits(tmp_path / "in", x[:800], y[:800])
    (tmp_path / "in" / "bad.png").write_bytes(b"not a png")
    options = PredictOptions(model=onnx_model, shard_size=64)
    summary = run(["in"], options, out="ds/", engine="ray")
    assert (summary.files, summary.ok, summary.errors, summary.exit_code) == (801, 800, 1, 3)

    local = read_csv_records(tmp_path, onnx_model)
    dataset = records_in(tmp_path / "ds")
    assert [r["path"] for r in dataset] == [r["path"] for r in local]
    for a, b in zip(dataset, local, strict=True):
        assert a["status"] == b["status"]
        if a["status"] == "ok":
            assert a["digit"] == int(b["digit"])
            assert a["confidence"] == pytest.approx(float(b["confidence"]), abs=1e-5)
    assert {r["error_kind"] for r in dataset if r["status"] == "error"} == {"not-an-image"}
    blocks = len(json.loads((tmp_path / "ds" / shards.SUCCESS).read_text())["shards"])
    assert 4 <= blocks <= 40  # about 801 / 64, cut by content

    # One input added in the middle: its block is scored again, every other shard is kept as it is.
    Image.fromarray(255 - x[800]).save(tmp_path / "in" / "00400-b.png")
    summary = run(["in"], options, out="ds/", engine="ray", resume=True)
    assert 1 <= summary.files <= 4 * 64
    assert summary.resumed_records + summary.records == 802
    paths = [r["path"] for r in records_in(tmp_path / "ds")]
    assert len(paths) == len(set(paths)) == 802 and "in/00400-b.png" in paths


def read_csv_records(tmp_path: Path, model: Path) -> list[dict]:
    run(["in"], PredictOptions(model=model, workers=0), out=str(tmp_path / "local.csv"))
    return read_csv(tmp_path / "local.csv")


@pytest.mark.slow
def test_a_worker_node_lost_mid_run_loses_and_duplicates_no_record(tmp_path, digits, onnx_model):
    """A head and two worker nodes (one CPU each) on this machine; the first worker node is killed once a few
    shards are committed. Ray retries the lost blocks on the other node: every file has exactly one record."""
    x, y = digits
    write_digits(tmp_path / "in", x, y)
    cluster = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "ray_cluster.py"), "--workers", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert cluster.stdout is not None and cluster.stdin is not None
        address = cluster.stdout.readline().strip()
        assert address, "the test cluster did not start"
        out = tmp_path / "ds"
        driver = subprocess.Popen(
            [sys.executable, "-m", "toolkit", "predict", str(tmp_path / "in"), "--model", str(onnx_model)]
            + ["--engine", "ray", "--ray-address", address, "--out", f"{out}/", "--shard-size", "20"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 240
        while len(list(out.glob("part-*.jsonl"))) < 3 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polls for the third committed shard: the moment to kill depends on the run's pace
        committed_at_kill = len(list(out.glob("part-*.jsonl")))
        cluster.stdin.write("kill\n")
        cluster.stdin.flush()
        assert cluster.stdout.readline().strip() == "killed"
        _, stderr = driver.communicate(timeout=300)
        assert driver.returncode == 0, stderr
    finally:
        if cluster.stdin is not None:
            cluster.stdin.close()
        cluster.wait(timeout=120)
    order = json.loads((out / shards.SUCCESS).read_text())["shards"]
    assert committed_at_kill < len(order), "the node was killed after the run had finished"
    paths = [r["path"] for r in records_in(out)]
    assert sorted(paths) == sorted(str(p) for p in (tmp_path / "in").iterdir())
    assert len(paths) == len(set(paths)) == len(x)
    assert not (out / shards.TEMPORARY).exists()


@pytest.mark.slow
def test_both_ray_outputs_read_archive_members_as_the_local_engine_does(
    ray_session, tmp_path, monkeypatch, digits, onnx_model
):
    x, y = digits
    monkeypatch.chdir(tmp_path)
    write_digits(tmp_path / "plain", x[:30], y[:30])
    with zipfile.ZipFile(tmp_path / "scans.zip", "w") as zf:
        for path in sorted((tmp_path / "plain").iterdir()):
            zf.write(path, f"in/{path.name}")
    local = list(predict_folder("scans.zip", onnx_model, workers=0))
    on_ray = list(predict_folder("scans.zip", onnx_model, engine="ray"))
    assert [(r["path"], r["digit"]) for r in on_ray] == [(r["path"], r["digit"]) for r in local]
    assert local[0]["path"] == f"zip://in/00000-label-{y[0]}.png::scans.zip"

    run(["scans.zip"], PredictOptions(model=onnx_model, shard_size=8), out="ds/", engine="ray")
    assert [(r["path"], r["digit"]) for r in records_in(tmp_path / "ds")] == [(r["path"], r["digit"]) for r in local]


@pytest.mark.slow
def test_tar_shards_are_opened_by_the_workers_never_by_the_driver(
    ray_session, tmp_path, monkeypatch, digits, onnx_model
):
    """WebDataset-style shards, the large-scale delivery: each shard goes to a worker whole, and the worker lists
    and reads it (the driver, where listing is made to fail here, only names it). A rerun skips them all."""
    import io
    import tarfile

    from toolkit.predict import located

    x, y = digits
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shards").mkdir()
    expected = []
    for shard in range(3):
        with tarfile.open(tmp_path / "shards" / f"shard-{shard}.tar", "w") as tf:
            for i in range(shard * 5, shard * 5 + 5):
                for name, payload in ((f"{i:04d}.png", _png(x[i])), (f"{i:04d}.cls", str(int(y[i])).encode())):
                    info = tarfile.TarInfo(name)
                    info.size = len(payload)
                    tf.addfile(info, io.BytesIO(payload))
                expected.append(f"tar://{i:04d}.png::shards/shard-{shard}.tar")

    def not_here(*_args, **_kwargs):
        raise AssertionError("the driver listed an archive")

    monkeypatch.setattr(located, "list_members", not_here)
    options = PredictOptions(model=onnx_model, shard_size=2)
    summary = run(["shards/*.tar"], options, out="ds/", engine="ray")
    assert (summary.files, summary.ok) == (15, 15)
    assert [r["path"] for r in records_in(tmp_path / "ds")] == expected
    again = run(["shards/*.tar"], options, out="ds/", engine="ray", resume=True)
    assert (again.files, again.resumed_records) == (0, 15)


def _png(image: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_run_that_cannot_reach_ray_leaves_no_folder(tmp_path, onnx_model):
    write_digits(tmp_path / "in", np.zeros((1, 28, 28), np.uint8), np.zeros(1, int))
    out = tmp_path / "ds"
    command = [sys.executable, "-m", "toolkit", "predict", str(tmp_path / "in"), "--model", str(onnx_model)]
    command += ["--engine", "ray", "--ray-address", "127.0.0.1:9", "--out", f"{out}/"]  # nothing listens there
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: cannot connect to the Ray cluster at 127.0.0.1:9")
    assert not out.exists()
