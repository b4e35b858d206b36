"""DAS training data (:mod:`wildzarr.das`): the layout field by field, x and y exact, dtypes, both layouts.

The layout is the one das 0.32's loader reads (``das.io.load``, ``das.npy_dir``;
janclemenslab/das). When ``WILDZARR_DAS_PYTHON`` names a Python with the
``das`` package importable (``pip install --no-deps das "zarr<3" h5py numpy``:
its loader needs no tensorflow), the stores are also loaded by DAS itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zarr
from signals import make_signal

import wildzarr
from wildzarr import das, labels
from wildzarr.annotations import AnnotationSet
from wildzarr.clips import Clips
from wildzarr.errors import ArgumentError, RangeError, RecordingNotFoundError

#: Recording ids of the fixture archive.
A, B, DEEP, SLOW, MONO, EXPANDED = 1, 2, 3, 4, 5, 6


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, np.ndarray]]:
    path = tmp_path_factory.mktemp("das") / "a.zarr"
    arc = wildzarr.open(path)
    sources = {
        A: (make_signal(60_000, 2, 16, seed=1), 48_000),
        B: (make_signal(50_000, 2, 16, seed=2), 48_000),
        DEEP: (make_signal(20_000, 2, 24, seed=3), 48_000),
        SLOW: (make_signal(20_000, 2, 16, seed=4), 44_100),
        MONO: (make_signal(20_000, 1, 16, seed=5), 48_000),
        EXPANDED: (make_signal(20_000, 2, 16, seed=6), 48_000),
    }
    for rid, (data, rate) in sources.items():
        assert arc.add(data, samplerate=rate).id == rid
    arc[EXPANDED].set_start_time(None, time_expansion=10)
    # Segments and events on recordings A and B; class "hum" is declared but never annotated.
    calls = arc.annotations("calls")
    calls.add(
        pd.DataFrame(
            {
                "recording": [A, A, A, A, B, B],
                "channel": pd.array([None, 0, None, None, None, None], dtype="Int64"),
                "start": [1000, 2500, 7000, 30_000, 100, 40_000],
                "stop": [3000, 4000, 7000, 36_000, 900, 40_000],
                "label": ["NOCA", "WOTH", "tick", "NOCA", "WOTH", "tick"],
            }
        )
    )
    calls.declare({"hum": "segment", "tick": "event"})
    arc.annotations("noisy").declare({"noise": "segment", "NOCA": "segment"})
    return path, {rid: data for rid, (data, _) in sources.items()}


def notes(arc: wildzarr.Archive, name: str = "calls") -> AnnotationSet:
    ann = arc.annotations(name)
    if name == "calls":
        assert ann.classes == {"NOCA": "segment", "WOTH": "segment", "hum": "segment", "tick": "event"}
    return ann


def split_clips(arc: wildzarr.Archive) -> Clips:
    df = pd.DataFrame(
        {
            "recording": [A, B, A, A, B],
            "start": [0, 0, 6000, 29_000, 39_000],
            "stop": [5000, 1200, 8000, 37_000, 41_500],
            "split": ["train", "train", "val", "train", "test"],
        }
    )
    return Clips(arc, df)


def zarr_attrs(path: Path) -> dict[str, Any]:
    return json.loads((path / ".zattrs").read_text())


def check_store(
    arc: wildzarr.Archive,
    clips: Clips,
    ann: AnnotationSet,
    splits: dict[str, Any],
    attrs: dict[str, Any],
    classes: list[str],
    *,
    dtype: str | None = None,
    event_width: int = 1,
) -> None:
    """Each split's x is its clips' samples and y their masks, clip after clip, with DAS's attributes."""
    rate = arc[int(clips.df["recording"].iloc[0])].samplerate
    assert attrs["samplerate_x_Hz"] == rate and attrs["samplerate_y_Hz"] == rate
    assert attrs["class_names"] == ["noise", *classes]
    assert attrs["class_types"] == ["segment", *(ann.classes[c] for c in classes)]
    for split, arrays in splits.items():
        rows = clips.df[clips.df["split"] == split] if "split" in clips.df else clips.df
        x, y = np.asarray(arrays["x"]), np.asarray(arrays["y"])
        assert x.shape == (int((rows["stop"] - rows["start"]).sum()), 2)
        assert y.shape == (len(x), 1 + len(classes)) and y.dtype == np.float32
        at = 0
        starts, ends = attrs[f"filename_startsample_{split}"], attrs[f"filename_endsample_{split}"]
        assert len(starts) == len(rows) == len(attrs[f"filename_{split}"])
        for k, (rid, start, stop) in enumerate(
            zip(rows["recording"], rows["start"], rows["stop"], strict=True)
        ):
            n = stop - start
            assert (starts[k], ends[k]) == (at, at + n)
            assert attrs[f"filename_{split}"][k] == arc[rid].info.source.name
            assert np.array_equal(x[at : at + n], arc[rid].read(start, stop, dtype=dtype))
            mask = labels.masks(ann.df, classes, rid, start, stop, event_width=event_width)
            assert np.array_equal(y[at : at + n], mask.astype(np.float32))
            at += n
        clips_attr = attrs["wildzarr"]["clips"][split]
        assert clips_attr == {k: rows[k].tolist() for k in ("recording", "start", "stop")}


