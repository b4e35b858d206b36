"""Tests of the C FLAC frame scanner (``csrc/flac_scan.c``) and ``wildzarr.scan.flac``.

Frame offsets are checked against an independent pure-Python reference walker
(written here from RFC 9639, sharing no code with the C) and by decoding every
frame on its own with PyAV.

The checks every scanner must pass (status codes, input types, threads, and the
fuzzing shared with the ADTS and MP3 scanners: random bytes, bit flips, byte
overwrites, truncations, trailing garbage, splices) are in ``scanner_checks.py``
and run here on :data:`FLAC` through :class:`TestScannerChecks`. This module has
what is particular to FLAC: STREAMINFO and metadata blocks, frame header fields,
frame and sample numbers, and FLAC's own fuzz tests (flips in the metadata,
random tails after a valid prefix, reordered frames within a stream).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import tracemalloc
from collections.abc import Callable
from functools import cache
from pathlib import Path

import av
import numpy as np
import pyflac
import pytest
import scanner_checks
import soundfile as sf
from scanner_checks import ScannerCase, ScannerChecks, bitwise_crc, check_arrays, flip_bits, scan_or_error

from wildzarr._core import ffi, lib
from wildzarr.errors import StreamError
from wildzarr.index import FrameIndex
from wildzarr.scan.flac import (
    MIN_FRAME_BYTES,
    FlacStatus,
    StreamInfo,
    parse_streaminfo,
    read_streaminfo,
    scan_flac,
)

CORPUS_FLAC = Path("/work/shared/audio/bird_turtledove_XC564654_16k.flac")


# --------------------------------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------------------------------


def signal(n: int, channels: int, bits: int = 16, seed: int = 0) -> np.ndarray:
    """Sine plus noise, shape (n, channels), int16 for 16 bits else int32 within ``bits``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    amp = 2.0 ** (bits - 3)
    tone = amp * np.sin(2 * np.pi * t * (0.01 + 0.003 * np.arange(channels)))
    x = tone + rng.normal(0, amp / 50, (n, channels))
    return x.astype(np.int16 if bits == 16 else np.int32)


def sf_encode(x: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    """FLAC bytes from soundfile (libsndfile: block size 4096).

    For PCM_24, ``x`` holds 24-bit values; soundfile takes int32 as full scale, so shift them up.
    """
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.int32) << 8 if subtype == "PCM_24" else x, rate, format="FLAC", subtype=subtype)
    return buf.getvalue()


def pyflac_encode(x: np.ndarray, rate: int, blocksize: int = 0, subset: bool = True) -> bytes:
    """FLAC bytes from libFLAC through pyflac (seek/tell given so STREAMINFO is complete)."""
    out = io.BytesIO()
    enc = pyflac.StreamEncoder(
        rate,
        lambda data, _n, _s, _f: out.write(data),
        seek_callback=out.seek,
        tell_callback=out.tell,
        blocksize=blocksize,
        streamable_subset=subset,
    )
    enc.process(x)
    enc.finish()
    return out.getvalue()


# --------------------------------------------------------------------------------------------------
# Independent reference: CRCs and a slow frame walker (RFC 9639 sections 8, 9)
# --------------------------------------------------------------------------------------------------


CRC16_TABLE = [bitwise_crc(bytes([b]), 0x8005, 16) for b in range(256)]


def ref_crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ CRC16_TABLE[(crc >> 8) ^ byte]
    return crc


def ref_crc8(data: bytes) -> int:
    return bitwise_crc(data, 0x07, 8)


def code_number(n: int) -> bytes:
    """UTF-8-like coded frame/sample number (RFC 9639 section 9.1.5)."""
    if n < 0x80:
        return bytes([n])
    for k in range(2, 8):
        if n < 1 << (6 * (k - 1) + 7 - k):
            first = ((0xFF << (8 - k)) & 0xFF) | (n >> (6 * (k - 1)))
            return bytes([first] + [0x80 | ((n >> (6 * i)) & 0x3F) for i in reversed(range(k - 1))])
    raise ValueError(n)


