"""Frame-index scan speed of the C scanners alone, in MB/s (1 MB = 10**6 bytes).

FLAC: ``wildzarr.scan.flac.scan_flac`` on wildzarr's own FLAC (what an import
scans) and the soundfile-written FLAC of the same audio, each checked to find
every frame (the sample count adds up and frames are 4096 samples apart).

ADTS: ``wildzarr.scan.adts.scan_adts`` on AAC LC at 160 kb/s from PyAV's native
encoder. Only the shortest corpus is encoded (about 10x realtime); longer ADTS
streams are that stream repeated, which is a valid ADTS stream (frames carry
no stream-level state). Each scan is checked to find every frame (1024
samples apart, as many as PyAV's encoder wrote).

All streams are ``bytes`` held in memory.

    PYTHONPATH=src python benchmarks/bench_scan.py            # 10 and 60 min
    PYTHONPATH=src python benchmarks/bench_scan.py --quick    # 1 and 6 min
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from common import (
    Stats,
    add_common_options,
    load_text,
    print_machine,
    table,
    target_line,
    time_calls,
    wait_for_load,
)
from corpus import adts_aac, corpus, wildzarr_flac

from wildzarr.scan.adts import SAMPLES_PER_BLOCK, scan_adts
from wildzarr.scan.flac import scan_flac

#: Samples per frame in the FLAC streams (libFLAC and libsndfile at their defaults).
FLAC_BLOCKSIZE = 4096


def check_flac(data: bytes, samples: int) -> int:
    """Scan ``data`` once and check it; return the number of frames."""
    info, index = scan_flac(data)
    if info.total_samples != samples or not np.all(np.diff(index.first_samples[:-1]) == FLAC_BLOCKSIZE):
        raise SystemExit("WRONG RESULT: the FLAC scan does not index every 4096-sample frame")
    return index.n_frames


def check_adts(data: bytes, frames: int) -> int:
    """Scan ``data`` once and check it; return the number of frames."""
    _, index = scan_adts(data)
    if index.n_frames != frames or not np.all(np.diff(index.first_samples) == SAMPLES_PER_BLOCK):
        raise SystemExit("WRONG RESULT: the ADTS scan does not index every 1024-sample frame")
    return index.n_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--minutes", type=float, nargs="+", default=(10, 60))
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.repeats = (1, 6), 5
    streams: dict[str, bytes] = {}
    frames: dict[str, int] = {}
    scanners: dict[str, Callable[[bytes], object]] = {}
    for minutes in args.minutes:
        c = corpus(minutes)
        for who, path in (("wildzarr FLAC -5", wildzarr_flac(c)), ("soundfile FLAC", c.flac)):
            name = f"{minutes:g} min, {who}"
            streams[name] = path.read_bytes()
            frames[name] = check_flac(streams[name], c.samples)
            scanners[name] = scan_flac
    shortest = min(args.minutes)
    adts = adts_aac(corpus(shortest)).read_bytes()
    adts_frames = scan_adts(adts)[1].n_frames
    for minutes in args.minutes:
        copies = max(1, round(minutes / shortest))
        name = f"{shortest * copies:g} min, ADTS AAC LC 160 kb/s"
        streams[name] = adts * copies
        frames[name] = check_adts(streams[name], adts_frames * copies)
        scanners[name] = scan_adts
    wait_for_load(args.max_load)
    print_machine()

    results: dict[str, Stats] = {}
    for name, data in streams.items():
        scan = scanners[name]
        results[name] = time_calls(lambda data=data, scan=scan: scan(data), args.repeats)
    rows = [
        [
            name,
            len(streams[name]) / 1e6,
            frames[name],
            s.median * 1e3,
            s.best * 1e3,
            len(streams[name]) / s.median / 1e6,
        ]
        for name, s in results.items()
    ]
    print(f"\n## scan_flac / scan_adts on bytes in memory (median of {args.repeats})\n")
    print(table(["stream", "MB", "frames", "median ms", "best ms", "MB/s (median)"], rows))
    print(f"\n## Ratios (load average now {load_text()})\n")
    for row in rows:
        print(f"{row[0]}: {row[5]:.0f} MB/s, {row[3] * 1e3 / row[2]:.2f} us per frame")
    slowest_flac = min(row[5] for row in rows if scanners[str(row[0])] is scan_flac)
    print(target_line("FLAC scan MB/s (slowest stream)", slowest_flac, ">=", 1000))


if __name__ == "__main__":
    main()
