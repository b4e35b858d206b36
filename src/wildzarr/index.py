"""The frame index of a stream and range planning over it.

Planning is a pure function of the index: it does no I/O and knows no codec
beyond its pre-roll count. The reader turns a plan into one byte-range fetch
and one decode call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wildzarr.errors import StreamError

__all__ = ["FrameIndex", "FramePlan"]


@dataclass(frozen=True)
class FramePlan:
    """Which frames to fetch and decode for one sample range.

    Attributes
    ----------
    first_frame, stop_frame : int
        Frames ``first_frame`` (pre-roll included) up to but excluding
        ``stop_frame`` are decoded.
    byte_start, byte_stop : int
        Byte range ``[byte_start, byte_stop)`` of the stream holding exactly
        those frames.
    skip : int
        Decoded samples to drop before the first requested sample.
    count : int
        Samples requested (``stop - start``).
    """

    first_frame: int
    stop_frame: int
    byte_start: int
    byte_stop: int
    skip: int
    count: int


@dataclass(frozen=True, eq=False)
class FrameIndex:
    """Byte offset and first sample of every frame of one stream.

    Attributes
    ----------
    offsets : numpy.ndarray
        int64, shape ``(n_frames + 1,)``: byte offset of each frame; the last
        entry is the byte offset one past the last frame.
    first_samples : numpy.ndarray
        int64, shape ``(n_frames + 1,)``: first sample of each frame; the last
        entry is the total number of samples (per channel).
    """

    offsets: np.ndarray
    first_samples: np.ndarray

    @classmethod
    def from_table(cls, table: np.ndarray, end: int, samples: int) -> FrameIndex:
        """Build from the stored table of shape ``(n_frames, 2)`` (byte offset, first sample)."""
        table = np.asarray(table, dtype=np.int64).reshape(-1, 2)
        offsets = np.append(table[:, 0], np.int64(end))
        first_samples = np.append(table[:, 1], np.int64(samples))
        return cls(offsets, first_samples)

    def check(self) -> None:
        """Raise StreamError unless the index is well formed.

        Frames must start at byte offsets that strictly increase from 0 or more
        and lie inside the stream, and hold samples that strictly increase from
        0 to the total: a damaged index must never silently cut or shift a read.
        """
        offsets, first_samples = self.offsets, self.first_samples
        if self.n_frames < 1:
            raise StreamError("the frame index holds no frames")
        if offsets[0] < 0 or np.any(np.diff(offsets) <= 0):
            raise StreamError("the frame index's byte offsets do not increase strictly inside the stream")
        if first_samples[0] != 0 or np.any(np.diff(first_samples) <= 0):
            raise StreamError(
                "the frame index's first samples do not increase strictly from 0 to the sample count"
            )

    def to_table(self) -> np.ndarray:
        """Return the table to store: int64 of shape ``(n_frames, 2)``."""
        return np.stack([self.offsets[:-1], self.first_samples[:-1]], axis=1)

    @property
    def n_frames(self) -> int:
        """Number of frames in the stream."""
        return len(self.offsets) - 1

    @property
    def samples(self) -> int:
        """Total samples per channel."""
        return int(self.first_samples[-1])

    def frame_sizes(self, first_frame: int, stop_frame: int) -> np.ndarray:
        """Byte sizes (int64) of frames ``[first_frame, stop_frame)``."""
        return np.diff(self.offsets[first_frame : stop_frame + 1])

    def plan(self, start: int, stop: int, preroll: int = 0) -> FramePlan:
        """Plan the read of samples ``[start, stop)``.

        Parameters
        ----------
        start, stop : int
            Sample range, ``0 <= start < stop <= samples`` (checked by the caller).
        preroll : int
            Frames before the first covering frame that the codec must decode
            and discard (0 for FLAC).

        Returns
        -------
        FramePlan
            A binary search over ``first_samples``: O(log n_frames).
        """
        first_samples = self.first_samples
        covering = int(np.searchsorted(first_samples, start, side="right")) - 1
        stop_frame = int(np.searchsorted(first_samples, stop, side="left"))
        first_frame = max(covering - preroll, 0)
        return FramePlan(
            first_frame=first_frame,
            stop_frame=stop_frame,
            byte_start=int(self.offsets[first_frame]),
            byte_stop=int(self.offsets[stop_frame]),
            skip=start - int(first_samples[first_frame]),
            count=stop - start,
        )
