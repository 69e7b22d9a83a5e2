"""Decode one file into model tensors, or say precisely why it cannot be: the per-file building block.

`prepare_path(path)` opens the file without ever blocking (FIFOs are refused, not read), decodes it with
Pillow restricted to image formats (no Ghostscript for EPS, no PDF), keeps Pillow's decompression-bomb pixel
limit (an image above `Image.MAX_IMAGE_PIXELS` is refused, and the limit is never switched off), normalises the
first frame (or every frame) with `toolkit.preprocess`, and returns `Item`s. It never raises for a bad file:
every failure is an `Item` with an error kind and a one-line reason. Error kinds:

  empty              zero-byte file
  truncated          the data stops early (or the header is cut off)
  corrupt            the data is damaged in some other way
  not-an-image       text, HTML or unknown bytes with an image's name
  unsupported-format a real document/image format this tool does not read (PDF, EPS, SVG, HEIC, JPEG XL)
  too-large          over Pillow's decompression-bomb pixel limit
  unreadable         permission denied or an I/O error
  vanished           the file disappeared after it was listed
  missing            a path given on stdin does not exist
  not-a-file         it became a FIFO, socket, device or symlink after it was listed
  worker-crashed     decoding it killed the worker process (reported by the engine)
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from toolkit import preprocess
from toolkit.errors import first_line

# Raster formats Pillow decodes by itself. EPS (runs Ghostscript), PDF and the rare scientific formats are out.
ALLOWED_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "BMP", "DIB", "TIFF", "WEBP", "PPM", "PCX", "TGA", "ICO",
                   "JPEG2000", "QOI", "AVIF", "PSD", "SGI", "XBM")
DEFAULT_PIXEL_LIMIT = 89_478_485  # Pillow's own default, used if something set the limit to None
READ_WHOLE = 32 << 20  # files up to this size are read in one go (much faster than Pillow's small reads)
ERROR_KINDS = ("empty", "truncated", "corrupt", "not-an-image", "unsupported-format", "too-large",
               "unreadable", "vanished", "missing", "not-a-file", "worker-crashed")

_SIGNATURES = (  # (prefix, description) of formats that are images or documents we do not read
    (b"%PDF", "PDF document"),
    (b"%!PS", "PostScript/EPS document"),
    (b"\xc5\xd0\xd3\xc6", "EPS document"),
    (b"\xff\x0a", "JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL image"),
)
# Signatures distinctive enough that bytes starting with them are an image cut short, not something else.
_IMAGE_MAGIC = (b"\x89PNG\r\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")


class Failure(Exception):
    """A file that cannot be scored: `kind` is one of ERROR_KINDS, the message one line."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(slots=True)
class Item:
    """One image (a file, or one frame of it) ready for the model, or the reason it is not."""

    path: str
    frame: int
    tensor: np.ndarray | None  # float32 (28, 28), None on error
    blank: bool = False
    error_kind: str | None = None
    error: str | None = None


def pixel_limit() -> int:
    """Pillow's decompression-bomb limit; never None here, whatever a caller did to the global."""
    return Image.MAX_IMAGE_PIXELS or DEFAULT_PIXEL_LIMIT


def _allowed_formats() -> tuple[str, ...]:
    Image.init()
    return tuple(f for f in ALLOWED_FORMATS if f in Image.OPEN)


_FORMATS: tuple[str, ...] | None = None


