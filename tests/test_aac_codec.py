"""AAC-LC codec: encoding to ADTS, scanning, exact windows, full-band channels, time expansion, kept frames.

The shared contract checks run in ``tests/test_codecs.py`` (``codec_checks.CODEC_CASES``); this module tests
what is particular to AAC. Helpers it shares with ``tests/test_mp3_codec.py`` (test signals, lag and SNR,
random windows, encoding and keeping as the importer does, files written by PyAV) are in ``codec_checks.py``.
Tests on real recordings skip when the corpus (``../shared/audio``) is absent.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import av
import numpy as np
import pytest
import soundfile as sf
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

from wildzarr.audio import AudioFormat, convert
from wildzarr.codecs import AacCodec, Encoded, get_codec
from wildzarr.codecs.aac_frames import AacFrameDecoder
from wildzarr.codecs.aac_syntax import ADTS_SAMPLERATES, adts_header
from wildzarr.errors import ArgumentError, SourceError, StreamError, UnsupportedSourceError
from wildzarr.index import FrameIndex
from wildzarr.scan.adts import scan_adts
from wildzarr.sources.base import Source

F32 = "float32"


def stored(samplerate: int, channels: int) -> AudioFormat:
    return AudioFormat(samplerate, channels, F32, 32)


@dataclass
class Stored:
    """A stream as the importer stores it: bytes, trimmed index, decoder config."""

    codec: AacCodec
    fmt: AudioFormat
    data: bytes
    encoded: Encoded
    index: FrameIndex
    config: dict[str, Any]

    def frames(self, first: int = 0, stop: int | None = None) -> list[memoryview]:
        view = memoryview(self.data)
        bounds = self.index.offsets.tolist()
        return [
            view[bounds[k] : bounds[k + 1]]
            for k in range(first, self.index.n_frames if stop is None else stop)
        ]

    def decoder(self) -> AacFrameDecoder:
        codec = get_codec(json.loads(json.dumps(self.codec.get_config())))
        return cast(AacCodec, codec).decoder(self.fmt, json.loads(json.dumps(self.config)))

    def full(self) -> np.ndarray:
        """The whole stream decoded in one call, delay and padding trimmed."""
        return self.decoder().decode(self.frames())[self.index.delay : self.index.delay + self.index.samples]

    def read(self, start: int, stop: int, decoder: AacFrameDecoder) -> np.ndarray:
        out = np.empty((stop - start, self.fmt.channels), dtype=np.float32)
        for span in self.index.plan(start, stop):
            decoded = decoder.decode(self.frames(span.lead, span.stop))
            out[span.out : span.out + span.count] = decoded[span.skip : span.skip + span.count]
        return out


def index_stream(codec: AacCodec, fmt: AudioFormat, data: bytes, encoded: Encoded) -> Stored:
    """Scan and trim as the importer does."""
    index, scanned = importer_index(codec, fmt, data, encoded)
    return Stored(codec, fmt, data, encoded, index, scanned.decoder_config)


def encode(codec: AacCodec, signal: np.ndarray, samplerate: int) -> Stored:
    return index_stream(codec, *encode_blocks(codec, signal, samplerate))


def keep(codec: AacCodec, source: Source) -> Stored | None:
    kept = keep_frames(codec, source)
    return None if kept is None else index_stream(codec, *kept)


def tone_level_db(x: np.ndarray, samplerate: int, frequency: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = round(frequency * len(x) / samplerate)
    return float(20 * np.log10(spectrum[k - 3 : k + 4].max()))


def check_windows(
    stored_stream: Stored, reference: np.ndarray, count: int, seed: int, longest: int = 20_000
) -> None:
    """``count`` random windows (and both ends, and the whole) read through the index equal ``reference``
    exactly, all with one decoder: its state must not matter."""
    decoder = stored_stream.decoder()
    windows = random_windows(stored_stream.index.samples, count, seed, longest)
    exact = sum(np.array_equal(stored_stream.read(a, b, decoder), reference[a:b]) for a, b in windows)
    assert exact == len(windows)


# --------------------------------------------------------------------------- parameters and formats


def test_parameters_and_config() -> None:
    codec = AacCodec()
    assert (codec.bitrate, codec.stored_samplerate, codec.keep_pns) == (None, None, False)
    assert codec.lossy and codec.frame_checksums and codec.max_channels == 8 and codec.preroll == 1
    assert codec.channel_bitrate(48_000) == 128_000 and codec.channel_bitrate(44_100) == 128_000
    assert codec.channel_bitrate(96_000) == 256_000
    assert codec.channel_bitrate(8_000) == 48_000  # AAC's 6144 bits per channel and frame
    assert AacCodec(bitrate=96_000).channel_bitrate(96_000) == 96_000
    for c in (codec, AacCodec(bitrate=200_000, stored_samplerate=96_000, keep_pns=True)):
        config = json.loads(json.dumps(c.get_config()))
        assert config["id"] == "aac" and get_codec(config) == c
    assert get_codec("aac", bitrate=64_000) == AacCodec(bitrate=64_000)
    assert "128 kb/s" in codec.describe_choice()
    assert "stored at 96000 Hz" in AacCodec(stored_samplerate=96_000).describe_choice()


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"bitrate": 8_000}, "bitrate must be from 16,000 to 576,000"),
        ({"bitrate": 1_000_000}, "bitrate must be from 16,000 to 576,000"),
        ({"bitrate": 128_000.0}, "bitrate must be an integer"),
        ({"bitrate": True}, "bitrate must be an integer"),
        ({"stored_samplerate": 50_000}, "must be an ADTS sample rate"),
        ({"stored_samplerate": 192_000}, "must be from 7,350 to 96,000"),
        ({"stored_samplerate": "96000"}, "must be an integer"),
        ({"keep_pns": 1}, "keep_pns must be True or False"),
    ],
)
def test_bad_parameters(params: dict[str, Any], reason: str) -> None:
    with pytest.raises(ArgumentError, match=reason):
        AacCodec(**params)
    with pytest.raises(ArgumentError, match=reason):
        get_codec("aac", **params)


def test_check_formats() -> None:
    codec = AacCodec()
    for rate in ADTS_SAMPLERATES:
        for channels in (1, 2, 6, 8):
            for dtype, bits in (("int16", 16), ("int32", 24), ("float64", 64), ("uint8", 8)):
                assert codec.check(AudioFormat(rate, channels, dtype, bits)) == stored(rate, channels)
    with pytest.raises(UnsupportedSourceError, match="1 to 8 channels; this source has 9"):
        codec.check(stored(48_000, 9))
    with pytest.raises(UnsupportedSourceError, match=r"this source has 50,000 Hz.*stored_samplerate"):
        codec.check(stored(50_000, 1))
    with pytest.raises(UnsupportedSourceError, match="this source has 192,000 Hz"):
        codec.check(AudioFormat(192_000, 2, "int16", 16))
    expanded = AacCodec(stored_samplerate=96_000)
    assert expanded.check(AudioFormat(500_000, 1, "int16", 16)) == stored(500_000, 1)
    assert expanded.declared_samplerate(stored(500_000, 1)) == 96_000


def test_encode_refuses_bad_blocks() -> None:
    codec = AacCodec()
    fmt = stored(48_000, 2)
    good = tones(2048, 48_000, 2)
    for bad, reason in [
        (
            np.where(np.arange(2048)[:, None] == 1500, np.nan, good).astype(np.float32),
            "NaN or infinite sample at sample 2500",
        ),
        (np.where(np.arange(2048)[:, None] == 7, np.inf, good).astype(np.float32), "at sample 1007"),
        (good.astype(np.float64), "must be float32"),
        (good[:, :1].copy(), r"shape \(n, 2\)"),
        (good.ravel(), r"shape \(n, 2\)"),
    ]:
        with pytest.raises(SourceError, match=reason):
            codec.encode([good[:1000], bad], io.BytesIO(), fmt)
    with pytest.raises(SourceError, match="no samples"):
        codec.encode([good[:0]], io.BytesIO(), fmt)
    with pytest.raises(ArgumentError, match="encodes float32 samples"):
        codec.encode([good], io.BytesIO(), AudioFormat(48_000, 2, "int16", 16))
    with pytest.raises(UnsupportedSourceError):
        codec.encode([good], io.BytesIO(), stored(50_000, 2))


# --------------------------------------------------------------------------- encode, scan, decode


@pytest.mark.parametrize("channels", [1, 2, 6, 8])
@pytest.mark.parametrize("samplerate", [8_000, 44_100, 96_000])
def test_round_trip(samplerate: int, channels: int) -> None:
    n = samplerate // 2 + 777
    signal = tones(n, samplerate, channels, seed=channels)
    s = encode(AacCodec(), signal, samplerate)
    frames = -(-(n + 1024) // 1024)
    assert s.encoded.delay == 1024
    assert s.index.n_frames == frames and s.index.decoded == frames * 1024
    assert s.index.padding == frames * 1024 - 1024 - n
    assert s.config == {"framing": "adts"}
    info, _ = scan_adts(s.data)
    assert info.samplerate == samplerate and info.frames == frames and not info.protected
    assert info.channel_configuration == (channels if channels <= 5 else 0)
    decoded = s.full()
    assert decoded.shape == (n, channels) and decoded.dtype == np.float32 and decoded.flags.c_contiguous
    for c in range(channels):
        assert lag(signal[:, c], decoded[:, c]) == 0
        assert snr_db(signal[:, c], decoded[:, c]) > 15
        # each channel holds its own tone: channel order is kept
        levels = [tone_level_db(decoded[:, c], samplerate, 300 + 200 * k) for k in range(channels)]
        assert int(np.argmax(levels)) == c


@pytest.mark.parametrize("channels", [1, 2, 6, 8])
def test_every_channel_keeps_full_band(channels: int) -> None:
    """A 15 kHz tone survives in every channel (no LFE channel low-passed, no 16 kHz automatic cutoff)."""
    signal = tones(48_000, 48_000, channels, high=15_000)
    decoded = encode(AacCodec(), signal, 48_000).full()
    for c in range(channels):
        change = tone_level_db(decoded[:, c], 48_000, 15_000) - tone_level_db(signal[:, c], 48_000, 15_000)
        assert abs(change) < 1, (c, change)


@pytest.mark.parametrize("channels", [6, 7, 8])
def test_frames_without_channel_configuration_carry_their_pce(channels: int) -> None:
    """Frames of channel configuration 0 each start with a program_config_element and decode on their own."""
    s = encode(AacCodec(), tones(20_000, 48_000, channels), 48_000)
    frames = s.frames()
    pce = {bytes(f[7:16]) for f in frames}
    assert (
        len(pce) == 1 and next(iter(pce))[0] >> 5 == 5
    )  # id_syn_ele ID_PCE, 9 bytes, the same in every frame
    alone = av.CodecContext.create("aac", "r")  # no AudioSpecificConfig: only what the frame says
    for frame in frames[3:6]:
        alone.flush_buffers()
        (decoded,) = alone.decode(av.Packet(bytes(frame)))
        assert decoded.samples == 1024 and decoded.layout.nb_channels == channels
    # A standard ADTS demuxer reads the stream as a file, to the same samples.
    with av.open(io.BytesIO(s.data), format="aac") as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.channels == channels
        assert sum(f.samples for f in container.decode(stream)) == s.index.decoded


def test_adts_header_fields() -> None:
    header = adts_header(100, ADTS_SAMPLERATES.index(44_100), 2)
    assert header.hex() == "fff15080" + format(107 >> 3, "02x") + format((107 & 7) << 5 | 0x1F, "02x") + "fc"
    with pytest.raises(StreamError, match="exceeds ADTS's 8191"):
        adts_header(8185, 3, 2)


@pytest.mark.parametrize("channels", [1, 2, 6, 8])
def test_random_windows_are_exact(channels: int) -> None:
    """Random windows through the index, with one frame of pre-roll, equal the full decode bit for bit."""
    s = encode(AacCodec(), tones(3 * 44_100, 44_100, channels, seed=5), 44_100)
    check_windows(s, s.full(), 1000, seed=channels)


def test_windows_need_the_preroll_frame() -> None:
    s = encode(AacCodec(), tones(2 * 48_000, 48_000, 2, seed=2), 48_000)
    reference, decoder = s.full(), s.decoder()
    bounds = s.index.first_samples
    # Frame 10 alone, without its predecessor, differs from the full decode; with it, it is exact.
    a, b = int(bounds[10]) - s.index.delay, int(bounds[11]) - s.index.delay
    alone = decoder.decode(s.frames(10, 11))
    with_preroll = decoder.decode(s.frames(9, 11))[1024:]
    assert not np.array_equal(alone, reference[a:b])
    assert np.array_equal(with_preroll, reference[a:b])


@pytest.mark.parametrize("channels", [1, 2, 8])
def test_decoder_is_independent_of_earlier_calls(channels: int) -> None:
    """Every frame of a call, the first too, decodes as in a new decoder (a flush keeps window shapes)."""
    s = encode(AacCodec(), tones(48_000, 48_000, channels, seed=3), 48_000)
    used = s.decoder()
    used.decode(s.frames(0, 30))
    for first in (20, 0, 7):
        assert np.array_equal(
            used.decode(s.frames(first, first + 4)), s.decoder().decode(s.frames(first, first + 4))
        )


def test_decoders_in_threads_agree() -> None:
    s = encode(AacCodec(), tones(3 * 48_000, 48_000, 8, seed=4), 48_000)
    expected = s.decoder().decode(s.frames())
    results: list[np.ndarray] = []

    def work() -> None:
        decoder = s.decoder()
        results.extend(decoder.decode(s.frames()) for _ in range(3))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and all(np.array_equal(r, expected) for r in results)


def test_decode_errors_name_the_frame() -> None:
    s = encode(AacCodec(), tones(20_000, 48_000, 2), 48_000)
    frames = s.frames()
    decoder = s.decoder()
    for bad, reason in [
        (b"", "is empty"),
        (bytes(frames[3])[:9], "does not decode as AAC"),
        (b"\xff\xf1" + bytes(100), "does not decode as AAC"),
    ]:
        with pytest.raises(StreamError, match=reason) as caught:
            decoder.decode([frames[2], frames[3], bad])
        assert caught.value.frame == 2
    mono = encode(AacCodec(), tones(20_000, 48_000, 1), 48_000)
    with pytest.raises(StreamError, match="decodes to 1024 samples of 1 channels, not 1024 of 2") as caught:
        decoder.decode(mono.frames(0, 2))
    assert caught.value.frame == 0
    # still usable
    assert np.array_equal(decoder.decode(frames[4:6]), s.decoder().decode(frames[4:6]))


def test_scan_errors() -> None:
    codec = AacCodec()
    s = encode(codec, tones(20_000, 48_000, 2), 48_000)
    with pytest.raises(StreamError):
        codec.scan(s.data, stored(44_100, 2), s.encoded)  # another declared rate
    with pytest.raises(StreamError, match="holds 2 channels, not 1"):
        codec.scan(s.data, stored(48_000, 1), s.encoded)
    with pytest.raises(StreamError):
        codec.scan(s.data[:-5], s.fmt, s.encoded)
    with pytest.raises(StreamError, match="'framing' 'adts' or 'raw'"):
        codec.scan(s.data, s.fmt, Encoded(samples=1, decoder_config={"framing": "latm"}))
    with pytest.raises(StreamError, match="'framing' 'adts' or 'raw'"):
        codec.decoder(s.fmt, {})
    with pytest.raises(StreamError, match="'asc'"):
        codec.decoder(s.fmt, {"framing": "raw", "asc": "zz"})


# --------------------------------------------------------------------------- real recordings


@pytest.mark.parametrize(
    ("name", "seconds", "min_snr"),
    [("insect_cicada_Diceroprocta_48k.wav", 4, 17), ("bird_storm_petrel_XC663885_stereo.wav", 6, 22)],
)
def test_real_recordings(corpus_dir: Path, name: str, seconds: int, min_snr: float) -> None:
    """Lag 0 against the source, the round trip's SNR, and 1,000 exact random windows."""
    signal, rate = sf.read(corpus_dir / name, dtype="int16", always_2d=True)
    signal = signal[: seconds * rate]
    fmt = AudioFormat(rate, signal.shape[1], "int16", 16)
    floats = convert(signal, fmt, stored(rate, signal.shape[1]))
    s = encode(AacCodec(), floats, rate)
    decoded = s.full()
    for c in range(signal.shape[1]):
        assert lag(floats[:, c], decoded[:, c]) == 0
        assert snr_db(floats[:, c], decoded[:, c]) > min_snr
    check_windows(s, decoded, 1000, seed=11)


