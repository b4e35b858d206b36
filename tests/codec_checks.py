"""Checks every codec must pass, whatever its format.

A new codec is tested by adding one :class:`CodecCase` line to :data:`CODEC_CASES`;
``tests/test_codecs.py`` runs every check below on every case, and fails if a
registered codec has no case.

The checks only use the codec contract (:mod:`wildzarr.codecs.base`) and the
frame index (:mod:`wildzarr.index`), as the importer and the reader do: check
the source format, convert, encode a generated signal, scan the stream, set the
delay, padding and pre-roll, plan windows and decode their frames.
"""

from __future__ import annotations

import io
import itertools
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import av
import numpy as np
import pytest
from signals import make_float_signal

from wildzarr.audio import AudioFormat, convert
from wildzarr.codecs import Codec, Encoded, FlacCodec, FrameDecoder, get_codec
from wildzarr.codecs.aac import AacCodec
from wildzarr.codecs.base import ScannedStream
from wildzarr.codecs.mp3 import Mp3Codec
from wildzarr.codecs.npy import NpyCodec
from wildzarr.errors import StreamError
from wildzarr.index import FrameIndex
from wildzarr.sources.base import Source


@dataclass(frozen=True)
class CodecCase:
    """One codec configuration and what the shared checks may expect of it.

    Attributes
    ----------
    codec : Codec
        The codec under test.
    formats : tuple of AudioFormat
        Source formats the round-trip checks encode (the first is used by the
        single-format checks).
    detects_corruption : bool
        Decoding a frame with one flipped byte raises StreamError (the frame
        carries a checksum; codecs with ``frame_checksums`` are checked by the
        reader instead).
    """

    codec: Codec
    formats: tuple[AudioFormat, ...] = (AudioFormat(48_000, 2, "int16", 16),)
    detects_corruption: bool = True
    id: str = field(default="")

    def __str__(self) -> str:
        return self.id or repr(self.codec)


def pcm(samplerate: int, channels: int, bits: int) -> AudioFormat:
    """An integer PCM format of ``bits`` bits in the usual dtype."""
    return AudioFormat(samplerate, channels, "int16" if bits <= 16 else "int32", bits)


