"""The job of docs/hpc.md, three ways: the RMS level of every minute of every recording of an archive.

A sweep over a whole archive, as an analysis on a cluster does it: for each
recording, the RMS level in dBFS of each channel in each minute (a simple
soundscape index). Run in one run, on the 100 one-minute recordings of
bench_parallel.py's collection (48 kHz stereo, FLAC):

- ``loop``: one process, ``rec.read()`` per recording, with 1 thread and with the default threads;
- ``pool``: ``ProcessPoolExecutor(2, spawn)`` mapping the job over the pickled recordings;
- ``dask``: a 2-worker ``LocalCluster``, one ``rec.to_dask()`` array per recording, one ``compute``.

Every result is compared with the loop's. The pool and the cluster are started
before timing (their start-up is printed separately).

    PYTHONPATH=src python benchmarks/bench_hpc.py            # 100 x 60 s
    PYTHONPATH=src python benchmarks/bench_hpc.py --quick    # the first 10 recordings
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from bench_parallel import collection
from common import add_common_options, print_machine, table, wait_for_load

import wildzarr
import wildzarr.settings

#: Samples per minute at the collection's rate.
MINUTE = 60 * 48_000


def minute_levels(rec: wildzarr.Recording, threads: int | None = None) -> np.ndarray:
    """RMS level in dBFS of each channel in each whole or partial minute: float64 (minutes, channels)."""
    x = rec.read(dtype="float64", workers=threads)
    edges = np.arange(0, len(x), MINUTE)
    power = np.add.reduceat(x * x, edges, axis=0) / np.diff([*edges, len(x)])[:, None]
    return 10 * np.log10(np.maximum(power, 1e-20))


def dask_levels(rec: wildzarr.Recording) -> object:
    """The same with dask: a lazy (minutes, channels) array from ``rec.to_dask``."""
    import dask.array as da

    x = rec.to_dask(chunks=MINUTE, dtype="float64")
    power = da.map_blocks(lambda b: (b * b).mean(axis=0, keepdims=True), x, chunks=(1, x.shape[1]))
    return 10 * da.log10(da.maximum(power, 1e-20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    add_common_options(parser)
    args = parser.parse_args()
    print_machine()
    col = collection(100, 60.0, flac=False)
    arc = wildzarr.open(col.folder, mode="r")
    recs = [arc[rid] for rid in col.ids[: 10 if args.quick else 100]]
    audio_s = sum(rec.samples for rec in recs) / 48_000

    import dask
    import distributed

    t = time.perf_counter()
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    list(pool.map(minute_levels, recs[:2]))
    pool_start = time.perf_counter() - t
    t = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    dask.compute(*[dask_levels(rec) for rec in recs[:2]])
    dask_start = time.perf_counter() - t

    def loop_1() -> list[np.ndarray]:
        return [minute_levels(rec, 1) for rec in recs]

    def loop() -> list[np.ndarray]:
        return [minute_levels(rec) for rec in recs]

    def in_pool() -> list[np.ndarray]:
        return list(pool.map(minute_levels, recs))

    def in_dask() -> list[np.ndarray]:
        return list(dask.compute(*[dask_levels(rec) for rec in recs]))

    ways = {
        "one process, 1 thread": loop_1,
        f"one process, {wildzarr.settings.decode_threads()} threads": loop,
        "ProcessPoolExecutor(2, spawn)": in_pool,
        "dask LocalCluster(2)": in_dask,
    }
    reference = loop()
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, way in ways.items():
            wait_for_load(args.max_load)
            t = time.perf_counter()
            levels = way()
            times[name].append(time.perf_counter() - t)
            for got, want in zip(levels, reference, strict=True):
                assert np.allclose(got, want, rtol=0, atol=1e-9), name
    client.close()
    cluster.close()
    pool.shutdown()
    base = float(np.median(times["one process, 1 thread"]))
    rows = [
        [name, f"{np.median(t):.2f}", f"{audio_s / np.median(t):,.0f}", f"{base / np.median(t):.2f}"]
        for name, t in times.items()
    ]
    print(f"\n{len(recs)} recordings, {audio_s / 60:.0f} minutes of 48 kHz stereo; median of {args.repeats}")
    print(table(["way", "seconds", "x realtime", "speed-up over 1 thread"], rows))
    print(f"start-up (not timed above): pool {pool_start:.1f} s, LocalCluster {dask_start:.1f} s")


if __name__ == "__main__":
    main()
