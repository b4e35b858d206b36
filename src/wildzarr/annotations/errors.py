"""The warning of annotation sets (their error, :class:`~wildzarr.errors.DamagedAnnotationsError`, is in
:mod:`wildzarr.errors`, re-exported here).
"""

from __future__ import annotations

import sys
import warnings

from wildzarr.errors import DamagedAnnotationsError

__all__ = ["AnnotationWarning", "DamagedAnnotationsError", "warn"]


class AnnotationWarning(UserWarning):
    """Issued when an import changes what a file said: rows clipped to their recording or dropped."""


def warn(message: str) -> None:
    """Issue an :class:`AnnotationWarning` attributed to the first caller outside this package."""
    frame, level = sys._getframe(1), 2
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith(__package__ or __name__):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    warnings.warn(message, AnnotationWarning, stacklevel=level)
