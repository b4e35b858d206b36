"""Annotation sets: storage, changes by many processes, crashes, damage, imports and exports.

Real files (``../shared/annotations``, MANIFEST.md there): a Raven Pro selection
table of 279 selections of which 9 lie in the 10 s snippet it comes with, and an
Audacity label track of 18 labels with frequency lines. Multi-file Raven tables
and DAS files are written by the tests, from recordings they generate.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import random
import re
import signal
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from archive_helpers import snapshot
from signals import guano_chunk, make_signal, wav_bytes, write_audio_file, write_wav

import wildzarr
from wildzarr.annotations import (
    AnnotationSet,
    AnnotationWarning,
    DamagedAnnotationsError,
    delete_set,
    find_leftovers,
    list_sets,
    open_set,
    remove_leftovers,
)
from wildzarr.annotations.timing import decimals_for, seconds_text
from wildzarr.repair import repair
from wildzarr.timebase import sample_index, samples_per_second
from wildzarr.verify import verify

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SHARED = ROOT.parent / "shared" / "annotations"
RAVEN_DIR = SHARED / "raven_chronister"
RAVEN_WAV = RAVEN_DIR / "Recording_1_Segment_07-snippet.wav"
RAVEN_TABLE = RAVEN_DIR / "Recording_1_Segment_07.Table.1.selections.txt"
AUDACITY_WAV = SHARED / "audacity_spinetail" / "spinetail.wav"
AUDACITY_LABELS = SHARED / "audacity_spinetail" / "spinetail.txt"
COLUMNS = ["recording", "channel", "start", "stop", "label", "low_freq", "high_freq"]


@pytest.fixture(scope="module")
def shared() -> Path:
    """The real annotated recordings; skips when the folder is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"annotated recordings not found at {SHARED}")
    return SHARED


def make_archive(
    tmp_path: Path, *sources: Path | tuple[np.ndarray, int]
) -> tuple[wildzarr.Archive, list[int]]:
    arc = wildzarr.open(tmp_path / "a.zarr")
    ids = []
    for source in sources:
        if isinstance(source, tuple):
            ids.append(arc.add(source[0], samplerate=source[1]).id)
        else:
            ids.append(arc.add(source).id)
    return arc, ids


def stored_sets(archive: Path) -> dict[str, str]:
    """Every file of the archive's annotation sets with the sha256 of its content ({} when there are none)."""
    return snapshot(archive / "_annotations") if (archive / "_annotations").exists() else {}


