"""Tests of wildzarr.sources: files through PyAV, arrays, conversions, errors."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import soundfile
from av.audio.resampler import AudioResampler
from signals import (
    decode_with_pyav,
    make_bad_file,
    make_float_signal,
    make_signal,
    write_audio_file,
    write_wav,
)

from wildzarr.errors import SourceError
from wildzarr.sources import Source, SourceFormat, digest, open_source
from wildzarr.sources import pyav as pyav_module
from wildzarr.sources.base import BLOCK_BYTES, default_block_samples
from wildzarr.sources.convert import BlockBuilder, unshift


def read_all(src: Source, block_samples: int | None = None) -> np.ndarray:
    """Concatenate the blocks, checking the block contract on the way."""
    blocks = list(src.blocks(block_samples))
    expected_len = block_samples or default_block_samples(src.format)
    for i, b in enumerate(blocks):
        assert b.ndim == 2 and b.shape[1] == src.format.channels
        assert b.flags.c_contiguous
        assert b.dtype == src.format.dtype
        assert b.shape[0] >= 1
        if i < len(blocks) - 1:
            assert b.shape[0] == expected_len
        else:
            assert b.shape[0] <= expected_len
    return np.concatenate(blocks)


# ----------------------------------------------------------------------------- the corpus

# name: samplerate, channels, bits, is_float, is_lossy, codec, announced samples
CORPUS: dict[str, tuple[int, int, int, bool, bool, str, int | None]] = {
    "bat_Rhinolophus_500k_float32.wav": (500000, 1, 32, True, False, "pcm_f32le", 31740),
    "bat_batlogger_312k_guano.wav": (312500, 1, 16, False, False, "pcm_s16le", 1260544),
    "bat_myotis_500k.wav": (500000, 1, 16, False, False, "pcm_s16le", 250000),
    "bird_audiomoth_1min_32k.wav": (32000, 1, 16, False, False, "pcm_s16le", 1920000),
    "bird_robin_vorbis_stereo.ogg": (44100, 2, 32, True, True, "vorbis", None),
    "bird_soundscape_XC563936_48k.mp3": (48000, 1, 32, True, True, "mp3", None),
    "bird_storm_petrel_XC663885_stereo.wav": (44100, 2, 16, False, False, "pcm_s16le", 678322),
    "bird_turtledove_XC564654_16k.flac": (16000, 1, 16, False, False, "flac", 386361),
    "frog_great_plains_toad_44k.wav": (44100, 1, 16, False, False, "pcm_s16le", 1965596),
    "insect_cicada_Diceroprocta_48k.wav": (48000, 1, 16, False, False, "pcm_s16le", 192000),
    "multich_5ch_192k_speaker_playback.wav": (192000, 5, 16, False, False, "pcm_s16le", 387424),
    "whale_humpback_sanctsound_4kHz_int32.wav": (4000, 1, 32, False, False, "pcm_s32le", 69072),
    "whale_humpback_song_sanctsound_aac_remux.m4a": (44100, 1, 32, True, True, "aac", None),
    "whale_humpback_song_sanctsound_video.mp4": (44100, 1, 32, True, True, "aac", None),
}


def test_corpus_table_covers_every_file(corpus_dir: Path) -> None:
    files = {p.name for p in corpus_dir.iterdir() if p.is_file() and p.suffix != ".md"}
    assert files == set(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_file(corpus_dir: Path, name: str) -> None:
    rate, channels, bits, is_float, is_lossy, codec, announced = CORPUS[name]
    path = corpus_dir / name
    with open_source(path) as src:
        f = src.format
        assert (f.samplerate, f.channels, f.bits_per_sample) == (rate, channels, bits)
        assert (f.is_float, f.is_lossy, f.codec, f.samples) == (is_float, is_lossy, codec, announced)
        assert src.name == name and src.path == path.resolve()
        meta = src.file_meta
        assert json.loads(json.dumps(meta)) == meta
        assert isinstance(meta["tags"], dict) and isinstance(meta["stream_tags"], dict)
        got = read_all(src)
    if announced is not None:
        assert got.shape[0] == announced
    if name.endswith((".wav", ".flac")):
        if is_float:
            ref, sr = soundfile.read(path, dtype="float32", always_2d=True)
            np.testing.assert_array_equal(got, ref)
        else:
            # soundfile's int32 reads are left-justified: compare at that scale.
            ref, sr = soundfile.read(path, dtype="int32", always_2d=True)
            np.testing.assert_array_equal(got.astype(np.int64) << (32 - bits), ref)
        assert sr == rate
    else:  # lossy: the decoder's floats, handed over as they are
        ref, _ = decode_with_pyav(path)
        np.testing.assert_array_equal(got, ref)
        assert np.abs(got).max() > 2**-5  # real audio, not silence


def test_corpus_guano(corpus_dir: Path) -> None:
    with open_source(corpus_dir / "bat_batlogger_312k_guano.wav") as src:
        meta = src.file_meta
    guano = meta["guano"]
    assert guano["GUANO|Version"] == "1.0"
    assert guano["Make"] == "BATLOGGER"
    assert guano["Loc Position"] == "49.093119 5.047867"
    assert guano["Timestamp"] == "2024-06-03T03:37:31"  # a value holding colons
    assert guano["BATLOGGER|Trigger|Frequency"] == "78.4"
    ids = [c["id"] for c in meta["chunks"]]
    assert ids == ["fmt ", "data", "guan"]


def test_corpus_audiomoth_comment(corpus_dir: Path) -> None:
    with open_source(corpus_dir / "bird_audiomoth_1min_32k.wav") as src:
        meta = src.file_meta
    assert "AudioMoth 0FE081F80FE081F0" in meta["info"]["ICMT"]
    assert meta["info"]["ICMT"] == meta["tags"]["comment"]
    assert [c["id"] for c in meta["chunks"]] == ["fmt ", "data", "LIST", "id3 "]
    assert meta["chunks"][2]["list_type"] == "INFO"


def test_corpus_mojibake_kept(corpus_dir: Path) -> None:
    with open_source(corpus_dir / "bird_storm_petrel_XC663885_stereo.wav") as src:
        assert "XC663885 Â© Simon" in src.file_meta["info"]["ICMT"]
    with open_source(corpus_dir / "bird_soundscape_XC563936_48k.mp3") as src:
        assert "XC563936 Â© Whitney" in src.file_meta["tags"]["comment"]


def test_corpus_float_wav_chunks(corpus_dir: Path) -> None:
    with open_source(corpus_dir / "bat_Rhinolophus_500k_float32.wav") as src:
        assert [c["id"] for c in src.file_meta["chunks"]] == ["fmt ", "fact", "PEAK", "data"]
        assert src.format.sample_format == "flt" and src.format.dtype == np.float32


def test_corpus_video_uses_audio_stream(corpus_dir: Path) -> None:
    with open_source(corpus_dir / "whale_humpback_song_sanctsound_video.mp4") as src:
        streams = src.file_meta["streams"]
    assert [(s["type"], s["codec"], s["chosen"]) for s in streams] == [
        ("video", "h264", False),
        ("audio", "aac", True),
    ]


# ----------------------------------------------------------------------------- generated WAV files


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
@pytest.mark.parametrize("channels", range(1, 9))
def test_wav_bits_and_channels(tmp_path: Path, bits: int, channels: int) -> None:
    data = make_signal(3001, channels, bits, seed=bits * 10 + channels)
    path = tmp_path / f"s{bits}_{channels}.wav"
    write_audio_file(path, data, 48000, "wav", bits=bits)
    with open_source(path) as src:
        f = src.format
        assert (f.bits_per_sample, f.channels, f.samples, f.is_float, f.is_lossy) == (
            bits,
            channels,
            3001,
            False,
            False,
        )
        assert f.codec == {8: "pcm_u8", 16: "pcm_s16le", 24: "pcm_s24le", 32: "pcm_s32le"}[bits]
        assert f.sample_format == {8: "u8", 16: "s16", 24: "s32", 32: "s32"}[bits]
        got = read_all(src, 1000)
    assert got.dtype == {8: np.uint8, 16: np.int16}.get(bits, np.int32)  # 8-bit WAV: offset binary, as stored
    np.testing.assert_array_equal(got, data)
    # the full range arrives unshifted
    offset = 1 << (bits - 1) if bits == 8 else 0
    assert got.max() == 2 ** (bits - 1) - 1 + offset and got.min() == -(2 ** (bits - 1)) + offset


@pytest.mark.parametrize("rate", [1, 8000, 44100, 192000, 312500, 500000, 1_000_000])
@pytest.mark.parametrize("container", ["wav", "flac"])
def test_samplerates(tmp_path: Path, rate: int, container: str) -> None:
    data = make_signal(777, 2, 16, seed=rate % 97)
    path = tmp_path / f"r{rate}.{container}"
    write_audio_file(path, data, rate, container)
    with open_source(path) as src:
        assert src.format.samplerate == rate
        assert src.format.samples == 777
        np.testing.assert_array_equal(read_all(src), data)


LENGTHS_AND_BLOCKS = [
    (samples, block)
    for samples in (1, 1000, 2 * 4096, 2 * 4096 + 1)
    for block in (None, 4096, 1000, 1)
    if block != 1 or samples <= 1000  # one-sample blocks: short signals only
]


@pytest.mark.parametrize(("samples", "block_samples"), LENGTHS_AND_BLOCKS)
def test_lengths_and_blocks(tmp_path: Path, samples: int, block_samples: int | None) -> None:
    data = make_signal(samples, 3, 24, seed=samples)
    path = tmp_path / "len.wav"
    write_audio_file(path, data, 44100, "wav", bits=24)
    with open_source(path) as src:
        assert src.format.samples == samples
        np.testing.assert_array_equal(read_all(src, block_samples), data)
    with open_source(data, samplerate=44100) as src:
        np.testing.assert_array_equal(read_all(src, block_samples), data)


def test_default_block_size() -> None:
    data = make_signal(300_000, 2, 16)
    with open_source(data, samplerate=8000) as src:
        n = default_block_samples(src.format)
        assert n % 4096 == 0 and n * 2 * 2 <= BLOCK_BYTES < (n + 4096) * 2 * 2
        blocks = list(src.blocks())
    assert [b.shape[0] for b in blocks[:-1]] == [n] * (len(blocks) - 1)
    np.testing.assert_array_equal(np.concatenate(blocks), data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_wav(tmp_path: Path, dtype: Any) -> None:
    data = make_float_signal(5000, 2, seed=3, dtype=dtype)
    data[0, 0] = 1.5  # out-of-range floats are passed through unchanged
    path = tmp_path / "f.wav"
    write_audio_file(path, data, 96000, "wav")
    with open_source(path) as src:
        f = src.format
        assert f.is_float and not f.is_lossy
        assert f.bits_per_sample == np.dtype(dtype).itemsize * 8
        assert f.codec == ("pcm_f32le" if dtype == np.float32 else "pcm_f64le")
        got = read_all(src, 4096)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, data)


def test_float_wav_with_nan_passes_through(tmp_path: Path) -> None:
    """Sources hand over what they decode; the codec decides (npy keeps NaN, FLAC refuses it)."""
    data = make_float_signal(100, 1)
    data[50, 0] = np.nan
    data[51, 0] = -np.inf
    path = tmp_path / "nan.wav"
    write_wav(path, data, 8000)
    with open_source(path) as src:
        got = read_all(src)
    assert got.tobytes() == data.tobytes()


# ----------------------------------------------------------------------------- other containers

LOSSLESS = [
    # file name, container, codec, bits, channels, rate, expected codec, sample_format
    ("a16.flac", "flac", None, 16, 2, 44100, "flac", "s16"),
    ("a24.flac", "flac", None, 24, 6, 96000, "flac", "s32"),
    ("a24.mkv", "mkv", None, 24, 2, 48000, "flac", "s32"),
    ("a16.mkv", "mkv", "pcm_s16le", 16, 2, 48000, "pcm_s16le", "s16"),
    ("alac16.m4a", "m4a", "alac", 16, 2, 44100, "alac", "s16p"),
    ("alac24.m4a", "m4a", "alac", 24, 2, 44100, "alac", "s32p"),
]


@pytest.mark.parametrize(("name", "container", "codec", "bits", "channels", "rate", "want", "sfmt"), LOSSLESS)
def test_lossless_containers(
    tmp_path: Path,
    name: str,
    container: str,
    codec: str | None,
    bits: int,
    channels: int,
    rate: int,
    want: str,
    sfmt: str,
) -> None:
    data = make_signal(10_000, channels, bits, seed=len(name))
    path = tmp_path / name
    write_audio_file(path, data, rate, container, codec, bits=bits)
    with open_source(path) as src:
        f = src.format
        assert (f.codec, f.sample_format, f.bits_per_sample, f.is_lossy, f.is_float) == (
            want,
            sfmt,
            bits,
            False,
            False,
        )
        assert (f.samplerate, f.channels) == (rate, channels)
        assert f.samples == (10_000 if container == "flac" else None)
        got = read_all(src, 3000)
    np.testing.assert_array_equal(got, data)


LOSSY = [
    # file name, container, codec, channels, rate, expected codec
    ("a.mp3", "mp3", None, 2, 44100, "mp3"),
    ("a.ogg", "ogg", None, 2, 44100, "vorbis"),
    ("a.opus", "opus", None, 2, 48000, "opus"),
    ("a.m4a", "m4a", None, 2, 44100, "aac"),
    ("a.mp4", "mp4", None, 1, 48000, "aac"),
    ("a.mkv", "mkv", "aac", 2, 32000, "aac"),
    ("a.aac", "aac", None, 1, 22050, "aac"),
]


@pytest.mark.parametrize(("name", "container", "codec", "channels", "rate", "want"), LOSSY)
def test_lossy_containers(
    tmp_path: Path, name: str, container: str, codec: str | None, channels: int, rate: int, want: str
) -> None:
    data = make_signal(20_000, channels, 16, seed=len(name))
    path = tmp_path / name
    write_audio_file(path, data, rate, container, codec)
    with open_source(path) as src:
        f = src.format
        assert (f.codec, f.is_lossy, f.is_float, f.bits_per_sample) == (want, True, True, 32)
        assert (f.samplerate, f.channels, f.samples) == (rate, channels, None)
        got = read_all(src, 4096)
    ref, _ = decode_with_pyav(path)
    np.testing.assert_array_equal(got, ref)  # the decoder's floats, not quantized
    # the decoded audio is loud like the source, not silence
    assert np.sqrt(np.mean(got.astype(np.float64) ** 2)) > 0.1


@pytest.mark.parametrize("codec", ["pcm_mulaw", "pcm_alaw", "adpcm_ima_wav", "adpcm_ms"])
def test_lossy_codecs_decoding_to_integers(tmp_path: Path, codec: str) -> None:
    """Lossy codecs whose decoders give s16: lossy, 16 bits, values exactly as decoded."""
    data = make_signal(10_000, 2, 16, seed=4)
    path = tmp_path / f"{codec}.wav"
    write_audio_file(path, data, 8000, "wav", codec)
    with open_source(path) as src:
        f = src.format
        assert (f.codec, f.is_lossy, f.is_float, f.bits_per_sample) == (codec, True, False, 16)
        # 1-byte PCM codecs announce their length; ADPCM blocks do not map bytes to samples
        assert f.samples == (10_000 if codec.startswith("pcm_") else None)
        got = read_all(src, 4096)
    ref, _ = decode_with_pyav(path)
    np.testing.assert_array_equal(got, ref)


def test_eight_channel_planar_lossy(tmp_path: Path) -> None:
    """8 planar channels (PyAV 18.1 frame.planes / to_ndarray bug): each channel lands in place."""
    data = make_float_signal(48_000, 8, seed=8)
    path = tmp_path / "c8.opus"
    write_audio_file(path, data, 48000, "opus", bit_rate=512_000, codec_options={"mapping_family": "255"})
    with open_source(path) as src:
        assert src.format.channels == 8 and src.format.sample_format == "fltp"
        got = read_all(src)
    n = min(len(got), len(data))
    corr = np.corrcoef(got[:n].T, data[:n].T)[:8, 8:]
    assert (np.diag(corr) > 0.9).all()
    assert (np.abs(corr - np.diag(np.diag(corr))) < 0.5).all()


def test_tags(tmp_path: Path) -> None:
    data = make_signal(5000, 2, 16)
    tags = {"title": "Tïtle ✓", "comment": "site: A1"}
    write_audio_file(tmp_path / "t.flac", data, 44100, "flac", tags=tags)
    write_audio_file(tmp_path / "t.ogg", data, 44100, "ogg", tags=tags)
    write_audio_file(tmp_path / "t.wav", data, 44100, "wav", tags=tags)
    with open_source(tmp_path / "t.flac") as src:
        assert src.file_meta["tags"]["title"] == "Tïtle ✓"
    with open_source(tmp_path / "t.ogg") as src:  # Ogg keeps comments on the stream
        assert src.file_meta["stream_tags"]["comment"] == "site: A1"
    with open_source(tmp_path / "t.wav") as src:
        assert src.file_meta["info"]["INAM"] == "Tïtle ✓"
        assert src.file_meta["tags"]["title"] == "Tïtle ✓"


# ----------------------------------------------------------------------------- source behaviour


def test_blocks_twice_close_and_context(tmp_path: Path) -> None:
    data = make_signal(10_000, 2, 16)
    path = tmp_path / "a.wav"
    write_audio_file(path, data, 8000, "wav")
    src = open_source(str(path))
    first = next(iter(src.blocks(100)))  # partial read, then start again
    np.testing.assert_array_equal(first, data[:100])
    np.testing.assert_array_equal(read_all(src, 3000), data)
    np.testing.assert_array_equal(read_all(src), data)
    assert "8000 Hz" in repr(src)
    src.close()
    assert src.closed
    with pytest.raises(SourceError, match=r"a.wav.*closed"):
        src.blocks()
    with open_source(data, samplerate=8000) as arr:
        pass
    with pytest.raises(SourceError, match=r"<array>.*closed"):
        arr.blocks()


def test_close_during_iteration(tmp_path: Path) -> None:
    path = tmp_path / "a.flac"
    write_audio_file(path, make_signal(50_000, 1, 16), 8000, "flac")
    src = open_source(path)
    it = src.blocks(1000)
    next(it)
    src.close()
    it.close()


def test_bad_block_samples() -> None:
    with open_source(np.zeros(10, np.int16), samplerate=1) as src:
        with pytest.raises(ValueError):
            src.blocks(0)
        with pytest.raises(TypeError):
            src.blocks(2.5)  # type: ignore[arg-type]


def test_file_samplerate_argument(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    write_audio_file(path, make_signal(100, 1, 16), 8000, "wav")
    with open_source(path, samplerate=8000) as src:
        assert src.format.samplerate == 8000
    with pytest.raises(SourceError, match=r"a.wav.*16000"):
        open_source(path, samplerate=16000)


# ----------------------------------------------------------------------------- arrays


@pytest.mark.parametrize(
    ("dtype", "bits", "out"),
    [
        ("int16", 16, np.int16),
        ("int32", 32, np.int32),
        ("int8", 8, np.int8),
        ("uint8", 8, np.uint8),
        ("int64", 64, np.int64),
        (">i2", 16, np.int16),
    ],
)
def test_integer_arrays(dtype: str, bits: int, out: Any) -> None:
    base = make_signal(5000, 2, 16, seed=1)
    if dtype == "uint8":
        data = make_signal(5000, 2, 8)
        want = data  # offset binary, as given
    elif dtype == "int8":
        want = (base >> 8).astype(np.int16)
        data = want.astype(np.int8)
    else:
        data = base.astype(dtype)
        want = base
    with open_source(data, samplerate=44100) as src:
        f = src.format
        assert (f.bits_per_sample, f.is_float, f.is_lossy, f.channels, f.samples) == (
            bits,
            False,
            False,
            2,
            5000,
        )
        assert f.sample_format == np.dtype(dtype).name
        assert (f.container, f.codec) == (None, None)
        assert src.name == "<array>" and src.path is None and src.file_meta == {}
        got = read_all(src, 999)
    assert got.dtype == out
    np.testing.assert_array_equal(got, want)


def test_int64_full_range() -> None:
    data = np.array([-(2**63), 0, 2**63 - 1], dtype=np.int64)
    with open_source(data, samplerate=np.int64(8000)) as src:
        np.testing.assert_array_equal(read_all(src)[:, 0], data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_arrays(dtype: Any) -> None:
    data = make_float_signal(3000, 4, dtype=dtype)
    fortran = np.asfortranarray(data)
    with open_source(fortran, samplerate=250_000) as src:
        f = src.format
        assert f.is_float and f.bits_per_sample == np.dtype(dtype).itemsize * 8
        got = read_all(src, 1024)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, data)


def test_one_dimensional_array_is_one_channel() -> None:
    data = make_signal(100, 1, 32)[:, 0]
    with open_source(data, samplerate=1) as src:
        assert src.format.channels == 1 and src.format.samplerate == 1
        np.testing.assert_array_equal(read_all(src)[:, 0], data)


def test_array_blocks_are_copies() -> None:
    data = make_signal(100, 2, 16)
    keep = data.copy()
    with open_source(data, samplerate=10) as src:
        for b in src.blocks(10):
            b[:] = 0
        np.testing.assert_array_equal(data, keep)


BAD_ARRAYS: list[tuple[str, Any, Any, str]] = [
    ("strings", np.array(["a", "b"]), 8000, "not numeric"),
    ("objects", np.array([1, None], dtype=object), 8000, "not numeric"),
    ("bool", np.zeros(10, dtype=bool), 8000, "boolean"),
    ("complex", np.zeros(10, dtype=np.complex64), 8000, "complex"),
    ("uint16", np.zeros(10, dtype=np.uint16), 8000, "uint16"),
    ("uint32", np.zeros(10, dtype=np.uint32), 8000, "uint32"),
    ("uint64", np.zeros(10, dtype=np.uint64), 8000, "uint64"),
    ("float16", np.zeros(10, dtype=np.float16), 8000, "float16"),
    ("no samples", np.zeros((0, 2), np.int16), 8000, "empty"),
    ("no channels", np.zeros((10, 0), np.int16), 8000, "empty"),
    ("1-D empty", np.zeros(0, np.float32), 8000, "empty"),
    ("0-D", np.array(3, np.int16), 8000, "0 dimensions"),
    ("3-D", np.zeros((4, 2, 2), np.int16), 8000, "3 dimensions"),
    ("channels first", np.zeros((2, 48000), np.int16), 8000, "transpose"),
    ("no rate", np.zeros(10, np.int16), None, "required"),
    ("zero rate", np.zeros(10, np.int16), 0, "1 to"),
    ("negative rate", np.zeros(10, np.int16), -8000, "1 to"),
    ("huge rate", np.zeros(10, np.int16), 2**31, "1 to"),
    ("fractional rate", np.zeros(10, np.int16), 44100.5, "integer"),
    ("float rate", np.zeros(10, np.int16), 44100.0, "integer"),
    ("bool rate", np.zeros(10, np.int16), True, "integer"),
    ("string rate", np.zeros(10, np.int16), "44100", "integer"),
]


@pytest.mark.parametrize(("what", "array", "rate", "reason"), BAD_ARRAYS, ids=[b[0] for b in BAD_ARRAYS])
def test_bad_arrays(what: str, array: Any, rate: Any, reason: str) -> None:
    with pytest.raises(SourceError) as e:
        open_source(array, samplerate=rate)
    assert e.type is SourceError
    assert "<array>" in str(e.value) and reason in str(e.value)


def test_not_a_path_or_array() -> None:
    with pytest.raises(SourceError, match=r"list"):
        open_source([1, 2, 3])  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- bad files


BAD_FILES = [
    ("missing", "no such file"),
    ("folder", "folder"),
    ("empty", "empty"),
    ("one-byte", "not a readable audio file"),
    ("random", "not a readable audio file"),
    ("random-wav-header", ""),
    ("text", "not a readable audio file"),
    ("text-txt", ""),  # FFmpeg reads a .txt file as ANSI art video: no audio stream
    ("text-wav", "not a readable audio file"),
    ("truncated-wav", "truncated: header announces 20000 samples, file holds 12345"),
    ("truncated-wav-size", "truncated: header announces 30000 samples, file holds 20000"),
    ("wav-no-samples", "no audio samples"),
    ("truncated-flac", "decoding failed after"),
    ("truncated-flac-end", "decoding failed after"),
    ("truncated-flac-frame", "truncated: header announces 50000 samples, file holds "),
    ("video-mp4", "no audio stream (streams: video"),
    ("video-mkv", "no audio stream (streams: video"),
    ("rate-change", "sample rate changes mid-stream from 44100 Hz to 48000 Hz"),
    ("channel-change", "channel count changes mid-stream from 1 to 2"),
]


@pytest.mark.parametrize(("what", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files(tmp_path: Path, what: str, reason: str) -> None:
    path = make_bad_file(tmp_path, what)
    with pytest.raises(SourceError) as e, open_source(path) as src:
        for _ in src.blocks():
            pass
    assert e.type is SourceError
    assert path.name in str(e.value)
    assert reason in str(e.value)


def test_not_a_regular_file() -> None:
    with pytest.raises(SourceError, match=r"/dev/null.*(not a regular file|empty)"):
        open_source("/dev/null")


def test_sixty_four_bit_pcm(tmp_path: Path) -> None:
    path = tmp_path / "s64.wav"
    data = np.array([[-(2**63)], [0], [5], [2**63 - 1]], dtype=np.int64)
    write_wav(path, data, 8000)
    with open_source(path) as src:
        assert (src.format.bits_per_sample, src.format.dtype) == (64, np.int64)
        np.testing.assert_array_equal(read_all(src), data)


# ----------------------------------------------------------------------------- conversions


def test_unshift() -> None:
    a = np.array([[1 << 8], [-(1 << 31)]], np.int32)
    np.testing.assert_array_equal(unshift(a, 8, "f"), [[1], [-(1 << 23)]])
    with pytest.raises(SourceError, match=r"f: .*left-justified by 8 bits"):
        unshift(a + 1, 8, "f")


def test_block_builder() -> None:
    b = BlockBuilder(4, 1, np.dtype(np.int16))
    out: list[np.ndarray] = []
    for n in (1, 2, 7, 1, 0, 3):
        out.extend(blk.copy() for blk in b.add(np.full((n, 1), n, np.int16)))
    last = b.finish()
    assert [len(x) for x in out] == [4, 4, 4] and last is not None and len(last) == 2
    assert b.total == 14
    assert np.concatenate([*out, last])[:, 0].tolist() == [1, 2, 2, 7, 7, 7, 7, 7, 7, 7, 1, 3, 3, 3]
    assert b.finish() is None


def test_source_format_is_frozen() -> None:
    f = SourceFormat(8000, 1, "s16", 16, False, False, "wav", "pcm_s16le", 10)
    with pytest.raises(AttributeError):
        f.samplerate = 1  # type: ignore[misc]
    assert f.dtype == np.int16


# ----------------------------------------------------------------------------- source_info


def manifest_sha256(corpus_dir: Path) -> dict[str, str]:
    """The sha256 of every corpus file, as MANIFEST.md states it."""
    text = (corpus_dir / "MANIFEST.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^- \*\*(\S+)\*\* .*sha256 `([0-9a-f]{64})`", text, flags=re.MULTILINE))


def test_corpus_source_info(corpus_dir: Path) -> None:
    expected = manifest_sha256(corpus_dir)
    assert set(expected) == set(CORPUS)
    for name, (_, _, bits, _, is_lossy, codec, _) in CORPUS.items():
        path = corpus_dir / name
        with open_source(path) as src:
            info = src.source_info()
            assert src.source_info() is info  # computed once
        assert info.sha256 == expected[name]
        assert (info.name, info.path, info.size) == (name, str(path.resolve()), path.stat().st_size)
        assert (info.codec, info.sample_format) == (codec, src.format.sample_format)
        assert info.container == src.format.container
        assert info.bits_per_sample == bits
        if is_lossy:  # decoded to float
            assert info.sample_format == "fltp"


def test_file_source_info_after_close(tmp_path: Path) -> None:
    path = tmp_path / "a.flac"
    write_audio_file(path, make_signal(3000, 2, 24), 96000, "flac")
    src = open_source(path)
    src.close()
    with pytest.raises(SourceError, match=r"a.flac.*closed"):
        src.source_info()
    with open_source(path) as src:
        info = src.source_info()
    assert src.source_info() is info  # kept after close
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (info.bits_per_sample, info.sample_format, info.container) == (24, "s32", "flac")


def old_array_sha256(array: np.ndarray, samplerate: int) -> str:
    """The formula of the foundation archive, which copied the whole array."""
    a = np.ascontiguousarray(array)
    hasher = hashlib.sha256(f"{a.dtype.str}|{a.shape}|{samplerate}|".encode())
    hasher.update(a.tobytes())
    return hasher.hexdigest()


BASE = make_signal(30_001, 4, 16, seed=9)
ARRAY_LAYOUTS: dict[str, np.ndarray] = {
    "C": BASE,
    "Fortran": np.asfortranarray(BASE),
    "every other row": BASE[::2],
    "two channels": BASE[:, 1:3],
    "reversed": BASE[::-1],
    "1-D": BASE[:, 0].copy(),
    "1-D strided": BASE[:, 2],
    "big-endian": BASE.astype(">i2"),
    "uint8": make_signal(999, 3, 8),
    "float64 Fortran": np.asfortranarray(make_float_signal(5000, 3, dtype=np.float64)),
    "int64": BASE.astype(np.int64),
}


@pytest.mark.parametrize("layout", sorted(ARRAY_LAYOUTS))
def test_array_sha256_equals_the_old_formula(layout: str) -> None:
    array = ARRAY_LAYOUTS[layout]
    with open_source(array, samplerate=np.int64(250_000)) as src:
        info = src.source_info()
    assert info.sha256 == old_array_sha256(array, 250_000)
    assert (info.name, info.path, info.size) == ("<array>", None, None)
    assert (info.container, info.codec) == (None, None)
    assert (info.sample_format, info.bits_per_sample) == (array.dtype.name, src.format.bits_per_sample)


def test_array_sha256_in_blocks_of_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-contiguous arrays hashed in many small slices still give the formula's digest."""
    monkeypatch.setattr(digest, "HASH_BLOCK_BYTES", 100)
    array = np.asfortranarray(BASE)[1:]
    assert digest.array_sha256(array, 8000) == old_array_sha256(array, 8000)


