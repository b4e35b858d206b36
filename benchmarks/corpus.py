"""Benchmark audio built from the real recordings in ``../shared/audio`` (relative to the project root).

Every recording is decoded with PyAV, resampled with ``av.AudioResampler`` to mono
16-bit at the wanted rate, and the recordings are joined end to end, over and over,
until the wanted length. Stereo corpora put the recordings in one order on the left
channel and the same sequence rotated by :data:`ROTATE` recordings on the right, so
the two channels differ. Recordings that decode to identical samples (the corpus
holds one AAC track twice, in an .mp4 and an .m4a) are used once.

Built files are cached in ``benchmarks/.cache/`` (gitignored); delete it to rebuild.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import av
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = ROOT.parent / "shared" / "audio"
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
#: Right channel = left channel's sequence of recordings rotated by this many recordings.
ROTATE = 3
#: Bumped whenever the way a corpus is built changes (invalidates the cache).
BUILD_VERSION = 1


@dataclass(frozen=True)
class Corpus:
    """One built benchmark recording and its files."""

    name: str
    samplerate: int
    channels: int
    samples: int
    wav: Path
    flac: Path  # written by soundfile (libsndfile) with its defaults

    @property
    def seconds(self) -> float:
        return self.samples / self.samplerate

    def read_wav(self) -> np.ndarray:
        """The samples, int16, shape (samples, channels)."""
        data, _ = sf.read(self.wav, dtype="int16", always_2d=True)
        return data

    def flac_bytes(self) -> bytes:
        return self.flac.read_bytes()


def _source_files() -> list[Path]:
    if not AUDIO_DIR.is_dir():
        sys.exit(
            f"benchmark corpus not found: {AUDIO_DIR} is missing. The benchmarks build their audio "
            "from the real recordings in ../shared/audio (relative to the project root)."
        )
    files = sorted(p for p in AUDIO_DIR.iterdir() if p.is_file() and p.suffix.lower() != ".md")
    if not files:
        sys.exit(f"benchmark corpus not found: {AUDIO_DIR} holds no recordings")
    return files


def _decode_mono(path: Path, samplerate: int) -> np.ndarray:
    """Decode the first audio stream of ``path`` to mono int16 at ``samplerate`` (PyAV resampler)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=samplerate)
    parts: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(parts).astype(np.int16, copy=False)


@cache
def recordings(samplerate: int) -> tuple[np.ndarray, ...]:
    """Every distinct corpus recording as mono int16 at ``samplerate``, in file-name order."""
    seen: set[str] = set()
    result = []
    for path in _source_files():
        try:
            mono = _decode_mono(path, samplerate)
        except av.FFmpegError as exc:
            print(f"  skipping {path.name}: PyAV cannot decode it ({exc})", file=sys.stderr)
            continue
        digest = hashlib.sha256(mono.tobytes()).hexdigest()
        if len(mono) and digest not in seen:
            seen.add(digest)
            result.append(mono)
    return tuple(result)


def _sequence(parts: tuple[np.ndarray, ...], rotate: int, samples: int) -> np.ndarray:
    """The recordings starting at ``parts[rotate]``, joined end to end, cycled up to ``samples``."""
    out = np.empty(samples, dtype=np.int16)
    position, k = 0, rotate % len(parts)
    while position < samples:
        piece = parts[k][: samples - position]
        out[position : position + len(piece)] = piece
        position += len(piece)
        k = (k + 1) % len(parts)
    return out


def build_samples(seconds: float, samplerate: int = 48_000, channels: int = 2) -> np.ndarray:
    """Corpus audio of ``seconds`` at ``samplerate``: int16, shape (samples, channels)."""
    parts = recordings(samplerate)
    n = round(seconds * samplerate)
    return np.stack([_sequence(parts, c * ROTATE, n) for c in range(channels)], axis=1)


def corpus(minutes: float, samplerate: int = 48_000, channels: int = 2) -> Corpus:
    """Build (or reuse from the cache) a corpus recording as a WAV and a soundfile-written FLAC."""
    name = f"corpus_v{BUILD_VERSION}_{samplerate}hz_{channels}ch_{minutes:g}min"
    wav, flac = CACHE_DIR / f"{name}.wav", CACHE_DIR / f"{name}.flac"
    if not (wav.exists() and flac.exists()):
        print(f"  building {name} from {AUDIO_DIR} ...", file=sys.stderr)
        data = build_samples(minutes * 60, samplerate, channels)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        for path, fmt in ((wav, "WAV"), (flac, "FLAC")):
            part = path.with_suffix(".part")
            sf.write(part, data, samplerate, format=fmt, subtype="PCM_16")
            part.replace(path)
    info = sf.info(wav)
    return Corpus(name, info.samplerate, info.channels, info.frames, wav, flac)