# --------------------------------------------------------------------------- time expansion


def test_time_expansion_round_trip() -> None:
    """250 kHz audio declared at 96 kHz: samples one to one, a 100 kHz true tone survives."""
    rate, n = 250_000, 250_000
    t = np.arange(n) / rate
    chirp = 0.3 * np.sin(2 * np.pi * (20_000 * t + 40_000 * t**2))  # 20 -> 100 kHz
    signal = np.stack([chirp + 0.2 * np.sin(2 * np.pi * 100_000 * t)], axis=1).astype(np.float32)
    codec = AacCodec(stored_samplerate=96_000)
    s = encode(codec, signal, rate)
    assert s.fmt == stored(250_000, 1)
    info, _ = scan_adts(s.data)
    assert info.samplerate == 96_000
    decoded = s.full()
    assert decoded.shape == signal.shape and lag(signal[:, 0], decoded[:, 0]) == 0
    assert snr_db(signal[:, 0], decoded[:, 0]) > 20
    change = tone_level_db(decoded[:, 0], rate, 100_000) - tone_level_db(signal[:, 0], rate, 100_000)
    assert abs(change) < 1
    check_windows(s, decoded, 200, seed=3)
    with pytest.raises(StreamError):
        AacCodec().scan(s.data, s.fmt, s.encoded)  # without time expansion the stream's rate is wrong


