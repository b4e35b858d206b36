"""AAC-LC frames: the window decoder, and planning which of a source's own frames to keep.

The helpers of :mod:`wildzarr.codecs.aac` (see there for the stream format
and the measurements behind one frame of pre-roll):

- :class:`AacFrameDecoder` decodes frames with FFmpeg's ``aac`` decoder from
  a new decoder's state on every call;
- :func:`plan_kept` checks, for :meth:`~wildzarr.codecs.aac.AacCodec.keep`,
  that a source's frames reproduce PyAV's full decode of it, and measures the
  delay and padding that decode trims.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.audio.frame import AudioFrame

from wildzarr.codecs._pyav import Trim, audio_stream, decode_frame, open_source
from wildzarr.codecs.aac_syntax import (
    SAMPLES_PER_FRAME,
    adts_reset_frame,
    asc_elements,
    check_asc,
    is_plain_adts,
    parse_asc,
    silent_block,
)
from wildzarr.codecs.base import FrameDecoder
from wildzarr.errors import StreamError
from wildzarr.interrupts import HeldInterrupt

__all__ = ["ADTS_CONTAINERS", "AacFrameDecoder", "KeptPlan", "plan_kept"]

#: Canonical FFmpeg names of containers whose packets are ADTS frames.
ADTS_CONTAINERS = frozenset({"aac"})


class AacFrameDecoder(FrameDecoder):
    """Decodes consecutive AAC-LC frames with FFmpeg's ``aac`` decoder; one instance per thread.

    Every :meth:`decode` call starts from the state of a new decoder, so its
    output depends only on the frames it is given. ``avcodec_flush_buffers``
    is not enough: it clears the overlap but keeps each channel's previous
    window shape, which shapes the first frame's output. A used decoder
    therefore first decodes a silent frame (:func:`~wildzarr.codecs.aac_syntax.silent_block`:
    long sine windows, no spectral data; a few microseconds), which leaves no
    overlap and the new decoder's window state. (A new decoder costs about
    160 us.)

    Parameters
    ----------
    channels : int
        Channels the frames decode to, 1 to 8.
    asc : bytes or None
        The AudioSpecificConfig of raw access units; None for ADTS frames
        (each carries its header, and a program_config_element when its
        channel configuration is 0).

    Raises
    ------
    StreamError
        If the AudioSpecificConfig is invalid or FFmpeg refuses it.
    """

    def __init__(self, channels: int, asc: bytes | None) -> None:
        self.channels = channels
        context = av.CodecContext.create("aac", "r")
        if asc is not None:
            context.extradata = asc
        context.thread_count = 1
        try:
            context.open()
        except av.FFmpegError as exc:
            raise StreamError(f"FFmpeg's AAC decoder refuses the AudioSpecificConfig {asc!r}: {exc}") from exc
        self._context = context
        self._resampler: av.AudioResampler | None = None
        #: The silent frame that resets the decoder; for ADTS made from the first frame decoded.
        self._reset = None if asc is None else silent_block(asc_elements(parse_asc(asc)))
        self._used = False

    def decode(self, frames: Sequence[bytes | memoryview]) -> np.ndarray:
        """Decode consecutive whole frames from the state of a new decoder.

        Parameters
        ----------
        frames : sequence of bytes-like
            One item per frame, in stream order: ADTS frames with their
            headers, or raw access units.

        Returns
        -------
        numpy.ndarray
            float32, C-contiguous, shape ``(1024 * len(frames), channels)``,
            full scale 1.0: every frame's samples in order (a first frame
            decoded without its predecessor, a pre-roll frame, differs from a
            full decode's, unless it is the stream's first).

        Raises
        ------
        StreamError
            If a frame does not decode, or decodes to other than 1024 samples
            of ``channels`` channels. ``frame`` is its position in ``frames``;
            the message says what is wrong with it, worded to follow a prefix
            that names it (``"recording 3 stream 0 frame 17: does not decode
            as AAC (...)"``).
        """
        result = np.empty((SAMPLES_PER_FRAME * len(frames), self.channels), dtype=np.float32)
        for index, data in enumerate(frames):
            try:
                if index == 0:
                    self._start(data)
                frame = self.decode_next(data)
            except StreamError as exc:
                exc.frame = index
                raise
            self.copy_samples(frame, result[index * SAMPLES_PER_FRAME : (index + 1) * SAMPLES_PER_FRAME])
        return result

    def _start(self, first: bytes | memoryview) -> None:
        """Bring a used decoder back to a new one's state; ``first`` is the first frame to decode next."""
        if self._reset is None:
            self._reset = adts_reset_frame(first)
        if self._used:
            self._context.flush_buffers()
            self.decode_next(self._reset)
            self._used = False

    def decode_next(self, data: bytes | memoryview) -> AudioFrame:
        """Decode one frame after those decoded before (no reset); return FFmpeg's frame of 1024 samples.

        Raises
        ------
        StreamError
            Worded like :meth:`decode`'s, without a frame number.
        """
        if not len(data):
            raise StreamError("is empty")  # an empty packet would put FFmpeg's decoder in draining mode
        self._used = True
        frame = decode_frame(self._context, data, "AAC")
        if frame.samples != SAMPLES_PER_FRAME or frame.layout.nb_channels != self.channels:
            raise StreamError(
                f"decodes to {frame.samples} samples of {frame.layout.nb_channels} channels, "
                f"not {SAMPLES_PER_FRAME} of {self.channels}"
            )
        if frame.format.name != "fltp":
            raise StreamError(f"decodes to {frame.format.name} samples, not fltp")
        return frame

    def copy_samples(self, frame: AudioFrame, out: np.ndarray) -> None:
        """Copy a decoded fltp frame to ``out``, float32 of shape ``(samples, channels)``.

        8-channel frames go through a resampler to packed ``flt``: PyAV 18.1
        reports 9 planes for them (see :mod:`wildzarr.codecs.aac`).
        """
        n = frame.samples
        if self.channels < 8:
            for k, plane in enumerate(frame.planes):
                out[:, k] = np.frombuffer(memoryview(plane), dtype=np.float32, count=n)
            return
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="flt", layout=frame.layout, rate=frame.sample_rate)
        (packed,) = self._resampler.resample(frame)
        out[...] = np.frombuffer(memoryview(packed.planes[0]), dtype=np.float32, count=n * 8).reshape(n, 8)

    def samples_of(self, frame: AudioFrame) -> np.ndarray:
        """A decoded frame's samples, float32 of shape ``(frame.samples, channels)``."""
        out = np.empty((frame.samples, self.channels), dtype=np.float32)
        self.copy_samples(frame, out)
        return out


