"""Tests of the C ADTS frame scanner (``csrc/adts_scan.c``) and ``wildzarr.scan.adts``.

Streams come from PyAV's native AAC encoder (ADTS muxer); frame offsets are
checked against PyAV's demuxer and an independent pure-Python header walker
(written here from ISO/IEC 13818-7 section 6.2, sharing no code with the C),
and by decoding each indexed frame on its own. Headers with a CRC, several raw
data blocks or channel configuration 0 are built by hand.

Shared with the other scanners (``scanner_checks.py``, run here on :data:`ADTS`
by :class:`TestScannerChecks`): status codes, input types, threads and the
seeded fuzz tests, whose every successful scan must match :func:`ref_walk`.
Here: ADTS header fields, multi-block frames and their CRC, the expected sample
rate and channel configuration, and where each error is reported.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import av
import numpy as np
import pytest
import scanner_checks
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
    scan_or_error,
)

from wildzarr._core import ffi, lib
from wildzarr.errors import StreamError
from wildzarr.index import FrameIndex
from wildzarr.scan.adts import MIN_FRAME_BYTES, SAMPLES_PER_BLOCK, AdtsInfo, AdtsStatus, scan_adts

#: ISO/IEC 14496-3 Table 1.18: sampling_frequency_index -> Hz.
RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]
#: ISO/IEC 14496-3 Table 1.19: channel_configuration -> channels (0: program_config_element).
CHANNELS = [0, 1, 2, 3, 4, 5, 6, 8]


# --------------------------------------------------------------------------------------------------
# Encoder (PyAV) and PyAV's view of a stream
# --------------------------------------------------------------------------------------------------


def encode(rate: int, layout: str, n: int, seed: int = 0) -> bytes:
    """ADTS bytes of ``n`` samples of sine plus noise, PyAV's native AAC encoder, PNS off."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    with av.open(buf, "w", format="adts") as container:
        stream = container.add_stream("aac", rate=rate, layout=layout)
        stream.options = {"aac_pns": "0"}
        channels = stream.codec_context.layout.nb_channels
        t = np.arange(n)[None, :]
        freqs = 300.0 + 170.0 * np.arange(channels)[:, None]
        x = 0.3 * np.sin(2 * np.pi * freqs * t / rate) + rng.normal(0, 0.01, (channels, n))
        frame = av.AudioFrame.from_ndarray(x.astype(np.float32), format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def av_packets(data: bytes) -> list[tuple[int, int]]:
    """(byte position, size) of every packet PyAV's ADTS demuxer finds."""
    with av.open(io.BytesIO(data), format="aac") as container:
        return [(int(p.pos), int(p.size)) for p in container.demux(audio=0) if p.size]


def av_decode_frames(data: bytes, index: FrameIndex) -> list[int]:
    """Decode each indexed frame as its own packet; samples per channel of each."""
    ctx = av.CodecContext.create("aac", "r")
    counts = []
    for start, stop in itertools.pairwise(index.offsets.tolist()):
        counts.append(sum(f.samples for f in ctx.decode(av.Packet(data[start:stop]))))
    counts[-1] += sum(f.samples for f in ctx.decode(None))
    return counts


@cache
def stereo() -> bytes:
    """44.1 kHz stereo, 1.5 s: about 65 frames."""
    return encode(44100, "stereo", 66150)


@cache
def stereo_other() -> bytes:
    """Same parameters as :func:`stereo`, other content: splices of both are valid ADTS."""
    return encode(44100, "stereo", 50000, seed=1)


@cache
def mono_8k() -> bytes:
    """8 kHz mono, 3 s: small frames."""
    return encode(8000, "mono", 24000)


# --------------------------------------------------------------------------------------------------
# Independent reference: header fields, CRC, header builder, walker (ISO/IEC 13818-7 s. 6.2)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """The fields of an ADTS header, and where its frame ends."""

    id: int
    layer: int
    protection_absent: int
    profile: int
    sfi: int
    channel_configuration: int
    frame_length: int
    fullness: int
    blocks: int
    positions: tuple[int, ...] = ()
    crc: int = 0

    @property
    def length(self) -> int:
        """Header bytes: 7, plus 2 per block when protected."""
        return 7 if self.protection_absent else 7 + 2 * self.blocks

    @property
    def fixed(self) -> tuple[int, ...]:
        """The fields every frame of a stream must share."""
        return (self.id, self.protection_absent, self.sfi, self.channel_configuration)


def read_header(buf: bytes, pos: int) -> Header | None:
    """Decode the header at ``pos`` bit by bit; None if cut off or without the syncword."""
    if len(buf) - pos < 7:
        return None
    field = bit_fields(buf[pos : pos + 7])
    if field(0, 12) != 0xFFF:
        return None
    h = Header(
        id=field(12, 1),
        layer=field(13, 2),
        protection_absent=field(15, 1),
        profile=field(16, 2),
        sfi=field(18, 4),
        channel_configuration=field(23, 3),
        frame_length=field(30, 13),
        fullness=field(43, 11),
        blocks=field(54, 2) + 1,
    )
    if h.protection_absent or len(buf) - pos < h.length:
        return h
    extra = buf[pos + 7 : pos + h.length]
    words = [int.from_bytes(extra[i : i + 2], "big") for i in range(0, len(extra), 2)]
    return replace(h, positions=tuple(words[:-1]), crc=words[-1])


def header_valid(h: Header) -> bool:
    """Everything the scanner requires of a single header."""
    if h.layer != 0 or h.profile != 1 or h.sfi > 12 or h.frame_length < h.length + 1:
        return False
    payload = h.frame_length - h.length
    starts = (0, *h.positions)
    return all(a < b for a, b in itertools.pairwise(starts)) and starts[-1] < payload


def make_header(
    frame_length: int,
    *,
    sfi: int = 4,
    channel_configuration: int = 2,
    profile: int = 1,
    layer: int = 0,
    mpeg2: int = 0,
    blocks: int = 1,
    protected: bool = False,
    positions: tuple[int, ...] = (),
    crc: int | None = None,
    fullness: int = 0x7FF,
) -> bytes:
    """An ADTS header. With ``protected`` and 2-4 blocks, ``crc`` defaults to the correct header CRC."""
    fields = [
        (0xFFF, 12),
        (mpeg2, 1),
        (layer, 2),
        (0 if protected else 1, 1),
        (profile, 2),
        (sfi, 4),
        (0, 1),
        (channel_configuration, 3),
        (0, 4),
        (frame_length, 13),
        (fullness, 11),
        (blocks - 1, 2),
    ]
    head = pack_bits(fields)
    if not protected:
        return head
    head += b"".join(p.to_bytes(2, "big") for p in positions)
    if crc is None:
        crc = ref_crc16_mpeg(head) if blocks > 1 else 0
    return head + crc.to_bytes(2, "big")


def ref_walk(data: bytes) -> tuple[list[int], list[int]]:
    """Offsets and first samples (each plus the end / total) of a valid stream. Asserts on invalid input."""
    offsets, firsts, pos, sample = [], [], 0, 0
    first: Header | None = None
    while pos < len(data):
        h = read_header(data, pos)
        assert h is not None and header_valid(h), pos
        first = first or h
        assert h.fixed == first.fixed
        assert pos + h.frame_length <= len(data)
        offsets.append(pos)
        firsts.append(sample)
        pos += h.frame_length
        sample += 1024 * h.blocks
    return [*offsets, len(data)], [*firsts, sample]


def split(data: bytes) -> list[tuple[bytes, bytes]]:
    """(header, raw data) of every frame of a valid stream."""
    offsets, _ = ref_walk(data)
    out = []
    for a, b in itertools.pairwise(offsets):
        h = read_header(data, a)
        assert h is not None
        out.append((data[a : a + h.length], data[a + h.length : b]))
    return out


def rebuild(data: bytes, **changes: int | bool) -> bytes:
    """A stream with every frame's header rebuilt from its fields plus ``changes`` (see make_header)."""
    out = bytearray()
    for head, payload in split(data):
        h = read_header(head, 0)
        assert h is not None
        kwargs = {"sfi": h.sfi, "channel_configuration": h.channel_configuration, "fullness": h.fullness}
        kwargs.update(changes)
        length = (9 if kwargs.get("protected") else 7) + len(payload)
        out += make_header(length, **kwargs) + payload  # type: ignore[arg-type]
    return bytes(out)


def check_scan(data: bytes, **expect: int) -> tuple[AdtsInfo, FrameIndex]:
    """Scan ``data`` and check everything against the reference walker and the headers."""
    info, index = scan_adts(data, **expect)
    check_index(data, info, index)
    return info, index


def check_index(data: bytes, info: AdtsInfo, index: FrameIndex) -> None:
    """The invariants of every successful scan, checked against the reference walker."""
    check_arrays(index, *ref_walk(data))
    h = read_header(data, 0)
    assert h is not None
    assert info.samplerate == RATES[h.sfi] and info.sampling_frequency_index == h.sfi
    assert info.channel_configuration == h.channel_configuration
    assert info.channels == CHANNELS[h.channel_configuration]
    assert info.protected == (not h.protection_absent)
    assert info.frames == index.n_frames


def expect_error(data: bytes | bytearray, *codes: AdtsStatus, **expect: int) -> StreamError:
    """The StreamError scanning ``data`` must raise (see ``scanner_checks.expect_error``)."""
    return scanner_checks.expect_error(ADTS, data, *codes, **expect)


# --------------------------------------------------------------------------------------------------
# The checks every scanner must pass (scanner_checks.py), on ADTS
# --------------------------------------------------------------------------------------------------


def header_bytes(data: bytes) -> set[int]:
    """The positions of the header bytes of a valid stream: all the scanner checks."""
    positions = set()
    for offset in ref_walk(data)[0][:-1]:
        h = read_header(data, offset)
        assert h is not None
        positions.update(range(offset, offset + h.length))
    return positions


def header_start(data: bytes, rng: np.random.Generator, size: int) -> bytes:
    """The first 1 to 7 bytes of a header whose frame length is within 5 bytes of ``size``."""
    return make_header(size + int(rng.integers(-5, 6)))[: int(rng.integers(1, 8))]


ADTS = ScannerCase(
    scan=scan_adts,
    status=AdtsStatus,
    streams=(stereo, stereo_other, mono_8k),
    check=lambda data, result: check_index(data, *result),
    checked=header_bytes,
    lead=lambda rng: b"\xff\xf1\x50\x80",  # a valid-looking syncword and fixed header
    tail_start=header_start,
    min_stream_bytes=MIN_FRAME_BYTES,
    independent_frames=True,
    # Most header flips are errors: all but those in the private, original/home, copyright and
    # buffer fullness bits, which no decoder needs.
    flip_errors=(260, 480),
)


class TestScannerChecks(ScannerChecks):
    """The checks every scanner must pass (``scanner_checks.py``), on ADTS."""

    case = ADTS


# --------------------------------------------------------------------------------------------------
# C core basics
# --------------------------------------------------------------------------------------------------


def test_crc16_with_mpeg_preset() -> None:
    assert lib.wz_crc16(0xFFFF, b"123456789", 9) == 0xAEE7  # CRC-16/CMS check value
    assert ref_crc16_mpeg(b"123456789") == 0xAEE7
    rng = np.random.default_rng(3)
    for n in [0, 1, 7, 13, 15, 16, 17, 100]:
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert lib.wz_crc16(0xFFFF, data, n) == ref_crc16_mpeg(data)


def test_reference_header_builder_round_trips() -> None:
    head = make_header(300, sfi=3, channel_configuration=6, blocks=3, protected=True, positions=(90, 200))
    h = read_header(head + bytes(300), 0)
    assert h is not None and header_valid(h)
    assert (h.sfi, h.channel_configuration, h.frame_length, h.blocks, h.positions) == (
        3,
        6,
        300,
        3,
        (90, 200),
    )
    assert h.crc == ref_crc16_mpeg(head[:-2]) and h.length == len(head) == 13
    # PyAV writes what make_header writes for an unprotected frame.
    first = stereo()[:7]
    h = read_header(first, 0)
    assert h is not None
    assert make_header(h.frame_length, sfi=h.sfi, channel_configuration=2, fullness=h.fullness) == first


def test_parse_header_c_api() -> None:
    data = stereo()
    out = ffi.new("wz_adts_header *")
    assert lib.wz_adts_parse_header(data, len(data), 0, out) == AdtsStatus.OK
    h = read_header(data, 0)
    assert h is not None
    assert (out.header_len, out.frame_length, out.id, out.protection_absent, out.profile) == (
        7,
        h.frame_length,
        0,
        1,
        1,
    )
    assert (out.sampling_frequency_index, out.samplerate, out.channel_configuration, out.channels) == (
        4,
        44100,
        2,
        2,
    )
    assert (out.raw_data_blocks, out.samples, out.crc, out.crc_verified) == (1, 1024, 0, 0)
    assert out.buffer_fullness == h.fullness
    assert lib.wz_adts_parse_header(data, len(data), 1, out) == AdtsStatus.SYNC
    assert lib.wz_adts_parse_header(data, 6, 0, out) == AdtsStatus.TRUNCATED
    assert lib.wz_adts_parse_header(data, 1, 0, out) == AdtsStatus.TRUNCATED  # a lone 0xFF
    assert lib.wz_adts_parse_header(data, len(data), len(data), out) == AdtsStatus.TRUNCATED
    assert lib.wz_adts_parse_header(ffi.NULL, 10, 0, out) == AdtsStatus.ARGUMENT
    assert lib.wz_adts_parse_header(data, len(data), 0, ffi.NULL) == AdtsStatus.ARGUMENT
    # A protected header of 4 blocks: 7 + 3 positions + CRC = 15 bytes, CRC verified.
    head = make_header(400, blocks=4, protected=True, positions=(50, 150, 300))
    frame = head + bytes(400 - len(head))
    assert lib.wz_adts_parse_header(frame, len(frame), 0, out) == AdtsStatus.OK
    assert (out.header_len, out.raw_data_blocks, out.samples, out.crc_verified) == (15, 4, 4096, 1)
    assert out.crc == ref_crc16_mpeg(head[:-2])
    assert lib.wz_adts_parse_header(frame, 14, 0, out) == AdtsStatus.TRUNCATED


def test_c_api_resumes_after_capacity_and_rejects_bad_calls() -> None:
    data = mono_8k()
    n = len(av_packets(data))
    buf = ffi.from_buffer("uint8_t[]", data)
    st = ffi.new("wz_adts_scan *")
    assert lib.wz_adts_scan_frames(st, buf, len(data), ffi.NULL, ffi.NULL, 0) == AdtsStatus.ARGUMENT
    for rate, config in [(0, -1), (-2, -1), (-1, 8), (-1, -2)]:
        assert lib.wz_adts_scan_init(st, buf, len(data), rate, config) == AdtsStatus.ARGUMENT
        assert ffi.string(st.message)
    assert lib.wz_adts_scan_init(ffi.NULL, buf, len(data), -1, -1) == AdtsStatus.ARGUMENT
    assert lib.wz_adts_scan_init(st, ffi.NULL, 5, -1, -1) == AdtsStatus.ARGUMENT
    assert lib.wz_adts_scan_init(st, buf, len(data), -1, -1) == AdtsStatus.OK
    assert lib.wz_adts_scan_frames(st, buf, len(data) - 1, ffi.NULL, ffi.NULL, 0) == AdtsStatus.ARGUMENT
    assert lib.wz_adts_scan_frames(st, buf, len(data), ffi.NULL, ffi.NULL, 5) == AdtsStatus.ARGUMENT
    offsets = np.zeros(n + 5, np.int64)
    firsts = np.zeros(n + 5, np.int64)
    po, pf = ffi.from_buffer("int64_t[]", offsets), ffi.from_buffer("int64_t[]", firsts)
    calls = 0
    for capacity in range(1, n + 5):  # grow by one entry at a time
        calls += 1
        status = lib.wz_adts_scan_frames(st, buf, len(data), po, pf, capacity)
        if status == AdtsStatus.OK:
            break
        assert status == AdtsStatus.CAPACITY and st.n_frames == capacity
    # A stream of exactly `capacity` frames completes without asking for more room.
    assert calls == st.n_frames == n
    assert st.next_sample == 1024 * n
    _, index = scan_adts(data)
    assert offsets[:n].tolist() == index.offsets[:-1].tolist()
    assert firsts[:n].tolist() == index.first_samples[:-1].tolist()
    assert lib.wz_adts_scan_frames(st, buf, len(data), po, pf, 0) == AdtsStatus.OK  # finished stays finished


# --------------------------------------------------------------------------------------------------
# Valid streams
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "layout", "config"),
    [
        (8000, "mono", 1),
        (44100, "mono", 1),
        (44100, "stereo", 2),
        (96000, "stereo", 2),
        (48000, "5.1", 6),
        (96000, "5.1", 6),
        (7350, "stereo", 2),
    ],
)
def test_pyav_streams_match_demuxer_and_decode_frame_by_frame(rate: int, layout: str, config: int) -> None:
    n = rate + 777
    data = encode(rate, layout, n)
    info, index = check_scan(data)
    assert (info.samplerate, info.channel_configuration, info.protected) == (rate, config, False)
    assert info.sampling_frequency_index == RATES.index(rate)
    assert info.crc_verified == 0
    packets = av_packets(data)
    assert index.offsets[:-1].tolist() == [pos for pos, _ in packets]
    assert np.diff(index.offsets).tolist() == [size for _, size in packets]
    assert index.first_samples.tolist() == list(range(0, 1024 * (len(packets) + 1), 1024))
    # 1024 samples of priming (NOTES.md): the frames hold at least delay + n samples.
    assert int(index.first_samples[-1]) >= n + 1024
    assert av_decode_frames(data, index) == [SAMPLES_PER_BLOCK] * index.n_frames