def test_time_expansion_of_a_bat_recording(corpus_dir: Path) -> None:
    """500 kHz bat calls declared at 96 kHz: every 10 kHz band up to 250 kHz keeps its energy within 3 dB."""
    signal, rate = sf.read(corpus_dir / "bat_myotis_500k.wav", dtype="float32", always_2d=True)
    s = encode(AacCodec(stored_samplerate=96_000), np.ascontiguousarray(signal), rate)
    decoded = s.full()[:, 0].astype(np.float64)
    source = signal[:, 0].astype(np.float64)
    assert lag(source, decoded) == 0
    frequencies = np.fft.rfftfreq(len(source), 1 / rate)
    spectrum_in, spectrum_out = np.abs(np.fft.rfft(source)) ** 2, np.abs(np.fft.rfft(decoded)) ** 2
    for low in range(0, 250_000, 10_000):
        band = (frequencies >= low) & (frequencies < low + 10_000)
        ratio = 10 * np.log10(spectrum_out[band].sum() / spectrum_in[band].sum())
        assert abs(ratio) < 3, (low, ratio)


# --------------------------------------------------------------------------- kept AAC frames


def write_file(
    path: Path, signal: np.ndarray, rate: int, fmt: str, codec: str = "aac", **options: str
) -> None:
    """Write ``signal`` (float32) with PyAV: AAC in an m4a, mp4, mkv or ADTS file (``fmt``), or mp3."""
    write_with_pyav(path, signal, rate, fmt, codec, bit_rate=64_000 * signal.shape[1], codec_options=options)


