"""Archives and recordings in worker processes: spawn, forkserver, fork, multiprocessing.Pool; settings."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import readers
from signals import make_signal

import wildzarr
from wildzarr.errors import ArgumentError
from wildzarr.settings import decode_threads, get_options, set_options

#: Seconds a worker may take before the test calls it a deadlock.
TIMEOUT = 120


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    path = tmp_path_factory.mktemp("processes") / "a.zarr"
    arc = wildzarr.open(path)
    sources = [make_signal(120_000, 2, 16, seed=k) for k in range(3)]
    for data in sources:
        arc.add(data, samplerate=48_000)
    return path, sources


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_recordings_and_archives_travel_to_process_pools(archive: tuple, method: str) -> None:
    path, sources = archive
    arc = wildzarr.open(path, mode="r")
    recs = [arc[k + 1] for k in range(3)]
    recs[0].read(0, 100)  # one with its streams open, one fresh, one read by read_many
    arc.read_many([(3, 0, 10)])
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        windows = [(k, 1000 * (k + 1), 1000 * (k + 1) + 4096) for k in range(3)]
        by_recording = [pool.submit(readers.read_window, recs[k], a, b) for k, a, b in windows]
        by_archive = [pool.submit(readers.read_from_archive, arc, k + 1, a, b) for k, a, b in windows]
        batch = pool.submit(readers.read_many_in_worker, arc, [(k + 1, a, b) for k, a, b in windows])
        threads = pool.submit(readers.worker_threads)
        for (k, a, b), one, two, three in zip(
            windows, by_recording, by_archive, batch.result(TIMEOUT), strict=True
        ):
            assert np.array_equal(one.result(TIMEOUT), sources[k][a:b])
            assert np.array_equal(two.result(TIMEOUT), sources[k][a:b])
            assert np.array_equal(three, sources[k][a:b])
        assert threads.result(TIMEOUT)[0] == 1  # one decoding thread per worker process by default


def test_read_many_spreads_over_a_process_pool(archive: tuple) -> None:
    path, sources = archive
    arc = wildzarr.open(path, mode="r")
    rng = np.random.default_rng(0)
    requests = [
        (int(k) + 1, int(s), int(s) + 2048)
        for k, s in zip(rng.integers(0, 3, 600), rng.integers(0, 100_000, 600), strict=True)
    ]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = arc.read_many(requests, workers=pool)
    for (rid, a, b), result in zip(requests, results, strict=True):
        assert np.array_equal(result, sources[rid - 1][a:b])


def _fork_and_read(path: str) -> int:
    """In a child forked after the parent used its thread pools: read, exit 0 if exact (run by the test)."""
    arc = wildzarr.open(path, mode="r")
    rec = arc[1]
    expected = rec.read(0, 120_000, workers=2)  # the parent's pool threads are busy or idle at fork time
    pid = os.fork()
    if pid == 0:
        try:
            ok = np.array_equal(rec.read(0, 120_000, workers=2), expected)
            ok &= np.array_equal(arc.read_many([(2, 0, 50_000)], workers=2)[0], arc[2].read(0, 50_000))
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_worker_reads_without_deadlock(archive: tuple) -> None:
    path, _ = archive
    # In a fresh interpreter, so that a deadlock (the failure this guards against) can be timed out.
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_processes as t; "
        f"sys.exit(t._fork_and_read({str(path)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=TIMEOUT, check=False)
    assert done.returncode == 0


def test_a_multiprocessing_pool_of_two_reads_exactly(archive: tuple) -> None:
    path, sources = archive
    arc = wildzarr.open(path, mode="r")
    rec = arc[2]
    starts = list(range(0, 110_000, 5_000))
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(readers.read_window, [(rec, a, a + 4096) for a in starts])
        pids = {pid for _, pid in pool.map(readers.worker_threads, range(8))}
    for a, result in zip(starts, results, strict=True):
        assert np.array_equal(result, sources[1][a : a + 4096])
    assert len(pids) >= 1 and os.getpid() not in pids


def test_set_options_changes_and_restores() -> None:
    before = get_options()
    with set_options(threads=3, fetch_concurrency=40) as options:
        assert options.threads == 3 and options.fetch_concurrency == 40
        assert decode_threads() == 3 and decode_threads(5) == 5
    assert get_options() == before
    set_options(threads=2)
    try:
        assert decode_threads() == 2
    finally:
        set_options(threads=before.threads or len(os.sched_getaffinity(0)))
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ArgumentError, match="positive integer"):
            set_options(threads=bad)  # type: ignore[arg-type]
        with pytest.raises(ArgumentError, match="positive integer"):
            set_options(fetch_concurrency=bad)  # type: ignore[arg-type]


def test_settings_come_from_the_environment() -> None:
    code = (
        "from wildzarr.settings import get_options, decode_threads; o = get_options(); "
        "print(o.threads, o.fetch_concurrency, decode_threads())"
    )
    env = {**os.environ, "WILDZARR_THREADS": "3", "WILDZARR_FETCH_CONCURRENCY": "64"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["3", "64", "3"]
    env["WILDZARR_THREADS"] = "lots"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "WILDZARR_THREADS must be a positive integer, not 'lots'" in done.stderr
