"""Draw artifacts/reports/hard-cases.png for the README and docs/scans.md: three hard cases from the tuning
renderer (`scripts/render_scans_a.py`, at a seed of the figure's own) read by predict's pipeline: a phone photo
with a dark corner, a digit crossing its form box's edge, a long number with touching digits. Each panel shows
the scan, the boxes of what was read and what was read; the cases are the first of their kind (by index at
the seed) that are read right, and the caption says how many of their kind were tried to find it.

    python scripts/make_hard_cases_figure.py [--seed 31] [--out artifacts/reports/hard-cases.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

GREEN = (40, 150, 40)
GREY = (60, 60, 60)
WIDTH = 360
# kind, what makes it hard (every trait must be there), multi-digit, caption
CASES = (
    ("photos", ("shadow",), False, "phone photo, 12 MP, shadow"),
    ("forms", ("touch-right",), False, "digit across its box's edge"),
    ("numbers", ("touching",), True, "number, touching digits"),
)


def _read(pixels: np.ndarray, scorer, multi_digit: bool) -> tuple[list, str]:
    """The boxes of the digits read in `pixels` and the digits, as predict reads them."""
    from toolkit.imaging import normalise, reading

    result = normalise.prepare_array(pixels, multi_digit=multi_digit)
    if result.blank:
        return [], ""
    scored = scorer.score(reading.tensors(result), with_not_digit=True)
    chosen = reading.decide(result, scored)
    return [result.boxes[k] for k in chosen], "".join(str(int(scored[k, :10].argmax())) for k in chosen)


def _panel(image: np.ndarray, boxes: list, text: str, caption: str, tried: int) -> np.ndarray:
    drawn = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    drawn = cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)
    thick = max(2, round(max(drawn.shape[:2]) / 300))
    for left, top, width, height in boxes:
        cv2.rectangle(drawn, (left - thick, top - thick), (left + width + thick, top + height + thick), GREEN, thick)
    scale = WIDTH / drawn.shape[1]
    drawn = cv2.resize(drawn, (WIDTH, max(1, round(drawn.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    label = np.full((58, WIDTH, 3), 255, np.uint8)
    cv2.putText(label, caption, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, GREY, 1, cv2.LINE_AA)
    cv2.putText(label, f"read {text}", (6, 44), cv2.FONT_HERSHEY_SIMPLEX, 0.6, GREEN, 1, cv2.LINE_AA)
    note = f"(first read right of {tried} tried)" if tried > 1 else ""
    cv2.putText(label, note, (150, 44), cv2.FONT_HERSHEY_SIMPLEX, 0.42, GREY, 1, cv2.LINE_AA)
    return np.vstack([label, drawn])


def main() -> None:
    import render_scans_a

    from toolkit import data
    from toolkit.onnxmodel import OnnxModel
    from toolkit.predict.options import REFERENCE_MODEL

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "reports" / "hard-cases.png")
    args = parser.parse_args()
    scorer = OnnxModel(REFERENCE_MODEL)
    (x_train, y_train), _ = data.load_mnist()
    render_scans_a._init(x_train, y_train)
    panels = []
    for kind, traits, multi_digit, caption in CASES:
        tried = 0
        for index in range(200):
            drawn = render_scans_a.render_one(kind, index, args.seed)
            if not set(traits) <= set(drawn.traits):
                continue
            tried += 1
            boxes, text = _read(drawn.image, scorer, multi_digit)
            if text == drawn.truth:
                panels.append(_panel(drawn.image, boxes, text, caption, tried))
                break
        else:
            raise SystemExit(f"no {kind} with {traits} read right in 200 renderings at seed {args.seed}")
    height = max(p.shape[0] for p in panels)
    row = [np.vstack([p, np.full((height - p.shape[0], WIDTH, 3), 255, np.uint8)]) for p in panels]
    gap = np.full((height, 12, 3), 255, np.uint8)
    figure = np.hstack([row[0], gap, row[1], gap, row[2]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), figure, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
