"""The npy codec: exact round trips of every dtype, segment framing, corruption detection, fuzzing."""

from __future__ import annotations

import io
import itertools
import json
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from wildzarr.audio import SAMPLE_DTYPES, AudioFormat
from wildzarr.codecs import Encoded, NpyCodec, get_codec
from wildzarr.codecs.npy import (
    DEFAULT_COMPRESSOR,
    ERR_CRC,
    ERR_EMPTY,
    ERR_HEADER,
    ERR_MAGIC,
    ERR_PAYLOAD,
    ERR_SAMPLES,
    ERR_TRAILING,
    ERR_TRUNCATED,
    HEADER,
    MAGIC,
    MAX_SEGMENT_BYTES,
)
from wildzarr.errors import ArgumentError, SourceError, StreamError, UnsupportedSourceError
from wildzarr.index import FrameIndex

COMPRESSORS = {
    "blosc-default": DEFAULT_COMPRESSOR,
    "blosc-lz4-noshuffle": {"id": "blosc", "cname": "lz4", "clevel": 9, "shuffle": 0},
    "blosc-zstd-shuffle": {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1},
    "zstd": {"id": "zstd", "level": 3},
    "lz4": {"id": "lz4"},
}


def fmt_of(dtype: str, channels: int, samplerate: int = 48_000) -> AudioFormat:
    return AudioFormat(samplerate, channels, dtype, np.dtype(dtype).itemsize * 8)


