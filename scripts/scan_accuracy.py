"""Accuracy of an ONNX model on scan-like renderings of the MNIST test set, through the whole predict
pipeline (files on disk, decoding, normalisation, scoring), and on the MNIST test arrays themselves.

    python scripts/scan_accuracy.py --model toolkit/models/reference.onnx [--count 10000] [--json out.json]

The renderings (see `toolkit.scans`: dark ink on light paper, 40-200 px, off-centre, rotated up to 10
degrees, noisy, as PNG/JPEG/TIFF/BMP/16-bit PNG/RGBA PNG) are written once to --folder and reused.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from toolkit import data, scans
    from toolkit.onnxmodel import OnnxModel

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "toolkit/models/reference.onnx")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "mnist-scans")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    (_, _), (x_test, y_test) = data.load_mnist()
    probabilities = OnnxModel(args.model).score(data.to_model_input(x_test)[..., 0])
    mnist_accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
    folder = args.folder / f"seed{args.seed}-{args.count}"
    result = scans.scan_accuracy(args.model, folder, count=args.count, seed=args.seed)
    report = {
        "model": str(args.model),
        "mnist_test_accuracy": round(mnist_accuracy, 5),
        "scan_accuracy": round(result.accuracy, 5),
        "scan": result.as_dict(),
        "seed": args.seed,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
