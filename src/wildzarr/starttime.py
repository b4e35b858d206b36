"""When a recording started: read from its file metadata or its file name.

:func:`find_start_time` looks, in this order, at

1. the GUANO ``Timestamp`` (``file_meta["guano"]``; GUANO v1.0,
   https://github.com/riggsd/guano-spec, "Dates, times, and datetimes"):
   ISO 8601 local, UTC (``Z``) or UTC-relative (``+04:00``) date and time;
2. the AudioMoth comment (``file_meta["info"]["ICMT"]``, or the container's
   ``comment`` tag): ``Recorded at HH:MM:SS DD/MM/YYYY (UTC)``, the zone
   written ``(UTC+1)``, ``(UTC-5)``, ``(UTC+5:30)`` since firmware 1.2.0, and
   no zone at all (UTC) in firmware 1.0 (Open Acoustic Devices' firmware
   ``setHeaderComment``, as collected by mbsantiago/metamoth,
   ``docs/firmware_versions/``);
3. the Broadcast Wave ``bext`` chunk's ``OriginationDate`` and
   ``OriginationTime`` (EBU Tech 3285 v2, section 2.3: ``yyyy-mm-dd`` and
   ``hh-mm-ss``, any one separator character; local time without a zone);
4. the file name, with a :func:`datetime.datetime.strptime` pattern the
   caller gives (``filename_pattern``), found anywhere in the name's stem.

The first source that yields a time placeable in UTC wins. A time written
without a zone (GUANO without an offset, bext, a pattern without ``%z``)
is placed with the caller's declared ``time_zone`` and marked
``time_zone_assumed``; without a declared zone it cannot be placed, and the
next source is tried. When no source yields a time, the result has ``start``
None, ``text`` the first time found (so the user sees what was there) and
``note`` why it could not be used. Local times that a daylight-saving change
makes ambiguous (the repeated hour) or nonexistent (the skipped hour) in
the declared zone are never guessed: they count as unplaceable, with a note.

The time expansion (GUANO ``TE``) travels with the start time in
:class:`~wildzarr.metadata.RecordingTime`; see :func:`time_expansion`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wildzarr.errors import ArgumentError
from wildzarr.metadata import RecordingTime

__all__ = [
    "FILENAME_DIRECTIVES",
    "GuanoTimestamp",
    "LocalTime",
    "audiomoth_time",
    "bext_time",
    "check_filename_pattern",
    "check_time_zone",
    "filename_time",
    "find_start_time",
    "guano_time",
    "parse_guano_timestamp",
    "place",
    "time_expansion",
]

#: strptime directives a file-name pattern may use, with the text each matches.
FILENAME_DIRECTIVES: dict[str, str] = {
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{2}",
    "d": r"\d{2}",
    "j": r"\d{3}",
    "H": r"\d{2}",
    "I": r"\d{2}",
    "p": r"(?:AM|PM|am|pm)",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "f": r"\d{1,6}",
    "z": r"(?:Z|[+-]\d{2}:?\d{2})",
    "b": r"[A-Za-z]{3}",
    "B": r"[A-Za-z]{3,9}",
    "%": "%",
}
_DIGIT_DIRECTIVES = frozenset("YymdjHIMSf")

_UTC_NAMES = frozenset({"UTC", "Z", "GMT"})
_OFFSET = re.compile(r"^(?:UTC\s*)?([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_GUANO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})([Tt ])(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(\s*(?:[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?))?$",
    re.IGNORECASE,
)
_AUDIOMOTH = re.compile(
    r"Recorded at (\d{2}):(\d{2}):(\d{2}) (\d{2})/(\d{2})/(\d{4})"
    r"(?: \(UTC(?:([+-])(\d{1,2})(?::(\d{2}))?)?\)| (?=by AudioMoth))"
)
_BEXT_DATE = re.compile(r"^(\d{4})\D(\d{2})\D(\d{2})$")
_BEXT_TIME = re.compile(r"^(\d{2})\D(\d{2})\D(\d{2})$")


@dataclass(frozen=True)
class LocalTime:
    """A date and time as a file wrote it.

    Attributes
    ----------
    wall : datetime.datetime
        The clock time written, naive (no tzinfo).
    offset : datetime.timedelta or None
        Its UTC offset when the source wrote one (``wall - offset`` is UTC);
        None for a local time without a zone.
    zone : str or None
        The source's zone as :attr:`RecordingTime.time_zone` names it:
        ``"UTC"`` or ``"+HH:MM"``; None without one.
    text : str
        The text the time was read from.
    """

    wall: datetime
    offset: timedelta | None
    zone: str | None
    text: str


class _Unusable(ValueError):
    """A time was found but cannot be used: ``text`` is what was found, the message says why."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(reason)
        self.text = text


