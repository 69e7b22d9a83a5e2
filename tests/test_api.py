"""The Python API: `predict_images` on everything a user holds in memory, and `predict_folder` called from a
script the way people write scripts (no `__main__` guard)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from toolkit import data
from toolkit.predict import predict_folder, predict_images
from toolkit.predict.options import PredictOptions


@pytest.fixture(scope="module")
def digits():
    (_, _), (x_test, y_test) = data.load_mnist()
    return x_test[:8], y_test[:8]


def test_predict_images_takes_pil_images_arrays_and_paths(digits, tmp_path):
    x, y = digits
    path = tmp_path / "three.png"
    Image.fromarray(x[3]).save(path)
    rgb = np.dstack([255 - x[4]] * 3)  # dark ink on white, colour
    items = [Image.fromarray(x[0]), x[1], x[2].astype(np.float64) / 255, path, rgb, tmp_path / "missing.png"]
    records = predict_images(items)
    assert [r["path"] for r in records] == [
        "<image 0>",
        "<image 1>",
        "<image 2>",
        str(path),
        "<image 4>",
        str(tmp_path / "missing.png"),
    ]
    assert [r["digit"] for r in records[:5]] == [int(d) for d in y[:5]]
    assert all(r["status"] == "ok" and 0.5 < r["confidence"] <= 1.0 for r in records[:5])
    assert records[5]["status"] == "error" and records[5]["error_kind"] == "vanished"
    assert list(records[0]) == list(PredictOptions().columns())


def test_predict_images_gives_the_same_records_as_the_folder_scorer(digits, tmp_path):
    x, _ = digits
    for i, digit in enumerate(x):
        Image.fromarray(digit).save(tmp_path / f"{i}.png")
    from_folder = list(predict_folder(tmp_path, workers=0))
    in_memory = predict_images([tmp_path / f"{i}.png" for i in range(len(x))])
    assert [r["digit"] for r in in_memory] == [r["digit"] for r in from_folder]
    np.testing.assert_allclose([r["confidence"] for r in in_memory], [r["confidence"] for r in from_folder], rtol=1e-6)


def test_predict_images_refuses_what_is_not_an_image():
    with pytest.raises(TypeError, match="item 1: expected a PIL image, a NumPy array or a path, got int"):
        predict_images([np.zeros((28, 28), np.uint8), 7])
    with pytest.raises(TypeError, match=r"item 0: cannot use an array of shape \(2, 2, 7\)"):
        predict_images([np.zeros((2, 2, 7), np.uint8)])


def test_a_blank_image_is_a_blank_record():
    [record] = predict_images([np.full((40, 40), 255, np.uint8)])
    assert record["status"] == "ok" and record["blank"] is True and record["digit"] is None


def test_predict_folder_from_a_script_without_a_main_guard(digits, tmp_path):
    """onnxruntime already loaded makes fork unsafe; spawned workers would re-run the script."""
    x, _ = digits
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, digit in enumerate(x):
        Image.fromarray(digit).save(folder / f"{i}.png")
    script = tmp_path / "score.py"
    script.write_text(
        textwrap.dedent(f"""
        import onnxruntime
        from toolkit.predict import predict_folder

        print("start")
        records = list(predict_folder({str(folder)!r}, workers=2))
        print("records", len(records), sum(r["status"] == "ok" for r in records))
    """)
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["start", f"records {len(x)} {len(x)}"]
    assert "RuntimeError" not in done.stderr


# --- options: the keywords are PredictOptions' fields, with its defaults ------------------------------------


def test_api_keywords_and_defaults_are_predict_options():
    import dataclasses
    import inspect

    declared = {f.name: f.default for f in dataclasses.fields(PredictOptions)}
    folder = inspect.signature(predict_folder).parameters
    assert {name: p.default for name, p in folder.items() if name in declared} == declared
    assert list(folder)[:3] == ["inputs", "model", "engine"] and folder["engine"].default == "local"
    images = inspect.signature(predict_images).parameters
    assert {name: p.default for name, p in images.items() if name != "images"} == {
        name: declared[name] for name in ("model", "top_k", "min_confidence", "multi_digit")
    }
    assert "chunk_size=64: Files per task sent to a decode worker." in predict_folder.__doc__


def test_predict_folder_scores_with_the_declared_defaults(monkeypatch):
    from toolkit.predict import runner

    seen = []

    def fake_setup(inputs, options, engine, *rest, **kwargs):
        seen.append((inputs, options, engine))
        raise RuntimeError("stop here")

    monkeypatch.setattr(runner, "setup", fake_setup)
    with pytest.raises(RuntimeError, match="stop here"):
        next(predict_folder("scans"))
    assert seen == [(["scans"], PredictOptions(), "local")]
    with pytest.raises(RuntimeError, match="stop here"):
        next(predict_folder(["a", "b"], "m.onnx", engine="ray", include="*.png", workers=0))
    assert seen[-1] == (["a", "b"], PredictOptions(model="m.onnx", include=("*.png",), workers=0), "ray")


def test_a_misspelt_keyword_fails_at_the_call():
    with pytest.raises(TypeError, match="unexpected keyword argument 'worker'"):
        predict_folder("scans", worker=2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'workers'"):
        predict_images([], workers=2)  # images are scored in this process


def test_bad_options_are_named_as_python_keywords(tmp_path):
    from toolkit.errors import UsageError

    with pytest.raises(UsageError, match=r"^top_k must be between 0 and 10, got 11$"):
        next(predict_folder(tmp_path, top_k=11))
    with pytest.raises(
        UsageError, match=r"^top_k ranks the classes of one digit; it does not combine with multi_digit$"
    ):
        predict_images([np.zeros((28, 28), np.uint8)], top_k=3, multi_digit=True)


def test_run_is_the_runner_itself():
    import toolkit.predict
    from toolkit.predict import runner

    assert toolkit.predict.run is runner.run


def test_api_errors_name_keywords_not_flags(tmp_path):
    from toolkit.errors import ModelKindError, UsageError

    with pytest.raises(UsageError, match=r"^top_k must be between 0 and 10, got 11$"):
        list(predict_folder(tmp_path, top_k=11))
    with pytest.raises(UsageError, match=r"^min_confidence must be between 0 and 1, got 2.0$"):
        predict_images([np.zeros((28, 28), np.uint8)], min_confidence=2.0)
    missing = tmp_path / "nope.onnx"
    with pytest.raises(ModelKindError) as caught:
        list(predict_folder(tmp_path, model=missing))
    assert str(caught.value) == f"model={missing}: no such file or folder; predict needs an ONNX model (.onnx)"
    with pytest.raises(ModelKindError) as caught:
        predict_images([np.zeros((28, 28), np.uint8)], model=missing)
    assert str(caught.value).startswith(f"model={missing}: ")


@pytest.mark.parametrize(
    "size",
    [
        (300, 220),
        (1500, 1100),
        pytest.param((2339, 1654), marks=pytest.mark.slow),
        pytest.param((2600, 1700), marks=pytest.mark.slow),
    ],
)
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_the_same_pixels_read_the_same_from_a_file_and_from_memory(digits, tmp_path, size, mode):
    """Files and in-memory images take one path: the same reduction of a large image and the same grey, so
    the same tensors (pages and colour forms once read differently)."""
    from toolkit.imaging import normalise
    from toolkit.predict import decode

    rng = np.random.default_rng(sum(size))
    height, width = size
    sheet = rng.normal(225, 4, (height, width, 3)).clip(0, 255)
    digit = np.asarray(Image.fromarray(255 - digits[0][3]).resize((90, 90), Image.Resampling.BILINEAR), np.float64)
    sheet[height // 3 : height // 3 + 90, width // 2 : width // 2 + 90] *= (digit / 255.0)[..., None]
    sheet[..., 2] *= 0.8  # a colour cast: grey conversions differ on colours
    image = Image.fromarray(sheet.astype(np.uint8)).convert(mode)
    path = tmp_path / "page.png"
    image.save(path)
    for multi_digit in (False, True):
        from_file = decode.prepare_path(str(path), multi_digit=multi_digit)[0]
        from_memory = normalise.prepare(image, multi_digit)
        assert from_file.error is None
        np.testing.assert_array_equal(from_file.tensor, from_memory.tensor)
        assert from_file.flags == from_memory.flags
    file_record, memory_record = predict_images([path, image])
    assert file_record["digit"] == memory_record["digit"] == digits[1][3]
    assert file_record["confidence"] == memory_record["confidence"]


def test_colour_arrays_of_sixteen_bits_or_floats_in_either_range_are_read(mnist_test):
    """An H x W x 3 uint16 array, which the docstring accepts, raised TypeError (Pillow has no 16-bit colour
    mode); float colour in 0..255 was clipped to [0, 1], all white, and read as some digit. Colour arrays now
    take the ranges grey ones do."""
    from toolkit.predict import predict_images

    x, y = mnist_test
    paper = (255 - x[0]).astype(np.float64)  # dark ink on white
    forms = [
        np.dstack([paper] * 3).astype(np.uint16) * 257,
        np.dstack([paper] * 3),
        np.dstack([paper / 255] * 3),
        paper,
    ]
    assert [r["digit"] for r in predict_images(forms)] == [y[0]] * 4
