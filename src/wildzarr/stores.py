"""Resolve what a user names (a folder, a URL, a zip file, a store, a group) to a Zarr group.

This is the only module that knows how targets map to zarr stores; everything
above it works on a :class:`zarr.Group`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TypeAlias

import zarr
from zarr.abc.store import Store
from zarr.storage import LocalStore, ZipStore

from wildzarr.errors import ArchiveError

__all__ = ["MODES", "Mode", "Target", "open_group"]

Mode: TypeAlias = Literal["r", "r+", "a", "w"]
MODES: tuple[str, ...] = ("r", "r+", "a", "w")
Target: TypeAlias = "str | os.PathLike[str] | Store | zarr.Group"


def _store_for(target: str | os.PathLike[str], mode: Mode) -> Store | str:
    """Map a path or URL to a store (or to a URL zarr resolves through fsspec)."""
    text = os.fspath(target)
    if "://" in text:
        return text  # zarr opens URLs through fsspec (memory://, s3://, ...)
    path = Path(text).expanduser()
    if path.suffix.lower() == ".zip":
        if mode in ("r", "r+") and not path.is_file():
            raise ArchiveError(f"{path}: no such zip file")
        return ZipStore(path, mode="r" if mode == "r" else ("w" if mode == "w" else "a"))
    if mode in ("r", "r+") and not path.is_dir():
        raise ArchiveError(f"{path}: no such archive folder")
    return LocalStore(path, read_only=mode == "r")


def open_group(target: Target, path: str | None, mode: Mode) -> zarr.Group:
    """Open the group an archive attaches at.

    Parameters
    ----------
    target : str, os.PathLike, zarr.abc.store.Store or zarr.Group
        A local folder, a ``.zip`` file, an fsspec URL (``memory://...``,
        ``s3://bucket/key``), a zarr store, or an open group.
    path : str or None
        The group below ``target`` (``"sites/A/2024"``); ``None`` or ``""`` for
        ``target`` itself.
    mode : {"r", "r+", "a", "w"}
        ``r`` read only, must exist; ``r+`` read and write, must exist; ``a``
        read and write, created if missing; ``w`` created, deleting whatever
        was at the group before.

    Returns
    -------
    zarr.Group

    Raises
    ------
    ArchiveError
        If ``mode`` is not one of the four, or the group does not exist in
        modes ``r`` and ``r+``.
    """
    if mode not in MODES:
        raise ArchiveError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    sub = (path or "").strip("/")
    try:
        if isinstance(target, zarr.Group):
            if mode == "r" and not target.store.read_only:
                target = zarr.open_group(target.store.with_read_only(True), path=target.path, mode="r")
            if not sub:
                if mode == "w":
                    return zarr.open_group(target.store, path=target.path, mode="w")
                return target
            return zarr.open_group(target.store, path=f"{target.path}/{sub}".strip("/"), mode=mode)
        store = target if isinstance(target, Store) else _store_for(target, mode)
        if isinstance(store, Store) and mode == "r" and not store.read_only:
            store = store.with_read_only(True)
        return zarr.open_group(store, path=sub, mode=mode)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as exc:
        raise ArchiveError(f"{_describe(target)}: no group at {sub or '/'!r} ({exc})") from exc


def _describe(target: Target) -> str:
    if isinstance(target, zarr.Group):
        return f"group {target.path or '/'!r} of {target.store}"
    return str(target)
