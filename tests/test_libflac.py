"""Tests of the libFLAC span decoder (``csrc/flac_decode.c``, :mod:`wildzarr.codecs.libflac`).

Every decoded sample is compared with an independent decode: FFmpeg's FLAC
decoder through PyAV (:class:`wildzarr.codecs.flac.FlacFrameDecoder`, the
current read path) and, where the stream was made here, the samples encoded.
Streams come from wildzarr's own encoder (libFLAC through pyFLAC) at 4 to 32
bits, 1 to 8 channels and block sizes 192 to 16,384, from libsndfile
(soundfile), from FFmpeg (PyAV), a variable-block-size stream built from
one-frame libFLAC streams, and the corpus recording when present.

Fuzzing (:func:`test_fuzz`): seeded bit flips, byte overwrites, truncations,
deletions, insertions, duplicated and swapped frames, frames spliced in from
streams of other formats, random buffers and random span tables. Every call
must either raise ``ArgumentError``/``StreamError`` or return exactly the
samples of the original frames its spans' bytes are; rows of ``out`` outside
the spans must stay untouched. ``WZ_FUZZ_CASES`` sets the number of cases
(default 4,000), e.g. for a run under AddressSanitizer (``docs/fuzzing.md``).
"""

from __future__ import annotations

import io
import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from codec_checks import make_signal
from test_scanner import streaminfo_bytes, variable_stream

from wildzarr._core import ffi, lib
from wildzarr.audio import AudioFormat, int_dtype_for
from wildzarr.codecs.flac import FlacCodec
from wildzarr.codecs.libflac import SPAN_COLUMNS, LibFlacDecoder, LibFlacStatus, available
from wildzarr.errors import ArgumentError, StreamError
from wildzarr.index import FrameIndex
from wildzarr.scan.flac import StreamInfo, scan_flac

FUZZ_CASES = int(os.environ.get("WZ_FUZZ_CASES", "4000"))


# --------------------------------------------------------------------------------------------------
# Streams and their reference decodes
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """A FLAC stream, its frame index and every sample decoded by FFmpeg (PyAV)."""

    data: bytes
    info: StreamInfo
    index: FrameIndex
    samples: np.ndarray  #: (total_samples, channels), int16 or int32 true values

    @property
    def offsets(self) -> np.ndarray:
        """Byte offset of each frame, then the stream length: int64 (n_frames + 1,)."""
        return self.index.offsets

    @property
    def first_samples(self) -> np.ndarray:
        """First sample of each frame, then the total: int64 (n_frames + 1,)."""
        return self.index.first_samples

    @property
    def frame_samples(self) -> np.ndarray:
        """Samples per channel of each frame: int64 (n_frames,)."""
        return np.diff(self.index.first_samples)

    @property
    def n_frames(self) -> int:
        return len(self.index.offsets) - 1

    def frame(self, k: int) -> bytes:
        return self.data[self.offsets[k] : self.offsets[k + 1]]


def pyav_decode(data: bytes, info: StreamInfo, index: FrameIndex) -> np.ndarray:
    """Every sample of the stream, decoded frame by frame by FFmpeg through PyAV."""
    fmt = AudioFormat(
        info.samplerate, info.channels, int_dtype_for(info.bits_per_sample), info.bits_per_sample
    )
    decoder = FlacCodec().decoder(fmt, {"streaminfo": info.raw.hex()})
    view = memoryview(data)
    return decoder.decode([view[a:b] for a, b in itertools.pairwise(index.offsets.tolist())])


def stream_of(data: bytes, expected: np.ndarray | None = None) -> Stream:
    """Scan ``data``, decode it with PyAV, and check that against ``expected`` if given."""
    info, index = scan_flac(data)
    samples = pyav_decode(data, info, index)
    assert samples.shape == (info.total_samples, info.channels)
    if expected is not None:
        np.testing.assert_array_equal(samples, expected)
    return Stream(data, info, index, samples)


def wildzarr_encode(signal: np.ndarray, samplerate: int, bits: int, blocksize: int) -> bytes:
    """FLAC bytes from wildzarr's encoder (libFLAC through pyFLAC) at exactly ``bits`` bits."""
    codec = FlacCodec(blocksize=blocksize)
    fmt = codec.check(AudioFormat(samplerate, signal.shape[1], signal.dtype.name, bits))
    out = io.BytesIO()
    codec.encode([signal.astype(fmt.dtype)], out, fmt)
    return out.getvalue()


@cache
def made(bits: int, channels: int, blocksize: int, samplerate: int = 48_000, frames: float = 9.4) -> Stream:
    """A stream of wildzarr's encoder, checked against the samples encoded."""
    signal = make_signal(int(blocksize * frames), channels, bits, seed=bits * 10 + channels)
    return stream_of(wildzarr_encode(signal, samplerate, bits, blocksize), signal)


