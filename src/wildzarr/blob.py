"""Byte-range access to a codec stream held in a 1-D uint8 Zarr array (a "blob").

A blob has no compressor and only the ``bytes`` codec, so byte ``k`` of chunk
``c`` is byte ``c * chunk_size + k`` of the stream (Zarr v3 spec, "bytes"
codec; "regular" chunk grid). A read therefore asks the store for byte ranges
of chunk keys directly, skipping zarr's array machinery, which costs more per
call than decoding a frame (see docs/design.md). The backend does the I/O: on
a local folder one ``pread`` per chunk touched through a descriptor kept open
(blob chunks are never rewritten), on object stores one ranged request per
chunk, concurrently when a range spans chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from wildzarr.arrays import blob_chunk_key
from wildzarr.errors import StreamError
from wildzarr.storage import Backend, join

__all__ = ["Blob"]


class Blob:
    """Read-only byte-range view of a blob array.

    Parameters
    ----------
    backend : Backend
        The store.
    key : str
        Key of the blob array (``"P/3/0/blob"``).
    size, chunk_size : int
        Stream length and chunk size in bytes (from the array's ``zarr.json``).
    name : str
        What to call it in error messages (the recording id and stream).
    """

    def __init__(self, backend: Backend, key: str, size: int, chunk_size: int, name: str) -> None:
        self.backend = backend
        self.key = key
        self.size = size
        self.chunk_size = chunk_size
        self.name = name

    def read(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)`` of the stream (:meth:`read_ranges` of one range)."""
        return self.read_ranges([(start, stop)])[0]

    def read_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Return bytes ``[start, stop)`` of the stream for each ``(start, stop)``, in one backend call.

        Raises
        ------
        StreamError
            If a range lies outside the blob, or the store lacks a chunk or holds
            a short one (``StreamError.offset`` is the range's start).
        StorageError
            If the store fails.
        """
        size = self.chunk_size
        requests: list[tuple[str, int, int]] = []
        owners: list[int] = []  # the start of the range each request belongs to
        pieces: list[tuple[int, int]] = []  # (first request, number of requests) per range
        for start, stop in ranges:
            if not 0 <= start <= stop <= self.size:
                raise StreamError(
                    f"{self.name}: byte range [{start}, {stop}) outside blob of {self.size} bytes"
                )
            first = len(requests)
            for chunk in range(start // size, (stop - 1) // size + 1) if stop > start else ():
                base = chunk * size
                key = join(self.key, blob_chunk_key(chunk))
                requests.append((key, max(start, base) - base, min(stop, base + size) - base))
                owners.append(start)
            pieces.append((first, len(requests) - first))
        parts = self.backend.get_immutable_ranges(requests) if requests else []
        for (key, begin, end), part, owner in zip(requests, parts, owners, strict=True):
            if part is None or len(part) != end - begin:
                what = "missing" if part is None else "shorter than its array says"
                raise StreamError(f"{self.name}: blob chunk {key.rsplit('/', 1)[-1]} is {what}", offset=owner)
        checked = cast(list[bytes], parts)  # no None left
        return [
            b"" if count == 0 else checked[first] if count == 1 else b"".join(checked[first : first + count])
            for first, count in pieces
        ]
