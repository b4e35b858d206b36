"""The annotation table: columns and dtypes, row order, combining tables, classes, reviewed extents.

The table (``AnnotationSet.df``, spec8 "Annotation sets") has one row per
annotation and these leading columns, then any extra columns:

=========== ======== ==========================================================
recording   int64    recording id
channel     Int64    channel from 0; ``<NA>``: all channels
start       int64    first sample
stop        int64    end sample (exclusive); an event has ``start == stop``
label       str      the class, non-empty, without tabs or line breaks
low_freq    float64  lower frequency bound, Hz (NaN when absent)
high_freq   float64  upper frequency bound, Hz (NaN when absent)
=========== ======== ==========================================================

Extra columns are int64, float64, bool or str (a missing text is ``""``).
Rows are ordered by recording, start, stop, label (then channel and
frequencies; ties keep the order they were added in), with a RangeIndex.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from wildzarr.errors import ArgumentError

__all__ = [
    "CORE",
    "KINDS",
    "REVIEWED",
    "check_declarations",
    "check_kinds",
    "classes_of",
    "combine",
    "empty_reviewed",
    "empty_table",
    "extra_kind",
    "inferred_kinds",
    "merge_reviewed",
    "normalize_extra",
    "remove_rows",
    "sort_table",
]

#: The leading columns of every table, in order.
CORE: tuple[str, ...] = ("recording", "channel", "start", "stop", "label", "low_freq", "high_freq")
#: Columns of the reviewed extents.
REVIEWED: tuple[str, ...] = ("recording", "start", "stop")
#: The kinds of class: a segment has an extent, an event is an instant (start == stop).
KINDS: tuple[str, ...] = ("segment", "event")
_ORDER = ["recording", "start", "stop", "label", "channel", "low_freq", "high_freq"]
_CORE_DTYPES = {
    "recording": "int64",
    "channel": "Int64",
    "start": "int64",
    "stop": "int64",
    "label": "str",
    "low_freq": "float64",
    "high_freq": "float64",
}


def empty_table() -> pd.DataFrame:
    """A table without rows or extra columns."""
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in _CORE_DTYPES.items()})


def empty_reviewed() -> pd.DataFrame:
    """Reviewed extents without rows: columns recording, start, stop (int64)."""
    return pd.DataFrame({name: pd.Series([], dtype="int64") for name in REVIEWED})


def extra_kind(series: pd.Series) -> str:
    """The stored kind of an extra column: ``"int64"``, ``"float64"``, ``"bool"`` or ``"string"``."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int64"
    if pd.api.types.is_float_dtype(dtype):
        return "float64"
    return "string"


def _text(series: pd.Series) -> pd.Series:
    return pd.Series(["" if _missing(v) else str(v) for v in series], index=series.index, dtype="str")


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def normalize_extra(series: pd.Series) -> pd.Series:
    """An extra column in its stored form.

    bool stays bool; integers become int64 (float64 when some are missing);
    floats float64; anything else text (``str``), a missing value ``""``.
    """
    dtype = series.dtype
    has_missing = bool(series.isna().any())
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        if has_missing:
            return series.astype("float64")
        return series.astype("bool" if pd.api.types.is_bool_dtype(dtype) else "int64")
    if pd.api.types.is_float_dtype(dtype):
        return series.astype("float64")
    return _text(series)


def _unify(parts: list[pd.Series | None], lengths: list[int]) -> list[pd.Series]:
    """One extra column of several tables, in a dtype that holds all of them (absent parts as missing)."""
    present = [p for p in parts if p is not None]
    kinds = {extra_kind(p) for p in present}
    absent = any(p is None and n for p, n in zip(parts, lengths, strict=True))
    if "string" in kinds:
        return [
            _text(p) if p is not None else pd.Series([""] * n, dtype="str")
            for p, n in zip(parts, lengths, strict=True)
        ]
    target: Any = "float64" if len(kinds) > 1 or absent else kinds.pop()
    return [
        p.astype(target) if p is not None else pd.Series([np.nan] * n, dtype="float64")
        for p, n in zip(parts, lengths, strict=True)
    ]


