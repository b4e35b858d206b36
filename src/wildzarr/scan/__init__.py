"""Validating frame scanners: the byte offset and first sample of every frame of a stream.

Each scanner checks a complete stream held in memory with the C core
(:mod:`wildzarr._core`, built from ``csrc/``) and returns what its headers say
plus a :class:`wildzarr.index.FrameIndex`; a stream that fails validation
raises :class:`wildzarr.errors.StreamError` with the C status code, the byte
offset and the frame concerned.

- :mod:`wildzarr.scan.flac`: FLAC (RFC 9639), :func:`scan_flac`.
- :mod:`wildzarr.scan.adts`: AAC LC in ADTS frames (ISO/IEC 13818-7 section 6.2),
  :func:`scan_adts`.
- :mod:`wildzarr.scan.mp3`: MP3, MPEG-1/2/2.5 audio Layer III (ISO/IEC 11172-3
  section 2.4, ISO/IEC 13818-3), :func:`scan_mp3`, :func:`reservoir_reach` and :func:`check_frame`.
"""

from wildzarr.scan.adts import AdtsInfo, AdtsStatus, scan_adts
from wildzarr.scan.flac import FlacStatus, StreamInfo, parse_streaminfo, read_streaminfo, scan_flac
from wildzarr.scan.mp3 import Mp3Info, Mp3Status, check_frame, reservoir_reach, scan_mp3

__all__ = [
    "AdtsInfo",
    "AdtsStatus",
    "FlacStatus",
    "Mp3Info",
    "Mp3Status",
    "StreamInfo",
    "check_frame",
    "parse_streaminfo",
    "read_streaminfo",
    "reservoir_reach",
    "scan_adts",
    "scan_flac",
    "scan_mp3",
]
