"""Clips: tables of sample ranges ``(recording, start, stop)`` of an archive, for training and evaluation.

A :class:`Clips` holds an archive and a pandas DataFrame (docs/clips.md):
``recording`` int64, ``start``, ``stop`` int64 (samples, ``0 <= start < stop
<= samples``), optionally ``channel`` and ``split``, any columns of your own,
then one uint8 column per class after :meth:`Clips.label`. Every method
returns a new object; the logic lives in pure functions over tables
(:func:`windows` here, :mod:`wildzarr.labels`, :mod:`wildzarr.splits`).

Constructors:

- :func:`sliding`: windows of one size every ``hop`` over the recordings a
  catalog query selects, optionally only inside reviewed extents;
- :func:`around`: one window centred on each annotation, with random jitter;
- :func:`background`: windows in reviewed audio that no annotation touches.

Seconds follow :mod:`wildzarr.timebase` with each recording's sample rate
and time expansion: a size in seconds becomes ``ceil(size_s * rate)`` samples
once per recording (every window of a recording has the same length), window
``k`` starts at ``floor(k * hop_s * rate)`` (exactly, so a grid in seconds
never drifts), a jitter is ``floor(jitter_s * rate)`` samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from wildzarr import labels as _labels
from wildzarr import splits as _splits
from wildzarr.catalog import query_ids
from wildzarr.errors import ArgumentError, RecordingNotFoundError
from wildzarr.timebase import exact_seconds, sample_index, samples_per_second

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["Annotations", "Clips", "around", "background", "sliding", "windows"]

#: Catalog columns a clip table needs of its recordings.
RECORDING_COLUMNS = ("samplerate", "channels", "samples", "time_expansion")

#: Columns of every clip table, in order.
CLIP_COLUMNS = ("recording", "start", "stop")

_RESERVED = (*CLIP_COLUMNS, "channel", "split")
_I64 = np.int64

Partial = Literal["drop", "shift"]


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


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ArgumentError(f"{what} must be an int >= 1 (samples), not {value!r}")
    return int(value)


def _per_rate(recordings: pd.DataFrame, convert: Any) -> np.ndarray:
    """``convert(samplerate, time_expansion)`` per recording, once per distinct rate (object array)."""
    keys = ["samplerate", "time_expansion"]
    codes = recordings.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    pairs = recordings[keys].drop_duplicates()
    values = np.empty(len(pairs), dtype=object)
    values[:] = [convert(int(sr), float(te)) for sr, te in pairs.itertuples(index=False)]
    return values[codes]


def _sizes(recordings: pd.DataFrame, size: Any, size_s: Any, what: str = "size") -> np.ndarray:
    """The window size of each recording in samples: ``size``, or ``ceil(size_s * rate)``."""
    if (size is None) == (size_s is None):
        raise ArgumentError(f"give exactly one of {what} (samples) and {what}_s (seconds)")
    if size is not None:
        return np.full(len(recordings), _count(size, what), dtype=_I64)
    if exact_seconds(size_s, f"{what}_s") <= 0:
        raise ArgumentError(f"{what}_s must be positive, not {size_s!r}")
    sizes = _per_rate(recordings, lambda sr, te: sample_index(size_s, sr, time_expansion=te, side="stop"))
    return sizes.astype(_I64)


def _mul_div(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``floor(a * b / c)`` elementwise for non-negative ints, exactly (Python ints if int64 overflows)."""
    if len(a) == 0:
        return np.zeros(0, dtype=_I64)
    if int(np.max(a)) * max(int(np.max(b)), 1) < 2**62 and int(np.max(c)) < 2**62:
        return np.asarray(a, dtype=_I64) * np.asarray(b, dtype=_I64) // np.asarray(c, dtype=_I64)
    exact = np.asarray(a).astype(object) * np.asarray(b).astype(object) // np.asarray(c).astype(object)
    return np.asarray(exact, dtype=_I64)


