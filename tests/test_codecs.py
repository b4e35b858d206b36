"""Codec tests: the shared checks on every registered codec, the registry, and FLAC specifics."""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyflac
import pytest
import soundfile as sf
from codec_checks import (
    CODEC_CASES,
    CodecCase,
    check_config_round_trip,
    check_corrupt_streams,
    check_random_windows,
    check_round_trip,
    check_streaming,
    irregular_blocks,
    make_audio,
    make_signal,
    pcm,
)
from pyflac._encoder import lib as libflac

from wildzarr.audio import AudioFormat
from wildzarr.codecs import Codec, Encoded, FlacCodec, FrameDecoder, codec_ids, get_codec, register_codec
from wildzarr.codecs import registry as registry_module
from wildzarr.codecs.flac import _Sink, _start_encoder, is_streamable_subset
from wildzarr.errors import ArgumentError, SourceError, StreamError, UnsupportedSourceError
from wildzarr.index import FrameIndex
from wildzarr.scan.flac import parse_streaminfo

# --------------------------------------------------------------------------- shared checks


@pytest.mark.parametrize("case", CODEC_CASES, ids=str)
def test_round_trip(case: CodecCase) -> None:
    for fmt in case.formats:
        check_round_trip(case, make_audio(fmt, 30_000), fmt)


@pytest.mark.parametrize("case", CODEC_CASES, ids=str)
def test_random_windows(case: CodecCase) -> None:
    for fmt in case.formats:
        check_random_windows(case, make_audio(fmt, 60_000, seed=3), fmt)


@pytest.mark.parametrize("case", CODEC_CASES, ids=str)
def test_encode_streams(case: CodecCase) -> None:
    check_streaming(case.codec, case.formats[0])


@pytest.mark.parametrize("case", CODEC_CASES, ids=str)
def test_config_round_trip(case: CodecCase) -> None:
    check_config_round_trip(case.codec)


@pytest.mark.parametrize("case", CODEC_CASES, ids=str)
def test_corrupt_bytes_raise_stream_error(case: CodecCase) -> None:
    check_corrupt_streams(case, case.formats[0])


#: Bit depth of the soundfile subtypes the corpus test reads as integers.
PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


@pytest.mark.parametrize("case", CODEC_CASES, ids=str)
def test_corpus_recordings(case: CodecCase, corpus_dir: Path) -> None:
    """Every PCM recording of the corpus the codec accepts: round trip and windows (exact if lossless)."""
    tested = 0
    for path in sorted(corpus_dir.iterdir()):
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError):
            continue  # not a soundfile format (m4a, mp4, text)
        bits = PCM_BITS.get(info.subtype)
        if info.subtype == "FLOAT":
            signal, samplerate = sf.read(str(path), dtype="float32", always_2d=True)
            fmt = AudioFormat(samplerate, signal.shape[1], "float32", 32)
        elif bits is not None:
            data, samplerate = sf.read(str(path), dtype="int32", always_2d=True)
            signal = (data >> (32 - bits)).astype(np.int16 if bits <= 16 else np.int32)
            fmt = pcm(samplerate, signal.shape[1], bits)
        else:
            continue
        try:
            case.codec.check(fmt)
        except UnsupportedSourceError:
            continue
        signal = signal[: 20 * samplerate]  # the first 20 s keep the test short
        check_round_trip(case, signal, fmt)
        check_random_windows(case, signal, fmt, windows=10)
        tested += 1
    assert tested > 0


def test_every_registered_codec_has_a_case() -> None:
    assert set(codec_ids()) == {case.codec.codec_id for case in CODEC_CASES}


# --------------------------------------------------------------------------- registry


def test_get_codec_by_id_config_and_params() -> None:
    assert get_codec("flac") == FlacCodec()
    assert get_codec("flac", blocksize=1024) == FlacCodec(blocksize=1024)
    config = {"id": "flac", "compression_level": 8, "blocksize": 2048}
    assert get_codec(config) == FlacCodec(8, 2048)
    assert get_codec(config, blocksize=512) == FlacCodec(8, 512)
    assert "flac" in codec_ids()


