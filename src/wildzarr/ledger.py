"""The ledger: how many writers share one archive without losing or mixing recordings (format 2).

Every decision that writers could race on is taken by one primitive of the
store (:mod:`wildzarr.storage.base`): an exclusive create, a compare-and-swap,
or a lease. Nothing is read, changed and written back unguarded, and no step
deletes or rewrites a record another writer created, except by a
compare-and-swap that proves the record is still the one judged abandoned.

Records below ``P/_wildzarr`` (``docs/format.md``, "Many writers"):

``ids/<id>``
    an **id claim**, created exclusively (with a lease while the import runs)
    before anything of the recording is written. Whoever creates it owns the id;
    it is never deleted, so an id is never handed out twice, also not after the
    recording is removed. ``{"id", "token", "sha256", "state": "importing" |
    "skipped", ...}`` (sha256 of the content being imported);
    "skipped" when the name ``P/<id>`` turned out to be taken by a node that is
    not ours (a user's group named ``7``).
``complete/<id>``
    the **commit marker**: a recording is listed exactly when its marker exists.
    Creating it is the commit of an import; deleting it is the first step of a
    removal. Listing ids is one listing of this folder: no recording document is
    read. ``{"id", "token", "sha256"}``.
``sha256/<hex>``
    a **content claim** ``{"id": n, "token"}``, making duplicate detection
    atomic and O(1): the first import of some content
    to claim it stores it; another import of the same content finds the claim
    held by a recording that is complete or whose import is alive, and is a
    duplicate. A claim whose recording is neither (its import was interrupted,
    or it was removed) is taken over by compare-and-swap; a removal or a failed
    import deletes its claim by compare-and-delete.
``next_id``
    where the search for a free id starts: ``{"next_id": n}``, written after
    each commit. Only a hint: a stale hint costs a few extra probes, never a
    wrong id (the claims decide).
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from wildzarr.documents import dumps_record, loads_record
from wildzarr.errors import StorageError
from wildzarr.layout import LEDGER, is_recording_name
from wildzarr.storage import Backend, Lease, join

__all__ = ["IdClaim", "Ledger", "new_token"]

_IDS, _COMPLETE, _SHA256, _NEXT_ID = "ids", "complete", "sha256", "next_id"


def new_token() -> str:
    """A random 128-bit token (hex) naming one import in every record and document it writes."""
    return uuid.uuid4().hex


@dataclass
class IdClaim:
    """An id this writer owns, with the lease that marks its import alive."""

    id: int
    token: str
    lease: Lease

    def release(self) -> None:
        """Stop marking the import alive (the claim itself stays)."""
        self.lease.release()


class Ledger:
    """The ledger records of the archive at ``prefix`` of ``backend``.

    Parameters
    ----------
    backend : Backend
        The store.
    prefix : str
        Key prefix of the archive group (``""`` for the store root).
    """

    def __init__(self, backend: Backend, prefix: str) -> None:
        self.backend = backend
        self.prefix = prefix
        self.root = join(prefix, LEDGER)

    def _key(self, *parts: str) -> str:
        return join(self.root, *parts)

    # -- listing -----------------------------------------------------------------------

    def complete_ids(self) -> list[int]:
        """Ids with a commit marker, ascending (one listing; no document is read)."""
        names = self.backend.list_dir(self._key(_COMPLETE))
        return sorted(int(n) for n in names if is_recording_name(n))

    def is_complete(self, rid: int) -> bool:
        """Whether recording ``rid`` is committed (its marker exists)."""
        return self.backend.exists(self._key(_COMPLETE, str(rid)))

    def claimed_ids(self) -> list[int]:
        """Every id ever claimed, ascending."""
        names = self.backend.list_dir(self._key(_IDS))
        return sorted(int(n) for n in names if is_recording_name(n))

    def id_record(self, rid: int) -> dict[str, Any] | None:
        """The claim record of ``rid``, or None."""
        return loads_record(self.backend.get(self._key(_IDS, str(rid))))

    def marker(self, rid: int) -> dict[str, Any] | None:
        """The commit marker record of ``rid``, or None when it is not committed."""
        return loads_record(self.backend.get(self._key(_COMPLETE, str(rid))))

    def is_importing(self, rid: int) -> bool:
        """Whether an import holding id ``rid`` is alive right now (its lease is held)."""
        return self.backend.is_alive(self._key(_IDS, str(rid)))

    def content_record(self, sha256: str) -> dict[str, Any] | None:
        """The content claim of ``sha256``, or None."""
        return loads_record(self.backend.get(self._key(_SHA256, sha256)))

    # -- ids ---------------------------------------------------------------------------

    def _hint(self) -> int:
        record = loads_record(self.backend.get(self._key(_NEXT_ID)))
        value = record.get("next_id") if record else None
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1

    def _first_unclaimed(self, start: int) -> int:
        """Smallest id >= ``start`` without a claim, assuming claimed ids form a run from ``start``.

        Claims are made in ascending order, so the claimed ids from a stale
        hint onwards are (nearly) contiguous: gallop, then bisect, with one
        existence check per step: O(log distance).
        """
        exists = self.backend.exists
        low, step = start, 1  # low: known claimed
        high = start + step
        while exists(self._key(_IDS, str(high))):
            low, step = high, step * 2
            high = low + step
        while high - low > 1:
            middle = (low + high) // 2
            if exists(self._key(_IDS, str(middle))):
                low = middle
            else:
                high = middle
        return high

    def claim_id(self, token: str, sha256: str, source: str, *, node_taken: Any) -> IdClaim:
        """Claim the smallest free id from the hint on; its lease is held until released.

        Parameters
        ----------
        token : str
            The import's token.
        sha256 : str
            The content being imported (hex), recorded so that ``wildzarr repair``
            can free its content claim if the import is interrupted.
        source : str
            The source's name, recorded in the claim (for ``wildzarr verify``).
        node_taken : callable(int) -> bool
            Whether a node ``P/<id>`` already exists (a user's group named like
            an id, a format-1 leftover): such an id is marked "skipped".

        Returns
        -------
        IdClaim
        """
        candidate = self._hint()
        while True:
            record = {
                "id": candidate,
                "token": token,
                "sha256": sha256,
                "state": "importing",
                "source": source,
                "host": socket.gethostname(),
                "pid": os.getpid(),
            }
            key = self._key(_IDS, str(candidate))
            lease = self.backend.claim(key, dumps_record(record))
            if lease is None:
                candidate = self._first_unclaimed(candidate)
                continue
            try:
                taken = node_taken(candidate)
                if taken:
                    self._mark_skipped(key, record)
            except BaseException:
                self.release_id(IdClaim(candidate, token, lease))
                raise
            if taken:
                lease.release()
                candidate += 1
                continue
            return IdClaim(candidate, token, lease)

    def _mark_skipped(self, key: str, record: dict[str, Any]) -> None:
        current = self.backend.get_versioned(key)
        if current is not None and loads_record(current.data) == record:
            self.backend.replace(key, dumps_record({**record, "state": "skipped"}), current.version)

    def release_id(self, claim: IdClaim) -> None:
        """Give back an id whose import failed before anything of it was committed.

        Deletes the claim only if it is still this import's (by its token).
        """
        claim.release()
        key = self._key(_IDS, str(claim.id))
        current = self.backend.get_versioned(key)
        record = loads_record(current.data) if current is not None else None
        if current is not None and record is not None and record.get("token") == claim.token:
            self.backend.delete_if(key, current.version)

    # -- content -----------------------------------------------------------------------

    def _holder(self, record: dict[str, Any] | None, exclude: int | None = None) -> int | None:
        """The id holding a content claim if that recording is complete or being imported, else None."""
        rid = record.get("id") if record else None
        if not isinstance(rid, int) or isinstance(rid, bool) or rid == exclude:
            return None
        if self.is_complete(rid) or self.is_importing(rid):
            return rid
        return None

    def find(self, sha256: str) -> int | None:
        """Id of the recording holding this content (complete or being imported), or None."""
        return self._holder(self.content_record(sha256))

    def claim_content(self, sha256: str, rid: int, token: str) -> int | None:
        """Claim content ``sha256`` for recording ``rid``.

        Returns
        -------
        int or None
            None when the claim is now ``rid``'s; else the id of the recording
            that holds the content (complete, or its import alive).
        """
        key = self._key(_SHA256, sha256)
        ours = dumps_record({"id": rid, "token": token})
        while True:
            if self.backend.create(key, ours):
                return None
            current = self.backend.get_versioned(key)
            if current is None:
                continue  # freed and deleted in between: try to create it again
            holder = self._holder(loads_record(current.data), exclude=rid)
            if holder is not None:
                return holder
            if self.backend.replace(key, ours, current.version):
                return None

    def release_content(self, sha256: str, rid: int) -> None:
        """Delete the content claim of ``sha256`` if ``rid`` holds it (compare-and-delete)."""
        key = self._key(_SHA256, sha256)
        current = self.backend.get_versioned(key)
        record = loads_record(current.data) if current is not None else None
        if current is not None and record is not None and record.get("id") == rid:
            self.backend.delete_if(key, current.version)

    # -- commit ------------------------------------------------------------------------

    def commit(self, claim: IdClaim, sha256: str) -> bool:
        """Create the commit marker of ``claim.id``; True if this call created it."""
        record = {"id": claim.id, "token": claim.token, "sha256": sha256}
        return self.backend.create(self._key(_COMPLETE, str(claim.id)), dumps_record(record))

    def advance_hint(self, rid: int) -> None:
        """Let the next search for a free id start after ``rid`` (a plain write: it is only a hint).

        Called after a commit: a store error here is not the import's failure (a
        stale hint costs a few existence checks later), so it is not raised.
        """
        with contextlib.suppress(StorageError):
            self.backend.put(self._key(_NEXT_ID), dumps_record({"next_id": rid + 1}))

    def uncommit(self, rid: int) -> dict[str, Any] | None:
        """Delete the commit marker of ``rid`` (the first step of a removal); return its record.

        Returns None when there was no marker (not committed, or removed by
        another writer in between).
        """
        key = self._key(_COMPLETE, str(rid))
        current = self.backend.get_versioned(key)
        if current is None or not self.backend.delete_if(key, current.version):
            return None
        return loads_record(current.data) or {"id": rid}

    def restore_marker(self, record: dict[str, Any]) -> bool:
        """Create a commit marker from a record (``wildzarr upgrade`` and ``repair``); True if created."""
        return self.backend.create(self._key(_COMPLETE, str(record["id"])), dumps_record(record))

    def record_claim(self, rid: int, record: dict[str, Any]) -> bool:
        """Create the claim of ``rid`` without a lease (``wildzarr upgrade``); True if created."""
        return self.backend.create(self._key(_IDS, str(rid)), dumps_record(record))

    def record_content(self, sha256: str, rid: int, token: str) -> bool:
        """Create a content claim without the duplicate checks (``wildzarr upgrade``)."""
        return self.backend.create(self._key(_SHA256, sha256), dumps_record({"id": rid, "token": token}))