def test_array_sha256_differs_by_rate_shape_and_dtype() -> None:
    a = make_signal(1000, 2, 16)
    digests = {
        digest.array_sha256(a, 8000),
        digest.array_sha256(a, 8001),
        digest.array_sha256(a.reshape(2000, 1), 8000),
        digest.array_sha256(a.astype(np.int32), 8000),
    }
    assert len(digests) == 4


@pytest.mark.parametrize("order", ["C", "F"])
def test_hashing_a_large_array_does_not_copy_it(order: Literal["C", "F"]) -> None:
    shape = (25_000_000, 1) if order == "C" else (12_500_000, 2)
    array = np.ones(shape, dtype=np.float64, order=order)  # 200 MB
    assert array.nbytes == 200_000_000 and array.flags.c_contiguous == (order == "C")
    with open_source(array, samplerate=48000) as src:
        tracemalloc.start()
        try:
            src.source_info()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 3 * digest.HASH_BLOCK_BYTES


def test_array_source_info_needs_the_array() -> None:
    src = open_source(np.zeros(10, np.int16), samplerate=8000)
    src.close()
    with pytest.raises(SourceError, match=r"<array>.*closed"):
        src.source_info()


# ----------------------------------------------------------------------------- file names

ODD_NAMES = [
    (b"caf\xe9.wav", "caf\\xe9.wav"),  # latin-1, not UTF-8
    (b"two\nlines.wav", "two\nlines.wav"),
    (b"tab\there\x01.wav", "tab\there\x01.wav"),
    ("Étang ✓.wav".encode(), "Étang ✓.wav"),
]


