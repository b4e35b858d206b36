"""Time addressing: the rounding rule, reads by seconds and by UTC time, start times set and corrected,
and reads across recordings by time (``read_time``), on generated signals and the real timed recordings.

Where a start time comes from (GUANO, AudioMoth, bext, file names) is tested in
``test_starttime.py``; here the times are given or taken from the real files.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

import wildzarr
from wildzarr import timebase
from wildzarr.errors import ArgumentError, RangeError, ReadOnlyError

TIMED = Path(__file__).resolve().parents[2] / "shared" / "timed"


# -- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "rate", "start", "stop"),
    [
        (0.1, 44_100, 4410, 4410),  # 0.1 * 44100 = 4410.000000000001 in binary floating point: not 4411
        (5.25, 32_000, 168_000, 168_000),
        (1 / 3, 48_000, 15_999, 16_000),  # 0.3333333333333333 s is 15999.99999999999984 samples
        (0.00001, 48_000, 0, 1),  # inside sample 0: the range covering it ends after it
        (2.5e-5, 96_000, 2, 3),
        (0, 8000, 0, 0),
        (7, 250_000, 1_750_000, 1_750_000),
        (Decimal("0.1"), 44_100, 4410, 4410),
        (Fraction(1, 3), 48_000, 16_000, 16_000),
    ],
)
def test_start_floor_stop_ceil_of_the_decimal_value(
    seconds: object, rate: int, start: int, stop: int
) -> None:
    assert timebase.sample_index(seconds, rate, side="start") == start
    assert timebase.sample_index(seconds, rate, side="stop") == stop


def test_time_expansion_multiplies_the_rate() -> None:
    # A bat call recorded at 384 kHz stored at 38.4 kHz with TE 10: 1 real ms is 384 stored samples.
    assert timebase.sample_index(0.001, 38_400, time_expansion=10) == 384
    assert timebase.seconds_at(384, 38_400, 10) == pytest.approx(0.001)
    assert timebase.samples_per_second(38_400, 10) == 384_000


def test_vectorized_equals_scalar() -> None:
    rng = np.random.default_rng(3)
    seconds = [
        round(float(x), int(d))
        for x, d in zip(rng.uniform(0, 100, 500), rng.integers(0, 7, 500), strict=True)
    ]
    for side in ("start", "stop"):
        many = timebase.sample_indexes(seconds, 44_100, side=side)
        assert many.dtype == np.int64
        assert many.tolist() == [timebase.sample_index(float(s), 44_100, side=side) for s in seconds]


def test_round_trip_of_sample_times() -> None:
    for rate in (8000, 44_100, 48_000, 250_000, 384_000):
        for n in (0, 1, 4409, 4410, 123_456_789, 2**40 + 3):
            seconds = timebase.seconds_at(n, rate)
            assert timebase.sample_index(seconds, rate, side="start") in (n, n - 1)
            assert timebase.sample_index(seconds, rate, side="stop") in (n, n + 1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1.5", None, True])
def test_bad_seconds_are_argument_errors(bad: object) -> None:
    with pytest.raises(ArgumentError):
        timebase.sample_index(bad, 48_000)
    with pytest.raises(ArgumentError, match="position 1"):
        timebase.sample_indexes([0.5, bad], 48_000)


def test_times_need_a_zone() -> None:
    assert timebase.to_utc("2024-06-03T03:37:31+02:00") == pd.Timestamp("2024-06-03T01:37:31Z")
    for naive in ("2024-06-03T03:37:31", pd.Timestamp("2024-06-03")):
        with pytest.raises(ArgumentError, match="no time zone"):
            timebase.to_utc(naive)
    with pytest.raises(ArgumentError, match="not a time"):
        timebase.to_utc("yesterday-ish")


def test_nanoseconds_count() -> None:
    start = pd.Timestamp("2024-01-01T00:00:00Z")
    # 1 ns before sample 1 at 1 MHz is still sample 0; at sample 1 exactly it is 1.
    assert timebase.utc_offset_samples(start + pd.Timedelta(999, "ns"), start, 1_000_000) == 0
    assert timebase.utc_offset_samples(start + pd.Timedelta(1000, "ns"), start, 1_000_000) == 1
    assert timebase.utc_offset_samples(start + pd.Timedelta(1001, "ns"), start, 1_000_000, side="stop") == 2
    assert timebase.utc_offset_samples(start - pd.Timedelta(1, "s"), start, 8000) == -8000


# -- one recording ----------------------------------------------------------------------------


@pytest.fixture
def timed(tmp_path: Path) -> wildzarr.Recording:
    arc = wildzarr.open(tmp_path / "a.zarr")
    data = np.arange(320_000, dtype=np.int16).reshape(-1, 1)
    return arc.add(data, samplerate=32_000, start_time="2018-05-04T09:32:00Z")


def test_reads_by_seconds_follow_the_rule(timed: wildzarr.Recording) -> None:
    rec = timed
    np.testing.assert_array_equal(rec.read(start_s=5.25, stop_s=7.25), rec.read(168_000, 232_000))
    np.testing.assert_array_equal(rec.read(start_s=0.1), rec.read(3200))
    np.testing.assert_array_equal(rec.read(stop_s=1e-6), rec.read(0, 1))  # a part of sample 0 is sample 0
    assert rec.read(start_s=2.0, stop_s=2.0).shape == (0, 1)
    with pytest.raises(RangeError):
        rec.read(start_s=9.0, stop_s=10.5)
    with pytest.raises(ArgumentError, match="one form"):
        rec.read(0, stop_s=1.0)
    with pytest.raises(ArgumentError, match="one form"):
        rec.read(start_s=0.5, stop_time="2018-05-04T09:32:01Z")


def test_reads_by_utc_time(timed: wildzarr.Recording) -> None:
    rec = timed
    assert rec.start_time == pd.Timestamp("2018-05-04T09:32:00Z")
    assert rec.stop_time == pd.Timestamp("2018-05-04T09:32:10Z")
    assert rec.sample_at("2018-05-04T09:32:05.25Z") == 168_000
    assert rec.sample_at("2018-05-04T11:32:05.25+02:00") == 168_000
    assert rec.sample_at(pd.Timestamp("2018-05-04T09:32:05.250031249Z")) == 168_000  # 0.99998 of a sample
    assert rec.sample_at(pd.Timestamp("2018-05-04T09:32:05.250031250Z")) == 168_001
    assert rec.sample_at(rec.stop_time) == rec.samples
    np.testing.assert_array_equal(
        rec.read(start_time="2018-05-04T09:32:05.25Z", stop_time="2018-05-04T09:32:07.25Z"),
        rec.read(168_000, 232_000),
    )
    with pytest.raises(RangeError, match="outside"):
        rec.sample_at("2018-05-04T09:31:59Z")
    with pytest.raises(ArgumentError, match="no time zone"):
        rec.sample_at("2018-05-04T09:32:05")


def test_set_and_correct_the_start_time(timed: wildzarr.Recording, tmp_path: Path) -> None:
    rec = timed
    rec.set_start_time("2018-05-04T10:32:00+01:00", time_expansion=10)
    again = wildzarr.open(tmp_path / "a.zarr", mode="r")[rec.id]
    assert again.start_time == pd.Timestamp("2018-05-04T09:32:00Z")
    assert again.time.source == "user" and again.time_expansion == 10
    # With time expansion 10 the recording lasts 1 real second: 320,000 samples per real second.
    assert again.stop_time == pd.Timestamp("2018-05-04T09:32:01Z")
    np.testing.assert_array_equal(again.read(start_s=0.5, stop_s=0.75), again.read(160_000, 240_000))
    rec.set_start_time(None)
    assert wildzarr.open(tmp_path / "a.zarr")[rec.id].start_time is None
    with pytest.raises(ArgumentError, match="no start time"):
        rec.sample_at("2018-05-04T09:32:05Z")
    with pytest.raises(ArgumentError, match="no time zone"):
        rec.set_start_time("2018-05-04 09:32:00")
    with pytest.raises(ArgumentError, match="positive"):
        rec.set_start_time("2018-05-04T09:32:00Z", time_expansion=0)
    with pytest.raises(ReadOnlyError):
        wildzarr.open(tmp_path / "a.zarr", mode="r")[rec.id].set_start_time("2018-05-04T09:32:00Z")


def test_a_start_time_set_by_another_process_is_read(timed: wildzarr.Recording, tmp_path: Path) -> None:
    code = (
        "import wildzarr\n"
        f"wildzarr.open({str(tmp_path / 'a.zarr')!r})[{timed.id}].set_start_time('2020-01-01T00:00:00Z')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    arc = wildzarr.open(tmp_path / "a.zarr")
    assert arc[timed.id].start_time == pd.Timestamp("2020-01-01T00:00:00Z")
    assert arc.catalog().loc[timed.id, "start_time"] == pd.Timestamp("2020-01-01T00:00:00Z")


def test_the_archive_time_zone(tmp_path: Path) -> None:
    arc = wildzarr.open(tmp_path / "a.zarr")
    assert arc.time_zone is None
    arc.set_time_zone("America/Chicago")
    assert wildzarr.open(tmp_path / "a.zarr", mode="r").time_zone == "America/Chicago"
    with pytest.raises(ArgumentError):
        arc.set_time_zone("Mars/Olympus_Mons")
    assert arc.time_zone == "America/Chicago"
    with pytest.raises(ReadOnlyError):
        wildzarr.open(tmp_path / "a.zarr", mode="r").set_time_zone("UTC")


# -- across recordings ------------------------------------------------------------------------


def test_read_time_across_file_boundaries(tmp_path: Path) -> None:
    """A continuous signal cut into three back-to-back files and one after a gap reads back by time."""
    arc = wildzarr.open(tmp_path / "a.zarr")
    rate = 8000
    signal = np.random.default_rng(5).integers(-9000, 9000, rate * 40, dtype=np.int16).reshape(-1, 1)
    start = pd.Timestamp("2022-09-25T22:34:50Z")
    ids = []
    for k in range(3):
        ids.append(
            arc.add(
                signal[k * 10 * rate : (k + 1) * 10 * rate],
                samplerate=rate,
                start_time=start + pd.Timedelta(seconds=10 * k),
            ).id
        )
    late = arc.add(
        signal[30 * rate :],
        samplerate=rate,
        start_time=start + pd.Timedelta(seconds=50),
        user_meta={"late": 1},
    ).id
    arc.add(signal[:100], samplerate=rate, user_meta={"untimed": 1})  # never in a time read
    slices = arc.read_time("2022-09-25T22:34:55.5Z", "2022-09-25T22:35:15.25Z")
    assert [s.recording for s in slices] == ids
    assert [(s.start, s.stop) for s in slices] == [(44_000, 80_000), (0, 80_000), (0, 42_000)]
    np.testing.assert_array_equal(np.concatenate([s.samples for s in slices]), signal[44_000:202_000])
    assert (
        slices[0].offset_s == 0.0
        and slices[1].offset_s == pytest.approx(4.5)
        and slices[2].offset_s == pytest.approx(14.5)
    )
    assert slices[1].time == start + pd.Timedelta(seconds=10)
    # The gap: nothing from 22:35:20 to 22:35:40; the late file from 22:35:40 on.
    gap = arc.read_time("2022-09-25T22:35:21Z", "2022-09-25T22:35:41Z")
    assert [(s.recording, s.start, s.stop) for s in gap] == [(late, 0, 8000)]
    assert arc.read_time("2022-09-25T22:35:21Z", "2022-09-25T22:35:39Z") == []
    only = arc.read_time("2022-09-25T22:34:00Z", "2022-09-25T23:00:00Z", where="late == 1", dtype="float32")
    assert [s.recording for s in only] == [late] and only[0].samples.dtype == np.float32
    with pytest.raises(ArgumentError, match="before it begins"):
        arc.read_time("2022-09-25T22:35:00Z", "2022-09-25T22:34:00Z")


@pytest.mark.skipif(
    not (TIMED / "osekit_consecutive").is_dir(), reason="the shared timed recordings are not here"
)
def test_read_time_on_the_real_consecutive_hydrophone_files(tmp_path: Path) -> None:
    folder = TIMED / "osekit_consecutive"
    arc = wildzarr.open(tmp_path / "a.zarr")
    files = sorted(folder.glob("*.wav"))
    for path in files:
        rec = arc.add(path, filename_time="sample_%y%m%d_%H%M%S", time_zone="UTC")
        assert rec.time.source == "filename"
    # 22:34:58 to 22:35:03 spans the boundary between the first two files: 2 s + 3 s of 48 kHz.
    slices = arc.read_time("2022-09-25T22:34:58Z", "2022-09-25T22:35:03Z")
    assert [(s.start, s.stop) for s in slices] == [(384_000, 480_000), (0, 144_000)]
    first, _ = soundfile.read(files[0], dtype="int16", always_2d=True)
    second, _ = soundfile.read(files[1], dtype="int16", always_2d=True)
    np.testing.assert_array_equal(
        np.concatenate([s.samples for s in slices]), np.concatenate([first[384_000:], second[:144_000]])
    )
    # The 20 s gap after 22:35:40 holds no recording.
    assert arc.read_time("2022-09-25T22:35:41Z", "2022-09-25T22:35:59Z") == []
    day = arc.read_time("2022-09-25T00:00:00Z", "2022-09-26T00:00:00Z")
    assert len(day) == 10 and sum(len(s.samples) for s in day) == 10 * 480_000