def windows(
    recordings: pd.DataFrame,
    size: int | None = None,
    hop: int | None = None,
    *,
    size_s: float | None = None,
    hop_s: float | None = None,
    partial: Partial = "drop",
) -> pd.DataFrame:
    """Sliding windows over whole recordings (pure: the table behind :func:`sliding`).

    Parameters
    ----------
    recordings : pandas.DataFrame
        Index: recording ids; columns ``samples``, ``samplerate``, ``time_expansion`` (catalog columns).
    size, hop : int, optional
        In samples. ``hop`` defaults to the size (windows that touch, no overlap).
    size_s, hop_s : float, optional
        In seconds: ``size = ceil(size_s * rate)`` per recording, window ``k``
        starts at ``floor(k * hop_s * rate)``, ``rate = samplerate * time_expansion``.
    partial : {"drop", "shift"}
        The end of a recording that no whole window reaches: ``"drop"`` leaves
        it out; ``"shift"`` adds one last window ending at the recording's
        last sample (overlapping the one before more than ``hop`` does).
        Recordings shorter than the size have no window either way.

    Returns
    -------
    pandas.DataFrame
        ``recording``, ``start``, ``stop`` (int64), by recording (in the
        table's order) and start, with a RangeIndex.

    Raises
    ------
    ArgumentError
        For a missing, zero or negative size or hop, both forms of one, a hop
        below one sample, or an unknown ``partial``.
    """
    if partial not in ("drop", "shift"):
        raise ArgumentError(f"partial must be 'drop' or 'shift', not {partial!r}")
    sizes = _sizes(recordings, size, size_s)
    if hop is not None and hop_s is not None:
        raise ArgumentError("give at most one of hop (samples) and hop_s (seconds)")
    if hop_s is not None:
        step = exact_seconds(hop_s, "hop_s")
        if step <= 0:
            raise ArgumentError(f"hop_s must be positive, not {hop_s!r}")
        hops = _per_rate(recordings, lambda sr, te: step * samples_per_second(sr, te))
        slow = [h for h in hops if h < 1]
        if slow:
            raise ArgumentError(
                f"hop_s={hop_s!r} is less than one sample ({float(slow[0])!r}) in some recordings"
            )
        num = np.array([h.numerator for h in hops], dtype=object)
        den = np.array([h.denominator for h in hops], dtype=object)
    else:
        num = (
            sizes.astype(object)
            if hop is None
            else np.full(len(recordings), _count(hop, "hop"), dtype=object)
        )
        den = np.ones(len(recordings), dtype=object)
    if len(num) and max(num) < 2**62 and max(den) < 2**62:
        num, den = num.astype(_I64), den.astype(_I64)
    samples = recordings["samples"].to_numpy(dtype=_I64)
    room = samples - sizes  # the last start a whole window can have
    fits = room >= 0
    # Window k fits when floor(k * num / den) <= room, i.e. k < (room + 1) * den / num.
    wide = np.maximum(room, 0).astype(object) + 1
    counts = np.where(fits, -(-wide * den.astype(object) // num.astype(object)), 0)
    counts = counts.astype(_I64)
    last_start = _mul_div(np.maximum(counts - 1, 0), num, den)
    extra = ((partial == "shift") & fits & (last_start < room)).astype(_I64)
    total = counts + extra
    owner = np.repeat(np.arange(len(recordings)), total)
    k = np.arange(len(owner), dtype=_I64) - np.repeat(np.cumsum(total) - total, total)
    starts = _mul_div(k, num[owner], den[owner])
    shifted = k == counts[owner]
    starts[shifted] = room[owner][shifted]
    return pd.DataFrame(
        {
            "recording": recordings.index.to_numpy(dtype=_I64)[owner],
            "start": starts,
            "stop": starts + sizes[owner],
        }
    )


# -- constructors ------------------------------------------------------------------------------


def sliding(
    arc: Archive,
    size: int | None = None,
    hop: int | None = None,
    *,
    size_s: float | None = None,
    hop_s: float | None = None,
    where: str | None = None,
    ids: Iterable[int] | None = None,
    within: Annotations | None = None,
    partial: Partial = "drop",
) -> Clips:
    """Windows of one size every ``hop`` over the selected recordings (``arc.clips``).

    Parameters
    ----------
    arc : Archive
    size, hop, size_s, hop_s, partial
        As :func:`windows`: samples, or seconds converted per recording
        (``ceil`` for the size, once per recording; ``floor(k * hop_s * rate)``
        for window ``k``'s start).
    where : str, optional
        A pandas query on ``arc.catalog()`` (as ``arc.query``) selecting recordings.
    ids : iterable of int, optional
        Recording ids (with ``where``: those of them it selects). Neither: every recording.
    within : annotation set, optional
        Keep only windows lying entirely inside one reviewed extent of
        ``within.reviewed`` (touching extents are joined first). The grid stays
        the recording's own: ``within`` only filters it.

    Returns
    -------
    Clips
        By recording id and start.

    Raises
    ------
    ArgumentError
        As :func:`windows`, or for a query that does not evaluate.
    RecordingNotFoundError
        For an id in ``ids`` that is not in the archive.
    """
    recordings = _recordings(arc, where=where, ids=ids)
    table = windows(recordings, size, hop, size_s=size_s, hop_s=hop_s, partial=partial)
    if within is not None:
        table = table.loc[_labels.inside(table, within.reviewed)].reset_index(drop=True)
    return Clips(arc, table, recordings=recordings)


def _annotation_recordings(arc: Archive, rec: np.ndarray) -> pd.DataFrame:
    return _recordings(arc, ids=np.unique(rec).tolist())


def around(
    arc: Archive,
    ann: Annotations,
    size: int | None = None,
    *,
    size_s: float | None = None,
    jitter_s: float = 0.0,
    seed: int = 0,
    labels: str | Sequence[str] | None = None,
) -> Clips:
    """One window centred on each annotation (segments and events), shifted by a random jitter.

    The centre of a segment ``[a, b)`` is sample ``(a + b) // 2``, of an event
    its sample ``t``; the window ``[c - size // 2, c - size // 2 + size)`` is
    moved by a whole number of samples drawn uniformly from ``[-j, +j]``,
    ``j = floor(jitter_s * rate)``, then shifted (never shrunk) to lie inside
    its recording.

    Parameters
    ----------
    arc : Archive
    ann : annotation set
        Its ``df`` (rows in its order; one window each).
    size, size_s
        Window size in samples, or seconds (``ceil(size_s * rate)`` per recording).
    jitter_s : float
        Largest shift, seconds (0: centred exactly).
    seed : int
        Seed of ``numpy.random.default_rng``: the same arguments give the same windows.
    labels : str or sequence of str, optional
        Only annotations with these labels.

    Returns
    -------
    Clips

    Raises
    ------
    ArgumentError
        For a bad size or jitter, an unknown label, a recording shorter than
        the size, or an annotation whose centre lies outside its recording.
    RecordingNotFoundError
        For an annotation of a recording that is not in the archive.
    """
    df = ann.df
    if labels is not None:
        wanted = [labels] if isinstance(labels, str) else list(labels)
        unknown = sorted(set(wanted) - set(ann.classes))
        if unknown:
            raise ArgumentError(f"labels {unknown} are not classes of the annotation set")
        df = df.loc[df["label"].isin(wanted).to_numpy()]
    if exact_seconds(jitter_s, "jitter_s") < 0:
        raise ArgumentError(f"jitter_s must not be negative, not {jitter_s!r}")
    rec = df["recording"].to_numpy(dtype=_I64)
    start, stop = df["start"].to_numpy(dtype=_I64), df["stop"].to_numpy(dtype=_I64)
    recordings = _annotation_recordings(arc, rec)
    sizes = pd.Series(_sizes(recordings, size, size_s), index=recordings.index)
    jitters = pd.Series(
        _per_rate(recordings, lambda sr, te: sample_index(jitter_s, sr, time_expansion=te)).astype(_I64),
        index=recordings.index,
    )
    samples = recordings["samples"]
    short = recordings.index[(samples < sizes).to_numpy()]
    if len(short):
        r = int(short[0])
        raise ArgumentError(f"recording {r} has {samples[r]} samples, fewer than the clip size {sizes[r]}")
    size_of: np.ndarray = sizes.reindex(rec).to_numpy(dtype=_I64)
    jitter: np.ndarray = jitters.reindex(rec).to_numpy(dtype=_I64)
    length: np.ndarray = samples.reindex(rec).to_numpy(dtype=_I64)
    centre = (start + stop) // 2
    outside = np.flatnonzero((centre < 0) | (centre >= length))
    if len(outside):
        i = int(outside[0])
        raise ArgumentError(
            f"annotation {i} ({df['label'].iloc[i]!r}, recording {rec[i]}, samples [{start[i]}, {stop[i]})) "
            f"has its centre outside the recording's {length[i]} samples"
        )
    shift = np.random.default_rng(seed).integers(-jitter, jitter + 1) if len(rec) else np.zeros(0, _I64)
    first = np.clip(centre - size_of // 2 + shift, 0, length - size_of)
    table = pd.DataFrame({"recording": rec, "start": first, "stop": first + size_of})
    return Clips(arc, table, recordings=recordings)


def background(
    arc: Archive,
    ann: Annotations,
    n: int,
    size: int | None = None,
    *,
    size_s: float | None = None,
    seed: int = 0,
    within_reviewed: bool = True,
) -> Clips:
    """``n`` windows that overlap no annotation, drawn uniformly: true negatives.

    The free audio is the reviewed extents (``ann.reviewed``; with
    ``within_reviewed=False``, every recording of the archive, whole) minus
    every annotation of any label and channel (an event blocks its sample).
    Each distinct window lying entirely in free audio is equally likely, and
    no window is drawn twice (windows may overlap each other).

    Parameters
    ----------
    arc : Archive
    ann : annotation set
    n : int
        Windows to draw (0 or more).
    size, size_s
        Window size in samples, or seconds (``ceil(size_s * rate)`` per recording).
    seed : int
        Seed of ``numpy.random.default_rng``.
    within_reviewed : bool
        Draw only from reviewed audio (the default, where unlabelled audio is known to be negative).

    Returns
    -------
    Clips
        Sorted by recording and start.

    Raises
    ------
    ArgumentError
        If fewer than ``n`` distinct windows fit, or for a bad ``n`` or size.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ArgumentError(f"n must be an int >= 0, not {n!r}")
    if within_reviewed:
        reviewed = ann.reviewed
        recordings = _annotation_recordings(arc, reviewed["recording"].to_numpy(dtype=_I64))
        samples = recordings["samples"].reindex(reviewed["recording"].to_numpy()).to_numpy(dtype=_I64)
        reviewed = pd.DataFrame(
            {
                "recording": reviewed["recording"].to_numpy(dtype=_I64),
                "start": np.clip(reviewed["start"].to_numpy(dtype=_I64), 0, samples),
                "stop": np.clip(reviewed["stop"].to_numpy(dtype=_I64), 0, samples),
            }
        )
    else:
        recordings = _recordings(arc)
        reviewed = pd.DataFrame(
            {"recording": recordings.index.to_numpy(), "start": 0, "stop": recordings["samples"].to_numpy()}
        )
    notes = ann.df
    blocked = pd.DataFrame(
        {
            "recording": notes["recording"].to_numpy(dtype=_I64),
            "start": notes["start"].to_numpy(dtype=_I64),
            "stop": np.maximum(notes["stop"].to_numpy(dtype=_I64), notes["start"].to_numpy(dtype=_I64) + 1),
        }
    )
    free = _labels.subtract_intervals(reviewed, blocked)
    sizes = pd.Series(_sizes(recordings, size, size_s), index=recordings.index)
    rec = free["recording"].to_numpy(dtype=_I64)
    size_of = sizes.reindex(rec).to_numpy(dtype=_I64)
    room = np.maximum(free["stop"].to_numpy(dtype=_I64) - free["start"].to_numpy(dtype=_I64) - size_of + 1, 0)
    total = int(room.sum())
    if total < n:
        raise ArgumentError(f"only {total} distinct windows fit in the free audio, not {n}")
    pick = np.sort(np.random.default_rng(seed).choice(total, size=int(n), replace=False))
    ends = np.cumsum(room)
    which = np.searchsorted(ends, pick, "right")
    first = free["start"].to_numpy(dtype=_I64)[which] + pick - (ends - room)[which]
    table = pd.DataFrame({"recording": rec[which], "start": first, "stop": first + size_of[which]})
    return Clips(arc, table, recordings=recordings)


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


class Clips:
    """A table of clips ``(recording, start, stop)`` of one archive, with labels and splits.

    Build one with :func:`sliding` (``arc.clips``), :func:`around`,
    :func:`background`, or from a DataFrame: ``Clips(arc, df)``. Every method
    returns a new object; ``df`` is a shallow copy (pandas copy-on-write: changing
    it never changes the clips).

    Parameters
    ----------
    archive : Archive
    df : pandas.DataFrame
        ``recording``, ``start``, ``stop`` (ints, ``0 <= start < stop``), any other columns.
    classes : sequence of str
        The uint8 label columns of ``df``, in order.
    recordings : pandas.DataFrame, optional
        Catalog rows of the recordings (:data:`RECORDING_COLUMNS`), when the caller has them.
    split_by, fractions : optional
        The group column and fractions of the ``split`` column (what :meth:`split` records, for
        :meth:`split_summary`).

    Raises
    ------
    ArgumentError
        For a table without the clip columns, non-integer or empty ranges, or missing label columns.
    """

    def __init__(
        self,
        archive: Archive,
        df: pd.DataFrame,
        *,
        classes: Sequence[str] = (),
        recordings: pd.DataFrame | None = None,
        split_by: str | None = None,
        fractions: dict[str, float] | None = None,
    ) -> None:
        self._archive = archive
        self._classes = list(classes)
        self._df = _check_table(df, self._classes)
        self._recordings = recordings
        self._split_by = split_by
        self._fractions = fractions

    def _new(self, df: pd.DataFrame, **changes: Any) -> Clips:
        state: dict[str, Any] = {
            "classes": self._classes,
            "recordings": self._recordings,
            "split_by": self._split_by,
            "fractions": self._fractions,
        }
        state.update(changes)
        return Clips(self._archive, df, **state)

    # -- description -------------------------------------------------------------------

    @property
    def df(self) -> pd.DataFrame:
        """The table: a shallow copy (edit it, then ``Clips(clips.archive, df, classes=clips.classes)``)."""
        return self._df.copy(deep=False)

    @property
    def archive(self) -> Archive:
        """The archive the clips are of."""
        return self._archive

    @property
    def classes(self) -> list[str]:
        """The label columns, in order (empty before :meth:`label`)."""
        return list(self._classes)

    def __len__(self) -> int:
        return len(self._df)

    def __repr__(self) -> str:
        recordings = self._df["recording"].nunique()
        return f"<wildzarr.Clips {len(self)} clips of {recordings} recordings, {len(self._classes)} classes>"

    def __getstate__(self) -> dict[str, Any]:
        """The archive's location and the table (with the classes and split settings): nothing open."""
        return {
            "location": self._archive._location,
            "df": self._df,
            "classes": self._classes,
            "recordings": self._recordings,
            "split_by": self._split_by,
            "fractions": self._fractions,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        from wildzarr.archive import Archive

        self._archive = Archive(state["location"])
        self._df = state["df"]
        self._classes = state["classes"]
        self._recordings = state["recordings"]
        self._split_by = state["split_by"]
        self._fractions = state["fractions"]

    # -- combining and selecting ---------------------------------------------------------

    @staticmethod
    def concat(items: Iterable[Clips]) -> Clips:
        """The rows of every item, in order, as one table (same archive, same classes).

        Raises
        ------
        ArgumentError
            If ``items`` is empty, or the items are of different archives or have different classes
            (label after combining).
        """
        items = list(items)
        if not items or not all(isinstance(c, Clips) for c in items):
            raise ArgumentError("concat needs one or more Clips")
        first = items[0]
        where = first._archive._location.where()
        for other in items[1:]:
            if other._archive._location.where() != where:
                raise ArgumentError(
                    f"cannot combine clips of {other._archive._location.where()} with {where}"
                )
            if other._classes != first._classes:
                raise ArgumentError(
                    f"cannot combine clips labelled with classes {other._classes} and {first._classes}: "
                    "combine first, then label"
                )
        known = [c._recordings for c in items if c._recordings is not None]
        recordings = pd.concat(known)[lambda t: ~t.index.duplicated()] if known else None
        same_split = all((c._split_by, c._fractions) == (first._split_by, first._fractions) for c in items)
        return first._new(
            pd.concat([c._df for c in items], ignore_index=True),
            recordings=recordings,
            split_by=first._split_by if same_split else None,
            fractions=first._fractions if same_split else None,
        )

    def __add__(self, other: Clips) -> Clips:
        """``Clips.concat([self, other])``."""
        if not isinstance(other, Clips):
            return NotImplemented
        return Clips.concat([self, other])

    def _with_catalog(self) -> pd.DataFrame:
        """The table with the catalog's columns of each clip's recording beside it (clip columns win)."""
        catalog = self._archive.catalog()
        extra = catalog.drop(columns=[c for c in catalog.columns if c in self._df.columns])
        return self._df.join(extra, on="recording")

    def where(self, expr: str) -> Clips:
        """The clips for which a pandas query holds, on clip columns and their recordings' catalog columns.

        ``expr`` uses ``DataFrame.query`` syntax (backticks around names such as
        ```guano.Species```), e.g. ``"split == 'train' and site == 'A'"`` or ``"NOCA == 1"``.

        Raises
        ------
        ArgumentError
            If ``expr`` does not evaluate (naming pandas' reason).
        """
        if not isinstance(expr, str) or not expr.strip():
            raise ArgumentError(f"a query must be a non-empty str, not {expr!r}")
        try:
            keep = self._with_catalog().query(expr, engine="python").index
        except Exception as exc:  # pandas raises many types (SyntaxError, UndefinedVariableError...)
            raise ArgumentError(
                f"query {expr!r} does not evaluate on the clips: {type(exc).__name__}: {exc}"
            ) from None
        return self._new(self._df.loc[keep])

    def sample(self, n: int, seed: int = 0) -> Clips:
        """``n`` clips drawn without replacement (``numpy.random.default_rng(seed)``), in their table order.

        Raises ArgumentError if ``n`` is negative or more than ``len(self)``.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= len(self):
            raise ArgumentError(f"n must be an int in [0, {len(self)}], not {n!r}")
        rows = np.sort(np.random.default_rng(seed).choice(len(self), size=int(n), replace=False))
        return self._new(self._df.iloc[rows])

    # -- recordings ------------------------------------------------------------------------

    def _recording_table(self) -> pd.DataFrame:
        """Catalog rows of the clips' recordings (read once per object, then kept: audio never changes)."""
        needed = pd.Index(self._df["recording"].unique())
        if self._recordings is None or len(needed.difference(self._recordings.index)):
            self._recordings = _recordings(self._archive, ids=needed.tolist())
        return self._recordings

    # -- labels and masks ----------------------------------------------------------------

    def label(self, ann: Annotations, min_overlap_s: float = 0.0, min_fraction: float = 0.0) -> Clips:
        """Multi-hot labels: one uint8 column per class of ``ann``, sorted by label (replacing old labels).

        A segment labels a clip when they overlap by at least ``min_overlap_s``
        seconds (``ceil(min_overlap_s * rate)`` samples, at least one) and at
        least ``min_fraction`` of the segment lies inside the clip; an event
        when its sample lies in ``[start, stop)``. An annotation on channel
        ``c`` labels clips of every channel, unless the table has a
        ``channel`` column: then only clips of channel ``c``
        (:mod:`wildzarr.labels`).

        Raises
        ------
        ArgumentError
            If ``min_overlap_s`` is negative, ``min_fraction`` outside [0, 1],
            or a class name is a clip column (``recording``, ``start``, ``stop``,
            ``channel``, ``split``).
        """
        classes = sorted(ann.classes)
        clash = sorted(set(classes) & set(_RESERVED))
        if clash:
            raise ArgumentError(f"classes {clash} have the names of clip columns")
        if exact_seconds(min_overlap_s, "min_overlap_s") < 0:
            raise ArgumentError(f"min_overlap_s must not be negative, not {min_overlap_s!r}")
        recordings = self._recording_table()
        least = _per_rate(
            recordings, lambda sr, te: sample_index(min_overlap_s, sr, time_expansion=te, side="stop")
        )
        hot = _labels.multi_hot(
            self._df,
            ann.df,
            classes,
            min_overlap=pd.Series(least.astype(_I64), index=recordings.index),
            min_fraction=min_fraction,
        )
        table = self._df.drop(columns=[c for c in self._classes + classes if c in self._df.columns])
        table = pd.concat([table, pd.DataFrame(hot, columns=pd.Index(classes))], axis=1)
        return self._new(table, classes=classes)

    def masks(self, ann: Annotations, rows: Any = None, *, event_width: int = 1) -> np.ndarray:
        """Per-sample masks of clips of one size (DAS ``y`` layout; :func:`wildzarr.labels.clip_masks`).

        Parameters
        ----------
        ann : annotation set
            Classes: ``sorted(ann.classes)``.
        rows : int array, slice or None
            Positions of the clips (None: all).
        event_width : int
            Samples an event marks, centred on it (default 1: its own sample).

        Returns
        -------
        numpy.ndarray
            uint8, shape ``(n_clips, size, 1 + n_classes)``; column 0 is "noise".
        """
        return _labels.clip_masks(self._rows(rows), ann.df, sorted(ann.classes), event_width=event_width)

    # -- splits ----------------------------------------------------------------------------

    def _groups(self, by: str) -> np.ndarray:
        """The group value of each clip: a clip column, else its recording's catalog column ``by``."""
        if by in self._df.columns:
            return self._df[by].to_numpy(dtype=object)
        catalog = self._archive.catalog()
        if by not in catalog.columns:
            raise ArgumentError(f"{by!r} is neither a clip column nor a catalog column")
        return catalog[by].reindex(self._df["recording"].to_numpy()).to_numpy(dtype=object)

    def split(self, by: str = "recording", *, fractions: dict[str, float], seed: int = 0) -> Clips:
        """Assign each clip to a split by its group, stable as recordings are added (:mod:`wildzarr.splits`).

        Parameters
        ----------
        by : str
            ``"recording"``, another clip column, or a catalog column (``"site"``, ``"deployment"``...).
        fractions : dict of str -> float
            Split name -> fraction of the groups, summing to 1, cut in this order.
        seed : int

        Returns
        -------
        Clips
            With a str ``split`` column (replacing any earlier one). See
            :meth:`split_summary` for the realised fractions.

        Raises
        ------
        ArgumentError
            For bad fractions, an unknown column, or clips whose group value is missing.
        """
        groups = self._groups(by)
        missing = pd.isna(groups)
        if missing.any():
            recs = sorted(set(self._df["recording"].to_numpy()[missing].tolist()))[:5]
            raise ArgumentError(f"recordings {recs} have no {by!r}: select the others with where() first")
        names = _splits.assign(groups, fractions, seed)
        table = self._df.assign(split=pd.array(names, dtype="str"))
        return self._new(table, split_by=by, fractions=_splits.check_fractions(fractions))

    def split_summary(self, by: str | None = None) -> pd.DataFrame:
        """Clips and groups per split, realised and given fractions (:func:`wildzarr.splits.summary`).

        ``by`` defaults to the column of the last :meth:`split`.
        """
        by = by or self._split_by
        if by is None:
            raise ArgumentError("give by=: these clips were not split by this object")
        return _splits.summary(self._df, self._groups(by), self._fractions if by == self._split_by else None)

    def leaks(self, by: str = "recording") -> pd.DataFrame:
        """Groups of ``by`` (a clip or catalog column) in more than one split (:func:`wildzarr.splits.leaks`).

        Empty after ``split(by=x)`` for the same ``x``.
        """
        return _splits.leaks(self._df, self._groups(by))

    # -- reading ---------------------------------------------------------------------------

    def _rows(self, rows: Any) -> pd.DataFrame:
        if rows is None:
            return self._df
        if isinstance(rows, slice):
            return self._df.iloc[rows]
        positions = np.asarray(rows)
        if positions.ndim != 1 or (len(positions) and positions.dtype.kind not in "iu"):
            raise ArgumentError("rows must be a slice or a 1-D sequence of int positions")
        if len(positions) and (positions.min() < -len(self) or positions.max() >= len(self)):
            raise ArgumentError(f"rows must lie in [-{len(self)}, {len(self)})")
        return self._df.iloc[positions]

    def read(self, i: int, *, dtype: npt.DTypeLike = "float32", channels: Any = None) -> np.ndarray:
        """Clip ``i``'s samples, shape ``(stop - start, n_channels)`` (as :meth:`read_batch`)."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ArgumentError(f"i must be an int position, not {i!r}")
        return self.read_batch([int(i)], dtype=dtype, channels=channels)[0]

    def read_batch(
        self,
        rows: Any = None,
        *,
        dtype: npt.DTypeLike = "float32",
        channels: Any = None,
        out: np.ndarray | None = None,
        workers: Any = None,
    ) -> np.ndarray:
        """The samples of clips of one size, as one array, through ``arc.read_many(..., out=)``.

        Parameters
        ----------
        rows : int array, slice or None
            Positions of the clips (None: all).
        dtype : numpy dtype
            As :meth:`wildzarr.Recording.read`: ``float32`` (default) scales to [-1, 1).
        channels : int, sequence of int or None
            Channels of every clip. None: each clip's ``channel`` column when
            the table has one (shape ``(..., 1)``), else every channel.
        out : numpy.ndarray, optional
            Shape ``(n, size, n_channels)`` of ``dtype``, filled in place.
        workers
            As :meth:`wildzarr.Archive.read_many`.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, size, n_channels)``: row ``j`` is clip ``rows[j]``.

        Raises
        ------
        ArgumentError
            If no clip is selected, the clips differ in size, their recordings differ in
            samples per real second (``samplerate * time_expansion``), or, with
            every channel read, in channel count (give ``channels=``); or as ``read_many``.
        RangeError
            If a clip reaches past its recording's end or a channel does not exist.
        """
        table = self._rows(rows)
        if len(table) == 0:
            raise ArgumentError("no clips selected")
        sizes = np.unique((table["stop"] - table["start"]).to_numpy())
        if len(sizes) > 1:
            raise ArgumentError(
                f"read_batch needs clips of one size; these have {sizes[:5].tolist()}: use read(i)"
            )
        info = self._recording_table().reindex(table["recording"].unique())
        rates = {
            float(samples_per_second(int(sr), float(te)))
            for sr, te in zip(info["samplerate"], info["time_expansion"], strict=True)
        }
        if len(rates) > 1:
            raise ArgumentError(
                f"the clips' recordings have different rates {sorted(rates)} (samples per real second): "
                "select one rate with where('samplerate == ...')"
            )
        per_clip: list[Any]
        if channels is not None:
            per_clip = [channels] * len(table)
            width = len(np.atleast_1d(channels))
        elif "channel" in table.columns:
            per_clip = [[int(c)] for c in table["channel"]]
            width = 1
        else:
            counts = sorted(set(info["channels"].tolist()))
            if len(counts) > 1:
                raise ArgumentError(
                    f"the clips' recordings have {counts} channels: give channels= to read the same of each"
                )
            per_clip = [None] * len(table)
            width = int(counts[0])
        requests = [
            (r, s, e, c)
            for r, s, e, c in zip(
                table["recording"].tolist(),
                table["start"].tolist(),
                table["stop"].tolist(),
                per_clip,
                strict=True,
            )
        ]
        if out is None:
            out = np.empty((len(table), int(sizes[0]), width), dtype=dtype)
        self._archive.read_many(requests, out=out, dtype=dtype, workers=workers)
        return out

    # -- other views -------------------------------------------------------------------------

    def torch(self, **kw: Any) -> Any:
        """A PyTorch map-style dataset: ``wildzarr.torchdata.ClipDataset.from_clips(self, **kw)``."""
        from wildzarr.torchdata import ClipDataset

        return ClipDataset.from_clips(self, **kw)

    def to_das(self, path: Any, ann: Annotations, **kw: Any) -> Any:
        """Write the clips as a DAS dataset: ``wildzarr.das.write_das(self, path, ann, **kw)``."""
        from wildzarr.das import write_das

        return write_das(self, path, ann, **kw)