def utf8_json(value: Any) -> bytes:
    """What the archive stores: fails on text that is not valid Unicode."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(("raw", "shown"), ODD_NAMES, ids=["latin-1", "newline", "control", "utf-8"])
def test_any_file_name(tmp_path: Path, raw: bytes, shown: str) -> None:
    data = make_signal(1000, 1, 16)
    os_path = os.path.join(os.fsencode(tmp_path), raw)
    write_wav(os.fsdecode(os_path), data, 8000)
    for given in (os.fsdecode(os_path), os_path, Path(os.fsdecode(os_path))):
        with open_source(given) as src:
            info = src.source_info()
            np.testing.assert_array_equal(read_all(src), data)
            assert src.name == shown and repr(shown) in repr(src)
            assert src.path is not None and os.fsencode(src.path) == os_path  # the real name, for opening
        assert info.name == shown
        assert info.path == f"{tmp_path}{os.sep}{shown}"
        assert json.loads(utf8_json(info.model_dump())) == info.model_dump()
        assert info.sha256 == hashlib.sha256(Path(os.fsdecode(os_path)).read_bytes()).hexdigest()


@pytest.mark.parametrize(("raw", "shown"), ODD_NAMES, ids=["latin-1", "newline", "control", "utf-8"])
def test_errors_name_any_file_printably(tmp_path: Path, raw: bytes, shown: str) -> None:
    os_path = os.path.join(os.fsencode(tmp_path), raw)
    with pytest.raises(SourceError, match="no such file") as missing:
        open_source(os_path)
    with open(os_path, "wb") as f:
        f.write(np.random.default_rng(3).bytes(5000))
    with pytest.raises(SourceError, match="not a readable audio file") as unreadable:
        open_source(os.fsdecode(os_path))
    for error in (missing.value, unreadable.value):
        assert str(error).encode("utf-8").decode("utf-8").startswith(f"{tmp_path}{os.sep}{shown}: ")


def test_invalid_paths() -> None:
    with pytest.raises(SourceError, match=r"a\x00b.wav: not a valid path"):
        open_source("a\0b.wav")
    with pytest.raises(SourceError) as e:
        open_source("lone\ud800surrogate.wav")  # no OS name holds this
    assert str(e.value).startswith("lone\\ud800surrogate.wav: ")
    str(e.value).encode("utf-8")


# ----------------------------------------------------------------------------- Ctrl-C

DECODE_FOREVER = """
import sys
from wildzarr.sources import open_source
with open_source(sys.argv[1]) as src:
    print("started", flush=True)
    while True:
        for block in src.blocks(4096):
            pass
