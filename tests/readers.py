"""Functions run in worker processes by the parallel-read tests (importable by spawned children)."""

from __future__ import annotations

import os

import numpy as np

import wildzarr
from wildzarr.settings import decode_threads


def read_window(rec: wildzarr.Recording, start: int, stop: int) -> np.ndarray:
    """``rec.read(start, stop)`` in the worker."""
    return rec.read(start, stop)


def read_from_archive(arc: wildzarr.Archive, rid: int, start: int, stop: int) -> np.ndarray:
    """``arc[rid].read(start, stop)`` in the worker."""
    return arc[rid].read(start, stop)


def read_many_in_worker(arc: wildzarr.Archive, requests: list[tuple[int, int, int]]) -> list[np.ndarray]:
    """``arc.read_many(requests)`` in the worker (threads as the worker's default)."""
    return arc.read_many(requests)


def worker_threads(_: object = None) -> tuple[int, int]:
    """The default decoding threads in the worker and its pid."""
    return decode_threads(), os.getpid()
