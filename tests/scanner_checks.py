"""Checks every frame scanner must pass, whatever its format, and helpers the scanner tests share.

The FLAC, ADTS and MP3 scanners (:mod:`wildzarr.scan`) are tested in ``tests/test_scanner.py``,
``tests/test_adts_scan.py`` and ``tests/test_mp3_scan.py``. Each of those files describes its scanner
in one :class:`ScannerCase` (the scan function, its status codes, three valid streams, the invariants
of a successful scan as that file's own reference walker sees them, and a few facts about the
format) and runs every check of :class:`ScannerChecks` on it with a subclass::

    class TestScannerChecks(ScannerChecks):
        case = ADTS

The shared checks: the status codes match the C header, every input type gives the same scan,
threads scan in parallel, and seeded fuzzing (random bytes, bit flips, byte overwrites, truncations,
trailing garbage, splices of two streams) that requires of every stream either a StreamError with a
data error code, a message, an offset and a frame, or a scan that satisfies the case's invariants.
What is particular to a format (its reference walker, its header fields, its error messages) stays
in its own file.
"""

from __future__ import annotations

import enum
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from wildzarr._core import lib
from wildzarr.errors import ArgumentError, StreamError
from wildzarr.index import FrameIndex

#: What a scanner returns: ``(info, index, *per-frame arrays)``.
Scan = tuple[Any, ...]


@dataclass(frozen=True)
class ScannerCase:
    """One scanner and what the shared checks may expect of it.

    Attributes
    ----------
    scan : callable
        The scanner: a bytes-like stream (and keyword arguments) to ``(info, index, *per-frame arrays)``.
    status : IntEnum class
        Its status codes, named ``WZ_<NAME>_<CODE>`` in the C header (``FlacStatus``: ``WZ_FLAC_``).
    streams : tuple of callables
        Three valid streams, each checked, fuzzed and scanned in threads. The first two have the
        same parameters (frames of both may be spliced together), the third has others.
    check : callable
        ``check(data, scan)``: the invariants of a successful scan of ``data``, against the test
        file's reference walker (it calls :func:`check_arrays`).
    checked : callable
        ``checked(data)``: the positions of the bytes the scanner checks in a valid stream (headers,
        side information, or whole frames under a checksum). A bit flip in any other byte of a frame
        must leave the frames as they were.
    lead : callable
        ``lead(rng)``: bytes put before half of the random byte strings, to look like a stream's start.
    min_stream_bytes : int
        No valid stream is shorter.
    stream_errors : tuple of str
        Status names that may concern the stream as a whole (``frame == -1``); every other error
        names a frame.
    cut_errors : tuple of str
        The status names of a stream cut inside a frame (or inside its header).
    checksummed : bool
        Every frame carries a checksum of all its bytes (FLAC's CRC-16): random bytes never scan,
        and any flipped, overwritten or added byte in a frame is an error.
    declares_total : bool
        The stream's header gives its total samples (FLAC's STREAMINFO): a stream cut at a frame
        boundary is an error too, where other formats give a valid, shorter stream.
    independent_frames : bool
        Every sequence of whole frames of streams of the same parameters is a valid stream (ADTS);
        false where frames refer to earlier ones (FLAC's frame numbers, MP3's bit reservoir).
    flip_errors : tuple of int
        Without a checksum: exclusive bounds on how many of the 1000 single bit flips of
        :meth:`ScannerChecks.test_fuzz_bit_flips` are errors (half of them hit a checked byte).
    tail_start : callable or None
        ``tail_start(data, rng, size)``: bytes put before half of the random tails of ``size``
        bytes in :meth:`ScannerChecks.test_fuzz_trailing_garbage`; None for the first 1 to 11
        bytes of the stream's second frame.
    """

    scan: Callable[..., Scan]
    status: type[enum.IntEnum]
    streams: tuple[Callable[[], bytes], Callable[[], bytes], Callable[[], bytes]]
    check: Callable[[bytes, Scan], None]
    checked: Callable[[bytes], set[int]]
    lead: Callable[[np.random.Generator], bytes]
    min_stream_bytes: int
    stream_errors: tuple[str, ...] = ("NO_FRAMES",)
    cut_errors: tuple[str, ...] = ("TRUNCATED",)
    checksummed: bool = False
    declares_total: bool = False
    independent_frames: bool = False
    flip_errors: tuple[int, int] = (0, 1000)
    tail_start: Callable[[bytes, np.random.Generator, int], bytes] | None = None

    @property
    def name(self) -> str:
        """``FLAC``, ``ADTS`` or ``MP3``: the status class's name without ``Status``."""
        return self.status.__name__.removesuffix("Status").upper()

    @property
    def data_errors(self) -> set[int]:
        """The status codes a scan may raise on bad input (the others are internal)."""
        return {int(s) for s in self.status if s.name not in ("OK", "CAPACITY", "ARGUMENT")}

    def codes(self, names: tuple[str, ...]) -> set[int]:
        return {int(self.status[name]) for name in names}