def test_zarr_layout_field_by_field(archive: tuple[Path, dict], tmp_path: Path) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    ann = notes(arc)
    clips = split_clips(arc)
    out = das.write_das(clips, tmp_path / "data.zarr", ann)
    assert out == tmp_path / "data.zarr"
    # Zarr format 2 (das 0.32 needs zarr<3): .zgroup / .zarray / .zattrs, nothing of format 3.
    assert json.loads((out / ".zgroup").read_text()) == {"zarr_format": 2}
    assert not list(out.rglob("zarr.json"))
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["test", "train", "val"]
    for split in ("train", "val", "test"):
        for name, dtype, width in (("x", "<i2", 2), ("y", "<f4", 5)):
            meta = json.loads((out / split / name / ".zarray").read_text())
            assert meta["zarr_format"] == 2 and meta["dtype"] == dtype and meta["shape"][1] == width
            assert meta["compressor"]["id"] == "blosc" and meta["order"] == "C"
            assert meta["chunks"] == [min(das.CHUNK_ROWS, meta["shape"][0]), width]
    attrs = zarr_attrs(out)
    classes = ["NOCA", "WOTH", "hum", "tick"]  # clips without labels: every class of the annotations
    group = zarr.open_group(str(out), mode="r", zarr_format=2)
    splits = {s: {"x": group[f"{s}/x"], "y": group[f"{s}/y"]} for s in ("train", "val", "test")}
    check_store(arc, clips, ann, splits, attrs, classes)
    assert attrs["wildzarr"]["x_dtype"] == "int16" and attrs["wildzarr"]["event_width"] == 1
    # Hand-checked labels: train clip 0 is A[0, 5000): NOCA on [1000, 3000), WOTH on [2500, 4000).
    y = group["train/y"][:5000]
    assert y[1000:3000, 1].all() and not y[:1000, 1:].any() and not y[4000:, 1:].any()
    assert y[2500:4000, 2].all() and (y[:, 0] == 1 - y[:, 1:].max(axis=1)).all()
    # val is A[6000, 8000): the event "tick" at 7000 marks one sample.
    assert np.flatnonzero(group["val/y"][:, 4]).tolist() == [1000]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.zarr"]  # no temporary folder left


def test_npy_dir_layout_field_by_field(archive: tuple[Path, dict], tmp_path: Path) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    ann = notes(arc)
    clips = split_clips(arc).label(ann)  # labelled clips: their classes, in their order
    out = clips.to_das(tmp_path / "data.npy", ann, layout="npy_dir", splits=["train", "val"])
    assert sorted(p.name for p in out.iterdir()) == ["attrs.npy", "train", "val"]
    attrs = np.load(out / "attrs.npy", allow_pickle=True).item()  # as das.npy_dir.load reads it
    assert isinstance(attrs, dict)
    splits = {}
    for split in ("train", "val"):
        assert sorted(p.name for p in (out / split).iterdir()) == ["x.npy", "y.npy"]
        splits[split] = {name: np.load(out / split / f"{name}.npy", mmap_mode="r") for name in ("x", "y")}
        assert splits[split]["x"].dtype == np.int16
    subset = Clips(arc, clips.df[clips.df["split"] != "test"])
    check_store(arc, subset, ann, splits, attrs, clips.classes)
    assert "filename_test" not in attrs


