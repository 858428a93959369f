"""Top-p-k truncation of logits rows, Spec §1.2, in numpy or in torch on the tensor's own device.

q = softmax(x / τ) over the first V columns; order by q descending, ties by lower id; keep the shortest prefix
whose mass reaches p (at least one entry), then at most k. Kept probabilities are q rounded to float16 (through
float32, as the Swift writer does), not re-normalised. The order is exact: each entry's key is its float32 bit
pattern made monotone (high 32 bits) and its complemented id (low 32 bits), so the k largest keys are the k best
entries with ties broken by lower id, and no row is ever fully sorted. Σexp runs in float32 per element, summed in
float64; the kept q and the cumulative mass are float64 (relative error far below the Spec's 1e-5).
"""
import numpy as np

from .errors import InvalidInputError

#: Rows per vectorised step (bounded so that a step's [rows, V] keys stay around 32 MiB).
_STEP_BYTES = 32 << 20


class TruncatedRows:
    """Per-row kept entries: counts int64 [T], ids uint32 [E], probs float16 [E], target_logprobs float32 [T] or None."""

    def __init__(self, counts, ids, probs, target_logprobs=None):
        self.counts, self.ids, self.probs, self.target_logprobs = counts, ids, probs, target_logprobs


def _rows_per_step(vocab_size):
    return max(1, min(4096, _STEP_BYTES // (8 * max(1, vocab_size))))


def _check_shape(shape, row_width, tokens):
    if len(shape) != 2 or shape[1] != row_width:
        raise InvalidInputError(f"logits have shape {tuple(shape)}; expected [T, {row_width}]")
    if tokens is not None and shape[0] != len(tokens):
        raise InvalidInputError(f"{shape[0]} logits rows for {len(tokens)} tokens")


def _next_tokens(tokens, n, vocab_size):
    """Per row the next token (the last row has none: -1)."""
    nxt = np.full(n, -1, dtype=np.int64)
    if tokens is not None and n > 1:
        nxt[:-1] = np.asarray(tokens, dtype=np.int64)[1:]
    return nxt


def _non_finite(row, col, value):
    return InvalidInputError(f"logits row {row} has a non-finite value ({value}) at column {col}")


def top_p_k_numpy(logits, vocab_size, top_p, top_k, temperature=1.0, tokens=None, record_targets=True):
    """Truncates a numpy [T, W] array (W >= V; columns >= V ignored). `tokens`, when given, are the rows' input
    tokens: target log-probs are recorded for every row (NaN for the last, whose next token is unknown)."""
    x_all = np.asarray(logits)
    if x_all.ndim != 2 or x_all.shape[1] < vocab_size:
        raise InvalidInputError(f"logits have shape {tuple(x_all.shape)}; expected [T, >= {vocab_size}]")
    n_rows, V = x_all.shape[0], vocab_size
    k = min(int(top_k), V)
    inv_t = np.float32(1.0 / temperature)
    nxt = _next_tokens(tokens, n_rows, V)
    counts_out, ids_out, probs_out, tl_out = [], [], [], []
    step = _rows_per_step(V)
    for r0 in range(0, n_rows, step):
        x = np.array(x_all[r0:r0 + step, :V], dtype=np.float32)
        if inv_t != 1:
            x *= inv_t
        if not np.isfinite(x).all():
            r, c = np.argwhere(~np.isfinite(x))[0]
            raise _non_finite(r0 + int(r), int(c), x_all[r0 + r, c])
        m = x.max(axis=1)
        z = np.exp(x - m[:, None]).sum(axis=1, dtype=np.float64)
        ids = _best_numpy(x, k)
        vals = np.take_along_axis(x, ids, axis=1)
        q = np.exp((vals - m[:, None]).astype(np.float64)) / z[:, None]
        reached = np.cumsum(q, axis=1) >= top_p
        count = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, k)
        keep = np.arange(k)[None, :] < count[:, None]
        counts_out.append(count.astype(np.int64))
        ids_out.append(ids[keep].astype(np.uint32))
        probs_out.append(q[keep].astype(np.float32).astype(np.float16))
        if record_targets:
            t = nxt[r0:r0 + x.shape[0]]
            if t.size and int(t.max()) >= V:
                bad = int(np.argmax(t >= V))
                raise InvalidInputError(f"next token {int(t[bad])} of row {r0 + bad} is not below the vocabulary size {V}")
            xt = np.take_along_axis(x, np.maximum(t, 0)[:, None], axis=1)[:, 0]
            tl = np.minimum(np.float32(0), (xt - m) - np.log(z).astype(np.float32)).astype(np.float32)
            tl[t < 0] = np.nan
            tl_out.append(tl)
    cat = (lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt))
    return TruncatedRows(cat(counts_out, np.int64), cat(ids_out, np.uint32), cat(probs_out, np.float16),
                         cat(tl_out, np.float32) if record_targets else None)


