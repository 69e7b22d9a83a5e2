"""Decode one file into model tensors, or say precisely why it cannot be: the per-file building block.

`prepare_path(path)` opens the file without ever blocking (FIFOs are refused, not read), decodes it, keeps
Pillow's decompression-bomb pixel limit (an image above `Image.MAX_IMAGE_PIXELS` is refused, and the limit is
never switched off), normalises the first frame (or every frame) with `toolkit.imaging.normalise`, and returns `Item`s.

Two decoders share the work. The files scans mostly are (8/16-bit PNG without palette, transparency key, EXIF or
animation; uncompressed 8/24-bit BMP; 8-bit baseline or progressive JPEG, grey or colour) are decoded by
OpenCV, 3-6x faster than Pillow, once their header has passed the pixel limit. Everything else, and every file
OpenCV cannot decode, goes to Pillow restricted to image formats (no Ghostscript for EPS, no PDF), which also
tells why a file is bad. It never raises for a bad file:
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

import cv2
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from toolkit.errors import first_line
from toolkit.imaging import normalise, orient
from toolkit.predict import located
from toolkit.predict.headers import KEEP_SIDE, bmp_header, jpeg_at_full_size, jpeg_header, png_header

# Raster formats Pillow decodes by itself. EPS (runs Ghostscript), PDF and the rare scientific formats are out.
ALLOWED_FORMATS = (
    "PNG",
    "JPEG",
    "MPO",
    "GIF",
    "BMP",
    "DIB",
    "TIFF",
    "WEBP",
    "PPM",
    "PCX",
    "TGA",
    "ICO",
    "JPEG2000",
    "QOI",
    "AVIF",
    "PSD",
    "SGI",
    "XBM",
)
DEFAULT_PIXEL_LIMIT = 89_478_485  # Pillow's own default, used if something set the limit to None
READ_WHOLE = 32 << 20  # files up to this size are read in one go (much faster than Pillow's small reads)
# Memory a decoding process may spend on one decoded image (see `_check_budget`): with the ~100 MB a worker
# needs anyway, one worker stays near 300 MB on any file, and the default pool of workers well under 1 GB.
DECODE_BUDGET = 192 << 20
# OpenCV decodes PNG and BMP files up to this many pixels; bigger ones go to Pillow, whose decoders need about
# half the memory (measured on 9400x9400 PNGs: 1.2x the image's bytes against 2x). JPEGs are decoded scaled.
FAST_MAX_PIXELS = normalise.ARRAY_MAX_PIXELS
# Bytes a pixel takes in Pillow's memory, by mode (anything else takes 4).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
ERROR_KINDS = (
    "empty",
    "truncated",
    "corrupt",
    "not-an-image",
    "unsupported-format",
    "too-large",
    "unreadable",
    "vanished",
    "missing",
    "not-a-file",
    "worker-crashed",
)

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
    # float32 (28, 28); (n, 28, 28) when read with multi_digit, or a single digit's candidates (plan "pick:...");
    # None on error
    tensor: np.ndarray | None
    blank: bool = False
    error_kind: str | None = None
    error: str | None = None
    flags: tuple[str, ...] = ()  # see toolkit.imaging.segment.FLAGS
    plan: str | None = None  # alternative readings among the tensors (see Segmented.plan)


def pixel_limit() -> int:
    """Pillow's decompression-bomb limit; never None here, whatever a caller did to the global."""
    return Image.MAX_IMAGE_PIXELS or DEFAULT_PIXEL_LIMIT


def _allowed_formats() -> tuple[str, ...]:
    Image.init()
    return tuple(f for f in ALLOWED_FORMATS if f in Image.OPEN)


_FORMATS: tuple[str, ...] | None = None


def read_file(path: str, follow: bool = True, access: located.Access = located.LOCAL) -> io.BytesIO | io.BufferedReader:
    """Open a regular file without blocking on FIFOs or devices, refusing empty files; bytes in memory when
    small. An archive member or an object (a URL: `located`) is read whole through fsspec, with `access`.
    Raises Failure."""
    if located.is_located(path):
        try:
            return io.BytesIO(located.read(path, access))
        except located.Problem as problem:
            raise Failure(problem.kind, str(problem)) from None
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
            chunks: list[bytes] = []
            while chunk := os.read(fd, st.st_size + 1 - sum(len(c) for c in chunks) or 65536):
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
    try:
        _check_pixels(*image.size)
    except Failure:
        image.close()
        raise
    return image


def quiet_worker() -> None:
    """Set up this whole process for decoding many files: decoder warnings (corrupt EXIF and the like) and
    OpenCV's log lines are noise in a batch job. Worker processes call it once; otherwise each file is wrapped
    in catch_warnings, which costs more."""
    global _QUIET
    warnings.simplefilter("ignore")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # "can't read data" for each bad file
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


def _failed_item(path: str, frame: int, exc: Exception) -> Item:
    """The error Item for an exception raised while loading or normalising an image."""
    failure = _load_error(exc)
    return Item(path, frame, None, error_kind=failure.kind, error=str(failure))


