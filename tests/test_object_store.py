"""Object stores as inputs, against a real S3-compatible server over HTTP (moto's server mode, started here on a
free port of this machine) talked to by s3fs: folders, globs and archives in a bucket, storage options from a
flag or the environment, --resume keyed by URL and ETag, and one clear line for what cannot be reached."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_predict import read_csv
from toolkit import data
from toolkit.predict.options import PredictOptions
from toolkit.predict.runner import run

s3fs = pytest.importorskip("s3fs", reason="the [s3] extra is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] (a dev dependency) is not installed")

BUCKET = "scans"


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    _, (x, y) = data.load_mnist()
    return x[:16], y[:16]


@pytest.fixture(scope="module")
def endpoint():
    """A moto S3 server on 127.0.0.1 for this module; its URL."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def store(endpoint, monkeypatch, digits):
    """A fresh bucket: `batch/` with 8 digits and a note, `batch/deeper/` with 4, and `bundle.zip` with 4; the
    credentials in the environment (as a user's would be), the endpoint not. Returns the s3fs filesystem."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    if fs.exists(BUCKET):
        fs.rm(BUCKET, recursive=True)
    fs.mkdir(BUCKET)
    fill(fs, BUCKET, *digits)
    return fs


def fill(fs, bucket: str, x: np.ndarray, y: np.ndarray) -> None:
    """The layout every store test uses: `batch/` with 8 digits and a note, `batch/deeper/` with 4, and
    `bundle.zip` with 4 more (digits 0-15 of `x`)."""
    for i in range(8):
        fs.pipe(f"{bucket}/batch/{i:02d}-label-{y[i]}.png", png(x[i]))
    for i in range(8, 12):
        fs.pipe(f"{bucket}/batch/deeper/{i:02d}-label-{y[i]}.png", png(x[i]))
    fs.pipe(f"{bucket}/batch/readme.txt", b"not an image")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for i in range(12, 16):
            zf.writestr(f"{i:02d}-label-{y[i]}.png", png(x[i]))
    fs.pipe(f"{bucket}/bundle.zip", buffer.getvalue())
    fs.invalidate_cache()


def opts(model: Path, endpoint: str, **more) -> PredictOptions:
    return PredictOptions(model=model, workers=0, storage_options=[f"endpoint_url={endpoint}"], **more)


def test_a_bucket_folder_is_walked_and_scored_like_the_same_files(store, endpoint, tmp_path, digits, onnx_model):
    x, y = digits
    summary = run([f"s3://{BUCKET}/batch/"], opts(onnx_model, endpoint), out=str(tmp_path / "s3.csv"))
    rows = read_csv(tmp_path / "s3.csv")
    expected = [f"s3://{BUCKET}/batch/{i:02d}-label-{y[i]}.png" for i in range(8)]
    expected += [f"s3://{BUCKET}/batch/deeper/{i:02d}-label-{y[i]}.png" for i in range(8, 12)]
    assert [r["path"] for r in rows] == expected
    assert summary.exit_code == 0 and summary.skipped["not-an-image-name"] == 1
    assert_read_as_local_files(rows, x, tmp_path, onnx_model)


def assert_read_as_local_files(rows: list[dict], x: np.ndarray, tmp_path: Path, model: Path) -> None:
    """The records of the store's 12 digits (`fill`) say what the same bytes say as local files."""
    local = tmp_path / "local"
    local.mkdir()
    for i in range(12):
        (local / f"{i:02d}.png").write_bytes(png(x[i]))
    run([str(local)], PredictOptions(model=model, workers=0), out=str(tmp_path / "local.csv"))
    for remote, here in zip(rows, read_csv(tmp_path / "local.csv"), strict=True):
        assert (remote["digit"], remote["confidence"]) == (here["digit"], here["confidence"])


