"""npy: any NumPy sample dtype, losslessly, as checksummed segments compressed by numcodecs.

The codec stores samples exactly as the source holds them: uint8, int8, int16,
int32, int64, float32 or float64 (:data:`wildzarr.audio.SAMPLE_DTYPES`), any
number of channels, NaN payloads, infinities and negative zeros byte for byte.

Segments. The samples are cut into **segments** of
:attr:`NpyCodec.segment_samples` samples per channel (the last one is
shorter); each segment is one frame of the stream, decodes on its own
(pre-roll 0) and carries its own CRC-32, so :attr:`NpyCodec.frame_checksums`
is False. A segment, all integers little-endian::

    offset  size  field
         0     4  magic b"WZSG"
         4     1  format version, 1
         5     1  filter: 0 none, 1 delta (see below)
         6     2  reserved, 0
         8     4  samples per channel n (uint32), 1..segment_samples
        12     4  payload length P in bytes (uint32), >= 1
        16     4  CRC-32 of bytes 0-15 and of the payload (uint32, zlib.crc32)
        20     P  payload: the compressor's output

The CRC-32 is ISO-HDLC (:func:`zlib.crc32`, as the frame index uses). It is
checked before the compressor sees a byte, so a damaged segment never reaches
a decompressor; scanning checks it too.

Payload. The segment's samples, shape ``(n, channels)``, are viewed as
little-endian unsigned integers of the same width and laid out **planar**
(channel by channel, shape ``(channels, n)``: neighbouring bytes belong to
one channel; this stored a 5-channel recording 9 % and a stereo corpus 5 %
smaller than interleaved samples, stereo recordings within 0.5 % either way:
``docs/codecs-npy.md``). With filter 1 every channel is replaced by its first
sample followed by the differences of consecutive samples, modulo
``2 ** width``: integer wrap-around makes this exact for every dtype, floats
included (their bit patterns are differenced as integers; a subtraction of
float values would round, and NaN or infinities would not survive it). The
planar bytes are then compressed by one numcodecs compressor
(:attr:`NpyCodec.compressor`): Blosc, Zstd or LZ4. Blosc receives the
unsigned array, so its shuffle filters work on the sample width (its
``typesize`` is taken from the array's itemsize; numcodecs ``Blosc``
documentation).

Why one compressor and not a numcodecs filter list: numcodecs' ``Delta`` and
``Shuffle`` fix a dtype or element size in their configs, and ``Delta`` on
floats is not exact; the codec's own delta and Blosc's shuffles adapt to the
stored dtype instead. And a single stage decodes into a buffer of exactly the
size the header announces: before decompressing, the size the payload's own
header declares (Blosc header, LZ4 size prefix, Zstandard frame content size)
must equal it, and numcodecs checks that the output fills it exactly.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, Final

import numcodecs  # type: ignore[import-untyped]
import numpy as np

from wildzarr.audio import AudioFormat
from wildzarr.codecs._common import check_block_shape
from wildzarr.codecs.base import Codec, Encoded, FrameDecoder, ScannedStream
from wildzarr.errors import ArgumentError, SourceError, StreamError, UnsupportedSourceError
from wildzarr.index import FrameIndex

__all__ = [
    "DEFAULT_COMPRESSOR",
    "DELTA_MODES",
    "HEADER",
    "MAGIC",
    "NpyCodec",
    "NpyFrameDecoder",
]

#: First four bytes of every segment.
MAGIC: Final = b"WZSG"
#: Segment format version written and read.
VERSION: Final = 1
#: Segment header: magic, version, filter, reserved, samples, payload length, CRC-32 (module docstring).
HEADER: Final = struct.Struct("<4sBBHIII")
#: Bytes of the header the CRC-32 covers (all but the CRC itself).
_CRC_COVERED: Final = 16
#: Filter byte values.
FILTER_NONE, FILTER_DELTA = 0, 1

#: ``delta`` parameter values: "auto" compresses each segment with and without the delta filter and
#: keeps the smaller; "always" and "never" do not try.
DELTA_MODES: Final = ("auto", "always", "never")
#: Default compressor: Blosc, LZ4HC level 1, bit shuffle (the choice is explained in docs/codecs-npy.md).
DEFAULT_COMPRESSOR: Final[dict[str, Any]] = {
    "id": "blosc",
    "cname": "lz4hc",
    "clevel": 1,
    "shuffle": 2,
    "blocksize": 0,
}
#: numcodecs compressors accepted: those that decompress into a caller's buffer, refuse one too small
#: and declare their decompressed size in a header the decoder checks first.
COMPRESSOR_IDS: Final = ("blosc", "zstd", "lz4")
#: Default samples per channel in a segment (measured in docs/codecs-npy.md).
DEFAULT_SEGMENT_SAMPLES: Final = 16384
#: Largest raw segment, bytes: below Blosc's input limit (BLOSC_MAX_BUFFERSIZE, 2**31 - 17; numcodecs
#: ``blosc.MAX_BUFFERSIZE``) and LZ4's (LZ4_MAX_INPUT_SIZE, 0x7E000000; numcodecs ``LZ4.max_buffer_size``)
#: with room for their overhead, so a compressed segment's length also fits the uint32 header field.
MAX_SEGMENT_BYTES: Final = 1 << 30

#: StreamError codes of this codec (``StreamError.code``).
ERR_EMPTY = 1  # the stream holds no segment
ERR_TRUNCATED = 2  # a header or payload runs past the end of the stream or frame
ERR_MAGIC = 3  # a segment does not start with MAGIC
ERR_HEADER = 4  # unknown version or filter, non-zero reserved bytes, zero-length payload
ERR_SAMPLES = 5  # a sample count of 0, above segment_samples, a short segment before the last, a wrong total
ERR_CRC = 6  # the CRC-32 does not match
ERR_PAYLOAD = 7  # the payload does not decompress to the announced size
ERR_TRAILING = 8  # a frame holds bytes after its payload

#: Blosc 1 header: version, versionlz, flags, typesize, nbytes, blocksize, cbytes (c-blosc README_HEADER.rst).
_BLOSC_HEADER: Final = struct.Struct("<BBBBIII")
#: Zstandard frame magic number, little-endian (RFC 8878 section 3.1.1).
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
#: Bytes of the Dictionary_ID and Frame_Content_Size fields by their flag values (RFC 8878 section 3.1.1.1.1).
_ZSTD_DICT_BYTES: Final = (0, 1, 2, 4)
_ZSTD_FCS_BYTES: Final = (0, 2, 4, 8)


def _parse_segment_samples(value: object) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not 1 <= value <= MAX_SEGMENT_BYTES
    ):
        raise ArgumentError(
            f"npy segment_samples must be an integer from 1 to {MAX_SEGMENT_BYTES}, not {value!r}"
        )
    return int(value)


def _build_compressor(config: object) -> tuple[dict[str, Any], Any]:
    """Validate a numcodecs compressor config; return its normalised config and the numcodecs codec.

    The config must be JSON-only, name one of :data:`COMPRESSOR_IDS`, build with
    ``numcodecs.get_codec`` and round-trip a small test array; Blosc must not
    fix ``typesize`` (the codec gives it the sample width).

    Raises
    ------
    ArgumentError
        Otherwise, saying why.
    """
    if not isinstance(config, dict) or config.get("id") not in COMPRESSOR_IDS:
        raise ArgumentError(
            f"npy compressor must be a numcodecs config dict with 'id' one of {', '.join(COMPRESSOR_IDS)}, "
            f"not {config!r}"
        )
    try:
        if json.loads(json.dumps(config)) != config:
            raise ValueError("it changes through JSON")
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"npy compressor config must be JSON-only: {config!r} ({exc})") from None
    if config["id"] == "blosc" and config.get("typesize") is not None:
        raise ArgumentError(
            "npy sets Blosc's typesize to the sample width; remove 'typesize' from the compressor"
        )
    probe = np.arange(64, dtype="<u2")
    try:
        codec = numcodecs.get_codec(dict(config))
        if not np.array_equal(np.frombuffer(codec.decode(codec.encode(probe)), dtype="<u2"), probe):
            raise ValueError("a test array does not round-trip")
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ArgumentError(f"invalid npy compressor {config!r}: {exc}") from None
    return codec.get_config(), codec


@dataclass(frozen=True)
class NpyCodec(Codec):
    """Lossless streams of samples of any :data:`~wildzarr.audio.SAMPLE_DTYPES` dtype and any channel count.

    Parameters
    ----------
    segment_samples : int
        Samples per channel in each segment (frame), 1 to 2**30; the last
        segment is shorter. Default 16384. A format whose segment would exceed
        :data:`MAX_SEGMENT_BYTES` raw is refused by :meth:`check`.
    delta : str
        One of :data:`DELTA_MODES`: whether segments are delta-filtered
        (module docstring). Default ``"auto"``: each segment is compressed
        both ways and the smaller kept (encoding costs twice the compressor's
        time; a segment records its filter, so any mode decodes any stream).
    compressor : dict
        A numcodecs ``get_config()`` dict of one of :data:`COMPRESSOR_IDS`,
        rebuilt with ``numcodecs.get_codec``; stored normalised (numcodecs
        fills in the defaults). Default :data:`DEFAULT_COMPRESSOR`, Blosc
        LZ4HC level 1 with bit shuffle.

    Raises
    ------
    ArgumentError
        (a ValueError) If a parameter is invalid.
    """

    codec_id: ClassVar[str] = "npy"

    segment_samples: int = DEFAULT_SEGMENT_SAMPLES
    delta: str = "auto"
    compressor: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_COMPRESSOR))

    def __post_init__(self) -> None:
        object.__setattr__(self, "segment_samples", _parse_segment_samples(self.segment_samples))
        if self.delta not in DELTA_MODES:
            raise ArgumentError(f"npy delta must be one of {', '.join(DELTA_MODES)}, not {self.delta!r}")
        object.__setattr__(self, "compressor", _build_compressor(self.compressor)[0])

    def __hash__(self) -> int:
        return hash(json.dumps(self.get_config(), sort_keys=True))

    def get_config(self) -> dict[str, Any]:
        """Return ``{"id": "npy", "segment_samples": ..., "delta": ..., "compressor": {...}}``."""
        return {
            "id": self.codec_id,
            "segment_samples": self.segment_samples,
            "delta": self.delta,
            "compressor": json.loads(json.dumps(self.compressor)),
        }

    def describe_choice(self) -> str:
        """``"npy (blosc lz4hc, 16384-sample segments, delta auto)"`` for listings."""
        name = " ".join(str(self.compressor[k]) for k in ("id", "cname") if k in self.compressor)
        return f"npy ({name}, {self.segment_samples}-sample segments, delta {self.delta})"

    def check(self, fmt: AudioFormat) -> AudioFormat:
        """Return ``fmt`` itself: samples are stored in their own dtype.

        Raises
        ------
        UnsupportedSourceError
            If one segment of ``fmt.channels`` channels would exceed
            :data:`MAX_SEGMENT_BYTES` (a smaller ``segment_samples`` fits).
        """
        raw = self.segment_samples * fmt.channels * fmt.numpy_dtype.itemsize
        if raw > MAX_SEGMENT_BYTES:
            raise UnsupportedSourceError(
                f"an npy segment of {self.segment_samples} samples of {fmt.channels} {fmt.dtype} channels "
                f"would hold {raw:,} bytes, more than {MAX_SEGMENT_BYTES:,}; choose a smaller segment_samples"
            )
        return fmt

    def encode(self, blocks: Iterable[np.ndarray], out: IO[bytes], fmt: AudioFormat) -> Encoded:
        """Write blocks of samples as one stream of segments to ``out``, a segment at a time.

        Parameters
        ----------
        blocks : iterable of numpy.ndarray
            Shape ``(n, fmt.channels)`` with any ``n`` (empty blocks are
            skipped), dtype exactly ``fmt.dtype`` (native byte order). Blocks
            are buffered into segments: memory holds one segment plus the
            compressor's work.
        out : binary file
            Written from its current position, left at the end of the stream.
            A source without samples writes nothing (:meth:`scan` refuses an
            empty stream).
        fmt : AudioFormat
            The stored format, as :meth:`check` returns it.

        Returns
        -------
        Encoded
            Samples per channel written; no delay.

        Raises
        ------
        UnsupportedSourceError
            If :meth:`check` refuses ``fmt``.
        SourceError
            If a block is not an array of shape ``(n, fmt.channels)`` and dtype ``fmt.dtype``.
        OSError
            If writing to ``out`` fails.
        """
        self.check(fmt)
        writer = _SegmentWriter(out, fmt, self.delta, _build_compressor(self.compressor)[1])
        segment = self.segment_samples
        pending = np.empty((segment, fmt.channels), dtype=fmt.numpy_dtype)
        filled = written = 0
        for block in blocks:
            check_block_shape(block, fmt.channels)
            if block.dtype != fmt.numpy_dtype:
                raise SourceError(f"a block of samples must have dtype {fmt.dtype}, not {block.dtype}")
            start = 0
            while start < len(block):
                if filled == 0 and len(block) - start >= segment:  # a whole segment: no copy
                    writer.write(block[start : start + segment])
                    start += segment
                    continue
                take = min(segment - filled, len(block) - start)
                pending[filled : filled + take] = block[start : start + take]
                filled += take
                start += take
                if filled == segment:
                    writer.write(pending)
                    filled = 0
            written += len(block)
        if filled:
            writer.write(pending[:filled])
        return Encoded(samples=written)

    def scan(self, stream: bytes | memoryview, fmt: AudioFormat, encoded: Encoded) -> ScannedStream:
        """Validate a complete stream and index its segments, checking every header and CRC-32.

        Every segment but the last must hold exactly ``segment_samples``
        samples, the last 1 to ``segment_samples``; together they must hold
        ``encoded.samples``; the segments must chain exactly to the end of
        the stream. Lengths are checked against the bytes left before use.

        Returns
        -------
        ScannedStream
            The frame index (one frame per segment; its last offset is the
            stream length, its last first sample the sample count); the
            ``decoder_config`` is empty (segments describe themselves).

        Raises
        ------
        StreamError
            On the first violation, with ``offset`` the byte offset of the
            segment concerned (the stream length for a wrong total) and
            ``code`` one of this module's ``ERR_*`` values.
        """
        view = memoryview(stream).cast("B")
        end = len(view)
        if end == 0:
            raise StreamError("the npy stream is empty: it holds no segment", code=ERR_EMPTY, offset=0)
        offsets: list[int] = []
        first_samples: list[int] = []
        position = total = previous = 0
        while position < end:
            where = f"npy segment {len(offsets)} at byte {position}"
            try:
                samples, _, length = _check_header(view, position, end, self.segment_samples)
                payload = view[position + HEADER.size : position + HEADER.size + length]
                _check_declared_size(self.compressor["id"], payload, samples, fmt)
            except StreamError as exc:
                raise StreamError(f"{where}: {exc}", code=exc.code, offset=position) from None
            if offsets and previous != self.segment_samples:
                raise StreamError(
                    f"{where}: follows a segment of {previous} samples; only the last segment may hold fewer "
                    f"than {self.segment_samples}",
                    code=ERR_SAMPLES,
                    offset=position,
                )
            offsets.append(position)
            first_samples.append(total)
            total += samples
            previous = samples
            position += HEADER.size + length
        if total != encoded.samples:
            raise StreamError(
                f"the npy stream holds {total} samples per channel, the encoder wrote {encoded.samples}",
                code=ERR_SAMPLES,
                offset=end,
            )
        index = FrameIndex(
            np.array([*offsets, end], dtype=np.int64), np.array([*first_samples, total], dtype=np.int64)
        )
        return ScannedStream(index=index, decoder_config={})

    def decoder(self, fmt: AudioFormat, decoder_config: dict[str, Any]) -> NpyFrameDecoder:
        """Return a new :class:`NpyFrameDecoder` of segments in format ``fmt`` (no decoder config needed)."""
        return NpyFrameDecoder(fmt, self.compressor, self.segment_samples)


def _check_header(view: memoryview, position: int, end: int, max_samples: int) -> tuple[int, int, int]:
    """Check the segment at ``view[position:end]``: header, bounds and CRC-32.

    Returns
    -------
    (samples, filter, payload_length)

    Raises
    ------
    StreamError
        With a message that says what is wrong, worded to follow a prefix naming
        the segment, and ``code`` an ``ERR_*`` value.
    """
    if end - position < HEADER.size:
        raise StreamError(
            f"is {end - position} bytes long, shorter than the {HEADER.size}-byte segment header",
            code=ERR_TRUNCATED,
        )
    magic, version, filter_, reserved, samples, length, crc = HEADER.unpack_from(view, position)
    if magic != MAGIC:
        raise StreamError(
            f"does not start with the npy segment magic {MAGIC!r} but {magic!r}", code=ERR_MAGIC
        )
    if version != VERSION or filter_ not in (FILTER_NONE, FILTER_DELTA) or reserved or length == 0:
        raise StreamError(
            f"has an invalid header (version {version}, filter {filter_}, reserved {reserved}, "
            f"payload length {length}); expected version {VERSION}, filter 0 or 1, reserved 0, a payload",
            code=ERR_HEADER,
        )
    if not 1 <= samples <= max_samples:
        raise StreamError(f"says it holds {samples} samples, not 1 to {max_samples}", code=ERR_SAMPLES)
    available = end - position - HEADER.size
    if length > available:
        raise StreamError(
            f"announces a {length}-byte payload but only {available} bytes follow its header",
            code=ERR_TRUNCATED,
        )
    start = position + HEADER.size
    computed = zlib.crc32(view[start : start + length], zlib.crc32(view[position : position + _CRC_COVERED]))
    if computed != crc:
        raise StreamError(
            f"fails its CRC-32 check (stored {crc:08x}, computed {computed:08x}): the segment is corrupt",
            code=ERR_CRC,
        )
    return samples, filter_, length


def _check_declared_size(compressor_id: str, payload: memoryview, samples: int, fmt: AudioFormat) -> None:
    """Raise StreamError (code ERR_PAYLOAD) unless ``payload`` declares the raw size of its samples."""
    expected = samples * fmt.channels * fmt.numpy_dtype.itemsize
    declared = _declared_size(compressor_id, payload)
    if declared != expected:
        raise StreamError(
            f"has a payload of {declared} bytes decompressed, but its {samples} samples of "
            f"{fmt.channels} {fmt.dtype} channels take {expected}",
            code=ERR_PAYLOAD,
        )


def _declared_size(compressor_id: str, payload: memoryview) -> int:
    """The decompressed size in bytes that a compressor's payload declares in its own header.

    Blosc: ``nbytes`` of its 16-byte header, whose ``cbytes`` must equal the
    payload length (c-blosc 1 decompresses without being told the source
    length). LZ4 as numcodecs frames it: a little-endian uint32 prefix
    (numcodecs ``lz4.pyx``). Zstandard: the frame's Frame_Content_Size (RFC
    8878 section 3.1.1.1), which numcodecs always writes.

    Raises
    ------
    StreamError
        If the header is missing or inconsistent (code ERR_PAYLOAD).
    """
    size = len(payload)
    if compressor_id == "blosc":
        if size < _BLOSC_HEADER.size:
            raise StreamError(f"has a {size}-byte payload, too short for a Blosc header", code=ERR_PAYLOAD)
        *_, nbytes, _, cbytes = _BLOSC_HEADER.unpack_from(payload)
        if cbytes != size:
            raise StreamError(
                f"has a Blosc header for {cbytes} bytes in a {size}-byte payload", code=ERR_PAYLOAD
            )
        return int(nbytes)
    if compressor_id == "lz4":
        if size < 4:
            raise StreamError(
                f"has a {size}-byte payload, too short for an LZ4 size prefix", code=ERR_PAYLOAD
            )
        return int.from_bytes(payload[:4], "little")
    descriptor_at = len(_ZSTD_MAGIC)
    if size <= descriptor_at or payload[:descriptor_at] != _ZSTD_MAGIC:
        raise StreamError("has a payload that is not a Zstandard frame", code=ERR_PAYLOAD)
    descriptor = payload[descriptor_at]
    single_segment = bool(descriptor & 0x20)
    fcs_bytes = _ZSTD_FCS_BYTES[descriptor >> 6] or (1 if single_segment else 0)
    at = descriptor_at + 1 + (0 if single_segment else 1) + _ZSTD_DICT_BYTES[descriptor & 0x3]
    if fcs_bytes == 0 or at + fcs_bytes > size:
        raise StreamError("has a Zstandard frame that does not state its content size", code=ERR_PAYLOAD)
    return int.from_bytes(payload[at : at + fcs_bytes], "little") + (256 if fcs_bytes == 2 else 0)


class _SegmentWriter:
    """Compresses segments of one stream and writes them to a file."""

    def __init__(self, out: IO[bytes], fmt: AudioFormat, delta: str, compressor: Any) -> None:
        self.out = out
        self.channels = fmt.channels
        self.native = np.dtype(f"u{fmt.numpy_dtype.itemsize}")
        self.stored = self.native.newbyteorder("<")
        self.delta = delta
        self.compressor = compressor

    def write(self, samples: np.ndarray) -> None:
        """Compress and write one segment of ``samples``, shape ``(n, channels)``, 1 <= n."""
        n = len(samples)
        planar = np.empty((self.channels, n), dtype=self.stored)
        columns = samples.view(self.native)
        for channel in range(self.channels):  # one column at a time: 1.5-5x faster than a transposed copy
            planar[channel] = columns[:, channel]
        candidates = []
        if self.delta != "always":
            candidates.append((FILTER_NONE, self.compressor.encode(planar)))
        if self.delta != "never":
            differences = np.empty_like(planar)
            differences[:, 0] = planar[:, 0]
            np.subtract(planar[:, 1:], planar[:, :-1], out=differences[:, 1:])  # wraps around: exact
            candidates.append((FILTER_DELTA, self.compressor.encode(differences)))
        filter_, payload = min(candidates, key=lambda candidate: len(candidate[1]))
        head = HEADER.pack(MAGIC, VERSION, filter_, 0, n, len(payload), 0)[:_CRC_COVERED]
        crc = zlib.crc32(payload, zlib.crc32(head))
        self.out.write(head + crc.to_bytes(4, "little"))
        self.out.write(payload)


class NpyFrameDecoder(FrameDecoder):
    """Decodes whole segments of one npy stream; one instance per thread.

    The heavy work runs without the GIL: :func:`zlib.crc32` on large buffers,
    numcodecs' Blosc, Zstd and LZ4 decompressors and NumPy's copies and sums.

    Parameters
    ----------
    fmt : AudioFormat
        The stored format: channels and dtype of the samples.
    compressor : dict
        The codec's numcodecs compressor config.
    max_samples : int
        The codec's ``segment_samples``: no segment holds more.
    """

    def __init__(self, fmt: AudioFormat, compressor: dict[str, Any], max_samples: int) -> None:
        self.fmt = fmt
        self.channels = fmt.channels
        self.dtype = fmt.numpy_dtype
        self.native = np.dtype(f"u{self.dtype.itemsize}")
        self.stored = self.native.newbyteorder("<")
        # 8- and 16-bit prefix sums are several times faster in 32 bits (then truncated, modulo 2**width).
        self.accumulator = self.stored if self.dtype.itemsize >= 4 else np.dtype("<u4")
        self.max_samples = max_samples
        self.compressor_id = compressor["id"]
        self.compressor = _build_compressor(compressor)[1]

    def decode(self, frames: Sequence[bytes | memoryview]) -> np.ndarray:
        """Decode consecutive whole segments.

        Parameters
        ----------
        frames : sequence of bytes-like
            One item per segment, each exactly one segment's bytes.

        Returns
        -------
        numpy.ndarray
            Shape ``(samples, channels)``, the stored dtype; ``samples`` is the
            sum of the segments' sample counts.

        Raises
        ------
        StreamError
            If a segment is too short or too long for its header, has a bad
            magic or header, a sample count outside 1..``segment_samples``, a
            CRC-32 mismatch, or a payload that does not decompress to exactly
            its samples. ``frame`` is its position in ``frames``; the message
            says what is wrong with it, worded to follow a prefix naming it
            (``"recording 3 stream 0 frame 17 (samples ...): fails its CRC-32
            check (...)"``); ``code`` is one of this module's ``ERR_*``.
        """
        parsed = []
        for index, data in enumerate(frames):
            view = memoryview(data).cast("B")
            try:
                samples, filter_, length = _check_header(view, 0, len(view), self.max_samples)
                if HEADER.size + length != len(view):
                    raise StreamError(
                        f"is {len(view)} bytes long but its header and payload take {HEADER.size + length}",
                        code=ERR_TRAILING,
                    )
            except StreamError as exc:
                exc.frame = index
                raise
            parsed.append((samples, filter_, view[HEADER.size :]))
        result = np.empty((sum(samples for samples, _, _ in parsed), self.channels), dtype=self.dtype)
        rows = result.view(self.native)
        position = 0
        for index, (samples, filter_, payload) in enumerate(parsed):
            target = rows[position : position + samples]
            planar = self._decompress(index, payload, samples, target)
            # One channel at a time: 1.5-5x faster than a transposed copy. NumPy's cumulative sum releases
            # the GIL only on a 1-D array in place, not along an axis of a 2-D array nor while casting
            # (measured with NumPy 2.4): 8- and 16-bit values are widened first, which is faster too.
            for channel, values in enumerate(planar):
                if filter_ == FILTER_DELTA:
                    if values.dtype != self.accumulator:
                        values = values.astype(self.accumulator)
                    np.cumsum(values, out=values)
                if not np.may_share_memory(values, target):
                    np.copyto(target[:, channel], values, casting="unsafe")
            position += samples
        return result

    def _decompress(self, index: int, payload: memoryview, samples: int, target: np.ndarray) -> np.ndarray:
        """Decompress a payload to its planar samples, shape ``(channels, samples)``, little-endian unsigned.

        A mono segment on a little-endian machine decompresses straight into
        ``target`` (the output rows, planar and interleaved alike); others into
        a new array.

        Raises
        ------
        StreamError
            If the payload's declared size is not ``samples * channels *
            itemsize`` bytes or it does not decompress.
        """
        try:
            _check_declared_size(self.compressor_id, payload, samples, self.fmt)
            if self.channels == 1 and self.stored == self.native:
                planar = target.reshape(1, samples)
            else:
                planar = np.empty((self.channels, samples), dtype=self.stored)
            self.compressor.decode(payload, out=planar)
        except StreamError as exc:
            exc.frame = index
            raise
        except (RuntimeError, ValueError) as exc:
            raise StreamError(
                f"has a payload that does not decompress ({self.compressor_id}: {exc})",
                code=ERR_PAYLOAD,
                frame=index,
            ) from exc
        return planar
