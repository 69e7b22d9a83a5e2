"""Archives as inputs: .zip, .tar and .tar.gz read member by member without extracting, members named in
fsspec's chained form, bad members as error records, a declared-size limit against zip bombs, and --resume keyed
by the member (its CRC or mtime tells a changed one)."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import fsspec
import numpy as np
import pytest
from PIL import Image

from tests.test_predict import read_csv, write_pngs
from toolkit import data
from toolkit.predict import predict_folder
from toolkit.predict.located import split_member
from toolkit.predict.options import PredictOptions
from toolkit.predict.runner import run


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    _, (x, y) = data.load_mnist()
    return x[:12], y[:12]


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return path


def make_tar(path: Path, members: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(payload), 1_700_000_000
            tf.addfile(info, io.BytesIO(payload))
    return path


def members_of(x: np.ndarray, y: np.ndarray, folder: str = "scans/") -> dict[str, bytes]:
    pairs = enumerate(zip(x, y, strict=True))
    return {f"{folder}{i:03d}-label-{int(label)}.png": png(image) for i, (image, label) in pairs}


def options(model: Path, **more) -> PredictOptions:
    return PredictOptions(model=model, workers=0, **more)


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_an_archive_named_as_input_is_read_member_by_member_like_the_same_files(
    tmp_path, monkeypatch, digits, onnx_model, kind
):
    x, y = digits
    monkeypatch.chdir(tmp_path)
    members = members_of(x, y)
    archive = tmp_path / f"scans.{kind}"
    if kind == "zip":
        make_zip(archive, members)
    else:
        make_tar(archive, members, "w:gz" if kind == "tar.gz" else "w")
    write_pngs(tmp_path / "plain", x, y)
    from_archive = list(predict_folder(archive.name, onnx_model, workers=0))
    from_files = list(predict_folder("plain", onnx_model, workers=0))

    scheme = "zip" if kind == "zip" else "tar"
    assert [r["path"] for r in from_archive] == [f"{scheme}://{name}::scans.{kind}" for name in members]
    assert [r["status"] for r in from_archive] == ["ok"] * len(x)
    for a, b in zip(from_archive, from_files, strict=True):
        assert a["digit"] == b["digit"]
        assert a["confidence"] == pytest.approx(b["confidence"], abs=1e-6)
    # The path is what fsspec opens: any user can get the member back from the record.
    first = from_archive[0]["path"]
    with fsspec.open(first, "rb") as fh:
        assert fh.read() == members[split_member(first)[1]]


def test_archives_in_folders_are_read_only_with_archives_and_counted_when_not(
    tmp_path, monkeypatch, digits, onnx_model
):
    x, y = digits
    monkeypatch.chdir(tmp_path)
    write_pngs(tmp_path / "in", x[:3], y[:3])
    make_zip(tmp_path / "in" / "more.zip", members_of(x[3:6], y[3:6], ""))

    summary = run(["in"], options(onnx_model), out="a.csv")
    assert summary.files == 3
    assert summary.skipped["archive-not-read"] == 1
    assert any("--archives" in w for w in summary.warnings)

    summary = run(["in"], options(onnx_model, archives=True), out="b.csv")
    paths = [r["path"] for r in read_csv(tmp_path / "b.csv")]
    assert summary.files == 6 and summary.exit_code == 0
    assert [p for p in paths if p.startswith("zip://")] == [
        f"zip://{i:03d}-label-{int(y[3 + i])}.png::in/more.zip" for i in range(3)
    ]


def test_bad_members_are_error_records_and_the_rest_is_scored(tmp_path, monkeypatch, digits, onnx_model):
    x, y = digits
    monkeypatch.chdir(tmp_path)
    members = members_of(x[:2], y[:2], "")
    members["notes.txt"] = b"not an image, and not an image name: skipped"
    members["fake.png"] = b"this is text, not a PNG"
    members["cut.png"] = png(x[2])[:60]
    members["empty.png"] = b""
    make_zip(tmp_path / "mixed.zip", members)
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip archive at all")

    summary = run(["mixed.zip", "broken.zip"], options(onnx_model), out="out.csv")
    rows = {r["path"]: r for r in read_csv(tmp_path / "out.csv")}
    assert rows[f"zip://000-label-{y[0]}.png::mixed.zip"]["status"] == "ok"
    assert rows["zip://fake.png::mixed.zip"]["error_kind"] == "not-an-image"
    assert rows["zip://cut.png::mixed.zip"]["error_kind"] == "truncated"
    assert rows["zip://empty.png::mixed.zip"]["error_kind"] == "empty"
    assert rows["broken.zip"]["error_kind"] == "corrupt"
    assert "zip" in rows["broken.zip"]["error"]
    assert not any("notes.txt" in p for p in rows)
    assert summary.skipped["not-an-image-name"] == 1
    assert summary.exit_code == 3 and summary.ok == 2 and summary.errors == 4


def test_a_member_declaring_more_than_the_limit_is_never_read(tmp_path, monkeypatch, digits, onnx_model):
    """A zip bomb: 64 MB of zeros deflate to 64 KB; with a 1 MB limit it is an error record, not 64 MB of memory."""
    x, y = digits
    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a-digit.png", png(x[0]))
        zf.writestr("bomb.png", b"\0" * (64 << 20))
    assert (tmp_path / "bomb.zip").stat().st_size < 1 << 20

    records = list(predict_folder("bomb.zip", onnx_model, workers=0, max_input_bytes=1 << 20))
    by_path = {r["path"]: r for r in records}
    bomb = by_path["zip://bomb.png::bomb.zip"]
    assert bomb["error_kind"] == "too-large"
    assert "67,108,864 bytes" in bomb["error"] and "1,048,576" in bomb["error"]
    assert by_path["zip://a-digit.png::bomb.zip"]["digit"] == int(y[0])


def test_a_limit_below_one_byte_is_a_usage_error(cli, tmp_path, onnx_model):
    make_zip(tmp_path / "a.zip", {"a.png": b"x"})
    result = cli("predict", tmp_path / "a.zip", "--model", onnx_model, "--max-input-bytes", "0")
    assert result.exit_code == 2
    assert "--max-input-bytes must be at least 1, got 0" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_resume_scores_again_only_the_member_that_changed(tmp_path, monkeypatch, digits, onnx_model, kind):
    x, y = digits
    monkeypatch.chdir(tmp_path)
    maker = make_zip if kind == "zip" else make_tar
    members = members_of(x[:6], y[:6], "")
    maker(tmp_path / f"s.{kind}", members)
    opts = options(onnx_model)
    assert run([f"s.{kind}"], opts, out="out.csv").files == 6

    # The third member now holds another digit; the rest are byte for byte the same.
    changed = list(members)[2]
    members[changed] = png(x[10])
    if kind == "tar":  # a tar member's version is its size and mtime: a rewritten member gets a new mtime
        os.remove(f"s.{kind}")
        with tarfile.open(f"s.{kind}", "w") as tf:
            for name, payload in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                info.mtime = 1_700_000_000 + (100 if name == changed else 0)
                tf.addfile(info, io.BytesIO(payload))
    else:
        maker(tmp_path / f"s.{kind}", members)

    summary = run([f"s.{kind}"], opts, out="out.csv", resume=True)
    assert summary.files == 1 and summary.changed == 1
    rows = read_csv(tmp_path / "out.csv")
    assert len(rows) == 6
    by_path = {r["path"]: r for r in rows}
    assert int(by_path[f"{kind}://{changed}::s.{kind}"]["digit"]) == int(y[10])

    # Nothing changed since: nothing is scored again.
    assert run([f"s.{kind}"], opts, out="out.csv", resume=True).files == 0


def test_a_member_named_by_its_chained_path_is_scored_alone(tmp_path, monkeypatch, digits, onnx_model, cli):
    x, y = digits
    monkeypatch.chdir(tmp_path)
    make_zip(tmp_path / "s.zip", members_of(x[:3], y[:3], ""))
    name = f"zip://001-label-{int(y[1])}.png::s.zip"
    [record] = predict_folder(name, onnx_model, workers=0)
    assert record["path"] == name and record["digit"] == int(y[1])

    [missing] = predict_folder("zip://nope.png::s.zip", onnx_model, workers=0)
    assert missing["error_kind"] == "missing"
    result = cli("predict", "zip://a.png::absent.zip", "--model", onnx_model, "--out", tmp_path / "o.csv")
    assert result.exit_code == 2
    assert "absent.zip: no such object or folder" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_worker_processes_read_archives_as_the_main_process_does(tmp_path, monkeypatch, digits, onnx_model):
    x, y = digits
    monkeypatch.chdir(tmp_path)
    make_tar(tmp_path / "s.tar.gz", members_of(x, y), "w:gz")
    here = list(predict_folder("s.tar.gz", onnx_model, workers=0))
    pooled = list(predict_folder("s.tar.gz", onnx_model, workers=2, chunk_size=3))
    assert [(r["path"], r["digit"]) for r in pooled] == [(r["path"], r["digit"]) for r in here]
    assert [r["status"] for r in here] == ["ok"] * len(y)


def test_a_local_file_whose_path_looks_like_a_url_stays_a_local_file(tmp_path, monkeypatch, digits, onnx_model):
    x, y = digits
    monkeypatch.chdir(tmp_path)
    write_pngs(tmp_path / "zip:" / "sub", x[:1], y[:1])
    [record] = predict_folder("zip:", onnx_model, workers=0)
    assert record["path"] == f"zip:/sub/00000-label-{int(y[0])}.png"
    assert record["status"] == "ok"


def test_webdataset_shards_are_scored_shard_by_shard_in_order(tmp_path, monkeypatch, digits, onnx_model):
    """Tar shards of many small images, named by a glob (the large-scale delivery): every member of every shard,
    shard after shard, each member in its stored order; files that are not images (labels, metadata) skipped."""
    x, y = digits
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shards").mkdir()
    expected = []
    for shard in range(3):
        members = {}
        for i in range(shard * 4, shard * 4 + 4):
            members[f"sample{i:04d}.png"] = png(x[i])
            members[f"sample{i:04d}.cls"] = str(int(y[i])).encode()
            expected.append(f"tar://sample{i:04d}.png::shards/shard-{shard:05d}.tar")
        make_tar(tmp_path / "shards" / f"shard-{shard:05d}.tar", members)
    summary = run(["shards/*.tar"], options(onnx_model), out="out.jsonl")
    assert summary.files == 12 and summary.skipped["not-an-image-name"] == 12
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["path"] for r in rows] == expected


def test_storage_options_of_any_json_value_reach_archive_members(tmp_path, monkeypatch, digits, onnx_model):
    """A storage option may be a JSON object (botocore's config_kwargs); local archives ignore storage options,
    and the open-archive cache must not choke on an unhashable value."""
    x, y = digits
    monkeypatch.chdir(tmp_path)
    make_zip(tmp_path / "s.zip", members_of(x[:2], y[:2], ""))
    opts = options(onnx_model, storage_options=['config_kwargs={"retries": {"max_attempts": 1}}'])
    assert run(["s.zip"], opts, out="o.csv").ok == 2
