"""Archive scale (format 2): add() against archive size, listing at 1k/10k/100k, S3 request counts.

1. **add() against archive size**: ``arc.add(noise, samplerate=48000)`` of distinct
   2,000-sample mono int16 arrays (small, so that the archive's cost is measured, not
   encoding) into a new local-folder archive, 10,000 times, every add timed; the median
   per block of 500 adds, the ratio last block / first block, a (Theil-Sen) line
   through the block medians extrapolated to 100,000, and 500 adds into the
   100,000-recording archive of part 2 interleaved add by add with 500 into a cloned
   10,000-recording archive (after ``os.sync()``, so that the clones' writeback is not
   timed). ``os.fsync`` is wrapped (monkeypatched in this process) to measure the cost
   of the durable commit: fsync calls per add, their time, and by which step. The same
   curve on a tmpfs (``/dev/shm``, where fsync is nearly free) for comparison.
2. **Listing at scale**: ``wildzarr.open``, ``len(arc)``, ``arc.ids()``, ``id in arc``
   (present and missing), ``arc[id]``, ``[rec for rec in arc]`` and ``wildzarr ls``
   (``python -m wildzarr.cli ls ARCHIVE``, a subprocess, output to /dev/null) at 1,000
   and 10,000 recordings (the archive of part 1 while it grows) and at 100,000. The
   100,000 archive is the 10,000 one extended by cloning: recordings 1-300 are copied
   under new ids with plain file writes (no fsync: a fixture, not an import), each with
   the records the format requires (id claim, content claim under a distinct fake
   sha256, recording document rewritten with the new ``info.id``, sha256 and token and
   a recomputed checksum, commit marker naming the fake sha256), then checked:
   ``arc.ids()`` is 1..100,000, cloned recordings read back equal to their originals
   and pass ``wildzarr verify``.
3. **S3 request counts** (a moto server from ``tests/s3server.py``): requests per
   ``add()``; requests from ``wildzarr.open(url, mode="r")`` to the first
   ``rec.read(a, a + 4096)``; requests of ``arc.ids()``, ``len(arc)``, ``id in arc`` on
   an archive of 3,000 recordings (100 added, the rest cloned through the backend's
   ``create``/``put``). Counted by a botocore ``before-send`` hook and, independently,
   by moto's request recorder; the two must agree.

    PYTHONPATH=src python benchmarks/bench_archive.py            # full: about 10 minutes
    PYTHONPATH=src python benchmarks/bench_archive.py --quick    # smoke run, under a minute
"""

from __future__ import annotations

import argparse
import copy
import gc
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import s3util
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
from corpus import temp_dir

import wildzarr
from wildzarr.documents import dumps_record, encode_group, loads_record, parse_group
from wildzarr.storage import Backend, LocalBackend
from wildzarr.verify import verify

SAMPLERATE = 48_000
#: Samples of each small recording of the add curve (mono int16 noise).
SMALL_SAMPLES = 2_000
#: Recordings the 100,000 archive is cloned from (ids 1..CLONE_SOURCES).
CLONE_SOURCES = 300
TMPFS = Path("/dev/shm")


def noise(seed: int, samples: int = SMALL_SAMPLES, channels: int = 1) -> np.ndarray:
    """Distinct int16 noise for each seed (13-bit amplitude)."""
    shape = (samples, channels) if channels > 1 else (samples,)
    return np.random.default_rng(seed).integers(-4096, 4096, size=shape, dtype=np.int16)


# -- fsync -------------------------------------------------------------------------------


class FsyncMeter:
    """Counts and times every ``os.fsync`` of this process while entered (monkeypatches ``os.fsync``).

    ``LocalBackend`` calls ``os.fsync`` through the module attribute, so the wrapper
    sees every call. With ``sites=True`` each call is also attributed to the import
    step it belongs to (by the function names on the stack: private names of
    wildzarr, fine for a diagnosis).
    """

    def __init__(self, sites: bool = False) -> None:
        self.calls = 0
        self.seconds = 0.0
        self.sites: Counter[str] = Counter()
        self._want_sites = sites
        self._real = os.fsync

    def __enter__(self) -> FsyncMeter:
        os.fsync = self._timed
        return self

    def __exit__(self, *exc: object) -> None:
        os.fsync = self._real

    def _timed(self, fd: int) -> None:
        if self._want_sites:
            self.sites[_fsync_site()] += 1
        t0 = time.perf_counter()
        try:
            self._real(fd)
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1


