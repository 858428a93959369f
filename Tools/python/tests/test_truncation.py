"""Top-p-k truncation (Spec §1.2), numpy and torch, against a brute-force reference: a full sort of every row by
(q descending, id ascending) with q in double precision, then the prefix rule. The fast paths must give the same
ids and counts, and float16 probabilities within one unit in the last place (the Spec's tolerance)."""
import math

import numpy as np
import pytest

from logitstore.truncation import top_p_k_numpy, top_p_k_torch
from conftest import random_logits


def brute_force(x, V, top_p, top_k, temperature):
    counts, ids, probs = [], [], []
    for row in x[:, :V].astype(np.float64):
        s = row.astype(np.float32) * np.float32(1 / temperature)
        m = float(s.max())
        q = np.exp(s.astype(np.float64) - m)
        q /= q.sum()
        order = sorted(range(V), key=lambda i: (-float(s[i]), i))
        kept, mass = [], 0.0
        for i in order[:top_k]:
            kept.append(i)
            mass += q[i]
            if mass >= top_p:
                break
        counts.append(len(kept))
        ids += kept
        probs += [q[i] for i in kept]
    return np.array(counts), np.array(ids), np.array(probs).astype(np.float32).astype(np.float16)


def compare(got, want, allow_boundary=0):
    counts, ids, probs = want
    assert (np.abs(got.counts - counts) <= allow_boundary).all()
    same = got.counts == counts
    go = np.concatenate(([0], np.cumsum(got.counts)))
    wo = np.concatenate(([0], np.cumsum(counts)))
    for j in np.flatnonzero(same):
        assert got.ids[go[j]:go[j + 1]].tolist() == ids[wo[j]:wo[j + 1]].tolist()
        ulp = np.abs(got.probs[go[j]:go[j + 1]].view(np.int16).astype(int) - probs[wo[j]:wo[j + 1]].view(np.int16))
        assert ulp.max() <= 1
    return same.mean()


CASES = [(0.95, 50, 1.0), (0.8, 6, 1.0), (1.0, 20, 1.0), (0.5, 100, 2.0), (0.99, 3, 0.7), (0.9, 500, 1.0)]


@pytest.mark.parametrize("top_p,top_k,temperature", CASES)
def test_numpy_matches_brute_force(rng, top_p, top_k, temperature):
    V = 400
    x = random_logits(rng, 40, V)
    got = top_p_k_numpy(x, V, top_p, top_k, temperature, record_targets=False)
    assert compare(got, brute_force(x, V, top_p, top_k, temperature)) == 1.0


@pytest.mark.parametrize("top_p,top_k,temperature", CASES)
def test_torch_matches_brute_force(rng, top_p, top_k, temperature):
    torch = pytest.importorskip("torch")
    V = 400
    x = random_logits(rng, 40, V)
    got = top_p_k_torch(torch.from_numpy(x), V, top_p, top_k, temperature, record_targets=False)
    assert compare(got, brute_force(x, V, top_p, top_k, temperature), allow_boundary=1) >= 0.97


def test_ties_break_by_lower_id(rng):
    V = 64
    x = np.zeros((3, V), np.float32)
    x[1, [5, 9, 40]] = 2.0
    x[2] = np.repeat(np.arange(8, dtype=np.float32), 8)  # blocks of eight equal values
    for fn, arg in ((top_p_k_numpy, x), ("torch", x)):
        if fn == "torch":
            torch = pytest.importorskip("torch")
            fn, arg = top_p_k_torch, torch.from_numpy(x)
        got = fn(arg, V, 0.999, 10, record_targets=False)
        off = np.concatenate(([0], np.cumsum(got.counts)))
        assert got.ids[off[0]:off[1]].tolist() == list(range(10))
        assert got.ids[off[1]:off[1] + 4].tolist() == [5, 9, 40, 0]
        assert got.ids[off[2]:off[3]].tolist() == [56, 57, 58, 59, 60, 61, 62, 63, 48, 49]


def test_signed_zeros_order_like_their_bits():
    # +0 ranks above -0 (Swift orders by the float bit pattern), including across the cut.
    V = 40
    x = np.full((2, V), -5.0, np.float32)
    x[0, [2, 5]] = [-0.0, 0.0]
    x[1, [3, 7, 9]] = [-0.0, -0.0, 0.0]
    for k in (1, 2, 3):
        got = top_p_k_numpy(x, V, 1.0, k, record_targets=False)
        off = np.concatenate(([0], np.cumsum(got.counts)))
        assert got.ids[off[0]:off[1]].tolist() == [5, 2, 0][:k]
        assert got.ids[off[1]:off[2]].tolist() == [9, 3, 7][:k]
        torch = pytest.importorskip("torch")
        gt = top_p_k_torch(torch.from_numpy(x), V, 1.0, k, record_targets=False)
        assert gt.ids.tolist() == got.ids.tolist()


def test_padded_columns_are_ignored_and_target_logprobs(rng):
    V, W = 100, 110
    x = random_logits(rng, 6, W)
    x[:, V:] = 1e30
    tokens = rng.integers(0, V, 6)
    got = top_p_k_numpy(x, V, 0.9, 10, tokens=tokens)
    assert got.ids.max() < V
    s = x[:, :V].astype(np.float64)
    lse = s.max(axis=1) + np.log(np.exp(s - s.max(axis=1, keepdims=True)).sum(axis=1))
    want = s[np.arange(5), tokens[1:]] - lse[:5]
    assert np.allclose(got.target_logprobs[:5], want, atol=2e-6) and math.isnan(got.target_logprobs[5])


def test_numpy_and_torch_agree_on_many_rows(rng):
    torch = pytest.importorskip("torch")
    V = 3000
    x = random_logits(rng, 200, V, scale=4.0)
    tokens = rng.integers(0, V, 200)
    a = top_p_k_numpy(x, V, 0.95, 50, tokens=tokens)
    b = top_p_k_torch(torch.from_numpy(x), V, 0.95, 50, tokens=tokens)
    ao, bo = np.concatenate(([0], np.cumsum(a.counts))), np.concatenate(([0], np.cumsum(b.counts)))
    assert np.array_equal(a.ids[ao[:-1]], b.ids[bo[:-1]])
    assert (np.abs(a.counts - b.counts) <= 1).all() and (a.counts == b.counts).mean() > 0.95
    assert np.allclose(a.target_logprobs[:-1], b.target_logprobs[:-1], atol=1e-5)