def test_float32_and_empty_splits_and_event_width(archive: tuple[Path, dict], tmp_path: Path) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    ann = notes(arc)
    clips = split_clips(arc)
    out = das.write_das(
        clips, tmp_path / "f.zarr", ann, dtype="float32", splits=["val", "train", "extra"], event_width=61
    )
    group = zarr.open_group(str(out), mode="r", zarr_format=2)
    assert list(zarr_attrs(out)["wildzarr"]["clips"]) == ["val", "train", "extra"]
    assert group["extra/x"].shape == (0, 2) and group["extra/y"].shape == (0, 5)
    assert group["val/x"].dtype == np.float32
    splits = {s: {"x": group[f"{s}/x"], "y": group[f"{s}/y"]} for s in ("val", "train")}
    classes = ["NOCA", "WOTH", "hum", "tick"]
    check_store(arc, clips, ann, splits, zarr_attrs(out), classes, dtype="float32", event_width=61)
    # DAS's events_to_probabilities box: 61 samples centred on the event (7000 - 30 ... 7000 + 30).
    assert np.flatnonzero(group["val/y"][:, 4]).tolist() == list(range(1000 - 30, 1000 + 31))
    with pytest.raises(ArgumentError, match="dtype"):
        das.write_das(clips, tmp_path / "h.zarr", ann, dtype="float16")
    with pytest.raises(ArgumentError, match="event_width"):
        das.write_das(clips, tmp_path / "h.zarr", ann, event_width=0)


