"""Curated datasets: a table of labelled ranges of archived recordings, checked, then used or written out.

A curation spec is a CSV or Parquet table (or a DataFrame), one row per range::

    recording | file       which recording: its id, or its source file name (``rec.info.source.name``)
    start, stop            the range in samples, or
    start_s, stop_s        in real seconds from the first sample, or
    start_time, stop_time  as UTC times (ISO 8601 with a zone), by the recording's start time
    label                  the range's class ("noise": a range of no class, a negative example)
    split                  optional: train, val, test ...
    anything else          kept, and written to the manifest

Seconds and times become samples by the rule of :mod:`wildzarr.timebase`
(start: floor, stop: ceil; ``samplerate * time_expansion`` samples per
second). :meth:`Curation.read` checks every row before anything is used;
:meth:`Curation.clips` is the clip table (nothing copied);
:meth:`Curation.materialise` writes audio files and a manifest, or a DAS
store, in worker processes, resumably. See docs/curate.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib
import json
import multiprocessing
import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from wildzarr import timebase
from wildzarr._version import __version__
from wildzarr.das import (
    LAYOUTS,
    NOISE,
    DasPlan,
    DasWriter,
    fsync_tree,
    plan_das,
    publish,
    read_blocks,
)
from wildzarr.errors import ArgumentError, MissingDependencyError, RangeError, StorageError
from wildzarr.export import FORMATS as EXPORT_FORMATS
from wildzarr.export import export_recording

if TYPE_CHECKING:
    from wildzarr.archive import Archive
    from wildzarr.clips import Clips

__all__ = ["AUDIO_FORMATS", "FORMATS", "MANIFEST", "MARKER", "Curation"]

#: Audio file formats of :meth:`Curation.materialise` (one file per row): those of :mod:`wildzarr.export`.
AUDIO_FORMATS = tuple(EXPORT_FORMATS)
#: Every format of :meth:`Curation.materialise`.
FORMATS = (*AUDIO_FORMATS, "das")
#: The table of the files written, in the output folder.
MANIFEST = "manifest.csv"
#: Written into a finished output: what it was made from (a rerun finds its work done).
MARKER = ".wildzarr-curation.json"
#: The three ways to give a range, each a pair of columns.
TIME_FORMS = (("start", "stop"), ("start_s", "stop_s"), ("start_time", "stop_time"))
#: At most this many row problems are listed in one error.
SHOWN_PROBLEMS = 10
#: Rows per block when shards are joined into the final DAS store.
JOIN_ROWS = 1 << 20

#: Columns the manifest adds, so a spec must not have them.
RESERVED = ("row", "path")

_KNOWN = {"recording", "file", "label", "split"}.union(*TIME_FORMS)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class _Shard:
    """A group of consecutive rows written by one worker: its name, split and the positions of its rows."""

    name: str
    split: str
    rows: list[int]


class Curation:
    """A checked curation spec: one labelled range of an archived recording per row.

    Use :meth:`read` to get one. ``df`` has the columns ``row`` (the spec's
    row number, from 0), ``recording``, ``start``, ``stop`` (int64, samples,
    ``start < stop``), ``label`` (str), ``split`` (when the spec has one), then
    the spec's other columns as they were.
    """

    def __init__(self, archive: Archive, df: pd.DataFrame, source: str) -> None:
        self.archive = archive
        self.df = df
        self.source = source

    def __repr__(self) -> str:
        return f"<wildzarr.Curation {self.source}: {len(self.df)} rows, classes {self.classes}>"

    def __len__(self) -> int:
        return len(self.df)

    @property
    def classes(self) -> list[str]:
        """The labels, sorted, without "noise" (rows labelled "noise" belong to no class)."""
        return sorted(set(self.df["label"]) - {NOISE})

    # -- reading ---------------------------------------------------------------------------------

    @classmethod
    def read(cls, spec: str | os.PathLike[str] | pd.DataFrame, archive: Archive) -> Curation:
        """Read and check a curation spec against the archive.

        Parameters
        ----------
        spec : str, os.PathLike or pandas.DataFrame
            A ``.csv`` file (pandas ``read_csv``), a ``.parquet`` file
            (``read_parquet``; needs pyarrow: ``pip install "wildzarr[parquet]"``)
            or a DataFrame, with the columns of the module docstring.
        archive : Archive

        Returns
        -------
        Curation

        Raises
        ------
        ArgumentError
            For a missing column (``recording`` or ``file``; one pair of
            ``start``/``stop``, ``start_s``/``stop_s``, ``start_time``/``stop_time``;
            ``label``), or rows that are wrong: an unknown recording or file
            name, a file name two recordings share, a missing value (NaN), a
            non-integer sample, a time without zone or a recording without
            start time, an empty range or one outside the recording. The
            message names every bad row (its number, counted from 0; for CSV
            also its line) and its recording (up to :data:`SHOWN_PROBLEMS` of them).
        MissingDependencyError
            For Parquet without pyarrow.
        StorageError
            If the file cannot be read.
        """
        table, source, first_line = _load(spec)
        return cls(archive, _check(table, archive, source, first_line), source)

    # -- using -----------------------------------------------------------------------------------

    def clips(self) -> Clips:
        """The rows as a clip table: ``recording``, ``start``, ``stop`` (``split``), a uint8 column per class.

        A row's class column is 1 (none for "noise" rows); nothing is read or
        copied: the clips refer to the archive's recordings.
        """
        from wildzarr.clips import Clips

        table = self.df[["recording", "start", "stop"] + (["split"] if "split" in self.df else [])]
        table = table.reset_index(drop=True)
        for name in self.classes:
            table[name] = (self.df["label"] == name).to_numpy().astype(np.uint8)
        return Clips(self.archive, table, classes=self.classes)

    def annotations(self) -> pd.DataFrame:
        """The rows as an annotation table (the columns of ``AnnotationSet.df``), "noise" rows left out.

        ``recording``, ``channel`` (``<NA>``: all), ``start``, ``stop``,
        ``label``, ``low_freq``, ``high_freq`` (NaN), sorted by recording,
        start, stop, label: every row's label marks its samples in DAS's ``y``.
        """
        rows = self.df[self.df["label"] != NOISE]
        table = pd.DataFrame(
            {
                "recording": rows["recording"].to_numpy(dtype=np.int64),
                "channel": pd.array([pd.NA] * len(rows), dtype="Int64"),
                "start": rows["start"].to_numpy(dtype=np.int64),
                "stop": rows["stop"].to_numpy(dtype=np.int64),
                "label": rows["label"].to_numpy(dtype=object),
                "low_freq": np.full(len(rows), np.nan),
                "high_freq": np.full(len(rows), np.nan),
            }
        )
        return table.sort_values(["recording", "start", "stop", "label"], ignore_index=True)

    # -- writing ---------------------------------------------------------------------------------

    def materialise(
        self,
        out: str | os.PathLike[str],
        *,
        format: str = "flac",
        workers: int | None = None,
        shard_size: int = 64,
        resume: bool = True,
        dtype: str = "stored",
    ) -> Path:
        """Write the curated ranges out, in worker processes; an interrupted run resumes where it stopped.

        The rows are cut into shards of ``shard_size`` consecutive rows (of one
        split); each worker process (``ProcessPoolExecutor``, forkserver or
        spawn) opens the archive from its pickled location and writes whole
        shards into ``<out>.partial/``: into a temporary folder, fsynced, then
        renamed, so a shard is either done or absent. A rerun after an
        interruption (Ctrl-C, SIGKILL, a crash) skips the done shards and
        redoes the others; the result is byte for byte that of an
        uninterrupted run. When every shard is done they are joined into
        ``out``, which appears complete (a rename) with a marker file
        :data:`MARKER`; ``<out>.partial`` is removed.

        Parameters
        ----------
        out : str or os.PathLike
            Audio formats: a folder, created, holding one file per row, named
            ``<row>_<source name>_<start>-<stop>.<suffix>`` (the row number in
            6 digits; the source file's name without its ending, characters
            other than letters, digits, ``.``, ``_``, ``-`` as ``_``), and
            :data:`MANIFEST`: ``row``, ``path`` (the file's name), ``recording``,
            ``file`` (the source file's name), ``start``, ``stop``, ``label``,
            ``split``, then the spec's other columns.
            ``"das"``: a DAS store (:func:`wildzarr.das.write_das`) ending in
            ``.zarr`` (Zarr format 2) or ``.npy`` (npy_dir), ``y`` from the
            rows' labels (:meth:`annotations`), the rows of each split in row order.
        format : str
            ``"das"``, or a format of :func:`wildzarr.export.export_recording`
            (``"flac"``, ``"wav"``, ``"mp3"`` ...: :data:`AUDIO_FORMATS`), which
            writes the stored samples (FLAC: integers only). The result is byte
            for byte reproducible where the encoder and muxer are (WAV, FLAC,
            AIFF, MP3, M4A; not Ogg or Matroska, which write random serial
            numbers and ids).
        workers : int, optional
            Worker processes; default the cores this process may use.
        shard_size : int
            Rows per shard (the unit of work and of resumption).
        resume : bool
            True: reuse the done shards of an earlier run of the same curation
            with the same options, and return ``out`` at once if that run
            finished. False: start over (``<out>.partial`` is removed first).
        dtype : {"stored", "float32"}
            DAS only: ``x`` in the recordings' stored sample dtype, or float32 in [-1, 1).

        Returns
        -------
        pathlib.Path
            ``out``.

        Raises
        ------
        ArgumentError
            For an unknown format or dtype, a DAS path without ``.zarr`` or
            ``.npy``, ``out`` existing with other content, a ``<out>.partial``
            of another curation or other options (with ``resume=True``),
            rows whose recordings differ in sample rate or channels (DAS), or
            samples a format cannot hold (float samples as FLAC: the row is named).
        StorageError
            If the disk fails; done shards stay for the next run.
        """
        target = Path(out)
        if format not in FORMATS:
            raise ArgumentError(f"format must be one of {', '.join(map(repr, FORMATS))}, not {format!r}")
        count = _positive(workers if workers is not None else len(os.sched_getaffinity(0)), "workers")
        size = _positive(shard_size, "shard_size")
        layout = _das_layout(target) if format == "das" else None
        plan = self._das_plan(dtype) if format == "das" else None
        shards = self._shards(plan, size)
        fingerprint = self._fingerprint(format=format, layout=layout, dtype=dtype, shards=shards)
        work = target.with_name(target.name + ".partial")
        if target.exists() or target.is_symlink():
            if resume and _marker(target) == fingerprint:
                _clear(work)
                return target
            raise ArgumentError(f"{target}: exists already (and is not this curation's finished output)")
        with _work_folder(work, fingerprint, resume):
            done = work / "shards"
            pending = [s for s in shards if not (done / s.name).is_dir()]
            if pending:
                self._run(pending, work, format, plan, count)
            marker = json.dumps({"fingerprint": fingerprint, "rows": len(self.df), "wildzarr": __version__})
            if plan is not None and layout is not None:
                _join_das(target, layout, plan, shards, done, work, marker)
            else:
                self._join_audio(target, shards, done, work, format, marker)
            _clear(work)
        return target

    def _das_plan(self, dtype: str) -> DasPlan:
        classes = self.classes
        return plan_das(
            self.archive,
            self.df,
            classes,
            dict.fromkeys(classes, "segment"),
            dtype=dtype,
            extra={"curation": self.source},
        )

    def _shards(self, plan: DasPlan | None, size: int) -> list[_Shard]:
        """Consecutive rows of one split per shard; DAS shards follow the store's split order."""
        if plan is None:
            groups = [("", list(range(len(self.df))))]
        else:
            split = self.df["split"].to_numpy() if "split" in self.df else np.full(len(self.df), "train")
            groups = [(name, np.flatnonzero(split == name).tolist()) for name in plan.splits]
        shards: list[_Shard] = []
        for name, rows in groups:
            for at in range(0, len(rows), size):
                shards.append(_Shard(f"{len(shards):06d}", name, rows[at : at + size]))
        return shards

    def _fingerprint(self, **options: Any) -> str:
        """sha256 of the rows, the archive's location and the options: what a rerun must match."""
        digest = hashlib.sha256()
        digest.update(f"{self.archive!r} {__version__}".encode())
        digest.update(self.df.to_csv(index=False).encode())
        shards = [(s.name, s.split, s.rows) for s in options.pop("shards")]
        digest.update(json.dumps([options, shards], sort_keys=True, default=str).encode())
        return digest.hexdigest()

    def _run(self, pending: list[_Shard], work: Path, format: str, plan: DasPlan | None, count: int) -> None:
        """Write the pending shards in ``count`` worker processes; the first failure stops the rest."""
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        ann = self.annotations() if plan is not None else None
        with ProcessPoolExecutor(min(count, len(pending)), mp_context=context, initializer=_watch) as pool:
            futures: list[Future[None]] = []
            for shard in pending:
                rows = self.df.iloc[shard.rows]
                temp = work / f"tmp-{shard.name}-{secrets.token_hex(4)}"
                final = work / "shards" / shard.name
                if plan is not None and ann is not None:
                    part = ann[ann["recording"].isin(rows["recording"].unique())]
                    table = rows[["recording", "start", "stop"]].reset_index(drop=True)
                    futures.append(pool.submit(_das_shard, self.archive, plan, table, part, temp, final))
                else:
                    names = self._names(rows, format)
                    columns = (rows["row"], rows["recording"], rows["start"], rows["stop"], names)
                    files = [
                        (int(r), int(i), int(a), int(b), n) for r, i, a, b, n in zip(*columns, strict=True)
                    ]
                    futures.append(pool.submit(_audio_shard, self.archive, files, format, temp, final))
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in finished:
                if future.exception() is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
                    future.result()

    def _names(self, rows: pd.DataFrame, format: str) -> list[str]:
        """The file name of each row: row number, source name, range (module docs); unique per row."""
        sources = self._sources
        return [
            f"{int(row):06d}_{_safe_stem(sources[int(rid)])}_{int(a)}-{int(b)}{EXPORT_FORMATS[format].suffix}"
            for row, rid, a, b in zip(
                rows["row"], rows["recording"], rows["start"], rows["stop"], strict=True
            )
        ]

    @functools.cached_property
    def _sources(self) -> dict[int, str]:
        """Recording id -> source file name, for every recording of the rows (from the catalog)."""
        names = self.archive.catalog()["source.name"]
        return {int(rid): str(names[rid]) for rid in self.df["recording"].unique()}

    def _join_audio(
        self, target: Path, shards: list[_Shard], done: Path, work: Path, format: str, marker: str
    ) -> None:
        """Hard-link the shards' files into one folder, add manifest and marker, rename it to ``target``."""
        final = work / "final"
        _clear(final)
        final.mkdir()
        names = self._names(self.df, format)
        for shard in shards:
            for row in shard.rows:
                os.link(done / shard.name / names[row], final / names[row])
        sources = self._sources
        manifest = pd.DataFrame(
            {
                "row": self.df["row"].to_numpy(),
                "path": names,
                "recording": self.df["recording"].to_numpy(),
                "file": [sources[int(r)] for r in self.df["recording"]],
            }
        )
        rest = [c for c in self.df.columns if c not in ("row", "recording")]
        manifest = pd.concat([manifest, self.df[rest].reset_index(drop=True)], axis=1)
        manifest.to_csv(final / MANIFEST, index=False, lineterminator="\n")
        (final / MARKER).write_text(marker)
        fsync_tree(final)
        if not publish(final, target):
            raise ArgumentError(f"{target}: was created by someone else meanwhile")


# -- reading and checking ---------------------------------------------------------------------------


def _load(spec: str | os.PathLike[str] | pd.DataFrame) -> tuple[pd.DataFrame, str, int | None]:
    """The table, a name for messages, and the file line of row 0 (CSV: 2, after the header)."""
    if isinstance(spec, pd.DataFrame):
        return spec.reset_index(drop=True), "the curation table", None
    if not isinstance(spec, (str, os.PathLike)):
        raise ArgumentError(f"a curation spec is a path or a DataFrame, not {type(spec).__name__}")
    path = Path(spec)
    suffix = path.suffix.lower()
    text_columns = {name: str for name in ("file", "label", "split", "start_time", "stop_time")}
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=text_columns, keep_default_na=True), str(path), 2
        if suffix in (".parquet", ".pq"):
            try:
                importlib.import_module("pyarrow")  # pandas reads Parquet through it
            except ImportError:
                raise MissingDependencyError(
                    f'{path}: reading Parquet needs pyarrow: pip install "wildzarr[parquet]"'
                ) from None
            return pd.read_parquet(path).reset_index(drop=True), str(path), None
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise StorageError(f"{path}: cannot read the curation spec: {exc}", str(path)) from exc
    raise ArgumentError(f"{path}: a curation spec ends in .csv or .parquet")


def _check(table: pd.DataFrame, archive: Archive, source: str, first_line: int | None) -> pd.DataFrame:
    """The validated table (class docstring of :class:`Curation`); ArgumentError listing the bad rows."""
    columns = set(table.columns)
    if "recording" not in columns and "file" not in columns:
        raise ArgumentError(f"{source}: needs a column 'recording' (id) or 'file' (source file name)")
    forms = [pair for pair in TIME_FORMS if columns & set(pair)]
    if len(forms) != 1:
        given = "both " + " and ".join("/".join(p) for p in forms) if forms else "none"
        raise ArgumentError(
            f"{source}: needs one pair of columns start/stop (samples), start_s/stop_s (seconds) or "
            f"start_time/stop_time (UTC); found {given}"
        )
    missing = [c for c in (*forms[0], "label") if c not in columns]
    if missing:
        raise ArgumentError(f"{source}: missing column {', '.join(map(repr, missing))}")
    reserved = [c for c in RESERVED if c in columns]
    if reserved:
        raise ArgumentError(
            f"{source}: column {', '.join(map(repr, reserved))} is reserved (manifest column)"
        )
    catalog = archive.catalog()
    checker = _RowChecker(table, catalog, forms[0], source, first_line)
    return checker.result()


class _RowChecker:
    """Converts and checks every row against the archive's catalog, collecting the problems."""

    def __init__(
        self,
        table: pd.DataFrame,
        catalog: pd.DataFrame,
        form: tuple[str, str],
        source: str,
        first_line: int | None,
    ) -> None:
        self.table = table
        self.catalog = catalog
        self.form = form
        self.source = source
        self.first_line = first_line
        self.problems: list[str] = []
        names = catalog["source.name"].astype(str)
        self.by_name: dict[str, list[int]] = {}
        for rid, name in zip(catalog.index, names, strict=True):
            self.by_name.setdefault(name, []).append(int(rid))

    def where(self, row: int, rid: int | None) -> str:
        line = f" (line {row + self.first_line})" if self.first_line is not None else ""
        return f"row {row}{line}" + (f", recording {rid}" if rid is not None else "")

    def fail(self, row: int, rid: int | None, message: str) -> None:
        self.problems.append(f"{self.where(row, rid)}: {message}")

    def result(self) -> pd.DataFrame:
        rows: dict[str, list[Any]] = {
            "row": [],
            "recording": [],
            "start": [],
            "stop": [],
            "label": [],
            "split": [],
        }
        for row, values in enumerate(self.table.to_dict("records")):
            checked = self.row(row, {str(k): v for k, v in values.items()})
            if checked is not None:
                for key, value in zip(rows, (row, *checked), strict=True):
                    rows[key].append(value)
        if self.problems:
            shown = "\n  ".join(self.problems[:SHOWN_PROBLEMS])
            more = len(self.problems) - SHOWN_PROBLEMS
            tail = f"\n  ... and {more} more" if more > 0 else ""
            raise ArgumentError(f"{self.source}: {len(self.problems)} bad row(s):\n  {shown}{tail}")
        df = pd.DataFrame(
            {
                "row": np.asarray(rows["row"], dtype=np.int64),
                "recording": np.asarray(rows["recording"], dtype=np.int64),
                "start": np.asarray(rows["start"], dtype=np.int64),
                "stop": np.asarray(rows["stop"], dtype=np.int64),
                "label": pd.Series(rows["label"], dtype=object),
            }
        )
        if "split" in self.table.columns:
            df["split"] = pd.Series(rows["split"], dtype=object)
        extras = [c for c in self.table.columns if c not in _KNOWN]
        return pd.concat([df, self.table[extras].reset_index(drop=True)], axis=1)

    def row(self, row: int, record: dict[str, Any]) -> tuple[int, int, int, str, str | None] | None:
        rid = self.recording(row, record)
        if rid is None:
            return None
        facts = cast(pd.Series, self.catalog.loc[rid])
        span = self.span(row, rid, record, facts)
        label = self.text(row, rid, record, "label")
        split = self.text(row, rid, record, "split") if "split" in record else None
        if span is None or label is None or ("split" in record and split is None):
            return None
        return (rid, *span, label, split)

    def recording(self, row: int, record: dict[str, Any]) -> int | None:
        """The row's recording: by its id, else by its source file name (which must name one recording)."""
        value = record.get("recording")
        name = record.get("file")
        if not _missing(value):
            rid = _integer(value)
            if rid is None:
                self.fail(row, None, f"recording must be an integer id, not {value!r}")
                return None
            if rid not in self.catalog.index:
                self.fail(row, rid, "no such recording in the archive")
                return None
            source = str(self.catalog.at[rid, "source.name"])
            if not _missing(name) and str(name) != source:
                self.fail(row, rid, f"file {name!r} is not its source file {source!r}")
                return None
            return rid
        if _missing(name):
            self.fail(row, None, "neither recording nor file is given")
            return None
        found = self.by_name.get(str(name), [])
        if len(found) != 1:
            what = "no recording has" if not found else f"recordings {found} have"
            self.fail(row, None, f"{what} the source file name {str(name)!r}; give its recording id")
            return None
        return found[0]

    def span(self, row: int, rid: int, record: dict[str, Any], facts: pd.Series) -> tuple[int, int] | None:
        first, last = self.form
        ends: list[int] = []
        for name, side in ((first, "start"), (last, "stop")):
            value = record[name]
            if _missing(value):
                self.fail(row, rid, f"{name} is missing")
                return None
            try:
                ends.append(self.sample(value, facts, side == "start"))
            except ArgumentError as exc:
                self.fail(row, rid, f"{name}: {exc}")
                return None
        start, stop = ends
        total = int(facts["samples"])
        if not 0 <= start < stop <= total:
            what = "is empty" if start >= stop else f"is outside its samples [0, {total})"
            self.fail(row, rid, f"range [{start}, {stop}) {what}")
            return None
        return start, stop

    def sample(self, value: Any, facts: pd.Series, is_start: bool) -> int:
        """A sample index from a value of the spec's time form (the rule of :mod:`wildzarr.timebase`)."""
        rate, te = int(facts["samplerate"]), float(facts["time_expansion"])
        side: timebase.Side = "start" if is_start else "stop"
        if self.form[0] == "start":
            index = _integer(value)
            if index is None:
                raise ArgumentError(f"must be an integer sample, not {value!r}")
            return index
        if self.form[0] == "start_s":
            return timebase.sample_index(value, rate, time_expansion=te, side=side)
        start_time = facts["start_time"]
        if pd.isna(start_time):
            raise ArgumentError("the recording has no start time; give samples or seconds")
        return timebase.utc_offset_samples(
            value, pd.Timestamp(start_time), rate, time_expansion=te, side=side
        )

    def text(self, row: int, rid: int, record: dict[str, Any], name: str) -> str | None:
        value = record[name]
        if _missing(value) or not isinstance(value, str) or not value.strip():
            self.fail(row, rid, f"{name} must be a non-empty text, not {value!r}")
            return None
        return value


def _missing(value: Any) -> bool:
    return (
        value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value))
    )


