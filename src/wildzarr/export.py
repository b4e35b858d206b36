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
"""

from __future__ import annotations

import contextlib
import operator
import os
import re
import secrets
import struct
import wave
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import av
import numpy as np
import pandas as pd

from wildzarr import timebase
from wildzarr.audio import AudioFormat, convert
from wildzarr.codecs import FlacCodec
from wildzarr.errors import ArgumentError, RangeError, StorageError, WildzarrError
from wildzarr.starttime import parse_guano_timestamp

if TYPE_CHECKING:
    from wildzarr.recording import Recording

__all__ = [
    "FORMATS",
    "SUFFIXES",
    "OutputFormat",
    "append_riff_chunk",
    "export_recording",
    "guano_text",
    "write_samples",
]

SUFFIXES = (".npy", ".wav", ".flac")

#: Samples per channel read and encoded at a time.
BLOCK_SAMPLES = 1 << 18
#: Container tags of the source carried into an export (besides ``title`` and ``comment``, which are set).
CARRIED_TAGS = ("artist", "album", "album_artist", "composer", "genre", "copyright", "license")
_OPUS_ENCODERS = frozenset({"libopus", "opus"})
_OPUS_RATE = 48_000
#: Largest bit depth of integer samples each lossless encoder writes (FFmpeg: flacenc.c, alacenc.c).
_LOSSLESS_BITS = {"flac": 32, "alac": 24, "wavpack": 32}
_RIFF_LIMIT = 0xFFFFFFFF


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


# ----------------------------------------------------------------------------- export


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
    fmt_name = _format_name(rec, path, format)
    out_format = _output_format(fmt_name, codec)
    encoder = _encoder(out_format, codec, stored)
    if bitrate is not None and not encoder.lossy:
        raise ArgumentError(f"bitrate applies to lossy encoders; {encoder.name} is lossless")
    sample_format = _sample_format(encoder, stored)
    rate = _encoded_rate(encoder, stored.samplerate, rec.id)
    layout = _layout(encoder, rate, sample_format, len(selected), stored, bitrate, options)
    target = _target(rec, path, folder, first, last, out_format)
    plan = _Plan(
        first=first,
        last=last,
        channels=selected,
        stored=stored,
        out_format=out_format,
        encoder=encoder,
        sample_format=sample_format,
        rate=rate,
        layout=layout,
        bitrate=_bitrate(bitrate),
        options=_codec_options(encoder, sample_format, stored, options),
    )
    guano = rec.file_meta.get("guano") if out_format.muxer == "wav" else None
    with _replacing(target) as file:
        _encode(rec, plan, file, _tags(rec, first, last))
        if isinstance(guano, Mapping) and guano:
            te = rec.time_expansion
            text = guano_text(guano, first, last, stored.samplerate, te, rec.info.source.name)
            append_riff_chunk(file, b"guan", text.encode("utf-8"), str(target))
    return target


@dataclass(frozen=True)
class _Plan:
    first: int
    last: int
    channels: list[int]
    stored: AudioFormat
    out_format: OutputFormat
    encoder: av.codec.Codec
    sample_format: str
    rate: int
    layout: str
    bitrate: int | None
    options: dict[str, str]


def _range(rec: Recording, start: Any, stop: Any, start_s: Any, stop_s: Any) -> tuple[int, int]:
    """The checked sample range ``[first, last)`` from samples or seconds."""
    if (start is not None or stop is not None) and (start_s is not None or stop_s is not None):
        raise ArgumentError(f"recording {rec.id}: give the range in samples or in seconds, not both")
    rate, te = rec.samplerate, rec.time_expansion
    if start_s is not None or stop_s is not None:
        try:
            first = 0 if start_s is None else timebase.sample_index(start_s, rate, time_expansion=te)
            last = (
                rec.samples
                if stop_s is None
                else timebase.sample_index(stop_s, rate, time_expansion=te, side="stop")
            )
        except ArgumentError as exc:
            raise ArgumentError(f"recording {rec.id}: {exc}") from None
    else:
        first = 0 if start is None else _index(rec, start, "start")
        last = rec.samples if stop is None else _index(rec, stop, "stop")
    if not 0 <= first <= last <= rec.samples:
        raise RangeError(
            f"recording {rec.id}: cannot export [{first}, {last}); it holds samples [0, {rec.samples})"
        )
    if first == last:
        raise ArgumentError(f"recording {rec.id}: the range [{first}, {last}) holds no samples to export")
    return first, last


def _index(rec: Recording, value: object, what: str) -> int:
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ArgumentError(
            f"recording {rec.id}: {what} must be an integer sample index, not {value!r}"
        ) from None


def _format_name(rec: Recording, path: str | os.PathLike[str] | None, format: str | None) -> str:
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


def _output_format(name: str, codec: str | None) -> OutputFormat:
    if name in FORMATS:
        return FORMATS[name]
    if codec is not None and name in av.formats_available:
        return OutputFormat(name, name, f".{name}", codec)
    known = ", ".join(sorted(FORMATS))
    raise ArgumentError(
        f"unknown export format {name!r}: use one of {known}, or an FFmpeg muxer name together with codec="
    )


def _encoder(out_format: OutputFormat, codec: str | None, stored: AudioFormat) -> av.codec.Codec:
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


def _exact_formats(stored: AudioFormat) -> list[str]:
    """Sample formats (packed names) that hold ``stored`` samples exactly, best first."""
    bits = stored.bits_per_sample
    if stored.kind == "float":
        return ["flt", "dbl"] if bits == 32 else ["dbl"]
    names = ["u8"] if bits <= 8 else []
    names += ["s16"] if bits <= 16 else []
    names += ["s32"] if bits <= 32 else []
    names += ["flt"] if bits <= 24 else []
    return [*names, "dbl"] if bits <= 53 else names


def _sample_format(encoder: av.codec.Codec, stored: AudioFormat) -> str:
    """The encoder's sample format for these samples: one that keeps them exactly, if any."""
    supported = [f.name for f in encoder.audio_formats or []]
    for name in _exact_formats(stored):
        for candidate in (name, name + "p"):
            if candidate in supported:
                if (
                    encoder.lossless
                    and not encoder.lossy
                    and not _depth_fits(encoder.name, candidate, stored)
                ):
                    break
                return candidate
    if encoder.lossless and not encoder.lossy:
        raise ArgumentError(
            f"the lossless encoder {encoder.name} cannot hold {stored.describe()} samples exactly "
            f"(it takes {', '.join(supported) or 'no listed format'}); choose another codec or format"
        )
    for name in ("fltp", "flt", "dblp", "dbl", "s32p", "s32", "s16p", "s16"):
        if name in supported:
            return name
    raise ArgumentError(f"the encoder {encoder.name} takes none of the sample formats wildzarr writes")