@contextmanager
def temp_dir(prefix: str = "wz-bench-") -> Iterator[Path]:
    """A temporary folder on the same disk as the cache, removed afterwards."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=CACHE_DIR))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def folder_bytes(path: Path) -> int:
    """Total size of the files below ``path``."""
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def blocks_of(data: np.ndarray, block: int = 1 << 18) -> Iterator[np.ndarray]:
    """``data`` in C-contiguous blocks of ``block`` samples (as a Source yields them)."""
    for begin in range(0, len(data), block):
        yield np.ascontiguousarray(data[begin : begin + block])


def wildzarr_flac(c: Corpus, compression_level: int = 5) -> Path:
    """The corpus encoded by wildzarr's FLAC codec (blocksize 4096), cached like the corpus."""
    from wildzarr.audio import AudioFormat
    from wildzarr.codecs import FlacCodec

    path = CACHE_DIR / f"{c.name}.wz{compression_level}.flac"
    if not path.exists():
        print(f"  encoding {path.name} ...", file=sys.stderr)
        part = path.with_suffix(".part")
        with part.open("wb") as out:
            fmt = AudioFormat(c.samplerate, c.channels, "int16", 16)
            FlacCodec(compression_level=compression_level).encode(blocks_of(c.read_wav()), out, fmt)
        part.replace(path)
    return path


def adts_aac(c: Corpus, bit_rate: int = 160_000) -> Path:
    """The corpus as AAC LC in ADTS frames (PyAV's native encoder, PNS off), cached like the corpus."""
    path = CACHE_DIR / f"{c.name}.{bit_rate // 1000}k.adts"
    if not path.exists():
        print(f"  encoding {path.name} ...", file=sys.stderr)
        part = path.with_suffix(".part")
        layout = "mono" if c.channels == 1 else "stereo"
        with av.open(str(part), "w", format="adts") as out:
            stream = out.add_stream("aac", rate=c.samplerate, layout=layout)
            stream.bit_rate = bit_rate
            stream.options = {"aac_pns": "0"}
            pts = 0
            for block in blocks_of(c.read_wav()):
                frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="s16", layout=layout)
                frame.sample_rate, frame.pts = c.samplerate, pts
                pts += block.shape[0]
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        part.replace(path)
    return path


def with_seektable(flac: bytes, every: int) -> bytes:
    """``flac`` with a SEEKTABLE (RFC 9639 section 8.5) holding a point every ``every`` samples.

    The ``flac`` command line tool writes one point per 10 s by default (``-S 10s``);
    libsndfile and wildzarr write none. Points are the frames holding samples
    0, every, 2 * every, ...; the audio frames are unchanged.
    """
    from wildzarr.scan.flac import scan_flac

    info, index = scan_flac(flac)
    first = int(index.offsets[0])
    blocks: list[tuple[int, bytes]] = []
    position = 4
    while position < first:
        header = flac[position]
        length = int.from_bytes(flac[position + 1 : position + 4], "big")
        if header & 0x7F != 3:  # drop an existing seek table
            blocks.append((header & 0x7F, flac[position + 4 : position + 4 + length]))
        position += 4 + length
    frame_samples = np.diff(index.first_samples)
    wanted = np.arange(0, info.total_samples, every)
    points = np.unique(np.searchsorted(index.first_samples[:-1], wanted, side="right") - 1)
    table = b"".join(
        struct.pack(">QQH", int(index.first_samples[i]), int(index.offsets[i]) - first, int(frame_samples[i]))
        for i in points
    )
    blocks.insert(1, (3, table))  # right after STREAMINFO
    out = bytearray(b"fLaC")
    for k, (kind, body) in enumerate(blocks):
        out.append(kind | (0x80 if k == len(blocks) - 1 else 0))
        out += len(body).to_bytes(3, "big") + body
    return bytes(out) + flac[first:]
