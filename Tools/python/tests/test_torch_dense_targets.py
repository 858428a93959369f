"""dense_targets (the dataset's padded read-time targets) is bit-identical to Record.targets + padding."""
import numpy as np
import pytest

pytest.importorskip("torch")
import logitstore  # noqa: E402
from logitstore.torch.dense_targets import dense_targets  # noqa: E402
from logitstore.torch.padding import pad_targets  # noqa: E402


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    path = tmp_path_factory.mktemp("dense") / "store"
    rng = np.random.default_rng(11)
    with logitstore.Writer(path, vocab_size=300, top_p=0.97, top_k=40, teacher="random") as w:
        for n in (50, 70, 33):
            w.add_sequence(rng.integers(0, 300, size=n).astype(np.uint32),
                           logits=(rng.normal(size=(n, 300)) * rng.uniform(0.5, 4)).astype(np.float32))
    s = logitstore.open(path)
    return s.read(0, s.num_positions)


@pytest.mark.parametrize("top_p", [1.0, 0.9, 0.5])
@pytest.mark.parametrize("top_k", [None, 7])
@pytest.mark.parametrize("tau", [1.0, 2.0, 0.6])
@pytest.mark.parametrize("bucket", [False, True])
def test_dense_targets_equal_record_targets_bit_for_bit(record, top_p, top_k, tau, bucket):
    off, ids, probs, dropped = record.targets(top_p=top_p, top_k=top_k, temperature=tau, dropped_mass_bucket=bucket)
    K = 40
    want_ids, want_probs, want_mask = pad_targets(off, ids, probs, K)
    got_ids, got_probs, got_mask, got_dropped = dense_targets(record.counts, record.probs, record.ids,
                                                              record.truncation, top_p, top_k, tau, bucket, width=K)
    assert np.array_equal(got_mask, want_mask)
    assert np.array_equal(got_ids, want_ids)
    assert np.array_equal(got_probs.view(np.uint32), want_probs.view(np.uint32))
    if bucket:
        assert np.array_equal(got_dropped.view(np.uint32), dropped.view(np.uint32))
    else:
        assert got_dropped is None
    auto = dense_targets(record.counts, record.probs, record.ids, record.truncation, top_p, top_k, tau, bucket)
    assert auto[0].shape[1] == int(np.diff(off).max())


def test_sampled_store_refuses_retruncation():
    counts = np.array([2]); probs = np.array([0.5, 0.5], np.float16); ids = np.array([1, 2], np.uint32)
    pol = {"policy": "sample", "top_p": 1, "top_k": 4, "temperature": 1}
    with pytest.raises(logitstore.TargetPolicyError):
        dense_targets(counts, probs, ids, pol, top_p=0.9)
    with pytest.raises(logitstore.TargetPolicyError):
        dense_targets(counts, probs, ids, pol, temperature=2.0)
    ok = dense_targets(counts, probs, ids, pol, dropped_mass_bucket=True)
    assert ok[3][0] == 0
