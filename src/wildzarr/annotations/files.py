"""Reading and writing annotation text files with pandas, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from wildzarr.errors import ArgumentError, StorageError

__all__ = ["check_text_cells", "read_csv", "write_csv"]


def read_csv(path: str | os.PathLike[str], **options: Any) -> pd.DataFrame:
    """``pandas.read_csv(path, encoding="utf-8-sig", **options)`` (a byte-order mark is skipped).

    Raises StorageError naming the file when it cannot be read, ArgumentError when it is not UTF-8 text
    of the expected form.
    """
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **options)
    except OSError as exc:
        raise StorageError(f"{Path(path)}: cannot read it: {exc.strerror or exc}", str(path)) from None
    except (UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise ArgumentError(f"{Path(path)}: cannot read it as an annotation table: {exc}") from None


def check_text_cells(frame: pd.DataFrame, path: str | os.PathLike[str], forbidden: str) -> None:
    """ArgumentError naming the row and column of the first text cell holding a character of ``forbidden``."""
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values.dtype):
            continue
        for i, value in enumerate(values.tolist()):
            if isinstance(value, str) and any(c in value for c in forbidden):
                raise ArgumentError(
                    f"{Path(path)}: row {i} column {column!r} holds {value!r}; the format cannot hold "
                    f"the characters {forbidden!r}"
                )


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str], **options: Any) -> None:
    """``frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\\n", **options)``.

    Raises StorageError naming the file when it cannot be written.
    """
    try:
        frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n", **options)
    except OSError as exc:
        raise StorageError(f"{Path(path)}: cannot write it: {exc.strerror or exc}", str(path)) from None
