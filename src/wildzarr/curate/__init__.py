"""Curated datasets: a table of labelled ranges of archived recordings, checked, then used or written out.

A curation spec is a CSV or Parquet table (or a DataFrame), one row per range::

    recording | file       which recording: its id, or its source file name (``rec.info.source.name``)
    start, stop            the range in samples, or
    start_s, stop_s        in real seconds from the first sample, or
    start_time, stop_time  as UTC times (ISO 8601 with a zone), by the recording's start time
    label                  the range's class ("noise": a range of no class, a negative example)
    split                  optional: train, val, test ...
    anything else          kept, and written to the manifest

Seconds and times become samples by the rule of :mod:`wildzarr.timebase`
(start: floor, stop: ceil; ``samplerate * time_expansion`` samples per
second). :meth:`Curation.read` checks every row before anything is used;
:meth:`Curation.clips` is the clip table (nothing copied);
:meth:`Curation.materialise` writes audio files and a manifest, or a DAS
store, in worker processes, resumably. See docs/curate.md.
"""

from __future__ import annotations

from wildzarr.curate.curation import Curation
from wildzarr.curate.join import MANIFEST
from wildzarr.curate.materialise import AUDIO_FORMATS, FORMATS
from wildzarr.curate.resume import MARKER

__all__ = ["AUDIO_FORMATS", "FORMATS", "MANIFEST", "MARKER", "Curation"]
