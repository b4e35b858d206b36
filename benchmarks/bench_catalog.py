"""Catalog benchmark: ``arc.catalog()`` of 100,000 recordings on a local folder, and its requests on S3.

The archive is built once into ``--archive`` (kept for later runs): 500 real
imports (``arc.add`` of 0.1 s int16 arrays at 48 kHz with eight user metadata
keys and a start time), then clones of them, each with its own metadata and
start time, up to ``--recordings`` (cloning as ``bench_archive.py`` does). Then, each timed in a fresh
Python process and in a warm one:

- ``catalog()`` served by the snapshot (the steady state);
- ``catalog()`` after another process updated one recording's user metadata
  (the update must show: checked) and after 100 more imports;
- ``catalog(refresh=True)``: rebuilt from every recording document;
- ``query("site == 'A' and samplerate >= 48000")`` on a warm catalog;
- for comparison, reading every recording's ``info`` by iterating the archive
  (what a user did before the catalog), timed on the first 2,000 recordings.

Every catalog is checked against ``catalog(refresh=True)`` (equal frames).
On S3 (a local moto server) an archive of ``--s3-recordings`` recordings is built
and the requests of one ``catalog()`` from a freshly opened archive are counted
(before and after one update), to show they do not grow with the archive.

    PYTHONPATH=src python benchmarks/bench_catalog.py                     # 100,000 recordings
    PYTHONPATH=src python benchmarks/bench_catalog.py --quick             # 5,000
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from bench_archive import FolderWriter, Template
from common import add_common_options, load_text, print_machine, table, wait_for_load

import wildzarr

SITES = ("A", "B", "C", "D", "E")
BATCH = 100
#: Recordings imported for real; the rest are clones of them.
REAL = 500


def _import_batch(path: str, first: int, count: int, seed: int | None = None) -> int:
    """Import ``count`` recordings numbered from ``first`` (a worker process); noise seeded by ``seed``."""
    arc = wildzarr.open(path)
    rng = np.random.default_rng(first if seed is None else seed)
    base = pd.Timestamp("2024-05-01T20:00:00Z")
    for n in range(first, first + count):
        arc.add(
            rng.integers(-2000, 2000, 4800, dtype=np.int16),
            samplerate=48_000,
            start_time=base + pd.Timedelta(minutes=15 * n),
            user_meta=_user_meta(n),
        )
    return count


def _user_meta(n: int) -> dict[str, object]:
    return {
        "site": SITES[n % len(SITES)],
        "deployment": f"D{n // 5000:03d}",
        "device": f"AM-{n % 97:02d}",
        "habitat": ("forest", "meadow", "wetland")[n % 3],
        "observer": ("JS", "AK", "MT")[n % 3],
        "night": n // 40,
        "gain": float(n % 4),
        "verified": bool(n % 2),
    }


def build(path: Path, recordings: int, workers: int) -> None:
    """Import ``REAL`` recordings, then clone them (``bench_archive.Template``) up to ``recordings``.

    A clone is a real import's nodes and documents under a new id, with its own
    user metadata and start time (the catalog must not profit from repeated rows).
    Clones are written as files (no change notes, like a writer of an older
    version): the first catalog reads their documents and writes the snapshot.
    """
    arc = wildzarr.open(path)
    have = len(arc)
    if have >= recordings:
        return
    started = time.perf_counter()
    real = min(REAL, recordings)
    if have < real:
        print(f"importing {real - have} recordings with {workers} processes ...", flush=True)
        batches = [(str(path), n, min(BATCH, real - n)) for n in range(have, real, BATCH)]
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_import_batch, *zip(*batches, strict=True)))
        have = real
    templates = [Template.load(arc.backend, rid) for rid in range(1, real + 1)]
    write = FolderWriter(path)
    first = max(arc.ids()) + 1
    print(f"cloning {recordings - have:,} recordings ...", flush=True)
    base = pd.Timestamp("2024-05-01T20:00:00Z")
    for n, rid in enumerate(range(first, first + recordings - have), start=have):
        template = templates[n % len(templates)]
        original = template.fields
        fields = copy.deepcopy(original)
        fields["user_meta"] = _user_meta(n)
        fields["time"]["start"] = (base + pd.Timedelta(minutes=15 * n)).isoformat()
        template.fields = fields
        try:
            for key, data, exclusive in template.clone(rid):
                write(key, data, exclusive)
        finally:
            template.fields = original
    print(f"built in {time.perf_counter() - started:.0f} s")


_FRESH = """
import sys, time
t0 = time.perf_counter()
import wildzarr
t1 = time.perf_counter()
arc = wildzarr.open(sys.argv[1], mode=sys.argv[2])
cat = arc.catalog()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, len(cat))
"""


def fresh(path: Path, mode: str = "r") -> tuple[float, float, int]:
    """(import wildzarr, open + catalog, rows) in a new Python process."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    out = subprocess.run(
        [sys.executable, "-c", _FRESH, str(path), mode], capture_output=True, text=True, check=True, env=env
    )
    imported, catalog, rows = out.stdout.split()
    return float(imported), float(catalog), int(rows)