def test_get_codec_unknown_id_names_it_and_lists_known_ids() -> None:
    with pytest.raises(ArgumentError, match=r"unknown codec id 'nope'; known ids: .*'flac'"):
        get_codec("nope")
    with pytest.raises(ValueError, match="'nope'"):
        get_codec({"id": "nope"})


@pytest.mark.parametrize(
    "arg, params",
    [({"blocksize": 1024}, {}), ("flac", {"bogus": 1}), ({"id": "flac", "blocksize": 3}, {}), (42, {})],
)
def test_get_codec_bad_arguments(arg: Any, params: dict[str, Any]) -> None:
    with pytest.raises(ArgumentError):
        get_codec(arg, **params)


def test_register_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "_CODECS", dict(registry_module._CODECS))

    class Dummy(FlacCodec):
        codec_id = "dummy"

    assert register_codec(Dummy) is Dummy
    register_codec(Dummy)  # again: no-op
    assert isinstance(get_codec("dummy"), Dummy) and "dummy" in codec_ids()

    class Impostor(FlacCodec):
        codec_id = "flac"

    with pytest.raises(ValueError, match="already registered"):
        register_codec(Impostor)
    with pytest.raises(TypeError):
        register_codec(dict)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- FLAC helpers


def streaminfo(stream: bytes) -> dict[str, Any]:
    """Parse STREAMINFO independently of the scanner (RFC 9639 sections 6, 8.1, 8.2)."""
    assert stream[:4] == b"fLaC"
    assert stream[4] & 0x7F == 0 and int.from_bytes(stream[5:8], "big") == 34
    body = stream[8:42]
    fields = int.from_bytes(body[10:18], "big")
    return {
        "min_blocksize": int.from_bytes(body[0:2], "big"),
        "max_blocksize": int.from_bytes(body[2:4], "big"),
        "samplerate": fields >> 44,
        "channels": ((fields >> 41) & 7) + 1,
        "bits": ((fields >> 36) & 31) + 1,
        "total_samples": fields & ((1 << 36) - 1),
        "md5": body[18:34].hex(),
    }


def flac_md5(signal: np.ndarray, bits: int) -> str:
    """MD5 of the samples as FLAC defines it: interleaved, signed little-endian, ceil(bits/8) bytes each."""
    width = (bits + 7) // 8
    return hashlib.md5(signal.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :width].tobytes()).hexdigest()


@dataclass(frozen=True)
class Layout:
    """A FLAC stream's frames as the scanner found them: the frame index and the decoder config."""

    index: FrameIndex
    decoder_config: dict[str, Any]

    @property
    def offsets(self) -> np.ndarray:
        """Byte offset of each frame, int64 (n_frames,)."""
        return self.index.offsets[:-1]

    @property
    def first_samples(self) -> np.ndarray:
        """First sample of each frame, int64 (n_frames,)."""
        return self.index.first_samples[:-1]

    @property
    def samples(self) -> int:
        """Samples per channel."""
        return self.index.samples


def encode(codec: FlacCodec, signal: np.ndarray, samplerate: int, bits: int) -> bytes:
    """Encode integer samples (n, channels) of ``bits`` bits in irregular blocks; return the stream bytes."""
    out = io.BytesIO()
    assert codec.encode(irregular_blocks(signal), out, pcm(samplerate, signal.shape[1], bits)).samples == len(
        signal
    )
    return out.getvalue()


def scan(codec: FlacCodec, stream: bytes) -> Layout:
    """Scan a FLAC stream (the format comes from its STREAMINFO)."""
    info = parse_streaminfo(stream[8:42])
    fmt = pcm(info.samplerate, info.channels, info.bits_per_sample)
    scanned = codec.scan(stream, fmt, Encoded(samples=info.total_samples))
    return Layout(scanned.index, scanned.decoder_config)


