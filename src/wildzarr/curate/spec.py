"""Reading a curation spec (CSV, Parquet or a DataFrame) and checking every row against the archive.

:func:`load_spec` reads the table, :func:`check_spec` checks and converts it
into the rows of :attr:`Curation.df <wildzarr.curate.Curation>`: recordings by
id or source file name, ranges in samples (seconds and times by the rule of
:mod:`wildzarr.timebase`). The columns are those of :mod:`wildzarr.curate`.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from wildzarr import timebase
from wildzarr.errors import ArgumentError, MissingDependencyError, StorageError

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["RESERVED", "SHOWN_PROBLEMS", "TIME_FORMS", "check_spec", "load_spec"]

#: The three ways to give a range, each a pair of columns.
TIME_FORMS = (("start", "stop"), ("start_s", "stop_s"), ("start_time", "stop_time"))
#: At most this many row problems are listed in one error.
SHOWN_PROBLEMS = 10
#: Columns the manifest adds, so a spec must not have them.
RESERVED = ("row", "path")

_KNOWN = {"recording", "file", "label", "split"}.union(*TIME_FORMS)


def load_spec(spec: str | os.PathLike[str] | pd.DataFrame) -> tuple[pd.DataFrame, str, int | None]:
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


def check_spec(table: pd.DataFrame, archive: Archive, source: str, first_line: int | None) -> pd.DataFrame:
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