def best_of(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def check(arc: wildzarr.Archive, what: str) -> None:
    served, rebuilt = arc.catalog(), arc.catalog(refresh=True)
    pd.testing.assert_frame_equal(served, rebuilt)
    print(f"  checked: {what}: catalog() equals catalog(refresh=True) ({len(served):,} rows)")


def local(args: argparse.Namespace) -> list[list[str]]:
    path = Path(args.archive)
    build(path, args.recordings, args.workers)
    arc = wildzarr.open(path)
    arc.catalog()  # the steady state: a snapshot written
    rows: list[list[str]] = []
    imported, cold, n = fresh(path)
    rows.append(
        [f"catalog(), fresh process ({n:,} rows)", f"{cold:.3f}", f"import wildzarr {imported:.2f} s"]
    )
    rows.append(["catalog(), warm process", f"{best_of(arc.catalog, 3):.3f}", "best of 3"])
    cat = arc.catalog()
    expr = "site == 'A' and samplerate >= 48000"
    rows.append(
        [f"query({expr!r})", f"{best_of(lambda: arc.query(expr), 3):.3f}", f"{len(arc.query(expr)):,} ids"]
    )
    rid = int(cat.index[len(cat) // 2])
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import wildzarr; wildzarr.open({str(path)!r})[{rid}].update_user_meta(site='Z')",
        ],
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")},
    )
    _, after_update, _ = fresh(path)
    assert arc.catalog().loc[rid, "site"] == "Z", "the update by another process is missing"
    rows.append(["catalog(), fresh process, after 1 update elsewhere", f"{after_update:.3f}", "update shown"])
    _import_batch(str(path), args.recordings, 100, seed=time.time_ns())  # new content every run
    _, after_adds, n2 = fresh(path)
    rows.append([f"catalog(), fresh process, after 100 imports ({n2:,} rows)", f"{after_adds:.3f}", ""])
    check(arc, "after the update and the imports")
    t0 = time.perf_counter()
    arc.catalog(refresh=True)
    rows.append(["catalog(refresh=True): every document read", f"{time.perf_counter() - t0:.3f}", ""])
    sample = 2000
    t0 = time.perf_counter()
    for i, rec in enumerate(arc):
        _ = rec.info
        if i + 1 == sample:
            break
    per = (time.perf_counter() - t0) / sample
    rows.append(
        [
            f"iterating recordings' info (first {sample:,})",
            f"{per * sample:.3f}",
            f"{per * n2:.1f} s for all {n2:,} (extrapolated)",
        ]
    )
    return rows


def s3(args: argparse.Namespace) -> list[list[str]]:
    from s3util import S3, RequestCounter, available

    why = available()
    if why:
        print(f"S3 skipped: {why}")
        return []
    server = S3()
    try:
        url = f"s3://{server.new_bucket()}/catalog"
        arc = wildzarr.open(url, storage_options=server.options)
        rng = np.random.default_rng(1)
        for n in range(args.s3_recordings):
            arc.add(
                rng.integers(-100, 100, 480, dtype=np.int16),
                samplerate=48_000,
                user_meta={"site": SITES[n % 5]},
            )
        arc.catalog()
        rows = []
        for what in ("steady state", "after 1 update"):
            if what == "after 1 update":
                arc[1].update_user_meta(site="Z")
            counter = RequestCounter(server.fresh_filesystem())  # counts what the next open uses
            reader = wildzarr.open(url, mode="r", storage_options=server.options)
            with counter.counting() as sent:
                cat = reader.catalog()
            kinds = ", ".join(sorted({f"{m} {p.split('?')[0].rsplit('/', 2)[-2]}" for m, p in sent}))
            rows.append(
                [f"S3 catalog() of {len(cat):,} recordings, {what}", "", f"{len(sent)} requests ({kinds})"]
            )
        return rows
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recordings", type=int, default=100_000)
    parser.add_argument("--s3-recordings", type=int, default=2_000)
    parser.add_argument("--archive", default="/tmp/wildzarr-bench-catalog.zarr", help="kept between runs")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    add_common_options(parser)
    args = parser.parse_args()
    if args.quick:
        args.recordings, args.s3_recordings = 5_000, 300
        args.archive = args.archive.replace(".zarr", "-quick.zarr")
    print_machine()
    wait_for_load(args.max_load)
    rows = local(args) + s3(args)
    print(table(["measure", "seconds", "note"], rows))
    print(load_text())


if __name__ == "__main__":
    main()
