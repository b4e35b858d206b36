"""The shards of a curation written in worker processes, each into a temporary folder renamed when done.

:func:`write_shards` runs in the materialising process; the rest runs in the
pool's processes, which exit as soon as that process is gone (:func:`_watch`).
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from wildzarr.curate.shards import Shard
from wildzarr.das import DasPlan, read_blocks
from wildzarr.das.files import fsync_tree, publish
from wildzarr.errors import ArgumentError, RangeError
from wildzarr.export import export_recording

if TYPE_CHECKING:
    from wildzarr.archive import Archive
    from wildzarr.curate.curation import Curation

__all__ = ["write_shards"]


def write_shards(
    curation: Curation,
    pending: list[Shard],
    work: Path,
    format: str,
    plan: DasPlan | None,
    names: Sequence[str],
    count: int,
) -> None:
    """Write the pending shards into ``work`` in ``count`` worker processes; the first failure stops the rest.

    With ``plan``, a shard is the ``x.npy`` and ``y.npy`` of its rows (DAS);
    without, a file of ``format`` per row, named by ``names`` (one per row of
    ``curation.df``, by position).
    """
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    ann = curation.annotations() if plan is not None else None
    with ProcessPoolExecutor(min(count, len(pending)), mp_context=context, initializer=_watch) as pool:
        futures: list[Future[None]] = []
        for shard in pending:
            rows = curation.df.iloc[shard.rows]
            temp = work / f"tmp-{shard.name}-{secrets.token_hex(4)}"
            final = work / "shards" / shard.name
            if plan is not None and ann is not None:
                part = ann[ann["recording"].isin(rows["recording"].unique())]
                table = rows[["recording", "start", "stop"]].reset_index(drop=True)
                futures.append(pool.submit(_das_shard, curation.archive, plan, table, part, temp, final))
            else:
                files = [
                    (int(r), int(i), int(a), int(b), names[at])
                    for r, i, a, b, at in zip(
                        rows["row"], rows["recording"], rows["start"], rows["stop"], shard.rows, strict=True
                    )
                ]
                futures.append(pool.submit(_audio_shard, curation.archive, files, format, temp, final))
        finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in finished:
            if future.exception() is not None:
                pool.shutdown(wait=True, cancel_futures=True)
                future.result()


# -- in the pool's processes ------------------------------------------------------------------------


def _watch() -> None:
    """In a worker: exit as soon as the materialising process is gone.

    concurrent.futures workers would otherwise outlive a SIGKILL of the
    process that started them, blocked on its queue, or finish a shard while
    a rerun clears the leftovers. :func:`multiprocessing.parent_process` is
    that process (also for workers the forkserver forks); its sentinel turns
    ready when it ends.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="wildzarr-watch-parent", daemon=True).start()


def _das_shard(
    archive: Archive, plan: DasPlan, rows: pd.DataFrame, ann: pd.DataFrame, temp: Path, final: Path
) -> None:
    """Write one shard's ``x.npy`` and ``y.npy`` into ``temp``, fsync, rename to ``final``."""
    temp.mkdir()
    length = int((rows["stop"] - rows["start"]).sum())
    arrays = {
        "x": np.lib.format.open_memmap(
            temp / "x.npy", mode="w+", dtype=plan.x_dtype, shape=(length, plan.channels)
        ),
        "y": np.lib.format.open_memmap(
            temp / "y.npy", mode="w+", dtype=np.float32, shape=(length, 1 + len(plan.classes))
        ),
    }
    at = 0
    for x, y in read_blocks(archive, plan, rows, ann):
        arrays["x"][at : at + len(x)] = x
        arrays["y"][at : at + len(x)] = y
        at += len(x)
    for array in arrays.values():
        array.flush()
    arrays.clear()
    fsync_tree(temp)
    publish(temp, final)


def _audio_shard(
    archive: Archive, files: Sequence[tuple[int, int, int, int, str]], format: str, temp: Path, final: Path
) -> None:
    """Write one file per row into ``temp`` (:func:`wildzarr.export.export_recording`), fsync, rename it."""
    temp.mkdir()
    for row, rid, start, stop, name in files:
        try:
            export_recording(archive[int(rid)], temp / name, start=int(start), stop=int(stop), format=format)
        except (ArgumentError, RangeError) as exc:
            raise ArgumentError(f"row {row}, recording {rid}: {exc}") from None
    fsync_tree(temp)
    publish(temp, final)
