"""An annotation set: a named table of annotations of an archive's recordings, shared by many writers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from wildzarr.annotations.audacity import audacity_rows, write_audacity
from wildzarr.annotations.dasfiles import das_rows, write_das
from wildzarr.annotations.matching import RecordingChoice
from wildzarr.annotations.prepare import prepare_rows
from wildzarr.annotations.raven import raven_rows, write_raven
from wildzarr.annotations.recordings import facts_of
from wildzarr.annotations.store import SetStore, State, check_set_name
from wildzarr.annotations.table import (
    check_declarations,
    check_kinds,
    classes_of,
    combine,
    empty_reviewed,
    empty_table,
    merge_reviewed,
    remove_rows,
    sort_table,
)
from wildzarr.errors import ArgumentError

if TYPE_CHECKING:
    from wildzarr.archive import Archive
    from wildzarr.location import Location

__all__ = ["AnnotationSet"]

#: What :meth:`AnnotationSet.remove` takes: a function of the table, rows, a mask, or recording ids.
Selection = (
    Callable[[pd.DataFrame], Any]
    | pd.DataFrame
    | Sequence[bool]
    | np.ndarray
    | pd.Series
    | int
    | Iterable[int]
)


def _reopen(location: Location, name: str) -> AnnotationSet:
    """Unpickle an :class:`AnnotationSet` (its archive reopened from the location)."""
    from wildzarr.archive import Archive

    return AnnotationSet(Archive(location), name)


class AnnotationSet:
    """A named set of annotations of an archive's recordings (``docs/annotations.md``).

    Get one with :func:`wildzarr.annotations.open_set` (or ``archive.annotations(name)``).
    Every read sees the set as stored now; every change is atomic and safe
    with other threads and processes changing the same set (on a local folder
    or S3): it is applied to the set as it is when the change lands, never to
    a stale copy, so no change is lost. A set is created by its first change;
    until then (and in a read-only archive) it reads as empty. Changes check
    their rows against the archive first: on any error nothing is written.
    The set pickles as its archive's location and its name.

    Attributes
    ----------
    name : str
    archive : Archive
    """

    def __init__(self, archive: Archive, name: str) -> None:
        self.name: str = check_set_name(name)
        self.archive: Archive = archive
        self._store = SetStore(archive._location, self.name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen, (self.archive._location, self.name))

    def __repr__(self) -> str:
        return f"<AnnotationSet {self.name!r} of {self.archive._location.where()}>"

    # -- reading -----------------------------------------------------------------------

    def _state(self) -> State:
        return self._store.read()[1]

    @property
    def df(self) -> pd.DataFrame:
        """The annotations (a copy): one row per annotation, in samples.

        Columns ``recording`` (int64), ``channel`` (Int64, ``<NA>`` for all
        channels), ``start``, ``stop`` (int64 samples ``[start, stop)``; an event
        has ``start == stop``), ``label`` (str), ``low_freq``, ``high_freq``
        (float64 Hz, NaN when absent), then any extra columns. Ordered by
        recording, start, stop, label; RangeIndex.

        Raises
        ------
        DamagedAnnotationsError
            If the stored set is unreadable.
        """
        return self._state().table.copy()

    def __len__(self) -> int:
        """Number of annotations."""
        return len(self._state().table)

    @property
    def classes(self) -> dict[str, str]:
        """Every class, sorted: label -> ``"segment"`` or ``"event"``.

        The labels used (their kind declared, else ``"event"`` when all their
        rows are instants) and the classes declared without annotations.
        """
        state = self._state()
        return classes_of(state.table, state.classes)

    @property
    def reviewed(self) -> pd.DataFrame:
        """The extents fully annotated: columns recording, start, stop (int64 samples), disjoint and sorted.

        Audio inside them that no annotation covers is a true negative.
        """
        return self._state().reviewed.copy()

    # -- changing ------------------------------------------------------------------------

    def _extend(self, rows: pd.DataFrame, classes: Mapping[str, str], action: str) -> pd.DataFrame:
        def change(state: State) -> State:
            declared = {**state.classes, **classes}
            table = combine(state.table, rows)
            check_kinds(table, declared, f"annotation set {self.name!r}: ")
            return state.with_(table=table, classes=declared)

        self._store.update(change, action)
        return sort_table(rows)

    def add(self, data: Any, *, seconds: bool = False, out_of_range: str = "error") -> pd.DataFrame:
        """Add annotations.

        Parameters
        ----------
        data : DataFrame, list of row dicts or dict of columns
            Columns ``recording`` (id), ``label`` (non-empty text without tabs or
            line breaks) and ``start``, ``stop`` (samples, ``0 <= start <= stop
            <= samples``; an event has ``start == stop < samples``), or with
            ``seconds=True`` ``begin_s``, ``end_s`` (real seconds from the
            recording's first sample, converted by the time rule:
            ``[floor(begin * rate), ceil(end * rate))``, an event ``floor(begin *
            rate)``, ``rate = samplerate * time_expansion``). Optional:
            ``channel`` (from 0; missing or ``<NA>``: all channels),
            ``low_freq``, ``high_freq`` (Hz). Any other column is kept as an
            extra column (int64, float64, bool, or text).
        seconds : bool
            Whether times are given in seconds.
        out_of_range : {"error", "clip", "drop"}
            Rows not inside their recording: raise (default), cut segments to
            it (dropping what lies wholly outside), or drop them; clipping and
            dropping issue an :class:`~wildzarr.annotations.AnnotationWarning`.

        Returns
        -------
        pandas.DataFrame
            The rows added, in the table's form.

        Raises
        ------
        ArgumentError
            Naming the row and recording, for any row that fails a check
            (nothing is added then), or a row of a class declared an event
            that has an extent.
        ReadOnlyError
            If the archive is read-only.
        """
        rows = prepare_rows(self.archive, data, seconds=seconds, out_of_range=out_of_range)
        return self._extend(rows, {}, "add annotations")

    def replace(self, data: Any, *, seconds: bool = False, out_of_range: str = "error") -> None:
        """Replace every annotation by ``data`` (as in :meth:`add`); classes and reviewed extents stay."""
        rows = sort_table(prepare_rows(self.archive, data, seconds=seconds, out_of_range=out_of_range))

        def change(state: State) -> State:
            check_kinds(rows, state.classes, f"annotation set {self.name!r}: ")
            return state.with_(table=rows)

        self._store.update(change, "replace the annotations")

    def remove(self, where: Selection) -> int:
        """Remove annotations; return how many were removed.

        Parameters
        ----------
        where : callable, DataFrame, boolean mask, int or iterable of int
            - a function of the table returning a boolean mask, e.g.
              ``lambda df: df.label == "noise"``: applied to the set as it is
              when the change lands (the safe choice with other writers);
            - rows (e.g. ``ann.df[ann.df.label == "noise"]``): each removes one
              equal row, if it is still there;
            - a boolean mask of ``len(ann)``: the rows of ``ann.df`` it selects, now;
            - recording ids: every annotation of these recordings.
        """

        ids: list[int] = []
        if isinstance(where, (int, np.integer)):
            ids = [int(where)]
        elif not callable(where) and not isinstance(where, pd.DataFrame):
            values = list(where)
            if _is_mask(values):
                current = self.df
                mask = np.asarray(values, dtype=bool)
                if mask.shape != (len(current),):
                    raise ArgumentError(f"remove: a mask of {mask.shape} values for {len(current)} rows")
                where = current[mask]
            else:
                ids = [int(i) for i in values]

        def change(state: State) -> State | None:
            table = state.table
            if callable(where):
                mask = np.asarray(where(table), dtype=bool)
                if mask.shape != (len(table),):
                    raise ArgumentError(
                        f"remove: the function returned {mask.shape} values for {len(table)} rows"
                    )
                kept = table[~mask].reset_index(drop=True)
            elif isinstance(where, pd.DataFrame):
                kept, _ = remove_rows(table, where)
            else:
                kept = table[~table["recording"].isin(ids)].reset_index(drop=True)
            removed.append(len(table) - len(kept))
            return state.with_(table=kept) if len(kept) != len(table) else None

        removed: list[int] = []
        self._store.update(change, "remove annotations")
        return removed[-1] if removed else 0

    def declare(self, classes: Mapping[str, str]) -> None:
        """Declare classes and their kind (label -> ``"segment"`` or ``"event"``), annotated or not.

        Raises ArgumentError for another kind, an empty label, or an event
        class that has annotations with an extent.
        """
        checked = check_declarations(classes)

        def change(state: State) -> State:
            declared = {**state.classes, **checked}
            check_kinds(state.table, declared, f"annotation set {self.name!r}: ")
            return state.with_(classes=declared)

        self._store.update(change, "declare classes")

    def mark_reviewed(self, recording: int, start: int | None = None, stop: int | None = None) -> None:
        """Record that ``[start, stop)`` of ``recording`` (default: all of it) is fully annotated.

        Raises
        ------
        RecordingNotFoundError
            If the recording is not in the archive.
        ArgumentError
            Unless ``0 <= start < stop <= samples``.
        """
        rec = facts_of(self.archive, [int(recording)])[int(recording)]
        first = 0 if start is None else int(start)
        last = rec.samples if stop is None else int(stop)
        if not 0 <= first < last <= rec.samples:
            raise ArgumentError(
                f"recording {rec.id}: reviewed range [{first}, {last}) is not within [0, {rec.samples}) "
                "or is empty"
            )
        extent = pd.DataFrame({"recording": [rec.id], "start": [first], "stop": [last]}, dtype="int64")
        self._store.update(
            lambda state: state.with_(reviewed=merge_reviewed(state.reviewed, extent)),
            "mark a range reviewed",
        )

    def clear(self) -> None:
        """Remove every annotation, declared class and reviewed extent (the set itself stays)."""
        self._store.update(
            lambda state: State(state.version, empty_table(), empty_reviewed(), {}), "clear the set"
        )

    # -- files ---------------------------------------------------------------------------

    def _import(
        self, rows: pd.DataFrame, names: list[str], out_of_range: str, classes: Mapping[str, str]
    ) -> pd.DataFrame:
        prepared = prepare_rows(self.archive, rows, seconds=True, out_of_range=out_of_range, names=names)
        return self._extend(prepared, classes, "import annotations")

    def read_raven(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        recording: RecordingChoice = None,
        *,
        label_column: str | None = None,
        label: str | None = None,
        channel_base: int = 1,
        out_of_range: str = "error",
    ) -> pd.DataFrame:
        """Import Raven Pro selection tables (:mod:`wildzarr.annotations.raven`); return the rows added.

        Parameters
        ----------
        paths : path or sequence of paths
            Selection tables (``.txt``), single- or multi-file. All are read
            and checked before anything is added.
        recording : int, callable or None
            The recording (id), a function of the file name, or None to match
            ``Begin File`` (multi-file tables), ``Begin Path``, else the
            table's own name (``<sound>.Table.1.selections.txt``) to the
            recordings' original file names (:mod:`wildzarr.annotations.matching`).
        label_column : str, optional
            The column holding the labels (default: the first annotation column).
        label : str, optional
            The label of every selection of a table without annotation columns.
        channel_base : int
            The number of the first channel in the table (Raven: 1).
        out_of_range : {"error", "clip", "drop"}
            As in :meth:`add`.
        """
        rows, names = raven_rows(
            self.archive, paths, recording, label_column=label_column, label=label, channel_base=channel_base
        )
        return self._import(rows, names, out_of_range, {})

    def write_raven(
        self,
        path: str | os.PathLike[str],
        recordings: Iterable[int] | None = None,
        *,
        label_column: str = "Annotation",
    ) -> None:
        """Write a Raven selection table of ``recordings`` (default: every recording annotated in the set).

        One recording makes a single-file table, several a multi-file table
        (:func:`wildzarr.annotations.raven.write_raven`).
        """
        table = self.df
        ids = sorted(set(table["recording"].tolist())) if recordings is None else list(recordings)
        write_raven(self.archive, table, path, ids, label_column=label_column)

    def read_das(
        self,
        path: str | os.PathLike[str],
        recording: RecordingChoice = None,
        *,
        definitions: str | os.PathLike[str] | None = None,
        out_of_range: str = "error",
    ) -> pd.DataFrame:
        """Import a DAS ``*_annotations.csv`` file and its definitions (:mod:`wildzarr.annotations.dasfiles`).

        Classes of the NaN rows and of the definitions file are declared with
        their kind. Returns the rows added.
        """
        rows, names, classes = das_rows(self.archive, path, recording, definitions)
        return self._import(rows, names, out_of_range, classes)

    def write_das(self, path: str | os.PathLike[str], recording: int) -> None:
        """Write ``recording``'s annotations as ``<name>_annotations.csv`` and the set's classes as
        ``<name>_definitions.csv`` (:func:`wildzarr.annotations.dasfiles.write_das`)."""
        state = self._state()
        write_das(self.archive, state.table, state.classes, path, recording)

    def read_audacity(
        self, path: str | os.PathLike[str], recording: RecordingChoice = None, *, out_of_range: str = "error"
    ) -> pd.DataFrame:
        """Import an Audacity label file (:mod:`wildzarr.annotations.audacity`); return the rows added."""
        rows, names = audacity_rows(self.archive, path, recording)
        return self._import(rows, names, out_of_range, {})

    def write_audacity(self, path: str | os.PathLike[str], recording: int) -> None:
        """Write ``recording``'s annotations as an Audacity label file (with frequency lines)."""
        write_audacity(self.archive, self.df, path, recording)


def _is_mask(where: Any) -> bool:
    values = np.asarray(where)
    return values.dtype == bool and values.ndim == 1
