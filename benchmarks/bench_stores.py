"""Store benchmark: the same reads from one archive copied into a local folder, ``memory://``, a zarr
``MemoryStore``, S3 (a moto server on 127.0.0.1) and a store with 20 ms of latency per request.

One archive of 10 recordings of 10 minutes (48 kHz stereo 16-bit corpus audio,
``bench_parallel.collection``: FLAC, cached in ``benchmarks/.cache/``) is
imported into a folder and copied key by key into the other stores. The latency
store is ``stores.LatencyStore`` around the same ``MemoryStore`` (every read
request waits 20 ms, concurrently with the others, and is counted). Every
archive is opened with ``wildzarr.open(..., mode="r")``. For each store:

(i) single random 4096-sample windows, a loop of ``rec.read(a, a + 4096)`` on
    recordings opened (and read once) beforehand; the stores take turns window
    by window (rotating who goes first). The folder and the two memory stores
    read 2,000 windows, S3 and the latency store the first 200 of them;
(ii) ``arc.read_many`` of 1,000 random windows (recordings already opened by a
     warm-up batch), at the default settings, and for S3 and the latency store
     at ``set_options(fetch_concurrency=16, 32, 64)``; 3 repeats, interleaved,
     median; on S3 also with ``max_pool_connections=64`` in the botocore client
     (its default is 10 connections);
(iii) a whole 10-minute ``rec.read()``: seconds and x realtime (3 repeats, median);
(iv) requests: per window for single reads and for ``read_many``, per whole
     read, and to open the archive, a recording (``arc[id]``) and its streams
     (the first read). The latency store counts its own requests; S3 requests
     are counted by a botocore ``before-send`` hook on the s3fs client
     (``s3util.RequestCounter``), and the opening ones also by moto's request
     recorder (``s3util.MotoRecorder``), an independent count.

Every window and whole read is compared with the source samples; a mismatch
aborts the run. moto runs on the same 2 cores as the benchmark: its CPU time per
request is printed too.

    PYTHONPATH=src python benchmarks/bench_stores.py            # 10 x 10 min, about 2 minutes
    PYTHONPATH=src python benchmarks/bench_stores.py --no-s3    # without the moto server
    PYTHONPATH=src python benchmarks/bench_stores.py --quick    # smoke run: 3 x 1 min, few windows
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import s3util
from bench_parallel import WIDTH, Collection, collection, random_windows
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
from stores import LatencyStore
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import MemoryStore

import wildzarr
from wildzarr.recording import Recording

FOLDER, FSMEM, ZMEM, LATENCY, S3 = (
    "local folder",
    "memory:// (fsspec)",
    "zarr MemoryStore",
    "latency",
    "S3 (moto)",
)


@dataclass
class Count:
    """Requests counted inside a ``with`` block: the total and by kind."""

    total: int = 0
    kinds: Counter[str] = field(default_factory=Counter)


@dataclass
class Case:
    """One store holding the archive."""

    name: str
    reopen: Callable[[], wildzarr.Archive]  # wildzarr.open(...) anew
    remote: bool  # latency-bound: sweep fetch_concurrency
    counter: Callable[[], AbstractContextManager[Count]] | None = None
    arc: wildzarr.Archive = field(init=False)
    recs: list[Recording] = field(default_factory=list)

    def open(self, ids: list[int]) -> None:
        self.arc = self.reopen()
        self.recs = [self.arc[rid] for rid in ids]
        for rec in self.recs:
            rec.read(0, 16)  # streams opened: frame index loaded, decoder made


def archive_files(folder: Path) -> list[tuple[str, Path]]:
    """Every file of the archive folder as (store key, path)."""
    return [
        (os.path.relpath(os.path.join(d, f), folder).replace(os.sep, "/"), Path(d) / f)
        for d, _, files in os.walk(folder)
        for f in files
    ]


def s3_kind(method: str, url: str) -> str:
    if method == "GET" and "list-type=" in url:
        return "LIST"
    return method


@contextmanager
def latency_count(store: LatencyStore) -> Iterator[Count]:
    result = Count()
    with store.counting() as kinds:
        yield result
    result.kinds.update(kinds)
    result.total = sum(kinds.values())


@contextmanager
def s3_count(counter: s3util.RequestCounter) -> Iterator[Count]:
    result = Count()
    with counter.counting() as sent:
        yield result
    result.kinds.update(s3_kind(m, u) for m, u in sent)
    result.total = len(sent)


@dataclass
class Stores:
    """Every store case, and what to clean up afterwards."""

    cases: dict[str, Case]
    s3: Any = None
    s3_url: str = ""
    cleanup: list[Callable[[], None]] = field(default_factory=list)


def build_stores(col: Collection, args: argparse.Namespace) -> Stores:
    files = archive_files(col.folder)
    total = sum(p.stat().st_size for _, p in files)
    print(f"  copying {len(files)} files ({total / 2**20:.0f} MiB) into the stores ...", file=sys.stderr)
    stores = Stores({})
    stores.cases[FOLDER] = Case(FOLDER, lambda: wildzarr.open(col.folder, mode="r"), remote=False)

    fs = fsspec.filesystem("memory")
    root = f"/wz-bench-stores-{os.getpid()}"
    for key, path in files:
        fs.pipe_file(f"{root}/{key}", path.read_bytes())
    stores.cleanup.append(lambda: fs.rm(root, recursive=True))
    stores.cases[FSMEM] = Case(FSMEM, lambda: wildzarr.open(f"memory://{root}", mode="r"), remote=False)

    memory = MemoryStore()
    prototype = default_buffer_prototype()
    for key, path in files:
        sync(memory.set(key, prototype.buffer.from_bytes(path.read_bytes())))
    stores.cases[ZMEM] = Case(ZMEM, lambda: wildzarr.open(memory, mode="r"), remote=False)

    latency = LatencyStore(memory, args.latency)
    name = f"{LATENCY} {args.latency * 1e3:g} ms (MemoryStore)"
    stores.cases[name] = Case(
        name, lambda: wildzarr.open(latency, mode="r"), remote=True, counter=lambda: latency_count(latency)
    )

    if not args.no_s3:
        why = s3util.available()
        if why:
            print(f"  S3 skipped: {why}", file=sys.stderr)
        else:
            s3 = s3util.S3()
            stores.s3 = s3
            stores.cleanup.append(s3.stop)
            bucket = s3.new_bucket("wzstores")
            url = stores.s3_url = f"s3://{bucket}/archive"
            upload = s3.fresh_filesystem()
            batch: dict[str, bytes] = {}
            for key, path in files:
                batch[f"{bucket}/archive/{key}"] = path.read_bytes()
                if sum(map(len, batch.values())) > 64 << 20:
                    upload.pipe(batch)
                    batch = {}
            if batch:
                upload.pipe(batch)
            fs3 = s3.fresh_filesystem()  # the instance wildzarr.open(url, storage_options=...) gets here
            counter = s3util.RequestCounter(fs3)
            stores.cases[S3] = Case(
                S3,
                lambda: wildzarr.open(url, mode="r", storage_options=s3.options),
                remote=True,
                counter=lambda: s3_count(counter),
            )
    return stores


def check(name: str, col: Collection, k: int, start: int, stop: int, got: np.ndarray) -> None:
    want = col.part(k)[start:stop]
    if got.shape != want.shape or not np.array_equal(got, want):
        raise SystemExit(
            f"WRONG RESULT: {name}: recording part {k} [{start}, {stop}) differs from the source"
        )


def single_windows(cases: list[Case], col: Collection, windows: np.ndarray) -> dict[str, np.ndarray]:
    """Per-window times of ``rec.read`` on every case, window by window in turn (rotating the first)."""
    times = {case.name: np.empty(len(windows)) for case in cases}
    with no_gc():
        for i, (k, start) in enumerate(windows.tolist()):
            for case in cases[i % len(cases) :] + cases[: i % len(cases)]:
                rec = case.recs[k]
                t0 = time.perf_counter()
                got = rec.read(start, start + WIDTH)
                times[case.name][i] = time.perf_counter() - t0
                check(case.name, col, k, start, start + WIDTH, got)
    return times


def counted(case: Case, fn: Callable[[], object]) -> Count:
    """Requests made by ``fn()`` on ``case`` (an empty count where the store cannot count)."""
    if case.counter is None:
        fn()
        return Count()
    with case.counter() as count:
        fn()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--recordings", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes per recording")
    parser.add_argument("--windows", type=int, default=2000, help="single windows (folder and memory)")
    parser.add_argument("--slow-windows", type=int, default=200, help="single windows (S3, latency store)")
    parser.add_argument("--batch", type=int, default=1000, help="windows per read_many call")
    parser.add_argument("--concurrency", type=int, nargs="+", default=(16, 32, 64), help="fetch_concurrency")
    parser.add_argument(
        "--latency", type=float, default=0.020, help="seconds per request of the latency store"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats of read_many and whole reads")
    parser.add_argument("--no-s3", action="store_true", help="skip S3 (moto)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached archive")
    args = parser.parse_args()
    if args.quick:
        args.recordings, args.minutes, args.windows, args.slow_windows = 3, 1.0, 300, 40
        args.batch, args.repeats = 300, 2
    col = collection(args.recordings, args.minutes * 60, flac=False, rebuild=args.rebuild)
    rng = np.random.default_rng(args.seed)
    windows = random_windows(rng, len(col.ids), col.samples, args.windows)
    batch = random_windows(rng, len(col.ids), col.samples, args.batch)
    warm = random_windows(rng, len(col.ids), col.samples, args.batch)
    requests = [(col.ids[k], s, s + WIDTH) for k, s in batch.tolist()]
    warm_requests = [(col.ids[k], s, s + WIDTH) for k, s in warm.tolist()]
    seconds = col.samples / 48_000

    stores = build_stores(col, args)
    try:
        cases = list(stores.cases.values())
        opening = measure_opening(stores, col)
        for case in cases:
            case.open(col.ids)
            for got, (k, s) in zip(case.arc.read_many(warm_requests), warm.tolist(), strict=True):
                check(case.name, col, k, s, s + WIDTH, got)
        fast = [c for c in cases if not c.remote]
        slow = [c for c in cases if c.remote]
        wait_for_load(args.max_load)
        print_machine()
        load_before = load_text()
        cpu0 = stores.s3.server_cpu() if stores.s3 else None

        # (i) single windows
        single = single_windows(fast, col, windows)
        n_slow = min(args.slow_windows, len(windows))
        single_counts: dict[str, Count] = {}
        slow_times: dict[str, np.ndarray] = {}
        if slow:
            with ExitStack() as stack:
                single_counts = {c.name: stack.enter_context(c.counter()) for c in slow if c.counter}
                slow_times = single_windows(slow, col, windows[:n_slow])
        single.update(slow_times)

        # (ii) read_many
        configs: list[tuple[Case, int | None]] = [(c, None) for c in fast]
        configs += [(c, conc) for c in slow for conc in args.concurrency]
        many_times: dict[tuple[str, int | None], list[float]] = {(c.name, conc): [] for c, conc in configs}
        many_counts: dict[tuple[str, int | None], Count] = {}
        for rep in range(args.repeats):
            for case, conc in configs[rep % len(configs) :] + configs[: rep % len(configs)]:
                options = {} if conc is None else {"fetch_concurrency": conc}
                box: list[Any] = []

                def run(case: Case = case, box: list[Any] = box) -> None:
                    with no_gc():
                        t0 = time.perf_counter()
                        box.append(case.arc.read_many(requests))
                        box.append(time.perf_counter() - t0)

                with wildzarr.set_options(**options):
                    count = counted(case, run)
                many_times[(case.name, conc)].append(box[1])
                many_counts.setdefault((case.name, conc), count)
                for got, (k, s) in zip(box[0], batch.tolist(), strict=True):
                    check(case.name, col, k, s, s + WIDTH, got)
        pool_row = s3_pool_row(stores, col, requests, batch, args) if S3 in stores.cases else None

        # (iii) whole reads
        whole_configs: list[tuple[Case, int | None]] = [(c, None) for c in fast]
        whole_configs += [(c, conc) for c in slow for conc in (16, max(args.concurrency))]
        whole_times: dict[tuple[str, int | None], list[float]] = {(c.name, n): [] for c, n in whole_configs}
        whole_counts: dict[tuple[str, int | None], Count] = {}
        truth0 = col.part(0)
        for rep in range(args.repeats):
            for case, conc in whole_configs:
                options = {} if conc is None else {"fetch_concurrency": conc}
                rec = case.recs[0]
                out: list[Any] = []

                def whole(rec: Recording = rec, out: list[Any] = out) -> None:
                    with no_gc():
                        t0 = time.perf_counter()
                        out.append(rec.read())
                        out.append(time.perf_counter() - t0)

                with wildzarr.set_options(**options):
                    count = counted(case, whole)
                whole_times[(case.name, conc)].append(out[1])
                whole_counts.setdefault((case.name, conc), count)
                if rep == 0 and not np.array_equal(out[0], truth0):
                    raise SystemExit(f"WRONG RESULT: {case.name}: whole read differs from the source")
                del out
        cpu1 = stores.s3.server_cpu() if stores.s3 else None
        load_after = load_text()
    finally:
        for clean in reversed(stores.cleanup):
            clean()

    report(
        args,
        col,
        seconds,
        single,
        n_slow,
        single_counts,
        many_times,
        many_counts,
        pool_row,
        whole_times,
        whole_counts,
        opening,
        (load_before, load_after),
        None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
    )


def s3_pool_row(
    stores: Stores,
    col: Collection,
    requests: list[tuple[int, int, int]],
    batch: np.ndarray,
    args: argparse.Namespace,
) -> tuple[int, float] | None:
    """read_many on S3 through an s3fs client with ``max_pool_connections=64`` at the highest concurrency."""
    s3 = stores.s3
    options = {**s3.options, "config_kwargs": {"max_pool_connections": 64}}
    arc = wildzarr.open(stores.s3_url, mode="r", storage_options=options)
    conc = max(args.concurrency)
    times = []
    with wildzarr.set_options(fetch_concurrency=conc):
        arc.read_many(requests)  # warm: recordings opened
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            got = arc.read_many(requests)
            times.append(time.perf_counter() - t0)
            for out, (k, s) in zip(got, batch.tolist(), strict=True):
                check("S3 pool 64", col, k, s, s + WIDTH, out)
    return conc, float(np.median(times))


def measure_opening(stores: Stores, col: Collection) -> dict[str, dict[str, Count]]:
    """Requests to open the archive, a recording, its streams (first read), and of a second window."""
    result: dict[str, dict[str, Count]] = {}
    for case in stores.cases.values():
        if case.counter is None:
            continue
        steps: dict[str, Count] = {}
        box: dict[str, Any] = {}
        steps["wildzarr.open(...)"] = counted(case, lambda box=box, case=case: box.update(arc=case.reopen()))
        rid = col.ids[-1]
        steps["arc[id]"] = counted(case, lambda box=box, rid=rid: box.update(rec=box["arc"][rid]))
        steps["first rec.read(window): opens the streams"] = counted(
            case, lambda box=box: box["rec"].read(0, WIDTH)
        )
        steps["second rec.read(window)"] = counted(
            case, lambda box=box: box["rec"].read(col.samples // 2, col.samples // 2 + WIDTH)
        )
        result[case.name] = steps
        if case.name == S3:
            recorder = s3util.MotoRecorder(stores.s3)
            with recorder.recording() as received:
                arc = case.reopen()
                arc[rid].read(0, WIDTH)
            steps["moto recorder: open + arc[id] + first read"] = Count(
                len(received), Counter(m for m, _ in received)
            )
    return result


def report(
    args: argparse.Namespace,
    col: Collection,
    seconds: float,
    single: dict[str, np.ndarray],
    n_slow: int,
    single_counts: dict[str, Count],
    many_times: dict[tuple[str, int | None], list[float]],
    many_counts: dict[tuple[str, int | None], Count],
    pool_row: tuple[int, float] | None,
    whole_times: dict[tuple[str, int | None], list[float]],
    whole_counts: dict[tuple[str, int | None], Count],
    opening: dict[str, dict[str, Count]],
    loads: tuple[str, str],
    moto_cpu: float | None,
) -> None:
    n_rec = len(col.ids)
    print(
        f"\n# Stores: {n_rec} recordings of {args.minutes:g} min (48 kHz stereo 16-bit, FLAC), "
        f"windows of {WIDTH} samples\n"
    )
    print(f"load average {loads[0]} before, {loads[1]} after\n")
    folder = Stats(single[FOLDER])
    print("## (i) Single windows: a loop of rec.read(a, a + 4096), stores in turn window by window\n")
    rows = []
    for name, t in single.items():
        st = Stats(t)
        c = single_counts.get(name)
        rows.append(
            [
                name,
                len(t),
                st.median_ms,
                st.p95_ms,
                len(t) / float(t.sum()),
                st.median / folder.median,
                "-" if c is None else f"{c.total / len(t):.2f}",
            ]
        )
    print(
        table(
            [
                "store",
                "windows",
                "median ms",
                "p95 ms",
                "windows/s",
                "median / folder's",
                "requests per window",
            ],
            rows,
        )
    )
    print(f"\n(S3 and the latency store: the first {n_slow} of the windows)\n")

    print(
        f"## (ii) read_many of {args.batch:,} random windows ({args.repeats} repeats, interleaved, median)\n"
    )
    rows = []
    base = float(np.median(many_times[(FOLDER, None)]))
    for (name, conc), t in many_times.items():
        med = float(np.median(t))
        c = many_counts.get((name, conc))
        rows.append(
            [
                name,
                "default (threads only)" if conc is None else str(conc),
                med,
                args.batch / med,
                base / med,
                "-" if c is None or not c.total else f"{c.total / args.batch:.3f}",
            ]
        )
    if pool_row:
        rows.append(
            [
                f"{S3}, botocore max_pool_connections=64",
                str(pool_row[0]),
                pool_row[1],
                args.batch / pool_row[1],
                base / pool_row[1],
                "-",
            ]
        )
    print(
        table(
            [
                "store",
                "fetch_concurrency",
                "median s",
                "windows/s",
                "x folder's windows/s",
                "requests per window",
            ],
            rows,
        )
    )

    print(f"\n## (iii) Whole read of a {args.minutes:g}-minute recording ({args.repeats} repeats, median)\n")
    rows = []
    for (name, conc), t in whole_times.items():
        med = float(np.median(t))
        c = whole_counts.get((name, conc))
        rows.append(
            [
                name,
                "default" if conc is None else str(conc),
                med,
                seconds / med,
                "-" if c is None or not c.total else str(c.total),
            ]
        )
    print(table(["store", "fetch_concurrency", "median s", "x realtime", "requests"], rows))

    print("\n## (iv) Requests (latency store: its own count; S3: botocore hook, moto recorder)\n")
    rows = []
    for name, steps in opening.items():
        for step, c in steps.items():
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(c.kinds.items()))
            rows.append([name, step, c.total, kinds])
    print(table(["store", "step", "requests", "by kind"], rows))
    if moto_cpu is not None:
        print(f"\nmoto server CPU time during the timed part: {moto_cpu:.1f} s")

    print()
    for name in (FSMEM, ZMEM):
        print(
            target_line(
                f"single window median {name} / folder's",
                Stats(single[name]).median / folder.median,
                "<=",
                1.3,
            )
        )
    lat = next((n for n, _ in many_times if n.startswith(LATENCY)), None)
    if lat:
        best_conc, best = max(
            ((conc, args.batch / float(np.median(t))) for (n, conc), t in many_times.items() if n == lat),
            key=lambda x: x[1],
        )
        print(
            target_line(
                f"read_many windows/s on the {lat} (best: fetch_concurrency {best_conc})", best, ">=", 500
            )
        )
        for (n, conc), t in whole_times.items():
            if n == lat:
                print(
                    target_line(
                        f"whole read x realtime on the {lat}, fetch_concurrency {conc}",
                        seconds / float(np.median(t)),
                        ">=",
                        1000,
                    )
                )


if __name__ == "__main__":
    main()
