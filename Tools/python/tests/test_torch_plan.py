"""Window layout and epoch plans: exact cover over (rank × DataLoader worker), determinism in (seed, epoch)."""
import numpy as np
import pytest

pytest.importorskip("torch")
from logitstore.torch.plan import EpochPlan, WindowLayout  # noqa: E402


def test_layout_cuts_each_sequence_into_whole_windows():
    offsets = np.array([0, 10, 13, 13, 25])          # lengths 10, 3, 0, 12
    lay = WindowLayout.from_sequence_offsets(offsets, 4)
    assert lay.starts.tolist() == [0, 4, 13, 17, 21]
    assert lay.sequence_ends.tolist() == [10, 10, 25, 25, 25]


@pytest.mark.parametrize("world,workers,batch,drop_last", [(1, 1, 3, False), (2, 3, 4, False), (3, 2, 5, False),
                                                           (2, 2, 4, True), (4, 1, 1, False)])
def test_rank_and_worker_consumers_cover_every_window_once(world, workers, batch, drop_last):
    n = 103
    seen = []
    per_rank_batches = []
    for rank in range(world):
        plan = EpochPlan.build(n, batch, epoch=3, seed=11, shuffle=True, rank=rank, world_size=world, drop_last=drop_last)
        per_rank_batches.append(plan.batch_count)
        got = []
        for worker in range(workers):
            for b in EpochPlan.worker_batches(0, plan.batch_count, worker, workers):
                assert 1 <= len(plan.batch(b)) <= batch
                got.extend(plan.batch(b).tolist())
        seen.extend(got)
    assert len(seen) == len(set(seen))                  # disjoint
    if drop_last:
        assert len(seen) == n // (world * batch) * world * batch
        assert len(set(per_rank_batches)) == 1          # every rank the same number of full batches
    else:
        assert sorted(seen) == list(range(n))           # exact cover


def test_order_is_deterministic_in_seed_and_epoch():
    a = EpochPlan.build(50, 4, epoch=0, seed=5, shuffle=True, rank=0, world_size=1, drop_last=False)
    b = EpochPlan.build(50, 4, epoch=0, seed=5, shuffle=True, rank=0, world_size=1, drop_last=False)
    c = EpochPlan.build(50, 4, epoch=1, seed=5, shuffle=True, rank=0, world_size=1, drop_last=False)
    d = EpochPlan.build(50, 4, epoch=0, seed=6, shuffle=True, rank=0, world_size=1, drop_last=False)
    assert np.array_equal(a.windows, b.windows)
    assert not np.array_equal(a.windows, c.windows) and not np.array_equal(a.windows, d.windows)
    e = EpochPlan.build(50, 4, epoch=0, seed=5, shuffle=False, rank=0, world_size=1, drop_last=False)
    assert e.windows.tolist() == list(range(50))


def test_round_robin_of_workers_gives_the_rank_order_from_any_start():
    plan = EpochPlan.build(40, 3, epoch=0, seed=0, shuffle=True, rank=0, world_size=1, drop_last=False)
    for workers in (1, 2, 3, 5):
        for first in (0, 4, 13):
            queues = [list(EpochPlan.worker_batches(first, plan.batch_count, w, workers)) for w in range(workers)]
            order = []
            while any(queues):   # the DataLoader's in-order round robin over the workers still running
                for q in queues:
                    if q:
                        order.append(q.pop(0))
            assert order == list(range(first, plan.batch_count))
