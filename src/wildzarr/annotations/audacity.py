"""Audacity label tracks: read into annotation rows, write from a set.

A label track exported as text (Audacity Manual, "Importing and Exporting
Labels") is UTF-8 text with one line per label, tab-separated: start seconds,
end seconds (equal for a point label) and the label's text. In the extended
format each label line is followed by a frequency line ``\\``, low frequency,
high frequency (Hz), where ``-1`` means undefined. A track belongs to one
recording; there are no channels or other columns.

:func:`write_audacity` writes the same form: times with at least 6 decimals
(:func:`wildzarr.annotations.timing.seconds_text`: exact round trips), a
frequency line after every label that has a frequency bound (``-1.000000``
for the missing one).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from wildzarr.annotations.files import read_csv
from wildzarr.annotations.matching import RecordingChoice, match_files
from wildzarr.annotations.recordings import facts_of
from wildzarr.errors import ArgumentError, StorageError
from wildzarr.timebase import decimals_for, seconds_text

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["audacity_rows", "write_audacity"]

_FREQUENCY_LINE = "\\"


def _frequency(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ArgumentError(f"{name}: frequency {text!r} is not a number") from None
    return math.nan if value < 0 else value  # Audacity writes -1 for an undefined bound


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError as exc:
        raise StorageError(f"{path}: cannot read it: {exc.strerror or exc}", str(path)) from None


def audacity_rows(
    archive: Archive, path: str | os.PathLike[str], recording: RecordingChoice = None
) -> tuple[pd.DataFrame, list[str]]:
    """The labels of an Audacity label file, in seconds, for one recording.

    ``recording=None`` matches the label file's name without its suffix
    (``spinetail.txt`` -> a recording imported from ``spinetail.wav``; see
    :mod:`wildzarr.annotations.matching`).

    Returns
    -------
    (rows, names)
        ``rows``: columns ``recording``, ``begin_s``, ``end_s`` (text),
        ``label``, ``low_freq``, ``high_freq``; ``names``: ``"<file>: label <n>"``.
        Ready for :func:`wildzarr.annotations.prepare.prepare_rows` with ``seconds=True``.

    Raises
    ------
    ArgumentError
        Naming the file: a line of more than three fields, a frequency line
        before any label, a frequency that is not a number, no matching recording.
    """
    path = Path(path)
    columns = ["recording", "begin_s", "end_s", "label", "low_freq", "high_freq"]
    if _is_empty(path):  # a track without labels (pandas refuses a file without columns)
        return pd.DataFrame(columns=columns), []
    lines = read_csv(
        path,
        sep="\t",
        header=None,
        names=["a", "b", "c"],
        dtype=str,
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
    ).fillna("")
    rid = match_files(archive, [path.name], recording, str(path))[path.name]
    records: list[dict[str, object]] = []
    names: list[str] = []
    for first, second, third in lines.itertuples(index=False, name=None):
        if first == _FREQUENCY_LINE:
            if not records:
                raise ArgumentError(f"{path}: a frequency line comes before the first label")
            records[-1]["low_freq"] = _frequency(second, names[-1])
            records[-1]["high_freq"] = _frequency(third, names[-1])
            continue
        names.append(f"{path.name}: label {len(names) + 1}")
        records.append(
            {
                "recording": rid,
                "begin_s": first,
                "end_s": second,
                "label": third,
                "low_freq": math.nan,
                "high_freq": math.nan,
            }
        )
    return pd.DataFrame(records, columns=columns), names


def _hz(value: float) -> str:
    return "-1.000000" if math.isnan(value) else repr(float(value))


def write_audacity(
    archive: Archive, table: pd.DataFrame, path: str | os.PathLike[str], recording: int
) -> None:
    """Write the labels of ``recording`` as an Audacity label file (module docstring).

    Raises
    ------
    RecordingNotFoundError
        If the recording is not in the archive.
    StorageError
        If the file cannot be written.
    """
    rec = facts_of(archive, [int(recording)])[int(recording)]
    decimals = decimals_for(rec.rate)
    rows = table[table["recording"] == rec.id]
    lines = []
    for start, stop, label, low, high in zip(
        rows["start"].tolist(),
        rows["stop"].tolist(),
        rows["label"].tolist(),
        rows["low_freq"].tolist(),
        rows["high_freq"].tolist(),
        strict=True,
    ):
        begin = seconds_text(start, rec.rate, "start", decimals)
        end = begin if start == stop else seconds_text(stop, rec.rate, "stop", decimals)
        lines.append(f"{begin:f}\t{end:f}\t{label}\n")
        if not (math.isnan(low) and math.isnan(high)):
            lines.append(f"{_FREQUENCY_LINE}\t{_hz(low)}\t{_hz(high)}\n")
    try:
        Path(path).write_text("".join(lines), encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"{Path(path)}: cannot write it: {exc.strerror or exc}", str(path)) from None
