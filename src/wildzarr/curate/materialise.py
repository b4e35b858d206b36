""":meth:`Curation.materialise <wildzarr.curate.Curation>`: the rows cut into shards, written, joined.

The run: the options checked, the rows cut into shards (:mod:`~wildzarr.curate.shards`),
the work folder held (:mod:`~wildzarr.curate.resume`), the shards not done yet
written in worker processes (:mod:`~wildzarr.curate.workers`), then joined
into the output (:mod:`~wildzarr.curate.join`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from wildzarr.curate.join import join_audio, join_das
from wildzarr.curate.resume import fingerprint_of, marker_text, read_marker, work_folder
from wildzarr.curate.shards import plan_shards
from wildzarr.curate.workers import write_shards
from wildzarr.das import LAYOUTS, DasPlan, plan_das
from wildzarr.das.files import clear
from wildzarr.errors import ArgumentError
from wildzarr.export import FORMATS as EXPORT_FORMATS

if TYPE_CHECKING:
    from wildzarr.curate.curation import Curation

__all__ = ["AUDIO_FORMATS", "FORMATS", "materialise_curation"]

#: Audio file formats of :meth:`Curation.materialise` (one file per row): those of :mod:`wildzarr.export`.
AUDIO_FORMATS = tuple(EXPORT_FORMATS)
#: Every format of :meth:`Curation.materialise`.
FORMATS = (*AUDIO_FORMATS, "das")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def materialise_curation(
    curation: Curation,
    out: str | os.PathLike[str],
    *,
    format: str,
    workers: int | None,
    shard_size: int,
    resume: bool,
    dtype: str,
) -> Path:
    """:meth:`Curation.materialise` of ``curation``: parameters, result and errors are documented there."""
    target = Path(out)
    if format not in FORMATS:
        raise ArgumentError(f"format must be one of {', '.join(map(repr, FORMATS))}, not {format!r}")
    count = _positive(workers if workers is not None else len(os.sched_getaffinity(0)), "workers")
    size = _positive(shard_size, "shard_size")
    layout = _das_layout(target) if format == "das" else None
    plan = _das_plan(curation, dtype) if format == "das" else None
    shards = plan_shards(curation.df, plan, size)
    fingerprint = fingerprint_of(
        curation.archive, curation.df, shards, format=format, layout=layout, dtype=dtype
    )
    work = target.with_name(target.name + ".partial")
    if target.exists() or target.is_symlink():
        if resume and read_marker(target) == fingerprint:
            clear(work)
            return target
        raise ArgumentError(f"{target}: exists already (and is not this curation's finished output)")
    with work_folder(work, fingerprint, resume):
        done = work / "shards"
        pending = [s for s in shards if not (done / s.name).is_dir()]
        names = _file_names(curation.df, curation._sources, format) if plan is None else []
        if pending:
            write_shards(curation, pending, work, format, plan, names, count)
        marker = marker_text(fingerprint, len(curation.df))
        if plan is not None and layout is not None:
            join_das(target, layout, plan, shards, done, work, marker)
        else:
            join_audio(curation.df, target, shards, done, work, names, curation._sources, marker)
        clear(work)
    return target


def _das_plan(curation: Curation, dtype: str) -> DasPlan:
    classes = curation.classes
    return plan_das(
        curation.archive,
        curation.df,
        classes,
        dict.fromkeys(classes, "segment"),
        dtype=dtype,
        extra={"curation": curation.source},
    )


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


def _file_names(df: pd.DataFrame, sources: dict[int, str], format: str) -> list[str]:
    """The file name of each row: row number, source name, range (see ``Curation.materialise``); unique."""
    return [
        f"{int(row):06d}_{_safe_stem(sources[int(rid)])}_{int(a)}-{int(b)}{EXPORT_FORMATS[format].suffix}"
        for row, rid, a, b in zip(df["row"], df["recording"], df["start"], df["stop"], strict=True)
    ]


def _safe_stem(name: str) -> str:
    """A source file name as part of a file name: no ending, only letters, digits, ``.``, ``_``, ``-``."""
    stem = _UNSAFE.sub("_", Path(name).stem).strip("._") or "recording"
    return stem[:80]
