"""Which windows an epoch visits, in which order, and which consumer (rank × DataLoader worker) reads each batch.

Pure numpy, no torch: the plan is a function of the store's sequence layout and (seed, epoch, rank, world size,
batch size) only, so every process computes the same plan without talking to the others.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowLayout:
    """The fixed-length windows of a store: window w covers global positions [starts[w], starts[w] + seq_len)
    of one stored sequence, which ends (exclusive) at sequence_ends[w]. A sequence of length L gives L // seq_len
    consecutive windows; its last partial window is dropped (as in the Swift trainer)."""

    seq_len: int
    starts: np.ndarray
    sequence_ends: np.ndarray

    @staticmethod
    def from_sequence_offsets(offsets: np.ndarray, seq_len: int) -> "WindowLayout":
        """Builds the layout from int64[S+1] sequence boundaries (sequence i = [offsets[i], offsets[i+1]))."""
        offsets = np.asarray(offsets, dtype=np.int64)
        lengths = np.diff(offsets)
        per_sequence = lengths // seq_len
        sequence = np.repeat(np.arange(len(lengths)), per_sequence)
        first_window = np.concatenate(([0], np.cumsum(per_sequence)))[:-1]
        inside = np.arange(len(sequence)) - np.repeat(first_window, per_sequence)
        starts = offsets[:-1][sequence] + inside * seq_len
        return WindowLayout(seq_len, starts.astype(np.int64), offsets[1:][sequence].astype(np.int64))

    @property
    def count(self) -> int:
        """Number of windows."""
        return len(self.starts)


@dataclass(frozen=True)
class EpochPlan:
    """One rank's batches for one epoch: batch b holds the window ids windows[bounds[b]:bounds[b+1]].

    The epoch's order is a permutation of all windows, drawn from numpy's PCG64 seeded with (seed, epoch)
    (identity order without shuffling). Rank r takes every world_size-th window of it starting at r, so ranks
    are disjoint and together cover every window once. With drop_last the order is first cut to a multiple of
    world_size × batch_size, so every rank gets the same number of full batches (what DDP needs)."""

    windows: np.ndarray
    bounds: np.ndarray

    @staticmethod
    def build(window_count: int, batch_size: int, epoch: int, seed: int, shuffle: bool, rank: int,
              world_size: int, drop_last: bool) -> "EpochPlan":
        """The plan of `rank` for `epoch`."""
        if shuffle:
            order = np.random.Generator(np.random.PCG64([int(seed), int(epoch)])).permutation(window_count)
        else:
            order = np.arange(window_count)
        if drop_last:
            order = order[: window_count // (world_size * batch_size) * (world_size * batch_size)]
        mine = order[rank::world_size]
        bounds = np.arange(0, len(mine) + batch_size, batch_size)
        bounds[-1] = len(mine)
        if len(bounds) >= 2 and bounds[-1] == bounds[-2]:
            bounds = bounds[:-1]
        return EpochPlan(mine.astype(np.int64), bounds.astype(np.int64))

    @property
    def batch_count(self) -> int:
        """Batches of this rank in this epoch."""
        return max(len(self.bounds) - 1, 0)

    def batch(self, b: int) -> np.ndarray:
        """Window ids of batch b."""
        return self.windows[self.bounds[b]:self.bounds[b + 1]]

    @staticmethod
    def worker_batches(first: int, batch_count: int, worker: int, workers: int) -> range:
        """The batches a DataLoader worker reads when iteration starts at batch `first`: first + worker,
        first + worker + workers, … The DataLoader's in-order round robin then hands them to the loop as
        first, first + 1, …, whatever the number of workers."""
        return range(first + worker, batch_count, workers)
