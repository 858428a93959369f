"""Distributed distillation of a tiny student from a store: DistillationDataset + kd_loss under DDP.

    torchrun --nproc_per_node 2 Tools/python/examples/ddp_distill.py --store STORE --out RUN --steps 200

gloo on CPU (nccl when --cuda). Every rank reads its own disjoint windows (DistillationDataset partitions by rank
and DataLoader worker); gradients are averaged by DDP. Rank 0 writes RUN/checkpoint.pt every --checkpoint-every
steps (model, optimizer, step, data position; written to a temporary file and renamed) and RUN/log.jsonl (one line
per step, the loss averaged over ranks); each rank logs the windows it trained on to RUN/windows-rank<R>.jsonl.
Run the same command again after a kill: it resumes at the last checkpoint, with the same windows in the same order,
so the loss continues exactly where an uninterrupted run would be.
"""
import argparse
import json
import math
import os
import time

import torch
import torch.distributed as dist
import torch.nn as nn

from logitstore.torch import DistillationDataset, DistillationLoader, distillation_loss


class TinyStudent(nn.Module):
    """Embedding → causal transformer layers → tied LM head."""

    def __init__(self, vocab, dim=64, layers=2, heads=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.pos = nn.Parameter(torch.zeros(4096, dim))
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, ids):
        T = ids.shape[1]
        mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        x = self.embed(ids) + self.pos[:T]
        return self.norm(self.blocks(x, mask=mask, is_causal=True)) @ self.embed.weight.T


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=4, help="Windows per rank per step.")
    ap.add_argument("--workers", type=int, default=1, help="DataLoader workers per rank.")
    ap.add_argument("--kd-loss", default="kld", choices=("kld", "nll", "mse", "reverse-kl"))
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--alpha", type=float, default=0.9)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint-every", type=int, default=20)
    ap.add_argument("--cuda", action="store_true")
    ap.add_argument("--sleep", type=float, default=0.0, help="Pause per step in seconds (to watch or kill a demo).")
    return ap.parse_args()


def main():
    a = parse()
    dist.init_process_group("nccl" if a.cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if a.cuda else "cpu")
    torch.manual_seed(a.seed)                       # same initial weights on every rank
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)

    # drop_last: every rank gets the same number of full batches per epoch (DDP steps in lockstep).
    data = DistillationDataset(a.store, seq_len=a.seq_len, batch_size=a.batch_size, top_p=a.top_p, top_k=a.top_k,
                               seed=a.seed, drop_last=True)
    if len(data) == 0:
        raise SystemExit(f"{a.store} has too few windows for {world} ranks × batch {a.batch_size}")
    import logitstore
    vocab = logitstore.open(a.store).vocab_size
    model = TinyStudent(vocab).to(device)
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.AdamW(ddp.parameters(), lr=a.lr, weight_decay=0.01)

    step = 0
    ckpt = os.path.join(a.out, "checkpoint.pt")
    if os.path.exists(ckpt):
        state = torch.load(ckpt, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        data.load_state_dict(state["data"])      # epoch + next batch (the same on every rank)
        if state["data"]["next_batch"] >= len(data):
            data.set_epoch(data.epoch + 1)        # saved right at the end of an epoch
        if rank == 0:
            print(f"resuming at step {step} (epoch {state['data']['epoch']}, batch {state['data']['next_batch']})")
    logs = {"log": os.path.join(a.out, "log.jsonl"), "windows": os.path.join(a.out, f"windows-rank{rank}.jsonl")}
    for key, path in logs.items():                  # drop lines a killed run wrote after its last checkpoint
        if (key == "windows" or rank == 0) and os.path.exists(path):
            kept = [l for l in open(path) if json.loads(l)["step"] <= step]
            with open(path, "w") as f:
                f.writelines(kept)

    loader = DistillationLoader(data, num_workers=a.workers)
    while step < a.steps:
        for batch in loader:
            logits = ddp(batch["input_ids"].to(device))
            loss = distillation_loss(logits, batch, alpha=a.alpha, kind=a.kd_loss, temperature=a.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            mean = loss.detach().clone()
            dist.all_reduce(mean)
            mean = float(mean) / world
            if not math.isfinite(mean):
                raise SystemExit(f"non-finite loss at step {step}")
            with open(logs["windows"], "a") as f:
                f.write(json.dumps({"step": step, "windows": batch["window_ids"].tolist()}) + "\n")
            if rank == 0:
                with open(logs["log"], "a") as f:
                    f.write(json.dumps({"step": step, "loss": mean, "epoch": data.epoch}) + "\n")
                print(f"step {step} loss {mean:.5f}", flush=True)
            if step % a.checkpoint_every == 0 or step == a.steps:
                if rank == 0:
                    tmp = ckpt + ".tmp"
                    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                                "data": data.state_dict()}, tmp)
                    os.replace(tmp, ckpt)
                dist.barrier()
            if a.sleep:
                time.sleep(a.sleep)
            if step >= a.steps:
                break
        else:
            data.set_epoch(data.epoch + 1)          # the epoch ran out: next epoch, new shuffle
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
