"""Run every benchmark script in turn, each in its own process, with the same options.

PYTHONPATH=src python benchmarks/bench_all.py [--quick] [--max-load 0.5] [--out results.txt]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_scan.py",
    "bench_read.py",
    "bench_import.py",
    "bench_archive.py",
    "bench_writers.py",
    "bench_codecs.py",
    "bench_npy_pipelines.py",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (a smoke run)")
    parser.add_argument("--max-load", type=float, default=None, help="each script waits for this load")
    parser.add_argument("--out", type=Path, default=None, help="also write everything printed to this file")
    args = parser.parse_args()
    options = (["--quick"] if args.quick else []) + (
        ["--max-load", str(args.max_load)] if args.max_load is not None else []
    )
    output: list[str] = []
    for script in SCRIPTS:
        header = f"\n# {script} {' '.join(options)}\n"
        print(header, flush=True)
        done = subprocess.run(
            [sys.executable, str(HERE / script), *options], capture_output=True, text=True, check=False
        )
        print(done.stdout, end="")
        print(done.stderr, end="", file=sys.stderr)
        output += [header, done.stdout]
        if done.returncode:
            sys.exit(f"{script} failed with status {done.returncode}")
    if args.out is not None:
        args.out.write_text("".join(output))


if __name__ == "__main__":
    main()
