"""DAS annotation files: read into annotation rows and class declarations, write from a set.

DAS (Deep Audio Segmenter, janclemenslab/das; its documentation, "Data
formats") keeps the annotations of one recording in ``<name>_annotations.csv``:
comma-separated, header ``name,start_seconds,stop_seconds``, one row per
annotation, seconds from the recording's start. An event (e.g. a song pulse)
has ``start_seconds == stop_seconds``. Rows with ``start_seconds`` NaN declare a
class that has no annotation: an event when ``stop_seconds`` is NaN too, a
segment otherwise. ``<name>_definitions.csv`` lists every class as
``name,category`` lines, no header, category ``segment`` or ``event``; it
overrides what the rows imply.

This is only the annotation file; training data for DAS is written by
:mod:`wildzarr.das`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from wildzarr.annotations.files import read_csv, write_csv
from wildzarr.annotations.matching import RecordingChoice, match_files
from wildzarr.annotations.recordings import facts_of
from wildzarr.annotations.table import KINDS, classes_of
from wildzarr.errors import ArgumentError
from wildzarr.timebase import decimals_for, seconds_text

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["das_rows", "definitions_path", "write_das"]

ANNOTATIONS, DEFINITIONS = "_annotations.csv", "_definitions.csv"
_COLUMNS = ["name", "start_seconds", "stop_seconds"]
_NAN = ["", "nan", "NaN"]


def definitions_path(path: str | os.PathLike[str]) -> Path:
    """The definitions file beside ``<name>_annotations.csv``: ``<name>_definitions.csv``."""
    path = Path(path)
    if not path.name.endswith(ANNOTATIONS):
        raise ArgumentError(f"{path}: a DAS annotation file is named <name>{ANNOTATIONS}")
    return path.with_name(path.name[: -len(ANNOTATIONS)] + DEFINITIONS)


def _definitions(path: Path) -> dict[str, str]:
    frame = read_csv(path, header=None, names=["name", "category"], dtype=str, keep_default_na=False)
    if len(frame) and tuple(frame.iloc[0]) == ("name", "category"):
        frame = frame.iloc[1:]
    kinds = {}
    for number, (name, category) in enumerate(frame.itertuples(index=False, name=None), start=1):
        if category not in KINDS or not name:
            raise ArgumentError(
                f"{path}: line {number}: need a name and 'segment' or 'event', not {name!r}, {category!r}"
            )
        kinds[name] = category
    return kinds


def das_rows(
    archive: Archive,
    path: str | os.PathLike[str],
    recording: RecordingChoice = None,
    definitions: str | os.PathLike[str] | None = None,
) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """The annotations and class declarations of a DAS annotation file, in seconds.

    ``recording=None`` matches the file's name without ``_annotations.csv``
    (``fly1_annotations.csv`` -> a recording imported from ``fly1.wav``).
    ``definitions=None`` reads ``<name>_definitions.csv`` beside it when it exists.

    Returns
    -------
    (rows, names, classes)
        ``rows``: columns ``recording``, ``begin_s``, ``end_s`` (text),
        ``label``; ``names``: ``"<file>: row <n>"`` (n from 1, after the
        header); ``classes``: label -> kind, from the NaN rows and the definitions.

    Raises
    ------
    ArgumentError
        Naming the file and row: missing columns, a row with a start but no
        stop, an empty name, a definitions line of another category.
    """
    path = Path(path)
    frame = read_csv(
        path,
        dtype=dict.fromkeys(_COLUMNS, str),
        keep_default_na=False,
        na_values={"start_seconds": _NAN, "stop_seconds": _NAN},
    )
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise ArgumentError(f"{path}: not a DAS annotation file: no column {', '.join(missing)}")
    stem = path.name[: -len(ANNOTATIONS)] if path.name.endswith(ANNOTATIONS) else path.stem
    rid = match_files(archive, [stem], recording, str(path))[stem]
    classes: dict[str, str] = {}
    records, names = [], []
    for number, (name, start, stop) in enumerate(frame[_COLUMNS].itertuples(index=False, name=None), start=1):
        where = f"{path.name}: row {number}"
        if not isinstance(name, str) or not name:
            raise ArgumentError(f"{where}: the name is empty")
        if pd.isna(start):
            classes[name] = "event" if pd.isna(stop) else "segment"
            continue
        if pd.isna(stop):
            raise ArgumentError(f"{where}: {name!r} starts at {start} s but has no stop_seconds")
        records.append({"recording": rid, "begin_s": start, "end_s": stop, "label": name})
        names.append(where)
    if definitions is None and path.name.endswith(ANNOTATIONS) and definitions_path(path).exists():
        definitions = definitions_path(path)
    if definitions is not None:
        classes.update(_definitions(Path(definitions)))
    return pd.DataFrame(records, columns=["recording", "begin_s", "end_s", "label"]), names, classes


def write_das(
    archive: Archive,
    table: pd.DataFrame,
    declared: dict[str, str],
    path: str | os.PathLike[str],
    recording: int,
) -> None:
    """Write ``recording``'s annotations as ``<name>_annotations.csv`` and every class of the set as
    ``<name>_definitions.csv`` beside it (module docstring).

    Classes without an annotation in this recording get a NaN row (event:
    both times NaN; segment: start NaN, stop 0, as DAS writes them).

    Raises
    ------
    ArgumentError
        If ``path`` is not named ``<name>_annotations.csv``.
    RecordingNotFoundError
        If the recording is not in the archive.
    StorageError
        If a file cannot be written.
    """
    definitions = definitions_path(path)
    rec = facts_of(archive, [int(recording)])[int(recording)]
    decimals = decimals_for(rec.rate)
    rows = table[table["recording"] == rec.id]
    classes = classes_of(table, declared)
    names, starts, stops = [], [], []
    for start, stop, label in zip(rows["start"], rows["stop"], rows["label"], strict=True):
        first = seconds_text(int(start), rec.rate, "start", decimals)
        names.append(label)
        starts.append(format(first, "f"))
        stops.append(
            format(first if start == stop else seconds_text(int(stop), rec.rate, "stop", decimals), "f")
        )
    for label, kind in classes.items():
        if label not in set(rows["label"]):
            names.append(label)
            starts.append("")
            stops.append("" if kind == "event" else "0")
    write_csv(pd.DataFrame({"name": names, "start_seconds": starts, "stop_seconds": stops}), path)
    write_csv(
        pd.DataFrame({"name": list(classes), "category": list(classes.values())}), definitions, header=False
    )
