"""Exports of recordings to audio files (wildzarr.export): exact, aligned, with their GUANO metadata."""

from __future__ import annotations

import io
import os
import struct
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import soundfile
from commands import run
from conftest import CORPUS_DIR
from signals import (
    decode_with_pyav,
    guano_chunk,
    make_float_signal,
    make_signal,
    wav_bytes,
    write_audio_file,
    write_wav,
)

import wildzarr
from wildzarr import ArgumentError, RangeError, StorageError
from wildzarr.cli import main
from wildzarr.export import FORMATS, append_riff_chunk, export_recording, guano_text
from wildzarr.sources.riff import parse_riff, read_riff
from wildzarr.timebase import sample_index, to_utc

needs_audio = pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"no recordings corpus at {CORPUS_DIR}")

GUANO = {
    "GUANO|Version": "1.0",
    "Make": "Pettersson",
    "Model": "D500X",
    "Timestamp": "2024-06-03T03:37:31+02:00",
    "TE": "10",
    "Samplerate": "384000",
    "Length": "1.2",
    "Loc Position": "49.093119 5.047867",
    "NABat|Site Name": "Étang de Lindre",
    "PET|Gain": "80",
}


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive with one recording of every kind of samples, from files written here."""
    src = tmp_path_factory.mktemp("sources")
    path = tmp_path_factory.mktemp("archive") / "a.zarr"
    archive = wildzarr.open(path, mode="w")
    # 1: 16-bit stereo, 48 kHz, longer than one export block (2**18 samples), with tags
    write_audio_file(
        src / "s16.wav",
        make_signal(600_001, 2, 16, seed=1),
        48_000,
        "wav",
        "pcm_s16le",
        tags={"artist": "A. Recordist", "copyright": "CC BY 4.0"},
    )
    archive.add(src / "s16.wav")
    # 2: 24-bit stereo FLAC at 96 kHz
    write_audio_file(src / "s24.flac", make_signal(100_003, 2, 24, seed=2), 96_000, "flac", bits=24)
    archive.add(src / "s24.flac")
    # 3: 32-bit integers, 4: float32, 5: float64 (arrays), 6: 8-bit WAV
    archive.add(make_signal(50_001, 1, 32, seed=3), samplerate=4_000)
    archive.add(make_float_signal(50_001, 2, seed=4), samplerate=500_000)
    archive.add(make_float_signal(50_001, 1, seed=5, dtype=np.float64), samplerate=22_050)
    write_audio_file(src / "u8.wav", make_signal(20_001, 1, 8, seed=6), 8_000, "wav", "pcm_u8")
    archive.add(src / "u8.wav")
    # 7: a bat recording with GUANO (time-expanded x10: 38.4 kHz stored), the chunk after the data
    write_wav(src / "bat.wav", make_signal(46_080, 1, 16, seed=7), 38_400, after=[guano_chunk(GUANO)])
    archive.add(src / "bat.wav")
    # 8: a click at sample 50_017 of low noise, 48 kHz mono (lossy alignment)
    archive.add(click_signal(48_000), samplerate=48_000)
    # 9: the same at 44.1 kHz
    archive.add(click_signal(44_100), samplerate=44_100)
    # 10: 12 channels of 16-bit (a microphone array)
    archive.add(make_signal(10_000, 12, 16, seed=8), samplerate=96_000)
    return path


@pytest.fixture()
def arc(archive_path: Path) -> wildzarr.Archive:
    return wildzarr.open(archive_path, mode="r")


CLICK = 50_017


def click_signal(seed: int) -> np.ndarray:
    """float32 (100_003, 1): noise at -46 dBFS and one click of 0.9 at sample CLICK."""
    x = 0.005 * np.random.default_rng(seed).standard_normal((100_003, 1))
    x[CLICK, 0] = 0.9
    return x.astype(np.float32)


def read_back(path: Path) -> tuple[np.ndarray, int]:
    """The samples of an exported file as float64, by soundfile where it reads the format, else PyAV."""
    try:
        data, rate = soundfile.read(path, dtype="float64", always_2d=True)
        return data, rate
    except soundfile.LibsndfileError:
        decoded, rate = decode_with_pyav(path)
        if decoded.dtype.kind in "iu":
            scale = 2.0 ** (8 * decoded.dtype.itemsize - 1)
            centre = scale if decoded.dtype == np.uint8 else 0
            return (decoded.astype(np.float64) - centre) / scale, rate
        return decoded.astype(np.float64), rate


def integer_values(path: Path, bits: int) -> np.ndarray:
    """True integer values of a lossless export, read by soundfile (its int32 reads are left-justified)."""
    data, _ = soundfile.read(path, dtype="int32", always_2d=True)
    return data >> (32 - bits)


# ----------------------------------------------------------------------------- lossless: bit for bit

LOSSLESS = {
    1: ["wav", "flac", "aiff", "caf", "au", "mkv", "wv"],
    2: ["wav", "flac", "aiff", "caf", "au", "mkv", "wv"],
    3: ["wav", "flac", "aiff", "caf", "au"],
    4: ["wav", "caf", "aiff", "au", "mkv"],
    5: ["wav", "caf", "aiff", "au"],
    6: ["wav", "flac", "aiff", "caf", "au"],
    10: ["wav", "caf"],
}


@pytest.mark.parametrize(("rid", "fmt"), [(rid, fmt) for rid, fmts in LOSSLESS.items() for fmt in fmts])
def test_lossless_exports_are_bit_exact(arc: wildzarr.Archive, tmp_path: Path, rid: int, fmt: str) -> None:
    rec = arc[rid]
    first, last = 3, rec.samples - 5
    path = export_recording(rec, tmp_path / f"out.{fmt}", start=first, stop=last)
    assert path == tmp_path / f"out.{fmt}" and path.is_file()
    got, rate = read_back(path)
    assert rate == rec.samplerate
    expected = rec.read(first, last, dtype="float64")
    assert got.shape == expected.shape and np.array_equal(got, expected)
    bits = rec.info.bits_per_sample
    integers = rec.info.stored_format().kind != "float" and bits > 8
    if (
        integers and fmt in ("wav", "flac", "aiff") and (fmt != "flac" or bits <= 24)
    ):  # libsndfile: no 32-bit FLAC
        container = 16 if bits <= 16 else 24 if bits <= 24 else 32
        values = integer_values(path, container) >> (container - bits)
        assert np.array_equal(values, rec.read(first, last))
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left


def test_wav_sample_formats(arc: wildzarr.Archive, tmp_path: Path) -> None:
    """WAV exports keep each recording's own sample format (soundfile's subtype names)."""
    subtypes = {1: "PCM_16", 2: "PCM_24", 3: "PCM_32", 4: "FLOAT", 5: "DOUBLE", 6: "PCM_U8"}
    for rid, subtype in subtypes.items():
        path = export_recording(arc[rid], tmp_path / f"{rid}.wav")
        assert soundfile.info(path).subtype == subtype, rid
    assert soundfile.info(export_recording(arc[2], tmp_path / "2.flac")).subtype == "PCM_24"


def test_32_bit_flac_is_exact(arc: wildzarr.Archive, tmp_path: Path) -> None:
    """FFmpeg's 32-bit FLAC (experimental; libsndfile does not read it): decoded by PyAV, exact."""
    rec = arc[3]
    path = export_recording(rec, tmp_path / "x.flac")
    decoded, rate = decode_with_pyav(path)
    assert rate == 4_000 and decoded.dtype == np.int32
    assert np.array_equal(decoded, rec.read())


