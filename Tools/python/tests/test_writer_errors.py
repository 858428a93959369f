"""The writer's invariants (Spec §5): each bad input raises InvalidInputError with a clear one-line message, and
nothing of the offending sequence is committed; the writer stays usable."""
import numpy as np
import pytest

import logitstore

V = 50


def rows(**override):
    d = dict(tokens=np.array([1, 2, 3]), ids=np.array([4, 5, 6, 7]), probs=np.array([0.5, 0.25, 0.75, 0.5]),
             counts=np.array([2, 1, 1]), target_logprobs=None)
    d.update(override)
    return d


@pytest.mark.parametrize("override,match", [
    (dict(tokens=np.array([], dtype=np.int64), counts=np.array([], dtype=np.int64), ids=np.array([], dtype=np.int64),
          probs=np.array([])), "non-empty"),
    (dict(tokens=np.array([1, 50, 3])), "token 50 at position 1 is not below the vocabulary size 50"),
    (dict(tokens=np.array([1, -1, 3])), "token -1"),
    (dict(ids=np.array([4, 5, 60, 7])), "id 60 at position 1 is not below the vocabulary size 50"),
    (dict(probs=np.array([0.25, 0.5, 0.75, 0.5])), "position 0 are not descending"),
    (dict(probs=np.array([0.5, 0.25, np.nan, 0.5])), "outside"),
    (dict(probs=np.array([0.5, 0.25, 1.5, 0.5])), "outside"),
    (dict(probs=np.array([0.5, -0.25, 0.5, 0.5])), "outside"),
    (dict(probs=np.array([0.75, 0.75, 0.5, 0.5])), "sum to"),
    (dict(counts=np.array([2, 2, 1])), "counts sum to 5 but there are 4 ids"),
    (dict(counts=np.array([3, 0, 1])), "keeps 0 entries"),
    (dict(counts=np.array([2, 1])), "3 tokens but 2 rows"),
    (dict(counts=np.array([4, 0, 0])), "at least 1"),
    (dict(target_logprobs=np.array([-1.0, 0.5, np.nan])), "target log-prob 0.5 at position 1 is positive"),
    (dict(target_logprobs=np.array([-1.0])), "3 tokens but 1 target"),
    (dict(ids=np.array([4.0, 5, 6, 7])), "integers"),
    (dict(ids=np.array([4, 4, 6, 7])), "position 0: id 4 appears twice"),
])
def test_bad_pre_truncated_rows(tmp_path, override, match):
    with logitstore.Writer(tmp_path / "s", vocab_size=V, top_k=3) as w:
        r = rows(**override)
        with pytest.raises(logitstore.InvalidInputError, match=match) as e:
            w.add_sequence(r.pop("tokens"), **r)
        assert "\n" not in str(e.value) and len(str(e.value)) <= 300
        r = rows()
        w.add_sequence(r.pop("tokens"), **r)  # still usable
    st = logitstore.open(tmp_path / "s")
    assert st.num_sequences == 1 and st.sequence(0).tokens.tolist() == [1, 2, 3]


def test_count_above_top_k(tmp_path):
    with logitstore.Writer(tmp_path / "s", vocab_size=V, top_k=1) as w:
        with pytest.raises(logitstore.InvalidInputError, match="keeps 2 entries, more than top-k 1"):
            r = rows()
            w.add_sequence(r.pop("tokens"), **r)
    assert logitstore.open(tmp_path / "s").num_sequences == 0


@pytest.mark.parametrize("make,match", [
    (lambda: np.zeros((3, V + 1), np.float32), r"shape \(3, 51\)"),
    (lambda: np.zeros((2, V), np.float32), "2 logits rows for 3 tokens"),
    (lambda: np.zeros((3,), np.float32), "shape"),
    (lambda: np.where(np.arange(3 * V).reshape(3, V) == 70, np.nan, 0).astype(np.float32),
     "logits row 1 has a non-finite value \\(nan\\) at column 20"),
    (lambda: np.where(np.arange(3 * V).reshape(3, V) == 149, np.inf, 0).astype(np.float32), "row 2 .* column 49"),
    (lambda: np.where(np.arange(3 * V).reshape(3, V) == 0, -np.inf, 0).astype(np.float32), "row 0"),
    (lambda: np.zeros((3, V), np.int32), "floating point"),
])
def test_bad_logits(tmp_path, make, match):
    with logitstore.Writer(tmp_path / "s", vocab_size=V) as w:
        with pytest.raises(logitstore.InvalidInputError, match=match):
            w.add_sequence([1, 2, 3], logits=make())
        w.add_sequence([1, 2, 3], logits=np.zeros((3, V), np.float32))
    assert logitstore.open(tmp_path / "s").num_sequences == 1


