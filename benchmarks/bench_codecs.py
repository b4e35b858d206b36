"""Every codec on every real recording, and AAC windows against PyAV on an m4a.

1. Every recording in ``../shared/audio`` imported with ``codec="auto"``, ``"flac"``, ``"npy"`` and ``"aac"``
   (default bit rate; above 96 kHz time-expanded with ``stored_samplerate``; for AAC sources also with
   ``keep_pns=True``, which keeps the source's own frames), each import into a fresh local archive,
   ``--repeats`` times. Reported: stored bytes, stored bytes per second of audio, stored bytes / file bytes,
   import speed (audio seconds per wall second of ``arc.add``, median), one whole read (x realtime), and the
   read-back against PyAV's decode of the file, sample for sample at lag 0: "exact" when bit-equal, else the
   SNR in dB. Totals per codec, and every recording imported with ``auto`` into one archive against the
   corpus folder.
2. Ten minutes of 44.1 kHz mono audio (:data:`JOINED` alternating, as 16-bit samples) read in random
   4096-sample windows and whole by wildzarr AAC (``codec="aac"``), by PyAV on the same audio encoded once by
   FFmpeg's AAC encoder (same bit rate and options as wildzarr's) into an m4a held in memory (one open
   container; seek by pts one frame before the window, decode, cut), and by wildzarr FLAC; plus the floor
   under any AAC reader: the m4a's packets held in a list, the same frames decoded by a bare FFmpeg
   decoder. Windows are interleaved call by call; every window is checked against the tool's own whole
   decode.

The machine line carries no commit (no git is run); record it by hand.

    PYTHONPATH=src python benchmarks/bench_codecs.py            # full run (about 1 minute)
    PYTHONPATH=src python benchmarks/bench_codecs.py --quick    # 1 import per codec, 2 minutes joined
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import metadata
from pathlib import Path
from typing import Any

import av
import numpy as np
from common import Stats, add_common_options, load_text, no_gc, table, target_line, wait_for_load
from corpus import AUDIO_DIR, folder_bytes, temp_dir

import wildzarr
from wildzarr.codecs import AacCodec
from wildzarr.codecs.aac import ADTS_SAMPLERATES, ENCODER_OPTIONS, SAMPLES_PER_FRAME
from wildzarr.errors import UnsupportedSourceError
from wildzarr.metadata import RecordingInfo

#: Declared rate of recordings above AAC's highest rate (time expansion). At the default bit rate 48 and
#: 96 kHz both get 8/3 bits per sample (same size); 96 kHz expands the least.
TIME_EXPANDED_RATE = max(ADTS_SAMPLERATES)
#: The recordings joined end to end, in turn, for section 2: both 44.1 kHz mono.
JOINED = ("frog_great_plains_toad_44k.wav", "whale_humpback_song_sanctsound_aac_remux.m4a")
JOINED_RATE = 44_100
WIDTH = 4096

Reader = Callable[[int, int], np.ndarray]


def machine_line() -> str:
    """Machine facts and versions, as ``common.print_machine`` prints them but without the git commit."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("numpy", "zarr", "numcodecs", "pyflac")
    )
    return (
        f"machine: date {time.strftime('%Y-%m-%d')}, cpu {cpu}, cores {os.cpu_count()}, "
        f"memory {memory:.1f} GiB, python {platform.python_version()}, wildzarr {wildzarr.__version__} "
        f"imported from {Path(wildzarr.__file__).parent}, {versions}, av {av.__version__} "
        f"(FFmpeg {av.ffmpeg_version_info}), load {load_text()}"
    )


@dataclass(frozen=True)
class Decoded:
    """PyAV's decode of a file's best audio stream."""

    samples: np.ndarray  # (n, channels) as the decoder returns them: left-justified integers or floats
    samplerate: int
    codec: str

    def as_float(self) -> np.ndarray:
        """float64; integers scaled by 2 ** -(width - 1) to full scale 1, as ``rec.read(dtype=...)`` does."""
        if self.samples.dtype.kind == "i":
            return self.samples / 2.0 ** (self.samples.dtype.itemsize * 8 - 1)
        return self.samples.astype(np.float64)


