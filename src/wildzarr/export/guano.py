"""GUANO metadata of an exported range: the source's fields with ``Timestamp`` and ``Length`` made to fit."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from wildzarr import timebase
from wildzarr.starttime import parse_guano_timestamp

__all__ = ["guano_text"]


def guano_text(
    fields: Mapping[str, Any],
    first: int,
    last: int,
    samplerate: int,
    time_expansion: float,
    source_name: str,
) -> str:
    """GUANO metadata for samples ``[first, last)`` of a recording whose GUANO fields are ``fields``.

    GUANO v1.0 (https://github.com/riggsd/guano-spec): UTF-8 text, one
    ``key: value`` per line, ``GUANO|Version`` first (``1.0`` when the
    fields have none). Every field is kept as read, except:

    - ``Timestamp``: shifted by ``first / (samplerate * time_expansion)``
      seconds, in the same form (with or without a UTC offset, ``T`` or
      space, see :meth:`wildzarr.starttime.GuanoTimestamp.shifted`); a
      Timestamp that cannot be read is kept when ``first`` is 0 and left out
      otherwise (a time not shifted would be wrong);
    - ``Length``: the exported duration in real seconds, ``(last - first) /
      (samplerate * time_expansion)`` (the spec: ".WAV length divided by TE");
    - ``Original Filename``: set to ``source_name`` when absent (the spec asks
      editing software to keep this "paper trail").

    Values holding a line break get the spec's two-character ``\\n``; keys
    that cannot be written (empty, with a ``:`` or a line break) are left
    out. The text is padded with a space to an even number of bytes (the
    spec's advice for WAV chunks).
    """
    rate = timebase.samples_per_second(samplerate, time_expansion)
    out: dict[str, str] = {"GUANO|Version": str(fields.get("GUANO|Version") or "1.0")}
    for key, value in fields.items():
        key = str(key).strip()
        if not key or ":" in key or "\n" in key or "\r" in key or key in out:
            continue
        out[key] = str(value)
    if "Timestamp" in out and first:
        try:
            out["Timestamp"] = parse_guano_timestamp(out["Timestamp"]).shifted(Fraction(first) / rate)
        except ValueError:
            del out["Timestamp"]
    out["Length"] = _decimal(Fraction(last - first) / rate)
    out.setdefault("Original Filename", source_name)
    lines = [f"{key}: {_one_line(value)}" for key, value in out.items()]
    text = "\n".join(lines) + "\n"
    return text + " " if len(text.encode("utf-8")) % 2 else text


def _one_line(value: str) -> str:
    """A GUANO value on one line: line breaks as the two characters ``\\n`` (GUANO v1.0 multiline strings)."""
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def _decimal(value: Fraction) -> str:
    """``value`` with at most 6 decimals, trailing zeros dropped (``0.3072``, ``4``)."""
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return text or "0"
