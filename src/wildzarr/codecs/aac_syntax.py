"""AAC-LC bit syntax: ADTS headers, AudioSpecificConfig and program_config_element, silent frames.

The helpers of :mod:`wildzarr.codecs.aac` that read and write bits (see
there for the stream format):

- :func:`adts_header` and :class:`AdtsWriter` write ADTS frames (ISO/IEC
  13818-7 section 6.2), with a leading ``program_config_element`` for the
  layouts no channel configuration describes;
- :func:`parse_asc`, :func:`check_asc` and :func:`asc_elements` read an
  AudioSpecificConfig (ISO/IEC 14496-3 section 1.6.2.1) and its
  ``program_config_element`` (section 4.4.1.1);
- :func:`silent_block` and :func:`adts_reset_frame` build the silent frame
  that brings a used decoder back to a new one's state
  (:class:`~wildzarr.codecs.aac_frames.AacFrameDecoder`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

import av

from wildzarr.errors import StreamError

__all__ = [
    "ADTS_SAMPLERATES",
    "CONFIGURATION_ELEMENTS",
    "MAX_ADTS_FRAME",
    "SAMPLES_PER_FRAME",
    "AdtsWriter",
    "adts_header",
    "adts_reset_frame",
    "asc_elements",
    "check_asc",
    "is_plain_adts",
    "parse_asc",
    "silent_block",
]

#: The sample rates ADTS can declare, Hz, by ``sampling_frequency_index`` 0..12 (ISO/IEC 14496-3 Table 1.18).
ADTS_SAMPLERATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
#: Samples per channel of one AAC-LC frame (ISO/IEC 14496-3 section 4.5.1.1, frameLengthFlag 0).
SAMPLES_PER_FRAME = 1024
#: Largest ADTS frame: ``frame_length`` is a 13-bit field (ISO/IEC 13818-7 section 6.2).
MAX_ADTS_FRAME = (1 << 13) - 1
#: ``id_syn_ele`` of the syntactic elements (ISO/IEC 14496-3 Table 4.85).
ID_SCE, ID_CPE, ID_LFE, ID_PCE, ID_END = 0, 1, 3, 5, 7
#: Channel elements ``(id_syn_ele, element_instance_tag)`` of channel configurations 1..7 (Table 1.19).
CONFIGURATION_ELEMENTS = {
    1: ((ID_SCE, 0),),
    2: ((ID_CPE, 0),),
    3: ((ID_SCE, 0), (ID_CPE, 0)),
    4: ((ID_SCE, 0), (ID_CPE, 0), (ID_SCE, 1)),
    5: ((ID_SCE, 0), (ID_CPE, 0), (ID_CPE, 1)),
    6: ((ID_SCE, 0), (ID_CPE, 0), (ID_CPE, 1), (ID_LFE, 0)),
    7: ((ID_SCE, 0), (ID_CPE, 0), (ID_CPE, 1), (ID_CPE, 2), (ID_LFE, 0)),
}

_ADTS_HEADER = 7
#: Bytes that hold an ADTS header (9) and a leading program_config_element: at most 385 bits of fields
#: (ISO/IEC 14496-3 Table 4.2), the element id, alignment and a comment of at most 255 bytes.
_MAX_PCE_PREFIX = 512


def adts_header(payload_bytes: int, sampling_frequency_index: int, channel_configuration: int) -> bytes:
    """A 7-byte ADTS header of an AAC-LC frame without CRC (ISO/IEC 13818-7 section 6.2).

    MPEG-4 ID, no CRC, profile LC, ``adts_buffer_fullness`` 0x7FF (variable
    rate) and one raw data block, as FFmpeg's ADTS muxer writes them.

    Raises
    ------
    StreamError
        If the frame would exceed the 13-bit ``frame_length`` (8191 bytes).
    """
    length = payload_bytes + _ADTS_HEADER
    if length > MAX_ADTS_FRAME:
        raise StreamError(f"an AAC frame of {length} bytes exceeds ADTS's {MAX_ADTS_FRAME}")
    bits = (
        0xFFF << 44  # syncword
        | 1 << 40  # protection_absent; ID 0 (MPEG-4), layer 0
        | 1 << 38  # profile_ObjectType: 1 = AAC LC
        | sampling_frequency_index << 34
        | channel_configuration << 30
        | length << 13
        | 0x7FF << 2  # adts_buffer_fullness; number_of_raw_data_blocks_in_frame 0
    )
    return bits.to_bytes(_ADTS_HEADER, "big")


class AdtsWriter:
    """Writes encoder packets as ADTS frames (ISO/IEC 13818-7 section 6.2), a PCE first when needed.

    Parameters
    ----------
    out : binary file
        Receives the frames from its current position.
    rate : int
        Hz, one of :data:`ADTS_SAMPLERATES`.
    channel_configuration : int
        0 to 7; 0: every frame starts with the encoder's program_config_element.
    asc : bytes
        The encoder's AudioSpecificConfig (``extradata``).

    Raises
    ------
    StreamError
        If ``channel_configuration`` is 0 and ``asc`` holds no program_config_element.
    """

    def __init__(self, out: IO[bytes], rate: int, channel_configuration: int, asc: bytes) -> None:
        self.out = out
        self.configuration = channel_configuration
        self.index = ADTS_SAMPLERATES.index(rate)
        self.pce = b"" if channel_configuration else _pce_element(asc)

    def write(self, packet: av.Packet) -> None:
        """Write one packet (a raw_data_block) as an ADTS frame; StreamError if it exceeds 8191 bytes."""
        payload = self.pce + bytes(packet)
        self.out.write(adts_header(len(payload), self.index, self.configuration) + payload)


def is_plain_adts(frame: bytes) -> bool:
    """Whether an ADTS frame states a channel configuration (1..7) and holds one raw data block."""
    if len(frame) < _ADTS_HEADER:
        return False
    return ((frame[2] & 1) << 2 | frame[3] >> 6) != 0 and (frame[6] & 3) == 0


class _Bits:
    """Reads big-endian bit fields of a byte string."""

    def __init__(self, data: bytes, what: str = "the AudioSpecificConfig") -> None:
        self.value, self.size, self.position, self.what = int.from_bytes(data, "big"), len(data) * 8, 0, what

    def read(self, n: int) -> int:
        if self.position + n > self.size:
            raise StreamError(f"{self.what} of {self.size // 8} bytes ends inside a field")
        self.position += n
        return (self.value >> (self.size - self.position)) & ((1 << n) - 1)


@dataclass(frozen=True)
class Asc:
    """The fields of an AudioSpecificConfig this codec uses (ISO/IEC 14496-3 section 1.6.2.1).

    ``bits`` stands after the GASpecificConfig's ``extensionFlag``: at the
    program_config_element when ``channel_configuration`` is 0.
    """

    object_type: int
    samplerate: int
    channel_configuration: int
    frame_length_flag: int
    bits: _Bits


def parse_asc(asc: bytes) -> Asc:
    """Parse an AudioSpecificConfig up to its GASpecificConfig's flags (sections 1.6.2.1, 4.4.1).

    Raises
    ------
    StreamError
        If it ends inside a field.
    """
    bits = _Bits(asc)
    object_type = bits.read(5)
    if object_type == 31:
        object_type = 32 + bits.read(6)
    index = bits.read(4)
    samplerate = bits.read(24) if index == 15 else ADTS_SAMPLERATES[index] if index < 13 else 0
    configuration = bits.read(4)
    frame_length_flag = bits.read(1)
    if bits.read(1):  # dependsOnCoreCoder
        bits.read(14)  # coreCoderDelay
    bits.read(1)  # extensionFlag
    return Asc(object_type, samplerate, configuration, frame_length_flag, bits)


def check_asc(asc: bytes, samplerate: int) -> None:
    """Raise StreamError unless ``asc`` describes AAC-LC of 1024-sample frames at ``samplerate`` Hz."""
    fields = parse_asc(asc)
    if fields.object_type != 2 or fields.frame_length_flag:
        raise StreamError(
            f"the AudioSpecificConfig describes audio object type {fields.object_type} with "
            f"{960 if fields.frame_length_flag else 1024}-sample frames, not AAC-LC (2) with 1024"
        )
    if fields.samplerate != samplerate:
        raise StreamError(f"the AudioSpecificConfig declares {fields.samplerate} Hz, not {samplerate}")
    asc_elements(fields)


def asc_elements(fields: Asc) -> tuple[tuple[int, int], ...]:
    """The channel elements an AudioSpecificConfig declares: by channel configuration, or in its PCE.

    Raises
    ------
    StreamError
        If the channel configuration is not 0..7, or the PCE ends inside a field.
    """
    if fields.channel_configuration == 0:
        return _read_pce(fields.bits)
    if fields.channel_configuration not in CONFIGURATION_ELEMENTS:
        raise StreamError(f"the AudioSpecificConfig has channel configuration {fields.channel_configuration}")
    return CONFIGURATION_ELEMENTS[fields.channel_configuration]


def _read_pce(bits: _Bits) -> tuple[tuple[int, int], ...]:
    """Read a program_config_element up to its ``byte_alignment()``; return its channel elements.

    ISO/IEC 14496-3 section 4.4.1.1, Table 4.2: front, side and back elements
    (``is_cpe``, tag), then LFE tags; associated data and coupling elements are
    skipped.
    """
    bits.read(10)  # element_instance_tag, object_type, sampling_frequency_index
    front, side, back = bits.read(4), bits.read(4), bits.read(4)
    lfe, assoc, cc = bits.read(2), bits.read(3), bits.read(4)
    for width in (4, 4, 3):  # mono_mixdown, stereo_mixdown, matrix_mixdown (index and pseudo-surround)
        if bits.read(1):
            bits.read(width)
    elements = [(ID_CPE if bits.read(1) else ID_SCE, bits.read(4)) for _ in range(front + side + back)]
    elements += [(ID_LFE, bits.read(4)) for _ in range(lfe)]
    bits.read(4 * assoc + 5 * cc)
    return tuple(elements)


def _pce_element(asc: bytes) -> bytes:
    """The ``program_config_element`` of an encoder's AudioSpecificConfig as a syntactic element.

    ``id_syn_ele`` ID_PCE (3 bits), the PCE up to its ``byte_alignment()``
    (ISO/IEC 14496-3 section 4.4.1.1, Table 4.2; aligned relative to the start
    of the raw_data_block, which follows the byte-aligned ADTS header), and
    ``comment_field_bytes`` 0: FFmpeg's comment ("Lavc...") is dropped.

    Raises
    ------
    StreamError
        If the AudioSpecificConfig is not AAC-LC with channel configuration 0.
    """
    fields = parse_asc(asc)
    if fields.object_type != 2 or fields.channel_configuration != 0:
        raise StreamError("FFmpeg's AAC encoder wrote no program_config_element")
    bits = fields.bits
    start = bits.position
    _read_pce(bits)
    length = bits.position - start
    body = (bits.value >> (bits.size - bits.position)) & ((1 << length) - 1)
    element_bits = 3 + length
    pad = -element_bits % 8
    element = ((ID_PCE << length | body) << pad) << 8  # then comment_field_bytes = 0
    return element.to_bytes((element_bits + pad) // 8 + 1, "big")


def silent_block(elements: Sequence[tuple[int, int]]) -> bytes:
    """A raw_data_block of silent channel elements, then ID_END (ISO/IEC 14496-3 section 4.4.2.1).

    Every individual_channel_stream (section 4.4.2.7) has a global_gain, an
    ics_info of ONLY_LONG_SEQUENCE with the sine window shape and max_sfb 0
    (no section, scale factor or spectral data), and no pulse, TNS or gain
    control data: it decodes to zeros and leaves a decoder as a new one is
    (no overlap, previous window sine and long).
    """
    ics = ((100, 8), (0, 1), (0, 2), (0, 1), (0, 6), (0, 1), (0, 1), (0, 1), (0, 1))
    fields: list[tuple[int, int]] = []
    for kind, tag in elements:
        fields += [(kind, 3), (tag, 4)]
        if kind == ID_CPE:
            fields += [(0, 1), *ics, *ics]  # common_window 0: each channel has its own ics_info
        else:
            fields += ics
    fields.append((ID_END, 3))
    value = width = 0
    for field, bits in fields:
        value, width = value << bits | field, width + bits
    pad = -width % 8
    return (value << pad).to_bytes((width + pad) // 8, "big")


def adts_reset_frame(frame: bytes | memoryview) -> bytes:
    """A silent ADTS frame (:func:`silent_block`) of the stream whose frame ``frame`` is.

    Its header has ``frame``'s sampling frequency index and channel
    configuration; for configuration 0 it carries ``frame``'s leading
    program_config_element, comment included. Only the first 512 bytes of
    ``frame`` are read.

    Raises
    ------
    StreamError
        If ``frame`` is not an ADTS frame (7- or 9-byte header), or is of
        configuration 0 and does not start with a program_config_element.
    """
    head = bytes(frame[:_MAX_PCE_PREFIX])
    if len(head) < _ADTS_HEADER or head[0] != 0xFF or (head[1] & 0xF6) != 0xF0:
        raise StreamError("does not start with an ADTS header")
    index, configuration = (head[2] >> 2) & 0xF, (head[2] & 1) << 2 | head[3] >> 6
    if configuration:
        return _adts_frame(silent_block(CONFIGURATION_ELEMENTS[configuration]), index, configuration)
    payload = head[_ADTS_HEADER if head[1] & 1 else _ADTS_HEADER + 2 :]
    bits = _Bits(payload, "an ADTS frame's program_config_element")
    if bits.read(3) != ID_PCE:
        raise StreamError("has channel configuration 0 but no program_config_element")
    elements = _read_pce(bits)
    aligned = -(-bits.position // 8)
    bits.read(aligned * 8 - bits.position)  # byte_alignment()
    comment = bits.read(8)  # comment_field_bytes
    pce = payload[: aligned + 1 + comment]
    return _adts_frame(pce + silent_block(elements), index, 0)


def _adts_frame(payload: bytes, index: int, configuration: int) -> bytes:
    return adts_header(len(payload), index, configuration) + payload
