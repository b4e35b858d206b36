"""Durable files: fsync a tree, publish a finished folder by one rename, remove what is left over.

A result is written into a temporary path beside its final one, fsynced
(:func:`fsync_tree`), then renamed into place (:func:`publish`): it appears
complete or not at all, also after a crash. Used by the DAS writer and by
:mod:`wildzarr.curate` (shards, work folders, finished outputs).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from wildzarr.errors import StorageError

__all__ = ["clear", "fsync_tree", "publish", "remove"]


def fsync_tree(path: Path) -> None:
    """fsync every file and folder below ``path`` (and ``path``): all of it is on disk afterwards.

    Raises StorageError naming the path that failed.
    """
    try:
        for folder, _, files in os.walk(path):
            for name in files:
                fd = os.open(os.path.join(folder, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            _fsync_folder(Path(folder))
    except OSError as exc:
        raise StorageError(f"{path}: cannot write to disk: {exc.strerror or exc}", str(path)) from exc


def _fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(temp: Path, final: Path) -> bool:
    """Rename the complete, fsynced ``temp`` to ``final`` and fsync its folder: all or nothing.

    Returns False, removing ``temp``, when ``final`` exists already (another
    writer got there first); rename(2) is atomic, so ``final`` is never seen
    half written.
    """
    if final.exists():
        remove(temp)
        return False
    try:
        os.rename(temp, final)
    except OSError as exc:
        if final.exists():  # ENOTEMPTY / EEXIST: lost a race to an equal result
            remove(temp)
            return False
        raise StorageError(
            f"{final}: cannot rename {temp.name} to it: {exc.strerror or exc}", str(final)
        ) from exc
    try:
        _fsync_folder(final.parent)
    except OSError as exc:
        raise StorageError(
            f"{final.parent}: cannot write to disk: {exc.strerror or exc}", str(final)
        ) from exc
    return True


def remove(path: Path) -> None:
    """Remove the file, symlink or folder ``path`` if there, ignoring errors: clean-up after a failure.

    Errors are ignored so that the failure being cleaned up after is the one reported.
    """
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clear(path: Path) -> None:
    """Remove the file, symlink or folder ``path`` if there; OSError if it cannot be removed.

    For leftovers that must be gone before work goes on (unlike :func:`remove`).
    """
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
