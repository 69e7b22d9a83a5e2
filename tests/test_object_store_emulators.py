"""Object stores beyond S3 as inputs, each against a real emulator this module starts on a free port of 127.0.0.1:
Google Cloud Storage (gs://) read by gcsfs from gcp-storage-emulator (a Python server, in a process of its own),
Azure Blob Storage (abfs://, az://) read by adlfs from Azurite's blob service (node; `sh scripts/install_azurite.sh`
installs it, and without it these tests skip). The same tests run on both: a folder walked and scored like the same
files, the environment and worker processes reaching the store, --resume keyed by URL and version, and one clear
line for what is not there."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from tests.test_object_store import assert_read_as_local_files, fill
from tests.test_predict import read_csv
from toolkit import data
from toolkit.predict.options import PredictOptions
from toolkit.predict.runner import run

# gcsfs (2026.3 and later) first asks for each bucket's storage layout over gRPC, which no emulator answers, and
# retries for a minute on every call. Its own switch turns that off; gcsfs reads it when it is imported (here,
# and in the processes the tests start), so it is set before any test imports gcsfs.
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"

REPO = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO / "tests" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's one account and its key, the same for every installation (published with Azurite; no secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STARTUP_SECONDS = 60


def png(image: np.ndarray, note: str | None = None) -> bytes:
    """The digit as PNG bytes; a `note` (a text chunk) changes the bytes, not the picture."""
    info = None
    if note is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("note", note)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    _, (x, y) = data.load_mnist()
    return x[:16], y[:16]


# --- the emulators --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def serve(command: list[str], log: Path) -> tuple[subprocess.Popen, int]:
    """Start a server (`command`, {port} filled in) on a free port of 127.0.0.1 and return (process, port) once the
    port accepts connections; another port if the one chosen was taken meanwhile. pytest.fail, with the end of the
    server's output, when it exits or does not listen within STARTUP_SECONDS."""
    for _attempt in range(3):
        port = free_port()
        with open(log, "wb") as out:  # a file, not a pipe: a chatty server never blocks on a full pipe
            process = subprocess.Popen(
                [part.format(port=port) for part in command],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=log.parent,
            )
        if listening(process, port):
            return process, port
        stop(process)
        said = log.read_text(errors="replace")
        if "EADDRINUSE" not in said and "in use" not in said:
            break
    pytest.fail(f"{Path(command[0]).name} did not listen on 127.0.0.1:{port}:\n{said[-2000:]}")


def listening(process: subprocess.Popen, port: int) -> bool:
    """Whether the server accepts connections on `port` within STARTUP_SECONDS; False as soon as it exits."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            try:
                process.wait(timeout=0.05)  # the next poll, or at once if the server exits
            except subprocess.TimeoutExpired:
                pass
    return False


@pytest.fixture(scope="module")
def gcs_endpoint(tmp_path_factory) -> Iterator[str]:
    """gcp-storage-emulator on 127.0.0.1 for this module, in memory; its URL."""
    import fsspec

    gcsfs = pytest.importorskip("gcsfs", reason="the [gcs] extra is not installed")
    pytest.importorskip("gcp_storage_emulator", reason="gcp-storage-emulator (a dev dependency) is not installed")
    if fsspec.get_filesystem_class("gs") is not gcsfs.core.GCSFileSystem:
        pytest.fail("gcsfs was imported before this module set GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false")
    command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", "{port}"]
    process, port = serve([*command, "--in-memory", "--quiet"], tmp_path_factory.mktemp("gcs") / "server.log")
    yield f"http://127.0.0.1:{port}"
    stop(process)


def azurite_binary() -> str | None:
    if AZURITE_BIN.exists():
        return str(AZURITE_BIN)
    return shutil.which("azurite-blob")


@pytest.fixture(scope="module")
def azurite(tmp_path_factory) -> Iterator[str]:
    """Azurite's blob service on 127.0.0.1 for this module, in memory, without telemetry; its connection string."""
    pytest.importorskip("adlfs", reason="the [azure] extra is not installed")
    binary = azurite_binary()
    if binary is None:
        pytest.skip("Azurite is not installed: sh scripts/install_azurite.sh installs it (needs node and npm)")
    command = [binary, "--silent", "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck"]
    command += ["--blobHost", "127.0.0.1", "--blobPort", "{port}"]
    process, port = serve(command, tmp_path_factory.mktemp("azurite") / "server.log")
    yield (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )
    stop(process)


