"""Validating FLAC frame scanner: where each frame starts, in bytes and samples.

A thin wrapper over the C core (``csrc/flac_scan.c``, compiled into
:mod:`wildzarr._core`). The C code checks a complete FLAC stream held in memory
against RFC 9639: the ``fLaC`` marker and metadata block headers (section 8.1),
STREAMINFO (section 8.2), every frame header (section 9.1, including CRC-8), every
frame's CRC-16 (section 9.3), frame/sample number continuity (section 9.1.5), and
that the frames add up to STREAMINFO's total sample count. Anything else raises
:class:`wildzarr.errors.StreamError` carrying the C status code and the byte
offset of the problem.

The input buffer is passed to C without a copy and the GIL is released while C
runs, so several streams can be scanned in parallel threads. Memory stays
proportional to the number of frames: the output arrays are sized from
STREAMINFO (exactly, for a fixed block size) and grown only for
variable-block-size streams, never beyond what the buffer can hold.

Examples
--------
>>> scan = scan_flac(flac_bytes)  # doctest: +SKIP
>>> i = np.searchsorted(scan.first_samples, 123_456, side="right") - 1  # doctest: +SKIP
>>> frame = flac_bytes[scan.offsets[i]:scan.offsets[i + 1]]  # doctest: +SKIP
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from wildzarr._core import ffi, lib
from wildzarr.errors import StreamError

__all__ = ["FlacScan", "ScanStatus", "StreamInfo", "read_streaminfo", "scan_flac"]

#: Length of the STREAMINFO block body in bytes (RFC 9639 section 8.2).
STREAMINFO_LENGTH = 34


class ScanStatus(enum.IntEnum):
    """Status codes of the C scanner (``enum wz_status`` in ``csrc/wildzarr_core.h``).

    ``StreamError.code`` holds one of these values.
    """

    OK = 0
    NOT_FLAC = 1  #: no ``fLaC`` marker (RFC 9639 section 6)
    METADATA = 2  #: bad metadata block header or block (section 8.1)
    STREAMINFO = 3  #: STREAMINFO missing, misplaced or invalid (section 8.2)
    NO_FRAMES = 4  #: no audio frames after the metadata
    SYNC = 5  #: no frame sync code where a frame must start (section 9.1)
    HEADER = 6  #: invalid frame header field, or one contradicting STREAMINFO (section 9.1)
    CRC8 = 7  #: frame header CRC-8 mismatch (section 9.1.8)
    CRC16 = 8  #: frame CRC-16 mismatch (section 9.3)
    SEQUENCE = 9  #: frame/sample numbers out of sequence (section 9.1.5)
    TOTAL = 10  #: frames do not add up to STREAMINFO's total samples
    TRUNCATED = 11  #: the stream ends inside metadata or a frame
    CAPACITY = 12  #: internal: output arrays full (never raised)
    ARGUMENT = 13  #: internal: invalid call into the C core


@dataclass(frozen=True)
class StreamInfo:
    """The FLAC STREAMINFO block (RFC 9639 section 8.2).

    Attributes
    ----------
    min_blocksize, max_blocksize : int
        Smallest and largest block size in samples per channel (16..65535);
        the last frame may be shorter than ``min_blocksize``.
    min_framesize, max_framesize : int
        Smallest and largest frame size in bytes; 0 means unknown.
    samplerate : int
        Sample rate in Hz, 1..1048575.
    channels : int
        Number of channels, 1..8.
    bits_per_sample : int
        Bits per sample, 4..32.
    total_samples : int
        Samples per channel in the stream; always > 0 here.
    md5 : str
        MD5 of the decoded samples, 32 lowercase hex digits.
    raw : bytes
        The 34-byte block body, as a decoder's ``extradata`` wants it.
    """

    min_blocksize: int
    max_blocksize: int
    min_framesize: int
    max_framesize: int
    samplerate: int
    channels: int
    bits_per_sample: int
    total_samples: int
    md5: str
    raw: bytes


@dataclass(frozen=True, eq=False)
class FlacScan:
    """Frame index of a validated FLAC stream.

    Attributes
    ----------
    streaminfo : StreamInfo
        The stream's STREAMINFO.
    offsets : numpy.ndarray
        int64, shape (n_frames,), read-only: byte offset of each frame in the
        stream, strictly increasing; ``offsets[0]`` is the end of the metadata.
    first_samples : numpy.ndarray
        int64, shape (n_frames,), read-only: first sample (per channel) of each
        frame, strictly increasing from 0.
    end : int
        Byte offset one past the last frame (the stream length).

    Notes
    -----
    Frame ``i`` occupies bytes ``[offsets[i], offsets[i + 1])`` (``end`` for
    the last) and holds samples ``[first_samples[i], first_samples[i + 1])``
    (``streaminfo.total_samples`` for the last).
    """

    streaminfo: StreamInfo
    offsets: np.ndarray
    first_samples: np.ndarray
    end: int

    @property
    def n_frames(self) -> int:
        """Number of frames (int)."""
        return int(self.offsets.shape[0])

    def block_sizes(self) -> np.ndarray:
        """Samples per channel of each frame: int64, shape (n_frames,)."""
        return np.diff(self.first_samples, append=np.int64(self.streaminfo.total_samples))

    def frame_sizes(self) -> np.ndarray:
        """Bytes of each frame: int64, shape (n_frames,)."""
        return np.diff(self.offsets, append=np.int64(self.end))


def _c_buffer(stream: Any) -> tuple[Any, int, Any]:
    """Return a zero-copy C view ``(uint8_t *, length, keep-alive)`` of ``stream``.

    Parameters
    ----------
    stream : bytes, bytearray, memoryview or numpy.ndarray
        The FLAC stream. A numpy array must have dtype uint8 and one dimension;
        a non-contiguous array or memoryview is copied once.

    Raises
    ------
    TypeError
        If ``stream`` is not one of the accepted types, or a numpy array of
        another dtype or shape.
    """
    if isinstance(stream, np.ndarray):
        if stream.dtype != np.uint8 or stream.ndim != 1:
            raise TypeError(f"a FLAC stream array must be 1-D uint8, got {stream.ndim}-D {stream.dtype}")
        obj: Any = np.ascontiguousarray(stream)
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
            f"a FLAC stream must be bytes, bytearray, memoryview or a uint8 numpy array, "
            f"not {type(stream).__name__}"
        )
    return ffi.from_buffer("uint8_t[]", obj), length, obj


def _raise(st: Any) -> None:
    """Raise the StreamError described by a failed ``wz_scan`` state."""
    message = ffi.string(st.message).decode("utf-8", "replace")
    raise StreamError(message, code=int(st.status), offset=int(st.err_offset))


def _streaminfo(info: Any) -> StreamInfo:
    """Convert a C ``wz_streaminfo`` into a :class:`StreamInfo`."""
    return StreamInfo(
        min_blocksize=int(info.min_blocksize),
        max_blocksize=int(info.max_blocksize),
        min_framesize=int(info.min_framesize),
        max_framesize=int(info.max_framesize),
        samplerate=int(info.samplerate),
        channels=int(info.channels),
        bits_per_sample=int(info.bits_per_sample),
        total_samples=int(info.total_samples),
        md5=bytes(ffi.buffer(info.md5)).hex(),
        raw=bytes(ffi.buffer(info.raw)),
    )


def _init(stream: Any) -> tuple[Any, Any, int, Any]:
    """Run ``wz_scan_init``; return ``(state, c_buffer, length, keep-alive)``."""
    buf, length, keep = _c_buffer(stream)
    st = ffi.new("wz_scan *")
    if lib.wz_scan_init(st, buf, length) != ScanStatus.OK:
        _raise(st)
    return st, buf, length, keep


def read_streaminfo(stream: Any) -> tuple[StreamInfo, int]:
    """Parse ``fLaC`` and the metadata blocks (RFC 9639 sections 6, 8).

    Parameters
    ----------
    stream : bytes, bytearray, memoryview or numpy.ndarray
        A FLAC stream (1-D uint8 if an array). Only the metadata is read, but
        it must be followed by at least one byte of frame data.

    Returns
    -------
    streaminfo : StreamInfo
        The STREAMINFO block.
    first_frame : int
        Byte offset of the first frame (the end of the metadata).

    Raises
    ------
    StreamError
        If the marker, a metadata block header or STREAMINFO is invalid, the
        buffer ends inside the metadata, or no frame data follows it.
    TypeError
        If ``stream`` is not a bytes-like object or a 1-D uint8 array.
    """
    st, _buf, _length, _keep = _init(stream)
    return _streaminfo(st.info), int(st.first_frame)


#: Fewest bytes a frame can take: a 6-byte header (sync, two code bytes, a 1-byte
#: coded number, CRC-8), one subframe byte and the 2-byte CRC-16 footer
#: (RFC 9639 sections 9.1, 9.2, 9.3). The C scanner never accepts shorter frames.
MIN_FRAME_BYTES = 9


def _max_frames(info: StreamInfo, frame_bytes: int) -> int:
    """Upper bound on the number of frames in ``frame_bytes`` bytes of frames."""
    return min(info.total_samples, frame_bytes // MIN_FRAME_BYTES + 1)


def _initial_capacity(info: StreamInfo, frame_bytes: int) -> int:
    """Entries to allocate first: exact for a fixed block size, a lower bound otherwise.

    Never more than the buffer can hold, so a hostile STREAMINFO (huge total,
    tiny block size) cannot make us allocate more than ``16 * frame_bytes / 9``
    bytes.
    """
    frames = -(-info.total_samples // info.max_blocksize)
    # Fixed block size (RFC 9639 section 8.2, min == max): exactly `frames`; keep one spare.
    spare = 1 if info.min_blocksize == info.max_blocksize else 16
    return min(frames + spare, _max_frames(info, frame_bytes))


def scan_flac(stream: Any) -> FlacScan:
    """Validate a whole FLAC stream and index its frames.

    Parameters
    ----------
    stream : bytes, bytearray, memoryview or numpy.ndarray
        A complete FLAC stream (1-D uint8 if an array), passed to C without a
        copy. STREAMINFO must state the total sample count.

    Returns
    -------
    FlacScan
        STREAMINFO and each frame's byte offset and first sample.

    Raises
    ------
    StreamError
        On any violation of RFC 9639 the scanner checks, with ``code`` a
        :class:`ScanStatus` value and ``offset`` the byte offset concerned:
        bad marker or metadata, invalid frame header, CRC-8 or CRC-16
        mismatch, frames out of sequence, frames not adding up to STREAMINFO's
        total, truncation.
    TypeError
        If ``stream`` is not a bytes-like object or a 1-D uint8 array.
    """
    st, buf, length, _keep = _init(stream)
    info = _streaminfo(st.info)
    frame_bytes = length - int(st.first_frame)
    capacity = _initial_capacity(info, frame_bytes)
    offsets = np.empty(capacity, dtype=np.int64)
    first_samples = np.empty(capacity, dtype=np.int64)
    while True:
        status = lib.wz_scan_frames(
            st,
            buf,
            length,
            ffi.from_buffer("int64_t[]", offsets, require_writable=True),
            ffi.from_buffer("int64_t[]", first_samples, require_writable=True),
            capacity,
        )
        if status == ScanStatus.OK:
            break
        if status != ScanStatus.CAPACITY:
            _raise(st)
        # Variable block sizes: grow geometrically, keeping what C wrote so far.
        capacity = max(capacity + 1, min(2 * capacity, _max_frames(info, frame_bytes)))
        offsets = np.resize(offsets, capacity)
        first_samples = np.resize(first_samples, capacity)
    n = int(st.n_frames)
    offsets = offsets[:n].copy() if n < capacity // 2 else offsets[:n]
    first_samples = first_samples[:n].copy() if n < capacity // 2 else first_samples[:n]
    offsets.setflags(write=False)
    first_samples.setflags(write=False)
    return FlacScan(streaminfo=info, offsets=offsets, first_samples=first_samples, end=length)
