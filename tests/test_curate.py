"""Curated datasets (:mod:`wildzarr.curate`): specs in CSV and Parquet, checks, materialising, resuming.

Materialising runs real worker processes; resumption is tested by SIGKILL-ing
a real materialising process (and its workers) after some shards are done,
rerunning, and comparing the result byte for byte with an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import zarr
from signals import make_float_signal, make_signal, write_wav

import wildzarr
from wildzarr import labels
from wildzarr.cli import main
from wildzarr.curate import MANIFEST, MARKER, Curation
from wildzarr.errors import ArgumentError, MissingDependencyError

#: Seconds a killed run's shards may take to appear before the test gives up.
TIMEOUT = 300
#: Rows (one shard each) of the specs materialised and killed.
ROWS = 30
START = {1: pd.Timestamp("2024-06-03T03:00:00Z"), 2: pd.Timestamp("2024-06-03T03:00:02Z")}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, np.ndarray]]:
    """1, 2: timed 48 kHz stereo files; 3: TE 10; 4: untimed; 5: shares 1's file name; 6: floats."""
    root = tmp_path_factory.mktemp("curate")
    arc = wildzarr.open(root / "a.zarr")
    data = {
        1: make_signal(96_000, 2, 16, seed=1),
        2: make_signal(72_000, 2, 16, seed=2),
        3: make_signal(40_000, 2, 16, seed=3),
        4: make_signal(30_000, 2, 16, seed=4),
        5: make_signal(30_000, 2, 16, seed=5),
    }
    names = {
        1: "site1_0001.wav",
        2: "site1_0002.wav",
        3: "bat call.wav",
        4: "untimed.wav",
        5: "site1_0001.wav",
    }
    for rid, samples in data.items():
        folder = root / f"src{rid}"
        folder.mkdir()
        write_wav(folder / names[rid], samples, 38_400 if rid == 3 else 48_000)
        rec = arc.add(folder / names[rid], start_time=START.get(rid))
        assert rec.id == rid
    arc[3].set_start_time("2024-06-03T04:00:00Z", time_expansion=10)
    assert arc.add(make_float_signal(20_000, 2, seed=6), samplerate=48_000).id == 6  # float: no FLAC
    return root / "a.zarr", data


SAMPLES = pd.DataFrame(
    {
        "recording": [1, 2, 1, 2, 1],
        "start": [0, 960, 48_000, 30_000, 4800],  # seconds with few decimals: 0, 0.02, 1, 0.625, 0.1
        "stop": [4800, 20_160, 60_000, 40_080, 9600],
        "label": ["NOCA", "WOTH", "noise", "NOCA", "WOTH"],
        "split": ["train", "train", "val", "test", "train"],
        "note": ["a", "b", "c", "d", "e"],
    }
)


