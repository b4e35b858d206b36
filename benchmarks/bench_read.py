"""Read benchmarks: random 4096-sample windows, whole-recording reads, 2 threads, a 500 kHz recording.

Compares ``Recording.read`` (archive in a local folder and in a zarr MemoryStore)
with what a user would otherwise use on the same audio as a FLAC file held in
memory: soundfile (libsndfile; open handle, ``seek`` + ``read``) and PyAV
(``container.seek`` + decode from the seek point, cut to the window). soundfile
also reads the FLAC with a SEEKTABLE added (a point per 10 s, as the ``flac``
tool writes by default, and a point per frame, its best case). Every window
every tool returns is compared with the source WAV; a mismatch aborts the run.

Windows are timed in two orders: *interleaved* (for each start, every tool in
turn, so all tools share the same load and cold caches) and *blocked* (each tool
reads all starts in a row, warm caches).

    PYTHONPATH=src python benchmarks/bench_read.py            # full run (10 and 60 min)
    PYTHONPATH=src python benchmarks/bench_read.py --quick    # smoke run (1 and 6 min)
"""

from __future__ import annotations

import argparse
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import zarr
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
from corpus import Corpus, corpus, temp_dir, with_seektable

import wildzarr

Reader = Callable[[int, int], np.ndarray]
OURS, SF = "wildzarr local", "soundfile"


class SoundfileWindows:
    """soundfile on a FLAC held in memory: one open handle, ``seek`` + ``read``."""

    def __init__(self, flac: bytes) -> None:
        self.file = sf.SoundFile(io.BytesIO(flac))

    def __call__(self, start: int, stop: int) -> np.ndarray:
        self.file.seek(start)
        return self.file.read(stop - start, dtype="int16", always_2d=True)


class PyAVWindows:
    """PyAV on a FLAC held in memory: seek to the frame at or before ``start``, decode, cut."""

    def __init__(self, flac: bytes) -> None:
        self.container = av.open(io.BytesIO(flac))
        self.stream = self.container.streams.audio[0]
        self.channels = self.stream.codec_context.channels

    def __call__(self, start: int, stop: int) -> np.ndarray:
        target = start  # the stream's time base is 1 / sample rate: pts counts samples
        while True:
            self.container.seek(target, stream=self.stream, backward=True)
            frames = self.container.decode(self.stream)
            first = next(frames)
            if first.pts is not None and first.pts <= start:
                break
            if target == 0:
                raise RuntimeError(f"PyAV cannot seek to sample {start}")
            target = max(0, target - 4 * 4096)  # landed after start: seek earlier
        out = np.empty((stop - start, self.channels), dtype=np.int16)
        position, frame = first.pts, first
        while True:
            data = frame.to_ndarray().reshape(-1, self.channels)
            lo, hi = max(start, position), min(stop, position + len(data))
            if hi > lo:
                out[lo - start : hi - start] = data[lo - position : hi - position]
            position += len(data)
            if position >= stop:
                return out
            frame = next(frames)


@dataclass
class Subject:
    """A corpus recording, its true samples and every tool that reads it."""

    corpus: Corpus
    truth: np.ndarray  # int16 (samples, channels), memory-mapped from the WAV
    readers: dict[str, Reader] = field(default_factory=dict)


def wav_samples(path: Path) -> np.ndarray:
    """The WAV's samples as a read-only memory map (no copy of a 700 MB file)."""
    with sf.SoundFile(path) as f:
        frames, channels = f.frames, f.channels
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    data = raw[:65536].tobytes().find(b"data") + 8  # soundfile writes the data chunk after a short header
    return np.frombuffer(raw[data : data + frames * channels * 2], dtype="<i2").reshape(frames, channels)


def open_subject(c: Corpus, folder: Path, *, extra: bool) -> Subject:
    """Import ``c`` into a local archive (and, if ``extra``, a MemoryStore) and open every tool."""
    subject = Subject(c, wav_samples(c.wav))
    subject.readers[OURS] = wildzarr.open(folder).add(c.wav).read
    if extra:
        subject.readers["wildzarr memory"] = wildzarr.open(zarr.storage.MemoryStore()).add(c.wav).read
    flac = c.flac_bytes()
    subject.readers[SF] = SoundfileWindows(flac)
    if extra:
        subject.readers["soundfile, SEEKTABLE 10 s"] = SoundfileWindows(
            with_seektable(flac, 10 * c.samplerate)
        )
        subject.readers["soundfile, SEEKTABLE every frame"] = SoundfileWindows(with_seektable(flac, 1))
    if c.samplerate <= 192_000:
        subject.readers["pyav seek"] = PyAVWindows(flac)
    return subject