def combine(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """The rows of both tables, sorted; an extra column one table lacks is missing there
    (NaN, turning integers and bools into float64; ``""`` for text)."""
    extras = [c for c in first.columns[len(CORE) :]]
    extras += [c for c in second.columns[len(CORE) :] if c not in extras]
    lengths = [len(first), len(second)]
    frames = [first[list(CORE)].reset_index(drop=True), second[list(CORE)].reset_index(drop=True)]
    for name in extras:
        parts = [f[name].reset_index(drop=True) if name in f.columns else None for f in (first, second)]
        for frame, column in zip(frames, _unify(parts, lengths), strict=True):
            frame[name] = column.reset_index(drop=True)
    nonempty = [f for f in frames if len(f)] or frames[:1]  # concat with an empty frame would loosen dtypes
    joined = pd.concat(nonempty, ignore_index=True) if len(nonempty) > 1 else nonempty[0]
    return sort_table(joined.astype(_CORE_DTYPES))


def sort_table(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` in the canonical row order (stable), with a RangeIndex."""
    return table.sort_values(_ORDER, kind="stable", na_position="last", ignore_index=True)


def inferred_kinds(table: pd.DataFrame) -> dict[str, str]:
    """Each label's kind as its rows show it: ``"event"`` if every row is an instant, else ``"segment"``."""
    instant = (table["start"] == table["stop"]).groupby(table["label"]).all()
    return {str(label): "event" if bool(flag) else "segment" for label, flag in instant.items()}


def classes_of(table: pd.DataFrame, declared: Mapping[str, str]) -> dict[str, str]:
    """Every label used or declared, sorted, with its kind (declared, else inferred from its rows)."""
    kinds = {**inferred_kinds(table), **declared}
    return dict(sorted(kinds.items()))


def check_kinds(table: pd.DataFrame, declared: Mapping[str, str], where: str = "") -> None:
    """Raise ArgumentError if a class declared an event has a row with ``start != stop``."""
    for label, kind in declared.items():
        if kind != "event":
            continue
        bad = table[(table["label"] == label) & (table["start"] != table["stop"])]
        if len(bad):
            row = bad.iloc[0]
            raise ArgumentError(
                f"{where}class {label!r} is an event (an instant, start == stop), but {len(bad)} of its rows "
                f"have an extent (first: recording {row['recording']}, "
                f"samples [{row['start']}, {row['stop']}))"
            )


def check_declarations(classes: Mapping[Any, Any]) -> dict[str, str]:
    """``classes`` (label -> ``"segment"`` | ``"event"``) checked: ArgumentError naming a bad entry."""
    if not isinstance(classes, Mapping):
        raise ArgumentError(
            f"classes must be a dict of label -> 'segment' or 'event', not {type(classes).__name__}"
        )
    checked = {}
    for label, kind in classes.items():
        if not isinstance(label, str) or not label or any(c in label for c in "\t\r\n"):
            raise ArgumentError(
                f"class name {label!r}: must be a non-empty string without tabs or line breaks"
            )
        if kind not in KINDS:
            raise ArgumentError(f"class {label!r}: kind must be 'segment' or 'event', not {kind!r}")
        checked[label] = str(kind)
    return checked


def merge_reviewed(reviewed: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """The union of two sets of reviewed extents, as sorted, disjoint, non-touching ranges per recording."""
    both = pd.concat([reviewed, extra], ignore_index=True).sort_values(
        ["recording", "start", "stop"], kind="stable"
    )
    rows: list[list[int]] = []
    for rid, start, stop in both.itertuples(index=False):
        if rows and rows[-1][0] == rid and start <= rows[-1][2]:
            rows[-1][2] = max(rows[-1][2], int(stop))
        else:
            rows.append([int(rid), int(start), int(stop)])
    return pd.DataFrame(np.array(rows, dtype=np.int64).reshape(-1, 3), columns=list(REVIEWED))


def _keys(frame: pd.DataFrame, columns: Sequence[Hashable]) -> list[tuple[Any, ...]]:
    return [
        tuple(None if _missing(v) else v for v in row)
        for row in frame[columns].itertuples(index=False, name=None)
    ]


def remove_rows(table: pd.DataFrame, rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``table`` without ``rows`` (matched by value on the columns both have; each row removes one
    equal row of the table), and how many were removed."""
    columns = [c for c in table.columns if c in rows.columns]
    wanted = Counter(_keys(rows, columns))
    keep = np.ones(len(table), dtype=bool)
    for i, key in enumerate(_keys(table, columns)):
        if wanted[key] > 0:
            wanted[key] -= 1
            keep[i] = False
    return table[keep].reset_index(drop=True), int(np.count_nonzero(~keep))
