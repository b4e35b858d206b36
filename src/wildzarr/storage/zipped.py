"""A zip file as a read-only :class:`~wildzarr.storage.base.Backend`, reading stored members in place.

zarr's ``ZipStore`` reads a member through Python's ``zipfile``, which reaches
byte ``b`` of a member by reading (and discarding) the ``b`` bytes before it: a
window 8 MB into a blob chunk costs 20 times one at its start. A member stored
without compression (``ZIP_STORED``) is a plain run of bytes in the zip file, so
this backend reads it where it lies: ``get_range(key, start, stop)`` is one
``os.pread`` at the member's data offset plus ``start``.

How the offset is found, trusting nothing read from the file (APPNOTE.TXT 6.3.10,
sections 4.3.7 and 4.3.12):

- the central directory is parsed once, at open, by ``zipfile`` (duplicate
  names: the last one counts, as in ``zipfile``);
- on a member's first use its local file header is read and checked against
  its central directory record: signature ``PK\\x03\\x04``, the same name, the
  same compression method, no encryption, the same sizes (or zero sizes with a
  data descriptor; ZIP64 sizes from the local ZIP64 extra field), and a data
  range that lies inside the file. The data offset is then cached.

Any disagreement raises :class:`~wildzarr.errors.StorageError` naming the file
and the member; every read is bounded by the member's size. Compressed members
(written by other tools) are read through ``zipfile``: correct, with its CRC-32
check, but a range costs a read of the member up to it. A whole stored member
(:meth:`ZipBackend.get`) is checked against its CRC-32 as well.
"""

from __future__ import annotations

import bisect
import io
import os
import stat
import struct
import threading
import weakref
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from zarr.storage import ZipStore

from wildzarr.errors import ArchiveError, ReadOnlyError, StorageError
from wildzarr.storage.base import Backend, Lease, Versioned, check_key, check_range, storage_error

__all__ = ["PACKED_COMMENT", "ZipBackend"]

#: How the zip comment of an archive written by ``wildzarr pack`` starts (:mod:`wildzarr.pack`).
PACKED_COMMENT = b"wildzarr pack"

#: Local file header (APPNOTE.TXT 4.3.7): signature, version needed, flags, method, time, date,
#: CRC-32, compressed size, uncompressed size, name length, extra field length.
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_FLAG_ENCRYPTED = 0x1
_FLAG_DATA_DESCRIPTOR = 0x8
_FLAG_UTF8_NAME = 0x800
#: ZIP64 extended information extra field (APPNOTE.TXT 4.5.3).
_ZIP64_EXTRA = 0x0001
_ZIP64_MARK = 0xFFFFFFFF
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
#: Largest single pread: Linux transfers at most 0x7ffff000 bytes per call (read(2)).
_IO_MAX = 0x7FFFF000


class _Member(NamedTuple):
    """Where a checked member's bytes lie: the data offset in the zip file, or -1 if compressed."""

    offset: int
    size: int


class _PreadFile(io.RawIOBase):
    """A seekable read-only file object for ``zipfile`` over a descriptor it does not own.

    Reads with ``os.pread`` at its own position: no offset shared with
    another user of the descriptor, no lock that a fork could leave held.
    """

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self._fd = fd
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as view, view.cast("B") as target:
            data = os.pread(self._fd, min(len(target), _IO_MAX), self._position)
            target[: len(data)] = data
        self._position += len(data)
        return len(data)


@dataclass
class _Opened:
    """One opening of the zip file: its descriptor, its parsed central directory, checked members.

    ``members`` fills up as members are first used (a dict: each assignment is
    atomic, and two threads checking one member store the same value).
    """

    fd: int
    zip: zipfile.ZipFile
    size: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    members: dict[str, _Member] = field(default_factory=dict)
    names: list[str] | None = None
    children: dict[str, list[str]] | None = None

    def close(self) -> None:
        self.zip.close()
        os.close(self.fd)


#: Every live ZipBackend, so that a forked child reopens each with its own descriptor and locks.
_instances: weakref.WeakSet[ZipBackend] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for backend in list(_instances):
        backend._forget_after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


