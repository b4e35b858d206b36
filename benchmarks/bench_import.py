"""Import throughput (x realtime) with a breakdown by stage, and stored size.

``Archive.add(wav)`` into a new local-folder archive, timed whole; then each stage
it runs, timed alone through public pieces of wildzarr (no change to src/): the
sha256 of the file, decoding (``open_source(...).blocks()``), FLAC encoding
(``FlacCodec.encode`` of the decoded blocks into a temporary file), the frame
scan (``FlacCodec.scan``), the sha256 of the encoded stream (format 2 records it), and the store write of the
stream's nodes (blob chunks, blob and index arrays through ``LocalBackend.put``,
made durable by ``LocalBackend.sync``: fsync of every file and folder, as an import
does). The rest is the ledger (id and content claims, commit marker: exclusive,
fsynced creates), the documents and the checks. For comparison: converting the same
WAV to FLAC with soundfile.

    PYTHONPATH=src python benchmarks/bench_import.py            # 10 and 60 min
    PYTHONPATH=src python benchmarks/bench_import.py --quick    # 1 and 6 min
"""

from __future__ import annotations

import argparse
import hashlib
import io
import mmap
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from common import Stats, add_common_options, load_text, print_machine, table, time_calls, wait_for_load
from corpus import Corpus, corpus, folder_bytes, temp_dir, wildzarr_flac

import wildzarr
from wildzarr.arrays import blob_chunk_ranges, blob_document, index_nodes
from wildzarr.audio import AudioFormat
from wildzarr.codecs import FlacCodec
from wildzarr.sources import open_source
from wildzarr.storage import LocalBackend


def import_once(c: Corpus, folder: Path) -> wildzarr.Recording:
    return wildzarr.open(folder, mode="w").add(c.wav)


def stage_times(c: Corpus, tmp: Path, repeats: int) -> dict[str, Stats]:
    """Each stage of an import, alone."""
    codec = FlacCodec()
    fmt = AudioFormat(c.samplerate, c.channels, "int16", 16)
    decoded: list[np.ndarray] = []

    def sha() -> None:
        with c.wav.open("rb") as f:
            hashlib.file_digest(f, "sha256")

    def decode() -> None:
        decoded.clear()
        with open_source(c.wav) as src:
            decoded.extend(src.blocks())

    def encode() -> None:
        with tempfile.TemporaryFile() as out:
            codec.encode(decoded, out, fmt)

    with tempfile.TemporaryFile() as spool:
        decode()
        encoded = codec.encode(decoded, spool, fmt)
        spool.flush()
        with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            stream = memoryview(mapped)
            index = codec.scan(stream, fmt, encoded).index
            counter = iter(range(10**6))

            def store() -> None:
                """What an import writes below P/<id>/0 (importer._store), then Backend.sync (fsync)."""
                backend = LocalBackend(tmp / f"store{next(counter)}.zarr")
                payload = stream[: index.end]
                backend.put("0/blob/zarr.json", blob_document(len(payload)))
                for key, begin, end, padding in blob_chunk_ranges(len(payload)):
                    with payload[begin:end] as piece:
                        backend.put(f"0/blob/{key}", bytes(piece) + bytes(padding) if padding else piece)
                for key, data in index_nodes(index.to_table()).items():
                    backend.put(f"0/index/{key}", data)
                backend.sync()
                payload.release()

            results = {
                "sha256 of the file": time_calls(sha, repeats),
                "decode (PyAV, open_source().blocks())": time_calls(decode, repeats),
                "encode (libFLAC via pyflac, level 5)": time_calls(encode, repeats),
                "scan (C frame scanner)": time_calls(lambda: codec.scan(stream, fmt, encoded), repeats),
                "sha256 of the encoded stream": time_calls(
                    lambda: hashlib.sha256(stream[: index.end]).hexdigest(), repeats
                ),
                "store write (blob + index through LocalBackend, fsynced)": time_calls(store, repeats),
            }
            stream.release()
    return results