def check(name: str, subject: Subject, start: int, stop: int, got: np.ndarray) -> None:
    want = subject.truth[start:stop]
    if got.shape != want.shape or not np.array_equal(got, want):
        raise SystemExit(
            f"WRONG RESULT: {name} on {subject.corpus.name} [{start}, {stop}) differs from the WAV"
        )


Job = tuple[str, Subject, Reader, np.ndarray]


def time_window(job: Job, i: int, width: int) -> float:
    name, subject, reader, starts = job
    start = int(starts[i])
    t0 = time.perf_counter()
    out = reader(start, start + width)
    elapsed = time.perf_counter() - t0
    check(name, subject, start, start + width, out)
    return elapsed


def window_bench(jobs: list[Job], width: int, interleaved: bool) -> dict[str, Stats]:
    """Time every job on its starts: call by call in turn (interleaved) or each job in a row (blocked)."""
    n = len(jobs[0][3])
    times = {job[0]: np.empty(n) for job in jobs}
    with no_gc():
        if interleaved:
            for i in range(n):
                for job in jobs[i % len(jobs) :] + jobs[: i % len(jobs)]:  # no tool always goes first
                    times[job[0]][i] = time_window(job, i, width)
        else:
            for job in jobs:
                for i in range(n):
                    times[job[0]][i] = time_window(job, i, width)
    return {name: Stats(t) for name, t in times.items()}


def whole_bench(subject: Subject, repeats: int) -> dict[str, tuple[Stats, Stats]]:
    """Wall and process CPU time of reading the whole recording, per tool (interleaved repeats)."""
    flac = subject.corpus.flac_bytes()
    rec_read = subject.readers[OURS]
    tools: dict[str, Callable[[], np.ndarray]] = {
        "wildzarr rec.read()": lambda: rec_read(0, subject.corpus.samples),
        "soundfile.read (in-memory FLAC)": lambda: sf.read(io.BytesIO(flac), dtype="int16", always_2d=True)[
            0
        ],
    }
    for name, fn in tools.items():
        if not np.array_equal(fn(), subject.truth):
            raise SystemExit(f"WRONG RESULT: {name} whole read differs from the WAV")
    wall: dict[str, list[float]] = {name: [] for name in tools}
    cpu: dict[str, list[float]] = {name: [] for name in tools}
    with no_gc():
        for _ in range(repeats):
            for name, fn in tools.items():
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
    return {name: (Stats(np.array(wall[name])), Stats(np.array(cpu[name]))) for name in tools}


