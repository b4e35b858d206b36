"""ClipDataset: exact audio, labels, masks, meta, augmentation, DataLoader workers, pickling, no torch."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from signals import make_signal

import wildzarr
from wildzarr.errors import ArgumentError, RangeError

torch = pytest.importorskip("torch")
from torch.utils.data import ConcatDataset, DataLoader  # noqa: E402

from wildzarr.torchdata import ClipDataset, Spectrogram  # noqa: E402

#: Seconds a DataLoader batch (or a forked child) may take before the test calls it a deadlock.
TIMEOUT = 120
RATE, SAMPLES, WINDOW, HOP = 48_000, 50_000, 4096, 2000
CLASSES = ["bird", "bat", "frog"]
START_TIME = "2026-05-01T04:30:00+00:00"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three stereo 16-bit recordings (ids 1-3, sites A, B, A), recording 2 with a start time, and the
    annotation set "calls" holding :func:`annotation_table`."""
    path = tmp_path_factory.mktemp("torch") / "a.zarr"
    arc = wildzarr.open(path)
    for k in range(3):
        arc.add(make_signal(SAMPLES, 2, 16, seed=10 + k), samplerate=RATE, user_meta={"site": "ABA"[k]})
    arc[2].set_start_time(START_TIME)
    arc.annotations("calls").add(annotation_table()[["recording", "channel", "start", "stop", "label"]])
    return path


def clip_table() -> pd.DataFrame:
    """Sliding clips of WINDOW samples every HOP samples, with three 0/1 class columns and a split."""
    rows = [(r, s, s + WINDOW) for r in (1, 2, 3) for s in range(0, SAMPLES - WINDOW + 1, HOP)]
    df = pd.DataFrame(rows, columns=["recording", "start", "stop"])
    step = df["start"] // HOP
    df["split"] = np.where(df["recording"] == 3, "test", "train")
    df["bird"] = (step % 2 == 0).astype("uint8")
    df["bat"] = (step % 3 == 0).astype("uint8")
    df["frog"] = (1 - df["bird"]).astype("uint8")
    return df


def expected_audio(
    arc: wildzarr.Archive, rid: int, start: int, stop: int, channels: Any = None
) -> np.ndarray:
    """What an item's audio must be: ``rec.read(start, stop, dtype="float32")``, channels first."""
    return arc[rid].read(start, stop, channels=channels, dtype="float32").T


def epoch(ds: Any, batch_size: int, **loader: Any) -> list[Any]:
    """Every batch of one epoch through a DataLoader (no shuffling)."""
    if loader.get("num_workers", 0):
        loader.setdefault("timeout", TIMEOUT)
    return list(DataLoader(ds, batch_size=batch_size, **loader))


def check_epoch(arc: wildzarr.Archive, df: pd.DataFrame, batches: list[Any], classes: list[str]) -> None:
    """Every item of an epoch of ("audio", "label", "meta") batches equals the table and ``rec.read``."""
    seen = []
    for audio, label, meta in batches:
        assert audio.dtype == torch.float32 and label.dtype == torch.float32
        for k, index in enumerate(meta["index"].tolist()):
            row = df.iloc[index]
            assert (meta["recording"][k], meta["start"][k]) == (row["recording"], row["start"])
            want = expected_audio(arc, int(row["recording"]), int(row["start"]), int(row["stop"]))
            assert np.array_equal(audio[k].numpy(), want)
            assert label[k].tolist() == [float(row[c]) for c in classes]
            seen.append(index)
    assert seen == list(range(len(df)))


# -- items ----------------------------------------------------------------------------------------


