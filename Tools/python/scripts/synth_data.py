#!/usr/bin/env python3
"""Synthetic teacher distributions shaped like a real small LM's (until real teacher data exists).

Writes, into --out, the .npy files that `logitstore import` reads:
  tokens.npy (uint32 [N]), sequence_lengths.npy (int64 [S]), counts.npy (uint8 [N]),
  ids.npy (uint32 [E]), probs.npy (float16 [E]), target_logprobs.npy (float32 [N])
and, with --logits-rows R > 0, a full-vocabulary float32 logits file for the writer benchmark:
  logits/logits.npy (float32 [R, V]) with logits/tokens.npy and logits/sequence_lengths.npy.

The shape of the data (documented so that nobody mistakes it for real teacher output):
  * per position, the number n0 of entries needed to reach mass p=0.95 is drawn from a mixture:
    half of the positions need >= 100 (high entropy), the rest are geometric-like with a spike at 1
    (confident predictions); so at top-0.95-100 about half the positions sit at the cap and the
    mean is about 60 entries;
  * the descending probabilities follow a power law i^-a with a per-position exponent, scaled so that
    the first n0 reach 0.95 (a top-1 boost for confident positions), stored as float16, not renormalised;
  * ids are long-tailed: a mixture of a slowly drifting per-sequence "topic" pool, ids kept by the
    previous position (locality), and a global Zipf law over the id order (BPE vocabularies put frequent
    tokens at low ids);
  * the next input token is sampled from the stored distribution (the alignment contract), and
    target_logprobs holds its log-probability.
"""
import argparse, os
import numpy as np


def zipf_ids(rng, n, vocab, s=1.05, offset=20.0):
    """Long-tailed ids: P(id) ~ (id + offset)^-s over [0, vocab)."""
    u = rng.random(n)
    # inverse CDF of the continuous power law on [offset, vocab + offset)
    a, b = offset ** (1 - s), (vocab + offset) ** (1 - s)
    x = (a + u * (b - a)) ** (1 / (1 - s)) - offset
    return np.minimum(x.astype(np.int64), vocab - 1)


def sample_n0(rng, n):
    """Entries needed to reach p = 0.95: half >= 100, the rest small with a spike at 1."""
    n0 = np.empty(n, dtype=np.int64)
    high = rng.random(n) < 0.5
    n0[high] = 100 + rng.geometric(1 / 400, size=high.sum())
    low = ~high
    m = low.sum()
    confident = rng.random(m) < 0.3
    small = np.where(confident, 1 + rng.geometric(0.6, size=m) - 1, np.minimum(99, rng.geometric(1 / 28, size=m)))
    n0[low] = np.maximum(1, small)
    return n0


def position_probs(rng, n0, k):
    """Descending probabilities of the first min(n0, k) entries; the first n0 sum to just over 0.95."""
    a = rng.uniform(0.15, 1.3)
    i = np.arange(1, n0 + 1, dtype=np.float64)
    w = i ** -a
    if n0 <= 3:
        w[0] += rng.uniform(2, 40) * w.sum()
    p = w / w.sum() * rng.uniform(0.951, 0.999)
    # the first n0-1 must stay below 0.95 (smallest set reaching p)
    if n0 > 1 and p[:-1].sum() >= 0.95:
        p[:-1] *= 0.9499 / p[:-1].sum()
    kept = p[: min(n0, k)]
    h = kept.astype(np.float16)
    h = np.maximum(h, np.float16(6e-8))
    return np.minimum.accumulate(h)   # descending after rounding


