"""Validating FLAC frame scanner: where each frame starts, in bytes and samples.

A thin wrapper over the C core (``csrc/flac_scan.c``, compiled into
:mod:`wildzarr._core`). The C code checks a complete FLAC stream held in memory
against RFC 9639: the ``fLaC`` marker and metadata block headers (section 8.1),
STREAMINFO (section 8.2), every frame header (section 9.1, including CRC-8), every
frame's CRC-16 (section 9.3), frame/sample number continuity (section 9.1.5), and
that the frames add up to STREAMINFO's total sample count. Anything else raises
:class:`wildzarr.errors.StreamError` carrying the C status code (a
:class:`FlacStatus`), the byte offset of the problem and the frame concerned.

The input buffer is passed to C without a copy and the GIL is released while C
runs, so several streams can be scanned in parallel threads. Memory stays
proportional to the number of frames: the output arrays are sized from
STREAMINFO (exactly, for a fixed block size) and grown only for
variable-block-size streams, never beyond what the buffer can hold.

Examples
--------
>>> info, index = scan_flac(flac_bytes)  # doctest: +SKIP
>>> i = np.searchsorted(index.first_samples, 123_456, side="right") - 1  # doctest: +SKIP
>>> frame = flac_bytes[index.offsets[i]:index.offsets[i + 1]]  # doctest: +SKIP
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wildzarr._core import ffi, lib
from wildzarr.errors import StreamError
from wildzarr.index import FrameIndex
from wildzarr.scan._buffer import BytesLike, c_buffer, index_frames, raise_scan_error

if TYPE_CHECKING:
    from wildzarr._core import CData

__all__ = [
    "MIN_FRAME_BYTES",
    "STREAMINFO_LENGTH",
    "FlacStatus",
    "StreamInfo",
    "parse_streaminfo",
    "read_streaminfo",
    "scan_flac",
]

#: Length of the STREAMINFO block body in bytes (RFC 9639 section 8.2).
STREAMINFO_LENGTH = 34

#: Fewest bytes a frame can take: a 6-byte header (sync, two code bytes, a 1-byte
#: coded number, CRC-8), one subframe byte and the 2-byte CRC-16 footer
#: (RFC 9639 sections 9.1, 9.2, 9.3). The C scanner never accepts shorter frames.
MIN_FRAME_BYTES = 9

#: Room for the C description of an invalid STREAMINFO field (bytes, NUL included).
_MESSAGE_BYTES = 160


class FlacStatus(enum.IntEnum):
    """Status codes of the C FLAC scanner (``enum wz_flac_status`` in ``csrc/wildzarr_core.h``).

    ``StreamError.code`` holds one of these values after a FLAC scan.
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


def _streaminfo(info: CData) -> StreamInfo:
    """Convert a C ``wz_flac_streaminfo`` into a :class:`StreamInfo`."""
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


def parse_streaminfo(body: BytesLike) -> StreamInfo:
    """Decode and validate a bare STREAMINFO block body (RFC 9639 section 8.2).

    The same C function (``wz_flac_parse_streaminfo``) parses STREAMINFO inside
    :func:`scan_flac`, so both accept exactly the same blocks.

    Parameters
    ----------
    body : bytes, bytearray, memoryview or numpy.ndarray
        The 34-byte block body, without the 4-byte metadata block header (1-D
        uint8 if an array); e.g. :attr:`StreamInfo.raw` as stored.

    Returns
    -------
    StreamInfo
        The decoded block.

    Raises
    ------
    StreamError
        With ``code`` :attr:`FlacStatus.STREAMINFO` and ``offset`` 0 if
        ``body`` is not 34 bytes long or a field is invalid: block sizes
        outside 16..65535 or minimum > maximum, minimum frame size > maximum
        (both known), sample rate 0, fewer than 4 bits per sample, or total
        samples 0 (unknown; wildzarr needs complete streams).
    TypeError
        If ``body`` is not a bytes-like object or a 1-D uint8 array.
    """
    info = ffi.new("wz_flac_streaminfo *")
    with c_buffer(body, "a STREAMINFO body") as (buf, length):
        if length != STREAMINFO_LENGTH:
            raise StreamError(
                f"a STREAMINFO body is {STREAMINFO_LENGTH} bytes long (RFC 9639 section 8.2), got {length}",
                code=FlacStatus.STREAMINFO,
                offset=0,
            )
        status = lib.wz_flac_parse_streaminfo(buf, length, info)
    if status != FlacStatus.OK:
        why = ffi.new(f"char[{_MESSAGE_BYTES}]")
        lib.wz_flac_check_streaminfo(info, why, _MESSAGE_BYTES)
        reason = ffi.string(why).decode("utf-8", "replace")
        raise StreamError(f"invalid STREAMINFO: {reason}", code=status, offset=0)
    return _streaminfo(info)


