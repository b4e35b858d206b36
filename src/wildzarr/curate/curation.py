"""The :class:`Curation`: a checked curation spec, used as a clip table or written out."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from wildzarr.curate.materialise import materialise_curation
from wildzarr.curate.spec import check_spec, load_spec
from wildzarr.das import NOISE

if TYPE_CHECKING:
    from wildzarr.archive import Archive
    from wildzarr.clips import Clips

__all__ = ["Curation"]


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
        table, source, first_line = load_spec(spec)
        return cls(archive, check_spec(table, archive, source, first_line), source)

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
        return materialise_curation(
            self, out, format=format, workers=workers, shard_size=shard_size, resume=resume, dtype=dtype
        )

    @functools.cached_property
    def _sources(self) -> dict[int, str]:
        """Recording id -> source file name, for every recording of the rows (catalog; cached)."""
        names = self.archive.catalog()["source.name"]
        return {int(rid): str(names[rid]) for rid in self.df["recording"].unique()}