def test_every_item_is_the_exact_audio_and_labels(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table()
    ds = ClipDataset(arc, df, outputs=("audio", "label", "meta"), meta=("index", "recording", "start"))
    assert len(ds) == len(df) and ds.classes == CLASSES and ds.window == WINDOW
    check_epoch(arc, df, epoch(ds, 32), CLASSES)
    audio, label, meta = ds[-1]  # __getitem__ alone, counting from the end
    row = df.iloc[-1]
    assert meta == {"index": len(df) - 1, "recording": 3, "start": int(row["start"])}
    assert audio.shape == (2, WINDOW) and np.array_equal(
        audio.numpy(), expected_audio(arc, 3, *row[["start", "stop"]])
    )
    assert label.tolist() == [float(row[c]) for c in CLASSES]
    for bad in (len(df), -len(df) - 1):
        with pytest.raises(RangeError, match=f"index {bad} is outside the dataset of {len(df)} clips"):
            ds[bad]
    with pytest.raises(ArgumentError, match="must be an integer"):
        ds["1"]  # type: ignore[index]


def test_selected_channels_and_single_outputs(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table().head(10)
    ds = ClipDataset(arc, df, outputs="audio", channels=[1])
    items = ds.__getitems__([3, 0, 3])
    for item, index in zip(items, [3, 0, 3], strict=True):
        row = df.iloc[index]
        assert item.shape == (1, WINDOW)
        assert np.array_equal(item.numpy(), expected_audio(arc, 1, row["start"], row["stop"], channels=[1]))
    mono = DataLoader(ClipDataset(arc, df, outputs="audio", channels=0), batch_size=4)
    assert next(iter(mono)).shape == (4, 1, WINDOW)


def test_targets(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table()
    single = ClipDataset(arc, df, classes=["bird", "frog"], target="index", outputs="label")
    labels = next(iter(DataLoader(single, batch_size=len(df))))
    assert labels.dtype == torch.int64 and labels.tolist() == (1 - df["bird"]).tolist()
    with pytest.raises(ArgumentError, match=r'target="index" needs exactly one class per clip: row 0 has 2'):
        ClipDataset(arc, df, target="index")
    unlabelled = ClipDataset(arc, df[["recording", "start", "stop"]], target=None)
    assert unlabelled.outputs == ("audio",) and unlabelled.classes == []
    assert unlabelled[0].shape == (2, WINDOW)
    with pytest.raises(ArgumentError, match='outputs has "label" but target is None'):
        ClipDataset(arc, df, target=None, outputs=("audio", "label"))


def test_bad_tables_and_options_are_refused(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table()
    uneven = df.copy()
    uneven.loc[5, "stop"] += 1
    with pytest.raises(ArgumentError, match=r"row 5 \(recording 1\) is \[10000, 14097\); every clip must"):
        ClipDataset(arc, uneven)
    with pytest.raises(ArgumentError, match="has no 'start' column"):
        ClipDataset(arc, df.drop(columns="start"))
    wrong = df.copy()
    wrong.loc[2, "bat"] = 2
    with pytest.raises(ArgumentError, match="row 2, class 'bat' is 2, not 0 or 1"):
        ClipDataset(arc, wrong)
    with pytest.raises(ArgumentError, match=r"classes \['owl'\] are not columns"):
        ClipDataset(arc, df, classes=["owl"])
    with pytest.raises(ArgumentError, match="'image' is not one of"):
        ClipDataset(arc, df, outputs=("audio", "image"))
    with pytest.raises(ArgumentError, match="give annotations="):
        ClipDataset(arc, df, outputs="mask")
    with pytest.raises(ArgumentError, match="background clips hold 100 samples, the clips 4096"):
        ClipDataset(arc, df, background=pd.DataFrame({"recording": [1], "start": [0], "stop": [100]}))
    with pytest.raises(ArgumentError, match="gain_db must be finite with low <= high"):
        ClipDataset(arc, df, gain_db=(3.0, -3.0))
    with pytest.raises(ArgumentError, match="jitter must be a non-negative integer"):
        ClipDataset(arc, df, jitter=-1)
    with pytest.raises(ArgumentError, match=r"meta \['owl'\] are neither built in"):
        ClipDataset(arc, df, meta=("owl",))
    outside = df.copy()
    outside.loc[0, ["start", "stop"]] = [SAMPLES - 100, SAMPLES - 100 + WINDOW]
    ds = ClipDataset(arc, outside)
    with pytest.raises(RangeError, match="recording 1"):
        ds[0]


# -- spectrograms, masks, meta --------------------------------------------------------------------


def test_spectrogram_is_stft_in_dbfs(archive: Path) -> None:
    n_fft, hop = 512, 128
    t = torch.arange(8192, dtype=torch.float32)
    sine = torch.sin(2 * torch.pi * 32 * t / n_fft)  # bin 32 exactly, full scale
    spec = Spectrogram(n_fft=n_fft, hop_length=hop)(sine[None, None])
    assert spec.shape == (1, 1, n_fft // 2 + 1, 1 + 8192 // hop) and spec.dtype == torch.float32
    middle = spec[0, 0, :, 8:-8]
    assert torch.all(middle.argmax(dim=0) == 32)
    assert torch.allclose(middle[32], torch.zeros(()), atol=0.01)  # a full-scale sine reads 0 dBFS
    assert float(spec.min()) >= -120.0
    arc = wildzarr.open(archive, mode="r")
    df = clip_table()
    ds = ClipDataset(arc, df, outputs=("spectrogram", "audio"), spectrogram=Spectrogram(n_fft=n_fft))
    got, audio = ds[4]
    assert got.shape == (2, 257, 1 + WINDOW // 128)
    want = Spectrogram(n_fft=n_fft)(torch.from_numpy(expected_audio(arc, 1, 8000, 8000 + WINDOW).copy()))
    assert torch.equal(got, want) and torch.equal(
        audio, torch.from_numpy(expected_audio(arc, 1, 8000, 12096))
    )
    with pytest.raises(ArgumentError, match='spectrogram= is given but outputs has no "spectrogram"'):
        ClipDataset(arc, df, spectrogram=Spectrogram())


def first_difference(audio: torch.Tensor) -> torch.Tensor:
    """A user spectrogram callable: anything mapping (batch, channels, samples) to 4 dimensions."""
    return torch.diff(audio, dim=-1)[..., None, :]


def test_a_user_spectrogram_callable_gets_the_batch(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    ds = ClipDataset(arc, clip_table(), outputs="spectrogram", target=None, spectrogram=first_difference)
    batch = next(iter(DataLoader(ds, batch_size=3)))
    want = np.diff(expected_audio(arc, 1, 2000, 2000 + WINDOW), axis=-1)[:, None, :]
    assert batch.shape == (3, 2, 1, WINDOW - 1) and np.array_equal(batch[1].numpy(), want)


def annotation_table() -> pd.DataFrame:
    """Annotations in AnnotationSet.df's layout: segments, an event, one on channel 1 only."""
    return pd.DataFrame(
        {
            "recording": np.array([1, 1, 1, 2, 2], dtype=np.int64),
            "channel": pd.array([pd.NA, pd.NA, 1, pd.NA, 0], dtype="Int64"),
            "start": np.array([1000, 3000, 5000, 2500, 100], dtype=np.int64),
            "stop": np.array([2500, 3000, 9000, 40000, 200], dtype=np.int64),
            "label": ["bird", "bat", "frog", "bird", "frog"],
            "low_freq": np.nan,
            "high_freq": np.nan,
        }
    )


def expected_mask(
    ann: pd.DataFrame, classes: list[str], rid: int, start: int, stop: int, channel: Any = None
):
    """Per-sample marks counted one annotation at a time (noise row first)."""
    mask = np.zeros((len(classes) + 1, stop - start), dtype=np.float32)
    for row in ann.itertuples():
        if row.recording != rid or row.label not in classes:
            continue
        if channel is not None and not pd.isna(row.channel) and row.channel != channel:
            continue
        a, b = (row.start, row.stop + 1) if row.start == row.stop else (row.start, row.stop)
        a, b = max(a, start) - start, min(b, stop) - start
        if a < b:
            mask[classes.index(row.label) + 1, a:b] = 1
    mask[0] = mask[1:].max(axis=0) == 0
    return mask


def test_masks_follow_the_annotations(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df, ann = clip_table(), annotation_table()
    ds = ClipDataset(arc, df, outputs=("mask", "meta"), annotations=ann, meta=("recording", "start", "stop"))
    batches = epoch(ds, 16)
    checked = 0
    for masks, meta in batches:
        assert masks.dtype == torch.float32 and masks.shape[1:] == (len(CLASSES) + 1, WINDOW)
        for k in range(len(masks)):
            rid, a, b = (int(meta[key][k]) for key in ("recording", "start", "stop"))
            assert np.array_equal(masks[k].numpy(), expected_mask(ann, CLASSES, rid, a, b))
            checked += 1
    assert checked == len(df)
    first = batches[0][0][0].numpy()  # clip [0, 4096) of recording 1: bird 1000-2500, the bat event at 3000
    assert first[1, 999:1001].tolist() == [0, 1] and first[2, 3000] == 1 and first[2].sum() == 1
    assert first[3].sum() == 0 and first[0, :999].all()  # the frog starts at 5000, after this clip
    one_channel = ClipDataset(arc, df, outputs="mask", target=None, annotations=ann, channels=[0])
    got = one_channel[
        2
    ].numpy()  # recording 1 [4000, 8096): the frog of channel 1 does not count on channel 0
    assert np.array_equal(got, expected_mask(ann, CLASSES, 1, 4000, 8096, channel=0)) and got[3].sum() == 0
    wide = ClipDataset(arc, df, outputs="mask", annotations=ann, target=None, event_width=5)[1]
    assert np.flatnonzero(wide[2].numpy()).tolist() == [
        998,
        999,
        1000,
        1001,
        1002,
    ]  # the event at 3000 - 2000


def test_meta_from_the_clips_and_the_catalog(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table()
    ds = ClipDataset(arc, df, outputs="meta", meta=("recording", "split", "site", "start_time", "samplerate"))
    item = ds[len(df) // 2]
    row = df.iloc[len(df) // 2]
    assert item == {
        "recording": int(row["recording"]),
        "split": row["split"],
        "site": "B",
        "start_time": pd.Timestamp(START_TIME).isoformat(),
        "samplerate": RATE,
    }
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["site"] == ["A"] * 4 and batch["start_time"] == [""] * 4  # recording 1 has no start time
    assert batch["samplerate"].tolist() == [RATE] * 4


# -- augmentation ---------------------------------------------------------------------------------


def offset_by_index(audio: torch.Tensor, meta: dict[str, Any]) -> torch.Tensor:
    """A transform hook: adds the item's index (checks the hook sees each item and its meta)."""
    return audio + meta["index"]


def augmented(arc: wildzarr.Archive, seed: int = 7, **options: Any) -> ClipDataset:
    background = clip_table().iloc[[3, 40]][["recording", "start", "stop"]]
    return ClipDataset(
        arc,
        clip_table(),
        outputs=("audio", "label", "meta"),
        jitter=1500,
        gain_db=(-12.0, 6.0),
        background=background,
        background_gain_db=(-20.0, -6.0),
        seed=seed,
        **options,
    )


def test_augmentation_is_the_same_whatever_the_workers_and_batches(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    ds = augmented(arc, transform=offset_by_index)
    one = torch.cat([b[0] for b in epoch(ds, 5)])
    spawned = epoch(ds, 16, num_workers=2, multiprocessing_context="spawn")
    assert torch.equal(one, torch.cat([b[0] for b in spawned]))
    assert torch.equal(one[7], ds[7][0])  # alone through __getitem__: the same draw
    ds.set_epoch(1)
    assert ds.epoch == 1
    other = torch.cat([b[0] for b in epoch(ds, 16)])
    assert not torch.equal(one, other)
    ds.set_epoch(0)
    assert torch.equal(one, torch.cat([b[0] for b in epoch(ds, 64)]))
    assert not torch.equal(
        one, torch.cat([b[0] for b in epoch(augmented(arc, seed=8, transform=offset_by_index), 64)])
    )


def test_jitter_reads_a_shifted_range_inside_the_recording(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table()
    ds = ClipDataset(arc, df, outputs=("audio", "meta"), target=None, jitter=3000, seed=1)
    shifts = []
    for audio, meta in epoch(ds, 32):
        for k in range(len(audio)):
            rid, a, b = (int(meta[key][k]) for key in ("recording", "start", "stop"))
            clip = df[(df["recording"] == rid)].iloc[0]  # any clip of it: all have the same length
            assert b - a == WINDOW and a >= 0 and b <= SAMPLES and clip["stop"] - clip["start"] == WINDOW
            assert np.array_equal(audio[k].numpy(), expected_audio(arc, rid, a, b))
            shifts.append(a - int(df.iloc[len(shifts)]["start"]))
    assert max(shifts) <= 3000 and min(shifts) >= -3000 and len(set(shifts)) > len(df) // 2
    assert shifts[0] >= 0  # the first clip starts at 0: a negative shift is moved back inside


def test_gain_background_and_transform_are_applied_as_drawn(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table()
    gain = ClipDataset(arc, df, outputs=("audio", "meta"), target=None, gain_db=(-12.0, 6.0), seed=3)
    ratios = []
    for k in (0, 9, 30):
        audio, meta = gain[k]
        base = expected_audio(arc, meta["recording"], meta["start"], meta["stop"])
        ratio = float((audio.numpy() * base).sum() / (base * base).sum())
        assert np.allclose(audio.numpy(), ratio * base, rtol=1e-5, atol=1e-7)
        assert 10 ** (-12 / 20) - 1e-6 <= ratio <= 10 ** (6 / 20) + 1e-6
        ratios.append(ratio)
    assert len(set(ratios)) == 3
    noise_row = df.iloc[[40]][["recording", "start", "stop"]]
    noise = expected_audio(arc, *(int(v) for v in noise_row.iloc[0]))
    mixed = ClipDataset(arc, df, outputs=("audio", "meta"), target=None, background=noise_row, seed=3)
    audio, meta = mixed[5]
    rest = audio.numpy() - expected_audio(arc, meta["recording"], meta["start"], meta["stop"])
    g = float((rest * noise).sum() / (noise * noise).sum())
    assert np.allclose(rest, g * noise, atol=1e-6) and 10 ** (-20 / 20) - 1e-6 <= g <= 1.0 + 1e-6
    hooked = ClipDataset(arc, df, outputs="audio", target=None, transform=offset_by_index)
    assert np.array_equal(hooked[12].numpy(), expected_audio(arc, 1, 24000, 24000 + WINDOW) + 12)


# -- worker processes -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_dataloader_workers_read_exactly(archive: Path, method: str) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table()
    ds = ClipDataset(arc, df, outputs=("audio", "label", "meta"), meta=("index", "recording", "start"))
    ds[0]  # the parent used it: the workers must still open their own
    batches = epoch(ds, 32, num_workers=2, multiprocessing_context=method)
    check_epoch(arc, df, batches, CLASSES)


def fork_after_use(path: str) -> int:
    """In a fresh interpreter (run by the test): use the dataset, then read an epoch in forked workers."""
    arc = wildzarr.open(path, mode="r")
    df = clip_table()
    ds = ClipDataset(arc, df, outputs=("audio", "label", "meta"), meta=("index", "recording", "start"))
    ds.__getitems__(list(range(20)))  # opened here, with the thread pools of read_many running
    arc.read_many([(1, 0, 40_000), (2, 0, 40_000)], workers=2)
    batches = epoch(ds, 32, num_workers=2, multiprocessing_context="fork")
    check_epoch(arc, df, batches, CLASSES)
    return 0


def test_forked_workers_reopen_the_archive_without_deadlock(archive: Path) -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_torch as t; "
        f"sys.exit(t.fork_after_use({str(archive)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=TIMEOUT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def test_concat_datasets_fall_back_to_getitem(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table()
    train, test = df[df["split"] == "train"], df[df["split"] == "test"].reset_index(drop=True)
    first = ClipDataset(arc, train, outputs=("audio", "label", "meta"), meta=("index", "recording", "start"))
    second = ClipDataset(arc, test, outputs=("audio", "label", "meta"), meta=("index", "recording", "start"))
    both = ConcatDataset([first, second])
    assert not callable(getattr(both, "__getitems__", None))  # torch 2.13: item by item
    for workers in (0, 2):
        loader = {"num_workers": workers, "multiprocessing_context": "spawn"} if workers else {}
        batches = epoch(both, 32, **loader)
        audio, labels = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
        assert len(audio) == len(df)
        for k, row in enumerate(pd.concat([train, test]).itertuples()):
            assert np.array_equal(audio[k].numpy(), expected_audio(arc, row.recording, row.start, row.stop))
            assert labels[k].tolist() == [float(getattr(row, c)) for c in CLASSES]


# -- pickling and the optional dependency ---------------------------------------------------------


class _Recorder(pickle.Unpickler):
    """Unpickles while noting every class and function the pickle names."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.names: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.names.add(f"{module}.{name}")
        return super().find_class(module, name)


def test_the_pickle_is_the_location_the_table_and_the_options(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table()
    ds = ClipDataset(arc, df, outputs=("audio", "label", "meta"), meta=("recording", "site"), jitter=10)
    fresh = pickle.dumps(ds)
    ds.__getitems__(list(range(len(df))))  # opens the archive, its recordings, decoders and thread pools
    used = pickle.dumps(ds)
    assert len(used) == len(fresh) < 2048 + 40 * len(df)  # a few hundred bytes plus the table
    recorder = _Recorder(used)
    copy = recorder.load()
    archive_alone = _Recorder(pickle.dumps(arc))
    archive_alone.load()
    # The dataset's own class, what an Archive pickles to (its location), numpy arrays and builtins only.
    assert recorder.names - archive_alone.names - {"wildzarr.torchdata.ClipDataset"} <= {
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy.ndarray",
        "numpy.dtype",
    }, recorder.names
    modules = {name.split(".")[0] for name in recorder.names}
    assert not modules & {"zarr", "_thread", "threading", "io", "_io", "concurrent", "torch"}, modules
    audio, label, meta = copy[30]
    row = df.iloc[30]
    assert meta == {"recording": int(row["recording"]), "site": "ABA"[int(row["recording"]) - 1]}
    assert label.tolist() == [float(row[c]) for c in CLASSES]
    assert audio.shape == (2, WINDOW)


def test_importing_wildzarr_does_not_import_torch() -> None:
    code = "import sys, wildzarr, wildzarr.archive, wildzarr.labels; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_without_torch_the_dataset_names_the_extra(archive: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"  # import torch now raises ImportError
        "import wildzarr\n"
        f"clips = wildzarr.open({str(archive)!r}, mode='r').clips({WINDOW}, {HOP})\n"
        "for attempt in (lambda: __import__('wildzarr.torchdata'), clips.torch):\n"
        "    try:\n"
        "        attempt()\n"
        "    except wildzarr.MissingDependencyError as exc:\n"
        "        print('missing:', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    message = 'missing: wildzarr.torchdata needs PyTorch: pip install "wildzarr[torch]"'
    assert done.stdout.splitlines() == [message, message], done.stdout + done.stderr


# -- through Clips --------------------------------------------------------------------------------


def test_clips_label_split_torch_end_to_end(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    ann = arc.annotations("calls")
    clips = arc.clips(WINDOW, HOP).label(ann).split(fractions={"train": 0.5, "test": 0.5}, seed=1)
    assert clips.classes == ["bat", "bird", "frog"]
    df = clips.df
    for split in sorted(set(df["split"])):
        ds = clips.torch(
            split=split,
            outputs=("audio", "label", "mask", "meta"),
            annotations=ann,
            meta=("index", "recording", "start", "stop"),
        )
        part = df[df["split"] == split].reset_index(drop=True)
        assert len(ds) == len(part) > 0 and ds.classes == clips.classes
        for audio, label, masks, meta in epoch(ds, 32):
            for k, index in enumerate(meta["index"].tolist()):
                row = part.iloc[index]
                rid, a, b = int(row["recording"]), int(row["start"]), int(row["stop"])
                assert (meta["recording"][k], meta["start"][k], meta["stop"][k]) == (rid, a, b)
                assert np.array_equal(audio[k].numpy(), expected_audio(arc, rid, a, b))
                assert label[k].tolist() == [float(row[c]) for c in clips.classes]
                assert np.array_equal(masks[k].numpy(), expected_mask(ann.df, clips.classes, rid, a, b))
                marked = masks[k].numpy()[1:].max(axis=1)  # a class marked in the clip labels it
                assert marked.tolist() == label[k].tolist()
    with pytest.raises(
        ArgumentError, match="split='valid': no clip has this split; present: \\['test', 'train'\\]"
    ):
        clips.torch(split="valid")
    with pytest.raises(ArgumentError, match="the clips have no split column"):
        arc.clips(WINDOW, HOP).torch(split="train")


def test_a_channel_column_reads_one_channel_per_clip(archive: Path) -> None:
    arc = wildzarr.open(archive, mode="r")
    df = clip_table().head(12)
    df["channel"] = pd.array([0, 1] * 6, dtype="Int64")
    ds = ClipDataset(
        arc,
        df,
        outputs=("audio", "mask"),
        target=None,
        annotations=annotation_table(),
        background=df.iloc[[7]],
    )
    plain = ClipDataset(arc, df, outputs=("audio", "mask"), target=None, annotations=annotation_table())
    for k in range(len(df)):
        row = df.iloc[k]
        audio, masks = plain[k]
        c = int(row["channel"])
        assert audio.shape == (1, WINDOW)
        assert np.array_equal(audio.numpy(), expected_audio(arc, 1, row["start"], row["stop"], channels=[c]))
        assert np.array_equal(
            masks.numpy(), expected_mask(annotation_table(), CLASSES, 1, row["start"], row["stop"], channel=c)
        )
    mixed = ds[4][0].numpy() - expected_audio(arc, 1, 8000, 8000 + WINDOW, channels=[0])
    noise = expected_audio(arc, 1, 14000, 14000 + WINDOW, channels=[1])  # row 7: its own channel, 1
    g = float((mixed * noise).sum() / (noise * noise).sum())
    assert np.allclose(mixed, g * noise, atol=1e-6) and 0.1 - 1e-6 <= g <= 1 + 1e-6
    with pytest.raises(ArgumentError, match="channels= would contradict it"):
        ClipDataset(arc, df, channels=[0])
    df.loc[3, "channel"] = pd.NA
    with pytest.raises(ArgumentError, match="row 3 has channel <NA>"):
        ClipDataset(arc, df)
