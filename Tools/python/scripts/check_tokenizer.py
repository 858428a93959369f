#!/usr/bin/env python3
"""Cross-checks `logitstore tokenize` against the HF `tokenizers` package built from the same GGUF vocabulary and
merges (build_tokenizer in smollm2_numpy.py) on whole files. Note: HF also parses special tokens written in the
text (e.g. "<|im_end|>"); logitstore does not, so such files differ by design.
Usage: python3 Tools/python/scripts/check_tokenizer.py LOGITSTORE_BINARY MODEL.gguf FILE...   (needs gguf, tokenizers)"""
import json, os, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf
from smollm2_numpy import build_tokenizer

binary, model, files = sys.argv[1], sys.argv[2], sys.argv[3:]
tok = build_tokenizer(gguf.GGUFReader(model))
bad = 0
for f in files:
    ref = tok.encode(open(f, encoding="utf-8", newline="").read()).ids
    got = json.loads(subprocess.run([binary, "tokenize", "--teacher", model, f, "--json"], check=True, capture_output=True, text=True).stdout)["ids"]
    if got == ref:
        print(f"{os.path.basename(f)}: identical ({len(ref)} tokens)")
    else:
        bad += 1
        i = next((k for k in range(min(len(got), len(ref))) if got[k] != ref[k]), min(len(got), len(ref)))
        print(f"{os.path.basename(f)}: DIFFER at token {i} (HF {len(ref)} tokens, logitstore {len(got)})")
sys.exit(1 if bad else 0)
