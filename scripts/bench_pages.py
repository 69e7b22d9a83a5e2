"""Benchmark reading scans nobody here drew, against the reading issue's targets, on three renderers of the same
conditions written apart from the pipeline and from each other:

- A, the tuning renderer (`scripts/render_scans_a.py`, MNIST training digits, seed 4242): what the pipeline
  was tuned on;
- B, the held-out renderer (`scripts/render_scans_b.py`, MNIST test digits, seed 777): for reporting only,
  never tuned on;
- C, a second held-out renderer (`scripts/render_scans_c.py`, MNIST test digits, seed 31337), written
  apart from the pipeline and from A and B: for reporting only.

1. Reading, per renderer and kind (`scripts/score_truth.py`, through `predict`): single digits on pages,
   digits in form boxes, phone photos, numbers of 2-12 digits with touching gaps (--multi-digit), blank sheets;
   the share read right, wrong but unflagged, and flagged among the right reads, against TARGETS.
2. Time per image on one core, decode included (the predict worker's own path, `decode.prepare_path`), medians:
   200 dpi A4 PNG pages and 12 MP JPEG photos, against their targets.
3. Single-digit speed: the normalisation CPU time per file on MNIST PNGs and scan renderings
   (`scripts/bench_predict.py`'s sets), this tree's normaliser against the one at --baseline (a git
   revision), alternated, medians; and a check that both give the same tensors (the page logic must leave
   small images alone).

    python scripts/bench_pages.py [--count 60] [--baseline 87ecc52] [--json FILE] [--skip reading timing speed]
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RENDERERS = {
    "A (tuning)": ("render_scans_a", 4242),
    "B (held-out)": ("render_scans_b", 777),
    "C (held-out)": ("render_scans_c", 31337),
}
# kind: least share read right; every kind also: wrong but unflagged <= 1%, flagged among right <= 5%.
TARGETS = {"pages": 0.99, "forms": 0.97, "photos": 0.90, "numbers": 0.93, "blanks": 0.99}
WRONG_UNFLAGGED, FLAGGED_RIGHT = 0.01, 0.05
PAGE_MS, PHOTO_MS = 150.0, 250.0  # one core, decode included, medians


def reading(args) -> dict:
    """Render each renderer's set (reused when present) and score it per kind."""
    import score_truth

    out = {}
    for name, (module, seed) in RENDERERS.items():
        folder = args.folder / f"{module}-{seed}-{args.count}"
        if not (folder / "truth.csv").is_file():
            importlib.import_module(module).main([str(folder), "--count", str(args.count), "--seed", str(seed)])
        figures = score_truth.score(folder, args.model)
        for kind, f in figures.items():
            f["target"] = TARGETS.get(kind)
            f["met"] = (
                f["right"] >= TARGETS.get(kind, 0)
                and f["wrong_unflagged"] <= WRONG_UNFLAGGED
                and f["flagged_among_right"] <= FLAGGED_RIGHT
            )
        out[name] = {"folder": str(folder), "seed": seed, "kinds": figures}
    return out


def timing(args, folders: list[Path]) -> dict:
    """Median CPU milliseconds per image (decode and normalise, one core) of the PNG pages and JPEG photos among
    the renderings: the predict worker's own call, in this process, one OpenCV thread."""
    import cv2
    from PIL import Image

    from toolkit.predict import decode

    cv2.setNumThreads(1)
    sets: dict[str, list[Path]] = {"A4 page PNG": [], "12 MP photo JPEG": []}
    for folder in folders:
        for path in sorted((folder / "pages").glob("*.png")):
            with Image.open(path) as image:
                if max(image.size) >= 2200:  # about 200 dpi on A4 or letter
                    sets["A4 page PNG"].append(path)
        for path in sorted((folder / "photos").glob("*.jpg")):
            with Image.open(path) as image:
                if image.size[0] * image.size[1] >= 11_000_000:
                    sets["12 MP photo JPEG"].append(path)
    out = {}
    for name, paths in sets.items():
        times = []
        for path in paths[: args.timed]:
            for _ in range(3):
                path.read_bytes()  # a warm file cache
                started = time.process_time()
                decode.prepare_path(str(path))
                times.append((time.process_time() - started) * 1000)
        limit = PAGE_MS if "page" in name else PHOTO_MS
        median = round(statistics.median(times), 1) if times else None
        out[name] = {"images": min(len(paths), args.timed), "median_ms": median, "target_ms": limit,
                     "met": median is not None and median <= limit}  # fmt: skip
    return out


