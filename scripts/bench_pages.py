"""Benchmark reading digits where they really are: single digits on whole pages, numbers in strips, and what
the page logic costs single-digit scans. Everything is measured in one run, through the predict pipeline
(files on disk, decoding, normalisation, scoring), with renderings of MNIST test digits (`toolkit.scans`)
drawn with a seed the segmenter was not tuned on.

1. Pages: one digit on an A4 sheet at 200 dpi (1654x2339, PNG or JPEG), 20-120 px tall, anywhere on the
   sheet, on paper of a random tone, lit unevenly, noisy, with dust. Accuracy by height (target: 98% for
   40 px and more), blanks and flags. Then forms: the same with a ruled header line and a box around the
   digit; phone photos (4000x3000, strong gradient and dark corners, a 150 px digit); and negatives: blank
   sheets (must come out blank) and sheets with only an empty form box (must not give a confident digit).
2. Strips: numbers of 2-6 digits, 20-120 px tall, gaps from -0.1 to 0.5 x the height (touching and
   overlapping digits included), baseline jitter, read with --multi-digit. Whole-string accuracy by height
   and by number of digits (target: 95%).
3. Single-digit speed: the normalisation CPU time per file on MNIST PNGs and scan renderings
   (`scripts/bench_predict.py`'s sets), this tree's normaliser against the one at --baseline (a git
   revision), alternated, medians; and a check that both give the same tensors (the page logic must leave
   small images alone).

    python scripts/bench_pages.py [--pages 100] [--strips 100] [--seed 11] [--baseline 87ecc52] [--json FILE]
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
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEIGHTS = (20, 30, 40, 60, 80, 120)


def _render(folder: Path, write, count: int, heights, seed: int, **options) -> Path:
    """`count` renderings per height into `folder` with `write` (scans.write_pages/write_strips), reused when
    the folder already holds them all."""
    from toolkit import data

    expected = count * len(heights)
    if folder.is_dir() and sum(1 for _ in os.scandir(folder)) == expected:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    (_, _), (x_test, y_test) = data.load_mnist()
    write(x_test, y_test, folder, count=count, heights=heights, seed=seed, **options)
    return folder


def _blank_pages(folder: Path, count: int, seed: int, box: bool) -> Path:
    """Sheets without a digit: empty paper (lit unevenly, noisy, with dust), or with an empty form box."""
    import cv2

    from toolkit import scans

    if folder.is_dir() and sum(1 for _ in os.scandir(folder)) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        rng = np.random.default_rng([seed, 999, n, int(box)])
        width, height = scans.A4_200DPI
        coverage = np.zeros((height, width), np.float32)
        if box:
            side = int(rng.integers(60, 300))
            left, top = int(rng.integers(100, width - 2 * side)), int(rng.integers(100, height - 2 * side))
            cv2.rectangle(
                coverage, (left, top), (left + int(side * rng.uniform(1, 2)), top + side), 1.0, int(rng.integers(1, 5))
            )
        gray, _ = scans.shade(cv2.GaussianBlur(coverage, (0, 0), 0.6), rng, tilt=0.06, noise=0.03, dust=0.8, specks=40)
        scans.styled(gray, 0.9, "png").save(folder / f"{'box' if box else 'blank'}-{n:04d}.png")
    return folder


def _score(folder: Path, model: Path | None, multi_digit: bool = False) -> list[dict]:
    from toolkit.predict import predict_folder

    return list(predict_folder([folder], model=model, multi_digit=multi_digit))


def pages(args, root: Path) -> dict:
    from toolkit import scans

    out: dict = {}
    plain = _render(root / f"pages-{args.seed}-{args.pages}", scans.write_pages, args.pages, HEIGHTS, args.seed)
    out["plain"] = _page_accuracy(_score(plain, args.model))
    forms = _render(
        root / f"forms-{args.seed}-{args.pages // 2}",
        scans.write_pages,
        args.pages // 2,
        (40, 80),
        args.seed + 1,
        header=True,
        box=True,
    )
    out["forms"] = _page_accuracy(_score(forms, args.model))
    photos = _render(
        root / f"photos-{args.seed}-{args.photos}",
        scans.write_pages,
        args.photos,
        (150,),
        args.seed + 2,
        size=scans.PHOTO,
        photo=True,
    )
    out["photos"] = _page_accuracy(_score(photos, args.model))
    blank = _blank_pages(root / f"blank-{args.seed}-{args.negatives}", args.negatives, args.seed, box=False)
    boxes = _blank_pages(root / f"boxes-{args.seed}-{args.negatives}", args.negatives, args.seed, box=True)
    for name, folder in (("blank_sheets", blank), ("empty_boxes", boxes)):
        records = _score(folder, args.model)
        confident = sum(1 for r in records if not r["blank"] and not r["low_confidence"] and not r["flags"])
        out[name] = {
            "pages": len(records),
            "blank": sum(1 for r in records if r["blank"]),
            "flagged": sum(1 for r in records if r["flags"]),
            "confident_digit": confident,
        }
    return out


def _page_accuracy(records: list[dict]) -> dict:
    from toolkit.scans import text_from_name

    by_height: dict[int, Counter] = {}
    flags: Counter = Counter()
    for r in records:
        name = Path(r["path"]).name
        height = int(name.split("-h")[1][:3])
        c = by_height.setdefault(height, Counter())
        c["pages"] += 1
        c["correct"] += r["digit"] is not None and str(r["digit"]) == text_from_name(name)
        c["blank"] += bool(r["blank"])
        c["errors"] += r["status"] == "error"
        flags.update((r["flags"] or "").split())
    return {
        "by_height": {
            h: {
                "pages": c["pages"],
                "accuracy": round(c["correct"] / c["pages"], 4),
                "blank": c["blank"],
                "errors": c["errors"],
            }
            for h, c in sorted(by_height.items())
        },
        "flags": dict(sorted(flags.items())),
    }


def strips(args, root: Path) -> dict:
    from toolkit import scans

    folder = _render(
        root / f"strips-{args.seed}-{args.strips}", scans.write_strips, args.strips, HEIGHTS, args.seed + 3
    )
    records = _score(folder, args.model, multi_digit=True)
    by_height: dict[int, Counter] = {}
    by_length: dict[int, Counter] = {}
    flags: Counter = Counter()
    for r in records:
        name = Path(r["path"]).name
        truth = scans.text_from_name(name)
        right = r["text"] == truth
        for key, table in ((int(name.split("-h")[1][:3]), by_height), (len(truth), by_length)):
            c = table.setdefault(key, Counter())
            c["strips"] += 1
            c["correct"] += right
        flags.update((r["flags"] or "").split())
    total = sum(c["correct"] for c in by_height.values()) / max(1, len(records))
    return {
        "strips": len(records),
        "accuracy": round(total, 4),
        "by_height": {h: round(c["correct"] / c["strips"], 4) for h, c in sorted(by_height.items())},
        "by_digits": {n: round(c["correct"] / c["strips"], 4) for n, c in sorted(by_length.items())},
        "flags": dict(sorted(flags.items())),
    }


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
    parser.add_argument("--pages", type=int, default=100, help="pages per digit height")
    parser.add_argument("--strips", type=int, default=100, help="strips per digit height")
    parser.add_argument("--photos", type=int, default=20, help="phone photos")
    parser.add_argument("--negatives", type=int, default=40, help="blank sheets, and sheets with an empty box")
    parser.add_argument("--scans", type=int, default=10000, help="scan renderings for the speed check")
    parser.add_argument("--repeat", type=int, default=5, help="alternated runs of each normaliser; medians")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--baseline", default="87ecc52", help="git revision of the normaliser to compare with")
    parser.add_argument("--model", type=Path, help="ONNX model (default: the shipped reference model)")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "mnist-pages")
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    parser.add_argument("--skip", nargs="*", default=(), choices=("pages", "strips", "speed"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "scripts"))

    results: dict = {"seed": args.seed, "cpus": os.cpu_count(), "model": str(args.model or "the reference model")}
    started = time.perf_counter()
    if "pages" not in args.skip:
        results["pages"] = pages(args, args.folder)
        plain = results["pages"]["plain"]
        print("Single digits on A4 pages at 200 dpi (1654x2339):")
        for h, r in plain["by_height"].items():
            print(f"  {h:4d} px  {r['accuracy']:7.2%} of {r['pages']}  blank {r['blank']}")
        print(f"  flags: {plain['flags']}")
        for name in ("forms", "photos"):
            for h, r in results["pages"][name]["by_height"].items():
                print(
                    f"{name} ({h} px): {r['accuracy']:.2%} of {r['pages']}, blank {r['blank']}; "
                    f"flags {results['pages'][name]['flags']}"
                )
        for name in ("blank_sheets", "empty_boxes"):
            r = results["pages"][name]
            print(
                f"{name}: {r['pages']} pages, {r['blank']} blank, {r['flagged']} flagged, "
                f"{r['confident_digit']} with a confident unflagged digit"
            )
    if "strips" not in args.skip:
        s = results["strips"] = strips(args, args.folder)
        print(f"Numbers of 2-6 digits (--multi-digit): {s['accuracy']:.2%} of {s['strips']} strips read exactly")
        print("  by height: " + "  ".join(f"{h} px {a:.1%}" for h, a in s["by_height"].items()))
        print("  by digits: " + "  ".join(f"{n}: {a:.1%}" for n, a in s["by_digits"].items()))
        print(f"  flags: {s['flags']}")
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
