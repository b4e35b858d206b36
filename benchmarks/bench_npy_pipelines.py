"""The npy codec: numcodecs pipelines compared, segment sizes, and window reads against memmap and zarr.

Three sections, each a Markdown table (1 MB = 10**6 bytes; speeds are raw sample bytes per second):

1. Pipelines: every real recording in ``../shared/audio`` decoded by PyAV to its native samples (int16,
   int32 or float32; the AAC track present twice is used once), encoded with ``NpyCodec`` and each
   pipeline (delta mode + numcodecs compressor), scanned, and decoded back (checked equal): bytes,
   ratio to raw, encode and decode MB/s. A FLAC size (soundfile, level 5) is given for the int16 ones.
2. Segment sizes: the default pipeline on the 10-minute stereo 48 kHz int16 corpus
   (``corpus.py``: the real recordings joined end to end), for several ``segment_samples``: ratio,
   whole-read MB/s, random 4096-sample window latency.
3. Windows: a random 4096-sample window of the same corpus read from the npy stream in a file
   (``os.pread`` of the planned byte range + decode, as wildzarr's local storage reads it), from a
   raw ``np.memmap`` of the samples, and from a zarr v3 array (LocalStore) compressed by the same
   Blosc settings; calls interleaved, median and p95, ratios.
4. Layout: the default compressor on planar (channel by channel) and interleaved segments of the
   multichannel recordings and the corpus.
5. Threads: the whole corpus decoded by 1 and by 2 threads (one decoder each), and how late a
   thread waking from short sleeps gets the GIL while the main thread decodes (the decoder releases
   the GIL in its heavy work; a call that holds it makes the probe late by its whole length).

Blosc runs single-threaded (``numcodecs.blosc.use_threads = False``), as in a reader's worker
threads, so compressors compare on one core. Throughputs (MB/s) are CPU time of the measuring thread,
best of ``--repeats``, so that other processes on a shared machine do not skew them; window latencies
are wall-clock times, the readers called in turn for each window.

    PYTHONPATH=src python benchmarks/bench_npy_pipelines.py
    PYTHONPATH=src python benchmarks/bench_npy_pipelines.py --quick      # 1-minute corpus, few repeats
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numcodecs
import numpy as np
import soundfile as sf
import zarr
from common import add_common_options, print_machine, table, wait_for_load
from corpus import AUDIO_DIR, blocks_of, corpus, temp_dir

from wildzarr.audio import AudioFormat
from wildzarr.codecs.npy import DEFAULT_COMPRESSOR, NpyCodec, NpyFrameDecoder
from wildzarr.index import TASK_FRAMES, FrameIndex

WINDOW = 4096

#: name -> (delta mode, numcodecs compressor config)
PIPELINES: dict[str, tuple[str, dict]] = {
    "delta + zstd-1": ("always", {"id": "zstd", "level": 1}),
    "zstd-1": ("never", {"id": "zstd", "level": 1}),
    "blosc zstd-5 shuffle": ("never", {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1}),
    "blosc zstd-5 bitshuffle": ("never", {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 2}),
    "blosc lz4-5 shuffle": ("never", {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}),
    "blosc lz4-5 bitshuffle": ("never", {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 2}),
    "delta + blosc zstd-5 shuffle": ("always", {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1}),
    "delta + blosc zstd-5 bitshuffle": (
        "always",
        {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 2},
    ),
    "delta + blosc lz4-5 bitshuffle": ("always", {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 2}),
    "auto delta + blosc zstd-5 shuffle": (
        "auto",
        {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1},
    ),
    "auto delta + blosc zstd-1 shuffle": (
        "auto",
        {"id": "blosc", "cname": "zstd", "clevel": 1, "shuffle": 1},
    ),
    "auto delta + blosc lz4-5 bitshuffle": (
        "auto",
        {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 2},
    ),
    "blosc lz4hc-1 bitshuffle": ("never", {"id": "blosc", "cname": "lz4hc", "clevel": 1, "shuffle": 2}),
    "auto delta + blosc lz4hc-1 bitshuffle": (
        "auto",
        {"id": "blosc", "cname": "lz4hc", "clevel": 1, "shuffle": 2},
    ),
    "auto delta + blosc lz4hc-5 bitshuffle": (
        "auto",
        {"id": "blosc", "cname": "lz4hc", "clevel": 5, "shuffle": 2},
    ),
}


def decode_native(path: Path) -> tuple[np.ndarray, int]:
    """The samples of ``path``'s first audio stream as PyAV decodes them (n, channels), and the rate."""
    parts = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            array = frame.to_ndarray()
            parts.append(array.T if frame.format.is_planar else array.reshape(-1, len(frame.layout.channels)))
        rate = stream.rate
    return np.ascontiguousarray(np.concatenate(parts)), rate


