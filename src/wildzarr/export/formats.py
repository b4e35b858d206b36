"""The containers wildzarr exports to, and the choice of container and encoder for an export."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import av

from wildzarr.audio import AudioFormat
from wildzarr.errors import ArgumentError

if TYPE_CHECKING:
    from wildzarr.recording import Recording

__all__ = ["FORMATS", "OutputFormat", "choose_encoder", "format_name", "output_format"]


@dataclass(frozen=True)
class OutputFormat:
    """A container wildzarr exports to.

    Attributes
    ----------
    name : str
        The name ``format=`` takes (also the file suffix without its dot).
    muxer : str
        FFmpeg's muxer.
    suffix : str
        The suffix of default file names.
    codecs : str
        How the default codec is chosen: ``"pcm-le"`` / ``"pcm-be"`` (PCM of
        the samples' own depth and kind), ``"flac"``, ``"matroska"`` (FLAC for
        integers, float PCM for floats), or one encoder's name.
    """

    name: str
    muxer: str
    suffix: str
    codecs: str


def _formats(*rows: tuple[str, str, str]) -> dict[str, OutputFormat]:
    return {name: OutputFormat(name, muxer, f".{name}", codecs) for name, muxer, codecs in rows}


#: Formats by name: the suffixes wildzarr knows and the muxer and default codec of each.
FORMATS: dict[str, OutputFormat] = _formats(
    ("wav", "wav", "pcm-le"),
    ("wave", "wav", "pcm-le"),
    ("bwf", "wav", "pcm-le"),
    ("caf", "caf", "pcm-le"),
    ("aiff", "aiff", "pcm-be"),
    ("aif", "aiff", "pcm-be"),
    ("aifc", "aiff", "pcm-be"),
    ("au", "au", "pcm-be"),
    ("flac", "flac", "flac"),
    ("mkv", "matroska", "matroska"),
    ("mka", "matroska", "matroska"),
    ("wv", "wv", "wavpack"),
    ("mp3", "mp3", "libmp3lame"),
    ("m4a", "ipod", "aac"),
    ("mp4", "mp4", "aac"),
    ("mov", "mov", "aac"),
    ("aac", "adts", "aac"),
    ("ogg", "ogg", "libopus"),
    ("oga", "ogg", "libopus"),
    ("opus", "opus", "libopus"),
    ("webm", "webm", "libopus"),
)


def format_name(rec: Recording, path: str | os.PathLike[str] | None, format: str | None) -> str:
    """The format asked for: ``format``, else ``path``'s suffix, else the source's suffix or ``"wav"``."""
    if format is not None:
        if not isinstance(format, str) or not format:
            raise ArgumentError(f"format must be a format name such as 'wav', not {format!r}")
        return format.lower().lstrip(".")
    if path is not None:
        suffix = Path(path).suffix.lower().lstrip(".")
        if not suffix:
            raise ArgumentError(f"{os.fspath(path)}: name a format (format=...) or give the file a suffix")
        return suffix
    source = Path(rec.info.source.name).suffix.lower().lstrip(".")
    return source if source in FORMATS else "wav"


def output_format(name: str, codec: str | None) -> OutputFormat:
    """The format ``name`` of :data:`FORMATS`, or, with a codec, any FFmpeg muxer of that name."""
    if name in FORMATS:
        return FORMATS[name]
    if codec is not None and name in av.formats_available:
        return OutputFormat(name, name, f".{name}", codec)
    known = ", ".join(sorted(FORMATS))
    raise ArgumentError(
        f"unknown export format {name!r}: use one of {known}, or an FFmpeg muxer name together with codec="
    )


def choose_encoder(out_format: OutputFormat, codec: str | None, stored: AudioFormat) -> av.codec.Codec:
    """The encoder named, or the format's natural one for these samples."""
    name = codec if codec is not None else _default_codec(out_format, stored)
    try:
        encoder = av.codec.Codec(name, "w")
    except (av.FFmpegError, ValueError, TypeError):
        raise ArgumentError(f"FFmpeg (through PyAV) has no encoder {name!r}") from None
    if encoder.type != "audio":
        raise ArgumentError(f"{name!r} is not an audio encoder")
    return encoder


def _default_codec(out_format: OutputFormat, stored: AudioFormat) -> str:
    kind, bits = out_format.codecs, stored.bits_per_sample
    if kind == "matroska":
        kind = "pcm-le" if stored.kind == "float" else "flac"
    if kind == "flac" and stored.kind == "float":
        raise ArgumentError(
            f"FLAC holds integer samples, not {stored.describe()}; export as wav or caf (float PCM)"
        )
    if kind not in ("pcm-le", "pcm-be"):
        return kind
    endian = kind[-2:]
    if stored.kind == "float":
        return f"pcm_f{bits}{endian}"
    if bits > 32:
        raise ArgumentError(f"{out_format.name} holds at most 32-bit integers, not {stored.describe()}")
    if bits <= 8:
        return "pcm_u8" if out_format.muxer == "wav" else "pcm_s8"  # WAV: unsigned (RIFF spec); others signed
    width = 16 if bits <= 16 else 24 if bits <= 24 else 32
    return f"pcm_s{width}{endian}"
