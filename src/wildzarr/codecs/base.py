"""The codec contract: how a recording's samples become a byte stream of frames and back.

A codec is a small frozen object with a ``codec_id`` and JSON-only parameters. It
never knows about Zarr; the archive, the importer and the reader never look
inside a codec's bytes. Every codec fits one shape: a stream of **frames**, each
with a byte offset and a first sample, so that one frame index
(:class:`wildzarr.index.FrameIndex`) and one slice reader serve every codec.

Every method that deals with samples receives one description of the audio, an
:class:`~wildzarr.audio.AudioFormat` (sample rate, channels, dtype, bit depth):

``check(fmt) -> AudioFormat``
    Before any work: raise :class:`~wildzarr.errors.UnsupportedSourceError`
    (with the reason only; the caller adds the file name) if the codec cannot
    store audio of format ``fmt``; else return the **stored format**: what
    :meth:`Codec.encode` accepts and what the decoder returns (FLAC: integers
    of a bit depth; AAC: float32; npy: the source's own dtype). The importer
    converts the source's samples to it with :func:`wildzarr.audio.convert`.
``encode(blocks, out, fmt) -> Encoded``
    Write one complete stream to the seekable binary file ``out`` from blocks
    of shape ``(n, fmt.channels)`` and dtype ``fmt.dtype`` (``fmt`` is the
    stored format). Returns the samples encoded and the **encoder delay**
    (priming: decoded samples before the first source sample).
``keep(source, out) -> Encoded | None``
    Optional: write the source's own compressed frames as they are (no new
    lossy generation) and return what :meth:`encode` would, or None when the
    source's frames are not this codec's.
``scan(stream, fmt, encoded) -> ScannedStream``
    Validate a complete stream and locate its frames (a C scanner for FLAC and
    ADTS). Raises :class:`~wildzarr.errors.StreamError` on any inconsistency.
``decoder(fmt, decoder_config) -> FrameDecoder``
    A decoder for one thread (decoders hold state and are not shared).
``preroll``
    Frames before the first frame covering a range that must be decoded too
    and discarded (0 for FLAC and npy, whose frames are independent; 1 for AAC,
    whose frames overlap). The frame index plans it.
``frame_checksums``
    True when frames carry no checksum of their own: the importer stores a
    CRC-32 of every frame in the index and the reader checks it before
    decoding, so corrupt bytes never decode into silent garbage.
``max_channels``
    Most channels one stream holds (None: any). The importer stores wider
    audio as several streams of at most that many channels.
``audio_digest(fmt, decoder_config)``
    Optional: an :class:`AudioDigest` that checks decoded samples against a
    checksum the stream carries (FLAC: the STREAMINFO MD5), or None.

A stream may start with an encoder delay and end with padding (both in
samples); both are stored with the stream and trimmed by the reader, so sample
``n`` of a read is sample ``n`` of the source for every codec.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, ClassVar, Protocol, Self

import numpy as np

from wildzarr.audio import AudioFormat

if TYPE_CHECKING:
    from wildzarr.index import FrameIndex
    from wildzarr.sources.base import Source

__all__ = ["AudioDigest", "Codec", "Encoded", "FrameDecoder", "ScannedStream"]


@dataclass(frozen=True)
class Encoded:
    """What an encoder wrote.

    Attributes
    ----------
    samples : int
        Source samples (per channel) the stream holds.
    delay : int
        Encoder delay (priming): decoded samples that precede the first source
        sample (AAC: 1024 for FFmpeg's encoder, or what the source container's
        edit list says for kept frames). 0 for lossless codecs.
    frame_bytes : numpy.ndarray or None
        int64, shape ``(n_frames,)``: each frame's length in bytes, when the
        stream has no framing a scanner can find (AAC access units kept from an
        MP4 container); None when :meth:`Codec.scan` finds the frames itself.
    decoder_config : dict
        What the decoder needs beyond the stream's bytes, when only the encoder
        knows it (an MP4 AudioSpecificConfig); else empty.
    """

    samples: int
    delay: int = 0
    frame_bytes: np.ndarray | None = None
    decoder_config: dict[str, Any] | None = None


@dataclass(frozen=True)
class ScannedStream:
    """What a codec's scan found in a complete byte stream.

    Attributes
    ----------
    index : FrameIndex
        Byte offset and first decoded sample of every frame; its sample count is
        the decoded length, delay and padding included (the importer sets
        those).
    decoder_config : dict
        JSON-compatible values a :class:`FrameDecoder` needs (FLAC: the
        STREAMINFO block), stored with the stream.
    preroll : int or None
        Pre-roll this stream needs, when it depends on the stream (an MP3 bit
        reservoir reaching several frames back); None: the codec's
        :attr:`Codec.preroll`.
    """

    index: FrameIndex
    decoder_config: dict[str, Any]
    preroll: int | None = None


class SpanDecoder(Protocol):
    """Decodes many runs of frames straight into an output array in one call (GIL released).

    The optional fast path of a :class:`FrameDecoder` (FLAC:
    :class:`wildzarr.codecs.libflac.LibFlacDecoder`, which documents the arguments).
    """

    def decode_spans(
        self,
        data: Any,
        spans: np.ndarray,
        frame_samples: np.ndarray,
        out: np.ndarray,
        *,
        first_samples: np.ndarray | None = None,
    ) -> None: ...


class FrameDecoder(ABC):
    """Decodes whole frames of one stream; one instance per thread.

    ``span_decoder``, when not None, decodes whole batches of spans in one call
    (see :class:`SpanDecoder`); the reader uses it instead of :meth:`decode`.
    """

    span_decoder: SpanDecoder | None = None

    @abstractmethod
    def decode(self, frames: Sequence[bytes | memoryview]) -> np.ndarray:
        """Decode consecutive frames of the stream.

        Parameters
        ----------
        frames : sequence of bytes-like
            The bytes of consecutive frames, one item per frame, in stream order
            (the first ones may be pre-roll: their samples are decoded and
            returned like the others; the reader drops them).

        Returns
        -------
        numpy.ndarray
            Shape ``(samples, channels)``, the stored format's dtype, every
            frame's samples in order.

        Raises
        ------
        StreamError
            If a frame does not decode; ``frame`` is its position in ``frames``
            and the message says what is wrong with it, worded to follow a
            prefix naming it.
        """


class AudioDigest(ABC):
    """A checksum of a stream's decoded samples that the stream itself carries; fed in order."""

    #: What the checksum is called in reports ("MD5 (STREAMINFO)").
    name: ClassVar[str]

    @abstractmethod
    def update(self, samples: np.ndarray) -> None:
        """Feed the next decoded samples, shape ``(n, channels)``, as a :class:`FrameDecoder` returns them."""

    @abstractmethod
    def matches(self) -> bool | None:
        """Whether all samples fed match the stored checksum; None when the stream stores none."""