def _depth_fits(encoder: str, sample_format: str, stored: AudioFormat) -> bool:
    limit = _LOSSLESS_BITS.get(encoder)
    return limit is None or not sample_format.startswith("s32") or stored.bits_per_sample <= limit


def _codec_options(
    encoder: av.codec.Codec, sample_format: str, stored: AudioFormat, options: Mapping[str, str] | None
) -> dict[str, str]:
    """Encoder options: the caller's, and the bit depth FFmpeg's lossless encoders write from ``s32``."""
    result = {str(k): str(v) for k, v in (options or {}).items()}
    if encoder.name in _LOSSLESS_BITS and sample_format.startswith("s32") and stored.kind != "float":
        depth = 24 if stored.bits_per_sample <= 24 else 32
        result.setdefault("bits_per_raw_sample", str(depth))
        if depth == 32 and encoder.name == "flac":
            result.setdefault("strict", "experimental")
    return result


def _encoded_rate(encoder: av.codec.Codec, rate: int, rid: int) -> int:
    """The rate the encoder writes: the recording's, or 48 kHz for Opus (ArgumentError if neither works)."""
    rates = list(encoder.audio_rates or [])
    if not rates or rate in rates:
        return rate
    if encoder.name in _OPUS_ENCODERS and rate <= _OPUS_RATE:
        return _OPUS_RATE
    listed = ", ".join(str(r) for r in sorted(rates))
    raise ArgumentError(
        f"recording {rid}: {encoder.name} encodes at {listed} Hz only, not {rate} Hz; export as wav or "
        "flac to keep every frequency"
    )


