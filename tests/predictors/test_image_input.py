"""Client pixels and image files become model-format arrays: real formats, real dataset images, exact error answers."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, features

from app.core.errors import ServiceError, TooLarge
from app.predictors.image_input import (
    InvalidImage,
    decode_image,
    is_already_model_format,
    normalize_digit,
    normalize_fashion,
)
from training.data.images import read_image_csv

DATA = Path(__file__).resolve().parents[2] / "data"
LIMITS = {"max_bytes": 1_000_000, "max_pixels": 4_000_000}


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return read_image_csv(DATA / "digit-recognizer" / "test.csv")[0][:200]


@pytest.fixture(scope="module")
def fashion() -> np.ndarray:
    return read_image_csv(DATA / "fashion-mnist" / "fashion-mnist_test.csv")[0][:200]


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _inverted_upscaled(image: np.ndarray, size: int = 280) -> Image.Image:
    """A dataset image as a user would draw or photograph it: dark on white, ten times larger."""
    return Image.fromarray(255 - image).resize((size, size), Image.Resampling.BICUBIC)


def _centre_of_mass(values: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(values.shape)
    return np.array([(rows * values).sum(), (cols * values).sum()]) / values.sum()


def _box(values: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the non-zero pixels."""
    rows, cols = np.flatnonzero(values.any(axis=1)), np.flatnonzero(values.any(axis=0))
    return rows[0], cols[0], rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height but that carries no real pixel data: loading it could only fail."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    )


def _raises(status: int, message: str, func, *args, **kwargs) -> ServiceError:
    """The failure `func` raises: too large (a 413) or an unusable image (a 422, code invalid_image)."""
    with pytest.raises(ServiceError) as caught:
        func(*args, **kwargs)
    assert type(caught.value) is {413: TooLarge, 422: InvalidImage}[status]
    assert caught.value.detail == message
    return caught.value


# --- decode_image ------------------------------------------------------------------------------------------------


def _sample() -> Image.Image:
    """A 40×30 grey ramp with a white bar: distinct values everywhere, so a lossless round trip is checkable."""
    values = np.add.outer(np.arange(30) * 4, np.arange(40) * 2).astype(np.uint8)
    values[10:14, 5:35] = 255
    return Image.fromarray(values)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "GIF", "WEBP", "JPEG"])
def test_common_formats_decode_to_grayscale(fmt):
    if fmt == "WEBP" and not features.check("webp"):
        pytest.fail("this Pillow build cannot write WebP, which the service promises to accept")
    lossy = fmt in ("JPEG", "WEBP")
    data = _encode(_sample().convert("RGB"), fmt, **({"quality": 95} if lossy else {}))
    image = decode_image(data, **LIMITS)
    assert image.mode == "L" and image.size == (40, 30)
    difference = np.abs(np.asarray(image, dtype=float) - np.asarray(_sample(), dtype=float))
    assert difference.max() <= (12 if lossy else 0)


def test_transparent_background_is_composited_onto_white():
    drawing = Image.new("RGBA", (40, 40), (0, 0, 0, 0))  # transparent *black*: plain convert("L") would give black
    ImageDraw.Draw(drawing).line([(5, 20), (35, 20)], fill=(0, 0, 0, 255), width=3)
    values = np.asarray(decode_image(_encode(drawing, "PNG"), **LIMITS))
    assert values[0, 0] == 255 and values[20, 20] == 0


def test_palette_gif_with_a_transparent_index_is_composited_onto_white():
    drawing = Image.new("P", (20, 20), 0)
    drawing.putpalette([0, 0, 0] * 256)
    drawing.putpixel((10, 10), 1)
    values = np.asarray(decode_image(_encode(drawing, "GIF", transparency=0), **LIMITS))
    assert values[0, 0] == 255 and values[10, 10] == 0