def pyav_decode(path: Path) -> np.ndarray:
    """PyAV's full decode of the file's first audio stream: float32 ``(n, channels)``."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return np.concatenate([f.to_ndarray().T for f in container.decode(stream)]).astype(np.float32)


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("ipod", "m4a"), ("mp4", "mp4"), ("matroska", "mkv"), ("adts", "aac")]
)
@pytest.mark.parametrize("channels", [1, 2])
def test_keep_generated_files(tmp_path: Path, fmt: str, suffix: str, channels: int) -> None:
    """Frames of an m4a/mp4/mkv/ADTS file written by PyAV are kept; reads equal PyAV's full decode exactly."""
    path = tmp_path / f"x.{suffix}"
    write_file(path, tones(3 * 44_100 + 123, 44_100, channels), 44_100, fmt, aac_pns="0")
    s = keep(AacCodec(), file_source(path))
    assert s is not None
    reference = pyav_decode(path)
    assert len(s.data) == sum(packet_bytes(path))
    if suffix == "aac":
        assert s.config == {"framing": "adts"} and s.encoded.frame_bytes is None
        assert s.encoded.delay == 0  # ADTS records no priming and PyAV trims none
    else:
        assert s.config["framing"] == "raw" and s.config["asc"].startswith("1")  # object type 2: 0b00010...
        assert s.encoded.delay == 1024 and s.encoded.frame_bytes is not None
        assert s.index.n_frames == len(packet_bytes(path))
    assert s.index.samples == len(reference)
    assert np.array_equal(s.full(), reference)
    check_windows(s, reference, 1000, seed=channels)


