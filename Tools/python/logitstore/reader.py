"""The reader: `open(path)` returns a `Store` whose shards are memory-mapped and decoded with numpy."""
import os
from collections import OrderedDict

import numpy as np

from .errors import ChecksumError, StoreError
from .format import block as block_codec
from .format import manifest as manifest_format
from .format.checksum import xxh3
from .format.codecs import Decompressor
from .format.descriptor import descriptor_hash
from .record import Record
from .shard import Shard


class Store:
    """A read-only store (Spec §2-§7). Every block's XXH3-64 is verified before it is decoded (unless
    `verify=False`); the footer index and id table checksums always are. Damage raises `CorruptStoreError`
    naming shard and block; wrong data is never returned. Not thread-safe: open one Store per thread or worker."""

    #: Decoded blocks kept for re-use (sequential reads touch each block once).
    cache_blocks = 4

    def __init__(self, path, verify=True):
        self.path = os.fspath(path)
        self.verify_checksums = bool(verify)
        self.manifest = manifest_format.load(self.path)
        self.descriptor_hash = descriptor_hash(self.manifest)
        self._decompressor = Decompressor()
        self._cache = OrderedDict()
        self.shards = []
        try:
            for e in self.manifest.shards:
                self.shards.append(Shard(os.path.join(self.path, e.file), e, self.manifest.vocab_size,
                                         self.descriptor_hash))
        except BaseException:
            self.close()
            raise
        self._shard_first = np.cumsum([0] + [s.positions for s in self.shards]).astype(np.int64)
        self._shard_first_seq = np.cumsum([0] + [s.entry.sequences for s in self.shards]).astype(np.int64)

    # Store-level facts.
    @property
    def vocab_size(self):
        """V: every id and token is below it."""
        return self.manifest.vocab_size

    @property
    def padded_vocab_size(self):
        """Width of the teacher's logits rows (V when not padded)."""
        return self.manifest.row_width

    @property
    def num_sequences(self):
        """S: sequences over all shards."""
        return int(self._shard_first_seq[-1])

    @property
    def num_positions(self):
        """P: positions over all shards."""
        return int(self._shard_first[-1])

    @property
    def num_entries(self):
        """E: kept entries over all shards."""
        return self.manifest.num_entries

    @property
    def truncation(self):
        """The target policy (manifest `truncation`) as a dict."""
        return dict(self.manifest.truncation)

    @property
    def is_sampled(self):
        """True for a sampled-target store (read-time re-truncation and τ are refused)."""
        return self.manifest.truncation["policy"] == "sample"

    @property
    def teacher(self):
        """The teacher identity (manifest `teacher`) as a dict."""
        return dict(self.manifest.teacher)

    @property
    def has_target_logprobs(self):
        """Whether every block carries the target-log-prob stream (manifest `target_logprobs`)."""
        return self.manifest.target_logprobs

    def __len__(self):
        return self.num_sequences

    # Addressing.
    def sequence_range(self, i):
        """(start, stop) global positions of sequence i."""
        i = self._check_index(i, self.num_sequences, "sequence")
        s = int(np.searchsorted(self._shard_first_seq, i, side="right")) - 1
        local = i - int(self._shard_first_seq[s])
        seq = self.shards[s].sequences[local]
        start = int(self._shard_first[s]) + int(seq["first_position"])
        return start, start + int(seq["length"])

    @property
    def sequence_offsets(self):
        """int64 [S + 1]: sequence i covers global positions [offsets[i], offsets[i + 1]) (from the shard indexes,
        nothing decoded)."""
        if getattr(self, "_sequence_offsets", None) is None:
            off = np.zeros(self.num_sequences + 1, dtype=np.int64)
            np.cumsum(self.sequence_lengths(), out=off[1:])
            self._sequence_offsets = off
        return self._sequence_offsets

    def sequence_lengths(self):
        """int64 [S]: every sequence's length, in order."""
        if not self.shards:
            return np.zeros(0, np.int64)
        return np.concatenate([s.sequences["length"].astype(np.int64) for s in self.shards])

    def sequence(self, i):
        """The record of sequence i."""
        return self.read(*self.sequence_range(i))

    def read(self, start, stop):
        """The record of global positions [start, stop)."""
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= self.num_positions:
            raise IndexError(f"positions {start}..<{stop} are outside the store (it has {self.num_positions})")
        pieces = []
        p = start
        while p < stop:
            s = int(np.searchsorted(self._shard_first, p, side="right")) - 1
            shard = self.shards[s]
            local = p - int(self._shard_first[s])
            b = shard.block_index(local)
            first = int(shard.block_first[b])
            blk, offsets = self._decoded(s, b)
            a = local - first
            z = min(stop - p, blk.tokens.size - a) + a
            ea, ez = int(offsets[a]), int(offsets[z])
            pieces.append((blk.tokens[a:z], blk.counts[a:z], blk.ids[ea:ez], blk.probs[ea:ez],
                           None if blk.targets is None else blk.targets[a:z]))
            p += z - a
        return Record.concatenate(pieces, self.manifest.truncation, self.manifest.target_logprobs)

    def scan(self, start=0, stop=None):
        """Sequential decode: yields consecutive Records covering global positions [start, stop), one per block
        (the first and last cut to the range). Blocks are decoded once and not cached; nothing is copied."""
        stop = self.num_positions if stop is None else int(stop)
        start = int(start)
        if not 0 <= start <= stop <= self.num_positions:
            raise IndexError(f"positions {start}..<{stop} are outside the store (it has {self.num_positions})")
        m = self.manifest
        for s, shard in enumerate(self.shards):
            base = int(self._shard_first[s])
            if base + shard.positions <= start or base >= stop:
                continue
            first_block = shard.block_index(max(0, start - base))
            for b in range(first_block, int(shard.index.blocks)):
                first = base + int(shard.block_first[b])
                if first >= stop:
                    break
                blk = self.decode_block(s, b)
                a, z = max(start, first) - first, min(stop, first + blk.tokens.size) - first
                if a == 0 and z == blk.tokens.size:
                    yield Record.concatenate([(blk.tokens, blk.counts, blk.ids, blk.probs, blk.targets)],
                                             m.truncation, m.target_logprobs, copy=False)
                else:
                    off = np.concatenate(([0], np.cumsum(blk.counts)))
                    ea, ez = int(off[a]), int(off[z])
                    yield Record.concatenate([(blk.tokens[a:z], blk.counts[a:z], blk.ids[ea:ez], blk.probs[ea:ez],
                                               None if blk.targets is None else blk.targets[a:z])],
                                             m.truncation, m.target_logprobs, copy=False)

    def __iter__(self):
        for i in range(self.num_sequences):
            yield self.sequence(i)

    def block_count(self):
        """Total number of blocks over all shards."""
        return sum(int(s.index.blocks) for s in self.shards)

    # Decoding.
    def decode_block(self, s, b, verify=None, content=False):
        """The `DecodedBlock` of shard s, block b (checksum verified unless this store was opened with
        verify=False and `verify` is not True; `content` adds the per-position probability rules)."""
        shard = self.shards[s]
        entry = shard.blocks[b]
        data = shard.block_bytes(b)
        if (self.verify_checksums if verify is None else verify) and xxh3(data) != int(entry["checksum"]):
            raise ChecksumError(shard.name, "block data", block=b)
        m = self.manifest
        return block_codec.decode(data, shard.name, b, entry, m.vocab_size, m.truncation["top_k"], m.target_logprobs,
                                  lambda: shard.id_table(m.vocab_size, self._decompressor, self.verify_checksums),
                                  self._decompressor, content=content)

    def _decoded(self, s, b):
        key = (s, b)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        blk = self.decode_block(s, b)
        offsets = np.concatenate(([0], np.cumsum(blk.counts)))
        self._cache[key] = (blk, offsets)
        while len(self._cache) > self.cache_blocks:
            self._cache.popitem(last=False)
        return blk, offsets

    def verify(self):
        """Full check (as `logitstore verify`): see `logitstore.verify.verify_store`. Returns the report."""
        from .verify import verify_store
        return verify_store(self)

    @staticmethod
    def _check_index(i, n, what):
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"{what} {i} is outside the store (it has {n})")
        return i

    # Lifetime.
    def close(self):
        """Releases the shard maps."""
        self._cache.clear()
        for s in self.shards:
            s.close()
        self.shards = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"<logitstore.Store {self.path!r}: {self.num_sequences} sequences, {self.num_positions} positions, "
                f"V={self.vocab_size}>")


def open_store(path, verify=True):
    """Opens the store at `path` (manifest validated, every shard's header, descriptor hash and index checked)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise StoreError(f"store path must be a path, got {type(path).__name__}")
    return Store(path, verify=verify)
