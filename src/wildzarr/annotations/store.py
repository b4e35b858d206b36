"""Annotation sets in the store: layout, reading a consistent state, and changes by compare-and-swap.

Layout (relative to the archive group ``P``; ``docs/annotations.md``)::

    P/_annotations/zarr.json              group; attributes["wildzarr"] = {"kind": "annotation_sets", ...}
    P/_annotations/<name>/zarr.json       group; attributes["wildzarr"]: the set document
    P/_annotations/<name>/v-<token>/...   the table version it names (wildzarr.annotations.zarrtable)

The set document ``{"kind": "annotations", "format": 1, "name", "version":
"v-<token>", "rows", "classes": {label: "segment" | "event"}}`` (checksummed,
:mod:`wildzarr.documents`) is the one thing a change rewrites in place, and
only by compare-and-swap (``Backend.replace``; ``Backend.create`` for a new
set). A change:

1. reads the document and the version it names (a consistent state);
2. computes the new state from it (the caller's change, which may refuse);
3. when the table or the reviewed extents change, writes a complete new
   version group ``v-<new token>`` (claiming ``v-<token>/writing`` with a
   lease first, so that clean-ups leave it alone while it is written), and
   makes it durable;
4. swaps the document to name it. If another writer swapped first, it
   deletes its version and starts again from 1 with the new state: no change
   is ever lost, and readers never see half a table;
5. drops its lease and deletes the superseded version.

A reader that finds the version it was reading deleted (a change superseded
it meanwhile) reads the document again. A writer killed between 3 and 5
leaves a version no document names: :func:`find_leftovers_at` lists such
versions and :func:`remove_leftovers_at` deletes them (never one being written
or named by a document).
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from wildzarr.annotations.errors import DamagedAnnotationsError
from wildzarr.annotations.table import KINDS, empty_reviewed, empty_table
from wildzarr.annotations.zarrtable import decode_version, encode_version
from wildzarr.documents import DocumentError, dumps_record, encode_group, parse_group
from wildzarr.errors import ArgumentError, StorageError, UnsafeNodeError
from wildzarr.layout import ZARR_JSON
from wildzarr.storage import Backend, Lease, Versioned, join

if TYPE_CHECKING:
    from wildzarr.location import Location

__all__ = [
    "ROOT",
    "Leftover",
    "SetStore",
    "State",
    "check_set_name",
    "delete_set_at",
    "find_leftovers_at",
    "list_sets_at",
    "remove_leftovers_at",
]

#: The group of all annotation sets, below the archive group (not a recording name: ids are numbers).
ROOT = "_annotations"
#: Format of the set documents.
SET_FORMAT = 1
#: The lease a writer holds on a version while it writes it (a key below the version group).
WRITING = "writing"
#: Compare-and-swap attempts of one change (each loses only to another writer's change).
_ATTEMPTS = 1000
_NAME = re.compile(r"[A-Za-z0-9-][A-Za-z0-9._-]{0,199}")
_VERSION = re.compile(r"v-[0-9a-f]{32}")


def _is_set_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None and name != ZARR_JSON


def check_set_name(name: object) -> str:
    """``name`` if it is a valid set name, else ArgumentError.

    Valid: 1 to 200 letters, digits, ``-``, ``_`` and ``.``, not starting with
    ``_`` or ``.`` (those are wildzarr's, and hidden files), and not ``zarr.json``.
    """
    if not isinstance(name, str) or not _is_set_name(name):
        raise ArgumentError(
            f"annotation set name {name!r}: use 1 to 200 letters, digits, '-', '_' and '.', "
            "not starting with '_' or '.', other than 'zarr.json'"
        )
    return name


@dataclass(frozen=True)
class State:
    """One consistent state of a set: its document's version and classes, the table and reviewed extents.

    ``version`` is None for a set that does not exist yet (empty).
    """

    version: str | None = None
    table: pd.DataFrame = field(default_factory=empty_table)
    reviewed: pd.DataFrame = field(default_factory=empty_reviewed)
    classes: dict[str, str] = field(default_factory=dict)

    def with_(self, **changes: Any) -> State:
        """A copy with ``changes`` (table, reviewed, classes)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Leftover:
    """A version group no set document names and no writer is writing: what a killed change left."""

    set_name: str
    node: str
    files: int
    bytes: int


def _root_document() -> bytes:
    return encode_group({"kind": "annotation_sets", "format": SET_FORMAT})


class SetStore:
    """Reads and changes one annotation set of the archive at ``location``."""

    def __init__(self, location: Location, name: str) -> None:
        self.location = location
        self.name = name
        self.key = join(location.prefix, ROOT, name)
        self.doc_key = join(self.key, ZARR_JSON)
        self._cache: tuple[str, pd.DataFrame, pd.DataFrame] | None = None  # the last version read

    @property
    def backend(self) -> Backend:
        return self.location.backend

    def _damaged(self, reason: str) -> DamagedAnnotationsError:
        return DamagedAnnotationsError(self.name, reason)

    def _parse(self, data: bytes) -> tuple[str, int, dict[str, str]]:
        """The version, rows and classes of a set document."""
        try:
            fields, _ = parse_group(data, require_checksum=True)
        except DocumentError as exc:
            raise self._damaged(f"zarr.json: {exc}") from None
        if fields is None or fields.get("kind") != "annotations":
            raise self._damaged("zarr.json holds no annotation set document")
        if not isinstance(fields.get("format"), int) or fields["format"] > SET_FORMAT:
            raise self._damaged(
                f"set format {fields.get('format')!r} is not one this wildzarr reads ({SET_FORMAT})"
            )
        version, rows, classes = fields.get("version"), fields.get("rows"), fields.get("classes")
        if not isinstance(version, str) or not _VERSION.fullmatch(version):
            raise self._damaged(f"the document names no valid table version ({version!r})")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise self._damaged(f"the document's row count {rows!r} is invalid")
        if not isinstance(classes, dict) or not all(
            isinstance(k, str) and v in KINDS for k, v in classes.items()
        ):
            raise self._damaged("the document's classes are not a dict of label -> 'segment' | 'event'")
        return version, rows, classes

    def _read_version(self, version: str, rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The table and reviewed extents of ``version``.

        Raises DocumentError when a key is missing or vanishes while it is read
        (a change superseded and deleted the version, or damage: the caller tells).
        """
        if self._cache is not None and self._cache[0] == version:
            return self._cache[1], self._cache[2]
        prefix = join(self.key, version)
        nodes = {}
        for key, _ in self.backend.list_keys(prefix):
            data = self.backend.get(key)
            if data is None:
                raise DocumentError(f"{key} vanished while it was read")
            nodes[key[len(prefix) + 1 :]] = data
        table, reviewed = decode_version(nodes)
        if len(table) != rows:
            raise self._damaged(f"the document counts {rows} rows, table {version} holds {len(table)}")
        self._cache = (version, table, reviewed)
        return table, reviewed

    def read(self) -> tuple[Versioned | None, State]:
        """The set's document (with its version token, None if the set does not exist) and its state.

        Raises
        ------
        DamagedAnnotationsError
            If the document or the table it names is unreadable or inconsistent.
        """
        for _ in range(_ATTEMPTS):
            current = self.backend.get_versioned(self.doc_key)
            if current is None:
                return None, State()
            version, rows, classes = self._parse(current.data)
            try:
                table, reviewed = self._read_version(version, rows)
            except DocumentError as exc:
                again = self.backend.get_versioned(self.doc_key)
                if again is not None and again.data == current.data:  # still named: the version is damaged
                    raise self._damaged(f"table {version}: {exc}") from None
                continue  # superseded while it was read: read the new state
            return current, State(version, table, reviewed, dict(classes))
        raise StorageError(
            f"annotation set {self.name!r}: the set kept changing under {_ATTEMPTS} reads",
            self.backend.describe(self.doc_key),
        )

    def update(self, change: Callable[[State], State | None], action: str) -> State:
        """Apply ``change`` to the set's current state, atomically; return the new state.

        ``change`` gets the current state and returns the new one (or None for
        no change); it is called again on the newer state when another writer
        changed the set first, and may raise (ArgumentError) to leave the set
        as it was. A new table version is written only when the new state's
        table or reviewed extents are other objects than the current ones.

        Raises
        ------
        ReadOnlyError
            If the archive is read-only (``action`` names the change).
        DamagedAnnotationsError
            If the set's stored state is damaged (delete the set to start again).
        """
        self.location.check_writable(f"{action} of annotation set {self.name!r}")
        for _ in range(_ATTEMPTS):
            current, state = self.read()
            new = change(state)
            if new is None:
                return state
            same = new.table is state.table and new.reviewed is state.reviewed and state.version is not None
            writer = None if same else _VersionWriter(self.backend, self.key)
            version = writer.version if writer is not None else state.version
            assert version is not None
            document = self._document(version, len(new.table), new.classes)
            if writer is not None:
                writer.write(new.table, new.reviewed)
            try:
                swapped = self._swap(current, document)
            except BaseException:
                if (
                    writer is not None
                ):  # published or not, the version stays: a leftover if no document names it
                    writer.release()
                raise
            if not swapped:
                if writer is not None:
                    writer.abandon()
                continue
            if writer is not None:
                writer.release()
                self._cache = (version, new.table, new.reviewed)
            if state.version is not None and state.version != version:
                self.backend.delete_prefix(join(self.key, state.version))
            return new.with_(version=version)
        raise StorageError(
            f"annotation set {self.name!r}: the set kept changing under {_ATTEMPTS} attempts to {action}",
            self.backend.describe(self.doc_key),
        )

    def _document(self, version: str, rows: int, classes: Mapping[str, str]) -> bytes:
        fields = {
            "kind": "annotations",
            "format": SET_FORMAT,
            "name": self.name,
            "version": version,
            "rows": rows,
            "classes": dict(sorted(classes.items())),
        }
        try:
            return encode_group(fields)
        except DocumentError as exc:
            raise ArgumentError(f"annotation set {self.name!r}: too many classes ({exc})") from None

    def _swap(self, current: Versioned | None, document: bytes) -> bool:
        """Replace the document read as ``current`` (create it when None); False if it changed meanwhile."""
        if current is not None:
            return self.backend.replace(self.doc_key, document, current.version)
        root = join(self.location.prefix, ROOT, ZARR_JSON)
        if not self.backend.exists(root):
            self.backend.create(root, _root_document())  # False: another writer made it first, as good
        return self.backend.create(self.doc_key, document)


class _VersionWriter:
    """Writes one new version group under a lease; then releases it, or abandons (deletes) it."""

    def __init__(self, backend: Backend, set_key: str) -> None:
        self.backend = backend
        self.version = f"v-{uuid.uuid4().hex}"
        self.key = join(set_key, self.version)
        self.lease: Lease | None = None

    def write(self, table: pd.DataFrame, reviewed: pd.DataFrame) -> None:
        """Claim the lease, write every key of the version and make them durable; abandon it on any error."""
        record = dumps_record({"host": socket.gethostname(), "pid": os.getpid()})
        self.lease = self.backend.claim(join(self.key, WRITING), record)
        if self.lease is None:  # a random 128-bit name cannot be taken, unless the store lies
            where = self.backend.describe(self.key)
            raise StorageError(f"{where} exists already", where)
        try:
            for key, data in encode_version(table, reviewed).items():
                self.backend.put(join(self.key, key), data)
            self.backend.sync()
        except BaseException:
            self.abandon()
            raise

    def release(self) -> None:
        """Drop the lease and its key; the version stays."""
        if self.lease is not None:
            self.lease.release()
            self.lease = None
            self.backend.delete(join(self.key, WRITING))

    def abandon(self) -> None:
        """The version was not published: delete it, then drop the lease."""
        if self.lease is not None:
            self.backend.delete_prefix(self.key)
            self.lease.release()
            self.lease = None


def list_sets_at(location: Location) -> list[str]:
    """Names of the sets that have a document, sorted (one listing and one existence check per set)."""
    backend = location.backend
    root = join(location.prefix, ROOT)
    return [
        name for name in backend.list_dir(root) if _is_set_name(name) and _has_document(backend, root, name)
    ]


def _has_document(backend: Backend, root: str, name: str) -> bool:
    try:
        return backend.exists(join(root, name, ZARR_JSON))
    except UnsafeNodeError:  # a file, symlink or device where a set's folder would be: not a set
        return False


class _Unreadable(Exception):
    """A set's document exists but cannot be read: nothing of the set is safe to delete."""


def _named_version(backend: Backend, set_key: str) -> str | None:
    """The version a set's document names; None when there is no document.

    Raises _Unreadable when the document exists but names no version.
    """
    data = backend.get(join(set_key, ZARR_JSON))
    if data is None:
        return None
    try:
        fields, _ = parse_group(data, require_checksum=False)
    except DocumentError:
        raise _Unreadable from None
    version = fields.get("version") if fields else None
    if not isinstance(version, str):
        raise _Unreadable
    return version


def _unreferenced(backend: Backend, set_key: str) -> list[str]:
    """Version groups of a set that no document names and no writer holds (checked in that order).

    Raises _Unreadable when the set's document cannot be read.
    """
    named = _named_version(backend, set_key)
    found = []
    for node in backend.list_dir(set_key):
        if not _VERSION.fullmatch(node) or node == named:
            continue
        if backend.is_alive(join(set_key, node, WRITING)):
            continue
        # A writer publishes before it drops its lease: if the document does not name the node now
        # that no lease holds it, no document ever will again.
        if _named_version(backend, set_key) == node:
            continue
        found.append(node)
    return found


def find_leftovers_at(location: Location) -> list[Leftover]:
    """Versions that no set document names and no writer is writing (what killed changes left)."""
    backend = location.backend
    root = join(location.prefix, ROOT)
    found = []
    for name in backend.list_dir(root):
        if not _is_set_name(name):
            continue
        set_key = join(root, name)
        try:
            nodes = _unreferenced(backend, set_key)
        except _Unreadable:
            continue  # a damaged document may still be repaired by hand: keep every version
        except UnsafeNodeError:
            continue  # a file, symlink or device where a set's folder would be: not a set
        for node in nodes:
            keys = backend.list_keys(join(set_key, node))
            found.append(Leftover(name, node, len(keys), sum(size for _, size in keys)))
    return found


def remove_leftovers_at(location: Location) -> list[Leftover]:
    """Delete what :func:`find_leftovers_at` finds; return what was deleted."""
    location.check_writable("remove leftovers of annotation sets")
    found = find_leftovers_at(location)
    for item in found:
        location.backend.delete_prefix(join(location.prefix, ROOT, item.set_name, item.node))
    return found


def delete_set_at(location: Location, name: str) -> bool:
    """Delete a set (also a damaged one); False if it did not exist.

    The document goes first, by compare-and-delete, so the set vanishes at
    once for every reader; then the versions no writer is writing. A change
    running concurrently either lands before the deletion (and is deleted) or
    creates the set anew.
    """
    location.check_writable(f"delete annotation set {name!r}")
    backend = location.backend
    set_key = join(location.prefix, ROOT, name)
    doc_key = join(set_key, ZARR_JSON)
    for _ in range(_ATTEMPTS):
        current = backend.get_versioned(doc_key)
        if current is None:
            return False
        if backend.delete_if(doc_key, current.version):
            break
    else:
        raise StorageError(
            f"annotation set {name!r}: the set kept changing under {_ATTEMPTS} attempts to delete it",
            backend.describe(doc_key),
        )
    try:
        nodes = _unreferenced(backend, set_key)
    except _Unreadable:  # another writer created the set anew meanwhile, and it is damaged already
        return True
    for node in nodes:
        backend.delete_prefix(join(set_key, node))
    return True
