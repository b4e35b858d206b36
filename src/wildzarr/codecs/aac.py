"""AAC-LC: FFmpeg's native encoder writes ADTS frames, FFmpeg's decoder (through PyAV) decodes windows.

Streams. :meth:`AacCodec.encode` writes an ADTS stream (ISO/IEC 13818-7 section
6.2; ISO/IEC 14496-3 section 1.A.3.2) of AAC-LC frames (audio object type 2,
ISO/IEC 14496-3 section 4), each a 7-byte header without CRC and one
``raw_data_block`` of 1024 samples per channel, read back float32. Frames carry
no checksum, so :attr:`AacCodec.frame_checksums` is True: the importer stores a
CRC-32 of every frame and the reader checks it before decoding.
:meth:`AacCodec.keep` stores the AAC-LC frames of an m4a, an mp4 or an ADTS
file as they are, without a second lossy generation (see there).

Encoder settings (FFmpeg 8.1 ``aac``, measured, ``docs/codecs-aac.md``):

- ``aac_pns=0``: perceptual noise substitution makes the decoder draw noise
  from its random state, so no pre-roll reproduces a full decode. Without it one
  frame of pre-roll (:attr:`AacCodec.preroll`) gives bit-identical windows.
- ``aac_is=0``: intensity stereo replaces the high bands of one channel of a
  pair by a scaled copy of the other; on two channels holding the same 8-16 kHz
  noise 7 samples apart it cost 5-7 dB of SNR in that band. Microphone arrays
  need each channel's own waveform.
- ``cutoff`` at the Nyquist frequency of the stored rate: FFmpeg's automatic
  cutoff stops at 22 kHz or lower (16 kHz at 64 kb/s per channel), which would
  drop the ultrasound of 96 kHz recordings.

Channels. Layouts without an LFE channel (whose element FFmpeg low-passes):
1 mono, 2 stereo, 3 "3.0", 4 "4.0", 5 "5.0" use the ADTS channel
configurations 1 to 5 (ISO/IEC 14496-3 Table 1.19); 6 "hexagonal", 7 "7.0" and
8 "octagonal" have none, so their frames say channel configuration 0 and every
frame begins with a ``program_config_element`` (ISO/IEC 14496-3 section
4.4.1.1, 9 bytes without its comment field): each frame decodes on its own, in
any ADTS decoder. (FFmpeg's ADTS muxer writes it in the first frame only; a
window starting later then does not decode.) Channel order is kept.

Encoder delay and padding. FFmpeg's encoder primes 1024 samples (its first
packet's pts is -1024; ``AVCodecContext.delay`` reports 0) and ends the stream
with ``ceil((samples + 1024) / 1024)`` frames: the padding is what the frames
decode to beyond delay and samples. ADTS records neither; both are stored with
the stream and trimmed by the reader.

Time expansion. ADTS declares one of 13 sample rates, 7350 to 96000 Hz
(:data:`ADTS_SAMPLERATES`). Audio at other rates (bat recordings at 250 to
500 kHz) can be stored with ``stored_samplerate``: the samples are coded one to
one as if sampled at that rate, so every frequency scales by
``stored_samplerate / samplerate``; reads return the samples at the recording's
rate. How much of the band survives is measured in ``docs/codecs-aac.md``.

Decoding. FFmpeg's ``aac`` decoder gets one packet per frame (an ADTS frame, or
a raw access unit with the AudioSpecificConfig as extradata) and returns 1024
planar float samples per frame. Each
:meth:`~wildzarr.codecs.aac_frames.AacFrameDecoder.decode` call starts from a
new decoder's state: see there why flushing is not enough.

PyAV 18.1 and 8 channels. Planar float frames of 8 channels report 9 planes:
``AudioFrame.from_ndarray`` refuses them and ``to_ndarray`` on a decoded one
crashed. Samples therefore enter the encoder as packed ``flt`` frames (PyAV's
encoder converts them to planar ``fltp`` in C) and leave the decoder through an
:class:`av.AudioResampler` to packed ``flt``; no Python code touches the planes
of a planar 8-channel frame.

Interrupts. A Ctrl-C is held while PyAV encodes a block or decodes a packet of
:meth:`AacCodec.keep` (:class:`wildzarr.interrupts.HeldInterrupt`), so PyAV
cannot drop it.

Modules. This one holds the codec (parameters, check, encode, keep, scan,
decoder); :mod:`wildzarr.codecs.aac_frames` the window decoder and the first
pass of :meth:`AacCodec.keep`; :mod:`wildzarr.codecs.aac_syntax` the bit
syntax (ADTS headers, AudioSpecificConfig, program_config_element, silent
frames).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, ClassVar

import numpy as np

from wildzarr.audio import AudioFormat
from wildzarr.codecs._common import parse_int
from wildzarr.codecs._pyav import FloatEncoder, audio_stream, open_source
from wildzarr.codecs.aac_frames import AacFrameDecoder, plan_kept
from wildzarr.codecs.aac_syntax import ADTS_SAMPLERATES, SAMPLES_PER_FRAME, AdtsWriter, adts_header, check_asc
from wildzarr.codecs.base import Codec, Encoded, ScannedStream
from wildzarr.errors import ArgumentError, SourceError, StreamError, UnsupportedSourceError
from wildzarr.index import FrameIndex
from wildzarr.scan.adts import scan_adts

if TYPE_CHECKING:
    from wildzarr.sources.base import Source

__all__ = [
    "ADTS_SAMPLERATES",
    "CHANNEL_LAYOUTS",
    "DEFAULT_BITRATE",
    "SAMPLES_PER_FRAME",
    "AacCodec",
    "AacFrameDecoder",
    "adts_header",
]

#: FFmpeg channel layouts by channel count: none has an LFE channel, which the encoder would low-pass.
CHANNEL_LAYOUTS = {
    1: "mono",
    2: "stereo",
    3: "3.0",
    4: "4.0",
    5: "5.0",
    6: "hexagonal",
    7: "7.0",
    8: "octagonal",
}
#: ADTS channel_configuration of those layouts (ISO/IEC 14496-3 Table 1.19); 0: a program_config_element says.
CHANNEL_CONFIGURATIONS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 0, 7: 0, 8: 0}
#: Default bit rate per channel, b/s, up to :data:`DEFAULT_BITRATE_RATE`; in proportion to the rate above.
DEFAULT_BITRATE = 128_000
#: The sample rate, Hz, above which the default bit rate grows with the rate (8/3 bits per sample).
DEFAULT_BITRATE_RATE = 48_000
#: Bit rates per channel a codec accepts, b/s. The upper bound is AAC's limit at 96 kHz (see below).
MIN_BITRATE, MAX_BITRATE = 16_000, 576_000
#: Most bits one channel may spend on a frame (ISO/IEC 14496-3 section 4.5.3.2, 6144 bits per channel):
#: 6 bits per sample, so 6 x the sample rate in b/s. FFmpeg's encoder clamps higher rates to it.
MAX_FRAME_BITS = 6144
#: Encoder options (see the module docstring).
ENCODER_OPTIONS = {"aac_pns": "0", "aac_is": "0"}


@dataclass(frozen=True)
class AacCodec(Codec):
    """Lossy AAC-LC streams in ADTS frames, 1 to 8 channels, read back as float32.

    Parameters
    ----------
    bitrate : int or None
        Target bit rate per channel in bits per second at the stored
        (declared) sample rate, 16,000 to 576,000. None (default): 128 kb/s
        (:data:`DEFAULT_BITRATE`) up to 48 kHz, 8/3 bits per sample above
        (256 kb/s at 96 kHz). 128 kb/s codes 44.1 and 48 kHz audio over its
        full band (cutoff at the Nyquist frequency) at about a sixth of 16-bit
        PCM's size, with waveform SNRs of 20 to 32 dB on the test recordings
        (``docs/codecs-aac.md``); at 64 kb/s the band to 24 kHz no longer
        fits. At 96 kHz (a 500 kHz bat recording declared at 96 kHz) 128 kb/s
        lost up to 7 dB in some bands, 256 kb/s at most 1.6 dB.
        AAC limits a channel to 6144 bits per frame, 6 bits per sample: higher
        rates are clamped to ``6 * rate`` (48 kb/s at 8 kHz).
    stored_samplerate : int or None
        None (default): store audio at its own rate, which must be one of
        :data:`ADTS_SAMPLERATES`. Else one of those rates, which the stream
        declares for audio of any rate (time expansion by ``samplerate /
        stored_samplerate``; the samples are coded one to one and read back at
        the recording's rate).
    keep_pns : bool
        Whether :meth:`keep` keeps AAC frames whose decode depends on the
        decoder's random state: perceptual noise substitution (ISO/IEC 14496-3
        section 4.6.13) fills bands with noise drawn from one generator that
        runs through the whole stream, so a window decoded from a fresh
        decoder gets other noise in those bands than a full decode (FFmpeg
        cannot set the generator's state). False (default): such sources are
        not kept and reads stay sample-exact. True: they are kept, and reads
        equal the full decode except in noise-substituted bands (same energy,
        other noise).

    Raises
    ------
    ArgumentError
        (a ValueError) If a parameter is not an integer in its range or not an
        ADTS sample rate, or ``keep_pns`` is not a bool.
    """

    codec_id: ClassVar[str] = "aac"
    lossy: ClassVar[bool] = True
    frame_checksums: ClassVar[bool] = True
    max_channels: ClassVar[int | None] = 8

    bitrate: int | None = None
    stored_samplerate: int | None = None
    keep_pns: bool = False

    def __post_init__(self) -> None:
        if self.bitrate is not None:
            bitrate = parse_int("AAC bitrate", self.bitrate, MIN_BITRATE, MAX_BITRATE)
            object.__setattr__(self, "bitrate", bitrate)
        if self.stored_samplerate is not None:
            low, high = ADTS_SAMPLERATES[-1], ADTS_SAMPLERATES[0]
            rate = parse_int("AAC stored_samplerate", self.stored_samplerate, low, high)
            if rate not in ADTS_SAMPLERATES:
                raise ArgumentError(
                    f"AAC stored_samplerate must be an ADTS sample rate ({_rates_text()} Hz), not {rate:,}"
                )
            object.__setattr__(self, "stored_samplerate", rate)
        if not isinstance(self.keep_pns, bool):
            raise ArgumentError(f"AAC keep_pns must be True or False, not {self.keep_pns!r}")

    @property
    def preroll(self) -> int:
        """1: a frame's first half overlaps the previous frame (ISO/IEC 14496-3 section 4.6.11.3.3).

        Measured: one frame of pre-roll gives windows bit-identical to a full
        decode (with perceptual noise substitution off), none does not.
        """
        return 1

    def get_config(self) -> dict[str, Any]:
        """Return ``{"id": "aac", "bitrate": ..., "stored_samplerate": ..., "keep_pns": ...}``."""
        return {
            "id": self.codec_id,
            "bitrate": self.bitrate,
            "stored_samplerate": self.stored_samplerate,
            "keep_pns": self.keep_pns,
        }

    def describe_choice(self) -> str:
        """``"AAC-LC 128 kb/s (256 at 96 kHz) per channel"``, with the declared rate when time-expanding."""
        per_channel = "128 kb/s (256 at 96 kHz)" if self.bitrate is None else f"{self.bitrate / 1000:g} kb/s"
        text = f"AAC-LC {per_channel} per channel"
        if self.stored_samplerate is not None:
            text += f", stored at {self.stored_samplerate} Hz"
        return text

    def declared_samplerate(self, fmt: AudioFormat) -> int:
        """The sample rate the stream declares for audio of format ``fmt``, Hz."""
        return fmt.samplerate if self.stored_samplerate is None else self.stored_samplerate

    def channel_bitrate(self, samplerate: int) -> int:
        """The bit rate per channel, b/s, the encoder gets at a declared rate: at most 6 bits per sample."""
        wanted = (
            self.bitrate or DEFAULT_BITRATE * max(samplerate, DEFAULT_BITRATE_RATE) // DEFAULT_BITRATE_RATE
        )
        return min(wanted, MAX_FRAME_BITS * samplerate // SAMPLES_PER_FRAME)

    def check(self, fmt: AudioFormat) -> AudioFormat:
        """Return the stored format, float32 of ``fmt``'s rate and channels, for integer or float input.

        Raises
        ------
        UnsupportedSourceError
            For more than 8 channels, or a sample rate that is not an ADTS
            rate when no ``stored_samplerate`` is set. The message gives the
            reason only; the caller adds the file name.
        """
        if not 1 <= fmt.channels <= len(CHANNEL_LAYOUTS):
            raise UnsupportedSourceError(
                f"AAC streams hold 1 to {len(CHANNEL_LAYOUTS)} channels; this source has {fmt.channels}"
            )
        if self.stored_samplerate is None and fmt.samplerate not in ADTS_SAMPLERATES:
            raise UnsupportedSourceError(
                f"AAC stores the sample rates {_rates_text()} Hz; this source has {fmt.samplerate:,} Hz "
                "(store it time-expanded with stored_samplerate set to one of them, or losslessly)"
            )
        return AudioFormat(fmt.samplerate, fmt.channels, "float32", 32)

    def encode(self, blocks: Iterable[np.ndarray], out: IO[bytes], fmt: AudioFormat) -> Encoded:
        """Encode float32 blocks as one ADTS stream written to ``out``.

        Parameters
        ----------
        blocks : iterable of numpy.ndarray
            Shape ``(n, fmt.channels)``, dtype float32, finite values, full
            scale 1.0 (the importer converts integers into [-1, 1)). Empty
            blocks are skipped.
        out : binary file
            The stream is written from its current position, frame by frame.
        fmt : AudioFormat
            The stored format, as :meth:`check` returns it.

        Returns
        -------
        Encoded
            ``samples``: samples per channel encoded; ``delay``: the encoder
            delay, 1024 (from the first packet's pts); ``decoder_config``:
            ``{"framing": "adts"}``.

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
            If FFmpeg refuses the settings or a packet, or a frame would
            exceed ADTS's 8191 bytes.
        OSError
            If writing to ``out`` fails.
        KeyboardInterrupt
            On Ctrl-C, raised once PyAV has encoded the current block.
        """
        if self.check(fmt) != fmt:
            raise ArgumentError(f"AAC encodes float32 samples, not {fmt.describe()}")
        rate, channels = self.declared_samplerate(fmt), fmt.channels
        options = {**ENCODER_OPTIONS, "cutoff": str(rate // 2)}
        encoder = FloatEncoder(
            "aac", "AAC", rate, CHANNEL_LAYOUTS[channels], self.channel_bitrate(rate) * channels, options
        )
        asc = bytes(encoder.context.extradata or b"")
        writer = AdtsWriter(out, rate, CHANNEL_CONFIGURATIONS[channels], asc)
        samples, delay = encoder.encode(blocks, channels, writer.write)
        return Encoded(samples=samples, delay=delay, decoder_config={"framing": "adts"})

    def keep(self, source: Source, out: IO[bytes]) -> Encoded | None:
        """Write the source's AAC-LC frames as they are, with its own priming and padding.

        The source's chosen audio stream (``source.stream_index``) is demuxed
        with PyAV twice. The first pass decodes every packet three times: as
        PyAV's full decode of the source does (``container.decode(stream)``,
        which drops what the container's edit list trims and the packets it
        marks discardable), plainly (every frame in order, nothing dropped), and
        as the reader will (after one frame of pre-roll, from a reset
        decoder). The samples the full decode drops before its first and after
        its last sample become delay and padding; every sample it keeps must
        equal the plain decode's bit for bit, and every windowed frame the plain
        one's (unless ``keep_pns``). The second pass writes the packets.

        - MP4 / m4a / mov, Matroska: **raw access units** (no ADTS header: 7
          bytes, 3.5 % of a 64 kb/s mono stream, saved) with ``frame_bytes``
          and ``decoder_config = {"framing": "raw", "asc":
          <AudioSpecificConfig, hex>}`` (the MP4 ``esds`` decoder-specific
          info or Matroska's CodecPrivate, ISO/IEC 14496-3 section 1.6.2.1).
          The stored bytes are the source's audio bytes.
        - ADTS (``.aac``): the frames with their headers, ``{"framing":
          "adts"}``; frames of channel configuration 0 (their
          program_config_element is usually in the first frame only) or of
          several raw data blocks are not kept.

        Returns
        -------
        Encoded or None
            ``samples`` as PyAV's full decode counts them, ``delay`` as
            described. None, with nothing written, when the source is not a
            file, the stream is not AAC-LC (HE-AAC, SBR, PS, 960-sample frames,
            Main, LTP), ``stored_samplerate`` asks for another rate than the
            source's, the full decode cannot be reproduced from the frames
            (a trim inside the stream, a decoder configuration that changes),
            or windows cannot (noise substitution, unless ``keep_pns``).

        Raises
        ------
        SourceError
            If the file cannot be read, or its packets change between the two
            passes.
        OSError
            If writing to ``out`` fails.
        KeyboardInterrupt
            On Ctrl-C, raised once the current packet is decoded.
        """
        path, info = source.path, source.format
        if path is None or info.codec != "aac" or self.stored_samplerate not in (None, info.samplerate):
            return None
        plan = plan_kept(path, source.stream_index, info.samplerate, info.channels, not self.keep_pns)
        if plan is None:
            return None
        sizes = []
        with open_source(path, "AAC") as container:
            stream = audio_stream(container, source.stream_index)
            for packet in container.demux(stream):
                if packet.size:
                    sizes.append(packet.size)
                    out.write(bytes(packet))
        if sizes != plan.sizes:
            raise SourceError("the AAC packets changed while the file was read")
        raw = plan.decoder_config["framing"] == "raw"
        return Encoded(
            samples=plan.samples,
            delay=plan.delay,
            frame_bytes=np.array(sizes, dtype=np.int64) if raw else None,
            decoder_config=plan.decoder_config,
        )

    def scan(self, stream: bytes | memoryview, fmt: AudioFormat, encoded: Encoded) -> ScannedStream:
        """Validate a complete stream and index its frames.

        ADTS framing (``encoded.decoder_config`` None or ``{"framing":
        "adts"}``): :func:`wildzarr.scan.adts.scan_adts` checks every header
        (sync word, AAC-LC profile, fixed fields, the frames chaining to the
        end) and the declared rate; then the first frame is decoded to check
        the channel count, which channel configuration 0 leaves to the
        program_config_element.

        Raw access units (``{"framing": "raw", "asc": hex}`` with
        ``encoded.frame_bytes``): frames have no sync word or length field, so
        they cannot be scanned without decoding. Their lengths must be
        positive and add up to the stream's length, the AudioSpecificConfig
        must describe AAC-LC of 1024-sample frames at the declared rate, and
        every frame is decoded once, in order, to 1024 samples of
        ``fmt.channels`` channels (7 us per mono frame).

        Returns
        -------
        ScannedStream
            1024 decoded samples per frame; ``decoder_config`` is
            ``encoded.decoder_config`` (``{"framing": "adts"}`` when None).

        Raises
        ------
        StreamError
            On any failed check; ``offset`` or ``frame`` locate it when known.
        """
        config = dict(encoded.decoder_config or {"framing": "adts"})
        framing, asc = _framing(config)
        rate = self.declared_samplerate(fmt)
        if asc is None:
            info, index = scan_adts(stream, expected_samplerate=rate)
            if np.any(np.diff(index.first_samples) != SAMPLES_PER_FRAME):
                raise StreamError("ADTS frames of several raw data blocks are not supported")
            if info.channels not in (0, fmt.channels):
                raise StreamError(f"the ADTS stream holds {info.channels} channels, not {fmt.channels}")
            first = stream[: int(index.offsets[1])]
            AacFrameDecoder(fmt.channels, None).decode([first])
            return ScannedStream(index=index, decoder_config=config)
        if encoded.frame_bytes is None:
            raise StreamError(f"an AAC stream of {framing} frames needs the length of every frame")
        sizes = np.asarray(encoded.frame_bytes, dtype=np.int64)
        if sizes.ndim != 1 or sizes.size == 0 or np.any(sizes <= 0) or int(sizes.sum()) != len(stream):
            raise StreamError(
                f"the frame lengths ({sizes.size} frames, {int(sizes.sum())} bytes) do not cut the "
                f"{len(stream)}-byte stream into frames of at least one byte"
            )
        check_asc(asc, rate)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        decoder = AacFrameDecoder(fmt.channels, asc)
        bounds = offsets.tolist()
        for k in range(sizes.size):
            try:
                decoder.decode_next(stream[bounds[k] : bounds[k + 1]])
            except StreamError as exc:
                raise StreamError(f"AAC frame {k}: {exc}", offset=bounds[k], frame=k) from exc
        first_samples = np.arange(sizes.size + 1, dtype=np.int64) * SAMPLES_PER_FRAME
        return ScannedStream(index=FrameIndex(offsets, first_samples), decoder_config=config)

    def decoder(self, fmt: AudioFormat, decoder_config: dict[str, Any]) -> AacFrameDecoder:
        """Return a new :class:`AacFrameDecoder` for a stream of ``fmt.channels`` channels.

        Raises
        ------
        StreamError
            If ``decoder_config`` is not what :meth:`scan` returns, or FFmpeg
            refuses the AudioSpecificConfig.
        """
        return AacFrameDecoder(fmt.channels, _framing(decoder_config)[1])


def _rates_text() -> str:
    return ", ".join(f"{r:,}" for r in sorted(ADTS_SAMPLERATES))


def _framing(config: dict[str, Any]) -> tuple[str, bytes | None]:
    """``(framing, AudioSpecificConfig or None)`` from a decoder config; StreamError if invalid."""
    framing = config.get("framing") if isinstance(config, dict) else None
    if framing == "adts":
        return framing, None
    if framing == "raw":
        try:
            asc = bytes.fromhex(config["asc"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StreamError(f"an AAC decoder config of raw frames needs 'asc' in hex: {exc!r}") from None
        if not asc:
            raise StreamError("an AAC decoder config of raw frames needs a non-empty 'asc'")
        return framing, asc
    raise StreamError(f"an AAC decoder config needs 'framing' 'adts' or 'raw', not {config!r}")