def decode(path: Path) -> Decoded:
    """Decode ``path`` with PyAV (``container.decode``: the container's trims applied), planar made packed."""
    with av.open(str(path)) as container:
        stream = container.streams.best("audio")
        if not isinstance(stream, av.AudioStream):
            raise SystemExit(f"{path.name}: no audio stream")
        parts = []
        for frame in container.decode(stream):
            data = frame.to_ndarray()
            parts.append(data.T if frame.format.is_planar else data.reshape(-1, frame.layout.nb_channels))
        return Decoded(np.ascontiguousarray(np.concatenate(parts)), stream.rate, stream.codec_context.name)


def snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    """10 log10 of the reference's energy over the energy of the difference, all channels together."""
    return float(10 * np.log10(np.sum(reference**2) / np.sum((decoded - reference) ** 2)))


def fidelity(rec: wildzarr.Recording, back: np.ndarray, source: Decoded) -> str:
    """Return "exact" if ``back`` (a whole ``rec.read()``) is bit-equal to the decode, else the SNR in dB."""
    want = source.samples
    if back.shape != want.shape:
        return f"LENGTH: {back.shape} read, the decode has {want.shape}"
    width, bits = want.dtype.itemsize * 8, rec.info.source.bits_per_sample
    if want.dtype.kind == "i" and bits < width:  # FFmpeg left-justifies 24-bit samples in s32
        want = want >> (width - bits)
    unsigned = f"u{back.dtype.itemsize}"
    if back.dtype == want.dtype and np.array_equal(back.view(unsigned), want.view(unsigned)):
        return "exact"
    reference, values = source.as_float(), rec.read(dtype="float64")
    if np.array_equal(reference, values):
        return f"exact values ({back.dtype}, the decode {want.dtype})"
    return f"{snr_db(reference, values):.1f} dB"


# -- 1. every codec on every recording --------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One way to import a recording."""

    label: str
    group: str  # what the totals add up under
    codec: str
    params: dict[str, Any] = field(default_factory=dict)


def variants(source: Decoded) -> list[Variant]:
    found = [Variant("auto", "auto", "auto"), Variant("flac", "flac", "flac"), Variant("npy", "npy", "npy")]
    if source.samplerate > TIME_EXPANDED_RATE:
        found.append(
            Variant(
                f"aac, stored_samplerate={TIME_EXPANDED_RATE}",
                "aac",
                "aac",
                {"stored_samplerate": TIME_EXPANDED_RATE},
            )
        )
    else:
        found.append(Variant("aac", "aac", "aac"))
    if source.codec == "aac":
        found.append(Variant("aac, keep_pns=True", "aac, keep_pns=True", "aac", {"keep_pns": True}))
    return found


@dataclass(frozen=True)
class Result:
    recording: str
    variant: Variant
    stored_as: str
    stored_bytes: int
    file_bytes: int
    seconds: float
    import_s: float
    read_s: float
    fidelity: str


def stored_as(info: RecordingInfo) -> str:
    """What the import stored: codec and sample type, kept frames, declared rate."""
    codec = info.codec
    if not info.lossy:
        return f"{codec['id']} {info.dtype}" + (
            f" ({info.bits_per_sample}-bit)" if codec["id"] == "flac" else ""
        )
    if "kept" in (info.codec_choice or ""):
        return f"{codec['id']}, source frames kept"
    rate = codec.get("stored_samplerate")
    return codec["id"] + (f", declared {rate} Hz" if rate else "")