def test_keep_refuses_what_it_cannot_keep(tmp_path: Path) -> None:
    signal = tones(44_100, 44_100, 1, seed=1)
    mp3 = tmp_path / "x.mp3"
    write_file(mp3, signal, 44_100, "mp3", codec="libmp3lame")
    assert keep(AacCodec(), file_source(mp3)) is None
    six = tmp_path / "six.aac"  # channel configuration 0, the PCE in the first frame only
    write_file(six, tones(44_100, 44_100, 6), 44_100, "adts", aac_pns="0")
    assert keep(AacCodec(), file_source(six)) is None
    m4a = tmp_path / "x.m4a"
    write_file(m4a, signal, 44_100, "ipod", aac_pns="0")
    assert keep(AacCodec(stored_samplerate=48_000), file_source(m4a)) is None
    assert keep(AacCodec(stored_samplerate=44_100), file_source(m4a)) is not None
    array_source = cast(Source, SimpleNamespace(path=None, format=file_source(m4a).format, stream_index=None))
    assert keep(AacCodec(), array_source) is None


def noisy(n: int, rate: int) -> np.ndarray:
    rng = np.random.default_rng(9)
    return (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / rate) + 0.05 * rng.standard_normal(n))[
        :, None
    ].astype(np.float32)


def test_keep_pns(tmp_path: Path) -> None:
    """Noise-substituted frames make windows inexact: not kept by default, kept with keep_pns."""
    path = tmp_path / "pns.m4a"
    write_file(path, noisy(2 * 44_100, 44_100), 44_100, "ipod")  # FFmpeg's default: aac_pns=1
    assert keep(AacCodec(), file_source(path)) is None
    s = keep(AacCodec(keep_pns=True), file_source(path))
    assert s is not None
    reference = pyav_decode(path)
    assert np.array_equal(s.full(), reference)
    decoder = s.decoder()
    n = s.index.samples
    windows = [s.read(a, min(n, a + 5000), decoder) - reference[a : a + 5000] for a in range(0, n, 5000)]
    assert not all(np.array_equal(d, 0 * d) for d in windows)  # some noise differs ...
    difference = np.sqrt(np.mean(np.concatenate(windows) ** 2))
    assert difference < 0.05  # ... at the level of the source's noise (RMS 0.05)


