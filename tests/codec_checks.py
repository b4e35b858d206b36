"""Checks every codec must pass, whatever its format.

A new codec is tested by adding one :class:`CodecCase` line to :data:`CODEC_CASES`;
``tests/test_codecs.py`` runs every check below on every case, and fails if a
registered codec has no case.

The checks only use the codec contract (:mod:`wildzarr.codecs.base`): encode a
generated signal, scan the stream, decode frames through ``decoder()``.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from wildzarr.codecs import Codec, FlacCodec, FrameDecoder, StreamLayout, get_codec
from wildzarr.errors import StreamError


@dataclass(frozen=True)
class CodecCase:
    """One codec configuration and what the shared checks may expect of it.

    Attributes
    ----------
    codec : Codec
        The codec under test.
    formats : tuple of (samplerate, channels, bits_per_sample)
        Source formats the round-trip checks encode.
    lossless : bool
        Decoded samples equal the source exactly. Otherwise windows are compared
        with a decode of the whole stream.
    detects_corruption : bool
        The decoder raises StreamError on a frame with one flipped byte (a CRC).
    """

    codec: Codec
    formats: tuple[tuple[int, int, int], ...] = ((48_000, 2, 16),)
    lossless: bool = True
    detects_corruption: bool = True
    id: str = field(default="")

    def __str__(self) -> str:
        return self.id or repr(self.codec)


#: One line per codec configuration.
CODEC_CASES: list[CodecCase] = [
    CodecCase(FlacCodec(), ((48_000, 2, 16), (96_000, 1, 24), (8_000, 3, 8)), id="flac"),
    CodecCase(FlacCodec(compression_level=0, blocksize=1152), ((44_100, 2, 16),), id="flac-0-1152"),
]


def make_signal(n: int, channels: int, bits: int, seed: int = 0) -> np.ndarray:
    """A test signal: sine + noise per channel, with full-scale extremes.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, channels)``; int16 for ``bits <= 16`` else int32; values in
        the signed ``bits``-bit range including its minimum and maximum, with
        opposite extremes in neighbouring channels (worst case for stereo
        decorrelation) near the start.
    """
    rng = np.random.default_rng(seed)
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    t = np.arange(n)[:, None]
    freqs = 0.001 + 0.013 * np.arange(1, channels + 1)
    signal = 0.4 * high * np.sin(2 * np.pi * freqs * t) + rng.normal(0, max(1.0, high / 300), (n, channels))
    values = np.clip(np.round(signal), low, high).astype(np.int64)
    for k in range(min(n, 8)):
        values[k * 37 % n, :] = [high if (c + k) % 2 else low for c in range(channels)]
    return values.astype(np.int16 if bits <= 16 else np.int32)


def irregular_blocks(signal: np.ndarray, seed: int = 0) -> Iterator[np.ndarray]:
    """Yield ``signal`` in blocks of irregular sizes (1 sample up to ~3 frames), as sources may."""
    rng = np.random.default_rng(seed)
    start = 0
    while start < len(signal):
        size = int(rng.choice([1, 7, 1000, 4095, 4097, 12_345]))
        yield np.ascontiguousarray(signal[start : start + size])
        start += size


def encode(codec: Codec, signal: np.ndarray, samplerate: int, bits: int, seed: int = 0) -> bytes:
    """Encode ``signal`` (shape (n, channels)) in irregular blocks; return the stream bytes."""
    out = io.BytesIO()
    written = codec.encode(
        irregular_blocks(signal, seed),
        out,
        samplerate=samplerate,
        channels=signal.shape[1],
        bits_per_sample=bits,
    )
    assert written == len(signal)
    assert out.tell() == len(out.getvalue()), "encode must leave out at the end of the stream"
    return out.getvalue()


def frames_of(stream: bytes, layout: StreamLayout) -> list[memoryview]:
    """Each frame's bytes, as zero-copy views of ``stream``."""
    bounds = [*layout.offsets.tolist(), layout.end]
    view = memoryview(stream)
    return [view[a:b] for a, b in itertools.pairwise(bounds)]


def decoder_from_stored_config(codec: Codec, layout: StreamLayout) -> FrameDecoder:
    """A decoder built from the codec and decoder configs after a JSON round trip, as the archive does."""
    stored_codec = get_codec(json.loads(json.dumps(codec.get_config())))
    return stored_codec.decoder(json.loads(json.dumps(layout.decoder_config)))