def _baseline(revision: str):
    """The normaliser as it was at `revision` (`toolkit.imaging.normalise`, or `toolkit.preprocess` in trees
    older than the imaging package), imported from that revision's own `toolkit` package.

    The normaliser imports its siblings by absolute name, so the revision's package is extracted to a
    temporary folder and imported as `toolkit` while this tree's modules are set aside; they are put back
    afterwards, and the baseline keeps the modules it was bound to. Imports it makes inside a function would
    find this tree's modules: the single-digit scans of the speed check reach none."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "toolkit"], capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="toolkit-baseline-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        imaging = Path(folder, "toolkit", "imaging").is_dir()
        ours = {key: sys.modules.pop(key) for key in list(sys.modules) if _in_toolkit(key)}
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
        try:
            return importlib.import_module("toolkit.imaging.normalise" if imaging else "toolkit.preprocess")
        finally:
            sys.path.remove(folder)
            for key in [key for key in sys.modules if _in_toolkit(key)]:
                del sys.modules[key]
            sys.modules.update(ours)


def _in_toolkit(module: str) -> bool:
    return module == "toolkit" or module.startswith("toolkit.")


def speed(args) -> dict:
    """Normalisation CPU time per file on MNIST PNGs and on scan renderings (bench_predict's sets), this tree
    against --baseline, alternated."""
    from bench_predict import build_mnist, build_scans

    from toolkit.imaging import normalise

    before = _baseline(args.baseline)
    bench = Path(tempfile.gettempdir()) / "mnist-bench"
    sets = {
        "mnist-png": build_mnist(bench / f"mnist-png-{args.scans}", args.scans),
        "scans": build_scans(bench / f"scans-seed7-{args.scans}", args.scans, 7),
    }
    return {
        name: _speed(folder, before, normalise, args.repeat) | {"baseline": args.baseline}
        for name, folder in sets.items()
    }


def _speed(folder: Path, before, after, repeat: int) -> dict:
    from toolkit.predict import decode

    decoded = []
    for path in sorted(folder.iterdir()):
        source = decode.read_file(str(path))
        pixels = decode.decode_fast(source.getvalue())
        if pixels is None:
            pixels = decode.open_image(source)
            pixels.load()
        decoded.append(pixels)

    def run(module) -> tuple[float, list]:
        started = time.process_time()
        results = [module.prepare_array(p) if isinstance(p, np.ndarray) else module.prepare(p) for p in decoded]
        return (time.process_time() - started) / len(decoded) * 1e6, results

    # Alternated, the order flipping each round, and compared round by round: a slow spell of a shared
    # machine then hits both sides of a ratio.
    times: dict[str, list[float]] = {"before": [], "after": []}
    results: dict[str, list] = {}
    for round_ in range(repeat):
        order = (("before", before), ("after", after))
        for name, module in order if round_ % 2 == 0 else order[::-1]:
            seconds, results[name] = run(module)
            times[name].append(seconds)
    same = sum(
        np.array_equal(a.tensor, b.tensor) and a.blank == b.blank
        for a, b in zip(results["before"], results["after"], strict=True)
    )
    ratios = [a / b for a, b in zip(times["after"], times["before"], strict=True)]
    return {
        "files": len(decoded),
        "normalise_us_before": round(statistics.median(times["before"]), 1),
        "normalise_us_after": round(statistics.median(times["after"]), 1),
        "after_over_before": round(statistics.median(ratios), 3),
        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "identical_tensors": f"{same}/{len(decoded)}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=60, help="renderings of each kind, per renderer")
    parser.add_argument("--timed", type=int, default=20, help="images of each timed set")
    parser.add_argument("--scans", type=int, default=10000, help="scan renderings for the speed check")
    parser.add_argument("--repeat", type=int, default=5, help="alternated runs of each normaliser; medians")
    parser.add_argument("--baseline", default="87ecc52", help="git revision of the normaliser to compare with")
    parser.add_argument("--model", type=Path, help="ONNX model (default: the shipped reference model)")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "mnist-reading")
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    parser.add_argument("--skip", nargs="*", default=(), choices=("reading", "timing", "speed"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "scripts"))

    results: dict = {"cpus": os.cpu_count(), "model": str(args.model or "the reference model")}
    started = time.perf_counter()
    if "reading" not in args.skip:
        results["reading"] = reading(args)
        print(f"{'renderer':14} {'kind':8} {'right':>7} {'target':>7} {'wrong-unflagged':>16} {'flagged-right':>14}")
        for name, r in results["reading"].items():
            for kind, f in r["kinds"].items():
                print(
                    f"{name:14} {kind:8} {f['right']:7.1%} {f['target'] or 0:7.0%} {f['wrong_unflagged']:16.1%} "
                    f"{f['flagged_among_right']:14.1%}  {'met' if f['met'] else 'MISSED'}"
                )
    if "timing" not in args.skip:
        folders = [Path(r["folder"]) for r in results.get("reading", {}).values()] or [
            args.folder / f"{module}-{seed}-{args.count}" for module, seed in RENDERERS.values()
        ]
        results["timing"] = timing(args, folders)
        for name, t in results["timing"].items():
            print(f"{name}: {t['median_ms']} ms median over {t['images']} (target {t['target_ms']:.0f} ms, one core)")
    if "speed" not in args.skip:
        results["speed"] = speed(args)
        print(
            f"Single-digit normalisation, CPU per file, this tree against {args.baseline} (medians of "
            f"{args.repeat} alternated rounds):"
        )
        for name, v in results["speed"].items():
            low, high = v["ratio_range"]
            print(
                f"  {name:10} {v['normalise_us_before']:6.1f} us before, {v['normalise_us_after']:6.1f} us now:"
                f" after/before {v['after_over_before']:.3f} (rounds {low:.3f}-{high:.3f}); identical tensors "
                f"{v['identical_tensors']}"
            )
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
