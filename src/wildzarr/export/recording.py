"""Export of a recording's sample range to an audio file: the range, the file's name and tags, the steps.

:func:`export_recording` checks everything first (range, channels, container,
encoder and its settings: :mod:`~wildzarr.export.formats`,
:mod:`~wildzarr.export.settings`), then encodes
(:mod:`~wildzarr.export.encode`) into a temporary file
(:mod:`~wildzarr.export.atomic`) and adds the ``guan`` chunk to WAV files
(:mod:`~wildzarr.export.guano`, :mod:`~wildzarr.export.riff`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from wildzarr import timebase
from wildzarr.errors import ArgumentError, RangeError
from wildzarr.export.atomic import replacing
from wildzarr.export.encode import Plan, encode
from wildzarr.export.formats import OutputFormat, choose_encoder, format_name, output_format
from wildzarr.export.guano import guano_text
from wildzarr.export.riff import append_riff_chunk
from wildzarr.export.settings import (
    choose_layout,
    choose_rate,
    choose_sample_format,
    codec_options,
    parse_bitrate,
)
from wildzarr.timing import resolve_range

if TYPE_CHECKING:
    from wildzarr.recording import Recording

__all__ = ["export_recording"]

#: Container tags of the source carried into an export (besides ``title`` and ``comment``, which are set).
CARRIED_TAGS = ("artist", "album", "album_artist", "composer", "genre", "copyright", "license")


def export_recording(
    rec: Recording,
    path: str | os.PathLike[str] | None = None,
    *,
    start: int | None = None,
    stop: int | None = None,
    start_s: Any = None,
    stop_s: Any = None,
    channels: int | list[int] | None = None,
    format: str | None = None,
    codec: str | None = None,
    bitrate: int | str | None = None,
    options: Mapping[str, str] | None = None,
    folder: str | os.PathLike[str] | None = None,
) -> Path:
    """Write samples ``[start, stop)`` of a recording to an audio file.

    Parameters
    ----------
    rec : Recording
        The recording.
    path : str or os.PathLike, optional
        The file to write (relative to ``folder`` when that is given); an
        existing file is replaced. Default: the source's file name stem
        extended by the range in samples, e.g.
        ``bat_batlogger_312k_guano_s96000-192000.wav``, in ``folder``
        (default the current folder); recordings imported from arrays are
        named ``recording<id>``.
    start, stop : int, optional
        The range in samples, ``0 <= start < stop <= samples`` (default: the
        whole recording).
    start_s, stop_s : float, Decimal or Fraction, optional
        The range in real seconds instead (``[floor(start_s * r), ceil(stop_s
        * r))`` with ``r = samplerate * time_expansion``, the rule of
        :mod:`wildzarr.timebase`).
    channels : int or list of int, optional
        The channels to write, in that order (default all).
    format : str, optional
        The container: a name of :data:`FORMATS` (``"wav"``, ``"flac"``,
        ``"mp3"``, ``"m4a"``, ``"opus"`` ...) or, with ``codec``, any FFmpeg
        muxer name. Default: from the suffix of ``path``; without a path, the
        source's suffix when it is in :data:`FORMATS`, else ``"wav"``.
    codec : str, optional
        The FFmpeg encoder (``"pcm_s24le"``, ``"flac"``, ``"aac"``,
        ``"libmp3lame"``, ``"libopus"``, ``"alac"`` ...). Default: the
        format's natural codec; WAV-like formats get PCM of the samples' own
        depth (8-bit unsigned, 16-, 24-, 32-bit signed, 32- or 64-bit float),
        ``ogg`` gets Opus (PyAV's FFmpeg has no libvorbis encoder).
    bitrate : int or str, optional
        Bits per second for lossy encoders: ``128000`` or ``"128k"``.
        Default: the encoder's (FFmpeg 8: AAC 69 kb/s mono, 128 kb/s stereo;
        MP3 128 kb/s; Opus 64 kb/s mono, 96 kb/s stereo).
    options : mapping of str to str, optional
        Encoder options (FFmpeg AVOptions), e.g. ``{"compression_level": "8"}``
        for FLAC, ``{"application": "audio"}`` for libopus.
    folder : str or os.PathLike, optional
        Where default-named files go, and what a relative ``path`` is relative to.

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    Samples are encoded in the first of the encoder's sample formats that
    holds them exactly: integers left-justified in ``s16``/``s32`` (24-bit
    samples in ``s32`` for FLAC, ``pcm_s24le``), ``u8`` for 8-bit WAV, floats
    as ``flt``/``dbl``; ``flt`` for integers of up to 24 bits otherwise. A
    lossless encoder that cannot hold the samples exactly (float samples as
    FLAC, 32-bit integers as ALAC) raises instead of rounding. 32-bit
    integer FLAC is written with FFmpeg's experimental 32-bit mode (libFLAC
    1.4 and FFmpeg decode it; libsndfile does not).

    The rate is never changed, except for Opus, whose files always hold
    48 kHz (RFC 7845 section 5.1; FFmpeg decodes every Opus stream at 48 kHz):
    recordings of up to 48 kHz are resampled to 48 kHz by FFmpeg's
    swresample. Lossy encoders accept only some rates (MP3 8 to 48 kHz, AAC
    7.35 to 96 kHz, Opus up to 48 kHz): other rates raise ArgumentError, so
    an ultrasonic recording is never silently low-passed; export it as WAV
    or FLAC.

    The file is written under a temporary name beside it and renamed into
    place: an error or Ctrl-C leaves no file.

    Raises
    ------
    RangeError
        If the range is outside ``[0, samples]`` or a channel does not exist.
    ArgumentError
        If the range is empty or given in samples and seconds at once, the
        format or codec is unknown, the codec cannot hold the samples
        exactly (lossless codecs) or at this rate, or FFmpeg refuses the
        settings (channels, bit rate, options).
    StorageError
        If the file cannot be written.
    StreamError, DamagedRecordingError
        If the recording's stored samples cannot be read.
    """
    first, last = _range(rec, start, stop, start_s, stop_s)
    selected = rec.channel_list(channels)
    stored = rec.info.stored_format()
    fmt_name = format_name(rec, path, format)
    out_format = output_format(fmt_name, codec)
    encoder = choose_encoder(out_format, codec, stored)
    if bitrate is not None and not encoder.lossy:
        raise ArgumentError(f"bitrate applies to lossy encoders; {encoder.name} is lossless")
    sample_format = choose_sample_format(encoder, stored)
    rate = choose_rate(encoder, stored.samplerate, rec.id)
    layout = choose_layout(encoder, rate, sample_format, len(selected), stored, bitrate, options)
    target = _target(rec, path, folder, first, last, out_format)
    plan = Plan(
        first=first,
        last=last,
        channels=selected,
        stored=stored,
        out_format=out_format,
        encoder=encoder,
        sample_format=sample_format,
        rate=rate,
        layout=layout,
        bitrate=parse_bitrate(bitrate),
        options=codec_options(encoder, sample_format, stored, options),
    )
    guano = rec.file_meta.get("guano") if out_format.muxer == "wav" else None
    with replacing(target) as file:
        encode(rec, plan, file, _tags(rec, first, last))
        if isinstance(guano, Mapping) and guano:
            te = rec.time_expansion
            text = guano_text(guano, first, last, stored.samplerate, te, rec.info.source.name)
            append_riff_chunk(file, b"guan", text.encode("utf-8"), str(target))
    return target


def _range(rec: Recording, start: Any, stop: Any, start_s: Any, stop_s: Any) -> tuple[int, int]:
    """The checked sample range ``[first, last)`` from samples or seconds."""
    first, last = resolve_range(rec, start, stop, start_s, stop_s, None, None)
    if not 0 <= first <= last <= rec.samples:
        raise RangeError(
            f"recording {rec.id}: cannot export [{first}, {last}); it holds samples [0, {rec.samples})"
        )
    if first == last:
        raise ArgumentError(f"recording {rec.id}: the range [{first}, {last}) holds no samples to export")
    return first, last


def _target(
    rec: Recording,
    path: str | os.PathLike[str] | None,
    folder: str | os.PathLike[str] | None,
    first: int,
    last: int,
    out_format: OutputFormat,
) -> Path:
    base = Path(folder) if folder is not None else Path.cwd()
    if path is not None:
        return base / Path(path) if folder is not None else Path(path)
    name = rec.info.source.name
    stem = Path(name).stem if name != "<array>" else ""
    stem = stem.replace("/", "_").replace("\\", "_").strip() or f"recording{rec.id}"
    return base / f"{stem}_s{first}-{last}{out_format.suffix}"


def _tags(rec: Recording, first: int, last: int) -> dict[str, str]:
    """Container metadata: carried tags of the source, the source's name as title, a comment on the range."""
    tags: dict[str, str] = {}
    source_tags = rec.file_meta.get("tags")
    if isinstance(source_tags, Mapping):
        lowered = {str(k).lower(): v for k, v in source_tags.items()}
        tags.update({k: lowered[k] for k in CARRIED_TAGS if isinstance(lowered.get(k), str) and lowered[k]})
    name = rec.info.source.name
    tags["title"] = name
    comment = f"samples {first}-{last} of {name} (wildzarr recording {rec.id})"
    start_time = rec.start_time
    if start_time is not None:
        rate = timebase.samples_per_second(rec.samplerate, rec.time_expansion)
        at = start_time + _timedelta(Fraction(first) / rate)
        comment += f", starting {at.isoformat().replace('+00:00', 'Z')}"
    tags["comment"] = comment
    return tags


def _timedelta(seconds: Fraction) -> pd.Timedelta:
    return pd.Timedelta(round(seconds * 1_000_000_000), unit="ns")
