"""Render artifacts/samples/: scan-like images of MNIST test digits, the true label in each file name.

Four of each digit (the first four of that digit in the MNIST test set), cycling through the rendering styles
of `toolkit.scans` (8-bit PNG, JPEG, TIFF, BMP, 16-bit PNG, RGBA PNG). Deterministic: the same seed gives
the same files, so the folder can be regenerated and diffed.

    python scripts/make_samples.py [--out artifacts/samples] [--per-digit 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from toolkit import data, scans

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "samples")
    parser.add_argument("--per-digit", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    (_, _), (x_test, y_test) = data.load_mnist()
    indices = sorted(int(i) for d in range(10) for i in np.flatnonzero(y_test == d)[: args.per_digit])
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("sample-*"):
        stale.unlink()
    paths = scans.write_scans(x_test, y_test, args.out, seed=args.seed, indices=indices, prefix="sample")
    print(f"wrote {len(paths)} scan-like samples to {args.out}")


if __name__ == "__main__":
    main()