def generate(args):
    rng = np.random.default_rng(args.seed)
    V, k = args.vocab, args.top_k
    S = args.positions // args.seq_len
    N = S * args.seq_len
    tokens = np.empty(N, dtype=np.uint32)
    counts = np.empty(N, dtype=np.uint8 if k < 256 else np.uint16)
    tl = np.empty(N, dtype=np.float32)
    ids_out, probs_out = [], []
    n0s = sample_n0(rng, N)
    for s in range(S):
        pool = zipf_ids(rng, 400, V, s=0.9, offset=300.0)
        prev = np.zeros(0, dtype=np.int64)
        tok = int(zipf_ids(rng, 1, V)[0])
        for j in range(args.seq_len):
            g = s * args.seq_len + j
            tokens[g] = tok
            if j % 64 == 0:  # topic drift
                pool[rng.integers(0, len(pool), 40)] = zipf_ids(rng, 40, V, s=0.9, offset=300.0)
            p = position_probs(rng, int(n0s[g]), k)
            n = len(p)
            # candidate ids: previous position's ids, topic pool, global Zipf; deduplicated in that mixed order
            c_prev = prev[rng.random(len(prev)) < 0.45]
            c_pool = pool[rng.integers(0, len(pool), n)]
            c_glob = zipf_ids(rng, n + 8, V)
            cand = np.concatenate([c_prev[: n // 2], c_pool[: n // 2], c_glob])
            rng.shuffle(cand[: len(c_prev[: n // 2]) + n // 2])
            _, first = np.unique(cand, return_index=True)
            uniq = cand[np.sort(first)]
            while len(uniq) < n:
                extra = zipf_ids(rng, n, V)
                cand = np.concatenate([uniq, extra])
                _, first = np.unique(cand, return_index=True)
                uniq = cand[np.sort(first)]
            ids = uniq[:n]
            ids_out.append(ids.astype(np.uint32))
            probs_out.append(p)
            counts[g] = n
            prev = ids
            # next token: from the kept distribution with its mass, else a Zipf draw outside it
            mass = float(p.astype(np.float64).sum())
            if rng.random() < mass:
                pi = p.astype(np.float64) / mass
                t = int(rng.choice(n, p=pi / pi.sum()))
                tok = int(ids[t])
                tl[g] = np.log(float(p[t]))
            else:
                tok = int(zipf_ids(rng, 1, V)[0])
                tl[g] = np.log(max(1e-7, (1 - mass) * 1e-3))
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "tokens.npy"), tokens)
    np.save(os.path.join(args.out, "sequence_lengths.npy"), np.full(S, args.seq_len, dtype=np.int64))
    np.save(os.path.join(args.out, "counts.npy"), counts)
    np.save(os.path.join(args.out, "ids.npy"), np.concatenate(ids_out))
    np.save(os.path.join(args.out, "probs.npy"), np.concatenate(probs_out))
    np.save(os.path.join(args.out, "target_logprobs.npy"), tl)
    E = int(counts.astype(np.int64).sum())
    print(f"synthetic: {N} positions, {S} sequences, {E} entries ({E / N:.1f}/position, "
          f"{(counts == k).mean() * 100:.0f}% at the cap k={k}) -> {args.out}")
    return tokens, counts, ids_out, probs_out


def generate_logits(args, rng):
    """Full-vocabulary float32 logits rows whose top-0.95-100 truncation looks like the sparse data."""
    R, V = args.logits_rows, args.vocab
    out = os.path.join(args.out, "logits")
    os.makedirs(out, exist_ok=True)
    logits = np.lib.format.open_memmap(os.path.join(out, "logits.npy"), mode="w+", dtype=np.float32, shape=(R, V))
    base = -np.log(np.arange(1, V + 1, dtype=np.float64))
    order = np.argsort(zipf_ids(rng, V, V) + rng.random(V))   # a frequency-like order over ids
    for r in range(R):
        a = rng.uniform(0.8, 1.4) if rng.random() < 0.55 else rng.uniform(1.6, 4.0)
        z = a * base + rng.normal(0, 0.3, V)
        if rng.random() < 0.15:
            z[0] += rng.uniform(3, 12)
        perm = order.copy()
        head = rng.integers(0, V, 300)
        perm[:300] = head   # context ids at the head (duplicates only lower a few logits)
        row = np.full(V, -30.0)
        row[perm[::-1]] = z[::-1]
        logits[r] = (row + rng.normal(0, 0.01, V)).astype(np.float32)
    logits.flush()
    S = max(1, R // args.seq_len) if R % args.seq_len == 0 else 1
    lens = np.full(S, R // S, dtype=np.int64) if R % S == 0 else np.array([R], dtype=np.int64)
    np.save(os.path.join(out, "tokens.npy"), zipf_ids(rng, R, V).astype(np.uint32))
    np.save(os.path.join(out, "sequence_lengths.npy"), lens)
    print(f"synthetic logits: {R} x {V} float32 -> {out}/logits.npy")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--positions", type=int, default=131072)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument("--logits-rows", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    generate(args)
    if args.logits_rows > 0:
        generate_logits(args, np.random.default_rng(args.seed + 1))


if __name__ == "__main__":
    main()
