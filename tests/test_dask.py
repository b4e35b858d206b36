"""Dask: ``Recording.to_dask`` exact at chunk borders for every codec; ``read_many`` on a LocalCluster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from signals import make_float_signal, make_signal

import wildzarr
from wildzarr.errors import ArgumentError

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dask") / "a.zarr"
    arc = wildzarr.open(path)
    arc.add(make_signal(100_000, 2, 16, seed=1), samplerate=48_000, codec="flac")
    arc.add(make_float_signal(90_000, 3, seed=2), samplerate=48_000, codec="npy")
    arc.add(make_signal(70_000, 2, 16, seed=3), samplerate=48_000, codec="aac")
    arc.add(make_signal(70_000, 1, 16, seed=4), samplerate=44_100, codec="mp3")
    arc.add(make_signal(40_000, 10, 24, seed=5), samplerate=16_000, codec="flac")
    return path


@pytest.mark.parametrize("rid", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("chunks", [997, 4096, 30_000])
def test_to_dask_is_exact_at_chunk_borders(archive: Path, rid: int, chunks: int) -> None:
    rec = wildzarr.open(archive, mode="r")[rid]
    whole = rec.read()
    array = rec.to_dask(chunks)
    assert array.shape == whole.shape and array.dtype == whole.dtype
    assert array.chunks[0][0] == chunks and array.chunks[1] == (rec.channels,)
    assert np.array_equal(array.compute(scheduler="threads"), whole)
    # Slices across chunk borders, channel picks and dtype conversion.
    border = chunks * (len(array.chunks[0]) // 2)
    assert np.array_equal(array[border - 5 : border + 7].compute(), whole[border - 5 : border + 7])
    picked = rec.to_dask(chunks, channels=[rec.channels - 1, 0], dtype="float64")
    assert np.array_equal(picked.compute(), rec.read(channels=[rec.channels - 1, 0], dtype="float64"))


def test_to_dask_refuses_bad_arguments(archive: Path) -> None:
    rec = wildzarr.open(archive, mode="r")[1]
    for chunks in (0, -5, 2.5, True):
        with pytest.raises(ArgumentError, match="chunks must be a positive number"):
            rec.to_dask(chunks)  # type: ignore[arg-type]
    with pytest.raises(wildzarr.RangeError):
        rec.to_dask(channels=[5])
    assert rec.to_dask(4096).name == rec.to_dask(4096).name  # deterministic graph names


def test_a_local_cluster_computes_arrays_and_batches(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    rng = np.random.default_rng(1)
    requests = [
        (int(r), int(s), int(s) + 1500)
        for r, s in zip(rng.integers(1, 6, 700), rng.integers(0, 38_000, 700), strict=True)
    ]
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        total = arc[1].to_dask(8192).astype("int64").sum(axis=0).compute()
        assert np.array_equal(total, arc[1].read().astype("int64").sum(axis=0))
        results = arc.read_many(requests, workers=client)
        threads = client.run(lambda: __import__("wildzarr.settings").settings.decode_threads())
    for (rid, start, stop), result in zip(requests, results, strict=True):
        assert np.array_equal(result, arc[rid].read(start, stop))
    assert sorted(threads.values()) == [1, 1]  # one decoding thread in each worker process
