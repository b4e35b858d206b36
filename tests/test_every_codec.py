"""What every codec shares once its recording is in an archive.

Channel selection, dtype conversion, the read contract at the ends of a
recording, corrupt bytes reported with recording, stream and frame, and
``wildzarr verify``: the same for FLAC, AAC and npy, through the public API.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from codec_checks import make_signal

import wildzarr
from wildzarr import ArgumentError, RangeError, StreamError
from wildzarr.verify import verify

CODECS = ["flac", "aac", "npy"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> wildzarr.Archive:
    """One 3-channel 48 kHz recording per codec, ids in the order of CODECS."""
    arc = wildzarr.open(tmp_path_factory.mktemp("every") / "a.zarr")
    data = make_signal(100_000, 3, 16, seed=5)
    for codec in CODECS:
        arc.add(data, samplerate=48_000, codec=codec, allow_duplicates=True)
    return arc


def recording(arc: wildzarr.Archive, codec: str) -> wildzarr.Recording:
    return arc[CODECS.index(codec) + 1]


@pytest.mark.parametrize("codec", CODECS)
def test_channels_and_dtype_behave_alike(archive: wildzarr.Archive, codec: str) -> None:
    rec = recording(archive, codec)
    assert rec.info.codec["id"] == codec
    whole = rec.read()
    assert whole.shape == (100_000, 3) and whole.dtype == rec.info.dtype
    assert whole.dtype == ("float32" if codec == "aac" else "int16")
    rng = np.random.default_rng(len(codec))
    for _ in range(20):
        start = int(rng.integers(0, 99_000))
        stop = start + int(rng.integers(1, 1000))
        assert rec.read(start, stop).tobytes() == whole[start:stop].tobytes()
        picked = rec.read(start, stop, channels=[2, 0])
        assert picked.tobytes() == np.ascontiguousarray(whole[start:stop, [2, 0]]).tobytes()
        floats = rec.read(start, stop, channels=1, dtype="float32")
        expected = whole[start:stop, [1]].astype(np.float32)
        if codec != "aac":
            expected *= np.float32(2.0**-15)
        assert floats.dtype == np.float32 and np.array_equal(floats, expected)
    assert rec.read(0, 0).shape == (0, 3) and rec.read(99_999, 100_000).shape == (1, 3)
    with pytest.raises(RangeError):
        rec.read(0, 100_001)


def test_integer_reads_of_aac_are_refused(archive: wildzarr.Archive) -> None:
    rec = recording(archive, "aac")
    with pytest.raises(
        ArgumentError, match=r"recording 2: cannot read .*float32 samples as int16; ask for None"
    ):
        rec.read(0, 10, dtype="int16")
    assert recording(archive, "npy").read(0, 10, dtype="int32").dtype == np.int32


def test_aac_reads_are_the_source_shifted_by_nothing(archive: wildzarr.Archive) -> None:
    """Cross-correlation of the AAC read against the source peaks at lag 0 on every channel."""
    source = make_signal(100_000, 3, 16, seed=5).astype(np.float64) / 2**15
    got = recording(archive, "aac").read().astype(np.float64)
    for channel in range(3):
        a, b = got[20_000:60_000, channel], source[20_000:60_000, channel]
        lags = range(-2048, 2049)
        best = max(lags, key=lambda lag: float(np.dot(a[2048:-2048], np.roll(b, lag)[2048:-2048])))
        assert best == 0


@pytest.mark.parametrize("codec", CODECS)
def test_corrupt_bytes_name_recording_stream_and_frame(tmp_path: Path, codec: str) -> None:
    root = tmp_path / "a.zarr"
    arc = wildzarr.open(root)
    rec = arc.add(make_signal(100_000, 2, 16, seed=9), samplerate=48_000, codec=codec)
    rec.read(0, 1)
    index = rec._stream_readers()[0][1].index
    frame = index.n_frames // 2
    middle = int((index.offsets[frame] + index.offsets[frame + 1]) // 2)
    chunk = root / "1" / "0" / "blob" / "c" / "0"
    data = bytearray(chunk.read_bytes())
    data[middle] ^= 0x10
    chunk.write_bytes(bytes(data))
    start = int(index.first_samples[frame]) - index.delay + 10
    with pytest.raises(StreamError, match=rf"recording 1 stream 0 frame {frame} \(samples") as info:
        wildzarr.open(root, mode="r")[1].read(start, start + 100)
    assert info.value.frame == frame
    report = verify(wildzarr.open(root, mode="r"))
    assert {(f.recording, f.stream) for f in report.findings} == {(1, 0)} and not report.ok


@pytest.mark.parametrize("codec", CODECS)
def test_verify_is_clean(archive: wildzarr.Archive, codec: str) -> None:
    report = verify(archive, [CODECS.index(codec) + 1])
    assert report.findings == [], report.findings
