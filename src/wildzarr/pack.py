"""``wildzarr pack``: a finished archive into one zip file, for copying and read-many use.

What goes in (``docs/format.md``, "Packed zip archives"): the archive document,
the ledger group's document, and for every complete recording (a commit marker
exists) its group with everything below it, its commit marker and the content
claim it holds; a catalog snapshot of those recordings; every annotation set's
document and the table version it names. Nothing else: no id claims, leases,
change notes or ``next_id`` hint, no leftovers of interrupted imports,
removals or annotation changes, no import in progress, no groups of the
user's own beside the recordings. The archive group is the zip's root.

Every member is stored uncompressed (``ZIP_STORED``; ZIP64 where sizes or
offsets need it), dated 1980-01-01 (the zip epoch) so that packing the same
archive twice gives the same bytes, and the zip comment starts with
:data:`~wildzarr.storage.zipped.PACKED_COMMENT`, which makes
:func:`wildzarr.open` read the file with :class:`~wildzarr.storage.ZipBackend`
(read-only) in every mode.

The zip is written to a temporary file beside the output, checked, made
durable (fsync) and only then renamed into place: an error, Ctrl-C or a crash
leaves no output file (a crash may leave the temporary file,
``.<name>.<random>.wildzarr-pack``). The check re-reads the new file's central
directory with ``zipfile`` and each member's local header, and compares every
member's name, size and CRC-32 with the bytes read from the source, and the
recording ids the zip lists with those packed. The member data is not read
again: ``wildzarr verify OUT.zip`` checks every byte against its checksums.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, suppress
from dataclasses import dataclass
from typing import Any

import zarr
from tqdm import tqdm
from zarr.abc.store import Store

from wildzarr._version import __version__
from wildzarr.annotations.store import ROOT as ANNOTATIONS_ROOT
from wildzarr.annotations.store import WRITING
from wildzarr.archive import Archive
from wildzarr.archive import open as open_archive
from wildzarr.catalog import SNAPSHOT, load_table
from wildzarr.documents import DocumentError, loads_record, parse_group
from wildzarr.errors import ArchiveError, ArgumentError, StorageError
from wildzarr.layout import LEDGER, ZARR_JSON, is_recording_name
from wildzarr.ledger import Ledger
from wildzarr.location import Location
from wildzarr.storage import ZipBackend, join, storage_error
from wildzarr.storage.zipped import PACKED_COMMENT

__all__ = ["PackReport", "pack"]

#: Source reads in flight at once (S3 latency hides behind them; a local folder hardly cares).
_WORKERS = 8
#: Members fetched ahead of the writer: at most this many blob chunks (8 MiB each) are held in memory.
_AHEAD = 2 * _WORKERS
#: Date of every member: the zip epoch, so that the output depends on the archive only.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_TEMP_SUFFIX = ".wildzarr-pack"
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Where content claims are: found while packing (from the commit markers), so not in the planned total.
_CLAIMS = join(LEDGER, "sha256") + "/"

#: One planned read: returns the members it yields (name in the zip, bytes).
_Unit = Callable[[], list[tuple[str, bytes]]]


@dataclass(frozen=True)
class PackReport:
    """What :func:`pack` wrote.

    Attributes
    ----------
    path : str
        The zip file.
    recordings : list of int
        Ids of the recordings packed, ascending.
    members : int
        Members of the zip file.
    data_bytes : int
        Bytes of all members.
    zip_bytes : int
        Size of the zip file, bytes.
    """

    path: str
    recordings: list[int]
    members: int
    data_bytes: int
    zip_bytes: int

    def summary(self) -> str:
        """One line: where, how many recordings, how many bytes."""
        return (
            f"packed {len(self.recordings)} recordings into {self.path}: {self.zip_bytes} bytes "
            f"({self.members} members)"
        )


def pack(
    archive: Archive | str | os.PathLike[str] | Store | zarr.Group,
    out: str | os.PathLike[str],
    *,
    path: str | None = None,
    storage_options: dict[str, Any] | None = None,
    force: bool = False,
    progress: bool | None = False,
) -> PackReport:
    """Write the complete recordings of an archive into a new zip file ``out``.

    Parameters
    ----------
    archive : Archive, or anything :func:`wildzarr.open` opens
        The archive (a folder, a zip file, a URL, a zarr store or group); a
        path or URL is opened read-only.
    out : str or os.PathLike
        The zip file to write; its name must end in ``.zip``.
    path : str, optional
        The group inside ``archive`` (when it is not an Archive).
    storage_options : dict, optional
        Options of the fsspec file system of a URL (when it is not an Archive).
    force : bool
        Overwrite ``out`` if it exists (default: refuse).
    progress : bool or None
        Show a progress bar (bytes) on stderr: always, never (default), or
        (None) when stderr is a terminal.

    Returns
    -------
    PackReport

    Raises
    ------
    ArgumentError
        If ``out`` does not end in ``.zip``, or exists and ``force`` is false.
    ArchiveError
        If the source is no archive, is a format-1 archive (upgrade it first),
        changed while being packed (a recording removed meanwhile), or the
        written zip file failed its check.
    StorageError
        If the source or the output's file system fails (naming the path).
    KeyboardInterrupt
        Propagated; no output file is left.
    """
    target = os.path.abspath(os.path.expanduser(os.fspath(out)))
    if not target.lower().endswith(".zip"):
        raise ArgumentError(f"{target}: the output's name must end in .zip (wildzarr opens it by that)")
    if not force and os.path.lexists(target):
        raise ArgumentError(f"{target}: already exists; pass --force (force=True) to overwrite it")
    if isinstance(archive, Archive):
        return _pack(archive._location, target, force=force, progress=progress)
    with open_archive(archive, path=path, mode="r", storage_options=storage_options) as source:
        return _pack(source._location, target, force=force, progress=progress)


def _pack(location: Location, target: str, *, force: bool, progress: bool | None) -> PackReport:
    if location.format < 2:
        raise ArchiveError(
            f"{location.where()}: a format-{location.format} archive cannot be packed; run "
            "`wildzarr upgrade` first"
        )
    ids = location.ledger.complete_ids()
    units, total = _plan(location, ids)
    folder, name = os.path.split(target)
    temp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}{_TEMP_SUFFIX}")
    try:
        written = _write(temp, units, total, progress, target)
        _check(temp, written, ids, target)
        _publish(temp, target, force)
    except BaseException:
        _remove(temp)
        raise
    sizes = sum(size for size, _ in written.values())
    return PackReport(target, ids, len(written), sizes, os.path.getsize(target))


# -- what goes in ----------------------------------------------------------------------------


def _plan(location: Location, ids: list[int]) -> tuple[list[_Unit], int]:
    """The reads that fetch every member, in zip order, and their total size in bytes (for progress).

    Order: the archive document, the ledger's, then per recording its nodes
    (sorted), its commit marker and its content claim.
    """
    backend, prefix = location.backend, location.prefix
    sizes = dict(_relative(backend.list_keys(prefix), prefix))
    units = [_copy(location, ZARR_JSON)]
    if join(LEDGER, ZARR_JSON) in sizes:
        units.append(_copy(location, join(LEDGER, ZARR_JSON)))
    total = sum(sizes.get(key, 0) for key in (ZARR_JSON, join(LEDGER, ZARR_JSON)))
    below = _by_recording(sizes, set(ids))
    for rid in ids:
        if join(str(rid), ZARR_JSON) not in below.get(rid, []):
            raise ArchiveError(f"{location.where()}: recording {rid} was removed while packing; pack again")
        for key in below[rid]:
            units.append(_copy(location, key))
            total += sizes[key]
        units.append(_marker(location, rid))
        total += sizes.get(join(LEDGER, "complete", str(rid)), 0)
    units.append(_catalog(location, ids))
    for key in _annotation_keys(location, sizes):
        units.append(_copy(location, key))
        total += sizes[key]
    return units, total


def _catalog(location: Location, ids: list[int]) -> _Unit:
    """The catalog snapshot of the packed recordings (the zip holds no change notes: it never changes)."""

    def read() -> list[tuple[str, bytes]]:
        table = load_table(location, write=False)
        table.update({rid: None for rid in set(table.ids) - set(ids)})
        return [(SNAPSHOT, table.encode())]

    return read


def _annotation_keys(location: Location, sizes: dict[str, int]) -> list[str]:
    """The annotation sets' keys: the sets' group, each set's document and the table version it names.

    Raises ArchiveError naming a set whose document is damaged (repair or delete it first).
    """
    root = ANNOTATIONS_ROOT
    if join(root, ZARR_JSON) not in sizes:
        return []
    keys = [join(root, ZARR_JSON)]
    for name in sorted(
        {key.split("/")[1] for key in sizes if key.startswith(root + "/") and key.count("/") >= 2}
    ):
        document = join(root, name, ZARR_JSON)
        if document not in sizes:
            continue
        try:
            fields, _ = parse_group(_get(location, document), require_checksum=True)
        except DocumentError as exc:
            raise ArchiveError(
                f"{location.where()}: annotation set {name!r} is damaged ({exc}); repair or delete it first"
            ) from None
        version = (fields or {}).get("version")
        below = join(root, name, str(version)) + "/"
        keys.append(document)
        keys += sorted(k for k in sizes if k.startswith(below) and k != below + WRITING)
    return keys


def _relative(keys: list[tuple[str, int]], prefix: str) -> Iterator[tuple[str, int]]:
    skip = len(prefix) + 1 if prefix else 0
    for key, size in keys:
        yield key[skip:], size


def _by_recording(sizes: dict[str, int], ids: set[int]) -> dict[int, list[str]]:
    """The keys below each recording group ``<id>/`` of ``ids``, sorted."""
    below: dict[int, list[str]] = {}
    for key in sorted(sizes):
        head = key.split("/", 1)[0]
        if is_recording_name(head) and int(head) in ids:
            below.setdefault(int(head), []).append(key)
    return below


def _copy(location: Location, key: str) -> _Unit:
    """A read of the source's ``key`` (relative to the archive group) as one member."""

    def read() -> list[tuple[str, bytes]]:
        return [(key, _get(location, key))]

    return read


