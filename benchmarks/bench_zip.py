"""Zip benchmark: random 4096-sample windows from one archive as a folder, a zip read by zarr's ZipStore,
and the same zip (written by ``wildzarr pack``) read by ZipBackend, by position in the 8 MiB blob chunk.

zarr's ZipStore reads a member through Python's ``zipfile``, which reaches byte
``b`` of a member by reading the ``b`` bytes before it; ZipBackend reads a
stored member in place with one ``pread``. A few 10-minute 48 kHz stereo corpus
recordings (FLAC, about 60 MB and 8 blob chunks each) are imported into a
folder and packed; random windows are drawn so that every 1 MiB of a chunk
gets the same number of windows (by the byte where the window's first frame
starts). The folder and ZipBackend read each window in turn (interleaved, so
they share load and caches); ZipStore reads them all afterwards (a ZipStore read
streams up to 8 MiB through the CPU caches, which would slow whatever runs next).
Timed twice: ``rec.read(start, start + 4096)`` (fetch, check, decode), and the
fetch alone (the backend's ``get_immutable_ranges`` for the window's bytes, as
``rec.read`` asks for them). Every
window read is compared with the source WAV; a mismatch aborts the run.

    PYTHONPATH=src python benchmarks/bench_zip.py            # 3 recordings of 10 minutes
    PYTHONPATH=src python benchmarks/bench_zip.py --quick    # 2 recordings of 1 minute
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
from bench_read import wav_samples
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
from corpus import corpus, folder_bytes, temp_dir

import wildzarr
from wildzarr.arrays import blob_chunk_key
from wildzarr.pack import pack

KINDS = ("folder", "zip, ZipStore", "zip, ZipBackend")
MIB = 1 << 20


@dataclass(frozen=True)
class Window:
    """A window: which recording, its first sample, and where its bytes lie in the blob."""

    rid: int
    start: int
    chunk: int  # blob chunk holding the window's first byte
    begin: int  # first byte, relative to that chunk
    end: int  # byte after the last, relative to that chunk (may run into the next chunk)
    chunk_size: int  # bytes per blob chunk of that recording
    bin: int  # MiB of the chunk the first byte lies in


def windows_by_position(
    arc: wildzarr.Archive, width: int, per_bin: int, rng: np.random.Generator
) -> list[Window]:
    """``per_bin`` random windows whose first byte lies in each MiB of a blob chunk, in random order."""
    indexes = {}
    for rid in arc.ids():
        ((_, reader),) = arc[rid]._stream_readers()  # private: the frame index and the blob's chunk size
        indexes[rid] = (reader.index, reader.blob.chunk_size, arc[rid].info.samples)
    chunk_size = max(size for _, size, _ in indexes.values())
    bins = -(-chunk_size // MIB)
    chosen: dict[int, list[Window]] = {b: [] for b in range(bins)}
    while any(len(found) < per_bin for found in chosen.values()):
        rid = int(rng.choice(list(indexes)))
        index, size, samples = indexes[rid]
        start = int(rng.integers(0, samples - width, endpoint=True))
        (span,) = index.plan(start, start + width)
        chunk, begin = divmod(span.byte_start, size)
        window = Window(rid, start, chunk, begin, span.byte_stop - chunk * size, size, begin // MIB)
        if len(chosen[window.bin]) < per_bin:
            chosen[window.bin].append(window)
    out = [w for found in chosen.values() for w in found]
    return [out[i] for i in rng.permutation(len(out))]


def fetcher(arc: wildzarr.Archive, window: Window) -> Callable[[], object]:
    """The backend requests that fetch ``window``'s bytes (what ``rec.read`` asks its backend for)."""
    blob = f"{window.rid}/0/blob"
    first = (f"{blob}/{blob_chunk_key(window.chunk)}", window.begin, window.end)
    size = window.chunk_size
    requests = (
        [first]
        if window.end <= size
        else [
            (first[0], window.begin, size),
            (f"{blob}/{blob_chunk_key(window.chunk + 1)}", 0, window.end - size),
        ]
    )
    backend = arc.backend
    return lambda: backend.get_immutable_ranges(requests)


