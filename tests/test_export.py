"""export: every format for every zoo model, the ONNX interface and metadata, the opset sweep, the manifest,
atomic output, and refusal of models that carry code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from toolkit import contract, zoo
from toolkit.errors import ExportError, UsageError
from toolkit.export import DEFAULT_FORMATS, FLOAT_FORMATS, FORMATS, OPSETS, parse_formats

ZOO = list(zoo.ZOO)


# --- fast unit tests ----------------------------------------------------------------------------------


def test_parse_formats_orders_and_validates():
    assert parse_formats("tflite, onnx") == ("onnx", "tflite")
    assert parse_formats(["onnx-int8", "savedmodel"]) == ("savedmodel", "onnx-int8")
    assert parse_formats(",".join(FORMATS)) == FORMATS
    assert DEFAULT_FORMATS == ("onnx", "savedmodel")
    with pytest.raises(UsageError, match="unknown export format 'pt'"):
        parse_formats("onnx,pt")
    with pytest.raises(UsageError, match="empty"):
        parse_formats(" , ")


def test_contract_round_trips_through_metadata():
    written = contract.ModelContract(
        architecture="cnn3",
        source_sha256="ab" * 32,
        source_test_accuracy=0.99123,
        toolkit_version="0.1.0",
        quantization=contract.QUANT_INT8,
    )
    read = contract.read_contract(written.to_metadata())
    assert read == written
    assert read.scale_factor == pytest.approx(1 / 255)
    assert read.labels == tuple("0123456789")
    with pytest.raises(Exception, match="no mnist-toolkit contract"):
        contract.read_contract({"source": "elsewhere"})


def test_unsupported_op_is_named_with_its_keras_layer():
    from onnx import TensorProto, helper

    from toolkit.export.onnx import layer_for, unsupported_ops

    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["image"], ["a"], name="m_1/dense_1/Relu"),
            helper.make_node("BesselI0e", ["a"], ["probabilities"], name="m_1/odd_layer_1/BesselI0e"),
        ],
        "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 10])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 10])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert unsupported_ops(proto) == [("BesselI0e", "m_1/odd_layer_1/BesselI0e")]
    assert layer_for("m_1/odd_layer_1/BesselI0e", ["dense", "odd_layer", "odd"]) == "odd_layer"
    assert layer_for("m_1/dense_1/Relu", ["dense", "dense_1"]) == "dense_1"


# --- the staged folder, the manifest, the int8 figures (no TensorFlow) ----------------------------------


def test_a_staged_folder_moves_into_place_only_when_the_block_succeeds(tmp_path):
    from toolkit.export.build import check_out, staged

    out = tmp_path / "out"
    with staged(out, force=False) as folder:
        assert folder.parent == tmp_path and folder.name.startswith(".out.part-")
        (folder / "a.onnx").write_bytes(b"a")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (out / "a.onnx").read_bytes() == b"a"
    with pytest.raises(UsageError, match="already exists and is not empty; pass --force"):
        check_out(out, force=False)
    with pytest.raises(RuntimeError, match="conversion failed"), staged(out, force=True) as folder:
        (folder / "b.onnx").write_bytes(b"b")
        raise RuntimeError("conversion failed")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and [p.name for p in out.iterdir()] == ["a.onnx"]
    with staged(out, force=True) as folder:
        (folder / "c.onnx").write_bytes(b"c")
    assert [p.name for p in out.iterdir()] == ["c.onnx"]  # replaced whole, nothing of the old folder left
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file; it must be a folder"):
        check_out(tmp_path / "file", force=True)
    # Under a file: refused as a usage error before any work, not found out when the folder is made.
    with pytest.raises(UsageError, match=r"--out .*file/sub/x: .*file is a file, not a folder; choose another"):
        check_out(tmp_path / "file" / "sub" / "x", force=False)


def test_manifest_describes_every_file_and_the_int8_figures(tmp_path):
    from toolkit.data import sha256_file
    from toolkit.export import ExportedFile, Int8Summary, Source, file_names
    from toolkit.export.manifest import describe_files, manifest_payload, tree_digest, write_manifest

    names = file_names("m")
    staged_folder, out = tmp_path / "staged", tmp_path / "out"
    (staged_folder / names["savedmodel"] / "1").mkdir(parents=True)
    (staged_folder / names["savedmodel"] / "1" / "saved_model.pb").write_bytes(b"graph")
    (staged_folder / names["onnx"]).write_bytes(b"onnx")
    built = {"onnx": staged_folder / names["onnx"], "savedmodel": staged_folder / names["savedmodel"]}
    source = Source(tmp_path / "m.keras", "ab" * 32, "mlp256")
    made = contract.ModelContract(
        architecture="mlp256", source_sha256=source.sha256, source_test_accuracy=0.9, toolkit_version="9.9"
    )
    entries, files = describe_files(staged_folder, out, built, ("onnx", "savedmodel"), 17, made)
    assert [e["path"] for e in entries] == ["m.onnx", "m.savedmodel/1/saved_model.pb"]
    assert entries[0] == {
        "path": "m.onnx",
        "format": "onnx",
        "sha256": sha256_file(built["onnx"]),
        "size": 4,
        "opset": 17,
        "source_sha256": source.sha256,
        "toolkit_version": "9.9",
    }
    assert files == (
        ExportedFile("onnx", out / "m.onnx", 4, sha256_file(built["onnx"]), 17),
        ExportedFile("savedmodel", out / "m.savedmodel", 5, tree_digest(entries[1:]), None),
    )
    int8 = Int8Summary(out / names["onnx-int8"], 25, 100, 0.89, 0.9, 0.995, 512, ("softmax",))
    payload = manifest_payload(source, made, ("onnx", "savedmodel"), entries, serving_folder="m.savedmodel", int8=int8)
    assert payload["source"] == {
        "file": "m.keras",
        "sha256": source.sha256,
        "weights_sha256": "",
        "architecture": "mlp256",
        "test_accuracy": 0.9,
        "input": "[N,28,28,1]",
        "output": "softmax",
        "wrapper": "none",
    }
    assert payload["tensorflow_serving"] == {"model_base_path": "m.savedmodel", "signature": "serving_default"}
    assert payload["int8"]["file"] == "m.int8.onnx" and payload["int8"]["accuracy_drop_points"] == 1.0
    assert payload["int8"]["float_nodes"] == ["softmax"] and payload["int8"]["settings"]["method"] == "static"
    assert "tensorflow_serving" not in manifest_payload(source, made, ("onnx",), entries[:1])
    written = json.loads(write_manifest(tmp_path, payload).read_text())
    assert written["manifest_version"] == 1 and written["files"] == entries


def test_int8_figures_come_from_parity_scoring_the_file(onnx_model, tmp_path):
    from toolkit import parity, runtimes
    from toolkit.export import measure_int8
    from toolkit.export.quantize import QuantizeInfo

    images, labels = parity.labelled_test_images()
    images, labels = images[:1000], labels[:1000]
    reference = runtimes.load(onnx_model).predict(images)
    reference[:10] = np.roll(reference[:10], 1, axis=1)  # the "Keras model" disagrees on ten images
    info = QuantizeInfo(onnx_model, ("softmax",), 512, {})
    summary = measure_int8(info, 4 * onnx_model.stat().st_size, tmp_path / "out", images, labels, reference)
    scored = parity.score(runtimes.load(onnx_model), images, labels, reference)
    assert summary.argmax_agreement == scored.argmax_agreement == 0.99
    assert (summary.test_accuracy, summary.source_accuracy) == (scored.accuracy, scored.reference_accuracy)
    assert summary.path == tmp_path / "out" / onnx_model.name and summary.size_ratio == 0.25
    assert summary.calibration_images == 512 and summary.float_nodes == ("softmax",)


# --- refusals and atomic output -------------------------------------------------------------------------


def _tiny_model(path: Path, middle) -> Path:
    import keras

    inputs = keras.Input((28, 28, 1), name="image")
    x = middle(keras.layers.Flatten()(inputs))
    keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="probabilities")(x)).save(path)
    return path


def test_export_refuses_a_lambda_layer(cli, tmp_path):
    import keras

    model = _tiny_model(tmp_path / "lambda.keras", keras.layers.Lambda(lambda t: t * 2.0, name="double"))
    result = cli("export", model, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "layer 'double' is a Lambda layer" in result.stderr
    assert "safe_mode=False" not in result.stderr  # never suggest turning safe mode off
    assert not (tmp_path / "out").exists()


def test_export_refuses_a_custom_layer(cli, tmp_path):
    import keras

    @keras.saving.register_keras_serializable(package="tests")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    model = _tiny_model(tmp_path / "custom.keras", Doubler(name="doubler"))
    result = cli("export", model, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "layer 'doubler' is a custom layer class 'tests>Doubler'" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_failed_conversion_leaves_nothing_behind(mlp_model, tmp_path, monkeypatch):
    import toolkit.export.tflite as tflite
    from toolkit.export import export

    def broken(*args, **kwargs):
        raise ExportError("TensorFlow's TFLite converter failed: 'tfl.fancy' op is neither a custom op nor a flex op")

    monkeypatch.setattr(tflite, "export_tflite", broken)
    with pytest.raises(ExportError, match="tfl.fancy"):
        export(mlp_model, "savedmodel,tflite", tmp_path / "out")
    assert list(tmp_path.iterdir()) == []  # neither `out` nor a half-built temp folder


@pytest.mark.slow
def test_an_op_tf2onnx_cannot_convert_fails_the_export_naming_the_layer(cli, mlp_model, tmp_path, monkeypatch):
    import tf2onnx
    from onnx import TensorProto, helper

    def unconvertible(*args, **kwargs):  # what tf2onnx returns when it meets an op it has no handler for
        graph = helper.make_graph(
            [helper.make_node("BesselI0e", ["image"], ["probabilities"], name="mlp256_1/probabilities_1/BesselI0e")],
            "g",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 28, 28, 1])],
            [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 10])],
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), None

    monkeypatch.setattr(tf2onnx.convert, "from_function", unconvertible)
    result = cli("export", mlp_model, "--format", "savedmodel,onnx", "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "layer 'probabilities' uses TensorFlow op 'BesselI0e', which tf2onnx cannot convert" in result.stderr
    assert list(tmp_path.iterdir()) == []  # the SavedModel built before the failure went too


@pytest.mark.slow
def test_export_cli_all_formats_then_refuses_to_overwrite(cli, mlp_model, tmp_path):
    out = tmp_path / "exports"
    result = cli("export", mlp_model, "--format", "onnx,savedmodel,tflite,onnx-int8", "--out", out)
    assert result.exit_code == 0, result.output
    assert "int8 ONNX:" in result.stdout and "argmax agreement" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "mlp256.int8.onnx",
        "mlp256.onnx",
        "mlp256.savedmodel",
        "mlp256.tflite",
    ]
    again = cli("export", mlp_model, "--out", out)
    assert again.exit_code == 2 and "--force" in again.stderr
    forced = cli("export", mlp_model, "--out", out, "--force")
    assert forced.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "mlp256.onnx", "mlp256.savedmodel"]


def test_export_cli_usage_errors(cli, tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"not a model")
    for args, message in (
        (("--opset", "12"), "error: --opset must be at least 13, got 12; see 'mnist-toolkit export --help'"),
        (("--opset", "22"), "error: --opset must be at most 21, got 22; see 'mnist-toolkit export --help'"),
        (("--format", "onnx,caffe"), "unknown export format 'caffe'"),
    ):
        result = cli("export", model, "--out", tmp_path / "o", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
    assert not (tmp_path / "o").exists()


# --- the opset sweep ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlp_keras(mlp_model):
    from toolkit import data, runtimes

    model = runtimes.load_keras_model(mlp_model)
    _, (x_test, _) = data.load_mnist()
    images = data.to_model_input(x_test[:256])
    return model, images, model.predict(images, verbose=0)


@pytest.mark.slow
@pytest.mark.parametrize("opset", list(OPSETS))
def test_every_accepted_opset_converts_and_matches_keras(mlp_keras, tmp_path, opset):
    import onnx
    import onnxruntime as ort

    from toolkit.export.onnx import export_onnx

    model, images, expected = mlp_keras
    path = export_onnx(model, tmp_path / "m.onnx", contract=contract.ModelContract(architecture="mlp256"), opset=opset)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert {entry.domain: entry.version for entry in proto.opset_import}[""] == opset
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(["probabilities"], {"image": images})
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


# --- every zoo model, every format ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("arch", ZOO)
def test_onnx_exports_follow_the_contract(zoo_exports, trained_models, arch):
    import onnx

    from toolkit.data import sha256_file

    result = zoo_exports[arch]
    for fmt, quantization in (("onnx", contract.QUANT_NONE), ("onnx-int8", contract.QUANT_INT8)):
        proto = onnx.load(str(result.path(fmt)))
        onnx.checker.check_model(proto, full_check=True)
        (image,), outputs = proto.graph.input, proto.graph.output
        probabilities = outputs[0]
        assert image.name == "image" and probabilities.name == "probabilities"
        # cnn-lite has the optional not_digit output, second; every other network has the probabilities only.
        extra = ["not_digit"] if arch == "cnn-lite" else []
        assert [o.name for o in outputs] == ["probabilities", *extra]
        dims = [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim]
        assert dims == ["batch", 28, 28, 1]
        assert [d.dim_param or d.dim_value for d in probabilities.type.tensor_type.shape.dim] == ["batch", 10]
        assert image.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        meta = contract.read_contract({p.key: p.value for p in proto.metadata_props})
        assert (meta.layout, meta.size, meta.scale, meta.ink) == ("NHWC", "28x28", "1/255", "white-on-black")
        assert meta.architecture == arch and meta.quantization == quantization
        assert meta.not_digit_name == ("not_digit" if extra else None)
        assert meta.source_sha256 == sha256_file(trained_models[arch])
        assert meta.source_test_accuracy == pytest.approx(result.source_accuracy, abs=1e-6)
        assert meta.toolkit_version == contract.toolkit_version()
        assert {d.version for d in proto.opset_import if d.domain in ("", "ai.onnx")} == {17}
    assert result.int8.size < 0.4 * result.int8.float_size


@pytest.mark.slow
@pytest.mark.parametrize("arch", ZOO)
def test_savedmodel_is_servable_and_tflite_runs_on_litert(zoo_exports, arch):
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.core.protobuf import saved_model_pb2

    base = zoo_exports[arch].path("savedmodel")
    # TensorFlow Serving layout: <base>/<version>/saved_model.pb, a predict signature named serving_default
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((base / "1" / "saved_model.pb").read_bytes())
    (graph,) = proto.meta_graphs
    assert "serve" in graph.meta_info_def.tags
    signature = graph.signature_def["serving_default"]
    assert signature.method_name == "tensorflow/serving/predict"
    assert [d.size for d in signature.inputs["image"].tensor_shape.dim] == [-1, 28, 28, 1]
    assert [d.size for d in signature.outputs["probabilities"].tensor_shape.dim] == [-1, 10]
    outputs = ["not_digit", "probabilities"] if arch == "cnn-lite" else ["probabilities"]  # sorted by name
    assert sorted(signature.outputs) == outputs

    interpreter = Interpreter(model_path=str(zoo_exports[arch].path("tflite")))
    signatures = interpreter.get_signature_list()
    assert signatures == {"serving_default": {"inputs": ["image"], "outputs": signatures["serving_default"]["outputs"]}}
    assert sorted(signatures["serving_default"]["outputs"]) == outputs
    runner = interpreter.get_signature_runner("serving_default")
    out = runner(image=np.zeros((3, 28, 28, 1), np.float32))["probabilities"]
    assert out.shape == (3, 10) and np.allclose(out.sum(axis=1), 1, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ZOO)
def test_manifest_lists_every_file(zoo_exports, trained_models, arch):
    from toolkit.data import sha256_file

    result = zoo_exports[arch]
    manifest = json.loads(result.manifest.read_text())
    on_disk = sorted(
        p.relative_to(result.out).as_posix() for p in result.out.rglob("*") if p.is_file() and p.name != "manifest.json"
    )
    assert sorted(entry["path"] for entry in manifest["files"]) == on_disk
    source = sha256_file(trained_models[arch])
    assert manifest["source"]["sha256"] == source and manifest["source"]["architecture"] == arch
    for entry in manifest["files"]:
        path = result.out / entry["path"]
        assert entry["sha256"] == sha256_file(path) and entry["size"] == path.stat().st_size
        assert entry["source_sha256"] == source and entry["toolkit_version"] == manifest["toolkit_version"]
        assert entry["opset"] == (17 if entry["format"].startswith("onnx") else None)
    assert {entry["format"] for entry in manifest["files"]} == set(FORMATS)
    int8 = manifest["int8"]
    assert int8["size"] == (result.out / int8["file"]).stat().st_size
    assert int8["accuracy_drop_points"] == pytest.approx(
        100 * (manifest["source"]["test_accuracy"] - int8["test_accuracy"]), abs=1e-3
    )


@pytest.mark.slow
def test_evaluate_and_data_show_accept_every_exported_format(cli, zoo_exports, tmp_path):
    result = zoo_exports["mlp256"]
    for fmt in FORMATS:
        path = result.path(fmt)
        evaluated = cli("evaluate", path, "--no-plots", "--out", tmp_path / fmt)
        assert evaluated.exit_code == 0, evaluated.output
        accuracy = json.loads((tmp_path / fmt / "report.json").read_text())["accuracy"]
        assert accuracy == pytest.approx(result.source_accuracy, abs=1e-4 if fmt in FLOAT_FORMATS else 0.02)
        shown = cli("data", "show", "--model", path, "--count", "4", "--out", tmp_path / f"{fmt}.png")
        assert shown.exit_code == 0, shown.output
        assert (tmp_path / f"{fmt}.png").stat().st_size > 0
    # A TensorFlow Serving folder and its version folder both open as the SavedModel.
    assert cli("evaluate", result.path("savedmodel") / "1", "--no-plots", "--out", tmp_path / "v").exit_code == 0
