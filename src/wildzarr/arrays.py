"""The two arrays of a stream, ``blob`` and ``index``: their Zarr documents and chunks.

zarr-python writes and reads them, so they are exactly what any Zarr v3 reader
expects; wildzarr moves the bytes itself (through :mod:`wildzarr.storage`, with
its checks and its durability), so zarr works on an in-memory store here:

- :func:`index_nodes` encodes a frame index table into the ``index`` array's
  ``zarr.json`` and chunk; :func:`decode_index` turns fetched ones back into a
  table, with the codecs the stored document names (format 2 adds a ``crc32c``
  codec, so a damaged chunk is detected, not decoded into wrong offsets).
- :func:`blob_document` is the ``blob`` array's ``zarr.json``; its chunks are the
  stream's bytes themselves (codec ``bytes`` only, no compressor), padded with
  zeros to the chunk size in the last chunk (Zarr v3 spec, regular chunk grid),
  as :func:`blob_chunk_ranges` lays out.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import zarr
from zarr.codecs import BytesCodec, Crc32cCodec, ZstdCodec
from zarr.core.buffer import default_buffer_prototype
from zarr.storage import MemoryStore

from wildzarr.documents import DocumentError
from wildzarr.layout import ZARR_JSON

__all__ = [
    "MAX_CHUNK_BYTES",
    "blob_chunk_key",
    "blob_chunk_ranges",
    "blob_chunk_size",
    "blob_document",
    "blob_layout",
    "decode_index",
    "index_chunk_keys",
    "index_nodes",
]

#: Largest chunk of a blob array, in bytes. Chunks are sized so that the last
#: one is nearly full: a recording wastes at most (number of chunks - 1) bytes.
MAX_CHUNK_BYTES = 8 * 1024 * 1024
#: zstd level of the index chunk (the index is small; the level hardly matters).
_INDEX_ZSTD_LEVEL = 3


def blob_chunk_size(size: int) -> int:
    """Chunk size (bytes) for a blob of ``size`` bytes: at most MAX_CHUNK_BYTES, nearly equal chunks."""
    n_chunks = max(1, -(-size // MAX_CHUNK_BYTES))
    return max(1, -(-size // n_chunks))


def blob_chunk_key(chunk: int) -> str:
    """Key of blob chunk ``chunk`` below the blob array (default chunk key encoding, separator ``/``)."""
    return f"c/{chunk}"


def _documents(build: dict[str, np.ndarray | tuple[int, int]]) -> dict[str, bytes]:
    """Create arrays in memory with zarr and return every key they wrote."""
    store = MemoryStore()
    for name, spec in build.items():
        if isinstance(spec, np.ndarray):
            array = zarr.create_array(
                store,
                name=name,
                shape=spec.shape,
                chunks=spec.shape,
                dtype="int64",
                compressors=[ZstdCodec(level=_INDEX_ZSTD_LEVEL), Crc32cCodec()],
                config={"write_empty_chunks": True},  # an all-zero table (one frame at byte 0) is a chunk too
            )
            array[...] = spec
        else:
            size, chunk = spec
            zarr.create_array(
                store,
                name=name,
                shape=(size,),
                chunks=(chunk,),
                dtype="uint8",
                compressors=None,
                fill_value=0,
            )
    return {key: buffer.to_bytes() for key, buffer in store._store_dict.items() if key != ZARR_JSON}


def index_nodes(table: np.ndarray) -> dict[str, bytes]:
    """Keys (relative to the index array) and bytes of an index array holding ``table``.

    Parameters
    ----------
    table : numpy.ndarray
        int64 of shape ``(frames, 2)`` (byte offset, first decoded sample) or
        ``(frames, 3)`` (and the frame's CRC-32), :meth:`wildzarr.index.FrameIndex.to_table`.
    """
    nodes = _documents({"index": np.ascontiguousarray(table, dtype=np.int64)})
    return {key.removeprefix("index/"): data for key, data in nodes.items()}


def blob_document(size: int) -> bytes:
    """The ``zarr.json`` of a blob array of ``size`` bytes (chunks of :func:`blob_chunk_size`)."""
    return _documents({"blob": (size, blob_chunk_size(size))})["blob/zarr.json"]


def blob_chunk_ranges(size: int) -> Iterator[tuple[str, int, int, int]]:
    """``(key, begin, end, padding)`` of each chunk of a blob of ``size`` bytes.

    The chunk holds stream bytes ``[begin, end)`` followed by ``padding`` zero
    bytes (only the last chunk of a blob is padded).
    """
    chunk = blob_chunk_size(size)
    for number, begin in enumerate(range(0, size, chunk)):
        end = min(begin + chunk, size)
        yield blob_chunk_key(number), begin, end, chunk - (end - begin)


def _open_index(nodes: dict[str, bytes]) -> zarr.Array:
    """Open an index array over its fetched keys held in memory."""
    prototype = default_buffer_prototype()
    store = MemoryStore({f"index/{k}": prototype.buffer.from_bytes(v) for k, v in nodes.items()})
    try:
        array = zarr.open_array(store, path="index", mode="r", zarr_format=3)
    except Exception as exc:  # zarr raises many kinds on a damaged document
        raise DocumentError(f"index/zarr.json is not a valid array document ({exc})") from None
    if array.ndim != 2 or array.shape[1] not in (2, 3) or array.dtype != np.int64:
        raise DocumentError(f"the index is {array.dtype} of shape {array.shape}, not int64 (frames, 2 or 3)")
    return array


def index_chunk_keys(document: bytes) -> list[str]:
    """Chunk keys (relative to the index array) that an index array document implies."""
    array = _open_index({ZARR_JSON: document})
    encode = array.metadata.encode_chunk_key
    return [encode(tuple(coords)) for coords in np.ndindex(*array.cdata_shape)]


def blob_layout(document: bytes) -> tuple[int, int]:
    """Size and chunk size, in bytes, of a blob array from its ``zarr.json``.

    Raises
    ------
    DocumentError
        If the document is not a 1-D uint8 Zarr v3 array whose only codec is
        ``bytes`` (the reader maps stream bytes onto chunk bytes 1:1).
    """
    prototype = default_buffer_prototype()
    try:
        array = zarr.open_array(
            MemoryStore({"blob/zarr.json": prototype.buffer.from_bytes(document)}),
            path="blob",
            mode="r",
            zarr_format=3,
        )
    except Exception as exc:  # zarr raises many kinds on a damaged document
        raise DocumentError(f"blob/zarr.json is not a valid array document ({exc})") from None
    codecs = getattr(array.metadata, "codecs", ())
    if array.ndim != 1 or array.dtype != np.uint8 or [type(c) for c in codecs] != [BytesCodec]:
        raise DocumentError("the blob is not a 1-D uint8 array stored with the bytes codec only")
    if array.metadata.encode_chunk_key((0,)) != blob_chunk_key(0):
        raise DocumentError("the blob does not use the default chunk key encoding with separator '/'")
    return int(array.shape[0]), int(array.chunks[0])


def decode_index(nodes: dict[str, bytes]) -> np.ndarray:
    """Decode an index array from its fetched keys (``"zarr.json"`` and every chunk key).

    Returns
    -------
    numpy.ndarray
        int64 of shape ``(frames, 2)`` or ``(frames, 3)``.

    Raises
    ------
    DocumentError
        If the document is not a 2- or 3-column int64 array, a chunk is missing, or a
        chunk does not decode (a crc32c or zstd failure).
    """
    array = _open_index(nodes)
    encode = array.metadata.encode_chunk_key
    for coords in np.ndindex(*array.cdata_shape):
        if encode(tuple(coords)) not in nodes:
            raise DocumentError(f"index chunk {encode(tuple(coords))} is missing")
    try:
        return np.asarray(array[...], dtype=np.int64)
    except Exception as exc:  # crc32c mismatch (ValueError), zstd errors (RuntimeError) ...
        raise DocumentError(f"the index chunk does not decode ({type(exc).__name__}: {exc})") from None