def test_expected_samplerate_and_channel_configuration() -> None:
    check_expected_arguments(
        ADTS,
        stereo(),
        right={"expected_samplerate": 44100, "expected_channel_configuration": 2},
        wrong=[
            ("expected_samplerate", 48000, ("44100", "48000")),
            ("expected_channel_configuration", 1, ("channel_configuration 2",)),
            ("expected_samplerate", 2**40, ()),
        ],
        invalid=[
            ("expected_samplerate", 0),
            ("expected_samplerate", -1),
            ("expected_channel_configuration", 8),
        ],
    )


def test_protected_single_block_frames_read_but_unverified_crc() -> None:
    plain = stereo()
    for crc in (0, 0xBEEF):
        data = rebuild(plain, protected=True, crc=crc)
        assert len(data) == len(plain) + 2 * len(av_packets(plain))
        info, index = check_scan(data)
        assert info.protected and info.crc_verified == 0
        assert index.first_samples.tolist() == scan_adts(plain)[1].first_samples.tolist()
        # FFmpeg reads the 9-byte headers too, and finds the same frames.
        assert index.offsets[:-1].tolist() == [pos for pos, _ in av_packets(data)]
        assert av_decode_frames(data, index) == [SAMPLES_PER_BLOCK] * index.n_frames