def ref_header(buf: bytes, pos: int) -> tuple[int, int, int, int, int] | None:
    """(header length, block size, variable flag, coded number, coded-number length) or None."""
    if len(buf) - pos < 6 or buf[pos] != 0xFF or buf[pos + 1] >> 1 != 0x7C:
        return None
    bs_code, sr_code = buf[pos + 2] >> 4, buf[pos + 2] & 15
    if (
        bs_code == 0
        or sr_code == 15
        or buf[pos + 3] >> 4 > 10
        or (buf[pos + 3] >> 1) & 7 == 3
        or buf[pos + 3] & 1
    ):
        return None
    first = buf[pos + 4]
    k = 1 if first < 0x80 else 8 - (~first & 0xFF).bit_length()
    if k < 1 or k > 7 or (first >= 0x80 and k == 1) or first == 0xFF:
        return None
    number = first & (0x7F >> k) if k > 1 else first
    i = pos + 5
    for _ in range(k - 1):
        if i >= len(buf) or buf[i] >> 6 != 2:
            return None
        number = number << 6 | (buf[i] & 0x3F)
        i += 1
    if bs_code in (6, 7):
        size = bs_code - 5
        blocksize = int.from_bytes(buf[i : i + size], "big") + 1
        i += size
    else:
        blocksize = {1: 192}.get(bs_code) or (576 << (bs_code - 2) if bs_code <= 5 else 256 << (bs_code - 8))
    i += {12: 1, 13: 2, 14: 2}.get(sr_code, 0)
    if i >= len(buf) or ref_crc8(buf[pos:i]) != buf[i]:
        return None
    return i + 1 - pos, blocksize, buf[pos + 1] & 1, number, k


def ref_walk(buf: bytes) -> tuple[int, list[int], list[int]]:
    """Walk a valid stream: (first frame offset, offsets, first samples). Asserts on invalid input."""
    assert buf[:4] == b"fLaC"
    pos, last = 4, False
    while not last:
        last, length = bool(buf[pos] & 0x80), int.from_bytes(buf[pos + 1 : pos + 4], "big")
        pos += 4 + length
    total = int.from_bytes(buf[8 + 13 : 8 + 18], "big") & ((1 << 36) - 1)
    first_frame, offsets, firsts, fixed = pos, [], [], None
    while True:
        h = ref_header(buf, pos)
        assert h is not None, pos
        fixed = h[1] if fixed is None else fixed
        first = h[3] if h[2] else h[3] * fixed
        nxt = first + h[1]
        offsets.append(pos)
        firsts.append(first)
        q = pos + h[0]
        while True:
            q = buf.find(b"\xff", q)
            if q < 0:
                assert ref_crc16(buf[pos:]) == 0 and nxt == total
                return first_frame, offsets, firsts
            c = ref_header(buf, q)
            if c is not None and (c[3] if c[2] else c[3] * fixed) == nxt and ref_crc16(buf[pos:q]) == 0:
                pos = q
                break
            q += 1


def av_decode(data: bytes, info: StreamInfo, index: FrameIndex) -> np.ndarray:
    """Decode every frame on its own with PyAV; shape (total_samples, channels), int32."""
    ctx = av.CodecContext.create("flac", "r")
    ctx.extradata = info.raw
    blocks = []
    block_sizes = np.diff(index.first_samples)
    offsets = index.offsets.tolist()
    for i, (start, end) in enumerate(itertools.pairwise(offsets)):
        parts = []
        for frame in ctx.decode(av.Packet(data[start:end])):
            arr = frame.to_ndarray()
            arr = arr.T if frame.format.is_planar else arr.reshape(-1, info.channels)
            parts.append(arr.astype(np.int64))
        block = np.concatenate(parts)
        assert block.shape[0] == block_sizes[i], f"frame {i}"
        blocks.append(block)
    out = np.concatenate(blocks)
    if info.bits_per_sample == 24:
        out >>= 8  # FFmpeg returns 24-bit audio as s32 shifted left by 8
    return out.astype(np.int32)


def check_index(data: bytes, info: StreamInfo, index: FrameIndex) -> None:
    """The invariants of every successful scan, checked against the reference walker."""
    first_frame, offsets, firsts = ref_walk(data)
    check_arrays(index, [*offsets, len(data)], [*firsts, info.total_samples])
    assert read_streaminfo(data) == (info, first_frame)
    assert parse_streaminfo(info.raw) == info


def check_scan(data: bytes, expected: np.ndarray | None = None) -> tuple[StreamInfo, FrameIndex]:
    """Scan data and check it against the reference walker (and a PyAV decode of ``expected``)."""
    info, index = scan_flac(data)
    check_index(data, info, index)
    if expected is not None:
        np.testing.assert_array_equal(av_decode(data, info, index), expected.astype(np.int32))
    return info, index