def _bitrate(bitrate: int | str | None) -> int | None:
    if bitrate is None:
        return None
    if isinstance(bitrate, bool):
        raise ArgumentError(f"bitrate must be bits per second, not {bitrate!r}")
    if isinstance(bitrate, int):
        value = bitrate
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", str(bitrate))
        if match is None:
            raise ArgumentError(f"bitrate must be bits per second such as 128000 or '128k', not {bitrate!r}")
        scale = {"": 1, "k": 1000, "m": 1_000_000}[match.group(2).lower()]
        value = round(float(match.group(1)) * scale)
    if value <= 0:
        raise ArgumentError(f"bitrate must be positive, not {bitrate!r}")
    return value


def _layout(
    encoder: av.codec.Codec,
    rate: int,
    sample_format: str,
    channels: int,
    stored: AudioFormat,
    bitrate: int | str | None,
    options: Mapping[str, str] | None,
) -> str:
    """The channel layout to encode with, checked by opening the encoder once with every setting.

    One or two channels are mono or stereo; more are tried as FFmpeg's
    unordered ``"N channels"`` (no loudspeaker positions: what a microphone
    array is) first, then FFmpeg's default layout for N, for encoders that
    want one (AAC, Opus).
    """
    candidates = ["mono"] if channels == 1 else ["stereo"] if channels == 2 else [f"{channels} channels"]
    if channels > 2:
        candidates.append(f"{channels}c")
    error = ""
    for name in candidates:
        try:
            context = cast(av.AudioCodecContext, av.CodecContext.create(encoder.name, "w"))
            context.rate = rate
            context.layout = av.AudioLayout(name)
            context.format = sample_format
            value = _bitrate(bitrate)
            if value is not None:
                context.bit_rate = value
            context.options = _codec_options(encoder, sample_format, stored, options)
            context.open()
        except (av.FFmpegError, ValueError, IndexError) as exc:
            error = str(exc)
            continue
        return name
    raise ArgumentError(
        f"{encoder.name} refuses {channels} channels of {sample_format} at {rate} Hz "
        f"with these settings: {error}"
    )


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


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[IO[bytes]]:
    """A new temporary file beside ``target``, renamed onto it when the block succeeds, removed otherwise.

    Created with mode 0o666 less the umask, as ``open`` creates files.
    """
    temporary = target.parent / f".{target.name}.{secrets.token_hex(6)}.wildzarr-export"
    try:
        handle = os.fdopen(os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666), "r+b")
    except OSError as exc:
        raise StorageError(f"{target}: cannot write the file: {exc.strerror or exc}", str(target)) from exc
    done = False
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        done = True
    except OSError as exc:
        raise StorageError(f"{target}: cannot write the file: {exc.strerror or exc}", str(target)) from exc
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _encode(rec: Recording, plan: _Plan, file: IO[bytes], tags: Mapping[str, str]) -> None:
    """Read the range block by block and encode it into ``file``."""
    options = {"movie_timescale": str(plan.rate)} if plan.out_format.muxer in ("ipod", "mp4", "mov") else {}
    if plan.out_format.muxer == "wav":
        options["rf64"] = "auto"
    convert_block = _converter(plan.stored, plan.sample_format)
    planar = plan.sample_format.endswith("p")
    layout = av.AudioLayout(plan.layout)
    try:
        with av.open(file, "w", format=plan.out_format.muxer, options=options) as out:
            out.metadata.update(tags)
            stream = cast(av.AudioStream, out.add_stream(plan.encoder.name, rate=plan.rate))
            context = stream.codec_context
            context.layout = layout
            context.format = plan.sample_format
            if plan.bitrate is not None:
                context.bit_rate = plan.bitrate
            context.options = dict(plan.options)
            source_rate = plan.stored.samplerate
            resampler = (
                av.AudioResampler(format=plan.sample_format, layout=layout, rate=plan.rate)
                if plan.rate != source_rate
                else None
            )
            time_base = Fraction(1, source_rate)
            for block_start in range(plan.first, plan.last, BLOCK_SAMPLES):
                block_stop = min(plan.last, block_start + BLOCK_SAMPLES)
                samples = convert_block(rec.read(block_start, block_stop, channels=plan.channels))
                array = np.ascontiguousarray(samples.T if planar else samples.reshape(1, -1))
                frame = av.AudioFrame.from_ndarray(array, format=plan.sample_format, layout=layout)
                frame.sample_rate = source_rate
                frame.pts, frame.time_base = block_start - plan.first, time_base
                for part in resampler.resample(frame) if resampler is not None else [frame]:
                    for packet in stream.encode(part):
                        out.mux(packet)
            if resampler is not None:
                for part in resampler.resample(None):
                    for packet in stream.encode(part):
                        out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    except (WildzarrError, OSError):
        raise
    except (av.FFmpegError, ValueError) as exc:
        raise ArgumentError(
            f"FFmpeg could not write {plan.encoder.name} in {plan.out_format.muxer}: {exc}"
        ) from None