def top_p_k_torch(logits, vocab_size, top_p, top_k, temperature=1.0, tokens=None, record_targets=True):
    """Like `top_p_k_numpy` for a torch tensor, computed on the tensor's device: only the kept entries (and the
    per-row counts and target log-probs) are copied to the host."""
    import torch

    if logits.dim() != 2 or logits.shape[1] < vocab_size:
        raise InvalidInputError(f"logits have shape {tuple(logits.shape)}; expected [T, >= {vocab_size}]")
    dev = logits.device
    n_rows, V = logits.shape[0], vocab_size
    k = min(int(top_k), V)
    inv_t = float(np.float32(1.0 / temperature))
    nxt = torch.from_numpy(_next_tokens(tokens, n_rows, V)).to(dev)
    counts_out, ids_out, probs_out, tl_out = [], [], [], []
    step = _rows_per_step(V)
    with torch.no_grad():
        for r0 in range(0, n_rows, step):
            x = logits[r0:r0 + step, :V].to(torch.float32)
            if inv_t != 1:
                x = x * inv_t
            m = x.max(dim=1).values
            e = x - m[:, None]
            torch.exp_(e)
            z = e.sum(dim=1).to(torch.float64)  # float32 sum: relative error far below 1e-5
            del e
            # NaN and +inf make z NaN; -inf shows in the minimum (as the Swift writer checks).
            if not (bool(torch.isfinite(z).all()) and bool((x.min(dim=1).values > float("-inf")).all())):
                r, c = (int(v) for v in torch.nonzero(~torch.isfinite(x))[0])
                raise _non_finite(r0 + r, c, float(logits[r0 + r, c]))
            ids = _best_torch(x, k)
            vals = torch.gather(x, 1, ids)
            q = torch.exp((vals - m[:, None]).to(torch.float64)) / z[:, None]
            reached = torch.cumsum(q, dim=1) >= top_p
            count = torch.where(reached.any(dim=1), reached.to(torch.int8).argmax(dim=1) + 1,
                                torch.full_like(m, k, dtype=torch.int64))
            keep = torch.arange(k, device=dev)[None, :] < count[:, None]
            counts_out.append(count.cpu().numpy().astype(np.int64))
            ids_out.append(ids[keep].to(torch.int32).cpu().numpy().view(np.uint32))
            probs_out.append(q[keep].to(torch.float32).to(torch.float16).cpu().numpy())
            if record_targets:
                t = nxt[r0:r0 + x.shape[0]]
                if t.numel() and int(t.max()) >= V:
                    bad = int(torch.argmax((t >= V).to(torch.int8)))
                    raise InvalidInputError(f"next token {int(t[bad])} of row {r0 + bad} is not below the vocabulary size {V}")
                xt = torch.gather(x, 1, t.clamp(min=0)[:, None])[:, 0]
                tl = torch.clamp((xt - m) - torch.log(z).to(torch.float32), max=0.0)
                tl = torch.where(t < 0, torch.full_like(tl, float("nan")), tl)
                tl_out.append(tl.cpu().numpy().astype(np.float32))
    cat = (lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt))
    return TruncatedRows(cat(counts_out, np.int64), cat(ids_out, np.uint32), cat(probs_out, np.float16),
                         cat(tl_out, np.float32) if record_targets else None)