def test_channels_are_selected_in_order(arc: wildzarr.Archive, tmp_path: Path) -> None:
    rec = arc[10]
    path = export_recording(rec, tmp_path / "x.flac", channels=[7, 2], start=10, stop=9000)
    assert np.array_equal(integer_values(path, 16), rec.read(10, 9000, channels=[7, 2]))
    path = export_recording(rec, tmp_path / "y.wav", channels=5)
    assert np.array_equal(integer_values(path, 16), rec.read(channels=[5]))


# ----------------------------------------------------------------------------- names and ranges


def test_default_names_and_formats(
    arc: wildzarr.Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert export_recording(arc[7], start=96, stop=192, folder=tmp_path) == tmp_path / "bat_s96-192.wav"
    assert export_recording(arc[2], folder=tmp_path) == tmp_path / "s24_s0-100003.flac"  # the source's suffix
    assert export_recording(arc[1], stop=10, format="mp3", folder=tmp_path) == tmp_path / "s16_s0-10.mp3"
    assert export_recording(arc[4], stop=10, folder=tmp_path) == tmp_path / "recording4_s0-10.wav"  # an array
    monkeypatch.chdir(tmp_path)
    assert export_recording(arc[6], stop=8) == Path.cwd() / "u8_s0-8.wav"
    (tmp_path / "f").mkdir()
    assert export_recording(arc[6], "sub.wav", stop=8, folder=tmp_path / "f") == tmp_path / "f" / "sub.wav"
    # format= wins over the path's suffix
    path = export_recording(arc[1], tmp_path / "x.dat", stop=4800, format="flac")
    assert soundfile.info(path).format == "FLAC"


def test_seconds_are_real_seconds(arc: wildzarr.Archive, tmp_path: Path) -> None:
    rec = arc[2]
    path = export_recording(rec, tmp_path / "a.wav", start_s=0.1, stop_s=0.25)
    first, last = sample_index(0.1, 96_000), sample_index(0.25, 96_000, side="stop")
    assert (first, last) == (9_600, 24_000)
    assert np.array_equal(read_back(path)[0], rec.read(first, last, dtype="float64"))
    path = export_recording(rec, tmp_path / "b.wav", start_s=0.00001, stop_s=0.00002)  # 0.96 to 1.92 samples
    assert len(read_back(path)[0]) == 2
    # the bat recording is time-expanded x10: one real second holds 384,000 samples stored at 38.4 kHz
    bat = arc[7]
    assert bat.time_expansion == 10.0
    path = export_recording(bat, tmp_path / "c.wav", start_s=0.01, stop_s=0.1)
    assert np.array_equal(read_back(path)[0], bat.read(3_840, 38_400, dtype="float64"))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"stop": 10**9}, RangeError),
        ({"start": -1}, RangeError),
        ({"start": 20, "stop": 10}, RangeError),
        ({"start_s": 0, "stop_s": 1000}, RangeError),
        ({"start": 10, "stop": 10}, ArgumentError),
        ({"start": 1.5}, ArgumentError),
        ({"start": 0, "stop_s": 1}, ArgumentError),
        ({"start_s": float("nan")}, ArgumentError),
        ({"channels": [2]}, RangeError),
        ({"channels": []}, ArgumentError),
        ({"format": "xyz"}, ArgumentError),
        ({"format": "wav", "codec": "no_such_codec"}, ArgumentError),
        ({"format": "wav", "codec": "h264"}, ArgumentError),
        ({"format": "mp3", "bitrate": "fast"}, ArgumentError),
        ({"format": "mp3", "bitrate": -5}, ArgumentError),
        ({"format": "flac", "options": {"compression_level": "99"}}, ArgumentError),
        ({"format": "m4a", "codec": "alac", "bitrate": 128_000}, ArgumentError),
        ({"format": "m4a", "codec": "alac"}, None),
    ],
)
def test_bad_arguments_write_nothing(
    arc: wildzarr.Archive, tmp_path: Path, kwargs: dict[str, Any], error: type[Exception] | None
) -> None:
    if error is None:
        export_recording(arc[1], folder=tmp_path, stop=100, **kwargs)
        return
    with pytest.raises(error, match=r"recording 1|format|encoder|codec|bitrate|flac"):
        export_recording(arc[1], folder=tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("rid", "fmt", "codec", "match"),
    [
        (4, "flac", None, "FLAC holds integer samples"),  # float32 samples
        (5, "mkv", "flac", "cannot hold"),
        (3, "m4a", "alac", "cannot hold"),  # ALAC: at most 24 bits
        (1, "wav", "pcm_s16le", None),  # 16 bits in 16: fine
        (2, "wav", "pcm_s16le", "cannot hold"),  # 24 bits in 16: refused, never rounded
        (4, "mp3", None, "not 500000 Hz"),  # ultrasound is never silently low-passed
        (2, "opus", None, "not 96000 Hz"),
        (2, "m4a", None, None),  # AAC encodes 96 kHz
        (10, "m4a", None, "refuses 12 channels"),  # AAC: at most 8 (FFmpeg's layouts)
        (10, "flac", None, "refuses 12 channels"),  # FLAC: at most 8
    ],
)
def test_formats_that_cannot_hold_the_samples(
    arc: wildzarr.Archive, tmp_path: Path, rid: int, fmt: str, codec: str | None, match: str | None
) -> None:
    if match is None:
        assert export_recording(arc[rid], tmp_path / f"x.{fmt}", codec=codec, stop=1000).is_file()
        return
    with pytest.raises(ArgumentError, match=match):
        export_recording(arc[rid], tmp_path / f"x.{fmt}", codec=codec)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_a_storage_error(arc: wildzarr.Archive, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no_such_folder"):
        export_recording(arc[1], tmp_path / "no_such_folder" / "x.wav", stop=10)


def test_an_existing_file_is_replaced(arc: wildzarr.Archive, tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"old")
    export_recording(arc[1], path, stop=480)
    assert soundfile.info(path).frames == 480
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]


