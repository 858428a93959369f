"""Sampled targets (format v2 policy "sample"): N i.i.d. draws per position from r ∝ p^(1/τs), p = softmax(x/τ),
with the normative RNG, so that any conforming writer reproduces the draws.

Per position (0-based within its sequence): key = XXH3-64 (seed = manifest seed) of writer_id (UTF-8) ‖ u64 LE
sequence ordinal ‖ u64 LE position; SplitMix64 from state s = key gives u_j = (z_j >> 11)·2^-53; draw j is the
smallest id i with C_i > u_j·C_V, C_i = Σ_{j<=i} r_j in double (the last id with r > 0 if rounding leaves none).
As the Swift writer: x' = float32 x × float32(1/τ), m = max x', d = double(x') - double(m), r = exp(d/τs).
Distinct ids with counts c_i get w_i = c_i (counts) or c_i·exp(d_i (1 - 1/τs)) ∝ c_i·p_i/r_i (importance);
stored prob = float16(w_i / Σw) rounded once from double, ordered by prob descending, ties by lower id.
"""
import struct

import numpy as np
import xxhash

from .truncation import TruncatedRows, _next_tokens, _non_finite, _rows_per_step
from .errors import InvalidInputError

GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def position_keys(writer_id, ordinal, n_positions, seed):
    """uint64 [T]: the RNG key of each position of the sequence with this writer-local ordinal."""
    prefix = writer_id.encode("utf-8") + struct.pack("<Q", ordinal)
    return np.array([xxhash.xxh3_64_intdigest(prefix + struct.pack("<Q", j), seed=seed) for j in range(n_positions)],
                    dtype=np.uint64)


