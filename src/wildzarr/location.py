"""Where an archive lives: its store, the group inside it, whether it may be written, its format."""

from __future__ import annotations

from dataclasses import dataclass, field

from wildzarr.errors import ReadOnlyError
from wildzarr.ledger import Ledger
from wildzarr.metadata import FORMAT_VERSION
from wildzarr.storage import Backend

__all__ = ["Location"]


@dataclass(frozen=True)
class Location:
    """The store and group an archive is attached at.

    Attributes
    ----------
    backend : Backend
        The store (its root).
    prefix : str
        Key of the archive group in the store (``""`` for the root).
    writable : bool
        False for mode ``"r"``, read-only stores and format-1 archives.
    format : int
        The archive's format version.
    why_read_only : str
        Why writes are refused, for ReadOnlyError messages.
    """

    backend: Backend
    prefix: str
    writable: bool
    format: int = FORMAT_VERSION
    why_read_only: str = "the archive is open read-only (mode 'r')"
    ledger: Ledger = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ledger", Ledger(self.backend, self.prefix))

    def where(self) -> str:
        """The archive group's location for messages."""
        return f"archive at {self.backend.describe(self.prefix)}"

    def check_writable(self, action: str) -> None:
        """Raise ReadOnlyError naming ``action`` unless writes are allowed."""
        if not self.writable:
            raise ReadOnlyError(f"{self.where()}: cannot {action}: {self.why_read_only}")
