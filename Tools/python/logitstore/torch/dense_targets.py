"""Read-time targets (Spec §7.2) straight into padded [N, K] arrays, for a whole batch at once.

The same arithmetic as `Record.targets` (logitstore/targets.py, which mirrors the Swift `Targets` code), so the
values are bit-identical to `pad_targets(*record.targets(...))` (tested): stored mass and Σw accumulate left to
right in double precision, each target is rounded to float32, scaled in double and rounded to float32 again.
Working in the padded layout from the start skips the sparse round trip, which dominated the dataset's time.
"""
from __future__ import annotations

import numpy as np

from ..errors import TargetPolicyError
from ..targets import _check_options


def _running_sums(columns: np.ndarray) -> np.ndarray:
    """Prefix sums along axis 1 of an [N, k] float64 array, one whole column per addition: out[:, c] =
    out[:, c-1] + columns[:, c], exactly the additions of `np.cumsum(columns, axis=1)` (the left-to-right loop per
    position), but several times faster, because numpy's cumsum runs one short row at a time."""
    out = np.empty_like(columns)
    if columns.shape[1]:
        out[:, 0] = columns[:, 0]
        for c in range(1, columns.shape[1]):
            np.add(out[:, c - 1], columns[:, c], out=out[:, c])
    return out


def dense_targets(counts, probs, ids, truncation, top_p=1.0, top_k=None, temperature=1.0,
                  dropped_mass_bucket=False, width=None, out=None):
    """(ids int64 [N, K], probs float32 [N, K], mask bool [N, K], dropped float32 [N] or None).

    counts int [N] (each >= 1) and the positions' entries `probs` (float16) / `ids` (uint32) in position order, as
    a Record holds them. K = `width` when given, else min(top_k, largest count) or the largest kept count.
    `out`: optional (ids, probs, mask) arrays of shape [N, width] and those dtypes to fill (every element is
    written) and return, e.g. views of tensors in shared memory; needs `width`.
    """
    if out is not None and width is None:
        raise ValueError("dense_targets: out needs width")
    _check_options(top_p, top_k, temperature)
    counts = np.asarray(counts, dtype=np.int64)
    N = counts.size
    stored_max = int(counts.max()) if N else 0
    if truncation.get("policy") == "sample":
        if top_p < 1 or temperature != 1 or (top_k is not None and N and top_k < stored_max):
            raise TargetPolicyError("this store holds sampled targets: re-truncation (top_p < 1 or top_k below a "
                                    "stored count) and temperature != 1 are not allowed")
        if dropped_mass_bucket:  # Spec §7.2: the stored weights renormalised; the bucket is 0
            out_ids, out_probs, mask, _ = dense_targets(counts, probs, ids, truncation, top_p, top_k, temperature,
                                                        False, width, out)
            return out_ids, out_probs, mask, np.zeros(N, np.float32)
    k = stored_max if top_k is None else min(int(top_k), stored_max)
    k = max(k, 1)
    if N == 0:
        K = int(width) if width is not None else 1
        if out is not None:
            return tuple(out) + (np.zeros(0, np.float32) if dropped_mass_bucket else None,)
        return (np.zeros((0, K), np.int64), np.zeros((0, K), np.float32), np.zeros((0, K), bool),
                np.zeros(0, np.float32) if dropped_mass_bucket else None)
    # Only the first k entries of a position can be kept (n = min(m, k)), so the arithmetic runs on [N, k],
    # gathered straight from the entry arrays; the running sums add a whole column (every position) at a time, in
    # the same order per position as the left-to-right loop.
    starts = np.cumsum(counts) - counts
    entry = starts[:, None] + np.arange(k)[None, :]           # [N, k] entry index of (position, column)
    p = np.take(probs, entry, mode="clip").astype(np.float64)  # clip: columns past a count are zeroed next
    p *= np.arange(k)[None, :] < counts[:, None]
    mass_so_far = _running_sums(p)
    kept_cap = np.minimum(counts, k)
    # The running mass never decreases (every p >= 0), so the first column reaching top_p is the number of
    # columns below it; columns past the count keep the final mass, which the cap at the count covers. This holds
    # for top_p = 1 too: a stored mass may reach 1 before a position's last entry (Σ <= 1 + n·2^-11), and then,
    # as in Record.targets and the Swift code, the entries after it are not kept.
    n = np.minimum(np.count_nonzero(mass_so_far < top_p, axis=1) + 1, kept_cap)
    if truncation.get("policy") == "sample":
        n = kept_cap  # every sampled entry is the target, even after the float16 mass has reached 1
    rows = np.arange(N)
    last = n - 1
    mass = mass_so_far[rows, last]
    kept = np.clip(mass, 0.0, 1.0)
    inv_t = 1.0 / float(temperature)
    if inv_t == 1:
        w = p
        z = mass                                       # Σw = the kept stored mass (same additions)
    else:
        w = np.power(p, inv_t)
        z = _running_sums(w)[rows, last]               # prefix at n-1: only kept entries enter it
    with np.errstate(divide="ignore", invalid="ignore"):
        if dropped_mass_bucket:
            scale = np.ones(N) if inv_t == 1 else np.where(z > 0, kept / z, 0.0)
        else:
            scale = np.where(z > 0, 1.0 / z, 0.0)
    K = int(width) if width is not None else max(int(n.max()), 1)
    if int(n.max()) > K:
        raise ValueError(f"a position keeps {int(n.max())} target entries, more than the padded width {K}")
    take = min(K, k)
    if out is None:
        out_ids = np.empty((N, K), dtype=np.int64)
        out_probs = np.empty((N, K), dtype=np.float32)
        mask = np.empty((N, K), dtype=bool)
    else:
        out_ids, out_probs, mask = out
        for a, dtype in zip(out, (np.int64, np.float32, np.bool_)):
            if a.shape != (N, K) or a.dtype != dtype:
                raise ValueError(f"dense_targets: an out array is {a.dtype} {a.shape}, expected {np.dtype(dtype)} "
                                 f"{(N, K)}")
    np.less(np.arange(K)[None, :], n[:, None], out=mask)
    drop = ~mask[:, :take]
    # float32(w), widened, times the scale, rounded to float32 (copyto rounds as astype does); for τ = 1, w is a
    # float16 value, which float32 holds exactly, so the first rounding is skipped. Entries outside the kept set
    # and the padding are +0 (ids 0).
    w = w[:, :take] if inv_t == 1 else w[:, :take].astype(np.float32).astype(np.float64)
    q = out_probs[:, :take]
    np.copyto(q, w * scale[:, None], casting="same_kind")
    q[drop] = 0
    tid = out_ids[:, :take]
    np.copyto(tid, np.take(ids, entry[:, :take], mode="clip"), casting="unsafe")
    tid[drop] = 0
    out_probs[:, take:] = 0
    out_ids[:, take:] = 0
    dropped = (1.0 - kept).astype(np.float32) if dropped_mass_bucket else None
    return out_ids, out_probs, mask, dropped