def _fsync_site() -> str:
    names = [frame.name for frame in traceback.extract_stack()[:-2]]
    kind = "folder" if {"_make_durable", "_fsync_folder"} & set(names) else "file"
    for function, step in (
        ("claim_id", "id claim (ids/<id>)"),
        ("claim_content", "content claim (sha256/<hex>)"),
        ("commit", "commit marker (complete/<id>)"),
        ("sync", "stream nodes (Backend.sync)"),
        ("_store", "recording document (<id>/zarr.json)"),
    ):
        if function in names:
            return f"{step}: {kind}"
    return f"other: {kind}"


# -- the add curve -------------------------------------------------------------------------


@dataclass
class Curve:
    """Per-add times of a build by ``add()``, in seconds."""

    times: np.ndarray
    fsync: np.ndarray
    fsync_calls: int
    block: int

    @property
    def median(self) -> float:
        return float(np.median(self.times))

    def blocks(self) -> list[tuple[int, int, float, float, float]]:
        """(first add, last add, median s, p95 s, median fsync s) of each block."""
        rows = []
        for first in range(0, len(self.times), self.block):
            t = self.times[first : first + self.block]
            f = self.fsync[first : first + self.block]
            rows.append(
                (
                    first + 1,
                    first + len(t),
                    float(np.median(t)),
                    float(np.percentile(t, 95)),
                    float(np.median(f)),
                )
            )
        return rows

    def fit(self) -> tuple[float, float]:
        """Theil-Sen line through the block medians against the archive size: (intercept s, slope s).

        The slope is the median of the slopes between every pair of blocks, so a few
        blocks slowed by other load do not tilt it; the intercept the median residual.
        """
        sizes = np.array([(first - 1 + last - 1) / 2 for first, last, *_ in self.blocks()])  # mid-block size
        medians = np.array([median for _, _, median, _, _ in self.blocks()])
        i, j = np.triu_indices(len(sizes), k=1)
        slope = float(np.median((medians[j] - medians[i]) / (sizes[j] - sizes[i]))) if len(i) else 0.0
        return float(np.median(medians - slope * sizes)), slope


def interleaved_adds(arcs: list[wildzarr.Archive], n: int, seed: int) -> list[Curve]:
    """``n`` adds into each archive, alternating between them add by add (who goes first rotates)."""
    times = np.empty((len(arcs), n))
    fsync = np.empty((len(arcs), n))
    calls = [0] * len(arcs)
    arrays = [[noise(seed + i * len(arcs) + k) for i in range(n)] for k in range(len(arcs))]
    with FsyncMeter() as meter, no_gc():
        for i in range(n):
            for k in np.roll(np.arange(len(arcs)), i):
                f0, c0 = meter.seconds, meter.calls
                t0 = time.perf_counter()
                arcs[k].add(arrays[k][i], samplerate=SAMPLERATE)
                times[k, i] = time.perf_counter() - t0
                fsync[k, i] = meter.seconds - f0
                calls[k] += meter.calls - c0
    return [Curve(times[k], fsync[k], calls[k], n) for k in range(len(arcs))]


def build_by_add(
    arc: wildzarr.Archive,
    n: int,
    block: int,
    seed: int,
    checkpoints: dict[int, Callable[[], None]] | None = None,
) -> Curve:
    """``n`` adds of distinct small arrays, each timed (garbage collection only between blocks).

    ``checkpoints[k]`` runs (untimed) once the archive holds ``k`` recordings.
    """
    times = np.empty(n)
    fsync = np.empty(n)
    arrays = [noise(seed + i) for i in range(min(block, n))]
    with FsyncMeter() as meter:
        gc.collect()
        gc.disable()
        try:
            for i in range(n):
                if i % block == 0 and i:
                    gc.enable()
                    gc.collect()
                    gc.disable()
                    arrays = [noise(seed + j) for j in range(i, min(i + block, n))]
                x = arrays[i % block]
                f0 = meter.seconds
                t0 = time.perf_counter()
                arc.add(x, samplerate=SAMPLERATE)
                times[i] = time.perf_counter() - t0
                fsync[i] = meter.seconds - f0
                if checkpoints and (i + 1) in checkpoints:
                    gc.enable()
                    checkpoints[i + 1]()
                    gc.disable()
        finally:
            gc.enable()
    return Curve(times, fsync, meter.calls, block)


