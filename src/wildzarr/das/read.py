"""Reading the clips of a DAS store: their samples and labels as ``(x, y)`` blocks of bounded size."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from wildzarr import das, labels  # das.BATCH_BYTES, MASK_BYTES: looked up when used (see das/__init__.py)
from wildzarr.das.plan import Y_DTYPE, DasPlan

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["read_blocks"]


def read_blocks(
    archive: Archive,
    plan: DasPlan,
    rows: pd.DataFrame,
    ann_df: pd.DataFrame,
    *,
    workers: Any = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(x, y)`` blocks of the clips in ``rows``, in order: their samples and their labels, clip after clip.

    Clips are read through :meth:`Archive.read_many` in batches of at most
    :data:`BATCH_BYTES` of samples (a longer clip in several pieces), so the
    memory used does not grow with the clips.

    Parameters
    ----------
    archive : Archive
    plan : DasPlan
        From :func:`plan_das`: dtype, channels and classes.
    rows : pandas.DataFrame
        ``recording``, ``start``, ``stop`` of the clips.
    ann_df : pandas.DataFrame
        Annotations as :attr:`AnnotationSet.df`.
    workers : int, executor or dask Client, optional
        As in :meth:`Archive.read_many`.

    Yields
    ------
    x : numpy.ndarray
        ``(n, channels)``, ``plan.x_dtype``: samples ``[a, a + n)`` of a clip's recording.
    y : numpy.ndarray
        ``(n, 1 + len(plan.classes))`` float32: :func:`wildzarr.labels.masks` of the same samples.
    """
    width = plan.channels * max(plan.x_dtype.itemsize, 4) + 4 * (1 + len(plan.classes))
    budget = max(1, das.BATCH_BYTES // width)
    piece = max(1, min(budget, das.MASK_BYTES // (16 * (1 + len(plan.classes)))))
    by_recording = {int(cast(Any, rid)): part for rid, part in ann_df.groupby("recording", sort=False)}
    empty = ann_df.iloc[0:0]
    batch: list[tuple[int, int, int]] = []
    size = 0
    for rid, start, stop in zip(rows["recording"], rows["start"], rows["stop"], strict=True):
        for a in range(int(start), int(stop), piece):
            b = min(a + piece, int(stop))
            batch.append((int(rid), a, b))
            size += b - a
            if size >= budget:
                yield from _read_batch(archive, plan, batch, by_recording, empty, workers)
                batch, size = [], 0
    if batch:
        yield from _read_batch(archive, plan, batch, by_recording, empty, workers)


def _read_batch(
    archive: Archive,
    plan: DasPlan,
    batch: list[tuple[int, int, int]],
    by_recording: Mapping[int, pd.DataFrame],
    empty: pd.DataFrame,
    workers: Any,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    samples = archive.read_many(batch, dtype=plan.read_dtype, workers=workers)
    for (rid, a, b), x in zip(batch, samples, strict=True):
        y = labels.masks(by_recording.get(rid, empty), plan.classes, rid, a, b, event_width=plan.event_width)
        yield x, np.asarray(y, dtype=Y_DTYPE)
