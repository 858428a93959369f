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


def dense_targets(counts, probs, ids, truncation, top_p=1.0, top_k=None, temperature=1.0,
                  dropped_mass_bucket=False, width=None):
    """(ids int64 [N, K], probs float32 [N, K], mask bool [N, K], dropped float32 [N] or None).

    counts int [N] and the positions' entries `probs` (float16) / `ids` (uint32) in position order, as a Record
    holds them. K = `width` when given, else min(top_k, largest count) or the largest kept count.
    """
    _check_options(top_p, top_k, temperature)
    counts = np.asarray(counts, dtype=np.int64)
    N = counts.size
    stored_max = int(counts.max()) if N else 0
    if truncation.get("policy") == "sample":
        if top_p < 1 or temperature != 1 or (top_k is not None and N and top_k < stored_max):
            raise TargetPolicyError("this store holds sampled targets: re-truncation (top_p < 1 or top_k below a "
                                    "stored count) and temperature != 1 are not allowed")
    full = max(stored_max, 1)
    k = stored_max if top_k is None else min(int(top_k), stored_max)
    k = max(k, 1)
    # Only the first k entries of a position can be kept (n = min(m, k)), so the arithmetic runs on k columns.
    # Arrays are held transposed, [column, position]: the running sums then add whole rows at a time, in the
    # same order per position as the left-to-right loop.
    valid_full = np.arange(full)[None, :] < counts[:, None]
    p16 = np.zeros((N, full), dtype=np.float16)
    p16[valid_full] = probs                            # row-major order = the entries' order
    id_full = np.zeros((N, full), dtype=np.uint32)
    id_full[valid_full] = ids
    pT = p16[:, :k].T.astype(np.float64)               # [k, N]
    massT = np.cumsum(pT, axis=0)
    rows = np.arange(N)
    colsT = np.arange(k)[:, None]
    if top_p < 1:
        reachedT = (massT >= top_p) & (colsT < counts[None, :])
        m = np.where(reachedT.any(axis=0), reachedT.argmax(axis=0) + 1, np.minimum(counts, k))
    else:
        m = counts
    n = np.minimum(m, k)
    keepT = colsT < n[None, :]
    inv_t = 1.0 / float(temperature)
    wT = pT if inv_t == 1 else np.power(pT, inv_t)
    wT = np.where(keepT, wT, 0.0)
    last = np.maximum(n - 1, 0)
    kept = np.clip(massT[last, rows], 0.0, 1.0)
    if inv_t == 1:
        z = massT[last, rows]                          # Σw = the kept stored mass (same additions)
    else:
        z = np.cumsum(wT, axis=0)[last, rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        if dropped_mass_bucket:
            scale = np.ones(N) if inv_t == 1 else np.where(z > 0, kept / z, 0.0)
        else:
            scale = np.where(z > 0, 1.0 / z, 0.0)
    K = int(width) if width is not None else max(int(n.max()) if N else 1, 1)
    if N and int(n.max()) > K:
        raise ValueError(f"a position keeps {int(n.max())} target entries, more than the padded width {K}")
    take = min(K, k)
    # w is 0 outside the kept entries and scale is finite, so q needs no further masking.
    qT = (wT[:take].astype(np.float32).astype(np.float64) * scale[None, :]).astype(np.float32)
    out_probs = np.zeros((N, K), dtype=np.float32)
    out_probs[:, :take] = qT.T
    mask = np.arange(K)[None, :] < n[:, None]
    out_ids = np.zeros((N, K), dtype=np.int64)
    out_ids[:, :take] = id_full[:, :take]
    out_ids[~mask] = 0
    dropped = (1.0 - kept).astype(np.float32) if dropped_mass_bucket else None
    return out_ids, out_probs, mask, dropped
