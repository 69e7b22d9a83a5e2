"""Draw artifacts/reports/hard-cases.png for the README and docs/scans.md: three hard cases from the tuning
renderer (`scripts/render_scans_a.py`, at a seed of the figure's own) read by predict: a 12 MP phone photo with
a shadow across it, a digit crossing its form box's edge, a long number with touching digits. Each rendering is
saved as the renderer saves it (PNG, or JPEG at its quality) and read from that file by `predict_images`, as a
user's file would be; what predict read, and its flags, are written above the scan. The boxes drawn are those of
the digits predict's reading chose (the same decoding and normalisation, `decode.decode_fast` and
`normalise.prepare_array`). A digit that is small in its panel (a photo's) gets a zoom under the whole view; the
grey frame on the whole view marks what is zoomed. The cases are the first of their kind (by index at the seed)
that are read right; the panel says how many of their kind were tried to find it.

    python scripts/make_hard_cases_figure.py [--seed 31] [--out artifacts/reports/hard-cases.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

GREEN = (40, 150, 40)  # BGR
GREY = (60, 60, 60)
FRAME = (150, 150, 150)
WIDTH = 400
ZOOM_HEIGHT = 190  # the zoom's height at most
SMALL = 45  # px: a reading shorter than this in its panel gets a zoom
# kind, what makes it hard (every trait must be there), multi-digit, caption
CASES = (
    ("photos", ("shadow",), False, "12 MP photo, shadow, paper at {dim}% light"),
    ("forms", ("touch-right",), False, "digit across its box's edge"),
    ("numbers", ("touching",), True, "number, touching digits"),
)


def _said(record: dict, multi_digit: bool) -> str:
    """What predict's record says was written: its digits, '' for none."""
    if record["status"] != "ok":
        return "<error>"
    if multi_digit:
        return record.get("text") or ""
    return "" if record["digit"] is None else str(record["digit"])


def _boxes(path: Path, scorer, multi_digit: bool) -> tuple[list, str]:
    """The boxes (in the file's own pixels) of the digits read in the file, and the digits, decoded and
    normalised as predict's worker does."""
    from toolkit.imaging import normalise, reading
    from toolkit.predict import decode

    data = path.read_bytes()
    pixels = decode.decode_fast(data)
    if pixels is None:
        raise SystemExit(f"{path}: not a file OpenCV decodes; the figure reads PNG and JPEG renderings only")
    full = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[:2]
    result = normalise.prepare_array(pixels, multi_digit=multi_digit)
    if result.blank:
        return [], ""
    scored = scorer.score(reading.tensors(result), with_not_digit=True)
    chosen = reading.decide(result, scored)
    factor = full[1] / pixels.shape[1]  # a big JPEG is decoded reduced; its boxes are in the reduced pixels
    boxes = [tuple(round(v * factor) for v in result.boxes[k]) for k in chosen]
    return boxes, "".join(str(int(scored[k, :10].argmax())) for k in chosen)


def _draw_boxes(image: np.ndarray, boxes: list, scale: float, origin: tuple[int, int] = (0, 0)) -> None:
    """Boxes (file pixels) drawn on `image`, a view of the file scaled by `scale` from `origin` (file pixels)."""
    for left, top, width, height in boxes:
        x0, y0 = round((left - origin[0]) * scale) - 3, round((top - origin[1]) * scale) - 3
        x1, y1 = round((left + width - origin[0]) * scale) + 3, round((top + height - origin[1]) * scale) + 3
        cv2.rectangle(image, (x0, y0), (x1, y1), GREEN, 2)


