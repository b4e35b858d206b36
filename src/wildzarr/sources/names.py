"""File names and paths as valid Unicode, for names, stored paths and error messages.

On Linux a file name is any sequence of bytes but ``/`` and NUL: it may hold
bytes that are not UTF-8, newlines and other control characters. Python gives
such names as ``str`` with the undecodable bytes as lone surrogates
(``os.fsdecode``, the ``surrogateescape`` error handler); those cannot be
encoded as UTF-8, so JSON documents and terminals refuse them. The sources open
files by their real path and report them through :func:`display_name`.
"""

from __future__ import annotations

import os

__all__ = ["display_name"]


def display_name(name: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """A file name or path as valid Unicode text that UTF-8 and JSON accept.

    The OS bytes of the name (``os.fsencode``) are decoded as UTF-8 with
    ``errors="backslashreplace"``: a byte that is not UTF-8 shows as ``\\xe9``
    (``b"caf\\xe9.wav"`` -> ``"caf\\\\xe9.wav"``); valid UTF-8 names come back
    unchanged. Newlines and control characters are kept (JSON escapes them;
    displays must escape them too). A ``str`` holding lone surrogates that no
    OS name can hold shows them as ``\\udXXX`` escapes.

    Parameters
    ----------
    name : str, bytes or os.PathLike
        A name or path as given to ``open``.

    Returns
    -------
    str
        Text for which ``text.encode("utf-8")`` never fails.
    """
    try:
        raw = os.fsencode(name)
    except UnicodeEncodeError:  # surrogates that are not escaped bytes: keep them visible
        raw = os.fsdecode(name).encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")
