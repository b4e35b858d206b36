"""MP3 codec: LAME encoding, scanning, the per-stream pre-roll, exact windows, kept frames of mp3 files.

The shared contract checks run in ``tests/test_codecs.py`` (``codec_checks.CODEC_CASES``); this module tests
what is particular to MP3. Helpers it shares with ``tests/test_aac_codec.py`` (test signals, lag and SNR,
random windows, encoding and keeping as the importer does, files written by PyAV) are in ``codec_checks.py``.
Tests on the real recording skip when the corpus (``../shared/audio``) is absent; mp3 files written by PyAV
cover the same paths without it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest
from codec_checks import (
    encode_blocks,
    file_source,
    importer_index,
    keep_frames,
    lag,
    packet_bytes,
    random_windows,
    snr_db,
    tones,
    write_with_pyav,
)
from signals import decode_with_pyav

import wildzarr
from wildzarr.audio import AudioFormat
from wildzarr.codecs import Encoded, Mp3Codec, get_codec
from wildzarr.codecs.mp3 import BITRATES, SAMPLERATES, Mp3FrameDecoder, preroll_frames
from wildzarr.errors import ArgumentError, SourceError, StreamError, UnsupportedSourceError
from wildzarr.index import FrameIndex
from wildzarr.scan.mp3 import reservoir_reach, scan_mp3
from wildzarr.sources.base import Source

F32 = "float32"
CORPUS_MP3 = "bird_soundscape_XC563936_48k.mp3"


@dataclass
class Stored:
    """A stream as the importer stores it: bytes and trimmed index (MP3 needs no decoder config)."""

    codec: Mp3Codec
    fmt: AudioFormat
    data: bytes
    encoded: Encoded
    index: FrameIndex

    def frames(self, first: int = 0, stop: int | None = None) -> list[memoryview]:
        view = memoryview(self.data)
        bounds = self.index.offsets.tolist()
        return [
            view[bounds[k] : bounds[k + 1]]
            for k in range(first, self.index.n_frames if stop is None else stop)
        ]

    def decoder(self) -> Mp3FrameDecoder:
        codec = get_codec(json.loads(json.dumps(self.codec.get_config())))
        return cast(Mp3Codec, codec).decoder(self.fmt, {})

    def full(self) -> np.ndarray:
        """The whole stream decoded in one call, delay and padding trimmed."""
        return self.decoder().decode(self.frames())[self.index.delay : self.index.delay + self.index.samples]

    def read(self, start: int, stop: int, decoder: Mp3FrameDecoder) -> np.ndarray:
        out = np.empty((stop - start, self.fmt.channels), dtype=np.float32)
        for span in self.index.plan(start, stop):
            decoded = decoder.decode(self.frames(span.lead, span.stop))
            out[span.out : span.out + span.count] = decoded[span.skip : span.skip + span.count]
        return out


def index_stream(codec: Mp3Codec, fmt: AudioFormat, data: bytes, encoded: Encoded) -> Stored:
    """Scan and trim as the importer does; the pre-roll is the stream's own."""
    index, scanned = importer_index(codec, fmt, data, encoded)
    assert scanned.decoder_config == {} and scanned.preroll is not None
    return Stored(codec, fmt, data, encoded, index)


def encode(codec: Mp3Codec, signal: np.ndarray, samplerate: int) -> Stored:
    fmt, data, encoded = encode_blocks(codec, signal, samplerate)
    assert encoded.decoder_config == {}
    return index_stream(codec, fmt, data, encoded)


def keep(codec: Mp3Codec, source: Source) -> Stored | None:
    kept = keep_frames(codec, source)
    return None if kept is None else index_stream(codec, *kept)


def exact_windows(stored: Stored, reference: np.ndarray, ranges: list[tuple[int, int]]) -> int:
    """How many of the ranges read through the index (one decoder, reused) equal ``reference``."""
    decoder = stored.decoder()
    return sum(np.array_equal(stored.read(a, b, decoder), reference[a:b]) for a, b in ranges)


# --------------------------------------------------------------------------- parameters and formats