def spec_forms() -> dict[str, pd.DataFrame]:
    """The same ranges in samples; in seconds, recording 2 by its file name; as UTC times."""
    by_name = SAMPLES["recording"] == 2  # recording 1's name is shared with recording 5: by id
    seconds = SAMPLES.drop(columns=["start", "stop"]).assign(
        recording=SAMPLES["recording"].where(~by_name),
        file=np.where(by_name, "site1_0002.wav", None),
        start_s=SAMPLES["start"] / 48_000,
        stop_s=SAMPLES["stop"] / 48_000,
    )
    # Nanoseconds rounded towards the inside of each sample range: floor / ceil give the samples back.
    start = SAMPLES["recording"].map(START)
    begin = [
        t + pd.Timedelta(nanoseconds=-(-int(a) * 10**9 // 48_000))
        for t, a in zip(start, SAMPLES["start"], strict=True)
    ]
    end = [
        t + pd.Timedelta(nanoseconds=int(b) * 10**9 // 48_000)
        for t, b in zip(start, SAMPLES["stop"], strict=True)
    ]
    times = SAMPLES.drop(columns=["start", "stop"]).assign(
        start_time=[t.isoformat() for t in begin], stop_time=[t.isoformat() for t in end]
    )
    return {"samples": SAMPLES, "seconds": seconds, "times": times}


@pytest.mark.parametrize("kind", ["csv", "parquet", "frame"])
def test_three_time_forms_in_csv_parquet_and_frames(
    archive: tuple[Path, dict], tmp_path: Path, kind: str
) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    for form, table in spec_forms().items():
        if kind == "csv":
            spec: object = tmp_path / f"{form}.csv"
            table.to_csv(spec, index=False)
        elif kind == "parquet":
            spec = tmp_path / f"{form}.parquet"
            table.to_parquet(spec)
        else:
            spec = table
        cur = Curation.read(spec, arc)  # type: ignore[arg-type]
        assert cur.df["row"].tolist() == [0, 1, 2, 3, 4]
        for column in ("recording", "start", "stop", "label", "split", "note"):
            assert cur.df[column].tolist() == SAMPLES[column].tolist(), (form, column)
        assert cur.df["start"].dtype == np.int64 and cur.classes == ["NOCA", "WOTH"]
        clips = cur.clips()
        assert clips.archive is arc and clips.classes == ["NOCA", "WOTH"]
        assert list(clips.df.columns) == ["recording", "start", "stop", "split", "NOCA", "WOTH"]
        assert clips.df["NOCA"].tolist() == [1, 0, 0, 1, 0] and clips.df["WOTH"].tolist() == [0, 1, 0, 0, 1]


def test_seconds_and_times_follow_the_timebase_rule(archive: tuple[Path, dict]) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    # Recording 3: 38,400 Hz with time expansion 10 = 384,000 samples per real second.
    spec = pd.DataFrame(
        {
            "recording": [3, 3, 1],
            "start_s": [0.01, 0.0000026, 1 / 3],
            "stop_s": [0.02, 0.0000052, 0.5],
            "label": ["bat", "bat", "x"],
        }
    )
    cur = Curation.read(spec, arc)
    # floor(start * rate), ceil(stop * rate), floats at their decimal value.
    assert cur.df[["start", "stop"]].values.tolist() == [[3840, 7680], [0, 2], [15_999, 24_000]]
    times = pd.DataFrame(
        {
            "recording": [3, 1],
            "start_time": ["2024-06-03T04:00:00.01Z", "2024-06-03T05:00:00.5+02:00"],
            "stop_time": ["2024-06-03T06:00:00.0200001+02:00", "2024-06-03T03:00:01Z"],
            "label": ["bat", "x"],
        }
    )
    cur = Curation.read(times, arc)
    assert cur.df[["start", "stop"]].values.tolist() == [[3840, 7681], [24_000, 48_000]]


def errors_of(spec: object, arc: wildzarr.Archive) -> str:
    with pytest.raises(ArgumentError) as info:
        Curation.read(spec, arc)  # type: ignore[arg-type]
    return str(info.value)


def test_bad_rows_are_named(archive: tuple[Path, dict], tmp_path: Path) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    spec = tmp_path / "bad.csv"
    spec.write_text(
        "recording,start,stop,label\n"
        "99,0,10,a\n"  # unknown recording
        "1,0,96001,a\n"  # past the end
        "1,,10,a\n"  # NaN
        "1,0,10,\n"  # no label
        "2,500,500,a\n"  # empty
        "2,1.5,10,a\n"  # not a sample
        "2,-1,10,a\n"  # before the start
        "2,0,10,ok\n"
    )
    message = errors_of(spec, arc)
    assert message.startswith(f"{spec}: 7 bad row(s):")
    for expected in (
        "row 0 (line 2), recording 99: no such recording in the archive",
        "row 1 (line 3), recording 1: range [0, 96001) is outside its samples [0, 96000)",
        "row 2 (line 4), recording 1: start is missing",
        "row 3 (line 5), recording 1: label must be a non-empty text, not nan",
        "row 4 (line 6), recording 2: range [500, 500) is empty",
        "row 5 (line 7), recording 2: start: must be an integer sample, not 1.5",
        "row 6 (line 8), recording 2: range [-1, 10) is outside its samples [0, 72000)",
    ):
        assert expected in message, expected
    assert "row 7" not in message
    files = pd.DataFrame({"file": ["site1_0001.wav", "nope.wav", "site1_0002.wav"], "start": 0, "stop": 1})
    message = errors_of(files.assign(label="a"), arc)
    assert (
        "row 0: recordings [1, 5] have the source file name 'site1_0001.wav'; give its recording id"
        in message
    )
    assert "row 1: no recording has the source file name 'nope.wav'" in message and "row 2" not in message
    both = pd.DataFrame(
        {"recording": [2], "file": ["site1_0001.wav"], "start": [0], "stop": [1], "label": ["a"]}
    )
    assert "row 0, recording 2: file 'site1_0001.wav' is not its source file 'site1_0002.wav'" in errors_of(
        both, arc
    )
    times = pd.DataFrame(
        {
            "recording": [4, 1, 1],
            "start_time": ["2024-06-03T03:00:00Z", "2024-06-03T03:00:00", "2024-06-03T02:59:59Z"],
            "stop_time": ["2024-06-03T03:00:01Z", "2024-06-03T03:00:01Z", "2024-06-03T03:00:01Z"],
            "label": "a",
        }
    )
    message = errors_of(times, arc)
    assert "row 0, recording 4: start_time: the recording has no start time" in message
    assert "row 1, recording 1: start_time: time '2024-06-03T03:00:00' has no time zone" in message
    assert "row 2, recording 1: range [-48000, 48000) is outside" in message
    nan = pd.DataFrame({"recording": [1, 1], "start_s": [0.0, np.nan], "stop_s": [0.1, 0.2], "label": "a"})
    assert "row 1, recording 1: start_s is missing" in errors_of(nan, arc)


def test_missing_columns(archive: tuple[Path, dict], tmp_path: Path) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    good = {"recording": [1], "start": [0], "stop": [10], "label": ["a"]}
    for drop, expected in (
        ("label", "missing column 'label'"),
        ("stop", "missing column 'stop'"),
        ("recording", "needs a column 'recording' (id) or 'file'"),
    ):
        assert expected in errors_of(pd.DataFrame({k: v for k, v in good.items() if k != drop}), arc)
    no_range = pd.DataFrame({"recording": [1], "label": ["a"]})
    assert "needs one pair of columns start/stop" in errors_of(no_range, arc)
    two = pd.DataFrame({**good, "start_s": [0.0], "stop_s": [1.0]})
    assert "found both start/stop and start_s/stop_s" in errors_of(two, arc)
    assert "column 'row' is reserved" in errors_of(pd.DataFrame({**good, "row": [3]}), arc)
    assert "ends in .csv or .parquet" in errors_of(tmp_path / "spec.xlsx", arc)


def test_parquet_needs_pyarrow(
    archive: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    SAMPLES.to_parquet(tmp_path / "spec.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what `import pyarrow` sees without it installed
    with pytest.raises(MissingDependencyError, match=r'pip install "wildzarr\[parquet\]"'):
        Curation.read(tmp_path / "spec.parquet", arc)


def tree(path: Path) -> dict[str, bytes]:
    """Every file below ``path`` by relative name, with its bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_materialise_audio_files_and_manifest(archive: tuple[Path, dict], tmp_path: Path) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    cur = Curation.read(SAMPLES, arc)
    out = cur.materialise(tmp_path / "flac", workers=2, shard_size=2)
    manifest = pd.read_csv(out / MANIFEST)
    assert list(manifest.columns) == [
        "row",
        "path",
        "recording",
        "file",
        "start",
        "stop",
        "label",
        "split",
        "note",
    ]
    assert manifest["path"].tolist() == [
        "000000_site1_0001_0-4800.flac",
        "000001_site1_0002_960-20160.flac",
        "000002_site1_0001_48000-60000.flac",
        "000003_site1_0002_30000-40080.flac",
        "000004_site1_0001_4800-9600.flac",
    ]
    assert manifest["file"].tolist() == ["site1_0001.wav", "site1_0002.wav"] * 2 + ["site1_0001.wav"]
    for row in manifest.itertuples():
        samples, rate = soundfile.read(out / row.path, dtype="int16", always_2d=True)
        assert rate == 48_000 and np.array_equal(samples, arc[row.recording].read(row.start, row.stop))
    assert sorted(p.name for p in out.iterdir()) == sorted([*manifest["path"], MANIFEST, MARKER])
    assert not (tmp_path / "flac.partial").exists()
    # Done: a rerun returns at once, the same files; another spec may not write over it.
    before = tree(out)
    assert cur.materialise(out, workers=2, shard_size=2) == out and tree(out) == before
    with pytest.raises(ArgumentError, match="exists already"):
        Curation.read(SAMPLES.iloc[:2], arc).materialise(out, workers=1)
    with pytest.raises(ArgumentError, match="format"):
        cur.materialise(tmp_path / "x", format="xyz")
    floats = Curation.read(pd.DataFrame({"recording": [1, 6], "start": 0, "stop": 100, "label": "a"}), arc)
    with pytest.raises(ArgumentError, match=r"^row 1, recording 6: FLAC holds integer"):
        floats.materialise(tmp_path / "floats", workers=1, shard_size=1)
    wav = floats.materialise(tmp_path / "floats.wav", format="wav", workers=1)
    samples, _ = soundfile.read(wav / "000001_array_0-100.wav", dtype="float32", always_2d=True)
    assert np.array_equal(samples, arc[6].read(0, 100))


@pytest.mark.parametrize("name", ["set.zarr", "set.npy"])
def test_materialise_das(archive: tuple[Path, dict], tmp_path: Path, name: str) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    cur = Curation.read(SAMPLES, arc)
    out = cur.materialise(tmp_path / name, format="das", workers=2, shard_size=1)
    if name.endswith(".zarr"):
        group = zarr.open_group(str(out), mode="r", zarr_format=2)
        attrs = json.loads((out / ".zattrs").read_text())
        arrays = {f"{s}/{k}": np.asarray(group[f"{s}/{k}"]) for s in ("train", "val", "test") for k in "xy"}
    else:
        attrs = np.load(out / "attrs.npy", allow_pickle=True).item()
        arrays = {f"{s}/{k}": np.load(out / s / f"{k}.npy") for s in ("train", "val", "test") for k in "xy"}
    assert attrs["class_names"] == ["noise", "NOCA", "WOTH"] and attrs["class_types"] == ["segment"] * 3
    assert attrs["samplerate_x_Hz"] == 48_000
    ann = cur.annotations()
    for split in ("train", "val", "test"):
        rows = SAMPLES[SAMPLES["split"] == split]
        x = [
            arc[r].read(a, b) for r, a, b in zip(rows["recording"], rows["start"], rows["stop"], strict=True)
        ]
        y = [
            labels.masks(ann, ["NOCA", "WOTH"], r, a, b)
            for r, a, b in zip(*(rows[c] for c in ("recording", "start", "stop")), strict=True)
        ]
        assert np.array_equal(arrays[f"{split}/x"], np.concatenate(x))
        assert np.array_equal(arrays[f"{split}/y"], np.concatenate(y).astype(np.float32))
    # Rows 0 and 4 touch in recording 1 ([0, 4800) NOCA, [4800, 9600) WOTH): each marks only its own samples.
    train_y = arrays["train/y"]
    assert train_y[:4800, 1].all() and not train_y[:4800, 2].any()
    assert (train_y[:, 0] == 1 - train_y[:, 1:].max(axis=1)).all()
    assert not arrays["val/y"][:, 1:].any()  # the "noise" row: no class
    with pytest.raises(ArgumentError, match=r"ends in \.zarr"):
        cur.materialise(tmp_path / "set.h5", format="das")


CHILD = """
import sys
import wildzarr
from wildzarr.curate import Curation

if __name__ == "__main__":
    archive, spec, out, fmt = sys.argv[1:]
    curation = Curation.read(spec, wildzarr.open(archive, mode="r"))
    curation.materialise(out, format=fmt, workers=2, shard_size=1)
"""


def kill_after_shards(
    script: Path,
    archive: Path,
    spec: Path,
    out: Path,
    fmt: str,
    shards: int,
    *,
    group: bool = True,
    meanwhile: Callable[[], None] | None = None,
) -> list[str]:
    """Run a materialisation in a new session; SIGKILL it once ``shards`` are done.

    ``group``: kill its workers (and forkserver) too, as a crash of the
    machine would; else only the materialising process, and wait until its
    workers have ended by themselves. ``meanwhile`` runs before the kill.
    """
    done = out.with_name(out.name + ".partial") / "shards"
    child = subprocess.Popen(
        [sys.executable, str(script), str(archive), str(spec), str(out), fmt], start_new_session=True
    )
    deadline = time.monotonic() + TIMEOUT
    try:
        while not (done.is_dir() and len(os.listdir(done)) >= shards):
            assert child.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no shards done in time"
            time.sleep(0.002)
        if meanwhile is not None:
            meanwhile()
        if not group:
            child.kill()
            child.wait()
            while alive(child.pid):  # the workers notice that their parent is gone
                assert time.monotonic() < deadline, "workers outlived the materialising process"
                time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group is gone if the run ended by itself
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return sorted(os.listdir(done))


def alive(group: int) -> bool:
    """Whether any process of process group ``group`` is still running."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def random_spec(tmp_path: Path) -> tuple[pd.DataFrame, Path, Path]:
    """A spec of :data:`ROWS` random ranges of recordings 1 and 2, its CSV file, and the child script."""
    rng = np.random.default_rng(3)
    starts = rng.integers(0, 60_000, ROWS)
    spec = pd.DataFrame(
        {
            "recording": rng.integers(1, 3, ROWS),
            "start": starts,
            "stop": starts + rng.integers(2000, 9000, ROWS),
            "label": rng.choice(["NOCA", "WOTH", "noise"], ROWS),
            "split": rng.choice(["train", "val"], ROWS, p=[0.8, 0.2]),
        }
    )
    spec_path = tmp_path / "spec.csv"
    spec.to_csv(spec_path, index=False)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return spec, spec_path, script


@pytest.mark.parametrize("fmt", ["das", "flac"])
def test_resume_after_sigkill_is_byte_identical(archive: tuple[Path, dict], tmp_path: Path, fmt: str) -> None:
    path, _ = archive
    arc = wildzarr.open(path, mode="r")
    _, spec_path, script = random_spec(tmp_path)
    name = "out.zarr" if fmt == "das" else "out"
    out = tmp_path / "killed" / name
    out.parent.mkdir()
    done = kill_after_shards(script, path, spec_path, out, fmt, 3, group=fmt == "das")
    assert 3 <= len(done) < ROWS and not out.exists()
    inodes = {}
    if fmt == "flac":  # a done shard's file becomes the output's file (a hard link): it is not written again
        shard = out.with_name(name + ".partial") / "shards" / done[0]
        inodes = {p.name: p.stat().st_ino for p in shard.iterdir()}
    cur = Curation.read(spec_path, arc)
    cur.materialise(out, format=fmt, workers=2, shard_size=1)
    assert not out.with_name(name + ".partial").exists()
    reference = cur.materialise(tmp_path / "whole" / name, format=fmt, workers=2, shard_size=1)
    assert tree(out) == tree(reference)
    for file, inode in inodes.items():
        assert (out / file).stat().st_ino == inode


def test_leftovers_of_other_runs_are_refused(archive: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = archive
    arc = wildzarr.open(path, mode="r")
    spec, spec_path, script = random_spec(tmp_path)
    cur = Curation.read(spec_path, arc)
    reference = cur.materialise(tmp_path / "whole" / "out.zarr", format="das", workers=2, shard_size=1)
    out = tmp_path / "killed" / "out.zarr"
    out.parent.mkdir()

    def second_run() -> None:
        with pytest.raises(ArgumentError, match="another process is materialising into it now"):
            cur.materialise(out, format="das", workers=1, shard_size=1)

    kill_after_shards(script, path, spec_path, out, "das", 1, meanwhile=second_run)
    other = Curation.read(spec.iloc[:10], arc)
    with pytest.raises(ArgumentError, match="another curation or other options; pass resume=False"):
        other.materialise(out, format="das", workers=2, shard_size=1)
    with pytest.raises(ArgumentError, match="another curation or other options"):
        cur.materialise(out, format="das", workers=2, shard_size=2)
    cur.materialise(out, format="das", workers=2, shard_size=1, resume=False)
    assert tree(out) == tree(reference)


def test_command_line(archive: tuple[Path, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = archive
    spec = tmp_path / "spec.csv"
    SAMPLES.to_csv(spec, index=False)
    assert main(["curate", str(path), str(spec)]) == 0
    assert capsys.readouterr().out == "5 rows checked; classes: NOCA, WOTH\n"
    out = tmp_path / "wav"
    assert main(["curate", str(path), str(spec), str(out), "--format", "wav", "--workers", "1"]) == 0
    assert capsys.readouterr().out.endswith(f"wrote {out}\n")
    assert len(list(out.glob("*.wav"))) == 5
    bad = tmp_path / "bad.csv"
    bad.write_text("recording,start,stop,label\n1,0,99999999,a\n")
    assert main(["curate", str(path), str(bad)]) == 1
    assert "row 0 (line 2), recording 1: range [0, 99999999) is outside" in capsys.readouterr().err
