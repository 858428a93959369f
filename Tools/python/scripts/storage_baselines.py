#!/usr/bin/env python3
"""Baselines that the storage benchmark (Tools/bench-storage) measures side by side with logitstore.

  size      Parquet + zstd (pyarrow) and generic zstd on byte-shuffled whole streams, on the same .npy data.
  read      pyarrow reading that Parquet file back into flat arrays on one thread.
  truncate  NumPy softmax + argpartition + sort top-p/top-k over float32 logits rows, one thread.
  rekeep    derive top-p-k' data from top-p-k data (k' <= k) exactly: counts -> min(count, k').

Each prints one JSON object on stdout.
"""
import argparse, json, os, sys, time
import numpy as np


def load(data):
    f = lambda n: np.load(os.path.join(data, n + ".npy"))
    return f("tokens"), f("sequence_lengths"), f("counts"), f("ids"), f("probs")


def load_target_logprobs(data):
    p = os.path.join(data, "target_logprobs.npy")
    return np.load(p) if os.path.exists(p) else None


def parquet_table(tokens, counts, ids, probs, tl=None):
    import pyarrow as pa
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    off = pa.array(offsets, type=pa.int64())
    ids_col = pa.LargeListArray.from_arrays(off, pa.array(ids, type=pa.uint32()))
    probs_col = pa.LargeListArray.from_arrays(off, pa.array(probs.view(np.uint16), type=pa.uint16()))
    cols = {"token": pa.array(tokens, type=pa.uint32()), "ids": ids_col, "probs": probs_col}
    if tl is not None:
        cols["target_logprob"] = pa.array(tl, type=pa.float32())
    return pa.table(cols)


def byte_shuffle(a):
    b = np.ascontiguousarray(a).view(np.uint8).reshape(-1, a.dtype.itemsize)
    return np.ascontiguousarray(b.T).tobytes()


def cmd_size(args):
    import pyarrow as pa, pyarrow.parquet as pq
    tokens, lens, counts, ids, probs = load(args.data)
    tl = load_target_logprobs(args.data)
    N, E = len(tokens), len(ids)
    table = parquet_table(tokens, counts, ids, probs, tl)
    os.makedirs(args.work, exist_ok=True)
    # A fair Parquet baseline: several reasonable writer settings, the smallest one wins.
    variants = {
        "defaults": dict(),
        "no_dictionary": dict(use_dictionary=False),
        "no_dictionary_bss": dict(use_dictionary=False, use_byte_stream_split=["ids.list.element", "probs.list.element", "token"] + (["target_logprob"] if tl is not None else [])),
    }
    results = {}
    for name, kw in variants.items():
        path = os.path.join(args.work, f"parquet_{name}.parquet")
        try:
            pq.write_table(table, path, compression="zstd", compression_level=args.level, row_group_size=args.row_group, **kw)
        except Exception as e:  # a pyarrow without BSS for integers
            results[name] = {"error": str(e).splitlines()[0]}
            continue
        b = os.path.getsize(path) + lens.nbytes   # + the sequence lengths, uncompressed
        results[name] = {"bytes": b, "bytes_per_entry": b / E, "bytes_per_position": b / N, "path": path}
    best = min((k for k in results if "bytes" in results[k]), key=lambda k: results[k]["bytes"])
    # Generic zstd on byte-shuffled whole streams (counts in the narrowest type that holds them).
    cmax = int(counts.max()) if N else 0
    ctype = np.uint8 if cmax < 256 else (np.uint16 if cmax < 65536 else np.uint32)
    streams = {"tokens": tokens.astype(np.uint32), "counts": counts.astype(ctype), "ids": ids.astype(np.uint32), "probs": probs.view(np.uint16)}
    if tl is not None:
        streams["target_logprobs"] = tl.astype(np.float32)
    codec = pa.Codec("zstd", compression_level=args.level)
    shuffled = {k: len(codec.compress(byte_shuffle(v), asbytes=True)) for k, v in streams.items()}
    sb = sum(shuffled.values()) + lens.nbytes
    out = {
        "positions": N, "entries": E, "zstd_level": args.level, "target_logprobs": tl is not None,
        "parquet_zstd": dict(results[best], variant=best), "parquet_variants": results,
        "shuffle_zstd": {"bytes": sb, "bytes_per_entry": sb / E, "bytes_per_position": sb / N, "streams": shuffled},
    }
    print(json.dumps(out))


def cmd_read(args):
    import glob
    files = sorted(glob.glob(os.path.join(args.parquet_dir, "*.parquet"))) if args.parquet_dir else [args.parquet]
    results = {os.path.basename(f): read_parquet(f, args.repeat) for f in files}
    best = max(results, key=lambda k: results[k]["positions_per_second"])
    print(json.dumps(dict(results[best], file=best, variants=results)))


