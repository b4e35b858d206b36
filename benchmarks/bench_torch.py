"""PyTorch DataLoader benchmark: clips per second from wildzarr's ClipDataset and from files and a memmap.

The audio: ``--recordings`` recordings (default 50) of ``--seconds`` (default 60)
of corpus audio (``corpus.build_samples``: the real recordings of
``../shared/audio``, 48 kHz mono 16-bit), stored four ways:

- a local-folder archive (``arc.add(array, samplerate=48000)``, codec auto: FLAC);
- one WAV file per recording and one FLAC file per recording (soundfile,
  ``PCM_16``, libsndfile's defaults);
- one float32 ``.npy`` file of every recording end to end, memory-mapped (how
  DAS feeds its models: ``np.load(mmap_mode="r")`` and slices).

The clips: every 1-second clip on a 1-second grid (``recordings x seconds``
clips of 48,000 samples), with three random 0/1 class columns, visited in one
seeded random order (a training epoch's shuffle), the same for every tool.

Each tool is a map-style ``torch.utils.data.Dataset`` returning ``(audio
float32 (1, 48000), label float32 (3,))`` per clip, loaded by
``DataLoader(batch_size=64, sampler=<the order>)`` with ``num_workers=0`` and
with ``num_workers=2`` (``spawn``, ``persistent_workers=True``):

(a) ``wildzarr.torchdata.ClipDataset`` (one ``read_many`` per batch, ``__getitems__``);
(b) soundfile per clip, ``sf.read(path, start=, stop=, dtype="float32")`` on the WAV files;
(c) the same on the FLAC files;
(d) the memmap: ``np.array(memmap[offset + start : offset + stop])`` per clip.

The benchmark process runs torch on one thread (``torch.set_num_threads(1)``,
what DataLoader workers do): with its default of one thread per core,
``default_collate``'s ``torch.stack`` of a batch took 45 times longer on this
shared 2-core machine under load (358 ms instead of 8 ms), which would
measure only that for ``num_workers=0``.

For each tool and worker count, a first epoch starts the workers, warms the
page cache and checks every clip against the source samples (a mismatch aborts
the run); then ``--repeats`` epochs are timed and the median reported as clips
per second, with its ratio to (a). Every file is in the page cache after the
first epoch: the figures are decoding and Python costs, not disk reads. The
built files are cached in ``benchmarks/.cache/`` (``--rebuild`` rebuilds them).

    PYTHONPATH=src python benchmarks/bench_torch.py            # 50 x 60 s, 3 timed epochs
    PYTHONPATH=src python benchmarks/bench_torch.py --quick    # 10 x 60 s, 1 timed epoch (about 2 minutes)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
from common import Stats, add_common_options, load_text, print_machine, table, wait_for_load
from corpus import BUILD_VERSION, CACHE_DIR, build_samples

import wildzarr

try:
    import torch
    from torch.utils.data import DataLoader, Dataset
except ImportError:
    sys.exit('bench_torch.py needs PyTorch: pip install "wildzarr[torch]" (or torch from its CPU index)')

from wildzarr.torchdata import ClipDataset

RATE, CLIP, BATCH = 48_000, 48_000, 64
CLASSES = ["a", "b", "c"]
#: Bumped when the way the cached files are built changes.
BUILD = 1


@dataclass(frozen=True)
class Stored:
    """The recordings stored four ways, and the truth."""

    folder: Path  # the archive
    ids: list[int]  # recording id of part k
    wavs: list[Path]
    flacs: list[Path]
    memmap: Path  # float32 .npy, every part end to end
    truth: np.ndarray  # int16, every part end to end
    samples: int  # per recording


def build(n: int, seconds: float, rebuild: bool) -> Stored:
    """Build (or reuse from the cache) ``n`` recordings of ``seconds`` in every form."""
    samples = round(seconds * RATE)
    base = CACHE_DIR / f"torch_v{BUILD}_c{BUILD_VERSION}_{n}x{seconds:g}s"
    done = base / "complete.json"
    wavs = [base / "wav" / f"{k:04d}.wav" for k in range(n)]
    flacs = [base / "flac" / f"{k:04d}.flac" for k in range(n)]
    if rebuild or not done.exists():
        print(f"  building {n} recordings of {seconds:g} s in {base} ...", file=sys.stderr)
        shutil.rmtree(base, ignore_errors=True)
        (base / "wav").mkdir(parents=True)
        (base / "flac").mkdir()
        truth = build_samples(n * seconds, RATE, 1)[:, 0]
        np.save(base / "truth.npy", truth)
        np.save(base / "audio_f32.npy", (truth / np.float32(32768)).astype(np.float32))
        arc = wildzarr.open(base / "archive.zarr", mode="w")
        ids = []
        for k in range(n):
            part = np.ascontiguousarray(truth[k * samples : (k + 1) * samples])
            ids.append(arc.add(part, samplerate=RATE, allow_duplicates=True).id)
            sf.write(wavs[k], part, RATE, subtype="PCM_16")
            sf.write(flacs[k], part, RATE, subtype="PCM_16")
        done.write_text(json.dumps(ids))
    ids = json.loads(done.read_text())
    truth = np.load(base / "truth.npy", mmap_mode="r")
    return Stored(base / "archive.zarr", ids, wavs, flacs, base / "audio_f32.npy", truth, samples)


def clip_table(stored: Stored, rng: np.random.Generator) -> pd.DataFrame:
    """Every 1-second clip on a 1-second grid, with a ``part`` column and random 0/1 classes."""
    per = stored.samples // CLIP
    part = np.repeat(np.arange(len(stored.ids)), per)
    start = np.tile(np.arange(per) * CLIP, len(stored.ids))
    df = pd.DataFrame(
        {"recording": np.array(stored.ids)[part], "start": start, "stop": start + CLIP, "part": part}
    )
    for name in CLASSES:
        df[name] = rng.integers(0, 2, len(df)).astype(np.uint8)
    return df


# -- the other datasets -----------------------------------------------------------------------------


class SoundfileClips(Dataset[Any]):
    """One ``soundfile.read(path, start=, stop=)`` per clip."""

    def __init__(self, paths: list[Path], df: pd.DataFrame) -> None:
        self.paths = [str(p) for p in paths]
        self.part = df["part"].to_numpy()
        self.start = df["start"].to_numpy()
        self.labels = df[CLASSES].to_numpy(dtype=np.float32)

    def __len__(self) -> int:
        return len(self.part)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        a = int(self.start[i])
        audio, _ = sf.read(self.paths[self.part[i]], start=a, stop=a + CLIP, dtype="float32", always_2d=True)
        return torch.from_numpy(audio.T.copy()), torch.from_numpy(self.labels[i])


class MemmapClips(Dataset[Any]):
    """DAS-style: slices of one float32 array of every recording end to end, memory-mapped per process."""

    def __init__(self, path: Path, samples: int, df: pd.DataFrame) -> None:
        self.path = str(path)
        self.offset = df["part"].to_numpy() * samples + df["start"].to_numpy()
        self.labels = df[CLASSES].to_numpy(dtype=np.float32)
        self.data: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "data": None}

    def __len__(self) -> int:
        return len(self.offset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.data is None:
            self.data = np.load(self.path, mmap_mode="r")
        a = int(self.offset[i])
        return torch.from_numpy(np.array(self.data[a : a + CLIP])[None, :]), torch.from_numpy(self.labels[i])


# -- running --------------------------------------------------------------------------------------


def loader(ds: Dataset[Any], order: list[int], workers: int) -> DataLoader[Any]:
    extra: dict[str, Any] = {}
    if workers:
        extra = {
            "multiprocessing_context": multiprocessing.get_context("spawn"),
            "persistent_workers": True,
        }
    return DataLoader(ds, batch_size=BATCH, sampler=order, num_workers=workers, **extra)


def check_epoch(name: str, batches: Any, order: list[int], df: pd.DataFrame, stored: Stored) -> None:
    """Abort unless every clip of an epoch equals the source samples (int16 / 32768) and its labels."""
    position = 0
    for audio, label in batches:
        for k in range(len(audio)):
            row = df.iloc[order[position]]
            base = int(row["part"]) * stored.samples + int(row["start"])
            want = np.asarray(stored.truth[base : base + CLIP], dtype=np.float32) / np.float32(32768)
            if audio[k].shape != (1, CLIP) or not np.array_equal(audio[k, 0].numpy(), want):
                raise SystemExit(f"WRONG RESULT: {name}: clip {order[position]} differs from the source")
            if label[k].tolist() != [float(row[c]) for c in CLASSES]:
                raise SystemExit(f"WRONG RESULT: {name}: labels of clip {order[position]} differ")
            position += 1
    if position != len(order):
        raise SystemExit(f"WRONG RESULT: {name}: {position} clips, not {len(order)}")


def timed_epochs(dl: DataLoader[Any], repeats: int) -> Stats:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _batch in dl:
            pass
        times.append(time.perf_counter() - t0)
    return Stats(np.array(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--recordings", type=int, default=50, help="recordings")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds per recording")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per tool and worker count")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached files")
    args = parser.parse_args()
    if args.quick:
        args.recordings, args.repeats = 10, 1
    torch.set_num_threads(1)
    stored = build(args.recordings, args.seconds, args.rebuild)
    rng = np.random.default_rng(args.seed)
    df = clip_table(stored, rng)
    order = rng.permutation(len(df)).tolist()
    arc = wildzarr.open(stored.folder, mode="r")
    tools: dict[str, Dataset[Any]] = {
        "(a) wildzarr ClipDataset (archive, FLAC)": ClipDataset(arc, df, classes=CLASSES),
        "(b) soundfile per clip, WAV files": SoundfileClips(stored.wavs, df),
        "(c) soundfile per clip, FLAC files": SoundfileClips(stored.flacs, df),
        "(d) float32 memmap, slices (DAS-style)": MemmapClips(stored.memmap, stored.samples, df),
    }
    wait_for_load(args.max_load)
    print_machine()
    load_before = load_text()
    results: dict[tuple[str, int], Stats] = {}
    for workers in (0, 2):
        for name, ds in tools.items():
            dl = loader(ds, order, workers)
            check_epoch(name, dl, order, df, stored)  # starts the workers, warms the caches
            results[name, workers] = timed_epochs(dl, args.repeats)
            del dl
    load_after = load_text()
    print(
        f"\n## DataLoader clips per second: {len(df):,} clips of 1 s (48 kHz mono 16-bit) from "
        f"{len(stored.ids)} recordings of {args.seconds:g} s, batch {BATCH}, shuffled; "
        f"median of {args.repeats} epochs\n"
    )
    print(f"load average {load_before} before, {load_after} after\n")
    rows = []
    for name in tools:
        row: list[object] = [name]
        for workers in (0, 2):
            st = results[name, workers]
            ours = results[next(iter(tools)), workers]
            row += [len(df) / st.median, ours.median / st.median]
        row.append(results[name, 0].median / results[name, 2].median)
        rows.append(row)
    print(
        table(
            [
                "dataset",
                "clips/s, 0 workers",
                "x (a), 0 workers",
                "clips/s, 2 workers (spawn)",
                "x (a), 2 workers",
                "speed-up 0 -> 2 workers",
            ],
            rows,
        )
    )
    print(
        "\n(every clip of a first, untimed epoch of every tool equals the source samples; x (a): clips/s "
        "relative to wildzarr's ClipDataset at the same worker count)"
    )


if __name__ == "__main__":
    main()
