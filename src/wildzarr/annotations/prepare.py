"""New annotation rows, checked against the archive and brought into the table's form.

Everything here happens before a set is touched: a row that fails a check
raises ArgumentError naming the row (and its file, for imports) and its
recording, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from wildzarr.annotations.recordings import RecordingFacts, facts_of
from wildzarr.annotations.table import CORE, normalize_extra
from wildzarr.annotations.timing import apply_range, to_samples
from wildzarr.errors import ArgumentError, RecordingNotFoundError

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["as_frame", "prepare_rows"]

#: Columns of rows given in seconds instead of start and stop.
SECONDS = ("begin_s", "end_s")


def as_frame(data: Any) -> pd.DataFrame:
    """``data`` (a DataFrame, a list of row dicts, or a dict of columns) as a new DataFrame."""
    if isinstance(data, pd.DataFrame):
        return data.copy()
    if isinstance(data, (Mapping, Sequence)) and not isinstance(data, (str, bytes)):
        try:
            return pd.DataFrame(data)
        except (ValueError, TypeError) as exc:
            raise ArgumentError(
                f"annotations must be a DataFrame, row dicts or a dict of columns: {exc}"
            ) from None
    raise ArgumentError(
        f"annotations must be a DataFrame, row dicts or a dict of columns, not {type(data).__name__}"
    )


def _integers(values: pd.Series, column: str, names: Sequence[str]) -> np.ndarray:
    """``values`` as int64, or ArgumentError naming the first row that is not a whole number."""
    if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
        return values.to_numpy(dtype=np.int64)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers)) | (np.abs(numbers) >= 2**53)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ArgumentError(f"{names[i]}: {column} must be a whole number, not {values.iloc[i]!r}")
    return numbers.astype(np.int64)


def _labels(values: pd.Series, names: Sequence[str], facts: Sequence[RecordingFacts]) -> list[str]:
    labels = values.tolist()
    for label, name, rec in zip(labels, names, facts, strict=True):
        if not isinstance(label, str) or not label:
            raise ArgumentError(
                f"{name} (recording {rec.id}): the label must be a non-empty string, not {label!r}"
            )
        if any(c in label for c in "\t\r\n"):
            raise ArgumentError(
                f"{name} (recording {rec.id}): the label {label!r} contains a tab or a line break, which no "
                "annotation file format can hold"
            )
    return labels


def _channels(frame: pd.DataFrame, names: Sequence[str], facts: Sequence[RecordingFacts]) -> pd.Series:
    if "channel" not in frame.columns:
        return pd.Series([pd.NA] * len(frame), dtype="Int64")
    values = frame["channel"].reset_index(drop=True)
    given = values.notna().to_numpy()
    channels = np.full(len(values), -1, dtype=np.int64)
    if given.any():
        channels[given] = _integers(
            values[given], "channel", [n for n, g in zip(names, given, strict=True) if g]
        )
    for i in np.flatnonzero(given).tolist():
        if not 0 <= channels[i] < facts[i].channels:
            raise ArgumentError(
                f"{names[i]} (recording {facts[i].id}): channel {channels[i]} does not exist; the recording "
                f"has {facts[i].channels} (0 to {facts[i].channels - 1}; <NA> for all)"
            )
    return pd.Series(channels, dtype="Int64").mask(~given)


def _frequencies(
    frame: pd.DataFrame, names: Sequence[str], facts: Sequence[RecordingFacts]
) -> list[np.ndarray]:
    bounds = []
    for column in ("low_freq", "high_freq"):
        if column not in frame.columns:
            bounds.append(np.full(len(frame), np.nan))
            continue
        raw = frame[column].reset_index(drop=True)
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = (np.isnan(values) & raw.notna().to_numpy()) | np.isinf(values) | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ArgumentError(
                f"{names[i]} (recording {facts[i].id}): {column} must be a frequency >= 0 in Hz or NaN, "
                f"not {raw.iloc[i]!r}"
            )
        bounds.append(values)
    low, high = bounds
    crossed = low > high
    if crossed.any():
        i = int(np.flatnonzero(crossed)[0])
        raise ArgumentError(
            f"{names[i]} (recording {facts[i].id}): low_freq {low[i]} Hz is above high_freq {high[i]} Hz"
        )
    return bounds


def _check_columns(frame: pd.DataFrame, seconds: bool, where: str) -> list[str]:
    """The extra columns of ``frame``, after checking it has what the table needs."""
    needed = ["recording", "label", *(SECONDS if seconds else ("start", "stop"))]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        hint = (
            " (rows in seconds need seconds=True)"
            if not seconds and set(SECONDS) <= set(frame.columns)
            else ""
        )
        raise ArgumentError(f"{where}annotations lack the column(s) {', '.join(missing)}{hint}")
    clash = [c for c in (("start", "stop") if seconds else SECONDS) if c in frame.columns]
    if clash:
        raise ArgumentError(
            f"{where}annotations give both samples (start, stop) and seconds (begin_s, end_s): "
            f"drop {', '.join(clash)}"
        )
    extras = [c for c in frame.columns if c not in CORE and c not in SECONDS]
    for name in extras:
        if not isinstance(name, str) or not name or any(ch in name for ch in "\t\r\n"):
            raise ArgumentError(
                f"{where}extra column name {name!r}: must be a non-empty string without tabs or line breaks"
            )
    return extras


def prepare_rows(
    archive: Archive,
    data: Any,
    *,
    seconds: bool = False,
    out_of_range: str = "error",
    names: Sequence[str] | None = None,
    source: str = "",
) -> pd.DataFrame:
    """New rows checked against ``archive`` and in the table's form (unsorted), ready to be added.

    Parameters
    ----------
    archive : Archive
    data : DataFrame, list of dicts or dict of columns
        Columns ``recording``, ``label`` and ``start``, ``stop`` (samples) or,
        with ``seconds``, ``begin_s``, ``end_s`` (real seconds from the
        recording's start; text at its decimal value); optional ``channel``
        (from 0; missing: all), ``low_freq``, ``high_freq`` (Hz); any other
        column is kept as an extra column.
    seconds : bool
        Whether times are given in seconds (converted by the time rule,
        :func:`wildzarr.annotations.timing.to_samples`).
    out_of_range : {"error", "clip", "drop"}
        What to do with rows outside their recording (:func:`wildzarr.annotations.timing.apply_range`).
    names : sequence of str, optional
        Each row's name for messages (default ``"row <index>"``).
    source : str
        The file the rows come from, for messages.

    Returns
    -------
    pandas.DataFrame
        The rows kept, in the table's columns and dtypes (``wildzarr.annotations.table``).

    Raises
    ------
    ArgumentError
        Naming the row and recording: a missing column, a recording not in
        the archive, a range that ends before it starts, a row outside its
        recording (``out_of_range="error"``), a channel the recording does not
        have, an empty label, a negative frequency.
    """
    where = f"{source}: " if source else ""
    frame = as_frame(data)
    extras = _check_columns(frame, seconds, where)
    given = names if names is not None else [f"row {i}" for i in frame.index]
    names = [f"{where}{n}" for n in given]
    frame = frame.reset_index(drop=True)
    ids = _integers(frame["recording"], "recording", names)
    try:
        known = facts_of(archive, [int(rid) for rid in dict.fromkeys(ids.tolist())])
    except RecordingNotFoundError as exc:
        i = int(np.flatnonzero(ids == exc.recording_id)[0])
        raise ArgumentError(
            f"{names[i]}: no recording {exc.recording_id} in {archive._location.where()}"
        ) from None
    facts = [known[int(rid)] for rid in ids]
    if seconds:
        start, stop = to_samples(frame["begin_s"].tolist(), frame["end_s"].tolist(), facts, names)
    else:
        start, stop = _integers(frame["start"], "start", names), _integers(frame["stop"], "stop", names)
        backwards = np.flatnonzero(stop < start)
        if len(backwards):
            i = int(backwards[0])
            raise ArgumentError(
                f"{names[i]} (recording {facts[i].id}): stop {stop[i]} is before start {start[i]}"
            )
    labels = _labels(frame["label"], names, facts)
    channel = _channels(frame, names, facts)
    low, high = _frequencies(frame, names, facts)
    keep, start, stop = apply_range(start, stop, facts, names, out_of_range, source)
    rows = pd.DataFrame(
        {
            "recording": pd.Series(ids[keep], dtype="int64"),
            "channel": channel[keep].reset_index(drop=True),
            "start": pd.Series(start, dtype="int64"),
            "stop": pd.Series(stop, dtype="int64"),
            "label": pd.Series([label for label, k in zip(labels, keep, strict=True) if k], dtype="str"),
            "low_freq": pd.Series(low[keep], dtype="float64"),
            "high_freq": pd.Series(high[keep], dtype="float64"),
        }
    )
    for name in extras:
        rows[name] = normalize_extra(frame[name][keep].reset_index(drop=True))
    return rows
