"""Writer -> reader round trips (Spec §4-§6): pre-truncated rows and logits rows, several blocks and shards,
codecs, padded vocabularies, resume, and the commit protocol."""
import json
import os

import numpy as np
import pytest

import logitstore
from logitstore.format.layout import MANIFEST_NAME
from conftest import random_logits, random_rows


def write_rows(path, sequences, vocab=300, top_k=12, **kw):
    """Writes pre-truncated sequences [(tokens, counts, ids, probs, tl)] and returns them."""
    with logitstore.Writer(path, vocab_size=vocab, top_p=0.95, top_k=top_k, **kw) as w:
        for tokens, counts, ids, probs, tl in sequences:
            w.add_sequence(tokens, ids=ids, probs=probs, counts=counts, target_logprobs=tl)
    return sequences


def make_sequences(rng, n, vocab=300, top_k=12, lengths=(1, 80), with_tl=True):
    out = []
    for _ in range(n):
        T = int(rng.integers(lengths[0], lengths[1] + 1))
        counts, ids, probs = random_rows(rng, T, vocab, top_k)
        tl = -rng.random(T).astype(np.float32) * 5 if with_tl else None
        if with_tl:
            tl[-1] = np.nan
        out.append((rng.integers(0, vocab, T).astype(np.uint32), counts, ids, probs, tl))
    return out


def assert_record(rec, tokens, counts, ids, probs, tl):
    assert rec.tokens.dtype == np.uint32 and np.array_equal(rec.tokens, tokens)
    assert rec.counts.dtype == np.int64 and np.array_equal(rec.counts, counts)
    assert rec.offsets.dtype == np.int64 and rec.offsets[-1] == ids.size and rec.offsets.size == tokens.size + 1
    assert rec.ids.dtype == np.uint32 and np.array_equal(rec.ids, ids)
    assert rec.probs.dtype == np.float16 and np.array_equal(rec.probs.view(np.uint16), probs.view(np.uint16))
    if tl is None:
        assert rec.target_logprobs is None
    else:
        assert np.array_equal(rec.target_logprobs.view(np.uint32), tl.view(np.uint32))


@pytest.mark.parametrize("codec", ["zstd", "lz4", "none", "zstd:9"])
def test_round_trip_many_blocks_and_shards(tmp_path, rng, codec):
    seqs = make_sequences(rng, 60)
    write_rows(tmp_path / "s", seqs, codec=codec, block_bytes=2048, shard_bytes=6000)
    with logitstore.open(tmp_path / "s") as st:
        assert len(st.shards) > 2 and st.block_count() > len(st.shards)
        assert st.num_sequences == 60
        assert st.num_positions == sum(s[0].size for s in seqs)
        for i, s in enumerate(seqs):
            assert_record(st.sequence(i), *s)
        # A global range across shards and blocks equals the concatenation.
        a, b = st.sequence_range(3)[0] + 5, st.sequence_range(40)[1] - 2
        rec = st.read(a, b)
        whole = [np.concatenate(x) for x in zip(*[(s[0], s[1], s[2], s[3], s[4]) for s in seqs])]
        eo = np.concatenate(([0], np.cumsum(whole[1])))
        assert np.array_equal(rec.tokens, whole[0][a:b]) and np.array_equal(rec.counts, whole[1][a:b])
        assert np.array_equal(rec.ids, whole[2][eo[a]:eo[b]])
        assert np.array_equal(rec.probs.view(np.uint16), whole[3][eo[a]:eo[b]].view(np.uint16))
        assert np.array_equal(st.sequence_offsets, np.concatenate(([0], np.cumsum([s[0].size for s in seqs]))))
        assert st.verify().ok, st.verify().problems


def test_round_trip_without_target_stream(tmp_path, rng):
    seqs = make_sequences(rng, 5, with_tl=False)
    write_rows(tmp_path / "s", seqs, target_logprobs=False)
    with logitstore.open(tmp_path / "s") as st:
        assert not st.has_target_logprobs
        for i, s in enumerate(seqs):
            assert_record(st.sequence(i), *s)


