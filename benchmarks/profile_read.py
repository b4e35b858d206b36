"""Where the time of ``Recording.read`` goes: plan, fetch, split, decode, the rest.

Times the stages of ``StreamReader.read`` one by one for random windows (and a
whole-recording read), then runs cProfile over ``rec.read``. It reaches into
private objects (``Recording._stream_readers``, the reader's decoder), so it may
need adjusting when src/ changes; the numbers it prints are for diagnosis, the
benchmark figures come from bench_read.py.

    PYTHONPATH=src python benchmarks/profile_read.py            # 10-minute recording
    PYTHONPATH=src python benchmarks/profile_read.py --quick
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import pstats
import time

import av
import numpy as np
from common import add_common_options, load_text, no_gc, print_machine, table, wait_for_load
from corpus import corpus, temp_dir

import wildzarr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--windows", type=int, default=2000)
    parser.add_argument("--width", type=int, default=4096)
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.windows = 1, 300
    c = corpus(args.minutes)
    wait_for_load(args.max_load)
    print_machine()
    rng = np.random.default_rng(args.seed)
    starts = rng.integers(0, c.samples - args.width, size=args.windows, endpoint=True)
    with temp_dir() as tmp:
        rec = wildzarr.open(tmp / "p.zarr").add(c.wav)
        rec.read(0, args.width)
        ((_, reader),) = rec._stream_readers()
        decoder = reader._decoder()
        names = ["plan", "fetch", "split", "decode (all)", "  of which FFmpeg", "rec.read (whole call)"]
        times = {n: np.empty(args.windows) for n in names}
        with no_gc():
            for i, s in enumerate(starts.tolist()):
                t0 = time.perf_counter()
                (span,) = reader.index.plan(s, s + args.width)
                t1 = time.perf_counter()
                data = memoryview(reader.blob.read(span.byte_start, span.byte_stop))
                t2 = time.perf_counter()
                offsets = reader.index.offsets[span.lead : span.stop + 1] - span.byte_start
                bounds = offsets.tolist()
                frames = [data[a:b] for a, b in itertools.pairwise(bounds)]
                t3 = time.perf_counter()
                decoder.decode(frames)
                t4 = time.perf_counter()
                for frame in frames:
                    decoder._decode(av.Packet(frame))
                t5 = time.perf_counter()
                rec.read(s, s + args.width)
                t6 = time.perf_counter()
                for name, dt in zip(
                    names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5), strict=True
                ):
                    times[name][i] = dt
        total = float(np.median(times["rec.read (whole call)"]))
        rows = [[n, float(np.median(t)) * 1e6, float(np.median(t)) / total] for n, t in times.items()]
        stages = sum(float(np.median(times[n])) for n in ("plan", "fetch", "split", "decode (all)"))
        rows.append(["rest (checks, trim, dtype)", (total - stages) * 1e6, (total - stages) / total])
        print(f"\n## Stages of a {args.width}-sample window read ({args.windows} windows, median us)\n")
        print(table(["stage", "median us", "share of rec.read"], rows))

        whole_t0 = time.perf_counter()
        rec.read()
        whole = time.perf_counter() - whole_t0
        t0 = time.perf_counter()
        blob = reader.blob.read(0, reader.blob.size)
        fetch = time.perf_counter() - t0
        speed = c.seconds / whole
        print(f"\nwhole read: {whole:.3f} s ({speed:.0f} x realtime); fetching all bytes: {fetch:.3f} s")
        del blob

        profiler = cProfile.Profile()
        profiler.enable()
        for s in starts.tolist():
            rec.read(s, s + args.width)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print(f"\n## cProfile of {args.windows} window reads, by own time\n")
        print(out.getvalue())
    print(f"load average now {load_text()}")


if __name__ == "__main__":
    main()