# --------------------------------------------------------------------------------------------------
# Oracles
# --------------------------------------------------------------------------------------------------


def check_arrays(
    index: FrameIndex, offsets: list[int], first_samples: list[int], *per_frame: np.ndarray
) -> None:
    """The arrays of every successful scan: int64, read-only, one entry per frame (plus the end for the
    offsets and first samples, which equal a reference walker's ``offsets`` and ``first_samples``)."""
    for array in (index.offsets, index.first_samples, *per_frame):
        assert array.dtype == np.int64 and not array.flags.writeable
    assert index.offsets.shape == index.first_samples.shape == (index.n_frames + 1,) and index.n_frames >= 1
    assert all(array.shape == (index.n_frames,) for array in per_frame)
    assert index.offsets.tolist() == offsets
    assert index.first_samples.tolist() == first_samples


def check_error(case: ScannerCase, err: StreamError, data: bytes | bytearray) -> None:
    """What every StreamError of a scan of ``data`` carries: a message, an offset in ``data``, a frame."""
    assert str(err) and 0 <= err.offset <= len(data)
    assert err.frame >= 0 or err.code in case.codes(case.stream_errors), (err.frame, str(err))


def expect_error(case: ScannerCase, data: bytes | bytearray, *codes: int, **expect: int) -> StreamError:
    """The StreamError scanning ``data`` (with ``expect`` arguments) must raise, with one of ``codes``."""
    with pytest.raises(StreamError) as caught:
        case.scan(bytes(data), **expect)
    err = caught.value
    assert err.code in codes, (case.status(err.code), str(err))
    check_error(case, err, data)
    return err


def scan_or_error(case: ScannerCase, data: bytes, check: bool = True) -> Scan | None:
    """Fuzz oracle: a scan satisfying the case's invariants (unless not ``check``), or None for a
    StreamError with a data error code."""
    try:
        result = case.scan(data)
    except StreamError as err:
        assert err.code in case.data_errors, (err.code, str(err))
        check_error(case, err, data)
        return None
    if check:
        case.check(data, result)
    return result


def arrays(result: Scan) -> list[list[int]]:
    """Offsets, first samples and any per-frame arrays of a scan, as lists."""
    _, index, *per_frame = result
    return [index.offsets.tolist(), index.first_samples.tolist(), *(a.tolist() for a in per_frame)]


def split_frames(case: ScannerCase, data: bytes) -> tuple[bytes, list[bytes]]:
    """What comes before the first frame (FLAC's metadata) and the frames of a valid stream, as scanned."""
    offsets = case.scan(data)[1].offsets.tolist()
    return data[: offsets[0]], [data[a:b] for a, b in itertools.pairwise(offsets)]


