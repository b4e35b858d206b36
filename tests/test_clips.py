"""Clip tables: sliding windows, windows around annotations, background, labels, masks, splits, reads.

The pure functions (:func:`wildzarr.clips.windows`, :mod:`wildzarr.labels`,
:mod:`wildzarr.splits`) are checked against plain Python references (loops
over samples, exact fractions) on tables built here; the :class:`Clips`
object on real archives with generated recordings, and with the annotation
files of ``../shared/annotations``.
"""

from __future__ import annotations

import math
import pickle
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from signals import make_signal

import wildzarr
from wildzarr import labels, splits
from wildzarr.clips import Clips, around, background, sliding, windows
from wildzarr.errors import ArgumentError, RangeError, RecordingNotFoundError

# -- references ---------------------------------------------------------------------------------


def exact(value: Any) -> Fraction:
    return Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)


def reference_windows(
    recordings: pd.DataFrame, size: Any, hop: Any, seconds: bool, partial: str
) -> list[tuple[int, int, int]]:
    out = []
    for rid, row in recordings.iterrows():
        rate = int(row["samplerate"]) * exact(float(row["time_expansion"]))
        n = math.ceil(exact(size) * rate) if seconds else size
        step = exact(hop) * rate if seconds else Fraction(hop)
        k, last = 0, None
        while math.floor(k * step) + n <= row["samples"]:
            last = math.floor(k * step)
            out.append((int(rid), last, last + n))
            k += 1
        if partial == "shift" and last is not None and last + n < row["samples"]:
            out.append((int(rid), int(row["samples"]) - n, int(row["samples"])))
    return out


def reference_labels(
    clips: pd.DataFrame, ann: pd.DataFrame, classes: list[str], min_overlap: int, min_fraction: Fraction
) -> np.ndarray:
    out = np.zeros((len(clips), len(classes)), dtype=np.uint8)
    for i, c in enumerate(clips.itertuples()):
        for a in ann.itertuples():
            if a.recording != c.recording or a.label not in classes:
                continue
            if "channel" in clips.columns and not pd.isna(a.channel) and a.channel != c.channel:
                continue
            if a.start == a.stop:
                hit = c.start <= a.start < c.stop
            else:
                overlap = min(c.stop, a.stop) - max(c.start, a.start)
                hit = overlap >= max(1, min_overlap) and overlap >= min_fraction * (a.stop - a.start)
            if hit:
                out[i, classes.index(a.label)] = 1
    return out


