"""What makes ``Curation.materialise`` resumable: the fingerprint of a run, markers, the work folder.

A run works in ``<out>.partial/``: ``plan.json`` records the fingerprint of
the curation and options it holds the work of, ``shards/`` the done shards,
``lock`` is ``flock``ed while a run uses it. A finished output holds
:data:`MARKER`, with the fingerprint it was made from.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from wildzarr._version import __version__
from wildzarr.curate.shards import Shard
from wildzarr.das.files import clear, fsync_tree, publish
from wildzarr.errors import ArgumentError, StorageError

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["MARKER", "fingerprint_of", "marker_text", "read_marker", "work_folder"]

#: Written into a finished output: what it was made from (a rerun finds its work done).
MARKER = ".wildzarr-curation.json"


def fingerprint_of(archive: Archive, df: pd.DataFrame, shards: list[Shard], **options: Any) -> str:
    """sha256 of the rows, the archive's location and the options: what a rerun must match."""
    digest = hashlib.sha256()
    digest.update(f"{archive!r} {__version__}".encode())
    digest.update(df.to_csv(index=False).encode())
    cut = [(s.name, s.split, s.rows) for s in shards]
    digest.update(json.dumps([options, cut], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def marker_text(fingerprint: str, rows: int) -> str:
    """The content of :data:`MARKER`: the fingerprint, the number of rows, the version of wildzarr."""
    return json.dumps({"fingerprint": fingerprint, "rows": rows, "wildzarr": __version__})


def read_marker(target: Path) -> str | None:
    """The fingerprint recorded in a finished output, or None."""
    try:
        return str(json.loads((target / MARKER).read_text())["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def work_folder(work: Path, fingerprint: str, resume: bool) -> Iterator[None]:
    """Hold ``work`` for this run: created (or checked and reused), locked, rid of unfinished shards.

    The lock is an ``flock`` on ``work/lock``, which the kernel releases when
    its holder dies (SIGKILL included): a second run on the same output at
    the same time is refused, a rerun after a crash is not.

    Raises ArgumentError if another process holds it, or (with ``resume``) it
    holds the work of another curation or other options.
    """
    if not work.exists():
        _publish_folder(work, fingerprint)
    try:
        fd = os.open(work / "lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise StorageError(f"{work}: cannot open its lock: {exc.strerror or exc}", str(work)) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArgumentError(f"{work}: another process is materialising into it now") from None
        recorded = _recorded(work)
        if recorded != fingerprint:
            if resume:
                raise ArgumentError(
                    f"{work}: holds the work of another curation or other options; "
                    "pass resume=False to start over"
                )
            clear(work / "shards")
            (work / "shards").mkdir()
            _write_plan(work, fingerprint)
        elif not resume:
            clear(work / "shards")
            (work / "shards").mkdir()
        for entry in work.iterdir():  # what a killed run left (its workers are gone: see workers._watch)
            if entry.name.startswith(("tmp-", "final")):
                clear(entry)
        yield
    finally:
        os.close(fd)


def _recorded(work: Path) -> str | None:
    try:
        value = json.loads((work / "plan.json").read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _write_plan(work: Path, fingerprint: str) -> None:
    """``work/plan.json`` replaced atomically (a fsynced temporary file renamed over it)."""
    temp = work / f"tmp-plan-{secrets.token_hex(4)}"
    temp.write_text(json.dumps({"fingerprint": fingerprint}))
    fsync_tree(temp)
    os.replace(temp, work / "plan.json")
    fsync_tree(work / "plan.json")


def _publish_folder(work: Path, fingerprint: str) -> None:
    """Create ``work`` with its plan and an empty ``shards`` folder, all at once (unless another run did)."""
    temp = work.with_name(f"{work.name}.tmp-{secrets.token_hex(4)}")
    try:
        (temp / "shards").mkdir(parents=True)
        (temp / "plan.json").write_text(json.dumps({"fingerprint": fingerprint}))
    except OSError as exc:
        clear(temp)
        raise StorageError(
            f"{work}: cannot create the work folder: {exc.strerror or exc}", str(work)
        ) from exc
    fsync_tree(temp)
    publish(temp, work)
