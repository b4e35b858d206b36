"""Import throughput with 1, 2 and 4 processes writing one archive, on a local folder and on S3 (moto).

Each process (``multiprocessing``, spawn context) opens the archive, waits at a barrier
with the others, then imports its N recordings one after another with
``arc.add(path)``. The recordings are real audio: 10-second pieces (48 kHz stereo
16-bit WAV files) cut from the 10-minute corpus that ``corpus.py`` builds from
``../shared/audio``; piece k starts at k * step samples (pieces overlap when more are
needed than fit end to end; each is distinct, checked by sha256). Every configuration
writes a new, empty archive; rounds repeat all configurations, interleaved.

Measured: the wall time from the barrier to the last import's end (the processes'
own clock readings, CLOCK_MONOTONIC), recordings per second, audio seconds per wall
second, and CPU time per recording: the writers' (``os.times``) and, on S3, the moto
server's (``/proc/<pid>/stat``). Checked afterwards: ``arc.ids()`` lists exactly
the recordings the processes added (no id twice, none missing), each recording holds
its piece (name, length) and one random 4096-sample window per recording reads back
equal to the source samples.

The S3 server is moto (``tests/s3server.py``) running on the same machine: it competes
with the writers for the same cores, so S3 figures measure the client and the protocol,
not a real S3 service.

    PYTHONPATH=src python benchmarks/bench_writers.py            # 40 recordings per process, 3 rounds
    PYTHONPATH=src python benchmarks/bench_writers.py --quick    # smoke run, under a minute
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import queue
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import s3util
import soundfile as sf
from common import add_common_options, load_text, print_machine, table, wait_for_load
from corpus import corpus, temp_dir

import wildzarr
from wildzarr.sources import open_source

PIECE_SECONDS = 10
SAMPLERATE = 48_000  # of the corpus
#: Seconds a process may take to start (spawn, imports) and to import its recordings.
START_TIMEOUT = 120.0
RUN_TIMEOUT = 1800.0


# -- the worker (runs in spawned processes) -------------------------------------------------


def worker(target: str, options: dict[str, Any] | None, files: list[str], barrier: Any, results: Any) -> None:
    """Import ``files`` into the archive at ``target``; put (start, end, CPU s, ids, add times) on results."""
    try:
        arc = wildzarr.open(target, storage_options=options)
        with open_source(files[0]) as src:  # warm up imports (PyAV) and caches; nothing is archived
            src.format  # noqa: B018
        barrier.wait(START_TIMEOUT)
        cpu0 = sum(os.times()[:2])
        start = time.monotonic()
        ids, times = [], []
        for path in files:
            t0 = time.monotonic()
            ids.append(arc.add(path).id)
            times.append(time.monotonic() - t0)
        end = time.monotonic()
        results.put(("ok", start, end, sum(os.times()[:2]) - cpu0, ids, times))
    except BaseException:
        results.put(("error", traceback.format_exc()))
        barrier.abort()  # the parent stops waiting at once
        raise


# -- the parent -----------------------------------------------------------------------------


@dataclass
class Run:
    round: int
    backend: str
    processes: int
    recordings: int
    wall: float
    cpu: float
    add_median: float
    checked: str
    server_cpu: float | None = None  # CPU seconds of the S3 server during the run

    @property
    def per_second(self) -> float:
        return self.recordings / self.wall


def cut_pieces(folder: Path, count: int) -> tuple[np.ndarray, list[int], list[Path]]:
    """Write ``count`` distinct 10-second WAV pieces of the 10-minute corpus.

    Returns the corpus samples, the offset of each piece in them, and the files.
    """
    c = corpus(10)
    samples = c.read_wav()
    length = PIECE_SECONDS * c.samplerate
    if count > 1:
        step = (len(samples) - length) // (count - 1)
        if step < c.samplerate:
            raise SystemExit(f"{count} pieces of {PIECE_SECONDS} s would overlap too much; use fewer")
    else:
        step = 0
    offsets = [k * step for k in range(count)]
    paths, digests = [], set()
    folder.mkdir(parents=True, exist_ok=True)
    for k, offset in enumerate(offsets):
        piece = samples[offset : offset + length]
        digests.add(hashlib.sha256(piece.tobytes()).hexdigest())
        path = folder / f"piece_{k:04d}.wav"
        sf.write(path, piece, c.samplerate, subtype="PCM_16")
        paths.append(path)
    if len(digests) != count:
        raise SystemExit("the corpus pieces are not all distinct")
    return samples, offsets, paths


def run(
    backend: str,
    target: str,
    options: dict[str, Any] | None,
    processes: int,
    per_process: int,
    paths: list[Path],
) -> tuple[float, float, float, list[int]]:
    """Start the processes, release them together, wait for all; return wall s, CPU s, median add s, ids."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    results = ctx.Queue()
    wildzarr.open(target, mode="w", storage_options=options).close()  # a new, empty archive
    jobs = []
    for p in range(processes):
        files = [str(path) for path in paths[p * per_process : (p + 1) * per_process]]
        jobs.append(ctx.Process(target=worker, args=(target, options, files, barrier, results)))
    for job in jobs:
        job.start()
    try:
        barrier.wait(START_TIMEOUT)
        done = []
        for _ in jobs:
            try:
                item = results.get(timeout=RUN_TIMEOUT)
            except queue.Empty:
                raise SystemExit(
                    f"{backend}, {processes} processes: no result in {RUN_TIMEOUT:.0f} s"
                ) from None
            if item[0] != "ok":
                raise SystemExit(f"{backend}, {processes} processes: a writer failed:\n{item[1]}")
            done.append(item)
    finally:
        for job in jobs:
            job.join(30)
            if job.is_alive():
                job.kill()
                job.join()
    wall = max(d[2] for d in done) - min(d[1] for d in done)
    cpu = sum(d[3] for d in done)
    add_median = float(np.median([t for d in done for t in d[5]]))
    ids = sorted(rid for d in done for rid in d[4])
    return wall, cpu, add_median, ids


