"""Encoding a recording's sample range into an open file through PyAV, block by block."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import IO, TYPE_CHECKING, cast

import av
import numpy as np

from wildzarr.audio import AudioFormat, convert
from wildzarr.errors import ArgumentError, WildzarrError
from wildzarr.export.formats import OutputFormat

if TYPE_CHECKING:
    from wildzarr.recording import Recording

__all__ = ["BLOCK_SAMPLES", "Plan", "encode"]

#: Samples per channel read and encoded at a time.
BLOCK_SAMPLES = 1 << 18


@dataclass(frozen=True)
class Plan:
    """Everything an export was checked to need: the range, channels, container, encoder and its settings."""

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


def encode(rec: Recording, plan: Plan, file: IO[bytes], tags: Mapping[str, str]) -> None:
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
