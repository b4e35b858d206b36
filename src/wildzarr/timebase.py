"""The one rule between seconds, UTC times and sample indexes.

Every conversion in wildzarr (reads by seconds or by time, annotation import
and export, clips given in seconds) goes through this module, so that a time
always names the same sample:

- **Seconds are real seconds.** A recording made with time expansion (GUANO
  ``TE``, e.g. a bat call recorded at 384 kHz and stored at 38.4 kHz with
  ``TE: 10``) has ``samplerate * time_expansion`` samples per real second;
  ``time_expansion`` is 1 for every other recording (GUANO v1.0, field ``TE``).
- **Seconds are taken at their decimal value**: a float is read as the
  shortest decimal that gives it back (Python's ``repr``: ``0.1`` is 0.1, not
  0.1000000000000000055...), and multiplied by the sample rate exactly
  (:class:`fractions.Fraction`), so ``0.1`` s at 44,100 Hz is sample 4,410
  whichever way it is rounded.
- **A range ``[start_s, stop_s)`` in seconds becomes ``[floor(start_s * rate),
  ceil(stop_s * rate))`` in samples**: the samples that overlap the range,
  every one of them. A single instant (an event, :func:`sample_at`) is the
  sample it falls in: ``floor``.
- **UTC times** are converted to seconds after the recording's start time
  with nanosecond precision (pandas ``Timestamp``), then by the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import pandas as pd

from wildzarr.errors import ArgumentError

__all__ = [
    "Side",
    "decimals_for",
    "exact_seconds",
    "sample_index",
    "sample_indexes",
    "samples_per_second",
    "seconds_at",
    "seconds_text",
    "to_utc",
    "utc_offset_samples",
]

#: ``"start"`` rounds down (floor), ``"stop"`` rounds up (ceil).
Side = Literal["start", "stop"]

_NS = 10**9


def samples_per_second(samplerate: int, time_expansion: float = 1.0) -> Fraction:
    """Samples per real second: ``samplerate * time_expansion``, exactly.

    ``time_expansion`` is read at its decimal value (``10`` or ``0.5``) and must
    be positive and finite.
    """
    te = exact_seconds(time_expansion, "time expansion")
    if te <= 0:
        raise ArgumentError(f"time expansion must be positive, not {time_expansion!r}")
    return Fraction(int(samplerate)) * te


def exact_seconds(value: Any, what: str = "seconds") -> Fraction:
    """``value`` (int, float, Decimal, Fraction, numpy number) exactly, floats at their decimal value.

    Raises ArgumentError for NaN, infinities and non-numbers (``what`` names the argument).
    """
    if isinstance(value, bool):
        raise ArgumentError(f"{what} must be a number, not a bool")
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value))
    if isinstance(value, Fraction):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ArgumentError(f"{what} must be finite, not {value}")
        return Fraction(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            raise ArgumentError(f"{what} must be finite, not {number}")
        return Fraction(Decimal(repr(number)))
    raise ArgumentError(f"{what} must be a number, not {type(value).__name__}")


def _round(value: Fraction, side: Side) -> int:
    if side == "start":
        return math.floor(value)
    if side == "stop":
        return math.ceil(value)
    raise ArgumentError(f"side must be 'start' or 'stop', not {side!r}")


def sample_index(seconds: Any, samplerate: int, *, time_expansion: float = 1.0, side: Side = "start") -> int:
    """The sample index of a time in seconds from the recording's first sample.

    Parameters
    ----------
    seconds : int, float, Decimal or Fraction
        Real seconds (time expansion undone), at their decimal value.
    samplerate : int
        The stored sample rate, Hz.
    time_expansion : float
        GUANO ``TE`` (1: none).
    side : {"start", "stop"}
        ``"start"``: ``floor(seconds * rate)``, the sample the time falls in;
        ``"stop"``: ``ceil(seconds * rate)``, the end of a range that covers it.

    Returns
    -------
    int
        Not clipped to the recording: the caller checks the range.

    Raises
    ------
    ArgumentError
        For NaN, infinities, non-numbers, or a non-positive time expansion.
    """
    return _round(exact_seconds(seconds) * samples_per_second(samplerate, time_expansion), side)


def sample_indexes(
    seconds: Iterable[Any] | np.ndarray, samplerate: int, *, time_expansion: float = 1.0, side: Side = "start"
) -> np.ndarray:
    """:func:`sample_index` of many times: an int64 array of the same length.

    Raises ArgumentError naming the position of the first NaN, infinity or non-number.
    """
    rate = samples_per_second(samplerate, time_expansion)
    values = np.asarray(seconds, dtype=object).ravel()
    out = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        out[i] = _round(exact_seconds(value, f"seconds at position {i}") * rate, side)
    return out


def seconds_at(sample: int | np.ndarray, samplerate: int, time_expansion: float = 1.0) -> Any:
    """Real seconds from the first sample to ``sample`` (float, or a float64 array for an array).

    The nearest float, for arithmetic and plots; **not** an exact inverse of
    :func:`sample_index`: ``1 / 48000`` is ``2.0833333333333333e-05``, whose
    decimal value floors to sample 0. To write a time that reads back as the
    same sample (annotation files, GUANO), use :func:`seconds_text`.
    """
    rate = float(samples_per_second(samplerate, time_expansion))
    if isinstance(sample, np.ndarray):
        return sample.astype(np.float64) / rate
    return int(sample) / rate


def decimals_for(rate: Fraction) -> int:
    """Decimal places that keep the samples of a recording at ``rate`` samples per second apart (>= 6)."""
    decimals = 6
    while 10**decimals < 2 * rate:
        decimals += 1
    return decimals


def seconds_text(sample: int, rate: Fraction, side: Side, decimals: int) -> Decimal:
    """The seconds of ``sample`` as a decimal of ``decimals`` places that converts back to ``sample``.

    ``side="start"`` rounds ``sample / rate`` up (so that ``floor`` gives
    ``sample`` back), ``"stop"`` rounds it down (so that ``ceil`` does); both
    need ``10**decimals >= 2 * rate`` (:func:`decimals_for`). ``str()`` of the
    result has exactly ``decimals`` places.
    """
    scaled = Fraction(int(sample)) / rate * 10**decimals
    units = math.ceil(scaled) if side == "start" else math.floor(scaled)
    return Decimal(units).scaleb(-decimals)


def to_utc(value: Any, what: str = "time") -> pd.Timestamp:
    """``value`` (ISO 8601 text, datetime, pandas or numpy time) as a UTC :class:`pandas.Timestamp`.

    Raises
    ------
    ArgumentError
        If it is not a time, or has no time zone (a naive time is ambiguous:
        give ``"...Z"``, ``"...+02:00"`` or a timezone-aware datetime).
    """
    if isinstance(value, (bool, int, float)) or value is None:
        raise ArgumentError(f"{what} must be a time (ISO 8601 text or datetime), not {value!r}")
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ArgumentError(f"{what} {value!r} is not a time: {exc}") from None
    if stamp is pd.NaT:
        raise ArgumentError(f"{what} is NaT")
    if stamp.tzinfo is None:
        raise ArgumentError(
            f"{what} {value!r} has no time zone; give one (e.g. '2024-06-03T03:37:31Z' or '...+02:00')"
        )
    return stamp.tz_convert("UTC")


def utc_offset_samples(
    time: pd.Timestamp | datetime | str,
    start_time: pd.Timestamp,
    samplerate: int,
    *,
    time_expansion: float = 1.0,
    side: Side = "start",
) -> int:
    """The sample index of UTC ``time`` in a recording that starts at ``start_time`` (may be negative).

    ``floor`` (``side="start"``) or ``ceil`` (``"stop"``) of the nanoseconds
    from ``start_time`` to ``time`` times the samples per second, exactly.
    """
    delta = to_utc(time) - start_time
    nanoseconds = int(delta.value)
    return _round(Fraction(nanoseconds, _NS) * samples_per_second(samplerate, time_expansion), side)