def decoder(codec: FlacCodec, config: dict[str, Any]) -> FrameDecoder:
    """A decoder for a FLAC stream of decoder config ``config`` (FLAC reads its format from STREAMINFO)."""
    return codec.decoder(pcm(48_000, 2, 16), config)


def frames_of(stream: bytes, layout: Layout) -> list[memoryview]:
    """Each frame's bytes, as zero-copy views of ``stream``."""
    view = memoryview(stream)
    return [view[a:b] for a, b in itertools.pairwise(layout.index.offsets.tolist())]


def round_trip(codec: FlacCodec, signal: np.ndarray, samplerate: int, bits: int) -> tuple[bytes, Layout]:
    """Encode, scan and decode all frames; assert exact equality; return the stream and layout."""
    stream = encode(codec, signal, samplerate, bits)
    layout = scan(codec, stream)
    decoded = decoder(codec, layout.decoder_config).decode(frames_of(stream, layout))
    assert decoded.dtype == (np.int16 if bits <= 16 else np.int32)
    np.testing.assert_array_equal(decoded, signal)
    info = streaminfo(stream)
    assert (info["samplerate"], info["channels"], info["bits"]) == (samplerate, signal.shape[1], bits)
    assert info["total_samples"] == len(signal) == layout.samples
    assert info["md5"] == flac_md5(signal, bits)
    return stream, layout


# --------------------------------------------------------------------------- FLAC round trips

BITS_CHANNELS = [(8, 1), (16, 2), (24, 3), (32, 4), (8, 5), (16, 6), (24, 7), (32, 8)]
BITS_CHANNELS += [(8, 8), (16, 8), (24, 8), (4, 1), (12, 2), (20, 2), (24, 1), (32, 2)]


@pytest.mark.parametrize("bits, channels", BITS_CHANNELS)
def test_bits_and_channels_exact(bits: int, channels: int) -> None:
    round_trip(FlacCodec(), make_signal(9000, channels, bits, seed=bits + channels), 48_000, bits)


@pytest.mark.parametrize("samplerate", [1, 8000, 44_100, 192_000, 500_000, 1_000_000, 1_048_575])
@pytest.mark.parametrize("bits", [16, 24])
def test_samplerates_exact(samplerate: int, bits: int) -> None:
    round_trip(FlacCodec(), make_signal(9000, 2, bits), samplerate, bits)


