"""Turn a client's image file into the float32 array (0–255) an image classifier takes, by its photo recipe.

A model trained on a dataset only sees inputs like its training data if a user's photo goes through the steps
that made the dataset. meta.json's `input.photo` names them: `mnist` repeats how MNIST itself was made (light
ink on black, the ink fitted into a 20×20 box, its mass centred in 28×28); `fashion-mnist` repeats Fashion-MNIST's
recipe (light on black, trimmed, longest side to 28, the box centred); `resize` (any other model) scales the
photo to the model's height × width, in its channels, as most datasets of photos were made.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import InvalidInput, TooLarge
from app.schemas.model_meta import ImageSpec

SIDE = 28
N_PIXELS = SIDE * SIDE
DIGIT_BOX = 20  # MNIST fits each digit in 20×20 and leaves a 4-pixel margin for the centre-of-mass shift
INK_THRESHOLD = 30.0  # after stretching to 0–255: fainter pixels are anti-aliasing or noise, not the digit's extent
# Fashion-MNIST trimmed "edges within 5% of the maximum intensity" of the background colour (Xiao et al., 2017).
TRIM_THRESHOLD = 0.05 * 255
MIN_CONTRAST = 24.0  # below this, a "drawing" is JPEG noise on a blank page; stretching it would invent a shape
DARK_BORDER = 30.0  # a 28×28 image whose border median is at most this is already in the datasets' format
# Formats a client may send; naming them keeps Pillow from trying its rarer, less-exercised decoders on untrusted bytes.
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
# What Pillow's decoders raise on damaged data; anything else is a bug and should surface as a 500.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


def pixel_columns(first_index: int, count: int = N_PIXELS) -> list[str]:
    """Kaggle's pixel column names: its digit files count from pixel0, its Fashion-MNIST files from pixel1."""
    return [f"pixel{i}" for i in range(first_index, first_index + count)]


