"""Recordings on the clock: their stored time, and ranges given in seconds or UTC times turned into samples.

The conversions follow :mod:`wildzarr.timebase`; this module applies them to
one recording (its sample rate, time expansion and start time) and checks
what the caller gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from wildzarr import timebase
from wildzarr.catalog import query_ids
from wildzarr.errors import ArgumentError, RangeError
from wildzarr.layout import RecordingAttrs
from wildzarr.metadata import RecordingTime

if TYPE_CHECKING:
    from wildzarr.archive import Archive
    from wildzarr.recording import Recording

__all__ = ["TimeSlice", "locate", "read_time", "resolve_range", "stored_time"]


def stored_time(attrs: RecordingAttrs) -> RecordingTime:
    """The recording's time as stored; for documents written before times were kept, from its file metadata.

    Such older documents get what :func:`wildzarr.starttime.find_start_time`
    finds without a declared time zone (a local time without a zone stays unknown).
    """
    if attrs.time is not None:
        return attrs.time
    from wildzarr.starttime import find_start_time

    assert attrs.info is not None
    return find_start_time(attrs.file_meta, attrs.info.source.name)


def locate(rec: Recording, time: Any, side: timebase.Side) -> int:
    """The sample index of UTC ``time`` in ``rec`` (``side``: floor or ceil), within ``[0, samples]``.

    Raises ArgumentError if ``rec`` has no start time or ``time`` has no zone,
    RangeError if ``time`` lies outside the recording.
    """
    start = rec.start_time
    if start is None:
        raise ArgumentError(
            f"recording {rec.id} has no start time; set one with rec.set_start_time(...) "
            "or import with time_zone= / filename_time="
        )
    index = timebase.utc_offset_samples(
        time, start, rec.samplerate, time_expansion=rec.time_expansion, side=side
    )
    if not 0 <= index <= rec.samples:
        raise RangeError(
            f"recording {rec.id}: {timebase.to_utc(time)} lies outside it "
            f"({start} to {rec.stop_time}, samples [0, {rec.samples}))"
        )
    return index


def resolve_range(
    rec: Recording,
    start: Any,
    stop: Any,
    start_s: Any,
    stop_s: Any,
    start_time: Any,
    stop_time: Any,
) -> tuple[int, int]:
    """``[start, stop)`` in samples from one of the three forms of :meth:`Recording.read` (unchecked range).

    Raises ArgumentError when forms are mixed or a value is of the wrong kind.
    """
    forms = [
        name
        for name, given in (
            ("samples", start is not None or stop is not None),
            ("seconds", start_s is not None or stop_s is not None),
            ("times", start_time is not None or stop_time is not None),
        )
        if given
    ]
    if len(forms) > 1:
        raise ArgumentError(f"recording {rec.id}: give the range in one form, not in {' and '.join(forms)}")
    if forms == ["seconds"]:
        rate, te = rec.samplerate, rec.time_expansion
        try:
            first = 0 if start_s is None else timebase.sample_index(start_s, rate, time_expansion=te)
            last = (
                rec.samples
                if stop_s is None
                else timebase.sample_index(stop_s, rate, time_expansion=te, side="stop")
            )
        except ArgumentError as exc:
            raise ArgumentError(f"recording {rec.id}: start_s/stop_s: {exc}") from None
        return first, last
    if forms == ["times"]:
        first = 0 if start_time is None else locate(rec, start_time, "start")
        last = rec.samples if stop_time is None else locate(rec, stop_time, "stop")
        return first, last
    first = 0 if start is None else rec.check_index(start, "start")
    last = rec.samples if stop is None else rec.check_index(stop, "stop")
    return first, last


@dataclass(frozen=True, eq=False)
class TimeSlice:
    """The samples of one recording that overlap a time range (:meth:`wildzarr.Archive.read_time`).

    Attributes
    ----------
    recording : int
        The recording's id.
    start, stop : int
        The sample range read, ``[start, stop)`` of the recording.
    time : pandas.Timestamp
        UTC time of sample ``start``.
    offset_s : float
        Seconds from the range's beginning to ``time`` (negative by less than
        one sample when the range begins inside sample ``start``).
    samples : numpy.ndarray
        Shape ``(stop - start, channels)``, as :meth:`Recording.read` returns.
    """

    recording: int
    start: int
    stop: int
    time: pd.Timestamp
    offset_s: float
    samples: np.ndarray


def read_time(
    archive: Archive,
    begin: Any,
    end: Any,
    *,
    where: str | None = None,
    channels: int | Sequence[int] | None = None,
    dtype: npt.DTypeLike | None = None,
) -> list[TimeSlice]:
    """The samples of every recording overlapping UTC ``[begin, end)`` (:meth:`Archive.read_time`)."""
    t0, t1 = timebase.to_utc(begin, "begin"), timebase.to_utc(end, "end")
    if t1 < t0:
        raise ArgumentError(f"the time range ends ({t1}) before it begins ({t0})")
    catalog = archive.catalog()
    if where is not None:
        catalog = catalog.loc[query_ids(catalog, where)]
    timed = catalog[catalog["start_time"].notna()]
    overlapping = timed[(timed["start_time"] < t1) & (timed["stop_time"] > t0)]
    overlapping = overlapping.sort_values(["start_time"], kind="stable")
    ranges: list[tuple[int, int, int, pd.Timestamp]] = []
    for rid, row in zip(overlapping.index.tolist(), overlapping.to_dict("records"), strict=True):
        start, rate, te, samples = (
            row["start_time"],
            int(row["samplerate"]),
            float(row["time_expansion"]),
            int(row["samples"]),
        )
        first = timebase.utc_offset_samples(t0, start, rate, time_expansion=te, side="start")
        last = timebase.utc_offset_samples(t1, start, rate, time_expansion=te, side="stop")
        first, last = max(first, 0), min(last, samples)
        if first < last:
            at = start + pd.Timedelta(seconds=timebase.seconds_at(first, rate, te))
            ranges.append((int(rid), first, last, at))
    results = archive.read_many([(rid, first, last, channels) for rid, first, last, _ in ranges], dtype=dtype)
    return [
        TimeSlice(rid, first, last, at, (at - t0).total_seconds(), samples)
        for (rid, first, last, at), samples in zip(ranges, results, strict=True)
    ]