def expect_error(data: bytes | bytearray, *codes: FlacStatus) -> StreamError:
    """The StreamError scanning ``data`` must raise (see ``scanner_checks.expect_error``)."""
    return scanner_checks.expect_error(FLAC, data, *codes)


# --------------------------------------------------------------------------------------------------
# Stream surgery: split, renumber, rebuild
# --------------------------------------------------------------------------------------------------


def frames_of(data: bytes) -> tuple[bytes, list[bytes]]:
    """(metadata bytes, list of frame bytes) of a valid stream."""
    first_frame, offsets, _ = ref_walk(data)
    ends = [*offsets[1:], len(data)]
    return data[:first_frame], [data[a:b] for a, b in zip(offsets, ends, strict=True)]


def renumber(frame: bytes, number: int, variable: bool) -> bytes:
    """Rewrite a frame's strategy bit and coded number; recompute CRC-8 and CRC-16."""
    h = ref_header(frame, 0)
    assert h is not None
    hlen, _, _, _, k = h
    head = bytearray(frame[:4])
    head[1] = 0xF8 | int(variable)
    head += code_number(number) + frame[4 + k : hlen - 1]
    head.append(ref_crc8(bytes(head)))
    body = bytes(head) + frame[hlen:-2]
    return body + ref_crc16(body).to_bytes(2, "big")


def streaminfo_bytes(
    min_bs: int, max_bs: int, rate: int, channels: int, bits: int, total: int, md5: bytes = bytes(16)
) -> bytes:
    """The 34-byte STREAMINFO body (RFC 9639 section 8.2), frame sizes unknown (0)."""
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | total
    return min_bs.to_bytes(2, "big") + max_bs.to_bytes(2, "big") + bytes(6) + packed.to_bytes(8, "big") + md5


def block(type_: int, body: bytes, last: bool = False) -> bytes:
    """A metadata block (RFC 9639 section 8.1)."""
    return bytes([type_ | (0x80 if last else 0)]) + len(body).to_bytes(3, "big") + body


def with_streaminfo(data: bytes, **changes: int) -> bytes:
    """Copy of a stream with STREAMINFO fields changed (min_bs, max_bs, rate, channels, bits, total)."""
    info = read_streaminfo(data)[0]
    fields = {
        "min_bs": info.min_blocksize,
        "max_bs": info.max_blocksize,
        "rate": info.samplerate,
        "channels": info.channels,
        "bits": info.bits_per_sample,
        "total": info.total_samples,
    } | changes
    body = streaminfo_bytes(
        fields["min_bs"],
        fields["max_bs"],
        fields["rate"],
        fields["channels"],
        fields["bits"],
        fields["total"],
    )
    return data[:8] + body + data[42:]


def variable_stream(
    lengths: list[int], channels: int = 2, rate: int = 44100, seed: int = 0
) -> tuple[bytes, np.ndarray, list[int]]:
    """A variable-block-size stream (sample numbers in headers) made of one-frame libFLAC streams.

    Returns the stream, its samples (n, channels) and the frame offsets.
    """
    x = signal(sum(lengths), channels, seed=seed)
    frames, offsets, start = [], [], 0
    head = b"fLaC" + block(0, b"\0" * 34) + block(1, bytes(10), last=True)  # STREAMINFO + PADDING
    pos = len(head)
    for n in lengths:
        single = pyflac_encode(x[start : start + n], rate, blocksize=n, subset=False)
        _, (frame,) = frames_of(single)
        frame = renumber(frame, start, variable=True)
        frames.append(frame)
        offsets.append(pos)
        pos += len(frame)
        start += n
    md5 = hashlib.md5(x.astype("<i2").tobytes()).digest()
    si = streaminfo_bytes(min(lengths[:-1] or lengths), max(lengths), rate, channels, 16, len(x), md5)
    data = b"fLaC" + block(0, si) + block(1, bytes(10), last=True) + b"".join(frames)
    return data, x, offsets


@cache
def small_fixed() -> bytes:
    """Stereo 16-bit, 44.1 kHz, 30000 samples in 8 frames of 4096 (soundfile)."""
    return sf_encode(signal(30000, 2), 44100)


@cache
def many_frames() -> bytes:
    """Mono 16-bit, block size 192: 100 frames, so mutations often hit headers."""
    return pyflac_encode(signal(192 * 99 + 50, 1, seed=3), 8000, blocksize=192)


