"""Spec/vectors: every store decodes bit-exactly to its JSON, vectors with logits truncate (or sample) to exactly
the stored entries, and every must-reject vector (Spec/vectors/reject/, when present) is rejected."""
import glob
import json
import os

import numpy as np
import pytest

import logitstore
from logitstore.sampling import sample_rows
from logitstore.truncation import top_p_k_numpy
from conftest import VECTORS

NAMES = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(VECTORS, "*.json"))
               if os.path.isdir(p[:-5]))
#: Vectors whose JSON also holds the input logits rows.
WITH_LOGITS = [n for n in NAMES if '"logits_f32_bits"' in open(os.path.join(VECTORS, n + ".json")).read()]


def load(name):
    path = os.path.join(VECTORS, name)
    version = json.load(open(os.path.join(path, "manifest.json"))).get("format_version")
    if version != logitstore.FORMAT_VERSION:
        pytest.skip(f"Spec/vectors/{name} is format version {version}; this package reads {logitstore.FORMAT_VERSION}")
    return logitstore.open(path), json.load(open(path + ".json"))


def test_there_are_vectors():
    assert len(NAMES) >= 5


@pytest.mark.parametrize("name", NAMES)
def test_vector_decodes_bit_exactly(name):
    st, want = load(name)
    assert st.num_sequences == len(want["sequences"])
    assert st.num_positions == want["positions"] and st.num_entries == want["entries"]
    for i, s in enumerate(want["sequences"]):
        r = st.sequence(i)
        assert r.tokens.tolist() == s["tokens"]
        assert r.counts.tolist() == s["counts"]
        assert r.ids.tolist() == s["ids"]
        assert r.probs.view(np.uint16).tolist() == s["probs_f16_bits"]
        if "target_logprobs_f32_bits" in s:
            assert r.target_logprobs.view(np.uint32).tolist() == s["target_logprobs_f32_bits"]
        else:
            assert r.target_logprobs is None
    if "descriptor" in want:
        from logitstore.format.descriptor import descriptor_bytes
        assert descriptor_bytes(st.manifest) == want["descriptor"].encode("utf-8")
        assert f"{st.descriptor_hash:016x}" == want["descriptor_xxh3"]
    report = st.verify()
    assert report.ok, report.problems
    assert report.positions == want["positions"]


def test_some_vectors_hold_logits():
    assert WITH_LOGITS


@pytest.mark.parametrize("name", WITH_LOGITS)
def test_vector_logits_give_the_stored_entries(name):
    st, want = load(name)
    t, V = st.truncation, st.vocab_size
    width = st.padded_vocab_size
    writer = st.manifest.shards[0].writer_id
    for ordinal, s in enumerate(want["sequences"]):
        if "logits_f32_bits" not in s:
            continue
        x = np.array(s["logits_f32_bits"], dtype=np.uint32).view(np.float32).reshape(-1, width)
        tokens = np.array(s["tokens"])
        if t["policy"] == "sample":
            got = sample_rows(x, V, t, writer, ordinal, tokens=tokens)
        else:
            got = top_p_k_numpy(x, V, t["top_p"], t["top_k"], t["temperature"], tokens=tokens)
        assert got.counts.tolist() == s["counts"]
        assert got.ids.tolist() == s["ids"]
        assert got.probs.view(np.uint16).tolist() == s["probs_f16_bits"]
        if "target_logprobs_f32_bits" in s:
            want_t = np.array(s["target_logprobs_f32_bits"], dtype=np.uint32).view(np.float32)
            assert np.array_equal(np.isnan(got.target_logprobs), np.isnan(want_t))
            ok = ~np.isnan(want_t)
            assert np.allclose(got.target_logprobs[ok], want_t[ok], rtol=1e-6, atol=1e-6)


REJECT_DIR = os.path.join(VECTORS, "reject")
REJECT = (json.load(open(os.path.join(REJECT_DIR, "index.json"))) if os.path.exists(os.path.join(REJECT_DIR, "index.json"))
          else [{"name": os.path.basename(p), "stage": "verify"} for p in sorted(glob.glob(os.path.join(REJECT_DIR, "*")))
                if os.path.isdir(p)])
STAGES = ("open", "read", "verify")


def _first_failing_stage(path):
    """The first of open / read (every block) / verify at which the store at `path` is refused, or None."""
    try:
        st = logitstore.open(path)
    except logitstore.StoreError:
        return "open"
    try:
        for _ in st.scan():
            pass
    except logitstore.StoreError:
        return "read"
    try:
        problems = st.verify().problems
    except logitstore.StoreError:
        return "verify"
    return "verify" if problems else None


@pytest.mark.skipif(not REJECT, reason="Spec/vectors/reject/ holds no must-reject vectors")
@pytest.mark.parametrize("entry", REJECT or [None], ids=[e["name"] for e in REJECT] or ["none"])
def test_must_reject_vector_is_refused_by_its_stage(entry):
    stage = _first_failing_stage(os.path.join(REJECT_DIR, entry["name"]))
    assert stage is not None, f"{entry['name']} ({entry.get('rule')}) was accepted"
    assert STAGES.index(stage) <= STAGES.index(entry["stage"]), \
        f"{entry['name']} ({entry.get('rule')}) refused only at {stage}, the Spec requires {entry['stage']}"
