"""Shared helpers of the benchmark scripts: timing statistics, machine facts, load, tables."""

from __future__ import annotations

import argparse
import gc
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from importlib import metadata

import numpy as np

try:
    import wildzarr
except ImportError:  # a message for the user
    sys.exit(
        "wildzarr is not importable: run from the project root with PYTHONPATH=src "
        "(e.g. PYTHONPATH=src python benchmarks/bench_read.py) or after `pip install .`"
    )


@dataclass(frozen=True)
class Stats:
    """Summary of repeated timings, in seconds."""

    times: np.ndarray

    @property
    def median(self) -> float:
        return float(np.median(self.times))

    @property
    def p95(self) -> float:
        return float(np.percentile(self.times, 95))

    @property
    def best(self) -> float:
        return float(np.min(self.times))

    @property
    def median_ms(self) -> float:
        return self.median * 1e3

    @property
    def p95_ms(self) -> float:
        return self.p95 * 1e3


def time_calls(fn: Callable[[], object], repeats: int) -> Stats:
    """Time ``fn()`` ``repeats`` times (garbage collection off while timing)."""
    times = np.empty(repeats)
    with no_gc():
        for i in range(repeats):
            t0 = time.perf_counter()
            fn()
            times[i] = time.perf_counter() - t0
    return Stats(times)


@contextmanager
def no_gc() -> Iterator[None]:
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load() -> tuple[float, float, float]:
    """The 1-, 5- and 15-minute load averages."""
    return os.getloadavg()


def load_text() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*load())


def wait_for_load(max_load: float | None, timeout: float = 600.0) -> None:
    """Wait (up to ``timeout`` seconds) until the 1-minute load average is below ``max_load``."""
    if max_load is None:
        return
    deadline = time.monotonic() + timeout
    while load()[0] > max_load and time.monotonic() < deadline:
        print(f"  waiting for load < {max_load} (now {load_text()}) ...", file=sys.stderr)
        time.sleep(15)


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (a smoke run)")
    parser.add_argument("--seed", type=int, default=20261120, help="random seed of the window starts")
    parser.add_argument(
        "--max-load", type=float, default=None, help="wait until the 1-minute load average is below this"
    )


def _lscpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


def _commit() -> str:
    """Which wildzarr source is measured: the checkout's git commit (noting uncommitted changes below
    src/, e.g. other engineers' edits in progress), or the folder it was imported from otherwise."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = os.path.dirname(os.path.dirname(os.path.abspath(wildzarr.__file__)))
    if source != os.path.join(root, "src"):
        return f"imported from {source}, not this checkout"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in src/" if dirty else "")


def machine() -> dict[str, str]:
    """Facts to record with every result."""
    import soundfile as sf

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"

    return {
        "date": date.today().isoformat(),
        "cpu": _lscpu_model(),
        "cores": str(os.cpu_count()),
        "memory": f"{_memory_gib():.1f} GiB",
        "python": platform.python_version(),
        "wildzarr": wildzarr.__version__,
        "commit": _commit(),
        "numpy": np.__version__,
        "zarr": version("zarr"),
        "av": version("av"),
        "pyflac": version("pyflac"),
        "soundfile": version("soundfile"),
        "libsndfile": sf.__libsndfile_version__,
        "load": load_text(),
    }


def print_machine() -> None:
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine().items()))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def target_line(what: str, value: float, op: str, goal: float) -> str:
    met = value <= goal if op == "<=" else value >= goal
    return f"target {what} {op} {goal:g}: {value:.3f} -> {'MET' if met else 'NOT MET'}"