@cache
def soundfile_stream(subtype: str, channels: int) -> Stream:
    """FLAC bytes from libsndfile (soundfile): PCM_S8, PCM_16 or PCM_24."""
    bits = {"PCM_S8": 8, "PCM_16": 16, "PCM_24": 24}[subtype]
    signal = make_signal(30_000, channels, bits, seed=channels)
    buf = io.BytesIO()
    # soundfile takes int32 as full scale: shift 8- and 24-bit values up.
    full_scale = signal.astype(np.int32) << (32 - bits) if bits != 16 else signal
    sf.write(buf, full_scale, 44_100, format="FLAC", subtype=subtype)
    return stream_of(buf.getvalue(), signal)


@cache
def pyav_stream(sample_format: str, channels: int) -> Stream:
    """FLAC bytes from FFmpeg's encoder (PyAV), s16 or s32 input."""
    bits = 16 if sample_format == "s16" else 32
    signal = make_signal(25_000, channels, bits, seed=5)
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=32_000, layout=layout)
        stream.format = sample_format
        for start in range(0, len(signal), 3000):
            block = np.ascontiguousarray(signal[start : start + 3000])
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format=sample_format, layout=layout)
            frame.sample_rate, frame.pts = 32_000, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    data = buf.getvalue()
    info, _ = scan_flac(data)
    expected = signal >> (32 - info.bits_per_sample) if info.bits_per_sample < bits else signal
    return stream_of(data, expected)


@cache
def variable() -> Stream:
    """A variable-block-size stream: 24 frames of 16 to 2999 samples (sample numbers in headers)."""
    lengths = np.random.default_rng(11).integers(16, 3000, 24).tolist()
    data, signal, _ = variable_stream(lengths, channels=2, rate=44_100, seed=4)
    return stream_of(data, signal)


# --------------------------------------------------------------------------------------------------
# Span tables and what they must produce
# --------------------------------------------------------------------------------------------------


def random_spans(
    stream: Stream, rng: np.random.Generator, n_spans: int, rows: int, max_frames: int = 4
) -> np.ndarray:
    """Random spans of 1..max_frames whole frames with random skip, count and out_row (all valid)."""
    n = stream.n_frames
    first = rng.integers(0, n, n_spans)
    stop = np.minimum(first + rng.integers(1, max_frames + 1, n_spans), n)
    total = stream.first_samples[stop] - stream.first_samples[first]
    skip = (rng.random(n_spans) * (total + 1)).astype(np.int64)
    count = np.minimum((rng.random(n_spans) * (total - skip + 1)).astype(np.int64), rows)
    out_row = (rng.random(n_spans) * (rows - count + 1)).astype(np.int64)
    columns = [stream.offsets[first], stream.offsets[stop], first, stop - first, skip, count, out_row]
    return np.stack(columns, axis=1).astype(np.int64)


def expected_after(stream: Stream, spans: np.ndarray, out: np.ndarray) -> np.ndarray:
    """What ``out`` must hold after decoding ``spans`` (later spans overwrite earlier ones)."""
    result = out.copy()
    for _, _, first, _, skip, count, row in spans.tolist():
        start = int(stream.first_samples[first]) + skip
        result[row : row + count] = stream.samples[start : start + count]
    return result


