"""Package settings for reads: decoding threads and concurrent requests to remote stores.

Two numbers decide how a read uses the machine:

``threads``
    Threads that fetch and decode the frames of one read or one
    :meth:`~wildzarr.Archive.read_many` batch (the decoders release the GIL).
    Default: the cores this process may run on (``os.sched_getaffinity``, which
    follows SLURM's ``--cpus-per-task`` and ``taskset``), but **1 inside a worker
    process** (a process started by :mod:`multiprocessing`, hence also
    ``concurrent.futures.ProcessPoolExecutor``, PyTorch DataLoader workers and
    dask worker processes): there, parallelism comes from the processes, and a
    pool of threads per process would only oversubscribe the cores.
``fetch_concurrency``
    Requests in flight at once to a remote store (S3 and other fsspec URLs,
    zarr stores other than a local folder), where a request waits on latency,
    not on a core. Default 16. A local folder ignores it (its reads are
    ``pread`` calls made by the decoding threads).

Set them for the whole process with :func:`set_options` (also usable as a
context manager that restores the previous values), per call with the
``workers=`` argument of the read functions, or from the environment
(``WILDZARR_THREADS``, ``WILDZARR_FETCH_CONCURRENCY``), which child processes
inherit. Settings are per process: they do not travel with a pickled archive.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from wildzarr.errors import ArgumentError

__all__ = ["Options", "decode_threads", "get_options", "set_options", "thread_pool"]

#: Requests in flight to a remote store when nothing else is set.
DEFAULT_FETCH_CONCURRENCY = 16


@dataclass(frozen=True)
class Options:
    """The read settings of this process.

    Attributes
    ----------
    threads : int or None
        Decoding threads per read; None means the default (cores available,
        1 inside a worker process).
    fetch_concurrency : int
        Requests in flight at once to a remote store.
    """

    threads: int | None = None
    fetch_concurrency: int = DEFAULT_FETCH_CONCURRENCY


def _positive(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(f"{what} must be a positive integer, not {value!r}")
    return value


def _from_environment() -> Options:
    """Options from ``WILDZARR_THREADS`` / ``WILDZARR_FETCH_CONCURRENCY`` (ArgumentError if malformed)."""
    values: dict[str, int] = {}
    for name, field in (("WILDZARR_THREADS", "threads"), ("WILDZARR_FETCH_CONCURRENCY", "fetch_concurrency")):
        text = os.environ.get(name, "").strip()
        if text:
            try:
                values[field] = _positive(int(text), name)
            except ValueError:
                raise ArgumentError(f"{name} must be a positive integer, not {text!r}") from None
    return Options(**values)


_lock = threading.Lock()
_options: Options | None = None


def get_options() -> Options:
    """The settings in force (from :func:`set_options`, else the environment, else the defaults)."""
    global _options
    if _options is None:
        with _lock:
            if _options is None:
                _options = _from_environment()
    return _options


class _Setter:
    """What :func:`set_options` returns: the change is made; ``with`` undoes it on exit."""

    def __init__(self, previous: Options) -> None:
        self._previous = previous

    def __enter__(self) -> Options:
        return get_options()

    def __exit__(self, *exc: object) -> None:
        global _options
        with _lock:
            _options = self._previous


def set_options(*, threads: int | None = None, fetch_concurrency: int | None = None) -> _Setter:
    """Change the read settings of this process.

    ``wildzarr.set_options(threads=4)`` changes them until changed again;
    ``with wildzarr.set_options(threads=1): ...`` restores the previous values
    when the block ends. Arguments left out (None) keep their value.

    Parameters
    ----------
    threads : int, optional
        Decoding threads per read (positive).
    fetch_concurrency : int, optional
        Requests in flight at once to a remote store (positive).

    Raises
    ------
    ArgumentError
        If a value is not a positive integer.
    """
    changes: dict[str, int] = {}
    if threads is not None:
        changes["threads"] = _positive(threads, "threads")
    if fetch_concurrency is not None:
        changes["fetch_concurrency"] = _positive(fetch_concurrency, "fetch_concurrency")
    global _options
    previous = get_options()
    with _lock:
        _options = replace(previous, **changes)
    return _Setter(previous)


def in_worker_process() -> bool:
    """Whether this process was started by :mod:`multiprocessing` (pools, DataLoader and dask workers)."""
    return multiprocessing.parent_process() is not None


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def decode_threads(explicit: int | None = None) -> int:
    """Threads for one read: ``explicit`` if given, else the setting, else the default (module docstring).

    Raises ArgumentError if ``explicit`` is not a positive integer.
    """
    if explicit is not None:
        return _positive(explicit, "workers")
    configured = get_options().threads
    if configured is not None:
        return configured
    return 1 if in_worker_process() else _available_cores()


_pools: dict[int, ThreadPoolExecutor] = {}


def thread_pool(size: int) -> ThreadPoolExecutor:
    """The process-wide pool of ``size`` threads (created on first use, kept for the process's life)."""
    pool = _pools.get(size)
    if pool is None:
        with _lock:
            pool = _pools.get(size)
            if pool is None:
                pool = _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="wildzarr")
    return pool


def _forget_pools() -> None:
    """In a forked child the parent's threads do not exist (and a lock may be held): start afresh."""
    global _lock
    _pools.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)
