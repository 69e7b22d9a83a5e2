"""`predict --engine ray`: the same records, output bytes and exit codes as the local engine, on a local Ray
instance started once for the session (2 CPUs); the extra's install hint; the local engine never loads Ray.

Tests that need a running Ray instance are marked slow: starting one takes 4-6 s on this machine, more than a
fast-tier test may take; the rest of this file needs no instance."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit import data
from toolkit.predict import predict_folder

BAD = {"zz-empty.png": b"", "zz-text.png": b"hello, this is not an image\n"}


@pytest.fixture(scope="module")
def mnist_test():
    (_, _), (x_test, y_test) = data.load_mnist()
    return x_test, y_test


@pytest.fixture(scope="module")
def scans(tmp_path_factory, mnist_test) -> Path:
    """3,000 MNIST test digits as PNG files in two folders, plus bad files: zero-byte, truncated, text."""
    x, y = mnist_test
    root = tmp_path_factory.mktemp("scans")
    for i in range(3000):
        folder = root / ("a" if i < 2000 else "b")
        folder.mkdir(exist_ok=True)
        Image.fromarray(x[i]).save(folder / f"{i:05d}-label-{int(y[i])}.png", compress_level=1)
    png = (root / "a" / "00000-label-7.png").read_bytes()
    (root / "a" / "zz-truncated.png").write_bytes(png[: len(png) // 2])
    for name, content in BAD.items():
        (root / "b" / name).write_bytes(content)
    return root


def _cli(*args) -> tuple[int, str]:
    from typer.testing import CliRunner

    from toolkit.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stderr


def _stable(stderr: str) -> list[str]:
    """The summary lines without the timing and the output's name."""
    return [line for line in stderr.splitlines() if not line.startswith(("scored ", "wrote "))]


@pytest.mark.slow
def test_same_csv_bytes_exit_code_and_summary_as_local(ray_session, scans, onnx_model, tmp_path):
    local_code, local_err = _cli(
        "predict", scans, "--model", onnx_model, "--out", tmp_path / "local.csv", "--top-k", "3"
    )
    ray_code, ray_err = _cli(
        "predict", scans, "--model", onnx_model, "--out", tmp_path / "ray.csv", "--top-k", "3", "--engine", "ray"
    )
    assert (local_code, ray_code) == (3, 3), ray_err
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert _stable(ray_err) == _stable(local_err)
    assert "scored 3,003 files" in ray_err and "errors: empty 1, not-an-image 1, truncated 1" in ray_err


@pytest.mark.slow
def test_same_records_with_frames_odd_names_and_many_windows(
    ray_session, tmp_path, onnx_model, mnist_test, monkeypatch
):
    """Several windows, several blocks per window and batches that split a file's frames: still every record
    equal to the local engine's, in the same order, whatever the file names."""
    from toolkit.predict.engines import ray as ray_engine

    x, y = mnist_test
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(40):
        Image.fromarray(x[i]).save(folder / f"{i:03d}.png")
    frames = [Image.fromarray(x[i]) for i in range(40, 44)]
    frames[0].save(folder / "017-animated.gif", save_all=True, append_images=frames[1:])
    odd = [b"=formula.png", b'comma, "quote".png', b"new\nline.png", b"caf\xe9-latin1.png", "日本.png".encode()]
    for name in odd:
        Image.fromarray(x[50]).save(os.fsencode(folder) + b"/" + name, "PNG")
    (folder / "zz-empty.png").write_bytes(b"")
    monkeypatch.setattr(ray_engine, "FIRST_WINDOW", 12)
    monkeypatch.setattr(ray_engine, "MIN_CHUNK", 4)
    windows = []
    pipeline = ray_engine.RayEngine._pipeline
    monkeypatch.setattr(
        ray_engine.RayEngine, "_pipeline", lambda self, refs: windows.append(len(refs)) or pipeline(self, refs)
    )
    options = {"model": onnx_model, "all_frames": True, "top_k": 2, "batch_size": 5, "chunk_size": 4}
    local = list(predict_folder(folder, **options))
    ray = list(predict_folder(folder, engine="ray", **options))
    assert len(local) == 40 + 4 + len(odd) + 1
    assert ray == local
    assert windows == [3, 9]  # blocks of 4 files: a first window of 12 files, then the other 35
    assert [r["frame"] for r in ray if "animated" in r["path"]] == [0, 1, 2, 3]