def test_files_get_the_usual_permissions(arc: wildzarr.Archive, tmp_path: Path) -> None:
    umask = os.umask(0o027)
    try:
        path = export_recording(arc[1], tmp_path / "x.flac", stop=480)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o640  # 0o666 less the umask, as open() creates files


# ----------------------------------------------------------------------------- lossy: sample-aligned


def aligned_lag(decoded: np.ndarray, source: np.ndarray, max_lag: int = 64) -> int:
    """The lag (decoded sample minus source sample) where the two signals correlate best."""
    n = min(len(decoded), len(source)) - 2 * max_lag
    a = source[max_lag : max_lag + n, 0].astype(np.float64)
    scores = [
        float(np.dot(a, decoded[max_lag + lag : max_lag + lag + n, 0]))
        for lag in range(-max_lag, max_lag + 1)
    ]
    return int(np.argmax(scores)) - max_lag


@pytest.mark.parametrize("fmt", ["mp3", "opus", "ogg", "webm"])
@pytest.mark.parametrize("rid", [8, 9])
def test_mp3_and_opus_decode_to_exactly_the_range(
    arc: wildzarr.Archive, tmp_path: Path, fmt: str, rid: int
) -> None:
    """The LAME tag (mp3) and Opus pre-skip and end trim: FFmpeg decodes exactly the range, aligned."""
    rec = arc[rid]
    first, last = 20_000, 90_001
    path = export_recording(rec, tmp_path / f"x.{fmt}", start=first, stop=last)
    decoded, rate = decode_with_pyav(path)
    source = rec.read(first, last)
    ratio = rate / rec.samplerate  # Opus is always 48 kHz: 44.1 kHz recordings are resampled
    assert rate == (48_000 if fmt != "mp3" else rec.samplerate)
    assert abs(len(decoded) - (last - first) * ratio) < 1
    assert abs(int(np.argmax(np.abs(decoded[:, 0]))) - (CLICK - first) * ratio) <= 1
    if ratio == 1:
        assert len(decoded) == last - first and aligned_lag(decoded, source) == 0