def test_parameters_and_config() -> None:
    codec = Mp3Codec()
    assert codec.get_config() == {"id": "mp3", "bitrate": None}
    assert get_codec("mp3") == codec and get_codec({"id": "mp3", "bitrate": 64_000}) == Mp3Codec(64_000)
    assert (codec.lossy, codec.frame_checksums, codec.max_channels, codec.preroll) == (True, True, 2, 1)
    assert codec.describe_choice() == "MP3 (LAME) 160 kb/s per channel at 48 kHz (10/3 bits per sample)"
    assert Mp3Codec(bitrate=96_000).describe_choice() == "MP3 (LAME) 96 kb/s per channel"
    assert Mp3Codec(bitrate=np.int64(64_000)).bitrate == 64_000
    for bad in (7_999, 320_001, 0, -1, 1.5, "128k", True):
        with pytest.raises(ArgumentError):
            Mp3Codec(bitrate=bad)  # type: ignore[arg-type]


def test_check_accepts_mpeg_rates_and_one_or_two_channels() -> None:
    codec = Mp3Codec()
    for rate in SAMPLERATES:
        for channels in (1, 2):
            for given in (AudioFormat(rate, channels, "int16", 16), AudioFormat(rate, channels, F32, 32)):
                assert codec.check(given) == AudioFormat(rate, channels, F32, 32)
    for fmt, words in [
        (AudioFormat(48_000, 3, "int16", 16), "1 or 2 channels"),
        (AudioFormat(96_000, 1, "int16", 16), "96,000 Hz"),
        (AudioFormat(44_000, 1, F32, 32), "44,000 Hz"),
        (AudioFormat(7_350, 2, F32, 32), "8,000, 11,025"),
    ]:
        with pytest.raises(UnsupportedSourceError, match=words):
            codec.check(fmt)
    with pytest.raises(ArgumentError):
        codec.encode([], io.BytesIO(), AudioFormat(48_000, 1, "int16", 16))


