#!/usr/bin/env python3
"""Turns Tools/bench-storage's results.jsonl into the table it prints (and one JSON summary)."""
import argparse, json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--label", default="")
    ap.add_argument("--json-out")
    ap.add_argument("--logits", default="")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table with the issue's targets")
    ap.add_argument("--markdown-out", help="also write the Markdown table, with its data lines, to this file")
    a = ap.parse_args()
    r = {}
    for line in open(a.results):
        line = line.strip()
        if line:
            o = json.loads(line)
            r.setdefault(o["k"], {})[o["what"]] = o["result"]
    ks = sorted(r, reverse=True)
    summary = {"data": a.label, "writer_logits": a.logits, "configs": {}}
    for k in ks:
        x = r[k]
        ins, size, rd, pr, wr, nw = (x.get(n) for n in ("inspect", "size", "read", "pyarrow_read", "write", "numpy_write"))
        summary["configs"][f"top-0.95-{k}"] = {
            "entries_per_position": ins["entries_per_position"],
            "store_bytes": ins["bytes"], "store_bytes_per_entry": ins["bytes_per_entry"], "store_bytes_per_position": ins["bytes_per_position"],
            "parquet_zstd_bytes_per_entry": size["parquet_zstd"]["bytes_per_entry"], "parquet_variant": size["parquet_zstd"]["variant"],
            "shuffle_zstd_bytes_per_entry": size["shuffle_zstd"]["bytes_per_entry"],
            "store_vs_parquet": ins["bytes"] / size["parquet_zstd"]["bytes"],
            "read_positions_per_second": rd["positions_per_second"], "pyarrow_positions_per_second": pr["positions_per_second"],
            "read_speedup_vs_pyarrow": rd["positions_per_second"] / pr["positions_per_second"],
            "random_sequence_ms_p50": rd["random_sequence_ms_p50"], "random_sequence_ms_p99": rd["random_sequence_ms_p99"],
            "mean_sequence_length": rd["mean_sequence_length"],
            "read_positions_per_second_no_verify": rd.get("positions_per_second_no_verify"),
            "random_2048_ms_p50": rd.get("random_span_ms_p50"), "random_2048_ms_p99": rd.get("random_span_ms_p99"),
            "write_rows_per_second": wr["rows_per_second"], "truncate_rows_per_second": wr["truncate_rows_per_second"],
            "numpy_rows_per_second": nw["rows_per_second"],
            "write_mean_entries": wr["mean_entries"], "numpy_mean_entries": nw["mean_entries"], "write_speedup_vs_numpy": wr["rows_per_second"] / nw["rows_per_second"],
        }
    S = lambda k: summary["configs"][f"top-0.95-{k}"]
    # Build rows from the summary directly.
    rows = []
    targets = {
        "store_bytes_per_entry": "≤ 2.8", "store_vs_parquet": "< 1", "read_positions_per_second": "≥ 2,000,000 (k=50)",
        "read_speedup_vs_pyarrow": "> 1", "random_2048_ms_p50": "< 1", "write_rows_per_second": "≥ 20,000",
        "write_speedup_vs_numpy": "≥ 5",
    }

    def add(name, key, fmt):
        rows.append([name] + [("n/a" if S(k)[key] is None else fmt.format(S(k)[key])) for k in ks] + [targets.get(key, "")])
    rows.append(["positions"] + [f"{r[k]['inspect']['positions']:,}" for k in ks] + [""])
    add("entries / position", "entries_per_position", "{:.1f}")
    add("store B/entry (all streams + index)", "store_bytes_per_entry", "{:.3f}")
    add("store B/position", "store_bytes_per_position", "{:.1f}")
    add("Parquet+zstd B/entry (best setting)", "parquet_zstd_bytes_per_entry", "{:.3f}")
    add("zstd on byte-shuffled streams B/entry", "shuffle_zstd_bytes_per_entry", "{:.3f}")
    add("store size / Parquet size", "store_vs_parquet", "{:.3f}")
    add("read: positions/s (1 core)", "read_positions_per_second", "{:,.0f}")
    add("  same without block checksums", "read_positions_per_second_no_verify", "{:,.0f}")
    add("pyarrow Parquet read positions/s (1 thread)", "pyarrow_positions_per_second", "{:,.0f}")
    add("read speed-up vs pyarrow", "read_speedup_vs_pyarrow", "{:.1f}x")
    add("stored sequence length", "mean_sequence_length", "{:.0f}")
    add("random whole-sequence read p50 ms", "random_sequence_ms_p50", "{:.3f}")
    add("random whole-sequence read p99 ms", "random_sequence_ms_p99", "{:.3f}")
    add("random 2,048-position read p50 ms", "random_2048_ms_p50", "{:.3f}")
    add("random 2,048-position read p99 ms", "random_2048_ms_p99", "{:.3f}")
    add("write: rows/s from float32 logits (1 core)", "write_rows_per_second", "{:,.0f}")
    add("  truncation alone rows/s", "truncate_rows_per_second", "{:,.0f}")
    add("NumPy softmax+argpartition+sort rows/s", "numpy_rows_per_second", "{:,.0f}")
    add("write speed-up vs NumPy", "write_speedup_vs_numpy", "{:.1f}x")
    add("kept entries/row: writer", "write_mean_entries", "{:.2f}")
    add("kept entries/row: NumPy (same rows)", "numpy_mean_entries", "{:.2f}")
    head = ["", *[f"top-0.95-{k}" for k in ks], "target"]
    markdown = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(x) + " |" for x in rows]
    if a.markdown_out:
        with open(a.markdown_out, "w") as out:
            out.write(f"Data: {a.label}. Writer rows: `{a.logits}`.\n"
                      "Timed parts pinned to one core (taskset -c 0) with one BLAS/OpenMP thread; each logitstore "
                      "figure has its baseline (Parquet+zstd via pyarrow, pyarrow read, NumPy truncation) measured "
                      "in the same run on the same data.\n\n" + "\n".join(markdown) + "\n")
    if a.markdown:
        print("\n".join(markdown))
        if a.json_out:
            json.dump(summary, open(a.json_out, "w"), indent=1)
        return
    w = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    print(f"logitstore storage benchmark — data: {a.label}")
    print(f"writer rows: {a.logits}")
    print("(shared 2-core machine, other jobs running: figures are noisy; timed parts pinned to one core)")
    for x in [head] + rows:
        print("  " + x[0].ljust(w[0]) + "  " + "  ".join(v.rjust(w[i + 1]) for i, v in enumerate(x[1:])))
    if a.json_out:
        json.dump(summary, open(a.json_out, "w"), indent=1)


if __name__ == "__main__":
    main()
