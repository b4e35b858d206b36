"""Clip windows: the constructors of clip tables (:class:`wildzarr.clips.Clips`) and the grid behind them.

A **clip window** is a sample range ``[start, stop)`` of one recording, ``0 <=
start < stop <= samples``: one row ``(recording, start, stop)`` of a clip table
(docs/clips.md). A window never reaches past its recording's end: nothing is
padded.

Constructors:

- :func:`sliding`: windows of one size every ``hop`` over the recordings a
  catalog query selects, optionally only inside reviewed extents
  (:func:`windows` is its pure table, usable without an archive);
- :func:`around`: one window centred on each annotation, with random jitter;
- :func:`background`: windows in reviewed audio that no annotation touches.

Sizes and hops are given in samples (ints ``>= 1``; a hop defaults to the
size: windows that touch) or in seconds (``size_s``, ``hop_s``), one form of
each, not both. Seconds follow the time rule of :mod:`wildzarr.timebase` (the
one place it lives) with each recording's sample rate and time expansion,
``rate = samplerate * time_expansion``: a size in seconds becomes
``ceil(size_s * rate)`` samples once per recording (every window of a recording
has the same length), window ``k`` starts at ``floor(k * hop_s * rate)``
(exactly, so a grid in seconds never drifts), a jitter is ``floor(jitter_s *
rate)`` samples. A hop below one sample is an error.

:mod:`wildzarr.clips` re-exports the four functions (``wildzarr.clips.sliding``
is this module's :func:`sliding`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from wildzarr import labels as _labels
from wildzarr.clips import Clips
from wildzarr.cliptable import Annotations, _per_rate, _recordings
from wildzarr.errors import ArgumentError
from wildzarr.timebase import exact_seconds, sample_index, samples_per_second

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["around", "background", "sliding", "windows"]

_I64 = np.int64

Partial = Literal["drop", "shift"]


# -- sizes, hops and the grid ------------------------------------------------------------------


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ArgumentError(f"{what} must be an int >= 1 (samples), not {value!r}")
    return int(value)


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
