"""kd_loss / lm_loss against the Swift trainer's logged step-1 loss on the same data.

The Swift side: `logitstore import` turns random logits into a store, `logitstore train` runs one step over all of
its windows with a learning rate of 1e-30 (so the exported model.safetensors holds the initial weights bit for bit)
and logs loss, lm_ce and kd. The PyTorch side: the exported student run by Tools/trainer/check_hf_export.py's
independent forward, the same stored targets (from `logitstore export`) through the read-time arithmetic, and
logitstore.torch's losses. The mean over one batch does not depend on the window order, so the comparison is exact
up to float32 rounding of two different forward implementations.
"""
import importlib.util
import json
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from logitstore.record import Record  # noqa: E402
from logitstore.torch import kd_loss, lm_loss  # noqa: E402
from logitstore.torch.padding import pad_targets  # noqa: E402

from swift_cli import REPO, require_binary, run  # noqa: E402

V, S, T = 48, 4, 16
STUDENT = {"layers": 1, "dim": 16, "heads": 2, "kv_heads": 1, "ffn_dim": 32, "tied_embeddings": True}


def hf_forward_module():
    for rel in ("Tools/trainer/check_hf_export.py", "Tools/python/scripts/check_hf_export.py"):
        p = REPO / rel
        if p.exists():
            spec = importlib.util.spec_from_file_location("check_hf_export", p)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    pytest.skip("check_hf_export.py (the PyTorch transcription of the exported student) is not in the repository")


@pytest.fixture(scope="module")
def swift_store(tmp_path_factory):
    require_binary()
    d = tmp_path_factory.mktemp("swift-train")
    rng = np.random.default_rng(2026)
    np.save(d / "tokens.npy", rng.integers(0, V, size=S * T).astype(np.uint32))
    np.save(d / "lengths.npy", np.full(S, T, np.int64))
    np.save(d / "logits.npy", (rng.normal(size=(S * T, V)) * 3).astype(np.float32))
    run("import", "--out", d / "store", "--tokens", d / "tokens.npy", "--sequence-lengths", d / "lengths.npy",
        "--logits", d / "logits.npy", "--top-p", "0.9", "--top-k", "8")
    run("export", d / "store", "--out", d / "export")
    (d / "student.json").write_text(json.dumps(STUDENT))
    return d


def trainer_has_flag(flag):
    r = subprocess.run([require_binary(), "train", "--help"], capture_output=True, text=True)
    return flag in r.stdout + r.stderr


def swift_step_one(d, name, kind, tau, bucket, alpha, temperature_on, tau_squared=False):
    args = ["train", "--store", d / "store", "--config", d / "student.json", "--out", d / name, "--kd-loss", kind,
            "--temperature", tau, "--alpha", alpha, "--lr", "1e-30", "--lr-min", "0", "--weight-decay", "0",
            "--batch-size", S, "--seq-len", T, "--max-tokens", S * T, "--seed", 5]
    if bucket:
        args.append("--dropped-mass-bucket")
    if temperature_on is not None:
        args += ["--kd-temperature-on", temperature_on]
    if tau_squared:
        args.append("--tau-squared")
    run(*args)
    first = (d / name / "log.jsonl").read_text().splitlines()[0]
    return json.loads(first)


def torch_step_one(d, name, kind, tau, bucket, temperature_on, tau_squared=False):
    e = d / "export"
    tokens, lengths = np.load(e / "tokens.npy"), np.load(e / "sequence_lengths.npy")
    counts = np.load(e / "counts.npy").astype(np.int64)
    rec = Record(tokens=tokens, counts=counts, offsets=np.concatenate(([0], np.cumsum(counts))),
                 ids=np.load(e / "ids.npy"), probs=np.load(e / "probs.npy"), target_logprobs=None,
                 truncation={"policy": "top-p-k", "top_p": 0.9, "top_k": 8, "temperature": 1.0})
    off, ids, probs, dropped = rec.targets(dropped_mass_bucket=bucket)
    tid, tp, mask = pad_targets(off, ids, probs, 8)
    labels = np.full(S * T, -100, np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)))
    for a, b in zip(starts[:-1], starts[1:]):
        labels[a:b - 1] = tokens[a + 1:b]
    batch = {"target_ids": torch.from_numpy(tid), "target_probs": torch.from_numpy(tp),
             "target_mask": torch.from_numpy(mask), "labels": torch.from_numpy(labels)}
    if bucket:
        batch["dropped_mass"] = torch.from_numpy(dropped)
    hf = hf_forward_module()
    run_dir = d / name
    config = json.loads((run_dir / "config.json").read_text())
    weights = hf.load_safetensors(run_dir / "model.safetensors")
    with torch.no_grad():
        logits = torch.cat([hf.forward(weights, config, torch.from_numpy(tokens[a:b].astype(np.int64)))
                            for a, b in zip(starts[:-1], starts[1:])])
    kd = kd_loss(logits, batch, kind=kind, temperature=tau, temperature_on=temperature_on, tau_squared=tau_squared)
    return float(lm_loss(logits, batch)), float(kd)


CASES = [("kld", 2.0, False, 0.5), ("nll", 1.0, False, 0.8), ("mse", 1.5, True, 0.5), ("reverse-kl", 2.0, True, 0.7),
         ("reverse-kl", 0.5, False, 1.0), ("kld", 3.0, True, 0.3)]


@pytest.mark.parametrize("kind,tau,bucket,alpha", CASES)
def test_step_one_loss_equals_swift_trainer(swift_store, kind, tau, bucket, alpha):
    has_option = trainer_has_flag("--kd-temperature-on")
    # Before the trainer took the teacher-only convention (no option), τ divided both sides.
    conventions = ["teacher", "both"] if has_option else [None]
    for conv in conventions:
        name = f"run-{kind}-{tau}-{int(bucket)}-{alpha}-{conv}"
        log = swift_step_one(swift_store, name, kind, tau, bucket, alpha, conv)
        ce, kd = torch_step_one(swift_store, name, kind, tau, bucket, conv or "both")
        assert log["alpha"] == pytest.approx(alpha)
        assert ce == pytest.approx(log["lm_ce"], rel=2e-5, abs=2e-6)
        assert kd == pytest.approx(log["kd"], rel=2e-4, abs=2e-6)
        assert (1 - alpha) * ce + alpha * kd == pytest.approx(log["loss"], rel=2e-4, abs=2e-6)


def test_tau_squared_equals_swift_trainer(swift_store):
    if not trainer_has_flag("--tau-squared"):
        pytest.skip("this Swift trainer has no --tau-squared yet")
    for conv in ("teacher", "both"):
        name = f"run-tau2-{conv}"
        log = swift_step_one(swift_store, name, "kld", 2.0, True, 0.6, conv, tau_squared=True)
        ce, kd = torch_step_one(swift_store, name, "kld", 2.0, True, conv, tau_squared=True)
        assert kd == pytest.approx(log["kd"], rel=2e-4, abs=2e-6)
        assert 0.4 * ce + 0.6 * kd == pytest.approx(log["loss"], rel=2e-4, abs=2e-6)
