"""Raven Pro selection tables: read into annotation rows, write from a set.

A selection table (Raven Pro 1.4 User's Manual, chapter 6, "Selection tables";
K. Lisa Yang Center for Conservation Bioacoustics) is tab-separated text, one
header line, one line per selection and view::

    Selection  View  Channel  Begin Time (s)  End Time (s)  Low Freq (Hz)  High Freq (Hz)  [annotations...]

- ``Channel`` counts from 1; times are seconds on the sound's timeline;
  frequencies in Hz. A selection made in several views (``Waveform 1``,
  ``Spectrogram 1``) is listed once per view with the same ``Selection``
  number: one row is kept, the spectrogram's (it carries the frequencies).
- Annotation columns follow the measurements. The label is the column named
  by ``label_column``, else the first column that is not a Raven measurement
  (one of the names Raven writes, or any name ending in a unit in
  parentheses, like ``Delta Time (s)``); other columns become extra columns.
  A table without annotation columns takes its label from ``label=``.
- **Multi-file tables** (a file sequence opened as one sound): ``Begin File``
  names the file a selection begins in and ``File Offset (s)`` where, in
  seconds from that file's start; ``Begin Time (s)`` and ``End Time (s)`` are
  on the joined timeline of all files. A selection becomes the range
  ``[File Offset, File Offset + (End Time - Begin Time))`` of the recording
  imported from ``Begin File``. A selection that runs past the end of its file
  into the next one is **clipped** to its file, with an
  :class:`~wildzarr.annotations.errors.AnnotationWarning` counting them (a
  class annotated across a file boundary stays annotated in the first file;
  the second part is not guessed, because the table does not say which file
  follows).

:func:`write_raven` writes what Raven writes: ``Selection`` from 1, ``View``
``Spectrogram 1``, 1-based ``Channel`` (1 for annotations of all channels),
times with at least 6 decimals (:func:`wildzarr.annotations.timing.seconds_text`:
exact round trips), ``Low Freq (Hz)`` and ``High Freq (Hz)`` (0 and the
Nyquist frequency where the annotation has none), then the label column and
the extra columns. Several recordings make one multi-file table, their files
joined in the order given.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from wildzarr.annotations.errors import warn
from wildzarr.annotations.files import check_text_cells, read_csv, write_csv
from wildzarr.annotations.matching import RecordingChoice, base_name, match_files
from wildzarr.annotations.recordings import facts_of
from wildzarr.annotations.table import CORE
from wildzarr.annotations.timing import exact
from wildzarr.errors import ArgumentError
from wildzarr.timebase import decimals_for, seconds_text

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["raven_rows", "write_raven"]

BEGIN, END = "Begin Time (s)", "End Time (s)"
LOW, HIGH = "Low Freq (Hz)", "High Freq (Hz)"
BEGIN_FILE, END_FILE, OFFSET = "Begin File", "End File", "File Offset (s)"
BEGIN_PATH = "Begin Path"
#: Raven measurement and bookkeeping columns: never a label, never an extra column.
_CONSUMED = {
    "Selection",
    "View",
    "Channel",
    BEGIN,
    END,
    LOW,
    HIGH,
    BEGIN_FILE,
    END_FILE,
    OFFSET,
    BEGIN_PATH,
    "End Path",
}
#: Raven measurements without a unit in their name (the others end in one: "Delta Time (s)").
_MEASUREMENTS = {
    "Begin Clock Time",
    "End Clock Time",
    "Begin Date",
    "End Date",
    "Begin Date Time",
    "End Date Time",
}
_UNIT = re.compile(r".+\([^()]*\)")
#: Raven's default name of a table saved for a sound: "<sound>.Table.<n>.selections.txt".
_TABLE_NAME = re.compile(r"(\.Table\.\d+)?(\.selections)?\.txt$", re.IGNORECASE)


def _guess_label(columns: Sequence[str]) -> str | None:
    for name in columns:
        if name not in _CONSUMED and name not in _MEASUREMENTS and not _UNIT.fullmatch(name):
            return name
    return None


def _one_view_per_selection(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per ``Selection``: its spectrogram view's when listed, else its first."""
    if "Selection" not in frame.columns or "View" not in frame.columns:
        return frame
    other_view = ~frame["View"].fillna("").astype(str).str.startswith("Spectrogram")
    ranked = frame.assign(_other=other_view.to_numpy()).sort_values(["Selection", "_other"], kind="stable")
    return ranked.drop_duplicates("Selection").drop(columns="_other").sort_index()