"""


def interrupt(script: str, *args: str, after: float = 0.5) -> subprocess.CompletedProcess[str]:
    """Run ``script``, send it SIGINT ``after`` seconds after it printed "started"."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("container", ["flac", "mp3"])
def test_ctrl_c_while_decoding_propagates(tmp_path: Path, container: str) -> None:
    path = tmp_path / f"long.{container}"
    write_audio_file(path, make_signal(480_000, 2, 16), 48000, container)
    result = interrupt(DECODE_FOREVER, str(path))
    assert result.returncode == -signal.SIGINT  # Python exits by the signal on an uncaught KeyboardInterrupt
    assert result.stderr.rstrip().splitlines()[-1] == "KeyboardInterrupt"
    assert "SourceError" not in result.stderr


class Marker(BaseException):
    """Raised by the test's SIGINT handler."""


def test_ctrl_c_is_never_lost_while_decoding(tmp_path: Path) -> None:
    """Flood the process with SIGINT while reading blocks: every handler exception comes out.

    PyAV 18.1 drops about a third of the exceptions raised by signal handlers while its
    resampler runs (mp3 decodes to planar floats). Without the fix this failed about every
    other run; the next test checks the mechanism deterministically.
    """
    path = tmp_path / "a.mp3"
    write_audio_file(path, make_signal(48_000, 2, 16), 48000, "mp3")
    state = {"inside": False, "raised": 0, "caught": 0}

    def handler(signum: int, frame: Any) -> None:
        if state["inside"]:
            state["inside"] = False  # a signal arriving during this handler is ignored
            state["raised"] += 1
            raise Marker

    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.0002)

    previous = signal.signal(signal.SIGINT, handler)
    thread = threading.Thread(target=flood)
    thread.start()
    try:
        with open_source(path) as src:
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                try:
                    state["inside"] = True
                    for _ in src.blocks(4096):
                        pass
                    state["inside"] = False
                except Marker:
                    state["inside"] = False
                    state["caught"] += 1
    finally:
        stop.set()
        thread.join()
        time.sleep(0.05)  # let the last signals reach the handler, which now ignores them
        signal.signal(signal.SIGINT, previous)
    assert state["raised"] > 50
    assert state["caught"] == state["raised"]


class LosingResampler:
    """Stands in for PyAV's resampler, and like it loses what a signal handler raises inside it."""

    def __init__(self, **kwargs: Any) -> None:
        self.inner = AudioResampler(**kwargs)
        self.lost: list[BaseException] = []

    def resample(self, frame: Any) -> Any:
        if not self.lost:
            try:
                signal.raise_signal(signal.SIGINT)  # the handler runs before raise_signal returns
            except BaseException as e:
                self.lost.append(e)
        return self.inner.resample(frame)


def test_pyav_runs_with_ctrl_c_held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C while PyAV resamples reaches the caller, even when PyAV would have dropped it."""
    path = tmp_path / "a.mp3"
    write_audio_file(path, make_signal(48_000, 2, 16), 48000, "mp3")
    made: list[LosingResampler] = []

    def make(**kwargs: Any) -> LosingResampler:
        made.append(LosingResampler(**kwargs))
        return made[-1]

    monkeypatch.setattr(pyav_module, "AudioResampler", make)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with open_source(path) as src, pytest.raises(KeyboardInterrupt):
            for _ in src.blocks(4096):
                pass
    finally:
        signal.signal(signal.SIGINT, previous)
    assert made and made[0].lost == []  # nothing was raised inside the resampler
