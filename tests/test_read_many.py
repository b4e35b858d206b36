"""``Archive.read_many``: many windows in one call, every codec, exact, checked before decoding."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from signals import make_float_signal, make_signal

import wildzarr
from wildzarr.errors import ArgumentError, RangeError, RecordingNotFoundError, StreamError
from wildzarr.reader import Task


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, np.ndarray]]:
    """An archive of recordings in every codec (and a 10-channel FLAC in two streams) and their sources."""
    path = tmp_path_factory.mktemp("many") / "a.zarr"
    arc = wildzarr.open(path)
    sources: dict[int, np.ndarray] = {}
    for data, codec, rate in [
        (make_signal(150_000, 2, 16, seed=1), "flac", 48_000),
        (make_signal(90_000, 1, 24, seed=2), "flac", 96_000),
        (make_signal(60_000, 10, 16, seed=3), "flac", 16_000),
        (make_float_signal(70_000, 3, seed=4), "npy", 44_100),
        (make_signal(80_000, 2, 16, seed=5), "aac", 48_000),
        (make_signal(80_000, 1, 16, seed=6), "mp3", 44_100),
    ]:
        rec = arc.add(data, samplerate=rate, codec=codec)
        sources[rec.id] = rec.read()  # lossy codecs: compare with their own full decode
        if codec in ("flac", "npy"):
            assert np.array_equal(sources[rec.id], data)
    return path, sources


def random_requests(sources: dict[int, np.ndarray], count: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    ids = list(sources)
    requests: list[tuple] = []
    for _ in range(count):
        rid = ids[rng.integers(len(ids))]
        n, channels = sources[rid].shape
        length = int(rng.choice([1, 100, 4096, 9000, 40_000]))
        start = int(rng.integers(0, n - min(length, n) + 1))
        stop = min(n, start + length)
        kind = rng.integers(4)
        if kind == 0:
            requests.append((rid, start, stop))
        elif kind == 1:
            requests.append((rid, start, stop, None))
        elif kind == 2:
            requests.append((rid, start, stop, int(rng.integers(channels))))
        else:
            picked = rng.permutation(channels)[: rng.integers(1, channels + 1)]
            requests.append((rid, start, stop, [int(c) for c in picked]))
    return requests


def expected(sources: dict[int, np.ndarray], request: tuple) -> np.ndarray:
    rid, start, stop, *rest = request
    data = sources[rid][start:stop]
    channels = rest[0] if rest else None
    if channels is None:
        return data
    return data[:, [channels] if isinstance(channels, int) else channels]


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_random_batches_are_exact_for_every_codec(mixed: tuple, workers: int) -> None:
    path, sources = mixed
    arc = wildzarr.open(path, mode="r")
    requests = random_requests(sources, 400, seed=workers)
    results = arc.read_many(requests, workers=workers)
    assert len(results) == len(requests)
    for request, result in zip(requests, results, strict=True):
        want = expected(sources, request)
        assert result.shape == want.shape and result.dtype == want.dtype, request
        assert np.array_equal(result, want), request
    # The same batch again (recordings kept open) and with another order give the same windows.
    again = arc.read_many(requests[::-1], workers=workers)
    for request, result in zip(requests[::-1], again, strict=True):
        assert np.array_equal(result, expected(sources, request)), request


def test_overlapping_and_repeated_windows(mixed: tuple) -> None:
    path, sources = mixed
    arc = wildzarr.open(path, mode="r")
    requests = [(1, 1000 + 7 * k, 5096 + 7 * k) for k in range(200)] + [(5, 0, 4096)] * 30
    for request, result in zip(requests, arc.read_many(requests, workers=3), strict=True):
        assert np.array_equal(result, expected(sources, request))


def test_dtype_conversion_matches_single_reads(mixed: tuple) -> None:
    path, sources = mixed
    arc = wildzarr.open(path, mode="r")
    requests = random_requests(sources, 100, seed=11)
    for request, result in zip(requests, arc.read_many(requests, dtype="float32"), strict=True):
        rid, start, stop, *rest = request
        want = arc[rid].read(start, stop, channels=rest[0] if rest else None, dtype="float32")
        assert result.dtype == np.float32 and np.array_equal(result, want)


def test_out_decodes_in_place(mixed: tuple) -> None:
    path, sources = mixed
    arc = wildzarr.open(path, mode="r")
    rng = np.random.default_rng(3)
    requests = [(1, int(s), int(s) + 2048) for s in rng.integers(0, 150_000 - 2048, 64)]
    out = np.full((64, 2048, 2), 7, dtype=np.int16)
    results = arc.read_many(requests, out=out)
    for k, request in enumerate(requests):
        assert np.array_equal(out[k], expected(sources, request))
        assert np.shares_memory(results[k], out)
    # Stereo windows of different recordings and codecs into one float32 batch (dtype from out).
    mixed_requests = [(1, 0, 1000), (5, 500, 1500), (4, 10, 1010, [0, 2]), (3, 0, 1000, [9, 0])]
    out32 = np.zeros((4, 1000, 2), dtype=np.float32)
    arc.read_many(mixed_requests, out=out32)
    for k, (rid, start, stop, *rest) in enumerate(mixed_requests):
        want = arc[rid].read(start, stop, channels=rest[0] if rest else None, dtype="float32")
        assert np.array_equal(out32[k], want)
    # A non-contiguous out works too (copied into).
    wide = np.zeros((64, 2048, 4), dtype=np.int16)
    arc.read_many(requests, out=wide[:, :, 1:3])
    assert np.array_equal(wide[5, :, 1:3], expected(sources, requests[5]))
    assert not wide[:, :, [0, 3]].any()


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (np.zeros((3, 2048, 2), dtype=np.int16), "holds 3 windows"),
        (np.zeros((2, 2000, 2), dtype=np.int16), "returns shape"),
        (np.zeros((2, 2048, 1), dtype=np.int16), "returns shape"),
        (np.zeros((2, 2048), dtype=np.int16), "shape \\(n_windows"),
        (np.zeros((2, 2048, 2), dtype=np.int16)[:, :, :0], "returns shape"),
    ],
)
def test_out_that_does_not_fit_is_refused(mixed: tuple, out: np.ndarray, message: str) -> None:
    arc = wildzarr.open(mixed[0], mode="r")
    with pytest.raises(ArgumentError, match=message):
        arc.read_many([(1, 0, 2048), (1, 10, 2058)], out=out)
    frozen = np.zeros((2, 2048, 2), dtype=np.int16)
    frozen.flags.writeable = False
    with pytest.raises(ArgumentError, match="read-only"):
        arc.read_many([(1, 0, 2048), (1, 10, 2058)], out=frozen)
    with pytest.raises(
        ArgumentError, match=r"request 1: recording 4: cannot read .* float32 samples as int16"
    ):
        arc.read_many([(1, 0, 2048), (4, 0, 2048, [0, 1])], out=np.zeros((2, 2048, 2), dtype=np.int16))
    with pytest.raises(ArgumentError, match="request 0 \\(recording 1\\) returns float64, out is float32"):
        arc.read_many(
            [(1, 0, 2048), (4, 0, 2048, [0, 1])], dtype="float64", out=np.zeros((2, 2048, 2), np.float32)
        )


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ((99, 0, 10), RecordingNotFoundError, "request 2 \\(recording 99\\): no recording with id 99"),
        ((1, 0, 10**9), RangeError, "request 2 \\(recording 1\\): cannot read \\[0, 1000000000\\)"),
        ((1, -5, 10), RangeError, "request 2 \\(recording 1\\)"),
        ((1, 20, 10), RangeError, "request 2 \\(recording 1\\)"),
        ((1, 0.5, 10), ArgumentError, "request 2 \\(recording 1\\): start must be an integer"),
        ((1, 0, 10, 5), RangeError, "request 2: recording 1: no channel 5"),
        ((1, 0, 10, []), ArgumentError, "request 2: recording 1: select at least one channel"),
        ((1, 0), ArgumentError, "request 2: expected \\(id, start, stop\\)"),
        ("1, 0, 10", ArgumentError, "request 2: expected"),
        (("x", 0, 10), RecordingNotFoundError, "request 2 \\(recording 'x'\\)"),
    ],
)
def test_a_bad_request_is_named_before_anything_is_decoded(
    mixed: tuple, monkeypatch: pytest.MonkeyPatch, bad: object, error: type, message: str
) -> None:
    arc = wildzarr.open(mixed[0], mode="r")
    runs: list[Task] = []
    original = Task.run
    monkeypatch.setattr(Task, "run", lambda self: (runs.append(self), original(self))[1])
    with pytest.raises(error, match=message):
        arc.read_many([(1, 0, 4096), (2, 0, 4096), bad, (3, 0, 10)])
    assert runs == []


def test_a_damaged_stream_is_named_before_anything_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arc = wildzarr.open(tmp_path / "a.zarr")
    good = arc.add(make_signal(50_000, 1, 16, seed=1), samplerate=8000)
    bad = arc.add(make_signal(50_000, 1, 16, seed=2), samplerate=8000)
    index_doc = tmp_path / "a.zarr" / str(bad.id) / "0" / "index" / "zarr.json"
    index_doc.write_bytes(b"{not json")
    runs: list[Task] = []
    original = Task.run
    monkeypatch.setattr(Task, "run", lambda self: (runs.append(self), original(self))[1])
    fresh = wildzarr.open(tmp_path / "a.zarr", mode="r")
    with pytest.raises(wildzarr.DamagedRecordingError, match=f"request 1: recording {bad.id}"):
        fresh.read_many([(good.id, 0, 40_000), (bad.id, 0, 10)], workers=2)
    assert runs == []


def test_an_integer_dtype_for_float_recordings_names_the_request(mixed: tuple) -> None:
    arc = wildzarr.open(mixed[0], mode="r")
    with pytest.raises(
        ArgumentError, match=r"request 1: recording 4: cannot read .*float32 samples as int16"
    ):
        arc.read_many([(1, 0, 10), (4, 0, 10)], dtype="int16")


def test_empty_batches_and_ranges(mixed: tuple) -> None:
    arc = wildzarr.open(mixed[0], mode="r")
    assert arc.read_many([]) == []
    results = arc.read_many([(1, 5, 5), (4, 0, 0, [1]), (1, 0, 3)])
    assert [r.shape for r in results] == [(0, 2), (0, 1), (3, 2)]
    assert results[1].dtype == np.float32


def test_workers_of_another_kind_are_refused(mixed: tuple) -> None:
    arc = wildzarr.open(mixed[0], mode="r")
    for workers in [0, -2, True, "2", 1.5]:
        with pytest.raises(ArgumentError, match="workers"):
            arc.read_many([(1, 0, 10)], workers=workers)


def test_a_thread_executor_spreads_the_batch(mixed: tuple) -> None:
    path, sources = mixed
    arc = wildzarr.open(path, mode="r")
    requests = random_requests(sources, 700, seed=21)
    with ThreadPoolExecutor(3) as executor:
        results = arc.read_many(requests, workers=executor)
    for request, result in zip(requests, results, strict=True):
        assert np.array_equal(result, expected(sources, request)), request


def test_a_corrupt_frame_is_named_and_a_removed_recording_is_not_found(tmp_path: Path) -> None:
    arc = wildzarr.open(tmp_path / "a.zarr")
    data = make_signal(100_000, 2, 16, seed=8)
    rec = arc.add(data, samplerate=48_000)
    other = arc.add(make_signal(100_000, 1, 16, seed=9), samplerate=48_000)
    assert np.array_equal(arc.read_many([(rec.id, 0, 10)])[0], data[:10])
    chunk = tmp_path / "a.zarr" / str(rec.id) / "0" / "blob" / "c" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    chunk.write_bytes(bytes(raw))
    fresh = wildzarr.open(tmp_path / "a.zarr", mode="r")
    with pytest.raises(StreamError, match=f"recording {rec.id} stream 0 frame \\d+ \\(samples \\d+-\\d+\\)"):
        fresh.read_many([(other.id, 0, 10), (rec.id, 0, 100_000)])
    arc.remove(other.id)
    with pytest.raises(RecordingNotFoundError, match=f"request 0 \\(recording {other.id}\\)"):
        wildzarr.open(tmp_path / "a.zarr", mode="r").read_many([(other.id, 0, 10)])
    # The object that opened it before may read on from what it opened (like an open file after unlink).
    outcome = fresh.read_many([(other.id, 0, 10)])[0]
    assert np.array_equal(outcome, make_signal(100_000, 1, 16, seed=9)[:10])


def test_archive_and_recording_pickle_at_any_point(mixed: tuple) -> None:
    path, sources = mixed
    arc = wildzarr.open(path, mode="r")
    stages = [("fresh", arc)]
    rec = arc[1]
    stages.append(("recording opened", rec))
    rec.read(0, 100)
    stages.append(("recording read", rec))
    arc.read_many([(1, 0, 10), (3, 0, 10)])
    stages.append(("archive after read_many", arc))
    for stage, thing in stages:
        data = pickle.dumps(thing)
        assert len(data) < 8000, (stage, len(data))
        for forbidden in (b"_thread", b"zarr.core", b"threading", b"StreamReader", b"FrameIndex"):
            assert forbidden not in data, (stage, forbidden)
        copy = pickle.loads(data)
        back = copy if isinstance(copy, wildzarr.Archive) else None
        got = (back[1] if back is not None else copy).read(1000, 5096)
        assert np.array_equal(got, sources[1][1000:5096]), stage
    assert pickle.loads(pickle.dumps(arc)).read_only