class ZipBackend(Backend):
    """The members of a zip file, read-only; stored members are read in place with ``os.pread``.

    Parameters
    ----------
    path : str or os.PathLike
        The zip file. It is opened and its central directory parsed here.

    Raises
    ------
    ArchiveError
        If ``path`` is missing, not a regular file, or not a zip file (truncated
        files included: a zip file ends with its directory).
    StorageError
        If the file cannot be read (permission denied ...).

    Notes
    -----
    Keys are member names; directory entries (names ending in ``/``) and
    names that are not valid keys (:func:`~wildzarr.storage.base.check_key`) are
    not listed. Every write raises :class:`~wildzarr.errors.ReadOnlyError`
    naming the file; :meth:`claim` too, and :meth:`is_alive` is always false
    (nothing in a zip file is being written). Thread-safe. Pickles to its path
    and reopens on first use in the receiving process; a forked child reopens
    too, with its own descriptor. :meth:`close` closes the file; a later call
    reopens it. ``packed`` is true for a zip written by ``wildzarr pack`` (its
    comment starts with :data:`PACKED_COMMENT`).
    """

    read_only = True
    multiprocess_safe = True  # nothing changes: any number of processes may read
    latency_bound = False  # a local file: one pread per range

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self._lock = threading.Lock()
        self._opened: _Opened | None = None
        self._store: ZipStore | None = None
        _instances.add(self)
        self.packed = self._state().zip.comment.startswith(PACKED_COMMENT)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "packed": self.packed}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self.packed = state["packed"]
        self._lock = threading.Lock()
        self._opened = None
        self._store = None
        _instances.add(self)

    def describe(self, key: str = "") -> str:
        return f"{self.path}/{key}" if key else self.path

    @property
    def read_only_reason(self) -> str:
        why = " (written by wildzarr pack: change its source archive and pack again)" if self.packed else ""
        return f"the zip file is read-only{why}"

    def _check_writable(self, key: str) -> None:
        raise ReadOnlyError(f"{self.describe(key)}: cannot write: {self.read_only_reason}")

    def zarr_store(self) -> ZipStore:
        """A read-only zarr ZipStore over the same file (made once; closed by :meth:`close`)."""
        with self._lock:
            if self._store is None:
                self._store = ZipStore(self.path, mode="r")
            return self._store

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, None
            store, self._store = self._store, None
        if opened is not None:
            opened.close()
        if store is not None and store._is_open:  # ZipStore.close fails on a store never opened
            store.close()

    def _forget_after_fork(self) -> None:
        """In a forked child: new locks, and close the child's copy of the descriptor (reopened on use).

        The parent's objects are dropped without closing them: their locks may
        have been held by a thread that does not exist in the child.
        """
        self._lock = threading.Lock()
        opened, self._opened = self._opened, None
        self._store = None
        if opened is not None:
            os.close(opened.fd)

    # -- opening -------------------------------------------------------------------

    def _state(self) -> _Opened:
        """The open file (opened on first use, after :meth:`close`, unpickling or a fork)."""
        opened = self._opened
        if opened is not None:
            return opened
        with self._lock:
            if self._opened is None:
                self._opened = self._open()
            return self._opened

    def _open(self) -> _Opened:
        try:
            fd = os.open(self.path, _OPEN_FLAGS)
        except FileNotFoundError:
            raise ArchiveError(f"{self.path}: no such zip file") from None
        except OSError as exc:
            raise storage_error(exc, self.path) from exc
        try:
            return _Opened(fd, *self._parse(fd))
        except BaseException:
            os.close(fd)
            raise

    def _parse(self, fd: int) -> tuple[zipfile.ZipFile, int]:
        """The central directory of the regular file ``fd``, parsed by ``zipfile``, and the file's size."""
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ArchiveError(f"{self.path}: is not a regular file, so not a zip file")
            return zipfile.ZipFile(_PreadFile(fd, info.st_size)), info.st_size
        except OSError as exc:  # the file system failed
            raise storage_error(exc, self.path) from exc
        except ArchiveError:
            raise
        except Exception as exc:  # zipfile raises many kinds on hostile input: BadZipFile, struct.error ...
            raise ArchiveError(
                f"{self.path}: not a readable zip file ({type(exc).__name__}: {exc})"
            ) from None

    # -- members ---------------------------------------------------------------------

    def _where(self, opened: _Opened, key: str, info: zipfile.ZipInfo) -> _Member:
        """Where member ``key`` (whose directory record is ``info``) lies, checked on first use."""
        member = opened.members.get(key)
        if member is None:
            member = opened.members[key] = self._locate(opened, key, info)
        return member

    def _damaged(self, key: str, reason: str) -> StorageError:
        where = self.describe(key)
        return StorageError(f"{self.path}: member {key}: {reason}", where)

    def _locate(self, opened: _Opened, key: str, info: zipfile.ZipInfo) -> _Member:
        """Where the data of ``key`` lies (offset -1: compressed), its local header checked."""
        if info.flag_bits & _FLAG_ENCRYPTED:
            raise self._damaged(key, "is encrypted; wildzarr reads no encrypted members")
        header_at = info.header_offset
        if header_at < 0 or header_at + _LOCAL_HEADER.size > opened.size:
            raise self._damaged(
                key, f"its local header at byte {header_at} lies outside the file ({opened.size} bytes)"
            )
        data_at = self._check_local_header(opened, key, info)
        if data_at + info.compress_size > opened.size:
            raise self._damaged(
                key,
                f"its data [{data_at}, {data_at + info.compress_size}) lies outside the file "
                f"({opened.size} bytes)",
            )
        if info.compress_type != zipfile.ZIP_STORED:
            return _Member(-1, info.file_size)
        if info.compress_size != info.file_size:
            raise self._damaged(key, "is stored uncompressed but its two sizes differ")
        return _Member(data_at, info.file_size)

    def _check_local_header(self, opened: _Opened, key: str, info: zipfile.ZipInfo) -> int:
        """Check the local header of ``key`` against its directory record ``info``; its data offset."""
        header_at = info.header_offset
        fields = _LOCAL_HEADER.unpack(self._read(opened, key, header_at, _LOCAL_HEADER.size))
        signature, _, flags, method, _, _, _, csize, usize, name_length, extra_length = fields
        if signature != _LOCAL_SIGNATURE:
            raise self._damaged(key, f"no local file header at byte {header_at} (found {signature!r})")
        variable = self._read(opened, key, header_at + _LOCAL_HEADER.size, name_length + extra_length)
        name = variable[:name_length].decode("utf-8" if flags & _FLAG_UTF8_NAME else "cp437", "replace")
        if name != info.orig_filename:
            raise self._damaged(
                key, f"its local header names {name!r}, the central directory {info.orig_filename!r}"
            )
        if method != info.compress_type or flags & _FLAG_ENCRYPTED:
            raise self._damaged(key, "its local header disagrees with the central directory on compression")
        sizes = _local_sizes(csize, usize, variable[name_length:])
        if sizes is None:
            raise self._damaged(key, "its local header has ZIP64 sizes without a ZIP64 extra field")
        expected = (info.compress_size, info.file_size)
        if sizes != expected and not (flags & _FLAG_DATA_DESCRIPTOR and sizes == (0, 0)):
            raise self._damaged(
                key, f"its local header gives sizes {sizes}, the central directory {expected} (bytes)"
            )
        return header_at + _LOCAL_HEADER.size + name_length + extra_length

    def _read(self, opened: _Opened, key: str, offset: int, size: int) -> bytes:
        """Exactly ``size`` bytes at ``offset`` of the zip file (a shorter file is damage)."""
        parts = []
        done = 0
        while done < size:
            try:
                part = os.pread(opened.fd, min(size - done, _IO_MAX), offset + done)
            except OSError as exc:
                raise storage_error(exc, self.describe(key)) from exc
            if not part:
                raise self._damaged(
                    key, f"the file ends before byte {offset + size} (truncated since opened?)"
                )
            parts.append(part)
            done += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _extract(self, opened: _Opened, key: str, info: zipfile.ZipInfo, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of a compressed member, decompressed by ``zipfile``."""
        try:
            with opened.lock, opened.zip.open(info) as member:
                if start == 0 and stop >= info.file_size:
                    return member.read()  # to the end: zipfile checks the CRC-32
                member.seek(start)
                return member.read(stop - start)
        except OSError as exc:  # also bz2's "Invalid data stream"
            raise storage_error(exc, self.describe(key)) from exc
        except Exception as exc:  # BadZipFile (CRC-32), zlib.error, LZMAError, NotImplementedError ...
            raise self._damaged(key, f"does not decompress ({type(exc).__name__}: {exc})") from None

    # -- reading -----------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """The whole member, checked against its CRC-32; None if there is no such member."""
        opened = self._state()
        info = opened.zip.NameToInfo.get(check_key(key))
        if info is None:
            return None
        member = self._where(opened, key, info)
        if member.offset < 0:
            return self._extract(opened, key, info, 0, member.size)
        data = self._read(opened, key, member.offset, member.size)
        if zlib.crc32(data) != info.CRC:
            raise self._damaged(key, "its bytes do not match their CRC-32")
        return data

    def get_versioned(self, key: str) -> Versioned | None:
        """The member and a version token: its CRC-32 and the offset of its local header."""
        data = self.get(key)
        if data is None:
            return None
        info = self._state().zip.NameToInfo[key]
        return Versioned(data, f"{info.CRC:08x}@{info.header_offset}")

    def get_range(self, key: str, start: int, stop: int) -> bytes | None:
        """Bytes ``[start, stop)`` of a member (fewer past its end): one ``pread`` if it is stored."""
        check_range(start, stop)
        opened = self._state()
        info = opened.zip.NameToInfo.get(check_key(key))
        if info is None:
            return None
        member = self._where(opened, key, info)
        stop = min(stop, member.size)
        if start >= stop:
            return b""
        if member.offset < 0:
            return self._extract(opened, key, info, start, stop)
        return self._read(opened, key, member.offset + start, stop - start)

    def exists(self, key: str) -> bool:
        return check_key(key) in self._state().zip.NameToInfo

    def _names(self, opened: _Opened) -> list[str]:
        """Every member name that is a valid key, sorted (built on first use)."""
        if opened.names is None:
            with opened.lock:
                if opened.names is None:
                    opened.names = sorted(name for name in opened.zip.NameToInfo if _is_key(name))
        return opened.names

    def _children(self, opened: _Opened) -> dict[str, list[str]]:
        """Prefix -> names directly below it, sorted (built on first use)."""
        if opened.children is None:
            names = self._names(opened)
            with opened.lock:
                if opened.children is None:
                    below: dict[str, set[str]] = {}
                    for name in names:
                        parts = name.split("/")
                        for depth in range(len(parts)):
                            below.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
                    opened.children = {prefix: sorted(found) for prefix, found in below.items()}
        return opened.children

    def list_dir(self, prefix: str) -> list[str]:
        key = check_key(prefix) if prefix else ""
        return list(self._children(self._state()).get(key, []))

    def list_keys(self, prefix: str) -> list[tuple[str, int]]:
        """Member names below ``prefix`` with their uncompressed sizes (from the central directory)."""
        opened = self._state()
        names = self._names(opened)
        if prefix:
            below = check_key(prefix) + "/"
            chosen = names[bisect.bisect_left(names, below) : bisect.bisect_left(names, below[:-1] + "0")]
        else:
            chosen = names
        table = opened.zip.NameToInfo
        return [(name, table[name].file_size) for name in chosen]

    def checked_members(self) -> dict[str, tuple[int, int]]:
        """Check every listed member's local header; each one's size (bytes) and CRC-32.

        Reads one local header per member (not the data). Sizes and CRC-32s are
        those of the central directory.

        Raises
        ------
        StorageError
            Naming the first member whose local header disagrees with the
            central directory or whose data lies outside the file.
        """
        opened = self._state()
        result = {}
        for name in self._names(opened):
            info = opened.zip.NameToInfo[name]
            self._where(opened, name, info)
            result[name] = (info.file_size, info.CRC)
        return result

    # -- writing: refused ----------------------------------------------------------------

    def put(self, key: str, data: bytes | memoryview) -> None:
        self._check_writable(key)

    def create(self, key: str, data: bytes) -> bool:
        self._check_writable(key)
        return False

    def replace(self, key: str, data: bytes, version: str) -> bool:
        self._check_writable(key)
        return False

    def delete(self, key: str) -> None:
        self._check_writable(key)

    def delete_if(self, key: str, version: str) -> bool:
        self._check_writable(key)
        return False

    def delete_prefix(self, prefix: str) -> int:
        self._check_writable(prefix)
        return 0

    def claim(self, key: str, data: bytes) -> Lease | None:
        self._check_writable(key)
        return None

    def is_alive(self, key: str) -> bool:
        """Always False: no import writes into a zip file read by this backend."""
        check_key(key)
        return False


def _is_key(name: str) -> bool:
    """Whether a member name is a valid key (not a directory entry, no empty, ``.`` or ``..`` parts)."""
    try:
        check_key(name)
    except ValueError:
        return False
    return True


def _local_sizes(csize: int, usize: int, extra: bytes) -> tuple[int, int] | None:
    """(compressed, uncompressed) size of a local header; from its ZIP64 extra field when marked so.

    Returns None when the header marks ZIP64 sizes but carries no ZIP64 field
    holding both (APPNOTE.TXT 4.5.3: the local header's field holds both).
    """
    if _ZIP64_MARK not in (csize, usize):
        return csize, usize
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + length]
        if kind == _ZIP64_EXTRA and len(body) >= 16:
            usize64, csize64 = struct.unpack_from("<QQ", body)
            return csize64, usize64
        position += 4 + length
    return None