def test_scan_of_raw_frames(tmp_path: Path) -> None:
    path = tmp_path / "x.m4a"
    write_file(path, tones(44_100, 44_100, 2), 44_100, "ipod", aac_pns="0")
    codec = AacCodec()
    out = io.BytesIO()
    encoded = codec.keep(file_source(path), out)
    assert encoded is not None and encoded.frame_bytes is not None
    data, sizes, fmt = out.getvalue(), encoded.frame_bytes, stored(44_100, 2)

    def with_(**changes: Any) -> Encoded:
        return Encoded(**{**encoded.__dict__, **changes})

    for bad, reason in [
        (with_(frame_bytes=None), "needs the length of every frame"),
        (with_(frame_bytes=sizes[:-1]), "do not cut"),
        (with_(frame_bytes=np.concatenate([sizes[:-2], [0, sizes[-2] + sizes[-1]]])), "do not cut"),
        (with_(decoder_config={"framing": "raw", "asc": "2b0856e500"}), "audio object type 5"),
        (with_(decoder_config={"framing": "raw", "asc": "1188"}), "declares 48000 Hz, not 44100"),
    ]:
        with pytest.raises(StreamError, match=reason):
            codec.scan(data, fmt, bad)
    swapped = bytearray(data)
    a, b = int(sizes[0]), int(sizes[0] + sizes[1])
    swapped[a:b] = bytes(b - a)
    with pytest.raises(StreamError, match="AAC frame 1: ") as caught:
        codec.scan(bytes(swapped), fmt, encoded)
    assert caught.value.frame == 1 and caught.value.offset == a
    with pytest.raises(StreamError, match="channels"):
        codec.scan(data, stored(44_100, 1), encoded)


