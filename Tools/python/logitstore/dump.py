"""`python -m logitstore.dump`: a Hugging Face teacher's next-token distributions into a store.

    python -m logitstore.dump --model SmolLM2-135M-Instruct.Q4_1.gguf --input corpus.jsonl --out STORE
    torchrun --nproc_per_node 4 -m logitstore.dump --model DIR --input corpus.jsonl --out STORE --merge

Same input formats, packing and alignment as `logitstore dump` (see logitstore.packing): position j's stored
distribution is the teacher's prediction of token j + 1 given tokens 0..j of its sequence. The kept entries are
truncated on the logits' device (GPU rows on the GPU). A re-run resumes after the sequences this writer id
committed, after checking that they are the tokens this input gives. Under torchrun (WORLD_SIZE > 1) rank r takes
the r-th contiguous part of the sequences and writes its own store OUT/rank-RRRRR with writer id WRITER-rR; join
them with `logitstore merge OUT/merged OUT/rank-*` (or pass --merge with the Swift binary on PATH).
Exit codes: 0 success, 1 failure, 64 usage.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

from . import packing
from .errors import InvalidInputError, StoreError
from .writer import Writer, parse_policy


class UsageError(Exception):
    """A bad command line (exit code 64)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parse_args(argv):
    """The command line as a namespace (raises UsageError)."""
    ap = _Parser(prog="python -m logitstore.dump", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="Teacher: a .gguf file or a Hugging Face model directory.")
    ap.add_argument("--input", required=True, help="Input file or directory.")
    ap.add_argument("--out", required=True, action="append",
                    help="Output store (created or resumed); PATH[:top-p-k:P:K|:sample:N[:TS]], repeatable: one "
                         "teacher pass feeds every store.")
    ap.add_argument("--input-format", choices=packing.INPUT_FORMATS, help="Default: jsonl for *.jsonl, else text.")
    ap.add_argument("--seq-len", type=int, default=512, help="Tokens per stored sequence.")
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument("--policy", help="top-p-k:P:K or sample:N[:TS] (default: top-p-k from --top-p/--top-k).")
    ap.add_argument("--sample-seed", type=int, default=0, help="Seed of sampled policies.")
    ap.add_argument("--codec", default="zstd", help="zstd | lz4 | none.")
    ap.add_argument("--writer-id", default="w0", help="This writer's shard name space.")
    ap.add_argument("--max-tokens", type=int, help="Use only the first N tokens of the input (after packing).")
    ap.add_argument("--batch", type=int, help="Sequences per forward pass (default 8 on CUDA, 1 on CPU).")
    ap.add_argument("--device", help="torch device (default: cuda:LOCAL_RANK when CUDA is available, else cpu).")
    ap.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"), help="Model weights' dtype.")
    ap.add_argument("--no-target-logprobs", action="store_true", help="Do not record log p(actual next token).")
    ap.add_argument("--no-progress", action="store_true", help="No progress bar.")
    ap.add_argument("--merge", action="store_true", help="Under torchrun: rank 0 runs `logitstore merge` at the end.")
    ap.add_argument("--logitstore", default="logitstore", help="The Swift CLI used by --merge.")
    ap.add_argument("--json", action="store_true", help="Print a JSON summary on standard output.")
    a = ap.parse_args(argv)
    if a.seq_len < 1:
        raise UsageError("--seq-len must be at least 1")
    if a.max_tokens is not None and a.max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    if a.batch is not None and a.batch < 1:
        raise UsageError("--batch must be at least 1")
    return a


def split_out(spec):
    """PATH[:POLICY] → (path, policy or None); the suffix starts at the first ':top-p-k:' or ':sample:'."""
    cut = [i for i in (spec.find(":top-p-k:"), spec.find(":sample:")) if i >= 0]
    if not cut:
        return spec, None
    return spec[:min(cut)], spec[min(cut) + 1:]


