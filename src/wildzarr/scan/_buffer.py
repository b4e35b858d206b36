"""Helpers shared by the frame scanners: zero-copy input views, output arrays, errors.

Every scanner in the C core (``csrc/wildzarr_core.h``) follows one protocol: an
init call, then a ``*_scan_frames`` call that fills caller-owned int64 arrays
and returns a CAPACITY status when they are full. This module owns the Python
side of that protocol, so the codec wrappers only convert results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import numpy as np

from wildzarr._core import ffi
from wildzarr.errors import StreamError
from wildzarr.index import FrameIndex

if TYPE_CHECKING:
    from wildzarr._core import CData

__all__ = ["BytesLike", "c_buffer", "index_frames", "raise_scan_error"]

#: What the scanners accept as a stream: a bytes-like object or a 1-D uint8 numpy array.
BytesLike: TypeAlias = bytes | bytearray | memoryview | np.ndarray


@contextmanager
def c_buffer(stream: BytesLike, what: str) -> Iterator[tuple[CData, int]]:
    """A zero-copy C view ``(uint8_t *, length in bytes)`` of ``stream``, released on exit.

    The view is released when the ``with`` block ends, also when it raises: a
    traceback keeps its frames' locals, and when the garbage collector breaks a
    reference cycle through one still holding a view, it may clear the
    exporting memoryview first; CPython 3.11 then crashes releasing the view (a
    NULL buffer in ``memory_dealloc``, seen in the tests).

    Parameters
    ----------
    stream : bytes, bytearray, memoryview or numpy.ndarray
        The bytes. A numpy array must have dtype uint8 and one dimension; a
        non-contiguous array or memoryview is copied once.
    what : str
        What the bytes are ("a FLAC stream", ...), for error messages.

    Yields
    ------
    pointer : CData
        ``uint8_t[]`` over the bytes, valid inside the ``with`` block.
    length : int
        Number of bytes.

    Raises
    ------
    TypeError
        If ``stream`` is not one of the accepted types, or a numpy array of
        another dtype or shape.
    """
    obj: Any
    if isinstance(stream, np.ndarray):
        if stream.dtype != np.uint8 or stream.ndim != 1:
            raise TypeError(f"{what} given as an array must be 1-D uint8, got {stream.ndim}-D {stream.dtype}")
        obj = np.ascontiguousarray(stream)
        length = int(obj.shape[0])
    elif isinstance(stream, bytes | bytearray):
        obj = stream
        length = len(stream)
    elif isinstance(stream, memoryview):
        obj = stream if stream.c_contiguous else memoryview(stream.tobytes())
        if obj.format not in ("B", "b", "c") or obj.ndim != 1:
            obj = obj.cast("B")
        length = obj.nbytes
    else:
        raise TypeError(
            f"{what} must be bytes, bytearray, memoryview or a uint8 numpy array, not {type(stream).__name__}"
        )
    buf = ffi.from_buffer("uint8_t[]", obj)
    try:
        yield buf, length
    finally:
        ffi.release(buf)


def raise_scan_error(st: CData) -> NoReturn:
    """Raise the :class:`StreamError` a failed C scan state describes.

    ``st`` is a ``wz_flac_scan *`` or ``wz_adts_scan *``: both carry ``status``,
    ``err_offset``, ``err_frame`` and ``message``. The error's ``code`` is the C
    status, ``offset`` the byte offset of the problem and ``frame`` the frame
    concerned (-1 for none).
    """
    message = ffi.string(st.message).decode("utf-8", "replace")
    raise StreamError(message, code=int(st.status), offset=int(st.err_offset), frame=int(st.err_frame))


def index_frames(
    st: CData,
    scan_frames: Callable[[CData, CData, int], int],
    *,
    capacity: int,
    max_frames: int,
    ok: int,
    full: int,
    end: int,
) -> FrameIndex:
    """Run a C ``*_scan_frames`` loop to the end and return the frame index.

    Parameters
    ----------
    st : CData
        The initialised scan state. After a successful scan its ``n_frames``
        is the number of frames and its ``next_sample`` the total samples per
        channel, in both scanners.
    scan_frames : callable
        ``scan_frames(offsets, first_samples, capacity) -> status``: calls the C
        function on ``st`` and the stream with two ``int64_t[]`` arrays.
    capacity : int
        Frames to make room for first (at least 1).
    max_frames : int
        Most frames the stream can hold, so hostile input cannot make the
        arrays grow beyond what its bytes justify.
    ok, full : int
        The scanner's OK and CAPACITY status codes.
    end : int
        Stream length in bytes: the last entry of ``offsets``.

    Returns
    -------
    FrameIndex
        ``offsets`` and ``first_samples``, int64 arrays of shape
        ``(n_frames + 1,)``, read-only.

    Raises
    ------
    StreamError
        When the scanner reports anything but OK or CAPACITY.
    """
    capacity = max(capacity, 1)
    # One spare entry past what C may write, for the end offset and the total.
    offsets = np.empty(capacity + 1, dtype=np.int64)
    first_samples = np.empty(capacity + 1, dtype=np.int64)
    while True:
        status = scan_frames(
            ffi.from_buffer("int64_t[]", offsets, require_writable=True),
            ffi.from_buffer("int64_t[]", first_samples, require_writable=True),
            capacity,
        )
        if status == ok:
            break
        if status != full:
            raise_scan_error(st)
        # Grow geometrically, keeping what C wrote so far.
        capacity = max(capacity + 1, min(2 * capacity, max_frames))
        offsets = np.resize(offsets, capacity + 1)
        first_samples = np.resize(first_samples, capacity + 1)
    n = int(st.n_frames)
    offsets[n] = end
    first_samples[n] = int(st.next_sample)
    if n + 1 < (capacity + 1) // 2:  # do not keep a mostly empty allocation alive
        offsets, first_samples = offsets[: n + 1].copy(), first_samples[: n + 1].copy()
    else:
        offsets, first_samples = offsets[: n + 1], first_samples[: n + 1]
    offsets.setflags(write=False)
    first_samples.setflags(write=False)
    return FrameIndex(offsets, first_samples)