def _init(buf: CData, length: int) -> CData:
    """Run ``wz_flac_scan_init`` on ``length`` bytes at ``buf``; return the scan state."""
    st = ffi.new("wz_flac_scan *")
    if lib.wz_flac_scan_init(st, buf, length) != FlacStatus.OK:
        raise_scan_error(st)
    return st


def read_streaminfo(stream: BytesLike) -> tuple[StreamInfo, int]:
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
        buffer ends inside the metadata, or no frame data follows it; ``code``
        is a :class:`FlacStatus`, ``offset`` the byte offset concerned.
    TypeError
        If ``stream`` is not a bytes-like object or a 1-D uint8 array.
    """
    with c_buffer(stream, "a FLAC stream") as (buf, length):
        st = _init(buf, length)
    return _streaminfo(st.info), int(st.first_frame)


def _max_frames(info: StreamInfo, frame_bytes: int) -> int:
    """Upper bound on the number of frames in ``frame_bytes`` bytes of frames."""
    return min(info.total_samples, frame_bytes // MIN_FRAME_BYTES + 1)


def _initial_capacity(info: StreamInfo, frame_bytes: int) -> int:
    """Entries to allocate first: exact for a fixed block size, a lower bound otherwise.

    Never more than the buffer can hold, so a hostile STREAMINFO (huge total,
    tiny block size) cannot make us allocate more than ``16 * frame_bytes / 9``
    bytes per array.
    """
    frames = -(-info.total_samples // info.max_blocksize)
    # Fixed block size (RFC 9639 section 8.2, min == max): exactly `frames`; keep one spare.
    spare = 1 if info.min_blocksize == info.max_blocksize else 16
    return min(frames + spare, _max_frames(info, frame_bytes))


def scan_flac(stream: BytesLike) -> tuple[StreamInfo, FrameIndex]:
    """Validate a whole FLAC stream and index its frames.

    Parameters
    ----------
    stream : bytes, bytearray, memoryview or numpy.ndarray
        A complete FLAC stream (1-D uint8 if an array), passed to C without a
        copy. STREAMINFO must state the total sample count.

    Returns
    -------
    streaminfo : StreamInfo
        The stream's STREAMINFO.
    index : FrameIndex
        ``offsets``: int64, shape ``(n_frames + 1,)``, read-only: byte offset
        of each frame in the stream, strictly increasing from the end of the
        metadata, then the stream length. ``first_samples``: int64, shape
        ``(n_frames + 1,)``, read-only: first sample (per channel) of each
        frame, strictly increasing from 0, then STREAMINFO's total samples.
        Frame ``i`` occupies bytes ``[offsets[i], offsets[i + 1])`` and holds
        samples ``[first_samples[i], first_samples[i + 1])``.

    Raises
    ------
    StreamError
        On any violation of RFC 9639 the scanner checks, with ``code`` a
        :class:`FlacStatus` value, ``offset`` the byte offset concerned and
        ``frame`` the frame concerned (-1 for metadata): bad marker or
        metadata, invalid frame header, CRC-8 or CRC-16 mismatch, frames out
        of sequence, frames not adding up to STREAMINFO's total, truncation.
    TypeError
        If ``stream`` is not a bytes-like object or a 1-D uint8 array.
    """
    with c_buffer(stream, "a FLAC stream") as (buf, length):
        st = _init(buf, length)
        info = _streaminfo(st.info)
        frame_bytes = length - int(st.first_frame)
        index = index_frames(
            st,
            lambda offsets, first_samples, capacity: lib.wz_flac_scan_frames(
                st, buf, length, offsets, first_samples, capacity
            ),
            capacity=_initial_capacity(info, frame_bytes),
            max_frames=_max_frames(info, frame_bytes),
            ok=FlacStatus.OK,
            full=FlacStatus.CAPACITY,
            end=length,
        )
    return info, index
