"""`python -m logitstore.dump` with the default SmolLM2 teacher through Hugging Face transformers, against the Swift
`logitstore dump` of the same short real input (313 tokens, 4 JSONL documents, seq-len 128).

Checks the Spec's cross-implementation tolerance: identical tokens (same packing and tokenizer), top-1 identical on
≥ 99% of positions, max |Δp| ≤ 5e-3 over the union of kept ids (an id kept by one side only counts with its full
probability). Also resume (a first run stopped after one sequence, then the full run), the rank split of torchrun
and the teacher identity (equal to the Swift dump's, so the stores can be merged).
"""
import json
import types

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gguf")
pytest.importorskip("accelerate")  # transformers needs it to load GGUF files
import logitstore  # noqa: E402
from logitstore import dump  # noqa: E402

from swift_cli import REPO, logitstore_binary, require_binary, run, teacher_path  # noqa: E402

INPUT = REPO / "Tools/python/tests/data/teacher-sample.jsonl"
SEQ_LEN = 128


@pytest.fixture(scope="module")
def teacher():
    path = teacher_path()
    if path is None:
        pytest.skip("the default teacher is not fetched (Tools/fetch-teacher)")
    from logitstore.hf_teacher import load_teacher
    return load_teacher(path, device="cpu")


@pytest.fixture(scope="module")
def swift_dump(tmp_path_factory):
    require_binary()
    path = teacher_path()
    if path is None:
        pytest.skip("the default teacher is not fetched (Tools/fetch-teacher)")
    d = tmp_path_factory.mktemp("swift-dump")
    run("dump", "--teacher", path, "--input", INPUT, "--out", d / "store", "--seq-len", SEQ_LEN, "--workers", "1")
    run("export", d / "store", "--out", d / "export")
    manifest = json.loads((d / "store" / "manifest.json").read_text())
    e = d / "export"
    return types.SimpleNamespace(manifest=manifest, tokens=np.load(e / "tokens.npy"),
                                 lengths=np.load(e / "sequence_lengths.npy"),
                                 counts=np.load(e / "counts.npy").astype(np.int64), ids=np.load(e / "ids.npy"),
                                 probs=np.load(e / "probs.npy").astype(np.float32),
                                 target_logprobs=np.load(e / "target_logprobs.npy"))


def args(out, *extra):
    return dump.parse_args(["--model", str(teacher_path()), "--input", str(INPUT), "--out", str(out),
                            "--seq-len", str(SEQ_LEN), "--no-progress", *extra])


def compare(swift, rec):
    """(top-1 agreement, max |Δp|) between the Swift export and a Python record of the same positions."""
    assert np.array_equal(swift.tokens, rec.tokens)
    off = np.concatenate(([0], np.cumsum(swift.counts)))
    n = len(swift.tokens)
    top1 = np.mean(swift.ids[off[:-1]] == rec.ids[rec.offsets[:-1]])
    max_dp = 0.0
    for j in range(n):
        a = dict(zip(swift.ids[off[j]:off[j + 1]].tolist(), swift.probs[off[j]:off[j + 1]].tolist()))
        b = dict(zip(rec.ids[rec.offsets[j]:rec.offsets[j + 1]].tolist(),
                     rec.probs[rec.offsets[j]:rec.offsets[j + 1]].astype(np.float32).tolist()))
        max_dp = max(max_dp, max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b)))
    return top1, max_dp


def test_hf_dump_agrees_with_swift_dump_and_resumes(teacher, swift_dump, tmp_path):
    out = tmp_path / "py"
    first = dump.run(args(out, "--max-tokens", str(SEQ_LEN)), teacher=teacher)
    assert first["sequences"] == 1 and first["tokens_processed"] == SEQ_LEN
    second = dump.run(args(out), teacher=teacher)
    assert second["skipped_sequences"] == 1 and second["tokens_processed"] == len(swift_dump.tokens) - SEQ_LEN
    store = logitstore.open(out)
    assert store.sequence_lengths().tolist() == swift_dump.lengths.tolist()
    assert store.teacher == swift_dump.manifest["teacher"]
    rec = store.read(0, store.num_positions)
    top1, max_dp = compare(swift_dump, rec)
    assert top1 >= 0.99, top1
    assert max_dp <= 5e-3, max_dp
    known = np.isfinite(swift_dump.target_logprobs)
    assert np.array_equal(known, np.isfinite(rec.target_logprobs))
    assert np.abs(swift_dump.target_logprobs[known] - rec.target_logprobs[known]).max() < 5e-3
    again = dump.run(args(out), teacher=teacher)             # everything committed: nothing to do
    assert again["tokens_processed"] == 0


def test_resume_refuses_a_different_input(teacher, tmp_path):
    out = tmp_path / "py"
    dump.run(args(out, "--max-tokens", "40"), teacher=teacher)
    with pytest.raises(logitstore.InvalidInputError, match="differs from what this input gives"):
        dump.run(args(out, "--max-tokens", "60", "--seq-len", "50"), teacher=teacher)


def test_torchrun_ranks_split_the_input_and_merge(teacher, swift_dump, tmp_path, monkeypatch):
    out = tmp_path / "ranks"
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.delenv("MASTER_ADDR", raising=False)     # no rendezvous: the ranks run one after the other here
        s = dump.run(args(out, "--max-tokens", "200", "--writer-id", "hf"), teacher=teacher)
        assert s["writer_id"] == f"hf-r{rank}"
    parts = [logitstore.open(out / f"rank-{r:05d}") for r in (0, 1)]
    assert [p.num_sequences for p in parts] == [1, 1]
    tokens = np.concatenate([p.read(0, p.num_positions).tokens for p in parts])
    assert np.array_equal(tokens, swift_dump.tokens[:200])
    binary = logitstore_binary()
    if binary is None:
        return
    import subprocess
    r = subprocess.run([binary, "merge", str(out / "merged"), str(out / "rank-00000"), str(out / "rank-00001")],
                       capture_output=True, text=True)
    if r.returncode != 0 and "version" in r.stderr:
        pytest.skip(f"the Swift CLI cannot read these stores yet: {r.stderr.strip()[:200]}")
    assert r.returncode == 0, r.stderr
    merged = logitstore.open(out / "merged")
    assert np.array_equal(merged.read(0, merged.num_positions).tokens, tokens)
