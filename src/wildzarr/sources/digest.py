"""Content digests (sha256) that identify a source, for duplicate detection.

The formulas are part of the archive format: archives compare the digest of a
new source with the digests stored at earlier imports, so they must never
change.

- a file: sha256 of its bytes;
- an array: ``sha256(f"{a.dtype.str}|{a.shape}|{samplerate}|".encode() +
  np.ascontiguousarray(a).tobytes())``, with ``a`` the array as the caller
  passed it (a 1-D array keeps its 1-D shape) and ``samplerate`` an int.

Arrays are hashed without a full copy: a C-contiguous array through one buffer,
any other in slices of rows of about :data:`HASH_BLOCK_BYTES`, each made
C-contiguous on its own. The bytes hashed are the same as the formula's.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

__all__ = ["HASH_BLOCK_BYTES", "array_sha256", "file_sha256"]

#: Bytes of a non-contiguous array copied and hashed at a time.
HASH_BLOCK_BYTES = 4 << 20


def file_sha256(path: Path) -> tuple[str, int]:
    """sha256 of a file's bytes, reading it once.

    Returns
    -------
    tuple of (str, int)
        The digest as 64 lowercase hex digits and the number of bytes hashed.

    Raises
    ------
    OSError
        When the file cannot be opened or read.
    """
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
        return digest, f.tell()


def array_sha256(array: np.ndarray, samplerate: int) -> str:
    """sha256 of an array's dtype, shape, sample rate and samples in C order (see the module docstring).

    Parameters
    ----------
    array : numpy.ndarray
        Any shape and memory layout with at least one dimension.
    samplerate : int
        Hz.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    a = np.asarray(array)
    hasher = hashlib.sha256(f"{a.dtype.str}|{a.shape}|{samplerate}|".encode())
    if a.flags.c_contiguous:
        hasher.update(a.data)
        return hasher.hexdigest()
    row_bytes = max(1, a[:1].nbytes)
    rows = max(1, HASH_BLOCK_BYTES // row_bytes)
    for start in range(0, a.shape[0], rows):
        hasher.update(np.ascontiguousarray(a[start : start + rows]).data)
    return hasher.hexdigest()