@pytest.mark.parametrize("length", [1, 1000, 3 * 4096, 3 * 4096 + 1])
def test_lengths(length: int) -> None:
    _, layout = round_trip(FlacCodec(blocksize=4096), make_signal(length, 2, 16), 44_100, 16)
    assert len(layout.offsets) == -(-length // 4096)
    np.testing.assert_array_equal(layout.first_samples, np.arange(len(layout.offsets)) * 4096)


@pytest.mark.parametrize("blocksize", [16, 100, 192, 1000, 1152, 4608, 16_384, 65_535])
def test_blocksize_honoured(blocksize: int) -> None:
    # 5000 samples in 16-sample blocks: frame numbers >= 128 take 2-byte coded numbers (RFC 9639 9.1.5).
    signal = make_signal(max(5000, 2 * blocksize + 7), 2, 16)
    stream, layout = round_trip(FlacCodec(blocksize=blocksize), signal, 96_000, 16)
    info = streaminfo(stream)
    assert info["min_blocksize"] == info["max_blocksize"] == blocksize
    assert np.all(np.diff(layout.first_samples) == blocksize)


def test_compression_level_honoured() -> None:
    signal = make_signal(100_000, 2, 16)
    sizes = {level: len(encode(FlacCodec(compression_level=level), signal, 44_100, 16)) for level in (0, 8)}
    assert sizes[8] < sizes[0]


@pytest.mark.parametrize("bits", [8, 16, 24])
@pytest.mark.parametrize("samplerate", [8000, 192_000, 1_000_000])
def test_soundfile_reads_our_streams(bits: int, samplerate: int) -> None:
    signal = make_signal(10_000, 2, bits)
    stream = encode(FlacCodec(), signal, samplerate, bits)
    data, rate = sf.read(io.BytesIO(stream), dtype="int32")
    assert rate == samplerate
    np.testing.assert_array_equal(data >> (32 - bits), signal)
    assert sf.info(io.BytesIO(stream)).subtype == {8: "PCM_S8", 16: "PCM_16", 24: "PCM_24"}[bits]


def test_encode_from_nonzero_position_completes_streaminfo_in_place() -> None:
    signal = make_signal(10_000, 2, 24)
    out = io.BytesIO()
    out.write(b"PREFIX")
    written = FlacCodec().encode([signal], out, pcm(48_000, 2, 24))
    assert written.samples == len(signal) and out.tell() == len(out.getvalue())
    stream = out.getvalue()[6:]
    assert streaminfo(stream)["md5"] == flac_md5(signal, 24)
    codec = FlacCodec()
    layout = scan(codec, stream)
    np.testing.assert_array_equal(
        decoder(codec, layout.decoder_config).decode(frames_of(stream, layout)), signal
    )


# --------------------------------------------------------------------------- FLAC streamable subset


@pytest.mark.parametrize("samplerate", [1, 48_000, 48_001, 65_535, 65_536, 65_540, 255_000, 655_350, 655_351])
@pytest.mark.parametrize("bits, blocksize", [(16, 4608), (16, 4609), (24, 16_384), (24, 16_385), (10, 4096)])
def test_subset_predicate_agrees_with_libflac(samplerate: int, bits: int, blocksize: int) -> None:
    expected = is_streamable_subset(samplerate, bits, blocksize)
    sink = _Sink(io.BytesIO())
    kwargs = dict(samplerate=samplerate, channels=2, bits_per_sample=bits, compression_level=5)
    if expected:
        _start_encoder(sink, blocksize=blocksize, subset=True, **kwargs).finish()
    else:
        with pytest.raises(StreamError, match="NOT_STREAMABLE"):
            _start_encoder(sink, blocksize=blocksize, subset=True, **kwargs)
    _start_encoder(_Sink(io.BytesIO()), blocksize=blocksize, subset=False, **kwargs).finish()


def test_subset_predicate_edges() -> None:
    assert is_streamable_subset(48_000, 16, 4096) and is_streamable_subset(96_000, 24, 16_384)
    assert is_streamable_subset(192_000, 32, 4096)
    assert not is_streamable_subset(700_000, 16, 4096)  # > 655,350 Hz: frame header says "see STREAMINFO"
    assert not is_streamable_subset(44_100, 16, 8192)  # > 4608 at <= 48 kHz
    assert not is_streamable_subset(44_100, 4, 4096)  # 4 bits: not expressible in a frame header


# ------------------------------------------------------------------- FLAC: pyFLAC internals we rely on


def test_pyflac_internals_we_rely_on() -> None:
    """Fails loudly if a pyFLAC upgrade removes what flac.py uses to set the bit depth."""
    encoder = pyflac.StreamEncoder(sample_rate=48_000, write_callback=lambda *a: None)
    assert libflac.FLAC__stream_encoder_set_bits_per_sample(encoder._encoder, 24)
    assert libflac.FLAC__stream_encoder_set_channels(encoder._encoder, 3)
    assert libflac.FLAC__stream_encoder_get_bits_per_sample(encoder._encoder) == 24
    assert callable(encoder._init) and encoder._initialised is False
    # End to end: 24-bit and 8-bit sources in int32/int16 arrays keep their depth in STREAMINFO.
    for bits, dtype in ((24, np.int32), (8, np.int16), (12, np.int16), (20, np.int32)):
        out = io.BytesIO()
        FlacCodec().encode([np.zeros((100, 1), dtype)], out, pcm(8000, 1, bits))
        assert streaminfo(out.getvalue())["bits"] == bits


# --------------------------------------------------------------------------- FLAC: validation and errors


@pytest.mark.parametrize(
    "kwargs", [{"compression_level": -1}, {"compression_level": 9}, {"compression_level": 5.0},
               {"compression_level": True}, {"blocksize": 15}, {"blocksize": 65_536}, {"blocksize": "4096"}]
)  # fmt: skip
def test_constructor_validates(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        FlacCodec(**kwargs)


def test_codec_is_frozen_and_hashable() -> None:
    codec = FlacCodec(compression_level=np.int64(3))  # type: ignore[arg-type]
    assert codec.get_config() == {"id": "flac", "compression_level": 3, "blocksize": 4096, "float_bits": 24}
    assert type(codec.get_config()["compression_level"]) is int
    assert hash(codec) == hash(FlacCodec(3))
    with pytest.raises(AttributeError):
        codec.blocksize = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "fmt, match",
    [
        (pcm(48_000, 12, 16), "1 to 8 channels, this one would have 12"),
        (pcm(1_048_576, 1, 16), "this source has 1,048,576 Hz"),
        (pcm(48_000, 1, 3), "4- to 32-bit"),
        (AudioFormat(48_000, 1, "int64", 64), "64-bit samples .codec='npy'"),
    ],
)
def test_check_rejects(fmt: AudioFormat, match: str) -> None:
    with pytest.raises(UnsupportedSourceError, match=match):
        FlacCodec().check(fmt)


def test_check_accepts_limits_and_gives_the_stored_format() -> None:
    for fmt in [pcm(1, 1, 4), pcm(1_048_575, 8, 32), pcm(44_100, 2, 16)]:
        assert FlacCodec().check(fmt) == fmt
    # unsigned 8-bit becomes signed 8-bit in int16; floats become 24-bit integers
    assert FlacCodec().check(AudioFormat(8000, 1, "uint8", 8)) == pcm(8000, 1, 8)
    assert FlacCodec().check(AudioFormat(8000, 2, "float32", 32)) == pcm(8000, 2, 24)


@pytest.mark.parametrize("bits, value", [(24, 1 << 23), (24, -(1 << 23) - 1), (16, 40_000), (8, -129)])
def test_samples_out_of_range_raise_source_error(bits: int, value: int) -> None:
    block = np.zeros((5000, 1), np.int32)
    block[1234] = value
    with pytest.raises(SourceError, match=f"signed {bits}-bit range"):
        FlacCodec().encode([block], io.BytesIO(), pcm(48_000, 1, bits))


@pytest.mark.parametrize(
    "block", [np.zeros((10, 3), np.int16), np.zeros(10, np.int16), np.zeros((10, 2), np.float32),
              np.zeros((10, 2), np.int64), [[0, 0]]]
)  # fmt: skip
def test_bad_blocks_raise_source_error(block: Any) -> None:
    with pytest.raises(SourceError, match="block of samples"):
        FlacCodec().encode([block], io.BytesIO(), pcm(48_000, 2, 16))


def test_encode_without_samples_writes_only_metadata() -> None:
    out = io.BytesIO()
    assert FlacCodec().encode(iter([]), out, pcm(8000, 1, 16)).samples == 0
    assert streaminfo(out.getvalue())["total_samples"] == 0
    with pytest.raises(StreamError):
        scan(FlacCodec(), out.getvalue())  # no frames


def test_encode_rechecks_parameters() -> None:
    with pytest.raises(UnsupportedSourceError):
        FlacCodec().encode([], io.BytesIO(), pcm(48_000, 9, 16))


class FailingWrites(io.BytesIO):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.fail_after:
            raise OSError("disk full")
        return super().write(data)


class NoSeek(io.BytesIO):
    def seek(self, offset: int, whence: int = 0) -> int:
        raise io.UnsupportedOperation("not seekable")


def test_write_errors_propagate() -> None:
    signal = make_signal(50_000, 2, 16)
    with pytest.raises(OSError, match="disk full"):
        FlacCodec().encode([signal], FailingWrites(30_000), pcm(48_000, 2, 16))
    with pytest.raises(io.UnsupportedOperation):
        FlacCodec().encode([signal], NoSeek(), pcm(48_000, 2, 16))


class RaisingWrites(io.BytesIO):
    """Raises ``error`` from write (after ``after`` bytes) or from seek."""

    def __init__(self, error: BaseException, after: int | None = None) -> None:
        super().__init__()
        self.error, self.after = error, after

    def write(self, data: Any) -> int:
        if self.after is not None and self.tell() + len(data) > self.after:
            raise self.error
        return super().write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        if self.after is None:
            raise self.error
        return super().seek(offset, whence)


class Stop(BaseException):
    """An exception that is not an Exception."""


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(3), Stop("halt")], ids=type)
@pytest.mark.parametrize("after", [0, 30_000, None], ids=["header", "frames", "seek"])
def test_base_exceptions_in_callbacks_propagate(error: BaseException, after: int | None) -> None:
    """Whatever a write or seek raises comes out of encode() as it was, never as a StreamError."""
    out = RaisingWrites(error, after)
    with pytest.raises(type(error)) as e:
        FlacCodec().encode([make_signal(50_000, 2, 16)], out, pcm(48_000, 2, 16))
    assert e.value is error


