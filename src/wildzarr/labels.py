"""Labels of clips from annotations, and the interval arithmetic they rest on (pure: no archive, no I/O).

Tables are pandas DataFrames in samples (docs/clips.md):

- clips: ``recording`` int64, ``start``, ``stop`` (``start < stop``), optional ``channel``;
- annotations (the leading columns of ``AnnotationSet.df``): ``recording``, ``channel`` (nullable
  ``Int64``, ``<NA>`` = every channel), ``start``, ``stop`` (``start <= stop``; an **event** has
  ``start == stop``), ``label``;
- intervals (reviewed extents, free audio): ``recording``, ``start``, ``stop``.

The rules, stated once here and in docs/clips.md:

- a **segment** ``[a, b)`` labels a clip ``[s, e)`` of its recording when their overlap
  ``min(b, e) - max(a, s)`` is at least ``max(1, min_overlap)`` samples and at least
  ``min_fraction`` of the segment's ``b - a`` samples (compared exactly);
- an **event** at sample ``t`` labels a clip when ``s <= t < e``;
- **channels**: an annotation on channel ``c`` labels clips of every channel, unless the clip table
  has a ``channel`` column: then only clips of channel ``c`` (and clips whose channel is ``<NA>``);
  an annotation on ``<NA>`` labels every clip.

Every function works on all recordings at once: (recording, sample) pairs are laid out on one int64
line, recordings one after another (:class:`_Line`), so a single sort and ``numpy.searchsorted``
serve every recording, and the pairs of overlapping clips and annotations are expanded in bounded
chunks (:data:`PAIR_CHUNK`), never by a Python loop over rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from wildzarr.errors import ArgumentError
from wildzarr.timebase import exact_seconds

__all__ = [
    "PAIR_CHUNK",
    "clip_masks",
    "inside",
    "masks",
    "merge_intervals",
    "multi_hot",
    "overlap_pairs",
    "subtract_intervals",
]

#: At most this many (clip, annotation) candidate pairs are held in memory at once.
PAIR_CHUNK = 1 << 22

_INTERVAL_COLUMNS = ("recording", "start", "stop")
_I64 = np.int64


def _column(df: pd.DataFrame, name: str, what: str) -> np.ndarray:
    """Column ``name`` of ``df`` as int64 (ArgumentError naming ``what`` if absent, NA or not integral)."""
    if name not in df.columns:
        raise ArgumentError(f"{what} has no column {name!r}")
    values = df[name]
    if values.isna().any():
        raise ArgumentError(f"{what}: column {name!r} has missing values")
    if not pd.api.types.is_integer_dtype(values.dtype):
        raise ArgumentError(f"{what}: column {name!r} must hold integers (samples), not {values.dtype}")
    return values.to_numpy(dtype=_I64)


def _intervals(df: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rec, start, stop = (_column(df, name, what) for name in _INTERVAL_COLUMNS)
    bad = np.flatnonzero(start > stop)
    if len(bad):
        i = int(bad[0])
        raise ArgumentError(f"{what}: row {i} (recording {rec[i]}) has start {start[i]} after stop {stop[i]}")
    return rec, start, stop


class _Line:
    """(recording, sample) pairs mapped onto one int64 line, recordings in id order, order kept within each.

    Recording ``r`` occupies ``[offset_r, offset_r + margin + span_r]``: every
    sample from ``lowest_r - margin`` to ``highest_r + 1`` of it maps inside
    its own block, so a search ``margin`` samples before a recording's first
    position, or one past its last, never reaches another recording.
    """

    def __init__(
        self, recordings: Sequence[np.ndarray], positions: Sequence[np.ndarray], margin: int
    ) -> None:
        """``recordings[i]`` and ``positions[i]``: arrays of equal length, the pairs the line must hold."""
        rec = np.concatenate(recordings)
        pos = np.concatenate(positions)
        self.ids, inverse = np.unique(rec, return_inverse=True)
        low = np.full(len(self.ids), np.iinfo(_I64).max, dtype=_I64)
        high = np.full(len(self.ids), np.iinfo(_I64).min, dtype=_I64)
        np.minimum.at(low, inverse, pos)
        np.maximum.at(high, inverse, pos)
        width = high - low + margin + 2
        offsets = np.cumsum(width) - width
        self._base = offsets + margin - low

    def key(self, rec: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Positions of ``(rec, pos)`` on the line (every ``rec`` must be one the line was built with)."""
        return self._base[np.searchsorted(self.ids, rec)] + pos


