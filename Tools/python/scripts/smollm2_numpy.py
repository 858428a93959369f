"""A straightforward NumPy implementation of the Llama forward pass for a GGUF model (SmolLM2-135M).

It is the baseline of Tools/bench-teacher and the generator of the real-teacher .npy data
(Tools/make-real-data). Weights are read and dequantised with the `gguf` PyPI package; matrix products use
NumPy's matmul (OpenBLAS). The tokenizer is built with the HF `tokenizers` package from the GGUF vocabulary
and merges, with the SmolLM2 pre-tokenizer (every digit alone, then the GPT-2 byte-level pattern).
"""
import numpy as np


def _field(reader, key):
    return reader.fields[key].contents()


class NumpyLlama:
    def __init__(self, path):
        import gguf
        r = gguf.GGUFReader(path)
        self.reader = r
        arch = _field(r, "general.architecture")
        if arch != "llama":
            raise ValueError(f"unsupported architecture {arch!r}")
        self.layers = int(_field(r, "llama.block_count"))
        self.dim = int(_field(r, "llama.embedding_length"))
        self.heads = int(_field(r, "llama.attention.head_count"))
        self.kv_heads = int(_field(r, "llama.attention.head_count_kv"))
        self.ffn = int(_field(r, "llama.feed_forward_length"))
        self.eps = float(_field(r, "llama.attention.layer_norm_rms_epsilon"))
        self.rope_base = float(_field(r, "llama.rope.freq_base"))
        self.hd = self.dim // self.heads
        self.w = {}
        for t in r.tensors:
            a = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
            self.w[t.name[:-len(".weight")] if t.name.endswith(".weight") else t.name] = np.ascontiguousarray(a)
        self.vocab = self.w["token_embd"].shape[0]
        self.out_w = self.w.get("output", self.w["token_embd"])
        self.eos_id = int(_field(r, "tokenizer.ggml.eos_token_id"))

    def _rms(self, x, w):
        return (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps)) * w

    def _rope(self, x, T):
        # x [B, T, H, hd]; adjacent pairs (2i, 2i+1), theta_i = base^(-2i/hd)
        i = np.arange(self.hd // 2, dtype=np.float64)
        theta = self.rope_base ** (-2.0 * i / self.hd)
        ang = np.arange(T, dtype=np.float64)[:, None] * theta[None, :]
        c = np.cos(ang).astype(np.float32)[None, :, None, :]
        s = np.sin(ang).astype(np.float32)[None, :, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * c - x1 * s
        out[..., 1::2] = x0 * s + x1 * c
        return out

    def hidden(self, tokens):
        """tokens int [B, T] -> final-normed hidden states float32 [B, T, dim]."""
        tokens = np.asarray(tokens)
        B, T = tokens.shape
        H, KV, hd = self.heads, self.kv_heads, self.hd
        x = self.w["token_embd"][tokens]
        mask = np.triu(np.full((T, T), -np.inf, dtype=np.float32), 1)
        for l in range(self.layers):
            p = f"blk.{l}."
            h = self._rms(x, self.w[p + "attn_norm"])
            q = (h @ self.w[p + "attn_q"].T).reshape(B, T, H, hd)
            k = (h @ self.w[p + "attn_k"].T).reshape(B, T, KV, hd)
            v = (h @ self.w[p + "attn_v"].T).reshape(B, T, KV, hd)
            q, k = self._rope(q, T), self._rope(k, T)
            q = q.transpose(0, 2, 1, 3)                                  # B H T hd
            k = np.repeat(k.transpose(0, 2, 1, 3), H // KV, axis=1)      # B H T hd
            v = np.repeat(v.transpose(0, 2, 1, 3), H // KV, axis=1)
            s = (q @ k.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(hd)) + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            a = (s @ v).transpose(0, 2, 1, 3).reshape(B, T, H * hd)
            x = x + a @ self.w[p + "attn_output"].T
            h = self._rms(x, self.w[p + "ffn_norm"])
            g = h @ self.w[p + "ffn_gate"].T
            u = h @ self.w[p + "ffn_up"].T
            x = x + ((g / (1.0 + np.exp(-g))) * u) @ self.w[p + "ffn_down"].T
        return self._rms(x, self.w["output_norm"])

    def logits(self, tokens):
        return self.hidden(tokens) @ self.out_w.T


def build_tokenizer(reader):
    """HF tokenizers BPE from the GGUF vocabulary and merges, with the SmolLM2 pre-tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, AddedToken
    tokens = _field(reader, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    types = _field(reader, "tokenizer.ggml.token_type")
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True) for t, ty in zip(tokens, types) if ty == 3])
    return tok