def _converter(stored: AudioFormat, sample_format: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function turning read samples ``(n, ch)`` into the values PyAV's ``sample_format`` frames hold.

    Integers are left-justified in the format's width (how FFmpeg's s16/s32
    formats and its 24-bit encoders expect them), ``u8`` offset by 128;
    floats scaled or cast by :func:`wildzarr.audio.convert`.
    """
    packed = sample_format.rstrip("p")
    rate, channels = stored.samplerate, stored.channels
    if packed in ("flt", "dbl"):
        target = AudioFormat(
            rate, channels, "float32" if packed == "flt" else "float64", 32 if packed == "flt" else 64
        )
        return lambda block: convert(
            block, stored.with_(channels=block.shape[1]), target.with_(channels=block.shape[1])
        )
    width = {"u8": 8, "s16": 16, "s32": 32}[packed]
    dtype = {"u8": np.uint8, "s16": np.int16, "s32": np.int32}[packed]
    if stored.kind == "float":
        signed = AudioFormat(rate, channels, "int16" if width <= 16 else "int32", width)

        def from_float(block: np.ndarray) -> np.ndarray:
            ints = convert(
                block, stored.with_(channels=block.shape[1]), signed.with_(channels=block.shape[1])
            )
            return (ints.astype(np.int16) + 128).astype(dtype) if width == 8 else ints.astype(dtype)

        return from_float
    bits = stored.bits_per_sample
    centre = 1 << (bits - 1) if stored.kind == "uint" else 0
    shift = width - bits

    def from_int(block: np.ndarray) -> np.ndarray:
        values = (block.astype(np.int64) - centre) << shift
        return (values + 128 if width == 8 else values).astype(dtype)

    return from_int


# ----------------------------------------------------------------------------- GUANO


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


def append_riff_chunk(file: IO[bytes], chunk_id: bytes, body: bytes, name: str) -> None:
    """Append a chunk at the end of a RIFF (or RF64) WAVE file and fix the file's size field.

    RIFF (Microsoft/IBM 1991): a chunk is its id, a little-endian uint32
    size and the body, padded to an even length; the ``RIFF`` header's size
    counts everything after its first 8 bytes. RF64 (EBU Tech 3306) keeps
    that size as a 64-bit field of the ``ds64`` chunk, which must follow the
    header. A pad byte is added first when the file's length is odd.

    Raises
    ------
    StorageError
        If the file is not a RIFF/RF64 WAVE file, or a RIFF file would
        exceed 4 GiB.
    """
    file.seek(0)
    head = file.read(12)
    end = file.seek(0, os.SEEK_END)
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64"):
        raise StorageError(f"{name}: not a RIFF WAVE file; cannot add a {chunk_id.decode()} chunk", name)
    if end % 2:
        file.write(b"\0")
        end += 1
    chunk = chunk_id + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")
    size = end + len(chunk) - 8
    if head[:4] == b"RIFF":
        if size > _RIFF_LIMIT:
            raise StorageError(
                f"{name}: the {chunk_id.decode()} chunk would take the file beyond 4 GiB", name
            )
        file.write(chunk)
        file.seek(4)
        file.write(struct.pack("<I", size))
        return
    file.seek(12)
    if file.read(4) != b"ds64":
        raise StorageError(f"{name}: RF64 file without a ds64 chunk after its header", name)
    file.seek(end)
    file.write(chunk)
    file.seek(20)
    file.write(struct.pack("<Q", size))


# ----------------------------------------------------------------------------- write_samples


def write_samples(path: str | Path, samples: np.ndarray, fmt: AudioFormat) -> None:
    """Write samples as a recording read returns them to ``path``; the suffix picks the format.

    Parameters
    ----------
    path : str or Path
        Ends in ``.npy`` (the array as is), ``.wav`` (integer PCM at
        ``fmt.bits_per_sample`` rounded up to whole bytes, 8-bit unsigned as WAV
        requires; float samples as IEEE float WAV of their width) or ``.flac``
        (integers of 4 to 32 bits, FLAC at ``fmt.bits_per_sample``).
    samples : numpy.ndarray
        Shape ``(n, channels)``, dtype ``fmt.dtype``.
    fmt : AudioFormat
        Sample rate (Hz), channels, dtype and bit depth of ``samples``.

    Raises
    ------
    ArgumentError
        If the suffix is not one of ``.npy``, ``.wav``, ``.flac``, or the
        format cannot hold the samples (float or 64-bit samples as FLAC,
        64-bit integers as WAV).
    StorageError
        If the file cannot be written (no such folder, permission denied, disk full).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ArgumentError(f"{path}: output must end in one of {', '.join(SUFFIXES)}")
    try:
        if suffix == ".npy":
            np.save(path, samples)
        elif suffix == ".wav":
            _write_wav(path, samples, fmt)
        else:
            _write_flac(path, samples, fmt)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the file: {exc.strerror or exc}", str(path)) from exc


