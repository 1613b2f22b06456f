"""Reader and writer for the IDX format of the MNIST family (raw or gzip-compressed).

Layout (big-endian): two zero bytes, a type code (``0x08`` = unsigned byte), the
number of dimensions ``k``, then ``k`` uint32 sizes, then the data. MNIST image
files have magic ``2051`` (``0x00000803``, shape ``(count, 28, 28)``) and label
files magic ``2049`` (``0x00000801``, shape ``(count,)``).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from neurosim.data.files import atomic_write
from neurosim.data.types import DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(DataError):
    """A file is not a well-formed IDX file (bad magic, dims or length)."""


def read_bytes(path: str | Path) -> bytes:
    """Return the content of ``path``, decompressed if it is gzip (detected by magic bytes)."""
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise IdxFormatError(
                f"{path}: gzip stream is corrupt or truncated ({err}); delete it and fetch again."
            ) from err
    return data


def parse_idx(data: bytes, name: str = "<bytes>", expect_magic: int | None = None) -> np.ndarray:
    """Parse IDX bytes into a uint8 array of the declared shape.

    Parameters
    ----------
    data : bytes
        Uncompressed file content.
    name : str
        File name used in error messages.
    expect_magic : int, optional
        Required magic number (2051 images, 2049 labels).

    Raises
    ------
    IdxFormatError
        Bad magic, unsupported type code, or a length that disagrees with the header.
    """
    if len(data) < 4:
        raise IdxFormatError(f"{name}: {len(data)} bytes is too short for an IDX header.")
    magic = int.from_bytes(data[:4], "big")
    ndim = data[3]
    if data[:2] != b"\x00\x00" or data[2] != _UBYTE or ndim == 0:
        raise IdxFormatError(
            f"{name}: magic number {magic} is not an unsigned-byte IDX header "
            f"(expected {expect_magic or '2051 or 2049'}); is this really an IDX file?"
        )
    if expect_magic is not None and magic != expect_magic:
        raise IdxFormatError(
            f"{name}: magic number {magic}, expected {expect_magic} "
            f"({'images' if expect_magic == IMAGES_MAGIC else 'labels'}); "
            "the image and label files may be swapped."
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(f"{name}: truncated header ({len(data)} of {header} bytes).")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise IdxFormatError(
            f"{name}: {len(data)} bytes but the header declares shape {dims} "
            f"({expected} bytes); the file is truncated or corrupt: delete it and fetch again."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_idx(path: str | Path, expect_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or ``.gz``) into a uint8 array; see :func:`parse_idx`."""
    path = Path(path)
    return parse_idx(read_bytes(path), name=str(path), expect_magic=expect_magic)


def encode_idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array (1 to 255 dimensions) as raw IDX bytes."""
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim == 0:
        raise ValueError(
            f"encode_idx: need a uint8 array with at least one dimension, got "
            f"dtype {array.dtype} and shape {array.shape}; cast with .astype(np.uint8)."
        )
    header = bytes([0, 0, _UBYTE, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_idx(path: str | Path, array: np.ndarray, compress: bool = False) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``compress``), atomically."""
    data = encode_idx(array)
    return atomic_write(Path(path), gzip.compress(data, mtime=0) if compress else data)