@cache
def small_variable() -> bytes:
    """Stereo 16-bit, 44.1 kHz, 40 frames of 16 to 1499 samples (variable block size)."""
    rng = np.random.default_rng(7)
    return variable_stream(rng.integers(16, 1500, 40).tolist())[0]


# --------------------------------------------------------------------------------------------------
# The checks every scanner must pass (scanner_checks.py), on FLAC
# --------------------------------------------------------------------------------------------------


FLAC = ScannerCase(
    scan=scan_flac,
    status=FlacStatus,
    streams=(small_fixed, small_variable, many_frames),
    check=lambda data, result: check_index(data, *result),
    checked=lambda data: set(range(read_streaminfo(data)[1], len(data))),  # CRC-16 over every frame byte
    lead=lambda rng: b"fLaC"[: int(rng.integers(1, 5))],
    min_stream_bytes=4 + 4 + 34 + MIN_FRAME_BYTES,  # "fLaC", STREAMINFO, a frame
    stream_errors=("NOT_FLAC", "TRUNCATED", "STREAMINFO", "METADATA", "NO_FRAMES"),
    # A FLAC frame gives no length: a cut one ends short of a header (TRUNCATED) or fails its CRC-16.
    cut_errors=("NOT_FLAC", "TRUNCATED", "CRC16"),
    checksummed=True,
    declares_total=True,
)


class TestScannerChecks(ScannerChecks):
    """The checks every scanner must pass (``scanner_checks.py``), on FLAC."""

    case = FLAC


# --------------------------------------------------------------------------------------------------
# C core basics
# --------------------------------------------------------------------------------------------------


def test_crc_check_values_and_random_data() -> None:
    assert lib.wz_crc16(0, b"123456789", 9) == 0xFEE8  # CRC-16/UMTS (BUYPASS) check value
    assert lib.wz_crc8(0, b"123456789", 9) == 0xF4  # CRC-8/SMBUS check value
    rng = np.random.default_rng(0)
    for n in [*range(40), 255, 256, 1000, 4099]:
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert lib.wz_crc16(0, data, n) == bitwise_crc(data, 0x8005, 16)
        assert lib.wz_crc8(0, data, n) == bitwise_crc(data, 0x07, 8)
        cut = n // 3  # incremental use continues the same CRC
        assert lib.wz_crc16(lib.wz_crc16(0, data, cut), data[cut:], n - cut) == lib.wz_crc16(0, data, n)


def test_c_api_resumes_after_capacity_and_rejects_bad_calls() -> None:
    data = many_frames()
    buf = ffi.from_buffer("uint8_t[]", data)
    st = ffi.new("wz_flac_scan *")
    assert lib.wz_flac_scan_frames(st, buf, len(data), ffi.NULL, ffi.NULL, 0) == FlacStatus.ARGUMENT
    assert lib.wz_flac_scan_init(st, buf, len(data)) == FlacStatus.OK
    assert lib.wz_flac_scan_frames(st, buf, len(data) - 1, ffi.NULL, ffi.NULL, 0) == FlacStatus.ARGUMENT
    offsets = np.zeros(200, np.int64)
    firsts = np.zeros(200, np.int64)
    po, pf = ffi.from_buffer("int64_t[]", offsets), ffi.from_buffer("int64_t[]", firsts)
    calls = 0
    for capacity in range(1, 201):  # grow by one entry at a time
        calls += 1
        status = lib.wz_flac_scan_frames(st, buf, len(data), po, pf, capacity)
        if status == FlacStatus.OK:
            break
        assert status == FlacStatus.CAPACITY and st.n_frames == capacity
    assert calls == st.n_frames == 100
    _, index = scan_flac(data)
    assert offsets[:100].tolist() == index.offsets[:-1].tolist()
    assert firsts[:100].tolist() == index.first_samples[:-1].tolist()
    assert (
        lib.wz_flac_scan_frames(st, buf, len(data), po, pf, 200) == FlacStatus.OK
    )  # finished stays finished


def test_parse_frame_header_reports_fields() -> None:
    data = sf_encode(signal(5000, 3, bits=24), 96000, "PCM_24")
    first = read_streaminfo(data)[1]
    out = ffi.new("wz_flac_frame_header *")
    assert lib.wz_flac_parse_frame_header(data, len(data), first, ffi.NULL, out) == FlacStatus.OK
    assert (out.blocksize, out.samplerate, out.channels, out.bits_per_sample) == (4096, 96000, 3, 24)
    assert (out.variable, out.number) == (0, 0)
    assert lib.wz_flac_parse_frame_header(data, len(data), first + 1, ffi.NULL, out) == FlacStatus.SYNC
    assert lib.wz_flac_parse_frame_header(data, first + 3, first, ffi.NULL, out) == FlacStatus.TRUNCATED


