"""Byte-range access to a codec stream held in a 1-D uint8 Zarr array (a "blob").

A blob has no compressor and only the ``bytes`` codec, so byte ``k`` of chunk
``c`` is byte ``c * chunk_size + k`` of the stream (Zarr v3 spec, "bytes"
codec; "regular" chunk grid). A read therefore asks the store for byte ranges
of chunk keys directly, skipping zarr's array machinery, which costs more per
call than decoding a frame (see docs/design.md). On a local folder the chunk
files are read with ``os.pread``; on any other store through the store's
``get`` with a byte range, concurrently when a range spans chunks.
"""

from __future__ import annotations

import asyncio
import os

import numpy as np
import zarr
from zarr.abc.store import RangeByteRequest, Store
from zarr.codecs import BytesCodec
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import LocalStore

from wildzarr.errors import StreamError

__all__ = ["Blob", "blob_chunk_size", "write_blob"]

#: Largest chunk of a blob array, in bytes. Chunks are sized so that the last
#: one is nearly full: a recording wastes at most (number of chunks - 1) bytes.
MAX_CHUNK_BYTES = 8 * 1024 * 1024


def blob_chunk_size(size: int) -> int:
    """Chunk size (bytes) for a blob of ``size`` bytes: at most MAX_CHUNK_BYTES, nearly equal chunks."""
    n_chunks = max(1, -(-size // MAX_CHUNK_BYTES))
    return max(1, -(-size // n_chunks))


def write_blob(group: zarr.Group, name: str, stream: memoryview) -> zarr.Array:
    """Create array ``name`` in ``group`` holding ``stream`` (uint8, no compressor)."""
    size = len(stream)
    chunk = blob_chunk_size(size)
    array = group.create_array(
        name, shape=(size,), chunks=(chunk,), dtype="uint8", compressors=None, fill_value=0
    )
    for begin in range(0, size, chunk):
        # a copy: a store (e.g. MemoryStore) may keep the buffer it is given, and ``stream`` may be an mmap
        array[begin : begin + chunk] = np.frombuffer(stream[begin : begin + chunk], dtype=np.uint8).copy()
    return array


class Blob:
    """Read-only byte-range view of a blob array.

    Parameters
    ----------
    array : zarr.Array
        1-D uint8 array whose only codec is ``bytes``.
    name : str
        What to call it in error messages (the recording id and stream).
    """

    def __init__(self, array: zarr.Array, name: str) -> None:
        if array.ndim != 1 or array.dtype != np.uint8:
            raise StreamError(f"{name}: blob is not a 1-D uint8 array")
        self.name = name
        self.size = int(array.shape[0])
        self.chunk_size = int(array.chunks[0])
        self._array = array
        self._store: Store = array.store_path.store
        self._prefix = array.path
        codecs = getattr(array.metadata, "codecs", None)  # Zarr v3 metadata; v2 arrays take the slow path
        self._direct = codecs is not None and all(isinstance(c, BytesCodec) for c in codecs)
        self._root: str | None = None  # chunk files are read directly below this folder
        if self._direct and isinstance(self._store, LocalStore):
            self._root = str(self._store.root)
        self._keys: dict[int, str] = {}

    def _key(self, chunk: int) -> str:
        key = self._keys.get(chunk)
        if key is None:
            key = f"{self._prefix}/{self._array.metadata.encode_chunk_key((chunk,))}"
            self._keys[chunk] = key
        return key

    def _pieces(self, start: int, stop: int) -> list[tuple[int, int, int]]:
        """Split ``[start, stop)`` into (chunk, begin, end) with chunk-relative ends."""
        pieces = []
        size = self.chunk_size
        for chunk in range(start // size, (stop - 1) // size + 1):
            base = chunk * size
            pieces.append((chunk, max(start, base) - base, min(stop, base + size) - base))
        return pieces

    def read(self, start: int, stop: int) -> bytes:
        """Return bytes ``[start, stop)`` of the stream.

        Raises
        ------
        StreamError
            If the range lies outside the blob or the store lacks a chunk.
        """
        if not 0 <= start <= stop <= self.size:
            raise StreamError(f"{self.name}: byte range [{start}, {stop}) outside blob of {self.size} bytes")
        if start == stop:
            return b""
        if not self._direct:
            return np.asarray(self._array[start:stop], dtype=np.uint8).tobytes()
        pieces = self._pieces(start, stop)
        if self._root is not None:
            parts = [self._pread(chunk, begin, end) for chunk, begin, end in pieces]
        else:
            parts = sync(self._get_all(pieces))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _pread(self, chunk: int, begin: int, end: int) -> bytes:
        assert self._root is not None
        try:
            fd = os.open(f"{self._root}/{self._key(chunk)}", os.O_RDONLY)
        except FileNotFoundError as exc:
            raise StreamError(f"{self.name}: chunk {chunk} of the blob is missing") from exc
        try:
            data = os.pread(fd, end - begin, begin)
        finally:
            os.close(fd)
        if len(data) != end - begin:
            raise StreamError(f"{self.name}: chunk {chunk} of the blob is shorter than its array says")
        return data

    async def _get_all(self, pieces: list[tuple[int, int, int]]) -> list[bytes]:
        prototype = default_buffer_prototype()

        async def get(chunk: int, begin: int, end: int) -> bytes:
            buffer = await self._store.get(self._key(chunk), prototype, RangeByteRequest(begin, end))
            if buffer is None or len(buffer) != end - begin:
                raise StreamError(f"{self.name}: chunk {chunk} of the blob is missing or short")
            return buffer.to_bytes()

        return list(await asyncio.gather(*(get(*piece) for piece in pieces)))
