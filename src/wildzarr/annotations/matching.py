"""Which recording an annotation file (or a row of a multi-file table) belongs to.

Three ways, chosen by the importers' ``recording`` argument:

- an **id** (int): every row belongs to that recording;
- a **function** ``file_name -> id``: called once per file name;
- **None**: the recording whose original file name (``info.source.name``, the
  catalog's ``source.name``) matches, compared without folders, first as is,
  then without the suffix (``x.wav`` in a table finds a recording imported
  from ``x.flac``), then without the suffix and case. Two recordings that
  match at the same step are an error naming both ids; pass ``recording=``
  to choose.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from wildzarr.annotations.recordings import source_names
from wildzarr.errors import ArgumentError

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["RecordingChoice", "base_name", "match_files"]

#: The ``recording`` argument of the importers.
RecordingChoice = int | Callable[[str], int] | None


def base_name(name: str) -> str:
    """``name`` without its folders (``/`` or, in Windows paths, ``\\``)."""
    return PureWindowsPath(name).name if "\\" in name else PurePosixPath(name).name


def _stem(name: str) -> str:
    return PurePosixPath(name).stem


def _by_name(file_name: str, names: dict[int, str], source: str) -> int:
    wanted = base_name(file_name)
    steps: list[tuple[str, Callable[[str], str]]] = [
        ("file name", lambda n: n),
        ("file name without its suffix", _stem),
        ("file name without its suffix, ignoring case", lambda n: _stem(n).casefold()),
    ]
    for what, key in steps:
        found = sorted(rid for rid, name in names.items() if key(base_name(name)) == key(wanted))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listed = ", ".join(map(str, found))
            raise ArgumentError(
                f"{source}: {wanted!r} matches recordings {listed} by {what} (each was imported from a file "
                "of that name); pass recording= an id or a function of the file name to choose"
            )
    raise ArgumentError(
        f"{source}: no recording of the archive was imported from a file named like {wanted!r}; "
        "pass recording= an id or a function of the file name"
    )


def match_files(
    archive: Archive, files: Iterable[str], recording: RecordingChoice, source: str
) -> dict[str, int]:
    """The recording id of each file name.

    Parameters
    ----------
    archive : Archive
    files : iterable of str
        File names as the annotation file gives them (with or without folders).
    recording : int, callable or None
        See the module docstring.
    source : str
        The annotation file, for messages.

    Returns
    -------
    dict
        File name -> recording id (not checked to exist: adding the rows does that).

    Raises
    ------
    ArgumentError
        If a name matches no recording or several, or ``recording`` is not an
        int, a callable or None, or the callable returns no int.
    """
    wanted = list(dict.fromkeys(files))
    if recording is None:
        names = source_names(archive)
        return {f: _by_name(f, names, source) for f in wanted}
    if callable(recording):
        found: dict[str, int] = {}
        for f in wanted:
            rid = recording(f)
            if isinstance(rid, bool) or not isinstance(rid, numbers.Integral):
                raise ArgumentError(f"{source}: recording({f!r}) returned {rid!r}, not a recording id (int)")
            found[f] = int(rid)
        return found
    if isinstance(recording, bool) or not isinstance(recording, numbers.Integral):
        raise ArgumentError(
            f"recording must be an id (int), a function of the file name, or None, not {recording!r}"
        )
    return dict.fromkeys(wanted, int(recording))
