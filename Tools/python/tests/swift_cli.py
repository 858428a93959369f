"""Finding and running the Swift `logitstore` binary for the cross-implementation tests.

LOGITSTORE_BIN names it; otherwise the repository's .build/release or .build/debug build is used. Tests that need
it are skipped (with the reason) when none is built.
"""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def logitstore_binary():
    """Path of the Swift CLI, or None."""
    env = os.environ.get("LOGITSTORE_BIN")
    if env:
        return env
    for config in ("release", "debug"):
        p = REPO / ".build" / config / "logitstore"
        if p.exists():
            return str(p)
    return None


def require_binary():
    """The Swift CLI's path; skips the test when it is not built."""
    b = logitstore_binary()
    if b is None:
        pytest.skip("the Swift logitstore binary is not built (swift build, or set LOGITSTORE_BIN)")
    return b


def run(*args, timeout=1800):
    """Runs `logitstore ARGS...`; fails the test with its stderr when it exits non-zero."""
    cmd = [require_binary(), *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r


def teacher_path():
    """The default SmolLM2 teacher GGUF from Tools/fetch-teacher, or None when it is not fetched."""
    cache = Path(os.environ.get("LOGITSTORE_CACHE", Path.home() / ".cache" / "logitstore"))
    p = cache / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return p if p.exists() else None
