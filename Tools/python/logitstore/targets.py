"""Read-time targets, Spec §7.2, vectorised; the arithmetic (and its rounding) mirrors the Swift `Targets` code
exactly: the stored mass and Σw accumulate left to right in double precision, each target is first rounded to
float32, then scaled in double and rounded to float32 again."""
import numpy as np

from .errors import InvalidInputError, TargetPolicyError


def _check_options(top_p, top_k, temperature):
    if not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise InvalidInputError(f"top_p must be in (0, 1], got {top_p!r}")
    if top_k is not None and not (isinstance(top_k, (int, np.integer)) and top_k >= 1):
        raise InvalidInputError(f"top_k must be None or an integer >= 1, got {top_k!r}")
    if not (isinstance(temperature, (int, float)) and temperature > 0 and np.isfinite(temperature)):
        raise InvalidInputError(f"temperature must be finite and > 0, got {temperature!r}")


def targets(record, top_p=1.0, top_k=None, temperature=1.0, dropped_mass_bucket=False):
    """(offsets int64 [T+1], ids uint32, probs float32, dropped float32 [T] or None) for `record` (see
    `Record.targets`)."""
    _check_options(top_p, top_k, temperature)
    counts = record.counts
    T = counts.size
    if record.truncation.get("policy") == "sample":
        if top_p < 1 or temperature != 1 or (top_k is not None and T and top_k < int(counts.max())):
            raise TargetPolicyError("this store holds sampled targets: re-truncation (top_p < 1 or top_k below a "
                                    "stored count) and temperature != 1 are not allowed")
        if dropped_mass_bucket:  # Spec §7.2: the stored weights renormalised; the bucket is 0
            off, ids, probs, _ = targets(record, dropped_mass_bucket=False)
            return off, ids, probs, np.zeros(T, np.float32)
    if T == 0:
        return (np.zeros(1, np.int64), np.zeros(0, np.uint32), np.zeros(0, np.float32),
                np.zeros(0, np.float32) if dropped_mass_bucket else None)
    k = int(counts.max()) if top_k is None else int(min(top_k, int(counts.max())))
    width = int(counts.max())
    offsets = record.offsets
    row = np.repeat(np.arange(T), counts)
    col = np.arange(record.ids.size) - np.repeat(offsets[:-1], counts)
    p = np.zeros((T, width), dtype=np.float64)
    p[row, col] = record.probs.astype(np.float64)
    mass_so_far = np.cumsum(p, axis=1)  # left to right per position, as the Swift loop adds
    valid = np.arange(width)[None, :] < counts[:, None]
    reached = (mass_so_far >= top_p) & valid
    m = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, counts)
    if record.truncation.get("policy") == "sample":
        m = counts  # every sampled entry is the target, even after the float16 mass has reached 1
    n = np.minimum(m, k)
    rows = np.arange(T)
    mass = mass_so_far[rows, n - 1]

    keep = np.arange(width)[None, :] < n[:, None]
    inv_t = 1.0 / float(temperature)
    w = p if inv_t == 1 else np.power(p, inv_t)
    w = np.where(keep, w, 0.0)
    z = np.cumsum(w, axis=1)[rows, n - 1]
    kept = np.clip(mass, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if dropped_mass_bucket:
            scale = np.ones(T) if inv_t == 1 else np.where(z > 0, kept / z, 0.0)
        else:
            scale = np.where(z > 0, 1.0 / z, 0.0)
    out_offsets = np.empty(T + 1, dtype=np.int64)
    out_offsets[0] = 0
    np.cumsum(n, out=out_offsets[1:])
    sel = keep[row, col]
    q32 = w[row, col][sel].astype(np.float32)
    out_probs = (q32.astype(np.float64) * np.repeat(scale, n)).astype(np.float32)
    out_ids = record.ids[sel]
    dropped = (1.0 - kept).astype(np.float32) if dropped_mass_bucket else None
    return out_offsets, out_ids, out_probs, dropped
