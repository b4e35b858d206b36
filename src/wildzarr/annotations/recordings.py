"""What annotations need to know about an archive's recordings: length, channels, rate, source file name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from wildzarr.timebase import samples_per_second

if TYPE_CHECKING:
    from wildzarr.archive import Archive

__all__ = ["RecordingFacts", "facts_of", "source_names"]


@dataclass(frozen=True)
class RecordingFacts:
    """The facts of one recording that annotation rows are checked and converted against.

    Attributes
    ----------
    id : int
    samplerate : int
        Stored sample rate, Hz.
    time_expansion : float
        GUANO ``TE`` (1 when absent): real seconds are ``samples / (samplerate * time_expansion)``.
    samples, channels : int
    source_name : str
        The original file name (``info.source.name``; ``"<array>"`` for arrays).
    """

    id: int
    samplerate: int
    time_expansion: float
    samples: int
    channels: int
    source_name: str

    @property
    def rate(self) -> Fraction:
        """Samples per real second, exactly (:func:`wildzarr.timebase.samples_per_second`)."""
        return samples_per_second(self.samplerate, self.time_expansion)


def facts_of(archive: Archive, ids: Iterable[int]) -> dict[int, RecordingFacts]:
    """The facts of each recording in ``ids`` (one document read per distinct id).

    Raises
    ------
    RecordingNotFoundError
        For the first id that is not a complete recording of ``archive``.
    DamagedRecordingError
        If a recording's document is damaged.
    """
    found: dict[int, RecordingFacts] = {}
    for rid in ids:
        if rid in found:
            continue
        rec = archive[rid]
        found[rid] = RecordingFacts(
            id=rec.id,
            samplerate=rec.samplerate,
            # The recording's time expansion (GUANO TE) once recordings carry it; 1 until then.
            time_expansion=float(getattr(rec, "time_expansion", 1.0)),
            samples=rec.samples,
            channels=rec.channels,
            source_name=rec.info.source.name,
        )
    return found


def source_names(archive: Archive) -> dict[int, str]:
    """Id -> original file name of every recording: the catalog's ``source.name`` column when the
    archive has a catalog, else each recording's ``info.source.name``."""
    catalog = getattr(archive, "catalog", None)
    if catalog is not None:
        column = catalog()["source.name"]
        return {int(rid): str(name) for rid, name in column.items()}
    return {rec.id: rec.info.source.name for rec in archive}