@pytest.mark.parametrize(
    ("bitrate", "rate", "channels", "expected"),
    [
        (None, 48_000, 2, 320_000),
        (None, 48_000, 1, 160_000),
        (None, 44_100, 1, 160_000),
        (None, 44_100, 2, 320_000),
        (None, 32_000, 1, 112_000),
        (None, 24_000, 1, 80_000),
        (None, 22_050, 2, 160_000),
        (None, 8_000, 1, 32_000),
        (None, 8_000, 2, 56_000),
        (64_000, 48_000, 2, 128_000),
        (50_000, 48_000, 1, 56_000),
        (320_000, 48_000, 2, 320_000),
        (8_000, 48_000, 1, 32_000),
        (160_000, 16_000, 2, 160_000),
        (8_000, 8_000, 1, 8_000),
    ],
)
def test_frame_bitrate(bitrate: int | None, rate: int, channels: int, expected: int) -> None:
    codec = Mp3Codec(bitrate)
    fmt = AudioFormat(rate, channels, F32, 32)
    assert codec.frame_bitrate(fmt) == expected
    assert expected in BITRATES["1" if rate >= 32_000 else "2"]
    s = encode(codec, tones(rate // 2, rate, channels), rate)
    sizes = np.diff(s.index.offsets)
    # Constant bit rate: frame lengths from the bit rate (padding adds one byte to some).
    length = (144 if rate >= 32_000 else 72) * expected // rate
    assert set(sizes.tolist()) <= {length, length + 1}


# --------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    ("rate", "channels"), [(48_000, 2), (44_100, 1), (32_000, 2), (22_050, 1), (8_000, 2)]
)
def test_encode_delay_and_alignment(rate: int, channels: int) -> None:
    signal = tones(rate + 333, rate, channels, seed=channels)
    s = encode(Mp3Codec(), signal, rate)
    assert s.encoded.delay == 1105  # LAME's 576 and the decoder's 529 (the first packet's pts)
    spf = 1152 if rate >= 32_000 else 576
    assert s.index.first_samples.tolist() == list(range(0, spf * (s.index.n_frames + 1), spf))
    assert 0 <= s.index.padding < 2 * spf + 1152  # LAME ends with a flush of up to two frames
    decoded = s.full()
    assert decoded.shape == signal.shape and decoded.dtype == np.float32
    for c in range(channels):
        assert lag(signal[:, c], decoded[:, c]) == 0
        assert snr_db(signal[:, c], decoded[:, c]) > 15


def test_encode_refuses_bad_blocks() -> None:
    codec, fmt = Mp3Codec(), AudioFormat(48_000, 2, F32, 32)
    for blocks, words in [
        ([np.zeros((10, 1), np.float32)], "shape"),
        ([np.zeros((10, 2), np.float64)], "float32"),
        ([np.full((10, 2), np.nan, np.float32)], "NaN or infinite sample at sample 0"),
        ([np.zeros((0, 2), np.float32)], "no samples"),
        ([], "no samples"),
    ]:
        with pytest.raises(SourceError, match=words):
            codec.encode(iter(blocks), io.BytesIO(), fmt)


# --------------------------------------------------------------------------- pre-roll and exact windows

#: Streams whose windows are checked: MPEG-1, MPEG-2 and MPEG-2.5; a deep reservoir at low bit rates.
WINDOW_STREAMS = [
    (48_000, 2, None),  # 320 kb/s: the reservoir reaches 1 frame back
    (48_000, 1, 8_000),  # 32 kb/s frames of 96 bytes: about 7 frames back
    (22_050, 1, 8_000),  # MPEG-2: two frames of overlap
    (8_000, 2, None),  # MPEG-2.5
]


@pytest.mark.parametrize(("rate", "channels", "bitrate"), WINDOW_STREAMS)
def test_preroll_rule_gives_exact_windows(rate: int, channels: int, bitrate: int | None) -> None:
    """1000 random windows through FrameIndex.plan equal the full decode; one frame less pre-roll does not."""
    s = encode(Mp3Codec(bitrate), tones(6 * rate, rate, channels, seed=rate), rate)
    info, index, main_data_begin = scan_mp3(s.data)
    reach = reservoir_reach(info, index, main_data_begin)
    overlap = 1 if rate >= 32_000 else 2
    assert s.index.preroll == preroll_frames(info, index, main_data_begin)
    assert int(reach.max()) < s.index.preroll <= overlap + int(reach.max())
    if bitrate is not None:
        assert reach.max() >= 3  # small frames
    reference = s.full()
    ranges = random_windows(s.index.samples, 1000, seed=channels)
    assert exact_windows(s, reference, ranges) == len(ranges)
    short = replace(
        s, index=s.index.with_trim(delay=s.index.delay, padding=s.index.padding, preroll=s.index.preroll - 1)
    )
    assert exact_windows(short, reference, ranges[:200]) < 200


def test_preroll_rule_on_hand_made_reach() -> None:
    """The rule: the overlap frames, and the reservoir reach of every frame the window's first one needs."""
    s = encode(Mp3Codec(16_000), tones(24_000, 24_000, 1), 24_000)  # MPEG-2: overlap 2
    info, index, main_data_begin = scan_mp3(s.data)
    reach = reservoir_reach(info, index, main_data_begin)
    frames = np.arange(index.n_frames)
    expected = max(k - min(j - int(reach[j]) for j in range(max(k - 2, 0), k + 1)) for k in frames.tolist())
    assert preroll_frames(info, index, main_data_begin) == expected
    # No reservoir at all (main_data_begin 0 everywhere): the overlap alone.
    assert preroll_frames(info, index, np.zeros_like(main_data_begin)) == 2
    assert preroll_frames(replace(info, version="1"), index, np.zeros_like(main_data_begin)) == 1


def test_decoder_state_does_not_leak_between_calls() -> None:
    """A reused decoder (flushed) gives what a new decoder gives, also after an error."""
    s = encode(Mp3Codec(32_000), tones(3 * 44_100, 44_100, 2), 44_100)
    frames = s.frames()
    reused = s.decoder()
    rng = np.random.default_rng(4)
    for _ in range(200):
        a = int(rng.integers(0, len(frames) - 1))
        b = int(rng.integers(a + 1, min(len(frames), a + 12) + 1))
        if rng.random() < 0.2:
            with pytest.raises(StreamError):
                reused.decode([frames[a], b"\x00" * 50])
        assert np.array_equal(reused.decode(frames[a:b]), s.decoder().decode(frames[a:b]))


def test_decoder_errors_name_the_frame() -> None:
    s = encode(Mp3Codec(), tones(20_000, 48_000, 2), 48_000)
    frames = s.frames()
    decoder = s.decoder()
    foreign = encode(Mp3Codec(), tones(20_000, 44_100, 2), 44_100).frames()[3]
    mono = encode(Mp3Codec(), tones(20_000, 48_000, 1), 48_000).frames()[3]
    cases = [
        (b"", "is not a valid MP3 frame"),
        (bytes(frames[3])[:40], "cut off|bytes, but its header"),
        (bytes(frames[3]) + b"\0", "bytes, but its header gives a frame of"),
        (foreign, "44100 Hz"),
        (mono, "of 1 channels, not 48000 Hz of 2"),
    ]
    for bad, words in cases:
        with pytest.raises(StreamError, match=words) as caught:
            decoder.decode([frames[0], frames[1], bad])
        assert caught.value.frame == 2
    out = decoder.decode(frames[:3])
    assert out.shape == (3 * 1152, 2) and out.dtype == np.float32 and out.flags.c_contiguous


# --------------------------------------------------------------------------- kept frames of mp3 files


def write_mp3(path: Path, signal: np.ndarray, rate: int, bit_rate: int | None = None, **options: str) -> None:
    """An mp3 file written by PyAV: ID3v2 tag, LAME's frames, a Xing/Info frame unless ``write_xing=0``."""
    write_with_pyav(path, signal, rate, "mp3", "libmp3lame", bit_rate, options=options, title="a wren")


@pytest.mark.parametrize(
    ("rate", "channels", "bit_rate", "options", "delay"),
    [
        (48_000, 2, 192_000, {}, 1105),
        (44_100, 1, 64_000, {"write_xing": "0"}, 0),  # no LAME tag: FFmpeg trims nothing
        (32_000, 1, 32_000, {"write_id3v1": "1"}, 1105),
        (22_050, 2, 48_000, {}, 1105),
        (16_000, 1, 8_000, {"id3v2_version": "3"}, 1105),
        (8_000, 2, 24_000, {"write_id3v1": "1", "write_xing": "0"}, 0),
    ],
)
def test_keep_generated_files(
    tmp_path: Path, rate: int, channels: int, bit_rate: int, options: dict[str, str], delay: int
) -> None:
    """The frames of mp3 files written by PyAV are kept; reads equal PyAV's full decode exactly."""
    path = tmp_path / "x.mp3"
    write_mp3(path, tones(3 * rate + 123, rate, channels), rate, bit_rate, **options)
    s = keep(Mp3Codec(), file_source(path))
    assert s is not None
    reference, _ = decode_with_pyav(path)
    assert len(s.data) == sum(packet_bytes(path)) and s.index.n_frames == len(packet_bytes(path))
    assert s.encoded.delay == delay and s.encoded.decoder_config == {}
    assert s.index.samples == len(reference)
    assert np.array_equal(s.full(), reference)
    ranges = random_windows(s.index.samples, 1000 if rate == 48_000 else 200, seed=rate)
    assert exact_windows(s, reference, ranges) == len(ranges)


def test_keep_refuses_what_it_cannot_keep(tmp_path: Path) -> None:
    signal = tones(44_100, 44_100, 1, seed=1)
    codec = Mp3Codec()
    # Not mp3: AAC in an m4a, MPEG audio Layer II.
    for name, fmt, encoder in [("x.m4a", "ipod", "aac"), ("x.mp2", "mp2", "mp2")]:
        path = tmp_path / name
        write_with_pyav(path, signal, 44_100, fmt, encoder)
        assert keep(codec, file_source(path)) is None
    # A stream cut out of a longer one: its first frame's main data lies in a frame that is not there.
    whole = tmp_path / "whole.mp3"
    write_mp3(whole, signal, 44_100, 64_000, write_xing="0")
    data = whole.read_bytes()
    _, index, _ = scan_mp3(data[data.index(b"\xff\xfb") :])
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[data.index(b"\xff\xfb") + int(index.offsets[5]) :])
    assert keep(codec, file_source(cut)) is None
    # An array, and a source whose rate or channels PyAV reports otherwise.
    source = file_source(whole)
    assert (
        keep(codec, cast(Source, SimpleNamespace(path=None, format=source.format, stream_index=None))) is None
    )
    fmt = SimpleNamespace(**{**vars(source.format), "samplerate": 48_000})
    assert keep(codec, cast(Source, SimpleNamespace(path=whole, format=fmt, stream_index=0))) is None
    with pytest.raises(SourceError):
        codec.keep(
            cast(
                Source, SimpleNamespace(path=tmp_path / "missing.mp3", format=source.format, stream_index=0)
            ),
            io.BytesIO(),
        )


