"""Score a folder of renderings that carries its own truth (`truth.csv`: file,kind,truth,traits) through
`predict`, as a user would run it: per kind, the share read right, the wrong reads nobody was warned of, and
the right reads flagged for nothing.

A read is right when its digits are (flagged or not): the digit for one-digit kinds, the whole string for
`numbers` (read with --multi-digit), and no digit at all for `blanks`. A read is flagged when it is
low_confidence or carries any flag, except that a blank sheet read as no digit is flagged only by flags other
than those that say why there is no digit (NO_DIGIT_FLAGS). Used with renderers written apart from the pipeline
(`scripts/render_scans_b.py`), so the figures say how it reads scans nobody here drew.

    python scripts/score_truth.py FOLDER [--model M.onnx] [--json OUT] [--misses 25]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MULTI_DIGIT_KINDS = {"numbers"}


def _read(record: dict, kind: str) -> str:
    """What the record says was written: a digit string, '' for nothing."""
    if record["status"] != "ok":
        return "<error>"
    if kind in MULTI_DIGIT_KINDS:
        return record.get("text") or ""
    return "" if record["digit"] is None else str(record["digit"])


# What a record of no digit says by being one: on a blank sheet these flags are the reading, not a warning.
NO_DIGIT_FLAGS = {"blank-page", "lines-only", "not-a-digit", "writing-only"}


def _flagged(record: dict, kind: str) -> bool:
    """Whether the record asks for a look. A read of no digit on a blank sheet is low-confidence and says why
    there is no digit (NO_DIGIT_FLAGS) by design: only other flags count there."""
    flags = set((record.get("flags") or "").split())
    if kind == "blanks" and record.get("digit") is None and not record.get("text"):
        return bool(flags - NO_DIGIT_FLAGS)
    return bool(record.get("low_confidence")) or bool(flags)


def score(folder: Path, model: Path | None = None, misses_kept: int = 25) -> dict:
    from toolkit.predict import predict_images

    with open(folder / "truth.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    out = {}
    for kind, kind_rows in sorted(by_kind.items()):
        started = time.perf_counter()
        options = {"multi_digit": kind in MULTI_DIGIT_KINDS}
        records = predict_images([str(folder / r["file"]) for r in kind_rows], model=model, **options)
        seconds = time.perf_counter() - started
        right = wrong_unflagged = right_flagged = 0
        misses = []
        for row, record in zip(kind_rows, records, strict=True):
            said, truth = _read(record, kind), row["truth"]
            ok = said == truth
            right += ok
            wrong_unflagged += (not ok) and not _flagged(record, kind)
            right_flagged += ok and _flagged(record, kind)
            if not ok:
                warned = "" if _flagged(record, kind) else ", unflagged"
                misses.append(
                    f"{row['file']}: {truth!r} read {said!r} ({record.get('flags') or 'no flag'}{warned}; "
                    f"not_digit {record.get('not_digit') or 0:.2f})"
                )
        n = len(kind_rows)
        out[kind] = {
            "images": n,
            "right": round(right / n, 4),
            "wrong_unflagged": round(wrong_unflagged / n, 4),
            "flagged_among_right": round(right_flagged / max(1, right), 4),
            "seconds_per_image": round(seconds / n, 3),
            "misses": misses[:misses_kept] if misses_kept else misses,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--misses", type=int, default=25, help="misses listed per kind in the JSON (0: all)")
    args = parser.parse_args(argv)
    figures = score(args.folder, args.model, args.misses)
    for kind, f in figures.items():
        print(
            f"{kind:8} right {f['right']:.1%}  wrong-unflagged {f['wrong_unflagged']:.1%}  "
            f"flagged-among-right {f['flagged_among_right']:.1%}  "
            f"({f['images']} images, {f['seconds_per_image']} s each)"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