def test_animated_gif_uses_its_first_frame():
    first, second = Image.new("L", (16, 16), 0), Image.new("L", (16, 16), 200)
    first.paste(255, (4, 4, 8, 8))
    data = _encode(first, "GIF", save_all=True, append_images=[second], duration=100)
    values = np.asarray(decode_image(data, **LIMITS))
    assert values[5, 5] == 255 and values[0, 0] == 0


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display", as phones write it
    image = decode_image(_encode(Image.new("RGB", (40, 20), "white"), "JPEG", exif=exif.tobytes()), **LIMITS)
    assert image.size == (20, 40)


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    values = np.zeros((4, 4), dtype=np.uint16)
    values[0, 0], values[1, 1] = 65535, 32896
    image = decode_image(_encode(Image.fromarray(values), "PNG"), **LIMITS)
    assert np.asarray(image)[0, 0] == 255 and np.asarray(image)[1, 1] == 128 and np.asarray(image)[2, 2] == 0


def test_empty_bytes_are_refused():
    _raises(422, "empty image", decode_image, b"", **LIMITS)


def test_a_text_file_is_not_an_image():
    message = "not a recognised image format (send PNG, JPEG, GIF, BMP, WebP or TIFF)"
    _raises(422, message, decode_image, b"label,pixel0,pixel1\n5,0,0\n", **LIMITS)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_images_are_refused(fmt):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    data = _encode(noise, fmt)
    _raises(422, "could not decode image (truncated or corrupt)", decode_image, data[: len(data) // 2], **LIMITS)


def test_too_many_bytes_are_refused_before_decoding():
    data = b"\0" * 1001  # not an image at all: the size check must come first
    _raises(
        413,
        "image is 1001 bytes, more than the limit of 1000 bytes",
        decode_image,
        data,
        max_bytes=1000,
        max_pixels=100,
    )


def test_a_header_claiming_too_many_pixels_is_refused_before_loading():
    # The file has no pixel data: had decode_image loaded it, the answer would be 422 "truncated", not 413.
    data = _png_header_only(5000, 5000)
    assert len(data) < 100
    _raises(413, "image is 5000×5000 = 25000000 pixels, more than the limit of 4000000", decode_image, data, **LIMITS)


@pytest.mark.parametrize("side", [10_000, 20_000])  # past Pillow's own warning (89 Mpx) and error (179 Mpx) limits
def test_decompression_bombs_are_refused_even_with_a_generous_limit(side):
    data = _png_header_only(side, side)
    _raises(
        413, "image has too many pixels (the limit is 1000000000)", decode_image, data, max_bytes=1000, max_pixels=10**9
    )


# --- normalize_digit ---------------------------------------------------------------------------------------------


def test_mnist_digits_come_back_nearly_unchanged(digits):
    # Measured: mean correlation 0.997 over these 200 (the lowest, 0.61, is a thin 1 moved by one pixel).
    outputs = [normalize_digit(Image.fromarray(image)) for image in digits]
    correlations = [np.corrcoef(image.ravel(), out.ravel())[0, 1] for image, out in zip(digits, outputs, strict=True)]
    assert np.mean(correlations) > 0.98


def test_a_digit_drawn_dark_on_white_and_large_matches_the_dataset_version(digits):
    # Measured: mean absolute difference 6.4 (on 0–255) from the normalized original; the wrong polarity gives ~240.
    from_dataset = np.array([normalize_digit(Image.fromarray(image)) for image in digits])
    from_drawing = np.array([normalize_digit(_inverted_upscaled(image)) for image in digits])
    assert np.abs(from_drawing - from_dataset).mean() < 10
    assert np.abs(from_drawing - digits).mean() < 10


def test_normalized_digits_fit_20x20_with_their_centre_of_mass_at_14_14(digits):
    for image in digits[:50]:
        out = normalize_digit(_inverted_upscaled(image))
        assert out.dtype == np.float32 and out.shape == (28, 28)
        assert out.min() == 0 and out.max() == pytest.approx(255)
        assert np.abs(_centre_of_mass(out) - 14).max() <= 1
        _, _, height, width = _box(out)
        assert max(height, width) == 20


def test_an_off_centre_digit_on_a_wide_canvas_ends_up_centred(digits):
    differences = []
    for image in digits[:10]:
        canvas = Image.new("L", (200, 100), 255)
        canvas.paste(_inverted_upscaled(image, 84), (10, 3))  # near the top-left corner
        out = normalize_digit(decode_image(_encode(canvas, "PNG"), **LIMITS))
        assert np.abs(_centre_of_mass(out) - 14).max() <= 1
        differences.append(np.abs(out - normalize_digit(Image.fromarray(image))).mean())
    assert np.mean(differences) < 10  # measured: 6.4


def test_a_noisy_photo_of_grey_paper_gives_the_dataset_digit(digits):
    # Ink at 100 on paper at 228 with sensor noise, saved as JPEG. Measured mean difference: 6.7; before the
    # background level allowed for noise, stray noise pixels stretched the ink box to the whole frame (22–35).
    rng = np.random.default_rng(0)
    differences = []
    for image in digits[:20]:
        photo = np.asarray(_inverted_upscaled(image), dtype=float) * 0.5 + 100 + rng.normal(0, 5, (280, 280))
        data = _encode(Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)), "JPEG", quality=75)
        out = normalize_digit(decode_image(data, **LIMITS))
        differences.append(np.abs(out - normalize_digit(Image.fromarray(image))).mean())
    assert np.mean(differences) < 10