# --------------------------------------------------------------------------- keeping a source's frames


@dataclass(frozen=True)
class KeptPlan:
    """What :func:`plan_kept` found: packet sizes in bytes, samples and delay per channel, decoder config."""

    sizes: list[int]
    samples: int
    delay: int
    decoder_config: dict[str, Any]


def plan_kept(
    path: Path, index: int | None, samplerate: int, channels: int, exact_windows: bool
) -> KeptPlan | None:
    """First pass of :meth:`~wildzarr.codecs.aac.AacCodec.keep`: check the frames, find delay and padding.

    Three decoders see every packet: the stream's own (PyAV's full decode,
    with the container's trims), a plain one (all frames in order, no trims)
    and, if ``exact_windows`` is asked for, a window one (the frame after the
    previous one, from a reset state, as the reader decodes it with one frame
    of pre-roll), which must match the plain one.

    Parameters
    ----------
    path : Path
        The source file.
    index : int or None
        Its audio stream (None: the first).
    samplerate, channels : int
        What the source says of the stream.
    exact_windows : bool
        Whether every frame decoded after one frame of pre-roll must equal
        its plain decode (False: ``keep_pns``).

    Returns
    -------
    KeptPlan or None
        None when the frames are not kept: not AAC-LC at ``samplerate``, an
        AudioSpecificConfig or ADTS frames this codec does not store, a frame
        that does not decode, or a full decode the frames do not reproduce.

    Raises
    ------
    SourceError
        If the file cannot be opened or has no such audio stream.
    KeyboardInterrupt
        On Ctrl-C, raised once the current packet is decoded.
    """
    with open_source(path, "AAC") as container:
        stream = audio_stream(container, index)
        full = stream.codec_context
        if full.name != "aac" or full.profile != "LC" or full.sample_rate != samplerate:
            return None
        if container.format.name in ADTS_CONTAINERS:
            config: dict[str, Any] = {"framing": "adts"}
            asc = None
        else:
            asc = bytes(full.extradata or b"")
            try:
                check_asc(asc, samplerate)
            except StreamError:
                return None
            config = {"framing": "raw", "asc": asc.hex()}
        plain, window = AacFrameDecoder(channels, asc), AacFrameDecoder(channels, asc)
        trim = Trim(SAMPLES_PER_FRAME)
        sizes: list[int] = []
        previous: list[bytes] = []
        for packet in container.demux(stream):
            with HeldInterrupt():
                if not packet.size:  # the flush packet at the end: the full decode drains the decoder
                    if full.decode(packet):
                        return None
                    continue
                data = bytes(packet)
                if asc is None and not is_plain_adts(data):
                    return None
                try:
                    reference = plain.samples_of(plain.decode_next(data))
                    kept = [plain.samples_of(frame) for frame in full.decode(packet)]
                    if exact_windows and not np.array_equal(
                        window.decode([*previous, data])[-SAMPLES_PER_FRAME:], reference
                    ):
                        return None
                except (StreamError, av.FFmpegError):
                    return None
            sizes.append(packet.size)
            previous = [data]
            if not trim.add(reference, kept):
                return None
    if trim.samples == 0:
        return None
    return KeptPlan(sizes=sizes, samples=trim.samples, delay=trim.delay, decoder_config=config)