@pytest.mark.parametrize("fmt", ["m4a", "mp4", "mov", "mka"])
@pytest.mark.parametrize("rid", [8, 9])
def test_aac_priming_is_recorded_and_removed(
    arc: wildzarr.Archive, tmp_path: Path, fmt: str, rid: int
) -> None:
    """MP4's edit list (Matroska's CodecDelay) removes AAC's 1024 priming samples when FFmpeg decodes.

    The edit list also holds the exact length (in the sample rate's time scale), which PyAV reports as
    the stream's duration; FFmpeg 8 decodes the rest of the last 1024-sample frame after it
    (docs/export.md).
    """
    rec = arc[rid]
    first, last = 20_000, 90_001
    path = export_recording(rec, tmp_path / f"x.{fmt}", start=first, stop=last, codec="aac")
    decoded, rate = decode_with_pyav(path)
    assert rate == rec.samplerate
    assert last - first <= len(decoded) < last - first + 1024
    assert int(np.argmax(np.abs(decoded[:, 0]))) == CLICK - first
    assert aligned_lag(decoded, rec.read(first, last)) == 0
    if fmt != "mka":
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            assert stream.duration is not None and stream.time_base is not None
            assert stream.duration * stream.time_base * rate == last - first


def test_adts_cannot_record_the_priming(arc: wildzarr.Archive, tmp_path: Path) -> None:
    """Raw ADTS (.aac) has no field for it: FFmpeg decodes AAC's 1024 priming samples first."""
    rec = arc[8]
    path = export_recording(rec, tmp_path / "x.aac", start=20_000, stop=90_001)
    decoded, _ = decode_with_pyav(path)
    assert int(np.argmax(np.abs(decoded[:, 0]))) == CLICK - 20_000 + 1024


