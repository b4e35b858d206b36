"""The codec choice of an import, FLAC beyond 8 channels, and truncated sources, end to end.

- ``codec="auto"`` (the default) picks FLAC for integer PCM, npy for float PCM and
  64-bit integers, and records the choice and its reason;
- more than 8 channels become several FLAC streams, and a read of some channels
  fetches only the streams that hold them;
- a truncated WAV or FLAC imports on request, and ``info`` records it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from archive_helpers import CountingStore, snapshot
from codec_checks import make_audio
from commands import run
from signals import make_signal, wav_bytes, write_audio_file

import wildzarr
from wildzarr import ArgumentError, SourceError
from wildzarr.audio import AudioFormat


@pytest.mark.parametrize(
    ("dtype", "bits", "codec", "read_dtype"),
    [
        ("uint8", 8, "flac", "int16"),
        ("int8", 8, "flac", "int16"),
        ("int16", 16, "flac", "int16"),
        ("int32", 32, "flac", "int32"),
        ("int64", 64, "npy", "int64"),
        ("float32", 32, "npy", "float32"),
        ("float64", 64, "npy", "float64"),
    ],
)
def test_automatic_choice_for_arrays(dtype: str, bits: int, codec: str, read_dtype: str) -> None:
    arc = wildzarr.open(CountingStore())
    data = make_audio(AudioFormat(8000, 2, dtype, bits), 20_000, seed=bits)
    rec = arc.add(data, samplerate=8000)
    assert rec.info.codec["id"] == codec and rec.info.dtype == read_dtype
    assert rec.info.codec_choice is not None and rec.info.codec_choice.startswith("automatic: ")
    assert not rec.info.lossy
    got = arc[rec.id].read()
    if dtype == "uint8":  # FLAC stores signed samples: offset binary minus 128
        np.testing.assert_array_equal(got, data.astype(np.int16) - 128)
    else:
        assert got.dtype == read_dtype and got.tobytes() == data.astype(read_dtype).tobytes()


def test_float_samples_nan_and_negative_zero_survive_byte_for_byte() -> None:
    data = make_audio(AudioFormat(500_000, 3, "float32", 32), 10_000)
    data[5, 0], data[6, 1], data[7, 2] = np.nan, np.inf, -np.inf
    data[8, 0] = -0.0
    data[9, 1] = np.frombuffer(np.uint32(0x7FC0_1234).tobytes(), np.float32)[0]  # a NaN with a payload
    rec = wildzarr.open(CountingStore()).add(data, samplerate=500_000)
    assert rec.info.codec["id"] == "npy"
    assert rec.read().tobytes() == data.tobytes()
    assert rec.read(5, 10, channels=[2, 0]).tobytes() == np.ascontiguousarray(data[5:10, [2, 0]]).tobytes()


def test_a_named_codec_is_recorded_as_chosen() -> None:
    arc = wildzarr.open(CountingStore())
    rec = arc.add(make_signal(5000, 1, 16), samplerate=8000, codec="npy")
    assert rec.info.codec["id"] == "npy" and rec.info.codec_choice == "chosen: " + arc.add(
        make_signal(5000, 1, 16, seed=1), samplerate=8000, codec="npy"
    ).info.codec_choice.removeprefix("chosen: ")
    with pytest.raises(ArgumentError, match="need a named codec"):
        arc.add(make_signal(5000, 1, 16, seed=2), samplerate=8000, blocksize=1024)


# ----------------------------------------------------------------------------- FLAC beyond 8 channels


@pytest.mark.parametrize("channels", [9, 16, 64])
def test_flac_beyond_eight_channels(channels: int) -> None:
    store = CountingStore()
    arc = wildzarr.open(store)
    data = make_signal(30_000, channels, 16, seed=channels)
    rec = arc.add(data, samplerate=48_000)
    assert rec.info.codec["id"] == "flac" and rec.info.channels == channels
    assert f"{-(-channels // 8)} streams" in (rec.info.codec_choice or "")
    rec = arc[rec.id]
    np.testing.assert_array_equal(rec.read(), data)
    rng = np.random.default_rng(channels)
    for _ in range(20):
        start = int(rng.integers(0, 29_000))
        wanted = [int(c) for c in rng.choice(channels, size=int(rng.integers(1, 6)), replace=False)]
        np.testing.assert_array_equal(
            rec.read(start, start + 1000, channels=wanted), data[start : start + 1000, wanted]
        )
    # A read of channels held by one stream fetches that stream's bytes only.
    rec.read(0, 1)
    streams = {first: reader for first, reader in rec._stream_readers()}
    for channel in (0, channels - 1):
        store.reset()
        rec.read(10_000, 12_000, channels=[channel])
        holder = max(first for first in streams if first <= channel)
        blob_keys = {key.rsplit("/blob/", 1)[0] for key in store.keys}
        assert blob_keys == {f"{rec.id}/{sorted(streams).index(holder)}"}, store.keys


# ----------------------------------------------------------------------------- truncated sources


def truncated_wav(path: Path, data: np.ndarray, missing: int) -> None:
    """A WAV whose data chunk header announces ``missing`` more samples than the file holds."""
    frame = data.shape[1] * data.dtype.itemsize
    path.write_bytes(wav_bytes(data, 48_000, data_size=(len(data) + missing) * frame))


def test_truncated_wav_imports_on_request(tmp_path: Path) -> None:
    data = make_signal(50_000, 2, 16)
    path = tmp_path / "battery.wav"
    truncated_wav(path, data, missing=10_000)
    root = tmp_path / "a.zarr"
    arc = wildzarr.open(root)
    before = snapshot(root)
    with pytest.raises(
        SourceError, match=r"battery.wav: truncated: header announces 60000 samples, file holds 50000"
    ):
        arc.add(path)
    assert snapshot(root) == before
    rec = arc.add(path, allow_truncated=True)
    assert rec.info.truncated == {"announced": 60_000, "found": 50_000}
    np.testing.assert_array_equal(arc[rec.id].read(), data)
    # an intact file records no truncation
    write_audio_file(tmp_path / "whole.wav", data, 48_000, "wav")
    assert arc.add(tmp_path / "whole.wav", allow_truncated=True).info.truncated is None


def test_truncated_flac_imports_on_request(tmp_path: Path) -> None:
    data = make_signal(100_000, 2, 24)
    whole = tmp_path / "whole.flac"
    write_audio_file(whole, data, 48_000, "flac", bits=24)
    raw = whole.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(raw[: len(raw) * 2 // 3 + 17])  # ends inside a frame
    arc = wildzarr.open(tmp_path / "a.zarr")
    with pytest.raises(SourceError, match=r"cut\.flac"):
        arc.add(cut)
    rec = arc.add(cut, allow_truncated=True)
    found = rec.info.truncated["found"] if rec.info.truncated else 0
    assert rec.info.truncated == {"announced": 100_000, "found": found} and 0 < found < 100_000
    np.testing.assert_array_equal(rec.read(), data[:found])


def test_cli_import_allow_truncated_and_info_shows_the_choice(tmp_path: Path) -> None:
    data = make_signal(20_000, 1, 16)
    path = tmp_path / "battery.wav"
    truncated_wav(path, data, missing=5)
    archive = str(tmp_path / "a.zarr")
    refused = run("import", archive, str(path))
    assert refused.returncode == 1 and "truncated" in refused.stderr
    done = run("import", archive, str(path), "--allow-truncated")
    assert done.returncode == 0, done.stderr
    info = run("info", archive, "1")
    assert "codec_choice: automatic: 16-bit integer PCM -> FLAC, lossless" in info.stdout
    assert "truncated: announced=20005, found=20000" in info.stdout
    chosen = run("import", archive, str(tmp_path / "battery.wav"), "--allow-truncated", "--allow-duplicates",
                 "--codec", "flac", "--codec-option", "compression_level=8")  # fmt: skip
    assert chosen.returncode == 0, chosen.stderr
    chosen_info = run("info", archive, "2").stdout
    assert "chosen: flac(compression_level=8, blocksize=4096, float_bits=24)" in chosen_info
    bad = run("import", archive, str(path), "--codec-option", "blocksize=1024")
    assert bad.returncode != 0 and "--codec-option needs a named --codec" in bad.stderr