def make_samples(n: int, channels: int, dtype: str, seed: int = 0) -> np.ndarray:
    """Half a smooth signal (delta helps), half random bytes (every bit pattern: NaNs, infinities ...).

    The smooth half is a wrapping ramp for integers, a slow sine for floats.
    """
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    t = np.arange(n)[:, None]
    if dt.kind == "f":
        values = np.sin(2 * np.pi * (0.002 + 0.001 * np.arange(channels)) * t).astype(dt)
    else:
        values = (t * (3 + np.arange(channels)) + np.arange(channels) * 1000).astype(dt)
    noise = np.frombuffer(rng.bytes(n * channels * dt.itemsize), dtype=dt).reshape(n, channels)
    values[n // 2 :] = noise[n // 2 :]
    return np.ascontiguousarray(values)


def irregular_blocks(samples: np.ndarray, seed: int = 0) -> Iterator[np.ndarray]:
    """``samples`` in blocks of irregular sizes, empty ones included."""
    rng = np.random.default_rng(seed)
    start = 0
    while start < len(samples):
        size = int(rng.choice([0, 1, 3, 31, 64, 65, 200, 1000]))
        yield samples[start : start + size]
        start += size


def encode(
    codec: NpyCodec, samples: np.ndarray, fmt: AudioFormat, blocks: bool = True
) -> tuple[bytes, Encoded]:
    out = io.BytesIO()
    out.write(b"ignored prefix")
    start = out.tell()
    encoded = codec.encode(irregular_blocks(samples) if blocks else [samples], out, fmt)
    assert out.tell() == len(out.getvalue()), "encode must leave out at the end of the stream"
    return out.getvalue()[start:], encoded


def frames_of(stream: bytes, index: FrameIndex) -> list[memoryview]:
    view = memoryview(stream)
    return [view[a:b] for a, b in itertools.pairwise(index.offsets.tolist())]


def round_trip(codec: NpyCodec, samples: np.ndarray, fmt: AudioFormat) -> tuple[bytes, FrameIndex]:
    stream, encoded = encode(codec, samples, fmt)
    assert encoded == Encoded(samples=len(samples))
    scanned = codec.scan(stream, fmt, encoded)
    index = scanned.index
    index.check()
    assert json.loads(json.dumps(scanned.decoder_config)) == scanned.decoder_config
    assert index.offsets.dtype == np.int64 and index.first_samples.dtype == np.int64
    assert index.offsets[0] == 0 and index.end == len(stream) and index.decoded == len(samples)
    n_segments = -(-len(samples) // codec.segment_samples)
    assert index.n_frames == n_segments
    np.testing.assert_array_equal(index.first_samples[:-1], np.arange(n_segments) * codec.segment_samples)
    stored = get_codec(json.loads(json.dumps(codec.get_config())))
    decoded = stored.decoder(fmt, json.loads(json.dumps(scanned.decoder_config))).decode(
        frames_of(stream, index)
    )
    assert decoded.dtype == samples.dtype and decoded.shape == samples.shape
    assert decoded.tobytes() == samples.tobytes()
    return stream, index


def filters_of(stream: bytes, index: FrameIndex) -> set[int]:
    return {stream[offset + 5] for offset in index.offsets[:-1].tolist()}


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("channels", [1, 2, 64, 256])
@pytest.mark.parametrize("dtype", SAMPLE_DTYPES)
def test_round_trip_every_dtype_and_channel_count(dtype: str, channels: int) -> None:
    samples = make_samples(1000 if channels <= 2 else 150, channels, dtype)
    codec = NpyCodec(segment_samples=64)
    stream, index = round_trip(codec, samples, fmt_of(dtype, channels))
    # Smooth segments take the delta filter, random ones do not (Blosc stores segments under 128 bytes,
    # BLOSC_MIN_BUFFERSIZE, uncompressed: both filters then tie and "none" is kept).
    if channels <= 2 and 64 * channels * np.dtype(dtype).itemsize >= 128:
        assert filters_of(stream, index) == {0, 1}


@pytest.mark.parametrize("compressor", COMPRESSORS.values(), ids=COMPRESSORS.keys())
@pytest.mark.parametrize("delta", ["auto", "always", "never"])
@pytest.mark.parametrize("dtype", SAMPLE_DTYPES)
def test_round_trip_every_compressor_and_delta_mode(dtype: str, delta: str, compressor: dict) -> None:
    samples = make_samples(700, 3, dtype, seed=1)
    codec = NpyCodec(segment_samples=128, delta=delta, compressor=compressor)
    stream, index = round_trip(codec, samples, fmt_of(dtype, 3))
    filters = filters_of(stream, index)
    if delta == "auto":  # random segments keep no filter; the integer ramps take delta (float sines may not)
        assert 0 in filters and filters <= {0, 1} and (1 in filters or dtype.startswith("float"))
    else:
        assert filters == {"always": {1}, "never": {0}}[delta]


@pytest.mark.parametrize("delta", ["always", "never", "auto"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_special_floats_byte_for_byte(dtype: str, delta: str) -> None:
    """NaNs with payloads and signs, infinities, -0.0, subnormals and extremes survive every filter exactly.

    Float subtraction would lose them (inf - inf is NaN, 1e308 - -1e308 overflows); the
    delta of their bit patterns as integers does not.
    """
    dt = np.dtype(dtype)
    bits = np.dtype(f"u{dt.itemsize}")
    info = np.finfo(dt)
    exponent = (1 << (info.nexp)) - 1 << info.nmant  # all exponent bits set
    nans = np.array(
        [exponent | 1, exponent | (1 << info.nmant - 1) | 12345, exponent | ((1 << info.nmant) - 1)],
        dtype=bits,
    )
    sign = np.array(1 << (dt.itemsize * 8 - 1), dtype=bits)
    payloads = np.concatenate([nans, nans | sign]).view(dt)
    values = np.array(
        [
            np.inf,
            -np.inf,
            -0.0,
            0.0,
            info.max,
            -info.max,
            info.tiny,
            info.smallest_subnormal,
            -info.smallest_subnormal,
            1e-30,
            -1.5,
            np.nan,
        ],
        dtype=dt,
    )
    column = np.concatenate([payloads, values, payloads[::-1], values[::-1]] * 9)
    samples = np.stack([column, column[::-1]], axis=1)
    codec = NpyCodec(segment_samples=37, delta=delta)
    round_trip(codec, samples, fmt_of(dtype, 2))


@pytest.mark.parametrize(
    "name",
    [
        "bat_Rhinolophus_500k_float32.wav",
        "whale_humpback_sanctsound_4kHz_int32.wav",
        "multich_5ch_192k_speaker_playback.wav",
    ],
)
def test_real_recordings(corpus_dir: Path, name: str) -> None:
    """Real recordings in their native samples (float32, int32, 5-channel int16) round-trip exactly."""
    parts = []
    with av.open(str(corpus_dir / name)) as container:
        for frame in container.decode(container.streams.audio[0]):
            parts.append(frame.to_ndarray().reshape(-1, len(frame.layout.channels)))
            rate = frame.sample_rate
    samples = np.ascontiguousarray(np.concatenate(parts))
    fmt = fmt_of(samples.dtype.name, samples.shape[1], rate)
    stream, _ = round_trip(NpyCodec(), samples, fmt)
    assert len(stream) < samples.nbytes


def test_integer_delta_wraps_around_exactly() -> None:
    for dtype in ("int64", "uint8", "int8", "int16", "int32"):
        info = np.iinfo(dtype)
        column = np.array(
            [info.max, info.min, info.max, 0, info.min, info.min, info.max, -1 if info.min else 1] * 20
        )
        samples = column.astype(dtype)[:, None]
        round_trip(NpyCodec(segment_samples=50, delta="always"), samples, fmt_of(dtype, 1))


@pytest.mark.parametrize("n", [1, 99, 100, 101, 1703], ids=["1", "segment-1", "segment", "segment+1", "many"])
def test_lengths_around_the_segment_size(n: int) -> None:
    codec = NpyCodec(segment_samples=100)
    fmt = fmt_of("int16", 2)
    samples = make_samples(n, 2, "int16")
    stream, index = round_trip(codec, samples, fmt)  # irregular blocks
    assert index.n_frames == -(-n // 100)
    single, encoded = encode(codec, samples, fmt, blocks=False)  # one block
    assert single == stream and encoded == Encoded(samples=n)


def test_segment_of_one_sample_and_tiny_payloads() -> None:
    for compressor in COMPRESSORS.values():
        codec = NpyCodec(segment_samples=1, compressor=compressor)
        round_trip(codec, make_samples(5, 1, "uint8"), fmt_of("uint8", 1))


def test_zstd_content_size_fields() -> None:
    """Zstandard frames state their size in 1, 2 (+256), 4 or 8 bytes: every width decodes."""
    codec = NpyCodec(segment_samples=40_000, delta="never", compressor={"id": "zstd", "level": 1})
    for n in (1, 200, 255, 256, 300, 40_000):
        round_trip(
            codec,
            make_samples(n, 1, "uint8") if n < 300 else make_samples(n, 2, "float64"),
            fmt_of("uint8", 1) if n < 300 else fmt_of("float64", 2),
        )


def test_blocks_any_layout_and_whole_segments() -> None:
    """Strided, Fortran-ordered and segment-sized blocks encode the same as one contiguous block."""
    samples = make_samples(1000, 3, "float32")
    fmt = fmt_of("float32", 3)
    codec = NpyCodec(segment_samples=100)
    reference, _ = encode(codec, samples, fmt, blocks=False)
    wide = np.zeros((1000, 6), dtype=np.float32)
    wide[:, ::2] = samples
    for blocks in (
        [wide[:, ::2]],
        [np.asfortranarray(samples)],
        [samples[:100], samples[100:350], samples[350:]],
    ):
        out = io.BytesIO()
        assert codec.encode(blocks, out, fmt) == Encoded(samples=1000)
        assert out.getvalue() == reference


def test_random_windows_through_the_index() -> None:
    samples = make_samples(20_000, 2, "float32", seed=3)
    fmt = fmt_of("float32", 2)
    codec = NpyCodec(segment_samples=256)
    stream, index = round_trip(codec, samples, fmt)
    decoder = codec.decoder(fmt, {})
    rng = np.random.default_rng(5)
    view = memoryview(stream)
    cases = [(0, 1), (0, len(samples)), (255, 257), (len(samples) - 1, len(samples))]
    cases += [tuple(sorted(rng.choice(len(samples) + 1, 2, replace=False).tolist())) for _ in range(150)]
    cases += [(s, s + 4096) for s in rng.integers(0, len(samples) - 4096, 50).tolist()]
    for start, stop in cases:
        parts = []
        for span in index.plan(start, stop, task_frames=5):
            data = view[span.byte_start : span.byte_stop]
            bounds = (index.offsets[span.lead : span.stop + 1] - span.byte_start).tolist()
            decoded = decoder.decode([data[a:b] for a, b in itertools.pairwise(bounds)])
            parts.append(decoded[span.skip : span.skip + span.count])
        window = np.concatenate(parts)
        assert window.tobytes() == samples[start:stop].tobytes(), (start, stop)


def test_streaming_bounded_memory() -> None:
    """Segments are written while blocks are still being consumed."""
    fmt = fmt_of("int32", 2)
    codec = NpyCodec(segment_samples=1000)
    block = make_samples(700, 2, "int32")
    out = io.BytesIO()
    sizes = []

    def blocks() -> Iterator[np.ndarray]:
        for _ in range(30):
            sizes.append(out.tell())
            yield block

    codec.encode(blocks(), out, fmt)
    assert len(set(sizes)) >= 15
    assert out.tell() > sizes[-1]


def test_threads_decode_in_parallel() -> None:
    samples = make_samples(200_000, 2, "int16", seed=4)
    fmt = fmt_of("int16", 2)
    codec = NpyCodec(segment_samples=4096)
    stream, index = round_trip(codec, samples, fmt)
    frames = frames_of(stream, index)

    def work(seed: int) -> bool:
        decoder = codec.decoder(fmt, {})
        rng = np.random.default_rng(seed)
        for _ in range(40):
            first = int(rng.integers(0, len(frames)))
            stop = min(len(frames), first + int(rng.integers(1, 4)))
            decoded = decoder.decode(frames[first:stop])
            lo, hi = int(index.first_samples[first]), int(index.first_samples[stop])
            if decoded.tobytes() != samples[lo:hi].tobytes():
                return False
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))


# ---------------------------------------------------------------- parameters


def test_config_round_trip_and_defaults() -> None:
    codec = NpyCodec()
    config = codec.get_config()
    assert config == {
        "id": "npy",
        "segment_samples": 16384,
        "delta": "auto",
        "compressor": DEFAULT_COMPRESSOR,
    }
    for other in (codec, NpyCodec(segment_samples=7, delta="never", compressor={"id": "zstd", "level": 9})):
        config = other.get_config()
        restored = json.loads(json.dumps(config))
        assert restored == config
        assert get_codec(restored) == other and hash(get_codec(restored)) == hash(other)
        assert NpyCodec.from_config(restored) == other
        assert get_codec("npy", **{k: v for k, v in config.items() if k != "id"}) == other
    # numcodecs fills in defaults: a partial config is stored complete.
    assert NpyCodec(compressor={"id": "lz4"}).compressor == {"id": "lz4", "acceleration": 1}
    config = codec.get_config()
    config["compressor"]["cname"] = "zstd"  # the codec hands out copies
    assert codec.compressor == DEFAULT_COMPRESSOR
    assert codec.lossy is False and codec.frame_checksums is False and codec.preroll == 0
    assert codec.max_channels is None
    assert "npy" in codec.describe_choice()


@pytest.mark.parametrize(
    "params",
    [
        {"segment_samples": 0},
        {"segment_samples": -5},
        {"segment_samples": True},
        {"segment_samples": 1.5},
        {"segment_samples": "16384"},
        {"segment_samples": MAX_SEGMENT_BYTES + 1},
        {"delta": "sometimes"},
        {"delta": None},
        {"compressor": "blosc"},
        {"compressor": [DEFAULT_COMPRESSOR]},
        {"compressor": {"id": "zlib", "level": 1}},
        {"compressor": {"id": "delta", "dtype": "<i2"}},
        {"compressor": {"cname": "lz4"}},
        {"compressor": {"id": "blosc", "cname": "nope"}},
        {"compressor": {"id": "blosc", "cname": "lz4", "typesize": 2}},
        {"compressor": {"id": "blosc", "cname": "lz4", "bogus": 1}},
        {"compressor": {"id": "zstd", "level": "high"}},
        {"compressor": {"id": "zstd", "level": (1,)}},
        {"compressor": {"id": "zstd", "level": float("nan")}},
    ],
)
def test_invalid_parameters(params: dict) -> None:
    with pytest.raises(ArgumentError):
        NpyCodec(**params)
    with pytest.raises(ArgumentError):
        get_codec("npy", **params)


def test_unknown_parameter() -> None:
    with pytest.raises(ArgumentError):
        get_codec({"id": "npy", "level": 3})


def test_check_returns_the_format_and_refuses_huge_segments() -> None:
    codec = NpyCodec()
    for dtype in SAMPLE_DTYPES:
        fmt = fmt_of(dtype, 3)
        assert codec.check(fmt) is fmt
    with pytest.raises(UnsupportedSourceError, match="segment_samples"):
        NpyCodec(segment_samples=1 << 20).check(fmt_of("float64", 256))
    with pytest.raises(UnsupportedSourceError):
        NpyCodec(segment_samples=1 << 20).encode([], io.BytesIO(), fmt_of("float64", 256))


@pytest.mark.parametrize(
    "block",
    [
        np.zeros((10, 3), dtype=np.int16),
        np.zeros((10,), dtype=np.int32),
        np.zeros((10, 2, 1), dtype=np.int32),
        np.zeros((10, 2), dtype=np.int64),
        np.zeros((10, 2), dtype=">i4"),
        np.zeros((10, 2), dtype=np.float32),
        [[1, 2], [3, 4]],
    ],
)
def test_encode_refuses_wrong_blocks(block: object) -> None:
    with pytest.raises(SourceError):
        NpyCodec().encode([np.zeros((5, 2), dtype=np.int32), block], io.BytesIO(), fmt_of("int32", 2))  # type: ignore[list-item]


# ---------------------------------------------------------------- damaged streams

SEGMENT = 32


@dataclass(frozen=True)
class Small:
    codec: NpyCodec
    fmt: AudioFormat
    samples: np.ndarray
    stream: bytes
    encoded: Encoded
    index: FrameIndex


@pytest.fixture(scope="module")
def small() -> Small:
    """Three full segments and a short one of stereo int16."""
    codec = NpyCodec(segment_samples=SEGMENT)
    fmt = fmt_of("int16", 2)
    samples = make_samples(3 * SEGMENT + 5, 2, "int16", seed=7)
    stream, encoded = encode(codec, samples, fmt)
    return Small(codec, fmt, samples, stream, encoded, codec.scan(stream, fmt, encoded).index)


def segment(
    samples: int,
    payload: bytes,
    *,
    magic: bytes = MAGIC,
    version: int = 1,
    filter_: int = 0,
    reserved: int = 0,
    length: int | None = None,
    crc: int | None = None,
) -> bytes:
    """A segment with chosen header fields; the CRC is correct unless given."""
    length = len(payload) if length is None else length
    head = HEADER.pack(magic, version, filter_, reserved, samples, length, 0)[:16]
    crc = zlib.crc32(payload, zlib.crc32(head)) if crc is None else crc
    return head + struct.pack("<I", crc) + payload


def scan_error(codec: NpyCodec, fmt: AudioFormat, stream: bytes, samples: int) -> StreamError:
    with pytest.raises(StreamError) as info:
        codec.scan(stream, fmt, Encoded(samples=samples))
    return info.value


def test_scan_empty_and_garbage(small: Small) -> None:
    codec, fmt, samples = small.codec, small.fmt, small.samples
    error = scan_error(codec, fmt, b"", 0)
    assert (error.code, error.offset) == (ERR_EMPTY, 0)
    error = scan_error(codec, fmt, b"RIFF" + bytes(100), len(samples))
    assert (error.code, error.offset) == (ERR_MAGIC, 0)
    assert "magic" in str(error)
    error = scan_error(codec, fmt, bytes(10), len(samples))
    assert (error.code, error.offset) == (ERR_TRUNCATED, 0)


def test_scan_truncated_at_every_byte(small: Small) -> None:
    codec, fmt, samples, stream, index = small.codec, small.fmt, small.samples, small.stream, small.index
    boundaries = set(index.offsets.tolist())
    for cut in range(1, len(stream)):
        error = scan_error(codec, fmt, stream[:cut], len(samples))
        if cut in boundaries:  # whole segments: the sample count or the short-segment rule fails
            assert error.code == ERR_SAMPLES and error.offset == cut
        else:
            assert error.code == ERR_TRUNCATED
            assert error.offset == max(b for b in boundaries if b < cut)


def test_scan_overlong(small: Small) -> None:
    codec, fmt, samples, stream, index = small.codec, small.fmt, small.samples, small.stream, small.index
    last = stream[index.offsets[-2] :]
    first = stream[: index.offsets[1]]
    for extra, code in [
        (b"\x00", ERR_TRUNCATED),
        (bytes(HEADER.size), ERR_MAGIC),
        (b"garbage" * 5, ERR_MAGIC),
        (last, ERR_SAMPLES),
        (first, ERR_SAMPLES),
    ]:
        error = scan_error(codec, fmt, stream + extra, len(samples))
        assert error.code == code
        assert error.offset == len(stream)
    # A whole extra segment with a consistent total: the short segment is no longer last.
    error = scan_error(codec, fmt, stream + first, len(samples) + SEGMENT)
    assert (error.code, error.offset) == (ERR_SAMPLES, len(stream))
    assert "only the last segment" in str(error)


def test_scan_wrong_total(small: Small) -> None:
    codec, fmt, samples, stream = small.codec, small.fmt, small.samples, small.stream
    for total in (0, len(samples) - 1, len(samples) + 1):
        error = scan_error(codec, fmt, stream, total)
        assert (error.code, error.offset) == (ERR_SAMPLES, len(stream))


def test_scan_another_format(small: Small) -> None:
    """Segments do not name their dtype or channels, but their payloads' declared sizes give them away."""
    codec, samples, stream = small.codec, small.samples, small.stream
    for other in (fmt_of("int16", 1), fmt_of("int32", 2), fmt_of("uint8", 2), fmt_of("float64", 3)):
        error = scan_error(codec, other, stream, len(samples))
        assert (error.code, error.offset) == (ERR_PAYLOAD, 0)
        assert "bytes decompressed" in str(error)


def test_scan_bad_header_fields(small: Small) -> None:
    codec, fmt, samples, stream, index = small.codec, small.fmt, small.samples, small.stream, small.index
    payload = stream[HEADER.size : index.offsets[1]]
    rest = stream[index.offsets[1] :]
    cases = [
        (segment(SEGMENT, payload, magic=b"WZSH"), ERR_MAGIC),
        (segment(SEGMENT, payload, version=2), ERR_HEADER),
        (segment(SEGMENT, payload, filter_=2), ERR_HEADER),
        (segment(SEGMENT, payload, reserved=1), ERR_HEADER),
        (segment(SEGMENT, b""), ERR_HEADER),  # a zero-length payload
        (segment(0, payload), ERR_SAMPLES),
        (segment(SEGMENT + 1, payload), ERR_SAMPLES),
        (segment(SEGMENT, payload, length=len(payload) + len(rest) + 1), ERR_TRUNCATED),
        (segment(SEGMENT, payload, length=0xFFFFFFFF), ERR_TRUNCATED),
        (segment(SEGMENT, payload, crc=0), ERR_CRC),
    ]
    for head, code in cases:
        error = scan_error(codec, fmt, head + rest, len(samples))
        assert (error.code, error.offset) == (code, 0), (head[:20].hex(), error)
        assert str(error).startswith("npy segment 0 at byte 0: ")


def test_every_single_bit_flip_is_detected(small: Small) -> None:
    """Each flipped bit fails the scan or the decode: never wrong samples."""
    codec, fmt, stream, encoded, index = small.codec, small.fmt, small.stream, small.encoded, small.index
    decoder = codec.decoder(fmt, {})
    original = frames_of(stream, index)
    for position, bit in itertools.product(range(len(stream)), range(8)):
        damaged = bytearray(stream)
        damaged[position] ^= 1 << bit
        with pytest.raises(StreamError):
            codec.scan(bytes(damaged), fmt, encoded)
        # The decoder alone (as the reader runs it, with the index of the intact stream) also refuses.
        frame = int(np.searchsorted(index.offsets, position, side="right")) - 1
        frames = list(original)
        frames[frame] = memoryview(bytes(damaged))[index.offsets[frame] : index.offsets[frame + 1]]
        with pytest.raises(StreamError) as info:
            decoder.decode(frames)
        assert info.value.frame == frame


def test_decoder_errors_name_what_is_wrong(small: Small) -> None:
    codec, fmt, samples, stream, index = small.codec, small.fmt, small.samples, small.stream, small.index
    decoder = codec.decoder(fmt, {})
    frames = [bytes(f) for f in frames_of(stream, index)]
    cases = [
        (frames[1][:10], ERR_TRUNCATED, "shorter than the 20-byte segment header"),
        (frames[1][:-1], ERR_TRUNCATED, "payload"),
        (frames[1] + b"\x00", ERR_TRAILING, "bytes long but its header and payload take"),
        (frames[1] + frames[2], ERR_TRAILING, "bytes long"),
        (b"\x00" * 40, ERR_MAGIC, "magic"),
        (frames[1][:30] + bytes([frames[1][30] ^ 4]) + frames[1][31:], ERR_CRC, "CRC-32"),
    ]
    for bad, code, words in cases:
        with pytest.raises(StreamError) as info:
            decoder.decode([frames[0], bad, frames[2]])
        assert (info.value.code, info.value.frame) == (code, 1)
        assert words in str(info.value)
        assert str(info.value)[0].islower()  # follows a prefix naming the frame
    # A segment with more samples than the codec's segments hold (a stream of another codec config).
    big = NpyCodec(segment_samples=SEGMENT * 2)
    other, _ = encode(big, samples, fmt)
    with pytest.raises(StreamError) as info:
        decoder.decode([other[: HEADER.size + struct.unpack_from("<I", other, 12)[0]]])
    assert (info.value.code, info.value.frame) == (ERR_SAMPLES, 0)


@pytest.mark.parametrize("compressor", COMPRESSORS.values(), ids=COMPRESSORS.keys())
def test_crafted_payloads_with_valid_crc(compressor: dict) -> None:
    """Payloads altered and re-checksummed (only a forger does that) raise StreamError or decode to the
    announced shape: never another exception, a crash or unbounded memory."""
    codec = NpyCodec(segment_samples=64, compressor=compressor)
    fmt = fmt_of("float32", 2)
    samples = make_samples(128, 2, "float32", seed=9)[:64]  # the smooth half: a compressed payload
    stream, _ = encode(codec, samples, fmt)
    payload = stream[HEADER.size :]
    decoder = codec.decoder(fmt, {})
    rng = np.random.default_rng(11)
    outcomes = set()
    for _ in range(1500):
        damaged = bytearray(payload)
        for _ in range(int(rng.integers(1, 4))):
            damaged[int(rng.integers(0, len(damaged)))] = int(rng.integers(0, 256))
        if rng.random() < 0.2:
            damaged = damaged[: int(rng.integers(1, len(damaged) + 1))]
        forged = segment(64, bytes(damaged), filter_=stream[5])
        try:
            decoded = decoder.decode([forged])
        except StreamError as exc:
            assert exc.frame == 0 and exc.code == ERR_PAYLOAD
            outcomes.add("error")
        else:
            assert decoded.shape == (64, 2) and decoded.dtype == np.float32
            outcomes.add("decoded")
    assert "error" in outcomes


def test_fuzz_random_bytes(small: Small) -> None:
    """Random streams and frames (raw bytes, or a valid header start then random bytes) raise StreamError."""
    codec, fmt, stream, index = small.codec, small.fmt, small.stream, small.index
    decoder = codec.decoder(fmt, {})
    rng = np.random.default_rng(12)
    for case in range(4000):
        size = int(rng.integers(0, 200))
        data = rng.bytes(size)
        if case % 2:
            data = MAGIC + bytes([1, int(rng.integers(0, 2)), 0, 0]) + data
        with pytest.raises(StreamError):
            codec.scan(data, fmt, Encoded(samples=int(rng.integers(0, 200))))
        with pytest.raises(StreamError):
            decoder.decode([stream[: index.offsets[1]], data])
