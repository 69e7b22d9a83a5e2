"""What a file's first bytes say before it is decoded: the PNG, BMP and JPEG files OpenCV decodes as Pillow
would (`toolkit.predict.decode.decode_fast`), their size, and how far a JPEG is decoded reduced (KEEP_SIDE); and
a JPEG decoded reduced at its own resolution, for the closer look at a whole form's small boxes."""

from __future__ import annotations

import struct

import cv2
import numpy as np

from toolkit.imaging import closer, normalise

KEEP_SIDE = round(closer.FINE_FACTOR * normalise.MAX_SIDE)  # a JPEG decoded reduced keeps its longer side so long


def png_header(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, OpenCV flags) of a PNG that OpenCV decodes as Pillow would, else None."""
    if len(data) < 33 or not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    # Palettes, transparency keys, EXIF orientation and animation are Pillow's to interpret.
    if depth not in (8, 16) or colour not in (0, 2, 4, 6) or b"tRNS" in data or b"eXIf" in data or b"acTL" in data:
        return None
    return width, height, cv2.IMREAD_UNCHANGED


def bmp_header(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, OpenCV flags) of an uncompressed 8/24-bit Windows BMP, else None."""
    if len(data) < 34 or not data.startswith(b"BM") or int.from_bytes(data[14:18], "little") < 40:
        return None
    width, height, _, bits, compression = struct.unpack("<iiHHI", data[18:34])
    if compression != 0 or bits not in (8, 24) or width <= 0 or height == 0:
        return None
    return width, abs(height), cv2.IMREAD_UNCHANGED


JPEG_FRAMES = {0xC0, 0xC1, 0xC2}  # baseline, extended and progressive Huffman: what libjpeg decodes everywhere


def jpeg_header(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, OpenCV flags) of an 8-bit grey or colour JPEG that ends properly, else None. A file cut
    short goes to Pillow, which says it is truncated (libjpeg would fill the rest with grey)."""
    if not data.startswith(b"\xff\xd8") or not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in JPEG_FRAMES:
            if at + 10 > len(data):
                return None
            precision, height, width, components = struct.unpack(">BHHB", data[at + 4 : at + 10])
            if precision != 8 or components not in (1, 3):
                return None  # 12-bit, CMYK and YCCK JPEGs: Pillow's conversions
            side = max(width, height)
            # Let libjpeg scale big photos down by 2-8x while decoding (to KEEP_SIDE or more); grey output
            # applies the EXIF orientation, as Pillow's path does.
            for factor, flag in (
                (8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
                (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
                (2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
            ):
                if side >= factor * KEEP_SIDE:
                    return width, height, flag
            return width, height, cv2.IMREAD_GRAYSCALE
        if 0xC3 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) or marker == 0xDA:
            return None  # lossless or arithmetic coding, or no frame header before the scan
        at += 2 + length
    return None


def jpeg_at_full_size(data: bytes, pixels: np.ndarray) -> closer.Source | None:
    """For a JPEG libjpeg decoded reduced (`pixels`, see `jpeg_header`): its size at full resolution, turned as
    `pixels` are, and its full pixels, decoded only when called. The closer look at a whole form's small boxes
    (`toolkit.imaging.closer`) needs the pixels a reduced decode drops: at 2480 x 3508, halved, a form's 5 mm
    boxes are read 1.7 times finer than on the page, where a digit its box's lines took strokes from needs 2.
    None for any other file."""
    if max(pixels.shape[:2]) < KEEP_SIDE:  # never decoded reduced: a scan's JPEG pays no second look at its header
        return None
    header = jpeg_header(data)
    if header is None or header[2] == cv2.IMREAD_GRAYSCALE:
        return None
    width, height, _ = header
    if (pixels.shape[0] > pixels.shape[1]) != (height > width):  # the EXIF orientation turned it
        width, height = height, width
    return (width, height), lambda: _decoded(data)


def _decoded(data: bytes) -> np.ndarray:
    """A JPEG's grey pixels at full resolution (it decoded reduced, so it decodes)."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if pixels is None:
        raise ValueError("the JPEG decoded reduced but not at full size")
    return pixels