def recordings() -> list[tuple[str, np.ndarray, int]]:
    """Every distinct recording: (file name, samples, rate)."""
    seen, result = set(), []
    for path in sorted(p for p in AUDIO_DIR.iterdir() if p.suffix.lower() != ".md"):
        samples, rate = decode_native(path)
        digest = hashlib.sha256(samples.tobytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            result.append((path.name, samples, rate))
    return result


def audio_format(samples: np.ndarray, rate: int) -> AudioFormat:
    return AudioFormat(rate, samples.shape[1], samples.dtype.name, samples.dtype.itemsize * 8)


def frames_of(data: bytes, index: FrameIndex, lead: int, stop: int, base: int = 0) -> list[memoryview]:
    """Frames ``[lead, stop)`` as views of ``data``, which holds the stream from byte ``base`` on."""
    view = memoryview(data)
    bounds = index.offsets[lead : stop + 1].tolist()
    return [view[a - base : b - base] for a, b in itertools.pairwise(bounds)]


def encode(codec: NpyCodec, samples: np.ndarray, fmt: AudioFormat) -> tuple[bytes, FrameIndex]:
    out = io.BytesIO()
    encoded = codec.encode(blocks_of(samples, 1 << 16), out, fmt)
    stream = out.getvalue()
    return stream, codec.scan(stream, fmt, encoded).index


def cpu_time(fn: Callable[[], object]) -> float:
    """CPU seconds this thread spends in ``fn()`` (single-threaded work: unaffected by other processes)."""
    start = time.thread_time()
    fn()
    return time.thread_time() - start


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """The least CPU time of ``repeats`` calls of ``fn()``."""
    return min(cpu_time(fn) for _ in range(repeats))


def decode_all(decoder: NpyFrameDecoder, stream: bytes, index: FrameIndex) -> np.ndarray:
    """Decode the whole stream as the reader plans it: spans of at most TASK_FRAMES frames, one result."""
    result = np.empty((index.samples, decoder.channels), dtype=decoder.dtype)
    for span in index.plan(0, index.samples):
        decoded = decoder.decode(frames_of(stream, index, span.lead, span.stop))
        result[span.out : span.out + span.count] = decoded[span.skip : span.skip + span.count]
    return result


def section_pipelines(repeats: int) -> None:
    print("\n## 1. Pipelines on the real recordings (segments of 16384 samples)\n")
    rows = []
    # per pipeline and kind ("float", "int"): raw bytes, stream bytes, encode seconds, decode seconds
    totals = {(name, kind): np.zeros(4) for name in PIPELINES for kind in ("float", "int")}
    for name, samples, rate in recordings():
        fmt = audio_format(samples, rate)
        kind = "float" if fmt.kind == "float" else "int"
        raw = samples.nbytes
        if samples.dtype == np.int16:
            flac = io.BytesIO()
            sf.write(flac, samples, rate, format="FLAC", subtype="PCM_16")
            size = len(flac.getvalue())
            rows.append(("FLAC (soundfile, reference)", name, fmt.dtype, size, size / raw, "", ""))
        for pipeline, (delta, compressor) in PIPELINES.items():
            codec = NpyCodec(delta=delta, compressor=compressor)
            stream, index = encode(codec, samples, fmt)
            decoder = codec.decoder(fmt, {})
            if decode_all(decoder, stream, index).tobytes() != samples.tobytes():
                raise SystemExit(f"WRONG RESULT: {pipeline} does not round-trip {name}")
            t_encode = best_time(lambda c=codec, x=samples, f=fmt: encode(c, x, f), repeats)
            t_decode = best_time(lambda d=decoder, s=stream, i=index: decode_all(d, s, i), repeats)
            rows.append(
                (
                    pipeline,
                    name,
                    fmt.dtype,
                    len(stream),
                    len(stream) / raw,
                    raw / t_encode / 1e6,
                    raw / t_decode / 1e6,
                )
            )
            totals[pipeline, kind] += (raw, len(stream), t_encode, t_decode)
    print(table(["pipeline", "recording", "dtype", "bytes", "ratio", "encode MB/s", "decode MB/s"], rows))
    print("\n### All recordings together, and the float32 and integer ones apart\n")
    summary = []
    for pipeline in PIPELINES:
        floats, ints = totals[pipeline, "float"], totals[pipeline, "int"]
        both = floats + ints
        summary.append(
            (
                pipeline,
                int(both[1]),
                both[1] / both[0],
                floats[1] / floats[0],
                ints[1] / ints[0],
                both[0] / both[2] / 1e6,
                both[0] / both[3] / 1e6,
            )
        )
    summary.sort(key=lambda row: row[2])
    headers = ["pipeline", "bytes", "ratio", "ratio float32", "ratio int", "encode MB/s", "decode MB/s"]
    print(table(headers, summary))


def window_starts(samples: int, count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, samples - WINDOW, count)


def npy_window(decoder: NpyFrameDecoder, index: FrameIndex, fd: int, start: int) -> np.ndarray:
    """Read source samples [start, start + WINDOW) from the stream in file ``fd``, as the reader would."""
    parts = []
    for span in index.plan(start, start + WINDOW):
        data = os.pread(fd, span.byte_stop - span.byte_start, span.byte_start)
        decoded = decoder.decode(frames_of(data, index, span.lead, span.stop, span.byte_start))
        parts.append(decoded[span.skip : span.skip + span.count])
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def section_segments(samples: np.ndarray, sizes: list[int], windows: int, repeats: int, seed: int) -> None:
    print(
        f"\n## 2. Segment size (default pipeline, {len(samples) / 48000 / 60:g}-minute corpus, "
        f"48 kHz stereo int16)\n"
    )
    fmt = audio_format(samples, 48_000)
    starts = window_starts(len(samples), windows, seed).tolist()
    with temp_dir() as folder, contextlib.ExitStack() as stack:
        cases = {}
        for size in sizes:
            codec = NpyCodec(segment_samples=size)
            stream, index = encode(codec, samples, fmt)
            path = folder / f"seg{size}.npy-stream"
            path.write_bytes(stream)
            fd = os.open(path, os.O_RDONLY)
            stack.callback(os.close, fd)
            cases[size] = (stream, index, codec.decoder(fmt, {}), fd)
        times: dict[int, list[float]] = {size: [] for size in sizes}
        for start in starts:  # interleaved call by call, so that load hits every size alike
            for size, (_, index, decoder, fd) in cases.items():
                begin = time.perf_counter()
                window = npy_window(decoder, index, fd, start)
                times[size].append(time.perf_counter() - begin)
                if not np.array_equal(window, samples[start : start + WINDOW]):
                    raise SystemExit(f"WRONG RESULT: window at {start}, segment {size}")
        whole = {size: float("inf") for size in sizes}
        for _ in range(repeats):
            for size, (stream, index, decoder, _) in cases.items():
                whole[size] = min(
                    whole[size], cpu_time(lambda d=decoder, s=stream, i=index: decode_all(d, s, i))
                )
    rows = [
        (
            size,
            size * samples.shape[1] * samples.dtype.itemsize / 1024,
            len(cases[size][0]) / samples.nbytes,
            samples.nbytes / whole[size] / 1e6,
            np.median(times[size]) * 1e3,
            np.percentile(times[size], 95) * 1e3,
        )
        for size in sizes
    ]
    headers = [
        "segment samples",
        "raw KiB",
        "ratio",
        "whole read MB/s (CPU)",
        "window median ms",
        "window p95 ms",
    ]
    print(table(headers, rows))


def section_windows(samples: np.ndarray, windows: int, seed: int) -> None:
    print("\n## 3. Random 4096-sample windows: npy vs np.memmap vs zarr v3 (same Blosc settings)\n")
    fmt = audio_format(samples, 48_000)
    codec = NpyCodec()
    blosc = codec.compressor
    starts = window_starts(len(samples), windows, seed)
    with temp_dir() as folder:
        stream, index = encode(codec, samples, fmt)
        (folder / "stream").write_bytes(stream)
        raw_path = folder / "samples.raw"
        samples.tofile(raw_path)
        memmap = np.memmap(raw_path, dtype=samples.dtype, mode="r", shape=samples.shape)
        shuffle = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}[blosc["shuffle"]]
        array = zarr.create_array(
            zarr.storage.LocalStore(folder / "zarr"),
            shape=samples.shape,
            chunks=(codec.segment_samples, samples.shape[1]),
            dtype=samples.dtype,
            compressors=zarr.codecs.BloscCodec(
                cname=blosc["cname"], clevel=blosc["clevel"], shuffle=shuffle, typesize=samples.dtype.itemsize
            ),
        )
        array[...] = samples
        zarr_bytes = sum(p.stat().st_size for p in (folder / "zarr").rglob("*") if p.is_file())
        decoder = codec.decoder(fmt, {})
        fd = os.open(folder / "stream", os.O_RDONLY)
        readers: dict[str, Callable[[int], np.ndarray]] = {
            "npy (pread + decode)": lambda s: npy_window(decoder, index, fd, s),
            "np.memmap (copy)": lambda s: np.array(memmap[s : s + WINDOW]),
            "zarr v3 LocalStore, Blosc": lambda s: array[s : s + WINDOW],
        }
        times: dict[str, list[float]] = {name: [] for name in readers}
        try:
            for start in starts.tolist():  # interleaved call by call
                for name, read in readers.items():
                    begin = time.perf_counter()
                    window = read(start)
                    times[name].append(time.perf_counter() - begin)
                    if not np.array_equal(window, samples[start : start + WINDOW]):
                        raise SystemExit(f"WRONG RESULT: {name} at {start}")
        finally:
            os.close(fd)
        sizes = {
            "npy (pread + decode)": len(stream),
            "np.memmap (copy)": samples.nbytes,
            "zarr v3 LocalStore, Blosc": zarr_bytes,
        }
    npy_median = float(np.median(times["npy (pread + decode)"]))
    rows = [
        (
            name,
            sizes[name],
            sizes[name] / samples.nbytes,
            np.median(t) * 1e3,
            np.percentile(t, 95) * 1e3,
            float(np.median(t)) / npy_median,
        )
        for name, t in times.items()
    ]
    print(table(["reader", "stored bytes", "ratio", "median ms", "p95 ms", "median / npy"], rows))


