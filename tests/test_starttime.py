"""Start times from GUANO, AudioMoth comments, BWF bext and file names (wildzarr.starttime)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import soundfile
from conftest import CORPUS_DIR

from wildzarr.errors import ArgumentError
from wildzarr.metadata import RecordingTime
from wildzarr.sources.riff import read_riff
from wildzarr.starttime import (
    audiomoth_time,
    bext_time,
    check_filename_pattern,
    check_time_zone,
    filename_time,
    find_start_time,
    parse_guano_timestamp,
    time_expansion,
)

TIMED_DIR = CORPUS_DIR.parent / "timed"
needs_audio = pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"no recordings corpus at {CORPUS_DIR}")
needs_timed = pytest.mark.skipif(not TIMED_DIR.is_dir(), reason=f"no timed recordings at {TIMED_DIR}")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def note(time: RecordingTime) -> str:
    """The ``note`` field: why no start time was found."""
    return time.note or ""


def guano(timestamp: Any, **more: str) -> dict[str, Any]:
    return {"guano": {"GUANO|Version": "1.0", "Timestamp": timestamp, **more}}


# ----------------------------------------------------------------------------- GUANO


@pytest.mark.parametrize(
    ("text", "zone", "start", "label", "assumed"),
    [
        ("2024-06-03T03:37:31Z", None, utc(2024, 6, 3, 3, 37, 31), "UTC", False),
        ("2024-06-03T03:37:31z", None, utc(2024, 6, 3, 3, 37, 31), "UTC", False),
        ("2024-06-03T03:37:31 UTC", None, utc(2024, 6, 3, 3, 37, 31), "UTC", False),
        ("2024-06-03T03:37:31+02:00", None, utc(2024, 6, 3, 1, 37, 31), "+02:00", False),
        ("2024-06-03T03:37:31+0200", None, utc(2024, 6, 3, 1, 37, 31), "+02:00", False),
        ("2024-06-03T03:37:31+02", None, utc(2024, 6, 3, 1, 37, 31), "+02:00", False),
        ("2024-06-03T03:37:31-05:00", None, utc(2024, 6, 3, 8, 37, 31), "-05:00", False),
        ("2024-06-03T03:37:31+05:30", None, utc(2024, 6, 2, 22, 7, 31), "+05:30", False),
        ("2024-06-03 03:37:31-05:00", None, utc(2024, 6, 3, 8, 37, 31), "-05:00", False),
        ("2015-12-31T23:59:59.123Z", None, datetime(2015, 12, 31, 23, 59, 59, 123000, UTC), "UTC", False),
        (
            "2015-12-31T23:59:59.123456+04:00",
            None,
            datetime(2015, 12, 31, 19, 59, 59, 123456, UTC),
            "+04:00",
            False,
        ),
        ("2015-12-31T23:59:59.1234567Z", None, datetime(2015, 12, 31, 23, 59, 59, 123456, UTC), "UTC", False),
        # an offset in the text wins over the declared zone
        ("2024-06-03T03:37:31-05:00", "Europe/Berlin", utc(2024, 6, 3, 8, 37, 31), "-05:00", False),
        # no offset: the declared zone, marked assumed
        ("2024-06-03T03:37:31", "UTC", utc(2024, 6, 3, 3, 37, 31), "UTC", True),
        ("2024-06-03 03:37:31", "UTC", utc(2024, 6, 3, 3, 37, 31), "UTC", True),
        ("2024-06-03T03:37:31", "Europe/Berlin", utc(2024, 6, 3, 1, 37, 31), "Europe/Berlin", True),
        ("2024-01-03T03:37:31", "Europe/Berlin", utc(2024, 1, 3, 2, 37, 31), "Europe/Berlin", True),
        ("2024-06-03T03:37:31", "America/Chicago", utc(2024, 6, 3, 8, 37, 31), "America/Chicago", True),
        ("2024-06-03T03:37:31", "+02:00", utc(2024, 6, 3, 1, 37, 31), "+02:00", True),
        ("2024-06-03T03:37:31", "-0330", utc(2024, 6, 3, 7, 7, 31), "-03:30", True),
        ("2024-06-03T03:37:31", "UTC+05:30", utc(2024, 6, 2, 22, 7, 31), "+05:30", True),
        ("2024-06-03T03:37", "UTC", utc(2024, 6, 3, 3, 37), "UTC", True),
    ],
)
def test_guano_timestamps(text: str, zone: str | None, start: datetime, label: str, assumed: bool) -> None:
    time = find_start_time(guano(text, TE="1"), "rec.wav", time_zone=zone)
    assert time.start == start and time.start.tzinfo is not None
    assert (time.source, time.time_zone, time.time_zone_assumed, time.text) == ("guano", label, assumed, text)
    assert time.time_expansion == 1.0


def test_a_local_time_without_a_declared_zone_is_not_placed() -> None:
    time = find_start_time(guano("2024-06-03T03:37:31"), "rec.wav")
    assert time.start is None and time.source is None and time.time_zone is None
    assert time.text == "2024-06-03T03:37:31"
    assert "no time zone" in note(time) and "time_zone=" in note(time)


@pytest.mark.parametrize(
    ("text", "zone", "why"),
    [
        ("2024-10-27T02:30:00", "Europe/Berlin", "ambiguous"),  # the hour repeated when summer time ends
        ("2024-03-31T02:30:00", "Europe/Berlin", "does not exist"),  # the hour skipped when it begins
        ("2024-11-03T01:30:00", "America/New_York", "ambiguous"),
        ("2024-03-10T02:30:00", "America/New_York", "does not exist"),
    ],
)
def test_daylight_saving_changes_are_never_guessed(text: str, zone: str, why: str) -> None:
    time = find_start_time(guano(text), "rec.wav", time_zone=zone)
    assert time.start is None and time.text == text
    assert why in note(time) and zone in note(time)
    # the same clock time an hour later is unambiguous
    later = (datetime.fromisoformat(text) + timedelta(hours=2)).isoformat()
    assert find_start_time(guano(later), "rec.wav", time_zone=zone).start is not None


@pytest.mark.parametrize(
    "value",
    [
        "2024-02-30T10:00:00Z",  # 30 February
        "2023-02-29T10:00:00",  # not a leap year
        "2024-13-01T10:00:00Z",
        "2024-06-03T24:00:00Z",
        "2024-06-03T10:61:00Z",
        "2024-06-03T10:00:00+24:00",
        "2024-06-03T10:00:00+02:75",
        "garbage",
        "03/06/2024 03:37:31",
        "2024-06-03",
        "2024-06-03T03:37:31+02:00 and more",
        "\x00\x01",
    ],
)
def test_bad_guano_timestamps_give_no_start_and_a_reason(value: str) -> None:
    time = find_start_time(guano(value), "rec.wav", time_zone="UTC")
    assert time.start is None and time.source is None
    assert time.text == value.strip() and note(time).startswith("guano: ")


@pytest.mark.parametrize(
    "meta", [{"guano": "not a dict"}, {"guano": {"Timestamp": 17}}, {"guano": {}}, {}, {"guano": None}]
)
def test_missing_or_mistyped_metadata_gives_nothing(meta: dict[str, Any]) -> None:
    time = find_start_time(meta, "rec.wav", time_zone="UTC")
    assert time == RecordingTime()


def test_a_bad_source_falls_through_to_the_next() -> None:
    meta = {
        **guano("2024-02-30T10:00:00Z"),
        "info": {"ICMT": "Recorded at 09:32:00 04/05/2018 (UTC) by AudioMoth"},
    }
    time = find_start_time(meta, "rec.wav")
    assert (time.start, time.source) == (utc(2018, 5, 4, 9, 32), "audiomoth")
    # a local GUANO time that cannot be placed leaves the file name to tell
    time = find_start_time(
        guano("2024-06-03T03:37:31"), "r_20240603T013731Z.wav", filename_pattern="%Y%m%dT%H%M%S%z"
    )
    assert (time.start, time.source, time.time_zone) == (utc(2024, 6, 3, 1, 37, 31), "filename", "UTC")


# ----------------------------------------------------------------------------- time expansion


@pytest.mark.parametrize(
    ("te", "expected"),
    [("10", 10.0), (" 10 ", 10.0), ("10.0", 10.0), ("0.5", 0.5), (20, 20.0), (8.0, 8.0), ("1", 1.0)]
    + [(bad, 1.0) for bad in ("0", "-10", "nan", "inf", "-inf", "ten", "", None, True, [10])],
)
def test_time_expansion(te: Any, expected: float) -> None:
    assert time_expansion({"guano": {"TE": te}}) == expected
    assert find_start_time({"guano": {"TE": te}}, "x.wav").time_expansion == expected


def test_time_expansion_without_guano() -> None:
    assert time_expansion({}) == 1.0 and time_expansion({"guano": "x"}) == 1.0


# ----------------------------------------------------------------------------- AudioMoth

AUDIOMOTH = "by AudioMoth 0FE081F80FE081F0 at gain setting 2 while battery state was 4.3V"


@pytest.mark.parametrize(
    ("comment", "start", "label"),
    [
        # firmware >= 1.0.1: "(UTC)"; the date is day first (sprintf "%02d/%02d/%04d", tm_mday, 1 + tm_mon)
        (f"Recorded at 09:32:00 04/05/2018 (UTC) {AUDIOMOTH}", utc(2018, 5, 4, 9, 32), "UTC"),
        # firmware 1.2.0+: the local time and its zone, "(UTC+1)", "(UTC-5)", "(UTC+10)"
        (f"Recorded at 10:32:00 04/05/2018 (UTC+1) {AUDIOMOTH}", utc(2018, 5, 4, 9, 32), "+01:00"),
        (f"Recorded at 04:32:00 04/05/2018 (UTC-5) {AUDIOMOTH}", utc(2018, 5, 4, 9, 32), "-05:00"),
        (f"Recorded at 19:32:00 04/05/2018 (UTC+10) {AUDIOMOTH}", utc(2018, 5, 4, 9, 32), "+10:00"),
        # firmware 1.4.0+: minutes, "(UTC+5:30)", and "(UTC-0:30)" for a zone less than an hour west
        (f"Recorded at 15:02:00 04/05/2018 (UTC+5:30) {AUDIOMOTH}", utc(2018, 5, 4, 9, 32), "+05:30"),
        (f"Recorded at 06:02:00 04/05/2018 (UTC-3:30) {AUDIOMOTH}", utc(2018, 5, 4, 9, 32), "-03:30"),
        (f"Recorded at 09:02:00 04/05/2018 (UTC-0:30) {AUDIOMOTH}", utc(2018, 5, 4, 9, 32), "-00:30"),
        # firmware 1.8: a deployment id instead of "by AudioMoth"
        (
            "Recorded at 23:59:59 31/12/2021 (UTC) during deployment 0123456789ABCDEF at medium gain",
            utc(2021, 12, 31, 23, 59, 59),
            "UTC",
        ),
        # firmware 1.0: UTC, no zone written
        (f"Recorded at 09:32:00 04/05/2018 {AUDIOMOTH}", utc(2018, 5, 4, 9, 32), "UTC"),
    ],
)
def test_audiomoth_comments(comment: str, start: datetime, label: str) -> None:
    for meta in ({"info": {"ICMT": comment}}, {"tags": {"comment": comment}}, {"tags": {"COMMENT": comment}}):
        time = find_start_time(meta, "20180504_093200.WAV", time_zone="Asia/Tokyo")
        assert (time.start, time.source, time.time_zone, time.time_zone_assumed) == (
            start,
            "audiomoth",
            label,
            False,
        )
        assert time.text is not None and time.text.startswith("Recorded at ")


@pytest.mark.parametrize(
    "comment",
    [
        "Recorded at 09:32:00 31/02/2018 (UTC) by AudioMoth 0FE081F80FE081F0",
        "Recorded at 25:32:00 04/05/2018 (UTC) by AudioMoth 0FE081F80FE081F0",
        "Recorded at 09:32:00 04/05/2018 (UTC+24) by AudioMoth 0FE081F80FE081F0",
    ],
)
def test_bad_audiomoth_comments(comment: str) -> None:
    time = find_start_time({"info": {"ICMT": comment}}, "x.wav")
    assert time.start is None and note(time).startswith("audiomoth: ")
    with pytest.raises(ValueError):
        audiomoth_time(comment)


def test_other_comments_are_not_audiomoth() -> None:
    for comment in ("XC663885 © Simon S. Christiansen // 01:00h, 2021-07-10", "Recorded at dawn", ""):
        assert audiomoth_time(comment) is None
        assert find_start_time({"info": {"ICMT": comment}}, "x.wav") == RecordingTime()


# ----------------------------------------------------------------------------- bext


@pytest.mark.parametrize(
    ("date", "clock", "wall"),
    [
        ("2019-05-22", "00:15:00", datetime(2019, 5, 22, 0, 15)),
        ("2019-05-22", "00-15-00", datetime(2019, 5, 22, 0, 15)),  # EBU Tech 3285's own example separator
        ("2019:05:22", "23.59.59", datetime(2019, 5, 22, 23, 59, 59)),
        ("2019_05_22", "00 00 00", datetime(2019, 5, 22)),
    ],
)
def test_bext_origination(date: str, clock: str, wall: datetime) -> None:
    bext = {"OriginationDate": date, "OriginationTime": clock, "TimeReference": 0}
    local = bext_time(bext)
    assert local is not None and local.wall == wall and local.offset is None
    time = find_start_time({"bext": bext}, "x.wav", time_zone="-04:00")
    assert time.start == (wall + timedelta(hours=4)).replace(tzinfo=UTC)
    assert (time.source, time.time_zone, time.time_zone_assumed) == ("bext", "-04:00", True)
    unplaced = find_start_time({"bext": bext}, "x.wav")
    assert unplaced.start is None and unplaced.text == f"{date} {clock}"


@pytest.mark.parametrize(
    ("date", "clock"), [("", ""), ("0000-00-00", "00:00:00"), ("0000:00:00", ""), ("    ", "12:00:00")]
)
def test_unset_bext_fields_mean_unknown(date: str, clock: str) -> None:
    assert bext_time({"OriginationDate": date, "OriginationTime": clock}) is None
    assert (
        find_start_time({"bext": {"OriginationDate": date, "OriginationTime": clock}}, "x.wav")
        == RecordingTime()
    )


@pytest.mark.parametrize(
    ("date", "clock"),
    [("2019-05-22", ""), ("2019-02-30", "10:00:00"), ("22/05/2019", "10:00:00"), ("2019-05-22", "1 pm")],
)
def test_bad_bext_fields(date: str, clock: str) -> None:
    time = find_start_time(
        {"bext": {"OriginationDate": date, "OriginationTime": clock}}, "x.wav", time_zone="UTC"
    )
    assert time.start is None and note(time).startswith("bext: ")


# ----------------------------------------------------------------------------- file names


@pytest.mark.parametrize(
    ("name", "pattern", "wall", "offset"),
    [
        ("S4A03895_20190522_001500.wav", "%Y%m%d_%H%M%S", datetime(2019, 5, 22, 0, 15), None),
        ("sample_220925_223450.wav", "sample_%y%m%d_%H%M%S", datetime(2022, 9, 25, 22, 34, 50), None),
        ("sample_220925_223450.wav", "%y%m%d_%H%M%S", datetime(2022, 9, 25, 22, 34, 50), None),
        ("20180504_093200.WAV", "%Y%m%d_%H%M%S", datetime(2018, 5, 4, 9, 32), None),
        ("/data/site A/20180504_093200.WAV", "%Y%m%d_%H%M%S", datetime(2018, 5, 4, 9, 32), None),
        (
            "rec_2024-06-03T03-37-31.123+0200.flac",
            "%Y-%m-%dT%H-%M-%S.%f%z",
            datetime(2024, 6, 3, 3, 37, 31, 123000),
            timedelta(hours=2),
        ),
        ("rec_20240603T033731Z.wav", "%Y%m%dT%H%M%S%z", datetime(2024, 6, 3, 3, 37, 31), timedelta(0)),
        ("night 2024_155 21h07.mp3", "%Y_%j %Hh%M", datetime(2024, 6, 3, 21, 7), None),
        ("03Jun2024-0337PM.wav", "%d%b%Y-%I%M%p", datetime(2024, 6, 3, 15, 37), None),
        # the first valid match wins: the serial number's digits are no date
        ("20191399_001500_20190522_001500.wav", "%Y%m%d_%H%M%S", datetime(2019, 5, 22, 0, 15), None),
        ("x.y_20190522_001500.tar.wav", "%Y%m%d_%H%M%S", datetime(2019, 5, 22, 0, 15), None),
    ],
)
def test_filename_patterns(name: str, pattern: str, wall: datetime, offset: timedelta | None) -> None:
    found = filename_time(name, pattern)
    assert found is not None and (found.wall, found.offset) == (wall, offset)
    time = find_start_time({}, name, filename_pattern=pattern, time_zone="UTC")
    assert time.source == "filename" and time.time_zone_assumed == (offset is None)
    assert time.start == (wall - (offset or timedelta(0))).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("S4A03895.wav", "%Y%m%d_%H%M%S"),
        ("120190522_001500.wav", "%Y%m%d_%H%M%S"),  # inside a longer run of digits: no match
        ("20190522_0015001.wav", "%Y%m%d_%H%M%S"),
        ("2019-05-22.wav", "%Y-%m-%d_%H"),
    ],
)
def test_names_the_pattern_does_not_match(name: str, pattern: str) -> None:
    assert filename_time(name, pattern) is None
    time = find_start_time({}, name, filename_pattern=pattern, time_zone="UTC")
    assert time.start is None and "does not match" in note(time)


def test_a_matching_name_that_is_no_time() -> None:
    with pytest.raises(ValueError, match="not a valid time"):
        filename_time("S4A03895_20190230_001500.wav", "%Y%m%d_%H%M%S")
    time = find_start_time(
        {}, "S4A03895_20190230_001500.wav", filename_pattern="%Y%m%d_%H%M%S", time_zone="UTC"
    )
    assert time.start is None and time.text == "20190230_001500" and note(time).startswith("filename: ")


@pytest.mark.parametrize(
    "pattern",
    ["", "%Y%m%d", "%H%M%S", "%m%d_%H%M", "%Y%m%d_%H%M%S%Z", "%a %Y%m%d %H", "%Y%m%d_%H%", "%Y%d_%H"],
)
def test_unusable_patterns_are_argument_errors(pattern: str) -> None:
    with pytest.raises(ArgumentError):
        check_filename_pattern(pattern)
    with pytest.raises(ArgumentError):
        find_start_time(guano("2024-06-03T03:37:31Z"), "x.wav", filename_pattern=pattern)


def test_metadata_comes_before_the_file_name_unless_preferred() -> None:
    meta = guano("2024-06-03T03:37:31Z")
    name = "rec_20200101_120000.wav"
    assert find_start_time(meta, name, filename_pattern="%Y%m%d_%H%M%S", time_zone="UTC").source == "guano"
    time = find_start_time(
        meta, name, filename_pattern="%Y%m%d_%H%M%S", time_zone="UTC", prefer_filename=True
    )
    assert (time.source, time.start) == ("filename", utc(2020, 1, 1, 12))
    # a preferred pattern that does not match leaves the metadata to tell
    time = find_start_time(meta, "rec.wav", filename_pattern="%Y%m%d_%H%M%S", prefer_filename=True)
    assert time.source == "guano"


def test_precedence_of_the_metadata_sources() -> None:
    meta = {
        **guano("2024-06-03T03:37:31Z"),
        "info": {"ICMT": f"Recorded at 09:32:00 04/05/2018 (UTC) {AUDIOMOTH}"},
        "bext": {"OriginationDate": "2019-05-22", "OriginationTime": "00:15:00"},
    }
    sources = []
    for drop in ("guano", "info", "bext"):
        time = find_start_time(meta, "20200101_120000.wav", time_zone="UTC", filename_pattern="%Y%m%d_%H%M%S")
        sources.append(time.source)
        meta = {k: v for k, v in meta.items() if k != drop}
    sources.append(
        find_start_time(meta, "20200101_120000.wav", time_zone="UTC", filename_pattern="%Y%m%d_%H%M%S").source
    )
    assert sources == ["guano", "audiomoth", "bext", "filename"]


# ----------------------------------------------------------------------------- time zones


@pytest.mark.parametrize(
    ("zone", "label", "offset"),
    [
        ("UTC", "UTC", timedelta(0)),
        ("utc", "UTC", timedelta(0)),
        ("Z", "UTC", timedelta(0)),
        ("+02:00", "+02:00", timedelta(hours=2)),
        ("-0500", "-05:00", timedelta(hours=-5)),
        ("+05", "+05:00", timedelta(hours=5)),
        ("UTC-03:30", "-03:30", timedelta(hours=-3, minutes=-30)),
        ("Europe/Berlin", "Europe/Berlin", timedelta(hours=2)),
        ("Etc/GMT+5", "Etc/GMT+5", timedelta(hours=-5)),  # IANA's POSIX sign: 5 hours west
    ],
)
def test_declared_time_zones(zone: str, label: str, offset: timedelta) -> None:
    tz, got = check_time_zone(zone)
    assert got == label and datetime(2024, 6, 3, tzinfo=tz).utcoffset() == offset


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "", "+24:00", "+02:60", "../etc/passwd", "/etc/localtime", "Europe"]
)
def test_unknown_time_zones_are_argument_errors(zone: str) -> None:
    with pytest.raises(ArgumentError):
        check_time_zone(zone)
    with pytest.raises(ArgumentError, match="time zone"):
        find_start_time({}, "x.wav", time_zone=zone)


# ----------------------------------------------------------------------------- writing GUANO times back


@pytest.mark.parametrize(
    ("text", "seconds", "shifted"),
    [
        ("2024-06-03T03:37:31", Fraction(96000, 312500), "2024-06-03T03:37:31.307200"),
        ("2024-06-03T03:37:31Z", Fraction(1, 2), "2024-06-03T03:37:31.500Z"),
        ("2024-06-03 03:37:31+0200", Fraction(30), "2024-06-03 03:38:01+0200"),
        ("2024-06-03T23:59:59.500-05:00", Fraction(1, 2), "2024-06-04T00:00:00.000-05:00"),
        ("2024-06-03T03:37:31 UTC", Fraction(1, 3), "2024-06-03T03:37:31.333333 UTC"),
        ("2024-06-03T03:37", Fraction(60), "2024-06-03T03:38"),
        ("2024-06-03T03:37:31", Fraction(0), "2024-06-03T03:37:31"),
    ],
)
def test_guano_timestamps_shift_in_their_own_form(text: str, seconds: Fraction, shifted: str) -> None:
    assert parse_guano_timestamp(text).shifted(seconds) == shifted
    again = parse_guano_timestamp(shifted)
    assert again.time.offset == parse_guano_timestamp(text).time.offset


# ----------------------------------------------------------------------------- real recordings


@needs_audio
def test_the_batlogger_guano_timestamp() -> None:
    riff = read_riff(CORPUS_DIR / "bat_batlogger_312k_guano.wav")
    assert riff is not None
    meta = riff.meta
    assert meta["guano"]["Timestamp"] == "2024-06-03T03:37:31"
    unplaced = find_start_time(meta, "bat_batlogger_312k_guano.wav")
    assert unplaced.start is None and unplaced.text == "2024-06-03T03:37:31"
    # recorded in France (Loc Position 49.09 N 5.05 E): summer time, UTC+2
    time = find_start_time(meta, "bat_batlogger_312k_guano.wav", time_zone="Europe/Paris")
    assert (time.start, time.source, time.time_zone_assumed) == (utc(2024, 6, 3, 1, 37, 31), "guano", True)
    assert time.time_expansion == 1.0


@needs_audio
def test_the_audiomoth_comment() -> None:
    riff = read_riff(CORPUS_DIR / "bird_audiomoth_1min_32k.wav")
    assert riff is not None
    time = find_start_time(riff.meta, "bird_audiomoth_1min_32k.wav", time_zone="America/New_York")
    # "Recorded at 09:32:00 04/05/2018 (UTC)": day first, so 4 May 2018
    assert (time.start, time.source, time.time_zone, time.time_zone_assumed) == (
        utc(2018, 5, 4, 9, 32),
        "audiomoth",
        "UTC",
        False,
    )


@needs_audio
def test_corpus_files_without_a_time() -> None:
    for path in sorted(CORPUS_DIR.glob("*.wav")):
        riff = read_riff(path)
        assert riff is not None
        time = find_start_time(riff.meta, path.name, time_zone="UTC")
        if path.name in ("bat_batlogger_312k_guano.wav", "bird_audiomoth_1min_32k.wav"):
            assert time.start is not None
        else:  # e.g. the storm petrel's xeno-canto comment "01:00h, 2021-07-10" is no recorder's time
            assert time.start is None and note(time) == "", path.name


#: OSEkit's hydrophone files: UTC times in their names (MANIFEST.md): five back to back, 20 s gap, five more.
OSEKIT_STARTS = [utc(2022, 9, 25, 22, 34, 50) + timedelta(seconds=10 * i) for i in range(5)] + [
    utc(2022, 9, 25, 22, 36, 0) + timedelta(seconds=10 * i) for i in range(5)
]
#: Song Meter SM4 files: local times (zone not stated), every 15 minutes from 2019-05-22 00:00.
SM4_WALLS = [datetime(2019, 5, 22) + timedelta(minutes=15 * i) for i in range(8)]


@needs_timed
def test_osekit_file_names_give_consecutive_utc_times() -> None:
    paths = sorted((TIMED_DIR / "osekit_consecutive").glob("*.wav"))
    starts = []
    for path in paths:
        local = filename_time(path.name, "sample_%y%m%d_%H%M%S")
        assert local is not None and local.offset is None
        starts.append(local.wall.replace(tzinfo=UTC))
        time = find_start_time({}, path.name, filename_pattern="sample_%y%m%d_%H%M%S", time_zone="UTC")
        assert time.start == starts[-1] and time.source == "filename"
    assert starts == OSEKIT_STARTS
    durations = [soundfile.info(str(p)).frames / soundfile.info(str(p)).samplerate for p in paths]
    assert durations == [10.0] * 10
    ends = [s + timedelta(seconds=d) for s, d in zip(starts, durations, strict=True)]
    gaps = [(b - a).total_seconds() for a, b in zip(ends, starts[1:], strict=False)]
    assert gaps == [0, 0, 0, 0, 20, 0, 0, 0, 0]  # back to back, the 20 s gap, back to back


@needs_timed
def test_sm4_file_names_give_local_times_every_15_minutes() -> None:
    paths = sorted((TIMED_DIR / "sm4").glob("*.wav"))
    walls = []
    for path in paths:
        local = filename_time(path.name, "%Y%m%d_%H%M%S")
        assert local is not None
        walls.append(local.wall)
        # the zone is not stated: no start time unless the user declares one
        assert find_start_time({}, path.name, filename_pattern="%Y%m%d_%H%M%S").start is None
        declared = find_start_time(
            {}, path.name, filename_pattern="%Y%m%d_%H%M%S", time_zone="America/Bogota"
        )
        assert declared.start == (local.wall + timedelta(hours=5)).replace(tzinfo=UTC)
        assert declared.time_zone_assumed and declared.time_zone == "America/Bogota"
        info = soundfile.info(str(path))
        assert info.frames == 10 * info.samplerate  # 10 s (at 22,000 Hz, measured; MANIFEST says 22.05 kHz)
    assert walls == SM4_WALLS


def test_the_result_is_always_a_valid_recording_time(tmp_path: Path) -> None:
    for meta in (guano("2024-06-03T03:37:31Z"), guano("bad"), {}):
        time = find_start_time(meta, "x.wav")
        assert RecordingTime.model_validate(time.model_dump()) == time
