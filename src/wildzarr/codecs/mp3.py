"""MP3 (MPEG-1/2/2.5 audio Layer III): LAME writes frames, FFmpeg's ``mp3float`` (PyAV) decodes windows.

Streams. A stream is a plain concatenation of Layer III frames (ISO/IEC
11172-3 section 2.4; ISO/IEC 13818-3 for the MPEG-2 rates and the MPEG-2.5
extension at half those), without ID3, APE or Xing/Info tags: 1152 samples
per channel per frame at 32, 44.1 and 48 kHz (MPEG-1), 576 at 16, 22.05 and
24 kHz (MPEG-2) and at 8, 11.025 and 12 kHz (MPEG-2.5), one or two channels,
read back as float32. Frames rarely carry a CRC, and a CRC covers only the
header and side information, so :attr:`Mp3Codec.frame_checksums` is True: the
importer stores a CRC-32 of every frame and the reader checks it before
decoding. :func:`wildzarr.scan.mp3.scan_mp3` validates and indexes streams.

Two ways in:

- :meth:`Mp3Codec.keep` stores an mp3 source's own frames as they are, with
  no second lossy generation, when reads can equal PyAV's full decode of the
  source sample for sample (:func:`wildzarr.codecs.mp3_frames.keep_frames`);
- :meth:`Mp3Codec.encode` encodes samples with LAME (FFmpeg's
  ``libmp3lame``), constant bit rate, bit reservoir and joint stereo on (LAME's
  defaults; M/S stereo switches per frame and is lossless as a transform, and
  LAME never uses intensity stereo).

Pre-roll (measured, ``docs/codecs-mp3.md``). A frame decodes exactly as in a
full decode when the decoder has seen the frames before it that hold its
state:

- the filterbank overlap: a granule's output is the overlap-add of its IMDCT
  with the previous granule's, through a polyphase synthesis filter holding
  the last 16 of a granule's 18 subband slots. So a granule's output depends
  on its own IMDCT and those of the two granules before it:
  :data:`OVERLAP_FRAMES` 1 frame for MPEG-1 (two granules per frame), 2 for
  MPEG-2/2.5 (one granule per frame);
- the bit reservoir: a frame's main data starts ``main_data_begin`` bytes back,
  in up to :func:`~wildzarr.scan.mp3.reservoir_reach` earlier frames, which
  must be given to the decoder too, for the frame itself and for each frame
  whose overlap it needs.

The stream's pre-roll (:func:`preroll_frames`) is the most any frame needs:
``max over k, j in 0..OVERLAP_FRAMES of j + reach[k - j]``. Measured with a
new decoder per window: one frame fewer gives wrong windows, this many gives
windows bit-identical to a full decode (1000 of 1000 per stream).

Encoder delay and padding. FFmpeg's ``libmp3lame`` starts its first packet at
pts -1105: LAME's 576 samples of encoder delay plus the 529 samples of delay
of an MPEG audio decoder's filterbank. The stream is stored with that delay,
and with the padding the frames decode to after the last source sample.

Decoding. FFmpeg's ``mp3float`` decoder gets one packet per frame and returns
planar float samples. Each :meth:`Mp3FrameDecoder.decode` call starts with a
new decoder (a flushed one keeps bytes that pre-roll frames read; see there).

Interrupts. A Ctrl-C is held while PyAV encodes a block
(:class:`wildzarr.interrupts.HeldInterrupt`), so PyAV cannot drop it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, ClassVar

import numpy as np

from wildzarr.audio import AudioFormat
from wildzarr.codecs._common import parse_int
from wildzarr.codecs._pyav import FloatEncoder
from wildzarr.codecs.base import Codec, Encoded, ScannedStream
from wildzarr.codecs.mp3_frames import (
    MPEG1_SAMPLERATES,
    OVERLAP_FRAMES,
    Mp3FrameDecoder,
    keep_frames,
    preroll_frames,
)
from wildzarr.errors import ArgumentError, UnsupportedSourceError
from wildzarr.scan.mp3 import scan_mp3

if TYPE_CHECKING:
    from wildzarr.sources.base import Source

__all__ = [
    "BITRATES",
    "DEFAULT_BITRATE",
    "MPEG1_SAMPLERATES",
    "OVERLAP_FRAMES",
    "SAMPLERATES",
    "Mp3Codec",
    "Mp3FrameDecoder",
    "preroll_frames",
]

#: Every Layer III sample rate, Hz: MPEG-1, MPEG-2 (ISO/IEC 13818-3 section 2.4.2.3) and MPEG-2.5.
SAMPLERATES = (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, *MPEG1_SAMPLERATES)
#: Layer III bit rates of a frame, b/s, by version: MPEG-1 (ISO/IEC 11172-3 section 2.4.2.3,
#: ``bitrate_index`` 1..14) and MPEG-2/2.5 (ISO/IEC 13818-3 section 2.4.2.3). Index 0 (free format) is
#: not used.
BITRATES = {
    "1": tuple(k * 1000 for k in (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)),
    "2": tuple(k * 1000 for k in (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)),
}
#: Default bit rate per channel, b/s, at :data:`DEFAULT_BITRATE_RATE` and above; in proportion below.
DEFAULT_BITRATE = 160_000
#: The sample rate, Hz, below which the default bit rate shrinks with the rate (10/3 bits per sample).
DEFAULT_BITRATE_RATE = 48_000
#: Bit rates per channel a codec accepts, b/s: the smallest and largest Layer III frame bit rates.
MIN_BITRATE, MAX_BITRATE = 8_000, 320_000
#: FFmpeg channel layouts by channel count.
CHANNEL_LAYOUTS = {1: "mono", 2: "stereo"}


@dataclass(frozen=True)
class Mp3Codec(Codec):
    """Lossy MP3 (MPEG audio Layer III) streams of 1 or 2 channels, read back as float32.

    Parameters
    ----------
    bitrate : int or None
        Target bit rate per channel in bits per second, 8,000 to 320,000.
        The frames' bit rate is ``bitrate * channels`` rounded up to a Layer
        III bit rate (:data:`BITRATES`: 32 to 320 kb/s at the MPEG-1 rates,
        8 to 160 kb/s below), at most the largest. None (default): 160 kb/s
        per channel (:data:`DEFAULT_BITRATE`) at 48 kHz, the same 10/3 bits
        per sample at lower rates; rounded up that gives 160 kb/s mono and
        320 stereo (the largest MPEG-1 frame) at 44.1 and 48 kHz, 112 mono
        at 32 kHz, 80 at 24 kHz, 32 at 8 kHz. Measured on white noise at
        48 kHz (``docs/codecs-mp3.md``), 160 kb/s keeps every band up to
        18 kHz within 0.4 dB (LAME low-passes above about 21 kHz at any bit
        rate); lower rates lose waveform SNR (tones and a sweep, 48 kHz
        mono: 24 dB at 96 kb/s, 25 at 160, 32 at 320) and need more
        pre-roll (smaller frames hold fewer bytes of the bit reservoir).

    Raises
    ------
    ArgumentError
        (a ValueError) If ``bitrate`` is not an integer in its range.
    """

    codec_id: ClassVar[str] = "mp3"
    lossy: ClassVar[bool] = True
    frame_checksums: ClassVar[bool] = True
    max_channels: ClassVar[int | None] = 2

    bitrate: int | None = None

    def __post_init__(self) -> None:
        if self.bitrate is not None:
            bitrate = parse_int("MP3 bitrate", self.bitrate, MIN_BITRATE, MAX_BITRATE)
            object.__setattr__(self, "bitrate", bitrate)

    @property
    def preroll(self) -> int:
        """1, the overlap of MPEG-1 frames; every stream stores its own (:func:`preroll_frames`)."""
        return OVERLAP_FRAMES["1"]

    def get_config(self) -> dict[str, Any]:
        """Return ``{"id": "mp3", "bitrate": ...}``."""
        return {"id": self.codec_id, "bitrate": self.bitrate}

    def describe_choice(self) -> str:
        """``"MP3 (LAME) 160 kb/s per channel at 48 kHz"`` or ``"MP3 (LAME) 128 kb/s per channel"``."""
        per_channel = (
            "160 kb/s per channel at 48 kHz (10/3 bits per sample)"
            if self.bitrate is None
            else f"{self.bitrate / 1000:g} kb/s per channel"
        )
        return f"MP3 (LAME) {per_channel}"

    def frame_bitrate(self, fmt: AudioFormat) -> int:
        """The bit rate of the frames, b/s, for audio of format ``fmt``: a Layer III bit rate."""
        default = DEFAULT_BITRATE * min(fmt.samplerate, DEFAULT_BITRATE_RATE) // DEFAULT_BITRATE_RATE
        table = BITRATES["1" if fmt.samplerate in MPEG1_SAMPLERATES else "2"]
        wanted = (self.bitrate or default) * fmt.channels
        return next((rate for rate in table if rate >= wanted), table[-1])

    def check(self, fmt: AudioFormat) -> AudioFormat:
        """Return the stored format, float32 of ``fmt``'s rate and channels, for integer or float input.

        Raises
        ------
        UnsupportedSourceError
            For more than 2 channels, or a sample rate Layer III cannot
            declare. The message gives the reason only; the caller adds the
            file name.
        """
        if not 1 <= fmt.channels <= len(CHANNEL_LAYOUTS):
            raise UnsupportedSourceError(f"MP3 streams hold 1 or 2 channels; this source has {fmt.channels}")
        if fmt.samplerate not in SAMPLERATES:
            rates = ", ".join(f"{r:,}" for r in SAMPLERATES)
            raise UnsupportedSourceError(
                f"MP3 stores the sample rates {rates} Hz; this source has {fmt.samplerate:,} Hz"
            )
        return AudioFormat(fmt.samplerate, fmt.channels, "float32", 32)

    def encode(self, blocks: Iterable[np.ndarray], out: IO[bytes], fmt: AudioFormat) -> Encoded:
        """Encode float32 blocks with LAME as one stream of Layer III frames written to ``out``.

        Parameters
        ----------
        blocks : iterable of numpy.ndarray
            Shape ``(n, fmt.channels)``, dtype float32, finite values, full
            scale 1.0. Empty blocks are skipped.
        out : binary file
            The frames are written from its current position as LAME emits
            them.
        fmt : AudioFormat
            The stored format, as :meth:`check` returns it.

        Returns
        -------
        Encoded
            ``samples``: samples per channel encoded; ``delay``: 1105 (from
            the first packet's pts: LAME's 576 plus the decoder's 529);
            ``decoder_config``: empty.

        Raises
        ------
        ArgumentError
            If ``fmt`` is not a stored format of this codec.
        UnsupportedSourceError
            If :meth:`check` refuses ``fmt``.
        SourceError
            If a block has the wrong shape or dtype or holds NaN or infinite
            samples, or no block holds a sample.
        StreamError
            If FFmpeg refuses the settings or a block.
        OSError
            If writing to ``out`` fails.
        KeyboardInterrupt
            On Ctrl-C, raised once PyAV has encoded the current block.
        """
        if self.check(fmt) != fmt:
            raise ArgumentError(f"MP3 encodes float32 samples, not {fmt.describe()}")
        layout = CHANNEL_LAYOUTS[fmt.channels]
        encoder = FloatEncoder("libmp3lame", "MP3", fmt.samplerate, layout, self.frame_bitrate(fmt))
        samples, delay = encoder.encode(blocks, fmt.channels, lambda packet: out.write(bytes(packet)))
        return Encoded(samples=samples, delay=delay, decoder_config={})

    def keep(self, source: Source, out: IO[bytes]) -> Encoded | None:
        """Write the source's MP3 frames as they are, if reads of them can equal PyAV's full decode.

        See :func:`wildzarr.codecs.mp3_frames.keep_frames`: the frames PyAV's
        demuxer gives (no ID3 or APE tag; FFmpeg consumes a Xing/Info frame
        and applies its LAME delay and padding), with the delay and padding
        the full decode trims, measured frame by frame.

        Returns
        -------
        Encoded or None
            None, with nothing written, when the source is not an mp3 stream
            of a file, or its frames cannot give reads equal to the full
            decode (free format, a frame FFmpeg cannot decode, a stream cut
            out of a longer one, a trim inside the stream).

        Raises
        ------
        SourceError
            If the file cannot be read.
        OSError
            If writing to ``out`` fails.
        KeyboardInterrupt
            On Ctrl-C, raised once the current packet is decoded.
        """
        path, info = source.path, source.format
        if path is None or info.codec != "mp3":
            return None
        if info.channels not in CHANNEL_LAYOUTS or info.samplerate not in SAMPLERATES:
            return None
        return keep_frames(path, source.stream_index, info.samplerate, info.channels, out)

    def scan(self, stream: bytes | memoryview, fmt: AudioFormat, encoded: Encoded) -> ScannedStream:
        """Validate a complete stream and index its frames; the pre-roll follows its bit reservoir.

        :func:`wildzarr.scan.mp3.scan_mp3` checks every frame (header, CRC
        when present, side information, the bit reservoir, the frames
        chaining to the end) and the rate and channels of ``fmt``.

        Returns
        -------
        ScannedStream
            1152 or 576 decoded samples per frame; ``decoder_config`` empty;
            ``preroll`` from :func:`preroll_frames`.

        Raises
        ------
        StreamError
            On any failed check; ``code`` (an :class:`~wildzarr.scan.mp3.Mp3Status`),
            ``offset`` and ``frame`` locate it.
        """
        info, index, main_data_begin = scan_mp3(
            stream, expected_samplerate=fmt.samplerate, expected_channels=fmt.channels
        )
        return ScannedStream(
            index=index, decoder_config={}, preroll=preroll_frames(info, index, main_data_begin)
        )

    def decoder(self, fmt: AudioFormat, decoder_config: dict[str, Any]) -> Mp3FrameDecoder:
        """Return a new :class:`Mp3FrameDecoder` for a stream of format ``fmt`` (the config is empty)."""
        return Mp3FrameDecoder(fmt.samplerate, fmt.channels)