def time_windows(
    archives: dict[str, wildzarr.Archive], windows: list[Window], width: int, truth: dict[int, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Seconds per window of ``rec.read`` and of the fetch alone, per archive (in turn, window by window)."""
    recordings = {kind: {rid: arc[rid] for rid in arc.ids()} for kind, arc in archives.items()}
    reads = {kind: np.empty(len(windows)) for kind in archives}
    fetches = {kind: np.empty(len(windows)) for kind in archives}
    fetchers = {kind: [fetcher(arc, w) for w in windows] for kind, arc in archives.items()}
    order = list(archives)
    with no_gc():
        for i, w in enumerate(windows):
            order = order[1:] + order[:1]  # no archive always goes first
            for kind in order:
                t0 = time.perf_counter()
                got = recordings[kind][w.rid].read(w.start, w.start + width)
                t1 = time.perf_counter()
                fetchers[kind][i]()
                t2 = time.perf_counter()
                reads[kind][i], fetches[kind][i] = t1 - t0, t2 - t1
                if not np.array_equal(got, truth[w.rid][w.start : w.start + width]):
                    raise SystemExit(f"WRONG RESULT: {kind}, recording {w.rid}, window at {w.start}")
    return reads, fetches


def position_table(times: dict[str, np.ndarray], windows: list[Window]) -> tuple[str, dict[str, list[float]]]:
    """Median ms per MiB of the chunk and archive, and the medians themselves."""
    bins = sorted({w.bin for w in windows})
    where = np.array([w.bin for w in windows])
    medians = {kind: [float(np.median(t[where == b])) for b in bins] for kind, t in times.items()}
    rows = []
    for k, b in enumerate(bins):
        folder = medians["folder"][k]
        cells = [medians[kind][k] * 1e3 for kind in KINDS]
        rows.append(
            [f"{b}-{b + 1} MiB", *cells, medians[KINDS[1]][k] / folder, medians[KINDS[2]][k] / folder]
        )
    rows.append(
        ["all", *(Stats(times[kind]).median_ms for kind in KINDS)]
        + [Stats(times[kind]).median / Stats(times["folder"]).median for kind in KINDS[1:]]
    )
    headers = [
        "first byte in chunk",
        *(f"{kind} ms" for kind in KINDS),
        "ZipStore / folder",
        "ZipBackend / folder",
    ]
    return table(headers, rows), medians


def build(folder: Path, zip_path: Path, minutes: float, count: int) -> tuple[dict[int, np.ndarray], float]:
    """Import ``count`` copies of the corpus into ``folder``, pack it; the true samples and the pack time."""
    c = corpus(minutes)
    arc = wildzarr.open(folder)
    for _ in range(count):
        arc.add(c.wav, allow_duplicates=True)
    t0 = time.perf_counter()
    pack(folder, zip_path)
    seconds = time.perf_counter() - t0
    samples = wav_samples(c.wav)
    return {rid: samples for rid in arc.ids()}, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each recording")
    parser.add_argument("--recordings", type=int, default=3, help="recordings in the archive")
    parser.add_argument("--per-mib", type=int, default=150, help="windows per MiB of a blob chunk")
    parser.add_argument("--width", type=int, default=4096, help="window length in samples")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.recordings, args.per_mib = 1.0, 2, 20
    rng = np.random.default_rng(args.seed)
    with temp_dir() as tmp:
        folder, zip_path = tmp / "a.zarr", tmp / "a.zip"
        truth, pack_seconds = build(folder, zip_path, args.minutes, args.recordings)
        archives = {
            "folder": wildzarr.open(folder, mode="r"),
            "zip, ZipStore": wildzarr.open(zarr.storage.ZipStore(zip_path, mode="r"), mode="r"),
            "zip, ZipBackend": wildzarr.open(zip_path, mode="r"),
        }
        windows = windows_by_position(archives["folder"], args.width, args.per_mib, rng)
        time_windows(archives, windows[:20], args.width, truth)  # warm up: decoders, page cache
        wait_for_load(args.max_load)
        print_machine()
        reads, fetches = time_windows(
            {k: archives[k] for k in (KINDS[0], KINDS[2])}, windows, args.width, truth
        )
        old_reads, old_fetches = time_windows({KINDS[1]: archives[KINDS[1]]}, windows, args.width, truth)
        reads, fetches = {**reads, **old_reads}, {**fetches, **old_fetches}
        sizes = (folder_bytes(folder), zip_path.stat().st_size)
        stored = sum(rec.info.stored_bytes for rec in archives["folder"])
        load_after = load_text()

    print(
        f"\n## Archive: {args.recordings} recordings of {args.minutes:g} min, 48 kHz stereo FLAC "
        f"({stored / 1e6:.1f} MB stored; folder {sizes[0] / 1e6:.1f} MB, zip {sizes[1] / 1e6:.1f} MB); "
        f"pack took {pack_seconds:.2f} s ({sizes[1] / 1e6 / pack_seconds:.0f} MB/s)"
    )
    print(f"\n## rec.read: random {args.width}-sample windows by where they start in their blob chunk")
    print(
        f"({args.per_mib} windows per MiB, median ms; folder and ZipBackend interleaved, then ZipStore; "
        "every window equals the WAV)\n"
    )
    read_table, read_medians = position_table(reads, windows)
    print(read_table)
    print(
        "\n## The fetch alone: the backend's get_immutable_ranges for the same windows' bytes (median ms)\n"
    )
    fetch_table, fetch_medians = position_table(fetches, windows)
    print(fetch_table)

    print(f"\n## Ratios (load average now {load_after})\n")
    ratios = {
        "window median ZipBackend/folder": Stats(reads[KINDS[2]]).median / Stats(reads["folder"]).median,
        "window median ZipStore/folder": Stats(reads[KINDS[1]]).median / Stats(reads["folder"]).median,
        "window p95 ZipBackend/folder": Stats(reads[KINDS[2]]).p95 / Stats(reads["folder"]).p95,
    }
    for kind in KINDS:
        ratios[f"window median last MiB/first MiB, {kind}"] = read_medians[kind][-1] / read_medians[kind][0]
        ratios[f"fetch median last MiB/first MiB, {kind}"] = fetch_medians[kind][-1] / fetch_medians[kind][0]
    for name, value in ratios.items():
        print(f"{name}: {value:.3f}")
    print()
    print(
        target_line("window median ZipBackend/folder", ratios["window median ZipBackend/folder"], "<=", 1.5)
    )
    print(
        target_line(
            "window median last MiB/first MiB, ZipBackend",
            ratios["window median last MiB/first MiB, zip, ZipBackend"],
            "<=",
            1.2,
        )
    )


if __name__ == "__main__":
    main()