def read_parquet(path, repeat):
    """Whole file into flat numpy arrays (tokens, ids, probs, offsets) with pyarrow on one thread; best of `repeat`."""
    import pyarrow as pa, pyarrow.parquet as pq
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    times, cpu = [], []
    n = 0
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        table = pq.read_table(path, use_threads=False, memory_map=True)
        tok = table.column("token").to_numpy()
        ids = table.column("ids").combine_chunks()
        probs = table.column("probs").combine_chunks()
        ids_flat = ids.values.to_numpy()
        probs_flat = probs.values.to_numpy().view(np.float16)
        offs = ids.offsets.to_numpy()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        n = len(tok)
        assert len(ids_flat) == len(probs_flat) == offs[-1]
    best, cpu_best = min(times), min(cpu)
    return {"positions": n, "seconds_best": best, "seconds_median": float(np.median(times)), "positions_per_second": n / best,
            "cpu_seconds_best": cpu_best, "positions_per_cpu_second": n / cpu_best}


def truncate_numpy(rows, top_p, top_k):
    """Softmax, then the smallest set reaching top_p, then at most top_k (the paper's top-p-k)."""
    z = rows - rows.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    k = min(top_k, z.shape[1])
    part = np.argpartition(-z, k - 1, axis=1)[:, :k]
    pk = np.take_along_axis(z, part, axis=1)
    order = np.argsort(-pk, axis=1, kind="stable")
    ids = np.take_along_axis(part, order, axis=1)
    ps = np.take_along_axis(pk, order, axis=1)
    c = np.cumsum(ps, axis=1)
    counts = np.minimum((c < top_p).sum(axis=1) + 1, k)
    return counts, ids, ps.astype(np.float16)


def cmd_truncate(args):
    x = np.load(args.logits, mmap_mode="r")
    x = np.ascontiguousarray(x, dtype=np.float32)   # load outside the timing, as the Swift benchmark does
    R = x.shape[0]
    best = float("inf")
    counts = None
    for _ in range(args.repeat):
        t = time.perf_counter()
        all_counts = []
        for s in range(0, R, args.batch):
            c, _, _ = truncate_numpy(x[s:s + args.batch].copy(), args.top_p, args.top_k)
            all_counts.append(c)
        best = min(best, time.perf_counter() - t)
        counts = np.concatenate(all_counts)
    if args.counts_out:
        np.save(args.counts_out, counts.astype(np.uint32))
    print(json.dumps({"rows": R, "vocab": x.shape[1], "seconds_best": best, "rows_per_second": R / best,
                      "mean_entries": float(counts.mean())}))


def cmd_rekeep(args):
    tokens, lens, counts, ids, probs = load(args.data)
    c = counts.astype(np.int64)
    new = np.minimum(c, args.top_k)
    offs = np.zeros(len(c) + 1, dtype=np.int64)
    np.cumsum(c, out=offs[1:])
    rank = np.arange(len(ids)) - np.repeat(offs[:-1], c)
    keep = rank < np.repeat(new, c)
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "tokens.npy"), tokens)
    np.save(os.path.join(args.out, "sequence_lengths.npy"), lens)
    np.save(os.path.join(args.out, "counts.npy"), new.astype(counts.dtype))
    np.save(os.path.join(args.out, "ids.npy"), ids[keep])
    np.save(os.path.join(args.out, "probs.npy"), probs[keep])
    tl = os.path.join(args.data, "target_logprobs.npy")
    if os.path.exists(tl):
        np.save(os.path.join(args.out, "target_logprobs.npy"), np.load(tl))
    print(json.dumps({"positions": len(c), "entries": int(new.sum()), "top_k": args.top_k}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("size"); s.add_argument("--data", required=True); s.add_argument("--work", required=True)
    s.add_argument("--level", type=int, default=3); s.add_argument("--row-group", type=int, default=65536)
    r = sub.add_parser("read"); r.add_argument("--parquet"); r.add_argument("--parquet-dir"); r.add_argument("--repeat", type=int, default=5)
    t = sub.add_parser("truncate"); t.add_argument("--logits", required=True); t.add_argument("--top-p", type=float, default=0.95)
    t.add_argument("--top-k", type=int, default=100); t.add_argument("--batch", type=int, default=64)
    t.add_argument("--repeat", type=int, default=3); t.add_argument("--counts-out")
    k = sub.add_parser("rekeep"); k.add_argument("--data", required=True); k.add_argument("--out", required=True); k.add_argument("--top-k", type=int, required=True)
    args = ap.parse_args()
    {"size": cmd_size, "read": cmd_read, "truncate": cmd_truncate, "rekeep": cmd_rekeep}[args.cmd](args)


if __name__ == "__main__":
    main()
