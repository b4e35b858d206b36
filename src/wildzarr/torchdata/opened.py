"""The archive as one process opened it: on first use, and again in a spawned or forked worker."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field

from wildzarr.archive import Archive

__all__ = ["Opened", "open_here"]


@dataclass
class Opened:
    """What one process opened: its own copy of the archive and facts about recordings it read."""

    pid: int
    archive: Archive
    recordings: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (samples, channels)

    def facts(self, rid: int) -> tuple[int, int]:
        """Samples and channels of recording ``rid``, looked up once."""
        facts = self.recordings.get(rid)
        if facts is None:
            rec = self.archive[rid]
            facts = self.recordings[rid] = (rec.samples, rec.channels)
        return facts


def open_here(archive: Archive, opened: Opened | None) -> Opened:
    """``opened`` if this process opened it, else this process's own copy of ``archive``.

    A forked copy of ``opened`` sees another process id, so a forked worker
    opens its own too.
    """
    pid = os.getpid()
    if opened is None or opened.pid != pid:
        # A pickle round trip is the documented way to reopen in another process (docs/hpc.md):
        # only the location travels, so nothing opened by another process (or before a fork) is used.
        return Opened(pid, pickle.loads(pickle.dumps(archive)))
    return opened
