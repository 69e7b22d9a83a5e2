"""`mnist-toolkit explain FILE... --out DIR`: what the model saw, as one PNG per file.

A picture shows the steps of predict's pipeline on that file: the image, the ink found above the paper, the
ink left once ruled lines (red) and specks (grey) are removed, the boxes each model input was cut from, each
28x28 input and the model's top 3 for it. The inputs are the ones predict scores (the same decoders, the same
normaliser); the middle panels come from the same `toolkit.imaging` functions the normaliser calls. The line
at the top is predict's record of the file, made by predict's own code (`pipeline.make_records`): its reading,
confidence and flags, those the model's scores add (not-a-digit, straight-stroke) or take back included.

Drawn with Pillow only: the core install (no matplotlib, no TensorFlow) is enough.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.contract import NUM_CLASSES

if TYPE_CHECKING:
    from toolkit.imaging.common import Normalized

PANEL = 200  # px: the side of the four pipeline panels
INPUT_ZOOM = 4  # a 28x28 input is drawn this many times larger
PER_ROW = 6  # inputs per row
BOX_COLOURS = ((255, 80, 80), (80, 200, 80), (80, 140, 255), (240, 190, 40), (200, 90, 220), (60, 210, 210))


@dataclass
class Seen:
    """One file as the pipeline saw it; `problem` says why there is nothing more."""

    grey: np.ndarray | None = None  # float32, 1 = white, the whole image
    ink: np.ndarray | None = None  # float32, the ink above the paper at working resolution
    kept: np.ndarray | None = None  # bool, ink left after lines and specks are removed
    specks: np.ndarray | None = None  # bool, ink dropped as dust
    lines: np.ndarray | None = None  # bool, the erased lines
    boxes: tuple[tuple[int, int, int, int], ...] | None = None  # in the image's pixels
    tensors: np.ndarray | None = None  # (n, 28, 28)
    result: Normalized | None = None  # the normaliser's result, which predict makes its item of
    problem: str | None = None


@dataclass
class ExplainResult:
    written: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"wrote {p}" for p in self.written] + [f"could not read {f}" for f in self.failed]


def picture_name(spelled: str, frame: int = 0) -> str:
    """The file name of a record's picture: readable, and unique per (path as spelled in records, frame)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(os.path.basename(spelled))[0])[:40] or "image"
    digest = hashlib.sha1(f"{spelled}\0{frame}".encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{stem}-{digest}.png"


def _decode(path: str, frame: int, multi_digit: bool) -> tuple[np.ndarray, Any]:
    """(grey image, the normaliser's result) the way predict decodes the file (`decode.prepare_path`): OpenCV
    for the common simple files, Pillow for the rest. Raises decode.Failure."""
    from PIL import ImageOps

    from toolkit.imaging import normalise
    from toolkit.predict import decode, headers

    source = decode.read_file(path)
    data = source.getvalue() if not frame and isinstance(source, io.BytesIO) else None
    pixels = None if data is None else decode.decode_fast(data)
    if pixels is not None and data is not None:
        finer = headers.jpeg_at_full_size(data, pixels)  # as predict reads it (`decode.prepare_path`)
        return normalise.bgr_to_gray(pixels), normalise.prepare_array(pixels, multi_digit, finer=finer)
    with source, decode.open_image(source) as image:
        if frame:
            image.seek(frame)
        image.load()
        result = normalise.prepare(image, multi_digit)
        upright = ImageOps.exif_transpose(image) if not frame else image
        return normalise.to_gray(upright), result


def look(path: str, frame: int = 0, multi_digit: bool = False) -> Seen:
    """What the pipeline sees in one file; never raises for a bad file."""
    from toolkit.errors import first_line
    from toolkit.imaging import layout, light, reading
    from toolkit.predict import decode

    try:
        grey, result = _decode(path, frame, multi_digit)
    except decode.Failure as failure:
        return Seen(problem=str(failure))
    except Exception as exc:  # any decoder's complaint is a picture saying so, never a crash
        return Seen(problem=first_line(exc, 200))
    ink, _ = light.working_ink(grey, result.inverted)  # the ink the way round the normaliser read it
    found = layout.analyse(ink)
    labels = found.labels
    kept = np.isin(labels, found.parts[:, 0]) & (labels > 0) if len(found.parts) else np.zeros(labels.shape, bool)
    tensors = reading.tensors(result)  # a page's other candidates for its digit too (reading.pick)
    return Seen(
        grey=grey,
        ink=np.clip(found.flat, 0.0, None),
        kept=kept,
        specks=(labels > 0) & ~kept,
        lines=found.lines.astype(bool) if found.lines is not None else None,
        boxes=result.boxes,
        tensors=tensors if not result.blank else tensors[:0],
        result=result,
    )


def record(path: str, seen: Seen, probs: np.ndarray, frame: int = 0, multi_digit: bool = False) -> dict[str, Any]:
    """The record predict makes of what was seen (a file it could read), given the model's rows for
    `seen.tensors`: made by the same code (`pipeline.pack`, `pipeline.make_records`), so the picture says what
    the record says, flags included (those the model's scores add or take back, not only the segmenter's)."""
    from toolkit.predict import decode, pipeline
    from toolkit.predict.options import PredictOptions

    assert seen.result is not None, "a file that could not be read has no record"
    meta, _ = pipeline.pack([decode.as_item(path, frame, seen.result)])
    return dict(pipeline.make_records(meta, probs, PredictOptions(multi_digit=multi_digit))[0])


def _fit(image: Any, side: int = PANEL) -> tuple[Any, float]:
    """`image` scaled to fit a side x side panel (never enlarged past 8x), and the scale used."""
    from PIL import Image

    scale = min(side / image.width, side / image.height, 8.0)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.BOX), scale


