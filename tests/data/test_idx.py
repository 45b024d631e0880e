import gzip
import re
import struct

import numpy as np
import pytest

from training.data.idx import IdxFormatError, check_images_and_labels, encode_idx, parse_idx, read_idx


def test_parse_hand_built_label_file():
    # magic 0x00000801 (unsigned bytes, one dimension), 3 items, then the values.
    data = struct.pack(">HBBI", 0, 0x08, 1, 3) + bytes([7, 0, 9])
    labels = parse_idx(data)
    assert labels.dtype == np.uint8
    assert labels.tolist() == [7, 0, 9]


def test_parse_hand_built_image_file():
    # magic 0x00000803: 2 images of 2×3 pixels, row-major.
    data = struct.pack(">HBBIII", 0, 0x08, 3, 2, 2, 3) + bytes(range(12))
    images = parse_idx(data)
    assert images.shape == (2, 2, 3)
    assert images[1].tolist() == [[6, 7, 8], [9, 10, 11]]


def test_parse_hand_built_big_endian_int16():
    data = struct.pack(">HBBI", 0, 0x0B, 1, 2) + struct.pack(">hh", -2, 513)
    assert parse_idx(data).tolist() == [-2, 513]


def test_parse_hand_built_gzipped_file():
    data = gzip.compress(struct.pack(">HBBI", 0, 0x08, 1, 4) + bytes([1, 2, 3, 4]))
    assert parse_idx(data).tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("compress", [False, True])
def test_encode_then_parse_round_trip(compress):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    data = encode_idx(images, compress=compress)
    assert data[:2] == (b"\x1f\x8b" if compress else b"\x00\x00")
    np.testing.assert_array_equal(parse_idx(data), images)


def test_encode_matches_hand_built_header():
    labels = np.array([7, 0, 9], dtype=np.uint8)
    assert encode_idx(labels) == b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x00\x09"


def test_encode_rejects_unsupported_dtype():
    with pytest.raises(ValueError, match="IDX cannot store dtype uint16"):
        encode_idx(np.zeros(3, dtype=np.uint16))


def test_read_idx_from_gzipped_file(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(encode_idx(labels, compress=True))
    np.testing.assert_array_equal(read_idx(path), labels)


def test_truncated_data():
    data = struct.pack(">HBBI", 0, 0x08, 1, 3) + bytes([1, 2])
    with pytest.raises(
        IdxFormatError, match=r"labels: shape \(3,\) needs 3 data bytes but the file has 2 \(truncated\)"
    ):
        parse_idx(data, name="labels")


def test_trailing_bytes():
    data = struct.pack(">HBBI", 0, 0x08, 1, 3) + bytes([1, 2, 3, 4])
    with pytest.raises(IdxFormatError, match=r"needs 3 data bytes but the file has 4 \(trailing bytes\)"):
        parse_idx(data)


def test_truncated_gzipped_data():
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    data = gzip.compress(encode_idx(images)[:-1])
    with pytest.raises(IdxFormatError, match=r"needs 1568 data bytes but the file has 1567 \(truncated\)"):
        parse_idx(data)


@pytest.mark.parametrize(
    ("header", "shown"),
    [
        (b"\x00\x00\x07\x01", "0x00000701"),  # unknown type code
        (b"\x00\x01\x08\x01", "0x00010801"),  # first two bytes not zero
        (b"PK\x03\x04", "0x504b0304"),  # a zip file, not IDX
    ],
)
def test_wrong_magic_number(header, shown):
    with pytest.raises(IdxFormatError, match=f"x.idx: bad magic number {shown} \\(expected 0x0000TTDD\\)"):
        parse_idx(header + struct.pack(">I", 1) + b"\x00", name="x.idx")


def test_zero_dimensions():
    with pytest.raises(IdxFormatError, match="declares zero dimensions"):
        parse_idx(b"\x00\x00\x08\x00")


def test_too_short_for_a_header():
    with pytest.raises(IdxFormatError, match="3 bytes is too short for an IDX header"):
        parse_idx(b"\x00\x00\x08")


def test_truncated_header():
    # Declares 3 dimensions (12 header bytes after the magic) but stops after the first.
    data = struct.pack(">HBBI", 0, 0x08, 3, 60000)
    with pytest.raises(IdxFormatError, match=r"truncated header \(8 of 16 bytes\)"):
        parse_idx(data)


def test_truncated_gzip_stream():
    data = encode_idx(np.arange(100, dtype=np.uint8), compress=True)
    with pytest.raises(IdxFormatError, match=re.escape("t10k.gz: corrupt gzip stream")):
        parse_idx(data[: len(data) // 2], name="t10k.gz")


def test_gzip_crc_mismatch():
    data = bytearray(encode_idx(np.arange(100, dtype=np.uint8), compress=True))
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    with pytest.raises(IdxFormatError, match=r"corrupt gzip stream \(CRC check failed"):
        parse_idx(bytes(data))


def test_corrupt_deflate_data():
    data = bytearray(encode_idx(np.arange(200, dtype=np.uint8).reshape(2, 10, 10), compress=True))
    data[10] ^= 0xFF  # first byte of the deflate stream: an invalid block type
    with pytest.raises(IdxFormatError, match=r"corrupt gzip stream .*invalid block type"):
        parse_idx(bytes(data))


def _images(n):
    return np.zeros((n, 28, 28), dtype=np.uint8)


def test_check_images_and_labels_accepts_mnist_shaped_data():
    check_images_and_labels(_images(10), np.arange(10, dtype=np.uint8), name="train")


def test_check_count_mismatch():
    with pytest.raises(IdxFormatError, match="train: 3 images but 2 labels"):
        check_images_and_labels(_images(3), np.array([1, 2], dtype=np.uint8), name="train")


def test_check_label_above_nine():
    with pytest.raises(IdxFormatError, match="test: label 10 outside 0–9"):
        check_images_and_labels(_images(3), np.array([1, 10, 2], dtype=np.uint8), name="test")


def test_check_wrong_image_shape():
    with pytest.raises(IdxFormatError, match=r"images have shape \(2, 28, 27\), expected \(N, 28, 28\)"):
        check_images_and_labels(np.zeros((2, 28, 27), dtype=np.uint8), np.zeros(2, dtype=np.uint8), name="x")


def test_check_labels_not_one_dimensional():
    with pytest.raises(IdxFormatError, match=r"labels have shape \(2, 1\), expected \(N,\)"):
        check_images_and_labels(_images(2), np.zeros((2, 1), dtype=np.uint8), name="x")


def test_check_wrong_dtype():
    with pytest.raises(IdxFormatError, match="expected unsigned bytes, got int16 / uint8"):
        check_images_and_labels(_images(2).astype(np.int16), np.zeros(2, dtype=np.uint8), name="x")
