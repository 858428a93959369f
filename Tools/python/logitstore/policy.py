"""Target policies (manifest `truncation`): top-p-k (Spec §1.2) or sampled targets (format v2).

A policy is a plain dict with the manifest's keys; `validate_policy` checks ranges and consistency and returns a
normalised copy (floats as float, ints as int).
"""
import math

from .errors import InvalidInputError

TOP_P_K = "top-p-k"
SAMPLE = "sample"
_SAMPLE_KEYS = ("samples", "sample_temperature", "seed", "weights")
MAX_TOP_K = 65535
MAX_SEED = 1 << 53


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x):
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


def top_p_k(top_p=0.95, top_k=100, temperature=1.0):
    """A top-p-k policy dict."""
    return validate_policy({"policy": TOP_P_K, "top_p": top_p, "top_k": top_k, "temperature": temperature})


def sample(samples=64, sample_temperature=1.0, seed=0, temperature=1.0):
    """A sampled-target policy dict: `samples` draws per position from r ∝ softmax(x/τ)^(1/τs)."""
    return validate_policy({"policy": SAMPLE, "top_p": 1.0, "top_k": samples, "temperature": temperature,
                            "samples": samples, "sample_temperature": sample_temperature, "seed": seed,
                            "weights": "counts" if sample_temperature == 1 else "importance"})


def validate_policy(t, error=InvalidInputError):
    """A checked, normalised copy of policy dict `t`; raises `error(message)` naming the first bad field."""
    if not isinstance(t, dict):
        raise error("truncation must be an object")
    kind = t.get("policy")
    if kind not in (TOP_P_K, SAMPLE):
        raise error(f"truncation.policy must be \"top-p-k\" or \"sample\", got {kind!r}")
    for key in ("top_p", "temperature"):
        if not _is_number(t.get(key)):
            raise error(f"truncation.{key} must be a finite number, got {t.get(key)!r}")
    if not _is_int(t.get("top_k")):
        raise error(f"truncation.top_k must be an integer, got {t.get('top_k')!r}")
    out = {"policy": kind, "top_p": float(t["top_p"]), "top_k": int(t["top_k"]), "temperature": float(t["temperature"])}
    if not out["temperature"] > 0:
        raise error(f"truncation.temperature must be > 0, got {out['temperature']}")
    if kind == TOP_P_K:
        if not 0 < out["top_p"] <= 1:
            raise error(f"truncation.top_p must be in (0, 1], got {out['top_p']}")
        if not 1 <= out["top_k"] <= MAX_TOP_K:
            raise error(f"truncation.top_k must be in 1...65535, got {out['top_k']}")
        extra = [k for k in _SAMPLE_KEYS if k in t]
        if extra:
            raise error(f"a top-p-k policy has no {', '.join(extra)}")
        return out
    n, ts, seed, weights = (t.get(k) for k in _SAMPLE_KEYS)
    if not _is_int(n) or not 1 <= n <= MAX_TOP_K:
        raise error(f"truncation.samples must be an integer in 1...65535, got {n!r}")
    if out["top_p"] != 1 or out["top_k"] != n:
        raise error(f"a sampled policy has top_p 1 and top_k = samples ({n}), got {out['top_p']} and {out['top_k']}")
    if not _is_number(ts) or not ts > 0:
        raise error(f"truncation.sample_temperature must be a finite number > 0, got {ts!r}")
    if not _is_int(seed) or not 0 <= seed < MAX_SEED:
        raise error(f"truncation.seed must be an integer in 0..<2^53, got {seed!r}")
    want = "counts" if ts == 1 else "importance"
    if weights != want:
        raise error(f"truncation.weights must be \"{want}\" when sample_temperature is {ts}, got {weights!r}")
    out.update(samples=int(n), sample_temperature=float(ts), seed=int(seed), weights=weights)
    return out


def label(t):
    """Short description, e.g. "top-p 0.95, top-k 100" or "sample:64 (τs 1.0, seed 0)"."""
    tau = "" if t["temperature"] == 1 else f", τ {t['temperature']}"
    if t["policy"] == SAMPLE:
        return f"sample:{t['samples']} (τs {t['sample_temperature']}, seed {t['seed']}){tau}"
    return f"top-p {t['top_p']}, top-k {t['top_k']}{tau}"
