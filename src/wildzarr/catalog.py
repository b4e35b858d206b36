"""The catalog: one row per recording, as a pandas DataFrame, served from a snapshot that is never stale.

The recording documents stay the truth; the catalog is derived from them
(docs/format.md, "Catalog"):

- ``P/_wildzarr/catalog/snapshot`` holds the rows of every recording at some
  moment, columnar, as zstd-compressed JSON behind a sha256 (a damaged
  snapshot is ignored and rebuilt, never trusted);
- every writer that changes what a row would show (an import, a removal, a
  metadata or start-time update) first takes a **change note**
  ``P/_wildzarr/catalog/notes/<id>.<token>``, a lease held while it writes
  (:meth:`wildzarr.storage.Backend.claim`), and releases it when done; the
  note stays;
- a reader takes the snapshot, lists the notes, and re-reads the document of
  every recording a note names (and, on local folders and other stores that
  are not latency-bound, of every listed recording the snapshot lacks, and
  drops the ones no longer listed): the result equals a catalog built from
  every document, whoever wrote what;
- a reader of a writable archive whose snapshot missed more than
  :data:`COMPACT_AFTER` rows writes a new snapshot (compare-and-swap) and
  deletes the notes it consumed whose lease is no longer held.

A note left by a writer that crashed stays until a compaction; it only costs
its document being re-read. Writers of wildzarr versions without the catalog
write no notes: their imports and removals are still seen on local folders
(the listing is checked there), their metadata updates only after
``catalog(refresh=True)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numcodecs  # type: ignore[import-untyped]
import numpy as np
import pandas as pd

from wildzarr.errors import (
    ArgumentError,
    DamagedRecordingError,
    DamagedRecordingWarning,
    MissingDependencyError,
    RecordingNotFoundError,
    StorageError,
)
from wildzarr.layout import LEDGER, RecordingAttrs, is_recording_name
from wildzarr.ledger import new_token
from wildzarr.storage import join

if TYPE_CHECKING:
    from wildzarr.location import Location

__all__ = [
    "COMPACT_AFTER",
    "FILE_META_PREFIXES",
    "SNAPSHOT",
    "TECHNICAL_COLUMNS",
    "catalog_row",
    "change_note",
    "load_catalog",
    "load_rows",
    "query_ids",
    "snapshot_key",
    "sql",
]

#: A reader rewrites the snapshot when it had to read more than this many documents beside it.
COMPACT_AFTER = 256

#: Sections of ``file_meta`` that become columns, each key prefixed ``<section>.``.
FILE_META_PREFIXES = ("guano", "info", "bext", "tags")

#: Columns derived from the technical metadata and the start time, in order.
TECHNICAL_COLUMNS = (
    "samplerate",
    "channels",
    "samples",
    "duration",
    "bits_per_sample",
    "dtype",
    "codec",
    "codec_choice",
    "lossy",
    "stored_bytes",
    "imported_at",
    "source.name",
    "source.path",
    "source.size",
    "source.sha256",
    "source.container",
    "source.codec",
    "start_time",
    "stop_time",
    "time_source",
    "time_zone",
    "time_zone_assumed",
    "time_expansion",
    "latitude",
    "longitude",
)

_TIME_COLUMNS = ("imported_at", "start_time", "stop_time")

#: GUANO v1.0 fields whose values are numbers (GUANO specification, "Well-known fields").
_GUANO_NUMBERS = frozenset(
    {
        "Filter HP",
        "Filter LP",
        "Humidity",
        "Length",
        "Loc Accuracy",
        "Loc Elevation",
        "Samplerate",
        "TE",
        "Temperature Ext",
        "Temperature Int",
    }
)

_CATALOG = "catalog"
_NOTES = "notes"
#: The snapshot's key, relative to the archive group.
SNAPSHOT = join(LEDGER, _CATALOG, "snapshot")
_MAGIC = b"wildzarr-catalog 1\n"
_SNAPSHOT_FORMAT = 1
_zstd = numcodecs.Zstd(level=3)


# -- rows ----------------------------------------------------------------------------------


def catalog_row(attrs: RecordingAttrs) -> dict[str, Any]:
    """The catalog row of a recording document: JSON values keyed by column name.

    Technical columns (:data:`TECHNICAL_COLUMNS`), then ``user_meta`` keys as
    they are (nested dicts joined with ``.``; a key equal to a technical
    column or starting with a file-metadata prefix gets ``user.`` in front),
    then ``guano.<field>``, ``info.<field>``, ``bext.<field>``,
    ``tags.<field>``. GUANO number fields become numbers; ``Loc Position``
    (``"lat lon"``, decimal degrees, GUANO v1.0) gives ``latitude`` and
    ``longitude``.
    """
    from wildzarr.recording import stored_time

    info = attrs.info
    assert info is not None
    time = stored_time(attrs)
    rate = info.samplerate * time.time_expansion
    start = pd.Timestamp(time.start) if time.start is not None else None
    row: dict[str, Any] = {
        "samplerate": info.samplerate,
        "channels": info.channels,
        "samples": info.samples,
        "duration": info.duration,
        "bits_per_sample": info.bits_per_sample,
        "dtype": info.stored_format().dtype,
        "codec": info.codec.get("id"),
        "codec_choice": info.codec_choice,
        "lossy": info.lossy,
        "stored_bytes": info.stored_bytes,
        "imported_at": info.imported_at.isoformat(),
        "source.name": info.source.name,
        "source.path": info.source.path,
        "source.size": info.source.size,
        "source.sha256": info.source.sha256,
        "source.container": info.source.container,
        "source.codec": info.source.codec,
        "start_time": start.isoformat() if start is not None else None,
        "stop_time": (start + pd.Timedelta(seconds=info.samples / rate)).isoformat() if start else None,
        "time_source": time.source,
        "time_zone": time.time_zone,
        "time_zone_assumed": time.time_zone_assumed,
        "time_expansion": time.time_expansion,
        "latitude": None,
        "longitude": None,
    }
    for key, value in _flatten(attrs.user_meta, ""):
        reserved = key in row or key.split(".", 1)[0] in (*FILE_META_PREFIXES, "user")
        row[f"user.{key}" if reserved else key] = value
    guano = attrs.file_meta.get("guano")
    if isinstance(guano, dict):
        row["latitude"], row["longitude"] = _position(guano.get("Loc Position"))
    for section in FILE_META_PREFIXES:
        fields = attrs.file_meta.get(section)
        if not isinstance(fields, dict):
            continue
        for key, value in fields.items():
            if section == "guano" and key in _GUANO_NUMBERS:
                value = _number(value)
            row[f"{section}.{key}"] = value if isinstance(value, (str, int, float, bool)) else _text(value)
    return row


def _flatten(value: dict[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            yield from _flatten(item, f"{name}.")
        else:
            yield name, item


def _number(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _position(value: object) -> tuple[float | None, float | None]:
    """Latitude and longitude from a GUANO ``Loc Position`` ("lat lon"; commas tolerated), or Nones."""
    if not isinstance(value, str):
        return None, None
    parts = [p for p in re.split(r"[\s,;]+", value.strip()) if p]
    if len(parts) != 2:
        return None, None
    lat, lon = _number(parts[0]), _number(parts[1])
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lat, lon


def _text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# -- change notes ----------------------------------------------------------------------------


def _notes_prefix(location: Location) -> str:
    return join(location.prefix, LEDGER, _CATALOG, _NOTES)


@contextlib.contextmanager
def change_note(location: Location, rid: int) -> Iterator[None]:
    """Hold a change note for recording ``rid`` while the body writes its document, commit marker or removal.

    The note is a lease (:meth:`Backend.claim`): readers re-read ``rid``'s
    document while any note names it; a compaction deletes it once its lease
    is no longer held. It stays if the writer crashes.
    """
    key = join(_notes_prefix(location), f"{rid}.{new_token()}")
    try:
        lease = location.backend.claim(key, json.dumps({"id": rid}).encode())
    except StorageError as exc:  # say which recording's change could not start (nothing was changed)
        error = type(exc)(f"recording {rid}: cannot change it: {exc}", exc.path)
        error.errno = exc.errno
        raise error from exc
    try:
        yield
    finally:
        if lease is not None:
            lease.release()


def _list_notes(location: Location) -> dict[str, int]:
    """Note name -> recording id, for every note present."""
    notes: dict[str, int] = {}
    for name in location.backend.list_dir(_notes_prefix(location)):
        rid, _, _ = name.partition(".")
        if is_recording_name(rid):
            notes[name] = int(rid)
    return notes


# -- snapshot ----------------------------------------------------------------------------------


def snapshot_key(location: Location) -> str:
    """The key of the catalog snapshot of the archive at ``location``."""
    return join(location.prefix, SNAPSHOT)


class Table:
    """Catalog rows, columnar: ``ids`` ascending, and per column one JSON value per id (None: absent).

    The form of a snapshot's body, kept as it is so that 100,000 rows become
    a DataFrame without a detour through one dict per row; changes are
    applied in place (:meth:`update`).
    """

    def __init__(self, ids: list[int], columns: dict[str, list[Any]]) -> None:
        self.ids = ids
        self.columns = columns

    @classmethod
    def from_rows(cls, rows: dict[int, dict[str, Any]]) -> Table:
        """The table of ``rows`` (id -> row)."""
        table = cls([], {})
        table.update(dict(rows))
        return table

    def rows(self) -> dict[int, dict[str, Any]]:
        """Id -> row, without absent (None) values."""
        rows: dict[int, dict[str, Any]] = {rid: {} for rid in self.ids}
        for key, values in self.columns.items():
            for rid, value in zip(self.ids, values, strict=True):
                if value is not None:
                    rows[rid][key] = value
        return rows

    def update(self, changes: dict[int, dict[str, Any] | None]) -> None:
        """Replace or add the rows of ``changes``; remove ids whose change is None. Ids stay ascending."""
        if not changes:
            return
        position = {rid: i for i, rid in enumerate(self.ids)}
        gone = {rid for rid, row in changes.items() if row is None and rid in position}
        if gone:
            keep = [i for i, rid in enumerate(self.ids) if rid not in gone]
            self.ids = [self.ids[i] for i in keep]
            self.columns = {key: [values[i] for i in keep] for key, values in self.columns.items()}
            position = {rid: i for i, rid in enumerate(self.ids)}
        for rid in sorted(changes):
            row = changes[rid]
            if row is None:
                continue
            i = position.get(rid)
            if i is None:
                i = position[rid] = len(self.ids)
                self.ids.append(rid)
                for values in self.columns.values():
                    values.append(None)
            else:
                for values in self.columns.values():
                    values[i] = None
            for key, value in row.items():
                column = self.columns.get(key)
                if column is None:
                    column = self.columns[key] = [None] * len(self.ids)
                column[i] = value
        if any(a > b for a, b in itertools.pairwise(self.ids)):
            order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
            self.ids = [self.ids[i] for i in order]
            self.columns = {key: [values[i] for i in order] for key, values in self.columns.items()}

    def frame(self) -> pd.DataFrame:
        """The catalog DataFrame: index ``id``, technical columns first, times as UTC datetimes."""
        empty = [None] * len(self.ids)
        columns = {key: self.columns.get(key, empty) for key in TECHNICAL_COLUMNS}
        columns.update((key, values) for key, values in self.columns.items() if key not in columns)
        frame = pd.DataFrame(columns, index=pd.Index(np.array(self.ids, dtype=np.int64), name="id"))
        for key in _TIME_COLUMNS:
            frame[key] = pd.to_datetime(frame[key], utc=True, format="ISO8601")
        for key in ("latitude", "longitude", "time_expansion", "duration"):
            frame[key] = frame[key].astype("float64")
        return frame

    def encode(self) -> bytes:
        """The bytes of a snapshot of this table (docs/format.md, "Catalog")."""
        body = json.dumps(
            {"format": _SNAPSHOT_FORMAT, "ids": self.ids, "columns": self.columns},
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        ).encode()
        return _MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + bytes(_zstd.encode(body))

    @classmethod
    def decode(cls, data: bytes) -> Table | None:
        """The table of a snapshot, or None if it is damaged or of an unknown format (then it is rebuilt)."""
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 65:
            return None
        digest = data[len(_MAGIC) : len(_MAGIC) + 64].decode("ascii", "replace")
        try:
            body = bytes(_zstd.decode(data[len(_MAGIC) + 65 :]))
        except Exception:  # numcodecs raises RuntimeError or ValueError for damaged frames
            return None
        if hashlib.sha256(body).hexdigest() != digest:
            return None
        try:
            doc = json.loads(body)
            ids = [int(i) for i in doc["ids"]]
            columns = doc["columns"]
            if doc.get("format") != _SNAPSHOT_FORMAT or not isinstance(columns, dict):
                return None
            if any(not isinstance(v, list) or len(v) != len(ids) for v in columns.values()):
                return None
        except (ValueError, KeyError, TypeError):
            return None
        if any(a >= b for a, b in itertools.pairwise(ids)):
            return None
        return cls(ids, columns)


# -- loading -------------------------------------------------------------------------------------


def _read_row(location: Location, rid: int, skipped: list[str]) -> dict[str, Any] | None:
    from wildzarr.recording import read_attrs

    try:
        return catalog_row(read_attrs(location, rid))
    except RecordingNotFoundError:
        return None
    except DamagedRecordingError as exc:
        skipped.append(str(exc))
        return None


def load_table(location: Location, *, refresh: bool = False, write: bool = True) -> Table:
    """The rows of every complete recording (see the module docstring for how they are found).

    ``refresh``: read every document, ignoring the snapshot. ``write=False``:
    never write a snapshot or delete a note (``wildzarr verify``).
    """
    backend = location.backend
    skipped: list[str] = []
    if location.format < 2:
        from wildzarr.upgrade import legacy_ids

        found = {rid: _read_row(location, rid, skipped) for rid in legacy_ids(backend, location.prefix)}
        _warn(skipped)
        return Table.from_rows({rid: row for rid, row in found.items() if row is not None})
    snapshot_data = None if refresh else backend.get_versioned(snapshot_key(location))
    snapshot = Table.decode(snapshot_data.data) if snapshot_data is not None else None
    table = snapshot or Table([], {})
    notes = _list_notes(location)
    noted = set(notes.values())
    changes: dict[int, dict[str, Any] | None] = {}
    if snapshot is None or not backend.latency_bound:
        listed = set(location.ledger.complete_ids())
        stale = (listed - set(table.ids)) | (noted & listed)
        changes.update((rid, None) for rid in set(table.ids) - listed)
    else:
        stale = {rid for rid in noted if location.ledger.is_complete(rid)}
        changes.update((rid, None) for rid in noted - stale)
    compact = (
        write
        and location.writable
        and (snapshot is None or len(stale) > COMPACT_AFTER or len(notes) > COMPACT_AFTER)
    )
    # A note whose lease is no longer held was written by a writer that finished (or died): the document
    # read after this check is final for it, so the note may go once the snapshot holds that document.
    done = {n for n in notes if not backend.is_alive(join(_notes_prefix(location), n))} if compact else set()
    for rid in sorted(stale):
        changes[rid] = _read_row(location, rid, skipped)
    _warn(skipped)
    table.update(changes)
    if compact:
        _compact(location, table, snapshot_data.version if snapshot_data else None, done)
    return table


def load_rows(location: Location, *, refresh: bool = False, write: bool = True) -> dict[int, dict[str, Any]]:
    """:func:`load_table` as id -> row (absent values left out)."""
    return load_table(location, refresh=refresh, write=write).rows()


def _compact(location: Location, table: Table, version: str | None, done: set[str]) -> None:
    """Write the snapshot (compare-and-swap; a lost race is fine) and delete the notes it consumed."""
    backend = location.backend
    data = table.encode()
    key = snapshot_key(location)
    written = backend.create(key, data) if version is None else backend.replace(key, data, version)
    if not written:
        return
    for name in done:
        backend.delete(join(_notes_prefix(location), name))


def _warn(skipped: list[str]) -> None:
    for message in skipped:
        warnings.warn(message, DamagedRecordingWarning, stacklevel=4)


def load_catalog(location: Location, *, refresh: bool = False) -> pd.DataFrame:
    """The catalog DataFrame of the archive at ``location`` (:meth:`wildzarr.Archive.catalog`)."""
    return load_table(location, refresh=refresh).frame()


def query_ids(frame: pd.DataFrame, expr: str) -> list[int]:
    """Ids of the rows of ``frame`` where pandas ``DataFrame.query(expr)`` holds, ascending.

    Raises ArgumentError naming the expression and pandas' reason when it does not evaluate.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise ArgumentError(f"a query must be a non-empty str, not {expr!r}")
    try:
        selected = frame.query(expr, engine="python")
    except Exception as exc:  # pandas raises many types (SyntaxError, UndefinedVariableError, TypeError...)
        raise ArgumentError(
            f"query {expr!r} does not evaluate on the catalog: {type(exc).__name__}: {exc}"
        ) from None
    return [int(i) for i in selected.index]


def sql(frame: pd.DataFrame, query: str) -> pd.DataFrame:
    """Run a duckdb SQL ``query`` over the catalog, visible as table ``catalog`` (``wildzarr[sql]`` extra).

    The index ``id`` is a column of the table. Raises MissingDependencyError
    without duckdb, ArgumentError when duckdb rejects the query.
    """
    try:
        import duckdb
    except ImportError:
        raise MissingDependencyError('SQL on the catalog needs duckdb: pip install "wildzarr[sql]"') from None
    connection = duckdb.connect()
    try:
        connection.register("catalog", frame.reset_index())
        try:
            return connection.execute(query).df()
        except duckdb.Error as exc:
            raise ArgumentError(f"SQL {query!r} failed: {exc}") from None
    finally:
        connection.close()