def _marker(location: Location, rid: int) -> _Unit:
    """A read of recording ``rid``'s commit marker and, if ``rid`` holds it, its content claim."""

    def read() -> list[tuple[str, bytes]]:
        key = join(LEDGER, "complete", str(rid))
        marker = _get(location, key)
        members = [(key, marker)]
        sha256 = (loads_record(marker) or {}).get("sha256")
        if isinstance(sha256, str) and _SHA256.fullmatch(sha256):
            claim_key = _CLAIMS + sha256
            claim = location.backend.get(join(location.prefix, claim_key))
            if claim is not None and (loads_record(claim) or {}).get("id") == rid:
                members.append((claim_key, claim))
        return members

    return read


def _get(location: Location, key: str) -> bytes:
    data = location.backend.get(join(location.prefix, key))
    if data is None:
        where = location.backend.describe(join(location.prefix, key))
        raise ArchiveError(f"{where}: vanished while packing (the archive changed meanwhile); pack again")
    return data


# -- writing ---------------------------------------------------------------------------------


def _write(
    temp: str, units: list[_Unit], total: int, progress: bool | None, target: str
) -> dict[str, tuple[int, int]]:
    """Write every member into a new zip file ``temp``, fsynced; each member's size and CRC-32."""
    disable = None if progress is None else not progress  # None: tqdm shows it on a terminal only
    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="pack", disable=disable)
    try:
        with open(temp, "xb") as file:
            with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                written = _fill(archive, units, bar)
                archive.comment = PACKED_COMMENT + f" {__version__}".encode()
            file.flush()
            os.fsync(file.fileno())
    except StorageError:  # the source failed: it names itself
        raise
    except OSError as exc:
        raise storage_error(exc, target) from exc
    finally:
        bar.close()
    return written