def test_worker_processes_and_the_environment_reach_the_store_too(
    store, endpoint, tmp_path, monkeypatch, digits, onnx_model
):
    """The command as a user runs it, without --storage-options: the endpoint comes from AWS_ENDPOINT_URL, as
    boto's own tools read it; globs and an archive in the bucket, decoded by worker processes."""
    _, y = digits
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint}
    inputs = [f"s3://{BUCKET}/batch/0[0-3]*.png", f"s3://{BUCKET}/bundle.zip"]
    out = tmp_path / "o.csv"
    command = [sys.executable, "-m", "toolkit", "predict", *inputs, "--model", str(onnx_model), "--out", str(out)]
    done = subprocess.run([*command, "--workers", "2"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = read_csv(out)
    assert [r["path"] for r in rows] == [f"s3://{BUCKET}/batch/{i:02d}-label-{y[i]}.png" for i in range(4)] + [
        f"zip://{i:02d}-label-{y[i]}.png::s3://{BUCKET}/bundle.zip" for i in range(12, 16)
    ]
    assert [r["status"] for r in rows] == ["ok"] * 8


def test_resume_scores_again_only_a_rewritten_object(store, endpoint, tmp_path, digits, onnx_model):
    x, y = digits
    out = str(tmp_path / "o.jsonl")
    options = opts(onnx_model, endpoint)
    assert run([f"s3://{BUCKET}/batch/"], options, out=out).files == 12

    target = f"{BUCKET}/batch/03-label-{y[3]}.png"
    store.pipe(target, png(x[15]))  # the same key, another digit: a new ETag
    summary = run([f"s3://{BUCKET}/batch/"], options, out=out, resume=True)
    assert (summary.files, summary.changed) == (1, 1)
    records = [json.loads(line) for line in Path(out).read_text().splitlines()]
    assert len(records) == 12
    [rewritten] = [r for r in records if r["path"] == f"s3://{target}"]
    alone = run([f"s3://{target}"], options, out=str(tmp_path / "one.csv"))
    assert alone.files == 1
    assert rewritten["digit"] == int(read_csv(tmp_path / "one.csv")[0]["digit"])

    # Deleted since: its record is kept, flagged; nothing else is scored again.
    store.rm(f"{BUCKET}/batch/deeper/08-label-{y[8]}.png")
    summary = run([f"s3://{BUCKET}/batch/"], options, out=out, resume=True)
    assert (summary.files, summary.gone) == (0, 1)


def test_an_object_over_the_limit_is_an_error_record(store, endpoint, tmp_path, digits, onnx_model):
    x, _ = digits
    store.pipe(f"{BUCKET}/big/huge.png", png(x[0]) + b"\0" * 5000)
    store.pipe(f"{BUCKET}/big/small.png", png(x[0]))
    options = opts(onnx_model, endpoint, max_input_bytes=4000)
    summary = run([f"s3://{BUCKET}/big/"], options, out=str(tmp_path / "o.csv"))
    rows = {r["path"]: r for r in read_csv(tmp_path / "o.csv")}
    assert rows[f"s3://{BUCKET}/big/huge.png"]["error_kind"] == "too-large"
    assert rows[f"s3://{BUCKET}/big/small.png"]["status"] == "ok"
    assert summary.exit_code == 3


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (f"s3://{BUCKET}/no-such-folder/", "no such object or folder"),
        (f"s3://{BUCKET}/batch/*.gif", "no objects match"),
        ("s3://no-such-bucket-here/x/", "no such object or folder"),
    ],
)
def test_what_is_not_there_is_one_line_and_exit_2(store, endpoint, cli, tmp_path, onnx_model, target, message):
    out = tmp_path / "o.csv"
    result = cli(
        "predict", target, "--model", onnx_model, "--storage-options", f"endpoint_url={endpoint}", "--out", out
    )
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_an_unreachable_store_and_a_malformed_storage_option_are_usage_errors(cli, tmp_path, onnx_model, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    result = cli(
        "predict",
        "s3://bucket/x/",
        "--model",
        onnx_model,
        "--storage-options",
        "endpoint_url=http://127.0.0.1:9",  # nothing listens on the discard port
        "--storage-options",
        'config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 1}',
        "--out",
        tmp_path / "o.csv",
    )
    assert result.exit_code == 2
    assert "cannot reach it" in result.output and "--storage-options" in result.output
    result = cli("predict", "s3://bucket/x/", "--model", onnx_model, "--storage-options", "endpoint_url")
    assert result.exit_code == 2
    assert "--storage-options takes KEY=VALUE" in result.output


def test_a_model_in_the_store_is_fetched_once_per_version(store, endpoint, cli, tmp_path, monkeypatch, onnx_model):
    monkeypatch.setenv("MNIST_TOOLKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    store.pipe(f"{BUCKET}/models/linear.onnx", onnx_model.read_bytes())
    out = tmp_path / "o.csv"
    storage = f"endpoint_url={endpoint}"
    url = f"s3://{BUCKET}/models/linear.onnx"
    # --workers 0: worker processes of this test session's fork server have an environment without credentials
    args = ["--storage-options", storage, "--workers", "0", "--out", out]
    result = cli("predict", f"s3://{BUCKET}/batch/", "--model", url, *args)
    assert result.exit_code == 0, result.output
    [cached] = (tmp_path / "home" / "models").iterdir()
    assert cached.read_bytes() == onnx_model.read_bytes()
    assert len(read_csv(out)) == 12

    result = cli("predict", f"s3://{BUCKET}/batch/", "--model", f"s3://{BUCKET}/models/none.onnx", "--out", out)
    assert result.exit_code != 0
    assert "none.onnx: no such object" in result.output and "Traceback" not in result.output


def test_a_chunk_of_objects_is_fetched_at_once_and_the_limit_still_holds(store, endpoint):
    """`prefetch` asks the store for a chunk's objects together; `read` then takes them without another
    request (here: the objects are deleted in between), and an object over the limit is still refused."""
    from toolkit.predict import located

    store.pipe(f"{BUCKET}/pre/a.png", b"a" * 100)
    store.pipe(f"{BUCKET}/pre/b.png", b"b" * 300)
    access = located.Access((("endpoint_url", endpoint),), max_bytes=200)
    urls = [f"s3://{BUCKET}/pre/a.png", f"s3://{BUCKET}/pre/b.png"]
    located.prefetch(urls, access)
    store.rm(f"{BUCKET}/pre/", recursive=True)
    assert located.read(urls[0], access) == b"a" * 100
    with pytest.raises(located.Problem, match="object disappeared"):
        located.read(urls[1], access)  # over the limit: read again, alone, which finds it gone


def test_a_prefix_is_listed_page_by_page(store, endpoint, tmp_path, monkeypatch, digits, onnx_model):
    """The listing is streamed: pages of 3 objects here (1,000 from S3 itself), never the whole prefix at once;
    every object comes, once, in key order."""
    from toolkit.predict import located

    pages = []
    take = located.next_page

    async def counted(listing):
        page = await take(listing)
        pages.append(len(page))
        return page

    monkeypatch.setattr(located, "PAGE", 3)
    monkeypatch.setattr(located, "next_page", counted)
    summary = run([f"s3://{BUCKET}/batch/"], opts(onnx_model, endpoint), out=str(tmp_path / "o.csv"))
    assert summary.files == 12
    assert pages == [3, 3, 3, 3, 1, 0]  # 13 objects (12 digits and a note), then the end
    paths = [r["path"] for r in read_csv(tmp_path / "o.csv")]
    assert paths == sorted(paths) and len(set(paths)) == 12


def test_http_urls_are_objects_too(tmp_path, digits, onnx_model):
    """A plain web server (Python's, on this machine): a file by its URL, and a page of links as a folder."""
    import functools
    import http.server
    import threading

    x, y = digits
    served = tmp_path / "site"
    served.mkdir()
    for i in range(3):
        (served / f"{i}-label-{y[i]}.png").write_bytes(png(x[i]))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        options = PredictOptions(model=onnx_model, workers=0)
        summary = run([f"{base}/0-label-{y[0]}.png", f"{base}/"], options, out=str(tmp_path / "o.csv"))
    finally:
        server.shutdown()
    rows = read_csv(tmp_path / "o.csv")
    assert [r["path"] for r in rows] == [f"{base}/0-label-{y[0]}.png"] + [
        f"{base}/{i}-label-{y[i]}.png" for i in range(3)
    ]
    assert {r["status"] for r in rows} == {"ok"} and summary.exit_code == 0


def test_a_resume_of_object_inputs_may_run_from_any_folder(store, endpoint, tmp_path, monkeypatch, onnx_model):
    """URLs do not depend on the working folder (relative local paths do, and such a resume is refused)."""
    out = str(tmp_path / "o.csv")
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    monkeypatch.chdir(tmp_path / "first")
    run([f"s3://{BUCKET}/batch/"], opts(onnx_model, endpoint), out=out)
    monkeypatch.chdir(tmp_path / "second")
    summary = run([f"s3://{BUCKET}/batch/"], opts(onnx_model, endpoint), out=out, resume=True)
    assert (summary.files, summary.resumed_records) == (0, 12)