class InvalidImage(InvalidInput):
    """A client's image is unusable (not an image, corrupt, blank); its message is meant for the answer."""

    code = "invalid_image"


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int, channels: int = 1) -> Image.Image:
    """Decode an uploaded image into a loaded grayscale ("L") Pillow image — RGB for `channels` 3 — refusing anything
    that could exhaust memory.

    Sizes are checked before decoding: the byte count first, then the width×height from the header, because a
    small compressed file can expand to gigabytes of pixels.
    """
    if len(data) > max_bytes:
        raise TooLarge(f"image is {len(data)} bytes, more than the limit of {max_bytes} bytes")
    if not data:
        raise InvalidImage("empty image")
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; an error is what we want either way.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)  # lazy: reads the header only
        except UnidentifiedImageError as exc:  # before _DECODE_ERRORS: it is an OSError too
            raise InvalidImage("not a recognised image format (send PNG, JPEG, GIF, BMP, WebP or TIFF)") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge(f"image has too many pixels (the limit is {max_pixels})") from exc
        except _DECODE_ERRORS as exc:  # a known format whose header is damaged
            raise InvalidImage("could not decode image (truncated or corrupt)") from exc
        width, height = image.size
        if width * height > max_pixels:
            raise TooLarge(f"image is {width}×{height} = {width * height} pixels, more than the limit of {max_pixels}")
        try:
            # Animated GIF/WebP and multi-page TIFF open on their first frame; load() decodes only that one.
            # load() must run here: Pillow decodes lazily, and truncation only shows once the pixels are read.
            image.load()
            # Phone photos are stored sideways with an EXIF "rotate me" tag; a sideways 7 is not a 7.
            image = ImageOps.exif_transpose(image)
            return _to_grayscale(image) if channels == 1 else _to_rgb(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge(f"image has too many pixels (the limit is {max_pixels})") from exc
        except _DECODE_ERRORS as exc:
            raise InvalidImage("could not decode image (truncated or corrupt)") from exc


def _to_grayscale(image: Image.Image) -> Image.Image:
    """Convert to "L", putting transparent areas on white: drawings exported from canvases are ink on nothing."""
    if image.mode.startswith("I") or image.mode == "F":  # 16-bit or float scans: convert("L") would clip at 255
        values = np.asarray(image, dtype=np.float64)
        full_scale = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 255.0)
        return Image.fromarray(np.clip(values * (255.0 / full_scale), 0, 255).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return image.convert("L")


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert to "RGB", putting transparent areas on white (as _to_grayscale does)."""
    if image.mode.startswith("I") or image.mode == "F":
        image = _to_grayscale(image)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return image.convert("RGB")


def resize_to(image: Image.Image, height: int, width: int) -> np.ndarray:
    """The `resize` recipe: the photo scaled to height × width (anti-aliased), as H×W or H×W×3 float32, 0–255."""
    resized = image.resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float32)


def _as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image.astype(np.float32)
    return np.asarray(image.convert("L") if image.mode != "L" else image, dtype=np.float32)


def _border(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])


def _light_on_dark(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Return the image as light content on a dark background, and the level at or below which it is background.

    The border's median is the background. Comparing the ink mass darker than it with the mass brighter than it
    decides polarity even on a mid-grey background (a photo of paper), where a fixed "> 127" test guesses.
    """
    border = _border(values)
    background = float(np.median(border))
    # Sensor/JPEG noise on a photo of paper would otherwise pass the ink threshold somewhere in a large image and
    # stretch the bounding box to the whole frame; 4 robust standard deviations above the paper is still paper.
    noise = 4 * 1.4826 * float(np.median(np.abs(border - background)))
    darker = np.clip(background - values, 0, None).sum()
    brighter = np.clip(values - background, 0, None).sum()
    if darker > brighter:
        return 255.0 - values, min(255.0 - background + noise, 255.0)
    return values, min(background + noise, 255.0)


def is_already_model_format(image: Image.Image | np.ndarray) -> bool:
    """A 28×28 image with a dark border is a dataset image (or one made like it) and needs no further processing."""
    values = _as_array(image)
    return values.shape == (SIDE, SIDE) and float(np.median(_border(values))) <= DARK_BORDER


def _content_box(values: np.ndarray, threshold: float) -> tuple[slice, slice] | None:
    rows = np.flatnonzero((values > threshold).any(axis=1))
    cols = np.flatnonzero((values > threshold).any(axis=0))
    if rows.size == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _resize(values: np.ndarray, longest: int) -> np.ndarray:
    """Resize so the longest side is `longest`, anti-aliased (LANCZOS on float data, no 8-bit rounding)."""
    height, width = values.shape
    scale = longest / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(values.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0, 255)  # LANCZOS rings slightly past the input range


def normalize_digit(image: Image.Image) -> np.ndarray:
    """Make any digit image look like an MNIST digit: light ink on black, in a 20×20 box, centre of mass at (14, 14).

    MNIST's own images come out nearly unchanged, since they were made this way.
    """
    values, background = _light_on_dark(_as_array(image))
    # Subtract the background and stretch the ink to full white: MNIST digits peak at 255 whatever the pen was.
    values = np.clip(values - background, 0, None)
    if values.max() < MIN_CONTRAST:
        raise InvalidImage("the image contains no visible digit")
    values *= 255.0 / values.max()
    box = _content_box(values, INK_THRESHOLD)
    if box is None:
        raise InvalidImage("the image contains no visible digit")
    patch = _resize(values[box], DIGIT_BOX)
    if patch.max() > 0:  # thin strokes fade when shrunk a lot; MNIST strokes are solid
        patch *= 255.0 / patch.max()
    # Centre of mass in pixel-index coordinates; MNIST's own digits average (14.0, 14.0) measured the same way.
    total = patch.sum()
    rows, cols = np.indices(patch.shape)
    centre_row, centre_col = (rows * patch).sum() / total, (cols * patch).sum() / total
    top = int(np.clip(round(SIDE / 2 - centre_row), 0, SIDE - patch.shape[0]))
    left = int(np.clip(round(SIDE / 2 - centre_col), 0, SIDE - patch.shape[1]))
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    out[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return out


def normalize_fashion(image: Image.Image) -> np.ndarray:
    """Make a product photo look like a Fashion-MNIST item: light on black, trimmed, longest side 28, box centred.

    A 28×28 image on a dark background is returned as is: Fashion-MNIST items touch the frame, and trimming and
    resizing them again would only blur them.
    """
    raw = _as_array(image)
    original, background = _light_on_dark(raw)
    values = np.clip(original - background, 0, None)
    if values.max() < MIN_CONTRAST:
        if raw.shape == (SIDE, SIDE) and float(raw.max() - raw.min()) >= MIN_CONTRAST:
            # An item filling the whole 28×28 frame (a few Fashion-MNIST shirts and bags): its border is the
            # item, not background, so there is nothing to trim — it is already in the dataset's format.
            return raw
        raise InvalidImage("the image contains no visible item")
    if is_already_model_format(original):
        return original.astype(np.float32)
    # Map the background to 0 but keep white at 255 rather than stretching to the item's maximum: in Fashion-MNIST
    # a pale garment stays faint, and the model learned that.
    values *= 255.0 / (255.0 - background)
    box = _content_box(values, TRIM_THRESHOLD)
    if box is None:
        raise InvalidImage("the image contains no visible item")
    item = _resize(values[box], SIDE)
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    # An odd margin goes to the top/left, as Fashion-MNIST does it (our round-trip test error: 13.4 → 12.4).
    top, left = (SIDE - item.shape[0] + 1) // 2, (SIDE - item.shape[1] + 1) // 2
    out[top : top + item.shape[0], left : left + item.shape[1]] = item
    return out


def photo_to_array(image: Image.Image, spec: ImageSpec) -> np.ndarray:
    """A decoded photo as the model's dataset has its images, by the model's recipe (meta.json `input.photo`)."""
    if spec.photo == "mnist":
        return normalize_digit(image)
    if spec.photo == "fashion-mnist":
        return normalize_fashion(image)
    return resize_to(image, spec.height, spec.width)
