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


def _reference(record, width, **options):
    """The sparse path (Record.targets, mirroring the Swift Targets code) padded to `width`."""
    off, ids, probs, dropped = record.targets(**options)
    return pad_targets(off, ids, probs, width) + (dropped,)


def _assert_same_bits(got, want):
    for g, w in zip(got, want):
        if w is None:
            assert g is None
        else:
            assert g.dtype == w.dtype and g.shape == w.shape
            assert np.array_equal(g.view(np.uint8), w.view(np.uint8))


@pytest.fixture(scope="module")
def varied_records(tmp_path_factory):
    """Records of stores that exercise the edge cases: peaked and flat rows (counts 1..k_max), rows whose mass
    reaches top_p exactly, tiny probabilities (float16 subnormals and +0 after rounding), and a sampled store
    with counts and with importance weights."""
    out = {}
    rng = np.random.default_rng(5)
    base = tmp_path_factory.mktemp("varied")
    with logitstore.Writer(base / "logits", vocab_size=500, top_p=0.99, top_k=64, teacher="random") as w:
        for n, spread in ((90, 0.3), (64, 6.0), (1, 1.0), (130, 2.0)):
            w.add_sequence(rng.integers(0, 500, size=n).astype(np.uint32),
                           logits=(rng.normal(size=(n, 500)) * spread).astype(np.float32))
    with logitstore.Writer(base / "exact", vocab_size=64, top_p=1.0, top_k=8, teacher="hand") as w:
        # mass hits 0.5 / 0.75 / 0.875 exactly at columns 0 / 1 / 2; then zeros and subnormals
        p = np.array([[0.5, 0.25, 0.125, 0.0625, 0.03125, 2.0 ** -20, 2.0 ** -24, 0.0]] * 6, np.float16)
        counts = np.array([8, 7, 3, 1, 2, 8], np.int64)
        probs = np.concatenate([p[i, :c] for i, c in enumerate(counts)])
        ids = np.concatenate([rng.permutation(64)[:c] for c in counts]).astype(np.uint32)
        w.add_sequence(np.arange(6, dtype=np.uint32), ids=ids, probs=probs, counts=counts)
    for name, pol in (("sampled-counts", "sample:16"), ("sampled-importance", "sample:32:2")):
        with logitstore.Writer(base / name, vocab_size=200, policy=pol, sample_seed=9, teacher="random") as w:
            for n in (40, 75):
                w.add_sequence(rng.integers(0, 200, size=n).astype(np.uint32),
                               logits=(rng.normal(size=(n, 200)) * 3).astype(np.float32))
    for name in ("logits", "exact", "sampled-counts", "sampled-importance"):
        s = logitstore.open(base / name)
        out[name] = s.read(0, s.num_positions)
    return out


@pytest.mark.parametrize("store", ["logits", "exact"])
@pytest.mark.parametrize("top_p", [1.0, 0.95, 0.75, 0.5, 0.01])
@pytest.mark.parametrize("top_k", [None, 1, 5, 64, 1000])
@pytest.mark.parametrize("tau", [1.0, 0.5, 3.0])
@pytest.mark.parametrize("bucket", [False, True])
def test_dense_targets_bit_identical_on_varied_stores(varied_records, store, top_p, top_k, tau, bucket):
    rec = varied_records[store]
    opts = dict(top_p=top_p, top_k=top_k, temperature=tau, dropped_mass_bucket=bucket)
    for width in (int(rec.counts.max()), int(rec.counts.max()) + 3):
        got = dense_targets(rec.counts, rec.probs, rec.ids, rec.truncation, width=width, **opts)
        _assert_same_bits(got, _reference(rec, width, **opts))
    # a slice of positions (the dataset passes windows cut out of blocks)
    part = record_slice(rec, 2, min(50, rec.num_positions))
    got = dense_targets(part.counts, part.probs, part.ids, part.truncation, width=70, **opts)
    _assert_same_bits(got, _reference(part, 70, **opts))


@pytest.mark.parametrize("store", ["sampled-counts", "sampled-importance"])
@pytest.mark.parametrize("top_k", [None, 32, 100])
@pytest.mark.parametrize("bucket", [False, True])
def test_dense_targets_bit_identical_on_sampled_stores(varied_records, store, top_k, bucket):
    rec = varied_records[store]
    got = dense_targets(rec.counts, rec.probs, rec.ids, rec.truncation, top_k=top_k, dropped_mass_bucket=bucket,
                        width=32)
    _assert_same_bits(got, _reference(rec, 32, top_k=top_k, dropped_mass_bucket=bucket))
    if bucket:
        assert not got[3].any()


def test_dense_targets_width_too_small_and_empty(varied_records):
    rec = varied_records["logits"]
    with pytest.raises(ValueError):
        dense_targets(rec.counts, rec.probs, rec.ids, rec.truncation, width=int(rec.counts.max()) - 1)
    ids, probs, mask, dropped = dense_targets(np.zeros(0, np.int64), np.zeros(0, np.float16),
                                              np.zeros(0, np.uint32), rec.truncation, dropped_mass_bucket=True,
                                              width=4)
    assert ids.shape == probs.shape == mask.shape == (0, 4) and dropped.shape == (0,)


def record_slice(rec, a, z):
    """Positions [a, z) of a record as a record of their own."""
    from logitstore.record import Record
    ea, ez = int(rec.offsets[a]), int(rec.offsets[z])
    return Record.concatenate([(rec.tokens[a:z], rec.counts[a:z], rec.ids[ea:ez], rec.probs[ea:ez], None)],
                              rec.truncation, False)


@pytest.mark.parametrize("top_k,width", [(None, 64), (5, 5), (5, 9), (64, 70)])
@pytest.mark.parametrize("bucket", [False, True])
def test_dense_targets_out_arrays_filled_completely(varied_records, top_k, width, bucket):
    """`out=` (the dataset's shared-memory tensors) gives the same bits as fresh arrays, whatever the out arrays
    held before (every element is written)."""
    rec = varied_records["logits"]
    N = rec.num_positions
    opts = dict(top_p=0.9, top_k=top_k, temperature=1.5, dropped_mass_bucket=bucket, width=width)
    want = dense_targets(rec.counts, rec.probs, rec.ids, rec.truncation, **opts)
    out = (np.full((N, width), 7, np.int64), np.full((N, width), np.nan, np.float32), np.ones((N, width), bool))
    got = dense_targets(rec.counts, rec.probs, rec.ids, rec.truncation, out=out, **opts)
    assert all(g is o for g, o in zip(got[:3], out))
    _assert_same_bits(got, want)
    with pytest.raises(ValueError):
        dense_targets(rec.counts, rec.probs, rec.ids, rec.truncation, out=out, top_k=top_k)
