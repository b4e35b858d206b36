"""Annotation sets: named tables of labelled segments and events of an archive's recordings.

>>> from wildzarr.annotations import open_set
>>> birds = open_set(arc, "birds")                    # created by its first change
>>> birds.read_raven("x.Table.1.selections.txt", recording=3, out_of_range="drop")
>>> birds.df                                          # recording, channel, start, stop, label, ...

A set lives in the archive in plain Zarr v3 (``docs/annotations.md``): one
group per set below ``P/_annotations``, its checksummed document naming the
current table version, each version a group of 1-D arrays, one per column.
Many processes may change one set at once: every change is a
compare-and-swap of the document (:mod:`wildzarr.annotations.store`).

Import and export: Raven Pro selection tables (:mod:`~wildzarr.annotations.raven`),
DAS annotation files (:mod:`~wildzarr.annotations.dasfiles`), Audacity label
tracks (:mod:`~wildzarr.annotations.audacity`); times convert to samples by the
time rule (:mod:`~wildzarr.annotations.timing`), files to recordings by name
or id (:mod:`~wildzarr.annotations.matching`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wildzarr.annotations.errors import AnnotationWarning, DamagedAnnotationsError
from wildzarr.annotations.sets import AnnotationSet
from wildzarr.annotations.store import (
    Leftover,
    check_set_name,
    delete_set_at,
    find_leftovers_at,
    list_sets_at,
    remove_leftovers_at,
)

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = [
    "AnnotationSet",
    "AnnotationWarning",
    "DamagedAnnotationsError",
    "Leftover",
    "delete_set",
    "find_leftovers",
    "list_sets",
    "open_set",
    "remove_leftovers",
]


def open_set(archive: Archive, name: str) -> AnnotationSet:
    """The annotation set ``name`` of ``archive`` (nothing is read or written yet).

    A set that does not exist reads as empty and is created by its first
    change (in a read-only archive, a change raises ReadOnlyError).

    Raises
    ------
    ArgumentError
        If ``name`` is not 1 to 200 letters, digits, ``-``, ``_`` and ``.``,
        starting with neither ``_`` nor ``.``.
    """
    return AnnotationSet(archive, name)


def list_sets(archive: Archive) -> list[str]:
    """Names of the archive's annotation sets, sorted (a damaged set is listed too)."""
    return list_sets_at(archive._location)


def delete_set(archive: Archive, name: str) -> bool:
    """Delete the set ``name`` (also a damaged one); False if there was none.

    Raises
    ------
    ArgumentError
        For an invalid name.
    ReadOnlyError
        If the archive is read-only.
    """
    return delete_set_at(archive._location, check_set_name(name))


def find_leftovers(archive: Archive) -> list[Leftover]:
    """Table versions that changes killed before they finished left behind (no set names them,
    no writer is writing them); :func:`remove_leftovers` deletes them."""
    return find_leftovers_at(archive._location)


def remove_leftovers(archive: Archive) -> list[Leftover]:
    """Delete what :func:`find_leftovers` finds (never a version a set names or a writer writes);
    return what was deleted.

    Raises
    ------
    ReadOnlyError
        If the archive is read-only.
    """
    return remove_leftovers_at(archive._location)