@pytest.mark.parametrize(
    "name", ["whale_humpback_song_sanctsound_aac_remux.m4a", "whale_humpback_song_sanctsound_video.mp4"]
)
def test_keep_corpus_files(corpus_dir: Path, name: str) -> None:
    """The corpus m4a and mp4 use noise substitution (FFmpeg 4.2's defaults): kept only with keep_pns.

    Kept, they are stored in exactly their audio bytes (529,091 in 2,626 access units); the full decode equals
    PyAV's; windows equal it exactly wherever their frames use no noise substitution.
    """
    path = corpus_dir / name
    source = file_source(path)
    assert keep(AacCodec(), source) is None
    s = keep(AacCodec(keep_pns=True), source)
    assert s is not None and s.config == {"framing": "raw", "asc": "120856e500"}
    sizes = packet_bytes(path)
    assert (len(sizes), sum(sizes)) == (2626, 529_091)
    assert len(s.data) == sum(sizes) and abs(len(s.data) / sum(sizes) - 1) <= 0.02
    reference = pyav_decode(path)
    assert (s.encoded.delay, s.index.padding, s.index.samples) == (1024, 0, len(reference))
    assert np.array_equal(s.full(), reference)
    # Frames whose decode after one frame of pre-roll differs from the full decode's: noise substitution.
    decoder, frames = s.decoder(), s.frames()
    plain = decoder.decode(frames)
    noisy_frames = {
        k
        for k in range(len(frames))
        if not np.array_equal(
            decoder.decode(frames[max(k - 1, 0) : k + 1])[-1024:], plain[k * 1024 : (k + 1) * 1024]
        )
    }
    assert 0 < len(noisy_frames) < len(frames) // 5
    rng = np.random.default_rng(4)
    n, tested = s.index.samples, 0
    for _ in range(1000):
        start = int(rng.integers(0, n))
        stop = int(rng.integers(start + 1, min(n, start + 5000) + 1))
        spans = s.index.plan(start, stop)
        if noisy_frames.isdisjoint(itertools.chain.from_iterable(range(p.lead, p.stop) for p in spans)):
            assert np.array_equal(s.read(start, stop, decoder), reference[start:stop])
            tested += 1
    assert tested > 300