def fetched(stream: Stream, spans: np.ndarray, rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
    """Only the spans' bytes, in a random order with gaps, as a read fetches them; spans moved to match."""
    moved = spans.copy()
    parts, position = [], 0
    for k in rng.permutation(len(spans)).tolist():
        gap = bytes(rng.integers(0, 256, int(rng.integers(0, 5)), dtype=np.uint8))
        start, stop = int(spans[k, 0]), int(spans[k, 1])
        parts += [gap, stream.data[start:stop]]
        moved[k, 0], moved[k, 1] = position + len(gap), position + len(gap) + stop - start
        position += len(gap) + stop - start
    return b"".join(parts), moved


def out_view(base: np.ndarray, channels: int, layout: str) -> np.ndarray:
    """A (rows, channels) view of ``base``, rows contiguous: plain, a column block, strided or reversed."""
    if layout == "plain":
        return base[:, :channels]
    if layout == "columns":
        return base[:, 1 : 1 + channels]
    if layout == "strided":
        return base[::2, 2 : 2 + channels]
    return base[::-1, 1 : 1 + channels]


def check_random_reads(stream: Stream, rng: np.random.Generator, calls: int = 12) -> None:
    """Random span tables through every data form and out layout, compared sample for sample."""
    decoder = LibFlacDecoder(stream.info.raw)
    assert (decoder.channels, decoder.bits_per_sample) == (stream.info.channels, stream.info.bits_per_sample)
    frame_samples = stream.frame_samples
    for call in range(calls):
        layout = ["plain", "columns", "strided", "reversed"][call % 4]
        rows = int(rng.integers(1, 3 * int(stream.info.max_blocksize) + 2))
        base = rng.integers(
            -100, 100, ((rows * 2 if layout == "strided" else rows), stream.info.channels + 3)
        )
        base = base.astype(decoder.dtype)
        out = out_view(base, stream.info.channels, layout)
        assert out.shape[0] == rows
        spans = random_spans(stream, rng, int(rng.integers(1, 9)), rows)
        want = expected_after(stream, spans, out)
        untouched = base.copy()
        out_view(untouched, stream.info.channels, layout)[...] = want
        data: object = stream.data
        if call % 3 == 1:
            data, spans = fetched(stream, spans, rng)
        form = call % 4
        if form == 1:
            data = np.frombuffer(data, dtype=np.uint8)
        elif form == 2:
            data = memoryview(bytearray(data))
        first_samples = stream.first_samples if call % 2 == 0 else None
        decoder.decode_spans(data, spans, frame_samples, out, first_samples=first_samples)
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(base, untouched)  # nothing outside the spans' rows
    decoder.close()


# --------------------------------------------------------------------------------------------------
# Exactness
# --------------------------------------------------------------------------------------------------


def test_available() -> None:
    assert available()
    assert available()  # cached


# (bits, channels, block size, sample rate): every header bit depth, 4 bits (only in STREAMINFO), rates a
# frame header cannot state (1 MHz), 1 to 8 channels, block sizes 192 to 16,384.
FORMATS = [
    (4, 1, 300, 8_000),
    (8, 1, 192, 8_000),
    (8, 3, 4096, 22_050),
    (12, 2, 576, 16_000),
    (16, 1, 4096, 1_000_000),
    (16, 2, 4096, 48_000),
    (16, 6, 1152, 44_100),
    (16, 8, 8192, 44_100),
    (20, 6, 2304, 96_000),
    (24, 1, 16384, 48_000),
    (24, 2, 4608, 48_000),
    (24, 8, 4608, 48_000),
    (32, 2, 16384, 96_000),
    (32, 8, 256, 192_000),
]


@pytest.mark.parametrize(("bits", "channels", "blocksize", "samplerate"), FORMATS)
def test_exact_wildzarr_streams(bits: int, channels: int, blocksize: int, samplerate: int) -> None:
    stream = made(bits, channels, blocksize, samplerate)
    check_random_reads(stream, np.random.default_rng(bits * 100 + channels))


def test_whole_stream_in_one_span() -> None:
    stream = made(24, 2, 4608)
    decoder = LibFlacDecoder(stream.info.raw)
    total = stream.info.total_samples
    out = np.empty((total, 2), np.int32)
    spans = np.array([[stream.offsets[0], stream.offsets[-1], 0, stream.n_frames, 0, total, 0]], np.int64)
    decoder.decode_spans(stream.data, spans, stream.frame_samples, out, first_samples=stream.first_samples)
    np.testing.assert_array_equal(out, stream.samples)
    assert decoder.frames_decoded == stream.n_frames


@pytest.mark.parametrize(
    ("subtype", "channels"), [("PCM_S8", 1), ("PCM_16", 2), ("PCM_24", 6), ("PCM_16", 8)]
)
def test_exact_soundfile_streams(subtype: str, channels: int) -> None:
    check_random_reads(soundfile_stream(subtype, channels), np.random.default_rng(channels))


@pytest.mark.parametrize(("sample_format", "channels"), [("s16", 1), ("s16", 2), ("s32", 2), ("s32", 6)])
def test_exact_pyav_streams(sample_format: str, channels: int) -> None:
    check_random_reads(pyav_stream(sample_format, channels), np.random.default_rng(channels + 7))


def test_exact_variable_block_size() -> None:
    stream = variable()
    assert len(set(stream.frame_samples.tolist())) > 10
    check_random_reads(stream, np.random.default_rng(3), calls=24)


def test_exact_corpus_recording(corpus_dir: Path) -> None:
    path = corpus_dir / "bird_turtledove_XC564654_16k.flac"
    if not path.exists():
        pytest.skip(f"{path.name} is not in the corpus")
    data = path.read_bytes()
    stream = stream_of(data)
    full, _ = sf.read(io.BytesIO(data), dtype="int16" if stream.info.bits_per_sample <= 16 else "int32")
    np.testing.assert_array_equal(full.reshape(stream.samples.shape), stream.samples)
    check_random_reads(stream, np.random.default_rng(1), calls=40)


def test_any_frame_order_after_flush() -> None:
    """libFLAC is flushed per span: later, earlier and repeated frames, in one call and across calls."""
    stream = made(16, 2, 1152)
    decoder = LibFlacDecoder(stream.info.raw)
    order = [5, 1, 8, 8, 0, 7, 3, 3, 2]
    spans = np.array(
        [[stream.offsets[k], stream.offsets[k + 1], k, 1, 0, 1152, i * 1152] for i, k in enumerate(order)],
        np.int64,
    )
    want = np.concatenate([stream.samples[k * 1152 : (k + 1) * 1152] for k in order])
    out = np.empty_like(want)
    decoder.decode_spans(stream.data, spans, stream.frame_samples, out, first_samples=stream.first_samples)
    np.testing.assert_array_equal(out, want)
    for i in reversed(range(len(order))):  # one span per call, backwards
        one = np.zeros_like(want)
        decoder.decode_spans(stream.data, spans[i : i + 1], stream.frame_samples, one)
        np.testing.assert_array_equal(one[i * 1152 : (i + 1) * 1152], want[i * 1152 : (i + 1) * 1152])


def test_empty_calls_and_empty_spans() -> None:
    stream = made(16, 2, 1152)
    decoder = LibFlacDecoder(stream.info.raw)
    out = np.full((4, 2), 7, np.int16)
    decoder.decode_spans(b"", np.empty((0, SPAN_COLUMNS), np.int64), np.empty(0, np.int64), out)
    spans = np.array([[stream.offsets[2], stream.offsets[3], 2, 1, 1152, 0, 4]], np.int64)  # count 0
    decoder.decode_spans(stream.data, spans, stream.frame_samples, out)
    assert (out == 7).all()
    assert decoder.frames_decoded == 1  # a span keeping nothing is still decoded and checked


def test_threads_match_one_thread() -> None:
    stream = made(24, 2, 4608)
    rng = np.random.default_rng(9)
    tasks = [random_spans(stream, rng, 6, 20_000) for _ in range(60)]

    def run(chunk: list[np.ndarray], results: list[np.ndarray]) -> None:
        decoder = LibFlacDecoder(stream.info.raw)
        for spans in chunk:
            out = np.zeros((20_000, 2), np.int32)
            decoder.decode_spans(stream.data, spans, stream.frame_samples, out)
            results.append(out)

    alone: list[np.ndarray] = []
    run(tasks, alone)
    halves: list[list[np.ndarray]] = [[], []]
    threads = [threading.Thread(target=run, args=(tasks[i::2], halves[i])) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, result in enumerate(alone):
        np.testing.assert_array_equal(result, halves[i % 2][i // 2])
        np.testing.assert_array_equal(
            result, expected_after(stream, tasks[i], np.zeros((20_000, 2), np.int32))
        )


def test_one_decoder_in_two_threads_at_once_is_refused() -> None:
    stream = made(16, 2, 4096)
    decoder = LibFlacDecoder(stream.info.raw)
    n = stream.n_frames
    whole = np.array([[stream.offsets[0], stream.offsets[-1], 0, n, 0, 0, 0]], np.int64)
    spans = np.repeat(whole, 300, axis=0)  # a long call
    out = np.empty((0, 2), np.int16)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            decoder.decode_spans(stream.data, spans, stream.frame_samples, out)
        except ArgumentError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) <= 1
    assert all("another thread" in str(e) for e in errors)


# --------------------------------------------------------------------------------------------------
# Errors in the bytes
# --------------------------------------------------------------------------------------------------


def one_span(
    stream: Stream, first: int, n: int, start: int | None = None, stop: int | None = None
) -> np.ndarray:
    """A span of frames [first, first + n) keeping all their samples at row 0."""
    start = int(stream.offsets[first]) if start is None else start
    stop = int(stream.offsets[first + n]) if stop is None else stop
    total = int(stream.first_samples[first + n] - stream.first_samples[first])
    return np.array([[start, stop, first, n, 0, total, 0]], np.int64)


def decode_error(stream: Stream, data: bytes, spans: np.ndarray, **kwargs: object) -> StreamError:
    """The StreamError decoding ``spans`` of ``data`` raises; then check the decoder still works."""
    decoder = LibFlacDecoder(stream.info.raw)
    frame_samples = kwargs.pop("frame_samples", stream.frame_samples)
    good = one_span(stream, 1, 2)
    rows = max(int(spans[:, 5].max()) + int(spans[:, 6].max()), int(good[0, 5]))
    out = np.zeros((rows, stream.info.channels), decoder.dtype)
    with pytest.raises(StreamError) as caught:
        decoder.decode_spans(data, spans, frame_samples, out, **kwargs)
    # The same decoder then decodes good spans exactly.
    decoder.decode_spans(stream.data, good, stream.frame_samples, out)
    np.testing.assert_array_equal(out[: good[0, 5]], stream.samples[stream.first_samples[1] :][: good[0, 5]])
    return caught.value


def with_bytes(data: bytes, position: int, new: bytes) -> bytes:
    return data[:position] + new + data[position + len(new) :]


def test_crc16_mismatch() -> None:
    stream = made(16, 2, 4096)
    position = int(stream.offsets[4]) + 500
    data = with_bytes(stream.data, position, bytes([stream.data[position] ^ 0x10]))
    error = decode_error(stream, data, one_span(stream, 3, 3))
    assert (error.code, error.frame, error.offset) == (LibFlacStatus.CRC16, 4, stream.offsets[4])
    assert str(error) == "does not decode (CRC-16 mismatch)"


def test_crc8_mismatch() -> None:
    stream = made(16, 2, 4096)
    position = int(stream.offsets[5]) + 4  # the coded frame number
    data = with_bytes(stream.data, position, bytes([stream.data[position] ^ 0x01]))
    error = decode_error(stream, data, one_span(stream, 3, 4))
    assert (error.code, error.frame, error.offset) == (LibFlacStatus.CRC8, 5, stream.offsets[5])


@pytest.mark.parametrize("cut", [1, 2, 3, 100, 3000])
def test_truncated_span(cut: int) -> None:
    stream = made(16, 2, 4096)
    spans = one_span(stream, 2, 3, stop=int(stream.offsets[5]) - cut)
    error = decode_error(stream, stream.data, spans)
    assert (error.code, error.frame, error.offset) == (LibFlacStatus.TRUNCATED, 4, stream.offsets[4])
    assert "the span ends inside" in str(error)


def test_span_ending_inside_a_frame_header() -> None:
    stream = made(16, 2, 4096)
    error = decode_error(stream, stream.data, one_span(stream, 2, 2, stop=int(stream.offsets[3]) + 3))
    assert (error.code, error.frame, error.offset) == (LibFlacStatus.TRUNCATED, 3, stream.offsets[3])
    assert str(error) == "the span ends inside its frame header"


@pytest.mark.parametrize("shift", [1, 7, 100])
def test_span_starting_mid_frame(shift: int) -> None:
    stream = made(16, 2, 4096)
    error = decode_error(stream, stream.data, one_span(stream, 3, 2, start=int(stream.offsets[3]) + shift))
    assert (error.code, error.frame, error.offset) == (LibFlacStatus.SYNC, 3, stream.offsets[3] + shift)
    assert str(error) == "lost sync: no frame header at its start"


@pytest.mark.parametrize("extra", [1, 5, 1000])
def test_bytes_left_after_the_last_frame(extra: int) -> None:
    stream = made(16, 2, 4096)
    error = decode_error(stream, stream.data, one_span(stream, 3, 2, stop=int(stream.offsets[5]) + extra))
    assert (error.code, error.frame, error.offset) == (LibFlacStatus.TRAILING, 4, stream.offsets[5])
    assert f"followed by {extra} bytes" in str(error)
    # Zero bytes after the stream's last frame: its CRC-16 still matches, only the decode position tells.
    n = stream.n_frames
    padded = stream.data + bytes(extra)
    error = decode_error(stream, padded, one_span(stream, n - 2, 2, stop=len(padded)))
    assert (error.code, error.frame) == (LibFlacStatus.TRAILING, n - 1)


def test_frame_of_another_format() -> None:
    """A frame of a mono 24-bit stream where a stereo 16-bit frame must be."""
    stream, other = made(16, 2, 4096), made(24, 1, 4096)
    data = stream.data[: stream.offsets[4]] + other.frame(4) + stream.data[stream.offsets[5] :]
    spans = one_span(stream, 3, 3, stop=int(stream.offsets[6]) - len(stream.frame(4)) + len(other.frame(4)))
    error = decode_error(stream, data, spans)
    assert (error.code, error.frame, error.offset) == (LibFlacStatus.HEADER, 4, stream.offsets[4])
    assert str(error) == "has 1 channels but STREAMINFO says 2"


def test_frame_of_another_bit_depth() -> None:
    stream, other = made(16, 2, 4096), made(24, 2, 4096)
    spans = one_span(stream, 0, 1, start=0, stop=len(other.frame(2)))
    error = decode_error(stream, other.frame(2), spans)
    assert (error.code, error.frame, error.offset) == (LibFlacStatus.HEADER, 0, 0)
    assert str(error) == "has 24-bit samples but STREAMINFO says 16"


def test_wrong_frame_samples() -> None:
    stream = made(16, 2, 4096)
    frame_samples = stream.frame_samples.copy()
    frame_samples[4] = 4000
    spans = one_span(stream, 3, 3)
    spans[0, 5] = 4096
    error = decode_error(stream, stream.data, spans, frame_samples=frame_samples)
    assert (error.code, error.frame, error.offset) == (LibFlacStatus.BLOCKSIZE, 4, stream.offsets[4])
    assert str(error) == "holds 4096 samples but the frame index says 4000"


def test_frames_out_of_sequence_in_a_span() -> None:
    stream = made(16, 2, 4096)
    for frames in ([3, 5, 6], [3, 3, 4], [4, 3, 5]):  # a frame missing, repeated, swapped
        data = b"".join(stream.frame(k) for k in frames)
        error = decode_error(stream, data, one_span(stream, 3, 3, start=0, stop=len(data)))
        assert (error.code, error.frame) == (LibFlacStatus.SEQUENCE, 4)
        assert "in the span" in str(error)


@pytest.mark.parametrize("make", [lambda: made(16, 2, 4096), variable], ids=["fixed", "variable"])
def test_frame_in_the_wrong_place_with_first_samples(make: Callable[[], Stream]) -> None:
    """Alone in its span, a frame of the same stream and size is caught only against the index's numbers."""
    stream = make()
    a, b = 2, 5
    fs = stream.frame_samples.copy()
    fs[a] = fs[b]  # as in a fixed-block-size stream, the two frames hold as many samples
    spans = one_span(stream, b, 1)
    spans[0, 2] = a
    decoder = LibFlacDecoder(stream.info.raw)
    out = np.zeros((int(fs[a]), stream.info.channels), decoder.dtype)
    decoder.decode_spans(stream.data, spans, fs, out)  # undetectable without the numbers
    np.testing.assert_array_equal(out, stream.samples[stream.first_samples[b] :][: fs[b]])
    error = decode_error(stream, stream.data, spans, frame_samples=fs, first_samples=stream.first_samples)
    assert (error.code, error.frame, error.offset) == (LibFlacStatus.SEQUENCE, a, stream.offsets[b])
    assert "the frame index puts" in str(error)


# Hand-made frames (RFC 9639 section 9): stereo 16-bit, 192 samples, rate and bits from STREAMINFO.
HAND_STREAMINFO = streaminfo_bytes(192, 192, 44_100, 2, 16, 192)


def hand_frame(channel_code: int, subframes: bytes) -> bytes:
    """A frame: fixed block size 192 (code 1), frame number 0, the subframes, CRC-8 and CRC-16."""
    header = bytes([0xFF, 0xF8, 0x10, channel_code << 4 | 4 << 1, 0x00])  # 16-bit samples
    header += bytes([lib.wz_crc8(0, header, len(header))])
    body = header + subframes
    return body + lib.wz_crc16(0, body, len(body)).to_bytes(2, "big")


def hand_decode(frame: bytes) -> np.ndarray:
    decoder = LibFlacDecoder(HAND_STREAMINFO)
    out = np.zeros((192, 2), np.int16)
    spans = np.array([[0, len(frame), 0, 1, 0, 192, 0]], np.int64)
    decoder.decode_spans(frame, spans, np.array([192], np.int64), out)
    return out


def test_hand_made_frame_decodes() -> None:
    # CONSTANT subframes (section 9.2.2): 1234 and -5.
    out = hand_decode(hand_frame(1, bytes([0x00, 0x04, 0xD2, 0x00, 0xFF, 0xFB])))
    assert (out == [1234, -5]).all()


def test_sample_outside_the_bit_depth() -> None:
    """Left/side stereo (section 9.1.3): left 32767 and side -32768 make right 65535, not a 16-bit value."""
    # Left: CONSTANT 16-bit 0x7FFF. Side: CONSTANT 17-bit -32768 (0x18000), then 7 padding bits.
    frame = hand_frame(8, bytes([0x00, 0x7F, 0xFF, 0x00]) + (0x18000 << 7).to_bytes(3, "big"))
    with pytest.raises(StreamError) as caught:
        hand_decode(frame)
    assert caught.value.code == LibFlacStatus.RANGE
    assert str(caught.value) == "decodes to a sample outside the signed 16-bit range"


def test_reserved_subframe_type() -> None:
    """A CRC-valid frame libFLAC cannot parse (subframe type 0b000010 is reserved, section 9.2.1)."""
    with pytest.raises(StreamError) as caught:
        hand_decode(hand_frame(1, bytes([0x04, 0x04])))
    assert caught.value.code == LibFlacStatus.DECODE
    assert "unparseable" in str(caught.value)


# --------------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (bytes(33), StreamError),
        (bytes(35), StreamError),
        (streaminfo_bytes(16, 8, 44_100, 2, 16, 100), StreamError),  # max < min block size
        (streaminfo_bytes(4096, 4096, 44_100, 2, 3, 100), StreamError),  # 3 bits
        (streaminfo_bytes(4096, 4096, 0, 2, 16, 100), StreamError),  # rate 0
        ("0" * 34, ArgumentError),
        (34, ArgumentError),
    ],
)
def test_bad_streaminfo(body: object, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        LibFlacDecoder(body)
    if error is StreamError:
        assert isinstance(caught.value, StreamError) and caught.value.code == LibFlacStatus.STREAMINFO


def argument_cases() -> list[tuple[str, dict[str, object]]]:
    """(what, changes to a valid call) pairs that must raise ArgumentError."""
    stream = made(16, 2, 4096)
    spans = one_span(stream, 2, 2)

    def span(column: int, value: int) -> np.ndarray:
        changed = spans.copy()
        changed[0, column] = value
        return changed

    length, total = len(stream.data), int(spans[0, 5])
    bad_fs = stream.frame_samples.copy()
    bad_fs[3] = 0
    big_fs = stream.frame_samples.copy()
    big_fs[2] = 70_000
    wide = np.zeros((10_000, 4), np.int16)
    return [
        ("spans int32", {"spans": spans.astype(np.int32)}),
        ("spans 6 columns", {"spans": spans[:, :6].copy()}),
        ("spans 1-D", {"spans": spans[0].copy()}),
        ("spans not contiguous", {"spans": np.asfortranarray(np.concatenate([spans, spans]))}),
        ("spans a list", {"spans": spans.tolist()}),
        ("frame_samples int32", {"frame_samples": stream.frame_samples.astype(np.int32)}),
        ("frame_samples 2-D", {"frame_samples": stream.frame_samples[None, :]}),
        ("frame_samples strided", {"frame_samples": np.repeat(stream.frame_samples, 2)[::2]}),
        ("first_samples short", {"first_samples": stream.first_samples[:3]}),
        ("first_samples float", {"first_samples": stream.first_samples.astype(float)}),
        ("out int32", {"out": np.zeros((10_000, 2), np.int32)}),
        ("out 3 channels", {"out": np.zeros((10_000, 3), np.int16)}),
        ("out 1-D", {"out": np.zeros(10_000, np.int16)}),
        ("out strided columns", {"out": wide[:, ::2]}),
        ("out Fortran order", {"out": np.zeros((10_000, 2), np.int16, order="F")}),
        ("out read-only", {"out": np.broadcast_to(np.zeros((1, 2), np.int16), (10_000, 2))}),
        ("data a list", {"data": list(stream.data)}),
        ("data a str", {"data": "x" * length}),
        ("data int16 array", {"data": np.frombuffer(stream.data[: length // 2 * 2], np.int16)}),
        ("data strided memoryview", {"data": memoryview(stream.data)[::2]}),
        ("data_start < 0", {"spans": span(0, -1)}),
        ("data_start > data_stop", {"spans": span(0, int(spans[0, 1]) + 1)}),
        ("data_stop > len", {"spans": span(1, length + 1)}),
        ("n_frames 0", {"spans": span(3, 0)}),
        ("n_frames < 0", {"spans": span(3, -2)}),
        ("first_frame < 0", {"spans": span(2, -1)}),
        ("frames past frame_samples", {"spans": span(2, stream.n_frames - 1)}),
        ("huge n_frames", {"spans": span(3, 2**62)}),
        ("skip < 0", {"spans": span(4, -1)}),
        ("count < 0", {"spans": span(5, -1)}),
        ("skip + count > samples", {"spans": span(4, 1)}),
        ("count > samples", {"spans": span(5, total + 1)}),
        ("out_row < 0", {"spans": span(6, -1)}),
        ("out_row + count > rows", {"spans": span(6, 10_000 - total + 1)}),
        ("frame_samples 0", {"frame_samples": bad_fs}),
        ("frame_samples > 65535", {"frame_samples": big_fs}),
    ]


@pytest.mark.parametrize(("what", "changes"), argument_cases(), ids=[what for what, _ in argument_cases()])
def test_argument_errors_write_nothing(what: str, changes: dict[str, object]) -> None:
    stream = made(16, 2, 4096)
    decoder = LibFlacDecoder(stream.info.raw)
    good = one_span(stream, 5, 1)
    call: dict[str, object] = {
        "data": stream.data,
        "spans": one_span(stream, 2, 2),
        "frame_samples": stream.frame_samples,
        "out": np.full((10_000, 2), 3, np.int16),
    } | changes
    spans = call["spans"]
    if (
        isinstance(spans, np.ndarray)
        and spans.dtype == np.int64
        and spans.ndim == 2
        and spans.shape[1] == SPAN_COLUMNS
        and spans.flags.c_contiguous
    ):
        call["spans"] = np.concatenate([good, spans])  # a valid span first: still nothing written
    out = call["out"]
    before = np.array(out, copy=True)
    with pytest.raises(ArgumentError):
        decoder.decode_spans(**call)
    np.testing.assert_array_equal(out, before)
    assert decoder.frames_decoded == 0


def test_closed_decoder() -> None:
    stream = made(16, 2, 4096)
    decoder = LibFlacDecoder(stream.info.raw)
    decoder.close()
    decoder.close()
    with pytest.raises(ArgumentError, match="closed"):
        decoder.decode_spans(
            stream.data, one_span(stream, 0, 1), stream.frame_samples, np.zeros((9000, 2), np.int16)
        )
    for _ in range(2000):  # freed by the garbage collector, closed or not
        LibFlacDecoder(stream.info.raw)


def test_bind_guards() -> None:
    from pyflac._decoder import ffi as flac_ffi
    from pyflac._decoder import lib as flac_lib

    api = ffi.new("wz_libflac_api *")
    for name, _ in ffi.typeof("wz_libflac_api").fields:
        setattr(
            api,
            name,
            int(flac_ffi.cast("uintptr_t", flac_ffi.addressof(flac_lib, f"FLAC__stream_decoder_{name}"))),
        )
    assert lib.wz_flacdec_bind(api) == LibFlacStatus.OK  # the same functions again: a no-op
    api.flush, api.finish = api.finish, api.flush
    assert lib.wz_flacdec_bind(api) == LibFlacStatus.ARGUMENT  # others: refused, nothing changes
    assert lib.wz_flacdec_bind(ffi.NULL) == LibFlacStatus.ARGUMENT
    check_random_reads(made(16, 2, 1152), np.random.default_rng(0), calls=2)


# --------------------------------------------------------------------------------------------------
# Fuzzing
# --------------------------------------------------------------------------------------------------


@cache
def fuzz_streams() -> list[Stream]:
    """Small streams, so that mutations often hit headers: fixed and variable block sizes, 1-3 channels."""
    return [made(16, 1, 192, 8_000, frames=30.5), made(24, 3, 576, 48_000, frames=8.3), variable()]


def mutate(stream: Stream, rng: np.random.Generator) -> tuple[str, bytes]:
    """A damaged copy of the stream's bytes (kind, bytes)."""
    data = bytearray(stream.data)
    low = int(stream.offsets[0])
    kind = str(
        rng.choice(
            ["flip", "overwrite", "truncate", "delete", "insert", "duplicate", "swap", "splice", "random"]
        )
    )
    position = int(rng.integers(low, len(data)))
    if kind == "flip":  # an odd number of bit flips: CRC-16 (x + 1 divides its polynomial) catches them all
        for _ in range(int(rng.choice([1, 3]))):
            data[int(rng.integers(low, len(data)))] ^= 1 << int(rng.integers(0, 8))
    elif kind == "overwrite":  # up to 16 bits in a burst: CRC-16 catches them all
        for k in range(int(rng.integers(1, 3))):
            if position + k < len(data):
                data[position + k] = int(rng.integers(0, 256))
    elif kind == "truncate":
        del data[position:]
    elif kind == "delete":
        del data[position : position + int(rng.integers(1, 50))]
    elif kind == "insert":
        data[position:position] = bytes(rng.integers(0, 256, int(rng.integers(1, 20)), dtype=np.uint8))
    elif kind in ("duplicate", "swap", "splice"):
        k = int(rng.integers(0, stream.n_frames))
        start, stop = int(stream.offsets[k]), int(stream.offsets[k + 1])
        if kind == "duplicate":
            data[stop:stop] = stream.frame(k)
        elif kind == "swap":
            data[start:stop] = stream.frame(int(rng.integers(0, stream.n_frames)))
        else:  # a frame of a stream of another format (channels or bits differ)
            donor = next(s for s in fuzz_streams() if s.info.channels != stream.info.channels)
            data[start:stop] = donor.frame(int(rng.integers(0, donor.n_frames)))
    else:
        data = bytearray(rng.integers(0, 256, int(rng.integers(0, 3000)), dtype=np.uint8).tobytes())
    return kind, bytes(data)


def fuzz_spans(stream: Stream, data: bytes, rng: np.random.Generator, rows: int) -> np.ndarray:
    """Valid spans of the original stream, sometimes with random values in a column or a random table."""
    spans = random_spans(stream, rng, int(rng.integers(1, 6)), rows)
    if rng.random() < 0.8:  # spans past a shortened buffer's end: mostly cut at its end instead
        spans[:, 1] = np.minimum(spans[:, 1], len(data))
        spans[:, 0] = np.minimum(spans[:, 0], spans[:, 1])
    if rng.random() < 0.2:
        column = int(rng.integers(0, SPAN_COLUMNS))
        spans[int(rng.integers(0, len(spans))), column] = int(rng.integers(-5, len(data) + 5))
    if rng.random() < 0.05:
        spans = rng.integers(-2, len(data) + 2, (int(rng.integers(0, 4)), SPAN_COLUMNS)).astype(np.int64)
    return spans


def check_success(
    stream: Stream, data: bytes, spans: np.ndarray, out: np.ndarray, before: np.ndarray, numbered: bool
) -> None:
    """After a successful call: each span's bytes are original frames, decoded exactly, nothing else."""
    want = before.copy()
    for start, stop, first, n, skip, count, row in spans.tolist():
        frames, position = [], start
        while position < stop and len(frames) < n:  # the span's bytes must be whole original frames
            k = next((k for k in range(stream.n_frames) if data.startswith(stream.frame(k), position)), None)
            assert k is not None, f"span {start}:{stop} decoded, but its bytes at {position} are no frame"
            frames.append(k)
            position += len(stream.frame(k))
        assert position == stop and len(frames) == n, "a span decoded whose bytes are not its frames"
        assert frames == list(range(frames[0], frames[0] + n)), "frames out of sequence decoded"
        if numbered:
            assert frames[0] == first, "a frame in the wrong place decoded despite first_samples"
        begin = int(stream.first_samples[frames[0]]) + skip
        want[row : row + count] = stream.samples[begin : begin + count]
    np.testing.assert_array_equal(out, want)


def test_fuzz() -> None:
    rng = np.random.default_rng(2024)
    decoders = {id(s): LibFlacDecoder(s.info.raw) for s in fuzz_streams()}
    outcomes: dict[str, int] = {}
    for case in range(FUZZ_CASES):
        stream = fuzz_streams()[case % len(fuzz_streams())]
        decoder = decoders[id(stream)]
        kind, data = mutate(stream, rng) if case % 10 else ("intact", stream.data)
        rows = 3 * int(stream.info.max_blocksize)
        spans = fuzz_spans(stream, data, rng, rows)
        out = rng.integers(-9, 9, (rows, stream.info.channels)).astype(decoder.dtype)
        before = out.copy()
        numbered = kind == "swap" or bool(rng.random() < 0.5)
        first_samples = stream.first_samples if numbered else None
        try:
            decoder.decode_spans(data, spans, stream.frame_samples, out, first_samples=first_samples)
        except ArgumentError:
            np.testing.assert_array_equal(out, before)
            outcome = "ArgumentError"
        except StreamError as exc:
            assert str(exc) and 0 <= exc.frame < stream.n_frames and 0 <= exc.offset <= len(data)
            outcome = LibFlacStatus(exc.code).name
        else:
            check_success(stream, data, spans, out, before, numbered)
            outcome = "OK"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    print(f"fuzz: {FUZZ_CASES} cases: {outcomes}")
    assert outcomes.get("OK", 0) > FUZZ_CASES // 20
    assert {"CRC16", "SYNC", "TRUNCATED", "SEQUENCE", "HEADER", "ArgumentError"} <= outcomes.keys()
    # Every decoder is still exact afterwards.
    for stream in fuzz_streams():
        check_random_reads(stream, rng, calls=2)