class SignalOnWrite(io.BytesIO):
    """Sends itself SIGINT from the first write of a frame, as a Ctrl-C while libFLAC runs."""

    sent = False

    def write(self, data: Any) -> int:
        if not self.sent and self.tell() > 100:
            self.sent = True
            signal.raise_signal(signal.SIGINT)
        return super().write(data)


def test_sigint_while_libflac_runs_reaches_the_handler_after_it_returns() -> None:
    calls: list[list[str]] = []

    def handler(signum: int, frame: Any) -> None:
        calls.append([f.name for f in traceback.extract_stack()])

    previous = signal.signal(signal.SIGINT, handler)
    try:
        out = SignalOnWrite()
        written = FlacCodec().encode([make_signal(50_000, 2, 16)], out, pcm(48_000, 2, 16))
        assert signal.getsignal(signal.SIGINT) is handler  # restored
    finally:
        signal.signal(signal.SIGINT, previous)
    assert written.samples == 50_000 and out.sent
    (stack,) = calls  # called once, outside libFLAC's callbacks
    assert "encode" in stack and "_write_callback" not in stack and "write" not in stack
    assert scan(FlacCodec(), out.getvalue()).samples == 50_000


def test_sigint_while_libflac_runs_raises_keyboard_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt):
        FlacCodec().encode([make_signal(50_000, 2, 16)], SignalOnWrite(), pcm(48_000, 2, 16))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_encode_in_a_thread() -> None:
    """Signal handlers are only touched in the main thread (signal.signal raises elsewhere)."""
    results: list[bytes] = []
    data = make_signal(20_000, 2, 16)
    thread = threading.Thread(target=lambda: results.append(encode(FlacCodec(), data, 48_000, 16)))
    thread.start()
    thread.join()
    (stream,) = results
    assert stream == encode(FlacCodec(), data, 48_000, 16)