def reference_mask(
    ann: pd.DataFrame, classes: list[str], rid: int, start: int, stop: int, width: int
) -> np.ndarray:
    out = np.zeros((stop - start, 1 + len(classes)), dtype=np.uint8)
    for a in ann.itertuples():
        if a.recording != rid or a.label not in classes:
            continue
        lo, hi = (
            (a.start, a.stop) if a.start < a.stop else (a.start - width // 2, a.start - width // 2 + width)
        )
        for t in range(max(lo, start), min(hi, stop)):
            out[t - start, 1 + classes.index(a.label)] = 1
    out[:, 0] = out[:, 1:].max(axis=1, initial=0) == 0
    return out


def sample_sets(table: pd.DataFrame) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for r in table.itertuples():
        out.setdefault(int(r.recording), set()).update(range(int(r.start), int(r.stop)))
    return {k: v for k, v in out.items() if v}


def random_annotations(rng: np.random.Generator, n: int, recordings: int, length: int) -> pd.DataFrame:
    start = rng.integers(0, length, n)
    size = np.where(rng.random(n) < 0.3, 0, rng.integers(1, length // 4, n))
    return pd.DataFrame(
        {
            "recording": rng.integers(1, recordings + 1, n).astype(np.int64),
            "channel": pd.array(np.where(rng.random(n) < 0.5, None, rng.integers(0, 2, n)), dtype="Int64"),
            "start": start.astype(np.int64),
            "stop": np.minimum(start + size, length).astype(np.int64),
            "label": rng.choice(["BCCH", "EATO", "NOCA", "WOTH"], n),
        }
    ).sort_values(["recording", "start", "stop", "label"], ignore_index=True)


def random_clips(
    rng: np.random.Generator, n: int, recordings: int, length: int, size: int | None
) -> pd.DataFrame:
    sizes = np.full(n, size) if size else rng.integers(1, length // 3, n)
    start = rng.integers(0, length - sizes + 1)
    return pd.DataFrame(
        {
            "recording": rng.integers(1, recordings + 1, n).astype(np.int64),
            "start": start.astype(np.int64),
            "stop": (start + sizes).astype(np.int64),
        }
    )


def recording_table(samples: list[int], rates: list[int], te: list[float] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "samplerate": rates,
            "channels": 1,
            "samples": samples,
            "time_expansion": te or [1.0] * len(samples),
        },
        index=pd.Index(range(1, len(samples) + 1), name="id"),
    )


# -- sliding windows (pure) -----------------------------------------------------------------


def test_windows_in_samples_drop_and_shift() -> None:
    recordings = recording_table([10, 3, 12], [1000, 1000, 1000])
    table = windows(recordings, 4, 3)
    assert table.to_numpy().tolist() == [[1, 0, 4], [1, 3, 7], [1, 6, 10], [3, 0, 4], [3, 3, 7], [3, 6, 10]]
    shifted = windows(recordings, 4, 3, partial="shift")
    # Recording 1 ends on the grid (no extra window); recording 3's last 2 samples get one ending at 12.
    assert shifted.to_numpy().tolist()[3:] == [[3, 0, 4], [3, 3, 7], [3, 6, 10], [3, 8, 12]]
    assert windows(recordings, 5).to_numpy().tolist() == [[1, 0, 5], [1, 5, 10], [3, 0, 5], [3, 5, 10]]
    assert list(table.dtypes) == [np.int64] * 3
    assert isinstance(table.index, pd.RangeIndex)


@pytest.mark.parametrize(
    ("size", "hop", "seconds"),
    [
        (7, 3, False),
        (5, 5, False),
        (1, 1, False),
        (0.25, 0.1, True),
        (0.0123, 0.0333, True),
        (0.5, 1 / 3, True),
    ],
)
@pytest.mark.parametrize("partial", ["drop", "shift"])
def test_windows_match_the_reference(size: Any, hop: Any, seconds: bool, partial: str) -> None:
    recordings = recording_table(
        [1000, 999, 1, 4410, 30_000], [100, 1000, 44_100, 44_100, 3000], [1, 1, 1, 1, 10]
    )
    if seconds:
        table = windows(recordings, size_s=size, hop_s=hop, partial=partial)  # type: ignore[arg-type]
    else:
        table = windows(recordings, size, hop, partial=partial)  # type: ignore[arg-type]
    expected = reference_windows(recordings, size, hop, seconds, partial)
    assert [tuple(r) for r in table.to_numpy().tolist()] == expected


def test_windows_in_seconds_follow_the_time_rule() -> None:
    # 0.1 s at 44,100 Hz is 4,410 samples (decimal value, not the float's binary one);
    # time expansion 10 at 38,400 Hz stored: 384,000 samples per real second.
    recordings = recording_table([44_100, 384_000], [44_100, 38_400], [1.0, 10.0])
    table = windows(recordings, size_s=0.1, hop_s=0.05)
    first = table[table["recording"] == 1]
    assert (first["stop"] - first["start"]).unique().tolist() == [4410]
    assert first["start"].tolist()[:3] == [0, 2205, 4410]
    second = table[table["recording"] == 2]
    assert (second["stop"] - second["start"]).unique().tolist() == [38_400]
    assert second["start"].tolist()[:3] == [0, 19_200, 38_400]
    # A size that is not a whole number of samples: ceil once per recording, so every window is as long.
    odd = windows(recording_table([100_000], [3000]), size_s=0.0005, hop_s=0.0004)
    assert (odd["stop"] - odd["start"]).unique().tolist() == [2]  # 1.5 samples -> 2
    assert odd["start"].tolist()[:6] == [0, 1, 2, 3, 4, 6]  # floor(k * 1.2)


def test_windows_never_drift_over_long_recordings() -> None:
    # hop_s * rate = 14,685.3 samples: window k starts at floor(k * 14685.3) exactly, also at k = 10**6.
    recordings = recording_table([14_685_300_000 + 4410], [44_100])
    table = windows(recordings, size_s=0.1, hop_s=0.333)
    assert len(table) == 1_000_001
    k = np.array([0, 1, 3, 10, 999_999, 1_000_000])
    assert table["start"].to_numpy()[k].tolist() == [(int(i) * 146_853) // 10 for i in k]


def test_windows_with_huge_denominators_stay_exact() -> None:
    # hop_s with many decimals: k * numerator overflows int64, the exact fallback must agree.
    recordings = recording_table([1_000_000_000], [312_500])
    hop_s = 0.0123456789012345
    table = windows(recordings, size_s=0.01, hop_s=hop_s)
    step = exact(hop_s) * 312_500
    assert len(table) * step.numerator >= 2**62  # beyond the int64 path
    starts = table["start"].to_numpy()
    for k in [0, 1, 2, 1000, 131_072, len(table) // 2, len(table) - 1]:
        assert starts[k] == math.floor(k * step)
    assert math.floor((len(table) - 1) * step) + 3125 <= 1_000_000_000 < math.floor(len(table) * step) + 3125


def test_a_million_windows() -> None:
    recordings = recording_table([260_000_000, 260_000_000, 1_000], [48_000, 48_000, 48_000])
    table = windows(recordings, 1024, 500)
    assert len(table) == 2 * ((260_000_000 - 1024) // 500 + 1)
    assert len(table) > 1_000_000
    assert table["stop"].max() <= 260_000_000
    assert (np.diff(table["start"].to_numpy()[:1000]) == 500).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of size"),
        ({"size": 4, "size_s": 0.1}, "exactly one of size"),
        ({"size": 0}, "size must be an int >= 1"),
        ({"size": 4.0}, "size must be an int >= 1"),
        ({"size": True}, "size must be an int >= 1"),
        ({"size_s": -1.0}, "size_s must be positive"),
        ({"size_s": float("nan")}, "finite"),
        ({"size": 4, "hop": 0}, "hop must be an int >= 1"),
        ({"size": 4, "hop": 2, "hop_s": 0.1}, "at most one of hop"),
        ({"size": 4, "hop_s": 0.0001}, "less than one sample"),
        ({"size": 4, "hop_s": 0}, "hop_s must be positive"),
        ({"size": 4, "partial": "pad"}, "partial must be 'drop' or 'shift'"),
    ],
)
def test_windows_reject_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        windows(recording_table([100], [1000]), **kwargs)


# -- labels (pure) -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("min_overlap", "min_fraction"), [(0, 0.0), (5, 0.0), (0, 0.5), (3, 0.3), (0, 1.0)])
def test_multi_hot_matches_the_reference(seed: int, min_overlap: int, min_fraction: float) -> None:
    rng = np.random.default_rng(seed)
    ann = random_annotations(rng, 60, 3, 400)
    clips = random_clips(rng, 80, 4, 400, None)  # recording 4 has no annotation
    classes = ["BCCH", "EATO", "NOCA"]  # WOTH is left out: its rows are ignored
    hot = labels.multi_hot(clips, ann, classes, min_overlap=min_overlap, min_fraction=min_fraction)
    assert hot.dtype == np.uint8 and hot.shape == (80, 3)
    assert np.array_equal(hot, reference_labels(clips, ann, classes, min_overlap, exact(min_fraction)))
    with_channel = clips.assign(channel=pd.array(rng.integers(0, 2, len(clips)), dtype="Int64"))
    hot = labels.multi_hot(with_channel, ann, classes, min_overlap=min_overlap, min_fraction=min_fraction)
    assert np.array_equal(hot, reference_labels(with_channel, ann, classes, min_overlap, exact(min_fraction)))


def test_multi_hot_rules_at_the_edges() -> None:
    clips = pd.DataFrame({"recording": [1, 1, 1], "start": [0, 100, 200], "stop": [100, 200, 300]})
    ann = pd.DataFrame(
        {
            "recording": [1, 1, 1, 1],
            "channel": pd.array([None, None, None, 1], dtype="Int64"),
            "start": [100, 195, 250, 299],
            "stop": [100, 225, 250, 299],
            "label": ["ev", "seg", "ev", "other"],
        }
    )
    hot = labels.multi_hot(clips, ann, ["ev", "other", "seg"])
    # The event at 100 is in [100, 200), not in [0, 100); the one at 299 is in [200, 300).
    assert hot.tolist() == [[0, 0, 0], [1, 0, 1], [1, 1, 1]]
    # seg [195, 225) lies 5 samples in clip 1 and 25 in clip 2: 6 samples needed drops clip 1.
    assert labels.multi_hot(clips, ann, ["seg"], min_overlap=6)[:, 0].tolist() == [0, 0, 1]
    # Fractions compare exactly: 25 of 30 samples lie in clip 2; 0.1 * 30 is 3, not 3.0000000000000004.
    assert labels.multi_hot(clips, ann, ["seg"], min_fraction=0.8)[:, 0].tolist() == [0, 0, 1]
    edge = pd.DataFrame(
        {
            "recording": [1],
            "channel": pd.array([None], dtype="Int64"),
            "start": [0],
            "stop": [30],
            "label": ["s"],
        }
    )
    three = pd.DataFrame({"recording": [1], "start": [27], "stop": [40]})
    assert labels.multi_hot(three, edge, ["s"], min_fraction=0.1).tolist() == [[1]]
    # Per-recording overlaps (what Clips.label passes from min_overlap_s), and events ignore them.
    overlaps = pd.Series([30], index=pd.Index([1]))
    elsewhere = pd.concat([ann, ann.assign(recording=2)], ignore_index=True)  # no clip of recording 2
    hot = labels.multi_hot(clips, elsewhere, ["ev", "seg"], min_overlap=overlaps)
    assert hot.tolist() == [[0, 0], [1, 0], [1, 0]]
    with pytest.raises(ArgumentError, match="min_overlap is not given for recording"):
        labels.multi_hot(clips, ann, ["seg"], min_overlap=pd.Series([3], index=pd.Index([7])))
    with pytest.raises(ArgumentError, match=r"min_fraction must lie in \[0, 1\]"):
        labels.multi_hot(clips, ann, ["seg"], min_fraction=1.5)
    with pytest.raises(ArgumentError, match="is empty"):
        labels.multi_hot(clips.assign(stop=clips["start"]), ann, ["seg"])
    with pytest.raises(ArgumentError, match="start 9 after stop 3"):
        labels.multi_hot(clips, ann.assign(start=[9, 9, 9, 9], stop=[3, 3, 3, 3]), ["seg"])


def test_labels_work_in_bounded_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    ann = random_annotations(rng, 200, 2, 5000)
    clips = random_clips(rng, 500, 2, 5000, 250)
    classes = ["BCCH", "EATO", "NOCA", "WOTH"]
    whole = labels.multi_hot(clips, ann, classes, min_fraction=0.2)
    marks = labels.clip_masks(clips, ann, classes)
    monkeypatch.setattr(labels, "PAIR_CHUNK", 7)
    assert np.array_equal(labels.multi_hot(clips, ann, classes, min_fraction=0.2), whole)
    assert np.array_equal(labels.clip_masks(clips, ann, classes), marks)


def test_labels_of_many_clips_and_annotations() -> None:
    # 100k clips x 10k annotations over 20 recordings: sorted searches, no double loop.
    rng = np.random.default_rng(3)
    clips = windows(recording_table([2_000_000] * 20, [48_000] * 20), 4000, 400)
    assert len(clips) >= 99_000
    ann = random_annotations(rng, 10_000, 20, 2_000_000)
    classes = ["BCCH", "EATO", "NOCA", "WOTH"]
    hot = labels.multi_hot(clips, ann, classes)
    for i in rng.choice(len(clips), 200, replace=False):
        clip = clips.iloc[[i]]
        mine = ann[ann["recording"] == clip["recording"].iloc[0]]
        assert np.array_equal(hot[[i]], reference_labels(clip, mine, classes, 0, Fraction(0)))


# -- masks (pure) -----------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1, 2, 61])
def test_masks_match_the_reference(width: int) -> None:
    rng = np.random.default_rng(width)
    ann = random_annotations(rng, 40, 2, 600)
    classes = ["BCCH", "EATO", "WOTH"]
    clips = random_clips(rng, 30, 2, 600, 64)
    got = labels.clip_masks(clips, ann, classes, event_width=width)
    assert got.dtype == np.uint8 and got.shape == (30, 64, 4)
    for i, c in enumerate(clips.itertuples()):
        expected = reference_mask(ann, classes, c.recording, c.start, c.stop, width)
        assert np.array_equal(got[i], expected)
        assert np.array_equal(
            labels.masks(ann, classes, c.recording, c.start, c.stop, event_width=width), expected
        )


def test_masks_layout_and_channels() -> None:
    ann = pd.DataFrame(
        {
            "recording": [1, 1, 1],
            "channel": pd.array([None, 1, 0], dtype="Int64"),
            "start": [2, 5, 7],
            "stop": [4, 5, 9],
            "label": ["a", "b", "a"],
        }
    )
    every = labels.masks(ann, ["a", "b"], 1, 0, 10)
    assert every.tolist() == [
        [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0],
        [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0],
    ]  # fmt: skip
    channel_1 = labels.masks(ann, ["a", "b"], 1, 0, 10, channel=1)
    assert channel_1[:, 1].tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0]  # channel 0's segment is not here
    assert channel_1[5].tolist() == [0, 0, 1]
    assert labels.masks(ann, ["a", "b"], 2, 0, 3).tolist() == [[1, 0, 0]] * 3
    with pytest.raises(ArgumentError, match="one size"):
        labels.clip_masks(pd.DataFrame({"recording": [1, 1], "start": [0, 0], "stop": [2, 3]}), ann, ["a"])
    with pytest.raises(ArgumentError, match="event_width"):
        labels.masks(ann, ["a"], 1, 0, 3, event_width=0)


# -- intervals (pure) ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_interval_arithmetic_matches_sets_of_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)

    def intervals(n: int) -> pd.DataFrame:
        start = rng.integers(0, 200, n)
        return pd.DataFrame(
            {"recording": rng.integers(1, 4, n), "start": start, "stop": start + rng.integers(0, 30, n)}
        )

    base, cut = intervals(15), intervals(25)
    merged = labels.merge_intervals(base)
    assert sample_sets(merged) == sample_sets(base)
    assert (merged["start"] < merged["stop"]).all()
    for _, part in merged.groupby("recording"):
        assert (part["start"].to_numpy()[1:] > part["stop"].to_numpy()[:-1]).all()  # disjoint, not touching
    free = labels.subtract_intervals(base, cut)
    holes = sample_sets(cut)
    expected = {r: s - holes.get(r, set()) for r, s in sample_sets(base).items()}
    assert sample_sets(free) == {r: s for r, s in expected.items() if s}
    clips = random_clips(rng, 200, 3, 230, None)
    inside = labels.inside(clips, base)
    spans = sample_sets(base)
    for flag, c in zip(inside, clips.itertuples(), strict=True):
        assert flag == set(range(c.start, c.stop)).issubset(spans.get(c.recording, set()))


# -- splits (pure) ---------------------------------------------------------------------------------


def test_splits_are_stable_when_groups_are_added() -> None:
    fractions = {"train": 0.7, "val": 0.15, "test": 0.15}
    few = [f"site-{i}" for i in range(50)]
    more = [f"site-{i}" for i in range(5000)]
    first = splits.assign(few, fractions, seed=4)
    later = splits.assign(more, fractions, seed=4)
    assert list(later[:50]) == list(first)
    # The realised fractions approach the given ones as groups grow (5,000 groups: within 3 sigma).
    for name, f in fractions.items():
        assert abs(np.mean(later == name) - f) < 3 * math.sqrt(f * (1 - f) / 5000)
    assert list(splits.assign(few, fractions, seed=5)) != list(first)
    # Numbers are hashed by value: an int column that turned float keeps its groups.
    assert list(splits.assign([1, 2, 3], fractions)) == list(
        splits.assign([1.0, 2.0, np.int64(3)], fractions)
    )
    assert splits.group_hash(["3"], 0)[0] != splits.group_hash([3], 0)[0]
    hashes = splits.group_hash(more, 0)
    assert ((hashes >= 0) & (hashes < 1)).all()


def test_split_fractions_are_checked() -> None:
    for bad in [
        {},
        {"train": 0.5},
        {"train": 0.5, "test": 0.6},
        {"": 1.0},
        {"a": -0.5, "b": 1.5},
        {"a": "1"},
    ]:
        with pytest.raises(ArgumentError):
            splits.assign(["x"], bad)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="missing"):
        splits.assign(["x", None], {"a": 1.0})
    with pytest.raises(ArgumentError, match="seed"):
        splits.assign(["x"], {"a": 1.0}, seed="1")  # type: ignore[arg-type]
    assert set(splits.assign(list(range(100)), {"a": 0.0, "b": 1.0})) == {"b"}


def test_leaks_and_summary() -> None:
    table = pd.DataFrame(
        {
            "recording": [1, 1, 2, 3, 3, 4],
            "site": ["A", "A", "A", "B", "B", "C"],
            "split": ["train", "train", "test", "train", "train", None],
        }
    )
    found = splits.leaks(table, "site")
    assert found.index.name == "site"
    assert found.to_dict("index") == {"A": {"test": 1, "train": 2}}
    assert splits.leaks(table, "recording").empty
    assert splits.leaks(table, table["site"].to_numpy()).index.tolist() == ["A"]
    with pytest.raises(ArgumentError, match="no 'split' column"):
        splits.leaks(table.drop(columns="split"), "site")
    with pytest.raises(ArgumentError, match="entries"):
        splits.leaks(table, ["A"])
    summary = splits.summary(table, table["site"], {"train": 0.5, "val": 0.25, "test": 0.25})
    assert summary.index.tolist() == ["train", "val", "test"]
    assert summary["clips"].tolist() == [4, 0, 1]
    assert summary["groups"].tolist() == [2, 0, 1]
    assert summary["clip_fraction"].tolist() == [0.8, 0.0, 0.2]
    assert summary["target"].tolist() == [0.5, 0.25, 0.25]


# -- on an archive -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, np.ndarray]]:
    """Recordings of three sites: 48 kHz mono and stereo, 4.8 kHz with time expansion 10, 32 kHz."""
    path = tmp_path_factory.mktemp("clips") / "a.zarr"
    arc = wildzarr.open(path)
    sources = {}
    for samples, channels, rate, meta in [
        (100_000, 1, 48_000, {"site": "A", "deployment": 1}),
        (60_000, 1, 48_000, {"site": "A", "deployment": 2}),
        (50_000, 2, 48_000, {"site": "B", "deployment": 3}),
        (30_000, 1, 4_800, {"site": "B", "deployment": 3}),
        (20_000, 1, 32_000, {"site": "C", "deployment": 4}),
    ]:
        data = make_signal(samples, channels, 16, seed=samples)
        rec = arc.add(data, samplerate=rate, user_meta=meta)
        sources[rec.id] = data
    arc[4].set_start_time(None, time_expansion=10)
    # "calls": segments and events on recordings 1 and 2; recording 1 reviewed in part, recording 2 whole.
    calls = arc.annotations("calls")
    calls.add(
        {
            "recording": [1, 1, 1, 1, 2, 2],
            "channel": [None, None, 0, None, None, None],
            "start": [1000, 5000, 9000, 30_000, 100, 40_000],
            "stop": [3000, 5000, 9500, 32_000, 900, 40_000],
            "label": ["NOCA", "tick", "WOTH", "NOCA", "WOTH", "tick"],
        }
    )
    calls.mark_reviewed(1, 0, 40_000)
    calls.mark_reviewed(2)
    # "reviewed": extents only, two of them touching.
    extents = arc.annotations("reviewed")
    for rid, start, stop in [(1, 0, 10_000), (1, 10_000, 30_000), (1, 50_000, 55_000), (2, 0, 60_000)]:
        extents.mark_reviewed(rid, start, stop)
    # "edges": annotations at both ends of recording 5.
    arc.annotations("edges").add(
        {
            "recording": [5] * 5,
            "start": [0, 100, 300, 19_999, 0],
            "stop": [0, 100, 300, 19_999, 10],
            "label": "x",
        }
    )
    return path, sources


def test_sliding_over_selected_recordings(archive: tuple[Path, dict[int, np.ndarray]]) -> None:
    path, _ = archive
    arc = wildzarr.open(path, mode="r")
    clips = sliding(arc, 4800, 2400, where="site == 'A'")
    assert set(clips.df["recording"]) == {1, 2}
    assert len(clips) == (100_000 - 4800) // 2400 + 1 + (60_000 - 4800) // 2400 + 1
    assert sliding(arc, 4800, ids=[2, 5]).df["recording"].unique().tolist() == [2, 5]
    assert sliding(arc, 4800, ids=[1, 2, 5], where="site == 'A'").df["recording"].unique().tolist() == [1, 2]
    # 0.1 s is 4,800 samples at 48 kHz and at 4.8 kHz with time expansion 10 (48,000 per real second).
    seconds = sliding(arc, size_s=0.1, hop_s=0.1, where="samplerate * time_expansion == 48000")
    assert seconds.df.groupby("recording")["stop"].max().to_dict() == {
        1: 96_000,
        2: 57_600,
        3: 48_000,
        4: 28_800,
    }
    assert ((seconds.df["stop"] - seconds.df["start"]) == 4800).all()
    shifted = sliding(arc, size_s=0.1, where="samplerate * time_expansion == 48000", partial="shift")
    assert shifted.df.groupby("recording")["stop"].max().to_dict() == {
        1: 100_000,
        2: 60_000,
        3: 50_000,
        4: 30_000,
    }
    assert arc.clips(4800, 2400, where="site == 'A'").df.equals(clips.df)
    with pytest.raises(RecordingNotFoundError):
        sliding(arc, 4800, ids=[99])
    with pytest.raises(ArgumentError, match="does not evaluate"):
        sliding(arc, 4800, where="nonsense ==")


def test_sliding_within_reviewed_extents(archive: tuple[Path, dict[int, np.ndarray]]) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    reviewed = pd.DataFrame(
        {"recording": [1, 1, 1, 2], "start": [0, 10_000, 50_000, 0], "stop": [10_000, 30_000, 55_000, 60_000]}
    )
    extents = arc.annotations("reviewed")
    assert extents.reviewed.equals(labels.merge_intervals(reviewed))  # the set joins touching extents too
    clips = sliding(arc, 4000, 3000, ids=[1, 2, 3], within=extents)
    full = sliding(arc, 4000, 3000, ids=[1, 2, 3])
    assert set(map(tuple, clips.df.to_numpy().tolist())) <= set(map(tuple, full.df.to_numpy().tolist()))
    first = clips.df[clips.df["recording"] == 1]
    # [0, 30,000) is reviewed in two touching extents: the window [9000, 13000) across them counts.
    assert first["start"].tolist() == [*range(0, 26_001, 3000), 51_000]
    assert 3 not in clips.df["recording"].tolist()  # nothing reviewed
    assert len(clips.df[clips.df["recording"] == 2]) == len(full.df[full.df["recording"] == 2])


def test_read_batch_reads_exactly(archive: tuple[Path, dict[int, np.ndarray]]) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    sources = archive[1]
    clips = sliding(arc, 4096, 10_000, ids=[1, 2])
    batch = clips.read_batch()
    assert batch.shape == (len(clips), 4096, 1) and batch.dtype == np.float32
    ints = clips.read_batch([0, 3, 5], dtype="int16")
    for j, i in enumerate([0, 3, 5]):
        r, s, e = clips.df.iloc[i][["recording", "start", "stop"]]
        assert np.array_equal(ints[j], sources[r][s:e])
        assert np.array_equal(batch[i], arc[int(r)].read(s, e, dtype="float32"))
    assert np.array_equal(clips.read(3, dtype="int16"), ints[1])
    out = np.zeros((2, 4096, 1), dtype=np.int16)
    assert clips.read_batch(slice(0, 2), dtype="int16", out=out) is out
    assert np.array_equal(out[0], sources[1][:4096]) and np.array_equal(out[1], sources[1][10_000:14_096])
    # Different channel counts need channels=; a channel column reads one channel per clip.
    mixed = sliding(arc, 4800, 20_000, ids=[1, 3])
    with pytest.raises(ArgumentError, match=r"\[1, 2\] channels: give channels="):
        mixed.read_batch()
    assert mixed.read_batch(channels=[0]).shape == (len(mixed), 4800, 1)
    table = mixed.df.assign(channel=[0] * (len(mixed) - 1) + [1])
    per_channel = Clips(arc, table).read_batch(dtype="int16")
    last = table.iloc[-1]
    assert np.array_equal(per_channel[-1, :, 0], sources[3][last["start"] : last["stop"], 1])
    # Different rates refuse: 48 kHz and 32 kHz; 4.8 kHz x TE 10 equals 48 kHz.
    with pytest.raises(ArgumentError, match="different rates"):
        sliding(arc, 4800, ids=[1, 5]).read_batch()
    assert sliding(arc, 4800, ids=[1, 4]).read_batch().shape[1:] == (4800, 1)
    with pytest.raises(ArgumentError, match="one size"):
        (sliding(arc, 4800, ids=[1]) + sliding(arc, 4000, ids=[1])).read_batch()
    with pytest.raises(ArgumentError, match="no clips"):
        clips.read_batch([])
    with pytest.raises(RangeError):
        Clips(arc, pd.DataFrame({"recording": [5], "start": [19_000], "stop": [21_000]})).read_batch()


def test_clips_pickle_and_combine(archive: tuple[Path, dict[int, np.ndarray]]) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    clips = sliding(arc, 4096, 8192, ids=[1, 2])
    again = pickle.loads(pickle.dumps(clips))
    assert again.df.equals(clips.df) and again.classes == clips.classes
    assert np.array_equal(again.read_batch([0, 4]), clips.read_batch([0, 4]))
    both = clips + sliding(arc, 4096, ids=[5])
    assert len(both) == len(clips) + 20_000 // 4096
    assert both.df.equals(Clips.concat([clips, sliding(arc, 4096, ids=[5])]).df)
    assert isinstance(both.df.index, pd.RangeIndex)
    # df is a copy: changing it leaves the clips as they were.
    view = clips.df
    view.loc[0, "start"] = 7
    assert clips.df.loc[0, "start"] == 0
    picked = clips.sample(5, seed=1)
    keys = list(zip(picked.df["recording"], picked.df["start"], strict=True))
    assert len(picked) == 5 and keys == sorted(keys)  # in table order
    assert set(keys) <= set(zip(clips.df["recording"], clips.df["start"], strict=True))
    assert picked.df.equals(clips.sample(5, seed=1).df) and not picked.df.equals(clips.sample(5, seed=2).df)
    with pytest.raises(ArgumentError):
        clips.sample(len(clips) + 1)
    other = wildzarr.open(archive[0].parent / "other.zarr")
    other.add(make_signal(10_000, 1, 16), samplerate=8000)
    with pytest.raises(ArgumentError, match="cannot combine"):
        clips + sliding(other, 1000)
    with pytest.raises(ArgumentError, match="not a range"):
        Clips(arc, pd.DataFrame({"recording": [1], "start": [5], "stop": [5]}))
    with pytest.raises(ArgumentError, match="no column 'stop'"):
        Clips(arc, pd.DataFrame({"recording": [1], "start": [5]}))


def test_where_joins_the_catalog(archive: tuple[Path, dict[int, np.ndarray]]) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    clips = sliding(arc, 4000)
    site_b = clips.where("site == 'B' and start >= 8000")
    assert set(site_b.df["recording"]) == {3, 4} and site_b.df["start"].min() == 8000
    assert list(site_b.df.columns) == ["recording", "start", "stop"]
    assert len(clips.where("channels == 2")) == 50_000 // 4000
    with pytest.raises(ArgumentError, match="does not evaluate"):
        clips.where("no_such_column > 1")


def test_label_masks_and_splits(archive: tuple[Path, dict[int, np.ndarray]]) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    ann = arc.annotations("calls")
    clips = sliding(arc, 2000, ids=[1, 2]).label(ann)
    assert clips.classes == ["NOCA", "WOTH", "tick"]
    assert list(clips.df.columns) == ["recording", "start", "stop", "NOCA", "WOTH", "tick"]
    assert (clips.df[clips.classes].dtypes == np.uint8).all()
    got = clips.df.set_index(["recording", "start"])[clips.classes]
    assert got.loc[(1, 0)].tolist() == [1, 0, 0] and got.loc[(1, 2000)].tolist() == [1, 0, 0]
    assert got.loc[(1, 4000)].tolist() == [0, 0, 1] and got.loc[(1, 8000)].tolist() == [0, 1, 0]
    assert got.loc[(2, 40_000)].tolist() == [0, 0, 1] and got.loc[(2, 38_000)].tolist() == [0, 0, 0]
    # 0.0125 s at 48 kHz is 600 samples: NOCA [1000, 3000) overlaps [2000, 4000) by 1000, [0, 2000) by 1000.
    strict = clips.label(ann, min_overlap_s=0.025)  # 1,200 samples
    assert strict.df.set_index(["recording", "start"]).loc[(1, 0), "NOCA"] == 0
    half = clips.label(ann, min_fraction=0.6)
    assert half.df.set_index(["recording", "start"]).loc[(1, 30_000), "NOCA"] == 1  # [30000, 32000) inside
    assert half.df.set_index(["recording", "start"]).loc[(1, 2000), "NOCA"] == 0
    assert list(half.df.columns) == list(clips.df.columns)  # labelling again replaces the columns
    with_channel = Clips(
        arc,
        clips.df[["recording", "start", "stop"]].assign(channel=pd.array([1] * len(clips), dtype="Int64")),
    )
    assert with_channel.label(ann).df.set_index(["recording", "start"]).loc[(1, 8000), "WOTH"] == 0
    assert len(clips.where("NOCA == 1")) == 3
    masks = clips.masks(ann, [0, 2, 4])
    assert masks.shape == (3, 2000, 4)
    assert masks[0, 1000:, 1].all() and not masks[0, :1000, 1].any() and masks[0, :1000, 0].all()
    assert masks[1, 1000, 3] == 1 and masks[1, :, 3].sum() == 1  # the event at 5000 in [4000, 6000)
    assert masks[1, 990:1011, 3].sum() == 1 and clips.masks(ann, [2], event_width=21)[0, 990:1011, 3].all()
    # Splits by recording never leak by recording; sites span recordings, so a site may leak.
    by_recording = clips.split(fractions={"train": 0.5, "test": 0.5}, seed=0)
    assert by_recording.leaks(by="recording").empty
    split_of = by_recording.df.groupby("recording")["split"].unique()
    assert all(len(s) == 1 for s in split_of)
    summary = by_recording.split_summary()
    assert summary["clips"].sum() == len(clips) and summary["target"].tolist() == [0.5, 0.5]


def test_splitting_by_recording_leaks_sites(archive: tuple[Path, dict[int, np.ndarray]]) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    clips = sliding(arc, 1000)
    fractions = {"train": 0.5, "test": 0.5}
    seed = next(s for s in range(100) if len(set(splits.assign([1, 2], fractions, s))) == 2)
    by_recording = clips.split(fractions=fractions, seed=seed)
    leaks = by_recording.leaks(by="site")
    assert "A" in leaks.index and (leaks.loc["A"] > 0).all()
    by_site = clips.split("site", fractions=fractions, seed=seed)
    assert by_site.leaks(by="site").empty and by_site.leaks(by="deployment").empty
    assert by_site.split_summary()["groups"].sum() == 3
    assert clips.split("deployment", fractions={"all": 1.0}).df["split"].unique().tolist() == ["all"]
    with pytest.raises(ArgumentError, match="neither a clip column nor a catalog column"):
        clips.split("nothing", fractions=fractions)
    with pytest.raises(ArgumentError, match="by="):
        clips.split_summary()


def test_around_annotations(archive: tuple[Path, dict[int, np.ndarray]]) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    ann = arc.annotations("calls")
    centred = around(arc, ann, 1000)
    centres = ((ann.df["start"] + ann.df["stop"]) // 2).to_numpy()
    assert ((centred.df["stop"] - centred.df["start"]) == 1000).all()
    # The first WOTH on recording 2 ([100, 900)) would start at 0: it fits. Shifted, never shrunk.
    assert centred.df["start"].tolist() == [1500, 4500, 8750, 30_500, 0, 39_500]
    assert (centred.df["start"].to_numpy()[[0, 1, 2, 3, 5]] == centres[[0, 1, 2, 3, 5]] - 500).all()
    jittered = around(arc, ann, size_s=0.02, jitter_s=0.005, seed=3)  # 960 samples, jitter up to 240
    again = around(arc, ann, size_s=0.02, jitter_s=0.005, seed=3)
    assert jittered.df.equals(again.df)
    shift = jittered.df["start"].to_numpy() - (centres - 480)
    assert (np.abs(shift[[0, 1, 2, 3, 5]]) <= 240).all() and shift.any()
    assert not jittered.df.equals(around(arc, ann, size_s=0.02, jitter_s=0.005, seed=4).df)
    only = around(arc, ann, 500, labels="tick")
    assert len(only) == 2
    with pytest.raises(ArgumentError, match="not classes"):
        around(arc, ann, 500, labels=["nope"])
    with pytest.raises(ArgumentError, match="fewer than the clip size"):
        around(arc, ann, 70_000)
    edge = around(arc, arc.annotations("edges"), 4000, jitter_s=0.01, seed=1)
    assert len(edge) == 5
    assert (
        (edge.df["start"] >= 0) & (edge.df["stop"] <= 20_000) & (edge.df["stop"] - edge.df["start"] == 4000)
    ).all()


def test_background_avoids_every_annotation(archive: tuple[Path, dict[int, np.ndarray]]) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    ann = arc.annotations("calls")
    negatives = background(arc, ann, 200, 1500, seed=2)
    assert len(negatives) == 200 and len(negatives.df.drop_duplicates()) == 200
    assert labels.inside(negatives.df, ann.reviewed).all()
    assert not negatives.label(ann).df[["NOCA", "WOTH", "tick"]].to_numpy().any()
    assert negatives.df.equals(background(arc, ann, 200, 1500, seed=2).df)
    assert set(negatives.df["recording"]) == {1, 2}
    # Free room: recording 1 reviewed [0, 40000) minus annotations; windows of 9,000 fit in few places.
    free = labels.subtract_intervals(
        ann.reviewed,
        ann.df[["recording", "start", "stop"]].assign(stop=lambda d: np.maximum(d["stop"], d["start"] + 1)),
    )
    room = int(np.maximum(free["stop"] - free["start"] - 9000 + 1, 0).sum())
    assert len(background(arc, ann, room, 9000)) == room
    with pytest.raises(ArgumentError, match=f"only {room} distinct windows"):
        background(arc, ann, room + 1, 9000)
    anywhere = background(arc, ann, 50, size_s=0.01, within_reviewed=False, seed=0)
    assert set(anywhere.df["recording"]) - {1, 2}
    assert not anywhere.label(ann).df[["NOCA", "WOTH", "tick"]].to_numpy().any()


# -- real annotation files ------------------------------------------------------------------------

#: Annotated recordings beside the project (``../shared/annotations``, MANIFEST.md there).
SHARED_ANNOTATIONS = Path(__file__).resolve().parents[2] / "shared" / "annotations"


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory) -> wildzarr.Archive:
    """The Raven table of Chronister et al. and the Audacity labels of scikit-maad's spinetail, imported.

    Only 9 of the Raven table's 279 selections lie in its 10 s snippet; the other 270 are dropped.
    Both recordings are marked reviewed whole (every call in them is annotated).
    """
    if not SHARED_ANNOTATIONS.is_dir():
        pytest.skip(f"annotation files not found at {SHARED_ANNOTATIONS}")
    raven = SHARED_ANNOTATIONS / "raven_chronister"
    audacity = SHARED_ANNOTATIONS / "audacity_spinetail"
    arc = wildzarr.open(tmp_path_factory.mktemp("field") / "a.zarr")
    chronister = arc.add(raven / "Recording_1_Segment_07-snippet.wav", user_meta={"site": "NY"})
    spinetail = arc.add(audacity / "spinetail.wav", user_meta={"site": "CO"})
    birds = arc.annotations("birds")
    with pytest.warns(wildzarr.annotations.AnnotationWarning, match="dropped 270 of 279"):
        birds.read_raven(
            raven / "Recording_1_Segment_07.Table.1.selections.txt", chronister.id, out_of_range="drop"
        )
    birds.read_audacity(audacity / "spinetail.txt", spinetail.id)
    birds.mark_reviewed(chronister.id)
    birds.mark_reviewed(spinetail.id)
    return arc


def test_real_annotations_label_sliding_windows(field: wildzarr.Archive) -> None:
    birds = field.annotations("birds")
    assert sorted(birds.classes) == ["BCCH", "CRER", "EATO", "NOCA", "SP", "WOTH"]
    clips = field.clips(size_s=1.0, hop_s=0.5)
    # 1 s is 32,000 samples of the 32 kHz snippet (320,001 samples) and 44,100 of spinetail (861,799).
    assert len(clips) == (320_001 - 32_000) // 16_000 + 1 + (861_799 - 44_100) // 22_050 + 1
    labelled = clips.label(birds, min_overlap_s=0.1)
    assert labelled.classes == ["BCCH", "CRER", "EATO", "NOCA", "SP", "WOTH"]
    for rid, least in [(1, 3200), (2, 4410)]:  # 0.1 s in samples
        mine = labelled.df[labelled.df["recording"] == rid]
        expected = reference_labels(mine, birds.df, labelled.classes, least, Fraction(0))
        assert np.array_equal(mine[labelled.classes].to_numpy(), expected)
    # Selection 1 (NOCA) begins at 0.17809591100000002 s = sample 5699; selection 2 (WOTH) at
    # 0.923460279 s = sample 29550, 2,450 samples (0.077 s) before the first window ends.
    first = labelled.df.iloc[0]
    assert first[labelled.classes].to_dict() == {
        "BCCH": 0,
        "CRER": 0,
        "EATO": 0,
        "NOCA": 1,
        "SP": 0,
        "WOTH": 0,
    }
    assert clips.label(birds).df.iloc[0][["NOCA", "WOTH"]].tolist() == [1, 1]
    marks = labelled.masks(birds, [0])[0]
    assert marks.shape == (32_000, 7)
    assert marks.sum(axis=0).tolist() == [5699, 0, 0, 0, 32_000 - 5699, 0, 32_000 - 29_550]
    assert marks[5698].tolist() == [1, 0, 0, 0, 0, 0, 0] and marks[5699].tolist() == [0, 0, 0, 0, 1, 0, 0]
    # Splitting by recording: the sites (one per recording) never leak.
    split = labelled.split(fractions={"train": 0.5, "test": 0.5}, seed=1)
    assert split.leaks(by="site").empty
    summary = split.split_summary()
    assert summary["clips"].sum() == len(clips) and summary["groups"].tolist() == [1, 1]


def test_real_annotations_around_and_background(field: wildzarr.Archive) -> None:
    birds = field.annotations("birds")
    calls = around(field, birds, size_s=1.0, jitter_s=0.1, seed=0)
    table, notes = calls.df, birds.df
    size = table["recording"].map({1: 32_000, 2: 44_100})
    assert ((table["stop"] - table["start"]) == size).all()
    centre = (notes["start"] + notes["stop"]) // 2
    assert ((table["start"] <= centre) & (centre < table["stop"])).all()
    labelled = calls.label(birds)
    assert labelled.df[labelled.classes].to_numpy().sum(axis=1).min() >= 1
    quiet = background(field, birds, 20, size_s=0.25, seed=0)
    assert not quiet.label(birds).df[birds.df["label"].unique().tolist()].to_numpy().any()
    batch = quiet.where("recording == 2").read_batch()
    assert batch.shape[1:] == (11_025, 1) and batch.dtype == np.float32


def test_real_annotations_to_torch_and_das(field: wildzarr.Archive, tmp_path: Path) -> None:
    birds = field.annotations("birds")
    clips = field.clips(size_s=1.0, hop_s=0.5, ids=[2]).label(birds)
    dataset = clips.torch()
    assert len(dataset) == len(clips)
    audio, target = dataset[3]
    assert tuple(audio.shape) == (1, 44_100) and target.tolist() == clips.df.iloc[3][clips.classes].tolist()
    split = clips.split(fractions={"train": 0.5, "test": 0.5}, seed=0)
    written = split.to_das(tmp_path / "birds.zarr", birds)
    assert Path(written).is_dir()
