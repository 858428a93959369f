"""The DDP example under torchrun (2 ranks, gloo, CPU): disjoint data per rank, and a run killed with SIGKILL and
started again continues with exactly the losses of an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
import logitstore  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ddp_distill.py"
STEPS = 12


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("ddp") / "store"
    rng = np.random.default_rng(0)
    with logitstore.Writer(path, vocab_size=96, top_p=0.95, top_k=20, teacher="random") as w:
        for _ in range(12):
            tokens = rng.integers(0, 96, size=64).astype(np.uint32)
            w.add_sequence(tokens, logits=(rng.normal(size=(64, 96)) * 3).astype(np.float32))
    return path


def command(store, out, sleep=0.0):
    # 12 sequences × 64 / 16 = 48 windows; 2 ranks × batch 4 → 6 steps per epoch, so 12 steps cross an epoch.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(EXAMPLE),
            "--store", str(store), "--out", str(out), "--steps", str(STEPS), "--seq-len", "16", "--batch-size", "4",
            "--checkpoint-every", "4", "--sleep", str(sleep), "--workers", "1"]


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(EXAMPLE.parents[1]) + os.pathsep + e.get("PYTHONPATH", "")
    e["OMP_NUM_THREADS"] = "1"
    return e


def losses(out):
    return {d["step"]: d["loss"] for d in map(json.loads, (out / "log.jsonl").read_text().splitlines())}


def test_ddp_ranks_disjoint_and_kill_resume_continues_the_loss(store, tmp_path):
    ref = tmp_path / "ref"
    r = subprocess.run(command(store, ref), env=env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    want = losses(ref)
    assert sorted(want) == list(range(1, STEPS + 1))
    # Both ranks saw disjoint windows at every step, and together every window once per epoch.
    w = [[json.loads(l)["windows"] for l in (ref / f"windows-rank{k}.jsonl").read_text().splitlines()] for k in (0, 1)]
    for a, b in zip(*w):
        assert not set(a) & set(b)
    first_epoch = sorted(x for k in (0, 1) for step in w[k][:6] for x in step)
    assert first_epoch == list(range(48))

    run = tmp_path / "killed"
    p = subprocess.Popen(command(store, run, sleep=0.4), env=env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and p.poll() is None:
            if (run / "log.jsonl").exists() and len(losses(run)) >= 6:   # checkpoint at step 4 is on disk
                break
            time.sleep(0.05)
        assert p.poll() is None, "the run ended before it could be killed"
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    before = losses(run)
    assert 6 <= len(before) < STEPS
    r = subprocess.run(command(store, run), env=env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming at step" in r.stdout
    got = losses(run)
    assert sorted(got) == list(range(1, STEPS + 1))
    for step in range(1, STEPS + 1):
        assert got[step] == pytest.approx(want[step], rel=1e-5, abs=1e-6), step