def overlap_pairs(
    clip_rec: np.ndarray,
    clip_start: np.ndarray,
    clip_stop: np.ndarray,
    ann_rec: np.ndarray,
    ann_start: np.ndarray,
    ann_stop: np.ndarray,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every (clip, annotation) pair of one recording that touch, in chunks of :data:`PAIR_CHUNK` candidates.

    A segment annotation ``[a, b)`` (``a < b``) and a clip ``[s, e)`` touch
    when they share at least one sample (``s < b`` and ``e > a``); an event
    (``a == b``) when ``s <= a < e``. Clips must be non-empty (``s < e``).

    Parameters
    ----------
    clip_rec, clip_start, clip_stop, ann_rec, ann_start, ann_stop : numpy.ndarray
        int64 arrays (samples).

    Yields
    ------
    clip_index, ann_index : numpy.ndarray
        int64 positions into the clip and annotation arrays, each pair once.
    """
    if len(clip_rec) == 0 or len(ann_rec) == 0:
        return
    longest = int((clip_stop - clip_start).max())
    line = _Line(
        [clip_rec, clip_rec, ann_rec, ann_rec], [clip_start, clip_stop, ann_start, ann_stop], longest
    )
    keys = line.key(clip_rec, clip_start)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    # Clips that may touch annotation j start after a_j - longest and before b_j (an event: at or before a_j).
    first = np.searchsorted(keys, line.key(ann_rec, ann_start) - longest + 1, "left")
    event = (ann_start == ann_stop).astype(_I64)
    last = np.searchsorted(keys, line.key(ann_rec, ann_stop) + event, "left")
    counts = last - first
    ends = np.cumsum(counts)
    begin = 0
    while begin < len(counts):
        stop = max(int(np.searchsorted(ends, ends[begin] - counts[begin] + PAIR_CHUNK, "right")), begin + 1)
        part = counts[begin:stop]
        ann_index = np.repeat(np.arange(begin, stop, dtype=_I64), part)
        within = np.arange(len(ann_index), dtype=_I64) - np.repeat(np.cumsum(part) - part, part)
        clip_index = order[np.repeat(first[begin:stop], part) + within]
        touching = clip_stop[clip_index] > ann_start[ann_index]
        yield clip_index[touching], ann_index[touching]
        begin = stop


def _fraction(value: Any, what: str) -> Fraction:
    fraction = exact_seconds(value, what)
    if not 0 <= fraction <= 1:
        raise ArgumentError(f"{what} must lie in [0, 1], not {value!r}")
    return fraction


def _at_least(part: np.ndarray, whole: np.ndarray, fraction: Fraction) -> np.ndarray:
    """``part >= fraction * whole`` elementwise, exactly (int64 when it cannot overflow, else Python ints)."""
    if fraction == 0:
        return np.ones(len(part), dtype=bool)
    p, q = fraction.numerator, fraction.denominator
    largest = max(int(part.max(initial=0)), int(whole.max(initial=0)))
    if largest * max(p, q) < 2**62:
        return part * q >= whole * p
    return np.asarray(part.astype(object) * q >= whole.astype(object) * p, dtype=bool)


def _per_recording(value: int | pd.Series, rec: np.ndarray, what: str) -> np.ndarray:
    """``value`` for every entry of ``rec``: an int for all, or a Series indexed by recording."""
    if isinstance(value, pd.Series):
        found = value.reindex(pd.Index(np.unique(rec)))
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return np.full(len(rec), int(value), dtype=_I64)
    else:
        raise ArgumentError(f"{what} must be an int or a Series indexed by recording, not {value!r}")
    if found.isna().any():
        missing = [int(r) for r in found.index[found.isna()][:5]]
        raise ArgumentError(f"{what} is not given for recording(s) {missing}")
    return found.reindex(rec).to_numpy(dtype=_I64)


def _channels(clips: pd.DataFrame, ann: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Clip and annotation channels as float64 (NaN: every channel); None if the clips have no channel."""
    if "channel" not in clips.columns:
        return None
    if "channel" not in ann.columns:
        raise ArgumentError("the clip table has a 'channel' column, the annotation table has none")
    return (
        clips["channel"].to_numpy(dtype="float64", na_value=np.nan),
        ann["channel"].to_numpy(dtype="float64", na_value=np.nan),
    )


def _channels_match(channels: tuple[np.ndarray, np.ndarray], ci: np.ndarray, ai: np.ndarray) -> np.ndarray:
    """Pairs allowed by the channel rule: either side on every channel, or the same channel."""
    clip_channel, ann_channel = channels[0][ci], channels[1][ai]
    return np.isnan(clip_channel) | np.isnan(ann_channel) | (clip_channel == ann_channel)


def _class_codes(ann: pd.DataFrame, classes: Sequence[str]) -> np.ndarray:
    """Position of each annotation's label in ``classes`` (-1: not a listed class)."""
    if "label" not in ann.columns:
        raise ArgumentError("the annotation table has no column 'label'")
    if len(set(classes)) != len(classes):
        raise ArgumentError(f"classes must be distinct: {list(classes)}")
    labels = pd.Index(ann["label"].to_numpy(dtype=object))
    return np.asarray(pd.Index(list(classes), dtype=object).get_indexer(labels), dtype=_I64)


def multi_hot(
    clips: pd.DataFrame,
    ann: pd.DataFrame,
    classes: Sequence[str],
    *,
    min_overlap: int | pd.Series = 0,
    min_fraction: float = 0.0,
) -> np.ndarray:
    """Which classes label each clip (module docstring: segment, event and channel rules).

    Parameters
    ----------
    clips : pandas.DataFrame
        ``recording``, ``start``, ``stop`` (int, samples, ``start < stop``), optional ``channel``.
    ann : pandas.DataFrame
        ``recording``, ``channel``, ``start``, ``stop``, ``label`` (``AnnotationSet.df``).
        Annotations whose label is not in ``classes`` are ignored.
    classes : sequence of str
        The label of each output column, in order.
    min_overlap : int, or Series of int indexed by recording
        Least overlap of a segment with a clip, in samples (values below 1 mean 1).
    min_fraction : float
        Least fraction of a segment that must lie inside the clip, in [0, 1], at its decimal value.

    Returns
    -------
    numpy.ndarray
        uint8, shape ``(len(clips), len(classes))``: 1 where the class labels the clip.

    Raises
    ------
    ArgumentError
        For a missing or non-integer column, ``start > stop`` (annotations),
        ``start >= stop`` (clips), ``min_fraction`` outside [0, 1], a
        ``min_overlap`` missing for a recording, repeated classes.
    """
    fraction = _fraction(min_fraction, "min_fraction")
    c_rec, c_start, c_stop = _clip_columns(clips)
    codes = _class_codes(ann, classes)
    a_rec, a_start, a_stop = _intervals(ann, "the annotation table")
    out = np.zeros((len(clips), len(classes)), dtype=np.uint8)
    keep = np.flatnonzero((codes >= 0) & np.isin(a_rec, c_rec))
    least = np.maximum(_per_recording(min_overlap, a_rec[keep], "min_overlap"), 1)
    # Touching pairs overlap by one sample at least: the defaults need no further test.
    any_overlap = fraction == 0 and bool((least == 1).all())
    channels = _channels(clips, ann)
    for ci, k in overlap_pairs(c_rec, c_start, c_stop, a_rec[keep], a_start[keep], a_stop[keep]):
        ai = keep[k]
        if not any_overlap:
            length = a_stop[ai] - a_start[ai]
            overlap = np.minimum(c_stop[ci], a_stop[ai]) - np.maximum(c_start[ci], a_start[ai])
            ok = (length == 0) | ((overlap >= least[k]) & _at_least(overlap, length, fraction))
            ci, ai = ci[ok], ai[ok]
        if channels is not None:
            ok = _channels_match(channels, ci, ai)
            ci, ai = ci[ok], ai[ok]
        out[ci, codes[ai]] = 1
    return out


def _clip_columns(clips: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rec, start, stop = _intervals(clips, "the clip table")
    empty = np.flatnonzero(start == stop)
    if len(empty):
        i = int(empty[0])
        raise ArgumentError(
            f"the clip table: row {i} (recording {rec[i]}) is empty ([{start[i]}, {stop[i]}))"
        )
    return rec, start, stop


def clip_masks(
    clips: pd.DataFrame, ann: pd.DataFrame, classes: Sequence[str], *, event_width: int = 1
) -> np.ndarray:
    """Per-sample masks of equal-size clips, in the layout of DAS's ``y``: noise first, then ``classes``.

    A segment ``[a, b)`` marks its samples; an event at ``t`` marks
    ``event_width`` samples ``[t - event_width // 2, t - event_width // 2 + event_width)``
    (1: its own sample; DAS's ``events_to_probabilities`` marks a box of
    ``extent`` = 61 samples centred the same way, janclemenslab/das
    ``src/das/make_dataset.py``). Column 0, "noise", is 1 where no class is
    marked. Channels follow the module's channel rule.

    Parameters
    ----------
    clips : pandas.DataFrame
        ``recording``, ``start``, ``stop``, all with the same ``stop - start``; optional ``channel``.
    ann : pandas.DataFrame
        ``recording``, ``channel``, ``start``, ``stop``, ``label``; labels not in ``classes`` are ignored.
    classes : sequence of str
    event_width : int
        Samples an event marks, at least 1.

    Returns
    -------
    numpy.ndarray
        uint8, shape ``(len(clips), size, 1 + len(classes))``.

    Raises
    ------
    ArgumentError
        For clips of different sizes, an ``event_width`` below 1, or a bad table (as :func:`multi_hot`).
    """
    if isinstance(event_width, bool) or not isinstance(event_width, (int, np.integer)) or event_width < 1:
        raise ArgumentError(f"event_width must be an int >= 1 (samples), not {event_width!r}")
    c_rec, c_start, c_stop = _clip_columns(clips)
    sizes = np.unique(c_stop - c_start)
    if len(sizes) > 1:
        raise ArgumentError(f"masks need clips of one size; these have sizes {sizes[:5].tolist()}")
    size = int(sizes[0]) if len(sizes) else 0
    codes = _class_codes(ann, classes)
    a_rec, a_start, a_stop = _intervals(ann, "the annotation table")
    keep = np.flatnonzero(codes >= 0)
    a_rec, a_start, a_stop = a_rec[keep], a_start[keep], a_stop[keep]
    events = a_start == a_stop
    a_start = np.where(events, a_start - int(event_width) // 2, a_start)
    a_stop = np.where(events, a_start + int(event_width), a_stop)
    # +1 where a class's marked run starts in a clip, -1 where it ends: the running sum is the count.
    counts = np.zeros((len(clips), size + 1, len(classes)), dtype=np.int32)
    channels = _channels(clips, ann)
    for ci, k in overlap_pairs(c_rec, c_start, c_stop, a_rec, a_start, a_stop):
        if channels is not None:
            ok = _channels_match(channels, ci, keep[k])
            ci, k = ci[ok], k[ok]
        cls = codes[keep[k]]
        np.add.at(counts, (ci, np.maximum(a_start[k], c_start[ci]) - c_start[ci], cls), 1)
        np.add.at(counts, (ci, np.minimum(a_stop[k], c_stop[ci]) - c_start[ci], cls), -1)
    marked = np.cumsum(counts[:, :size], axis=1, dtype=np.int32) > 0
    out = np.empty((len(clips), size, 1 + len(classes)), dtype=np.uint8)
    out[:, :, 1:] = marked
    out[:, :, 0] = ~marked.any(axis=2)
    return out


def masks(
    ann: pd.DataFrame,
    classes: Sequence[str],
    recording: int,
    start: int,
    stop: int,
    *,
    channel: int | None = None,
    event_width: int = 1,
) -> np.ndarray:
    """Per-sample masks of samples ``[start, stop)`` of one recording (the rules of :func:`clip_masks`).

    ``channel``: only annotations on that channel or on ``<NA>`` count (None: all).

    Returns
    -------
    numpy.ndarray
        uint8, shape ``(stop - start, 1 + len(classes))``; column 0 is "noise".

    Raises
    ------
    ArgumentError
        If ``start >= stop`` or as :func:`clip_masks`.
    """
    row = {"recording": [int(recording)], "start": [int(start)], "stop": [int(stop)]}
    if channel is not None:
        row["channel"] = [int(channel)]
    return clip_masks(pd.DataFrame(row), ann, classes, event_width=event_width)[0]


def merge_intervals(intervals: pd.DataFrame) -> pd.DataFrame:
    """The union of ``intervals`` per recording: disjoint, sorted (touching ones joined, empty ones dropped).

    Returns
    -------
    pandas.DataFrame
        ``recording``, ``start``, ``stop`` (int64), sorted, with a RangeIndex.
    """
    rec, start, stop = _intervals(intervals, "the interval table")
    keep = start < stop
    rec, start, stop = rec[keep], start[keep], stop[keep]
    order = np.lexsort((start, rec))
    rec, start, stop = rec[order], start[order], stop[order]
    reach = pd.Series(stop).groupby(rec).cummax().to_numpy(dtype=_I64)
    new = np.ones(len(rec), dtype=bool)
    new[1:] = (rec[1:] != rec[:-1]) | (start[1:] > reach[:-1])
    heads = np.flatnonzero(new)
    tails = np.append(heads[1:], len(rec)) - 1
    return pd.DataFrame({"recording": rec[heads], "start": start[heads], "stop": reach[tails]})


def subtract_intervals(base: pd.DataFrame, cut: pd.DataFrame) -> pd.DataFrame:
    """The samples of ``base`` outside every interval of ``cut``, per recording (empty cuts remove nothing).

    Returns
    -------
    pandas.DataFrame
        ``recording``, ``start``, ``stop`` (int64), disjoint and sorted, with a RangeIndex.
    """
    base = merge_intervals(base)
    cut = merge_intervals(cut)
    b_rec, b_start, b_stop = (base[c].to_numpy(dtype=_I64) for c in _INTERVAL_COLUMNS)
    c_rec, c_start, c_stop = (cut[c].to_numpy(dtype=_I64) for c in _INTERVAL_COLUMNS)
    ours = np.isin(c_rec, b_rec)
    c_rec, c_start, c_stop = c_rec[ours], c_start[ours], c_stop[ours]
    # The complement of a recording's k disjoint cuts within [low, high) is k + 1 gaps:
    # (low, s1), (e1, s2), ..., (ek, high); both ends sorted per recording pair up in order.
    rec = np.concatenate([b_rec, c_rec])
    ids = np.unique(b_rec)
    low = pd.Series(np.concatenate([b_start, c_start])).groupby(rec).min().reindex(ids).to_numpy(dtype=_I64)
    high = pd.Series(np.concatenate([b_stop, c_stop])).groupby(rec).max().reindex(ids).to_numpy(dtype=_I64)
    g_rec = np.concatenate([ids, c_rec])
    g_start = np.concatenate([low, c_stop])
    g_stop = np.concatenate([high, c_start])
    g_start = g_start[np.lexsort((g_start, g_rec))]
    g_stop = g_stop[np.lexsort((g_stop, g_rec))]
    g_rec = np.sort(g_rec)
    gaps = g_start < g_stop
    g_rec, g_start, g_stop = g_rec[gaps], g_start[gaps], g_stop[gaps]
    pieces_b: list[np.ndarray] = []
    pieces_g: list[np.ndarray] = []
    for bi, gi in overlap_pairs(b_rec, b_start, b_stop, g_rec, g_start, g_stop):
        pieces_b.append(bi)
        pieces_g.append(gi)
    bi = np.concatenate(pieces_b) if pieces_b else np.empty(0, dtype=_I64)
    gi = np.concatenate(pieces_g) if pieces_g else np.empty(0, dtype=_I64)
    result = pd.DataFrame(
        {
            "recording": b_rec[bi],
            "start": np.maximum(b_start[bi], g_start[gi]),
            "stop": np.minimum(b_stop[bi], g_stop[gi]),
        }
    )
    return result.sort_values(["recording", "start"], ignore_index=True)


def inside(clips: pd.DataFrame, intervals: pd.DataFrame) -> np.ndarray:
    """Whether each clip lies entirely inside one interval of its recording (after :func:`merge_intervals`).

    Returns
    -------
    numpy.ndarray
        bool, one per clip.
    """
    c_rec, c_start, c_stop = _intervals(clips, "the clip table")
    merged = merge_intervals(intervals)
    i_rec, i_start, i_stop = (merged[c].to_numpy(dtype=_I64) for c in _INTERVAL_COLUMNS)
    if len(merged) == 0 or len(clips) == 0:
        return np.zeros(len(clips), dtype=bool)
    line = _Line([c_rec, c_rec, i_rec, i_rec], [c_start, c_stop, i_start, i_stop], 0)
    j = np.searchsorted(line.key(i_rec, i_start), line.key(c_rec, c_start), "right") - 1
    found = j >= 0
    j = np.maximum(j, 0)
    return found & (i_rec[j] == c_rec) & (i_stop[j] >= c_stop)
