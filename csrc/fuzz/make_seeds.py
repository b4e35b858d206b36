"""Write a seed corpus of small valid FLAC, ADTS and MP3 streams for the scanner fuzzers.

Usage (from the project root)::

    PYTHONPATH=src python csrc/fuzz/make_seeds.py /tmp/wzfuzz/seeds

The streams come from the helpers in ``tests/test_scanner.py``,
``tests/test_adts_scan.py`` and ``tests/test_mp3_scan.py``. FLAC (``*.flac``): fixed and variable block
sizes, 1 to 6 channels, 16/24/32 bits, 8 kHz to 1 MHz, one sample, 100 tiny
frames; the corpus recording is added when present. ADTS (``*.aac``, AAC LC
from PyAV): mono, stereo and 5.1 at 7350 Hz to 96 kHz, 9-byte headers with a
CRC, channel configuration 0, MPEG-2 ID, and hand-built frames of 2-4 raw data
blocks with and without header CRCs. MP3 (``*.mp3``, bare Layer III frames from
LAME through PyAV): MPEG-1, MPEG-2 and MPEG-2.5 rates, mono and stereo, 8 to 320
kb/s (bit reservoirs reaching 1 to 11 frames back), frames with CRCs, a stream
starting with its Xing/Info frame, and the first 200 frames of the corpus MP3
when present.
"""

from __future__ import annotations

import itertools
import shutil
import sys
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from test_adts_scan import encode, multi_block_stream, rebuild  # noqa: E402  (after the path setup)
from test_mp3_scan import id3v2_length, lame, pyav_file, repack  # noqa: E402
from test_scanner import (  # noqa: E402
    CORPUS_FLAC,
    many_frames,
    pyflac_encode,
    sf_encode,
    signal,
    small_fixed,
    small_variable,
)

#: The corpus MP3 (MPEG-1, 48 kHz mono, 320 kb/s, ID3v2 and APEv2 tags).
CORPUS_MP3 = CORPUS_FLAC.parent / "bird_soundscape_XC563936_48k.mp3"


def main(out: Path) -> None:
    """Write the seeds into ``out`` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    stereo = encode(44100, "stereo", 20000)
    seeds = {
        "fixed.flac": small_fixed(),
        "many.flac": many_frames(),
        "variable.flac": small_variable(),
        "24bit_6ch.flac": sf_encode(signal(9000, 6, bits=24), 48000, "PCM_24"),
        "1mhz.flac": pyflac_encode(signal(9000, 1), 1_000_000, subset=False),
        "32bit.flac": pyflac_encode(signal(5000, 2, bits=32), 48000, subset=False),
        "one_sample.flac": sf_encode(signal(1, 1), 8000),
        "stereo_44k.aac": stereo,
        "mono_8k.aac": encode(8000, "mono", 12000),
        "5.1_48k.aac": encode(48000, "5.1", 9000),
        "stereo_96k.aac": encode(96000, "stereo", 30000),
        "stereo_7350.aac": encode(7350, "stereo", 6000),
        "crc_stereo_44k.aac": rebuild(stereo, protected=True, crc=0x1234),
        "pce_stereo_44k.aac": rebuild(stereo, channel_configuration=0),
        "mpeg2_stereo_44k.aac": rebuild(stereo, mpeg2=1),
        "blocks_crc.aac": multi_block_stream([1, 2, 3, 4, 2, 4], protected=True),
        "blocks.aac": multi_block_stream([4, 1, 3, 2, 2], protected=False),
        "stereo_48k_128.mp3": lame(48000, 2, 128_000, 24_000),
        "mono_48k_32.mp3": lame(48000, 1, 32_000, 24_000),
        "stereo_44k_320.mp3": lame(44100, 2, 320_000, 12_000),
        "mono_32k_64.mp3": lame(32000, 1, 64_000, 16_000),
        "mono_24k_8.mp3": lame(24000, 1, 8_000, 24_000),
        "stereo_22k_64.mp3": lame(22050, 2, 64_000, 11_000),
        "mono_16k_8.mp3": lame(16000, 1, 8_000, 16_000),
        "stereo_8k_16.mp3": lame(8000, 2, 16_000, 8_000),
        "crc_stereo_22k.mp3": repack(lame(22050, 2, 32_000, 8_000), protected=True),
        "crc_mono_48k.mp3": repack(lame(48000, 1, 64_000, 10_000), protected=True),
        "info_stereo_44k.mp3": _without_id3(pyav_file(44100, 2, 128_000, 10_000)),
    }
    for name, data in seeds.items():
        (out / name).write_bytes(data)
    if CORPUS_FLAC.exists():
        shutil.copy(CORPUS_FLAC, out / CORPUS_FLAC.name)
    if CORPUS_MP3.exists():
        (out / "corpus_200_frames.mp3").write_bytes(_corpus_frames(200))


def _without_id3(data: bytes) -> bytes:
    """An mp3 file's bytes after its ID3v2 tag: the Xing/Info frame, then the audio frames."""
    return data[id3v2_length(data) :]


def _corpus_frames(count: int) -> bytes:
    """The first ``count`` audio frames of the corpus MP3, as PyAV's demuxer gives them."""
    with av.open(str(CORPUS_MP3)) as container:
        packets = (bytes(p) for p in container.demux(audio=0) if p.size)
        return b"".join(itertools.islice(packets, count))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz-seeds"))
