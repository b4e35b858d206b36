"""The exception hierarchy of wildzarr.

Every error the package raises on purpose derives from :class:`WildzarrError`.
Each subclass also derives from the built-in exception a caller would expect
(``KeyError`` for an unknown recording, ``IndexError`` for an out-of-range
read, ``ValueError`` for bad input, ``PermissionError`` for a write to a
read-only archive), so code may catch either::

    WildzarrError
    ├── ArchiveError                 the group is not a usable archive
    ├── DamagedRecordingError        a recording's stored documents are unreadable or disagree
    ├── DamagedAnnotationsError      an annotation set's stored document or table is unreadable
    ├── StorageError                 (OSError) the store failed: disk full, permission denied ...
    │   └── UnsafeNodeError          a symlink, FIFO or device where a stored object or folder should be
    ├── MissingDependencyError       (ImportError) an optional extra is not installed
    ├── ArgumentError                (ValueError) an argument of the wrong type or value
    ├── ReadOnlyError                (PermissionError) a write in mode "r"
    ├── RecordingNotFoundError       (KeyError) no complete recording has that id
    ├── DuplicateRecordingError      (ValueError) the same content is already archived
    ├── SourceError                  (ValueError) a file or array that cannot be imported
    │   └── UnsupportedSourceError   valid audio the chosen codec cannot store
    ├── StreamError                  (ValueError) a codec byte stream failed validation
    ├── RangeError                   (IndexError) a read outside [0, samples]
    └── MetadataError                (ValueError) metadata that is not JSON-compatible

Messages always name the recording id or the file concerned.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArchiveError",
    "ArgumentError",
    "DamagedAnnotationsError",
    "DamagedRecordingError",
    "DamagedRecordingWarning",
    "DuplicateRecordingError",
    "MetadataError",
    "MissingDependencyError",
    "RangeError",
    "ReadOnlyError",
    "RecordingNotFoundError",
    "SourceError",
    "StorageError",
    "StreamError",
    "UnsafeNodeError",
    "UnsupportedSourceError",
    "WildzarrError",
]


class WildzarrError(Exception):
    """Base class of every error raised by wildzarr.

    Every error pickles with its message and attributes (``recording_id``,
    ``reason``, ``path`` ...), so that one raised in a worker process (a
    ``ProcessPoolExecutor``, a DataLoader worker, a dask worker) reaches the
    caller as it was raised.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickles ``args`` only and calls ``type(self)(*args)``, which fails or loses the
        # attributes of subclasses whose __init__ takes other arguments than the message.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[WildzarrError], args: tuple[Any, ...], state: dict[str, Any]) -> WildzarrError:
    """An error of class ``cls`` with ``args`` and attributes ``state``, without calling its __init__."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ArchiveError(WildzarrError):
    """Raised when a group cannot be opened as an archive.

    For example: mode ``"r"`` or ``"r+"`` on a group that holds no archive, or an
    archive written by a newer format version than this package reads.
    """


class DamagedRecordingError(WildzarrError):
    """Raised when a recording's stored documents are unreadable, invalid or contradict each other.

    For example a truncated or bit-flipped ``zarr.json``, a checksum mismatch,
    an id that differs from the group's name, or a sample count that disagrees
    with the stream and its frame index. ``recording_id`` holds the id.
    """

    def __init__(self, recording_id: int, reason: str) -> None:
        super().__init__(f"recording {recording_id} is damaged: {reason}")
        self.recording_id = recording_id
        self.reason = reason


class DamagedAnnotationsError(WildzarrError):
    """Raised when an annotation set's stored document or table is unreadable or inconsistent.

    For example a bit-flipped or truncated ``zarr.json`` (its checksum fails), a
    document naming a table version that is missing, or a column whose length
    differs from the row count. ``set_name`` holds the set's name and
    ``reason`` what is wrong. Other sets, and the recordings, are not affected.
    """

    def __init__(self, set_name: str, reason: str) -> None:
        super().__init__(f"annotation set {set_name!r} is damaged: {reason}")
        self.set_name = set_name
        self.reason = reason


class DamagedRecordingWarning(UserWarning):
    """Issued once per damaged recording when iterating over an archive or building its catalog skips it."""


class StorageError(WildzarrError, OSError):
    """Raised when the store fails or holds something unsafe where an object should be.

    Disk full, permission denied, a read-only file system, a network error, or
    a symlink, FIFO or device file where a stored object or folder should be.
    The message names the path or URL; ``path`` holds it.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:  # OSError would otherwise format (errno, strerror)
        return str(self.args[0])


class UnsafeNodeError(StorageError):
    """Raised when a symlink, FIFO, device or socket stands where a stored object or folder should be.

    Never followed nor opened for reading or writing: a store holding one is
    damaged or hostile. Reading a recording through such a node raises
    :class:`DamagedRecordingError` instead, naming the recording.
    """


class MissingDependencyError(WildzarrError, ImportError):
    """Raised when a feature needs an optional extra that is not installed.

    The message names the extra to install, e.g. ``pip install "wildzarr[s3]"``.
    """


class ArgumentError(WildzarrError, ValueError):
    """Raised when an argument has a wrong type or value.

    For example a dtype a read cannot produce, a slice step other than 1, an
    unknown codec id or an invalid codec parameter.
    """


class ReadOnlyError(WildzarrError, PermissionError):
    """Raised when a write is attempted on an archive opened with mode ``"r"``."""


class RecordingNotFoundError(WildzarrError, KeyError):
    """Raised when no complete recording has the requested id."""

    def __init__(self, recording_id: object, where: str = "") -> None:
        self.recording_id = recording_id
        suffix = f" in {where}" if where else ""
        super().__init__(f"no recording with id {recording_id!r}{suffix}")

    def __str__(self) -> str:  # KeyError would otherwise print the repr of args
        return str(self.args[0])


class DuplicateRecordingError(WildzarrError, ValueError):
    """Raised when a source's content (sha256) is already in the archive.

    ``existing_id`` holds the id of the recording with the same content.
    """

    def __init__(self, message: str, existing_id: int) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class SourceError(WildzarrError, ValueError):
    """Raised when a file or array cannot be imported.

    Empty, truncated or non-audio files, folders, videos without an audio
    stream, arrays of the wrong shape, NaN samples, invalid sample rates.
    """


class UnsupportedSourceError(SourceError):
    """Raised when valid audio cannot be stored by the chosen codec.

    For example more than 32-bit integers for FLAC, or a sample rate above
    96 kHz for AAC without time expansion.
    """


class StreamError(WildzarrError, ValueError):
    """Raised when a codec byte stream fails validation.

    ``code`` is the status code of the codec's scanner that found it
    (:class:`wildzarr.scan.FlacStatus`, :class:`wildzarr.scan.AdtsStatus`, or
    the npy segment codes of :mod:`wildzarr.codecs.npy`; 0 when no scanner
    gave one), ``offset`` the byte offset in the stream where the problem
    was found (-1 when unknown) and ``frame`` the number of the frame that failed
    (counted from 0 in the sequence a decoder was given; -1 when unknown).
    """

    def __init__(self, message: str, code: int = 0, offset: int = -1, frame: int = -1) -> None:
        super().__init__(message)
        self.code = code
        self.offset = offset
        self.frame = frame


class RangeError(WildzarrError, IndexError):
    """Raised when a read asks for samples outside ``[0, samples]``."""


class MetadataError(WildzarrError, ValueError):
    """Raised when metadata is not JSON-compatible (or not a dict with str keys)."""
