"""Seeded augmentation: the draws of an item in an epoch, time jitter, gain, background clips.

Item ``i`` in epoch ``e`` draws four uniforms from
``numpy.random.default_rng([seed, e, i])`` (jitter, gain, background choice,
background gain), so an epoch is the same whatever the number of workers or
the batch an item lands in.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["background_requests", "draws", "jittered", "mix"]


def draws(seed: int, epoch: int, rows: np.ndarray, active: bool) -> np.ndarray:
    """Four uniforms in [0, 1) per item (jitter, gain, background choice, background gain).

    Zeros when ``active`` is false (no augmentation asked for).
    """
    if not active:
        return np.zeros((len(rows), 4))
    return np.array([np.random.default_rng([seed, epoch, row]).random(4) for row in rows.tolist()]).reshape(
        len(rows), 4
    )


def jittered(starts: np.ndarray, u: np.ndarray, jitter: int, limits: np.ndarray) -> np.ndarray:
    """``starts`` shifted by whole numbers in ``[-jitter, jitter]`` (from ``u``), kept in ``[0, limits]``."""
    shifts = np.floor(u * (2 * jitter + 1)).astype(np.int64) - jitter
    return np.clip(starts + shifts, 0, np.maximum(limits, 0))


def background_requests(
    background: np.ndarray,
    background_channels: np.ndarray | None,
    u: np.ndarray,
    channels: list[list[int] | None],
) -> list[tuple[int, int, int, list[int] | None]]:
    """The reads of the background clips chosen by ``u``: their own channels, else those of the items."""
    picks = np.minimum((u * len(background)).astype(np.int64), len(background) - 1)
    if background_channels is not None:
        channels = [[int(c)] for c in background_channels[picks].tolist()]
    return [
        (int(r), int(a), int(b), c) for (r, a, b), c in zip(background[picks].tolist(), channels, strict=True)
    ]


def _gains(db_range: tuple[float, float], u: np.ndarray) -> np.ndarray:
    """Linear gains for uniforms ``u``: ``10 ** (g / 20)`` with ``g`` uniform in ``db_range``."""
    low, high = db_range
    return (10.0 ** ((low + u * (high - low)) / 20.0)).astype(np.float32)


def mix(
    audio: torch.Tensor,
    n: int,
    u: np.ndarray,
    gain_db: tuple[float, float] | None,
    background_gain_db: tuple[float, float] | None,
) -> torch.Tensor:
    """The ``n`` items of ``audio`` with their gain, plus the background clips after them, scaled.

    ``u`` are the items' draws; ``background_gain_db`` None: ``audio`` holds
    no background clips.
    """
    if gain_db is not None:
        audio[:n] *= torch.from_numpy(_gains(gain_db, u[:, 1]))[:, None, None]
    if background_gain_db is not None:
        audio = audio[:n] + audio[n:] * torch.from_numpy(_gains(background_gain_db, u[:, 3]))[:, None, None]
    return audio
