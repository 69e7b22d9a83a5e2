"""The two decoders: OpenCV takes the common simple files, Pillow everything else; both must give the same
tensor, and the fast path must never take a file whose meaning it would get wrong."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from toolkit import data
from toolkit.imaging import normalise
from toolkit.predict import decode


@pytest.fixture(scope="module")
def digits():
    (_, _), (x_test, _) = data.load_mnist()
    return x_test[:50]


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def scan(digit: np.ndarray) -> np.ndarray:
    """Dark ink on light paper, 3x upscaled and off-centre (uint8)."""
    big = np.asarray(Image.fromarray(digit).resize((84, 84), Image.Resampling.BICUBIC))
    return (230 - 0.85 * np.pad(big, ((6, 20), (15, 4))).astype(np.float32)).clip(0, 255).astype(np.uint8)


def pillow_tensor(payload: bytes) -> np.ndarray:
    image = decode.open_image(io.BytesIO(payload))
    image.load()
    return normalise.prepare(image).tensor


def fast_tensor(payload: bytes) -> np.ndarray:
    pixels = decode.decode_fast(payload)
    assert pixels is not None, "expected the OpenCV path to take this file"
    return normalise.prepare_array(pixels).tensor


def test_mnist_pngs_through_the_fast_path_are_the_mnist_arrays(digits, tmp_path):
    expected = data.to_model_input(digits)[..., 0]
    for i, digit in enumerate(digits):
        path = tmp_path / f"{i}.png"
        Image.fromarray(digit).save(path)
        assert decode.decode_fast(path.read_bytes()) is not None
        [item] = decode.prepare_path(str(path))
        assert item.error is None and np.array_equal(item.tensor, expected[i]), i


def rgba_of(gray: np.ndarray) -> Image.Image:
    """Blue ink whose opacity is the ink's darkness, on a transparent sheet."""
    rgba = np.zeros((*gray.shape, 4), np.uint8)
    rgba[..., :3] = (20, 30, 90)
    rgba[..., 3] = 255 - gray
    return Image.fromarray(rgba, "RGBA")


STYLES = {
    "png-gray": lambda g: encoded(Image.fromarray(g), "PNG"),
    "png-16bit": lambda g: encoded(Image.fromarray(g.astype(np.uint16) * 257), "PNG"),
    "png-rgb": lambda g: encoded(Image.fromarray(np.dstack([g, g, g])), "PNG"),
    "png-rgba": lambda g: encoded(rgba_of(g), "PNG"),
    "png-gray-alpha": lambda g: encoded(Image.fromarray(np.dstack([g, np.full_like(g, 255)]), "LA"), "PNG"),
    "bmp-rgb": lambda g: encoded(Image.fromarray(np.dstack([g, g, g])), "BMP"),
    "bmp-gray": lambda g: encoded(Image.fromarray(g), "BMP"),
    "jpeg-gray": lambda g: encoded(Image.fromarray(g), "JPEG", quality=95),
    "jpeg-rgb": lambda g: encoded(Image.fromarray(np.dstack([g, g, g])), "JPEG", quality=95),
    "jpeg-progressive": lambda g: encoded(Image.fromarray(g), "JPEG", quality=95, progressive=True),
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_both_decoders_give_the_same_tensor(digits, style):
    for digit in digits[:10]:
        payload = STYLES[style](scan(digit))
        fast, slow = fast_tensor(payload), pillow_tensor(payload)
        # Luminance and composition round differently in the two libraries: a grey level, no more.
        assert np.abs(fast - slow).mean() < 0.01, style
        assert int(fast.argmax()) == int(slow.argmax()) or np.abs(fast - slow).max() < 0.1


def test_exif_rotated_jpeg_is_turned_upright_by_either_path(digits):
    upright = scan(digits[0])
    rotated = Image.fromarray(np.rot90(upright, 1).copy())  # stored turned a quarter left...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...and tagged "turn a quarter right to display"
    payload = encoded(rotated, "JPEG", quality=95, exif=exif.tobytes())
    expected = pillow_tensor(encoded(Image.fromarray(upright), "JPEG", quality=95))
    assert np.abs(fast_tensor(payload) - expected).mean() < 0.02
    assert np.abs(pillow_tensor(payload) - expected).mean() < 0.02


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.parametrize(
    "why, payload",
    [
        ("palette", encoded(Image.fromarray(np.zeros((8, 8), np.uint8)).convert("P"), "PNG")),
        ("transparency key", encoded(Image.fromarray(np.zeros((8, 8), np.uint8)), "PNG", transparency=0)),
        ("1-bit", encoded(Image.fromarray(np.zeros((8, 8), bool)), "PNG")),
        ("tiff", encoded(Image.fromarray(np.zeros((8, 8), np.uint8)), "TIFF")),
        ("gif", encoded(Image.fromarray(np.zeros((8, 8), np.uint8)), "GIF")),
        ("cmyk jpeg", encoded(Image.new("CMYK", (8, 8)), "JPEG")),
        ("jpeg cut short", encoded(Image.fromarray(np.zeros((64, 64), np.uint8)), "JPEG")[:300]),
        ("text", b"hello, not an image\n"),
    ],
)
def test_files_the_fast_path_would_misread_go_to_pillow(why, payload):
    assert decode.decode_fast(payload) is None, why


def test_a_jpeg_cut_short_is_still_reported_truncated(tmp_path):
    path = tmp_path / "cut.jpg"
    whole = encoded(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)), "JPEG")
    path.write_bytes(whole[: len(whole) // 2])
    [item] = decode.prepare_path(str(path))
    assert item.tensor is None and item.error_kind == "truncated"


def test_a_corrupt_png_that_opencv_refuses_is_classified_by_pillow(tmp_path):
    whole = bytearray(encoded(Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64), np.uint8)), "PNG"))
    whole[60] ^= 0xFF  # inside the compressed data: the CRC no longer matches
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(whole))
    [item] = decode.prepare_path(str(path))
    assert item.tensor is None and item.error_kind in ("corrupt", "truncated") and item.error


