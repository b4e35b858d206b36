"""The ``wildzarr`` command line: a thin layer over the public API.

::

    wildzarr import ARCHIVE SOURCE... [--path GROUP] [--codec flac] [--meta KEY=VALUE]...
    wildzarr ls     ARCHIVE [--path GROUP] [--json]
    wildzarr info   ARCHIVE ID [--path GROUP] [--json]
    wildzarr read   ARCHIVE ID [--path GROUP] [--start N] [--stop N] -o OUT
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

import wildzarr
from wildzarr.errors import DuplicateRecordingError, WildzarrError
from wildzarr.export import SUFFIXES, write_samples

__all__ = ["AUDIO_SUFFIXES", "main"]

#: File endings a folder search picks up (files named on the command line are always tried).
AUDIO_SUFFIXES = frozenset(
    {
        *(".wav", ".wave", ".bwf", ".rf64", ".w64", ".flac", ".aif", ".aiff", ".aifc", ".caf", ".au", ".wv"),
        *(".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".m4v", ".mov", ".mkv", ".mka", ".webm"),
    }
)


def _parse_meta(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that parses as JSON is stored as that value, else as a string."""
    meta: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"wildzarr: --meta takes KEY=VALUE, not {item!r}")
        try:
            meta[key] = json.loads(value)
        except json.JSONDecodeError:
            meta[key] = value
    return meta


def _expand(sources: Sequence[str]) -> Iterator[Path]:
    """Files named, and audio files found recursively in folders named, in sorted order."""
    for name in sources:
        path = Path(name)
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
            )
        else:
            yield path


def _cmd_import(args: argparse.Namespace) -> int:
    meta = _parse_meta(args.meta)
    files = list(_expand(args.sources))
    codec_params = {
        k: v for k, v in (("compression_level", args.compression_level), ("blocksize", args.blocksize)) if v
    }
    failed = 0
    with wildzarr.open(args.archive, path=args.path, mode="a") as archive:
        bar = tqdm(files, unit="file", desc="import", disable=None, file=sys.stderr)
        for path in bar:
            try:
                rec = archive.add(
                    path,
                    codec=args.codec,
                    user_meta=meta,
                    allow_duplicates=args.allow_duplicates,
                    **codec_params,
                )
            except DuplicateRecordingError as exc:
                tqdm.write(f"skipped {path}: already recording {exc.existing_id}")
            except WildzarrError as exc:
                failed += 1
                tqdm.write(f"failed  {exc}")  # every wildzarr error names the file
            else:
                info = rec.info
                tqdm.write(
                    f"{rec.id:>7} {path} ({info.duration:.3f} s, {info.samplerate} Hz, {info.channels} ch, "
                    f"{info.bits_per_sample}-bit)"
                )
    return 1 if failed else 0


def _summary(rec: wildzarr.Recording) -> dict[str, Any]:
    i = rec.info
    return {
        "id": rec.id,
        "name": i.source.name,
        "samplerate": i.samplerate,
        "channels": i.channels,
        "samples": i.samples,
        "duration": i.duration,
        "bits_per_sample": i.bits_per_sample,
        "codec": i.codec["id"],
        "stored_bytes": i.stored_bytes,
    }


def _cmd_ls(args: argparse.Namespace) -> int:
    with wildzarr.open(args.archive, path=args.path, mode="r") as archive:
        rows = [_summary(rec) for rec in archive]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':>7}  {'duration s':>11}  {'rate Hz':>8}  {'ch':>2}  {'bits':>4}  {'stored':>11}  name")
    for r in rows:
        print(
            f"{r['id']:>7}  {r['duration']:>11.3f}  {r['samplerate']:>8}  {r['channels']:>2}  "
            f"{r['bits_per_sample']:>4}  {r['stored_bytes']:>11}  {r['name']}"
        )
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    with wildzarr.open(args.archive, path=args.path, mode="r") as archive:
        rec = archive[args.id]
        doc = {
            "info": rec.info.model_dump(mode="json"),
            "file_meta": rec.file_meta,
            "user_meta": rec.user_meta,
        }
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    for key, value in doc["info"].items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        print(f"{key:>17}: {value}")
    for section in ("file_meta", "user_meta"):
        print(f"{section}:")
        print("  " + json.dumps(doc[section], indent=2, ensure_ascii=False).replace("\n", "\n  "))
    return 0


def _cmd_read(args: argparse.Namespace) -> int:
    with wildzarr.open(args.archive, path=args.path, mode="r") as archive:
        rec = archive[args.id]
        samples = rec.read(args.start, args.stop)
        write_samples(args.output, samples, rec.samplerate, rec.info.bits_per_sample)
    print(f"wrote {len(samples)} samples x {samples.shape[1]} ch of recording {rec.id} to {args.output}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wildzarr",
        description="A Zarr v3 sound archive for wildlife recordings. ARCHIVE is a folder, a .zip file "
        "or an fsspec URL (memory://..., s3://...); --path selects the group inside it.",
    )
    parser.add_argument("--version", action="version", version=f"wildzarr {wildzarr.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("archive", metavar="ARCHIVE", help="archive folder, .zip file or URL")
        p.add_argument("--path", metavar="GROUP", help="group inside ARCHIVE (default: its root)")
        return p

    p = command("import", "import audio files (folders are searched recursively)")
    p.add_argument("sources", metavar="SOURCE", nargs="+", help="audio file or folder")
    p.add_argument("--codec", default="flac", choices=["flac"], help="codec (default: flac)")
    p.add_argument(
        "--meta",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="user metadata for every file; VALUE is parsed as JSON when it can be (repeatable)",
    )
    p.add_argument(
        "--compression-level", type=int, metavar="N", help="FLAC compression level 0-8 (default 5)"
    )
    p.add_argument("--blocksize", type=int, metavar="N", help="FLAC block size in samples (default 4096)")
    p.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="import files whose content is already archived (default: skip them)",
    )
    p.set_defaults(run=_cmd_import)

    p = command("ls", "list the recordings")
    p.add_argument("--json", action="store_true", help="print JSON only")
    p.set_defaults(run=_cmd_ls)

    p = command("info", "show one recording's metadata")
    p.add_argument("id", metavar="ID", type=int)
    p.add_argument("--json", action="store_true", help="print JSON only")
    p.set_defaults(run=_cmd_info)

    p = command("read", "read samples [START, STOP) of a recording into a file")
    p.add_argument("id", metavar="ID", type=int)
    p.add_argument("--start", type=int, default=0, metavar="N", help="first sample (default 0)")
    p.add_argument("--stop", type=int, metavar="N", help="sample after the last (default: the end)")
    p.add_argument(
        "-o", "--output", required=True, metavar="OUT", help=f"output file ({', '.join(SUFFIXES)})"
    )
    p.set_defaults(run=_cmd_read)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (1 if any file failed or on an error)."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except WildzarrError as exc:
        print(f"wildzarr: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (silences the flush at exit)
        return 0


if __name__ == "__main__":
    sys.exit(main())
