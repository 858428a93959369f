"""A Hugging Face `transformers` causal LM as the teacher of `python -m logitstore.dump`.

`--model` is a GGUF file (loaded with `from_pretrained(dir, gguf_file=name)`, which needs the `gguf` package and
dequantises to float32) or a model directory / hub id. For a GGUF file the manifest's teacher identity is the one
the Swift `logitstore dump` records (file name, XXH3-64 of the file, XXH3-64 of the tokenizer's canonical form), so
stores from either dump can be merged.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import xxhash

from .errors import InvalidInputError


@dataclass
class HFTeacher:
    """The loaded model and tokenizer, where it runs, and its identity for the manifest."""

    model: object
    tokenizer: object
    device: object
    vocab_size: int
    eos_id: int
    identity: dict

    def encode(self, text):
        """Token ids of a document, no BOS/EOS added, special-token spellings read as plain text."""
        return self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]

    def logits(self, tokens):
        """float32 logits [B, T, V] of int64 tokens [B, T] (already on `device`)."""
        import torch
        with torch.inference_mode():
            return self.model(input_ids=tokens, use_cache=False).logits.float()


def _file_hash(path):
    h = xxhash.xxh3_64()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return f"{h.intdigest():016x}"


def gguf_tokenizer_hash(path):
    """XXH3-64 of the tokenizer's canonical form, as BPETokenizer.identityHash in Sources/Teacher computes it:
    "gpt2\\x01" pre "\\x01" tokens joined by NUL "\\x01" merges joined by NUL "\\x01" one 0/1 per token (1 = control)."""
    from gguf import GGUFReader
    reader = GGUFReader(path)

    def field(name, default=None):
        f = reader.fields.get(name)
        return default if f is None else f.contents()

    if field("tokenizer.ggml.model") != "gpt2":
        return None
    tokens = field("tokenizer.ggml.tokens")
    merges = field("tokenizer.ggml.merges")
    types = field("tokenizer.ggml.token_type", []) or []
    pre = field("tokenizer.ggml.pre", "default")
    control = "".join("1" if i < len(types) and types[i] == 3 else "0" for i in range(len(tokens)))
    canon = "gpt2\x01" + pre + "\x01" + "\x00".join(tokens) + "\x01" + "\x00".join(merges) + "\x01" + control
    return f"{xxhash.xxh3_64_intdigest(canon.encode('utf-8')):016x}"


def teacher_identity(model_path):
    """{name, weights_hash, tokenizer_hash} for the manifest (hashes only when they can be computed cheaply)."""
    p = os.fspath(model_path)
    if os.path.isfile(p) and p.endswith(".gguf"):
        ident = {"name": os.path.basename(p), "weights_hash": "xxh3:" + _file_hash(p)}
        tok = gguf_tokenizer_hash(p)
        if tok is not None:
            ident["tokenizer_hash"] = "xxh3:" + tok
        return ident
    ident = {"name": os.path.basename(os.path.normpath(p)) or p}
    tj = os.path.join(p, "tokenizer.json")
    if os.path.isfile(tj):
        ident["tokenizer_hash"] = "xxh3:" + _file_hash(tj)
    return ident


def load_teacher(model_path, device=None, dtype="float32"):
    """Loads the model (eval mode, on `device`: CUDA when available unless given) and its tokenizer."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise InvalidInputError(f"the Hugging Face dump needs torch and transformers (pip install 'logitstore[hf]'): {e}") from None
    p = os.fspath(model_path)
    if not os.path.exists(p):
        raise InvalidInputError(f"model {p}: no such file or directory")
    kwargs = {}
    if os.path.isfile(p):
        if not p.endswith(".gguf"):
            raise InvalidInputError(f"model {p}: a file must be a .gguf; otherwise give a model directory")
        kwargs["gguf_file"] = os.path.basename(p)
        p = os.path.dirname(os.path.abspath(p))
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
    if torch_dtype is None:
        raise InvalidInputError(f"dtype must be float32, bfloat16 or float16 (got {dtype!r})")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    tokenizer = AutoTokenizer.from_pretrained(p, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(p, dtype=torch_dtype, **kwargs).to(device).eval()
    vocab = int(model.config.vocab_size)
    eos = tokenizer.eos_token_id
    if eos is None:
        eos = getattr(model.config, "eos_token_id", None)
        eos = eos[0] if isinstance(eos, (list, tuple)) else eos
    return HFTeacher(model, tokenizer, device, vocab, -1 if eos is None else int(eos), teacher_identity(model_path))
