"""RIFF chunks: built, and appended to a RIFF or RF64 WAVE file with its size field fixed."""

from __future__ import annotations

import os
import struct
from typing import IO

from wildzarr.errors import StorageError

__all__ = ["append_riff_chunk", "chunk"]

_RIFF_LIMIT = 0xFFFFFFFF


def chunk(name: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: id, little-endian size, payload, a pad byte when the size is odd."""
    return name + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def append_riff_chunk(file: IO[bytes], chunk_id: bytes, body: bytes, name: str) -> None:
    """Append a chunk at the end of a RIFF (or RF64) WAVE file and fix the file's size field.

    RIFF (Microsoft/IBM 1991): a chunk is its id, a little-endian uint32
    size and the body, padded to an even length; the ``RIFF`` header's size
    counts everything after its first 8 bytes. RF64 (EBU Tech 3306) keeps
    that size as a 64-bit field of the ``ds64`` chunk, which must follow the
    header. A pad byte is added first when the file's length is odd.

    Raises
    ------
    StorageError
        If the file is not a RIFF/RF64 WAVE file, or a RIFF file would
        exceed 4 GiB.
    """
    file.seek(0)
    head = file.read(12)
    end = file.seek(0, os.SEEK_END)
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64"):
        raise StorageError(f"{name}: not a RIFF WAVE file; cannot add a {chunk_id.decode()} chunk", name)
    if end % 2:
        file.write(b"\0")
        end += 1
    data = chunk(chunk_id, body)
    size = end + len(data) - 8
    if head[:4] == b"RIFF":
        if size > _RIFF_LIMIT:
            raise StorageError(
                f"{name}: the {chunk_id.decode()} chunk would take the file beyond 4 GiB", name
            )
        file.write(data)
        file.seek(4)
        file.write(struct.pack("<I", size))
        return
    file.seek(12)
    if file.read(4) != b"ds64":
        raise StorageError(f"{name}: RF64 file without a ds64 chunk after its header", name)
    file.seek(end)
    file.write(data)
    file.seek(20)
    file.write(struct.pack("<Q", size))
