"""Shared fixtures of the logitstore Python tests."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # test this source tree, not an installed copy
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
VECTORS = os.environ.get("LOGITSTORE_VECTORS") or os.path.join(REPO, "Spec", "vectors")


def swift_bin():
    """The Swift `logitstore` binary named by LOGITSTORE_BIN (Tools/test sets it after building), or None."""
    path = os.environ.get("LOGITSTORE_BIN")
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


@pytest.fixture
def swift():
    """Runs the Swift CLI: swift("verify", store) -> CompletedProcess. Skips when LOGITSTORE_BIN is not set."""
    path = swift_bin()
    if path is None:
        pytest.skip("LOGITSTORE_BIN is not set to the Swift logitstore binary (Tools/test sets it after building)")

    def run(*args, check=True):
        p = subprocess.run([path, *map(str, args)], capture_output=True, text=True, timeout=600)
        if check and p.returncode != 0:
            raise AssertionError(f"logitstore {' '.join(map(str, args))} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
        return p
    return run


def random_rows(rng, T, vocab, top_k, min_count=1):
    """Valid pre-truncated rows: counts int64 [T], ids uint32, probs float16 (descending, Σ <= 1)."""
    counts = rng.integers(min_count, top_k + 1, size=T)
    ids, probs = [], []
    for c in counts:
        ids.append(rng.choice(vocab, size=c, replace=False))
        p = np.sort(rng.dirichlet(np.ones(c + 1))[:c])[::-1] * 0.999
        probs.append(p.astype(np.float16))
    return counts.astype(np.int64), np.concatenate(ids).astype(np.uint32), np.concatenate(probs)


def random_logits(rng, T, vocab, scale=3.0):
    """float32 [T, vocab] logits with a peaked, realistic spread."""
    return (rng.standard_normal((T, vocab)) * scale).astype(np.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(20261201)


@pytest.fixture
def copy_vector(tmp_path):
    """Copies Spec/vectors/<name> into tmp_path and returns the copy's path."""
    def copy(name):
        dst = tmp_path / name
        shutil.copytree(os.path.join(VECTORS, name), dst)
        return dst
    return copy
