"""EXIF orientation: which way up a decoded image's pixels are meant to be seen (phones and scanners store the
pixels as the sensor read them, plus a tag), and the transpose that shows them upright.

TIFF is the exception: Pillow applies a TIFF's orientation itself when it loads the pixels (and drops the tag),
so asking the tag of a TIFF not yet loaded would turn it twice. A TIFF is loaded first; the tag left after that,
if any, is one this Pillow did not apply. Pillow's memory-mapped load of an uncompressed TIFF turned by a
quarter (orientations 5-8) reads the pixels with the turned width and scrambles them; such a frame is read
from the file's bytes instead (a copy of the file in memory, for an image the caller opened), which takes the
ordinary decoder.
"""

from __future__ import annotations

import io

from PIL import Image, ImageFile

ORIENTATION_TAG = 0x0112

# EXIF orientation -> the transpose that shows the picture upright.
TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _tag(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ORIENTATION_TAG, 1))
    except Exception:  # a corrupt EXIF block must not lose the picture; its pixels are still good
        return 1


def tiff_loaded(image: Image.Image) -> Image.Image:
    """A TIFF with its pixels loaded, so its orientation is applied as Pillow does (see above); any other image
    as it is."""
    if not isinstance(image, ImageFile.ImageFile) or image.format != "TIFF":
        return image
    if image.filename and len(image.tile) == 1 and image.tile[0][0] == "raw" and _tag(image) in (5, 6, 7, 8):
        image = _from_bytes(image)
    image.load()
    return image


def _from_bytes(image: ImageFile.ImageFile) -> Image.Image:
    """The same frame of a TIFF opened again from its bytes, read through the open file (the path may be
    relative to another folder by now, or the file replaced), so that Pillow does not memory-map it."""
    frame, fp = image.tell(), image.fp
    if fp is not None:
        at = fp.tell()
        fp.seek(0)
        data = fp.read()
        fp.seek(at)
    else:
        with open(image.filename, "rb") as fh:
            data = fh.read()
    again = Image.open(io.BytesIO(data))
    again.seek(frame)
    return again


def turn(image: Image.Image) -> Image.Transpose | None:
    """The transpose a loaded image's EXIF orientation tag asks for, or None (no tag, upright, unreadable, or
    already applied by Pillow)."""
    if "exif" not in image.info and image.format not in ("TIFF", "MPO"):
        return None  # nothing to read: PNG/GIF/BMP files without EXIF (the common case, kept cheap)
    return TURNS.get(_tag(image))
