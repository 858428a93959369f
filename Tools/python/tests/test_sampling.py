"""Sampled targets (format v2 policy "sample") against a scalar reference written from the RNG definition:
XXH3-64 key per position, SplitMix64 uniforms, draw = smallest id with C_i > u·C_V, weights and ordering."""
import math
import struct

import numpy as np
import pytest
import xxhash

import logitstore
from logitstore import policy as policies
from logitstore.sampling import position_keys, sample_rows, uniforms
from conftest import random_logits

MASK = (1 << 64) - 1


def reference_uniforms(key, n):
    s, out = key, []
    for _ in range(n):
        s = (s + 0x9E3779B97F4A7C15) & MASK
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out.append((z >> 11) * 2.0 ** -53)
    return out


def reference(x, V, pol, writer_id, ordinal):
    """Per row: (ids, float16 probs) by the definition, with plain Python floats and a linear scan."""
    rows = []
    inv_t = np.float32(1 / pol["temperature"])
    for j, row in enumerate(x):
        s = [float(np.float32(v) * inv_t) for v in row[:V]]
        m = max(s)
        d = [v - m for v in s]
        r = [math.exp(v * (1 / pol["sample_temperature"])) for v in d]
        C, acc = [], 0.0
        for v in r:
            acc += v
            C.append(acc)
        key = xxhash.xxh3_64_intdigest(writer_id.encode() + struct.pack("<QQ", ordinal, j), seed=pol["seed"])
        last = max(i for i in range(V) if r[i] > 0)
        counts = {}
        for u in reference_uniforms(key, pol["samples"]):
            t = u * C[-1]
            i = next((i for i, c in enumerate(C) if c > t), last)
            counts[i] = counts.get(i, 0) + 1
        if pol["weights"] == "counts":
            w = {i: float(c) for i, c in counts.items()}
        else:
            w = {i: c * math.exp(d[i] * (1 - 1 / pol["sample_temperature"])) for i, c in counts.items()}
        total = 0.0
        for i in sorted(w):
            total += w[i]
        probs = {i: np.float16(w[i] / total) for i in w}
        order = sorted(w, key=lambda i: (-float(probs[i]), i))
        rows.append((order, [probs[i] for i in order]))
    return rows


def test_pinned_rng_vectors():
    # Agreed with the Swift sampler (notes, 12:02): key = XXH3-64(seed; writer ‖ u64le ordinal ‖ u64le position).
    k = position_keys("w0", 0, 1, 0)[0]
    assert int(k) == 0xC29D562AD71240D9
    assert reference_uniforms(int(k), 1)[0] == 0.44471565579440575
    assert uniforms(np.array([k]), 1)[0, 0] == 0.44471565579440575
    assert int(position_keys("dump-a", 7, 4, 12345)[3]) == 0x0CCEBCDC884C8515


def split(rows):
    off = np.concatenate(([0], np.cumsum(rows.counts)))
    return [(rows.ids[off[j]:off[j + 1]].tolist(), rows.probs[off[j]:off[j + 1]].tolist()) for j in range(rows.counts.size)]


def test_uniforms_match_splitmix64():
    keys = np.array([0, 1, 0xDEADBEEF, MASK], dtype=np.uint64)
    u = uniforms(keys, 5)
    for k, row in zip(keys.tolist(), u):
        assert row.tolist() == reference_uniforms(k, 5)
    assert position_keys("w0", 3, 2, 7)[1] == xxhash.xxh3_64_intdigest(b"w0" + struct.pack("<QQ", 3, 1), seed=7)


