"""Read-time targets (Spec §7.2) against a line-by-line scalar port of the Swift `Targets` code (Reader/Targets.swift):
the vectorised numpy version must agree bit for bit."""
import math

import numpy as np
import pytest

import logitstore
from logitstore.record import Record
from conftest import random_rows


def swift_targets(rec, top_p, top_k, temperature, bucket):
    """The Swift fillTargets loop, statement by statement, in Python floats (IEEE doubles) and float32 roundings."""
    f32 = lambda x: float(np.float32(x))
    inv_t = 1 / temperature
    k = max(0, top_k if top_k is not None else 1 << 62)
    offsets, ids, probs, dropped = [0], [], [], []
    for j in range(rec.tokens.size):
        a, b = int(rec.offsets[j]), int(rec.offsets[j + 1])
        n, mass, i = 0, 0.0, a
        while i < b and n < k:
            mass += float(rec.probs[i])
            n += 1
            i += 1
            if mass >= top_p:
                break
        start, z = len(probs), 0.0
        for e in range(a, a + n):
            q = float(rec.probs[e]) if inv_t == 1 else math.pow(float(rec.probs[e]), inv_t)
            ids.append(int(rec.ids[e]))
            probs.append(f32(q))
            z += q
        kept = min(1.0, max(0.0, mass))
        if bucket:
            scale = 1.0 if inv_t == 1 else (kept / z if z > 0 else 0.0)
        else:
            scale = 1 / z if z > 0 else 0.0
        if scale != 1:
            for e in range(start, len(probs)):
                probs[e] = f32(probs[e] * scale)
        if bucket:
            dropped.append(f32(1 - kept))
        offsets.append(len(probs))
    return offsets, ids, np.array(probs, np.float32), (np.array(dropped, np.float32) if bucket else None)


def make_record(rng, T=300, top_k=40, policy="top-p-k"):
    counts, ids, probs = random_rows(rng, T - 1, 1000, top_k)
    # Ties and exact-mass cases: a first position of four equal 0.25s (reaching p = 0.5 / 0.75 / 1 exactly).
    counts = np.concatenate(([4], counts))
    ids = np.concatenate((np.array([1, 2, 3, 4], np.uint32), ids))
    probs = np.concatenate((np.full(4, 0.25, np.float16), probs))
    offsets = np.concatenate(([0], np.cumsum(counts)))
    tr = {"policy": policy, "top_p": 1.0, "top_k": top_k, "temperature": 1.0}
    return Record(np.zeros(T, np.uint32), counts, offsets, ids, probs, None, tr)


@pytest.mark.parametrize("top_p", [1.0, 0.95, 0.5, 0.75])
@pytest.mark.parametrize("top_k", [None, 1, 7, 100])
@pytest.mark.parametrize("temperature", [1.0, 2.0, 0.5, 1.7])
@pytest.mark.parametrize("bucket", [False, True])
def test_targets_equal_swift_arithmetic(rng, top_p, top_k, temperature, bucket):
    rec = make_record(rng)
    got = rec.targets(top_p=top_p, top_k=top_k, temperature=temperature, dropped_mass_bucket=bucket)
    want = swift_targets(rec, top_p, top_k, temperature, bucket)
    assert got[0].tolist() == want[0]
    assert got[1].tolist() == want[1]
    assert np.array_equal(got[2].view(np.uint32), want[2].view(np.uint32))
    if bucket:
        assert np.array_equal(got[3].view(np.uint32), want[3].view(np.uint32))
    else:
        assert got[3] is None
    assert got[1].dtype == np.uint32 and got[2].dtype == np.float32 and got[0].dtype == np.int64


def test_targets_semantics(rng):
    rec = make_record(rng)
    off, ids, p, dropped = rec.targets(dropped_mass_bucket=True)
    assert np.array_equal(p, rec.probs.astype(np.float32))  # τ = 1 with the bucket: q_i = p_i
    sums = np.add.reduceat(p.astype(np.float64), off[:-1])
    assert np.allclose(sums + dropped, 1, atol=1e-6)
    off, ids, p, _ = rec.targets(top_k=3, temperature=2.0)
    assert (np.diff(off) <= 3).all()
    assert np.allclose(np.add.reduceat(p.astype(np.float64), off[:-1]), 1, atol=1e-6)


def test_bad_options(rng):
    rec = make_record(rng)
    for kw in (dict(top_p=0), dict(top_p=1.5), dict(top_k=0), dict(temperature=0), dict(temperature=float("inf"))):
        with pytest.raises(logitstore.InvalidInputError):
            rec.targets(**kw)


def test_sampled_store_refuses_retruncation_and_temperature(rng):
    rec = make_record(rng, top_k=8, policy="sample")
    for kw in (dict(top_p=0.9), dict(temperature=2.0), dict(top_k=int(rec.counts.max()) - 1)):
        with pytest.raises(logitstore.TargetPolicyError, match="sampled"):
            rec.targets(**kw)
    off, ids, p, dropped = rec.targets(top_k=int(rec.counts.max()), dropped_mass_bucket=True)
    assert np.array_equal(ids, rec.ids) and dropped.shape == (rec.tokens.size,)


def test_empty_record(rng):
    rec = make_record(rng).__class__(np.zeros(0, np.uint32), np.zeros(0, np.int64), np.zeros(1, np.int64),
                                     np.zeros(0, np.uint32), np.zeros(0, np.float16), None, {"policy": "top-p-k"})
    off, ids, p, d = rec.targets(dropped_mass_bucket=True)
    assert off.tolist() == [0] and ids.size == 0 and d.size == 0