def _grey_image(values: np.ndarray, top: float | None = None) -> Any:
    from PIL import Image

    top = top or float(values.max()) or 1.0
    return Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")


def _panels(seen: Seen) -> list[tuple[str, Any]]:
    """The four pipeline panels: (caption, RGB image)."""
    from PIL import Image, ImageDraw

    assert seen.grey is not None and seen.ink is not None and seen.kept is not None and seen.specks is not None
    original, scale = _fit(_grey_image(seen.grey, 1.0))
    cleaned = np.zeros((*seen.kept.shape, 3), np.uint8)
    cleaned[seen.specks] = (110, 110, 110)
    if seen.lines is not None:
        cleaned[seen.lines] = (230, 40, 40)
    cleaned[seen.kept] = (255, 255, 255)
    cuts = original.copy()
    draw = ImageDraw.Draw(cuts)
    for n, (left, top, width, height) in enumerate(seen.boxes or ()):
        colour = BOX_COLOURS[n % len(BOX_COLOURS)]
        x0, y0 = left * scale, top * scale
        box = (x0, y0, max(x0, (left + width) * scale - 1), max(y0, (top + height) * scale - 1))  # >= 1 px
        draw.rectangle(box, outline=colour, width=2)
        draw.text((box[0] + 2, box[1] + 1), str(n + 1), fill=colour)
    lines = "lines removed (red), specks (grey)" if seen.lines is not None else "specks removed (grey)"
    cut_caption = "cuts: each input's box" if seen.boxes else "the digit (single-digit path)"
    return [
        ("image", original),
        ("ink found", _fit(_grey_image(seen.ink))[0]),
        (lines, _fit(Image.fromarray(cleaned, "RGB"))[0]),
        (cut_caption, cuts),
    ]


def headline(seen: Seen, probs: np.ndarray, said: dict[str, Any]) -> str:
    """What the picture says of the file: the reading of its record (`said`, see `record`), its confidence, the
    inputs it was read from, and the record's flags."""
    from toolkit.imaging import reading

    if seen.problem or seen.result is None:
        return f"not read: {seen.problem}"
    flags = f"   flags: {said['flags']}" if said.get("flags") else ""
    doubt = "; low confidence" if said.get("low_confidence") else ""
    digits = said["text"] if "text" in said else ("" if said.get("digit") is None else str(said["digit"]))
    if not digits:
        why = "blank: no digit found" if seen.result.blank or not len(probs) else "no digit: no mark is read as one"
        return why + doubt + flags
    used: list[int] = reading.decide(seen.result, probs) if seen.result.plan else []
    inputs = f"; inputs used: {', '.join(str(i + 1) for i in used)}" if used else ""
    return f"reads {digits} (confidence {said['confidence']:.4f}){doubt}{inputs}{flags}"


