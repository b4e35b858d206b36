"""Sample-accurate reads: exact values, numpy slicing, dtypes, channels, byte economy, threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from archive_helpers import CountingStore, expected_values
from signals import make_signal

import wildzarr
from wildzarr import ArgumentError, RangeError

BLOCK = 4096


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> wildzarr.Archive:
    return wildzarr.open(tmp_path_factory.mktemp("read") / "a.zarr")


def check_random_windows(rec: wildzarr.Recording, expected: np.ndarray, count: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n = len(expected)
    for _ in range(count):
        start = int(rng.integers(0, n))
        stop = int(rng.integers(start, min(n, start + 3 * BLOCK) + 1))
        got = rec.read(start, stop)
        assert got.shape == (stop - start, expected.shape[1])
        assert np.array_equal(got, expected[start:stop]), (start, stop)


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
@pytest.mark.parametrize("channels", [1, 2, 5, 8])
def test_bit_depths_and_channels_read_back_exactly(
    archive: wildzarr.Archive, bits: int, channels: int
) -> None:
    data = make_signal(3 * BLOCK + 123, channels, bits, seed=bits * 10 + channels)
    rec = archive.add(data, samplerate=48_000)
    expected = expected_values(data)
    whole = rec.read()
    assert whole.dtype == (np.int16 if rec.info.bits_per_sample <= 16 else np.int32)
    assert np.array_equal(whole, expected)
    check_random_windows(rec, expected, 40)


@pytest.mark.parametrize("samplerate", [1, 8000, 44_100, 192_000, 500_000, 1_000_000, 1_048_575])
def test_sample_rates(archive: wildzarr.Archive, samplerate: int) -> None:
    data = make_signal(2 * BLOCK + 7, 2, 16, seed=samplerate % 1000)
    rec = archive.add(data, samplerate=samplerate)
    assert rec.info.samplerate == samplerate
    assert np.array_equal(rec.read(), data)
    check_random_windows(rec, data, 20)


@pytest.mark.parametrize("length", [1, 2, BLOCK - 1, BLOCK, 3 * BLOCK, 3 * BLOCK + 1])
def test_lengths_around_frame_boundaries(archive: wildzarr.Archive, length: int) -> None:
    data = make_signal(length, 1, 16, seed=length)
    rec = archive.add(data, samplerate=16_000)
    assert len(rec) == rec.info.samples == length
    assert np.array_equal(rec.read(), data.reshape(-1, 1))
    for start in {0, length - 1, length // 2}:
        assert np.array_equal(rec.read(start, length), data.reshape(-1, 1)[start:])
    # every frame boundary, from both sides
    for k in range(0, length, BLOCK):
        lo, hi = max(0, k - 3), min(length, k + 3)
        assert np.array_equal(rec.read(lo, hi), data.reshape(-1, 1)[lo:hi])


def test_slicing_follows_numpy(archive: wildzarr.Archive) -> None:
    data = make_signal(5 * BLOCK + 11, 3, 16, seed=3)
    rec = archive.add(data, samplerate=22_050)
    n = len(data)
    rng = np.random.default_rng(5)
    cases = [
        (None, None),
        (-10, None),
        (None, -5),
        (-n - 50, 20),
        (n - 3, n + 100),
        (10, 5),
        (n, None),
        (0, 0),
    ]
    cases += [tuple(int(v) for v in rng.integers(-n - 20, n + 20, 2)) for _ in range(200)]
    for a, b in cases:
        got = rec[a:b]
        assert got.shape == data[a:b].shape and np.array_equal(got, data[a:b]), (a, b)
    assert np.array_equal(rec[7], data[7]) and np.array_equal(rec[-1], data[-1])
    # Every index form returns exactly what numpy returns for the same index: shape, dtype and values.
    for index in [
        np.s_[100:200, 1],
        np.s_[100:200, -1],
        np.s_[100:200, [2, 0]],
        np.s_[100:200, ::-1],
        np.s_[100:200, 1:],
        np.s_[100:200, [True, False, True]],
        np.s_[7, 2],
        np.s_[-1, 0],
        np.s_[7, [1]],
        np.s_[7, 1:3],
        np.s_[7],
        np.s_[50:40, 1],
        np.s_[100:200, 1:1],
    ]:
        got, expected = rec[index], data[index]
        assert np.shape(got) == expected.shape and np.asarray(got).dtype == expected.dtype, index
        assert np.array_equal(got, expected), index
    assert isinstance(rec[7, 2], np.int16)  # a numpy scalar, as data[7, 2]
    with pytest.raises(RangeError):
        rec[0:10, 3]
    with pytest.raises(ArgumentError, match="step"):
        rec[::2]
    with pytest.raises(RangeError):
        rec[n]
    with pytest.raises(RangeError):
        rec[-n - 1]


def test_out_of_range_reads_raise(archive: wildzarr.Archive) -> None:
    rec = archive.add(make_signal(1000, 1, 16, seed=77), samplerate=8000)
    for start, stop in [(-1, 10), (0, 1001), (500, 400), (1001, 1002)]:
        with pytest.raises(RangeError, match=f"recording {rec.id}") as info:
            rec.read(start, stop)
        assert isinstance(info.value, IndexError)
    assert rec.read(1000, 1000).shape == (0, 1)
    with pytest.raises(ArgumentError):
        rec.read(1.5, 10)  # type: ignore[arg-type]


def test_dtypes_and_channel_selection(archive: wildzarr.Archive) -> None:
    data24 = make_signal(2 * BLOCK, 4, 24, seed=24)
    rec = archive.add(data24, samplerate=96_000)
    bits = rec.info.bits_per_sample
    f32 = rec.read(10, 5000, dtype="float32")
    assert f32.dtype == np.float32 and f32.shape == (4990, 4)
    assert np.allclose(f32, data24[10:5000] / 2.0 ** (bits - 1), atol=1e-7)
    assert np.all(f32 >= -1) and np.all(f32 < 1)
    assert rec.read(0, 100, dtype=np.float64).dtype == np.float64
    assert np.array_equal(rec.read(0, 100, dtype="int32"), data24[:100])
    with pytest.raises(ArgumentError, match="int16"):
        rec.read(0, 10, dtype="int16")
    with pytest.raises(ArgumentError):
        rec.read(0, 10, dtype="uint8")
    sel = rec.read(50, 4000, channels=[3, 0])
    assert np.array_equal(sel, data24[50:4000][:, [3, 0]]) and sel.flags.c_contiguous
    assert np.array_equal(rec.read(50, 60, channels=2), data24[50:60, [2]])
    with pytest.raises(RangeError, match="channel 4"):
        rec.read(0, 10, channels=[4])

    data16 = make_signal(1000, 1, 16, seed=16)
    rec16 = archive.add(data16, samplerate=8000)
    assert np.array_equal(rec16.read(dtype="int16"), data16.reshape(-1, 1))
    assert np.array_equal(rec16.read(dtype="float32"), data16.reshape(-1, 1) / np.float32(32768))


def test_reads_from_eight_threads(archive: wildzarr.Archive) -> None:
    data = make_signal(40 * BLOCK, 2, 16, seed=8)
    rec = archive.add(data, samplerate=48_000)

    def worker(seed: int) -> int:
        check_random_windows(rec, data, 60, seed=seed)
        return seed

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(worker, range(8))) == list(range(8))


def test_a_read_fetches_only_the_bytes_of_its_frames() -> None:
    store = CountingStore()
    arc = wildzarr.open(store)
    short = arc.add(make_signal(10 * BLOCK, 2, 16, seed=1), samplerate=48_000)
    long = arc.add(make_signal(400 * BLOCK, 2, 16, seed=2), samplerate=48_000)
    for rec in (short, long):
        rec.read(0, 1)  # loads the frame index once
        index = rec._stream_readers()[0][1].index
        rng = np.random.default_rng(0)
        for _ in range(50):
            start = int(rng.integers(0, len(rec) - 5000))
            store.reset()
            rec.read(start, start + 5000)
            (span,) = index.plan(start, start + 5000)
            assert store.bytes_read == span.byte_stop - span.byte_start
            assert span.stop - span.lead <= 3
            assert store.requests <= 2 and all(k.split("/")[-3] == "blob" for k in store.keys)


def test_a_local_read_preads_only_its_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    arc = wildzarr.open(tmp_path / "a.zarr")
    rec = arc.add(make_signal(100 * BLOCK, 1, 16, seed=3), samplerate=48_000)
    rec.read(0, 1)
    index = rec._stream_readers()[0][1].index
    sizes: list[int] = []
    real_pread = os.pread

    def counting_pread(fd: int, n: int, offset: int) -> bytes:
        sizes.append(n)
        return real_pread(fd, n, offset)

    monkeypatch.setattr("wildzarr.storage.local.os.pread", counting_pread)
    rec.read(200_000, 204_096)
    (span,) = index.plan(200_000, 204_096)
    assert sum(sizes) == span.byte_stop - span.byte_start


def test_long_reads_split_across_the_thread_pool(archive: wildzarr.Archive) -> None:
    from wildzarr.index import TASK_FRAMES

    blocksize = 256
    data = make_signal(7 * TASK_FRAMES * blocksize + 99, 2, 24, seed=12)
    rec = archive.add(data, samplerate=96_000, codec="flac", blocksize=blocksize)
    assert np.array_equal(rec.read(), data)
    rng = np.random.default_rng(4)
    for _ in range(30):
        start, stop = sorted(int(v) for v in rng.integers(0, len(data) + 1, 2))
        assert np.array_equal(rec.read(start, stop), data[start:stop])
