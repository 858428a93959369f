"""Sparse per-position targets (offsets, ids, probs) to dense zero-padded [N, K] arrays, vectorised."""
from __future__ import annotations

import numpy as np


def pad_targets(offsets: np.ndarray, ids: np.ndarray, probs: np.ndarray, width: int):
    """Scatters position n's entries ids[offsets[n]:offsets[n+1]] into row n of [N, width] arrays.

    Returns (ids int64, probs float32, mask bool); entries beyond a row's count are 0 / 0.0 / False.
    Raises ValueError when a position holds more than `width` entries.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    counts = np.diff(offsets)
    n = len(counts)
    if n and int(counts.max()) > width:
        raise ValueError(f"a position holds {int(counts.max())} target entries, more than the padded width {width}")
    entries = int(offsets[-1] - offsets[0])
    row = np.repeat(np.arange(n, dtype=np.int64), counts)
    col = np.arange(entries, dtype=np.int64) - np.repeat(offsets[:-1] - offsets[0], counts)
    out_ids = np.zeros((n, width), dtype=np.int64)
    out_probs = np.zeros((n, width), dtype=np.float32)
    mask = np.zeros((n, width), dtype=bool)
    out_ids[row, col] = ids[offsets[0]:offsets[-1]]
    out_probs[row, col] = probs[offsets[0]:offsets[-1]]
    mask[row, col] = True
    return out_ids, out_probs, mask
