"""The clip table's contract: its columns and their checks, and what clips need of annotations and recordings.

Shared by :class:`wildzarr.clips.Clips` (every table it holds passes
:func:`_check_table`) and the constructors of :mod:`wildzarr.windows`;
:mod:`wildzarr.clips` re-exports the public names (``wildzarr.clips.Annotations``...):

- :data:`CLIP_COLUMNS`: ``recording``, ``start``, ``stop``, the columns of
  every clip table (int64 samples, ``0 <= start < stop``; docs/clips.md);
- :data:`RECORDING_COLUMNS`: the catalog columns a clip table needs of its
  recordings (rate, channels, length), read with :func:`_recordings`;
- :class:`Annotations`: what clips need of an annotation set.

Seconds become samples per recording with :func:`_per_rate`, which applies a
:mod:`wildzarr.timebase` conversion once per distinct ``(samplerate,
time_expansion)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from wildzarr.catalog import query_ids
from wildzarr.errors import ArgumentError, RecordingNotFoundError

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["CLIP_COLUMNS", "RECORDING_COLUMNS", "Annotations"]

#: Catalog columns a clip table needs of its recordings.
RECORDING_COLUMNS = ("samplerate", "channels", "samples", "time_expansion")

#: Columns of every clip table, in order.
CLIP_COLUMNS = ("recording", "start", "stop")

_I64 = np.int64


class Annotations(Protocol):
    """What clips need of an annotation set (``wildzarr.annotations.AnnotationSet`` is one)."""

    @property
    def df(self) -> pd.DataFrame: ...  # recording, channel, start, stop, label, ...

    @property
    def classes(self) -> dict[str, str]: ...  # label -> "segment" | "event"

    @property
    def reviewed(self) -> pd.DataFrame: ...  # recording, start, stop


# -- recordings and conversions --------------------------------------------------------------


def _recordings(arc: Archive, *, where: str | None = None, ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Catalog rows (:data:`RECORDING_COLUMNS`, index ``id``) of the recordings ``where`` and ``ids`` pick."""
    catalog = arc.catalog()
    table = catalog.loc[:, list(RECORDING_COLUMNS)]
    if ids is not None:
        wanted = pd.Index(sorted({_as_id(i) for i in ids}), dtype=_I64)
        missing = wanted.difference(table.index)
        if len(missing):
            raise RecordingNotFoundError(int(missing[0]), arc._location.where())
        table = table.loc[wanted]
    if where is not None:
        table = table.loc[table.index.isin(query_ids(catalog, where))]
    return table.astype({"samplerate": _I64, "channels": _I64, "samples": _I64, "time_expansion": "float64"})


def _as_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentError(f"recording ids must be ints, not {value!r}")
    return int(value)


def _per_rate(recordings: pd.DataFrame, convert: Any) -> np.ndarray:
    """``convert(samplerate, time_expansion)`` per recording, once per distinct rate (object array)."""
    keys = ["samplerate", "time_expansion"]
    codes = recordings.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    pairs = recordings[keys].drop_duplicates()
    values = np.empty(len(pairs), dtype=object)
    values[:] = [convert(int(sr), float(te)) for sr, te in pairs.itertuples(index=False)]
    return values[codes]


# -- the table ------------------------------------------------------------------------------


def _check_table(df: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """``df`` with a RangeIndex and int64 clip columns, after checking the columns and ranges."""
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"a clip table must be a pandas DataFrame, not {type(df).__name__}")
    if df.columns.has_duplicates:
        raise ArgumentError(f"the clip table has repeated columns: {list(df.columns)}")
    table = df.reset_index(drop=True)
    for name in CLIP_COLUMNS:
        if name not in table.columns:
            raise ArgumentError(f"the clip table has no column {name!r}")
        if not pd.api.types.is_integer_dtype(table[name].dtype) or table[name].isna().any():
            raise ArgumentError(
                f"the clip table's column {name!r} must hold integers, not {table[name].dtype}"
            )
    table = table.astype({name: _I64 for name in CLIP_COLUMNS})
    bad = np.flatnonzero(((table["start"] < 0) | (table["start"] >= table["stop"])).to_numpy())
    if len(bad):
        row = table.iloc[int(bad[0])]
        raise ArgumentError(
            f"clip {int(bad[0])} (recording {row['recording']}) is not a range 0 <= start < stop: "
            f"[{row['start']}, {row['stop']})"
        )
    for name in classes:
        if name not in table.columns or table[name].dtype != np.uint8:
            raise ArgumentError(f"the clip table has no uint8 label column {name!r}")
    return table
