"""Filters, Spec §4.4.1, vectorised with numpy: none, shuffle, delta+shuffle and rank+shuffle.

Values are unsigned integers stored at a physical width W in {1, 2, 4} bytes, little-endian.
"""
import numpy as np

from .layout import FILTER_DELTA_SHUFFLE, FILTER_NONE, FILTER_RANK_SHUFFLE, FILTER_SHUFFLE

_UINT = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4")}


def width_for(max_value):
    """The smallest width in {1, 2, 4} that holds `max_value`."""
    return 1 if max_value <= 0xFF else (2 if max_value <= 0xFFFF else 4)


def _shuffle(values, width):
    """Byte-shuffle of `values` (already of dtype uint{8W}): byte 0 of every element, then byte 1, ...
    Built plane by plane with shifts (contiguous passes; a strided transpose is several times slower)."""
    if width == 1:
        return values.tobytes()
    n = values.size
    out = np.empty(n * width, dtype=np.uint8)
    for k in range(width):
        out[k * n:(k + 1) * n] = values >> values.dtype.type(8 * k) if k else values
    return out.tobytes()


def _unshuffle(raw, n, width, dtype=None):
    """The n elements of byte-shuffled `raw` (exactly n*W bytes), OR-ing shifted byte planes, as `dtype` (default
    uint{8W}; a wider integer type saves a later conversion)."""
    b = np.frombuffer(raw, dtype=np.uint8, count=n * width)
    if width == 1 and dtype is None:
        return b
    dt = _UINT[width] if dtype is None else dtype
    v = b[(width - 1) * n:].astype(dt)
    for k in range(width - 2, -1, -1):
        v <<= dt.type(8)
        v |= b[k * n:(k + 1) * n]
    return v


def encode(values, width, filter_id):
    """The raw bytes of `values` (unsigned integers that fit in `width` bytes) under `filter_id`.
    For rank+shuffle the caller passes the ranks already."""
    v = np.asarray(values).astype(_UINT[width], copy=False)
    if filter_id == FILTER_NONE:
        return v.tobytes()
    if filter_id in (FILTER_SHUFFLE, FILTER_RANK_SHUFFLE):
        return _shuffle(v, width)
    if filter_id == FILTER_DELTA_SHUFFLE:
        prev = np.concatenate((np.zeros(1, dtype=v.dtype), v[:-1]))
        return _shuffle(prev - v, width)  # (v_{i-1} - v_i) mod 2^(8W): numpy unsigned arithmetic wraps
    raise ValueError(f"unknown filter {filter_id}")


def decode(raw, n, width, filter_id):
    """The n element values of `raw` (n*W bytes), dtype uint{8W}; rank+shuffle yields ranks as intp (see
    `ranks_to_ids`)."""
    if filter_id == FILTER_NONE:
        v = np.frombuffer(raw, dtype=_UINT[width], count=n)
    elif filter_id == FILTER_RANK_SHUFFLE:
        v = _unshuffle(raw, n, width, np.dtype(np.intp))
    elif filter_id == FILTER_SHUFFLE:
        v = _unshuffle(raw, n, width)
    elif filter_id == FILTER_DELTA_SHUFFLE:
        # v_i = v_{i-1} - d_i  =>  v_i = -(d_0 + ... + d_i) mod 2^(8W). The running sum wraps mod 2^32 in uint32
        # (a multiple of 2^(8W), so the low bytes stay exact; uint32 accumulation is several times faster).
        c = _unshuffle(raw, n, width, np.dtype(np.uint32))
        np.cumsum(c, out=c)
        np.negative(c, out=c)
        v = c.astype(_UINT[width], copy=False)
    else:
        raise ValueError(f"unknown filter {filter_id}")
    return v


def ranks_to_ids(ranks, id_of_rank):
    """ids = π(rank) for a rank+shuffle stream; None when a rank is outside the permutation (a corrupt stream)."""
    if not isinstance(id_of_rank, np.ndarray):  # a compact permutation of a large vocabulary
        if ranks.size and (int(ranks.max()) >= id_of_rank.size or int(ranks.min()) < 0):
            return None
        return id_of_rank.take(ranks)
    try:
        return np.take(id_of_rank, ranks, mode="raise")  # bounds-checked by numpy
    except IndexError:
        return None