def multi_block_stream(blocks: list[int], protected: bool, seed: int = 0) -> bytes:
    """Hand-built frames of 1-4 raw data blocks (random payload; the scanner does not decode)."""
    rng = np.random.default_rng(seed)
    out = bytearray()
    for k in blocks:
        sizes = rng.integers(20, 200, k)
        positions = tuple(int(p) for p in np.cumsum(sizes)[:-1])
        header_len = 7 + 2 * k if protected else 7
        length = header_len + int(sizes.sum())
        head = make_header(length, blocks=k, protected=protected, positions=positions if protected else ())
        out += head + rng.integers(0, 256, length - header_len, dtype=np.uint8).tobytes()
    return bytes(out)


@pytest.mark.parametrize("protected", [False, True])
def test_multiple_raw_data_blocks(protected: bool) -> None:
    blocks = [1, 2, 3, 4, 4, 2, 1, 3]
    data = multi_block_stream(blocks, protected)
    info, index = check_scan(data)
    assert np.diff(index.first_samples).tolist() == [1024 * k for k in blocks]
    assert info.crc_verified == (sum(k > 1 for k in blocks) if protected else 0)


def test_header_crc_of_multi_block_frames_is_verified() -> None:
    data = multi_block_stream([2, 3, 4], protected=True)
    frames = [h + p for h, p in split(data)]
    for i in range(3):
        for bit in range(12, 8 * (7 + 2 * (i + 2))):  # every header bit after the syncword
            bad = bytearray(frames[i])
            bad[bit // 8] ^= 0x80 >> (bit % 8)
            stream = b"".join([*frames[:i], bytes(bad), *frames[i + 1 :]])
            flipped = read_header(bytes(bad), 0)
            assert flipped is not None
            if flipped.blocks == 1 and not flipped.protection_absent:
                # Now a one-block frame, whose CRC covers payload bits: not verifiable.
                scan_or_error(ADTS, stream)
                continue
            # Caught by the CRC, or by the structure: layer, positions, or a protection
            # bit that makes this frame differ from the others (reported at frame 1 when
            # frame 0 is the one changed).
            err = expect_error(stream, *ADTS.data_errors)
            assert i <= err.frame <= i + 1, (i, bit, str(err))
    head, payload = split(data)[1]
    bad_crc = make_header(len(head) + len(payload), blocks=3, protected=True, positions=(10, 20), crc=0)
    err = expect_error(frames[0] + bad_crc + bytes(len(payload)) + frames[2], AdtsStatus.CRC)
    assert "CRC" in str(err) and err.frame == 1 and err.offset == len(frames[0])


def test_channel_configuration_0_is_accepted_and_reported() -> None:
    data = rebuild(stereo(), channel_configuration=0)
    info, _ = check_scan(data)
    assert (info.channel_configuration, info.channels) == (0, 0)
    check_scan(data, expected_channel_configuration=0)


def test_single_frame_and_mpeg2_id() -> None:
    frame = make_header(8) + b"\x00"
    info, index = check_scan(frame)
    assert index.offsets.tolist() == [0, 8] and index.first_samples.tolist() == [0, 1024]
    assert info.frames == 1
    check_scan(rebuild(stereo(), mpeg2=1))


# --------------------------------------------------------------------------------------------------
# Invalid streams, one check at a time
# --------------------------------------------------------------------------------------------------


def with_frame_header(data: bytes, frame: int, edit: Callable[[bytearray], None]) -> bytes:
    """A copy of ``data`` with frame ``frame``'s header bytes edited."""
    frames = [bytearray(h + p) for h, p in split(data)]
    edit(frames[frame])
    return b"".join(bytes(f) for f in frames)


def set_frame_length(length: int) -> Callable[[bytearray], None]:
    """An edit that sets the 13-bit aac_frame_length of a header (bits 30..42)."""

    def edit(f: bytearray) -> None:
        f[3] = (f[3] & 0xFC) | (length >> 11)
        f[4] = (length >> 3) & 0xFF
        f[5] = ((length & 7) << 5) | (f[5] & 0x1F)

    return edit


def set_bits(index: int, keep: int, value: int) -> Callable[[bytearray], None]:
    """An edit that sets header byte ``index`` to ``(byte & keep) | value``."""

    def edit(f: bytearray) -> None:
        f[index] = (f[index] & keep) | value

    return edit


def test_empty_and_not_adts() -> None:
    err = expect_error(b"", AdtsStatus.NO_FRAMES)
    assert err.frame == -1
    expect_error(b"\x00" * 100, AdtsStatus.SYNC)
    expect_error(b"ID3\x04\x00" + stereo(), AdtsStatus.SYNC)
    expect_error(b"\xff", AdtsStatus.TRUNCATED)
    expect_error(b"\xff\xf1\x50", AdtsStatus.TRUNCATED)
    expect_error(b"\xfe", AdtsStatus.SYNC)
    # An MPEG-1 layer III (mp3) frame header: syncword and layer bits 01.
    expect_error(b"\xff\xfb\x90\x64" + bytes(400), AdtsStatus.HEADER)


@pytest.mark.parametrize("frame", [0, 5])
def test_invalid_header_fields(frame: int) -> None:
    data = stereo()
    edits = {
        "layer 1": (set_bits(1, 0xF9, 0x02), AdtsStatus.HEADER),
        "layer 3": (set_bits(1, 0xF9, 0x06), AdtsStatus.HEADER),
        "sampling index 13": (set_bits(2, 0xC3, 13 << 2), AdtsStatus.HEADER),
        "sampling index 15": (set_bits(2, 0xC3, 15 << 2), AdtsStatus.HEADER),
        "profile Main": (set_bits(2, 0x3F, 0x00), AdtsStatus.PROFILE),
        "profile SSR": (set_bits(2, 0x3F, 0x80), AdtsStatus.PROFILE),
        "profile LTP": (set_bits(2, 0x3F, 0xC0), AdtsStatus.PROFILE),
        "frame length 7": (set_frame_length(7), AdtsStatus.HEADER),
        "frame length 0": (set_frame_length(0), AdtsStatus.HEADER),
    }
    offset = scan_adts(data)[1].offsets[frame]
    for name, (edit, code) in edits.items():
        err = expect_error(with_frame_header(data, frame, edit), code)
        assert (err.offset, err.frame) == (offset, frame), name


def test_invalid_block_positions() -> None:
    payload = bytes(300)
    for positions in [(0, 100), (100, 100), (200, 100), (100, 300), (100, 4000)]:
        head = make_header(7 + 6 + 300, blocks=3, protected=True, positions=positions)
        err = expect_error(head + payload, AdtsStatus.HEADER)
        assert "raw_data_block_position" in str(err)
    head = make_header(7 + 6 + 300, blocks=3, protected=True, positions=(1, 299))
    check_scan(head + payload)


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("sampling index", {"sfi": 3}),
        ("channel configuration", {"channel_configuration": 1}),
        ("protection", {"protected": True}),
        ("MPEG version", {"mpeg2": 1}),
    ],
)
def test_fixed_header_changes_between_frames(name: str, changes: dict[str, int]) -> None:
    data = stereo()
    changed = rebuild(data, **changes)
    frames = [h + p for h, p in split(data)]
    other = [h + p for h, p in split(changed)]
    spliced = b"".join(frames[:4] + other[4:6] + frames[6:])
    err = expect_error(spliced, AdtsStatus.MISMATCH)
    assert err.frame == 4 and err.offset == sum(len(f) for f in frames[:4]), name
    assert "differs from frame 0" in str(err)