def _label(offset: timedelta) -> str:
    """How :attr:`RecordingTime.time_zone` names a fixed offset: ``"UTC"`` for 0, else ``"+HH:MM"``."""
    return "UTC" if not offset else _offset_label(offset)


def _offset_label(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _fixed_offset(sign: str, hours: str, minutes: str | None) -> timedelta:
    """``±hours:minutes`` as a timedelta; ValueError when it is not within (-24 h, 24 h) or minutes >= 60."""
    h, m = int(hours), int(minutes or 0)
    if m >= 60 or h >= 24:
        raise ValueError(f"UTC offset {sign}{hours}:{minutes or '00'} is out of range")
    offset = timedelta(hours=h, minutes=m)
    return -offset if sign == "-" else offset


def check_time_zone(time_zone: str) -> tuple[tzinfo, str]:
    """The zone a caller declared, checked: an IANA name, ``"UTC"`` or a fixed UTC offset.

    Parameters
    ----------
    time_zone : str
        ``"UTC"`` (also ``"Z"``, ``"GMT"``), an offset ``"+02:00"``,
        ``"-0500"``, ``"+05"`` or ``"UTC+05:30"`` (east of Greenwich is
        positive, as in ISO 8601; note that the IANA names ``Etc/GMT+5`` use
        the opposite POSIX sign), or an IANA time zone name such as
        ``"Europe/Berlin"`` (Python's :mod:`zoneinfo`, from the system's tz
        database or the ``tzdata`` package).

    Returns
    -------
    (datetime.tzinfo, str)
        The zone, and its label for :attr:`RecordingTime.time_zone`:
        ``"UTC"``, ``"+HH:MM"`` or the IANA name as given.

    Raises
    ------
    ArgumentError
        For anything else, e.g. an unknown name or an offset of 24 hours or more.
    """
    if not isinstance(time_zone, str):
        raise ArgumentError(f"time zone must be a string, not {type(time_zone).__name__}")
    name = time_zone.strip()
    if name.upper() in _UTC_NAMES:
        return UTC, "UTC"
    match = _OFFSET.match(name)
    if match:
        try:
            offset = _fixed_offset(*match.groups())
        except ValueError as exc:
            raise ArgumentError(f"time zone {time_zone!r}: {exc}") from None
        return timezone(offset), _label(offset)
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ArgumentError(
            f"unknown time zone {time_zone!r}: give an IANA name (e.g. 'Europe/Berlin'), 'UTC' or an "
            "offset such as '+02:00'"
        ) from None


def place(local: LocalTime, zone: tzinfo | None, zone_label: str | None) -> tuple[datetime, str, bool]:
    """The UTC time of ``local``: by its own offset, else in the declared ``zone``.

    Returns
    -------
    (datetime.datetime, str, bool)
        The UTC time (timezone-aware), the zone label used, and whether the
        zone was assumed (``local`` had none).

    Raises
    ------
    ValueError
        When ``local`` has no offset and no zone is declared, or its clock
        time is ambiguous (repeated by a daylight-saving change) or
        nonexistent (skipped) in ``zone``. The message says which.
    """
    if local.offset is not None:
        return (local.wall - local.offset).replace(tzinfo=UTC), local.zone or "UTC", False
    if zone is None or zone_label is None:
        raise ValueError(f"{local.text!r} has no time zone and none was declared (pass time_zone=)")
    first = local.wall.replace(tzinfo=zone, fold=0)
    second = local.wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        problem = "does not exist (skipped by" if back != local.wall else "is ambiguous (repeated by"
        raise ValueError(f"{local.wall.isoformat()} {problem} a daylight-saving change in {zone_label})")
    return first.astimezone(UTC), zone_label, True


# ----------------------------------------------------------------------------- GUANO


@dataclass(frozen=True)
class GuanoTimestamp:
    """A GUANO ``Timestamp`` taken apart, so that it can be written back shifted in the same form.

    Attributes
    ----------
    time : LocalTime
        The time, with its offset when the text had one.
    separator : str
        ``"T"`` or ``" "``, as written between date and time.
    seconds : bool
        Whether the text had seconds.
    fraction_digits : int
        Digits of the fraction of a second written (0: none).
    zone_text : str
        The zone exactly as written (``""``, ``"Z"``, ``"+02:00"``, ``"+0200"``, ``" UTC"``).
    """

    time: LocalTime
    separator: str
    seconds: bool
    fraction_digits: int
    zone_text: str

    def shifted(self, seconds: Fraction) -> str:
        """The timestamp ``seconds`` later, written in the same form.

        The shift is rounded to the microsecond (half to even). The fraction
        is written with 3 digits when the result is a whole number of
        milliseconds, else 6 (GUANO v1.0's forms), and left out when it is 0
        and the original had none. A time without an offset is shifted on
        its clock face: it names no zone whose daylight-saving changes could
        be applied.
        """
        micro = round(seconds * 1_000_000)
        wall = self.time.wall + timedelta(microseconds=micro)
        text = wall.strftime(f"%Y-%m-%d{self.separator}%H:%M")
        if self.seconds or wall.second or wall.microsecond:
            text += wall.strftime(":%S")
        if wall.microsecond or self.fraction_digits:
            digits = 3 if wall.microsecond % 1000 == 0 and self.fraction_digits <= 3 else 6
            text += "." + f"{wall.microsecond:06d}"[:digits]
        return text + self.zone_text


def parse_guano_timestamp(text: str) -> GuanoTimestamp:
    """Parse a GUANO ``Timestamp``.

    Accepted (GUANO v1.0, "Dates, times, and datetimes", and what detectors
    write): ``YYYY-MM-DDTHH:MM[:SS[.f...]]`` with ``T`` or a space between
    date and time, a fraction of any length (read to the microsecond,
    further digits dropped), then nothing (local time), ``Z``, ``UTC``,
    ``GMT`` or an offset ``±HH:MM``, ``±HHMM`` or ``±HH``, possibly after a
    space.

    Raises
    ------
    ValueError
        With the reason, for text of another form or an invalid date or time
        (``2024-02-30``, ``25:00``).
    """
    value = text.strip()
    match = _GUANO.match(value)
    if match is None:
        raise _Unusable(value, f"GUANO Timestamp {text!r} is not an ISO 8601 date and time")
    year, month, day, sep, hour, minute, second, fraction, zone_text = match.groups()
    fraction = fraction or ""
    try:
        wall = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int(fraction[:6].ljust(6, "0")),
        )
    except ValueError as exc:
        raise _Unusable(value, f"GUANO Timestamp {text!r} is not a valid date and time: {exc}") from None
    zone_text = zone_text or ""
    zone = zone_text.strip().upper()
    offset: timedelta | None
    if not zone:
        offset, label = None, None
    elif zone in _UTC_NAMES:
        offset, label = timedelta(0), "UTC"
    else:
        try:
            offset = _fixed_offset(zone[0], zone[1:3], zone[3:].lstrip(":") or None)
        except ValueError as exc:
            raise _Unusable(value, f"GUANO Timestamp {text!r}: {exc}") from None
        label = _label(offset)
    local = LocalTime(wall, offset, label, value)
    return GuanoTimestamp(local, sep.upper(), second is not None, len(fraction), zone_text)


