"""A PyTorch twin of the logitstore student (used by the training benchmark and the HF-export check).

Same architecture as Sources/Transformer: RMSNorm, RoPE on adjacent pairs (2i, 2i+1) within each head,
grouped-query causal attention, SwiGLU, tied or untied embeddings, fp32.
"""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_adjacent(x, cos, sin):
    # x: [B, H, T, hd]; rotate pairs (2i, 2i+1) by angle pos * theta_i.
    x0, x1 = x[..., 0::2], x[..., 1::2]
    r0 = x0 * cos - x1 * sin
    r1 = x0 * sin + x1 * cos
    return torch.stack((r0, r1), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, kv, hd, f = c["dim"], c["heads"], c["kv_heads"], c["dim"] // c["heads"], c["ffn_dim"]
        self.h, self.kv, self.hd = h, kv, hd
        self.attn_norm = RMSNorm(d, c.get("norm_eps", 1e-5))
        self.q = nn.Linear(d, h * hd, bias=False)
        self.k = nn.Linear(d, kv * hd, bias=False)
        self.v = nn.Linear(d, kv * hd, bias=False)
        self.o = nn.Linear(h * hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, c.get("norm_eps", 1e-5))
        self.gate = nn.Linear(d, f, bias=False)
        self.up = nn.Linear(d, f, bias=False)
        self.down = nn.Linear(f, d, bias=False)

    def forward(self, x, cos, sin):
        B, T, D = x.shape
        a = self.attn_norm(x)
        q = self.q(a).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k(a).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v(a).view(B, T, self.kv, self.hd).transpose(1, 2)
        q, k = rope_adjacent(q, cos, sin), rope_adjacent(k, cos, sin)
        rep = self.h // self.kv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(y.transpose(1, 2).reshape(B, T, self.h * self.hd))
        m = self.ffn_norm(x)
        return x + self.down(F.silu(self.gate(m)) * self.up(m))


class Student(nn.Module):
    def __init__(self, c, vocab):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(vocab, c["dim"])
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["layers"])])
        self.norm = RMSNorm(c["dim"], c.get("norm_eps", 1e-5))
        self.tied = c.get("tied_embeddings", True)
        if not self.tied:
            self.lm_head = nn.Linear(c["dim"], vocab, bias=False)
        for n, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * c["layers"]) if n.endswith("o.weight") or n.endswith("down.weight") else 0.02
                nn.init.normal_(p, std=std)

    def head_weight(self):
        return self.embed.weight if self.tied else self.lm_head.weight

    def hidden(self, tokens):
        B, T = tokens.shape
        hd = self.c["dim"] // self.c["heads"]
        base = self.c.get("rope_base", 10000.0)
        theta = base ** (-torch.arange(0, hd // 2, dtype=torch.float32) * 2 / hd)
        ang = torch.arange(T, dtype=torch.float32)[:, None] * theta[None, :]
        cos, sin = ang.cos(), ang.sin()
        x = self.embed(tokens)
        for b in self.blocks:
            x = b(x, cos, sin)
        return self.norm(x)
