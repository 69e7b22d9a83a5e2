"""Pictures for the review page: a thumbnail of each record's image and the 28x28 input(s) the model saw, as
PNG data: URIs, made by predict's own decoder and normaliser in a pool of processes for big batches.

A file that cannot be opened any more gives no pictures and a one-line reason; the page shows a placeholder.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

THUMB_SIDE = 96  # px: the longer side of an original's thumbnail
POOL_FROM = 48  # fewer records than this are drawn in this process: starting a pool costs more


@dataclass(frozen=True)
class Job:
    """One record to draw: the file to open, its frame, and whether the run read numbers (--multi-digit)."""

    path: str
    frame: int
    multi_digit: bool


@dataclass
class Pictures:
    """A record's pictures as data: URIs (`original` None when the file could not be opened) and why not."""

    original: str | None = None
    inputs: list[str] = field(default_factory=list)
    problem: str | None = None


def png_uri(image) -> str:
    """A PIL image as a PNG data: URI."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def tensor_images(tensor: np.ndarray | None) -> list:
    """The model's input tensor(s) ((28, 28) or (n, 28, 28), floats in [0, 1]) as greyscale PIL images."""
    from PIL import Image

    if tensor is None:
        return []
    stack = tensor.reshape(-1, tensor.shape[-2], tensor.shape[-1])
    return [Image.fromarray(np.clip(one * 255.0 + 0.5, 0, 255).astype(np.uint8), "L") for one in stack]


def open_original(path: str, frame: int = 0):
    """The image at `path` (frame `frame`) as an RGB or greyscale PIL image, through predict's guarded opener
    (no FIFOs, the pixel limit kept). Raises decode.Failure."""
    from PIL import ImageOps

    from toolkit.predict import decode

    source = decode.read_file(path)
    image = decode.open_image(source)
    if frame:
        image.seek(frame)
    image = ImageOps.exif_transpose(image) if not frame else image
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "L")
        if image.mode == "RGBA":
            from PIL import Image

            flat = Image.new("RGB", image.size, "white")
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
    return image


def draw(job: Job) -> Pictures:
    """The pictures of one record; never raises for a bad file."""
    from toolkit.errors import first_line
    from toolkit.predict import decode

    pictures = Pictures()
    try:
        image = open_original(job.path, job.frame)
        image.draft(None, (THUMB_SIDE * 2, THUMB_SIDE * 2))
        image.thumbnail((THUMB_SIDE, THUMB_SIDE))
        pictures.original = png_uri(image)
    except decode.Failure as failure:
        return Pictures(problem=str(failure))
    except Exception as exc:  # any decoder's complaint: one placeholder, never a broken page
        return Pictures(problem=first_line(exc, 200))
    items = decode.prepare_path(job.path, all_frames=job.frame > 0, multi_digit=job.multi_digit)
    item = next((one for one in items if one.frame == job.frame), None)
    if item is None or item.tensor is None:
        pictures.problem = item.error if item is not None and item.error else "no input for the model"
        return pictures
    pictures.inputs = [png_uri(one) for one in tensor_images(item.tensor)]
    return pictures


def draw_all(jobs: Sequence[Job], workers: int | None = None) -> list[Pictures]:
    """Every job's pictures, in order; in a process pool (predict's start method and worker set-up) when there
    are many."""
    from toolkit.predict.engines.pool import init_worker, start_context
    from toolkit.predict.options import cpu_count

    workers = workers or cpu_count()
    if len(jobs) < POOL_FROM or workers <= 1:
        return [draw(job) for job in jobs]
    chunk = max(1, min(64, len(jobs) // (workers * 4)))
    with ProcessPoolExecutor(workers, mp_context=start_context(), initializer=init_worker) as pool:
        return list(pool.map(draw, jobs, chunksize=chunk))


def resolve(spelled: str, root: str | None) -> str:
    """The file a record's path names: the raw path it spells, under `root` when relative."""
    from toolkit.predict.records import path_bytes

    path = os.fsdecode(path_bytes(spelled))
    return os.path.join(root, path) if root else path