def _read_table(path: Path, label_column: str | None, label: str | None) -> tuple[pd.DataFrame, str | None]:
    header = [str(c) for c in read_csv(path, sep="\t", nrows=0, quoting=csv.QUOTE_NONE).columns]
    missing = [c for c in (BEGIN, END) if c not in header]
    if missing:
        raise ArgumentError(f"{path}: not a Raven selection table: no column {', '.join(map(repr, missing))}")
    if label_column is not None and label_column not in header:
        raise ArgumentError(f"{path}: no column {label_column!r} (the table has {', '.join(header)})")
    chosen = label_column or _guess_label(header)
    if chosen is None and label is None:
        raise ArgumentError(
            f"{path}: the table has no annotation column to take labels from; pass label= (one label for "
            "every selection) or label_column="
        )
    text = [c for c in (BEGIN, END, OFFSET, BEGIN_FILE, END_FILE, BEGIN_PATH, "View", chosen) if c in header]
    frame = read_csv(
        path,
        sep="\t",
        quoting=csv.QUOTE_NONE,
        dtype=dict.fromkeys(text, str),
        keep_default_na=False,
        na_values=[""],
    )
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ") and frame[c].isna().all()]
    return _one_view_per_selection(frame.drop(columns=unnamed)), chosen


def _table_file(frame: pd.DataFrame, path: Path) -> tuple[pd.Series, bool]:
    """The file each row's times refer to, and whether the times are file offsets of a multi-file table."""
    if BEGIN_FILE in frame.columns and OFFSET in frame.columns:
        return frame[BEGIN_FILE].fillna(""), True
    for column in (BEGIN_FILE, BEGIN_PATH):
        if column in frame.columns:
            files = frame[column].fillna("").map(base_name)
            if files.nunique() > 1:
                raise ArgumentError(
                    f"{path}: selections in several files ({column}) but no {OFFSET!r} column"
                )
            return files, False
    sound = _TABLE_NAME.sub("", path.name)
    return pd.Series([sound] * len(frame), index=frame.index, dtype="str"), False


def _rows_of(
    path: Path, label_column: str | None, label: str | None, channel_base: int
) -> tuple[pd.DataFrame, list[str]]:
    """One table's rows in seconds (columns file, multi, begin_s, end_s, label, channel, freqs, extras)."""
    frame, chosen = _read_table(path, label_column, label)
    if "Selection" in frame.columns:
        names = [f"{path.name}: selection {s}" for s in frame["Selection"].tolist()]
    else:
        names = [f"{path.name}: line {i + 2}" for i in range(len(frame))]
    files, multi = _table_file(frame, path)
    begins = [exact(v, f"{n}: {BEGIN}") for v, n in zip(frame[BEGIN].fillna("").tolist(), names, strict=True)]
    ends = [exact(v, f"{n}: {END}") for v, n in zip(frame[END].fillna("").tolist(), names, strict=True)]
    if multi:
        offsets = [
            exact(v, f"{n}: {OFFSET}") for v, n in zip(frame[OFFSET].fillna("").tolist(), names, strict=True)
        ]
        begins, ends = offsets, [o + (e - b) for o, b, e in zip(offsets, begins, ends, strict=True)]
    rows = pd.DataFrame(
        {
            "file": files.to_numpy(dtype=object),
            "multi": multi,
            "begin_s": pd.Series(begins, dtype=object),
            "end_s": pd.Series(ends, dtype=object),
            "label": frame[chosen].to_numpy(dtype=object) if chosen else [label] * len(frame),
        }
    )
    if "Channel" in frame.columns:
        rows["channel"] = pd.to_numeric(frame["Channel"], errors="coerce").to_numpy() - channel_base
    if END_FILE in frame.columns and multi:
        rows["end_file"] = frame[END_FILE].fillna("").to_numpy(dtype=object)
    for column, name in ((LOW, "low_freq"), (HIGH, "high_freq")):
        if column in frame.columns:
            rows[name] = frame[column].to_numpy()
    for column in frame.columns:
        if column not in _CONSUMED and column != chosen:
            if column in CORE or column in rows.columns:
                raise ArgumentError(f"{path}: column {column!r} would clash with the annotation table's own")
            rows[column] = frame[column].to_numpy()
    return rows, names


def _clip_to_files(rows: pd.DataFrame, archive: Archive, source: str) -> pd.DataFrame:
    """Clip the selections of a multi-file table that run past their file's end into the next file."""
    facts = facts_of(archive, dict.fromkeys(int(r) for r in rows["recording"]))
    end_files = (
        rows["end_file"] if "end_file" in rows.columns else pd.Series([""] * len(rows), index=rows.index)
    )
    ends, clipped = [], 0
    for rid, begin, end, file, end_file in zip(
        rows["recording"], rows["begin_s"], rows["end_s"], rows["file"], end_files, strict=True
    ):
        length = Fraction(facts[int(rid)].samples) / facts[int(rid)].rate
        # A selection that ends in its own file but past its end lies outside the sound: not clipped here.
        own_file = bool(end_file) and base_name(end_file) == base_name(file)
        if begin < length < end and not own_file:
            ends.append(length)
            clipped += 1
        else:
            ends.append(end)
    if clipped:
        warn(
            f"{source}: clipped {clipped} selections that run past the end of their file into the next one "
            "to their file"
        )
    return rows.assign(end_s=pd.Series(ends, dtype=object, index=rows.index))