def check_layout(layout: StreamLayout, stream: bytes, samples: int) -> None:
    """The scan result is self-consistent and matches the stream."""
    assert layout.offsets.dtype == np.int64 and layout.first_samples.dtype == np.int64
    assert layout.offsets.shape == layout.first_samples.shape and len(layout.offsets) >= 1
    assert np.all(np.diff(layout.offsets) > 0) and layout.offsets[0] > 0
    assert layout.first_samples[0] == 0 and np.all(np.diff(layout.first_samples) > 0)
    assert layout.samples == samples and layout.first_samples[-1] < samples
    assert layout.end == len(stream) and layout.offsets[-1] < layout.end
    json.dumps(layout.decoder_config)  # JSON-only


def check_round_trip(case: CodecCase, signal: np.ndarray, samplerate: int, bits: int) -> np.ndarray:
    """Encode, scan, decode every frame; the result equals the source (if lossless). Returns the decode."""
    stream = encode(case.codec, signal, samplerate, bits)
    layout = case.codec.scan(stream)
    check_layout(layout, stream, len(signal))
    decoded = decoder_from_stored_config(case.codec, layout).decode(frames_of(stream, layout))
    assert decoded.shape == signal.shape
    assert decoded.dtype == (np.int16 if bits <= 16 else np.int32)
    if case.lossless:
        np.testing.assert_array_equal(decoded, signal)
    return decoded


def check_random_windows(
    case: CodecCase, signal: np.ndarray, samplerate: int, bits: int, windows: int = 25, seed: int = 0
) -> None:
    """Frame ranges decoded on their own (with the codec's pre-roll) equal the source, frame by frame."""
    codec = case.codec
    stream = encode(codec, signal, samplerate, bits)
    layout = codec.scan(stream)
    frames = frames_of(stream, layout)
    decoder = codec.decoder(layout.decoder_config)
    reference = signal if case.lossless else decoder.decode(frames)
    bounds = [*layout.first_samples.tolist(), layout.samples]
    rng = np.random.default_rng(seed)
    n = len(frames)
    for _ in range(windows):
        first = int(rng.integers(0, n))
        stop = int(rng.integers(first + 1, min(n, first + 4) + 1))
        lead = max(0, first - codec.preroll)
        decoded = decoder.decode(frames[lead:stop])
        skip = bounds[first] - bounds[lead]
        np.testing.assert_array_equal(decoded[skip:], reference[bounds[first] : bounds[stop]])


def check_streaming(codec: Codec, samplerate: int, channels: int, bits: int) -> None:
    """encode() writes frames while it consumes blocks instead of after the last one."""
    block = make_signal(4096, channels, bits)
    out = io.BytesIO()
    sizes_when_asked: list[int] = []

    def blocks() -> Iterator[np.ndarray]:
        for _ in range(40):
            sizes_when_asked.append(out.tell())
            yield block

    codec.encode(blocks(), out, samplerate=samplerate, channels=channels, bits_per_sample=bits)
    # Output grew step by step while blocks were still being asked for.
    assert len(set(sizes_when_asked)) >= 10, sizes_when_asked


def check_config_round_trip(codec: Codec) -> None:
    """get_config() is JSON-only, carries the id, and rebuilds an equal codec (directly and by id)."""
    config = codec.get_config()
    assert config["id"] == codec.codec_id
    restored = json.loads(json.dumps(config))
    assert restored == config
    assert type(codec).from_config(restored) == codec
    assert get_codec(restored) == codec
    assert get_codec(codec.codec_id, **{k: v for k, v in config.items() if k != "id"}) == codec


def check_corrupt_streams(case: CodecCase, samplerate: int, channels: int, bits: int) -> None:
    """Damaged streams fail scan() and damaged frames fail decode() with StreamError, never a crash."""
    codec = case.codec
    signal = make_signal(20_000, channels, bits)
    stream = encode(codec, signal, samplerate, bits)
    layout = codec.scan(stream)
    frames = frames_of(stream, layout)
    middle = len(frames) // 2
    a, b = int(layout.offsets[middle]), int(layout.offsets[middle + 1])

    flipped = bytearray(stream)
    flipped[(a + b) // 2] ^= 0x5A
    for damaged in (stream[: len(stream) - 3], stream[: (a + b) // 2], bytes(flipped), b"", b"\x00" * 1000):
        with pytest.raises(StreamError):
            codec.scan(damaged)

    decoder = codec.decoder(layout.decoder_config)
    rng = np.random.default_rng(1)
    garbage = [b"", b"\x00" * 100, rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), frames[middle][:7]]
    if case.detects_corruption:
        garbage += [bytes(flipped[a:b]), frames[middle][: len(frames[middle]) // 2]]
    for bad in garbage:
        with pytest.raises(StreamError):
            decoder.decode([frames[0], bad])
    # The decoder is still usable after an error.
    decoded = decoder.decode(frames[middle : middle + 1])
    if case.lossless:
        start, stop = layout.first_samples[middle], layout.first_samples[middle + 1]
        np.testing.assert_array_equal(decoded, signal[start:stop])
