"""Hold Ctrl-C (SIGINT) back while native code that can lose it runs, then deliver it.

Python runs a signal handler in the main thread wherever it next checks for
signals. When that is inside native code that calls back into Python, the
``KeyboardInterrupt`` the default handler raises can be lost:

- libFLAC's callbacks (pyFLAC, through cffi): cffi prints and swallows an
  exception that escapes a callback, and libFLAC fails with ``CLIENT_ERROR``;
- PyAV 18.1 (Cython): a ``KeyboardInterrupt`` raised while
  ``AudioResampler.resample`` or a decoder runs is sometimes dropped, and
  decoding goes on. Measured by flooding a process with SIGINT: 36% of the
  signals handled during ``resample`` were lost, and a few handled while
  iterating ``container.decode`` over a WAV file.

While a :class:`HeldInterrupt` is active, SIGINT is only noted; on exit it is
passed to the handler that was installed before, which raises
``KeyboardInterrupt`` in plain Python code. This module is shared by the
sources (PyAV) and the FLAC codec (libFLAC).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

__all__ = ["HeldInterrupt"]


class HeldInterrupt:
    """Context manager: note SIGINT instead of handling it; hand it on at exit.

    On entry in the main thread (the only thread where Python runs signal
    handlers), a Python-level SIGINT handler is replaced by one that only notes
    the signal. On exit the previous handler is restored and, if the signal
    came, called with it: ``signal.default_int_handler`` then raises
    ``KeyboardInterrupt`` at the ``with`` statement (replacing an exception
    leaving the block), and a custom handler runs once, late. ``SIG_IGN``,
    ``SIG_DFL`` and handlers not installed from Python are left alone: they
    raise nothing. In other threads it does nothing.

    Entering and leaving cost about 12 us (``signal.getsignal`` and two
    ``signal.signal`` calls): hold it around units of work of a millisecond or
    more, not per audio frame. A Ctrl-C is delivered at most one such unit late.
    """

    def __init__(self) -> None:
        self.previous: Callable[[int, FrameType | None], Any] | None = None
        self.pending: tuple[int, FrameType | None] | None = None

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGINT)
        if callable(previous):
            self.previous = previous
            signal.signal(signal.SIGINT, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.pending = (signum, frame)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        previous, self.previous = self.previous, None
        if previous is None:
            return
        signal.signal(signal.SIGINT, previous)
        pending, self.pending = self.pending, None
        if pending is not None:
            previous(*pending)