def tone(seconds: float, samplerate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    return make_signal(int(seconds * samplerate), channels, 16, seed)


def quiet(call: Any, *args: Any, **kwargs: Any) -> Any:
    """``call(...)`` with AnnotationWarnings silenced (the tests that expect them check them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnnotationWarning)
        return call(*args, **kwargs)


# -- the set: names, empty sets, layout -----------------------------------------------------------


def test_set_names_are_checked(tmp_path: Path) -> None:
    arc = wildzarr.open(tmp_path / "a.zarr")
    for good in ("birds", "Birds-2024", "v1.0", "a_b", "7", "-x"):
        assert open_set(arc, good).name == good
    for bad in ("", "_private", ".hidden", "a/b", "a b", "zarr.json", "ü", "x" * 201, None, 3):
        with pytest.raises(wildzarr.ArgumentError):
            open_set(arc, bad)  # type: ignore[arg-type]
    with pytest.raises(wildzarr.ArgumentError):
        delete_set(arc, "../x")


def test_missing_set_is_empty_and_read_only_archives_refuse_writes(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(1, 8000), 8000))
    ann = open_set(arc, "birds")
    assert list(ann.df.columns) == COLUMNS and len(ann.df) == 0 and len(ann) == 0
    assert ann.df.dtypes.astype(str).tolist() == [
        "int64",
        "Int64",
        "int64",
        "int64",
        "str",
        "float64",
        "float64",
    ]
    assert ann.classes == {} and list(ann.reviewed.columns) == ["recording", "start", "stop"]
    assert (
        list_sets(arc) == [] and not (tmp_path / "a.zarr" / "_annotations").exists()
    )  # reading writes nothing
    ann.add({"recording": [rid], "start": [0], "stop": [100], "label": ["x"]})
    read_only = wildzarr.open(tmp_path / "a.zarr", mode="r")
    assert len(open_set(read_only, "birds")) == 1 and len(open_set(read_only, "other").df) == 0
    with pytest.raises(wildzarr.ReadOnlyError, match="birds"):
        open_set(read_only, "birds").add({"recording": [rid], "start": [0], "stop": [1], "label": ["y"]})
    with pytest.raises(wildzarr.ReadOnlyError):
        delete_set(read_only, "birds")


def test_recordings_do_not_see_the_sets_and_verify_and_repair_leave_them(tmp_path: Path) -> None:
    arc, ids = make_archive(tmp_path, (tone(1, 8000), 8000), (tone(1, 8000, seed=1), 8000))
    ann = open_set(arc, "birds")
    ann.add({"recording": ids, "start": [0, 10], "stop": [5, 20], "label": ["a", "b"]})
    before = stored_sets(tmp_path / "a.zarr")
    assert arc.ids() == ids and [r.id for r in arc] == ids
    report = verify(arc)
    assert report.ok and not report.leftovers, [str(f) for f in report.findings]
    repair(arc)
    assert stored_sets(tmp_path / "a.zarr") == before
    assert list_sets(arc) == ["birds"] and len(ann) == 2


# -- adding rows: checks, the time rule, out-of-range rows -------------------------------------------


def test_bad_rows_name_row_and_recording_and_write_nothing(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(1, 8000, channels=2), 8000))
    ann = open_set(arc, "birds")
    ann.add({"recording": [rid], "start": [0], "stop": [10], "label": ["ok"]})
    before = stored_sets(tmp_path / "a.zarr")
    good = {"recording": rid, "start": 0, "stop": 10, "label": "x"}
    cases = [
        ({"recording": 99}, r"row 1: no recording 99"),
        (
            {"stop": 8001},
            rf"1 of 2 rows lie outside their recording: row 1: samples \[0, 8001\) of recording {rid}",
        ),
        ({"start": -1}, r"row 1: samples \[-1, 10\)"),
        ({"start": 8000, "stop": 8000}, r"row 1: samples \[8000, 8000\)"),  # an event past the last sample
        ({"start": 20, "stop": 10}, rf"row 1 \(recording {rid}\): stop 10 is before start 20"),
        ({"start": 1.5}, r"row 1: start must be a whole number"),
        ({"channel": 2}, rf"row 1 \(recording {rid}\): channel 2 does not exist; the recording has 2"),
        ({"label": ""}, r"row 1 .*non-empty string"),
        ({"label": "a\tb"}, r"row 1 .*tab or a line break"),
        ({"low_freq": -5.0}, r"row 1 .*low_freq must be a frequency"),
        ({"low_freq": 500.0, "high_freq": 100.0}, r"row 1 .*above high_freq"),
    ]
    for change, message in cases:
        with pytest.raises(wildzarr.ArgumentError, match=message):
            ann.add([good, {**good, **change}])
    with pytest.raises(wildzarr.ArgumentError, match="lack the column"):
        ann.add({"recording": [rid], "start": [0], "label": ["x"]})
    with pytest.raises(wildzarr.ArgumentError, match="seconds=True"):
        ann.add({"recording": [rid], "begin_s": [0.0], "end_s": [1.0], "label": ["x"]})
    ann.declare({"click": "event"})
    with pytest.raises(wildzarr.ArgumentError, match="'click' is an event"):
        ann.add([{**good, "label": "click"}])
    after_declare = stored_sets(tmp_path / "a.zarr")
    assert before.keys() == after_declare.keys()  # only the set document changed
    assert stored_sets(tmp_path / "a.zarr") == after_declare and len(ann) == 1


def test_seconds_follow_the_time_rule(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(2, 44100), 44100))
    ann = open_set(arc, "birds")
    added = ann.add(
        {
            "recording": [rid] * 3,
            "begin_s": [0.1, "0.10001", 1.5],
            "end_s": [0.2, "0.10001", 1.500001],
            "label": ["seg", "event", "short"],
        },
        seconds=True,
    )
    # 0.1 s is sample 4410 exactly; 0.10001 s is 4410.441 -> the event falls in sample 4410.
    assert added[["start", "stop", "label"]].values.tolist() == [
        [4410, 4410, "event"],
        [4410, 8820, "seg"],
        [66150, 66151, "short"],
    ]
    assert ann.classes == {"event": "event", "seg": "segment", "short": "segment"}


def test_seconds_are_real_seconds_of_time_expanded_recordings(tmp_path: Path) -> None:
    bat = tmp_path / "bat.wav"  # 1 s stored at 38.4 kHz, recorded at 384 kHz: 0.1 real seconds
    bat.write_bytes(
        wav_bytes(tone(1, 38400), 38400, before=[guano_chunk({"GUANO|Version": "1.0", "TE": "10"})])
    )
    arc, (rid,) = make_archive(tmp_path, bat)
    ann = open_set(arc, "bats")
    added = ann.add(
        {"recording": [rid], "begin_s": ["0.001"], "end_s": ["0.0025"], "label": ["call"]}, seconds=True
    )
    assert added[["start", "stop"]].values.tolist() == [[384, 960]]  # 384,000 samples per real second
    with pytest.raises(
        wildzarr.ArgumentError, match=r"samples \[38400, 38784\) of recording .* \(0\.100000 s\)"
    ):
        ann.add({"recording": [rid], "begin_s": [0.1], "end_s": [0.101], "label": ["late"]}, seconds=True)
    ann.write_audacity(tmp_path / "bat.txt", rid)
    assert (tmp_path / "bat.txt").read_text() == "0.001000\t0.002500\tcall\n"
    again = open_set(arc, "again")
    again.read_audacity(tmp_path / "bat.txt")
    pd.testing.assert_frame_equal(again.df, ann.df)


def test_out_of_range_clip_and_drop(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(1, 1000), 1000))
    rows = {
        "recording": [rid] * 4,
        "start": [-5, 10, 990, 1200],
        "stop": [5, 20, 1010, 1300],
        "label": ["a"] * 4,
    }
    ann = open_set(arc, "birds")
    with pytest.raises(
        wildzarr.ArgumentError, match=r"3 of 4 rows lie outside .* 1000 samples \(1\.000000 s\)"
    ):
        ann.add(rows)
    with pytest.warns(AnnotationWarning, match="clipped 2 rows to their recording and dropped 1"):
        ann.add(rows, out_of_range="clip")
    assert ann.df[["start", "stop"]].values.tolist() == [[0, 5], [10, 20], [990, 1000]]
    with pytest.warns(AnnotationWarning, match="dropped 3 of 4"):
        open_set(arc, "other").add(rows, out_of_range="drop")
    assert open_set(arc, "other").df[["start", "stop"]].values.tolist() == [[10, 20]]


def test_exported_seconds_give_back_the_same_samples() -> None:
    rng = np.random.default_rng(1)
    for samplerate, te in [
        (3, 1.0),
        (7, 1.0),
        (32000, 1.0),
        (44100, 1.0),
        (384000, 1.0),
        (38400, 10.0),
        (96000, 0.5),
    ]:
        rate = samples_per_second(samplerate, te)
        decimals = decimals_for(rate)
        for n in [0, 1, 2, *rng.integers(0, 10**9, 500).tolist()]:
            start = seconds_text(n, rate, "start", decimals)
            stop = seconds_text(n + 1, rate, "stop", decimals)
            assert sample_index(float(str(start)), samplerate, time_expansion=te, side="start") == n
            assert sample_index(float(str(stop)), samplerate, time_expansion=te, side="stop") == n + 1
            assert start < stop  # a one-sample segment stays a segment


# -- changing a set ---------------------------------------------------------------------------------


def test_remove_declare_review_replace_clear(tmp_path: Path) -> None:
    arc, ids = make_archive(tmp_path, (tone(1, 8000), 8000), (tone(1, 8000, seed=2), 8000))
    ann = open_set(arc, "birds")
    ann.add(
        {
            "recording": [ids[0], ids[0], ids[1], ids[1]],
            "start": [30, 10, 5, 7],
            "stop": [40, 20, 5, 9],
            "label": ["b", "a", "pulse", "a"],
            "score": [0.5, 0.25, 1.0, 0.75],
        }
    )
    df = ann.df
    assert df[["recording", "start", "label"]].values.tolist() == [
        [ids[0], 10, "a"],
        [ids[0], 30, "b"],
        [ids[1], 5, "pulse"],
        [ids[1], 7, "a"],
    ]
    assert df["score"].tolist() == [0.25, 0.5, 1.0, 0.75]
    assert ann.classes == {"a": "segment", "b": "segment", "pulse": "event"}
    with pytest.raises(wildzarr.ArgumentError, match="'a' is an event"):
        ann.declare({"a": "event"})
    with pytest.raises(wildzarr.ArgumentError, match="kind must be"):
        ann.declare({"a": "blob"})
    ann.declare({"pulse": "event", "song": "segment"})
    assert ann.classes == {"a": "segment", "b": "segment", "pulse": "event", "song": "segment"}
    assert ann.remove(lambda t: t.label == "b") == 1
    assert ann.remove(ann.df[ann.df.start == 7]) == 1
    assert ann.remove((ann.df.label == "pulse").to_numpy()) == 1
    assert ann.df[["recording", "start"]].values.tolist() == [[ids[0], 10]]
    ann.mark_reviewed(ids[0], 0, 100)
    ann.mark_reviewed(ids[0], 50, 300)
    ann.mark_reviewed(ids[1])
    assert ann.reviewed.values.tolist() == [[ids[0], 0, 300], [ids[1], 0, 8000]]
    with pytest.raises(wildzarr.ArgumentError, match=r"\[10, 10\)"):
        ann.mark_reviewed(ids[0], 10, 10)
    with pytest.raises(wildzarr.RecordingNotFoundError):
        ann.mark_reviewed(99)
    ann.replace({"recording": [ids[1]], "start": [1], "stop": [2], "label": ["c"]})
    assert ann.df[["recording", "start", "label"]].values.tolist() == [[ids[1], 1, "c"]]
    assert "song" in ann.classes and len(ann.reviewed) == 2
    assert ann.remove(ids[1]) == 1 and len(ann) == 0
    ann.clear()
    assert len(ann) == 0 and ann.classes == {} and len(ann.reviewed) == 0
    assert list_sets(arc) == ["birds"]
    assert delete_set(arc, "birds") and not delete_set(arc, "birds")
    assert list_sets(arc) == [] and not any((tmp_path / "a.zarr" / "_annotations").glob("birds/*"))


def test_extra_columns_of_several_kinds_combine(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(1, 8000), 8000))
    ann = open_set(arc, "birds")
    ann.add(
        {
            "recording": [rid],
            "start": [0],
            "stop": [1],
            "label": ["a"],
            "n": [3],
            "note": ["hi"],
            "ok": [True],
        }
    )
    ann.add({"recording": [rid], "start": [5], "stop": [6], "label": ["a"], "note": [None], "conf": [0.5]})
    df = ann.df
    assert list(df.columns) == [*COLUMNS, "n", "note", "ok", "conf"]
    assert df["n"].tolist()[0] == 3 and np.isnan(df["n"].tolist()[1]) and df["n"].dtype == np.float64
    assert df["note"].tolist() == ["hi", ""] and df["ok"].dtype == np.float64
    assert np.isnan(df["conf"].tolist()[0]) and df["conf"].tolist()[1] == 0.5


def test_pickles_as_location_and_name(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(1, 8000), 8000))
    ann = open_set(arc, "birds")
    ann.add({"recording": [rid], "start": [0], "stop": [1], "label": ["a"]})
    copy = pickle.loads(pickle.dumps(ann))
    assert isinstance(copy, AnnotationSet) and copy.name == "birds"
    pd.testing.assert_frame_equal(copy.df, ann.df)
    assert len(pickle.dumps(ann)) < 2000


# -- many writers, crashes, damage ------------------------------------------------------------------


def _add_one_by_one(ann: AnnotationSet, rid: int, label: str, count: int, go: Any) -> None:
    """Worker: wait for the start signal, then add ``count`` rows one change at a time."""
    go.wait()
    for i in range(count):
        ann.add({"recording": [rid], "start": [i], "stop": [i + 1], "label": [label]})


def test_two_processes_adding_to_one_set_lose_nothing(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(1, 8000), 8000))
    ann = open_set(arc, "birds")
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    workers = [
        context.Process(target=_add_one_by_one, args=(ann, rid, label, 25, go)) for label in ("x", "y")
    ]
    for worker in workers:
        worker.start()
    go.set()
    for worker in workers:
        worker.join(timeout=600)
        assert worker.exitcode == 0
    df = ann.df
    for label in ("x", "y"):
        assert sorted(df[df.label == label]["start"].tolist()) == list(range(25))
    assert len(df) == 50
    versions = [p.name for p in (tmp_path / "a.zarr" / "_annotations" / "birds").iterdir() if p.is_dir()]
    assert len(versions) == 1 and find_leftovers(arc) == []


def test_threads_adding_to_one_set_on_s3_lose_nothing(s3_url: tuple[str, dict[str, Any]]) -> None:
    url, options = s3_url
    arc = wildzarr.open(f"{url}/archive", storage_options=options)
    rid = arc.add(tone(1, 8000), samplerate=8000).id
    ann = open_set(arc, "birds")

    def add_eight(label: str) -> None:
        for i in range(8):
            ann.add({"recording": [rid], "start": [i], "stop": [i + 1], "label": [label]})

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(add_eight, ["x", "y", "z"]))
    fresh = open_set(wildzarr.open(f"{url}/archive", mode="r", storage_options=options), "birds")
    assert sorted(zip(fresh.df["label"], fresh.df["start"], strict=True)) == [
        (c, i) for c in "xyz" for i in range(8)
    ]
    assert find_leftovers(arc) == [] and delete_set(arc, "birds") and list_sets(arc) == []


_CHILD = """
import sys
import wildzarr
from wildzarr.annotations import open_set
ann = open_set(wildzarr.open({archive!r}), "birds")
print("ready", flush=True)
for i in range({first}, {first} + 100_000):
    ann.add({{"recording": [{rid}], "start": [i], "stop": [i + 1], "label": ["k"]}})
    print(i, flush=True)
"""


def test_sigkill_during_changes_leaves_the_set_as_before(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(30, 8000), 8000))
    ann = open_set(arc, "birds")
    rng = random.Random(3)
    done = 0
    for _ in range(6):
        code = _CHILD.format(archive=str(tmp_path / "a.zarr"), first=done, rid=rid)
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
        assert child.returncode == -signal.SIGKILL
        reported = [int(line) for line in out.split("\n")[:-1]]  # the last line may be cut short
        starts = ann.df["start"].tolist()  # readable: every change was all or nothing
        assert starts == list(range(len(starts)))
        assert len(reported) + done <= len(starts) <= len(reported) + done + 1
        done = len(starts)
    leftovers = find_leftovers(arc)
    assert remove_leftovers(arc) == leftovers and find_leftovers(arc) == []
    versions = [p.name for p in (tmp_path / "a.zarr" / "_annotations" / "birds").iterdir() if p.is_dir()]
    assert len(versions) == 1 and len(ann) == done
    ann.add({"recording": [rid], "start": [done], "stop": [done + 1], "label": ["k"]})
    assert len(ann) == done + 1


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x04
    path.write_bytes(bytes(data))


def test_damaged_set_raises_and_can_be_deleted(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(1, 8000), 8000))
    for name in ("doc", "chunk", "good"):
        open_set(arc, name).add(
            {"recording": [rid, rid], "start": [0, 5], "stop": [3, 9], "label": ["a", "b"]}
        )
    sets = tmp_path / "a.zarr" / "_annotations"
    document = sets / "doc" / "zarr.json"
    _flip(document, document.read_bytes().index(b'"rows":2') + 7)  # 2 -> 6: valid JSON, wrong checksum
    version = next(p for p in (sets / "chunk").iterdir() if p.is_dir())
    chunk = version / "start" / "c" / "0"
    _flip(chunk, len(chunk.read_bytes()) // 2)
    fresh = wildzarr.open(tmp_path / "a.zarr")
    for name, reason in (("doc", "checksum mismatch"), ("chunk", "start")):
        damaged = open_set(fresh, name)
        with pytest.raises(DamagedAnnotationsError, match=f"annotation set '{name}' is damaged: .*{reason}"):
            damaged.df  # noqa: B018
        with pytest.raises(DamagedAnnotationsError):
            damaged.add({"recording": [rid], "start": [0], "stop": [1], "label": ["c"]})
    assert len(open_set(fresh, "good")) == 2
    assert list_sets(fresh) == ["chunk", "doc", "good"]
    assert find_leftovers(fresh) == []  # a damaged document keeps its versions for a repair by hand
    assert delete_set(fresh, "doc") and delete_set(fresh, "chunk")
    assert (
        list_sets(fresh) == ["good"]
        and not any((sets / "doc").glob("*"))
        and not any((sets / "chunk").glob("*"))
    )
    open_set(fresh, "doc").add({"recording": [rid], "start": [0], "stop": [1], "label": ["c"]})
    assert len(open_set(fresh, "doc")) == 1


def test_plain_zarr_recipe_of_the_documentation_reads_the_set(tmp_path: Path) -> None:
    arc, ids = make_archive(tmp_path, (tone(1, 8000, channels=2), 8000), (tone(1, 8000, seed=3), 8000))
    ann = open_set(arc, "birds")
    ann.add(
        {
            "recording": [ids[0], ids[1], ids[0]],
            "channel": [1, None, 0],
            "start": [0, 5, 7],
            "stop": [3, 9, 7],
            "label": ["a", "b", "ü"],
            "low_freq": [100.0, None, 5.0],
            "high_freq": [200.0, None, 50.0],
            "Notes": ["x", "", "y"],
        }
    )
    ann.mark_reviewed(ids[0])
    text = (ROOT / "docs" / "annotations.md").read_text()
    recipe = re.search(r"<!-- plain zarr recipe -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert recipe is not None
    scope: dict[str, Any] = {"archive": str(tmp_path / "a.zarr"), "name": "birds"}
    exec(recipe.group(1), scope)
    pd.testing.assert_frame_equal(scope["df"], ann.df, check_dtype=False)
    assert scope["df"]["channel"].dtype == "Int64"
    pd.testing.assert_frame_equal(scope["reviewed"], ann.reviewed)
    assert scope["classes"] == {}


# -- real files ---------------------------------------------------------------------------------------


def test_real_raven_table(tmp_path: Path, shared: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, RAVEN_WAV)
    ann = open_set(arc, "birds")
    with pytest.raises(
        wildzarr.ArgumentError, match=r"270 of 279 rows lie outside their recording: .*selection 10:"
    ):
        ann.read_raven(RAVEN_TABLE, recording=rid)
    with pytest.raises(
        wildzarr.ArgumentError, match="no recording of the archive was imported from a file named"
    ):
        ann.read_raven(RAVEN_TABLE)  # the table is named after the 5-minute file, not the snippet
    assert stored_sets(tmp_path / "a.zarr") == {} and list_sets(arc) == []
    with pytest.warns(AnnotationWarning, match="dropped 270 of 279"):
        added = ann.read_raven(RAVEN_TABLE, recording=rid, out_of_range="drop")
    df = ann.df
    assert len(added) == 9 and len(df) == 9
    first = df.iloc[0]
    # Selection 1: 0.17809591100000002 s to 3.390418452 s at 32 kHz, channel 1, NOCA, 1340.5-2899.9 Hz.
    assert (first["start"], first["stop"]) == (5699, 108494)
    assert (first["channel"], first["label"], first["low_freq"], first["high_freq"]) == (
        0,
        "NOCA",
        1340.5,
        2899.9,
    )
    assert set(df["label"]) == {"NOCA", "WOTH", "EATO", "BCCH"}
    assert ann.classes == dict.fromkeys(["BCCH", "EATO", "NOCA", "WOTH"], "segment")
    with pytest.warns(AnnotationWarning):
        assert len(open_set(arc, "clipped").read_raven(RAVEN_TABLE, recording=rid, out_of_range="clip")) == 9

    out = tmp_path / "out.Table.1.selections.txt"
    ann.write_raven(out)
    lines = out.read_text().split("\n")
    assert lines[0].split("\t") == [
        "Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)",
        "Annotation",
    ]  # fmt: skip
    assert lines[1].split("\t")[:5] == ["1", "Spectrogram 1", "1", "0.178094", "3.390437"]
    copy = open_set(arc, "copy")
    copy.read_raven(out, recording=rid)
    pd.testing.assert_frame_equal(copy.df, df)


def test_real_audacity_labels(tmp_path: Path, shared: Path) -> None:
    arc, (_, rid) = make_archive(tmp_path, RAVEN_WAV, AUDACITY_WAV)
    ann = open_set(arc, "spinetail")
    ann.read_audacity(AUDACITY_LABELS)  # spinetail.txt -> the recording imported from spinetail.wav
    df = ann.df
    assert len(df) == 18 and set(df["recording"]) == {rid} and df["channel"].isna().all()
    assert set(df["label"]) == {"SP", "CRER"} and df[["low_freq", "high_freq"]].notna().all().all()
    # First label: 0.101385 s to 0.367520 s at 44.1 kHz, 6441.064453 to 12296.577148 Hz.
    assert df.iloc[0][["start", "stop", "label", "low_freq", "high_freq"]].tolist() == [
        4471, 16208, "SP", 6441.064453, 12296.577148,
    ]  # fmt: skip
    out = tmp_path / "labels.txt"
    ann.write_audacity(out, rid)
    lines = out.read_text().split("\n")
    assert lines[0].split("\t") == ["0.101384", "0.367528", "SP"]
    assert lines[1] == "\\\t6441.064453\t12296.577148"
    copy = open_set(arc, "copy")
    copy.read_audacity(out, recording=rid)
    pd.testing.assert_frame_equal(copy.df, df)
    event = open_set(arc, "events")
    event.add({"recording": [rid], "start": [441], "stop": [441], "label": ["tick"], "high_freq": [900.0]})
    event.write_audacity(out, rid)
    assert out.read_text() == "0.010000\t0.010000\ttick\n\\\t-1.000000\t900.0\n"
    again = open_set(arc, "again")
    again.read_audacity(out, recording=rid)
    pd.testing.assert_frame_equal(again.df, event.df)


# -- files written by the tests -----------------------------------------------------------------------


def test_multi_file_raven_tables(tmp_path: Path) -> None:
    folder = tmp_path / "sounds"
    folder.mkdir()
    write_wav(folder / "first.wav", tone(2, 8000, channels=2, seed=1), 8000)
    write_audio_file(folder / "second.flac", tone(3, 8000, channels=2, seed=2), 8000, "flac")
    arc, (first, second) = make_archive(tmp_path, folder / "first.wav", folder / "second.flac")
    table = tmp_path / "both.selections.txt"
    header = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\t"
    header += "Begin File\tFile Offset (s)\tDelta Time (s)\tSpecies\tNotes\n"
    table.write_text(
        header
        + "1\tWaveform 1\t1\t0.5\t0.75\t0\t4000\tfirst.wav\t0.5\t0.25\tAMRO\tfine\n"
        + "1\tSpectrogram 1\t1\t0.5\t0.75\t100\t3000\tfirst.wav\t0.5\t0.25\tAMRO\tfine\n"
        + "2\tSpectrogram 1\t2\t1.9\t2.2\t200\t2000\tfirst.wav\t1.9\t0.3\tBLJA\t\n"  # runs into second.wav
        + "3\tSpectrogram 1\t1\t2.5\t2.5\t300\t300\tsecond.wav\t0.5\t0\tAMRO\tclick\n"
        + "4\tSpectrogram 1\t2\t4.0\t4.5\t150\t900\tC:\\recordings\\second.wav\t2.0\t0.5\tBLJA\t\n"
    )
    ann = open_set(arc, "birds")
    with pytest.warns(AnnotationWarning, match="clipped 1 selections that run past the end of their file"):
        ann.read_raven(table)  # second.wav in the table, second.flac in the archive
    df = ann.df
    assert df[["recording", "channel", "start", "stop", "label", "low_freq"]].values.tolist() == [
        [first, 0, 4000, 6000, "AMRO", 100.0],
        [first, 1, 15200, 16000, "BLJA", 200.0],
        [second, 0, 4000, 4000, "AMRO", 300.0],
        [second, 1, 16000, 20000, "BLJA", 150.0],
    ]
    assert df["Notes"].tolist() == ["fine", "", "click", ""] and df["Delta Time (s)"].tolist()[0] == 0.25
    assert ann.classes == {"AMRO": "segment", "BLJA": "segment"}

    out = tmp_path / "out.txt"
    ann.write_raven(out, [first, second], label_column="Species")
    written = pd.read_csv(out, sep="\t", dtype=str)
    assert written.columns.tolist()[7:10] == ["Begin File", "File Offset (s)", "Species"]
    assert written["Begin File"].tolist() == ["first.wav", "first.wav", "second.flac", "second.flac"]
    for begin, offset, rid in zip(
        written["Begin Time (s)"], written["File Offset (s)"], [first, first, second, second], strict=True
    ):
        shift = (
            Fraction(0) if rid == first else Fraction(2)
        )  # the second file starts at 2 s on the joined timeline
        assert Fraction(begin) == Fraction(offset) + shift
    copy = open_set(arc, "copy")
    copy.read_raven(out)
    pd.testing.assert_frame_equal(copy.df, df)


def test_raven_tables_without_label_column_and_several_tables(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(2, 8000), 8000))
    plain = tmp_path / "plain.txt"
    plain.write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\t"
        "Delta Time (s)\n"
        "1\tSpectrogram 1\t1\t0.1\t0.2\t100\t200\t0.1\n"
    )
    ann = open_set(arc, "birds")
    with pytest.raises(wildzarr.ArgumentError, match="no annotation column to take labels from; pass label="):
        ann.read_raven(plain, recording=rid)
    with pytest.raises(wildzarr.ArgumentError, match="no column 'Species'"):
        ann.read_raven(plain, recording=rid, label_column="Species")
    ann.read_raven([plain, plain], recording=rid, label="call")
    assert (
        ann.df[["start", "stop", "label", "Delta Time (s)"]].values.tolist() == [[800, 1600, "call", 0.1]] * 2
    )


def test_file_names_that_match_several_recordings(tmp_path: Path) -> None:
    for folder, seed in (("a", 1), ("b", 2)):
        (tmp_path / folder).mkdir()
        write_wav(tmp_path / folder / "x.wav", tone(1, 8000, seed=seed), 8000)
    arc, ids = make_archive(tmp_path, tmp_path / "a" / "x.wav", tmp_path / "b" / "x.wav")
    labels = tmp_path / "x.txt"
    labels.write_text("0.1\t0.2\tcall\n")
    ann = open_set(arc, "birds")
    with pytest.raises(wildzarr.ArgumentError, match=rf"'x.txt' matches recordings {ids[0]}, {ids[1]}"):
        ann.read_audacity(labels)
    ann.read_audacity(labels, recording=ids[1])
    ann.read_audacity(labels, recording=lambda name: ids[0] if name == "x.txt" else -1)
    assert sorted(ann.df["recording"]) == ids
    with pytest.raises(wildzarr.ArgumentError, match="no recording 99"):
        ann.read_audacity(labels, recording=99)


def test_das_files(tmp_path: Path) -> None:
    arc, (rid,) = make_archive(tmp_path, (tone(2, 10000), 10000))
    path = tmp_path / "fly1_annotations.csv"
    path.write_text(
        "name,start_seconds,stop_seconds\n"
        "sine,0.5,0.75\n"
        "pulse,0.1,0.1\n"
        "pulse,0.12,0.12\n"
        "sine,1.00003,1.2\n"
        "vibration,,\n"  # an event class without annotations
        "song,nan,0\n"  # a segment class without annotations
    )
    (tmp_path / "fly1_definitions.csv").write_text(
        "sine,segment\npulse,event\nvibration,event\nsong,segment\nx,event\n"
    )
    ann = open_set(arc, "fly")
    ann.read_das(path, recording=rid)
    assert ann.df[["start", "stop", "label"]].values.tolist() == [
        [1000, 1000, "pulse"],
        [1200, 1200, "pulse"],
        [5000, 7500, "sine"],
        [10000, 12000, "sine"],
    ]
    assert ann.classes == {
        "pulse": "event",
        "sine": "segment",
        "song": "segment",
        "vibration": "event",
        "x": "event",
    }
    out = tmp_path / "out_annotations.csv"
    ann.write_das(out, rid)
    assert (tmp_path / "out_definitions.csv").read_text().split("\n")[:2] == ["pulse,event", "sine,segment"]
    written = pd.read_csv(out)
    assert written.columns.tolist() == ["name", "start_seconds", "stop_seconds"]
    assert written[written.name == "song"]["stop_seconds"].tolist() == [0]
    copy = open_set(arc, "copy")
    copy.read_das(out, recording=rid)
    pd.testing.assert_frame_equal(copy.df, ann.df)
    assert copy.classes == ann.classes
    bad = tmp_path / "bad_annotations.csv"
    bad.write_text("name,start_seconds,stop_seconds\npulse,0.1,0.2\n")
    with pytest.raises(wildzarr.ArgumentError, match="'pulse' is an event"):
        copy.read_das(bad, recording=rid, definitions=tmp_path / "fly1_definitions.csv")
    bad.write_text("name,start_seconds,stop_seconds\nsine,0.1,\n")
    with pytest.raises(wildzarr.ArgumentError, match=r"bad_annotations\.csv: row 1: 'sine' starts at 0\.1 s"):
        copy.read_das(bad, recording=rid)
    with pytest.raises(wildzarr.ArgumentError, match=r"_annotations\.csv"):
        copy.write_das(tmp_path / "fly.csv", rid)
