"""Clips: tables of sample ranges ``(recording, start, stop)`` of an archive, for training and evaluation.

A :class:`Clips` holds an archive and a pandas DataFrame (docs/clips.md):
``recording`` int64, ``start``, ``stop`` int64 (samples, ``0 <= start < stop
<= samples``), optionally ``channel`` and ``split``, any columns of your own,
then one uint8 column per class after :meth:`Clips.label`. Every method
returns a new object; the logic lives in pure functions over tables
(:func:`wildzarr.windows.windows`, :mod:`wildzarr.labels`, :mod:`wildzarr.splits`).

The constructors live in :mod:`wildzarr.windows` (with the rules for sizes,
hops and jitters in samples and seconds) and are re-exported here:

- :func:`sliding`: windows of one size every ``hop`` over the recordings a
  catalog query selects, optionally only inside reviewed extents;
- :func:`around`: one window centred on each annotation, with random jitter;
- :func:`background`: windows in reviewed audio that no annotation touches.

Seconds follow :mod:`wildzarr.timebase` with each recording's sample rate
and time expansion.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from wildzarr import labels as _labels
from wildzarr import splits as _splits
from wildzarr.cliptable import CLIP_COLUMNS, Annotations, _check_table, _per_rate, _recordings
from wildzarr.cliptable import RECORDING_COLUMNS as RECORDING_COLUMNS
from wildzarr.errors import ArgumentError
from wildzarr.timebase import exact_seconds, sample_index, samples_per_second

if TYPE_CHECKING:
    from wildzarr.archive import Archive
    from wildzarr.windows import around, background, sliding, windows

__all__ = ["Annotations", "Clips", "around", "background", "sliding", "windows"]


# wildzarr.windows imports Clips from this module at its top, so this module re-exports the constructors
# lazily (PEP 562: imported on first use, not at load; the TYPE_CHECKING import gives their types), and
# either module may be imported first without a cycle. Only the constructors of __all__ get this far.
def __getattr__(name: str) -> Any:
    if name in __all__:
        from wildzarr import windows as _windows

        return getattr(_windows, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_RESERVED = (*CLIP_COLUMNS, "channel", "split")
_I64 = np.int64


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