def test_missing_target_logprobs_are_stored_as_nan(tmp_path, rng):
    tokens = np.array([1, 2, 3], np.uint32)
    with logitstore.Writer(tmp_path / "s", vocab_size=10, top_k=2) as w:
        w.add_sequence(tokens, ids=[1, 2, 3], probs=[0.5, 0.5, 0.25], counts=[1, 1, 1])
    rec = logitstore.open(tmp_path / "s").sequence(0)
    assert np.isnan(rec.target_logprobs).all()


def test_logits_rows_numpy_and_padded_width(tmp_path, rng):
    V, W = 120, 128
    x = random_logits(rng, 30, W)
    x[:, V:] = 50.0  # padded columns are ignored: they would win every row otherwise
    tokens = rng.integers(0, V, 30).astype(np.uint32)
    with logitstore.Writer(tmp_path / "s", vocab_size=V, padded_vocab_size=W, top_p=0.9, top_k=20) as w:
        w.add_sequence(tokens, logits=x)
    with logitstore.open(tmp_path / "s") as st:
        assert st.padded_vocab_size == W
        rec = st.sequence(0)
    assert rec.ids.max() < V
    ref = logitstore.truncation.top_p_k_numpy(x, V, 0.9, 20, tokens=tokens)
    assert np.array_equal(rec.counts, ref.counts) and np.array_equal(rec.ids, ref.ids)
    assert np.array_equal(rec.target_logprobs.view(np.uint32), ref.target_logprobs.view(np.uint32))
    assert np.isnan(rec.target_logprobs[-1]) and (rec.target_logprobs[:-1] <= 0).all()


def test_logits_rows_torch(tmp_path, rng):
    torch = pytest.importorskip("torch")
    V = 200
    x = random_logits(rng, 25, V)
    tokens = rng.integers(0, V, 25).astype(np.uint32)
    with logitstore.Writer(tmp_path / "a", vocab_size=V) as w:
        w.add_sequence(tokens, logits=x)
    with logitstore.Writer(tmp_path / "b", vocab_size=V) as w:
        w.add_sequence(torch.from_numpy(tokens.astype(np.int64)), logits=torch.from_numpy(x))
    ra, rb = logitstore.open(tmp_path / "a").sequence(0), logitstore.open(tmp_path / "b").sequence(0)
    assert ra.tokens.tolist() == rb.tokens.tolist()
    assert np.array_equal(ra.ids[ra.offsets[:-1]], rb.ids[rb.offsets[:-1]])  # top-1 identical
    assert np.abs(ra.counts - rb.counts).max() <= 1


def test_resume_after_committed_sequences(tmp_path, rng):
    seqs = make_sequences(rng, 20)
    path = tmp_path / "s"
    w = logitstore.Writer(path, vocab_size=300, top_k=12, shard_bytes=3000)
    for s in seqs[:12]:
        w.add_sequence(s[0], ids=s[2], probs=s[3], counts=s[1], target_logprobs=s[4])
    committed = w.committed_sequences
    assert 0 < committed < 12 and w.pending_sequences == 12 - committed
    w._fail()  # as a crash: the open shard's temp file is gone, the lock released
    with open(path / ".w0-999999.lgs.tmp", "wb") as f:
        f.write(b"leftover")
    w = logitstore.Writer(path, vocab_size=300, top_k=12, shard_bytes=3000)
    assert w.committed_sequences == committed
    assert not (path / ".w0-999999.lgs.tmp").exists()
    for s in seqs[committed:]:
        w.add_sequence(s[0], ids=s[2], probs=s[3], counts=s[1], target_logprobs=s[4])
    w.close()
    with logitstore.open(path) as st:
        assert st.num_sequences == 20
        for i, s in enumerate(seqs):
            assert_record(st.sequence(i), *s)


def test_second_live_writer_with_same_id_is_refused(tmp_path):
    w = logitstore.Writer(tmp_path / "s", vocab_size=10)
    with pytest.raises(logitstore.IncompatibleStoreError, match="in use"):
        logitstore.Writer(tmp_path / "s", vocab_size=10)
    other = logitstore.Writer(tmp_path / "s", vocab_size=10, writer_id="w1")
    w.add_sequence([1], ids=[2], probs=[0.5], counts=[1])
    other.add_sequence([3], ids=[4], probs=[0.5], counts=[1])
    other.close()
    w.close()
    st = logitstore.open(tmp_path / "s")
    assert sorted(s.writer_id for s in st.manifest.shards) == ["w0", "w1"] and st.num_sequences == 2


