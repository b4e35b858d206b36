"""Validating ADTS frame scanner for AAC LC: where each frame starts, in bytes and samples.

A thin wrapper over the C core (``csrc/adts_scan.c``, compiled into
:mod:`wildzarr._core`). An ADTS stream (ISO/IEC 13818-7 section 6.2, the same
syntax as ISO/IEC 14496-3 section 1.A.3.2) is a plain concatenation of frames,
each a 7-byte header (9 or more with a CRC) and one to four AAC raw data
blocks of 1024 samples per channel. The C code checks every frame's header:
syncword 0xFFF, layer 0, profile AAC LC, a valid sampling frequency index
(7350 to 96000 Hz), a frame length beyond the header, the fixed header fields
(MPEG version, CRC presence, sampling index, channel configuration) equal to
the first frame's, and that the frames chain exactly from byte 0 to the end of
the buffer. Anything else raises :class:`wildzarr.errors.StreamError` carrying
the C status code (an :class:`AdtsStatus`), the byte offset of the problem and
the frame concerned.

CRC (``crc_check``, present when ``protection_absent`` is 0): for frames of
two to four raw data blocks the header CRC covers the header alone and is
verified. For the usual one-block frame it also covers the first bits of each
AAC syntax element, which only a full AAC bitstream parse can locate: it is
read but **not verified**; the decoder is the check for those frames' payload.

The input buffer is passed to C without a copy and the GIL is released while C
runs. Memory stays proportional to the number of frames.

Examples
--------
>>> info, index = scan_adts(adts_bytes)  # doctest: +SKIP
>>> info.samplerate, info.channel_configuration, index.n_frames  # doctest: +SKIP
(48000, 2, 469)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from wildzarr._core import ffi, lib
from wildzarr.errors import ArgumentError
from wildzarr.index import FrameIndex
from wildzarr.scan._buffer import BytesLike, c_buffer, index_frames, raise_scan_error

__all__ = ["MIN_FRAME_BYTES", "SAMPLES_PER_BLOCK", "AdtsInfo", "AdtsStatus", "scan_adts"]

#: Samples per channel one raw_data_block decodes to (ISO/IEC 13818-7; ADTS cannot
#: signal the 960-sample frame length of ISO/IEC 14496-3).
SAMPLES_PER_BLOCK = 1024

#: Fewest bytes an ADTS frame can take: the 7-byte fixed and variable header
#: (ISO/IEC 13818-7 section 6.2) and one byte of raw data (a raw_data_block holds
#: at least its 3-bit END element). The C scanner never accepts shorter frames.
MIN_FRAME_BYTES = 8


class AdtsStatus(enum.IntEnum):
    """Status codes of the C ADTS scanner (``enum wz_adts_status`` in ``csrc/wildzarr_core.h``).

    ``StreamError.code`` holds one of these values after an ADTS scan. Section
    numbers are ISO/IEC 13818-7.
    """

    OK = 0
    NO_FRAMES = 1  #: the stream is empty
    SYNC = 2  #: no syncword 0xFFF where a frame must start (section 6.2): not ADTS, or trailing bytes
    HEADER = 3  #: invalid header field: layer, sampling index 13-15, frame length, block positions (6.2)
    MISMATCH = 4  #: a fixed-header field differs from frame 0's, or from the caller's expectation
    CRC = 5  #: header CRC mismatch in a frame of 2-4 raw data blocks (section 6.2, adts_header_error_check)
    TRUNCATED = 6  #: the stream ends inside a frame header or a frame
    CAPACITY = 7  #: internal: output arrays full (never raised)
    ARGUMENT = 8  #: internal: invalid call into the C core
    PROFILE = 9  #: a valid ADTS header whose profile is AAC Main, SSR or LTP, not AAC LC


@dataclass(frozen=True)
class AdtsInfo:
    """What the headers of a validated ADTS stream say (ISO/IEC 13818-7 section 6.2).

    Attributes
    ----------
    samplerate : int
        Sample rate in Hz, 7350..96000 (from the sampling frequency index,
        ISO/IEC 14496-3 Table 1.18).
    sampling_frequency_index : int
        The 4-bit index, 0..12.
    channel_configuration : int
        0..7 (ISO/IEC 14496-3 Table 1.19). 0 means a program_config_element
        inside the raw data defines the channels; the decoder reads it.
    channels : int
        Channels the configuration implies: 1, 2, 3, 4, 5, 6 or 8 for
        configurations 1..7, and 0 (unknown to the scanner) for configuration 0.
    protected : bool
        True if the frames carry a CRC (``protection_absent`` is 0).
    crc_verified : int
        Frames whose header CRC was verified: those of 2-4 raw data blocks
        with a CRC. One-block frames' CRCs cover AAC payload bits and are not
        verified.
    frames : int
        Number of frames.
    """

    samplerate: int
    sampling_frequency_index: int
    channel_configuration: int
    channels: int
    protected: bool
    crc_verified: int
    frames: int


def scan_adts(
    stream: BytesLike,
    *,
    expected_samplerate: int | None = None,
    expected_channel_configuration: int | None = None,
) -> tuple[AdtsInfo, FrameIndex]:
    """Validate a whole ADTS stream of AAC LC frames and index its frames.

    Parameters
    ----------
    stream : bytes, bytearray, memoryview or numpy.ndarray
        A complete ADTS stream (1-D uint8 if an array), passed to C without a
        copy: frames from byte 0 to the last byte, nothing before or after.
    expected_samplerate : int, optional
        Sample rate in Hz the stream must have; None accepts any.
    expected_channel_configuration : int, optional
        Channel configuration (0..7) the stream must have; None accepts any.

    Returns
    -------
    info : AdtsInfo
        Sample rate, channel configuration, CRC presence, frame count.
    index : FrameIndex
        ``offsets``: int64, shape ``(n_frames + 1,)``, read-only: byte offset
        of each frame, strictly increasing from 0, then the stream length.
        ``first_samples``: int64, shape ``(n_frames + 1,)``, read-only: first
        decoded sample (per channel) of each frame, from 0 in steps of 1024 per
        raw data block, then the total decoded samples. The encoder delay
        (priming) is part of the decoded samples: ADTS does not record it.

    Raises
    ------
    StreamError
        With ``code`` an :class:`AdtsStatus`, ``offset`` the byte offset
        concerned and ``frame`` the frame concerned: an empty stream, no
        syncword where a frame must start (not ADTS, or trailing bytes), an
        invalid header field, a profile other than AAC LC, a fixed header
        field that changes between frames or differs from the expectation, a
        header CRC mismatch, a stream ending inside a frame.
    ArgumentError
        If ``expected_samplerate`` is not positive or
        ``expected_channel_configuration`` is outside 0..7.
    TypeError
        If ``stream`` is not a bytes-like object or a 1-D uint8 array.
    """
    if expected_samplerate is not None and expected_samplerate <= 0:
        raise ArgumentError(f"expected_samplerate must be a positive number of Hz, got {expected_samplerate}")
    if expected_channel_configuration is not None and not 0 <= expected_channel_configuration <= 7:
        raise ArgumentError(
            f"expected_channel_configuration must be 0..7, got {expected_channel_configuration}"
        )
    with c_buffer(stream, "an ADTS stream") as (buf, length):
        st = ffi.new("wz_adts_scan *")
        status = lib.wz_adts_scan_init(
            st,
            buf,
            length,
            -1 if expected_samplerate is None else min(expected_samplerate, 2**31 - 1),
            -1 if expected_channel_configuration is None else expected_channel_configuration,
        )
        if status != AdtsStatus.OK:
            raise_scan_error(st)
        first_length = int(st.first.frame_length)
        index = index_frames(
            st,
            lambda offsets, first_samples, capacity: lib.wz_adts_scan_frames(
                st, buf, length, offsets, first_samples, capacity
            ),
            # Frame sizes vary around the first one's; start with 25 % to spare.
            capacity=min(length // first_length * 5 // 4 + 16, length // MIN_FRAME_BYTES),
            max_frames=length // MIN_FRAME_BYTES,
            ok=AdtsStatus.OK,
            full=AdtsStatus.CAPACITY,
            end=length,
        )
    first = st.first
    info = AdtsInfo(
        samplerate=int(first.samplerate),
        sampling_frequency_index=int(first.sampling_frequency_index),
        channel_configuration=int(first.channel_configuration),
        channels=int(first.channels),
        protected=not first.protection_absent,
        crc_verified=int(st.crc_verified),
        frames=index.n_frames,
    )
    return info, index