@pytest.mark.parametrize("colour", [0, 255, 128])
def test_a_blank_image_has_no_digit(colour):
    _raises(422, "the image contains no visible digit", normalize_digit, Image.new("L", (50, 50), colour))


# --- normalize_fashion -------------------------------------------------------------------------------------------


def test_fashion_mnist_items_pass_through_unchanged(fashion):
    for image in fashion:
        assert is_already_model_format(image)
        np.testing.assert_array_equal(normalize_fashion(Image.fromarray(image)), image.astype(np.float32))


def test_an_inverted_28x28_item_is_only_inverted_back(fashion):
    np.testing.assert_array_equal(normalize_fashion(Image.fromarray(255 - fashion[0])), fashion[0].astype(np.float32))


def test_a_product_photo_sized_item_matches_the_dataset_version(fashion):
    # Measured: mean absolute difference 12.4 (the bicubic round trip alone costs 4.5; trimming faint edges a pixel
    # differently does the rest); the wrong polarity gives ~196.
    outputs = np.array([normalize_fashion(_inverted_upscaled(image)) for image in fashion])
    assert np.abs(outputs - fashion).mean() < 16


def test_a_dark_object_on_a_white_canvas_becomes_light_on_black_with_longest_side_28():
    canvas = Image.new("L", (300, 200), 255)
    canvas.paste(40, (30, 20, 150, 80))  # a 120×60 dark rectangle towards the top left
    out = normalize_fashion(decode_image(_encode(canvas, "PNG"), **LIMITS))
    assert _box(out) == (7, 0, 14, 28)  # 28 wide, 14 tall, centred vertically
    assert out[0, 0] == 0 and out[14, 14] == pytest.approx(215, abs=1)


@pytest.mark.parametrize("size", [50, 28])  # 28×28: a blank frame must not slip through as "already model format"
@pytest.mark.parametrize("colour", [0, 255])
def test_a_blank_image_has_no_item(colour, size):
    _raises(422, "the image contains no visible item", normalize_fashion, Image.new("L", (size, size), colour))


def test_fashion_items_filling_the_whole_frame_pass_through_unchanged():
    """Some Fashion-MNIST items touch every edge: there is no background border to measure, nothing to trim."""
    full_frame = read_image_csv(DATA / "fashion-mnist" / "fashion-mnist_test.csv")[0][[4494, 6618, 7898, 8320, 9595]]
    for item in full_frame:
        assert np.array_equal(normalize_fashion(Image.fromarray(item)), item.astype(np.float32))