def _write_flac(path: Path, samples: np.ndarray, fmt: AudioFormat) -> None:
    codec = FlacCodec()
    if fmt.kind == "float" or codec.check(fmt).bits_per_sample != fmt.bits_per_sample:
        raise ArgumentError(
            f"{path}: FLAC holds 4- to 32-bit integers, not {fmt.describe()}; write .wav or .npy"
        )
    stored = codec.check(fmt)
    block = np.ascontiguousarray(samples.astype(stored.numpy_dtype) - (128 if fmt.kind == "uint" else 0))
    with path.open("wb") as out:
        codec.encode([block], out, stored)


def _write_wav(path: Path, samples: np.ndarray, fmt: AudioFormat) -> None:
    """PCM WAV: format tag 1 for integers (8-bit unsigned, offset 128; wider signed), 3 for floats."""
    if fmt.kind == "float":
        _write_float_wav(path, samples, fmt)
        return
    if fmt.bits_per_sample > 32:
        raise ArgumentError(f"{path}: WAV holds at most 32-bit integers, not {fmt.describe()}; write .npy")
    width = (fmt.bits_per_sample + 7) // 8
    if width == 1:
        centred = samples.astype(np.int16) + (0 if fmt.kind == "uint" else 128)
        data = centred.astype(np.uint8).tobytes()
    else:
        values = samples.astype("<i4")
        data = values.view(np.uint8).reshape(*values.shape, 4)[..., :width].tobytes()
    with path.open("wb") as file, wave.open(file, "wb") as out:  # open first: a bad path fails cleanly
        out.setnchannels(samples.shape[1])
        out.setsampwidth(width)
        out.setframerate(fmt.samplerate)
        out.writeframes(data)


def _write_float_wav(path: Path, samples: np.ndarray, fmt: AudioFormat) -> None:
    """IEEE float WAV: ``fmt `` chunk with format tag 3 and ``cbSize`` 0, a ``fact`` chunk, then ``data``.

    Python's :mod:`wave` writes integer PCM only. Layout from Microsoft's
    WAVEFORMATEX (mmreg.h: ``WAVE_FORMAT_IEEE_FLOAT = 3``; non-PCM formats need
    ``cbSize`` and a ``fact`` chunk holding the sample frames).
    """
    width = samples.dtype.itemsize
    channels = samples.shape[1]
    data = np.ascontiguousarray(samples, dtype=samples.dtype.newbyteorder("<")).tobytes()
    fmt_chunk = struct.pack(
        "<HHIIHHH",
        3,
        channels,
        fmt.samplerate,
        fmt.samplerate * channels * width,
        channels * width,
        8 * width,
        0,
    )
    fact_chunk = struct.pack("<I", len(samples))
    body = b"WAVE" + _chunk(b"fmt ", fmt_chunk) + _chunk(b"fact", fact_chunk) + _chunk(b"data", data)
    with path.open("wb") as out:
        out.write(_chunk(b"RIFF", body))


def _chunk(name: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: id, little-endian size, payload, a pad byte when the size is odd."""
    return name + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")
