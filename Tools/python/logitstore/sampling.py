"""Sampled targets (format v2 policy "sample"): N i.i.d. draws per position from r ∝ p^(1/τs), p = softmax(x/τ),
with the normative RNG, so that any conforming writer reproduces the draws.

Per position: key = XXH3-64 (seed = manifest seed) of writer_id (UTF-8) ‖ u64 LE sequence ordinal ‖ u64 LE
position; SplitMix64 from state s = key gives u_j = (z_j >> 11)·2^-53; draw j is the smallest id i with
C_i > u_j·C_V, C_i = Σ_{j<=i} r_j in double. Distinct ids with counts c_i get w_i = c_i (counts) or c_i·p_i/r_i
(importance, r normalised); stored prob = float16(w_i / Σw), ordered by prob descending, ties by lower id.
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


def _weights_to_entries(draws, p_drawn, r_drawn, importance):
    """Distinct drawn ids per row with their stored float16 probs, ordered by prob descending then id.
    draws int64 [R, N] (ids), p_drawn / r_drawn float64 [R, N] (p and normalised r of each drawn id)."""
    R, N = draws.shape
    order = np.argsort(draws, axis=1, kind="stable")
    d = np.take_along_axis(draws, order, axis=1)
    first = np.ones((R, N), dtype=bool)
    first[:, 1:] = d[:, 1:] != d[:, :-1]
    run_id = np.cumsum(first, axis=1) - 1  # index of the distinct id within its row
    distinct = first.sum(axis=1)
    rows = np.repeat(np.arange(R), N)
    c = np.zeros((R, N), dtype=np.float64)
    np.add.at(c, (rows, run_id.ravel()), 1.0)
    ids = np.zeros((R, N), dtype=np.int64)
    ids[rows[first.ravel()], run_id[first]] = d[first]
    valid = np.arange(N)[None, :] < distinct[:, None]
    if importance:
        pr = np.zeros((R, N), dtype=np.float64)
        ratio = np.take_along_axis(p_drawn / r_drawn, order, axis=1)
        pr[rows[first.ravel()], run_id[first]] = ratio[first]
        w = c * pr
    else:
        w = c
    total = np.where(valid, w, 0.0).sum(axis=1)
    probs = np.where(valid, w / total[:, None], 0.0).astype(np.float16)
    bits = probs.view(np.uint16).astype(np.int64)
    key = np.where(valid, (bits << 32) | (0xFFFFFFFF - ids), -1)  # prob descending, then lower id
    o = np.argsort(-key, axis=1, kind="stable")
    ids = np.take_along_axis(ids, o, axis=1)
    probs = np.take_along_axis(probs, o, axis=1)
    keep = np.arange(N)[None, :] < distinct[:, None]
    return distinct.astype(np.int64), ids[keep].astype(np.uint32), probs[keep]


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
            xd = x.to(torch.float64)
            finite = torch.isfinite(x)
            if not bool(finite.all()):
                r, c = (int(v) for v in torch.nonzero(~finite)[0])
                raise _non_finite(r0 + r, c, float(x_all[r0 + r, c]))
            m = xd.max(dim=1, keepdim=True).values
            e = torch.exp(xd - m)
            z = e.sum(dim=1, keepdim=True)
            p = e / z
            r_un = p if ts == 1 else torch.pow(p, 1.0 / ts)
            C = torch.cumsum(r_un, dim=1)
            u = torch.from_numpy(u_all[r0:r0 + x.shape[0]]).to(x.device)
            target = u * C[:, -1:]
            draws = torch.searchsorted(C, target, right=True).clamp(max=V - 1)
            p_d = torch.gather(p, 1, draws)
            r_d = torch.gather(r_un, 1, draws) / C[:, -1:]
            draws, p_d, r_d = (a.cpu().numpy() for a in (draws, p_d, r_d))
            log_z = (m[:, 0] + torch.log(z[:, 0])).cpu().numpy()
            xn = x.cpu().numpy()
        else:
            x = np.array(x_all[r0:r0 + step, :V], dtype=np.float32)
            if inv_t != 1:
                x *= inv_t
            finite = np.isfinite(x)
            if not finite.all():
                r, c = np.argwhere(~finite)[0]
                raise _non_finite(r0 + int(r), int(c), x_all[r0 + r, c])
            xd = x.astype(np.float64)
            m = xd.max(axis=1, keepdims=True)
            e = np.exp(xd - m)
            z = e.sum(axis=1, keepdims=True)
            p = e / z
            r_un = p if ts == 1 else np.power(p, 1.0 / ts)
            C = np.cumsum(r_un, axis=1)
            target = u_all[r0:r0 + x.shape[0]] * C[:, -1:]
            # numpy has no batched searchsorted: one C call per row (the O(V) work above is vectorised).
            draws = np.stack([np.searchsorted(C[i], target[i], side="right") for i in range(x.shape[0])])
            draws = np.minimum(draws, V - 1)
            p_d = np.take_along_axis(p, draws, axis=1)
            r_d = np.take_along_axis(r_un, draws, axis=1) / C[:, -1:]
            log_z = m[:, 0] + np.log(z[:, 0])
            xn = x
        counts, ids, probs = _weights_to_entries(draws.astype(np.int64), p_d, r_d, importance)
        out_c.append(counts)
        out_i.append(ids)
        out_p.append(probs)
        if record_targets:
            t = nxt[r0:r0 + xn.shape[0]]
            if t.size and int(t.max()) >= V:
                bad = int(np.argmax(t >= V))
                raise InvalidInputError(f"next token {int(t[bad])} of row {r0 + bad} is not below the vocabulary size {V}")
            xt = np.take_along_axis(xn, np.maximum(t, 0)[:, None], axis=1)[:, 0].astype(np.float64)
            tl = np.minimum(0.0, xt - log_z).astype(np.float32)
            tl[t < 0] = np.nan
            out_t.append(tl)
    cat = (lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt))
    return TruncatedRows(cat(out_c, np.int64), cat(out_i, np.uint32), cat(out_p, np.float16),
                         cat(out_t, np.float32) if record_targets else None)
