"""cffi API-mode builder for :mod:`wildzarr._core`, the C frame scanners (FLAC, ADTS, MP3).

setuptools runs this from the project root (``setup.py`` names
``src/wildzarr/_core_build.py:ffibuilder``), so the C paths below are relative to
the root. The C declarations are read from ``csrc/wildzarr_core.h`` itself, with
preprocessor lines removed, so the header is the single source of truth.

cffi's API mode releases the GIL around every C call, so scans of different
streams run in parallel threads.

Build in place::

    python setup.py build_ext --inplace
"""

from __future__ import annotations

from pathlib import Path

from cffi import FFI

_ROOT = Path(__file__).resolve().parents[2]
_HEADER = _ROOT / "csrc" / "wildzarr_core.h"


def _cdef_from_header(path: Path) -> str:
    """Return the header's text without preprocessor lines, for ``FFI.cdef``.

    Parameters
    ----------
    path : Path
        The C header. It must contain only declarations cffi understands
        (no macros used in declarations, no conditionals around them).

    Returns
    -------
    str
        The declarations.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


ffibuilder = FFI()
ffibuilder.cdef(_cdef_from_header(_HEADER))
ffibuilder.set_source(
    "wildzarr._core",
    '#include "wildzarr_core.h"',
    sources=[
        "csrc/flac_scan.c",
        "csrc/adts_scan.c",
        "csrc/mp3_scan.c",
        "csrc/flac_decode.c",
        "csrc/scan_common.c",
        "csrc/crc.c",
    ],
    include_dirs=["csrc"],
    extra_compile_args=["-O3"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
