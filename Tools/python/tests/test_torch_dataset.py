"""DistillationDataset on a real (Python-written) store: batch contents, rank × worker exact cover through a real
DataLoader, deterministic shuffling, exact mid-epoch resume, bucket mode and errors."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import logitstore  # noqa: E402
from logitstore.torch import DistillationDataset, DistillationLoader  # noqa: E402

V = 97
LENGTHS = [40, 13, 64, 9, 33, 50, 24]
T = 8


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("ds") / "store"
    rng = np.random.default_rng(4)
    with logitstore.Writer(path, vocab_size=V, top_p=0.9, top_k=12, teacher="random") as w:
        for n in LENGTHS:
            tokens = rng.integers(0, V, size=n).astype(np.uint32)
            w.add_sequence(tokens, logits=(rng.normal(size=(n, V)) * 2.5).astype(np.float32))
    return str(path)


def windows_of(batch):
    """(first token position marker) each window as a tuple of its input ids, for cover checks."""
    return [tuple(r) for r in batch["input_ids"].tolist()]


def all_windows(store_path):
    s = logitstore.open(store_path)
    out = []
    for i in range(s.num_sequences):
        toks = s.sequence(i).tokens
        for w in range(len(toks) // T):
            out.append(tuple(int(x) for x in toks[w * T:(w + 1) * T]))
    return out


def test_batches_hold_the_windows_their_labels_and_targets(store_path):
    ds = DistillationDataset(store_path, seq_len=T, batch_size=3, top_k=5, seed=1)
    store = logitstore.open(store_path)
    starts = ds.layout.starts
    seq_ends = ds.layout.sequence_ends
    seen = 0
    for batch in ds:
        B = batch["input_ids"].shape[0]
        assert batch["target_ids"].shape == (B, T, 5) and batch["target_probs"].dtype == torch.float32
        windows = ds.plan().batch(batch["batch_index"])
        for row, w in enumerate(windows):
            a, end = int(starts[w]), int(seq_ends[w])
            rec = store.read(a, a + T)
            assert batch["input_ids"][row].tolist() == rec.tokens.tolist()
            nxt = store.read(a + 1, min(a + T + 1, end)).tokens.tolist()
            want = nxt + [-100] * (T - len(nxt))
            assert batch["labels"][row].tolist() == want
            off, ids, probs, _ = rec.targets(top_k=5)
            for j in range(T):
                c = int(off[j + 1] - off[j])
                assert batch["target_mask"][row, j].sum() == c
                assert batch["target_ids"][row, j, :c].tolist() == ids[off[j]:off[j + 1]].tolist()
                assert np.array_equal(batch["target_probs"][row, j, :c].numpy(), probs[off[j]:off[j + 1]])
                assert not batch["target_probs"][row, j, c:].any()
        seen += B
    assert seen == ds.layout.count == sum(n // T for n in LENGTHS)


@pytest.mark.parametrize("world,workers", [(1, 2), (2, 2), (3, 1)])
def test_ranks_and_dataloader_workers_cover_the_epoch_exactly_once(store_path, world, workers):
    got = []
    for rank in range(world):
        ds = DistillationDataset(store_path, seq_len=T, batch_size=2, seed=9, rank=rank, world_size=world)
        ds.set_epoch(2)
        loader = DistillationLoader(ds, num_workers=workers)
        indices = []
        for b in loader:
            indices.append(int(b["batch_index"]))
            got.extend(windows_of(b))
        assert indices == list(range(len(ds)))           # the loop sees the rank's order, whatever the workers
    assert sorted(got) == sorted(all_windows(store_path))


def test_shuffle_is_deterministic_in_seed_and_epoch(store_path):
    def order(seed, epoch):
        ds = DistillationDataset(store_path, seq_len=T, batch_size=4, seed=seed)
        ds.set_epoch(epoch)
        return [w for b in ds for w in windows_of(b)]
    assert order(3, 0) == order(3, 0)
    assert order(3, 0) != order(3, 1)
    assert order(3, 0) != order(4, 0)
    assert sorted(order(3, 0)) == sorted(order(3, 1))


@pytest.mark.parametrize("workers", [0, 2])
def test_state_dict_resumes_mid_epoch_with_the_same_windows_in_the_same_order(store_path, workers):
    def make():
        ds = DistillationDataset(store_path, seq_len=T, batch_size=2, seed=7, top_k=4, dropped_mass_bucket=True)
        ds.set_epoch(1)
        return ds
    full = [b for b in DistillationLoader(make(), num_workers=workers)]
    ds = make()
    loader = DistillationLoader(ds, num_workers=workers)
    first = []
    for b in loader:
        first.append(b)
        if len(first) == 3:
            break
    state = ds.state_dict()
    assert state["epoch"] == 1 and state["next_batch"] == 3
    resumed = make()
    resumed.set_epoch(0)
    resumed.load_state_dict(state)
    rest = list(DistillationLoader(resumed, num_workers=workers))
    assert len(first) + len(rest) == len(full)
    for a, b in zip(first + rest, full):
        for key in ("input_ids", "labels", "target_ids", "target_probs", "target_mask", "dropped_mass"):
            assert torch.equal(a[key], b[key]), key


def test_bucket_mode_targets_and_dropped_mass_sum_to_one(store_path):
    ds = DistillationDataset(store_path, seq_len=T, batch_size=4, top_p=0.8, dropped_mass_bucket=True)
    for b in ds:
        total = b["target_probs"].sum(-1) + b["dropped_mass"]
        assert torch.allclose(total, torch.ones_like(total), atol=1e-5)
        assert b["dropped_mass"].shape == b["input_ids"].shape


def test_drop_last_gives_every_rank_the_same_full_batches(store_path):
    lens = [len(DistillationDataset(store_path, seq_len=T, batch_size=3, rank=r, world_size=2, drop_last=True))
            for r in range(2)]
    assert lens[0] == lens[1] == (sum(n // T for n in LENGTHS) // 6)
    for b in DistillationDataset(store_path, seq_len=T, batch_size=3, rank=1, world_size=2, drop_last=True):
        assert b["input_ids"].shape[0] == 3


def test_errors_are_clear(store_path):
    with pytest.raises(ValueError, match="no stored sequence has 1000 positions"):
        DistillationDataset(store_path, seq_len=1000, batch_size=1)
    with pytest.raises(ValueError, match="rank 2"):
        DistillationDataset(store_path, seq_len=T, batch_size=1, rank=2, world_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        DistillationDataset(store_path, seq_len=T, batch_size=0)
    ds = DistillationDataset(store_path, seq_len=T, batch_size=2, seed=1)
    other = DistillationDataset(store_path, seq_len=T, batch_size=3, seed=1)
    with pytest.raises(ValueError, match="batch_size"):
        other.load_state_dict(ds.state_dict())
    with pytest.raises(logitstore.StoreError):
        DistillationDataset(store_path + "-missing", seq_len=T, batch_size=1)


def test_sampled_store_targets_are_used_as_stored_and_retruncation_is_refused(tmp_path):
    path = tmp_path / "sampled"
    rng = np.random.default_rng(8)
    with logitstore.Writer(path, vocab_size=V, policy="sample:16", teacher="random") as w:
        for n in (24, 17):
            w.add_sequence(rng.integers(0, V, size=n).astype(np.uint32),
                           logits=(rng.normal(size=(n, V)) * 2).astype(np.float32))
    ds = DistillationDataset(path, seq_len=T, batch_size=2, shuffle=False)
    store = logitstore.open(path)
    for b in ds:
        assert torch.allclose(b["target_probs"].sum(-1), torch.ones(b["input_ids"].shape), atol=1e-6)
        # counts weights: every target is a multiple of 1/16
        p = b["target_probs"][b["target_mask"]] * 16
        assert torch.equal(p, p.round())
    first = store.read(0, T)
    off, ids, _, _ = first.targets()
    b0 = next(iter(ds))
    assert b0["target_ids"][0, 0, : off[1]].tolist() == ids[: off[1]].tolist()
    with pytest.raises(logitstore.TargetPolicyError):
        next(iter(DistillationDataset(path, seq_len=T, batch_size=2, top_p=0.9)))
    with pytest.raises(logitstore.TargetPolicyError):
        next(iter(DistillationDataset(path, seq_len=T, batch_size=2, temperature=2.0)))


@pytest.mark.parametrize("options", [dict(top_k=5), dict(top_p=0.8), dict(top_k=4, temperature=2.0,
                                                                           dropped_mass_bucket=True),
                                     dict(pad_to=12, top_p=0.7)])
def test_worker_batches_in_shared_memory_equal_in_process_batches(store_path, options):
    """Workers build their tensors in shared memory; what the loop receives is bit-identical to the batches made
    in-process (every key, every element, padding included)."""
    ds = DistillationDataset(store_path, seq_len=T, batch_size=3, seed=5, **options)
    here = list(ds)
    ds.set_epoch(0)
    there = list(DistillationLoader(ds, num_workers=2))
    assert len(here) == len(there) == len(ds)
    for a, b in zip(here, there):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if isinstance(value, torch.Tensor):
                assert value.dtype == b[key].dtype and value.shape == b[key].shape
                assert torch.equal(value.view(-1).view(torch.uint8) if value.dtype != torch.bool else value,
                                   b[key].view(-1).view(torch.uint8) if value.dtype != torch.bool else b[key]), key
            else:
                assert value == b[key]
