"""`DistillationDataset`: a store as an IterableDataset of ready-to-use distillation batches."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

import logitstore

from .dense_targets import dense_targets
from .plan import EpochPlan, WindowLayout


def sequence_offsets(store) -> np.ndarray:
    """int64[S+1] global position boundaries of the store's sequences (from the shard indexes, no decoding)."""
    lengths = np.asarray(store.sequence_lengths(), dtype=np.int64)
    return np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))


def _distributed_rank_world():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class DistillationDataset(IterableDataset):
    """Fixed-length windows of a store with their teacher targets, as batches.

    Each stored sequence of length L gives L // seq_len consecutive windows (the partial tail is dropped). An
    epoch visits every window once, in an order shuffled deterministically from (seed, epoch); rank r of
    world_size takes every world_size-th window of that order, and DataLoader workers split a rank's batches
    round robin, so (rank × worker) consumers are disjoint and together cover the epoch exactly once. The
    order a rank's loop sees does not depend on the number of workers.

    Each item is one batch (use `DataLoader(ds, batch_size=None)` or `DistillationLoader`), a dict of tensors:
      input_ids int64 [B, T]; labels int64 [B, T] (the next token, −100 at a sequence's last position);
      target_ids int64 [B, T, K], target_probs float32 [B, T, K] zero-padded, target_mask bool [B, T, K];
      dropped_mass float32 [B, T] when dropped_mass_bucket; window_ids int64 [B] (window w starts at global
      position layout.starts[w]); batch_index and epoch (ints).
    K is top_k when given, else `pad_to` when given, else the batch's largest target count.

    Targets come from `Record.targets(top_p, top_k, temperature, dropped_mass_bucket)` (Spec §7.2). When
    `kd_loss` applies the distillation temperature, leave `temperature` here at 1 (else τ is applied twice).

    drop_last=False keeps every window (a rank's last batch may be short and ranks may differ by one batch);
    drop_last=True cuts each epoch to a multiple of world_size × batch_size so that every rank gets the same
    number of full batches, which DDP's lock-step needs. cache_blocks: decoded blocks kept per process.

    Resuming: `state_dict()` holds (epoch, next batch); `load_state_dict()` restarts exactly there: same windows,
    same order. The dataset counts batches itself when iterated in the main process; with DataLoader workers use
    `DistillationLoader` (or call `mark_consumed(batch)` per batch) so the count happens in the loop's process.
    Workers must not be persistent (they would not see `set_epoch`/`load_state_dict`).
    """

    def __init__(self, path, seq_len, batch_size, top_p=1.0, top_k=None, temperature=1.0,
                 dropped_mass_bucket=False, shuffle=True, seed=0, rank=None, world_size=None,
                 drop_last=False, pad_to=None, verify=True, cache_blocks=64):
        super().__init__()
        if int(seq_len) < 1:
            raise ValueError(f"seq_len must be at least 1 (got {seq_len})")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
        if top_k is not None and int(top_k) < 1:
            raise ValueError(f"top_k must be at least 1 (got {top_k})")
        if pad_to is not None and int(pad_to) < 1:
            raise ValueError(f"pad_to must be at least 1 (got {pad_to})")
        if rank is None or world_size is None:
            r, w = _distributed_rank_world()
            rank = r if rank is None else rank
            world_size = w if world_size is None else world_size
        if not (int(world_size) >= 1 and 0 <= int(rank) < int(world_size)):
            raise ValueError(f"rank {rank} is not in [0, world_size {world_size})")
        self.path = str(path)
        self.seq_len, self.batch_size = int(seq_len), int(batch_size)
        self.top_p, self.top_k, self.temperature = float(top_p), (None if top_k is None else int(top_k)), float(temperature)
        self.dropped_mass_bucket = bool(dropped_mass_bucket)
        self.shuffle, self.seed = bool(shuffle), int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.drop_last = bool(drop_last)
        self.pad_to = None if pad_to is None else int(pad_to)
        self.verify = bool(verify)
        self.cache_blocks = int(cache_blocks)
        self._store = logitstore.open(self.path, verify=self.verify)
        self.layout = WindowLayout.from_sequence_offsets(sequence_offsets(self._store), self.seq_len)
        if self.layout.count == 0:
            raise ValueError(f"{self.path}: no stored sequence has {self.seq_len} positions; use a smaller seq_len")
        self.epoch = 0
        self._next_batch = 0

    # -- pickling for DataLoader workers: the open store (memory maps) is reopened in each worker.
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_store"] = None
        return state

    def _reader(self):
        if self._store is None:
            self._store = logitstore.open(self.path, verify=self.verify)
        # Random windows revisit blocks: keep more decoded blocks than the reader's default (about 256 KiB each).
        self._store.cache_blocks = max(self._store.cache_blocks, self.cache_blocks)
        return self._store

    # -- epochs and resume
    def plan(self, epoch=None) -> EpochPlan:
        """This rank's batches for `epoch` (default: the current one)."""
        return EpochPlan.build(self.layout.count, self.batch_size, self.epoch if epoch is None else epoch, self.seed,
                               self.shuffle, self.rank, self.world_size, self.drop_last)

    def __len__(self):
        """Batches this rank gets per epoch."""
        return self.plan().batch_count

    def set_epoch(self, epoch):
        """Selects the epoch (its shuffle) and restarts at its first batch."""
        self.epoch = int(epoch)
        self._next_batch = 0

    def mark_consumed(self, batch):
        """Records that the training loop has taken `batch` (needed for `state_dict` with DataLoader workers)."""
        self.epoch = int(batch["epoch"])
        self._next_batch = int(batch["batch_index"]) + 1

    def state_dict(self):
        """Where iteration stands: the next batch a resumed run will get, and what the plan depends on."""
        return {"epoch": self.epoch, "next_batch": self._next_batch, "seed": self.seed, "shuffle": self.shuffle,
                "rank": self.rank, "world_size": self.world_size, "batch_size": self.batch_size,
                "seq_len": self.seq_len, "drop_last": self.drop_last, "windows": self.layout.count}

    def load_state_dict(self, state):
        """Resumes at `state` (from `state_dict`); refuses a state saved with a different plan. The rank is not
        checked: under DDP every rank is at the same batch, so one rank's saved state resumes them all."""
        mine = self.state_dict()
        for key in ("seed", "shuffle", "world_size", "batch_size", "seq_len", "drop_last", "windows"):
            if key in state and state[key] != mine[key]:
                raise ValueError(f"cannot resume: saved {key} = {state[key]!r}, this dataset has {mine[key]!r}")
        self.epoch = int(state["epoch"])
        self._next_batch = int(state["next_batch"])

    # -- iteration
    def __iter__(self):
        plan = self.plan()
        first = self._next_batch if self._next_batch < plan.batch_count else 0
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        for b in EpochPlan.worker_batches(first, plan.batch_count, worker, workers):
            batch = self.make_batch(plan.batch(b))
            batch["batch_index"] = b
            batch["epoch"] = self.epoch
            if info is None:
                self._next_batch = b + 1
            yield batch

    def make_batch(self, windows: np.ndarray) -> dict:
        """The batch dict (see the class doc) of the given window ids, in that order."""
        store = self._reader()
        T = self.seq_len
        B = len(windows)
        # In a DataLoader worker the tensors are created in shared memory and filled in place: handing them to the
        # loop's process then passes a file descriptor instead of copying each tensor into a new segment.
        new = _shared_tensor if get_worker_info() is not None else _plain_tensor
        input_ids_t, labels_t = new((B, T), torch.int64), new((B, T), torch.int64)
        input_ids, labels = input_ids_t.numpy(), labels_t.numpy()
        labels.fill(-100)
        counts, ids, probs = [], [], []
        for row, w in enumerate(windows):
            start, end = int(self.layout.starts[w]), int(self.layout.sequence_ends[w])
            stop = min(start + T + 1, end)            # one more position for the last label, inside the sequence
            record = store.read(start, stop)
            tokens = record.tokens
            input_ids[row] = tokens[:T]
            labels[row, : len(tokens) - 1] = tokens[1:]
            e = int(record.offsets[T])
            counts.append(record.counts[:T])
            ids.append(record.ids[:e])
            probs.append(record.probs[:e])
        counts, probs, ids = np.concatenate(counts), np.concatenate(probs), np.concatenate(ids)
        width = self.top_k if self.top_k is not None else self.pad_to
        if width is None:   # the batch's largest kept count: known only after the arithmetic
            tid, tp, mask, dropped = dense_targets(
                counts, probs, ids, store.truncation, top_p=self.top_p, top_k=self.top_k,
                temperature=self.temperature, dropped_mass_bucket=self.dropped_mass_bucket)
            K = tid.shape[1]
            tid_t, tp_t, mask_t = new((B * T, K), torch.int64), new((B * T, K), torch.float32), new((B * T, K), torch.bool)
            tid_t.numpy()[...] = tid
            tp_t.numpy()[...] = tp
            mask_t.numpy()[...] = mask
        else:
            K = width
            tid_t, tp_t, mask_t = new((B * T, K), torch.int64), new((B * T, K), torch.float32), new((B * T, K), torch.bool)
            _, _, _, dropped = dense_targets(
                counts, probs, ids, store.truncation, top_p=self.top_p, top_k=self.top_k,
                temperature=self.temperature, dropped_mass_bucket=self.dropped_mass_bucket, width=width,
                out=(tid_t.numpy(), tp_t.numpy(), mask_t.numpy()))
        out = {
            "input_ids": input_ids_t,
            "labels": labels_t,
            "target_ids": tid_t.view(B, T, K),
            "target_probs": tp_t.view(B, T, K),
            "target_mask": mask_t.view(B, T, K),
            "window_ids": torch.from_numpy(np.asarray(windows, dtype=np.int64).copy()),
        }
        if self.dropped_mass_bucket:
            out["dropped_mass"] = torch.from_numpy(dropped).view(B, T)
        return out