def test_frames_of_another_rate_or_layout() -> None:
    a = [h + p for h, p in split(stereo())]
    for other in (mono_8k(), encode(48000, "stereo", 5000)):
        b = [h + p for h, p in split(other)]
        expect_error(b"".join(a[:3] + b[:2] + a[3:]), AdtsStatus.MISMATCH)


def test_truncation_trailing_bytes_and_wrong_lengths() -> None:
    data = stereo()
    # Truncated last frame, inside its header and inside its raw data; trailing bytes after it.
    check_cut_and_trailing_bytes(ADTS, data, into_last=(1, 6, 8), sync=b"\xff\xf1")
    offsets = scan_adts(data)[1].offsets.tolist()
    err = expect_error(data + b"junk", AdtsStatus.SYNC)
    assert "trailing bytes" in str(err)
    # A frame length one byte too long or too short breaks the chain.
    for delta in (1, -1):
        frame_3 = offsets[4] - offsets[3]
        err = expect_error(with_frame_header(data, 3, set_frame_length(frame_3 + delta)), *ADTS.data_errors)
        assert (err.frame, err.offset) == (4, offsets[4] + delta)


# --------------------------------------------------------------------------------------------------
# Fuzzing particular to ADTS (seeded; the shared fuzz tests are in scanner_checks.py)
# --------------------------------------------------------------------------------------------------


def test_fuzz_multi_block_mutants() -> None:
    check_random_flips(ADTS, multi_block_stream([1, 2, 3, 4] * 5, protected=True, seed=2))