def compressed_bytes(samples: np.ndarray, planar: bool, segment: int) -> int:
    """Bytes of ``samples`` compressed by the default compressor, planar or interleaved, segment by segment,
    each with or without the delta filter (the smaller, as ``delta="auto"``); headers not counted."""
    compressor = numcodecs.get_codec(dict(DEFAULT_COMPRESSOR))
    bits = samples.view(f"<u{samples.dtype.itemsize}")
    total = 0
    for start in range(0, len(bits), segment):
        values = np.ascontiguousarray(
            bits[start : start + segment].T if planar else bits[start : start + segment]
        )
        differences = values.copy()
        if planar:
            np.subtract(values[:, 1:], values[:, :-1], out=differences[:, 1:])
        else:
            np.subtract(values[1:], values[:-1], out=differences[1:])
        total += min(len(compressor.encode(values)), len(compressor.encode(differences)))
    return total


def section_layout(corpus_samples: np.ndarray) -> None:
    print("\n## 4. Planar vs interleaved segments (default compressor, auto delta, 16384 samples)\n")
    cases = [(name, samples) for name, samples, _ in recordings() if samples.shape[1] > 1]
    cases.append(("corpus (stereo int16, 48 kHz)", corpus_samples))
    rows = []
    for name, samples in cases:
        planar = compressed_bytes(samples, True, 16384)
        interleaved = compressed_bytes(samples, False, 16384)
        rows.append(
            (
                name,
                samples.shape[1],
                planar / samples.nbytes,
                interleaved / samples.nbytes,
                planar / interleaved,
            )
        )
    print(table(["recording", "channels", "ratio planar", "ratio interleaved", "planar / interleaved"], rows))