def check(
    target: str,
    options: dict[str, Any] | None,
    ids: list[int],
    count: int,
    samples: np.ndarray,
    offsets: list[int],
    rng: np.random.Generator,
) -> str:
    """Every recording the writers added is listed once and holds its piece, exactly (one window each)."""
    arc = wildzarr.open(target, mode="r", storage_options=options)
    listed = arc.ids()
    if len(set(ids)) != len(ids) or listed != ids or len(ids) != count:
        raise SystemExit(f"WRONG RESULT: the writers got ids {ids}, the archive lists {listed}")
    length = PIECE_SECONDS * SAMPLERATE
    seen = set()
    for rid in listed:
        rec = arc[rid]
        k = int(rec.info.source.name.removeprefix("piece_").removesuffix(".wav"))
        seen.add(k)
        if rec.samples != length or rec.channels != 2:
            raise SystemExit(f"WRONG RESULT: recording {rid} holds {rec.samples} x {rec.channels}")
        a = int(rng.integers(0, length - 4096))
        expected = samples[offsets[k] + a : offsets[k] + a + 4096]
        if not np.array_equal(rec.read(a, a + 4096), expected):
            raise SystemExit(f"WRONG RESULT: recording {rid} (piece {k}) reads back other samples")
    if len(seen) != count:
        raise SystemExit("WRONG RESULT: some pieces were stored twice, others not at all")
    return f"{count} listed, {count} windows exact"


