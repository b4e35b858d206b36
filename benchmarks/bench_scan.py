"""Frame-index scan speed: ``wildzarr.scanner.scan_flac`` alone, in MB/s (1 MB = 10**6 bytes).

Scans FLAC streams held in memory as ``bytes``: wildzarr's own (what an import
scans) and the soundfile-written FLAC of the same audio, each checked to find
every frame (the sample count adds up and frames are 4096 samples apart).

    PYTHONPATH=src python benchmarks/bench_scan.py            # 10 and 60 min
    PYTHONPATH=src python benchmarks/bench_scan.py --quick    # 1 and 6 min
"""

from __future__ import annotations

import argparse

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
from corpus import corpus, wildzarr_flac

from wildzarr.scanner import scan_flac


def check_scan(data: bytes, samples: int) -> int:
    scan = scan_flac(data)
    if scan.streaminfo.total_samples != samples or not np.all(np.diff(scan.first_samples) == 4096):
        raise SystemExit("WRONG RESULT: the scan does not index every 4096-sample frame")
    return scan.n_frames


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
    for minutes in args.minutes:
        c = corpus(minutes)
        for who, path in (("wildzarr FLAC -5", wildzarr_flac(c)), ("soundfile FLAC", c.flac)):
            name = f"{minutes:g} min, {who}"
            streams[name] = path.read_bytes()
            frames[name] = check_scan(streams[name], c.samples)
    wait_for_load(args.max_load)
    print_machine()

    results: dict[str, Stats] = {}
    for name, data in streams.items():
        results[name] = time_calls(lambda data=data: scan_flac(data), args.repeats)
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
    print(f"\n## scan_flac on bytes in memory (median of {args.repeats})\n")
    print(table(["stream", "MB", "frames", "median ms", "best ms", "MB/s (median)"], rows))
    print(f"\n## Ratios (load average now {load_text()})\n")
    slowest = min(row[5] for row in rows)
    for row in rows:
        print(f"{row[0]}: {row[5]:.0f} MB/s, {row[3] * 1e3 / row[2]:.2f} us per frame")
    print(target_line("scan MB/s (slowest stream)", slowest, ">=", 1000))


if __name__ == "__main__":
    main()