def read_file(path: str, follow: bool = True) -> io.BytesIO | io.BufferedReader:
    """Open a regular file without blocking on FIFOs or devices, refusing empty files; bytes in memory when
    small. Raises Failure."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise Failure("vanished", "file disappeared after it was listed") from None
    except PermissionError:
        raise Failure("unreadable", "permission denied") from None
    except IsADirectoryError:
        raise Failure("not-a-file", "is a folder") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Failure("not-a-file", "became a symbolic link after it was listed") from None
        raise Failure("unreadable", exc.strerror or str(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Failure("not-a-file", "not a regular file (FIFO, socket or device)")
        if st.st_size == 0:
            raise Failure("empty", "zero-byte file")
        if st.st_size <= READ_WHOLE:
            chunks = []
            while chunk := os.read(fd, st.st_size + 1 - sum(map(len, chunks)) or 65536):
                chunks.append(chunk)
            return io.BytesIO(b"".join(chunks) if len(chunks) != 1 else chunks[0])
        handle = os.fdopen(fd, "rb")
        fd = -1  # now owned by the file object
        return handle
    except OSError as exc:
        raise Failure("unreadable", exc.strerror or str(exc)) from None
    finally:
        if fd >= 0:
            os.close(fd)


def sniff(head: bytes) -> Failure:
    """Why Pillow could not identify these bytes, from their first few hundred."""
    for prefix, name in _SIGNATURES:
        if head.startswith(prefix):
            return Failure("unsupported-format", f"{name}; not a raster image this tool reads")
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif", b"avis"):
        return Failure("unsupported-format", "HEIC/HEIF/AVIF image this Pillow cannot decode; convert it to PNG")
    if any(head.startswith(magic) for magic in _IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return Failure("truncated", "the image header is incomplete")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return Failure("unsupported-format", "SVG vector image; render it to PNG first")
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:256]:
        return Failure("not-an-image", "an HTML page, not an image")
    try:
        head.decode("utf-8")
        printable = True
    except UnicodeDecodeError:
        printable = False
    if printable and head and all(b >= 32 or b in (9, 10, 13) for b in head[:256]):
        return Failure("not-an-image", "a text file, not an image")
    return Failure("not-an-image", "not a recognised image format")


def _load_error(exc: Exception) -> Failure:
    message = first_line(exc, 200)
    if isinstance(exc, Image.DecompressionBombError):
        return Failure("too-large", message)
    if isinstance(exc, MemoryError):
        return Failure("too-large", "out of memory while decoding")
    lowered = message.lower()
    if isinstance(exc, EOFError) or "truncated" in lowered or "premature end" in lowered:
        return Failure("truncated", message or "the data stops early")
    return Failure("corrupt", message)


def open_image(source, formats: tuple[str, ...] | None = None) -> Image.Image:
    """Identify an image (header only), refusing non-images and images over the pixel limit."""
    global _FORMATS
    if formats is None:
        if _FORMATS is None:
            _FORMATS = _allowed_formats()
        formats = _FORMATS
    # We enforce the pixel limit ourselves below (an error, not a warning); other decoder warnings are noise.
    with _quietly():
        try:
            image = Image.open(source, formats=list(formats))
        except UnidentifiedImageError:
            source.seek(0)
            raise sniff(source.read(512)) from None
        except Exception as exc:
            raise _load_error(exc) from None
    width, height = image.size
    limit = pixel_limit()
    if width * height > limit:
        image.close()
        raise Failure("too-large", f"{width}x{height} = {width * height:,} pixels is over the decompression-bomb "
                                   f"limit of {limit:,}")
    return image


def quiet_warnings() -> None:
    """Silence decoder warnings (corrupt EXIF and the like) for this whole process: noise in a batch job.
    Worker processes call it once; otherwise each file is wrapped in catch_warnings, which costs more."""
    global _QUIET
    warnings.simplefilter("ignore")
    _QUIET = True


_QUIET = False


@contextlib.contextmanager
def _quietly():
    if _QUIET:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _normalise_frame(image: Image.Image, path: str, frame: int) -> Item:
    try:
        with _quietly():
            if image.format == "JPEG" and max(image.size) > 2 * preprocess.MAX_SIDE:
                # Let the JPEG decoder downscale by 2-8x while decoding: big photos of a digit decode fast.
                image.draft(None, (preprocess.MAX_SIDE, preprocess.MAX_SIDE))
            image.load()
            result = preprocess.prepare(image)
    except Failure as failure:
        return Item(path, frame, None, error_kind=failure.kind, error=str(failure))
    except Exception as exc:
        failure = _load_error(exc)
        return Item(path, frame, None, error_kind=failure.kind, error=str(failure))
    return Item(path, frame, result.tensor, blank=result.blank)


def prepare_path(path: str, *, all_frames: bool = False, follow: bool = True) -> list[Item]:
    """Decode and normalise one file: one Item (the first frame), or one per frame with `all_frames`."""
    try:
        source = read_file(path, follow)
    except Failure as failure:
        return [Item(path, 0, None, error_kind=failure.kind, error=str(failure))]
    try:
        image = open_image(source)
    except Failure as failure:
        source.close()
        return [Item(path, 0, None, error_kind=failure.kind, error=str(failure))]
    try:
        with image:
            frames = getattr(image, "n_frames", 1) if all_frames else 1
            items = []
            for frame in range(frames):
                if frame:
                    try:
                        image.seek(frame)
                    except Exception as exc:
                        failure = _load_error(exc)
                        items.append(Item(path, frame, None, error_kind=failure.kind, error=str(failure)))
                        break
                items.append(_normalise_frame(image, path, frame))
            return items
    finally:
        source.close()


def failed(path: str, kind: str, message: str, frame: int = 0) -> Item:
    """An error Item made outside decoding (a missing listed path, a crashed worker)."""
    return Item(path, frame, None, error_kind=kind, error=message)