def test_bitrates(arc: wildzarr.Archive, tmp_path: Path) -> None:
    rec = arc[9]
    sizes = {
        b: export_recording(rec, tmp_path / f"{b}.mp3", bitrate=b).stat().st_size for b in ("32k", 192_000)
    }
    seconds = rec.samples / rec.samplerate
    assert sizes["32k"] < sizes[192_000]
    assert abs(sizes[192_000] * 8 / seconds - 192_000) < 0.1 * 192_000


# ----------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "m4a", "ogg", "opus", "mkv", "aiff"])
def test_title_comment_and_carried_tags(arc: wildzarr.Archive, tmp_path: Path, fmt: str) -> None:
    rec = arc[1]
    path = export_recording(rec, tmp_path / f"x.{fmt}", start=4800, stop=9600)
    with av.open(str(path)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
        tags.update({k.lower(): v for k, v in container.streams.audio[0].metadata.items()})
    assert tags["title"] == "s16.wav"
    assert tags["comment"] == "samples 4800-9600 of s16.wav (wildzarr recording 1)"
    if fmt != "aiff":  # FFmpeg's AIFF muxer writes name, author, copyright and annotation only
        assert tags["artist"] == "A. Recordist"
    assert tags["copyright"] == "CC BY 4.0"


def test_the_comment_gives_the_start_time(arc: wildzarr.Archive, tmp_path: Path) -> None:
    rec = arc[7]  # GUANO Timestamp 2024-06-03T03:37:31+02:00, TE 10, 38.4 kHz stored
    assert rec.start_time == to_utc("2024-06-03T01:37:31Z")
    path = export_recording(rec, tmp_path / "x.flac", start=19_200)  # 0.05 real seconds in
    with av.open(str(path)) as container:
        assert container.metadata["comment"].endswith("starting 2024-06-03T01:37:31.050000Z")


# ----------------------------------------------------------------------------- GUANO


def guan_chunk(path: Path) -> bytes:
    """The raw body of the file's ``guan`` chunk."""
    riff = read_riff(path)
    assert riff is not None and "riff_warnings" not in riff.meta
    (entry,) = [c for c in riff.meta["chunks"] if c["id"] == "guan"]
    with path.open("rb") as f:
        f.seek(entry["offset"] + 8)
        return f.read(entry["size"])


def test_guano_describes_the_exported_range(arc: wildzarr.Archive, tmp_path: Path) -> None:
    rec = arc[7]
    path = export_recording(rec, tmp_path / "x.wav", start=3_840, stop=42_240)  # real seconds 0.01 to 0.11
    body = guan_chunk(path)
    assert body.startswith(b"GUANO|Version: 1.0\n") and len(body) % 2 == 0
    riff = read_riff(path)
    assert riff is not None
    fields = riff.meta["guano"]
    assert fields["Timestamp"] == "2024-06-03T03:37:31.010+02:00"
    assert fields["Length"] == "0.1"
    assert fields["Original Filename"] == "bat.wav"
    unchanged = {k: v for k, v in fields.items() if k not in ("Timestamp", "Length", "Original Filename")}
    assert unchanged == {k: v for k, v in GUANO.items() if k not in ("Timestamp", "Length")}
    assert path.stat().st_size == struct.unpack("<I", path.read_bytes()[4:8])[0] + 8
    assert np.array_equal(integer_values(path, 16), rec.read(3_840, 42_240))


def test_guano_survives_a_new_import(arc: wildzarr.Archive, tmp_path: Path) -> None:
    rec = arc[7]
    path = export_recording(rec, tmp_path / "clip.wav", start=7_680)  # 0.02 real seconds in
    again = wildzarr.open(tmp_path / "new.zarr", mode="w").add(path)
    assert again.file_meta["guano"]["Timestamp"] == "2024-06-03T03:37:31.020+02:00"
    assert again.file_meta["guano"]["TE"] == "10"
    assert again.time_expansion == 10.0
    assert rec.start_time is not None
    assert again.start_time == rec.start_time + timedelta(seconds=0.02)
    assert np.array_equal(again.read(), rec.read(7_680))


def test_an_export_from_sample_0_keeps_the_timestamp_text(arc: wildzarr.Archive, tmp_path: Path) -> None:
    riff = read_riff(export_recording(arc[7], tmp_path / "x.wav", stop=100))
    assert riff is not None and riff.meta["guano"]["Timestamp"] == GUANO["Timestamp"]


def test_only_wav_exports_carry_guano(arc: wildzarr.Archive, tmp_path: Path) -> None:
    for fmt in ("flac", "aiff"):
        path = export_recording(arc[7], tmp_path / f"x.{fmt}", stop=100)
        assert b"GUANO" not in path.read_bytes()
    assert read_riff(export_recording(arc[1], tmp_path / "y.wav", stop=100)) is not None
    assert b"guan" not in (tmp_path / "y.wav").read_bytes()


@needs_audio
def test_the_batlogger_recording(tmp_path: Path) -> None:
    archive = wildzarr.open(tmp_path / "a.zarr", mode="w")
    rec = archive.add(CORPUS_DIR / "bat_batlogger_312k_guano.wav", time_zone="Europe/Paris")
    path = export_recording(rec, start=96_000, stop=192_000, folder=tmp_path)
    assert path.name == "bat_batlogger_312k_guano_s96000-192000.wav"
    data, rate = soundfile.read(path, dtype="int16", always_2d=True)
    assert rate == 312_500 and np.array_equal(data, rec.read(96_000, 192_000))
    riff = read_riff(path)
    assert riff is not None
    guano = riff.meta["guano"]
    # 96,000 samples at 312.5 kHz: 0.3072 s after the original 2024-06-03T03:37:31 (no offset: still none)
    assert guano["Timestamp"] == "2024-06-03T03:37:31.307200"
    assert guano["Length"] == "0.3072"
    assert {k: guano[k] for k in ("Make", "Model", "Serial", "Loc Position")} == {
        "Make": "BATLOGGER",
        "Model": "S2",
        "Serial": "22060166",
        "Loc Position": "49.093119 5.047867",
    }
    again = wildzarr.open(tmp_path / "b.zarr", mode="w").add(path, time_zone="Europe/Paris")
    assert again.file_meta["guano"]["Timestamp"] == "2024-06-03T03:37:31.307200"
    assert rec.start_time is not None and again.start_time == rec.start_time + timedelta(seconds=0.3072)


def test_guano_text_rules() -> None:
    fields = {
        "Timestamp": "not a time",
        "Note": "line one\nline two",
        "bad:key": "x",
        "": "y",
        "GUANO|Version": "1.0",
        "Original Filename": "first.wav",
    }
    text = guano_text(fields, 10, 20, 1000, 1.0, "second.wav")
    assert text.splitlines()[0] == "GUANO|Version: 1.0"
    assert "Timestamp" not in text  # an unreadable time cannot be shifted: left out
    assert "Note: line one\\nline two\n" in text
    assert "bad:key" not in text and "Original Filename: first.wav" in text
    assert "Length: 0.01" in text and len(text.encode()) % 2 == 0
    kept = guano_text({"Timestamp": "not a time"}, 0, 20, 1000, 1.0, "x.wav")
    assert "Timestamp: not a time\n" in kept  # from sample 0 it is still right
    assert guano_text({}, 0, 3, 1000, 1.0, "x.wav").startswith("GUANO|Version: 1.0\n")


def test_appending_to_rf64_and_odd_riff_files(tmp_path: Path) -> None:
    data = make_signal(1001, 1, 8)  # 1,001 bytes: an odd data chunk
    for form in (b"RIFF", b"RF64"):
        path = tmp_path / f"{form.decode()}.wav"
        blob = wav_bytes(data, 8000, form=form)
        path.write_bytes(blob[:-1] if form == b"RIFF" else blob)  # RIFF: without the data's pad byte
        with path.open("r+b") as f:
            append_riff_chunk(f, b"guan", b"GUANO|Version: 1.0\nTE: 2\n", str(path))
        riff = parse_riff(io.BytesIO(path.read_bytes()))
        assert riff is not None and "riff_warnings" not in riff.meta
        assert riff.meta["guano"] == {"GUANO|Version": "1.0", "TE": "2"}
        size = path.stat().st_size - 8
        head = path.read_bytes()
        assert struct.unpack("<I", head[4:8])[0] == (size if form == b"RIFF" else 0xFFFFFFFF)
        if form == b"RF64":
            assert struct.unpack("<Q", head[20:28])[0] == size
    not_wav = tmp_path / "x.flac"
    not_wav.write_bytes(b"fLaC" + bytes(100))
    with not_wav.open("r+b") as f, pytest.raises(StorageError, match="not a RIFF"):
        append_riff_chunk(f, b"guan", b"x", str(not_wav))


# ----------------------------------------------------------------------------- command line


def test_the_export_command(arc: wildzarr.Archive, archive_path: Path, tmp_path: Path) -> None:
    location = str(archive_path)
    out = tmp_path / "clip.flac"
    result = run("export", location, "2", str(out), "--start", "100", "--stop", "4100")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert np.array_equal(integer_values(out, 24), arc[2].read(100, 4100))
    result = run(
        "export",
        location,
        "9",
        str(tmp_path / "c.m4a"),
        "--start-s",
        "0.5",
        "--stop-s",
        "1",
        "--bitrate",
        "64k",
    )
    assert result.returncode == 0, result.stderr
    decoded, _ = decode_with_pyav(tmp_path / "c.m4a")
    assert 22_050 <= len(decoded) < 22_050 + 1024
    result = run("export", location, "1", str(tmp_path / "x.mp3"), "--codec", "libopus")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("wildzarr: ") and len(result.stderr.strip().splitlines()) == 1
    assert "does not support" in result.stderr  # FFmpeg's mp3 muxer refused the stream: nothing is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.m4a", "clip.flac"]
    result = run("export", location, "1", "--stop", "99999999", "--format", "wav")
    assert result.returncode == 1 and "cannot export [0, 99999999)" in result.stderr


def test_the_export_command_names_files_in_the_current_folder(
    archive_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    location = str(archive_path)
    monkeypatch.chdir(tmp_path)
    assert main(["export", location, "7", "--start", "96", "--stop", "192"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "bat_s96-192.wav")
    assert main(["export", location, "7", "--format", "mp3", "--stop", "99"]) == 1
    assert "not 38400 Hz" in capsys.readouterr().err


def test_every_format_name_writes_a_readable_file(arc: wildzarr.Archive, tmp_path: Path) -> None:
    rec = arc[1]
    for name in FORMATS:
        path = export_recording(rec, tmp_path / f"x.{name}", stop=48_000)
        decoded, rate = decode_with_pyav(path)
        assert rate == 48_000 and len(decoded) >= 48_000, name