# --------------------------------------------------------------------------------------------------
# Valid streams
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channels", "rate", "subtype"),
    [
        (1, 8000, "PCM_16"),
        (2, 44100, "PCM_16"),
        (2, 44100, "PCM_24"),
        (3, 22050, "PCM_16"),
        (5, 192000, "PCM_16"),
        (6, 48000, "PCM_24"),
        (8, 96000, "PCM_16"),
        (1, 500000, "PCM_16"),
        (1, 312500, "PCM_24"),
        (2, 655350, "PCM_16"),
    ],
)
def test_soundfile_streams(channels: int, rate: int, subtype: str) -> None:
    bits = 24 if subtype == "PCM_24" else 16
    x = signal(20000, channels, bits=bits)
    data = sf_encode(x, rate, subtype)
    info, index = check_scan(data, x)
    assert (info.samplerate, info.channels, info.bits_per_sample) == (rate, channels, bits)
    assert info.total_samples == 20000
    assert index.first_samples.tolist() == [*range(0, 20000, 4096), 20000]
    assert len(info.raw) == 34 and len(info.md5) == 32


@pytest.mark.parametrize(
    ("rate", "channels", "dtype", "blocksize"),
    [
        (1_000_000, 1, np.int16, 0),
        (1_048_575, 2, np.int16, 1152),
        (48000, 2, np.int32, 0),
        (44100, 1, np.int16, 37),
    ],
)
def test_pyflac_streams_high_rates_32_bit_odd_blocksize(
    rate: int, channels: int, dtype: type, blocksize: int
) -> None:
    x: np.ndarray = signal(9000, channels, bits=32 if dtype is np.int32 else 16).astype(dtype)
    data = pyflac_encode(x, rate, blocksize=blocksize, subset=False)
    info, _ = check_scan(data, x)
    assert info.samplerate == rate
    assert info.bits_per_sample == (32 if dtype is np.int32 else 16)