def server_ms(runs: list[Run]) -> str:
    """Median CPU milliseconds of the S3 server per recording over ``runs`` ("" if not measured)."""
    values = [x.server_cpu / x.recordings for x in runs if x.server_cpu is not None]
    return f"{np.median(values) * 1e3:.0f}" if values else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--per-process", type=int, default=40, help="recordings each process imports (40)")
    parser.add_argument("--processes", type=int, nargs="+", default=(1, 2, 4), help="process counts (1 2 4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every configuration (3)")
    parser.add_argument("--no-s3", action="store_true", help="local folder only")
    args = parser.parse_args()
    if args.quick:
        args.per_process, args.rounds = 3, 1
    no_s3 = args.no_s3 or s3util.available()
    count = max(args.processes) * args.per_process
    rng = np.random.default_rng(args.seed)

    with temp_dir() as tmp:
        samples, offsets, paths = cut_pieces(tmp / "pieces", count)
        s3 = None if no_s3 else s3util.S3()
        try:
            wait_for_load(args.max_load)
            print_machine()
            print(
                f"pieces: {count} x {PIECE_SECONDS} s of 48 kHz stereo 16-bit WAV "
                f"({paths[0].stat().st_size:,} bytes each), cut from {corpus(10).wav.name}"
            )
            backends = ["local"] + ([] if s3 is None else ["s3"])
            runs: list[Run] = []
            for r in range(args.rounds):
                for backend in backends:
                    for processes in args.processes:
                        if backend == "local":
                            target, options = str(tmp / f"archive-{r}-{processes}.zarr"), None
                        else:
                            assert s3 is not None
                            target, options = f"s3://{s3.new_bucket()}/archive", s3.options
                        print(f"  round {r + 1}: {backend}, {processes} processes ...", file=sys.stderr)
                        n = processes * args.per_process
                        server0 = s3.server_cpu() if s3 is not None and backend == "s3" else None
                        wall, cpu, add_median, ids = run(
                            backend, target, options, processes, args.per_process, paths
                        )
                        server = s3.server_cpu() if server0 is not None and s3 is not None else None
                        server_cpu = server - server0 if server is not None and server0 is not None else None
                        checked = check(target, options, ids, n, samples, offsets, rng)
                        runs.append(
                            Run(r + 1, backend, processes, n, wall, cpu, add_median, checked, server_cpu)
                        )
                        if backend == "local":
                            shutil.rmtree(target)  # free the disk space early
        finally:
            if s3 is not None:
                s3.stop()

    print(
        f"\n## Import throughput, {args.per_process} recordings of {PIECE_SECONDS} s per process "
        f"({args.rounds} rounds; median over rounds, best in brackets)\n"
    )
    rows: list[list[object]] = []
    summary: dict[tuple[str, int], float] = {}
    for backend in dict.fromkeys(run_.backend for run_ in runs):
        for processes in args.processes:
            mine = [x for x in runs if x.backend == backend and x.processes == processes]
            rate = np.array([x.per_second for x in mine])
            summary[backend, processes] = float(np.median(rate))
            base = summary[backend, args.processes[0]]
            rows.append(
                [
                    backend,
                    processes,
                    mine[0].recordings,
                    f"{np.median([x.wall for x in mine]):.2f}",
                    f"{np.median(rate):.2f} ({rate.max():.2f})",
                    f"{np.median(rate) * PIECE_SECONDS:.0f} ({rate.max() * PIECE_SECONDS:.0f})",
                    f"{np.median(rate) / base:.2f}",
                    f"{np.median([x.add_median for x in mine]) * 1e3:.0f}",
                    f"{np.median([x.cpu / x.recordings for x in mine]) * 1e3:.0f}",
                    server_ms(mine),
                    mine[0].checked if all(x.checked == mine[0].checked for x in mine) else "see rounds",
                ]
            )
    print(
        table(
            [
                "store",
                "processes",
                "recordings",
                "wall s",
                "recordings/s",
                "audio s per wall s",
                f"speed-up vs {args.processes[0]}",
                "add() median ms",
                "writers' CPU ms per recording",
                "S3 server's CPU ms per recording",
                "checked",
            ],
            rows,
        )
    )
    print("\nEvery round:\n")
    print(
        table(
            ["round", "store", "processes", "wall s", "recordings/s"],
            [[x.round, x.backend, x.processes, f"{x.wall:.2f}", f"{x.per_second:.2f}"] for x in runs],
        )
    )
    print(f"\ncores: {os.cpu_count()}; load average now {load_text()}")
    if no_s3:
        print(f"S3 skipped: {no_s3}")


if __name__ == "__main__":
    main()