def test_resume_with_another_policy_is_refused(tmp_path):
    logitstore.Writer(tmp_path / "s", vocab_size=10, top_k=5).close()
    with pytest.raises(logitstore.IncompatibleStoreError, match="truncation"):
        logitstore.Writer(tmp_path / "s", vocab_size=10, top_k=6)
    with pytest.raises(logitstore.IncompatibleStoreError, match="vocabulary"):
        logitstore.Writer(tmp_path / "s", vocab_size=11, top_k=5)


def test_commit_protocol_leaves_only_committed_files(tmp_path, rng):
    path = tmp_path / "s"
    w = logitstore.Writer(path, vocab_size=300, top_k=12)
    for s in make_sequences(rng, 3):
        w.add_sequence(s[0], ids=s[2], probs=s[3], counts=s[1], target_logprobs=s[4])
    assert json.loads((path / MANIFEST_NAME).read_text())["shards"] == []
    assert (path / ".w0-000000.lgs.tmp").exists()
    w.commit()
    assert not (path / ".w0-000000.lgs.tmp").exists() and (path / "w0-000000.lgs").exists()
    m = json.loads((path / MANIFEST_NAME).read_text())
    assert m["format_version"] == 2 and m["truncation"]["policy"] == "top-p-k"
    assert [s["file"] for s in m["shards"]] == ["w0-000000.lgs"]
    w.close()
    with pytest.raises(logitstore.WriterClosedError):
        w.add_sequence([1], ids=[1], probs=[0.5], counts=[1])


def test_exception_in_with_block_discards_the_open_shard(tmp_path):
    with pytest.raises(RuntimeError):
        with logitstore.Writer(tmp_path / "s", vocab_size=10) as w:
            w.add_sequence([1], ids=[2], probs=[0.5], counts=[1])
            raise RuntimeError("job died")
    st = logitstore.open(tmp_path / "s")
    assert st.num_sequences == 0
    assert [n for n in os.listdir(tmp_path / "s") if n.endswith(".tmp")] == []


def test_scan_yields_every_position_once(tmp_path, rng):
    seqs = make_sequences(rng, 30)
    write_rows(tmp_path / "s", seqs, block_bytes=2048, shard_bytes=6000)
    st = logitstore.open(tmp_path / "s")
    whole = st.read(0, st.num_positions)
    for a, b in [(0, st.num_positions), (7, st.num_positions - 3), (100, 101), (5, 5)]:
        recs = list(st.scan(a, b))
        assert sum(r.num_positions for r in recs) == b - a
        if recs:
            assert np.array_equal(np.concatenate([r.tokens for r in recs]), whole.tokens[a:b])
            e = whole.offsets
            assert np.array_equal(np.concatenate([r.ids for r in recs]), whole.ids[e[a]:e[b]])
            assert np.array_equal(np.concatenate([r.probs for r in recs]).view(np.uint16),
                                  whole.probs[e[a]:e[b]].view(np.uint16))
            assert np.array_equal(np.concatenate([r.target_logprobs for r in recs]).view(np.uint32),
                                  whole.target_logprobs[a:b].view(np.uint32))
            assert all(r.tokens.flags.writeable and r.ids.flags.writeable for r in recs)


def test_large_vocabulary_path_of_the_id_table(tmp_path, rng, monkeypatch):
    # Vocabularies above DENSE_LIMIT map ranks without an array over V; force that path on a small store.
    from logitstore.format import id_table
    seqs = make_sequences(rng, 8)
    write_rows(tmp_path / "s", seqs)
    monkeypatch.setattr(id_table, "DENSE_LIMIT", 0)
    st = logitstore.open(tmp_path / "s")
    assert isinstance(st.shards[0].id_table(st.vocab_size, st._decompressor), id_table.CompactPermutation)
    for i, s in enumerate(seqs):
        assert_record(st.sequence(i), *s)
