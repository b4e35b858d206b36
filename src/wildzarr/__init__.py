"""wildzarr: a Zarr v3 sound archive for wildlife recordings.

>>> import wildzarr
>>> arc = wildzarr.open("recordings.zarr")          # a folder, zip, URL, store or zarr.Group
>>> rec = arc.add("bat.wav", user_meta={"site": "A"})
>>> rec.read(1000, 5096).shape                      # samples [1000, 5096), every channel
(4096, 1)
"""

from wildzarr._version import __version__
from wildzarr.archive import Archive, DamagedRecordingWarning, open
from wildzarr.errors import (
    ArchiveError,
    ArgumentError,
    DamagedRecordingError,
    DuplicateRecordingError,
    MetadataError,
    MissingDependencyError,
    RangeError,
    ReadOnlyError,
    RecordingNotFoundError,
    SourceError,
    StorageError,
    StreamError,
    UnsafeNodeError,
    UnsupportedSourceError,
    WildzarrError,
)
from wildzarr.metadata import FORMAT_VERSION, RecordingInfo, SourceInfo
from wildzarr.pack import PackReport, pack
from wildzarr.recording import Recording
from wildzarr.settings import get_options, set_options

__all__ = [
    "FORMAT_VERSION",
    "Archive",
    "ArchiveError",
    "ArgumentError",
    "DamagedRecordingError",
    "DamagedRecordingWarning",
    "DuplicateRecordingError",
    "MetadataError",
    "MissingDependencyError",
    "PackReport",
    "RangeError",
    "ReadOnlyError",
    "Recording",
    "RecordingInfo",
    "RecordingNotFoundError",
    "SourceError",
    "SourceInfo",
    "StorageError",
    "StreamError",
    "UnsafeNodeError",
    "UnsupportedSourceError",
    "WildzarrError",
    "__version__",
    "get_options",
    "open",
    "pack",
    "set_options",
]
