"""What exports are judged against: the reference outputs on a set of images, and where they came from.

A reference comes from a Keras model (TensorFlow runs it), from an export (`parity A.onnx B.tflite`: the first is
the reference), or from a golden file saved earlier (`--save-reference`, `--reference`, and a cache keyed by the
model's sha256 and the images' digest), so that a second run, or a CI job with only onnxruntime, checks exports
without TensorFlow. The images are the 10,000 MNIST test images, a seeded stratified subset of them (`--limit`),
or the user's own images through predict's normaliser (`--images`: no labels, so no accuracy checks).

A golden file is a NumPy .npz: the outputs, the MNIST test indices (or the images themselves when they are the
user's), the labels where known, and a JSON header (source, its sha256, the Keras weights' digest, the data).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import data, fsutil
from toolkit.errors import ModelLoadError, UsageError

GOLDEN_VERSION = 1
MNIST_TEST = "mnist-test"


@dataclass(frozen=True)
class Images:
    """The images exports are run on: float32 [N,28,28,1] in [0,1], labels where known, and what they are."""

    tensors: np.ndarray
    labels: np.ndarray | None
    description: str  # "mnist-test", "mnist-test limit=500 seed=0", "images DIR"
    indices: np.ndarray | None = None  # positions in the MNIST test set, when taken from it

    @property
    def digest(self) -> str:
        return data.array_digest(self.tensors)[:16]


@dataclass(frozen=True)
class Reference:
    """Reference outputs [N,10] on `images`, and their provenance."""

    outputs: np.ndarray
    images: Images
    source: str  # the model, export or golden file they came from
    sha256: str = ""  # the source model file's
    weights: str = ""  # the Keras weights' digest (kerasmodel.weights_digest), when known
    keras: Any = field(default=None, compare=False, repr=False)  # the loaded Keras model, when one was loaded


def stratified(labels: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Indices of `count` images spread evenly over the labels (as far as each label has images), chosen with
    `seed`, in ascending order: the same call always picks the same images."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    share = np.full(len(classes), count // len(classes))
    share[: count % len(classes)] += 1
    chosen = []
    for cls, n in zip(classes, share, strict=True):
        members = np.flatnonzero(labels == cls)
        chosen.append(rng.choice(members, size=min(n, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


def mnist_images(limit: int | None = None, seed: int = 0) -> Images:
    """The MNIST test images, all of them or a stratified subset of `limit`."""
    _, (x_test, y_test) = data.load_mnist()
    if limit is None or limit >= len(x_test):
        return Images(data.to_model_input(x_test), y_test, MNIST_TEST)
    if limit < 10:
        raise UsageError(f"--limit must be at least 10 (one image a digit), got {limit}")
    indices = stratified(y_test, limit, seed)
    return Images(
        data.to_model_input(x_test[indices]), y_test[indices], f"{MNIST_TEST} limit={limit} seed={seed}", indices
    )


def folder_images(folder: Path) -> Images:
    """The user's own images under `folder`, through predict's decoder and normaliser (no labels)."""
    from toolkit.predict.decode import prepare_path
    from toolkit.predict.walk import Walker

    tensors: list[np.ndarray] = []
    for found in Walker([str(folder)]):
        tensors.extend(item.tensor for item in prepare_path(found.path) if item.tensor is not None and not item.blank)
    if not tensors:
        raise UsageError(f"--images {folder}: no image with a digit found; name a folder of digit images")
    return Images(np.stack(tensors)[..., None].astype(np.float32), None, f"images {folder}")


def cache_path(sha256: str, images: Images) -> Path:
    """Where the golden outputs of the model with `sha256` on `images` are cached."""
    return data.home() / "parity" / f"{sha256[:32]}-{images.digest}.npz"


def save(reference: Reference, path: Path) -> Path:
    """Write `reference` as a golden file (atomically)."""
    header = {
        "version": GOLDEN_VERSION,
        "source": reference.source,
        "sha256": reference.sha256,
        "weights": reference.weights,
        "images": reference.images.description,
        "images_digest": reference.images.digest,
    }
    arrays: dict[str, np.ndarray] = {"outputs": reference.outputs, "header": np.array(json.dumps(header))}
    if reference.images.indices is not None or reference.images.description == MNIST_TEST:
        n = len(reference.images.tensors)
        arrays["indices"] = reference.images.indices if reference.images.indices is not None else np.arange(n)
    else:
        arrays["images"] = reference.images.tensors
    if reference.images.labels is not None:
        arrays["labels"] = reference.images.labels
    with fsutil.atomic_open(path) as (fh, _):
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
    return Path(path)


def load(path: Path) -> Reference:
    """A golden file written by `save`; ModelLoadError in one line for anything else."""
    try:
        with np.load(path, allow_pickle=False) as golden:
            header = json.loads(str(golden["header"]))
            outputs = golden["outputs"]
            labels = golden["labels"] if "labels" in golden else None
            if "indices" in golden:
                indices = golden["indices"]
                _, (x_test, _) = data.load_mnist()
                tensors = data.to_model_input(x_test[indices])
            else:
                indices, tensors = None, golden["images"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path}: not a parity reference written by --save-reference ({exc})") from None
    if header.get("version") != GOLDEN_VERSION or len(outputs) != len(tensors):
        raise ModelLoadError(f"{path}: a parity reference of another version or damaged; save it again")
    images = Images(tensors, labels, header["images"], indices)
    if images.digest != header.get("images_digest"):
        raise ModelLoadError(f"{path}: its images are not the ones it was saved with (another MNIST?); save it again")
    return Reference(outputs, images, str(path), header.get("sha256", ""), header.get("weights", ""))


def cached(sha256: str, images: Images) -> Reference | None:
    """The cached golden outputs for this model and images, if a run made them before."""
    path = cache_path(sha256, images)
    if not path.is_file():
        return None
    try:
        reference = load(path)
    except ModelLoadError:
        return None  # a damaged cache entry is made again
    return reference if reference.sha256 == sha256 else None


def from_keras(model_path: Path, images: Images, sha256: str) -> Reference:
    """Run the Keras model (TensorFlow) on `images`: outputs in contract form (after the softmax an export
    adds to logits), and the weights' digest for provenance."""
    from toolkit import runtimes
    from toolkit.kerasmodel import as_contract, weights_digest
    from toolkit.parity.outputs import keras_outputs

    model = runtimes.load_keras_model(model_path)
    served, _ = as_contract(model, model_path)
    outputs = keras_outputs(served, model_path, sha256, images.tensors)
    return Reference(outputs, images, str(model_path), sha256, weights_digest(model), keras=model)