def uniforms(keys, n):
    """float64 [T, n]: the SplitMix64 uniforms of each key (vectorised; uint64 arithmetic wraps)."""
    with np.errstate(over="ignore"):
        s = keys[:, None] + np.uint64(GOLDEN) * np.arange(1, n + 1, dtype=np.uint64)[None, :]
        z = (s ^ (s >> np.uint64(30))) * np.uint64(_M1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def _weights_to_entries(draws, d_drawn, ts, importance):
    """Distinct drawn ids per row with their stored float16 probs, ordered by prob descending then lower id.
    draws int64 [R, N] (ids); d_drawn float64 [R, N], d = x' - m of each drawn id."""
    R, N = draws.shape
    order = np.argsort(draws, axis=1, kind="stable")
    d = np.take_along_axis(draws, order, axis=1)
    first = np.ones((R, N), dtype=bool)
    first[:, 1:] = d[:, 1:] != d[:, :-1]
    slot = np.cumsum(first, axis=1) - 1  # index of the distinct id within its row
    distinct = first.sum(axis=1)
    rows = np.repeat(np.arange(R), N)
    c = np.zeros((R, N), dtype=np.float64)
    np.add.at(c, (rows, slot.ravel()), 1.0)
    ids = np.zeros((R, N), dtype=np.int64)
    fr, fs = rows[first.ravel()], slot[first]
    ids[fr, fs] = d[first]
    valid = np.arange(N)[None, :] < distinct[:, None]
    if importance:
        # w_i = c_i · p_i / r_i ∝ c_i · exp(d_i (1 - 1/τs)); the normalising constants cancel.
        dd = np.zeros((R, N), dtype=np.float64)
        dd[fr, fs] = np.take_along_axis(d_drawn, order, axis=1)[first]
        w = c * np.exp(dd * (1.0 - 1.0 / ts))
    else:
        w = c
    w = np.where(valid, w, 0.0)
    total = np.cumsum(w, axis=1)[:, -1]  # left to right over ascending ids
    probs = (w / total[:, None]).astype(np.float16)  # rounded once, double -> float16
    bits = probs.view(np.uint16).astype(np.int64)
    key = np.where(valid, (bits << 32) | (0xFFFFFFFF - ids), -1)  # prob descending, then lower id
    o = np.argsort(-key, axis=1, kind="stable")
    ids = np.take_along_axis(ids, o, axis=1)
    probs = np.take_along_axis(probs, o, axis=1)
    return distinct.astype(np.int64), ids[valid].astype(np.uint32), probs[valid]


def sample_rows(logits, vocab_size, policy, writer_id, ordinal, tokens=None, record_targets=True):
    """Sampled entries for a numpy [T, W] array or a torch tensor (computed on the tensor's device up to the
    draws). Returns `TruncatedRows`."""
    try:
        import torch
        is_torch = isinstance(logits, torch.Tensor)
    except ImportError:
        is_torch = False
    if is_torch:
        x_all = logits
    else:
        x_all = np.asarray(logits)
    if x_all.ndim != 2 or x_all.shape[1] < vocab_size:
        raise InvalidInputError(f"logits have shape {tuple(x_all.shape)}; expected [T, >= {vocab_size}]")
    n_rows, V = x_all.shape[0], vocab_size
    N, ts, seed = policy["samples"], policy["sample_temperature"], policy["seed"]
    importance = policy["weights"] == "importance"
    inv_t = np.float32(1.0 / policy["temperature"])
    keys = position_keys(writer_id, ordinal, n_rows, seed)
    u_all = uniforms(keys, N)
    nxt = _next_tokens(tokens, n_rows, V)
    out_c, out_i, out_p, out_t = [], [], [], []
    step = _rows_per_step(V)
    for r0 in range(0, n_rows, step):
        if is_torch:
            x = x_all[r0:r0 + step, :V].to(torch.float32)
            x = x * float(inv_t) if inv_t != 1 else x
            if not bool(torch.isfinite(x).all()):
                r, c = (int(v) for v in torch.nonzero(~torch.isfinite(x))[0])
                raise _non_finite(r0 + r, c, float(x_all[r0 + r, c]))
            m = x.max(dim=1, keepdim=True).values
            d = x.to(torch.float64) - m.to(torch.float64)
            r_un = torch.exp(d * (1.0 / ts))
            C = torch.cumsum(r_un, dim=1)
            u = torch.from_numpy(u_all[r0:r0 + x.shape[0]]).to(x.device)
            draws = torch.searchsorted(C, u * C[:, -1:], right=True)
            last = (V - 1) - torch.argmax((r_un.flip(1) > 0).to(torch.int8), dim=1, keepdim=True)
            draws = torch.minimum(draws, last)  # u·C_V at or above every C_i: the last id with r > 0
            d_d = torch.gather(d, 1, draws)
            log_z = torch.log(torch.exp(d).sum(dim=1)).cpu().numpy()
            draws, d_d = draws.cpu().numpy(), d_d.cpu().numpy()
            d_t_src = d
        else:
            x = np.array(x_all[r0:r0 + step, :V], dtype=np.float32)
            if inv_t != 1:
                x *= inv_t
            if not np.isfinite(x).all():
                r, c = np.argwhere(~np.isfinite(x))[0]
                raise _non_finite(r0 + int(r), int(c), x_all[r0 + r, c])
            m = x.max(axis=1, keepdims=True)
            d = x.astype(np.float64) - m.astype(np.float64)
            r_un = np.exp(d * (1.0 / ts))
            C = np.cumsum(r_un, axis=1)
            target = u_all[r0:r0 + x.shape[0]] * C[:, -1:]
            # numpy has no batched searchsorted: one C call per row (the O(V) work above is vectorised).
            draws = np.stack([np.searchsorted(C[i], target[i], side="right") for i in range(x.shape[0])])
            last = (V - 1) - np.argmax(r_un[:, ::-1] > 0, axis=1)[:, None]
            draws = np.minimum(draws, last)  # u·C_V at or above every C_i: the last id with r > 0
            d_d = np.take_along_axis(d, draws, axis=1)
            log_z = np.log(np.exp(d).sum(axis=1))
            d_t_src = d
        counts, ids, probs = _weights_to_entries(draws.astype(np.int64), d_d, ts, importance)
        out_c.append(counts)
        out_i.append(ids)
        out_p.append(probs)
        if record_targets:
            t = nxt[r0:r0 + counts.size]
            if t.size and int(t.max()) >= V:
                bad = int(np.argmax(t >= V))
                raise InvalidInputError(f"next token {int(t[bad])} of row {r0 + bad} is not below the vocabulary size {V}")
            tt = np.maximum(t, 0)
            if is_torch:
                dt = torch.gather(d_t_src, 1, torch.from_numpy(tt[:, None]).to(d_t_src.device))[:, 0].cpu().numpy()
            else:
                dt = np.take_along_axis(d_t_src, tt[:, None], axis=1)[:, 0]
            tl = np.minimum(0.0, dt - log_z).astype(np.float32)
            tl[t < 0] = np.nan
            out_t.append(tl)
    cat = (lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt))
    return TruncatedRows(cat(out_c, np.int64), cat(out_i, np.uint32), cat(out_p, np.float16),
                         cat(out_t, np.float32) if record_targets else None)
