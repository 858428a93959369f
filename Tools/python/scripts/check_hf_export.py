#!/usr/bin/env python3
"""Checks that a `logitstore train` run directory is a valid Hugging Face Llama checkpoint.

Reads RUN/model.safetensors and RUN/config.json with no logitstore code (the safetensors container is parsed
here directly), runs a PyTorch Llama written to Hugging Face's conventions (HF tensor names, rotate-half RoPE
on (i, i + hd/2)), and prints the cross-entropy on the true next tokens of the given token sequences, to be
compared with `logitstore eval --json` on the same data.

  check_hf_export.py RUN TOKENS.npy SEQUENCE_LENGTHS.npy [--seq-len T] [--max-sequences N]
"""
import argparse, json, struct
import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", e
        a, b = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(e["shape"]).copy())
    return out


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(W, c, tokens):
    T = tokens.shape[0]
    D, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = D // H
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    x = W["model.embed_tokens.weight"][tokens]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms(x, W[p + "input_layernorm.weight"], c["rms_norm_eps"])
        q = (a @ W[p + "self_attn.q_proj.weight"].T).view(T, H, hd).transpose(0, 1)
        k = (a @ W[p + "self_attn.k_proj.weight"].T).view(T, KV, hd).transpose(0, 1)
        v = (a @ W[p + "self_attn.v_proj.weight"].T).view(T, KV, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=0)
        v = v.repeat_interleave(H // KV, dim=0)
        y = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
        x = x + y.transpose(0, 1).reshape(T, D) @ W[p + "self_attn.o_proj.weight"].T
        m = rms(x, W[p + "post_attention_layernorm.weight"], c["rms_norm_eps"])
        x = x + (F.silu(m @ W[p + "mlp.gate_proj.weight"].T) * (m @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"], c["rms_norm_eps"])
    head = W["model.embed_tokens.weight"] if c["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ head.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run"); ap.add_argument("tokens"); ap.add_argument("lengths")
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--first-sequence", type=int, default=0)
    ap.add_argument("--max-sequences", type=int, default=4)
    a = ap.parse_args()
    c = json.load(open(f"{a.run}/config.json"))
    W = load_safetensors(f"{a.run}/model.safetensors")
    tokens = np.load(a.tokens).astype(np.int64)
    lengths = np.load(a.lengths).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(a.first_sequence, min(len(lengths), a.first_sequence + a.max_sequences)):
            seq = tokens[starts[s]:starts[s + 1]]
            T = a.seq_len or len(seq)
            for w in range(len(seq) // T):
                win = torch.from_numpy(seq[w * T:(w + 1) * T])
                logits = forward(W, c, win)
                # next token of the window's last position: the next window's first, if any
                nxt = seq[w * T + 1:(w + 1) * T + 1]
                n = len(nxt)
                ce = F.cross_entropy(logits[:n], torch.from_numpy(nxt), reduction="sum")
                total += float(ce); count += n
    print(json.dumps({"cross_entropy": total / count, "positions": count}))


if __name__ == "__main__":
    main()
