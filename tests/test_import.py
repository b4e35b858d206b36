"""Import end to end: the real corpus, files PyAV writes in every container, and every bad input.

Each imported recording is read back whole and in random windows and compared with an independent
decode of the source; each bad input must raise its error and leave the archive exactly as it was.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from archive_helpers import snapshot
from signals import decode_with_pyav, make_bad_file, make_float_signal, make_signal, write_audio_file
from test_sources import BAD_ARRAYS, BAD_FILES, CORPUS

import wildzarr
from wildzarr import SourceError, UnsupportedSourceError


def reference(path: Path, rec: wildzarr.Recording) -> np.ndarray:
    """An independent decode of ``path`` in the representation ``rec`` stores.

    Lossless sources: soundfile (true integer values; its int32 reads are
    left-justified) or, for float PCM, its float32 read. Kept AAC frames:
    PyAV's full decode of the source (float32). Other lossy sources: PyAV's
    decode rounded to integers of the recording's bit depth, as FLAC stores them.
    """
    info = rec.info
    if not info.source.codec or not (info.lossy or info.source.sample_format.startswith("flt")):
        ref, _ = soundfile.read(path, dtype="int32", always_2d=True)
        return (ref >> (32 - info.bits_per_sample)).astype(info.stored_format().dtype)
    ref, _ = decode_with_pyav(path)
    if info.lossy or info.codec["id"] == "npy":
        return ref
    step = 2.0 ** (info.bits_per_sample - 1)
    return np.clip(np.rint(ref * np.float32(step)), -step, step - 1).astype(info.stored_format().dtype)


def assert_reads_match(rec: wildzarr.Recording, ref: np.ndarray, windows: int, seed: int) -> None:
    """Whole read and random windows equal ``ref`` exactly (bit for bit)."""
    got = rec.read()
    assert got.dtype == ref.dtype and got.shape == ref.shape
    assert got.tobytes() == ref.tobytes()
    rng = np.random.default_rng(seed)
    n = len(ref)
    for _ in range(windows):
        start = int(rng.integers(0, n))
        stop = int(rng.integers(start + 1, min(n, start + 20_000) + 1))
        assert rec.read(start, stop).tobytes() == ref[start:stop].tobytes(), (start, stop)


@pytest.fixture(scope="module")
def corpus_archive(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> wildzarr.Archive:
    arc = wildzarr.open(tmp_path_factory.mktemp("corpus") / "corpus.zarr")
    for name in sorted(CORPUS):
        arc.add(corpus_dir / name, user_meta={"file": name})
    return arc


#: The automatic choice for each kind of corpus file: codec id and what a read returns. The mp3 keeps
#: its frames; the corpus's AAC files use perceptual noise substitution, whose noise no pre-roll
#: reproduces: their decode is stored, as the Vorbis file's.
AUTO_CHOICE = {
    "pcm_f32le": ("npy", "float32"),
    "vorbis": ("flac", "int16"),
    "mp3": ("mp3", "float32"),
    "aac": ("flac", "int16"),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_recording_reads_back_exactly(
    corpus_archive: wildzarr.Archive, corpus_dir: Path, name: str
) -> None:
    rate, channels, bits, _, _, codec, _ = CORPUS[name]
    path = corpus_dir / name
    (rec,) = [r for r in corpus_archive if r.user_meta["file"] == name]
    info = rec.info
    assert (info.samplerate, info.channels) == (rate, channels)
    assert info.source.name == name and info.source.size == path.stat().st_size
    default = ("flac", "int16" if bits <= 16 else "int32")
    assert (info.codec["id"], rec.read(0, 1).dtype.name) == AUTO_CHOICE.get(codec, default)
    assert info.codec_choice is not None and info.codec_choice.startswith("automatic: ")
    assert info.lossy == (codec == "mp3")
    assert_reads_match(rec, reference(path, rec), windows=1000, seed=len(name))


def test_corpus_archive_is_smaller_than_the_corpus(
    corpus_archive: wildzarr.Archive, corpus_dir: Path
) -> None:
    """With codec="auto" the whole archive folder (documents, indexes, ledger) beats the folder of files."""
    folder = sum(p.stat().st_size for p in corpus_dir.iterdir() if p.suffix != ".md")
    root = Path(str(corpus_archive.group.store.root))
    archive = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert len(corpus_archive) == len(CORPUS)
    assert archive < folder, (archive, folder)


def test_kept_aac_frames_are_the_source_bytes(tmp_path: Path, corpus_dir: Path) -> None:
    """On request (keep_pns=True) the corpus m4a keeps its frames: 100% of its audio bytes.

    Reads equal PyAV's full decode outside the noise-substituted bands, whose noise differs.
    """
    path = corpus_dir / "whale_humpback_song_sanctsound_aac_remux.m4a"
    rec = wildzarr.open(tmp_path / "a.zarr").add(path, codec="aac", keep_pns=True)
    with av.open(str(path)) as container:
        audio_bytes = sum(p.size for p in container.demux(audio=0) if p.size)
    assert abs(rec.info.stored_bytes - audio_bytes) <= 0.02 * audio_bytes
    assert rec.info.codec_choice is not None and "kept as they are" in rec.info.codec_choice
    ref, _ = decode_with_pyav(path)
    got = rec.read()
    assert got.shape == ref.shape
    error = float(np.sum((got.astype(np.float64) - ref) ** 2))
    assert 10 * np.log10(float(np.sum(ref.astype(np.float64) ** 2)) / error) > 20  # dB; noise bands only
    assert np.abs(got - ref).max() < 0.05


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
    assert rec.info.bits_per_sample == bits and rec.info.codec["id"] == "flac"
    expected = data.astype(np.int16) - 128 if data.dtype == np.uint8 else data  # FLAC holds signed 8-bit
    assert np.array_equal(rec.read(), expected)
    assert np.array_equal(rec.read(4000, 8300), expected[4000:8300])


@pytest.mark.parametrize(("container", "codec"), LOSSY)
def test_lossy_files_written_by_pyav(tmp_path: Path, container: str, codec: str | None) -> None:
    """MP3 and AAC sources (without noise substitution) keep their frames; others: 16-bit FLAC."""
    rate = 48_000 if container in ("opus", "mp3") else 44_100
    data = make_float_signal(rate // 2, 2, seed=3) * 0.8
    path = tmp_path / f"x.{container}"
    aac = container in ("m4a", "mp4") or codec == "aac"
    write_audio_file(path, data, rate, container, codec, codec_options={"aac_pns": "0"} if aac else None)
    rec = wildzarr.open(tmp_path / "a.zarr").add(path)
    assert rec.info.source.sample_format.startswith("flt")
    kept = rec.info.source.codec in ("aac", "mp3")
    assert rec.info.codec["id"] == (rec.info.source.codec if kept else "flac") and rec.info.lossy == kept
    assert_reads_match(rec, reference(path, rec), windows=50, seed=1)


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
    ("codec", "array", "reason"),
    [
        ("flac", np.full((100, 1), np.nan, np.float32), "NaN or infinite sample at sample 0"),
        ("flac", np.zeros((100, 1), np.int64), "64-bit samples"),
        ("aac", np.zeros((100, 1), np.int16), "Hz"),  # 8 kHz is fine; this array is at 200 kHz
    ],
)
def test_audio_a_codec_cannot_hold_is_refused(
    tmp_path: Path, codec: str, array: np.ndarray, reason: str
) -> None:
    root = tmp_path / "a.zarr"
    arc = wildzarr.open(root)
    arc.add(make_signal(1000, 1, 16, 0), samplerate=8000)
    before = snapshot(root)
    rate = 200_000 if reason == "Hz" else 8000
    with pytest.raises((UnsupportedSourceError, SourceError), match=reason):
        arc.add(array, samplerate=rate, codec=codec)
    assert snapshot(root) == before and arc.ids() == [1]
