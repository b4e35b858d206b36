"""Byte-level storage of an archive: the :class:`Backend` contract and :func:`open_backend`.

This package is the only place that knows how a target a user names (a folder,
a ``.zip`` file, a URL, a zarr store or group) maps to a store:

- a folder: :class:`LocalBackend`;
- a ``.zip`` file: :class:`ZipBackend` (read-only, stored members read in
  place) in mode ``"r"``, and in every mode for a zip written by ``wildzarr
  pack``; in the other modes a zarr ``ZipStore`` through
  :class:`ZarrStoreBackend`, for building small zip archives in place;
- ``s3://`` URLs: :class:`S3Backend`; other fsspec URLs: :class:`FsspecBackend`;
- a zarr store or group: the backend of its kind, else :class:`ZarrStoreBackend`.
"""

from __future__ import annotations

import os
import urllib.parse
import zipfile
from typing import Any, Literal

import zarr
from fsspec.core import url_to_fs
from zarr.abc.store import Store
from zarr.storage import FsspecStore, LocalStore, ZipStore

from wildzarr.errors import ArchiveError, ArgumentError, MissingDependencyError
from wildzarr.storage.base import Backend, Lease, Versioned, check_key, join, storage_error
from wildzarr.storage.fsspec import FsspecBackend, S3Backend
from wildzarr.storage.local import LocalBackend
from wildzarr.storage.zarrstore import ZarrStoreBackend
from wildzarr.storage.zipped import ZipBackend

__all__ = [
    "MODES",
    "Backend",
    "FsspecBackend",
    "Lease",
    "LocalBackend",
    "S3Backend",
    "Versioned",
    "ZarrStoreBackend",
    "ZipBackend",
    "check_key",
    "join",
    "open_backend",
]

#: ``r`` read only, must exist; ``r+`` read and write, must exist; ``a`` created if missing; ``w`` created.
MODES: tuple[str, ...] = ("r", "r+", "a", "w")


def open_backend(
    target: Any, *, mode: str, storage_options: dict[str, Any] | None = None
) -> tuple[Backend, str]:
    """The backend of the store that holds ``target``, and the key prefix of ``target`` inside it.

    Parameters
    ----------
    target : str, os.PathLike, zarr.abc.store.Store or zarr.Group
        A local folder; a ``.zip`` file (any case); a URL (``file://``,
        ``s3://bucket/prefix``, ``memory://name``, any fsspec protocol); a zarr
        store; or a zarr group (whose path becomes the prefix).
    mode : {"r", "r+", "a", "w"}
        The backend is read-only for ``"r"`` (and for a read-only store, and
        for a zip file written by ``wildzarr pack`` in every mode). ``"r"`` and
        ``"r+"`` need a local folder or zip file to exist; ``"a"`` and ``"w"``
        make a missing folder (and its parents; for a zip file, the folders it
        goes in).
    storage_options : dict, optional
        Options of the fsspec file system of a URL (``endpoint_url``, ``key``,
        ``secret``, ``client_kwargs`` ... for s3fs).

    Returns
    -------
    backend : Backend
        Over the root of the store (``s3://bucket/prefix`` is the root of an S3 target).
    prefix : str
        ``""``, or the path of a group target inside its store.

    Raises
    ------
    ArchiveError
        If a local folder or zip file is missing in mode ``"r"``/``"r+"``, the
        path is a file that is neither (a ``.zip`` file that is no zip file in
        mode ``"r"``), or the URL's protocol is unknown.
    MissingDependencyError
        If the URL's protocol needs a package that is not installed (s3fs for ``s3://``).
    ArgumentError
        If ``mode`` is not one of the four, ``storage_options`` come with a
        target that is not an fsspec URL, or ``target`` is of another type.
    """
    if mode not in MODES:
        raise ArgumentError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if isinstance(target, zarr.Group):
        _no_options(storage_options, target)
        return _store_backend(target.store, mode), target.path
    if isinstance(target, Store):
        _no_options(storage_options, target)
        return _store_backend(target, mode), ""
    if isinstance(target, str | os.PathLike):
        text = os.fspath(target)
        if not isinstance(text, str):
            raise ArgumentError(f"archive paths must be text, not {type(text).__name__}")
        if text.startswith("file://"):
            _no_options(storage_options, text)
            return _local_backend(urllib.parse.unquote(urllib.parse.urlparse(text).path), mode), ""
        if "://" in text:
            return _url_backend(text, mode, storage_options or {}), ""
        _no_options(storage_options, text)
        return _local_backend(os.path.expanduser(text), mode), ""
    raise ArgumentError(
        f"cannot open an archive from a {type(target).__name__}: give a path, URL, zarr store or zarr.Group"
    )