# --- a fresh bucket in either store ---------------------------------------------------------------------------


@dataclass
class Store:
    scheme: str  # how the toolkit names the store's objects in records
    bucket: str  # a bucket (GCS) or container (Azure) of its own for each test
    fs: Any  # the store's fsspec filesystem, to write and rewrite objects with
    options: list[str]  # what reaches the emulator, as --storage-options KEY=VALUE
    env: dict[str, str]  # the same from the store's usual environment (the options say what it cannot)
    env_options: list[str]

    def url(self, key: str = "") -> str:
        return f"{self.scheme}://{self.bucket}/{key}"


@pytest.fixture(params=["gs", "abfs"])
def store(request, monkeypatch, digits) -> Store:
    """A fresh bucket: `batch/` with 8 digits and a note, `batch/deeper/` with 4, and `bundle.zip` with 4. The
    emulator's address is in the storage options, not in the environment."""
    if request.param == "gs":
        import gcsfs

        endpoint = request.getfixturevalue("gcs_endpoint")
        fs = gcsfs.GCSFileSystem(endpoint_url=endpoint, token="anon", skip_instance_cache=True)
        options = [f"endpoint_url={endpoint}", "token=anon"]
        # gcsfs reads the emulator's address from STORAGE_EMULATOR_HOST, but needs token=anon all the same (else it
        # looks for Google credentials, and asks a metadata server that is not on this machine).
        env, env_options = {"STORAGE_EMULATOR_HOST": endpoint}, ["token=anon"]
    else:
        import adlfs

        connection = request.getfixturevalue("azurite")
        fs = adlfs.AzureBlobFileSystem(connection_string=connection, skip_instance_cache=True)
        options = [f"connection_string={connection}"]
        env, env_options = {"AZURE_STORAGE_CONNECTION_STRING": connection}, []
    for name in ("STORAGE_EMULATOR_HOST", "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME"):
        monkeypatch.delenv(name, raising=False)
    bucket = f"scans-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    fill(fs, bucket, *digits)
    return Store(request.param, bucket, fs, options, env, env_options)


def opts(model: Path, store: Store, **more) -> PredictOptions:
    return PredictOptions(model=model, workers=0, storage_options=store.options, **more)


# --- the tests ------------------------------------------------------------------------------------------------


def test_a_folder_is_walked_and_scored_like_the_same_files(store, tmp_path, digits, onnx_model):
    x, y = digits
    summary = run([store.url("batch/")], opts(onnx_model, store), out=str(tmp_path / "store.csv"))
    rows = read_csv(tmp_path / "store.csv")
    expected = [store.url(f"batch/{i:02d}-label-{y[i]}.png") for i in range(8)]
    expected += [store.url(f"batch/deeper/{i:02d}-label-{y[i]}.png") for i in range(8, 12)]
    assert [r["path"] for r in rows] == expected
    assert [r["status"] for r in rows] == ["ok"] * 12
    assert summary.exit_code == 0 and summary.skipped["not-an-image-name"] == 1
    assert_read_as_local_files(rows, x, tmp_path, onnx_model)


