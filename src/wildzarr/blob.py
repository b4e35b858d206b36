"""Byte-range access to a codec stream held in a 1-D uint8 Zarr array (a "blob").

A blob has no compressor and only the ``bytes`` codec, so byte ``k`` of chunk
``c`` is byte ``c * chunk_size + k`` of the stream (Zarr v3 spec, "bytes"
codec; "regular" chunk grid). A read therefore asks the store for byte ranges
of chunk keys directly, skipping zarr's array machinery, which costs more per
call than decoding a frame (see docs/design.md). The backend does the I/O: on
a local folder one ``pread`` per chunk touched, on object stores one ranged
request per chunk, concurrently when a range spans chunks.
"""

from __future__ import annotations

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
        """Return bytes ``[start, stop)`` of the stream.

        Raises
        ------
        StreamError
            If the range lies outside the blob, or the store lacks a chunk or holds
            a short one (``StreamError.offset`` is ``start``).
        StorageError
            If the store fails.
        """
        if not 0 <= start <= stop <= self.size:
            raise StreamError(f"{self.name}: byte range [{start}, {stop}) outside blob of {self.size} bytes")
        if start == stop:
            return b""
        size = self.chunk_size
        requests = []
        for chunk in range(start // size, (stop - 1) // size + 1):
            base = chunk * size
            requests.append(
                (
                    join(self.key, blob_chunk_key(chunk)),
                    max(start, base) - base,
                    min(stop, base + size) - base,
                )
            )
        parts = self.backend.get_ranges(requests)
        for (key, begin, end), part in zip(requests, parts, strict=True):
            if part is None or len(part) != end - begin:
                what = "missing" if part is None else "shorter than its array says"
                raise StreamError(f"{self.name}: blob chunk {key.rsplit('/', 1)[-1]} is {what}", offset=start)
        return parts[0] if len(parts) == 1 else b"".join(parts)  # type: ignore[return-value,arg-type]
