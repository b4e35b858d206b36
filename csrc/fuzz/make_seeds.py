"""Write a seed corpus of small valid FLAC streams for the scanner fuzzers.

Usage (from the project root)::

    PYTHONPATH=src python csrc/fuzz/make_seeds.py /tmp/wzfuzz/seeds

The streams come from the helpers in ``tests/test_scanner.py``: fixed and
variable block sizes, 1 to 6 channels, 16/24/32 bits, 8 kHz to 1 MHz, one
sample, 100 tiny frames. The corpus recording is added when present.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from test_scanner import (  # noqa: E402  (after the path setup)
    CORPUS_FLAC,
    many_frames,
    pyflac_encode,
    sf_encode,
    signal,
    small_fixed,
    small_variable,
)


def main(out: Path) -> None:
    """Write the seeds into ``out`` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    seeds = {
        "fixed.flac": small_fixed(),
        "many.flac": many_frames(),
        "variable.flac": small_variable(),
        "24bit_6ch.flac": sf_encode(signal(9000, 6, bits=24), 48000, "PCM_24"),
        "1mhz.flac": pyflac_encode(signal(9000, 1), 1_000_000, subset=False),
        "32bit.flac": pyflac_encode(signal(5000, 2, bits=32), 48000, subset=False),
        "one_sample.flac": sf_encode(signal(1, 1), 8000),
    }
    for name, data in seeds.items():
        (out / name).write_bytes(data)
    if CORPUS_FLAC.exists():
        shutil.copy(CORPUS_FLAC, out / CORPUS_FLAC.name)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz-seeds"))