def _fill(archive: zipfile.ZipFile, units: list[_Unit], bar: tqdm[Any]) -> dict[str, tuple[int, int]]:
    """Add the members of ``units`` to ``archive`` in order; each member's size and CRC-32."""
    written: dict[str, tuple[int, int]] = {}
    with closing(_fetched(units)) as members:
        for name, data in members:
            archive.writestr(_member_info(name), data)
            written[name] = (len(data), zlib.crc32(data))
            if name.startswith(_CLAIMS):
                bar.total = (bar.total or 0) + len(data)
            bar.update(len(data))
    return written


def _member_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16  # -rw-r--r-- when unzipped
    return info


def _fetched(units: list[_Unit]) -> Generator[tuple[str, bytes], None, None]:
    """The members of ``units`` in order, read by a thread pool up to ``_AHEAD`` units ahead."""
    with ThreadPoolExecutor(_WORKERS, thread_name_prefix="wildzarr-pack") as pool:
        pending: deque[Future[list[tuple[str, bytes]]]] = deque()
        try:
            for unit in units:
                pending.append(pool.submit(unit))
                if len(pending) >= _AHEAD:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _check(temp: str, written: dict[str, tuple[int, int]], ids: list[int], target: str) -> None:
    """Reopen the new zip and compare its members and recording ids with what was packed."""
    backend = ZipBackend(temp)
    try:
        found = backend.checked_members()
        listed = Ledger(backend, "").complete_ids()
    except StorageError as exc:
        raise ArchiveError(f"{target}: the zip file just written fails its check: {exc}") from None
    finally:
        backend.close()
    wrong = sorted(key for key in found.keys() | written.keys() if found.get(key) != written.get(key))
    if wrong:
        raise ArchiveError(f"{target}: the zip file just written differs from the source in {wrong[:5]}")
    if listed != ids:
        raise ArchiveError(f"{target}: the zip file just written lists recordings {listed}, not {ids}")


# -- publishing ------------------------------------------------------------------------------


def _publish(temp: str, target: str, force: bool) -> None:
    """Move the finished ``temp`` to ``target`` (never over an existing file unless ``force``); fsync."""
    try:
        if force:
            os.replace(temp, target)
        elif not _link(temp, target):
            if os.path.lexists(target):
                raise ArgumentError(f"{target}: already exists; pass --force (force=True) to overwrite it")
            os.rename(temp, target)  # a file system without hard links: checked, then renamed
        _fsync_folder(os.path.dirname(target))
    except OSError as exc:
        raise storage_error(exc, target) from exc


def _link(temp: str, target: str) -> bool:
    """Hard-link ``temp`` to ``target`` (refused if it exists), then remove ``temp``.

    Returns False, changing nothing, on a file system without hard links.
    """
    try:
        os.link(temp, target)
    except FileExistsError:
        raise ArgumentError(f"{target}: already exists; pass --force (force=True) to overwrite it") from None
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            return False
        raise
    os.unlink(temp)
    return True


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(temp: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(temp)