def _plain_tensor(shape, dtype):
    """An uninitialised CPU tensor."""
    return torch.empty(shape, dtype=dtype)


def _shared_tensor(shape, dtype):
    """An uninitialised CPU tensor whose storage is created in shared memory (no copy when it is sent to another
    process)."""
    new_shared = getattr(torch.UntypedStorage, "_new_shared", None)   # (follows torch's sharing strategy)
    if new_shared is None:  # a torch without it: torch then copies the tensor into shared memory when sending it
        return _plain_tensor(shape, dtype)
    t = torch.empty(0, dtype=dtype)
    return t.set_(new_shared(max(1, int(np.prod(shape))) * t.element_size()), 0, shape)


class DistillationLoader(DataLoader):
    """A DataLoader over a `DistillationDataset` (batch_size=None: the dataset already batches) that records
    each batch the loop takes, so `dataset.state_dict()` is exact with any number of workers."""

    def __init__(self, dataset: DistillationDataset, **kwargs):
        if kwargs.get("persistent_workers"):
            raise ValueError("persistent_workers would not see set_epoch/load_state_dict; leave it off")
        kwargs.setdefault("batch_size", None)
        super().__init__(dataset, **kwargs)

    def __iter__(self):
        for batch in super().__iter__():
            self.dataset.mark_consumed(batch)
            yield batch