def guano_time(guano: Mapping[str, Any]) -> LocalTime | None:
    """The ``Timestamp`` of GUANO fields, or None when there is none.

    Raises ValueError (with the reason) for a Timestamp that cannot be read.
    """
    value = guano.get("Timestamp")
    if not isinstance(value, str) or not value.strip():
        return None
    return parse_guano_timestamp(value).time


# ----------------------------------------------------------------------------- AudioMoth


def audiomoth_time(comment: str) -> LocalTime | None:
    """The time of an AudioMoth comment, or None when ``comment`` is not one.

    AudioMoth firmware writes the local time of the recording's start and
    its zone: ``Recorded at 09:32:00 04/05/2018 (UTC) by AudioMoth ...`` (day
    first: 4 May 2018), ``(UTC+1)``, ``(UTC-5)``, ``(UTC+5:30)``; firmware
    1.0 wrote UTC with no zone (``... 04/05/2018 by AudioMoth ...``).

    Raises ValueError for a comment of that form holding an invalid date,
    time or offset.
    """
    match = _AUDIOMOTH.search(comment)
    if match is None:
        return None
    hour, minute, second, day, month, year, sign, tz_hours, tz_minutes = match.groups()
    text = match.group(0).strip()
    try:
        wall = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
        offset = timedelta(0) if sign is None else _fixed_offset(sign, tz_hours, tz_minutes)
    except ValueError as exc:
        raise _Unusable(text, f"AudioMoth comment {text!r} holds no valid time: {exc}") from None
    return LocalTime(wall, offset, _label(offset), text)


