"""Validating frame scanner for MP3 (MPEG-1/2/2.5 audio Layer III): frame offsets, samples, bit reservoir.

A thin wrapper over the C core (``csrc/mp3_scan.c``, compiled into
:mod:`wildzarr._core`). An MP3 stream is a plain concatenation of frames
(ISO/IEC 11172-3 section 2.4; ISO/IEC 13818-3 for the MPEG-2 rates, and the
MPEG-2.5 extension at half those rates), each a 4-byte header, a 16-bit CRC
when ``protection_bit`` is 0, the side information (9 to 32 bytes) and the
main data; 1152 samples per channel (MPEG-1) or 576 (MPEG-2/2.5). The C code
checks every frame: syncword, version and layer III, a bit rate index that
gives a frame length (not free format), sampling frequency, emphasis, the
CRC-16 when present (it covers the header's last 16 bits and the side
information), the side information's ``big_values`` and ``block_type``, the
fixed fields (version, sampling frequency, mono or not, CRC presence) equal to
the first frame's, the bit reservoir (see below) and that the frames chain
exactly from byte 0 to the end of the buffer, with no tag before, between or
after them. Anything else raises :class:`wildzarr.errors.StreamError` carrying
the C status code (an :class:`Mp3Status`), the byte offset of the problem and
the frame concerned.

Bit reservoir (ISO/IEC 11172-3 sections 2.4.1.7 and 2.4.3.4.2): a frame's main
data starts ``main_data_begin`` bytes before the end of its side information,
in the main data of earlier frames (at most 511 bytes back in MPEG-1, 255 in
MPEG-2/2.5). :func:`scan_mp3` returns every frame's ``main_data_begin``;
:func:`reservoir_reach` turns them into how many frames back each frame's
main data starts, which is what a decoder starting in the middle of the
stream needs as pre-roll (on top of the filterbank overlap, which is the
codec's business: :mod:`wildzarr.codecs.mp3`). A stream whose first frame
reaches back (cut out of a longer stream) is rejected: its first frame cannot
be decoded.

The input buffer is passed to C without a copy and the GIL is released while C
runs. Memory stays proportional to the number of frames.

Examples
--------
>>> info, index, main_data_begin = scan_mp3(mp3_frames)  # doctest: +SKIP
>>> info.samplerate, info.version, index.n_frames  # doctest: +SKIP
(48000, '1', 3001)
>>> int(reservoir_reach(info, index, main_data_begin).max())  # doctest: +SKIP
1
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from wildzarr._core import ffi, lib
from wildzarr.errors import ArgumentError, StreamError
from wildzarr.index import FrameIndex
from wildzarr.scan._buffer import BytesLike, c_buffer, index_frames, raise_scan_error

if TYPE_CHECKING:
    from wildzarr._core import CData

__all__ = [
    "MIN_FRAME_BYTES",
    "VERSIONS",
    "Mp3Info",
    "Mp3Status",
    "check_frame",
    "reservoir_reach",
    "scan_mp3",
]

#: Fewest bytes a Layer III frame can take: MPEG-2 at 8 kbit/s and 24 kHz, ``72 * 8000 / 24000``
#: (ISO/IEC 13818-3 section 2.4.2.3). The C scanner never accepts shorter frames.
MIN_FRAME_BYTES = 24

#: Version names by the 2-bit version field: 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5 (1 is reserved).
VERSIONS = {3: "1", 2: "2", 0: "2.5"}


class Mp3Status(enum.IntEnum):
    """Status codes of the C MP3 scanner (``enum wz_mp3_status`` in ``csrc/wildzarr_core.h``).

    ``StreamError.code`` holds one of these values after an MP3 scan. Section
    numbers are ISO/IEC 11172-3.
    """

    OK = 0
    NO_FRAMES = 1  #: the stream is empty
    SYNC = 2  #: no syncword where a frame must start: not MP3 frames, a tag, or trailing bytes
    HEADER = 3  #: a reserved or forbidden header value: version 01, layer 00, bit rate 15, rate 3, emphasis 2
    MISMATCH = 4  #: version, rate, mono-ness or CRC presence differs from frame 0's or the expectation
    CRC = 5  #: CRC-16 mismatch over the header's last 16 bits and the side information (2.4.3.1)
    TRUNCATED = 6  #: the stream ends inside a frame
    CAPACITY = 7  #: internal: output arrays full (never raised)
    ARGUMENT = 8  #: internal: invalid call into the C core
    LAYER = 9  #: a valid MPEG audio header of Layer I or II, not Layer III
    FREE_FORMAT = 10  #: bitrate_index 0: free format, whose header gives no frame length (unsupported)
    SIDE_INFO = 11  #: big_values above 288, or block_type 0 with window switching (2.4.2.7)
    RESERVOIR = 12  #: main_data_begin reaches before the stream's unused main data, or main data overruns


@dataclass(frozen=True)
class Mp3Info:
    """What the headers of a validated MP3 stream say (ISO/IEC 11172-3 section 2.4.2.3).

    Attributes
    ----------
    samplerate : int
        Sample rate in Hz: 32000, 44100 or 48000 (MPEG-1); 16000, 22050 or
        24000 (MPEG-2); 8000, 11025 or 12000 (MPEG-2.5).
    channels : int
        1 (single channel mode) or 2 (stereo, joint stereo, dual channel).
    version : str
        ``"1"``, ``"2"`` or ``"2.5"`` (MPEG-1, MPEG-2, MPEG-2.5).
    samples_per_frame : int
        1152 (MPEG-1) or 576 (MPEG-2/2.5).
    frames : int
        Number of frames.
    protected : bool
        True if every frame carries a CRC-16 (each one verified).
    side_info_bytes : int
        Bytes of side information per frame: 17 or 32 (MPEG-1, mono or not),
        9 or 17 (MPEG-2/2.5).
    """

    samplerate: int
    channels: int
    version: str
    samples_per_frame: int
    frames: int
    protected: bool
    side_info_bytes: int

    @property
    def overhead_bytes(self) -> int:
        """Bytes before each frame's main data: header (4), CRC (2, when protected), side information."""
        return 4 + 2 * self.protected + self.side_info_bytes