def import_variant(path: Path, source: Decoded, variant: Variant, repeats: int, tmp: Path) -> Result | str:
    """Import ``path`` ``repeats`` times, each into a new archive, then open it and read the recording whole.

    Returns the Result, or the reason when the codec refuses the recording.
    """
    folder = tmp / "import.zarr"
    times = []
    try:
        for _ in range(repeats):
            shutil.rmtree(folder, ignore_errors=True)
            with wildzarr.open(folder, mode="w") as archive:
                t0 = time.perf_counter()
                archive.add(path, codec=variant.codec, **variant.params)
                times.append(time.perf_counter() - t0)
    except UnsupportedSourceError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return str(exc)
    with wildzarr.open(folder, mode="r") as archive:
        (rec,) = archive
        t0 = time.perf_counter()
        back = rec.read()
        read_s = time.perf_counter() - t0
        info = rec.info
        result = Result(
            recording=path.name,
            variant=variant,
            stored_as=stored_as(info),
            stored_bytes=info.stored_bytes,
            file_bytes=path.stat().st_size,
            seconds=info.duration,
            import_s=float(np.median(times)),
            read_s=read_s,
            fidelity=fidelity(rec, back, source),
        )
    shutil.rmtree(folder)
    return result


def section_codecs(files: list[Path], repeats: int, tmp: Path) -> None:
    results: list[Result] = []
    refused: list[str] = []
    for path in files:
        source = decode(path)
        for variant in variants(source):
            outcome = import_variant(path, source, variant, repeats, tmp)
            if isinstance(outcome, str):
                refused.append(f"{path.name}, {variant.label}: {outcome}")
            else:
                results.append(outcome)

    print(f"\n## 1. Every codec on every recording ({len(files)} files; import: median of {repeats})\n")
    rows = [
        [
            r.recording,
            r.variant.label,
            r.stored_as,
            f"{r.stored_bytes:,}",
            r.stored_bytes / r.seconds,
            r.stored_bytes / r.file_bytes,
            r.seconds / r.import_s,
            r.seconds / r.read_s,
            r.fidelity,
        ]
        for r in results
    ]
    headers = [
        "recording",
        "codec",
        "stored as",
        "stored bytes",
        "bytes/s",
        "/ file",
        "import x rt",
        "read x rt",
    ]
    print(table([*headers, "read-back vs PyAV decode"], rows))
    if refused:
        print("\nNot accepted:\n")
        print("\n".join(f"- {line}" for line in refused))

    auto = {r.recording: r for r in results if r.variant.group == "auto"}
    print("\n## Totals per codec (the recordings each one accepted)\n")
    rows = []
    for group in dict.fromkeys(r.variant.group for r in results):
        mine = [r for r in results if r.variant.group == group]
        stored = sum(r.stored_bytes for r in mine)
        files_ = sum(r.file_bytes for r in mine)
        seconds = sum(r.seconds for r in mine)
        auto_same = sum(auto[r.recording].stored_bytes for r in mine)
        import_s = sum(r.import_s for r in mine)
        read_s = sum(r.read_s for r in mine)
        rows.append(
            [
                group,
                len(mine),
                seconds,
                f"{stored:,}",
                stored / seconds,
                stored / files_,
                stored / auto_same,
                seconds / import_s,
                seconds / read_s,
            ]
        )
    print(
        table(
            [
                "codec",
                "recordings",
                "audio s",
                "stored bytes",
                "bytes/s",
                "/ files",
                "/ auto on them",
                "import x rt",
                "read x rt",
            ],
            rows,
        )
    )


def section_auto_archive(files: list[Path], tmp: Path) -> None:
    """Every recording imported with ``auto`` into one archive: its folder against the corpus folder."""
    folder = tmp / "all-auto.zarr"
    with wildzarr.open(folder, mode="w") as archive:
        t0 = time.perf_counter()
        recs = [archive.add(path) for path in files]
        elapsed = time.perf_counter() - t0
        stored = sum(rec.info.stored_bytes for rec in recs)
        seconds = sum(rec.info.duration for rec in recs)
    on_disk = folder_bytes(folder)
    sources = sum(path.stat().st_size for path in files)
    print(f'\n## All {len(files)} recordings in one archive, codec="auto"\n')
    rows = [
        ["corpus folder (the audio files, MANIFEST.md not counted)", f"{sources:,}", 1.0],
        ["sum of stored_bytes", f"{stored:,}", stored / sources],
        ["archive folder on disk (streams, indexes, documents, ledger)", f"{on_disk:,}", on_disk / sources],
    ]
    print(table(["what", "bytes", "/ corpus folder"], rows))
    print(
        f"\nimport of all {len(files)}: {elapsed:.2f} s for {seconds:.1f} s of audio "
        f"({seconds / elapsed:.0f}x realtime)"
    )
    print(f"auto archive / corpus folder: {on_disk / sources:.4f}")
    shutil.rmtree(folder)