def fsync_sites(arc: wildzarr.Archive, adds: int, seed: int) -> tuple[Counter[str], float]:
    """fsync calls per add by import step (and per-add time, s), over ``adds`` further adds."""
    arrays = [noise(seed + i) for i in range(adds)]
    with FsyncMeter(sites=True) as meter:
        t0 = time.perf_counter()
        for x in arrays:
            arc.add(x, samplerate=SAMPLERATE)
        elapsed = time.perf_counter() - t0
    return meter.sites, elapsed / adds


# -- listing ------------------------------------------------------------------------------


def time_budget(fn: Callable[[], object], budget: float, max_repeats: int = 50) -> Stats:
    """Time ``fn()`` at least once and then again while the total stays under ``budget`` seconds."""
    times: list[float] = []
    while len(times) < max_repeats:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if sum(times) > budget or (len(times) >= 3 and sum(times) + np.median(times) > budget):
            break
    return Stats(np.array(times))


def listing(path: Path, n: int, budget: float) -> dict[str, Stats]:
    """Listing operations on the local archive at ``path`` holding recordings 1..n (read-only).

    The present id is ``min(5000, n // 2)``, the missing one ``n + 1``.
    """
    present, missing = min(5000, n // 2), n + 1
    arc = wildzarr.open(path, mode="r")
    if len(arc) != n or present not in arc or missing in arc:
        raise SystemExit(f"WRONG RESULT: the archive at {path} does not hold exactly recordings 1..{n}")
    cli = [sys.executable, "-m", "wildzarr.cli", "ls", str(path)]

    def ls() -> None:
        subprocess.run(cli, stdout=subprocess.DEVNULL, check=True)

    return {
        "wildzarr.open(path, mode='r')": time_budget(lambda: wildzarr.open(path, mode="r"), budget),
        "len(arc)": time_budget(lambda: len(arc), budget),
        "arc.ids()": time_budget(arc.ids, budget),
        "id in arc (present)": time_budget(lambda: present in arc, budget),
        "id in arc (missing: n + 1)": time_budget(lambda: missing in arc, budget),
        "arc[id] (one document)": time_budget(lambda: arc[present], budget),
        "[rec for rec in arc]": time_budget(lambda: [rec for rec in arc], 4 * budget, max_repeats=5),
        "for rec in arc: pass (nothing kept)": time_budget(lambda: all(rec for rec in arc), 4 * budget, 5),
        "wildzarr ls ARCHIVE > /dev/null (subprocess)": time_budget(ls, 4 * budget, max_repeats=5),
    }


def cli_startup(budget: float) -> Stats:
    """``python -m wildzarr.cli --help``: the interpreter and imports, the floor under ``wildzarr ls``."""
    cli = [sys.executable, "-m", "wildzarr.cli", "--help"]
    return time_budget(lambda: subprocess.run(cli, stdout=subprocess.DEVNULL, check=True), budget, 5)


# -- cloning ------------------------------------------------------------------------------


@dataclass
class Template:
    """One recording's nodes, with its documents parsed so that clones can be re-identified."""

    rid: int
    nodes: list[tuple[str, bytes]]  # key below P/<id>/ and bytes, copied as they are
    streams: list[tuple[str, dict[str, Any], dict[str, Any]]]  # stream documents: key, fields, attributes
    fields: dict[str, Any]  # the recording document's wildzarr fields (checksum dropped)
    attributes: dict[str, Any]
    claim: dict[str, Any]

    @classmethod
    def load(cls, backend: Backend, rid: int) -> Template:
        nodes, streams = [], []
        fields: dict[str, Any] | None = None
        attributes: dict[str, Any] = {}
        for key, _ in backend.list_keys(str(rid)):
            rel = key.split("/", 1)[1]
            data = backend.get(key)
            assert data is not None
            parts = rel.split("/")
            if rel == "zarr.json":
                fields, attributes = parse_group(data, require_checksum=True)
            elif len(parts) == 2 and parts[1] == "zarr.json":  # a stream group
                stream_fields, stream_attributes = parse_group(data, require_checksum=True)
                assert stream_fields is not None
                streams.append((rel, stream_fields, stream_attributes))
            else:
                nodes.append((rel, data))
        claim = loads_record(backend.get(f"_wildzarr/ids/{rid}"))
        if fields is None or claim is None:
            raise SystemExit(f"recording {rid} has no document or no id claim: cannot clone it")
        return cls(rid, nodes, streams, fields, attributes, claim)

    def clone(self, rid: int) -> list[tuple[str, bytes, bool]]:
        """``(key, bytes, exclusive)`` of every object of a clone under id ``rid``, in import order."""
        token = uuid.uuid4().hex
        sha256 = hashlib.sha256(f"wildzarr benchmark clone {rid}".encode()).hexdigest()
        fields = copy.deepcopy(self.fields)
        fields["info"]["id"] = rid
        fields["info"]["source"]["sha256"] = sha256
        fields["token"] = token
        objects = [
            (
                f"_wildzarr/ids/{rid}",
                dumps_record({**self.claim, "id": rid, "token": token, "sha256": sha256}),
                True,
            ),
            (f"_wildzarr/sha256/{sha256}", dumps_record({"id": rid, "token": token}), True),
        ]
        objects += [(f"{rid}/{rel}", data, False) for rel, data in self.nodes]
        objects += [
            (f"{rid}/{rel}", encode_group({**stream_fields, "token": token}, stream_attributes), False)
            for rel, stream_fields, stream_attributes in self.streams
        ]
        objects.append((f"{rid}/zarr.json", encode_group(fields, self.attributes), True))
        objects.append(
            (f"_wildzarr/complete/{rid}", dumps_record({"id": rid, "token": token, "sha256": sha256}), True)
        )
        return objects


class FolderWriter:
    """Plain file writes below a folder (no fsync: building a fixture, not importing)."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self._made: set[str] = set()

    def __call__(self, key: str, data: bytes, exclusive: bool) -> None:
        path = os.path.join(self.root, key)
        parent = os.path.dirname(path)
        if parent not in self._made:
            os.makedirs(parent, exist_ok=True)
            self._made.add(parent)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
        fd = os.open(path, flags, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


def backend_writer(backend: Backend) -> Callable[[str, bytes, bool], None]:
    """Writes through a backend: ``create`` for the records the format creates exclusively, else ``put``."""

    def write(key: str, data: bytes, exclusive: bool) -> None:
        if exclusive:
            if not backend.create(key, data):
                raise SystemExit(f"clone: {key} exists already")
        else:
            backend.put(key, data)

    return write


def clone(
    templates: list[Template],
    first: int,
    last: int,
    write: Callable[[str, bytes, bool], None],
    threads: int = 1,
) -> float:
    """Clone the templates, in turn, under ids ``first..last``; return the seconds taken."""
    t0 = time.perf_counter()

    def one(rid: int) -> None:
        for key, data, exclusive in templates[(rid - first) % len(templates)].clone(rid):
            write(key, data, exclusive)

    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(one, range(first, last + 1), chunksize=16):
                pass
    else:
        for rid in range(first, last + 1):
            one(rid)
    write("_wildzarr/next_id", dumps_record({"next_id": last + 1}), False)  # what the last import would leave
    return time.perf_counter() - t0


def check_clones(arc: wildzarr.Archive, n: int, templates: list[Template], first: int) -> str:
    """ids() must be 1..n; a few clones must read back equal to their originals and pass verify."""
    ids = arc.ids()
    if ids != list(range(1, n + 1)):
        raise SystemExit(f"WRONG RESULT: ids() lists {len(ids)} recordings, not 1..{n}")
    picks = sorted({first, (first + n) // 2, n})
    for rid in picks:
        source = templates[(rid - first) % len(templates)].rid
        if not np.array_equal(arc[rid].read(), arc[source].read()):
            raise SystemExit(f"WRONG RESULT: clone {rid} does not read back as recording {source}")
    report = verify(arc, ids=picks)
    if not report.ok:
        raise SystemExit(
            "WRONG RESULT: cloned recordings fail verify: " + "; ".join(map(str, report.findings))
        )
    return f"ids() = 1..{n:,}; clones {', '.join(f'{r:,}' for r in picks)} read back exactly and pass verify"


# -- S3 -----------------------------------------------------------------------------------


@dataclass
class S3Results:
    recordings: int
    real: int
    per_add: list[list[tuple[str, str]]] = field(default_factory=list)  # requests of each add()
    to_first_read: list[tuple[str, int]] = field(default_factory=list)  # step, requests
    first_read: list[tuple[str, str]] = field(default_factory=list)  # every request until the first read
    after: list[tuple[str, int]] = field(default_factory=list)
    agree: bool = True
    clone_seconds: float = 0.0


def request_kind(method: str, path: str) -> str:
    """GET, PUT, HEAD, DELETE, or LIST (a GET of ListObjectsV2)."""
    return "LIST" if method == "GET" and "list-type=2" in path else method


def s3_counts(recordings: int, real: int, seed: int) -> S3Results:
    """Build an S3 archive of ``recordings`` (``real`` of them by add()) and count a reader's requests."""
    result = S3Results(recordings, real)
    s3 = s3util.S3()
    try:
        url = f"s3://{s3.new_bucket()}/archive"
        counter = s3util.RequestCounter(s3.fresh_filesystem())
        arc = wildzarr.open(url, mode="w", storage_options=s3.options)  # uses the counted file system
        for i in range(real - 1):
            x = noise(seed + i)
            with counter.counting() as sent:
                arc.add(x, samplerate=SAMPLERATE)
            result.per_add.append(sent)
        long_rec = arc.add(noise(seed + real, SAMPLERATE * 30, 2), samplerate=SAMPLERATE)  # 30 s stereo
        templates = [Template.load(arc.backend, rid) for rid in range(1, real)]
        result.clone_seconds = clone(templates, real + 1, recordings, backend_writer(arc.backend), threads=8)

        # A reader starting from nothing (a new file system and client), counted by the hook and by moto.
        counter = s3util.RequestCounter(s3.fresh_filesystem())

        def counted(what: str, fn: Callable[[], Any], into: list[tuple[str, int]]) -> Any:
            before = len(counter.sent)
            value = fn()
            into.append((what, len(counter.sent) - before))
            return value

        a = SAMPLERATE * 10 + 1234
        with s3util.MotoRecorder(s3).recording() as received, counter.counting() as sent:
            reader = counted(
                "wildzarr.open(url, mode='r')",
                lambda: wildzarr.open(url, mode="r", storage_options=s3.options),
                result.to_first_read,
            )
            rec = counted(
                f"arc[{long_rec.id}] (30 s stereo)", lambda: reader[long_rec.id], result.to_first_read
            )
            window = counted(
                "first rec.read(a, a + 4096)", lambda: rec.read(a, a + 4096), result.to_first_read
            )
            result.first_read = list(counter.sent)
            counted("second rec.read(b, b + 4096)", lambda: rec.read(a + 96_000, a + 100_096), result.after)
            ids = counted("arc.ids()", reader.ids, result.after)
            counted("len(arc)", lambda: len(reader), result.after)
            counted("id in arc (present)", lambda: recordings // 2 in reader, result.after)
            counted("id in arc (missing)", lambda: recordings + 1 in reader, result.after)
            counted("arc[id] (a cloned recording)", lambda: reader[recordings // 2], result.after)
        if not np.array_equal(window, long_rec.read(a, a + 4096)) or ids != list(range(1, recordings + 1)):
            raise SystemExit("WRONG RESULT: the S3 reader read other samples or listed other ids")
        result.agree = sorted(sent) == sorted(received)
        if not result.agree:
            print(f"  the hook saw {len(sent)} requests, moto received {len(received)}:", file=sys.stderr)
            for item in sorted(set(sent) ^ set(received)):
                print(f"    {item}", file=sys.stderr)
    finally:
        s3.stop()
    return result


# -- report -------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return seconds * 1e3


@contextmanager
def tmpfs_dir() -> Iterator[Path | None]:
    if not (TMPFS.is_dir() and os.access(TMPFS, os.W_OK)):
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix="wz-bench-", dir=TMPFS))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--adds", type=int, default=10_000, help="adds of the curve (default 10,000)")
    parser.add_argument("--block", type=int, default=500, help="adds per block of the curve (default 500)")
    parser.add_argument("--small", type=int, default=1_000, help="archive size of the small listing (1,000)")
    parser.add_argument("--clone-to", type=int, default=100_000, help="size of the cloned archive (100,000)")
    parser.add_argument("--adds-at-clone", type=int, default=500, help="adds timed into the cloned archive")
    parser.add_argument("--s3-recordings", type=int, default=3_000, help="size of the S3 archive (3,000)")
    parser.add_argument("--s3-real", type=int, default=100, help="of which added with add() (100)")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per listing measurement (about)")
    parser.add_argument("--no-tmpfs", action="store_true", help="skip the add curve on /dev/shm")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 request counts")
    args = parser.parse_args()
    if args.quick:
        args.adds, args.block, args.small, args.clone_to = 1_000, 100, 200, 5_000
        args.adds_at_clone, args.s3_recordings, args.s3_real, args.budget = 100, 300, 10, 0.5
    if args.adds % args.block or args.small % args.block or not args.small < args.adds < args.clone_to:
        parser.error("need small < adds < clone-to, and adds and small multiples of block")
    no_s3 = args.no_s3 or s3util.available()
    wait_for_load(args.max_load)
    print_machine()
    started = time.perf_counter()

    listings: dict[int, dict[str, Stats]] = {}
    tmpfs_curve: Curve | None = None
    with tmpfs_dir() as shm:
        if shm is not None and not args.no_tmpfs:
            print(f"  tmpfs: {args.adds:,} adds ...", file=sys.stderr)
            tmpfs_curve = build_by_add(
                wildzarr.open(shm / "a.zarr", mode="w"), args.adds, args.block, args.seed
            )
    with temp_dir() as tmp:
        path = tmp / "archive.zarr"
        arc = wildzarr.open(path, mode="w")
        print(f"  disk: {args.adds:,} adds ...", file=sys.stderr)
        curve = build_by_add(
            arc,
            args.adds,
            args.block,
            args.seed,
            checkpoints={
                args.small: lambda: listings.update({args.small: listing(path, args.small, args.budget)})
            },
        )
        listings[args.adds] = listing(path, args.adds, args.budget)
        startup = cli_startup(args.budget)

        print(f"  cloning to {args.clone_to:,} ...", file=sys.stderr)
        backend = LocalBackend(str(path), read_only=True)
        templates = [Template.load(backend, rid) for rid in range(1, min(CLONE_SOURCES, args.adds) + 1)]
        clone_seconds = clone(templates, args.adds + 1, args.clone_to, FolderWriter(path))
        clone_check = check_clones(wildzarr.open(path, mode="r"), args.clone_to, templates, args.adds + 1)
        listings[args.clone_to] = listing(path, args.clone_to, args.budget)
        # A second archive of `adds` recordings, cloned the same way, to compare adds at both sizes alike.
        small_clone = tmp / "small-clone.zarr"
        wildzarr.open(small_clone, mode="w").close()
        clone(templates, 1, args.adds, FolderWriter(small_clone))
        print("  os.sync() ...", file=sys.stderr)
        os.sync()  # write the clones out now, not under the timed adds (ext4 data=ordered fsyncs wait for it)
        print(f"  {args.adds_at_clone} adds into each, interleaved ...", file=sys.stderr)
        arcs = [wildzarr.open(small_clone), wildzarr.open(path)]
        at_small, at_big = interleaved_adds(arcs, args.adds_at_clone, args.seed + 10**7)
        if [len(a) for a in arcs] != [args.adds + args.adds_at_clone, args.clone_to + args.adds_at_clone]:
            raise SystemExit("WRONG RESULT: adds into the cloned archives are not all listed")
        sites, sites_add = fsync_sites(arcs[1], 50, args.seed + 2 * 10**7)
        print("  removing the archives ...", file=sys.stderr)
    s3 = None if no_s3 else s3_counts(args.s3_recordings, args.s3_real, args.seed + 3 * 10**7)
    elapsed = time.perf_counter() - started

    # -- 1. add() against archive size ----------------------------------------------------
    blocks = curve.blocks()
    shm_blocks = tmpfs_curve.blocks() if tmpfs_curve is not None else None
    print(
        f"\n## add() against archive size (local folder; {args.adds:,} adds of "
        f"{SMALL_SAMPLES:,}-sample arrays)\n"
    )
    rows: list[list[object]] = []
    for k, (first, last, median, p95, fsync_median) in enumerate(blocks):
        row: list[object] = [
            f"{first:,}-{last:,}",
            f"{first - 1:,}-{last - 1:,}",
            ms(median),
            ms(p95),
            ms(fsync_median),
        ]
        if shm_blocks is not None:
            row.append(ms(shm_blocks[k][2]))
        rows.append(row)
    headers = ["adds", "archive size before", "median ms", "p95 ms", "of which fsync (median) ms"]
    print(table(headers + (["tmpfs median ms"] if shm_blocks else []), rows))

    ratio = blocks[-1][2] / blocks[0][2]
    intercept, slope = curve.fit()
    last_size = args.adds - args.block / 2
    predicted = blocks[-1][2] + max(slope, 0.0) * (args.clone_to - last_size)
    small_block = blocks[args.small // args.block]
    big_ratio = at_big.median / at_small.median
    print("\nadd() at an archive size (medians):\n")
    size_rows: list[list[object]] = [
        [f"0 (adds 1-{args.block:,})", ms(blocks[0][2]), ms(shm_blocks[0][2]) if shm_blocks else ""],
        [
            f"{args.small:,} (adds {small_block[0]:,}-{small_block[1]:,})",
            ms(small_block[2]),
            ms(shm_blocks[args.small // args.block][2]) if shm_blocks else "",
        ],
        [
            f"{args.adds - args.block:,} (adds {blocks[-1][0]:,}-{blocks[-1][1]:,})",
            ms(blocks[-1][2]),
            ms(shm_blocks[-1][2]) if shm_blocks else "",
        ],
        [f"{args.clone_to:,}, extrapolated from the curve (below)", ms(predicted), ""],
        [
            f"{args.adds:,}, cloned archive, {args.adds_at_clone} adds interleaved with the next row",
            ms(at_small.median),
            "",
        ],
        [f"{args.clone_to:,}, cloned archive, {args.adds_at_clone} adds interleaved", ms(at_big.median), ""],
    ]
    print(table(["archive size", "disk ms", "tmpfs ms"], size_rows))
    per_1000_us = slope * 1e3 * 1e6
    p95_big, p95_small = (ms(float(np.percentile(c.times, 95))) for c in (at_big, at_small))
    fsync_big, fsync_small = (ms(float(np.median(c.fsync))) for c in (at_big, at_small))
    print(
        f"\nslope (Theil-Sen, over the {len(blocks)} block medians): {per_1000_us:+.1f} us per 1,000 "
        f"recordings already in the archive (intercept {ms(intercept):.3f} ms); extrapolation to "
        f"{args.clone_to:,}: last block median + max(slope, 0) x ({args.clone_to:,} - {last_size:,.0f}) "
        f"= {ms(predicted):.3f} ms"
    )
    print(
        f"measured, interleaved: add at {args.clone_to:,} / add at {args.adds:,} = {big_ratio:.3f} "
        f"(p95 {p95_big:.2f} vs {p95_small:.2f} ms; fsync median {fsync_big:.2f} vs {fsync_small:.2f} ms)"
    )
    fsync_share = curve.fsync.sum() / curve.times.sum()
    print(
        f"\nfsync (local disk): {curve.fsync_calls / args.adds:.2f} calls per add, "
        f"{ms(curve.fsync.sum() / args.adds):.3f} ms per add = {fsync_share:.1%} of add time "
        f"(median add {ms(np.median(curve.times)):.3f} ms)"
    )
    if tmpfs_curve is not None:
        print(
            f"fsync (tmpfs): {tmpfs_curve.fsync_calls / args.adds:.2f} calls per add, "
            f"{ms(tmpfs_curve.fsync.sum() / args.adds):.3f} ms per add = "
            f"{tmpfs_curve.fsync.sum() / tmpfs_curve.times.sum():.1%} of add time "
            f"(median add {ms(np.median(tmpfs_curve.times)):.3f} ms); "
            f"disk median / tmpfs median: {np.median(curve.times) / np.median(tmpfs_curve.times):.2f}"
        )
    print(
        f"\nfsync calls per add by step (50 further adds into the {args.clone_to:,} archive, "
        f"{ms(sites_add):.2f} ms each, stack inspection included):\n"
    )
    print(table(["step: what is fsynced", "calls per add"], [[k, v / 50] for k, v in sorted(sites.items())]))
    print(
        f"\nclone build: {args.clone_to - args.adds:,} recordings cloned in {clone_seconds:.0f} s; "
        f"{clone_check}"
    )

    # -- 2. listing ---------------------------------------------------------------------------
    sizes = sorted(listings)
    print("\n## Listing at scale (local folder, warm page cache; median s, best in brackets)\n")
    list_rows = []
    for name in listings[sizes[0]]:
        list_rows.append(
            [name, *(f"{listings[n][name].median:.4g} ({listings[n][name].best:.4g})" for n in sizes)]
        )
    print(table(["operation", *(f"{n:,} recordings" for n in sizes)], list_rows))
    print(
        f"\npresent ids: {', '.join(f'{min(5000, n // 2):,}' for n in sizes)}; "
        f"interpreter + imports alone (`python -m wildzarr.cli --help`): {startup.median:.3f} s"
    )
    print(
        "per recording: arc.ids() "
        + ", ".join(f"{listings[n]['arc.ids()'].median / n * 1e6:.2f} us" for n in sizes)
        + "; [rec for rec in arc] "
        + ", ".join(f"{listings[n]['[rec for rec in arc]'].median / n * 1e3:.3f} ms" for n in sizes)
    )

    # -- 3. S3 --------------------------------------------------------------------------------
    if s3 is not None:
        print(f"\n## S3 requests (moto server; archive of {s3.recordings:,} recordings)\n")
        kinds = Counter(request_kind(m, p) for sent in s3.per_add for m, p in sent)
        per_add = [len(sent) for sent in s3.per_add]
        print(
            f"add() of a {SMALL_SAMPLES:,}-sample array: {np.mean(per_add):.2f} requests "
            f"(min {min(per_add)}, max {max(per_add)}, over {len(per_add)} adds): "
            + ", ".join(f"{k} {v / len(per_add):.2f}" for k, v in sorted(kinds.items()))
        )
        print("\nA new reader (new s3fs client):\n")
        step_rows: list[list[object]] = []
        total = 0
        for what, count in s3.to_first_read:
            total += count
            step_rows.append([what, count, total])
        step_rows += [[what, count, ""] for what, count in s3.after]
        print(table(["operation", "requests", "cumulative"], step_rows))
        print(
            "\nrequests to the first read, in order: "
            + "; ".join(f"{request_kind(m, p)} {p.split('/archive', 1)[-1] or '/'}" for m, p in s3.first_read)
        )
        print(f"botocore hook and moto's request log agree on every request: {'yes' if s3.agree else 'NO'}")
        print(
            f"({s3.recordings - s3.real:,} recordings cloned through the backend in {s3.clone_seconds:.0f} s)"
        )

    # -- targets ------------------------------------------------------------------------------
    print(f"\n## Targets (load average now {load_text()}; the run took {elapsed / 60:.1f} min)\n")
    print(target_line(f"add() median last {args.block} / first {args.block} (disk)", ratio, "<=", 1.2))
    if shm_blocks is not None:
        print(f"(the same on tmpfs: {shm_blocks[-1][2] / shm_blocks[0][2]:.3f}; no target)")
    big = listings[args.clone_to]
    for name in ("len(arc)", "arc.ids()", "id in arc (present)", "id in arc (missing: n + 1)"):
        print(target_line(f"{name} at {args.clone_to:,} recordings, s", big[name].median, "<=", 1.0))
    if s3 is not None:
        to_read = sum(count for _, count in s3.to_first_read)
        print(target_line("S3 requests from open to the first 4096-sample read", to_read, "<=", 8))
        ids_requests = dict(s3.after)["arc.ids()"]
        pages = -(-s3.recordings // 1000)
        print(
            target_line(
                f"S3 requests of arc.ids() at {s3.recordings:,} recordings (1 per 1,000 started)",
                ids_requests,
                "<=",
                pages,
            )
        )
        if not s3.agree:
            print("WARNING: the request counts of the hook and of moto differ (see stderr)")
    else:
        print(f"S3 skipped: {no_s3}")


if __name__ == "__main__":
    main()