def threads_bench(factory: Callable[[], Reader], starts: np.ndarray, width: int, n_threads: int) -> float:
    """Wall time of reading all ``starts`` split over ``n_threads`` threads, a reader each."""
    readers = [factory() for _ in range(n_threads)]
    for r in readers:
        r(0, width)
    barrier = threading.Barrier(n_threads + 1)

    def work(reader: Reader, part: np.ndarray) -> None:
        barrier.wait()
        for s in part.tolist():
            reader(s, s + width)

    parts = np.array_split(starts, n_threads)
    threads = [threading.Thread(target=work, args=(r, p)) for r, p in zip(readers, parts, strict=True)]
    for t in threads:
        t.start()
    with no_gc():
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--minutes", type=float, nargs=2, default=(10, 60), metavar=("SHORT", "LONG"))
    parser.add_argument("--windows", type=int, default=2000, help="random windows per tool")
    parser.add_argument("--width", type=int, default=4096, help="window length in samples")
    parser.add_argument("--repeats", type=int, default=7, help="whole-recording reads per tool")
    parser.add_argument("--ultrasonic-minutes", type=float, default=2.0, help="500 kHz mono (0: skip)")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.windows, args.repeats, args.ultrasonic_minutes = (1, 6), 200, 2, 0.5
    rng = np.random.default_rng(args.seed)
    width = args.width
    short, long_ = (f"{m:g} min" for m in args.minutes)
    corpora = {short: corpus(args.minutes[0]), long_: corpus(args.minutes[1])}
    if args.ultrasonic_minutes:
        corpora["500 kHz mono"] = corpus(args.ultrasonic_minutes, samplerate=500_000, channels=1)

    with temp_dir() as tmp:
        subjects = {
            label: open_subject(c, tmp / f"{k}.zarr", extra=label == short)
            for k, (label, c) in enumerate(corpora.items())
        }
        jobs: list[Job] = []
        for label, subject in subjects.items():
            starts = rng.integers(0, subject.corpus.samples - width, size=args.windows, endpoint=True)
            jobs += [
                (f"{label}: {name}", subject, reader, starts) for name, reader in subject.readers.items()
            ]
        for name, subject, reader, _ in jobs:  # warm up, and check both ends
            for start in (0, subject.corpus.samples - width, subject.corpus.samples // 2 + 1):
                check(name, subject, start, start + width, reader(start, start + width))

        wait_for_load(args.max_load)
        print_machine()
        windows = {
            order: window_bench(jobs, width, order == "interleaved") for order in ("interleaved", "blocked")
        }
        whole = whole_bench(subjects[short], args.repeats)
        thread_rows: list[list[object]] = []
        starts_short = jobs[0][3]
        for name, factory in {
            f"{OURS} (one Recording)": lambda: subjects[short].readers[OURS],
            f"{SF} (a handle per thread)": lambda: SoundfileWindows(corpora[short].flac_bytes()),
        }.items():
            one = min(threads_bench(factory, starts_short, width, 1) for _ in range(3))
            two = min(threads_bench(factory, starts_short, width, 2) for _ in range(3))
            thread_rows.append([name, one, two, one / two])
        load_after = load_text()

    print(
        f"\n## Random {width}-sample windows, {args.windows} random starts per recording, same for all tools"
    )
    for order, stats in windows.items():
        print(f"\n{order}:\n")
        rows = []
        for name, st in stats.items():
            ref = stats[name.split(":")[0] + f": {SF}"]
            rows.append([name, st.median_ms, st.p95_ms, st.median / ref.median, st.p95 / ref.p95])
        print(
            table(["recording: tool", "median ms", "p95 ms", "median / soundfile", "p95 / soundfile"], rows)
        )
    print("\n(ratios against soundfile on the same recording; every window of every tool equals the WAV)")

    print(f"\n## Whole-recording read, {short} ({args.repeats} interleaved repeats)\n")
    seconds = corpora[short].seconds
    rows = [[n, w.median, w.best, c.median, seconds / w.median] for n, (w, c) in whole.items()]
    print(table(["tool", "median wall s", "best wall s", "median CPU s", "x realtime (median wall)"], rows))

    print(f"\n## Threads, {short}, {args.windows} windows (wall time, best of 3)\n")
    print(table(["tool", "1 thread s", "2 threads s", "speed-up"], thread_rows))

    print(f"\n## Ratios (load average now {load_after})\n")
    ratios: dict[str, float] = {}
    for order, stats in windows.items():
        ours = stats[f"{short}: {OURS}"]
        for name, st in stats.items():
            label, tool = name.split(": ", 1)
            if label == short and tool.startswith("wildzarr") and tool != OURS:
                ratios[f"{order} window median {tool}/soundfile"] = st.median / stats[f"{short}: {SF}"].median
            elif label == short and tool != OURS:
                ratios[f"{order} window median ours/{tool}"] = ours.median / st.median
        ratios[f"{order} window p95 ours/soundfile"] = ours.p95 / stats[f"{short}: {SF}"].p95
        ratios[f"{order} window median ours({long_})/ours({short})"] = (
            stats[f"{long_}: {OURS}"].median / ours.median
        )
        ratios[f"{order} window median soundfile({long_})/soundfile({short})"] = (
            stats[f"{long_}: {SF}"].median / stats[f"{short}: {SF}"].median
        )
        if "500 kHz mono" in corpora:
            ratios[f"{order} 500 kHz window median ours/soundfile"] = (
                stats[f"500 kHz mono: {OURS}"].median / stats[f"500 kHz mono: {SF}"].median
            )
    (ours_wall, ours_cpu), (sf_wall, sf_cpu) = whole.values()
    ratios["whole read throughput ours/soundfile"] = sf_wall.median / ours_wall.median
    ratios["whole read CPU time ours/soundfile"] = ours_cpu.median / sf_cpu.median
    for row in thread_rows:
        ratios[f"2-thread speed-up, {row[0]}"] = float(row[3])  # type: ignore[arg-type]
    for name, value in ratios.items():
        print(f"{name}: {value:.3f}")
    print()
    for order in windows:
        print(
            target_line(
                f"{order} window median ours/soundfile ({short})",
                ratios[f"{order} window median ours/soundfile"],
                "<=",
                1.0,
            )
        )
        print(
            target_line(
                f"{order} window median ours({long_})/ours({short})",
                ratios[f"{order} window median ours({long_})/ours({short})"],
                "<=",
                1.2,
            )
        )
    print(target_line("whole read ours/soundfile", ratios["whole read throughput ours/soundfile"], ">=", 0.8))


if __name__ == "__main__":
    main()