# -- 2. AAC windows against PyAV on an m4a -----------------------------------------------------------


def joined(seconds: float) -> np.ndarray:
    """:data:`JOINED` in turn, as int16 (floats rounded, clipped), cut at ``seconds``: shape (n, 1)."""
    parts = []
    for name in JOINED:
        source = decode(AUDIO_DIR / name)
        if source.samplerate != JOINED_RATE or source.samples.shape[1] != 1:
            raise SystemExit(
                f"{name}: {source.samplerate} Hz, {source.samples.shape[1]} channels, not 44.1 kHz mono"
            )
        if source.samples.dtype == np.int16:
            parts.append(source.samples)
        else:
            parts.append(np.clip(np.round(source.as_float() * 32768), -32768, 32767).astype(np.int16))
    n = round(seconds * JOINED_RATE)
    cycle = itertools.cycle(parts)
    out = np.concatenate([next(cycle) for _ in range(-(-n // min(len(p) for p in parts)))])
    return np.ascontiguousarray(out[:n])


def encode_m4a(samples: np.ndarray, bit_rate: int) -> bytes:
    """``samples`` (int16, mono) encoded by FFmpeg's ``aac`` encoder into an m4a (``ipod``) in memory."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="ipod") as out:
        stream = out.add_stream(
            "aac",
            rate=JOINED_RATE,
            options={**ENCODER_OPTIONS, "cutoff": str(JOINED_RATE // 2)},
            layout="mono",
        )
        stream.bit_rate = bit_rate
        for begin in range(0, len(samples), 1 << 16):
            block = (samples[begin : begin + (1 << 16)] / np.float32(32768)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = JOINED_RATE, begin, Fraction(1, JOINED_RATE)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def pyav_whole(m4a: bytes, samples: int) -> np.ndarray:
    """PyAV's whole decode of the m4a, float32 (samples, 1)."""
    with av.open(io.BytesIO(m4a), mode="r") as container:
        data = np.concatenate([frame.to_ndarray() for frame in container.decode(audio=0)], axis=1)
    return np.ascontiguousarray(data[:, :samples].T)


class PyAVM4aWindows:
    """PyAV on an m4a held in memory: one open container; per window, seek by pts one frame before the
    window (backward: to the frame at or before), decode, cut. The frame before the window primes the
    decoder's overlap (AAC frames overlap by half), so windows equal the whole decode."""

    def __init__(self, m4a: bytes) -> None:
        self.container = av.open(io.BytesIO(m4a), mode="r")
        self.stream = self.container.streams.audio[0]
        if self.stream.time_base != Fraction(1, self.stream.rate):
            raise SystemExit(f"the m4a's time base is {self.stream.time_base}, not 1 / sample rate")

    def __call__(self, start: int, stop: int) -> np.ndarray:
        # Below sample 1024 the target is negative: the seek lands on the priming packet (pts -1024).
        self.container.seek(start - SAMPLES_PER_FRAME, stream=self.stream, backward=True)
        out = np.empty((stop - start, 1), dtype=np.float32)
        for frame in self.container.decode(self.stream):
            if frame.pts is None:
                raise SystemExit("PyAV decoded a frame without pts")
            position, data = frame.pts, frame.to_ndarray()[0]
            lo, hi = max(start, position), min(stop, position + len(data))
            if hi > lo:
                out[lo - start : hi - start, 0] = data[lo - position : hi - position]
            if position + len(data) >= stop:
                return out
        raise SystemExit(f"PyAV ran out of frames before sample {stop}")


class DecodeFloor:
    """The m4a's packets held in a list, decoded by a bare FFmpeg ``aac`` decoder: per window, flush, then
    decode the packet before the window and the packets covering it. No container, seek or checks: the
    floor under any reader that decodes the frames a window needs."""

    def __init__(self, m4a: bytes) -> None:
        with av.open(io.BytesIO(m4a), mode="r") as container:
            stream = container.streams.audio[0]
            extradata = stream.codec_context.extradata
            packets = [(packet.pts, bytes(packet)) for packet in container.demux(stream) if packet.size]
        self.pts = np.array([pts for pts, _ in packets], dtype=np.int64)
        self.packets = [av.Packet(data) for _, data in packets]
        self.context = av.CodecContext.create("aac", "r")
        self.context.extradata = extradata
        self.context.open()

    def __call__(self, start: int, stop: int) -> np.ndarray:
        first = max(0, int(np.searchsorted(self.pts, start - SAMPLES_PER_FRAME, side="right")) - 1)
        self.context.flush_buffers()
        out = np.empty((stop - start, 1), dtype=np.float32)
        for k in range(first, len(self.packets)):
            (frame,) = self.context.decode(self.packets[k])
            position, data = int(self.pts[k]), frame.to_ndarray()[0]
            lo, hi = max(start, position), min(stop, position + len(data))
            if hi > lo:
                out[lo - start : hi - start, 0] = data[lo - position : hi - position]
            if position + len(data) >= stop:
                return out
        raise SystemExit(f"the m4a ran out of packets before sample {stop}")


def check(name: str, got: np.ndarray, truth: np.ndarray, start: int) -> None:
    if not np.array_equal(got, truth[start : start + WIDTH]):
        raise SystemExit(f"WRONG RESULT: {name} window at {start} differs from its whole decode")


def section_windows(minutes: float, windows: int, repeats: int, seed: int, tmp: Path) -> None:
    samples = joined(minutes * 60)
    n, seconds = len(samples), len(samples) / JOINED_RATE
    reference = samples / 32768.0
    bit_rate = AacCodec().channel_bitrate(JOINED_RATE)

    t0 = time.perf_counter()
    m4a = encode_m4a(samples, bit_rate)
    m4a_s = time.perf_counter() - t0
    archives = {codec: wildzarr.open(tmp / f"joined-{codec}.zarr", mode="w") for codec in ("aac", "flac")}
    recs: dict[str, wildzarr.Recording] = {}
    import_s: dict[str, float] = {}
    for codec, archive in archives.items():
        t0 = time.perf_counter()
        recs[codec] = archive.add(samples, samplerate=JOINED_RATE, codec=codec)
        import_s[codec] = time.perf_counter() - t0

    ours, theirs, flac, floor = "wildzarr AAC", "PyAV m4a", "wildzarr FLAC", "AAC decode floor"
    pyav = PyAVM4aWindows(m4a)
    readers: dict[str, Reader] = {
        ours: recs["aac"].read,
        theirs: pyav,
        flac: recs["flac"].read,
        floor: DecodeFloor(m4a),
    }
    whole: dict[str, Callable[[], np.ndarray]] = {
        ours: recs["aac"].read,
        theirs: lambda: pyav_whole(m4a, n),
        flac: recs["flac"].read,
    }
    truth = {name: read() for name, read in whole.items()}
    truth[floor] = truth[theirs]
    if not np.array_equal(truth[flac], samples):
        raise SystemExit("WRONG RESULT: the wildzarr FLAC read differs from the joined samples")

    names = list(readers)
    starts = np.random.default_rng(seed).integers(0, n - WIDTH, size=windows, endpoint=True).tolist()
    for name in names:  # warm up; check both ends
        for start in (0, n - WIDTH, n // 2 + 1):
            check(name, readers[name](start, start + WIDTH), truth[name], start)
    times = {name: np.empty(windows) for name in names}
    with no_gc():
        for i, start in enumerate(starts):
            k = i % len(names)
            for name in names[k:] + names[:k]:  # no tool always goes first
                t0 = time.perf_counter()
                out = readers[name](start, start + WIDTH)
                times[name][i] = time.perf_counter() - t0
                check(name, out, truth[name], start)
    stats = {name: Stats(t) for name, t in times.items()}
    whole_times = {name: np.empty(repeats) for name in whole}
    with no_gc():
        for k in range(repeats):
            for name, read in whole.items():
                t0 = time.perf_counter()
                read()
                whole_times[name][k] = time.perf_counter() - t0
    whole_s = {name: float(np.median(t)) for name, t in whole_times.items()}
    pyav.container.close()
    for archive in archives.values():
        archive.close()

    print(
        f"\n## 2. Random {WIDTH}-sample windows on {seconds / 60:g} minutes of 44.1 kHz mono "
        f"({' + '.join(JOINED)}, in turn, 16-bit; {n:,} samples)\n"
    )
    sizes = [
        [
            "wildzarr AAC stored_bytes (ADTS)",
            f"{recs['aac'].info.stored_bytes:,}",
            seconds / import_s["aac"],
            f"{snr_db(reference, truth[ours].astype(np.float64)):.1f} dB",
        ],
        [
            "m4a from PyAV's aac encoder (same bit rate and options)",
            f"{len(m4a):,}",
            seconds / m4a_s,
            f"{snr_db(reference, truth[theirs].astype(np.float64)):.1f} dB",
        ],
        [
            "wildzarr FLAC stored_bytes",
            f"{recs['flac'].info.stored_bytes:,}",
            seconds / import_s["flac"],
            "exact",
        ],
    ]
    print(f"AAC bit rate {bit_rate / 1000:g} kb/s.\n")
    print(table(["stream", "bytes", "import / encode x realtime", "whole decode vs the samples"], sizes))
    print(f"\nwindows: {windows} random starts, interleaved; every window equals the tool's whole decode\n")
    rows = [[name, st.median_ms, st.p95_ms, st.median / stats[ours].median] for name, st in stats.items()]
    print(table(["tool", "median ms", "p95 ms", f"median / {ours}"], rows))
    print(f"\nwhole read, {repeats} interleaved repeats\n")
    print(table(["tool", "median s", "x realtime"], [[k, v, seconds / v] for k, v in whole_s.items()]))

    ratio = stats[theirs].median / stats[ours].median
    print(f"\n## Ratios (load average now {load_text()})\n")
    print(f"window median {theirs} / {ours}: {ratio:.2f}")
    print(f"window p95 {theirs} / {ours}: {stats[theirs].p95 / stats[ours].p95:.2f}")
    for name in (ours, theirs):
        print(f"window median {name} / {floor}: {stats[name].median / stats[floor].median:.2f}")
    print(f"window median {ours} / {flac}: {stats[ours].median / stats[flac].median:.2f}")
    print(f"whole read speed {ours} / {theirs}: {whole_s[theirs] / whole_s[ours]:.2f}")
    print(f"whole read speed {ours} / {flac}: {whole_s[flac] / whole_s[ours]:.2f}")
    print(f"stored bytes {ours} / m4a: {recs['aac'].info.stored_bytes / len(m4a):.4f}")
    print(target_line(f"window median {theirs} / {ours}", ratio, ">=", 5.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--repeats", type=int, default=3, help="imports per recording and codec; whole reads")
    parser.add_argument("--minutes", type=float, default=10, help="length of the joined audio of section 2")
    parser.add_argument("--windows", type=int, default=2000, help="random windows per tool in section 2")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.minutes, args.windows = 1, 2, 200
    if args.repeats < 1 or args.windows < 1:
        parser.error("--repeats and --windows must be at least 1")
    if not AUDIO_DIR.is_dir():
        print(f"bench_codecs skipped: the real recordings are not in {AUDIO_DIR}")
        return
    files = sorted(p for p in AUDIO_DIR.iterdir() if p.is_file() and p.suffix.lower() != ".md")
    wait_for_load(args.max_load)
    print(machine_line())
    with temp_dir() as tmp:
        section_codecs(files, args.repeats, tmp)
        section_auto_archive(files, tmp)
        section_windows(args.minutes, args.windows, args.repeats, args.seed, tmp)


if __name__ == "__main__":
    main()
