#!/usr/bin/env python3
"""PyTorch CPU baseline for Tools/bench-train: the identical student and loss on the same data.

Loss per position: (1 - a) * CE(next token) + a * KL(q_tau || softmax(z / tau)), where q are the stored
teacher probabilities re-truncated to top-p'/top-k' at read time (prefix until the stored mass reaches p',
at most k' entries), raised to 1/tau and renormalised; CE is averaged over positions with a known next
token, KL over all positions. AdamW (0.9, 0.95, eps 1e-8, wd 0.1 on matrices), clipping at 1.0.
Prints one JSON line with tokens_per_second over the timed steps.
"""
import argparse, json, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F
sys.path.insert(0, os.path.dirname(__file__))
from llama_torch import Student


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="directory with tokens.npy, sequence_lengths.npy, counts.npy, ids.npy, probs.npy")
    ap.add_argument("--config", required=True)
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup-steps", type=int, default=2)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--tau", type=float, default=2.0)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    c = json.load(open(a.config))
    tokens = np.load(os.path.join(a.data, "tokens.npy")).astype(np.int64)
    counts = np.load(os.path.join(a.data, "counts.npy")).astype(np.int64)
    ids = np.load(os.path.join(a.data, "ids.npy")).astype(np.int64)
    probs = np.load(os.path.join(a.data, "probs.npy")).astype(np.float32)
    lengths = np.load(os.path.join(a.data, "sequence_lengths.npy")).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    seq_start = np.concatenate([[0], np.cumsum(lengths)])

    # Re-truncate once (the Swift trainer does this per sequence while reading, inside its timed steps).
    N, K = len(tokens), a.top_k
    tid = np.zeros((N, K), dtype=np.int64)
    tp = np.zeros((N, K), dtype=np.float32)
    for j in range(N):
        p = probs[offsets[j]:offsets[j + 1]]
        n = min(K, int(np.searchsorted(np.cumsum(p.astype(np.float64)), a.top_p) + 1), len(p))
        q = p[:n].astype(np.float64) ** (1 / a.tau)
        tp[j, :n] = q / q.sum()
        tid[j, :n] = ids[offsets[j]:offsets[j] + n]
    nxt = np.full(N, -1, dtype=np.int64)
    for s in range(len(lengths)):
        b, e = seq_start[s], seq_start[s + 1]
        nxt[b:e - 1] = tokens[b + 1:e]

    model = Student(c, a.vocab)
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    T, B = a.seq_len, a.batch_size
    windows = [(s, w) for s in range(len(lengths)) for w in range(lengths[s] // T)]
    rng = np.random.default_rng(1)
    times = []
    for step in range(a.warmup_steps + a.steps):
        pick = [windows[i] for i in rng.choice(len(windows), B, replace=False)]
        rows = np.concatenate([np.arange(seq_start[s] + w * T, seq_start[s] + (w + 1) * T) for s, w in pick])
        t0 = time.perf_counter()
        x = torch.from_numpy(tokens[rows].reshape(B, T))
        y = torch.from_numpy(nxt[rows])
        ti = torch.from_numpy(tid[rows]); tq = torch.from_numpy(tp[rows])
        h = model.hidden(x).reshape(B * T, -1)
        logits = h @ model.head_weight().t()
        mask = y >= 0
        ce = F.cross_entropy(logits[mask], y[mask])
        logs = F.log_softmax(logits / a.tau, dim=-1)
        ls = logs.gather(1, ti)
        kd = (tq * (torch.log(tq.clamp_min(1e-30)) - ls)).sum(-1).mean()
        loss = (1 - a.alpha) * ce + a.alpha * kd
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if step >= a.warmup_steps:
            times.append(dt)
    tps = B * T * len(times) / sum(times)
    print(json.dumps({"tokens_per_second": tps, "steps": len(times), "seconds_per_step": sum(times) / len(times),
                      "loss_last": float(loss), "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
