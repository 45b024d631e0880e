"""Parser for the IDX format that MNIST and Fashion-MNIST are distributed in.

Layout (big-endian): two zero bytes, a type code, the number of dimensions, one uint32 per
dimension, then the values in row-major order. We check every part of it because a truncated
download would otherwise silently become a shorter dataset.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

# IDX type code -> numpy dtype (big-endian where it matters).
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """The bytes are not a well-formed IDX file."""


def parse_idx(data: bytes, *, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes (optionally gzip-compressed) into an array of the declared shape."""
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise IdxFormatError(f"{name}: corrupt gzip stream ({exc})") from exc
    if len(data) < 4:
        raise IdxFormatError(f"{name}: {len(data)} bytes is too short for an IDX header")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _DTYPES:
        raise IdxFormatError(f"{name}: bad magic number 0x{data[:4].hex()} (expected 0x0000TTDD)")
    if ndim == 0:
        raise IdxFormatError(f"{name}: IDX header declares zero dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IdxFormatError(f"{name}: truncated header ({len(data)} of {header_len} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = _DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    payload = len(data) - header_len
    if payload != expected:
        raise IdxFormatError(
            f"{name}: shape {shape} needs {expected} data bytes but the file has {payload}"
            + (" (truncated)" if payload < expected else " (trailing bytes)")
        )
    return np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not."""
    return parse_idx(Path(path).read_bytes(), name=str(path))


def encode_idx(array: np.ndarray, *, compress: bool = False) -> bytes:
    """Encode an array as IDX bytes; the inverse of `parse_idx` (used to make test fixtures)."""
    codes = {dtype.newbyteorder(">") if dtype.itemsize > 1 else dtype: code for code, dtype in _DTYPES.items()}
    big_endian = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if big_endian not in codes:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    header = struct.pack(">HBB", 0, codes[big_endian], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + np.ascontiguousarray(array, dtype=big_endian).tobytes()
    return gzip.compress(raw) if compress else raw


def check_images_and_labels(images: np.ndarray, labels: np.ndarray, *, name: str) -> None:
    """Check that an image/label pair is consistent MNIST-style data (N×28×28 uint8, labels 0–9)."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise IdxFormatError(f"{name}: images have shape {images.shape}, expected (N, 28, 28)")
    if labels.ndim != 1:
        raise IdxFormatError(f"{name}: labels have shape {labels.shape}, expected (N,)")
    if len(images) != len(labels):
        raise IdxFormatError(f"{name}: {len(images)} images but {len(labels)} labels")
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise IdxFormatError(f"{name}: expected unsigned bytes, got {images.dtype} / {labels.dtype}")
    if labels.size and labels.max() > 9:
        raise IdxFormatError(f"{name}: label {int(labels.max())} outside 0–9")
