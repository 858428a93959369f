"""Side-by-side benchmark of the Swift Transformer (Tools/transformer-bench) against PyTorch on the CPU.

Both run the same Llama architecture (RMSNorm, adjacent-pair RoPE, GQA causal attention, SwiGLU, tied
LM head) on random weights with the same thread count. The two implementations alternate for
`--rounds` rounds and the best step time of each is kept (the machine is shared and noisy).
Writes the "transformer-MODE" section of Tools/BENCHMARKS.md through bench_section.py unless --no-section.
"""
import argparse, json, math, os, shlex, subprocess, sys, tempfile, time

p = argparse.ArgumentParser()
p.add_argument("mode", nargs="?", default="teacher", choices=["teacher", "student"])
p.add_argument("--threads", type=int, default=2)
p.add_argument("--rounds", type=int, default=2)
p.add_argument("--iters", type=int, default=2)
p.add_argument("--no-section", action="store_true", help="do not write this mode's section of Tools/BENCHMARKS.md")
args, extra = p.parse_known_args()
command = shlex.join(["Tools/bench-transformer"] + sys.argv[1:])
here = os.path.dirname(os.path.abspath(__file__))
config = os.environ.get("LOGITSTORE_BENCH_BUILD", "release") or "release"

os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
import torch
import torch.nn.functional as F
torch.set_num_threads(args.threads)

student = args.mode == "student"
cfg = dict(layers=4, dim=128, heads=4, kv=2, ffn=384, vocab=49152, batch=8, seq=256, base=10000.0) if student else \
      dict(layers=30, dim=576, heads=9, kv=3, ffn=1536, vocab=49152, batch=4, seq=512, base=100000.0)
names = {"--layers": "layers", "--dim": "dim", "--heads": "heads", "--kv-heads": "kv", "--ffn": "ffn", "--batch": "batch", "--seq": "seq"}
for i, a in enumerate(extra):
    if a in names: cfg[names[a]] = int(extra[i + 1])
L, D, H, KV, FF, V, B, T = (cfg[k] for k in ("layers", "dim", "heads", "kv", "ffn", "vocab", "batch", "seq"))
hd = D // H
chunk = 256


def run_swift():
    binary = subprocess.run(["swift", "build", "-c", config, "--show-bin-path"], check=True, capture_output=True,
                            text=True).stdout.strip() + "/transformer-bench"
    cmd = [binary, args.mode, "--iters", str(args.iters), "--chunk", str(chunk)] + extra
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


g = torch.Generator().manual_seed(0)
def w(*shape, std=0.02):
    return (torch.randn(*shape, generator=g) * std).requires_grad_(student)
emb = w(V, D)
layers = [dict(an=torch.ones(D, requires_grad=student), wq=w(H * hd, D), wk=w(KV * hd, D), wv=w(KV * hd, D),
               wo=w(D, H * hd), fn=torch.ones(D, requires_grad=student), wg=w(FF, D), wu=w(FF, D), wd=w(D, FF))
          for _ in range(L)]
onorm = torch.ones(D, requires_grad=student)
params = [emb, onorm] + [t for l in layers for t in l.values()]
inv = cfg["base"] ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
cos, sin = torch.cos(ang).float(), torch.sin(ang).float()   # [T, hd/2]
tokens = torch.randint(0, V, (B, T), generator=g)


def rms(x, wt):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * wt


def rope(x):  # x [B, heads, T, hd], adjacent pairs
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)


def forward(tok):
    x = emb[tok]
    for l in layers:
        h = rms(x, l["an"])
        q = (h @ l["wq"].T).view(B, T, H, hd).transpose(1, 2)
        k = (h @ l["wk"].T).view(B, T, KV, hd).transpose(1, 2)
        v = (h @ l["wv"].T).view(B, T, KV, hd).transpose(1, 2)
        q, k = rope(q), rope(k)
        k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, H * hd)
        x = x + a @ l["wo"].T
        h = rms(x, l["fn"])
        x = x + (F.silu(h @ l["wg"].T) * (h @ l["wu"].T)) @ l["wd"].T
    return rms(x, onorm).reshape(B * T, D)


def torch_step():
    t0 = time.perf_counter()
    if student:
        for t in params: t.grad = None
        hid = forward(tokens)
        targets = torch.roll(tokens.reshape(-1), -1)
        loss = F.cross_entropy(hid @ emb.T, targets)
        loss.backward()
    else:
        with torch.inference_mode():
            hid = forward(tokens)
            for r in range(0, B * T, chunk):
                _ = hid[r:r + chunk] @ emb.T
    return time.perf_counter() - t0


def run_torch():
    torch_step()  # warm-up
    return min(torch_step() for _ in range(args.iters))


flops_tok = 2 * (L * (D * (H * hd + 2 * KV * hd) + H * hd * D + 3 * D * FF + 2 * H * hd * (T + 1) / 2) + D * V)
flops = flops_tok * B * T * (3 if student else 1)
best_swift, best_torch = None, math.inf
for _ in range(args.rounds):
    s = run_swift()
    if best_swift is None or s["seconds_per_step"] < best_swift["seconds_per_step"]: best_swift = s
    best_torch = min(best_torch, run_torch())
print(json.dumps(best_swift, sort_keys=True))
tt = {"impl": "pytorch", "torch": torch.__version__, "mode": args.mode, "threads": args.threads,
      "seconds_per_step": best_torch, "tokens_per_second": B * T / best_torch, "gflops": flops / best_torch / 1e9}
print(json.dumps(tt, sort_keys=True))
print(json.dumps({"mode": args.mode, "threads": args.threads, "speedup_vs_pytorch": best_torch / best_swift["seconds_per_step"],
                  "load_average": os.getloadavg()[0]}))


def section_markdown():
    work = "inference: forward + LM head in chunks of 256 rows" if not student else \
        "training step: forward + LM head + cross-entropy + backward (no optimiser step)"
    swift_tps = B * T / best_swift["seconds_per_step"]
    return (f"{args.mode.capitalize()} shape: {L} layers, dim {D}, heads {H}/{KV}, FFN {FF}, vocab {V}, tied, "
            f"batch {B} x seq {T}; {work}; {args.threads} thread(s); random weights. PyTorch runs the identical model in "
            f"the same run; the two alternate for {args.rounds} round(s), best step of {args.iters} iteration(s) kept.\n\n"
            "| | s/step | tokens/s | GFLOP/s | ratio to PyTorch |\n|---|---:|---:|---:|---:|\n"
            f"| Swift `Transformer` | {best_swift['seconds_per_step']:.4f} | {swift_tps:,.0f} | "
            f"{flops / best_swift['seconds_per_step'] / 1e9:.1f} | {best_torch / best_swift['seconds_per_step']:.2f}x |\n"
            f"| PyTorch {torch.__version__} (baseline) | {best_torch:.4f} | {B * T / best_torch:,.0f} | "
            f"{flops / best_torch / 1e9:.1f} | 1.00x |\n")


if not args.no_section:
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as body:
        body.write(section_markdown())
    try:
        subprocess.run([sys.executable, os.path.join(here, "bench_section.py"), "--section", f"transformer-{args.mode}",
                        "--command", command, "--body", body.name], check=True)
    finally:
        os.unlink(body.name)