@pytest.mark.parametrize("samples,ts,temperature", [(16, 1.0, 1.0), (64, 1.0, 2.0), (32, 0.5, 1.0), (8, 2.0, 1.0)])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_sampled_rows_match_reference(rng, samples, ts, temperature, backend):
    V = 150
    x = random_logits(rng, 30, V, scale=2.0)
    pol = policies.sample(samples, ts, seed=11, temperature=temperature)
    arg = x
    if backend == "torch":
        torch = pytest.importorskip("torch")
        arg = torch.from_numpy(x)
    got = split(sample_rows(arg, V, pol, "w7", 5, record_targets=False))
    want = reference(x, V, pol, "w7", 5)
    same = [g[0] == w[0] and all(abs(np.float16(a).view(np.int16) - np.float16(b).view(np.int16)) <= 1
                                 for a, b in zip(g[1], w[1])) for g, w in zip(got, want)]
    assert np.mean(same) >= 0.97  # differences only where u·C_V lies within rounding of a boundary
    for ids, probs in got:
        assert 1 <= len(ids) <= samples and len(set(ids)) == len(ids)
        s = sum(float(p) for p in probs)
        if ts == 1:
            assert all(float(p) * samples == round(float(p) * samples) for p in probs) and s == 1.0
        else:
            assert abs(s - 1) <= len(probs) * 2 ** -11


def test_sampled_store_round_trip_and_resume_determinism(tmp_path, rng):
    V = 120
    xs = [random_logits(rng, int(rng.integers(3, 20)), V) for _ in range(6)]
    toks = [rng.integers(0, V, x.shape[0]) for x in xs]
    with logitstore.Writer(tmp_path / "a", vocab_size=V, policy="sample:16", sample_seed=3) as w:
        for t, x in zip(toks, xs):
            w.add_sequence(t, logits=x)
    w = logitstore.Writer(tmp_path / "b", vocab_size=V, policy="sample:16", sample_seed=3)
    for t, x in zip(toks[:3], xs[:3]):
        w.add_sequence(t, logits=x)
    w.close()  # committed; the resumed writer continues the ordinals at 3
    with logitstore.Writer(tmp_path / "b", vocab_size=V, policy="sample:16", sample_seed=3) as w:
        assert w.committed_sequences == 3
        for t, x in zip(toks[3:], xs[3:]):
            w.add_sequence(t, logits=x)
    a, b = logitstore.open(tmp_path / "a"), logitstore.open(tmp_path / "b")
    assert a.is_sampled and a.truncation["weights"] == "counts" and a.truncation["samples"] == 16
    ra, rb = a.read(0, a.num_positions), b.read(0, b.num_positions)
    assert np.array_equal(ra.ids, rb.ids) and np.array_equal(ra.probs.view(np.uint16), rb.probs.view(np.uint16))
    assert a.verify().ok and b.verify().ok
    with pytest.raises(logitstore.TargetPolicyError):
        ra.targets(temperature=2.0)
    off, ids, p, d = ra.targets(dropped_mass_bucket=True)
    assert np.array_equal(d, np.zeros_like(d))


def test_sampled_targets_keep_entries_after_the_stored_mass_reaches_one(tmp_path):
    """Importance weights whose float16 values reach 1 before the last entry (Σ = 1 + 2^-11): every entry is part
    of the target in Record.targets and in the dataset's dense targets (the top_p = 1 prefix rule does not cut)."""
    from logitstore.torch.dense_targets import dense_targets
    with logitstore.Writer(tmp_path / "s", vocab_size=50, policy="sample:8:2", target_logprobs=False) as w:
        w.add_sequence(np.array([1], np.uint32), ids=np.array([3, 5, 9], np.uint32),
                       probs=np.array([0.5, 0.5, 2.0 ** -11], np.float16), counts=np.array([3]))
    rec = logitstore.open(tmp_path / "s").sequence(0)
    off, ids, probs, _ = rec.targets()
    assert ids.tolist() == [3, 5, 9] and abs(float(probs.sum()) - 1) < 1e-6
    d_ids, d_probs, mask, _ = dense_targets(rec.counts, rec.probs, rec.ids, rec.truncation, width=4)
    assert d_ids[0, :3].tolist() == [3, 5, 9] and mask[0].tolist() == [True, True, True, False]
    assert d_probs[0, :3].tolist() == probs.tolist()