def _comment(file_meta: Mapping[str, Any]) -> str | None:
    info = file_meta.get("info")
    if isinstance(info, Mapping) and isinstance(info.get("ICMT"), str):
        return str(info["ICMT"])
    tags = file_meta.get("tags")
    if isinstance(tags, Mapping):
        for key, value in tags.items():
            if isinstance(key, str) and key.lower() == "comment" and isinstance(value, str):
                return value
    return None


# ----------------------------------------------------------------------------- bext


def bext_time(bext: Mapping[str, Any]) -> LocalTime | None:
    """``OriginationDate`` and ``OriginationTime`` of a ``bext`` chunk, or None when unset.

    EBU Tech 3285 v2: ``yyyy-mm-dd`` and ``hh-mm-ss`` (the separators may be
    any character; ``-``, ``_``, ``:``, space and ``.`` are recommended),
    the local time of the recorder, with no zone. An empty or all-zero date
    means unknown (None); a date without a time cannot be placed.

    Raises ValueError for fields that are set but unreadable.
    """
    date = bext.get("OriginationDate")
    clock = bext.get("OriginationTime")
    date = date.strip() if isinstance(date, str) else ""
    clock = clock.strip() if isinstance(clock, str) else ""
    if not date.strip("0-_:. "):
        return None
    text = f"{date} {clock}".strip()
    found_date, found_time = _BEXT_DATE.match(date), _BEXT_TIME.match(clock)
    if found_date is None or found_time is None:
        raise _Unusable(text, f"bext origination date and time {text!r} are not yyyy-mm-dd hh-mm-ss")
    year, month, day = (int(v) for v in found_date.groups())
    hour, minute, second = (int(v) for v in found_time.groups())
    try:
        wall = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise _Unusable(text, f"bext origination date and time {text!r} are not valid: {exc}") from None
    return LocalTime(wall, None, None, text)


# ----------------------------------------------------------------------------- file names