def draw(name: str, seen: Seen, probs: np.ndarray, said: dict[str, Any]) -> Any:
    """The whole picture for one file (`said`: its record, see `record`)."""
    from PIL import Image, ImageDraw

    gap, caption, tile = 10, 16, 28 * INPUT_ZOOM
    panels = [] if seen.problem else _panels(seen)
    n = 0 if seen.tensors is None else len(seen.tensors)
    rows = -(-n // PER_ROW)
    width = gap + max(4 * (PANEL + gap), PER_ROW * (tile + gap))
    height = 2 * caption + gap + (PANEL + caption + gap if panels else 0) + rows * (tile + 5 * caption + gap) + gap
    picture = Image.new("RGB", (width, height), (250, 250, 250))
    pen = ImageDraw.Draw(picture)
    pen.text((gap, 4), name[:150], fill=(0, 0, 0))
    pen.text((gap, 4 + caption), headline(seen, probs, said), fill=(160, 0, 0) if seen.problem else (0, 0, 0))
    y = 2 * caption + gap
    for k, (text, image) in enumerate(panels):
        x = gap + k * (PANEL + gap)
        picture.paste(Image.new("RGB", (PANEL, PANEL), (0, 0, 0)), (x, y))
        picture.paste(image, (x + (PANEL - image.width) // 2, y + (PANEL - image.height) // 2))
        pen.text((x, y + PANEL + 2), text, fill=(0, 0, 0))
    y += PANEL + caption + gap if panels else 0
    for i in range(n):
        assert seen.tensors is not None
        x = gap + (i % PER_ROW) * (tile + gap)
        at = y + (i // PER_ROW) * (tile + 5 * caption + gap)
        field = _grey_image(seen.tensors[i], 1.0).resize((tile, tile), Image.Resampling.NEAREST)
        picture.paste(field, (x, at))
        pen.rectangle((x - 1, at - 1, x + tile, at + tile), outline=BOX_COLOURS[i % len(BOX_COLOURS)])
        pen.text((x, at + tile + 2), f"input {i + 1}", fill=(0, 0, 0))
        for r, d in enumerate(np.argsort(probs[i, :NUM_CLASSES])[::-1][:3]):
            pen.text((x, at + tile + 2 + (r + 1) * caption), f"{d}: {probs[i][d]:.4f}", fill=(0, 0, 0))
        if probs.shape[1] > NUM_CLASSES:
            pen.text((x, at + tile + 2 + 4 * caption), f"not a digit: {probs[i, NUM_CLASSES]:.3f}", fill=(0, 0, 0))
    return picture


def _scorer(model: str | None) -> Any:
    from toolkit.onnxmodel import OnnxModel
    from toolkit.predict.options import resolve_model

    return OnnxModel(resolve_model(model), threads=1)


def explain_one(path: str, out: Path, scorer: Any, frame: int = 0, multi_digit: bool = False, name: str = "") -> bool:
    """Write the picture of one file at `out`; False when the file could not be read (the picture says why)."""
    from toolkit import fsutil

    seen = look(path, frame, multi_digit)
    tensors = seen.tensors if seen.tensors is not None else np.zeros((0, 28, 28), np.float32)
    probs = scorer.score(tensors, with_not_digit=True)
    said = {} if seen.problem else record(path, seen, probs, frame, multi_digit)
    buffer = io.BytesIO()
    draw(name or path, seen, probs, said).save(buffer, format="PNG")
    with fsutil.atomic_open(out) as (fh, _):
        fh.write(buffer.getvalue())
    return seen.problem is None


def explain_files(
    files: Sequence[str], out: Path | str, model: str | None = None, multi_digit: bool = False
) -> ExplainResult:
    """A picture per file in folder `out`, named by `picture_name`."""
    from toolkit.errors import UsageError
    from toolkit.predict.records import path_text

    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise UsageError(
            f"{missing[0]}: no such file" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder for the pictures")
    scorer = _scorer(model)
    result = ExplainResult()
    for path in files:
        target = out / picture_name(path_text(path))
        if explain_one(path, target, scorer, multi_digit=multi_digit):
            result.written.append(target)
        else:
            result.failed.append(path)
    return result


def explain_records(
    records: Iterable[dict[str, Any]], out: Path | str, root: str | None = None, model: str | None = None
) -> int:
    """Pictures for records of a predictions file (paths as spelled there), for the review page; how many."""
    from toolkit.predict.records import path_bytes

    made = 0
    scorer = None
    for record in records:
        if scorer is None:
            scorer = _scorer(model)
        path = os.fsdecode(path_bytes(record["path"]))
        frame = record.get("frame") or 0
        target = Path(out) / picture_name(record["path"], frame)
        explain_one(os.path.join(root, path) if root else path, target, scorer, frame, "text" in record, record["path"])
        made += 1
    return made
