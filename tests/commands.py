"""The installed ``wildzarr`` command, run as a user runs it (for the CLI tests)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["WILDZARR", "run"]

_EXE = shutil.which("wildzarr", path=str(Path(sys.executable).parent))
#: The command line that starts ``wildzarr``: the entry point next to this Python, else ``-m wildzarr.cli``.
WILDZARR: list[str] = [_EXE] if _EXE else [sys.executable, "-m", "wildzarr.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``wildzarr ARGS...`` to completion (at most 120 s), capturing its text output."""
    return subprocess.run([*WILDZARR, *args], capture_output=True, text=True, check=False, timeout=120)