def flip_bits(
    data: bytes, rng: np.random.Generator, count: int, start: int = 0, stop: int | None = None
) -> bytes:
    """``data`` with ``count`` random bits of its bytes ``[start, stop)`` flipped (twice is allowed)."""
    bad = bytearray(data)
    for _ in range(count):
        bad[int(rng.integers(start, len(data) if stop is None else stop))] ^= 1 << int(rng.integers(0, 8))
    return bytes(bad)


def check_random_flips(case: ScannerCase, data: bytes, rounds: int = 600, seed: int = 11) -> None:
    """``rounds`` copies of ``data`` with one to three bits flipped anywhere, each through scan_or_error."""
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        scan_or_error(case, flip_bits(data, rng, int(rng.integers(1, 4))))


def check_cut_and_trailing_bytes(
    case: ScannerCase, data: bytes, into_last: tuple[int, ...], sync: bytes
) -> None:
    """Where a stream of frames found by their syncword (ADTS, MP3) ends wrong.

    The last frame one byte short or cut ``into_last`` bytes after its start is TRUNCATED there; a zero
    byte after it is SYNC, and the first one or two bytes of a header (``sync``) TRUNCATED, after the
    last frame; the first ten frames are a valid stream.
    """
    offsets = case.scan(data)[1].offsets.tolist()
    n = len(offsets) - 1
    for cut in (len(data) - 1, *(offsets[-2] + k for k in into_last)):
        err = expect_error(case, data[:cut], case.status["TRUNCATED"])
        assert (err.offset, err.frame) == (offsets[-2], n - 1), cut
    for tail, code in [(b"\x00", "SYNC"), (sync[:1], "TRUNCATED"), (sync[:2], "TRUNCATED")]:
        err = expect_error(case, data + tail, case.status[code])
        assert (err.offset, err.frame) == (len(data), n), tail
    result = scan_or_error(case, data[: offsets[10]])
    assert result is not None and result[1].n_frames == 10


def check_expected_arguments(
    case: ScannerCase,
    data: bytes,
    right: dict[str, int],
    wrong: list[tuple[str, int, tuple[str, ...]]],
    invalid: list[tuple[str, int]],
) -> None:
    """A scanner's ``expected_*`` arguments: the stream's own values (``right``) scan; a ``wrong`` value is a
    MISMATCH at the first frame whose message has the words given; an ``invalid`` one an ArgumentError."""
    case.check(data, case.scan(data, **right))
    for name, value, words in wrong:
        err = expect_error(case, data, case.status["MISMATCH"], **{name: value})
        assert all(w in str(err) for w in words) and (err.offset, err.frame) == (0, 0), (name, str(err))
    for name, value in invalid:
        with pytest.raises(ArgumentError):
            case.scan(data, **{name: value})


# --------------------------------------------------------------------------------------------------
# Independent references
# --------------------------------------------------------------------------------------------------


