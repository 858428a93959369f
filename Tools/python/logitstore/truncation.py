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
    low_id = (np.uint64(0xFFFFFFFF) - np.arange(V, dtype=np.uint64))
    nxt = _next_tokens(tokens, n_rows, V)
    counts_out, ids_out, probs_out, tl_out = [], [], [], []
    step = _rows_per_step(V)
    for r0 in range(0, n_rows, step):
        x = np.array(x_all[r0:r0 + step, :V], dtype=np.float32)
        if inv_t != 1:
            x *= inv_t
        finite = np.isfinite(x)
        if not finite.all():
            r, c = np.argwhere(~finite)[0]
            raise _non_finite(r0 + int(r), int(c), x_all[r0 + r, c])
        m = x.max(axis=1)
        z = np.exp(x - m[:, None]).sum(axis=1, dtype=np.float64)
        bits = x.view(np.uint32)
        ordered = np.where(bits >= 0x80000000, ~bits, bits | np.uint32(0x80000000)).astype(np.uint64)
        keys = (ordered << np.uint64(32)) | low_id
        del ordered, bits
        if k < V:
            top = np.argpartition(keys, V - k, axis=1)[:, V - k:]
        else:
            top = np.broadcast_to(np.arange(V), keys.shape)
        order = np.argsort(np.take_along_axis(keys, top, axis=1), axis=1)[:, ::-1]
        ids = np.take_along_axis(top, order, axis=1)
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
    ids_lo = 0xFFFFFFFF - torch.arange(V, device=dev, dtype=torch.int64)
    nxt = torch.from_numpy(_next_tokens(tokens, n_rows, V)).to(dev)
    counts_out, ids_out, probs_out, tl_out = [], [], [], []
    step = _rows_per_step(V)
    with torch.no_grad():
        for r0 in range(0, n_rows, step):
            x = logits[r0:r0 + step, :V].to(torch.float32)
            if inv_t != 1:
                x = x * inv_t
            finite = torch.isfinite(x)
            if not bool(finite.all()):
                r, c = (int(v) for v in torch.nonzero(~finite)[0])
                raise _non_finite(r0 + r, c, float(logits[r0 + r, c]))
            m = x.max(dim=1).values
            z = torch.exp(x - m[:, None]).sum(dim=1, dtype=torch.float64)
            b = x.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
            ordered = torch.where(b >= 0x80000000, 0xFFFFFFFF - b, b + 0x80000000)
            keys = (ordered - 0x80000000) * (1 << 32) + ids_lo  # monotone in (value, -id), fits int64
            del b, ordered
            ids = torch.topk(keys, k, dim=1, largest=True, sorted=True).indices
            del keys
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


def is_torch_tensor(x):
    """True when x is a torch.Tensor (without importing torch when it is not loaded)."""
    import sys
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def top_p_k(logits, vocab_size, top_p, top_k, temperature=1.0, tokens=None, record_targets=True):
    """Truncates numpy arrays in numpy and torch tensors in torch on their device."""
    fn = top_p_k_torch if is_torch_tensor(logits) else top_p_k_numpy
    return fn(logits, vocab_size, top_p, top_k, temperature, tokens, record_targets)