ENCODE_FOREVER = """
import tempfile
import numpy as np
from wildzarr.audio import AudioFormat
from wildzarr.codecs.flac import FlacCodec

block = np.random.default_rng(0).integers(-2**15, 2**15, size=(192_000, 8)).astype(np.int16)

def blocks():
    print("started", flush=True)
    while True:
        yield block

with tempfile.TemporaryFile() as f:
    FlacCodec().encode(blocks(), f, AudioFormat(192_000, 8, "int16", 16))
"""


@pytest.mark.parametrize("after", [0.3, 0.8])
def test_ctrl_c_while_encoding_propagates(after: float) -> None:
    """A real SIGINT to a process encoding 8-channel 192 kHz noise: it ends by KeyboardInterrupt."""
    proc = subprocess.Popen(
        [sys.executable, "-c", ENCODE_FOREVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGINT  # Python exits by the signal on an uncaught KeyboardInterrupt
    assert stderr.rstrip().splitlines()[-1] == "KeyboardInterrupt"
    assert "StreamError" not in stderr and "cffi callback" not in stderr


# --------------------------------------------------------------------------- FLAC decoder


@pytest.mark.parametrize("config", [{}, {"streaminfo": "zz"}, {"streaminfo": "00" * 10}, {"streaminfo": 5}])
def test_decoder_rejects_bad_config(config: dict[str, Any]) -> None:
    with pytest.raises(StreamError):
        decoder(FlacCodec(), config)


def test_decoder_empty_and_dtype() -> None:
    stream = encode(FlacCodec(), make_signal(100, 3, 20), 48_000, 20)
    frame_decoder = decoder(FlacCodec(), scan(FlacCodec(), stream).decoder_config)
    empty = frame_decoder.decode([])
    assert empty.shape == (0, 3) and empty.dtype == np.int32


def test_decoder_rejects_frames_of_another_stream() -> None:
    codec = FlacCodec()
    stream16 = encode(codec, make_signal(10_000, 2, 16), 48_000, 16)
    stream24 = encode(codec, make_signal(10_000, 2, 24), 48_000, 24)
    frames16 = frames_of(stream16, scan(codec, stream16))
    frame24 = frames_of(stream24, scan(codec, stream24))[0]
    with pytest.raises(StreamError) as e:
        decoder(codec, scan(codec, stream16).decoder_config).decode([frames16[0], frames16[1], frame24])
    assert e.value.frame == 2
    assert str(e.value).startswith(
        (
            "does not decode (",
            "decodes to s32 samples, expected packed s16",
            "has 24-bit samples but STREAMINFO",
        )
    )


FLAC_STREAM = encode(FlacCodec(), make_signal(30_000, 2, 16), 48_000, 16)
FLAC_LAYOUT = scan(FlacCodec(), FLAC_STREAM)


@pytest.mark.parametrize(
    ("position", "replacement", "message"),
    [
        (3, None, "does not decode ("),  # libFLAC: lost sync or CRC-16; FFmpeg: "corrupt or truncated ..."
        (1, b"\x00\x01\x02\x03" * 8, "does not start with the FLAC sync code 0xFFF8 or 0xFFF9"),
        (4, b"\xff\xf8", "is 2 bytes long, too short for a FLAC frame header"),
        (0, b"\xff\xf8\x09\x08" + bytes(20), "its FLAC frame header uses the reserved block size code 0"),
    ],
)
def test_decoder_errors_name_the_frame(position: int, replacement: bytes | None, message: str) -> None:
    """StreamError.frame is the failing frame's position in the batch; the message reads after a prefix."""
    batch: list[Any] = frames_of(FLAC_STREAM, FLAC_LAYOUT)[:5]
    if replacement is None:  # a bit flipped in the audio: the CRC-16 fails
        flipped = bytearray(batch[position])
        flipped[len(flipped) // 2] ^= 0x5A
        replacement = bytes(flipped)
    batch[position] = replacement
    frame_decoder = decoder(FlacCodec(), FLAC_LAYOUT.decoder_config)
    with pytest.raises(StreamError) as e:
        frame_decoder.decode(batch)
    assert e.value.frame == position
    assert str(e.value).startswith(message)
    assert re.search(r"frame \d| of \d", str(e.value)) is None  # the reader names the frame


def test_decoders_in_threads() -> None:
    codec = FlacCodec()
    signal = make_signal(200_000, 2, 24)
    stream = encode(codec, signal, 96_000, 24)
    layout = scan(codec, stream)
    frames = frames_of(stream, layout)
    results: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        frame_decoder = decoder(codec, layout.decoder_config)  # one decoder per thread
        results[k] = np.concatenate(
            [frame_decoder.decode(frames[i : i + 3]) for i in range(0, len(frames), 3)]
        )

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k in range(3):
        np.testing.assert_array_equal(results[k], signal)


def test_flac_is_a_codec() -> None:
    assert isinstance(FlacCodec(), Codec) and FlacCodec().preroll == 0 and FlacCodec.codec_id == "flac"