def test_worker_processes_and_the_environment_reach_the_store_too(store, tmp_path, digits, onnx_model):
    """The command as a user runs it, the emulator named by the store's own environment variable (gcsfs still
    needs token=anon); a glob and an archive in the bucket, decoded by worker processes."""
    _, y = digits
    env = {**os.environ, **store.env}
    inputs = [store.url("batch/0[0-3]*.png"), store.url("bundle.zip")]
    out = tmp_path / "o.csv"
    command = [sys.executable, "-m", "toolkit", "predict", *inputs, "--model", str(onnx_model), "--out", str(out)]
    for option in store.env_options:
        command += ["--storage-options", option]
    done = subprocess.run([*command, "--workers", "2"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = read_csv(out)
    assert [r["path"] for r in rows] == [store.url(f"batch/{i:02d}-label-{y[i]}.png") for i in range(4)] + [
        f"zip://{i:02d}-label-{y[i]}.png::{store.url('bundle.zip')}" for i in range(12, 16)
    ]
    assert [r["status"] for r in rows] == ["ok"] * 8


def test_resume_scores_again_only_a_rewritten_object(store, tmp_path, digits, onnx_model):
    x, y = digits
    out = str(tmp_path / "o.jsonl")
    options = opts(onnx_model, store)
    assert run([store.url("batch/")], options, out=out).files == 12

    summary = run([store.url("batch/")], options, out=out, resume=True)
    assert (summary.files, summary.changed) == (0, 0)  # nothing changed: nothing scored again

    key = f"batch/03-label-{y[3]}.png"
    store.fs.pipe(f"{store.bucket}/{key}", png(x[15], note="1"))  # the same name, another digit: a new version
    summary = run([store.url("batch/")], options, out=out, resume=True)
    assert (summary.files, summary.changed) == (1, 1)
    records = [json.loads(line) for line in Path(out).read_text().splitlines()]
    assert len(records) == 12
    [rewritten] = [r for r in records if r["path"] == store.url(key)]
    alone = run([store.url(key)], options, out=str(tmp_path / "one.csv"))
    assert alone.files == 1
    assert rewritten["digit"] == int(read_csv(tmp_path / "one.csv")[0]["digit"])

    # Rewritten again with as many bytes: the store's version of the object (ETag, generation) tells, not its size.
    again = png(x[15], note="2")
    assert len(again) == store.fs.size(f"{store.bucket}/{key}")
    store.fs.pipe(f"{store.bucket}/{key}", again)
    summary = run([store.url("batch/")], options, out=out, resume=True)
    assert (summary.files, summary.changed) == (1, 1)

    # Deleted since: its record is kept, flagged; nothing else is scored again.
    store.fs.rm(f"{store.bucket}/batch/deeper/08-label-{y[8]}.png")
    summary = run([store.url("batch/")], options, out=out, resume=True)
    assert (summary.files, summary.gone) == (0, 1)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no-such-folder/", "no such object or folder"),
        ("batch/*.gif", "no objects match"),
        (None, "no such object or folder"),  # a bucket that is not there
    ],
    ids=["folder", "glob", "bucket"],
)
def test_what_is_not_there_is_one_line_and_exit_2(store, cli, tmp_path, onnx_model, target, message):
    url = store.url(target) if target else f"{store.scheme}://no-such-bucket-here/x/"
    out = tmp_path / "o.csv"
    flags = [arg for option in store.options for arg in ("--storage-options", option)]
    result = cli("predict", url, "--model", onnx_model, *flags, "--out", out)
    assert result.exit_code == 2
    assert message in result.output and url in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output and AZURITE_KEY not in result.output
    assert not out.exists()


def test_the_stores_other_scheme_names_the_same_objects(store, tmp_path, digits, onnx_model):
    """gcs:// is gs://, az:// is abfs:// (fsspec's names for one filesystem). Records name objects as fsspec does,
    by the filesystem's first name, so a run and its --resume agree however the inputs were spelt."""
    _, y = digits
    other = {"gs": "gcs", "abfs": "az"}[store.scheme]
    out = str(tmp_path / "o.csv")
    summary = run([f"{other}://{store.bucket}/batch/"], opts(onnx_model, store), out=out)
    assert summary.files == 12
    rows = read_csv(Path(out))
    assert rows[0]["path"] == store.url(f"batch/00-label-{y[0]}.png")
    assert {r["status"] for r in rows} == {"ok"}
    summary = run([store.url("batch/")], opts(onnx_model, store), out=out, resume=True)
    assert (summary.files, summary.changed) == (0, 0)


@pytest.mark.slow  # gcsfs retries a refused connection five times, backing off: about 35 s before it gives up
def test_an_unreachable_gcs_endpoint_is_one_usage_error_line(tmp_path, onnx_model):
    """As a user runs the command (in-process, pytest's log capture would hide what the logging module prints)."""
    pytest.importorskip("gcsfs", reason="the [gcs] extra is not installed")
    env = {name: value for name, value in os.environ.items() if name != "STORAGE_EMULATOR_HOST"}
    command = [sys.executable, "-m", "toolkit", "predict", "gs://bucket/x/", "--model", str(onnx_model)]
    command += ["--storage-options", "endpoint_url=http://127.0.0.1:9"]  # nothing listens on the discard port
    command += ["--storage-options", "token=anon", "--out", str(tmp_path / "o.csv")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "cannot reach it" in done.stderr and "--storage-options" in done.stderr
    assert "Traceback" not in done.stderr
    assert len((done.stdout + done.stderr).strip().splitlines()) == 1, done.stderr