def _no_options(storage_options: dict[str, Any] | None, target: object) -> None:
    if storage_options is not None:
        raise ArgumentError(f"storage_options apply to fsspec URLs (s3://, memory:// ...), not to {target!r}")


def _local_backend(path: str, mode: str) -> Backend:
    """A folder or, for a ``.zip`` name, a zip file."""
    if path.lower().endswith(".zip"):
        return _zip_backend(path, mode)
    try:
        if os.path.exists(path) and not os.path.isdir(path):
            raise ArchiveError(f"{path}: is a file, not an archive folder or .zip file")
        if not os.path.isdir(path):
            if mode in ("r", "r+"):
                raise ArchiveError(f"{path}: no such archive folder")
            os.makedirs(path, exist_ok=True)
    except OSError as exc:  # permission denied, read-only file system ...
        raise storage_error(exc, path) from exc
    return LocalBackend(path, read_only=mode == "r")


def _zip_backend(path: str, mode: str) -> Backend:
    """A zip file: :class:`ZipBackend` to read it, or a zarr ``ZipStore`` to write it.

    Mode ``"r"`` and zip files written by ``wildzarr pack`` (in any mode: they
    are finished archives, and writes raise ReadOnlyError naming the file) get
    a ZipBackend; other zip files in modes ``"r+"``, ``"a"`` and ``"w"`` a
    ZipStore, which appends a member for every write.
    """
    if mode in ("r", "r+") and not os.path.isfile(path):
        raise ArchiveError(f"{path}: no such zip file")
    if mode == "r":
        return ZipBackend(path)
    packed = _packed_zip(path)
    if packed is not None:
        return packed
    zip_mode: Literal["w", "a"] = "w" if mode == "w" else "a"
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return ZarrStoreBackend(ZipStore(path, mode=zip_mode), owns_store=True)
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{path}: not a zip file ({exc})") from exc
    except OSError as exc:  # permission denied, read-only file system ...
        raise storage_error(exc, path) from exc


def _packed_zip(path: str) -> ZipBackend | None:
    """A ZipBackend over ``path`` if it is a zip file written by ``wildzarr pack``, else None."""
    if not os.path.isfile(path):
        return None
    try:
        backend = ZipBackend(path)
    except ArchiveError:  # not a zip file: left to ZipStore, as before
        return None
    if backend.packed:
        return backend
    backend.close()
    return None


def _url_backend(url: str, mode: str, storage_options: dict[str, Any]) -> Backend:
    """An fsspec URL: ``s3://`` to :class:`S3Backend`, any other protocol to :class:`FsspecBackend`."""
    read_only = mode == "r"
    if url.startswith("s3://"):
        try:
            import s3fs
        except ImportError as exc:
            raise MissingDependencyError('s3:// archives need s3fs: pip install "wildzarr[s3]"') from exc
        root = url[len("s3://") :].strip("/")
        return S3Backend(s3fs.S3FileSystem(**storage_options), root, read_only=read_only)
    try:
        fs, root = url_to_fs(url, **storage_options)
    except ImportError as exc:
        raise MissingDependencyError(f"{url}: {exc}") from exc
    except ValueError as exc:  # "Protocol not known: ..."
        raise ArchiveError(f"{url}: {exc}") from exc
    return FsspecBackend(fs, root, read_only=read_only)


def _store_backend(store: Store, mode: str) -> Backend:
    """The backend over a zarr store's root: folders and fsspec stores natively, others through zarr."""
    read_only = mode == "r" or store.read_only
    if isinstance(store, LocalStore):
        return LocalBackend(store.root, read_only=read_only)
    if isinstance(store, FsspecStore):
        if _is_s3fs(store.fs):
            return S3Backend(store.fs, store.path, read_only=read_only)
        return FsspecBackend(store.fs, store.path, read_only=read_only)
    return ZarrStoreBackend(store, read_only=read_only)


def _is_s3fs(fs: object) -> bool:
    try:
        import s3fs
    except ImportError:  # then fs cannot be one
        return False
    return isinstance(fs, s3fs.S3FileSystem)