def probe_latency(busy: Callable[[], object], seconds: float = 1.0) -> float:
    """Median lateness (ms) of a thread waking from 0.2 ms sleeps while this one calls ``busy()`` in a loop.

    A waking thread needs the GIL: it is late by about the length of any stretch for which ``busy``
    holds the GIL, and on time (like an idle process) when ``busy`` releases it.
    """
    stop = threading.Event()
    late: list[float] = []

    def probe() -> None:
        while not stop.is_set():
            begin = time.perf_counter()
            time.sleep(0.0002)
            late.append(time.perf_counter() - begin - 0.0002)

    thread = threading.Thread(target=probe)
    thread.start()
    begin = time.perf_counter()
    while time.perf_counter() - begin < seconds:
        busy()
    stop.set()
    thread.join()
    return float(np.median(late)) * 1e3


def section_threads(samples: np.ndarray, repeats: int) -> None:
    print("\n## 5. Threads: whole decode on 1 and 2 threads, and the GIL\n")
    fmt = audio_format(samples, 48_000)
    rows = []
    for size in (16384, 65536):
        codec = NpyCodec(segment_samples=size)
        stream, index = encode(codec, samples, fmt)
        spans = index.plan(0, index.samples)
        decoders = [codec.decoder(fmt, {}) for _ in range(2)]

        def work(
            worker: int,
            threads: int,
            stream: bytes = stream,
            index: FrameIndex = index,
            spans: list = spans,
            decoders: list = decoders,
        ) -> None:
            for span in spans[worker::threads]:
                decoders[worker].decode(frames_of(stream, index, span.lead, span.stop))

        speeds = []
        for threads in (1, 2):
            best = float("inf")
            with ThreadPoolExecutor(threads) as pool:
                for _ in range(repeats):
                    begin = time.perf_counter()
                    list(pool.map(work, range(threads), [threads] * threads))
                    best = min(best, time.perf_counter() - begin)
            speeds.append(samples.nbytes / best / 1e6)
        rows.append((size, speeds[0], speeds[1], speeds[1] / speeds[0]))
    print(table(["segment samples", "1 thread MB/s", "2 threads MB/s", "speed-up"], rows))
    print()
    codec = NpyCodec()
    stream, index = encode(codec, samples, fmt)
    decoder = codec.decoder(fmt, {})
    frames = frames_of(stream, index, 0, min(index.n_frames, TASK_FRAMES))
    numbers = list(range(300_000))
    busy: dict[str, Callable[[], object]] = {
        "nothing (sleeping)": lambda: time.sleep(0.001),
        f"npy decode of {len(frames)} segments": lambda: decoder.decode(frames),
        "json.dumps of a long list (holds the GIL)": lambda: json.dumps(numbers),
    }
    rows = [(name, probe_latency(call)) for name, call in busy.items()]
    print(table(["main thread busy with", "probe thread wakes late by, median ms"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--minutes", type=float, default=10, help="length of the corpus for sections 2 and 3")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many whole encodes/decodes")
    parser.add_argument("--windows", type=int, default=2000, help="random windows per reader")
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 8192, 16384, 32768, 65536])
    parser.add_argument("--sections", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="sections to run")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.repeats, args.windows = 1, 1, 200
    numcodecs.blosc.use_threads = False
    samples = corpus(args.minutes).read_wav()
    wait_for_load(args.max_load)
    print_machine()
    print(f"default npy codec: {NpyCodec().get_config()} (DEFAULT_COMPRESSOR {DEFAULT_COMPRESSOR})")
    if 1 in args.sections:
        section_pipelines(args.repeats)
    if 2 in args.sections:
        section_segments(samples, args.sizes, args.windows, args.repeats, args.seed)
    if 3 in args.sections:
        section_windows(samples, args.windows, args.seed)
    if 4 in args.sections:
        section_layout(samples)
    if 5 in args.sections:
        section_threads(samples, max(args.repeats, 3))


if __name__ == "__main__":
    main()