def scan_mp3(
    stream: BytesLike, *, expected_samplerate: int | None = None, expected_channels: int | None = None
) -> tuple[Mp3Info, FrameIndex, np.ndarray]:
    """Validate a whole stream of MP3 frames and index them.

    Parameters
    ----------
    stream : bytes, bytearray, memoryview or numpy.ndarray
        Layer III frames from byte 0 to the last byte (1-D uint8 if an array),
        nothing before or after (no ID3 or APE tag), passed to C without a copy.
    expected_samplerate : int, optional
        Sample rate in Hz the stream must have; None accepts any.
    expected_channels : int, optional
        Channels (1 or 2) the stream must have; None accepts either.

    Returns
    -------
    info : Mp3Info
        Sample rate, channels, version, frame count, CRC presence.
    index : FrameIndex
        ``offsets``: int64, shape ``(n_frames + 1,)``, read-only: byte offset
        of each frame, from 0, then the stream length. ``first_samples``:
        int64, shape ``(n_frames + 1,)``, read-only: first decoded sample (per
        channel) of each frame, in steps of ``info.samples_per_frame``, then
        the total. Encoder delay and padding are part of the decoded samples.
    main_data_begin : numpy.ndarray
        int64, shape ``(n_frames,)``, read-only: each frame's
        ``main_data_begin`` in bytes (0 for frame 0); see
        :func:`reservoir_reach`.

    Raises
    ------
    StreamError
        With ``code`` an :class:`Mp3Status`, ``offset`` the byte offset
        concerned and ``frame`` the frame concerned.
    ArgumentError
        If ``expected_samplerate`` is not positive or ``expected_channels`` is
        not 1 or 2.
    TypeError
        If ``stream`` is not a bytes-like object or a 1-D uint8 array.
    """
    if expected_samplerate is not None and expected_samplerate <= 0:
        raise ArgumentError(f"expected_samplerate must be a positive number of Hz, got {expected_samplerate}")
    if expected_channels is not None and expected_channels not in (1, 2):
        raise ArgumentError(f"expected_channels must be 1 or 2, got {expected_channels}")
    st = ffi.new("wz_mp3_scan *")
    reservoir = _MainDataBegin()
    with c_buffer(stream, "an MP3 stream") as (buf, length):
        status = lib.wz_mp3_scan_init(
            st,
            buf,
            length,
            -1 if expected_samplerate is None else min(expected_samplerate, 2**31 - 1),
            -1 if expected_channels is None else expected_channels,
        )
        if status != Mp3Status.OK:
            raise_scan_error(st)
        index = index_frames(
            st,
            lambda offsets, first_samples, capacity: lib.wz_mp3_scan_frames(
                st, buf, length, offsets, first_samples, reservoir.room(capacity), capacity
            ),
            # Frames of a variable bit rate vary around the first one's; start with 25 % to spare.
            capacity=min(length // int(st.first.frame_length) * 5 // 4 + 16, length // MIN_FRAME_BYTES),
            max_frames=length // MIN_FRAME_BYTES,
            ok=Mp3Status.OK,
            full=Mp3Status.CAPACITY,
            end=length,
        )
    first = st.first
    info = Mp3Info(
        samplerate=int(first.samplerate),
        channels=int(first.channels),
        version=VERSIONS[int(first.version_id)],
        samples_per_frame=int(first.samples),
        frames=index.n_frames,
        protected=not first.protection_bit,
        side_info_bytes=int(first.side_info_len),
    )
    return info, index, reservoir.result(index.n_frames)


#: Why :func:`check_frame` refuses bytes, by the status of ``wz_mp3_parse_header``.
_FRAME_PROBLEMS = {
    Mp3Status.SYNC: "no MPEG audio syncword",
    Mp3Status.HEADER: "a reserved or forbidden header value",
    Mp3Status.LAYER: "MPEG audio of Layer I or II, not Layer III",
    Mp3Status.FREE_FORMAT: "a free-format frame",
    Mp3Status.CRC: "a CRC-16 mismatch",
    Mp3Status.SIDE_INFO: "invalid side information",
    Mp3Status.TRUNCATED: "cut off inside its header or side information",
}


def check_frame(frame: BytesLike, samplerate: int, channels: int) -> None:
    """Raise StreamError unless ``frame`` is exactly one valid Layer III frame of that rate and channels.

    The checks of one frame of :func:`scan_mp3` (header, CRC when present,
    side information; not the bit reservoir, which needs the frames before),
    and that the header's frame length is the length of ``frame``. About 1 us.

    Parameters
    ----------
    frame : bytes, bytearray, memoryview or numpy.ndarray
        The frame's bytes.
    samplerate : int
        Hz the frame must declare.
    channels : int
        1 or 2: the channels the frame must hold.

    Raises
    ------
    StreamError
        Worded to follow a prefix that names the frame (``"frame 17: is not
        a valid MP3 frame (a CRC-16 mismatch)"``); ``code`` is the
        :class:`Mp3Status` (MISMATCH for a length, rate or channel count
        that differs).
    TypeError
        If ``frame`` is not a bytes-like object or a 1-D uint8 array.
    """
    header = ffi.new("wz_mp3_header *")
    with c_buffer(frame, "an MP3 frame") as (buf, length):
        status = lib.wz_mp3_parse_header(buf, length, 0, header)
    if status != Mp3Status.OK:
        raise StreamError(f"is not a valid MP3 frame ({_FRAME_PROBLEMS[Mp3Status(status)]})", code=status)
    rate, count = int(header.samplerate), int(header.channels)
    if (rate, count) != (samplerate, channels):
        raise StreamError(
            f"is a frame at {rate} Hz of {count} channels, not {samplerate} Hz of {channels}",
            code=Mp3Status.MISMATCH,
        )
    if header.frame_length != length:
        raise StreamError(
            f"is {length} bytes, but its header gives a frame of {header.frame_length}",
            code=Mp3Status.MISMATCH,
        )


class _MainDataBegin:
    """The third output array of ``wz_mp3_scan_frames``, grown with the two that ``index_frames`` owns."""

    def __init__(self) -> None:
        self.values = np.empty(0, dtype=np.int64)

    def room(self, capacity: int) -> CData:
        """An ``int64_t[]`` of at least ``capacity`` entries, keeping those C wrote so far."""
        if len(self.values) < capacity:
            grown = np.empty(capacity, dtype=np.int64)
            grown[: len(self.values)] = self.values
            self.values = grown
        return ffi.from_buffer("int64_t[]", self.values, require_writable=True)

    def result(self, n_frames: int) -> np.ndarray:
        values = self.values[:n_frames].copy()
        values.setflags(write=False)
        return values


def reservoir_reach(info: Mp3Info, index: FrameIndex, main_data_begin: np.ndarray) -> np.ndarray:
    """How many frames back each frame's main data starts (0: in the frame itself).

    Frame ``k``'s main data starts ``main_data_begin[k]`` bytes before its own
    main data area, counted in the main data areas of frames ``k - 1, k - 2,
    ...`` (a frame's bytes after its header, CRC and side information,
    ISO/IEC 11172-3 section 2.4.1.7). Its reach is the number of earlier frames
    those bytes cover: a decoder must have been given frames ``k - reach ...
    k - 1`` before frame ``k`` for frame ``k`` to decode as in a full decode.

    Parameters
    ----------
    info, index, main_data_begin
        What :func:`scan_mp3` returned for the stream.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(n_frames,)``: frames, ``0 <= reach[k] <= k``.
    """
    areas = np.diff(index.offsets) - info.overhead_bytes
    before = np.concatenate(([0], np.cumsum(areas)))  # main data bytes before each frame, shape (n + 1,)
    frames = np.arange(index.n_frames)
    starts = before[:-1] - main_data_begin
    # The frame whose area holds each start: the last one whose area begins at or before it.
    holder = np.searchsorted(before, starts, side="right") - 1
    return (frames - holder).astype(np.int64)