#: One line per codec configuration.
CODEC_CASES: list[CodecCase] = [
    CodecCase(FlacCodec(), (pcm(48_000, 2, 16), pcm(96_000, 1, 24), pcm(8_000, 3, 8)), id="flac"),
    CodecCase(FlacCodec(compression_level=0, blocksize=1152), (pcm(44_100, 2, 16),), id="flac-0-1152"),
    CodecCase(
        NpyCodec(),
        (
            pcm(48_000, 2, 16),
            AudioFormat(500_000, 1, "float32", 32),
            AudioFormat(8_000, 3, "uint8", 8),
            AudioFormat(8_000, 2, "int64", 64),
            AudioFormat(8_000, 2, "float64", 64),
        ),
        id="npy",
    ),
    CodecCase(
        AacCodec(),
        (pcm(48_000, 2, 16), AudioFormat(44_100, 1, "float32", 32), pcm(8_000, 6, 24)),
        detects_corruption=False,
        id="aac",
    ),
    CodecCase(
        Mp3Codec(),
        (pcm(48_000, 2, 16), AudioFormat(22_050, 1, "float32", 32), pcm(8_000, 2, 24)),
        detects_corruption=False,
        id="mp3",
    ),
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


def make_audio(fmt: AudioFormat, n: int, seed: int = 0) -> np.ndarray:
    """A signal of ``n`` samples in format ``fmt`` (any dtype), using its full range."""
    if fmt.kind == "float":
        return make_float_signal(n, fmt.channels, seed=seed, dtype=fmt.numpy_dtype)
    if fmt.kind == "uint":
        signed = make_signal(n, fmt.channels, fmt.bits_per_sample, seed).astype(np.int64)
        return (signed + (1 << (fmt.bits_per_sample - 1))).astype(fmt.numpy_dtype)
    if fmt.bits_per_sample > 32:
        wide = make_signal(n, fmt.channels, 32, seed).astype(np.int64) << 31
        wide[0, 0], wide[min(1, n - 1), 0] = np.iinfo(np.int64).min, np.iinfo(np.int64).max
        return wide
    return make_signal(n, fmt.channels, fmt.bits_per_sample, seed).astype(fmt.numpy_dtype)


def irregular_blocks(signal: np.ndarray, seed: int = 0) -> Iterator[np.ndarray]:
    """Yield ``signal`` in blocks of irregular sizes (1 sample up to ~3 frames), as sources may."""
    rng = np.random.default_rng(seed)
    start = 0
    while start < len(signal):
        size = int(rng.choice([1, 7, 1000, 4095, 4097, 12_345]))
        yield np.ascontiguousarray(signal[start : start + size])
        start += size


@dataclass
class Encoding:
    """A signal encoded and indexed as the importer does it."""

    codec: Codec
    source: np.ndarray
    stored: AudioFormat
    converted: np.ndarray
    stream: bytes
    encoded: Encoded
    index: FrameIndex
    decoder_config: dict

    def frames(self) -> list[memoryview]:
        """Each frame's bytes, as zero-copy views of the stream."""
        view = memoryview(self.stream)
        return [view[a:b] for a, b in itertools.pairwise(self.index.offsets.tolist())]

    def decoder(self) -> FrameDecoder:
        """A decoder built from the codec and decoder configs after a JSON round trip, as the archive does."""
        codec = get_codec(json.loads(json.dumps(self.codec.get_config())))
        return codec.decoder(self.stored, json.loads(json.dumps(self.decoder_config)))

    def full_decode(self) -> np.ndarray:
        """Every frame decoded in one call, delay and padding trimmed: source samples."""
        decoded = self.decoder().decode(self.frames())
        return decoded[self.index.delay : self.index.delay + self.index.samples]

    def read(self, start: int, stop: int, decoder: FrameDecoder | None = None) -> np.ndarray:
        """Source samples ``[start, stop)`` through the index's plan, as the reader does it."""
        decoder = decoder or self.decoder()
        frames = self.frames()
        out = np.empty((stop - start, self.stored.channels), dtype=self.stored.numpy_dtype)
        for span in self.index.plan(start, stop, task_frames=3):
            decoded = decoder.decode(frames[span.lead : span.stop])
            out[span.out : span.out + span.count] = decoded[span.skip : span.skip + span.count]
        return out


def encode(codec: Codec, signal: np.ndarray, fmt: AudioFormat, seed: int = 0) -> Encoding:
    """Check, convert, encode (in irregular blocks), scan and index ``signal`` of format ``fmt``."""
    stored = codec.check(fmt)
    converted = convert(signal, fmt, stored)
    out = io.BytesIO()
    encoded = codec.encode(irregular_blocks(converted, seed), out, stored)
    assert encoded.samples == len(signal)
    assert out.tell() == len(out.getvalue()), "encode must leave out at the end of the stream"
    stream = out.getvalue()
    scanned = codec.scan(stream, stored, encoded)
    index = scanned.index
    padding = index.decoded - encoded.delay - encoded.samples
    assert padding >= 0 and encoded.delay >= 0
    preroll = codec.preroll if scanned.preroll is None else scanned.preroll
    index = index.with_trim(delay=encoded.delay, padding=padding, preroll=preroll)
    if codec.frame_checksums:
        bounds = index.offsets.tolist()
        index = index.with_checksums(
            np.array([zlib.crc32(stream[a:b]) for a, b in itertools.pairwise(bounds)])
        )
    index.check()
    return Encoding(codec, signal, stored, converted, stream, encoded, index, scanned.decoder_config)


def check_index(enc: Encoding) -> None:
    """The scanned index is self-consistent and matches the stream."""
    index = enc.index
    assert index.offsets.dtype == np.int64 and index.first_samples.dtype == np.int64
    assert index.offsets.shape == index.first_samples.shape and index.n_frames >= 1
    assert index.offsets[0] >= 0 and index.end == len(enc.stream)
    assert index.samples == len(enc.source)
    json.dumps(enc.decoder_config)  # JSON-only


def check_round_trip(case: CodecCase, signal: np.ndarray, fmt: AudioFormat) -> np.ndarray:
    """Encode, scan, decode every frame; lossless codecs return the converted source. Returns the decode."""
    enc = encode(case.codec, signal, fmt)
    check_index(enc)
    decoded = enc.full_decode()
    assert decoded.shape == signal.shape
    assert decoded.dtype == enc.stored.numpy_dtype
    if not case.codec.lossy:
        assert decoded.tobytes() == enc.converted.tobytes()  # bit for bit, NaN payloads included
    return decoded


def check_random_windows(
    case: CodecCase, signal: np.ndarray, fmt: AudioFormat, windows: int = 25, seed: int = 0
) -> None:
    """Windows read through the index (pre-roll, delay) equal the same samples of a full decode."""
    enc = encode(case.codec, signal, fmt)
    reference = enc.full_decode() if case.codec.lossy else enc.converted
    decoder = enc.decoder()
    rng = np.random.default_rng(seed)
    n = len(signal)
    for _ in range(windows):
        start = int(rng.integers(0, n))
        stop = int(rng.integers(start + 1, min(n, start + 20_000) + 1))
        got = enc.read(start, stop, decoder)
        assert got.tobytes() == reference[start:stop].tobytes(), (start, stop)
    # The very first and very last samples too.
    assert enc.read(0, 1, decoder).tobytes() == reference[:1].tobytes()
    assert enc.read(n - 1, n, decoder).tobytes() == reference[n - 1 :].tobytes()


def check_streaming(codec: Codec, fmt: AudioFormat) -> None:
    """encode() writes frames while it consumes blocks instead of after the last one."""
    stored = codec.check(fmt)
    block = convert(make_audio(fmt, 4096), fmt, stored)
    out = io.BytesIO()
    sizes_when_asked: list[int] = []

    def blocks() -> Iterator[np.ndarray]:
        for _ in range(40):
            sizes_when_asked.append(out.tell())
            yield block

    codec.encode(blocks(), out, stored)
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


def check_corrupt_streams(case: CodecCase, fmt: AudioFormat) -> None:
    """Damaged streams fail scan() and damaged frames fail decode() with StreamError, never a crash."""
    codec = case.codec
    enc = encode(codec, make_audio(fmt, 40_000), fmt)
    stream, index = enc.stream, enc.index
    frames = enc.frames()
    middle = index.n_frames // 2
    a, b = int(index.offsets[middle]), int(index.offsets[middle + 1])
    flipped = bytearray(stream)
    flipped[(a + b) // 2] ^= 0x5A
    damaged_streams = [stream[: len(stream) - 3], stream[: (a + b) // 2], b"", b"\x00" * 1000]
    if case.detects_corruption:
        damaged_streams.append(bytes(flipped))
    for damaged in damaged_streams:
        with pytest.raises(StreamError):
            codec.scan(damaged, enc.stored, enc.encoded)
    decoder = enc.decoder()
    rng = np.random.default_rng(1)
    garbage = [b"", b"\x00" * 100, rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), frames[middle][:7]]
    if case.detects_corruption:
        garbage += [bytes(flipped[a:b]), frames[middle][: len(frames[middle]) // 2]]
    for bad in garbage:
        with pytest.raises(StreamError):
            decoder.decode([frames[0], bad])
    # The decoder is still usable after an error.
    lead = max(0, middle - index.preroll)
    decoded = decoder.decode(frames[lead : middle + 1])
    reference = decoder.decode(frames[: middle + 1]) if codec.lossy else None
    first, stop = int(index.first_samples[middle]), int(index.first_samples[middle + 1])
    skip = first - int(index.first_samples[lead])
    if reference is None:
        start = first - index.delay
        assert decoded[skip:].tobytes() == enc.converted[start : start + stop - first].tobytes()
    else:
        assert decoded[skip:].tobytes() == reference[first:stop].tobytes()


# --------------------------------------------------------------------------------------------------
# Helpers of the lossy codec tests (test_aac_codec.py, test_mp3_codec.py; test_mp3_scan.py's streams)
# --------------------------------------------------------------------------------------------------


def tones(
    n: int, samplerate: int, channels: int, seed: int = 0, high: float | None = None, noise: float = 0.01
) -> np.ndarray:
    """float32 ``(n, channels)``: a tone per channel (300 Hz, then 200 Hz apart), a sweep from 100 Hz to
    rate / 8, ``noise`` times white noise, and an optional ``high`` tone in every channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / samplerate
    sweep = 0.1 * np.sin(2 * np.pi * (100 * t + samplerate / 16 * t**2 / t[-1]))
    columns = []
    for c in range(channels):
        x = 0.2 * np.sin(2 * np.pi * (300 + 200 * c) * t) + sweep + noise * rng.standard_normal(n)
        if high is not None:
            x += 0.2 * np.sin(2 * np.pi * high * t)
        columns.append(x)
    return np.ascontiguousarray(np.stack(columns, axis=1), dtype=np.float32)


def lag(a: np.ndarray, b: np.ndarray, most: int = 2048) -> int:
    """The shift of ``b`` against ``a`` (within ``most`` samples) with the highest cross-correlation."""
    size = 1 << (len(a) + len(b)).bit_length()
    correlation = np.fft.irfft(np.conj(np.fft.rfft(a, size)) * np.fft.rfft(b, size), size)
    shifts = np.concatenate([np.arange(0, most + 1), np.arange(-most, 0)])
    return int(shifts[np.argmax(np.concatenate([correlation[: most + 1], correlation[-most:]]))])


def snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    """Signal-to-noise ratio of ``decoded`` against ``reference``, in dB."""
    error = (reference.astype(np.float64) - decoded) ** 2
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / np.sum(error)))


def random_windows(n: int, count: int, seed: int, longest: int = 20_000) -> list[tuple[int, int]]:
    """``count`` random ``(start, stop)`` ranges of up to ``longest`` of ``n`` samples, then the first and
    the last sample and the whole."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        start = int(rng.integers(0, n))
        out.append((start, int(rng.integers(start + 1, min(n, start + longest) + 1))))
    return [*out, (0, 1), (n - 1, n), (0, n)]


def encode_blocks(
    codec: Codec, signal: np.ndarray, samplerate: int, block: int = 10_000
) -> tuple[AudioFormat, bytes, Encoded]:
    """Encode float32 ``signal`` in blocks of ``block`` samples: (stored format, stream, what encode said)."""
    fmt = codec.check(AudioFormat(samplerate, signal.shape[1], "float32", 32))
    out = io.BytesIO()
    encoded = codec.encode((signal[k : k + block] for k in range(0, len(signal), block)), out, fmt)
    assert encoded.samples == len(signal)
    return fmt, out.getvalue(), encoded


def keep_frames(codec: Codec, source: Source) -> tuple[AudioFormat, bytes, Encoded] | None:
    """The source's frames as ``codec.keep`` writes them: (stored format, stream, Encoded), or None (and
    nothing written) when the codec does not keep them."""
    out = io.BytesIO()
    encoded = codec.keep(source, out)
    if encoded is None:
        assert out.getvalue() == b""
        return None
    return codec.check(source.format.audio), out.getvalue(), encoded


def importer_index(
    codec: Codec, fmt: AudioFormat, data: bytes, encoded: Encoded
) -> tuple[FrameIndex, ScannedStream]:
    """Scan ``data`` and trim its index (delay, padding, pre-roll) as the importer does: (index, scan)."""
    scanned = codec.scan(data, fmt, encoded)
    index = scanned.index
    padding = index.decoded - encoded.delay - encoded.samples
    preroll = codec.preroll if scanned.preroll is None else scanned.preroll
    index = index.with_trim(delay=encoded.delay, padding=padding, preroll=preroll)
    index.check()
    return index, scanned


def write_with_pyav(
    path: Path,
    signal: np.ndarray,
    rate: int,
    fmt: str,
    codec: str,
    bit_rate: int | None = None,
    options: dict[str, str] | None = None,
    codec_options: dict[str, str] | None = None,
    title: str | None = None,
) -> None:
    """Write float32 ``signal`` with PyAV in blocks of 20,000 samples: ``codec`` in a ``fmt`` file.

    ``options`` go to the muxer, ``codec_options`` to the encoder; ``title`` is written as metadata.
    """
    layout = {1: "mono", 2: "stereo", 6: "hexagonal"}[signal.shape[1]]
    with av.open(str(path), "w", format=fmt, options=options or {}) as container:
        if title is not None:
            container.metadata["title"] = title
        stream = container.add_stream(codec, rate=rate, layout=layout)
        if bit_rate:
            stream.bit_rate = bit_rate
        stream.codec_context.options = codec_options or {}
        for k in range(0, len(signal), 20_000):
            block = np.ascontiguousarray(signal[k : k + 20_000])
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, k, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def file_source(path: Path) -> Source:
    """What ``keep`` reads of a Source: path, audio stream index, codec, rate and channels (as PyAV says)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        context = stream.codec_context
        fmt = SimpleNamespace(
            codec=context.codec.canonical_name,
            container=container.format.name,
            samplerate=context.sample_rate,
            channels=context.channels,
            audio=AudioFormat(context.sample_rate, context.channels, "float32", 32),
        )
        index = stream.index
    return cast(Source, SimpleNamespace(path=path, format=fmt, stream_index=index))


def packet_bytes(path: Path) -> list[int]:
    """The size of every packet of the file's first audio stream, as PyAV's demuxer gives them."""
    with av.open(str(path)) as container:
        return [p.size for p in container.demux(container.streams.audio[0]) if p.size]
