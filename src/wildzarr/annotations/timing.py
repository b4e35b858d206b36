"""Annotation times: seconds to samples by the time rule, samples back to seconds text, rows past the end.

- **Seconds to samples** (:func:`to_samples`) follows :mod:`wildzarr.timebase`
  (spec8, "Time rule"): a range ``[begin, end)`` in real seconds becomes
  ``[floor(begin * rate), ceil(end * rate))``, an event (``begin == end``) the
  sample it falls in, ``floor(begin * rate)``, where ``rate = samplerate *
  time_expansion``. Times given as text (the importers read them so) are taken
  at their exact decimal value, floats at their shortest decimal (``repr``).
- **Samples to seconds** (:func:`wildzarr.timebase.seconds_text`) writes the
  decimal that the rule maps back to the same sample (at least 6 places, what
  Raven and Audacity write).
- **Rows outside their recording** (:func:`apply_range`): an error, clipped,
  or dropped, as the caller chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from wildzarr.annotations.errors import warn
from wildzarr.annotations.recordings import RecordingFacts
from wildzarr.errors import ArgumentError
from wildzarr.timebase import decimals_for, exact_seconds, sample_index, seconds_text

__all__ = ["OUT_OF_RANGE", "OutOfRange", "apply_range", "decimals_for", "exact", "seconds_text", "to_samples"]

#: What to do with rows that do not lie inside their recording.
OutOfRange = Literal["error", "clip", "drop"]
OUT_OF_RANGE: tuple[str, ...] = ("error", "clip", "drop")
#: Rows an error message lists by name before it only counts.
_LISTED = 5


def exact(value: Any, what: str) -> Fraction:
    """``value`` as an exact fraction: text at its decimal value, numbers by ``timebase.exact_seconds``.

    Raises ArgumentError for text that is not a decimal number, NaN and infinities.
    """
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ArgumentError(f"{what} {value!r} is not a number") from None
        return exact_seconds(number, what)
    return exact_seconds(value, what)


def to_samples(
    begins: Sequence[Any], ends: Sequence[Any], facts: Sequence[RecordingFacts], names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ranges ``(start, stop)`` of annotations given in real seconds from their recording's start.

    Parameters
    ----------
    begins, ends : sequences of str, int, float, Decimal or Fraction
        Seconds; text at its exact decimal value.
    facts : sequence of RecordingFacts
        Each row's recording (its sample rate and time expansion).
    names : sequence of str
        Each row's name for messages (``"row 3"``, ``"x.txt: selection 12"``).

    Returns
    -------
    (start, stop) : two int64 arrays
        ``[floor(begin * rate), ceil(end * rate))``; an event (``begin == end``)
        gives ``start == stop == floor(begin * rate)``. Not checked against the
        recording's length (see :func:`apply_range`).

    Raises
    ------
    ArgumentError
        Naming the row, for a time that is not a finite number or an end before its begin.
    """
    start = np.empty(len(begins), dtype=np.int64)
    stop = np.empty(len(begins), dtype=np.int64)
    for i, (begin, end, rec, name) in enumerate(zip(begins, ends, facts, names, strict=True)):
        b = exact(begin, f"{name}: begin")
        e = exact(end, f"{name}: end")
        if e < b:
            raise ArgumentError(
                f"{name} (recording {rec.id}): it ends ({float(e)} s) before it begins ({float(b)} s)"
            )
        te = rec.time_expansion
        start[i] = sample_index(b, rec.samplerate, time_expansion=te, side="start")
        stop[i] = start[i] if e == b else sample_index(e, rec.samplerate, time_expansion=te, side="stop")
    return start, stop


def _describe(name: str, rec: RecordingFacts, start: int, stop: int) -> str:
    length = float(Fraction(rec.samples) / rec.rate)
    return (
        f"{name}: samples [{start}, {stop}) of recording {rec.id}, which has {rec.samples} samples "
        f"({length:.6f} s)"
    )


def apply_range(
    start: np.ndarray,
    stop: np.ndarray,
    facts: Sequence[RecordingFacts],
    names: Sequence[str],
    out_of_range: str,
    source: str = "",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decide what happens to rows that do not lie inside their recording.

    A row lies inside when ``0 <= start <= stop <= samples``, and an event
    (``start == stop``) also ``start < samples``: it names the sample it falls in.

    Parameters
    ----------
    start, stop : int64 arrays
        Sample ranges (``start <= stop``).
    facts : sequence of RecordingFacts
        Each row's recording.
    names : sequence of str
        Each row's name for messages.
    out_of_range : {"error", "clip", "drop"}
        ``"error"``: raise if any row is outside, naming how many, the first
        rows and their recording's length. ``"clip"``: segments that overlap
        their recording are cut to it, every other row outside is dropped.
        ``"drop"``: every row not wholly inside is dropped. Clipped and
        dropped rows are reported with one :class:`AnnotationWarning`.
    source : str
        The file the rows come from, for messages.

    Returns
    -------
    (keep, start, stop)
        ``keep``: bool array, the rows kept; ``start``, ``stop``: the kept rows' ranges.
    """
    if out_of_range not in OUT_OF_RANGE:
        raise ArgumentError(f"out_of_range must be one of {', '.join(OUT_OF_RANGE)}, not {out_of_range!r}")
    samples = np.array([rec.samples for rec in facts], dtype=np.int64)
    event = start == stop
    inside = (start >= 0) & (stop <= samples) & (~event | (start < samples))
    outside = np.flatnonzero(~inside)
    if not len(outside):
        return inside, start, stop
    where = f"{source}: " if source else ""
    first = _describe(names[outside[0]], facts[outside[0]], int(start[outside[0]]), int(stop[outside[0]]))
    if out_of_range == "error":
        listed = "; ".join(
            _describe(names[i], facts[i], int(start[i]), int(stop[i])) for i in outside[:_LISTED]
        )
        more = f"; and {len(outside) - _LISTED} more" if len(outside) > _LISTED else ""
        raise ArgumentError(
            f"{where}{len(outside)} of {len(start)} rows lie outside their recording: {listed}{more}. "
            "Pass out_of_range='drop' to leave them out or 'clip' to cut them to the recording"
        )
    if out_of_range == "clip":
        keep = inside | (~event & (stop > 0) & (start < samples))
        clipped = int(np.count_nonzero(keep & ~inside))
        start, stop = np.clip(start, 0, samples), np.clip(stop, 0, samples)
        what = f"clipped {clipped} rows to their recording and dropped {len(outside) - clipped}"
    else:
        keep = inside
        what = f"dropped {len(outside)}"
    warn(f"{where}{what} of {len(start)} rows that lie outside their recording (first: {first})")
    return keep, start[keep], stop[keep]