def test_long_clips_stream_through_small_batches_and_chunks(
    archive: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 3,000 samples and chunks of 7,000 rows: clips are read in pieces and written across chunks.
    monkeypatch.setattr(das, "BATCH_BYTES", 3000 * (2 * 4 + 4 * 5))
    monkeypatch.setattr(das, "CHUNK_ROWS", 7000)
    arc = wildzarr.open(archive[0], mode="r")
    ann = notes(arc)
    clips = Clips(
        arc,
        pd.DataFrame({"recording": [A, B, A], "start": [0, 10, 25_000], "stop": [60_000, 49_990, 38_001]}),
    )
    for layout, name in (("zarr", "long.zarr"), ("npy_dir", "long.npy")):
        out = das.write_das(clips, tmp_path / name, ann, layout=layout)
        if layout == "zarr":
            group = zarr.open_group(str(out), mode="r", zarr_format=2)
            assert group["train/x"].chunks == (7000, 2)
            splits = {"train": {"x": group["train/x"], "y": group["train/y"]}}
            attrs = zarr_attrs(out)
        else:
            splits = {"train": {k: np.load(out / "train" / f"{k}.npy") for k in ("x", "y")}}
            attrs = np.load(out / "attrs.npy", allow_pickle=True).item()
        check_store(arc, clips, ann, splits, attrs, ["NOCA", "WOTH", "hum", "tick"])


def test_clips_must_share_rate_channels_and_dtype(archive: tuple[Path, dict], tmp_path: Path) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    ann = notes(arc)

    def clips_of(*rids: int) -> Clips:
        return Clips(arc, pd.DataFrame({"recording": list(rids), "start": 0, "stop": 1000}))

    for other, message in ((SLOW, "44100 Hz"), (MONO, "1 channels"), (EXPANDED, "time expansion 10")):
        with pytest.raises(ArgumentError, match=rf"clip row 1 \(recording {other}\): .*{message}"):
            das.write_das(clips_of(A, other), tmp_path / "x.zarr", ann)
    with pytest.raises(ArgumentError, match=r"clip row 2 \(recording 3\): stored as int32.*dtype='float32'"):
        das.write_das(clips_of(A, B, DEEP), tmp_path / "x.zarr", ann)
    out = das.write_das(clips_of(A, DEEP), tmp_path / "x.zarr", ann, dtype="float32")
    group = zarr.open_group(str(out), mode="r", zarr_format=2)
    assert np.array_equal(group["train/x"][1000:], arc[DEEP].read(0, 1000, dtype="float32"))
    # The time-expanded recording alone: DAS's rate is the real one, samplerate x time expansion.
    out = das.write_das(clips_of(EXPANDED), tmp_path / "te.npy", ann, layout="npy_dir")
    attrs = np.load(out / "attrs.npy", allow_pickle=True).item()
    assert attrs["samplerate_x_Hz"] == 480_000 and attrs["wildzarr"]["samplerate"] == 48_000


def test_bad_arguments_leave_nothing(archive: tuple[Path, dict], tmp_path: Path) -> None:
    arc = wildzarr.open(archive[0], mode="r")
    ann = notes(arc)
    clips = split_clips(arc)
    with pytest.raises(ArgumentError, match=r"must end in '\.zarr'"):
        das.write_das(clips, tmp_path / "data.npy", ann)
    with pytest.raises(ArgumentError, match=r"must end in '\.npy'"):
        das.write_das(clips, tmp_path / "data.zarr", ann, layout="npy_dir")
    with pytest.raises(ArgumentError, match="layout"):
        das.write_das(clips, tmp_path / "data.zarr", ann, layout="h5")
    (tmp_path / "there.zarr").mkdir()
    with pytest.raises(ArgumentError, match="exists already"):
        das.write_das(clips, tmp_path / "there.zarr", ann)
    past = Clips(arc, pd.DataFrame({"recording": [A, B], "start": [0, 49_000], "stop": [10, 50_001]}))
    with pytest.raises(RangeError, match=r"clip row 1 \(recording 2\): \[49000, 50001\)"):
        das.write_das(past, tmp_path / "data.zarr", ann)
    gone = Clips(arc, pd.DataFrame({"recording": [A, 99], "start": [0, 0], "stop": [10, 10]}))
    with pytest.raises(RecordingNotFoundError):
        das.write_das(gone, tmp_path / "data.zarr", ann)
    with pytest.raises(ArgumentError, match="'noise' is DAS's class 0"):
        das.write_das(clips, tmp_path / "data.zarr", notes(arc, "noisy"))
    with pytest.raises(ArgumentError, match="split"):
        das.write_das(clips, tmp_path / "data.zarr", ann, splits=["train", "train"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["there.zarr"]


DAS_LOADER = """
import hashlib, json, sys
import numpy as np
import das.io, das.npy_dir
out = {}
for path in sys.argv[1:]:
    data = das.io.load(path)  # picks zarr (zarr-python 2) or npy_dir by the ending
    attrs = {k: v for k, v in data.attrs.items() if k != "wildzarr"}
    arrays = {}
    for split in sorted(data):
        for name, value in sorted(data[split].items()):
            value = np.asarray(value[:])
            digest = hashlib.sha256(value.tobytes()).hexdigest()
            arrays[f"{split}/{name}"] = [list(value.shape), value.dtype.str, digest]
    out[path] = {"attrs": attrs, "arrays": arrays}
print(json.dumps(out))
"""


def test_das_own_loader_reads_both_layouts(archive: tuple[Path, dict], tmp_path: Path) -> None:
    python = os.environ.get("WILDZARR_DAS_PYTHON")
    if not python:
        pytest.skip("set WILDZARR_DAS_PYTHON to a Python with das (pip install --no-deps das 'zarr<3' h5py)")
    arc = wildzarr.open(archive[0], mode="r")
    ann = notes(arc)
    clips = split_clips(arc)
    stores = [
        das.write_das(clips, tmp_path / "d.zarr", ann),
        das.write_das(clips, tmp_path / "d.npy", ann, layout="npy_dir", dtype="float32"),
    ]
    done = subprocess.run(
        [python, "-c", DAS_LOADER, *map(str, stores)], capture_output=True, text=True, check=True, timeout=300
    )
    loaded = json.loads(done.stdout)
    for store, expected_dtype in zip(stores, ("<i2", "<f4"), strict=True):
        got = loaded[str(store)]
        ours = (
            zarr_attrs(store)
            if store.suffix == ".zarr"
            else np.load(store / "attrs.npy", allow_pickle=True).item()
        )
        assert got["attrs"] == {k: v for k, v in ours.items() if k != "wildzarr"}
        for split in ("train", "val", "test"):
            rows = clips.df[clips.df["split"] == split]
            x = np.concatenate(
                [
                    arc[r].read(a, b, dtype=None if expected_dtype == "<i2" else "float32")
                    for r, a, b in zip(rows["recording"], rows["start"], rows["stop"], strict=True)
                ]
            )
            shape, dtype, digest = got["arrays"][f"{split}/x"]
            assert shape == list(x.shape) and dtype == expected_dtype
            assert digest == hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
            assert got["arrays"][f"{split}/y"][:2] == [[len(x), 5], "<f4"]
