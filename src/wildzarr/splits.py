"""Splits by group (train / val / test ...) that stay put when recordings are added; leak checks (pure).

A group (a recording, a site, a deployment: any value shared by clips that must
not be spread over two splits) is placed by a hash of ``(seed, group value)``
alone, mapped to ``u`` in [0, 1) and cut at the cumulative fractions, in the
order the fractions are given: with ``{"train": 0.8, "val": 0.1, "test": 0.1}``,
``u < 0.8`` is train, ``0.8 <= u < 0.9`` val, the rest test. Nothing else
enters the hash, so adding recordings (or groups) never moves an existing
group, and the same seed gives the same split on every machine and version.
The price: the fractions hold for the *groups* only on average, like coin
tosses. With many groups the realised fractions approach the given ones (the
spread of a split's share of groups is about ``sqrt(f (1 - f) / n_groups)``),
and the share of *clips* also depends on how many clips each group has;
:func:`summary` reports both.

Group values are hashed by what they mean, not by their type: ``3``, ``3.0``
and ``numpy.int64(3)`` are one group (integral floats hash as integers, so a
catalog column that turns from int to float because a new recording lacks the
value keeps every group where it was); the text ``"3"`` is another.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from wildzarr.errors import ArgumentError

__all__ = ["assign", "check_fractions", "group_hash", "leaks", "summary"]

_SCALE = float(2**64)


def _canonical(value: Any) -> str:
    """The text a group value is hashed as (numbers by value, text as text, times as UTC ISO 8601)."""
    if isinstance(value, (bool, np.bool_)):
        return f"b:{bool(value)}"
    if isinstance(value, (int, np.integer)):
        return f"n:{int(value)}"
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return f"n:{int(number)}" if number.is_integer() else f"n:{number!r}"
    if isinstance(value, str):
        return f"s:{value}"
    if isinstance(value, pd.Timestamp):
        return f"t:{value.isoformat()}"
    return f"o:{value}"


def group_hash(values: Any, seed: int) -> np.ndarray:
    """A number in [0, 1) for each group value: blake2b (8 bytes) of ``(seed, value)``, divided by 2**64.

    Parameters
    ----------
    values : array-like
        Group values (numbers, text, times); none may be missing.
    seed : int

    Returns
    -------
    numpy.ndarray
        float64, one per value; equal values give equal numbers.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ArgumentError(f"seed must be an int, not {seed!r}")
    out = []
    for value in values:
        text = f"wildzarr-split\0{int(seed)}\0{_canonical(value)}".encode()
        digest = hashlib.blake2b(text, digest_size=8).digest()
        out.append(int.from_bytes(digest, "big") / _SCALE)
    return np.minimum(np.array(out, dtype=np.float64), np.nextafter(1.0, 0.0))


