"""Import end to end: the real corpus, files PyAV writes in every container, and every bad input.

Each imported recording is read back whole and in random windows and compared with an independent
decode of the source; each bad input must raise its error and leave the archive exactly as it was.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from archive_helpers import snapshot
from signals import decode_with_pyav, make_bad_file, make_float_signal, make_signal, write_audio_file
from test_sources import BAD_ARRAYS, BAD_FILES, CORPUS

import wildzarr
from wildzarr import SourceError, UnsupportedSourceError

STEP = 2.0**23  # lossy sources are stored as 24-bit integers


def reference(path: Path, bits: int, lossy: bool) -> np.ndarray:
    """An independent decode: soundfile where libsndfile reads the file losslessly, else PyAV's.

    Integers come back as true values (soundfile's int32 reads are left-justified); lossy
    sources as floats in units of one 24-bit step.
    """
    if lossy:
        ref, _ = decode_with_pyav(path)
        return ref.astype(np.float64) * STEP
    ref, _ = soundfile.read(path, dtype="int32", always_2d=True)
    return ref >> (32 - bits)


def assert_reads_match(
    rec: wildzarr.Recording, ref: np.ndarray, lossy: bool, windows: int, seed: int
) -> None:
    def same(got: np.ndarray, want: np.ndarray) -> bool:
        if got.shape != want.shape:
            return False
        if lossy:  # rounded to the nearest step; overshoot beyond full scale is clipped
            return bool(np.all(np.abs(got - np.clip(want, -STEP, STEP - 1)) <= 0.5 + 1e-6))
        return np.array_equal(got, want)

    assert same(rec.read(), ref)
    rng = np.random.default_rng(seed)
    n = len(ref)
    for _ in range(windows):
        start = int(rng.integers(0, n))
        stop = int(rng.integers(start + 1, min(n, start + 20_000) + 1))
        assert same(rec.read(start, stop), ref[start:stop]), (start, stop)


@pytest.fixture(scope="module")
def corpus_archive(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> wildzarr.Archive:
    arc = wildzarr.open(tmp_path_factory.mktemp("corpus") / "corpus.zarr")
    for name in sorted(CORPUS):
        if not CORPUS[name][3]:  # every file but the float one
            arc.add(corpus_dir / name, user_meta={"file": name})
    return arc


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_recording_reads_back_exactly(
    corpus_archive: wildzarr.Archive, corpus_dir: Path, name: str
) -> None:
    rate, channels, bits, is_float, lossy, _, _ = CORPUS[name]
    path = corpus_dir / name
    if is_float:
        before = snapshot(Path(str(corpus_archive.group.store.root)))
        with pytest.raises(UnsupportedSourceError, match=rf"{name}: .*float"):
            corpus_archive.add(path)
        assert snapshot(Path(str(corpus_archive.group.store.root))) == before
        return
    (rec,) = [r for r in corpus_archive if r.user_meta["file"] == name]
    assert (rec.info.samplerate, rec.info.channels, rec.info.bits_per_sample) == (rate, channels, bits)
    assert rec.info.source.name == name and rec.info.source.size == path.stat().st_size
    assert_reads_match(rec, reference(path, bits, lossy), lossy, windows=1000, seed=len(name))


def test_corpus_metadata_survives_import(corpus_archive: wildzarr.Archive) -> None:
    by_name = {r.info.source.name: r for r in corpus_archive}
    guano = by_name["bat_batlogger_312k_guano.wav"].file_meta["guano"]
    assert guano["Make"] == "BATLOGGER" and guano["Loc Position"] == "49.093119 5.047867"
    moth = by_name["bird_audiomoth_1min_32k.wav"].file_meta["info"]["ICMT"]
    assert "AudioMoth 0FE081F80FE081F0" in moth
    mp4 = by_name["whale_humpback_song_sanctsound_video.mp4"].info.source
    assert mp4.codec == "aac" and "mp4" in (mp4.container or "")
    again = wildzarr.open(corpus_archive.group.store.root, mode="r")
    assert again[1].file_meta == corpus_archive[1].file_meta


LOSSLESS = [
    ("wav", "pcm_u8", 8),
    ("wav", "pcm_s16le", 16),
    ("wav", "pcm_s24le", 24),
    ("wav", "pcm_s32le", 32),
    ("flac", "flac", 16),
    ("flac", "flac", 24),
    ("mkv", "flac", 16),
]
LOSSY = [("mp3", None), ("ogg", None), ("opus", None), ("m4a", None), ("mp4", None), ("mkv", "aac")]


@pytest.mark.parametrize(("container", "codec", "bits"), LOSSLESS)
def test_lossless_files_written_by_pyav(tmp_path: Path, container: str, codec: str, bits: int) -> None:
    channels = 2 if bits != 24 else 3
    data = make_signal(3 * 4096 + 17, channels, bits, seed=bits)
    path = tmp_path / f"x.{container}"
    write_audio_file(path, data, 48_000, container, codec, bits=bits)
    rec = wildzarr.open(tmp_path / "a.zarr").add(path)
    assert rec.info.bits_per_sample == bits
    expected = data.astype(np.int16) - 128 if data.dtype == np.uint8 else data
    assert np.array_equal(rec.read(), expected)
    assert np.array_equal(rec.read(4000, 8300), expected[4000:8300])


@pytest.mark.parametrize(("container", "codec"), LOSSY)
def test_lossy_files_written_by_pyav(tmp_path: Path, container: str, codec: str | None) -> None:
    rate = 48_000 if container in ("opus", "mp3") else 44_100
    data = make_float_signal(rate // 2, 2, seed=3) * 0.8
    path = tmp_path / f"x.{container}"
    write_audio_file(path, data, rate, container, codec)
    rec = wildzarr.open(tmp_path / "a.zarr").add(path)
    assert rec.info.bits_per_sample == 24 and rec.info.source.sample_format.startswith("flt")
    ref, _ = decode_with_pyav(path)
    assert_reads_match(rec, ref.astype(np.float64) * STEP, lossy=True, windows=50, seed=1)


@pytest.mark.parametrize(("what", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_leave_the_archive_as_it_was(tmp_path: Path, what: str, reason: str) -> None:
    root = tmp_path / "a.zarr"
    arc = wildzarr.open(root)
    arc.add(make_signal(1000, 1, 16, 0), samplerate=8000)
    before = snapshot(root)
    path = make_bad_file(tmp_path, what)
    with pytest.raises(SourceError) as info:
        arc.add(path)
    assert path.name in str(info.value) and reason in str(info.value)
    assert snapshot(root) == before and arc.ids() == [1]


@pytest.mark.parametrize(("what", "array", "rate", "reason"), BAD_ARRAYS, ids=[b[0] for b in BAD_ARRAYS])
def test_bad_arrays_leave_the_archive_as_it_was(
    tmp_path: Path, what: str, array: object, rate: object, reason: str
) -> None:
    root = tmp_path / "a.zarr"
    arc = wildzarr.open(root)
    before = snapshot(root)
    with pytest.raises(SourceError, match="<array>"):
        arc.add(array, samplerate=rate)  # type: ignore[arg-type]
    assert snapshot(root) == before and arc.ids() == []


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (make_float_signal(100, 1), "float"),
        (np.zeros((100, 9), np.int16), "8 channels"),
    ],
)
def test_audio_flac_cannot_hold_is_refused(tmp_path: Path, array: np.ndarray, reason: str) -> None:
    root = tmp_path / "a.zarr"
    arc = wildzarr.open(root)
    before = snapshot(root)
    with pytest.raises(UnsupportedSourceError, match=reason):
        arc.add(array, samplerate=8000)
    assert snapshot(root) == before
