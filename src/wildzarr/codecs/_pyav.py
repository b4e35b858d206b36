"""PyAV work the AAC and MP3 codecs share: encoding float32 blocks, and reading a source to keep its frames.

Private to :mod:`wildzarr.codecs`:

- :class:`FloatEncoder` opens an FFmpeg encoder and feeds it packed float32
  blocks (PyAV converts them to the encoder's planar format in C), holding a
  Ctrl-C while PyAV encodes (:class:`wildzarr.interrupts.HeldInterrupt`);
- :func:`decode_frame` decodes one frame's packet to exactly one frame;
- :func:`open_source` and :func:`audio_stream` open a source file and pick
  its audio stream for ``keep()``;
- :class:`Trim` measures, packet by packet, the delay and padding PyAV's full
  decode of a source drops, against a plain decode of every frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.audio.frame import AudioFrame

from wildzarr.codecs._common import check_float_block
from wildzarr.errors import SourceError, StreamError
from wildzarr.interrupts import HeldInterrupt

__all__ = ["FloatEncoder", "Trim", "audio_stream", "decode_frame", "open_source"]

# PyAV's stub types Packet's input as bytes; any buffer (a memoryview of the stream) works.
_packet = cast(Callable[[bytes | memoryview], av.Packet], av.Packet)


class FloatEncoder:
    """An open FFmpeg audio encoder, fed float32 blocks through PyAV.

    Parameters
    ----------
    codec_name : str
        FFmpeg's encoder: ``"aac"``, ``"libmp3lame"``.
    label : str
        The codec as messages name it: ``"AAC"``, ``"MP3"``.
    rate : int
        Hz the stream declares.
    layout : str
        FFmpeg channel layout name (``"stereo"``).
    bit_rate : int
        Bits per second of the whole stream.
    options : dict or None
        Encoder options (``AVOptions``); None sets none.

    Raises
    ------
    StreamError
        If FFmpeg refuses the settings.
    """

    def __init__(
        self,
        codec_name: str,
        label: str,
        rate: int,
        layout: str,
        bit_rate: int,
        options: dict[str, str] | None = None,
    ) -> None:
        self.label, self.rate, self.layout = label, rate, layout
        context = cast(av.AudioCodecContext, av.CodecContext.create(codec_name, "w"))
        context.sample_rate = rate
        context.layout = layout
        context.format = "fltp"
        context.bit_rate = bit_rate
        context.time_base = Fraction(1, rate)
        if options is not None:
            context.options = options
        try:
            context.open()
        except av.FFmpegError as exc:
            raise StreamError(
                f"FFmpeg's {label} encoder refuses {rate} Hz, {layout}, {bit_rate} b/s: {exc}"
            ) from exc
        #: The open codec context (its ``extradata`` is the encoder's AudioSpecificConfig, if any).
        self.context = context
        #: The pts of the first packet :meth:`encode` got, None before it.
        self._first_pts: int | None = None

    def encode(
        self, blocks: Iterable[np.ndarray], channels: int, write: Callable[[av.Packet], object]
    ) -> tuple[int, int]:
        """Encode all blocks, then flush the encoder; give every packet to ``write`` in order.

        Parameters
        ----------
        blocks : iterable of numpy.ndarray
            Shape ``(n, channels)``, dtype float32, finite values, full scale
            1.0. Empty blocks are skipped.
        channels : int
            Channels of the layout.
        write : callable
            Called with each packet the encoder returns.

        Returns
        -------
        (samples, delay) : tuple of int
            Samples per channel encoded, and the encoder delay: minus the
            first packet's pts.

        Raises
        ------
        SourceError
            If a block has the wrong shape or dtype or holds NaN or infinite
            samples, or no block holds a sample.
        StreamError
            If FFmpeg refuses a block, or its first packet's pts is after 0.
        KeyboardInterrupt
            On Ctrl-C, raised once PyAV has encoded the current block.
        """
        self._first_pts = None
        samples = 0
        for block in blocks:
            check_float_block(block, channels, samples, self.label)
            if block.shape[0] == 0:
                continue
            frame = AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout=self.layout)
            frame.sample_rate, frame.pts, frame.time_base = self.rate, samples, Fraction(1, self.rate)
            self._encode_frame(frame, write)
            samples += block.shape[0]
        if samples == 0:
            raise SourceError("no samples to encode")
        self._encode_frame(None, write)
        if self._first_pts is None or self._first_pts > 0:
            raise StreamError(
                f"FFmpeg's {self.label} encoder started at pts {self._first_pts}, not at or before 0"
            )
        return samples, -self._first_pts

    def _encode_frame(self, frame: AudioFrame | None, write: Callable[[av.Packet], object]) -> None:
        """Encode one frame (None: flush) and write the packets it gives."""
        with HeldInterrupt():
            try:
                packets = self.context.encode(frame)
            except av.FFmpegError as exc:
                raise StreamError(f"FFmpeg's {self.label} encoder failed: {exc}") from exc
        for packet in packets:
            if self._first_pts is None:
                self._first_pts = packet.pts
            write(packet)


def decode_frame(context: av.AudioCodecContext, data: bytes | memoryview, label: str) -> AudioFrame:
    """Decode one frame's bytes, after those ``context`` decoded before, to exactly one frame.

    Parameters
    ----------
    context : av.AudioCodecContext
        An open audio decoder.
    data : bytes-like
        One whole frame, not empty (an empty packet would put FFmpeg's
        decoder in draining mode).
    label : str
        The codec as messages name it (``"AAC"``).

    Returns
    -------
    AudioFrame
        FFmpeg's decoded frame.

    Raises
    ------
    StreamError
        If FFmpeg cannot decode the bytes, or they decode to no frame or
        several; worded to follow a prefix that names the frame.
    """
    try:
        decoded = context.decode(_packet(data))
    except av.FFmpegError as exc:
        raise StreamError(f"does not decode as {label} (corrupt, truncated, foreign): {exc}") from exc
    if len(decoded) != 1:
        raise StreamError(f"decodes to {len(decoded)} frames, not one")
    return decoded[0]


def open_source(path: Path, label: str) -> av.container.InputContainer:
    """Open a source file with PyAV to keep its ``label`` (``"AAC"``) frames; SourceError if it cannot."""
    try:
        return av.open(str(path), mode="r", metadata_errors="replace")
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open the file to keep its {label} frames: {exc}") from exc


def audio_stream(container: av.container.InputContainer, index: int | None) -> av.AudioStream:
    """The container's audio stream of index ``index`` (None: the first); SourceError if there is none."""
    for stream in container.streams.audio:
        if index is None or stream.index == index:
            return stream
    raise SourceError(f"the file has no audio stream {'' if index is None else index}".rstrip())