@pytest.mark.parametrize("n", [1, 15, 16, 100, 4095, 4096, 4097, 3 * 4096, 3 * 4096 + 1])
def test_short_streams_and_frame_multiples(n: int) -> None:
    x = signal(n, 2)
    _, index = check_scan(sf_encode(x, 44100), x)
    assert index.n_frames == -(-n // 4096)
    assert np.diff(index.first_samples).tolist() == [4096] * (n // 4096) + ([n % 4096] if n % 4096 else [])


@pytest.mark.skipif(not CORPUS_FLAC.exists(), reason="corpus recordings not available")
def test_corpus_turtledove() -> None:
    data = CORPUS_FLAC.read_bytes()
    expected, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    info, index = check_scan(data, expected)
    assert info.samplerate == rate == 16000
    assert info.total_samples == expected.shape[0]
    assert index.n_frames > 50


def test_variable_block_size_stream() -> None:
    rng = np.random.default_rng(11)
    lengths = [*rng.integers(16, 3000, 60).tolist(), 65535, 17, 4608]
    data, x, offsets = variable_stream(lengths, channels=2)
    info, index = check_scan(data, x)  # also decodes every frame with PyAV
    assert index.offsets.tolist() == [*offsets, len(data)]
    assert np.diff(index.first_samples).tolist() == lengths
    assert info.md5 == hashlib.md5(x.astype("<i2").tobytes()).hexdigest()
    # Small frames against a large maximum block size force the output arrays to grow.
    assert index.n_frames > -(-sum(lengths) // 65535) + 16


@pytest.mark.parametrize("number", [1, 2**31, 2**36 - 1])
def test_first_frame_must_start_at_sample_0_and_long_numbers_parse(number: int) -> None:
    assert len(code_number(2**31 - 1)) == 6 and len(code_number(2**31)) == 7
    meta, frames = frames_of(small_variable())
    # 7-byte coded sample numbers (36 bits, RFC 9639 section 9.1.5) are read exactly.
    bad = meta + renumber(frames[0], number, True) + b"".join(frames[1:])
    err = expect_error(bad, FlacStatus.SEQUENCE)
    assert f"starts at sample {number}, expected 0" in str(err)
    assert err.offset == len(meta)


def test_streaminfo_dataclass() -> None:
    info, first = read_streaminfo(small_fixed())
    assert isinstance(info, StreamInfo)
    assert first == 4 + 38 + 4 + 40  # STREAMINFO + libsndfile's VORBIS_COMMENT
    assert info.min_blocksize == info.max_blocksize == 4096
    assert info.raw == small_fixed()[8:42]
    assert info.md5 == small_fixed()[26:42].hex()


# --------------------------------------------------------------------------------------------------
# Invalid streams, one check at a time
# --------------------------------------------------------------------------------------------------


def test_metadata_errors() -> None:
    data = small_fixed()
    si = data[8:42]
    frames = data[read_streaminfo(data)[1] :]
    expect_error(b"", FlacStatus.NOT_FLAC)
    expect_error(b"fLa", FlacStatus.NOT_FLAC)
    expect_error(b"RIFF" + data[4:], FlacStatus.NOT_FLAC)
    expect_error(b"fLaC", FlacStatus.TRUNCATED)
    expect_error(data[:30], FlacStatus.TRUNCATED)
    expect_error(b"fLaC" + block(0, si, last=True), FlacStatus.NO_FRAMES)
    expect_error(b"fLaC" + block(4, bytes(8)) + block(0, si, last=True) + frames, FlacStatus.STREAMINFO)
    expect_error(b"fLaC" + block(0, si + b"\0", last=True) + frames, FlacStatus.STREAMINFO)
    expect_error(b"fLaC" + block(0, si) + block(127, bytes(4), last=True) + frames, FlacStatus.METADATA)
    expect_error(b"fLaC" + block(0, si) + block(0, si, last=True) + frames, FlacStatus.METADATA)
    expect_error(b"fLaC" + block(0, si) + b"\x81\xff\xff\xff" + frames, FlacStatus.TRUNCATED)
    # Reserved block types (7..126) are skipped, as decoders do.
    _, index = scan_flac(
        b"fLaC" + block(0, si) + block(100, bytes(5)) + block(1, bytes(3), last=True) + frames
    )
    assert index.n_frames == 8


@pytest.mark.parametrize(
    "changes",
    [{"total": 0}, {"rate": 0}, {"min_bs": 15, "max_bs": 15}, {"min_bs": 4096, "max_bs": 4000}, {"bits": 3}],
)
def test_invalid_streaminfo_fields(changes: dict[str, int]) -> None:
    data = with_streaminfo(small_fixed(), **changes)
    err = expect_error(data, FlacStatus.STREAMINFO)
    assert err.offset == 8 and err.frame == -1  # the body, after "fLaC" and the block header
    # The bare-body parser applies the same C validation and explains it the same way.
    with pytest.raises(StreamError) as info:
        parse_streaminfo(data[8:42])
    assert info.value.code == FlacStatus.STREAMINFO and info.value.offset == 0
    assert str(info.value).split(": ", 1)[1] == str(err).split(": ", 1)[1]


def test_parse_streaminfo_bare_body() -> None:
    data = small_fixed()
    info = parse_streaminfo(data[8:42])
    assert info == read_streaminfo(data)[0]
    assert (info.samplerate, info.channels, info.bits_per_sample, info.total_samples) == (44100, 2, 16, 30000)
    assert parse_streaminfo(bytearray(data[8:42])) == info
    assert parse_streaminfo(np.frombuffer(data[8:42], np.uint8)) == info
    for body in (b"", data[8:41], data[8:43]):
        with pytest.raises(StreamError, match="34 bytes") as err:
            parse_streaminfo(body)
        assert err.value.code == FlacStatus.STREAMINFO
    # C entry points: wrong length and NULL arguments.
    out = ffi.new("wz_flac_streaminfo *")
    assert lib.wz_flac_parse_streaminfo(data[8:42], 33, out) == FlacStatus.STREAMINFO
    assert lib.wz_flac_parse_streaminfo(ffi.NULL, 34, out) == FlacStatus.ARGUMENT
    assert lib.wz_flac_parse_streaminfo(data[8:42], 34, ffi.NULL) == FlacStatus.ARGUMENT
    assert lib.wz_flac_check_streaminfo(ffi.NULL, ffi.NULL, 0) == FlacStatus.ARGUMENT
    assert lib.wz_flac_parse_streaminfo(data[8:42], 34, out) == FlacStatus.OK
    assert lib.wz_flac_check_streaminfo(out, ffi.NULL, 0) == FlacStatus.OK
    with pytest.raises(TypeError):
        parse_streaminfo("x" * 34)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({"rate": 48000}, (FlacStatus.HEADER,)),
        ({"channels": 1}, (FlacStatus.HEADER,)),
        ({"bits": 24}, (FlacStatus.HEADER,)),
        ({"min_bs": 1024, "max_bs": 1024}, (FlacStatus.HEADER,)),
        ({"total": 30001}, (FlacStatus.TOTAL,)),
        ({"total": 29999}, (FlacStatus.TOTAL,)),
        ({"total": 2 * 30000}, (FlacStatus.TOTAL,)),
    ],
)
def test_streaminfo_contradicting_frames(changes: dict[str, int], codes: tuple[FlacStatus, ...]) -> None:
    expect_error(with_streaminfo(small_fixed(), **changes), *codes)


def test_hostile_streaminfo_does_not_allocate_for_its_claims() -> None:
    # 2**36 - 1 samples in blocks of 16 would be 4e9 frames (64 GB of index) if believed.
    data = with_streaminfo(small_fixed(), min_bs=16, max_bs=16, total=2**36 - 1)
    tracemalloc.start()
    try:
        expect_error(data, FlacStatus.HEADER)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * len(data)


def _with_header_bytes(
    data: bytes, frame: int, edit: Callable[[bytearray], None], fix_crc8: bool = True
) -> bytes:
    """Edit the fixed part of a frame header, optionally recomputing CRC-8 and CRC-16."""
    meta, frames = frames_of(data)
    f = bytearray(frames[frame])
    hlen = ref_header(bytes(f), 0)[0]  # type: ignore[index]
    edit(f)
    if fix_crc8:
        f[hlen - 1] = ref_crc8(bytes(f[: hlen - 1]))
        f[-2:] = ref_crc16(bytes(f[:-2])).to_bytes(2, "big")
    frames[frame] = bytes(f)
    return meta + b"".join(frames)


def _set_bits(index: int, keep: int, value: int) -> Callable[[bytearray], None]:
    """An edit that sets header byte ``index`` to ``(byte & keep) | value``."""

    def edit(f: bytearray) -> None:
        f[index] = (f[index] & keep) | value

    return edit


# Structurally invalid header fields (RFC 9639 section 9.1): byte index, bits kept, bits set.
INVALID_HEADER_EDITS = {
    "block size code 0": _set_bits(2, 0x0F, 0x00),
    "sample rate code 0b1111": _set_bits(2, 0xF0, 0x0F),
    "channel assignment 0b1111": _set_bits(3, 0x0F, 0xF0),
    "channel assignment 0b1011": _set_bits(3, 0x0F, 0xB0),
    "sample size 0b011": _set_bits(3, 0xF1, 0x06),
    "reserved bit": _set_bits(3, 0xFE, 0x01),
    "continuation byte as coded number": _set_bits(4, 0x00, 0x80),
}


@pytest.mark.parametrize("name", INVALID_HEADER_EDITS)
@pytest.mark.parametrize("frame", [0, 3])
def test_invalid_frame_header_fields(frame: int, name: str) -> None:
    data = small_fixed()
    edit = INVALID_HEADER_EDITS[name]
    # At frame 0 the error is reported there. At frame 3 the header is no candidate
    # for the end of frame 2: frames 2 and 3 then read as one frame with a valid
    # CRC-16 (CRC(A + B) == 0 when CRC(A) == CRC(B) == 0), followed by frame 4.
    expected = FlacStatus.HEADER if frame == 0 else FlacStatus.SEQUENCE
    expect_error(_with_header_bytes(data, frame, edit), expected)
    # Without recomputed CRCs: CRC-8 at frame 0, CRC-16 of frame 2 + 3 later on.
    expected_raw = (FlacStatus.HEADER,) if frame == 0 else (FlacStatus.CRC16,)
    expect_error(_with_header_bytes(data, frame, edit, fix_crc8=False), *expected_raw)


@pytest.mark.parametrize("frame", [0, 3])
def test_frame_header_contradicting_streaminfo(frame: int) -> None:
    data = small_fixed()
    edits = [
        _set_bits(2, 0xF0, 0x0A),  # sample rate code 0b1010 = 48 kHz, STREAMINFO says 44.1 kHz
        _set_bits(3, 0x0F, 0x00),  # 1 channel, STREAMINFO says 2
        _set_bits(3, 0xF1, 0x0C),  # 24 bits, STREAMINFO says 16
        _set_bits(2, 0x0F, 0xD0),  # block size code 0b1101 = 8192 > maximum 4096
    ]
    for edit in edits:
        expect_error(_with_header_bytes(data, frame, edit), FlacStatus.HEADER)


def test_first_frame_sync_and_crc8() -> None:
    data = small_fixed()
    first = read_streaminfo(data)[1]
    bad = bytearray(data)
    bad[first + 5] ^= 0x01  # the CRC-8 byte (header: sync, 2 code bytes, 1-byte number, CRC-8)
    expect_error(bad, FlacStatus.CRC8)
    bad = bytearray(data)
    bad[first] = 0x00
    expect_error(bad, FlacStatus.SYNC)
    expect_error(data[: first + 4], FlacStatus.TRUNCATED)


def test_blocking_strategy_change() -> None:
    meta, frames = frames_of(small_fixed())
    frames[2] = renumber(frames[2], 2 * 4096, variable=True)
    expect_error(meta + b"".join(frames), FlacStatus.HEADER)


@pytest.mark.parametrize("make", [small_fixed, many_frames, small_variable])
def test_spliced_frames(make: Callable[[], bytes]) -> None:
    meta, frames = frames_of(make())
    n = len(frames)
    cases = {
        "drop first": frames[1:],
        "drop middle": frames[: n // 2] + frames[n // 2 + 1 :],
        "duplicate first": [frames[0], *frames],
        "duplicate middle": frames[: n // 2 + 1] + frames[n // 2 :],
        "duplicate last": [*frames, frames[-1]],
        "swap": [frames[0], frames[2], frames[1], *frames[3:]],
        "reverse": frames[::-1],
    }
    for name, spliced in cases.items():
        err = expect_error(meta + b"".join(spliced), FlacStatus.SEQUENCE)
        assert "sample" in str(err), name
    expect_error(meta + b"".join(frames[:-1]), FlacStatus.TOTAL)  # drop last
    expect_error(meta + b"".join(frames) + b"\x01", FlacStatus.CRC16)  # trailing garbage


# --------------------------------------------------------------------------------------------------
# Fuzzing particular to FLAC (seeded; the shared fuzz tests are in scanner_checks.py)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [small_fixed, small_variable])
def test_fuzz_valid_prefix_random_tail(make: Callable[[], bytes]) -> None:
    data = make()
    first = read_streaminfo(data)[1]
    rng = np.random.default_rng(99)
    for _ in range(500):
        keep = first + int(rng.integers(0, 64)) if rng.random() < 0.5 else int(rng.integers(first, len(data)))
        tail = rng.integers(0, 256, int(rng.integers(0, 5000)), dtype=np.uint8).tobytes()
        if rng.random() < 0.3:  # random bytes dotted with sync codes
            tail = tail.replace(b"\x00", b"\xff")
        assert scan_or_error(FLAC, data[:keep] + tail) is None


@pytest.mark.parametrize("make", [small_fixed, many_frames, small_variable])
def test_fuzz_metadata_flips_error_or_same_scan(make: Callable[[], bytes]) -> None:
    data = make()
    _, ref = scan_flac(data)
    first = int(ref.offsets[0])
    rng = np.random.default_rng(8)
    clean = 0
    for _ in range(1000):
        bad = flip_bits(data, rng, int(rng.integers(1, 3)), stop=first)
        result = scan_or_error(FLAC, bad, check=False)  # the reference walker is slow; compare with ref
        if result is None:
            continue
        clean += 1  # e.g. a flip in the MD5, a frame size or padding: frames are unchanged
        assert result[1].offsets.tolist() == ref.offsets.tolist()
        assert result[1].first_samples.tolist() == ref.first_samples.tolist()
    assert 0 < clean < 1000


def test_fuzz_random_splices() -> None:
    rng = np.random.default_rng(9)
    for make in (small_fixed, many_frames, small_variable):
        meta, frames = frames_of(make())
        for _ in range(200):
            order = list(range(len(frames)))
            kind = int(rng.integers(0, 3))
            i = int(rng.integers(0, len(order)))
            if kind == 0:
                del order[i]
            elif kind == 1:
                order.insert(i, int(rng.integers(0, len(frames))))
            else:
                j = int(rng.integers(0, len(order)))
                if order[i] == order[j]:
                    continue
                order[i], order[j] = order[j], order[i]
            expect_error(meta + b"".join(frames[k] for k in order), FlacStatus.SEQUENCE, FlacStatus.TOTAL)