def soundfile_convert(c: Corpus) -> None:
    data, rate = sf.read(c.wav, dtype="int16")
    sf.write(io.BytesIO(), data, rate, format="FLAC", subtype="PCM_16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_options(parser)
    parser.add_argument("--minutes", type=float, nargs=2, default=(10, 60), metavar=("SHORT", "LONG"))
    parser.add_argument("--repeats", type=int, default=3, help="imports of the short recording")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.repeats = (1, 6), 2
    short, long_ = (corpus(m) for m in args.minutes)
    wait_for_load(args.max_load)
    print_machine()

    with temp_dir() as tmp:
        counter = iter(range(10**6))
        total = time_calls(lambda: import_once(short, tmp / f"a{next(counter)}.zarr"), args.repeats)
        stages = stage_times(short, tmp, args.repeats)
        convert = time_calls(lambda: soundfile_convert(short), args.repeats)
        long_total = time_calls(lambda: import_once(long_, tmp / "long.zarr"), 1)

        label = f"{args.minutes[0]:g} min"
        print(
            f"\n## Import of the {label} WAV ({short.seconds:g} s of 48 kHz stereo 16-bit), median of "
            f"{args.repeats}\n"
        )
        rows: list[list[object]] = [
            [f"arc.add(wav), {label}", total.median, short.seconds / total.median, 1.0],
            [
                f"arc.add(wav), {args.minutes[1]:g} min (once)",
                long_total.median,
                long_.seconds / long_total.median,
                "",
            ],
        ]
        for name, s in stages.items():
            rows.append([f"  stage: {name}", s.median, short.seconds / s.median, s.median / total.median])
        rest = total.median - sum(s.median for s in stages.values())
        rows.append(["  rest (ledger records, documents, metadata, checks)", rest, "", rest / total.median])
        rows.append(
            [
                f"soundfile WAV -> FLAC in memory, {label}",
                convert.median,
                short.seconds / convert.median,
                convert.median / total.median,
            ]
        )
        print(table(["what", "s", "x realtime", "share of arc.add"], rows))

        print("\n## Stored size\n")
        size_rows: list[list[object]] = []
        for c, folder in ((short, tmp / "a0.zarr"), (long_, tmp / "long.zarr")):
            rec = wildzarr.open(folder, mode="r")[1]
            wav, sf_flac = c.wav.stat().st_size, c.flac.stat().st_size
            on_disk = folder_bytes(folder / str(rec.id))
            level5 = wildzarr_flac(c, 5).stat().st_size
            if level5 != rec.info.stored_bytes:
                raise SystemExit(f"stored_bytes {rec.info.stored_bytes} != our codec's -5 stream {level5}")
            level8 = wildzarr_flac(c, 8).stat().st_size
            m = f"{c.seconds / 60:g} min"
            size_rows += [
                [f"{m}: source WAV", wav, 1.0, wav / sf_flac],
                [f"{m}: soundfile FLAC (libsndfile default)", sf_flac, sf_flac / wav, 1.0],
                [
                    f"{m}: wildzarr stored_bytes (FLAC -5, blocksize 4096)",
                    rec.info.stored_bytes,
                    rec.info.stored_bytes / wav,
                    rec.info.stored_bytes / sf_flac,
                ],
                [f"{m}: wildzarr recording folder on disk", on_disk, on_disk / wav, on_disk / sf_flac],
                [f"{m}: our codec at level 8 (reference)", level8, level8 / wav, level8 / sf_flac],
            ]
        print(table(["what", "bytes", "/ WAV", "/ soundfile FLAC"], size_rows))

    print(f"\n## Ratios (load average now {load_text()})\n")
    print(f"import x realtime ({label}): {short.seconds / total.median:.1f}")
    print(f"import time / soundfile WAV->FLAC time: {total.median / convert.median:.3f}")
    for name, s in stages.items():
        print(f"share of import: {name}: {s.median / total.median:.3f}")
    for row in size_rows:
        if "stored_bytes" in row[0] or "on disk" in row[0]:
            print(f"size {row[0]}: / WAV {row[2]:.4f}, / soundfile FLAC {row[3]:.4f}")


if __name__ == "__main__":
    main()
