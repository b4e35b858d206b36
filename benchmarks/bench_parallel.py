"""Parallel read benchmark: ``Archive.read_many`` on threads, processes and a dask cluster; whole reads.

**Windows** (``--section windows``): 100 recordings of 1 minute (48 kHz stereo
16-bit), cut from 100 minutes of corpus audio (``corpus.build_samples``),
imported into a local-folder archive (``codec="auto"``: FLAC) and written as 100
FLAC files by soundfile (held in memory, one open ``sf.SoundFile`` handle each,
as ``bench_read.SoundfileWindows``). 10,000 random 4096-sample windows (random
recording, random start; seeded) are read in one run by:

(a) a soundfile loop (``seek`` + ``read`` on the open handles);
(b) a loop of ``rec.read(a, b)`` on recordings opened (and read once) beforehand;
(c) ``arc.read_many(requests, workers=1)``; (d) ``workers=2``;
(e) ``workers=ProcessPoolExecutor(2, spawn)``, started and warmed before timing;
(f) ``workers=Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True))``,
    started and warmed before timing.

Each tool reads all windows 3 times; the tools take turns within each repeat
(rotating who goes first), and the median of the 3 is reported, with the ratio
of windows/s to the soundfile loop of the same run. Every window of every tool
in every repeat is compared with the source samples; a mismatch aborts the run.

**Whole reads** (``--section whole``): a 10-minute and a 60-minute corpus recording
(``corpus.corpus``) imported into a folder archive: ``rec.read()`` (``workers=1``
and the default threads) against ``soundfile.read`` of the same audio as a FLAC in
memory: wall and CPU time (``time.process_time``, all threads; its system part
from ``os.times``) per call, median of 5 interleaved calls; and the peak memory
of one whole read, each measured in a fresh child process (this script with
``--peak-child``, started through ``/bin/sh`` so that it does not inherit this
process's ``ru_maxrss``): the peak RSS above the RSS before the read
(``/proc/self/clear_refs`` resets the high-water mark ``VmHWM`` after the
archive is open and a window was read), the rise of ``ru_maxrss``, and, in a
second child, ``tracemalloc``'s peak (Python objects and numpy arrays, not C
libraries' own buffers); each as a multiple of the output array's size.

The built audio, archives and FLAC files are cached in ``benchmarks/.cache/``
(``--rebuild`` rebuilds the archives, e.g. after the import path changed).

    PYTHONPATH=src python benchmarks/bench_parallel.py            # full run, about 4 minutes
    PYTHONPATH=src python benchmarks/bench_parallel.py --section whole
    PYTHONPATH=src python benchmarks/bench_parallel.py --quick    # smoke run (20 x 10 s, 1 min)
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from common import (
    Stats,
    add_common_options,
    load_text,
    no_gc,
    print_machine,
    table,
    target_line,
    wait_for_load,
)
from corpus import BUILD_VERSION, CACHE_DIR, Corpus, build_samples, corpus

import wildzarr
import wildzarr.settings

RATE, CHANNELS, WIDTH = 48_000, 2, 4096
#: Bumped when the way the cached collections are built changes.
COLLECTION_VERSION = 1


# -- the audio and its archives --------------------------------------------------------------------


def truth_samples(seconds: float) -> np.ndarray:
    """Corpus audio of ``seconds`` (48 kHz stereo int16, ``build_samples``), memory-mapped from the cache."""
    path = CACHE_DIR / f"corpus_v{BUILD_VERSION}_{RATE}hz_{CHANNELS}ch_{seconds:g}s.npy"
    if not path.exists():
        print(f"  building {path.name} ...", file=sys.stderr)
        data = build_samples(seconds, RATE, CHANNELS)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        with part.open("wb") as f:
            np.save(f, data)
        part.replace(path)
    return np.load(path, mmap_mode="r")


@dataclass
class Collection:
    """Recordings cut from one stretch of corpus audio: an archive folder, their FLAC files, the truth."""

    folder: Path  # the archive (a local folder)
    ids: list[int]  # recording id of part k
    samples: int  # samples per recording
    truth: np.ndarray  # all parts end to end, (len(ids) * samples, channels)
    flac_dir: Path | None

    def part(self, k: int) -> np.ndarray:
        return self.truth[k * self.samples : (k + 1) * self.samples]

    def flacs(self) -> list[bytes]:
        assert self.flac_dir is not None
        return [(self.flac_dir / f"{k:04d}.flac").read_bytes() for k in range(len(self.ids))]


def _archive_ok(folder: Path, ids: list[int]) -> bool:
    try:
        arc = wildzarr.open(folder, mode="r")
        return arc.ids() == sorted(ids) and all(arc[i].samples > 0 for i in ids[:1])
    except wildzarr.WildzarrError:
        return False


def collection(n: int, seconds: float, *, flac: bool, rebuild: bool = False) -> Collection:
    """``n`` recordings of ``seconds`` each (parts of ``truth_samples(n * seconds)``), cached.

    Imported with ``arc.add(array, samplerate=48000)`` (codec auto); with ``flac``
    also written as FLAC files by soundfile (level 5 defaults, like corpus.py's).
    """
    truth = truth_samples(n * seconds)
    samples = round(seconds * RATE)
    base = CACHE_DIR / f"collection_v{COLLECTION_VERSION}_{n}x{seconds:g}s"
    folder, flac_dir, ids_file = base / "archive.zarr", base / "flac", base / "ids.json"
    ids: list[int] = json.loads(ids_file.read_text()) if ids_file.exists() and not rebuild else []
    if not ids or not _archive_ok(folder, ids):
        print(f"  importing {n} recordings of {seconds:g} s into {folder} ...", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        ids_file.unlink(missing_ok=True)
        arc = wildzarr.open(folder, mode="w")
        ids = [
            arc.add(
                np.ascontiguousarray(truth[k * samples : (k + 1) * samples]),
                samplerate=RATE,
                allow_duplicates=True,
            ).id
            for k in range(n)
        ]
        ids_file.write_text(json.dumps(ids))
    if flac and not (flac_dir / "complete").exists():
        print(f"  writing {n} FLAC files to {flac_dir} ...", file=sys.stderr)
        flac_dir.mkdir(parents=True, exist_ok=True)
        for k in range(n):
            sf.write(
                flac_dir / f"{k:04d}.flac", truth[k * samples : (k + 1) * samples], RATE, subtype="PCM_16"
            )
        (flac_dir / "complete").write_text("")
    return Collection(folder, ids, samples, truth, flac_dir if flac else None)


def whole_archive(c: Corpus, rebuild: bool = False) -> tuple[Path, int]:
    """A folder archive holding ``c`` imported from its WAV (cached); its path and the recording id."""
    folder = CACHE_DIR / f"whole_v{COLLECTION_VERSION}_{c.name}.zarr"
    if rebuild or not _archive_ok(folder, [1]):
        print(f"  importing {c.name} into {folder} ...", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        rid = wildzarr.open(folder, mode="w").add(c.wav).id
        assert rid == 1
    return folder, 1


def random_windows(rng: np.random.Generator, n_recordings: int, samples: int, count: int) -> np.ndarray:
    """``count`` windows as rows ``(part, start)``: a random recording, a random start."""
    parts = rng.integers(0, n_recordings, size=count)
    starts = rng.integers(0, samples - WIDTH, size=count, endpoint=True)
    return np.stack([parts, starts], axis=1)


def check_windows(name: str, col: Collection, windows: np.ndarray, got: list[np.ndarray]) -> None:
    """Abort unless every window read equals the source samples."""
    if len(got) != len(windows):
        raise SystemExit(f"WRONG RESULT: {name} returned {len(got)} windows, not {len(windows)}")
    for (k, start), out in zip(windows.tolist(), got, strict=True):
        base = k * col.samples + start
        want = col.truth[base : base + WIDTH]
        if out.shape != want.shape or not np.array_equal(out, want):
            raise SystemExit(f"WRONG RESULT: {name}: recording part {k} [{start}, {start + WIDTH}) differs")


# -- windows -------------------------------------------------------------------------------------


def window_tools(
    col: Collection, windows: np.ndarray, arc: wildzarr.Archive, pool: Any, client: Any
) -> dict[str, Callable[[], list[np.ndarray]]]:
    """The tools, each a function reading all ``windows`` and returning them in order."""
    handles = [sf.SoundFile(io.BytesIO(data)) for data in col.flacs()]
    recs = [arc[rid] for rid in col.ids]
    for rec in recs:
        rec.read(0, 16)  # opens its streams: frame index loaded, decoder made
    pairs = windows.tolist()
    requests = [(col.ids[k], s, s + WIDTH) for k, s in pairs]

    def soundfile_loop() -> list[np.ndarray]:
        out = []
        for k, s in pairs:
            h = handles[k]
            h.seek(s)
            out.append(h.read(WIDTH, dtype="int16", always_2d=True))
        return out

    def read_loop() -> list[np.ndarray]:
        return [recs[k].read(s, s + WIDTH) for k, s in pairs]

    tools: dict[str, Callable[[], list[np.ndarray]]] = {
        "(a) soundfile loop, open handles": soundfile_loop,
        "(b) rec.read loop": read_loop,
        "(c) read_many, workers=1": lambda: arc.read_many(requests, workers=1),
        "(d) read_many, workers=2": lambda: arc.read_many(requests, workers=2),
        "(e) read_many, ProcessPoolExecutor(2, spawn)": lambda: arc.read_many(requests, workers=pool),
    }
    if client is not None:
        tools["(f) read_many, dask LocalCluster 2 processes"] = lambda: arc.read_many(
            requests, workers=client
        )
    return tools


def start_dask() -> tuple[Any, Any] | None:
    try:
        import distributed
    except ImportError:
        print("  dask.distributed is not installed: (f) skipped", file=sys.stderr)
        return None
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return cluster, distributed.Client(cluster)


def windows_section(args: argparse.Namespace) -> None:
    col = collection(args.recordings, args.seconds, flac=True, rebuild=args.rebuild)
    rng = np.random.default_rng(args.seed)
    windows = random_windows(rng, len(col.ids), col.samples, args.windows)
    warm = random_windows(rng, len(col.ids), col.samples, min(args.windows, 1000))
    arc = wildzarr.open(col.folder, mode="r")
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    dask = None if args.no_dask else start_dask()
    client = dask[1] if dask else None
    try:
        tools = window_tools(col, windows, arc, pool, client)
        warm_requests = [(col.ids[k], s, s + WIDTH) for k, s in warm.tolist()]
        for workers in (1, 2, pool, client):  # start and warm every pool; keep read_many's opened recordings
            if workers is not None:
                check_windows(f"warm-up {workers}", col, warm, arc.read_many(warm_requests, workers=workers))
        for name, fn in tools.items():  # warm up and check every tool once
            check_windows(name, col, windows, fn())
        wait_for_load(args.max_load)
        print_machine()
        load_before = load_text()
        times: dict[str, list[float]] = {name: [] for name in tools}
        cpu: dict[str, list[float]] = {name: [] for name in tools}
        names = list(tools)
        for rep in range(args.repeats):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                with no_gc():
                    c0, t0 = time.process_time(), time.perf_counter()
                    got = tools[name]()
                    times[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)
                check_windows(name, col, windows, got)
                del got
        load_after = load_text()
    finally:
        pool.shutdown()
        if dask:
            dask[1].close()
            dask[0].close()

    stats = {name: Stats(np.array(t)) for name, t in times.items()}
    sf_name = names[0]
    n = len(windows)
    print(
        f"\n## Random {WIDTH}-sample windows: {n:,} windows over {len(col.ids)} recordings of "
        f"{args.seconds:g} s (48 kHz stereo 16-bit), {args.repeats} repeats, tools interleaved\n"
    )
    print(f"load average {load_before} before, {load_after} after\n")
    rows = []
    for name, st in stats.items():
        rows.append(
            [
                name,
                st.median,
                float(st.times.min()),
                float(st.times.max()),
                n / st.median,
                stats[sf_name].median / st.median,
                float(np.median(cpu[name])),
            ]
        )
    print(
        table(
            [
                "tool",
                "median s",
                "min s",
                "max s",
                "windows/s (median)",
                "x soundfile (windows/s)",
                "CPU s of this process",
            ],
            rows,
        )
    )
    print(
        "\n(every window of every tool in every repeat equals the source samples; CPU: time.process_time of"
        " the benchmark process, all its threads, median; the workers of (e) and (f) are other processes)\n"
    )
    c, d = stats["(c) read_many, workers=1"], stats["(d) read_many, workers=2"]
    e = stats["(e) read_many, ProcessPoolExecutor(2, spawn)"]
    ratios = {
        "read_many 2 threads / soundfile (windows/s)": stats[sf_name].median / d.median,
        "scaling 1 -> 2 threads (c / d)": c.median / d.median,
        "scaling 1 thread -> 2 processes (c / e)": c.median / e.median,
        "read_many 1 thread / rec.read loop (windows/s)": stats["(b) rec.read loop"].median / c.median,
    }
    if client is not None:
        ratios["scaling 1 thread -> 2 dask processes (c / f)"] = (
            c.median / stats["(f) read_many, dask LocalCluster 2 processes"].median
        )
    for what, value in ratios.items():
        print(f"{what}: {value:.3f}")
    print()
    print(
        target_line(
            "read_many 2 threads / soundfile (windows/s)",
            ratios["read_many 2 threads / soundfile (windows/s)"],
            ">=",
            3.5,
        )
    )
    print(
        target_line("scaling 1 -> 2 workers (threads)", ratios["scaling 1 -> 2 threads (c / d)"], ">=", 1.7)
    )


# -- whole reads ---------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def peak_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: set up one whole read, then measure the memory it takes."""
    if spec["tool"] == "soundfile":
        flac = Path(spec["flac"]).read_bytes()
        buffer = io.BytesIO(flac)

        def read() -> np.ndarray:
            return sf.read(buffer, dtype="int16", always_2d=True)[0]
    else:
        rec = wildzarr.open(spec["archive"], mode="r")[spec["rid"]]
        rec.read(0, 4096, workers=spec["workers"])  # streams opened, frame index loaded, decoder made
        workers = spec["workers"]

        def read() -> np.ndarray:
            return rec.read(workers=workers)

    if spec["method"] == "tracemalloc":
        tracemalloc.start()
        out = read()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"nbytes": out.nbytes, "tracemalloc_peak": peak}
    rss_before = _status_kib("VmRSS") * 1024
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
        hwm_reset = True
    except OSError:
        hwm_reset = False
    out = read()
    return {
        "nbytes": out.nbytes,
        "rss_before": rss_before,
        "hwm": _status_kib("VmHWM") * 1024 if hwm_reset else None,
        "maxrss_before": maxrss_before,
        "maxrss_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def run_peak_child(spec: dict[str, Any]) -> dict[str, Any]:
    """``peak_child(spec)`` in a new Python process (not a multiprocessing worker: default threads apply)."""
    command = [sys.executable, os.path.abspath(__file__), "--peak-child", json.dumps(spec)]
    # Through a shell that forks it: a child exec'ed straight from this process would start with this
    # process's peak RSS as its ru_maxrss (Linux folds the forked address space's high-water mark into
    # it at exec); the shell's own, small, is what it inherits instead.
    done = subprocess.run(
        ["/bin/sh", "-c", '"$@"; exit $?', "sh", *command],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"peak-memory child failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def whole_section(args: argparse.Namespace) -> None:
    for minutes in args.whole_minutes:
        whole_reads(args, minutes)


def whole_reads(args: argparse.Namespace, minutes: float) -> None:
    """Time and measure whole reads of one corpus recording; print its tables and targets."""
    from bench_read import wav_samples

    default_threads = wildzarr.settings.decode_threads()
    c = corpus(minutes)
    folder, rid = whole_archive(c, args.rebuild)
    rec = wildzarr.open(folder, mode="r")[rid]
    truth = wav_samples(c.wav)
    flac = c.flac_bytes()
    tools: dict[str, tuple[Callable[[], np.ndarray], dict[str, Any]]] = {
        "wildzarr rec.read(), workers=1": (
            lambda: rec.read(workers=1),
            {"tool": "wildzarr", "archive": str(folder), "rid": rid, "workers": 1},
        ),
        f"wildzarr rec.read(), default threads ({default_threads})": (
            lambda: rec.read(),
            {"tool": "wildzarr", "archive": str(folder), "rid": rid, "workers": None},
        ),
        "soundfile.read (in-memory FLAC)": (
            lambda: sf.read(io.BytesIO(flac), dtype="int16", always_2d=True)[0],
            {"tool": "soundfile", "flac": str(c.flac)},
        ),
    }
    for name, (fn, _) in tools.items():
        out = fn()
        if out.shape != truth.shape or not np.array_equal(out, truth):
            raise SystemExit(f"WRONG RESULT: {name}: whole read of {c.name} differs from the WAV")
        del out
    wait_for_load(args.max_load)
    print_machine()
    load_before = load_text()
    wall: dict[str, list[float]] = {name: [] for name in tools}
    cpu: dict[str, list[float]] = {name: [] for name in tools}
    system: dict[str, list[float]] = {name: [] for name in tools}
    names = list(tools)
    for rep in range(args.whole_repeats):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            with no_gc():
                before, c0, t0 = os.times(), time.process_time(), time.perf_counter()
                out = tools[name][0]()
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
                system[name].append(os.times().system - before.system)
            del out
    peaks = {
        name: (
            run_peak_child({**spec, "method": "rss"}),
            run_peak_child({**spec, "method": "tracemalloc"}),
        )
        for name, (_, spec) in tools.items()
    }
    load_after = load_text()

    sf_name = names[-1]
    sf_cpu = float(np.median(cpu[sf_name]))
    print(
        f"\n## Whole read of a {minutes:g}-minute 48 kHz stereo recording ({c.samples:,} samples, "
        f"{truth.nbytes / 2**20:.0f} MiB of int16), {args.whole_repeats} interleaved calls per tool\n"
    )
    print(f"load average {load_before} before, {load_after} after\n")
    rows = []
    for name in names:
        w, u = float(np.median(wall[name])), float(np.median(cpu[name]))
        k = float(np.median(system[name]))
        rows.append([name, w, float(min(wall[name])), c.seconds / w, u, k, u / sf_cpu])
    print(
        table(
            [
                "tool",
                "median wall s",
                "best wall s",
                "x realtime",
                "median CPU s",
                "of which system s",
                "CPU / soundfile's",
            ],
            rows,
        )
    )
    print(
        f"\nPeak memory of one whole read in a fresh process, as a multiple of the output "
        f"({minutes:g} min):\n"
    )
    rows = []
    for name, (rss, traced) in peaks.items():
        nbytes = rss["nbytes"]
        hwm = "n/a" if rss["hwm"] is None else f"{(rss['hwm'] - rss['rss_before']) / nbytes:.3f}"
        rows.append(
            [
                name,
                f"{nbytes / 2**20:.0f}",
                hwm,
                f"{(rss['maxrss_after'] - rss['maxrss_before']) / nbytes:.3f}",
                f"{traced['tracemalloc_peak'] / nbytes:.3f}",
            ]
        )
    print(
        table(
            [
                "tool",
                "output MiB",
                "peak RSS above RSS before / output",
                "ru_maxrss rise / output",
                "tracemalloc peak / output",
            ],
            rows,
        )
    )
    print()
    ours_cpu = float(np.median(cpu[names[1]]))
    print(
        target_line(
            f"whole read CPU ours (default threads) / soundfile ({minutes:g} min)",
            ours_cpu / sf_cpu,
            "<=",
            1.05,
        )
    )
    print(
        target_line(
            f"whole read CPU ours (workers=1) / soundfile ({minutes:g} min)",
            float(np.median(cpu[names[0]])) / sf_cpu,
            "<=",
            1.05,
        )
    )
    for name in names[:2]:
        rss = peaks[name][0]
        if rss["hwm"] is not None:
            print(
                target_line(
                    f"peak memory / output, {name} ({minutes:g} min)",
                    (rss["hwm"] - rss["rss_before"]) / rss["nbytes"],
                    "<=",
                    1.15,
                )
            )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--peak-child":
        print(json.dumps(peak_child(json.loads(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--section", choices=("all", "windows", "whole"), default="all")
    parser.add_argument("--recordings", type=int, default=100, help="recordings in the windows archive")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds per recording")
    parser.add_argument("--windows", type=int, default=10_000, help="random windows per tool and repeat")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of every window tool")
    parser.add_argument("--no-dask", action="store_true", help="skip the dask LocalCluster (f)")
    parser.add_argument(
        "--whole-minutes", type=float, nargs="+", default=(10.0, 60.0), help="whole-read recordings"
    )
    parser.add_argument("--whole-repeats", type=int, default=5, help="whole reads per tool")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached archives")
    args = parser.parse_args()
    if args.quick:
        args.recordings, args.seconds, args.windows = 20, 10.0, 1000
        args.whole_minutes, args.whole_repeats = (1.0,), 3
    if args.section in ("all", "windows"):
        windows_section(args)
    if args.section in ("all", "whole"):
        whole_section(args)


if __name__ == "__main__":
    main()