def test_the_pixel_limit_is_checked_on_the_header_before_any_decoding(tmp_path):
    # A valid PNG header that claims 20000 x 20000 pixels, followed by no image data worth decoding.
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
    payload = b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + png_chunk(b"IEND", b"")
    with pytest.raises(decode.Failure) as failure:
        decode.decode_fast(payload)
    assert failure.value.kind == "too-large" and "20000x20000" in str(failure.value)
    path = tmp_path / "bomb.png"
    path.write_bytes(payload)
    [item] = decode.prepare_path(str(path))
    assert item.error_kind == "too-large"


def test_big_jpegs_are_scaled_down_while_decoding(digits):
    page = np.full((3000, 2600), 235, np.uint8)
    digit = scan(digits[0]).repeat(7, axis=0).repeat(7, axis=1)
    page[1000 : 1000 + digit.shape[0], 900 : 900 + digit.shape[1]] = digit
    payload = encoded(Image.fromarray(page), "JPEG", quality=90)
    pixels = decode.decode_fast(payload)
    assert pixels is not None and max(pixels.shape) <= 2 * normalise.MAX_SIDE
    result = normalise.prepare_array(pixels)
    assert not result.blank and result.inverted


# --- memory -------------------------------------------------------------------------------------------------


def test_an_image_over_the_decode_budget_is_too_large_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(decode, "DECODE_BUDGET", 1 << 20)
    big = tmp_path / "float.tif"
    Image.fromarray(np.full((600, 600), 0.5, np.float32), "F").save(big)  # 4 bytes a pixel: 1.4 MB
    small = tmp_path / "grey.png"
    Image.fromarray(np.full((600, 600), 200, np.uint8)).save(small)  # 1 byte a pixel: 0.34 MB
    [item] = decode.prepare_path(str(big))
    assert item.error_kind == "too-large"
    assert item.error == (
        "600x600 needs 1 MB to decode, more than the 1 MB a decoding process may use; save it smaller or as 8-bit grey"
    )
    [item] = decode.prepare_path(str(small))
    assert item.error is None and item.blank


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (here the test, holding the page).
PEAK = """
import sys
from toolkit.predict.decode import prepare_path
[item] = prepare_path(sys.argv[1])
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(item.error_kind or ("blank" if item.blank else "ok"), peak // 1024)
"""


def peak_rss_mb(path) -> tuple[str, int]:
    """(outcome, peak resident MB) of decoding and normalising `path` in a fresh process."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, check=True)
    outcome, peak = done.stdout.split()
    return outcome, int(peak)


@pytest.mark.slow
def test_images_near_the_pixel_limit_stay_within_the_memory_budget(tmp_path, digits):
    side = 9400  # 88.4 M pixels, just under Pillow's limit of 89.5 M
    page = np.full((side, side), 230, np.uint8)
    ink = scan(digits[0]).repeat(20, axis=0).repeat(20, axis=1)
    page[3000 : 3000 + ink.shape[0], 3000 : 3000 + ink.shape[1]] = ink
    Image.fromarray(page).save(tmp_path / "grey.png")
    Image.fromarray(page.astype(np.float32) / 255, "F").save(tmp_path / "float.tif", compression="tiff_deflate")
    # Before the budget these took 2.25 GB (float TIFF) and ~1 GB (grey PNG) in one process.
    outcome, peak = peak_rss_mb(tmp_path / "grey.png")
    assert outcome == "ok" and peak < 300, peak
    outcome, peak = peak_rss_mb(tmp_path / "float.tif")
    assert outcome == "too-large" and peak < 150, peak


def test_a_worker_stays_under_300_mb_on_the_largest_palette_and_grey_pages(tmp_path):
    """The promise: a decoding worker's peak RSS (ru_maxrss, its onnxruntime session included) stays under
    300 MB on any admitted image. Measured from a fresh parent, so no earlier test's child counts."""
    import subprocess
    import sys

    from PIL import ImageDraw

    for name, mode, size in (("pal", "P", 8000), ("palt", "P", 8000), ("grey", "L", 8000), ("bw", "1", 9000)):
        page = Image.new(mode, (size, size), 1 if mode == "1" else 255 if mode == "L" else 0)
        if mode == "P":
            page.putpalette([255, 255, 255, 0, 0, 0] + [90, 90, 90] * 254)
        ImageDraw.Draw(page).ellipse(
            [size * 0.4, size * 0.3, size * 0.6, size * 0.7], outline=0 if mode != "P" else 1, width=size // 60
        )
        page.save(tmp_path / f"{name}.png", **({"transparency": 0} if name == "palt" else {}))
    measure = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'toolkit', 'predict', sys.argv[1], '--workers', '1',"
        " '--out', sys.argv[2]], capture_output=True)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
    )
    out = tmp_path / "o.csv"
    result = subprocess.run([sys.executable, "-c", measure, str(tmp_path), str(out)], capture_output=True, text=True)
    code, peak_mb = map(int, result.stdout.split())
    assert code == 0 and out.read_text().count(",ok,0,") == 4
    assert peak_mb < 300, f"a process of the run peaked at {peak_mb} MB"
