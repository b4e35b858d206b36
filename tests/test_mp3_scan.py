"""Tests of the C MP3 frame scanner (``csrc/mp3_scan.c``) and ``wildzarr.scan.mp3``.

Streams come from LAME through PyAV (``libmp3lame``) at MPEG-1, MPEG-2 and
MPEG-2.5 rates, mono and stereo, several bit rates; frame offsets are checked
against PyAV's mp3 demuxer and against an independent pure-Python walker
(written here from ISO/IEC 11172-3 section 2.4 and ISO/IEC 13818-3, sharing no
code with the C), which also checks the CRC-16, the side information and the
bit reservoir. Frames with a CRC are built here by repacking LAME's frames
(LAME's CRC option is not reachable through FFmpeg); FFmpeg's decoder checks
their CRCs too.

What every scanner must do (status codes, input types, threads, seeded fuzzing
checked against :func:`ref_walk`) is tested by ``scanner_checks.py`` through
:class:`TestScannerChecks` on :data:`MP3`. This module tests the rest: header
fields, side information, the bit reservoir and its reach, CRCs,
:func:`~wildzarr.scan.check_frame`, the expected sample rate and channels, and
where each error is reported.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache

import av
import numpy as np
import pytest
import scanner_checks
from codec_checks import tones
from scanner_checks import (
    ScannerCase,
    ScannerChecks,
    bit_fields,
    check_arrays,
    check_cut_and_trailing_bytes,
    check_expected_arguments,
    check_random_flips,
    pack_bits,
    ref_crc16_mpeg,
)

from wildzarr._core import ffi, lib
from wildzarr.errors import StreamError
from wildzarr.index import FrameIndex
from wildzarr.scan import Mp3Info, Mp3Status, check_frame, reservoir_reach, scan_mp3
from wildzarr.scan.mp3 import MIN_FRAME_BYTES

#: ISO/IEC 11172-3 / 13818-3 s. 2.4.2.3: sample rates by version field (3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5).
RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
#: Layer III bit rates, kbit/s, by bitrate_index: MPEG-1, then MPEG-2 and MPEG-2.5.
KBPS = {
    True: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    False: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


# --------------------------------------------------------------------------------------------------
# Encoder (LAME through PyAV)
# --------------------------------------------------------------------------------------------------


def signal(n: int, rate: int, channels: int, seed: int = 0) -> np.ndarray:
    """float32 ``(n, channels)``: a tone per channel, a sweep and some noise (``codec_checks.tones``)."""
    return tones(n, rate, channels, seed, noise=0.02)


@cache
def lame_frames(rate: int, channels: int, bit_rate: int, n: int, seed: int = 0) -> tuple[bytes, ...]:
    """LAME's frames (PyAV packets, no Xing frame, no tag) of ``n`` samples, constant ``bit_rate`` b/s."""
    layout = "mono" if channels == 1 else "stereo"
    context = av.CodecContext.create("libmp3lame", "w")
    context.sample_rate, context.layout, context.format = rate, layout, "fltp"
    context.bit_rate, context.time_base = bit_rate, Fraction(1, rate)
    context.open()
    frame = av.AudioFrame.from_ndarray(
        signal(n, rate, channels, seed).reshape(1, -1), format="flt", layout=layout
    )
    frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
    packets = [*context.encode(frame), *context.encode(None)]
    return tuple(bytes(p) for p in packets)


def lame(rate: int, channels: int, bit_rate: int, n: int, seed: int = 0) -> bytes:
    return b"".join(lame_frames(rate, channels, bit_rate, n, seed))


def stereo() -> bytes:
    """48 kHz stereo at 128 kb/s, 1.5 s: about 63 frames of 384 bytes, a reservoir reaching 2-3 frames."""
    return lame(48000, 2, 128_000, 72_000)


def stereo_other() -> bytes:
    """Same parameters as :func:`stereo`, other content."""
    return lame(48000, 2, 128_000, 50_000, seed=1)


def mono_16k() -> bytes:
    """MPEG-2, 16 kHz mono at 16 kb/s, 2 s: 56 small frames, a deep reservoir."""
    return lame(16000, 1, 16_000, 32_000)


def pyav_file(rate: int, channels: int, bit_rate: int, n: int, **options: str) -> bytes:
    """An mp3 file written by PyAV's muxer (ID3v2 tag, Xing/Info frame unless ``write_xing=0``)."""
    buf = io.BytesIO()
    layout = "mono" if channels == 1 else "stereo"
    with av.open(buf, "w", format="mp3", options=options) as container:
        stream = container.add_stream("libmp3lame", rate=rate, layout=layout)
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(
            signal(n, rate, channels).reshape(1, -1), format="flt", layout=layout
        )
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buf.getvalue()