def _integer(value: Any) -> int | None:
    """``value`` as an int when it is an integer or an integral float; None otherwise."""
    if isinstance(value, bool) or _missing(value):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return None


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ArgumentError(f"{name} must be a positive int, not {value!r}")
    return int(value)


def _das_layout(target: Path) -> str:
    for layout, suffix in LAYOUTS.items():
        if target.suffix == suffix:
            return layout
    raise ArgumentError(
        f"{target}: a DAS store ends in .zarr (Zarr format 2) or .npy (npy_dir); das.io.load picks "
        "its reader by the ending"
    )


def _safe_stem(name: str) -> str:
    """A source file name as part of a file name: no ending, only letters, digits, ``.``, ``_``, ``-``."""
    stem = _UNSAFE.sub("_", Path(name).stem).strip("._") or "recording"
    return stem[:80]


# -- work folders -----------------------------------------------------------------------------------


def _marker(target: Path) -> str | None:
    """The fingerprint recorded in a finished output, or None."""
    try:
        return str(json.loads((target / MARKER).read_text())["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _clear(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


@contextlib.contextmanager
def _work_folder(work: Path, fingerprint: str, resume: bool) -> Iterator[None]:
    """Hold ``work`` for this run: created (or checked and reused), locked, rid of unfinished shards.

    The lock is an ``flock`` on ``work/lock``, which the kernel releases when
    its holder dies (SIGKILL included): a second run on the same output at
    the same time is refused, a rerun after a crash is not.

    Raises ArgumentError if another process holds it, or (with ``resume``) it
    holds the work of another curation or other options.
    """
    if not work.exists():
        _publish_folder(work, fingerprint)
    try:
        fd = os.open(work / "lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise StorageError(f"{work}: cannot open its lock: {exc.strerror or exc}", str(work)) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArgumentError(f"{work}: another process is materialising into it now") from None
        recorded = _recorded(work)
        if recorded != fingerprint:
            if resume:
                raise ArgumentError(
                    f"{work}: holds the work of another curation or other options; "
                    "pass resume=False to start over"
                )
            _clear(work / "shards")
            (work / "shards").mkdir()
            _write_plan(work, fingerprint)
        elif not resume:
            _clear(work / "shards")
            (work / "shards").mkdir()
        for entry in work.iterdir():  # what a killed run left unfinished (its workers are gone: see _watch)
            if entry.name.startswith(("tmp-", "final")):
                _clear(entry)
        yield
    finally:
        os.close(fd)


def _recorded(work: Path) -> str | None:
    try:
        value = json.loads((work / "plan.json").read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _write_plan(work: Path, fingerprint: str) -> None:
    """``work/plan.json`` replaced atomically (a fsynced temporary file renamed over it)."""
    temp = work / f"tmp-plan-{secrets.token_hex(4)}"
    temp.write_text(json.dumps({"fingerprint": fingerprint}))
    fsync_tree(temp)
    os.replace(temp, work / "plan.json")
    fsync_tree(work / "plan.json")


def _publish_folder(work: Path, fingerprint: str) -> None:
    """Create ``work`` with its plan and an empty ``shards`` folder, all at once (unless another run did)."""
    temp = work.with_name(f"{work.name}.tmp-{secrets.token_hex(4)}")
    try:
        (temp / "shards").mkdir(parents=True)
        (temp / "plan.json").write_text(json.dumps({"fingerprint": fingerprint}))
    except OSError as exc:
        _clear(temp)
        raise StorageError(
            f"{work}: cannot create the work folder: {exc.strerror or exc}", str(work)
        ) from exc
    fsync_tree(temp)
    publish(temp, work)


# -- workers (run in the pool's processes) ----------------------------------------------------------


def _watch() -> None:
    """In a worker: exit as soon as the materialising process is gone.

    concurrent.futures workers would otherwise outlive a SIGKILL of the
    process that started them, blocked on its queue, or finish a shard while
    a rerun clears the leftovers. :func:`multiprocessing.parent_process` is
    that process (also for workers the forkserver forks); its sentinel turns
    ready when it ends.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="wildzarr-watch-parent", daemon=True).start()


def _das_shard(
    archive: Archive, plan: DasPlan, rows: pd.DataFrame, ann: pd.DataFrame, temp: Path, final: Path
) -> None:
    """Write one shard's ``x.npy`` and ``y.npy`` into ``temp``, fsync, rename to ``final``."""
    temp.mkdir()
    length = int((rows["stop"] - rows["start"]).sum())
    arrays = {
        "x": np.lib.format.open_memmap(
            temp / "x.npy", mode="w+", dtype=plan.x_dtype, shape=(length, plan.channels)
        ),
        "y": np.lib.format.open_memmap(
            temp / "y.npy", mode="w+", dtype=np.float32, shape=(length, 1 + len(plan.classes))
        ),
    }
    at = 0
    for x, y in read_blocks(archive, plan, rows, ann):
        arrays["x"][at : at + len(x)] = x
        arrays["y"][at : at + len(x)] = y
        at += len(x)
    for array in arrays.values():
        array.flush()
    arrays.clear()
    fsync_tree(temp)
    publish(temp, final)


def _audio_shard(
    archive: Archive, files: Sequence[tuple[int, int, int, int, str]], format: str, temp: Path, final: Path
) -> None:
    """Write one file per row into ``temp`` (:func:`wildzarr.export.export_recording`), fsync, rename it."""
    temp.mkdir()
    for row, rid, start, stop, name in files:
        try:
            export_recording(archive[int(rid)], temp / name, start=int(start), stop=int(stop), format=format)
        except (ArgumentError, RangeError) as exc:
            raise ArgumentError(f"row {row}, recording {rid}: {exc}") from None
    fsync_tree(temp)
    publish(temp, final)


def _join_das(
    target: Path,
    layout: str,
    plan: DasPlan,
    shards: list[_Shard],
    done: Path,
    work: Path,
    marker: str,
) -> None:
    """Concatenate the shards of each split, in order, into the DAS store at ``target``."""
    writer = DasWriter(target, layout, plan, temp=work / ("final" + target.suffix))
    try:
        for split in plan.splits:
            writer.write_split(split, _shard_blocks([s for s in shards if s.split == split], done))
        (writer.temp / MARKER).write_text(marker)
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def _shard_blocks(shards: list[_Shard], done: Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The shards' ``x`` and ``y`` in blocks of :data:`JOIN_ROWS` rows (memory-mapped: bounded memory)."""
    for shard in shards:
        x = np.load(done / shard.name / "x.npy", mmap_mode="r")
        y = np.load(done / shard.name / "y.npy", mmap_mode="r")
        for at in range(0, len(x), JOIN_ROWS):
            yield np.asarray(x[at : at + JOIN_ROWS]), np.asarray(y[at : at + JOIN_ROWS])