def _order_keys_numpy(values, ids):
    """uint64 keys whose order is (value descending as float32 bits, then id ascending): larger key = better."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    ordered = np.where(bits >= 0x80000000, ~bits, bits | np.uint32(0x80000000)).astype(np.uint64)
    return (ordered << np.uint64(32)) | (np.uint64(0xFFFFFFFF) - ids.astype(np.uint64))


def _best_numpy(x, k):
    """int64 [R, k]: per row the ids of the k best entries, ordered by (value descending, id ascending).
    The k+1 largest values are selected by argpartition; a row whose k-th and (k+1)-th values are equal (a tie
    across the boundary, where argpartition's choice is arbitrary) is redone with exact keys over the whole row."""
    R, V = x.shape
    if k >= V:
        cand = np.broadcast_to(np.arange(V), (R, V))
    else:
        cand = np.argpartition(x, V - k - 1, axis=1)[:, V - k - 1:]
    keys = _order_keys_numpy(np.take_along_axis(x, cand, axis=1), cand)
    order = np.argsort(keys, axis=1)[:, ::-1]
    best = np.take_along_axis(cand, order, axis=1)
    if k >= V:
        return best
    vals = np.take_along_axis(x, best, axis=1)
    tied = np.flatnonzero(vals[:, k - 1] == vals[:, k])  # rare: a value tie across the cut
    if tied.size:
        row_keys = _order_keys_numpy(x[tied], np.broadcast_to(np.arange(V), (tied.size, V)))
        top = np.argpartition(row_keys, V - k, axis=1)[:, V - k:]
        o = np.argsort(np.take_along_axis(row_keys, top, axis=1), axis=1)[:, ::-1]
        best[tied, :k] = np.take_along_axis(top, o, axis=1)
    return best[:, :k]


def _best_torch(x, k):
    """Like `_best_numpy` on the tensor's device: torch.topk of k+1 values, exact (value, id) order of the chosen
    entries by 64-bit keys, and whole-row keys only for rows with a value tie across the cut."""
    import torch

    R, V = x.shape
    kk = min(k + 1, V)
    vals, cand = torch.topk(x, kk, dim=1, largest=True, sorted=True)
    keys = _order_keys_torch(vals, cand)
    order = torch.argsort(keys, dim=1, descending=True)
    best = torch.gather(cand, 1, order)
    if kk == k:
        return best
    tied = torch.nonzero(vals[:, k - 1] == vals[:, k]).flatten()
    if tied.numel():
        row_keys = _order_keys_torch(x[tied], torch.arange(V, device=x.device).expand(tied.numel(), V))
        best[tied, :k] = torch.topk(row_keys, k, dim=1, largest=True, sorted=True).indices
    return best[:, :k]


def _order_keys_torch(values, ids):
    """int64 keys in (value descending as float32 bits, id ascending) order; they fit int64 exactly."""
    import torch

    b = values.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    ordered = torch.where(b >= 0x80000000, 0xFFFFFFFF - b, b + 0x80000000)
    return (ordered - 0x80000000) * (1 << 32) + (0xFFFFFFFF - ids)


def is_torch_tensor(x):
    """True when x is a torch.Tensor (without importing torch when it is not loaded)."""
    import sys
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def top_p_k(logits, vocab_size, top_p, top_k, temperature=1.0, tokens=None, record_targets=True):
    """Truncates numpy arrays in numpy and torch tensors in torch on their device."""
    fn = top_p_k_torch if is_torch_tensor(logits) else top_p_k_numpy
    return fn(logits, vocab_size, top_p, top_k, temperature, tokens, record_targets)
