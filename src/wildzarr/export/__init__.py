"""Write recordings, or sample ranges of them, to audio files.

:func:`export_recording` writes any container and codec FFmpeg encodes,
through PyAV (never an ``ffmpeg`` program): WAV, FLAC, AIFF, CAF, AU,
Matroska, WavPack losslessly, bit for bit; MP3, AAC (m4a, mp4, ADTS) and Opus
(ogg, opus, webm) sample-aligned, with the encoder's priming recorded where
the container can hold it. WAV exports of GUANO recordings carry a ``guan``
chunk whose ``Timestamp`` and ``Length`` describe the exported range.
``docs/export.md`` lists the formats and what was measured.

:func:`write_samples` writes samples a read returned as ``.npy``, ``.wav`` or
``.flac`` (``wildzarr read -o``).

The modules: :mod:`~wildzarr.export.recording` (:func:`export_recording`),
:mod:`~wildzarr.export.formats` (the containers and the choice of container
and encoder), :mod:`~wildzarr.export.settings` (the encoder's sample format,
rate, channel layout, bit rate and options), :mod:`~wildzarr.export.encode`
(reading and encoding through PyAV), :mod:`~wildzarr.export.atomic` (writing
under a temporary name), :mod:`~wildzarr.export.guano` and
:mod:`~wildzarr.export.riff` (the ``guan`` chunk), :mod:`~wildzarr.export.samples`
(:func:`write_samples`).
"""

from __future__ import annotations

from wildzarr.export.formats import FORMATS, OutputFormat
from wildzarr.export.guano import guano_text
from wildzarr.export.recording import export_recording
from wildzarr.export.riff import append_riff_chunk
from wildzarr.export.samples import SUFFIXES, write_samples

# A pickle names a class by its __module__: keep the name it had before this module became a package.
OutputFormat.__module__ = __name__

__all__ = [
    "FORMATS",
    "SUFFIXES",
    "OutputFormat",
    "append_riff_chunk",
    "export_recording",
    "guano_text",
    "write_samples",
]
