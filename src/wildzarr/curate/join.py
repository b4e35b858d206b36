"""The done shards of a curation joined into its output, which appears complete (one rename) or not at all."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from wildzarr.curate.resume import MARKER
from wildzarr.curate.shards import Shard
from wildzarr.das import DasPlan, DasWriter
from wildzarr.das.files import clear, fsync_tree, publish
from wildzarr.errors import ArgumentError

__all__ = ["JOIN_ROWS", "MANIFEST", "join_audio", "join_das"]

#: The table of the files written, in the output folder.
MANIFEST = "manifest.csv"
#: Rows per block when shards are joined into the final DAS store.
JOIN_ROWS = 1 << 20


def join_audio(
    df: pd.DataFrame,
    target: Path,
    shards: list[Shard],
    done: Path,
    work: Path,
    names: Sequence[str],
    sources: Mapping[int, str],
    marker: str,
) -> None:
    """Hard-link the shards' files into one folder, add manifest and marker, rename it to ``target``.

    ``names`` are the files of the rows of ``df`` (by position), ``sources``
    the source file name of each recording.
    """
    final = work / "final"
    clear(final)
    final.mkdir()
    for shard in shards:
        for row in shard.rows:
            os.link(done / shard.name / names[row], final / names[row])
    manifest = pd.DataFrame(
        {
            "row": df["row"].to_numpy(),
            "path": names,
            "recording": df["recording"].to_numpy(),
            "file": [sources[int(r)] for r in df["recording"]],
        }
    )
    rest = [c for c in df.columns if c not in ("row", "recording")]
    manifest = pd.concat([manifest, df[rest].reset_index(drop=True)], axis=1)
    manifest.to_csv(final / MANIFEST, index=False, lineterminator="\n")
    (final / MARKER).write_text(marker)
    fsync_tree(final)
    if not publish(final, target):
        raise ArgumentError(f"{target}: was created by someone else meanwhile")


def join_das(
    target: Path,
    layout: str,
    plan: DasPlan,
    shards: list[Shard],
    done: Path,
    work: Path,
    marker: str,
) -> None:
    """Concatenate the shards of each split, in order, into the DAS store at ``target``."""
    writer = DasWriter(target, layout, plan, temp=work / ("final" + target.suffix))
    try:
        for split in plan.splits:
            writer.write_split(split, _shard_blocks([s for s in shards if s.split == split], done))
        (writer.temp / MARKER).write_text(marker)
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def _shard_blocks(shards: list[Shard], done: Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The shards' ``x`` and ``y`` in blocks of :data:`JOIN_ROWS` rows (memory-mapped: bounded memory)."""
    for shard in shards:
        x = np.load(done / shard.name / "x.npy", mmap_mode="r")
        y = np.load(done / shard.name / "y.npy", mmap_mode="r")
        for at in range(0, len(x), JOIN_ROWS):
            yield np.asarray(x[at : at + JOIN_ROWS]), np.asarray(y[at : at + JOIN_ROWS])