def av_packets(data: bytes) -> list[tuple[int, int]]:
    """(byte position, size) of every packet PyAV's mp3 demuxer finds."""
    with av.open(io.BytesIO(data), format="mp3") as container:
        return [(int(p.pos), int(p.size)) for p in container.demux(audio=0) if p.size]


def id3v2_length(data: bytes) -> int:
    """Bytes of the ID3v2 tag at the start of ``data`` (0 if none): 10-byte header, syncsafe size."""
    if data[:3] != b"ID3":
        return 0
    size = 0
    for byte in data[6:10]:
        size = size << 7 | byte
    return 10 + size + (10 if data[5] & 0x10 else 0)


# --------------------------------------------------------------------------------------------------
# Independent reference: header, side information, CRC, reservoir, walker, frame builder
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """The fields of a Layer III header (ISO/IEC 11172-3 s. 2.4.1.3)."""

    version: int
    layer: int
    protection_bit: int
    bitrate_index: int
    sampling: int
    padding: int
    private: int
    mode: int
    mode_extension: int
    copyright: int
    original: int
    emphasis: int

    @property
    def mpeg1(self) -> bool:
        return self.version == 3

    @property
    def channels(self) -> int:
        return 1 if self.mode == 3 else 2

    @property
    def samplerate(self) -> int:
        return RATES[self.version][self.sampling]

    @property
    def length(self) -> int:
        kbps = KBPS[self.mpeg1][self.bitrate_index]
        return (144 if self.mpeg1 else 72) * kbps * 1000 // self.samplerate + self.padding

    @property
    def crc_bytes(self) -> int:
        return 0 if self.protection_bit else 2

    @property
    def side_bytes(self) -> int:
        return (17 if self.channels == 1 else 32) if self.mpeg1 else (9 if self.channels == 1 else 17)

    @property
    def overhead(self) -> int:
        return 4 + self.crc_bytes + self.side_bytes

    @property
    def samples(self) -> int:
        return 1152 if self.mpeg1 else 576

    @property
    def fixed(self) -> tuple[int, ...]:
        """The fields every frame of a stream must share."""
        return (self.version, self.sampling, self.channels, self.protection_bit)

    def to_bytes(self) -> bytes:
        fields = [
            (0x7FF, 11),
            (self.version, 2),
            (self.layer, 2),
            (self.protection_bit, 1),
            (self.bitrate_index, 4),
            (self.sampling, 2),
            (self.padding, 1),
            (self.private, 1),
            (self.mode, 2),
            (self.mode_extension, 2),
            (self.copyright, 1),
            (self.original, 1),
            (self.emphasis, 2),
        ]
        return pack_bits(fields)


def read_header(buf: bytes, pos: int) -> Header | None:
    """Decode the header at ``pos``; None if cut off or without the syncword."""
    if len(buf) - pos < 4:
        return None
    field = bit_fields(buf[pos : pos + 4])
    if field(0, 11) != 0x7FF:
        return None
    return Header(
        version=field(11, 2),
        layer=field(13, 2),
        protection_bit=field(15, 1),
        bitrate_index=field(16, 4),
        sampling=field(20, 2),
        padding=field(22, 1),
        private=field(23, 1),
        mode=field(24, 2),
        mode_extension=field(26, 2),
        copyright=field(28, 1),
        original=field(29, 1),
        emphasis=field(30, 2),
    )


def header_valid(h: Header) -> bool:
    """Everything the scanner requires of the header fields alone."""
    return (
        h.version != 1
        and h.layer == 1
        and h.bitrate_index not in (0, 15)
        and h.sampling != 3
        and h.emphasis != 2
    )


@dataclass(frozen=True)
class SideInfo:
    """What the scanner reads of the side information (ISO/IEC 11172-3 s. 2.4.1.7)."""

    main_data_begin: int
    part2_3_lengths: tuple[int, ...]
    big_values: tuple[int, ...]
    bad_block_type: bool

    @property
    def bits(self) -> int:
        return sum(self.part2_3_lengths)


#: Bit offsets of granule 0, channel 0 in the side information, by (MPEG-1, channels), and of the
#: fields inside a granule's channel: part2_3_length 0, big_values 12, window_switching_flag 8 + 4 or 9.
FIRST_GRANULE = {(True, 1): 18, (True, 2): 20, (False, 1): 9, (False, 2): 10}


def read_side_info(buf: bytes, pos: int, h: Header) -> SideInfo:
    start = pos + 4 + h.crc_bytes
    field = bit_fields(buf[start : start + h.side_bytes])
    granule_bits = 59 if h.mpeg1 else 63
    at = FIRST_GRANULE[(h.mpeg1, h.channels)]
    lengths, big_values, bad = [], [], False
    for _ in range((2 if h.mpeg1 else 1) * h.channels):
        lengths.append(field(at, 12))
        big_values.append(field(at + 12, 9))
        switch_at = at + 21 + 8 + (4 if h.mpeg1 else 9)
        if field(switch_at, 1) and field(switch_at + 1, 2) == 0:
            bad = True
        at += granule_bits
    return SideInfo(field(0, 9 if h.mpeg1 else 8), tuple(lengths), tuple(big_values), bad)


