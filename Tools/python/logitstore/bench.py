"""Benchmarks of the Python implementation (driven by Tools/bench-python; prints one JSON object per command).

  python -m logitstore.bench store --data DIR --out STORE [--top-k K]   .npy rows -> store (the Python writer)
  python -m logitstore.bench read --store STORE [--repeat 3]            sequential decode, positions/s (wall, CPU)
  python -m logitstore.bench write --logits X.npy [--top-p P --top-k K --seq-len L --repeat 3]
                                                                       Python writer from float32 rows (torch, CPU)
"""
import argparse
import json
import os
import shutil
import tempfile
import time

import numpy as np

import logitstore


def cmd_store(args):
    f = lambda n: os.path.join(args.data, n + ".npy")
    tokens, lengths, counts = np.load(f("tokens")), np.load(f("sequence_lengths")), np.load(f("counts")).astype(np.int64)
    ids, probs = np.load(f("ids")), np.load(f("probs"))
    tl = np.load(f("target_logprobs")) if os.path.exists(f("target_logprobs")) else None
    off = np.concatenate(([0], np.cumsum(counts)))
    shutil.rmtree(args.out, ignore_errors=True)
    t = time.perf_counter()
    with logitstore.Writer(args.out, vocab_size=args.vocab, top_p=args.top_p, top_k=args.top_k,
                           target_logprobs=tl is not None) as w:
        a = 0
        for n in lengths.tolist():
            w.add_sequence(tokens[a:a + n], ids=ids[off[a]:off[a + n]], probs=probs[off[a]:off[a + n]],
                           counts=counts[a:a + n], target_logprobs=None if tl is None else tl[a:a + n])
            a += n
    seconds = time.perf_counter() - t
    size = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out) if n.endswith(".lgs"))
    print(json.dumps({"positions": int(tokens.size), "entries": int(ids.size), "bytes": size,
                      "bytes_per_entry": size / max(1, ids.size), "seconds": seconds}))


def cmd_read(args):
    times, cpu, n, e = [], [], 0, 0
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        with logitstore.open(args.store) as st:
            n, e = st.num_positions, 0
            if args.chunk:
                for a in range(0, n, args.chunk):
                    e += st.read(a, min(n, a + args.chunk)).ids.size
            else:
                for rec in st.scan():
                    e += rec.ids.size
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        assert e == st.num_entries
    best, cpu_best = min(times), min(cpu)
    # CPU time beside wall time: on a shared machine the wall clock also counts other processes' turns.
    print(json.dumps({"positions": n, "entries": e, "seconds_best": best, "seconds_median": float(np.median(times)),
                      "positions_per_second": n / best, "cpu_seconds_best": cpu_best,
                      "positions_per_cpu_second": n / cpu_best,
                      "api": f"read() chunks of {args.chunk}" if args.chunk else "scan()"}))


def cmd_write(args):
    import torch
    torch.set_num_threads(1)
    rows = np.load(args.logits, mmap_mode="r")
    rows = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))
    V = rows.shape[1] if args.vocab is None else args.vocab
    tokens = np.zeros(rows.shape[0], np.uint32)
    times = []
    for _ in range(args.repeat):
        d = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        try:
            t = time.perf_counter()
            with logitstore.Writer(d, vocab_size=V, padded_vocab_size=rows.shape[1], top_p=args.top_p,
                                   top_k=args.top_k) as w:
                for a in range(0, rows.shape[0], args.seq_len):
                    w.add_sequence(tokens[a:a + args.seq_len], logits=rows[a:a + args.seq_len])
            times.append(time.perf_counter() - t)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    best = min(times)
    print(json.dumps({"rows": int(rows.shape[0]), "vocab": int(V), "seconds_best": best,
                      "rows_per_second": rows.shape[0] / best, "torch": torch.__version__, "threads": 1}))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m logitstore.bench")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("store")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--vocab", type=int, default=49152)
    s.add_argument("--top-p", type=float, default=0.95)
    s.add_argument("--top-k", type=int, default=50)
    r = sub.add_parser("read")
    r.add_argument("--store", required=True)
    r.add_argument("--repeat", type=int, default=3)
    r.add_argument("--chunk", type=int, default=0, help="read(start, stop) in chunks of this many positions; "
                   "0 (default): Store.scan(), one record per block")
    w = sub.add_parser("write")
    w.add_argument("--logits", required=True)
    w.add_argument("--vocab", type=int)
    w.add_argument("--top-p", type=float, default=0.95)
    w.add_argument("--top-k", type=int, default=50)
    w.add_argument("--seq-len", type=int, default=500)
    w.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    {"store": cmd_store, "read": cmd_read, "write": cmd_write}[args.cmd](args)


if __name__ == "__main__":
    main()
