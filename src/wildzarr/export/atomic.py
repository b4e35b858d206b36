"""Writing a file under a temporary name beside it, renamed into place only when it is complete."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from wildzarr.errors import StorageError

__all__ = ["replacing"]


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[IO[bytes]]:
    """A new temporary file beside ``target``, renamed onto it when the block succeeds, removed otherwise.

    Created with mode 0o666 less the umask, as ``open`` creates files.
    """
    temporary = target.parent / f".{target.name}.{secrets.token_hex(6)}.wildzarr-export"
    try:
        handle = os.fdopen(os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666), "r+b")
    except OSError as exc:
        raise StorageError(f"{target}: cannot write the file: {exc.strerror or exc}", str(target)) from exc
    done = False
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        done = True
    except OSError as exc:
        raise StorageError(f"{target}: cannot write the file: {exc.strerror or exc}", str(target)) from exc
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