def from_export(path: Path, images: Images) -> Reference:
    """An export's outputs as the reference (export against export, no Keras model)."""
    from toolkit import runtimes
    from toolkit.parity.provenance import recorded_weights
    from toolkit.parity.rules import BATCH_SIZE

    runtime = runtimes.load(path, "parity", "MODEL ")
    outputs = runtime.predict(images.tensors, batch_size=BATCH_SIZE, with_not_digit=True)
    return Reference(
        outputs, images, str(path), data.sha256_file(path) if path.is_file() else "", recorded_weights(runtime) or ""
    )


def keep_in_cache(reference: Reference) -> None:
    """Cache a Keras reference for the next run; a cache that cannot be written costs only speed."""
    if reference.keras is None or not reference.sha256:
        return
    try:
        os.makedirs(cache_path(reference.sha256, reference.images).parent, exist_ok=True)
        save(reference, cache_path(reference.sha256, reference.images))
    except OSError:
        pass


def choose_images(limit: int | None, seed: int, folder: Path | None) -> Images:
    """The images a new reference is made on: the user's (`folder`), or MNIST's test set (all, or `limit`)."""
    if folder is not None:
        if limit is not None:
            raise UsageError("--limit takes a subset of the MNIST test set; it does not combine with --images")
        return folder_images(folder)
    return mnist_images(limit, seed)


def resolve(
    source: Path,
    kind: str,
    *,
    saved: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    folder: Path | None = None,
) -> Reference:
    """The reference for `source` (a Keras model, an export, or a golden file: `kind` "keras", "export" or
    "golden"): a golden file as it is (`saved`, given with --reference, must come from this Keras model); else
    the cached golden outputs of this model on these images; else the model (or export) run now."""
    if kind == "golden" or saved is not None:
        if limit is not None or folder is not None:
            raise UsageError("a saved reference brings its own images; drop --limit and --images")
        if kind == "export":  # the saved outputs would stand in for MODEL unchecked: an export is its own reference
            raise UsageError(
                f"--reference goes with a Keras MODEL (it stands in for running it); {source} is an export: "
                "give the Keras model as MODEL, or the saved reference itself"
            )
        golden = load(source if kind == "golden" else saved)  # type: ignore[arg-type]
        if kind == "keras" and golden.sha256 != data.sha256_file(source):
            raise UsageError(f"--reference {saved} was saved from another model than {source}; save it again")
        return golden
    images = choose_images(limit, seed, folder)
    if kind == "export":
        return from_export(source, images)
    sha256 = data.sha256_file(source)
    reference = cached(sha256, images)
    if reference is None:
        reference = from_keras(source, images, sha256)
        keep_in_cache(reference)
    return reference
