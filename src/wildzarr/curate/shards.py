"""Shards: the unit of work and of resumption of :meth:`Curation.materialise <wildzarr.curate.Curation>`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wildzarr.das import DasPlan

__all__ = ["Shard", "plan_shards"]


@dataclass(frozen=True)
class Shard:
    """A group of consecutive rows written by one worker: its name, split and the positions of its rows."""

    name: str
    split: str
    rows: list[int]


def plan_shards(df: pd.DataFrame, plan: DasPlan | None, size: int) -> list[Shard]:
    """Consecutive rows of one split per shard; DAS shards follow the store's split order."""
    if plan is None:
        groups = [("", list(range(len(df))))]
    else:
        split = df["split"].to_numpy() if "split" in df else np.full(len(df), "train")
        groups = [(name, np.flatnonzero(split == name).tolist()) for name in plan.splits]
    shards: list[Shard] = []
    for name, rows in groups:
        for at in range(0, len(rows), size):
            shards.append(Shard(f"{len(shards):06d}", name, rows[at : at + size]))
    return shards