def raven_rows(
    archive: Archive,
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    recording: RecordingChoice = None,
    *,
    label_column: str | None = None,
    label: str | None = None,
    channel_base: int = 1,
) -> tuple[pd.DataFrame, list[str]]:
    """Rows of Raven selection tables, in seconds, matched to recordings (module docstring).

    Returns
    -------
    (rows, names)
        ``rows``: columns ``recording``, ``begin_s``, ``end_s`` (exact
        fractions), ``label``, and where the table has them ``channel`` (from
        0), ``low_freq``, ``high_freq``, then the extra columns; ``names``: each
        row's name for messages (``"<table>: selection <n>"``). Ready for
        :func:`wildzarr.annotations.prepare.prepare_rows` with ``seconds=True``.

    Raises
    ------
    ArgumentError
        Naming the file: not a selection table, no label column and no
        ``label``, a time that is not a number, a file name that matches no
        recording or several (see :mod:`wildzarr.annotations.matching`).
    """
    tables = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    parts, names = [], []
    for path in tables:
        rows, row_names = _rows_of(path, label_column, label, channel_base)
        ids = match_files(archive, rows["file"].tolist(), recording, str(path))
        rows.insert(0, "recording", rows["file"].map(ids).astype("int64"))
        parts.append(_clip_to_files(rows, archive, str(path)) if rows["multi"].any() else rows)
        names += row_names
    joined = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return joined.drop(columns=[c for c in ("file", "multi", "end_file") if c in joined.columns]), names


def _nyquist(samplerate: int) -> float:
    return samplerate / 2


def write_raven(
    archive: Archive,
    table: pd.DataFrame,
    path: str | os.PathLike[str],
    recordings: Sequence[int],
    *,
    label_column: str = "Annotation",
) -> None:
    """Write the rows of ``recordings`` as a Raven selection table (module docstring).

    Parameters
    ----------
    archive : Archive
    table : pandas.DataFrame
        An annotation table (``AnnotationSet.df``).
    path : str or os.PathLike
        The ``.txt`` file to write (replaced if it exists).
    recordings : sequence of int
        The recordings to write, in this order. One makes a single-file table;
        several a multi-file table (``Begin File``, ``File Offset (s)``, times
        on the files' joined timeline, which starts at 0 s).
    label_column : str
        Name of the label column.

    Raises
    ------
    ArgumentError
        If two of the recordings have the same file name (a multi-file table
        could not tell them apart), the label column's name is a measurement
        or extra column's, or a text holds a tab or line break.
    RecordingNotFoundError
        If a recording is not in the archive.
    """
    ids = list(dict.fromkeys(int(r) for r in recordings))
    facts = facts_of(archive, ids)
    multi = len(ids) > 1
    if multi:
        names: dict[str, int] = {}
        for rid in ids:
            other = names.setdefault(facts[rid].source_name, rid)
            if other != rid:
                raise ArgumentError(
                    f"{path}: recordings {other} and {rid} both come from a file named "
                    f"{facts[rid].source_name!r}; "
                    "a multi-file table cannot tell them apart"
                )
    extras = [str(c) for c in table.columns[len(CORE) :]]
    if label_column in _CONSUMED or label_column in extras:
        raise ArgumentError(f"label_column {label_column!r} is the name of another column of the table")
    decimals = max(decimals_for(facts[rid].rate) for rid in ids) if ids else 6
    order = {rid: i for i, rid in enumerate(ids)}
    rows = table[table["recording"].isin(ids)]
    rows = rows.iloc[np.argsort(rows["recording"].map(order).to_numpy(), kind="stable")].reset_index(
        drop=True
    )
    starts = {}
    position = Fraction(0)
    for rid in ids:  # each file's start on the joined timeline, at the table's precision
        starts[rid] = Decimal(round(position * 10**decimals)).scaleb(-decimals)
        position += Fraction(facts[rid].samples) / facts[rid].rate
    begin, end, offset = [], [], []
    for rid, start, stop in zip(rows["recording"], rows["start"], rows["stop"], strict=True):
        rate = facts[int(rid)].rate
        first = seconds_text(int(start), rate, "start", decimals)
        last = first if start == stop else seconds_text(int(stop), rate, "stop", decimals)
        shift = starts[int(rid)] if multi else Decimal(0)
        begin.append(format(shift + first, "f"))
        end.append(format(shift + last, "f"))
        offset.append(format(first, "f"))
    nyquist = rows["recording"].map(lambda rid: _nyquist(facts[int(rid)].samplerate))
    out: dict[str, Any] = {
        "Selection": np.arange(1, len(rows) + 1),
        "View": ["Spectrogram 1"] * len(rows),
        "Channel": rows["channel"].fillna(0).to_numpy(dtype=np.int64) + 1,
        BEGIN: begin,
        END: end,
        LOW: rows["low_freq"].fillna(0.0).to_numpy(),
        HIGH: rows["high_freq"].fillna(nyquist).to_numpy(),
    }
    if multi:
        out[BEGIN_FILE] = (
            rows["recording"].map(lambda rid: facts[int(rid)].source_name).to_numpy(dtype=object)
        )
        out[OFFSET] = offset
    out[label_column] = rows["label"].to_numpy(dtype=object)
    for name in extras:
        out[name] = rows[name].to_numpy()
    frame = pd.DataFrame(out)
    check_text_cells(frame, path, "\t\r\n")
    write_csv(frame, path, sep="\t", quoting=csv.QUOTE_NONE)