@pytest.mark.slow
def test_a_model_that_fails_in_the_actors_is_a_one_line_error(ray_session, tmp_path, onnx_model, mnist_test):
    from tests.onnx_models import linear_model, ridge_weights

    x, y = mnist_test
    for i in range(3):
        Image.fromarray(x[i]).save(tmp_path / f"{i}.png")
    weights, bias = ridge_weights(x[:2000], y[:2000])
    logits = linear_model(tmp_path / "logits.onnx", weights, bias, softmax=False)
    code, stderr = _cli("predict", tmp_path, "--model", logits, "--engine", "ray", "--out", tmp_path / "o.csv")
    assert code == 1
    assert stderr.strip().splitlines() == [
        f"error: {logits}: the model's output rows do not sum to 1 (got {_first_sum(logits, x[0])}); predict needs "
        "softmax probabilities, not logits"
    ]


def _first_sum(model: Path, image: np.ndarray) -> str:
    from toolkit.onnxmodel import OnnxModel

    scorer = OnnxModel(model)
    out = scorer.session.run(None, {"image": (image.astype(np.float32) / 255)[None, ..., None]})[0]
    return f"{out.sum(axis=1)[0]:.3g}"


@pytest.mark.slow
def test_the_driver_keeps_no_onnxruntime_session(ray_session, onnx_model, monkeypatch):
    """The driver loads the model once to check it, then drops it: only the actors score."""
    import gc
    import weakref

    from toolkit.onnxmodel import OnnxModel
    from toolkit.predict.engines import ray as ray_engine
    from toolkit.predict.options import PredictOptions

    made: list[weakref.ref] = []

    class Tracked(OnnxModel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    monkeypatch.setattr(ray_engine, "OnnxModel", Tracked)
    with ray_engine.RayEngine(onnx_model, PredictOptions()):
        gc.collect()
        assert len(made) == 1 and made[0]() is None


def test_an_unforeseen_decoder_error_is_named_in_one_line(monkeypatch):
    from toolkit.predict.engines import ray_tasks

    def raising(failure: Exception):
        def broken(found, all_frames=False, multi_digit=False, access=None):
            raise failure

        return broken

    rows = {
        "index": np.array([0]),
        "path": np.array([b"a.png"], object),
        "follow": np.array([False]),
        "kind": np.array([""], object),
        "message": np.array([""], object),
    }
    for failure, message in [
        (RuntimeError(), "RuntimeError"),
        (ValueError("\n  first line\nsecond line"), "ValueError: first line"),
    ]:
        monkeypatch.setattr(ray_tasks, "prepare_chunk", raising(failure))
        out = ray_tasks.decode_rows(rows)
        assert list(out["error_kind"]) == ["corrupt"]
        assert list(out["error"]) == [f"decoding failed unexpectedly ({message})"]


def test_usage_and_connection_errors_are_one_line(tmp_path, onnx_model):
    (tmp_path / "x.png").write_bytes(b"")
    code, stderr = _cli("predict", tmp_path, "--model", onnx_model, "--ray-address", "auto")
    assert (code, stderr.strip()) == (2, "error: --ray-address needs --engine ray; see 'mnist-toolkit predict --help'")
    pytest.importorskip("ray")
    # In a fresh process: this session's Ray instance must not be reused. Nothing listens on port 9 (discard).
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "toolkit",
            "predict",
            str(tmp_path),
            "--model",
            str(onnx_model),
            "--engine",
            "ray",
            "--ray-address",
            "ray://127.0.0.1:9",
            "--out",
            str(tmp_path / "o.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: cannot connect to the Ray cluster at ray://127.0.0.1:9 (Connection refused); is `ray start` "
        "running there, and is the port open?"
    ]


def test_without_the_extra_the_error_says_how_to_install_it(tmp_path, onnx_model, monkeypatch):
    (tmp_path / "x.png").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when Ray is not installed
    code, stderr = _cli("predict", tmp_path, "--model", onnx_model, "--engine", "ray", "--out", tmp_path / "o.csv")
    assert code == 1
    assert stderr.strip().splitlines() == [
        "error: this needs the Python package 'ray', which is not installed; fix it with: "
        "pip install 'mnist-toolkit[ray]'"
    ]


NO_RAY = """
import sys
from toolkit.cli import app
try:
    app(sys.argv[1:], prog_name="mnist-toolkit")
except SystemExit as exit:
    print("RAY LOADED:", sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")), file=sys.stderr)
    raise
"""


def test_the_local_engine_never_imports_ray(tmp_path, onnx_model, mnist_test):
    x, y = mnist_test
    for i in range(5):
        Image.fromarray(x[i]).save(tmp_path / f"{i}.png")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            NO_RAY,
            "predict",
            str(tmp_path),
            "--model",
            str(onnx_model),
            "--out",
            str(tmp_path / "o.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "RAY LOADED: []" in result.stderr


@pytest.mark.slow
def test_a_file_that_kills_its_ray_worker_costs_one_error_record(
    ray_session, tmp_path, onnx_model, mnist_test, monkeypatch
):
    """Ray retries the task, gives up, and the rest of the window goes through the local engine, which isolates
    the file as `worker-crashed` (the same stand-in decoder crashes there, in a worker process)."""
    from tests.test_predict import crash_on_marker
    from toolkit.predict.engines import pool, ray_tasks
    from toolkit.predict.engines import ray as ray_engine

    x, y = mnist_test
    for i in range(30):
        Image.fromarray(x[i]).save(tmp_path / f"{i:03d}.png")
    Image.fromarray(x[0]).save(tmp_path / "012-crash.png")
    monkeypatch.setattr(ray_engine, "MIN_CHUNK", 8)
    monkeypatch.setattr(ray_engine, "decode_rows", _crashing_decoder(ray_tasks.decode_rows))
    monkeypatch.setattr(pool, "score_chunk", crash_on_marker)
    engine_notes: list[str] = []
    original = ray_engine.RayEngine.__exit__

    def keep_notes(self, *exc):
        engine_notes.extend(self.notes)
        return original(self, *exc)

    monkeypatch.setattr(ray_engine.RayEngine, "__exit__", keep_notes)
    records = list(predict_folder(tmp_path, model=onnx_model, engine="ray", chunk_size=8))
    assert len(records) == 31
    assert [(Path(r["path"]).name, r["error_kind"]) for r in records if r["status"] == "error"] == [
        ("012-crash.png", "worker-crashed")
    ]
    assert any("local engine" in note for note in engine_notes)


def _crashing_decoder(decode):
    """A stand-in for `decode_rows` that kills its Ray worker on a file named *crash*. A closure, so that Ray
    ships it by value."""

    def crashing(rows, all_frames=False, cwd="/", multi_digit=False, **more):
        import signal

        if any(b"crash" in bytes(path) for path in rows["path"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return decode(rows, all_frames, cwd, multi_digit, **more)

    return crashing


@pytest.mark.slow
def test_multi_digit_records_are_the_local_engines(ray_session, tmp_path, mnist_test, monkeypatch):
    """Items with several tensors (one per digit, and alternatives for touching digits) travel as one row per
    tensor, across decode blocks and scoring batches smaller than a file's rows, and come back as the same
    records as the local engine's."""
    from toolkit import scans
    from toolkit.predict.engines import ray as ray_engine
    from toolkit.predict.options import REFERENCE_MODEL

    x, y = mnist_test
    for n, number in enumerate(("4021", "96", "7")):
        images = [x[np.flatnonzero(y == int(d))[1]] for d in number]
        made = scans.render_strip(
            images, [int(d) for d in number], np.random.default_rng(n), height=40, gap=(-0.05, 0.3)
        )
        made.image.save(tmp_path / f"{n}-text-{number}.png")
    Image.new("L", (300, 80), 235).save(tmp_path / "3-blank.png")
    for name, content in BAD.items():
        (tmp_path / name).write_bytes(content)
    local = list(predict_folder(tmp_path, model=REFERENCE_MODEL, multi_digit=True, workers=1))
    monkeypatch.setattr(ray_engine, "MIN_CHUNK", 2)
    ray = list(
        predict_folder(tmp_path, model=REFERENCE_MODEL, multi_digit=True, engine="ray", chunk_size=2, batch_size=3)
    )
    assert ray == local
    # The engines agree record for record; the reading itself is tested in test_segment (this 4021, whose 0 and
    # 2 touch, is read 421 since the lattice reading: a known miss, kept there as a strict xfail).
    assert [r["text"] for r in ray][1:] == ["96", "7", None, None, None] and ray[0]["text"] in ("4021", "421")
    assert [r["error_kind"] for r in ray][3:] == [None, "empty", "not-an-image"] and ray[3]["blank"]


def _descendants(root: int) -> set[tuple[int, int]]:
    from toolkit.predict.engines.ray_reaper import descendants, processes

    return descendants({root}, processes())


@pytest.mark.slow
def test_kill_9_of_the_driver_ends_the_ray_instance_it_started(tmp_path, onnx_model, mnist_test):
    """The raylet's agents (DashboardAgent, RuntimeEnvAgent) and workers of a private instance outlived a
    driver killed with -9; the reaper the driver starts ends them."""
    import re
    import shutil
    import signal
    import time

    from toolkit.predict.engines.ray_reaper import processes

    x, y = mnist_test
    paths = []
    for i in range(20):
        Image.fromarray(x[i]).save(tmp_path / f"{i:02d}.png")
        paths.append(tmp_path / f"{i:02d}.png")
    out = tmp_path / "o.csv"
    args = [sys.executable, "-m", "toolkit", "predict", "-", "--engine", "ray", "--model", str(onnx_model)]
    proc = subprocess.Popen([*args, "--out", str(out)], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdin.write("".join(f"{p}\n" for p in paths).encode())
    proc.stdin.flush()  # stdin stays open: the run cannot end before it is killed
    deadline = time.monotonic() + 120
    while True:  # until Ray is up: its raylet has started the agents
        family = _descendants(proc.pid)
        table = processes()
        names = b" ".join(table[p][1] for p in family if p in table)
        if b"ray::DashboardAgent" in names and b"ray::RuntimeEnvAgent" in names:
            break
        assert proc.poll() is None and time.monotonic() < deadline, "the driver never started Ray"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while left := family & set(processes()):
        table = processes()
        assert time.monotonic() < deadline, f"outlived the killed driver: {[table[p][1][:60] for p in left]}"
        time.sleep(0.1)
    # The killed run's Ray folder is kept for its logs; a run that ends normally removes its own.
    [folder] = set(re.findall(rb"(/[^\x00 =]*/mnist-toolkit-ray-\w+)", names))
    shutil.rmtree(os.fsdecode(folder))
    before = set(Path(os.fsdecode(folder)).parent.glob("mnist-toolkit-ray-*"))
    done = subprocess.run(
        [*args, "--out", str(tmp_path / "clean.csv")], input=f"{paths[0]}\n".encode(), capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert set(Path(os.fsdecode(folder)).parent.glob("mnist-toolkit-ray-*")) == before


def test_the_reaper_takes_only_the_drivers_ray_processes_and_their_children():
    from toolkit.predict.engines.ray_reaper import of_session

    folder = "/tmp/mnist-toolkit-ray-abc"
    table = {
        (100, 1): (1, b"python\x00-m\x00toolkit\x00predict"),  # the driver
        (101, 5): (100, b"gcs_server\x00--log_dir=" + folder.encode() + b"/session/logs"),
        (102, 5): (100, b"raylet\x00--store_socket_name=" + folder.encode() + b"/sockets/plasma"),
        (103, 6): (102, b"ray::DashboardAgent"),
        (104, 9): (103, b"ray::IDLE"),
        (105, 7): (100, b"python\x00-c\x00unrelated child of the driver"),
        (200, 8): (1, b"tail\x00-f\x00" + folder.encode() + b"/session/logs/raylet.out"),  # the user's, not ours
        (201, 8): (200, b"less"),
    }
    assert {pid for pid, _ in of_session(folder, table, driver=100)} == {101, 102, 103, 104}