class Codec(ABC):
    """Base class of every codec; see the module docstring for the contract."""

    codec_id: ClassVar[str]
    #: True when decoding does not return the encoded samples exactly.
    lossy: ClassVar[bool] = False
    #: True when frames carry no checksum: the index stores a CRC-32 per frame.
    frame_checksums: ClassVar[bool] = False
    #: Most channels in one stream; None for any number.
    max_channels: ClassVar[int | None] = None

    @property
    def preroll(self) -> int:
        """Frames before the first covering frame to decode and discard (0: frames are independent)."""
        return 0

    @abstractmethod
    def get_config(self) -> dict[str, Any]:
        """Return the codec's parameters as JSON-compatible values, with ``"id"``."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """Build a codec from :meth:`get_config` output."""
        params = {k: v for k, v in config.items() if k != "id"}
        return cls(**params)

    @abstractmethod
    def check(self, fmt: AudioFormat) -> AudioFormat:
        """Return the stored format for audio of format ``fmt``; raise UnsupportedSourceError if none."""

    @abstractmethod
    def encode(self, blocks: Iterable[np.ndarray], out: IO[bytes], fmt: AudioFormat) -> Encoded:
        """Write one complete stream of blocks in the stored format ``fmt`` to ``out``."""

    def keep(self, source: Source, out: IO[bytes]) -> Encoded | None:
        """Write the source's own compressed frames to ``out`` if they are this codec's; else None."""
        return None

    @abstractmethod
    def scan(self, stream: bytes | memoryview, fmt: AudioFormat, encoded: Encoded) -> ScannedStream:
        """Validate a complete stream in the stored format ``fmt`` and index its frames."""

    @abstractmethod
    def decoder(self, fmt: AudioFormat, decoder_config: dict[str, Any]) -> FrameDecoder:
        """Return a new decoder of a stream in the stored format ``fmt``."""

    def audio_digest(self, fmt: AudioFormat, decoder_config: dict[str, Any]) -> AudioDigest | None:
        """A checker of the decoded audio against the stream's own checksum, or None if it has none."""
        return None

    def describe_choice(self) -> str:
        """A short human description of this configuration for listings ("FLAC level 5")."""
        params = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if k != "id")
        return f"{self.codec_id}({params})" if params else self.codec_id