def distributed():
    """(rank, world size, local rank) from torchrun's environment."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))


def rank_part(count, rank, world):
    """The contiguous range of sequences rank `rank` of `world` dumps."""
    return count * rank // world, count * (rank + 1) // world


def check_resume(path, writer_id, packed, first, committed):
    """The `committed` sequences this writer id holds in the store must be sequences first.. of this input."""
    from .reader import open_store
    with open_store(path) as store:
        g = own = 0
        for shard in store.manifest.shards:
            if shard.writer_id == writer_id:
                for i in range(g, g + shard.sequences):
                    if own >= committed:
                        return
                    if not np.array_equal(store.sequence(i).tokens, packed.sequence(first + own)):
                        raise InvalidInputError(
                            f"cannot resume {path}: its sequence {own} differs from what this input gives "
                            "(different input, --seq-len, --max-tokens or tokenizer?)")
                    own += 1
            g += shard.sequences


class Progress:
    """A tqdm bar over tokens when tqdm is installed and wanted, else nothing."""

    def __init__(self, total, initial_sequences, sequences, enabled):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, unit="tok", unit_scale=True, desc="dump", file=sys.stderr)
                self.bar.set_postfix_str(f"seq {initial_sequences}/{sequences}")
            except ImportError:
                pass

    def update(self, tokens, done, sequences):
        if self.bar is not None:
            self.bar.update(tokens)
            self.bar.set_postfix_str(f"seq {done}/{sequences}")

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run(a, teacher=None):
    """The dump; returns the JSON summary dict. `teacher`: an already loaded `HFTeacher` (else --model is loaded)."""
    import torch
    from .hf_teacher import load_teacher

    rank, world, local_rank = distributed()
    # torchrun sets MASTER_ADDR: then the ranks meet at a barrier before rank 0 merges.
    rendezvous = world > 1 and "MASTER_ADDR" in os.environ
    if rendezvous and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() and a.device is None else "gloo")
    device = a.device or (f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    fmt = a.input_format or packing.default_format(a.input)
    outs = [split_out(o) for o in a.out]
    for path, pol in outs:
        if not path:
            raise UsageError(f"--out {path!r} names no directory")
    policies = [parse_policy(pol or a.policy, a.top_p, a.top_k, 1.0, a.sample_seed) for _, pol in outs]

    t0 = time.time()
    if teacher is None:
        teacher = load_teacher(a.model, device=device, dtype=a.dtype)
    load_s = time.time() - t0
    if rank == 0:
        print(f"teacher {teacher.identity['name']}: vocab {teacher.vocab_size}, on {teacher.device}, loaded in {load_s:.1f} s",
              file=sys.stderr)
    t1 = time.time()
    if fmt in ("text", "jsonl"):
        if teacher.eos_id < 0:
            raise InvalidInputError("the model names no EOS token to put between documents")
        packed = packing.pack_documents(a.input, fmt, teacher.encode, teacher.eos_id, a.seq_len, a.max_tokens)
    else:
        packed = packing.pack_tokens(a.input, fmt, teacher.vocab_size, a.seq_len, a.max_tokens)
    tokenize_s = time.time() - t1
    if packed.count == 0:
        raise InvalidInputError(f"input {a.input}: holds no tokens")
    first, last = rank_part(packed.count, rank, world)
    writer_id = a.writer_id if world == 1 else f"{a.writer_id}-r{rank}"

    writers = []
    try:
        for (path, _), policy in zip(outs, policies):
            store = path if world == 1 else os.path.join(path, f"rank-{rank:05d}")
            w = Writer(store, vocab_size=teacher.vocab_size, teacher=teacher.identity, writer_id=writer_id,
                       codec=a.codec, policy=policy, target_logprobs=not a.no_target_logprobs)
            writers.append(w)
            if w.committed_sequences > last - first:
                raise InvalidInputError(
                    f"{store} already holds {w.committed_sequences} sequences of writer {writer_id}, more than this input "
                    f"gives ({last - first}); a different input, --seq-len or --max-tokens?")
            if w.committed_sequences:
                check_resume(store, writer_id, packed, first, w.committed_sequences)
        skip = min(w.committed_sequences for w in writers)
        if skip and rank == 0:
            print(f"resuming: {skip} of {last - first} sequences already committed", file=sys.stderr)
        batch = a.batch or (8 if teacher.device.type == "cuda" else 1)
        todo = range(first + skip, last)
        tokens_total = sum(len(packed.sequence(i)) for i in todo)
        bar = Progress(tokens_total, skip, last - first, rank == 0 and not a.no_progress)
        done_tokens, forward_s = 0, 0.0
        i = todo.start
        while i < last:
            # One forward pass over up to `batch` sequences of equal length (only the input's last may be shorter).
            n = len(packed.sequence(i))
            group = [i]
            while len(group) < batch and group[-1] + 1 < last and len(packed.sequence(group[-1] + 1)) == n:
                group.append(group[-1] + 1)
            rows = np.stack([packed.sequence(j) for j in group]).astype(np.int64)
            tf = time.time()
            logits = teacher.logits(torch.from_numpy(rows).to(teacher.device))
            forward_s += time.time() - tf
            for b, j in enumerate(group):
                for w in writers:
                    if j - first >= w.committed_sequences:
                        w.add_sequence(packed.sequence(j), logits=logits[b, :n, :teacher.vocab_size])
            done_tokens += n * len(group)
            i = group[-1] + 1
            bar.update(n * len(group), i - first, last - first)
        for w in writers:
            w.close()
        bar.close()
    except BaseException:
        for w in writers:
            w.abandon()
        raise
    seconds = time.time() - t0
    summary = {"sequences": last - first, "positions": int(sum(len(packed.sequence(i)) for i in range(first, last))),
               "skipped_sequences": skip, "tokens_processed": done_tokens, "documents": packed.documents,
               "seconds": seconds, "tokens_per_second": done_tokens / max(seconds - load_s - tokenize_s, 1e-9),
               "load_seconds": load_s, "tokenize_seconds": tokenize_s, "forward_seconds": forward_s,
               "rank": rank, "world_size": world, "writer_id": writer_id, "stores": [p for p, _ in outs]}
    print(f"stored {summary['sequences']} sequences ({summary['positions']} positions) in "
          f"{', '.join(p for p, _ in outs)}{'' if world == 1 else f' (rank {rank})'}; {done_tokens} tokens through the "
          f"teacher", file=sys.stderr)
    if rendezvous:
        torch.distributed.barrier()
        if rank == 0:
            finish_ranks(a, outs, world)
    return summary


def finish_ranks(a, outs, world):
    """Rank 0 after every rank finished: merges the per-rank stores (--merge) or says how."""
    for path, _ in outs:
        parts = [os.path.join(path, f"rank-{r:05d}") for r in range(world)]
        merged = os.path.join(path, "merged")
        cmd = [a.logitstore, "merge", merged, *parts]
        if not a.merge:
            print("join the ranks' stores with: " + " ".join(cmd), file=sys.stderr)
            continue
        if shutil.which(a.logitstore) is None and not os.path.exists(a.logitstore):
            raise InvalidInputError(f"--merge needs the Swift CLI '{a.logitstore}' (not found); run: {' '.join(cmd)}")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise InvalidInputError(f"merge failed: {r.stderr.strip()[:250]}")
        print(r.stdout.strip(), file=sys.stderr)


def main(argv=None):
    """Entry point; returns the exit code."""
    try:
        a = parse_args(sys.argv[1:] if argv is None else argv)
        summary = run(a)
    except UsageError as e:
        print(f"error: {str(e)[:290]}", file=sys.stderr)
        return 64
    except (StoreError, OSError) as e:
        print(f"error: {str(e)[:290]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted (committed sequences are kept; re-run to resume)", file=sys.stderr)
        return 1
    except Exception as e:  # a library's failure (transformers, torch): still one line, committed work is kept
        print(f"error: {type(e).__name__}: {' '.join(str(e).split())[:270]}", file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
