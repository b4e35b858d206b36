"""The ``wildzarr`` command line: a thin layer over the public API.

::

    wildzarr import  ARCHIVE SOURCE... [--codec auto] [--codec-option KEY=VALUE]...
                     [--meta KEY=VALUE]... [--allow-duplicates] [--allow-truncated]
                     [--time-zone ZONE] [--filename-time PATTERN]
    wildzarr ls      ARCHIVE [--where EXPR] [--columns COL,...] [--json]
    wildzarr info    ARCHIVE ID [--json]
    wildzarr read    ARCHIVE ID [--start N] [--stop N] -o OUT
    wildzarr export  ARCHIVE ID [OUT] [--start N] [--stop N] [--start-s S] [--stop-s S]
                     [--format F] [--codec C] [--bitrate B]
    wildzarr rm      ARCHIVE ID...
    wildzarr verify  ARCHIVE [ID...] [--json]
    wildzarr repair  ARCHIVE
    wildzarr upgrade ARCHIVE
    wildzarr pack    ARCHIVE OUT.zip [--force]
    wildzarr curate  ARCHIVE SPEC [OUT] [--format das|flac|wav|...] [--workers N] [--shard-size N]
                     [--dtype stored|float32] [--restart]

Every command takes ``--path GROUP`` (the group inside ARCHIVE) and
``--storage-option KEY=VALUE`` (fsspec options of a URL, e.g. S3's
``endpoint_url``). Exit status: 0 on success, 1 when something failed (a file
not imported, damage found, a bad argument), 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

import wildzarr
from wildzarr.catalog import query_ids as archive_query
from wildzarr.codecs import codec_ids
from wildzarr.codecs.auto import AUTO
from wildzarr.errors import DuplicateRecordingError, WildzarrError
from wildzarr.export import SUFFIXES, export_recording, write_samples
from wildzarr.pack import pack
from wildzarr.repair import repair
from wildzarr.sources.names import display_name
from wildzarr.upgrade import upgrade
from wildzarr.verify import verify

__all__ = ["AUDIO_SUFFIXES", "main", "show"]

#: File endings a folder search picks up (files named on the command line are always tried).
AUDIO_SUFFIXES = frozenset(
    {
        *(".wav", ".wave", ".bwf", ".rf64", ".w64", ".flac", ".aif", ".aiff", ".aifc", ".caf", ".au", ".wv"),
        *(".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".m4v", ".mov", ".mkv", ".mka", ".webm"),
    }
)
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def show(text: object) -> str:
    """``text`` safe for one terminal line: undecodable bytes as ``\\xNN``, control characters escaped."""
    value = display_name(str(text))
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode() for c in value)


def _pairs(items: Sequence[str], option: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that parses as JSON is that value, else a string."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _UsageError(f"{option} takes KEY=VALUE, not {item!r}")
        try:
            result[key] = json.loads(value)
        except json.JSONDecodeError:
            result[key] = value
    return result


class _UsageError(Exception):
    """A command-line argument that argparse could not check itself."""


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


def _open(args: argparse.Namespace, mode: str) -> wildzarr.Archive:
    options = _pairs(args.storage_option, "--storage-option") or None
    return wildzarr.open(args.archive, path=args.path, mode=mode, storage_options=options)


def _cmd_import(args: argparse.Namespace) -> int:
    meta = _pairs(args.meta, "--meta")
    files = list(_expand(args.sources))
    codec_params = _pairs(args.codec_option, "--codec-option")
    if codec_params and args.codec == AUTO:
        raise _UsageError("--codec-option needs a named --codec, not auto")
    imported = skipped = failed = 0
    try:
        with _open(args, "a") as archive:
            bar = tqdm(files, unit="file", desc="import", disable=None, file=sys.stderr)
            for path in bar:
                try:
                    rec = archive.add(
                        path,
                        codec=args.codec,
                        user_meta=meta,
                        allow_duplicates=args.allow_duplicates,
                        allow_truncated=args.allow_truncated,
                        time_zone=args.time_zone,
                        filename_time=args.filename_time,
                        **codec_params,
                    )
                except DuplicateRecordingError as exc:
                    skipped += 1
                    tqdm.write(f"skipped {show(path)}: already recording {exc.existing_id}")
                except WildzarrError as exc:
                    failed += 1
                    tqdm.write(f"failed  {show(exc)}", file=sys.stderr)
                else:
                    imported += 1
                    info = rec.info
                    tqdm.write(
                        f"{rec.id:>7} {show(path)} ({info.duration:.3f} s, {info.samplerate} Hz, "
                        f"{info.channels} ch, {info.codec['id']})"
                    )
    except KeyboardInterrupt:
        print(f"interrupted: imported {imported}, skipped {skipped}, failed {failed}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"imported {imported}, skipped {skipped}, failed {failed}")
    return 1 if failed else 0


#: Catalog columns ``ls`` prints, under the names of its JSON output.
_LS_COLUMNS = {
    "source.name": "name",
    "samplerate": "samplerate",
    "channels": "channels",
    "samples": "samples",
    "duration": "duration",
    "bits_per_sample": "bits_per_sample",
    "dtype": "dtype",
    "codec": "codec",
    "stored_bytes": "stored_bytes",
    "start_time": "start_time",
}


def _json_value(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def _cmd_ls(args: argparse.Namespace) -> int:
    with _open(args, "r") as archive, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", wildzarr.DamagedRecordingWarning)
        catalog = archive.catalog()
        if args.where:
            catalog = catalog.loc[archive_query(catalog, args.where)]
    for warning in caught:
        print(f"wildzarr: warning: {show(warning.message)}", file=sys.stderr)
    extra = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else []
    missing = [c for c in extra if c not in catalog.columns]
    if missing:
        raise _UsageError(f"--columns: no catalog column {', '.join(map(repr, missing))}")
    rows = [
        {
            "id": int(rid),
            **{name: _json_value(row[column]) for column, name in _LS_COLUMNS.items()},
            **{column: _json_value(row[column]) for column in extra},
        }
        for rid, row in zip(catalog.index.tolist(), catalog.to_dict("records"), strict=True)
    ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    print(
        f"{'id':>7}  {'duration s':>11}  {'rate Hz':>8}  {'ch':>3}  {'bits':>4}  "
        f"{'codec':>5}  {'stored':>11}  {'start (UTC)':<19}  name" + "".join(f"  {c}" for c in extra)
    )
    for r in rows:
        start = (r["start_time"] or "")[:19].replace("T", " ")
        print(
            f"{r['id']:>7}  {r['duration']:>11.3f}  {r['samplerate']:>8}  {r['channels']:>3}  "
            f"{r['bits_per_sample']:>4}  {r['codec']:>5}  {r['stored_bytes']:>11}  {start:<19}  "
            f"{show(r['name'])}" + "".join(f"  {'' if r[c] is None else show(r[c])}" for c in extra)
        )
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    with _open(args, "r") as archive:
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
        print(f"{key:>17}: {show(value)}")
    for section in ("file_meta", "user_meta"):
        print(f"{section}:")
        print("  " + json.dumps(doc[section], indent=2, ensure_ascii=False).replace("\n", "\n  "))
    return 0


def _cmd_read(args: argparse.Namespace) -> int:
    with _open(args, "r") as archive:
        rec = archive[args.id]
        samples = rec.read(args.start, args.stop)
        write_samples(args.output, samples, rec.info.stored_format())
    print(
        f"wrote {len(samples)} samples x {samples.shape[1]} ch of recording {rec.id} to {show(args.output)}"
    )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    with _open(args, "r") as archive:
        path = export_recording(
            archive[args.id],
            args.out,
            start=args.start,
            stop=args.stop,
            start_s=args.start_s,
            stop_s=args.stop_s,
            format=args.format,
            codec=args.codec,
            bitrate=args.bitrate,
        )
    print(show(path))
    return 0


def _cmd_rm(args: argparse.Namespace) -> int:
    failed = 0
    with _open(args, "r+") as archive:
        for rid in args.ids:
            try:
                archive.remove(rid)
            except WildzarrError as exc:
                failed += 1
                print(f"wildzarr: {show(exc)}", file=sys.stderr)
            else:
                print(f"removed {rid}")
    return 1 if failed else 0


def _cmd_verify(args: argparse.Namespace) -> int:
    with _open(args, "r") as archive:
        report = verify(archive, args.ids or None)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        for finding in report.findings:
            print(show(finding))
        print(report.summary())
    return 0 if report.ok else 1


def _cmd_repair(args: argparse.Namespace) -> int:
    with _open(args, "r+") as archive:
        report = repair(archive)
    for line in report.lines():
        print(show(line))
    return 0


def _cmd_upgrade(args: argparse.Namespace) -> int:
    options = _pairs(args.storage_option, "--storage-option") or None
    count = upgrade(args.archive, path=args.path, storage_options=options)
    print(f"upgraded to format {wildzarr.FORMAT_VERSION}: {count} recordings")
    return 0


def _cmd_pack(args: argparse.Namespace) -> int:
    options = _pairs(args.storage_option, "--storage-option") or None
    report = pack(
        args.archive, args.out, path=args.path, storage_options=options, force=args.force, progress=None
    )
    print(show(report.summary()))
    return 0


def _cmd_curate(args: argparse.Namespace) -> int:
    from wildzarr.curate import Curation

    with _open(args, "r") as archive:
        curation = Curation.read(args.spec, archive)
        print(f"{len(curation)} rows checked; classes: {show(', '.join(curation.classes) or '-')}")
        if args.out is None:
            return 0
        out = curation.materialise(
            args.out,
            format=args.format,
            workers=args.workers,
            shard_size=args.shard_size,
            resume=not args.restart,
            dtype=args.dtype,
        )
    print(f"wrote {show(out)}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wildzarr",
        description="A Zarr v3 sound archive for wildlife recordings. ARCHIVE is a folder, a .zip file "
        "or an fsspec URL (s3://bucket/prefix, memory://...); --path selects the group inside it.",
    )
    parser.add_argument("--version", action="version", version=f"wildzarr {wildzarr.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("archive", metavar="ARCHIVE", help="archive folder, .zip file or URL")
        p.add_argument("--path", metavar="GROUP", help="group inside ARCHIVE (default: its root)")
        p.add_argument(
            "--storage-option",
            metavar="KEY=VALUE",
            action="append",
            default=[],
            help="option of the URL's filesystem, e.g. endpoint_url=http://127.0.0.1:9000 (repeatable)",
        )
        return p

    p = command("import", "import audio files (folders are searched recursively)")
    p.add_argument("sources", metavar="SOURCE", nargs="+", help="audio file or folder")
    p.add_argument(
        "--codec",
        default=AUTO,
        choices=(AUTO, *codec_ids()),
        help="codec (default: auto: FLAC for integer PCM, npy for float PCM, AAC frames kept as they are, "
        "24-bit FLAC for other lossy sources)",
    )
    p.add_argument(
        "--codec-option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="parameter of the named --codec, VALUE parsed as JSON when it can be, e.g. "
        "compression_level=8 for flac (repeatable)",
    )
    p.add_argument(
        "--meta",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="user metadata for every file; VALUE is parsed as JSON when it can be (repeatable)",
    )
    p.add_argument(
        "--allow-truncated",
        action="store_true",
        help="import the samples of a truncated WAV/FLAC file (default: fail); info records the truncation",
    )
    p.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="import files whose content is already archived (default: skip them)",
    )
    p.add_argument(
        "--time-zone",
        metavar="ZONE",
        help="zone of local times without one in the files (GUANO Timestamp without offset, bext, file "
        "names): an IANA name (Europe/Berlin), UTC or an offset (+02:00); default: the archive's",
    )
    p.add_argument(
        "--filename-time",
        metavar="PATTERN",
        help="strptime pattern of a start time in the file names, e.g. %%Y%%m%%d_%%H%%M%%S",
    )
    p.set_defaults(run=_cmd_import)

    p = command("ls", "list the recordings (from the catalog)")
    p.add_argument("--json", action="store_true", help="print JSON only")
    p.add_argument(
        "--where",
        metavar="EXPR",
        help="only recordings whose catalog row satisfies EXPR (pandas query syntax), e.g. "
        "\"site == 'A' and samplerate >= 192000\"; dotted columns in backticks: `guano.Make` == 'BATLOGGER'",
    )
    p.add_argument("--columns", metavar="COL,...", help="catalog columns to print too, e.g. site,guano.Make")
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

    p = command(
        "export",
        "write samples [START, STOP) of a recording to an audio file in any format FFmpeg encodes "
        "(wav, flac, mp3, m4a, opus, ...); prints the file written",
    )
    p.add_argument("id", metavar="ID", type=int)
    p.add_argument(
        "out",
        metavar="OUT",
        nargs="?",
        help="file to write; its suffix picks the format (default: the source's name extended by the "
        "range, e.g. bat_s96000-192000.wav, in the current folder)",
    )
    p.add_argument("--start", type=int, metavar="N", help="first sample (default 0)")
    p.add_argument("--stop", type=int, metavar="N", help="sample after the last (default: the end)")
    p.add_argument("--start-s", type=float, metavar="S", help="start in real seconds (instead of --start)")
    p.add_argument("--stop-s", type=float, metavar="S", help="stop in real seconds (instead of --stop)")
    p.add_argument("--format", metavar="F", help="container: wav, flac, mp3, m4a, opus, ogg, aiff, ...")
    p.add_argument("--codec", metavar="C", help="FFmpeg encoder, e.g. pcm_s24le, alac, libopus")
    p.add_argument("--bitrate", metavar="B", help="bits per second of lossy codecs, e.g. 128k")
    p.set_defaults(run=_cmd_export)

    p = command("rm", "remove recordings (their ids are never handed out again)")
    p.add_argument("ids", metavar="ID", type=int, nargs="+")
    p.set_defaults(run=_cmd_rm)

    p = command(
        "verify",
        "check documents, frame indexes, every frame's CRC and the decoded audio against its checksum; "
        "list interrupted imports and orphaned nodes (exit status 1 if anything is wrong)",
    )
    p.add_argument("ids", metavar="ID", type=int, nargs="*", help="recordings to check (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON only")
    p.set_defaults(run=_cmd_verify)

    p = command(
        "repair",
        "remove interrupted imports and orphaned nodes (never a complete recording or a group of your own)",
    )
    p.set_defaults(run=_cmd_repair)

    p = command(
        "upgrade", "convert a format-1 archive to the current format in place (no other writers meanwhile)"
    )
    p.set_defaults(run=_cmd_upgrade)

    p = command(
        "pack",
        "write the complete recordings into a new zip file (members stored uncompressed): a finished "
        "archive that opens read-only and reads as fast as a folder; imports in progress and leftovers "
        "of interrupted ones stay out",
    )
    p.add_argument("out", metavar="OUT", help="the zip file to write (name ending in .zip)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists (default: refuse)")
    p.set_defaults(run=_cmd_pack)

    p = command(
        "curate",
        "check a curation spec (CSV or Parquet: recording or file, start/stop, start_s/stop_s or "
        "start_time/stop_time, label, split) and write its ranges as audio files or a DAS store, in "
        "worker processes; an interrupted run resumes",
    )
    p.add_argument("spec", metavar="SPEC", help="the curation table, .csv or .parquet")
    p.add_argument(
        "out",
        metavar="OUT",
        nargs="?",
        help="a folder for audio files, or a DAS store ending in .zarr or .npy; without OUT, only check SPEC",
    )
    p.add_argument("--format", default="flac", help="das, or an export format: flac, wav, ... (default flac)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: the cores available)")
    p.add_argument(
        "--shard-size", type=int, default=64, metavar="N", help="rows per unit of work and resumption (64)"
    )
    p.add_argument(
        "--dtype", choices=("stored", "float32"), default="stored", help="DAS x: stored samples or float32"
    )
    p.add_argument("--restart", action="store_true", help="discard an interrupted run's work, do not resume")
    p.set_defaults(run=_cmd_curate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (1 if anything failed, 130 after Ctrl-C)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except _UsageError as exc:
        parser.error(str(exc))
    except WildzarrError as exc:
        print(f"wildzarr: {show(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("wildzarr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (silences the flush at exit)
        return 0


if __name__ == "__main__":
    sys.exit(main())