def test_bad_logits_torch(tmp_path):
    torch = pytest.importorskip("torch")
    x = torch.zeros(3, V)
    x[1, 7] = float("nan")
    with logitstore.Writer(tmp_path / "s", vocab_size=V) as w:
        with pytest.raises(logitstore.InvalidInputError, match="row 1 has a non-finite value .* column 7"):
            w.add_sequence(torch.tensor([1, 2, 3]), logits=x)


def test_both_logits_and_rows(tmp_path):
    with logitstore.Writer(tmp_path / "s", vocab_size=V) as w:
        with pytest.raises(logitstore.InvalidInputError, match="either"):
            w.add_sequence([1], logits=np.zeros((1, V), np.float32), ids=[1], probs=[0.5], counts=[1])
        with pytest.raises(logitstore.InvalidInputError, match="needs logits"):
            w.add_sequence([1], ids=[1])


def test_targets_without_stream(tmp_path):
    with logitstore.Writer(tmp_path / "s", vocab_size=V, target_logprobs=False) as w:
        with pytest.raises(logitstore.InvalidInputError, match="without the target-log-prob stream"):
            w.add_sequence([1], ids=[1], probs=[0.5], counts=[1], target_logprobs=[-1.0])


@pytest.mark.parametrize("kwargs,match", [
    (dict(vocab_size=0), "vocabulary size"),
    (dict(vocab_size=V, padded_vocab_size=V - 1), "padded"),
    (dict(vocab_size=V, writer_id=".x"), "writer id"),
    (dict(vocab_size=V, writer_id="a/b"), "writer id"),
    (dict(vocab_size=V, top_p=0), "top_p"),
    (dict(vocab_size=V, top_k=0), "top_k"),
    (dict(vocab_size=V, top_k=70000), "top_k"),
    (dict(vocab_size=V, temperature=0), "temperature"),
    (dict(vocab_size=V, codec="gzip"), "codec"),
    (dict(vocab_size=V, policy="sample:0"), "samples"),
    (dict(vocab_size=V, policy="top-k:3"), "policy"),
    (dict(vocab_size=V, block_bytes=10), "block size"),
])
def test_bad_options(tmp_path, kwargs, match):
    with pytest.raises(logitstore.InvalidInputError, match=match):
        logitstore.Writer(tmp_path / "s", **kwargs)


def test_sampled_store_rows_must_be_weights(tmp_path):
    with logitstore.Writer(tmp_path / "s", vocab_size=V, policy="sample:4") as w:
        with pytest.raises(logitstore.InvalidInputError, match="sum to"):
            w.add_sequence([1], ids=[1, 2], probs=[0.5, 0.25], counts=[2])
        with pytest.raises(logitstore.InvalidInputError, match="float16"):
            w.add_sequence([1], ids=[1, 2], probs=[0.625, 0.375], counts=[2])
        w.add_sequence([1, 2], ids=[1, 2, 3], probs=[0.75, 0.25, 1.0], counts=[2, 1])
    st = logitstore.open(tmp_path / "s")
    assert st.verify().ok and st.sequence(0).counts.tolist() == [2, 1]


def test_nan_target_logprobs_are_written_canonically(tmp_path):
    odd_nan = np.array([0x7FC00001, 0xFFC00000], np.uint32).view(np.float32)
    with logitstore.Writer(tmp_path / "s", vocab_size=V) as w:
        w.add_sequence([1, 2], ids=[1, 2], probs=[0.5, 0.5], counts=[1, 1], target_logprobs=odd_nan)
    rec = logitstore.open(tmp_path / "s").sequence(0)
    assert rec.target_logprobs.view(np.uint32).tolist() == [0x7FC00000, 0x7FC00000]


def test_stale_manifest_temps_are_removed_under_the_lock(tmp_path):
    logitstore.Writer(tmp_path / "s", vocab_size=V).close()
    stale = tmp_path / "s" / ".manifest.json.4242.tmp"
    stale.write_text("{")
    w = logitstore.Writer(tmp_path / "s", vocab_size=V)
    assert not stale.exists()
    w.close()