def test_keep_through_the_archive(tmp_path: Path) -> None:
    """codec="auto" keeps a generated mp3 file's frames; reads equal PyAV's decode."""
    path = tmp_path / "x.mp3"
    write_mp3(path, tones(2 * 48_000 + 5, 48_000, 2), 48_000, 128_000)
    rec = wildzarr.open(tmp_path / "a.zarr").add(path)
    info = rec.info
    assert info.codec["id"] == "mp3" and info.lossy and info.dtype == F32
    assert info.codec_choice is not None and "kept as they are (mp3)" in info.codec_choice
    assert info.stored_bytes == sum(packet_bytes(path))
    reference, _ = decode_with_pyav(path)
    assert info.samples == len(reference)
    assert np.array_equal(rec.read(), reference)
    rng = np.random.default_rng(2)
    for _ in range(100):
        start = int(rng.integers(0, len(reference)))
        stop = int(rng.integers(start + 1, min(len(reference), start + 20_000) + 1))
        assert np.array_equal(rec.read(start, stop), reference[start:stop])


def test_encode_through_the_archive(tmp_path: Path) -> None:
    """codec="mp3" encodes PCM; windows equal the whole read."""
    rng = np.random.default_rng(3)
    data = (tones(50_000, 22_050, 2) * 32767).astype(np.int16)
    rec = wildzarr.open(tmp_path / "a.zarr").add(data, samplerate=22_050, codec="mp3", bitrate=32_000)
    assert rec.info.codec == {"id": "mp3", "bitrate": 32_000} and rec.info.lossy
    whole = rec.read()
    assert whole.shape == (50_000, 2) and whole.dtype == np.float32
    assert snr_db(data / 32768, whole) > 10
    for _ in range(100):
        start = int(rng.integers(0, 50_000))
        stop = int(rng.integers(start + 1, min(50_000, start + 9_000) + 1))
        assert np.array_equal(rec.read(start, stop), whole[start:stop])