def bitwise_crc(data: bytes, poly: int, width: int, init: int = 0) -> int:
    """MSB-first CRC of ``width`` bits from ``init``, no final XOR, one bit at a time.

    FLAC's CRC-8 (poly 0x07) and CRC-16 (0x8005) start at 0 (RFC 9639 section 9); the CRC-16 of
    MPEG audio (ADTS, MP3: ISO/IEC 11172-3 section 2.4.3.1) starts at 0xFFFF.
    """
    crc, top, mask = init, 1 << (width - 1), (1 << width) - 1
    for byte in data:
        crc ^= byte << (width - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & mask if crc & top else (crc << 1) & mask
    return crc


def bit_fields(data: bytes) -> Callable[[int, int], int]:
    """``field(start, width)``: the unsigned ``width`` bits of ``data`` from bit ``start`` (MSB first)."""
    bits, size = int.from_bytes(data, "big"), 8 * len(data)
    return lambda start, width: (bits >> (size - start - width)) & ((1 << width) - 1)


def pack_bits(fields: list[tuple[int, int]]) -> bytes:
    """The ``(value, width)`` fields one after the other, MSB first, in whole bytes."""
    bits, size = 0, 0
    for value, width in fields:
        assert 0 <= value < 1 << width, (value, width)
        bits, size = bits << width | value, size + width
    assert size % 8 == 0, size
    return bits.to_bytes(size // 8, "big")


def ref_crc16_mpeg(data: bytes) -> int:
    """ISO/IEC 11172-3 s. 2.4.3.1 CRC-16: x^16 + x^15 + x^2 + 1, preset 0xFFFF, MSB first."""
    return bitwise_crc(data, 0x8005, 16, init=0xFFFF)


# --------------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------------


class ScannerChecks:
    """The checks every scanner must pass. A test file runs them with a subclass that sets ``case``.

    Tests that take ``make`` run once for each of the case's streams (``pytest_generate_tests``).
    The fuzz tests are seeded and deterministic.
    """

    case: ScannerCase

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "make" in metafunc.fixturenames:
            metafunc.parametrize("make", self.case.streams, ids=lambda make: make.__name__)

    def test_status_enum_matches_c_header(self) -> None:
        status, prefix = self.case.status, f"WZ_{self.case.name}_"
        for code in status:
            assert getattr(lib, prefix + code.name) == code.value
        names = sorted(name for name in dir(lib) if name.startswith(prefix))
        assert names == sorted(prefix + code.name for code in status)

    def test_input_types_give_the_same_scan(self) -> None:
        scan, data = self.case.scan, self.case.streams[0]()
        reference = scan_or_error(self.case, data)
        assert reference is not None
        arr = np.frombuffer(data, np.uint8)
        strided = np.zeros(2 * len(data), np.uint8)
        strided[::2] = arr
        for stream in (bytearray(data), memoryview(data), arr, strided[::2], arr.data):
            result = scan(stream)
            assert result[0] == reference[0] and arrays(result) == arrays(reference)
        with pytest.raises(TypeError):
            scan(arr.view(np.int16))
        with pytest.raises(TypeError):
            scan(self.case.name)

    def test_threads_scan_in_parallel(self) -> None:
        streams = [make() for make in self.case.streams] * 4
        expected = [self.case.scan(s)[1].offsets.tolist() for s in streams]
        results: list[list[int] | None] = [None] * len(streams)

        def work(i: int) -> None:
            results[i] = self.case.scan(streams[i])[1].offsets.tolist()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(streams))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == expected

    def test_fuzz_random_bytes(self) -> None:
        case = self.case
        rng = np.random.default_rng(1234)
        for n in range(65):
            for _ in range(30):
                result = scan_or_error(case, rng.integers(0, 256, n, dtype=np.uint8).tobytes())
                assert result is None or (n >= case.min_stream_bytes and not case.checksummed)
        for _ in range(500):
            data = rng.integers(0, 256, int(rng.integers(0, 20_000)), dtype=np.uint8).tobytes()
            if rng.random() < 0.5:  # start like a stream
                data = case.lead(rng) + data
            assert scan_or_error(case, data) is None or not case.checksummed

    def test_fuzz_bit_flips(self, make: Callable[[], bytes]) -> None:
        """1000 single bit flips in the frames, half of them in the bytes the scanner checks."""
        case, data = self.case, make()
        offsets = case.scan(data)[1].offsets.tolist()
        checked = case.checked(data)
        aims = sorted(checked)
        rng = np.random.default_rng(5)
        errors = 0
        for _ in range(1000):
            pos = (
                aims[int(rng.integers(0, len(aims)))]
                if rng.random() < 0.5
                else int(rng.integers(offsets[0], len(data)))
            )
            bad = bytearray(data)
            bad[pos] ^= 1 << int(rng.integers(0, 8))
            result = scan_or_error(case, bytes(bad))
            errors += result is None
            if pos not in checked:  # what a scanner cannot check (audio data): the same frames
                assert result is not None and result[1].offsets.tolist() == offsets
            assert result is None or not case.checksummed
        low, high = case.flip_errors
        assert case.checksummed or low < errors < high, errors

    def test_fuzz_byte_overwrites(self, make: Callable[[], bytes]) -> None:
        """500 copies with one to four bytes of the frames overwritten, half of them checked bytes."""
        case, data = self.case, make()
        start = case.scan(data)[1].offsets[0]
        aims = sorted(case.checked(data))
        rng = np.random.default_rng(6)
        errors = 0
        for _ in range(500):
            bad = bytearray(data)
            for _ in range(int(rng.integers(1, 5))):
                pos = (
                    aims[int(rng.integers(0, len(aims)))]
                    if rng.random() < 0.5
                    else int(rng.integers(start, len(bad)))
                )
                bad[pos] = int(rng.integers(0, 256))
            result = scan_or_error(case, bytes(bad))
            errors += result is None
            assert result is None or not case.checksummed or bad == data
        assert case.checksummed or 100 < errors < 500, errors

    def test_fuzz_truncations(self, make: Callable[[], bytes]) -> None:
        """500 random cuts, a cut at every frame boundary and one byte short."""
        case, data = self.case, make()
        offsets = case.scan(data)[1].offsets.tolist()
        valid = {len(data)} if case.declares_total else set(offsets[1:])
        rng = np.random.default_rng(7)
        for cut in [*rng.integers(0, len(data), 500).tolist(), *offsets, len(data) - 1]:
            result = scan_or_error(case, data[:cut])
            assert (result is not None) == (cut in valid), cut
            if cut > 0 and cut not in offsets:
                expect_error(case, data[:cut], *case.codes(case.cut_errors))

    def test_fuzz_trailing_garbage(self, make: Callable[[], bytes]) -> None:
        """400 random tails, half of them starting like a frame."""
        case, data = self.case, make()
        offsets = case.scan(data)[1].offsets.tolist()[:-1]
        rng = np.random.default_rng(10)
        for _ in range(400):
            tail = rng.integers(0, 256, int(rng.integers(1, 3000)), dtype=np.uint8).tobytes()
            if rng.random() < 0.5:
                if case.tail_start is None:
                    start = data[offsets[1] : offsets[2]][: int(rng.integers(1, 12))]
                else:
                    start = case.tail_start(data, rng, len(tail))
                tail = start + tail
            result = scan_or_error(case, data + tail)
            # A tail may happen to hold valid frames (a header and exactly its length of bytes).
            assert result is None or (
                result[1].offsets.tolist()[: len(offsets)] == offsets and not case.checksummed
            )

    def test_fuzz_splices_of_two_streams(self) -> None:
        """500 streams of 1 to 29 frames of two streams (70%: of the same parameters), 30% with one cut."""
        case = self.case
        head, a = split_frames(case, case.streams[0]())
        b, c = (split_frames(case, make())[1] for make in case.streams[1:])
        rng = np.random.default_rng(9)
        valid = 0
        for _ in range(500):
            pool = (a, b) if rng.random() < 0.7 else (a, c)
            frames = []
            for _ in range(int(rng.integers(1, 30))):
                source = pool[int(rng.integers(0, 2))]
                frames.append(source[int(rng.integers(0, len(source)))])
            if rng.random() < 0.3:  # cut one frame somewhere
                i = int(rng.integers(0, len(frames)))
                frames[i] = frames[i][: int(rng.integers(0, len(frames[i])))]
            result = scan_or_error(case, head + b"".join(frames))
            valid += result is not None
            whole = all(f in a or f in b or f in c for f in frames) and all(len(f) > 0 for f in frames)
            same_kind = all(f in a or f in b for f in frames) or all(f in c for f in frames)
            if case.independent_frames and whole and same_kind:
                assert result is not None and result[1].n_frames == len(frames)
        # Frames picked at random rarely follow each other where a frame refers to the ones before.
        assert case.independent_frames or valid < 100, valid