def crc_of(frame: bytes, h: Header) -> int:
    """The CRC a protected frame must carry: over header bytes 2-3 and the side information."""
    return ref_crc16_mpeg(frame[2:4] + frame[6 : 6 + h.side_bytes])


@dataclass(frozen=True)
class Walk:
    """What the reference walker found in a valid stream."""

    offsets: list[int]
    firsts: list[int]
    main_data_begin: list[int]
    reach: list[int]


def ref_walk(data: bytes) -> Walk:
    """Offsets, first samples (each plus the end / total), main_data_begin and reach. Asserts validity."""
    offsets, firsts, mdbs, areas = [], [], [], []
    pos = sample = reservoir = 0
    first: Header | None = None
    while pos < len(data):
        h = read_header(data, pos)
        assert h is not None and header_valid(h), pos
        assert len(data) - pos >= h.overhead
        first = first or h
        assert h.fixed == first.fixed
        if not h.protection_bit:
            assert int.from_bytes(data[pos + 4 : pos + 6], "big") == crc_of(data[pos:], h)
        side = read_side_info(data, pos, h)
        assert max(side.big_values) <= 288 and not side.bad_block_type
        assert pos + h.length <= len(data)
        area = h.length - h.overhead
        assert side.main_data_begin <= reservoir and side.bits <= 8 * (side.main_data_begin + area)
        reservoir = (8 * (side.main_data_begin + area) - side.bits) // 8
        offsets.append(pos)
        firsts.append(sample)
        mdbs.append(side.main_data_begin)
        areas.append(area)
        pos += h.length
        sample += h.samples
    reach = []
    for k, mdb in enumerate(mdbs):  # frames back until their areas cover main_data_begin bytes
        r, covered = 0, 0
        while covered < mdb:
            r += 1
            covered += areas[k - r]
        reach.append(r)
    return Walk([*offsets, len(data)], [*firsts, sample], mdbs, reach)


def split(data: bytes) -> list[bytes]:
    """The frames of a valid stream."""
    offsets = ref_walk(data).offsets
    return [data[a:b] for a, b in itertools.pairwise(offsets)]


