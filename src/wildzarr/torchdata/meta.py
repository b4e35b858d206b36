"""The ``meta`` of items: the names asked for, their values per clip, the dict of one item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from wildzarr.archive import Archive
from wildzarr.errors import ArgumentError

__all__ = ["BUILTIN_META", "item_meta", "meta_names", "meta_values"]

#: Meta names every item knows: the dataset index and the range actually read.
BUILTIN_META = ("index", "recording", "start", "stop")


def meta_names(meta: Sequence[str]) -> tuple[str, ...]:
    if isinstance(meta, str) or any(not isinstance(n, str) for n in meta):
        raise ArgumentError(f"meta must be a sequence of names, not {meta!r}")
    return tuple(meta)


def meta_values(
    archive: Archive, clips: pd.DataFrame, names: tuple[str, ...], recordings: np.ndarray
) -> dict[str, list[Any]]:
    """Per clip, the value of each meta name that is not built in: from the clips, else the catalog."""
    values: dict[str, list[Any]] = {}
    wanted = [n for n in names if n not in BUILTIN_META]
    for name in wanted:
        if name in clips.columns:
            values[name] = [_scalar(v) for v in clips[name].tolist()]
    rest = [n for n in wanted if n not in values]
    if rest:
        catalog = archive.catalog()
        missing = [n for n in rest if n not in catalog.columns]
        if missing:
            raise ArgumentError(
                f"meta {missing} are neither built in {BUILTIN_META}, columns of the clips nor of the "
                f"catalog (columns: {list(catalog.columns)})"
            )
        rows = catalog.reindex(recordings)
        for name in rest:
            values[name] = [_scalar(v) for v in rows[name].tolist()]
    return values


def item_meta(
    index: int, recording: Any, start: Any, stop: Any, values: Mapping[str, list[Any]]
) -> dict[str, Any]:
    """The meta of item ``index``: the built-in names for the range read, then its ``values``."""
    meta: dict[str, Any] = {
        "index": index,
        "recording": int(recording),
        "start": int(start),
        "stop": int(stop),
    }
    for name, column in values.items():
        meta[name] = column[index]
    return meta


def _scalar(value: Any) -> Any:
    """A value default_collate can batch: int, float or str (times ISO 8601; missing: NaN or "")."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)