def prepare_image(image: Image.Image, path: str, frame: int = 0, multi_digit: bool = False) -> Item:
    """Normalise one opened image (or the current frame of one): an Item, or an error Item, never raises."""
    try:
        with _quietly():
            if image.format == "JPEG" and (side := max(image.size)) > 2 * KEEP_SIDE:
                # Let the JPEG decoder downscale by 2-8x while decoding, its longer side KEEP_SIDE or more.
                image.draft(None, (-(-image.width * KEEP_SIDE // side), -(-image.height * KEEP_SIDE // side)))
            width, height = image.size
            bytes_per_pixel = _MODE_BYTES.get(image.mode, 4)
            # PNG rows are unfiltered in two row buffers beside the image.
            _check_budget(width, height, bytes_per_pixel, 2 * width * bytes_per_pixel if image.format == "PNG" else 0)
            image = orient.tiff_loaded(image)  # before any other load: see toolkit.imaging.orient
            image.load()
            result = normalise.prepare(image, multi_digit)
    except Failure as failure:
        return Item(path, frame, None, error_kind=failure.kind, error=str(failure))
    except Exception as exc:
        return _failed_item(path, frame, exc)
    return as_item(path, frame, result)


def jpeg_file_of(image: Image.Image) -> str | None:
    """The file a large JPEG image was opened on (`Image.open(path)`) and not yet loaded: `prepare_path` on it
    reads what the image holds as the file reads (decoded reduced by OpenCV, and at its own size for the closer
    look, `headers.jpeg_at_full_size`), where `prepare_image` could only decode it reduced. None for any other
    image (opened on a stream, loaded, small, not a JPEG)."""
    filename = getattr(image, "filename", "")
    large = image.format == "JPEG" and max(image.size) > 2 * KEEP_SIDE
    return filename if large and isinstance(image, ImageFile.ImageFile) and image.tile else None


def as_item(path: str, frame: int, result: normalise.Normalized) -> Item:
    """The item predict scores for a file's (or frame's) normalised result."""
    if result.others is not None:  # single-digit candidates: the model picks (reading.pick)
        tensors = np.concatenate([result.tensor[None], result.others])
        return Item(path, frame, tensors, blank=result.blank, flags=result.flags, plan=result.plan)
    if result.flags or result.plan:
        return Item(path, frame, result.tensor, blank=result.blank, flags=result.flags, plan=result.plan)
    return Item(path, frame, result.tensor, blank=result.blank)


def decode_fast(data: bytes) -> np.ndarray | None:
    """Pixels of a common simple file, decoded by OpenCV (grey, BGR or BGRA; uint8 or uint16), or None when the
    file is not one of those or OpenCV cannot decode it: Pillow then decides. Raises Failure over the limit."""
    header = png_header(data) or bmp_header(data) or jpeg_header(data)
    if header is None:
        return None
    width, height, flags = header
    _check_pixels(width, height)
    if flags == cv2.IMREAD_UNCHANGED and width * height > FAST_MAX_PIXELS:
        return None
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        return None


def _check_budget(width: int, height: int, bytes_per_pixel: int, extra: int = 0) -> None:
    """Failure ("too-large") when decoding would take more than DECODE_BUDGET bytes of memory."""
    need = width * height * bytes_per_pixel + extra
    if need > DECODE_BUDGET:
        raise Failure(
            "too-large",
            f"{width}x{height} needs {need / 2**20:,.0f} MB to decode, more than the "
            f"{DECODE_BUDGET >> 20} MB a decoding process may use; save it smaller or as "
            "8-bit grey",
        )


def _check_pixels(width: int, height: int) -> None:
    limit = pixel_limit()
    if width * height > limit:
        raise Failure(
            "too-large",
            f"{width}x{height} = {width * height:,} pixels is over the decompression-bomb limit of {limit:,}",
        )


def prepare_path(
    path: str,
    *,
    all_frames: bool = False,
    follow: bool = True,
    multi_digit: bool = False,
    access: located.Access = located.LOCAL,
) -> list[Item]:
    """Decode and normalise one file (or archive member, or object: `access` says how to reach those): one Item
    (the first frame), or one per frame with `all_frames`; with `multi_digit`, each Item holds the tensors of
    every digit read, left to right."""
    try:
        source = read_file(path, follow, access)
        # Files over READ_WHOLE stream through Pillow; a wanted list of frames is Pillow's to walk.
        data = source.getvalue() if not all_frames and isinstance(source, io.BytesIO) else None
        pixels = None if data is None else decode_fast(data)
    except Failure as failure:
        return [Item(path, 0, None, error_kind=failure.kind, error=str(failure))]
    if pixels is not None and data is not None:
        try:
            result = normalise.prepare_array(pixels, multi_digit, finer=jpeg_at_full_size(data, pixels))
        except Exception as exc:  # as in prepare_image: one error record, never a lost chunk
            return [_failed_item(path, 0, exc)]
        return [as_item(path, 0, result)]
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
                        items.append(_failed_item(path, frame, exc))
                        break
                items.append(prepare_image(image, path, frame, multi_digit))
            return items
    finally:
        source.close()


def failed(path: str, kind: str, message: str, frame: int = 0) -> Item:
    """An error Item made outside decoding (a missing listed path, a crashed worker)."""
    return Item(path, frame, None, error_kind=kind, error=message)
