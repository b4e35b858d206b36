"""Worker functions for the many-writer tests, run in spawned processes (importable by the children)."""

from __future__ import annotations

from typing import Any

import numpy as np
from signals import make_signal

import wildzarr


def signal_for(seed: int) -> np.ndarray:
    """The distinct signal a worker imports for ``seed`` (1 or 2 channels, 3,000 to 12,000 samples)."""
    rng = np.random.default_rng(seed)
    return make_signal(int(rng.integers(3000, 12_000)), 1 + seed % 2, 16, seed)


def add_many(target: str, storage_options: dict[str, Any] | None, seeds: list[int]) -> list[tuple[int, int]]:
    """Import the signal of every seed (user metadata names the seed); return (seed, id) pairs."""
    arc = wildzarr.open(target, storage_options=storage_options)
    return [(seed, arc.add(signal_for(seed), samplerate=8000, user_meta={"seed": seed}).id) for seed in seeds]


def add_same(target: str, storage_options: dict[str, Any] | None, seed: int) -> int | str:
    """Import the signal of ``seed``; return its id, or ``"duplicate of N"``."""
    arc = wildzarr.open(target, storage_options=storage_options)
    try:
        return arc.add(signal_for(seed), samplerate=8000).id
    except wildzarr.DuplicateRecordingError as exc:
        return f"duplicate of {exc.existing_id}"


def set_keys(target: str, storage_options: dict[str, Any] | None, rid: int, prefix: str, count: int) -> None:
    """Set ``count`` keys ``<prefix><i>`` on recording ``rid``, one update each."""
    rec = wildzarr.open(target, storage_options=storage_options)[rid]
    for i in range(count):
        rec.update_user_meta({f"{prefix}{i}": i})