def _panel(path: Path, boxes: list, said: str, flags: str, caption: str, tried: int) -> np.ndarray:
    scan = cv2.imread(str(path), cv2.IMREAD_COLOR)
    scale = WIDTH / scan.shape[1]
    whole = cv2.resize(scan, (WIDTH, max(1, round(scan.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    parts = [whole]
    left = min(b[0] for b in boxes)
    top = min(b[1] for b in boxes)
    right = max(b[0] + b[2] for b in boxes)
    bottom = max(b[1] + b[3] for b in boxes)
    if (bottom - top) * scale < SMALL:
        margin = round(0.7 * (bottom - top))
        x0, y0 = max(0, left - margin), max(0, top - margin)
        x1, y1 = min(scan.shape[1], right + margin), min(scan.shape[0], bottom + margin)
        zoom_scale = min(WIDTH / (x1 - x0), ZOOM_HEIGHT / (y1 - y0))
        crop = cv2.resize(
            scan[y0:y1, x0:x1],
            (round((x1 - x0) * zoom_scale), round((y1 - y0) * zoom_scale)),
            interpolation=cv2.INTER_AREA,
        )
        _draw_boxes(crop, boxes, zoom_scale, (x0, y0))
        cv2.rectangle(whole, (round(x0 * scale), round(y0 * scale)), (round(x1 * scale), round(y1 * scale)), FRAME, 1)
        pad = WIDTH - crop.shape[1]
        crop = cv2.copyMakeBorder(crop, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        note = np.full((22, WIDTH, 3), 255, np.uint8)
        cv2.putText(note, "zoom on the grey frame", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, GREY, 1, cv2.LINE_AA)
        parts += [note, crop]
    _draw_boxes(whole, boxes, scale)
    label = np.full((84, WIDTH, 3), 255, np.uint8)
    cv2.putText(label, caption, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, GREY, 1, cv2.LINE_AA)
    cv2.putText(label, f"read {said}", (6, 50), cv2.FONT_HERSHEY_SIMPLEX, 0.75, GREEN, 2, cv2.LINE_AA)
    note = f"flagged {flags}" if flags else "no flag"
    note += f"; the first right of {tried} tried" if tried > 1 else "; the first one tried"
    cv2.putText(label, note, (6, 74), cv2.FONT_HERSHEY_SIMPLEX, 0.45, GREY, 1, cv2.LINE_AA)
    return np.vstack([label, *parts])


def main() -> None:
    import render_scans_a

    from toolkit import data
    from toolkit.onnxmodel import OnnxModel
    from toolkit.predict import predict_images
    from toolkit.predict.options import REFERENCE_MODEL

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "reports" / "hard-cases.png")
    args = parser.parse_args()
    scorer = OnnxModel(REFERENCE_MODEL)
    (x_train, y_train), _ = data.load_mnist()
    render_scans_a._init(x_train, y_train)
    panels = []
    with tempfile.TemporaryDirectory(prefix="hard-cases-") as folder:
        for kind, traits, multi_digit, caption in CASES:
            tried = 0
            for index in range(200):
                drawn = render_scans_a.render_one(kind, index, args.seed)
                if not set(traits) <= set(drawn.traits):
                    continue
                tried += 1
                path = Path(folder, f"{kind}-{index:04d}.{'png' if drawn.quality is None else 'jpg'}")
                render_scans_a._save(drawn, path)
                record = predict_images([str(path)], model=REFERENCE_MODEL, multi_digit=multi_digit)[0]
                said = _said(record, multi_digit)
                if said != drawn.truth:
                    continue
                boxes, text = _boxes(path, scorer, multi_digit)
                if text != said:
                    raise SystemExit(f"{path.name}: predict read {said!r}, the figure's own reading {text!r}")
                flags = " ".join(
                    [
                        *(record.get("flags") or "").split(),
                        *(["low-confidence"] if record.get("low_confidence") else []),
                    ]
                )
                # dimNN: the darkest paper at NN-(NN+10)% of the brightest's light
                dim = next((f"{t[3:]}-{int(t[3:]) + 10}" for t in drawn.traits if t.startswith("dim")), "?")
                panels.append(_panel(path, boxes, said, flags, caption.format(dim=dim), tried))
                print(f"{kind}: {path.name} ({'+'.join(drawn.traits)}) read {said!r}, {flags or 'no flag'}")
                break
            else:
                raise SystemExit(f"no {kind} with {traits} read right in 200 renderings at seed {args.seed}")
    height = max(p.shape[0] for p in panels)
    row = [np.vstack([p, np.full((height - p.shape[0], WIDTH, 3), 255, np.uint8)]) for p in panels]
    gap = np.full((height, 14, 3), 255, np.uint8)
    figure = np.hstack([row[0], gap, row[1], gap, row[2]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), figure, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