def check_filename_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression that finds ``pattern`` (strptime directives) in a file name.

    Each directive of :data:`FILENAME_DIRECTIVES` matches its fixed number
    of digits (``%Y`` four, ``%m`` two ...), so that ``%Y%m%d`` splits
    ``20190522``; other characters match themselves. A pattern that starts or
    ends with a digit directive does not match inside a longer run of
    digits.

    Raises
    ------
    ArgumentError
        For a directive not in :data:`FILENAME_DIRECTIVES` (``%Z`` included:
        Python ignores the zone names it reads), a ``%`` at the end, or a
        pattern that lacks a year (``%Y``/``%y``), a day (``%d`` with ``%m``,
        ``%b`` or ``%B``, or ``%j``) or an hour (``%H``, or ``%I`` with ``%p``).
    """
    if not isinstance(pattern, str) or not pattern:
        raise ArgumentError(f"a file-name pattern must be a non-empty string, not {pattern!r}")
    parts: list[str] = []
    used: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char != "%":
            parts.append(re.escape(char))
            i += 1
            continue
        if i + 1 >= len(pattern) or pattern[i + 1] not in FILENAME_DIRECTIVES:
            directive = pattern[i : i + 2]
            raise ArgumentError(
                f"file-name pattern {pattern!r}: {directive!r} is not supported; use "
                + ", ".join(f"%{d}" for d in FILENAME_DIRECTIVES)
            )
        directive = pattern[i + 1]
        parts.append(f"({FILENAME_DIRECTIVES[directive]})" if directive != "%" else "%")
        used.append(directive)
        i += 2
    has = set(used)
    day = "j" in has or ("d" in has and bool(has & {"m", "b", "B"}))
    hour = "H" in has or {"I", "p"} <= has
    if not (has & {"Y", "y"}) or not day or not hour:
        raise ArgumentError(
            f"file-name pattern {pattern!r} must hold a year (%Y or %y), a day (%m and %d, or %j) "
            "and an hour (%H, or %I with %p)"
        )
    head = "(?<!\\d)" if pattern.startswith("%") and used[0] in _DIGIT_DIRECTIVES else ""
    tail = "(?!\\d)" if pattern[-2:-1] == "%" and used[-1] in _DIGIT_DIRECTIVES else ""
    return re.compile(head + "".join(parts) + tail)


def filename_time(name: str, pattern: str) -> LocalTime | None:
    """The time ``pattern`` finds in the stem of file name ``name``, or None when it matches nowhere.

    The stem is the name without folders and without its last suffix
    (``S4A03895_20190522_001500.wav`` -> ``S4A03895_20190522_001500``). The
    leftmost place where the pattern matches and :func:`datetime.strptime`
    reads a valid time wins. ``%y`` reads 69-99 as 1969-1999 and 00-68 as
    2000-2068 (Python's rule). With ``%z`` the time has that offset; without,
    it is a local time with no zone.

    Raises
    ------
    ArgumentError
        For a pattern :func:`check_filename_pattern` refuses.
    ValueError
        When the pattern matches but no match is a valid time (``20190230``).
    """
    finder = check_filename_pattern(pattern)
    stem = PurePosixPath(name.replace("\\", "/")).stem
    failure: tuple[str, str] | None = None
    pos = 0
    while (match := finder.search(stem, pos)) is not None:
        pos = match.start() + 1
        try:
            parsed = datetime.strptime(match.group(0), pattern)
        except ValueError as exc:
            failure = failure or (
                match.group(0),
                f"{match.group(0)!r} in file name {name!r} is not a valid time: {exc}",
            )
            continue
        offset = parsed.utcoffset()
        wall = parsed.replace(tzinfo=None)
        return LocalTime(wall, offset, None if offset is None else _label(offset), match.group(0))
    if failure is not None:
        raise _Unusable(*failure)
    return None


# ----------------------------------------------------------------------------- time expansion


def time_expansion(file_meta: Mapping[str, Any]) -> float:
    """The recording's time expansion: GUANO ``TE``, else 1.

    GUANO v1.0, field ``TE``: "Time-expansion factor. If not specified,
    then 1 (no time-expansion, aka direct-recording) is assumed." A value
    that is not a positive finite number (``0``, ``-10``, ``nan``, text) is
    ignored: 1.
    """
    guano = file_meta.get("guano") if isinstance(file_meta, Mapping) else None
    value = guano.get("TE") if isinstance(guano, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return 1.0
    try:
        number = float(value)
    except ValueError:
        return 1.0
    return number if math.isfinite(number) and number > 0 else 1.0


# ----------------------------------------------------------------------------- the search


def find_start_time(
    file_meta: Mapping[str, Any],
    source_name: str,
    *,
    time_zone: str | None = None,
    filename_pattern: str | None = None,
    prefer_filename: bool = False,
) -> RecordingTime:
    """The start time of a recording, from its file metadata or file name, and its time expansion.

    Sources, in order (module docstring): GUANO ``Timestamp``, the AudioMoth
    comment, the ``bext`` origination date and time, then the file name read
    with ``filename_pattern``. With ``prefer_filename`` the file name comes
    first. The first source giving a time that can be placed in UTC wins:
    one written with a UTC offset is exact (``time_zone`` is then that
    offset, ``time_zone_assumed`` False); one written without is placed in
    the declared ``time_zone`` (``time_zone_assumed`` True), or cannot be
    placed when none is declared, or when it is ambiguous or nonexistent in
    that zone (daylight-saving changes are never guessed).

    Parameters
    ----------
    file_meta : mapping
        What the source file carried (:attr:`wildzarr.Recording.file_meta`):
        ``"guano"`` (dict of GUANO fields), ``"info"`` (LIST/INFO, ``"ICMT"``),
        ``"tags"`` (container tags, ``"comment"``), ``"bext"``.
    source_name : str
        The source's file name (:attr:`SourceInfo.name`); only read with a pattern.
    time_zone : str, optional
        The zone of local times written without one: an IANA name, ``"UTC"``
        or an offset (:func:`check_time_zone`).
    filename_pattern : str, optional
        A strptime pattern for the file name (:func:`filename_time`), e.g.
        ``"%Y%m%d_%H%M%S"``; with ``%z`` the name's time is exact.
    prefer_filename : bool
        Try the file name before the file's metadata (default: after).

    Returns
    -------
    RecordingTime
        Always: ``start`` (UTC, timezone-aware) and ``source`` (``"guano"``,
        ``"audiomoth"``, ``"bext"``, ``"filename"``), ``time_zone``,
        ``time_zone_assumed``, ``text`` (the text read), and
        ``time_expansion`` (:func:`time_expansion`). When no source gives a
        placeable time, ``start`` and ``source`` are None, ``text`` holds the
        first time found (if any) and the extra field ``note`` says why it
        could not be used. Malformed metadata (``2024-02-30``, garbage) never
        raises: it is skipped, and noted when nothing else gives a time.

    Raises
    ------
    ArgumentError
        For an unknown ``time_zone`` or an unsupported ``filename_pattern``,
        whether or not they were needed.
    """
    zone, zone_label = check_time_zone(time_zone) if time_zone is not None else (None, None)
    if filename_pattern is not None:
        check_filename_pattern(filename_pattern)
    expansion = time_expansion(file_meta)
    guano = file_meta.get("guano")
    bext = file_meta.get("bext")
    comment = _comment(file_meta)
    readers: list[tuple[str, Callable[[], LocalTime | None]]] = [
        ("guano", lambda: guano_time(guano) if isinstance(guano, Mapping) else None),
        ("audiomoth", lambda: audiomoth_time(comment) if comment is not None else None),
        ("bext", lambda: bext_time(bext) if isinstance(bext, Mapping) else None),
    ]
    if filename_pattern is not None:
        pattern = filename_pattern

        def from_name() -> LocalTime:
            found = filename_time(source_name, pattern)
            if found is None:
                raise _Unusable("", f"file name {source_name!r} does not match the pattern {pattern!r}")
            return found

        readers.insert(0 if prefer_filename else len(readers), ("filename", from_name))
    first: tuple[str, str] | None = None
    for source, read in readers:
        try:
            local = read()
        except ValueError as exc:
            first = first or (exc.text if isinstance(exc, _Unusable) else "", f"{source}: {exc}")
            continue
        if local is None:
            continue
        try:
            start, label, assumed = place(local, zone, zone_label)
        except ValueError as exc:
            first = first or (local.text, f"{source}: {exc}")
            continue
        return RecordingTime(
            start=start,
            source=source,
            time_zone=label,
            time_zone_assumed=assumed,
            time_expansion=expansion,
            text=local.text,
        )
    if first is None:
        return RecordingTime(time_expansion=expansion)
    return RecordingTime(time_expansion=expansion, text=first[0] or None, note=first[1])