def repack(data: bytes, *, protected: bool, bitrate_index: int = 14) -> bytes:
    """The stream with every frame's main data moved into its own frame (main_data_begin 0).

    Each frame gets ``bitrate_index`` (large enough for its main data) and, if
    ``protected``, a CRC. The main data bits and the rest of the side
    information are unchanged, so the stream decodes to the same samples.
    """
    walk = ref_walk(data)
    frames = split(data)
    heads = [read_header(f, 0) for f in frames]
    main = b"".join(f[h.overhead :] for f, h in zip(frames, heads, strict=True) if h is not None)
    out, before = [], 0
    for frame, h in zip(frames, heads, strict=True):
        assert h is not None
        side = read_side_info(frame, 0, h)
        begin = before - side.main_data_begin
        payload = main[begin : begin + -(-side.bits // 8)]
        new = replace(h, protection_bit=0 if protected else 1, bitrate_index=bitrate_index, padding=0)
        side_bytes = bytearray(frame[4 + h.crc_bytes : h.overhead])
        width = 9 if h.mpeg1 else 8
        value = int.from_bytes(side_bytes, "big") & ~(((1 << width) - 1) << (8 * len(side_bytes) - width))
        side_bytes[:] = value.to_bytes(len(side_bytes), "big")  # main_data_begin = 0
        head = new.to_bytes()
        crc = ref_crc16_mpeg(head[2:4] + bytes(side_bytes)).to_bytes(2, "big") if protected else b""
        body = head + crc + bytes(side_bytes)
        assert len(body) + len(payload) <= new.length, "bitrate_index too small for this frame's main data"
        out.append(body + payload + bytes(new.length - len(body) - len(payload)))
        before += h.length - h.overhead
    assert len(walk.offsets) == len(out) + 1
    return b"".join(out)


def set_bits(frame: bytes, at: int, width: int, value: int) -> bytes:
    """``frame`` with the ``width`` bits at bit offset ``at`` (from its first bit) set to ``value``."""
    size = 8 * len(frame)
    bits = int.from_bytes(frame, "big")
    shift = size - at - width
    bits = bits & ~(((1 << width) - 1) << shift) | (value << shift)
    return bits.to_bytes(len(frame), "big")


def with_frame(data: bytes, frame: int, edit: Callable[[bytes], bytes]) -> bytes:
    frames = split(data)
    frames[frame] = edit(frames[frame])
    return b"".join(frames)


# --------------------------------------------------------------------------------------------------
# Oracles
# --------------------------------------------------------------------------------------------------


def check_index(data: bytes, info: Mp3Info, index: FrameIndex, mdb: np.ndarray) -> None:
    """The invariants of every successful scan, checked against the reference walker."""
    walk = ref_walk(data)
    check_arrays(index, walk.offsets, walk.firsts, mdb)
    assert mdb.tolist() == walk.main_data_begin
    assert reservoir_reach(info, index, mdb).tolist() == walk.reach
    h = read_header(data, 0)
    assert h is not None
    assert (info.samplerate, info.channels, info.samples_per_frame) == (h.samplerate, h.channels, h.samples)
    assert info.version == {3: "1", 2: "2", 0: "2.5"}[h.version]
    assert info.protected == (not h.protection_bit) and info.side_info_bytes == h.side_bytes
    assert info.overhead_bytes == h.overhead and info.frames == index.n_frames


def check_scan(data: bytes, **expect: int) -> tuple[Mp3Info, FrameIndex, np.ndarray]:
    info, index, mdb = scan_mp3(data, **expect)
    check_index(data, info, index, mdb)
    return info, index, mdb


def expect_error(data: bytes | bytearray, *codes: Mp3Status, **expect: int) -> StreamError:
    """The StreamError scanning ``data`` must raise (see ``scanner_checks.expect_error``)."""
    return scanner_checks.expect_error(MP3, data, *codes, **expect)


# --------------------------------------------------------------------------------------------------
# The checks every scanner must pass (scanner_checks.py), on MP3
# --------------------------------------------------------------------------------------------------


def checked_bytes(data: bytes) -> set[int]:
    """The positions of the bytes of headers, CRCs and side information of a valid stream."""
    h = read_header(data, 0)
    assert h is not None
    return {o + k for o in ref_walk(data).offsets[:-1] for k in range(h.overhead)}


MP3 = ScannerCase(
    scan=scan_mp3,
    status=Mp3Status,
    streams=(stereo, stereo_other, mono_16k),
    check=lambda data, result: check_index(data, *result),
    checked=checked_bytes,
    # A valid-looking header: MPEG-1 Layer III, any bit rate and sampling field, mono.
    lead=lambda rng: bytes((0xFF, 0xFB, int(rng.integers(0x10, 0xE0)) & 0xFC, 0xC4)),
    min_stream_bytes=MIN_FRAME_BYTES,
    # Fewer errors than ADTS: most side information bits (table selections, scale factor choices) pass.
    flip_errors=(70, 480),
)


class TestScannerChecks(ScannerChecks):
    """The checks every scanner must pass (``scanner_checks.py``), on MP3."""

    case = MP3


def decode_frames(frames: list[bytes], **options: str) -> np.ndarray:
    """FFmpeg's decode of the frames, one packet each, from one decoder: float32 ``(n, channels)``."""
    context = av.CodecContext.create("mp3float", "r")
    context.options = options
    out = []
    for frame in frames:
        out += [
            np.stack([np.frombuffer(p, np.float32, d.samples) for p in d.planes], 1)
            for d in context.decode(av.Packet(frame))
        ]
    return np.concatenate(out)


# --------------------------------------------------------------------------------------------------
# C core basics
# --------------------------------------------------------------------------------------------------


def test_reference_header_round_trips() -> None:
    data = stereo()
    h = read_header(data, 0)
    assert h is not None and h.to_bytes() == data[:4]
    assert (h.mpeg1, h.channels, h.samplerate, h.length, h.side_bytes) == (True, 2, 48000, 384, 32)
    assert ref_crc16_mpeg(b"123456789") == 0xAEE7 == lib.wz_crc16(0xFFFF, b"123456789", 9)


def test_parse_header_c_api() -> None:
    data = stereo()
    out = ffi.new("wz_mp3_header *")
    assert lib.wz_mp3_parse_header(data, len(data), 0, out) == Mp3Status.OK
    h = read_header(data, 0)
    assert h is not None
    side = read_side_info(data, 0, h)
    assert (out.frame_length, out.header_len, out.side_info_len, out.main_data_len) == (384, 4, 32, 348)
    assert (out.version_id, out.protection_bit, out.bitrate_index, out.bitrate) == (3, 1, 9, 128_000)
    assert (out.sampling_index, out.samplerate, out.padding, out.mode, out.channels) == (
        1,
        48000,
        0,
        h.mode,
        2,
    )
    assert (out.emphasis, out.samples, out.crc) == (0, 1152, 0)
    assert (out.main_data_begin, out.main_data_bits) == (0, side.bits)
    assert lib.wz_mp3_parse_header(data, len(data), 1, out) == Mp3Status.SYNC
    assert lib.wz_mp3_parse_header(data, 3, 0, out) == Mp3Status.TRUNCATED
    assert lib.wz_mp3_parse_header(data, 35, 0, out) == Mp3Status.TRUNCATED  # inside the side information
    assert lib.wz_mp3_parse_header(data, 36, 0, out) == Mp3Status.OK  # the frame itself may be cut off
    assert lib.wz_mp3_parse_header(data, 1, 0, out) == Mp3Status.TRUNCATED  # a lone 0xFF
    assert lib.wz_mp3_parse_header(data, len(data), len(data), out) == Mp3Status.TRUNCATED
    assert lib.wz_mp3_parse_header(ffi.NULL, 10, 0, out) == Mp3Status.ARGUMENT
    assert lib.wz_mp3_parse_header(data, len(data), 0, ffi.NULL) == Mp3Status.ARGUMENT
    # A protected MPEG-2.5 mono frame.
    frame = split(repack(lame(8000, 1, 16_000, 8000), protected=True, bitrate_index=8))[3]
    assert lib.wz_mp3_parse_header(frame, len(frame), 0, out) == Mp3Status.OK
    assert (out.version_id, out.protection_bit, out.header_len, out.side_info_len) == (0, 0, 6, 9)
    assert (out.samplerate, out.samples, out.frame_length, out.bitrate) == (8000, 576, 576, 64_000)
    assert out.crc == int.from_bytes(frame[4:6], "big") == crc_of(frame, read_header(frame, 0))  # type: ignore[arg-type]


def test_c_api_resumes_after_capacity_and_rejects_bad_calls() -> None:
    data = mono_16k()
    n = len(split(data))
    buf = ffi.from_buffer("uint8_t[]", data)
    st = ffi.new("wz_mp3_scan *")
    assert lib.wz_mp3_scan_frames(st, buf, len(data), ffi.NULL, ffi.NULL, ffi.NULL, 0) == Mp3Status.ARGUMENT
    for rate, channels in [(0, -1), (-2, -1), (-1, 0), (-1, 3), (-1, -2)]:
        assert lib.wz_mp3_scan_init(st, buf, len(data), rate, channels) == Mp3Status.ARGUMENT
        assert ffi.string(st.message)
    assert lib.wz_mp3_scan_init(ffi.NULL, buf, len(data), -1, -1) == Mp3Status.ARGUMENT
    assert lib.wz_mp3_scan_init(st, ffi.NULL, 5, -1, -1) == Mp3Status.ARGUMENT
    assert lib.wz_mp3_scan_init(st, buf, len(data), -1, -1) == Mp3Status.OK
    assert (
        lib.wz_mp3_scan_frames(st, buf, len(data) - 1, ffi.NULL, ffi.NULL, ffi.NULL, 0) == Mp3Status.ARGUMENT
    )
    assert lib.wz_mp3_scan_frames(st, buf, len(data), ffi.NULL, ffi.NULL, ffi.NULL, 5) == Mp3Status.ARGUMENT
    offsets, firsts, mdb = (np.zeros(n + 5, np.int64) for _ in range(3))
    po, pf, pm = (ffi.from_buffer("int64_t[]", a) for a in (offsets, firsts, mdb))
    calls = 0
    for capacity in range(1, n + 5):  # grow by one entry at a time; main_data_begin only from frame 10 on
        calls += 1
        status = lib.wz_mp3_scan_frames(
            st, buf, len(data), po, pf, pm if capacity > 10 else ffi.NULL, capacity
        )
        if status == Mp3Status.OK:
            break
        assert status == Mp3Status.CAPACITY and st.n_frames == capacity
    assert calls == st.n_frames == n
    assert st.next_sample == 576 * n and st.crc_verified == 0
    walk = ref_walk(data)
    assert offsets[:n].tolist() == walk.offsets[:-1] and firsts[:n].tolist() == walk.firsts[:-1]
    assert mdb[10:n].tolist() == walk.main_data_begin[10:] and not mdb[:10].any()
    assert (
        lib.wz_mp3_scan_frames(st, buf, len(data), po, pf, pm, 0) == Mp3Status.OK
    )  # finished stays finished


# --------------------------------------------------------------------------------------------------
# Valid streams
# --------------------------------------------------------------------------------------------------

#: (rate, channels, bit rate): MPEG-1, MPEG-2 and MPEG-2.5, mono and stereo, small and large frames.
STREAMS = [
    (48000, 1, 32_000),
    (48000, 2, 320_000),
    (44100, 2, 128_000),
    (44100, 1, 64_000),
    (32000, 2, 96_000),
    (24000, 1, 8_000),
    (22050, 2, 64_000),
    (16000, 1, 16_000),
    (12000, 2, 32_000),
    (11025, 1, 16_000),
    (8000, 1, 8_000),
    (8000, 2, 64_000),
]


@pytest.mark.parametrize(("rate", "channels", "bit_rate"), STREAMS)
def test_pyav_files_match_demuxer_and_decode_frame_by_frame(rate: int, channels: int, bit_rate: int) -> None:
    n = rate + 777
    data = pyav_file(rate, channels, bit_rate, n)
    start = id3v2_length(data)
    frames = data[start:]  # the Xing/Info frame, then the audio frames (no tag at the end)
    info, index, mdb = check_scan(frames, expected_samplerate=rate, expected_channels=channels)
    spf = 1152 if rate >= 32000 else 576
    assert (info.samplerate, info.channels, info.samples_per_frame, info.protected) == (
        rate,
        channels,
        spf,
        False,
    )
    assert info.version == ("1" if rate >= 32000 else "2" if rate >= 16000 else "2.5")
    # Frame 0 is the Info frame: side information of zeros, the tag in its main data. The demuxer
    # consumes it and gives the other frames as packets.
    xing = index.offsets[0] + info.overhead_bytes
    assert frames[xing : xing + 4] in (b"Info", b"Xing") and mdb[0] == 0
    packets = av_packets(data)
    assert [pos - start for pos, _ in packets] == index.offsets[1:-1].tolist()
    assert [size for _, size in packets] == np.diff(index.offsets)[1:].tolist()
    assert index.first_samples.tolist() == list(range(0, spf * (len(packets) + 2), spf))
    assert int(index.first_samples[-1]) >= n + 1105  # LAME's delay (576) and the decoder's (529)
    # LAME fills the reservoir: frames after the first start their main data in earlier frames.
    assert mdb[2:].max() > 0 and mdb.max() <= (511 if info.version == "1" else 255)
    # Each frame decodes as its own packet to one frame of samples.
    decoded = decode_frames([frames[a:b] for a, b in itertools.pairwise(index.offsets.tolist())])
    assert decoded.shape == (index.decoded, channels)


@pytest.mark.parametrize(("rate", "channels", "bit_rate"), STREAMS)
def test_reservoir_reach(rate: int, channels: int, bit_rate: int) -> None:
    data = lame(rate, channels, bit_rate, rate * 2)
    info, index, mdb = check_scan(data)  # reach checked against the reference walker
    reach = reservoir_reach(info, index, mdb)
    assert reach.dtype == np.int64 and reach[0] == 0 and np.all(reach <= np.arange(index.n_frames))
    # The bytes of main data in the frames reached cover main_data_begin, one frame fewer does not.
    areas = np.diff(index.offsets) - info.overhead_bytes
    for k in range(index.n_frames):
        r = int(reach[k])
        assert areas[k - r : k].sum() >= mdb[k] and (r == 0 or areas[k - r + 1 : k].sum() < mdb[k])
    if areas.mean() < 100:
        assert reach.max() >= 3  # small frames: the reservoir spans several


def test_expected_samplerate_and_channels() -> None:
    check_expected_arguments(
        MP3,
        stereo(),
        right={"expected_samplerate": 48000, "expected_channels": 2},
        wrong=[
            ("expected_samplerate", 44100, ("48000", "44100")),
            ("expected_channels", 1, ("2 channels",)),
            ("expected_samplerate", 2**40, ()),
        ],
        invalid=[("expected_samplerate", 0), ("expected_samplerate", -1), ("expected_channels", 3)],
    )


@pytest.mark.parametrize(
    ("rate", "channels", "bit_rate", "index"),
    [(48000, 2, 128_000, 14), (22050, 1, 32_000, 14), (8000, 2, 16_000, 14)],
)
def test_protected_frames_crc_verified(rate: int, channels: int, bit_rate: int, index: int) -> None:
    data = lame(rate, channels, bit_rate, rate)
    packed = repack(data, protected=True, bitrate_index=index)
    info, _, mdb = check_scan(packed)
    assert info.protected and not mdb.any()
    st = ffi.new("wz_mp3_scan *")
    assert lib.wz_mp3_scan_init(st, packed, len(packed), -1, -1) == Mp3Status.OK
    # FFmpeg checks the CRCs too (err_detect crccheck + explode) and decodes the same samples.
    reference = decode_frames(split(data))
    assert np.array_equal(decode_frames(split(packed), err_detect="crccheck+explode"), reference)
    unprotected = repack(data, protected=False, bitrate_index=index)
    check_scan(unprotected)
    assert np.array_equal(decode_frames(split(unprotected)), reference)
    # A flipped bit in the CRC, the header's last 16 bits or the side information.
    offsets = ref_walk(packed).offsets
    for frame, at in [(0, 32), (3, 47), (3, 20), (3, 31), (5, 48), (5, 48 + 8 * info.side_info_bytes - 1)]:
        bad = with_frame(
            packed, frame, lambda f, at=at: set_bits(f, at, 1, 1 - (f[at // 8] >> (7 - at % 8) & 1))
        )
        err = expect_error(bad, Mp3Status.CRC, Mp3Status.HEADER, Mp3Status.MISMATCH)
        assert (err.frame, err.offset) == (frame, offsets[frame])
        if at >= 32:  # the CRC, the side information: nothing else can notice
            assert err.code == Mp3Status.CRC and "stored" in str(err)
        with pytest.raises(av.FFmpegError):
            decode_frames([bad[offsets[frame] : offsets[frame + 1]]], err_detect="crccheck+explode")
    # The CRC does not cover the header's first 16 bits (syncword, version, layer, protection_bit):
    # another version there is caught by the fixed fields.
    err = expect_error(
        with_frame(packed, 4, lambda f: set_bits(f, 11, 2, 2 if f[1] >> 3 & 3 == 3 else 3)),
        Mp3Status.MISMATCH,
    )
    assert "version" in str(err)


def test_info_frame_and_single_frame() -> None:
    data = pyav_file(44100, 2, 128_000, 20_000)
    frames = data[id3v2_length(data) :]
    info, index, _ = check_scan(frames[: ref_walk(frames).offsets[1]])  # the Info frame alone
    assert info.frames == 1 and index.decoded == 1152
    info, index, _ = check_scan(split(stereo())[0])
    assert info.frames == 1


def test_check_frame() -> None:
    frames = split(stereo())
    for frame in frames[:5]:
        check_frame(frame, 48000, 2)
    check_frame(memoryview(frames[3]), 48000, 2)
    cases: list[tuple[bytes, Mp3Status, str]] = [
        (b"", Mp3Status.TRUNCATED, "cut off"),
        (frames[3][:20], Mp3Status.TRUNCATED, "cut off"),
        (frames[3][:-1], Mp3Status.MISMATCH, "383 bytes, but its header gives a frame of 384"),
        (frames[3] + b"\0", Mp3Status.MISMATCH, "385 bytes"),
        (b"\0" * 400, Mp3Status.SYNC, "syncword"),
        (set_bits(frames[3], 13, 2, 2), Mp3Status.LAYER, "Layer I or II"),
        (set_bits(frames[3], 16, 4, 15), Mp3Status.HEADER, "reserved or forbidden"),
    ]
    for data, code, words in cases:
        with pytest.raises(StreamError, match=words) as caught:
            check_frame(data, 48000, 2)
        assert caught.value.code == code and str(caught.value).startswith("is ")
    with pytest.raises(StreamError, match="at 48000 Hz of 2 channels, not 44100 Hz of 2"):
        check_frame(frames[3], 44100, 2)
    with pytest.raises(StreamError, match="not 48000 Hz of 1"):
        check_frame(frames[3], 48000, 1)


# --------------------------------------------------------------------------------------------------
# Invalid streams, one check at a time: every status
# --------------------------------------------------------------------------------------------------


def test_empty_and_not_mp3() -> None:
    err = expect_error(b"", Mp3Status.NO_FRAMES)
    assert err.frame == -1
    expect_error(b"\x00" * 100, Mp3Status.SYNC)
    err = expect_error(b"ID3\x04\x00\x00\x00\x00\x00\x00" + stereo(), Mp3Status.SYNC)
    assert "tag" in str(err)
    expect_error(b"\xff", Mp3Status.TRUNCATED)
    expect_error(b"\xff\xfb\x90", Mp3Status.TRUNCATED)
    expect_error(b"\xfe", Mp3Status.SYNC)
    # An ADTS header: syncword 0xFFF, layer 00 (reserved for MPEG audio).
    expect_error(b"\xff\xf1\x50\x80" + bytes(400), Mp3Status.HEADER)


def header_edit(at: int, width: int, value: int) -> Callable[[bytes], bytes]:
    return lambda f: set_bits(f, at, width, value)


@pytest.mark.parametrize("frame", [0, 5])
def test_invalid_header_fields(frame: int) -> None:
    data = stereo()
    edits = {
        "version 01": (header_edit(11, 2, 1), Mp3Status.HEADER),
        "layer 00": (header_edit(13, 2, 0), Mp3Status.HEADER),
        "layer II": (header_edit(13, 2, 2), Mp3Status.LAYER),
        "layer I": (header_edit(13, 2, 3), Mp3Status.LAYER),
        "bitrate 15": (header_edit(16, 4, 15), Mp3Status.HEADER),
        "free format": (header_edit(16, 4, 0), Mp3Status.FREE_FORMAT),
        "sampling 3": (header_edit(20, 2, 3), Mp3Status.HEADER),
        "emphasis 2": (header_edit(30, 2, 2), Mp3Status.HEADER),
    }
    offset = ref_walk(data).offsets[frame]
    for name, (edit, code) in edits.items():
        err = expect_error(with_frame(data, frame, edit), code)
        assert (err.offset, err.frame) == (offset, frame), name
    assert "free-format streams are not supported" in str(
        expect_error(with_frame(data, frame, edits["free format"][0]), Mp3Status.FREE_FORMAT)
    )
    assert "only Layer III" in str(
        expect_error(with_frame(data, frame, edits["layer II"][0]), Mp3Status.LAYER)
    )


@pytest.mark.parametrize(("make", "mpeg1"), [(stereo, True), (mono_16k, False)])
def test_invalid_side_information(make: Callable[[], bytes], mpeg1: bool) -> None:
    data = make()
    frames = split(data)
    h = read_header(frames[4], 0)
    assert h is not None
    granule = 32 + FIRST_GRANULE[(mpeg1, h.channels)] + (59 if mpeg1 else 63) * (h.channels - 1)
    switch = granule + 21 + 8 + (4 if mpeg1 else 9)
    edits = [
        (header_edit(granule + 12, 9, 289), "big_values exceeds 288"),
        (header_edit(granule + 12, 9, 511), "big_values exceeds 288"),
        (header_edit(switch, 3, 0b100), "block_type 0"),
    ]
    for edit, words in edits:
        err = expect_error(with_frame(data, 4, edit), Mp3Status.SIDE_INFO)
        assert err.frame == 4 and words in str(err)
    # big_values 288 and a short block are valid side information.
    for edit in (header_edit(granule + 12, 9, 288), header_edit(switch, 3, 0b110)):
        scan_mp3(with_frame(data, 4, edit))


def test_reservoir() -> None:
    data = stereo()
    walk = ref_walk(data)
    offsets, mdb = walk.offsets, walk.main_data_begin
    assert mdb[0] == 0 and min(mdb[1:]) > 0
    # A stream cut out of a longer one: its first frame's main data starts before it.
    for k in (1, 2, 7):
        err = expect_error(data[offsets[k] :], Mp3Status.RESERVOIR)
        assert (err.frame, err.offset) == (0, 0) and "not start at a real beginning" in str(err)
    # A frame missing in the middle: the next one reaches into main data already used.
    frames = split(data)
    err = expect_error(b"".join(frames[:10] + frames[11:]), Mp3Status.RESERVOIR)
    assert err.frame == 10
    # Main data longer than the bytes it may use (part2_3_length of granule 0, channel 0).
    h = read_header(frames[0], 0)
    assert h is not None
    at = 32 + FIRST_GRANULE[(True, 2)]
    err = expect_error(with_frame(data, 3, header_edit(at, 12, 4095)), Mp3Status.RESERVOIR)
    assert err.frame == 3 and "runs past the end of the frame" in str(err)
    # main_data_begin one byte beyond the reservoir left after frame 5; exactly at it is fine.
    h5 = read_header(data, offsets[5])
    assert h5 is not None
    limit = (8 * (mdb[5] + h5.length - h5.overhead) - read_side_info(data, offsets[5], h5).bits) // 8
    assert mdb[6] <= limit < 511
    err = expect_error(with_frame(data, 6, header_edit(32, 9, limit + 1)), Mp3Status.RESERVOIR)
    assert err.frame == 6
    check_scan(with_frame(data, 6, header_edit(32, 9, limit)))


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        ("sampling_frequency", header_edit(20, 2, 0)),
        ("channels", header_edit(24, 2, 3)),
        ("version", header_edit(11, 2, 2)),
    ],
)
def test_fixed_fields_change_between_frames(name: str, edit: Callable[[bytes], bytes]) -> None:
    data = stereo()
    offsets = ref_walk(data).offsets
    err = expect_error(with_frame(data, 4, edit), Mp3Status.MISMATCH)
    assert (err.frame, err.offset) == (4, offsets[4]), name
    assert name in str(err) and "differs from frame 0" in str(err)


def test_frames_of_another_stream() -> None:
    a = split(stereo())
    for other in (mono_16k(), lame(44100, 2, 128_000, 9000), repack(stereo(), protected=True)):
        b = split(other)
        err = expect_error(b"".join(a[:3] + b[3:5] + a[5:]), Mp3Status.MISMATCH)
        assert err.frame == 3


def test_truncation_trailing_bytes_and_tags() -> None:
    data = stereo()
    # Truncated last frame, inside its header, side information and main data; trailing bytes after it.
    check_cut_and_trailing_bytes(MP3, data, into_last=(1, 3, 20, 36), sync=b"\xff\xfb")
    offsets = ref_walk(data).offsets
    for tag in (b"TAG" + bytes(125), b"APETAGEX" + bytes(24)):  # ID3v1, APEv2
        err = expect_error(data + tag, Mp3Status.SYNC)
        assert "trailing bytes or a tag" in str(err)
    # A padding bit flipped: the frame's length is one byte off and the chain breaks.
    err = expect_error(with_frame(data, 3, header_edit(22, 1, 1)), *MP3.data_errors)
    assert err.frame == 4 and err.offset == offsets[4] + 1


# --------------------------------------------------------------------------------------------------
# Fuzzing particular to MP3 (seeded; the shared fuzz tests are in scanner_checks.py)
# --------------------------------------------------------------------------------------------------


def test_fuzz_protected_mutants() -> None:
    check_random_flips(MP3, repack(lame(22050, 2, 32_000, 8000), protected=True))
