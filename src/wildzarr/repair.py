"""``wildzarr repair``: delete what interrupted imports and removals left behind, and nothing else.

What is removed: the nodes of ids this archive claimed that are neither listed
(no commit marker) nor being imported now (their lease is not held), as
:func:`wildzarr.verify.find_leftovers` finds them, and the content claims those
ids still hold; table versions of annotation sets left by killed writers
(:func:`wildzarr.annotations.remove_leftovers`). Then the catalog snapshot is
rebuilt from every recording document. A complete recording, an import in
progress, a set's current table, and any group of the user's own (one the
archive never claimed, or skipped because it was there first) are never
touched. Afterwards ``wildzarr verify`` reports no leftovers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wildzarr.annotations import Leftover as AnnotationLeftover
from wildzarr.annotations import remove_leftovers
from wildzarr.catalog import load_rows
from wildzarr.layout import recording_key
from wildzarr.location import Location
from wildzarr.verify import Leftover, find_leftovers

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["RepairReport", "repair"]


@dataclass
class RepairReport:
    """What :func:`repair` removed."""

    removed: list[Leftover] = field(default_factory=list)
    freed_bytes: int = 0
    running: list[int] = field(default_factory=list)
    annotation_versions: list[AnnotationLeftover] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable lines: one per leftover removed, then a total."""
        out = [f"removed leftovers of id {x.id}: {x.files} files, {x.bytes} bytes" for x in self.removed]
        out.extend(f"left alone: the import of id {rid} is in progress" for rid in self.running)
        out.extend(
            f"removed table version {x.node} of annotation set {x.set_name!r}: "
            f"{x.files} files, {x.bytes} bytes"
            for x in self.annotation_versions
        )
        out.append(f"repaired: {len(self.removed)} leftovers removed, {self.freed_bytes} bytes reclaimed")
        return out


def repair(archive: Archive) -> RepairReport:
    """Remove leftovers of interrupted imports and removals; return what was removed.

    Raises
    ------
    ReadOnlyError
        If the archive is read-only.
    """
    location: Location = archive._location
    location.check_writable("repair")
    leftovers, running = find_leftovers(location)
    report = RepairReport(running=running)
    for item in leftovers:
        freed = location.backend.delete_prefix(recording_key(location.prefix, item.id))
        _free_content_claims(location, item.id)
        report.removed.append(item)
        report.freed_bytes += freed
    for version in remove_leftovers(archive):
        report.annotation_versions.append(version)
        report.freed_bytes += version.bytes
    load_rows(location, refresh=True)  # writes a snapshot built from every document
    return report


def _free_content_claims(location: Location, rid: int) -> None:
    """Free the content claim a leftover may still hold (its claim record names the content)."""
    record = location.ledger.id_record(rid)
    sha256 = record.get("sha256") if record else None
    if isinstance(sha256, str):
        location.ledger.release_content(sha256, rid)
