"""The settings an export's encoder is opened with: sample format, rate, channel layout, bit rate, options.

Each is chosen so the samples are kept exactly where the encoder can hold
them, and checked: a setting the encoder refuses raises ArgumentError before
any file is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import cast

import av

from wildzarr.audio import AudioFormat
from wildzarr.errors import ArgumentError

__all__ = ["choose_layout", "choose_rate", "choose_sample_format", "codec_options", "parse_bitrate"]

_OPUS_ENCODERS = frozenset({"libopus", "opus"})
_OPUS_RATE = 48_000
#: Largest bit depth of integer samples each lossless encoder writes (FFmpeg: flacenc.c, alacenc.c).
_LOSSLESS_BITS = {"flac": 32, "alac": 24, "wavpack": 32}


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


def choose_sample_format(encoder: av.codec.Codec, stored: AudioFormat) -> str:
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


def codec_options(
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


def choose_rate(encoder: av.codec.Codec, rate: int, rid: int) -> int:
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


def parse_bitrate(bitrate: int | str | None) -> int | None:
    """Bits per second from ``128000`` or ``"128k"`` (None stays None: the encoder's default)."""
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


def choose_layout(
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
            value = parse_bitrate(bitrate)
            if value is not None:
                context.bit_rate = value
            context.options = codec_options(encoder, sample_format, stored, options)
            context.open()
        except (av.FFmpegError, ValueError, IndexError) as exc:
            error = str(exc)
            continue
        return name
    raise ArgumentError(
        f"{encoder.name} refuses {channels} channels of {sample_format} at {rate} Hz "
        f"with these settings: {error}"
    )