def check_fractions(fractions: Mapping[str, float]) -> dict[str, float]:
    """``fractions`` as a dict of str -> float, checked: non-empty, each in [0, 1], sum 1 (within 1e-9).

    Raises ArgumentError otherwise.
    """
    if not isinstance(fractions, Mapping) or not fractions:
        raise ArgumentError(
            f"fractions must be a non-empty dict of split name -> fraction, not {fractions!r}"
        )
    checked: dict[str, float] = {}
    for name, value in fractions.items():
        if not isinstance(name, str) or not name:
            raise ArgumentError(f"split names must be non-empty str, not {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ArgumentError(f"fraction of split {name!r} must be a number, not {value!r}")
        if not (math.isfinite(float(value)) and 0 <= float(value) <= 1):
            raise ArgumentError(f"fraction of split {name!r} must lie in [0, 1], not {value!r}")
        checked[name] = float(value)
    if abs(math.fsum(checked.values()) - 1) > 1e-9:
        raise ArgumentError(f"fractions must sum to 1, not {math.fsum(checked.values())!r}: {checked}")
    return checked


def assign(groups: Any, fractions: Mapping[str, float], seed: int = 0) -> np.ndarray:
    """The split of each entry of ``groups`` (module docstring: hash, then cut at the cumulative fractions).

    Parameters
    ----------
    groups : array-like
        One group value per clip (or per anything); none may be missing.
    fractions : mapping of str -> float
        Split name -> fraction, in the order the cuts are made; they sum to 1.
    seed : int

    Returns
    -------
    numpy.ndarray
        object array of split names, one per entry.

    Raises
    ------
    ArgumentError
        For bad fractions or seed, or a missing group value (naming its position).
    """
    checked = check_fractions(fractions)
    values = pd.Series(np.asarray(groups, dtype=object))
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise ArgumentError(f"group values are missing at position(s) {missing[:5].tolist()}")
    codes, uniques = pd.factorize(values)
    u = group_hash(uniques, seed)
    cuts = np.cumsum(list(checked.values()))
    cuts[-1] = 1.0
    names = np.array(list(checked), dtype=object)
    index = np.minimum(np.searchsorted(cuts, u, "right"), len(names) - 1)
    return names[index][codes]


def _table(split: Any, groups: Any) -> pd.DataFrame:
    split, groups = np.asarray(split, dtype=object), np.asarray(groups, dtype=object)
    if len(split) != len(groups):
        raise ArgumentError(f"groups has {len(groups)} entries, the clip table {len(split)} rows")
    return pd.DataFrame({"split": split, "group": groups}).dropna()


def leaks(clips: pd.DataFrame, groups: str | Any) -> pd.DataFrame:
    """Groups present in more than one split: the clips of each in each split.

    Parameters
    ----------
    clips : pandas.DataFrame
        With a ``split`` column.
    groups : str or array-like
        A column of ``clips``, or one group value per row. Rows whose split or group is missing are skipped.

    Returns
    -------
    pandas.DataFrame
        One row per leaking group (index: the group value, named after the
        column or ``"group"``), one int64 column per split (sorted by name)
        counting the group's clips in it; no rows when nothing leaks.

    Raises
    ------
    ArgumentError
        If ``clips`` has no ``split`` column, or ``groups`` names no column or has the wrong length.
    """
    if "split" not in clips.columns:
        raise ArgumentError("the clip table has no 'split' column: split it first")
    name = "group"
    if isinstance(groups, str):
        if groups not in clips.columns:
            raise ArgumentError(f"the clip table has no column {groups!r}")
        name, groups = groups, clips[groups].to_numpy(dtype=object)
    frame = _table(clips["split"], groups)
    counts = pd.crosstab(frame["group"], frame["split"]).astype(np.int64)
    counts = counts.reindex(columns=sorted(counts.columns))
    found = counts[(counts > 0).sum(axis=1) > 1]
    found.index.name = name
    found.columns.name = None
    return found


def summary(clips: pd.DataFrame, groups: Any, fractions: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Clips and groups per split, with their realised fractions (and the given ones).

    Parameters
    ----------
    clips : pandas.DataFrame
        With a ``split`` column.
    groups : array-like
        One group value per row.
    fractions : mapping, optional
        The fractions the split was made with: adds a ``target`` column and
        orders the rows (splits that got no group show 0).

    Returns
    -------
    pandas.DataFrame
        Index ``split``; columns ``clips``, ``groups`` (int64), ``clip_fraction``,
        ``group_fraction`` (float64) and, with ``fractions``, ``target``. A
        group that leaks into two splits counts in both.
    """
    if "split" not in clips.columns:
        raise ArgumentError("the clip table has no 'split' column: split it first")
    frame = _table(clips["split"], groups)
    by_split = frame.groupby("split")
    table = pd.DataFrame({"clips": by_split.size(), "groups": by_split["group"].nunique()})
    order = list(fractions) if fractions is not None else sorted(table.index)
    order += [s for s in sorted(table.index) if s not in order]
    table = table.reindex(order, fill_value=0).astype(np.int64)
    table.index.name = "split"
    table["clip_fraction"] = table["clips"] / max(int(table["clips"].sum()), 1)
    table["group_fraction"] = table["groups"] / max(int(frame["group"].nunique()), 1)
    if fractions is not None:
        table["target"] = [float(fractions.get(s, 0.0)) for s in table.index]
    return table
