"""Conformance both ways with the Swift implementation (needs LOGITSTORE_BIN; Tools/test sets it):
a Python-written store passes `logitstore verify` and `logitstore export` gives back exactly what was written;
a Swift-written store decodes bit-exactly in Python against `logitstore export`; Python- and Swift-written stores
of the same rows are within 1% in size; torch truncation of real teacher logits rows matches the Swift writer
within Spec §1.2's tolerance."""
import os
import sys

import numpy as np
import pytest

import logitstore
from logitstore.truncation import top_p_k_torch
from conftest import REPO, random_logits, random_rows


def load_export(swift, store, out):
    swift("export", store, "--out", out)
    get = lambda n: np.load(os.path.join(out, n)) if os.path.exists(os.path.join(out, n)) else None
    return {n: get(n + ".npy") for n in ("tokens", "sequence_lengths", "counts", "ids", "probs", "target_logprobs")}


def assert_store_equals_export(store_path, exported):
    st = logitstore.open(store_path)
    rec = st.read(0, st.num_positions)
    assert np.array_equal(st.sequence_lengths(), exported["sequence_lengths"])
    assert np.array_equal(rec.tokens, exported["tokens"])
    assert np.array_equal(rec.counts, exported["counts"].astype(np.int64))
    assert np.array_equal(rec.ids, exported["ids"])
    assert np.array_equal(rec.probs.view(np.uint16), exported["probs"].view(np.uint16))
    if exported["target_logprobs"] is None:
        assert rec.target_logprobs is None
    else:
        assert np.array_equal(rec.target_logprobs.view(np.uint32), exported["target_logprobs"].view(np.uint32))
    for i in range(0, st.num_sequences, max(1, st.num_sequences // 7)):  # per-sequence access too
        a, b = st.sequence_range(i)
        assert np.array_equal(st.sequence(i).tokens, exported["tokens"][a:b])
    return st


def test_python_written_store_passes_swift_verify_and_export(swift, tmp_path, rng):
    V, seqs = 500, []
    path = tmp_path / "py"
    with logitstore.Writer(path, vocab_size=V, top_p=0.9, top_k=20, block_bytes=4096, shard_bytes=20000,
                           teacher={"name": "t", "tokenizer_hash": "abc"}) as w:
        for n in range(40):
            T = int(rng.integers(1, 120))
            tokens = rng.integers(0, V, T).astype(np.uint32)
            if n % 2:
                w.add_sequence(tokens, logits=random_logits(rng, T, V))
            else:
                counts, ids, probs = random_rows(rng, T, V, 20)
                tl = np.where(rng.random(T) < 0.1, np.nan, -rng.random(T) * 4).astype(np.float32)
                w.add_sequence(tokens, ids=ids, probs=probs, counts=counts, target_logprobs=tl)
            seqs.append(T)
    p = swift("verify", path)
    assert p.returncode == 0
    st = assert_store_equals_export(path, load_export(swift, path, tmp_path / "exp"))
    assert len(st.shards) > 1 and st.sequence_lengths().tolist() == seqs


def test_python_written_sampled_store_passes_swift_verify(swift, tmp_path, rng):
    V = 300
    with logitstore.Writer(tmp_path / "py", vocab_size=V, policy="sample:32:0.8", sample_seed=9) as w:
        for _ in range(5):
            w.add_sequence(rng.integers(0, V, 30), logits=random_logits(rng, 30, V))
    swift("verify", tmp_path / "py")
    assert_store_equals_export(tmp_path / "py", load_export(swift, tmp_path / "py", tmp_path / "exp"))


def _npy_inputs(tmp_path, rng, V, lengths, with_logits=True):
    N = int(sum(lengths))
    d = {"tokens": rng.integers(0, V, N).astype(np.uint32), "sequence_lengths": np.array(lengths, np.int64)}
    if with_logits:
        d["logits"] = random_logits(rng, N, V)
    else:
        d["counts"], d["ids"], d["probs"] = random_rows(rng, N, V, 30)
        d["counts"] = d["counts"].astype(np.uint8)
    files = {}
    for k, v in d.items():
        files[k] = tmp_path / f"{k}.npy"
        np.save(files[k], v)
    return d, files


def test_swift_written_store_decodes_bit_exactly(swift, tmp_path, rng):
    V = 700
    _, f = _npy_inputs(tmp_path, rng, V, [int(x) for x in rng.integers(1, 300, 30)])
    swift("import", "--out", tmp_path / "sw", "--tokens", f["tokens"], "--sequence-lengths", f["sequence_lengths"],
          "--logits", f["logits"], "--top-p", "0.95", "--top-k", "50")
    st = assert_store_equals_export(tmp_path / "sw", load_export(swift, tmp_path / "sw", tmp_path / "exp"))
    assert st.verify().ok
    for codec in ("lz4", "none"):
        swift("import", "--out", tmp_path / codec, "--tokens", f["tokens"], "--sequence-lengths",
              f["sequence_lengths"], "--logits", f["logits"], "--codec", codec)
        assert_store_equals_export(tmp_path / codec, load_export(swift, tmp_path / codec, tmp_path / f"exp-{codec}"))


def test_python_and_swift_store_sizes_within_one_percent(swift, tmp_path, rng):
    V = 49152
    lengths = [512] * 80
    d, f = _npy_inputs(tmp_path, rng, V, lengths, with_logits=False)
    # Realistic ids: small ids frequent (Zipf-like gaps), distinct within a position (increasing).
    off = np.concatenate(([0], np.cumsum(d["counts"].astype(np.int64))))
    gaps = np.minimum(rng.zipf(1.5, d["ids"].size), 1000)
    starts = np.repeat(off[:-1], d["counts"].astype(np.int64))
    csum = np.cumsum(gaps)
    d["ids"] = (csum - np.concatenate(([0], csum))[starts] - 1).astype(np.uint32)
    np.save(f["ids"], d["ids"])
    swift("import", "--out", tmp_path / "sw", "--tokens", f["tokens"], "--sequence-lengths", f["sequence_lengths"],
          "--ids", f["ids"], "--probs", f["probs"], "--counts", f["counts"], "--vocab", V, "--top-k", 30)
    sw = logitstore.open(tmp_path / "sw")
    with logitstore.Writer(tmp_path / "py", vocab_size=V, top_k=30, target_logprobs=sw.has_target_logprobs,
                           teacher=sw.teacher) as w:
        a = 0
        for L in lengths:
            w.add_sequence(d["tokens"][a:a + L], ids=d["ids"][off[a]:off[a + L]], probs=d["probs"][off[a]:off[a + L]],
                           counts=d["counts"][a:a + L])
            a += L
    py = logitstore.open(tmp_path / "py")
    size = lambda st: sum(s.entry.bytes for s in st.shards)
    rs, rp = sw.read(0, sw.num_positions), py.read(0, py.num_positions)
    assert np.array_equal(rs.ids, rp.ids) and np.array_equal(rs.probs.view(np.uint16), rp.probs.view(np.uint16))
    assert abs(size(py) - size(sw)) <= 0.01 * size(sw), (size(py), size(sw))


def _teacher_logits(n_tokens):
    """Real SmolLM2 logits rows from the NumPy forward (Tools/python/scripts/smollm2_numpy.py) of the cached GGUF."""
    pytest.importorskip("gguf")
    model = os.path.join(os.environ.get("LOGITSTORE_CACHE", os.path.expanduser("~/.cache/logitstore")), "models",
                         "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.exists(model):
        pytest.skip(f"teacher not fetched ({model}); run Tools/fetch-teacher")
    sys.path.insert(0, os.path.join(REPO, "Tools", "python", "scripts"))
    from smollm2_numpy import NumpyLlama
    m = NumpyLlama(model)
    rng = np.random.default_rng(5)
    tokens = rng.integers(0, 49152, n_tokens).astype(np.uint32)
    # Text-like context: repeat a short random phrase so the teacher becomes confident on part of the rows.
    tokens[n_tokens // 2:] = np.resize(tokens[: n_tokens // 4], n_tokens - n_tokens // 2)
    return tokens, np.asarray(m.logits(tokens[None, :])[0], dtype=np.float32)


def test_torch_truncation_matches_swift_on_real_teacher_rows(swift, tmp_path):
    torch = pytest.importorskip("torch")
    tokens, logits = _teacher_logits(96)
    V = logits.shape[1]
    np.save(tmp_path / "tokens.npy", tokens)
    np.save(tmp_path / "lengths.npy", np.array([tokens.size], np.int64))
    np.save(tmp_path / "logits.npy", logits)
    swift("import", "--out", tmp_path / "sw", "--tokens", tmp_path / "tokens.npy", "--sequence-lengths",
          tmp_path / "lengths.npy", "--logits", tmp_path / "logits.npy", "--top-p", "0.95", "--top-k", "100")
    exported = load_export(swift, tmp_path / "sw", tmp_path / "exp")
    assert_store_equals_export(tmp_path / "sw", exported)  # a Swift-written real-teacher store, bit-exact
    got = top_p_k_torch(torch.from_numpy(logits), V, 0.95, 100, tokens=tokens)
    sc = exported["counts"].astype(np.int64)
    so, go = np.concatenate(([0], np.cumsum(sc))), np.concatenate(([0], np.cumsum(got.counts)))
    assert np.array_equal(exported["ids"][so[:-1]], got.ids[go[:-1]])  # top-1 identical everywhere
    # §1.2: one entry of difference only where the cumulative mass lies within 1e-5 of p.
    for j in np.flatnonzero(sc != got.counts):
        n = int(min(sc[j], got.counts[j]))
        q = np.sort(np.exp(logits[j].astype(np.float64) - logits[j].max()))[::-1]
        q /= q.sum()
        assert abs(q[:n + 1].sum() - 0.95) <= 1e-5 or abs(q[:n].sum() - 0.95) <= 1e-5
        assert abs(int(sc[j]) - int(got.counts[j])) == 1
    for j in np.flatnonzero(sc == got.counts):
        assert np.array_equal(exported["ids"][so[j]:so[j + 1]], got.ids[go[j]:go[j + 1]])
        ulp = np.abs(exported["probs"][so[j]:so[j + 1]].view(np.int16).astype(int)
                     - got.probs[go[j]:go[j + 1]].view(np.int16))
        assert ulp.max() <= 1
    assert (sc == got.counts).mean() >= 0.95
    # log q(next): each writer's Σexp is within 1e-5 relative (§1.2), so the log-probs agree within 2e-5.
    assert np.abs(exported["target_logprobs"][:-1] - got.target_logprobs[:-1]).max() <= 2e-5
    assert np.isnan(exported["target_logprobs"][-1]) and np.isnan(got.target_logprobs[-1])


def test_swift_sampled_store_matches_python_sampling(swift, tmp_path, rng):
    if "--policy" not in swift("import", "--help").stdout:
        pytest.skip("this logitstore CLI has no --policy option yet (sampled stores come with the sampler work)")
    V = 500
    from logitstore.sampling import sample_rows
    d, f = _npy_inputs(tmp_path, rng, V, [int(x) for x in rng.integers(5, 60, 12)])
    for policy, seed in (("sample:32", 0), ("sample:24:0.7", 77)):
        out = tmp_path / policy.replace(":", "_")
        swift("import", "--out", out, "--tokens", f["tokens"], "--sequence-lengths", f["sequence_lengths"],
              "--logits", f["logits"], "--policy", policy, "--sample-seed", seed)
        st = assert_store_equals_export(out, load_export(swift, out, tmp_path / f"exp-{seed}"))
        assert st.is_sampled and st.truncation["seed"] == seed
        same = total = 0
        a = 0
        for ordinal, n in enumerate(d["sequence_lengths"].tolist()):
            want = st.sequence(ordinal)
            got = sample_rows(d["logits"][a:a + n], V, st.truncation, st.manifest.shards[0].writer_id, ordinal,
                              tokens=d["tokens"][a:a + n])
            wo, go = want.offsets, np.concatenate(([0], np.cumsum(got.counts)))
            for j in range(n):
                total += 1
                same += (np.array_equal(want.ids[wo[j]:wo[j + 1]], got.ids[go[j]:go[j + 1]]) and
                         np.array_equal(want.probs[wo[j]:wo[j + 1]].view(np.uint16), got.probs[go[j]:go[j + 1]].view(np.uint16)))
            a += n
        assert same / total >= 0.99, (policy, same, total)  # only draws within rounding of a boundary may differ


@pytest.mark.parametrize("options", [
    dict(codec="lz4", target_logprobs=False),
    dict(codec="none", padded_vocab_size=416, temperature=1.5),
    dict(codec="zstd:9", top_p=1.0, top_k=7, teacher={"name": 'Smöl "x"\n', "weights_hash": "w", "tokenizer_hash": ""}),
])
def test_python_written_variants_pass_swift_verify(swift, tmp_path, rng, options):
    V = 400
    width = options.get("padded_vocab_size", V)
    rows = []
    with logitstore.Writer(tmp_path / "py", vocab_size=V, block_bytes=2048, **options) as w:
        for _ in range(6):
            T = int(rng.integers(1, 50))
            tokens = rng.integers(0, V, T)
            x = random_logits(rng, T, width)
            w.add_sequence(tokens, logits=x)
            rows.append(T)
    swift("verify", tmp_path / "py")
    st = assert_store_equals_export(tmp_path / "py", load_export(swift, tmp_path / "py", tmp_path / "exp"))
    assert st.sequence_lengths().tolist() == rows
