"""wildzarr: a Zarr v3 sound archive for wildlife recordings.

>>> import wildzarr
>>> arc = wildzarr.open("recordings.zarr")          # a folder, zip, URL, store or zarr.Group
>>> rec = arc.add("bat.wav", user_meta={"site": "A"})
>>> rec.read(1000, 5096).shape                      # samples [1000, 5096), every channel
(4096, 1)
"""

from wildzarr._version import __version__
from wildzarr.archive import Archive, DamagedRecordingWarning, open
from wildzarr.clips import Clips
from wildzarr.curate import Curation
from wildzarr.errors import (
    ArchiveError,
    ArgumentError,
    DamagedAnnotationsError,
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
from wildzarr.metadata import FORMAT_VERSION, RecordingInfo, RecordingTime, SourceInfo
from wildzarr.pack import PackReport, pack
from wildzarr.recording import Recording
from wildzarr.settings import get_options, set_options
from wildzarr.timing import TimeSlice

__all__ = [
    "FORMAT_VERSION",
    "Archive",
    "ArchiveError",
    "ArgumentError",
    "Clips",
    "Curation",
    "DamagedAnnotationsError",
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
    "RecordingTime",
    "SourceError",
    "SourceInfo",
    "StorageError",
    "StreamError",
    "TimeSlice",
    "UnsafeNodeError",
    "UnsupportedSourceError",
    "WildzarrError",
    "__version__",
    "get_options",
    "open",
    "pack",
    "set_options",
]