# --------------------------------------------------------------------------- the corpus recording


def test_corpus_mp3_is_kept_exactly(corpus_dir: Path) -> None:
    """The real 72 s MP3: frames kept (99.97% of its audio bytes), reads equal PyAV's full decode."""
    path = corpus_dir / CORPUS_MP3
    s = keep(Mp3Codec(), file_source(path))
    assert s is not None
    audio_bytes = sum(packet_bytes(path)) + 960  # the frames and the Xing/Info frame FFmpeg consumes
    assert abs(len(s.data) - audio_bytes) <= 0.02 * audio_bytes
    assert (s.index.n_frames, len(s.data)) == (3001, 3001 * 960)
    assert (s.encoded.delay, s.index.padding, s.index.preroll) == (1105, 868, 2)  # LAME tag 576 / 1397
    reference, _ = decode_with_pyav(path)
    assert s.index.samples == len(reference) == 3_455_179
    assert np.array_equal(s.full(), reference)
    ranges = random_windows(s.index.samples, 1000, seed=7)
    assert exact_windows(s, reference, ranges) == len(ranges)


def test_corpus_mp3_through_the_archive(tmp_path: Path, corpus_dir: Path) -> None:
    path = corpus_dir / CORPUS_MP3
    rec = wildzarr.open(tmp_path / "a.zarr").add(path)
    info = rec.info
    assert info.codec["id"] == "mp3" and info.lossy and info.source.codec == "mp3"
    assert info.stored_bytes == 3001 * 960
    reference, _ = decode_with_pyav(path)
    got = rec.read()
    assert got.dtype == reference.dtype and np.array_equal(got, reference)
    rng = np.random.default_rng(8)
    for _ in range(300):
        start = int(rng.integers(0, len(reference)))
        stop = int(rng.integers(start + 1, min(len(reference), start + 20_000) + 1))
        assert rec.read(start, stop).tobytes() == reference[start:stop].tobytes()