class Trim:
    """Follows a full decode packet by packet against a plain decode: samples dropped before, kept, after.

    Parameters
    ----------
    frame_samples : int
        Samples per channel of every plain-decoded frame.

    Attributes
    ----------
    delay : int
        Samples per channel the full decode dropped before its first one.
    samples : int
        Samples per channel it kept.
    """

    def __init__(self, frame_samples: int) -> None:
        self.frame_samples = frame_samples
        self.delay = self.samples = 0
        self.phase = "lead"

    def add(self, reference: np.ndarray, kept: list[np.ndarray]) -> bool:
        """Add a packet's plain decode and the frames the full decode gave for it; False if they differ.

        ``reference`` and each of ``kept`` have shape ``(n, channels)``. The
        full decode may give no frame or one per packet. Before the first kept
        sample a packet may lose its head (delay), after it its tail
        (padding); a packet trimmed in the middle, or kept samples after a
        trimmed tail, do not fit.
        """
        if len(kept) > 1:
            return False
        n = len(kept[0]) if kept else 0
        if self.phase == "lead":
            if n and not np.array_equal(kept[0], reference[self.frame_samples - n :]):
                return False
            self.delay += self.frame_samples - n
            self.phase = "body" if n else "lead"
        elif self.phase == "body":
            if n and not np.array_equal(kept[0], reference[:n]):
                return False
            self.phase = "body" if n == self.frame_samples else "tail"
        elif n:
            return False
        self.samples += n
        return True
