"""The writer: appends whole sequences to a store directory and commits shards with Spec §6.1's protocol."""
import os
import re

import numpy as np

from . import policy as policies
from .durable import directory_lock, fsync_directory, io_error, write_atomically, writer_lock
from .errors import IncompatibleStoreError, InvalidInputError, StoreError, WriterClosedError
from .format import manifest as manifest_format
from .format.block import BlockContent, EncodingPlan
from .format.checksum import hex64
from .format.codecs import Compressor, parse_codec
from .format.descriptor import descriptor_hash
from .format.layout import MANIFEST_NAME
from .format.manifest import Manifest, ShardEntry, WRITER_ID
from .sampling import sample_rows
from .shard_builder import ShardBuilder, logical_bytes
from .truncation import is_torch_tensor, top_p_k

#: Writer defaults of Spec §8.
BLOCK_TARGET_BYTES = 256 << 10
SHARD_TARGET_BYTES = 64 << 20


def parse_policy(spec, top_p=0.95, top_k=100, temperature=1.0, sample_seed=0):
    """A validated policy dict from None (top-p-k from top_p/top_k/temperature), a dict, or a CLI-style string
    `top-p-k:P:K` / `sample:N[:TS]`."""
    if spec is None:
        return policies.top_p_k(top_p, top_k, temperature)
    if isinstance(spec, dict):
        return policies.validate_policy(spec)
    parts = str(spec).split(":")
    try:
        if parts[0] == "top-p-k" and len(parts) == 3:
            p, k = float(parts[1]), int(parts[2])
            return policies.top_p_k(p, k, temperature)
        if parts[0] == "sample" and len(parts) in (2, 3):
            n, ts = int(parts[1]), (float(parts[2]) if len(parts) == 3 else 1.0)
            return policies.sample(n, ts, sample_seed, temperature)
    except InvalidInputError:
        raise
    except ValueError:
        pass
    raise InvalidInputError(f"policy must be top-p-k:P:K or sample:N[:TS], got {spec!r}")


def _teacher(teacher):
    if teacher is None:
        return {"name": "unknown"}
    if isinstance(teacher, str):
        return {"name": teacher}
    if not isinstance(teacher, dict) or not isinstance(teacher.get("name"), str):
        raise InvalidInputError("teacher must be a name or a dict with a string 'name'")
    return {k: v for k, v in teacher.items() if v is not None}


def repeated_ids(ids, pos_of):
    """Index of an entry whose id repeats within its position, or None (sorted (position, id) pairs)."""
    if ids.size < 2:
        return None
    key = pos_of.astype(np.int64) * (1 << 32) + ids
    order = np.argsort(key, kind="stable")
    same = np.flatnonzero(key[order][1:] == key[order][:-1])
    return None if same.size == 0 else int(order[same[0] + 1])


def sampled_rows_problem(p16, counts, sums, policy):
    """Why pre-truncated rows break the sampled-store rules (Spec §5.1), or None: Σ = 1 within n·2^-11; with counts
    weights every probability is float16(c/N) for integer counts c summing to N."""
    off = np.cumsum(counts) - counts
    bad = np.abs(sums - 1) > counts * 2.0 ** -11
    if bad.any():
        j = int(np.argmax(bad))
        return f"sampled weights at position {j} sum to {float(sums[j])}, not 1"
    if policy["weights"] == "counts":
        n = policy["samples"]
        c = np.rint(p16.astype(np.float64) * n)
        exact = (c / n).astype(np.float16) == p16
        total = np.add.reduceat(c, off)
        if not exact.all() or (total != n).any():
            j = int(np.argmax(total != n)) if exact.all() else int(np.searchsorted(off, np.argmax(~exact), "right") - 1)
            return f"sampled weights at position {j} are not float16(c/{n}) for counts c summing to {n}"
    return None


def remove_stale_manifest_temps(directory):
    """Removes `.manifest.json.*.tmp` leftovers (called with `.lock` held: no live manifest write exists)."""
    for name in os.listdir(directory):
        if name.startswith(f".{MANIFEST_NAME}.") and name.endswith(".tmp"):
            try:
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass


class Writer:
    """Appends sequences to the store at `path` (created if missing, resumed if it exists).

    A shard is written to `.<writer_id>-<serial>.lgs.tmp`, fsynced, renamed, the directory fsynced, and only then
    listed in `manifest.json` (replaced atomically under the `.lock` advisory lock, so writers with different ids
    may share a directory). Re-opened with the same writer id, it resumes: `committed_sequences` sequences of its
    input are durable and should be skipped. Bad input raises `InvalidInputError` and leaves nothing of that
    sequence behind; after an I/O error the open shard is discarded and the writer is closed. A context manager:
    leaving the `with` block normally commits; leaving it by an exception discards the open shard, as a crash would.
    """

    def __init__(self, path, vocab_size, top_p=0.95, top_k=100, temperature=1.0, teacher=None, writer_id="w0",
                 codec="zstd", policy=None, padded_vocab_size=None, target_logprobs=True, sample_seed=0,
                 block_bytes=BLOCK_TARGET_BYTES, shard_bytes=SHARD_TARGET_BYTES):
        if not isinstance(vocab_size, (int, np.integer)) or not 1 <= int(vocab_size) <= (1 << 32) - 1:
            raise InvalidInputError(f"vocabulary size must be in 1...2^32-1, got {vocab_size!r}")
        vocab_size = int(vocab_size)
        if padded_vocab_size is not None and int(padded_vocab_size) < vocab_size:
            raise InvalidInputError(f"padded vocabulary {padded_vocab_size} is smaller than the vocabulary {vocab_size}")
        if not isinstance(writer_id, str) or not WRITER_ID.match(writer_id):
            raise InvalidInputError(f"writer id {writer_id!r} must match [A-Za-z0-9_-][A-Za-z0-9._-]{{0,63}}")
        if not 1024 <= int(block_bytes) <= 64 << 20:
            raise InvalidInputError(f"block size must be in 1 KiB...64 MiB, got {block_bytes}")
        if int(shard_bytes) < 1:
            raise InvalidInputError("shard size must be positive")
        try:
            codec_id, level = parse_codec(codec)
        except ValueError as e:
            raise InvalidInputError(str(e)) from None
        self.path = os.fspath(path)
        self.writer_id = writer_id
        self.policy = parse_policy(policy, top_p, top_k, temperature, sample_seed)
        padded = None if padded_vocab_size in (None, vocab_size) else int(padded_vocab_size)
        self._mine = Manifest(vocab_size=vocab_size, padded_vocab_size=padded, truncation=self.policy,
                              teacher=_teacher(teacher), target_logprobs=bool(target_logprobs))
        self.vocab_size = vocab_size
        self.row_width = self._mine.row_width
        self.record_targets = bool(target_logprobs)
        self.block_bytes, self.shard_bytes = int(block_bytes), int(shard_bytes)
        self.plan = EncodingPlan()
        self._compressor = Compressor(codec_id, level)
        self._descriptor = descriptor_hash(self._mine)
        self._closed = False
        self._shard = None
        self._block = []  # pieces (tokens, counts, ids, probs, targets) of the open block
        self._block_logical = 0
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise InvalidInputError(f"{self.path} exists and is not a directory")
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as e:
            raise io_error(self.path, "create directory", e) from None
        self._lock_fd = writer_lock(self.path, writer_id)
        try:
            existing = self._open_manifest()
        except BaseException:
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise
        self._descriptor = descriptor_hash(existing)
        own = [s for s in existing.shards if s.writer_id == writer_id and "/" not in s.file]
        self.committed_sequences = sum(s.sequences for s in existing.shards if s.writer_id == writer_id)
        self._next_serial = max([s.serial for s in existing.shards if s.writer_id == writer_id], default=-1) + 1
        self._clean_leftovers({s.file for s in own})

    def _open_manifest(self):
        with directory_lock(self.path):
            remove_stale_manifest_temps(self.path)
            if os.path.exists(os.path.join(self.path, MANIFEST_NAME)):
                m = manifest_format.load(self.path)
                why = m.incompatibility(self._mine)
                if why is not None:
                    raise IncompatibleStoreError(f"incompatible: cannot write to {self.path}: {why}")
                if m.teacher.get("name") != self._mine.teacher.get("name"):
                    raise IncompatibleStoreError(f"incompatible: cannot write to {self.path}: teacher "
                                                 f"{m.teacher.get('name')!r} vs {self._mine.teacher.get('name')!r}")
                return m
            write_atomically(self.path, MANIFEST_NAME, self._mine.serialize())
            return self._mine

    def _clean_leftovers(self, committed):
        pattern = re.compile(re.escape(self.writer_id) + r"-[0-9]{6}\.lgs\Z")
        tmp = re.compile(r"\." + re.escape(self.writer_id) + r"-[0-9]{6}\.lgs\.tmp\Z")
        for name in os.listdir(self.path):
            if tmp.match(name) or (pattern.match(name) and name not in committed):
                try:
                    os.unlink(os.path.join(self.path, name))
                except FileNotFoundError:
                    pass

    # Facts.
    @property
    def pending_sequences(self):
        """Sequences appended since the last commit (lost if the process dies before the next one)."""
        return 0 if self._shard is None else len(self._shard.sequences)

    @property
    def truncation(self):
        """The store's target policy dict."""
        return dict(self.policy)

    # Appending.
    def add_sequence(self, tokens, logits=None, *, ids=None, probs=None, counts=None, target_logprobs=None):
        """Appends one sequence: from logits rows [T, V] or [T, padded V] (numpy or torch; truncated per the
        store's policy on the tensor's device), or from already-truncated `ids`, `probs`, `counts` (validated)."""
        if self._closed:
            raise WriterClosedError()
        tokens = self._tokens(tokens)
        if logits is not None:
            if ids is not None or probs is not None or counts is not None:
                raise InvalidInputError("give either logits or ids/probs/counts, not both")
            if target_logprobs is not None:
                raise InvalidInputError("target log-probs are computed from the logits; do not pass them too")
            rows = self._truncate(tokens, logits)
            c, i, p, t = rows.counts, rows.ids, rows.probs, rows.target_logprobs
        else:
            if ids is None or probs is None or counts is None:
                raise InvalidInputError("add_sequence needs logits, or ids, probs and counts")
            c, i, p, t = self._validate_rows(tokens, ids, probs, counts, target_logprobs)
        self._append(tokens, c, i, p, t)

    def _tokens(self, tokens):
        if is_torch_tensor(tokens):
            tokens = tokens.detach().cpu().numpy()
        t = np.asarray(tokens)
        if t.ndim != 1 or t.size == 0:
            raise InvalidInputError(f"tokens must be a non-empty 1-D array, got shape {t.shape}")
        if not np.issubdtype(t.dtype, np.integer):
            raise InvalidInputError(f"tokens must be integers, got {t.dtype}")
        if int(t.min()) < 0 or int(t.max()) >= self.vocab_size:
            j = int(np.argmax((t < 0) | (t >= self.vocab_size)))
            raise InvalidInputError(f"token {int(t[j])} at position {j} is not below the vocabulary size {self.vocab_size}")
        return t.astype(np.uint32)

    def _truncate(self, tokens, logits):
        shape = tuple(logits.shape)
        if len(shape) != 2 or shape[1] != self.row_width:
            raise InvalidInputError(f"logits have shape {shape}; {tokens.size} tokens need [{tokens.size}, {self.row_width}]")
        if shape[0] != tokens.size:
            raise InvalidInputError(f"{shape[0]} logits rows for {tokens.size} tokens")
        if not is_torch_tensor(logits):
            logits = np.asarray(logits)
            if not np.issubdtype(logits.dtype, np.floating):
                raise InvalidInputError(f"logits must be floating point, got {logits.dtype}")
        pol = self.policy
        if pol["policy"] == policies.SAMPLE:
            ordinal = self.committed_sequences + self.pending_sequences
            return sample_rows(logits, self.vocab_size, pol, self.writer_id, ordinal, tokens, self.record_targets)
        return top_p_k(logits, self.vocab_size, pol["top_p"], pol["top_k"], pol["temperature"], tokens,
                       self.record_targets)

    def _validate_rows(self, tokens, ids, probs, counts, target_logprobs):
        T, V, kmax = tokens.size, self.vocab_size, self.policy["top_k"]
        arrays = []
        for x in (ids, probs, counts, target_logprobs):
            arrays.append(x.detach().cpu().numpy() if is_torch_tensor(x) else (None if x is None else np.asarray(x)))
        ids, probs, counts, tl = arrays
        if counts.ndim != 1 or counts.size != T:
            raise InvalidInputError(f"{T} tokens but {counts.size} rows of counts")
        if not np.issubdtype(counts.dtype, np.integer):
            raise InvalidInputError(f"counts must be integers, got {counts.dtype}")
        counts = counts.astype(np.int64)
        if int(counts.min()) < 1:
            j = int(np.argmin(counts))
            raise InvalidInputError(f"position {j} keeps {int(counts[j])} entries; every position keeps at least 1")
        if int(counts.max()) > kmax:
            j = int(np.argmax(counts))
            raise InvalidInputError(f"position {j} keeps {int(counts[j])} entries, more than top-k {kmax}")
        total = int(counts.sum())
        if ids.ndim != 1 or probs.ndim != 1 or ids.size != total or probs.size != total:
            raise InvalidInputError(f"counts sum to {total} but there are {ids.size} ids and {probs.size} probabilities")
        if not np.issubdtype(ids.dtype, np.integer):
            raise InvalidInputError(f"ids must be integers, got {ids.dtype}")
        pos_of = np.repeat(np.arange(T), counts)
        if total and (int(ids.min()) < 0 or int(ids.max()) >= V):
            e = int(np.argmax((ids < 0) | (ids >= V)))
            raise InvalidInputError(f"id {int(ids[e])} at position {int(pos_of[e])} is not below the vocabulary size {V}")
        if not np.issubdtype(probs.dtype, np.floating):
            raise InvalidInputError(f"probabilities must be floating point, got {probs.dtype}")
        p16 = probs.astype(np.float16)
        bad = ~((p16 >= 0) & (p16 <= 1))
        if bad.any():
            e = int(np.argmax(bad))
            raise InvalidInputError(f"probability {float(probs[e])} at position {int(pos_of[e])} is outside [0, 1]")
        p16 = np.where(p16 == 0, np.float16(0), p16).astype(np.float16)  # -0 is stored as +0
        starts = np.cumsum(counts) - counts
        rising = p16[1:] > p16[:-1]
        rising[starts[1:] - 1] = False
        if rising.any():
            e = int(np.argmax(rising)) + 1
            raise InvalidInputError(f"probabilities at position {int(pos_of[e])} are not descending "
                                    f"({float(p16[e - 1])} then {float(p16[e])})")
        sums = np.add.reduceat(p16.astype(np.float64), starts)
        over = sums > 1 + counts * 2.0 ** -11
        if over.any():
            j = int(np.argmax(over))
            raise InvalidInputError(f"probabilities at position {j} sum to {float(sums[j])}, more than 1")
        dup = repeated_ids(ids.astype(np.int64), pos_of)
        if dup is not None:
            raise InvalidInputError(f"position {int(pos_of[dup])}: id {int(ids[dup])} appears twice")
        if self.policy["policy"] == policies.SAMPLE:
            why = sampled_rows_problem(p16, counts, sums, self.policy)
            if why:
                raise InvalidInputError(why)
        if tl is not None:
            if not self.record_targets:
                raise InvalidInputError("target log-probs given, but this store was created without the target-log-prob stream")
            if tl.ndim != 1 or tl.size != T:
                raise InvalidInputError(f"{T} tokens but {tl.size} target log-probs")
            tl = np.where(np.isnan(tl), np.float32(np.nan), tl).astype(np.float32)  # NaN is written as 0x7FC00000
            pos = tl > 0
            if pos.any():
                j = int(np.argmax(pos))
                raise InvalidInputError(f"target log-prob {float(tl[j])} at position {j} is positive")
        elif self.record_targets:
            tl = np.full(T, np.nan, dtype=np.float32)
        return counts, ids.astype(np.uint32), p16, tl

    def _append(self, tokens, counts, ids, probs, tl):
        try:
            if self._shard is None:
                tmp = os.path.join(self.path, f".{self.writer_id}-{self._next_serial:06d}.lgs.tmp")
                self._shard = ShardBuilder(tmp, self.vocab_size, self._descriptor, self._compressor, self.plan)
            s = self._shard
            per_pos = 12 if self.record_targets else 8
            seq_bytes = tokens.size * per_pos + ids.size * 6
            if self._block and self._block_logical + seq_bytes > self.block_bytes:
                self._flush_block()  # prefer sequence boundaries as block boundaries
            first = s.positions + s.pending_positions + self._block_positions()
            sizes = per_pos + 6 * counts
            ends = np.cumsum(counts)
            a = 0
            while a < tokens.size:
                cum = self._block_logical + np.cumsum(sizes[a:])
                full = np.flatnonzero(cum >= self.block_bytes)
                z = tokens.size if full.size == 0 else a + int(full[0]) + 1
                ea, ez = int(ends[a] - counts[a]), int(ends[z - 1])
                self._block.append((tokens[a:z], counts[a:z], ids[ea:ez], probs[ea:ez],
                                    None if tl is None else tl[a:z]))
                self._block_logical = int(cum[z - a - 1])
                if full.size:
                    self._flush_block()
                a = z
            s.add_sequence(first, tokens.size)
            if s.bytes_written + (s.pending_logical + self._block_logical) // 3 >= self.shard_bytes:
                self._commit_shard()
        except InvalidInputError:
            raise
        except StoreError:
            self._fail()
            raise

    def _block_positions(self):
        return sum(p[0].size for p in self._block)

    def _flush_block(self):
        if not self._block or self._shard is None:
            return
        pieces = self._block
        cat = np.concatenate
        content = BlockContent(tokens=cat([p[0] for p in pieces]), counts=cat([p[1] for p in pieces]).astype(np.uint32),
                               ids=cat([p[2] for p in pieces]), probs=cat([p[3] for p in pieces]).view(np.uint16),
                               targets=None if not self.record_targets else cat([p[4] for p in pieces]).view(np.uint32))
        assert logical_bytes(content) == self._block_logical
        self._shard.add_block(content)
        self._block, self._block_logical = [], 0

    def _fail(self):
        if self._shard is not None:
            self._shard.abort()
        self._shard = None
        self._block, self._block_logical = [], 0
        self._closed = True
        self._release()

    def _commit_shard(self):
        s = self._shard
        if s is None or not s.sequences:
            return
        self._flush_block()
        size, digest = s.finish()
        name = f"{self.writer_id}-{self._next_serial:06d}.lgs"
        final = os.path.join(self.path, name)
        try:
            os.rename(s.temp_path, final)
        except OSError as e:
            raise io_error(final, "rename", e) from None
        fsync_directory(self.path)
        entry = ShardEntry(file=name, writer_id=self.writer_id, sequences=len(s.sequences), positions=s.positions,
                           entries=s.entries, bytes=size, xxh3=hex64(digest))
        with directory_lock(self.path):
            remove_stale_manifest_temps(self.path)
            m = manifest_format.load(self.path)
            m.shards.append(entry)
            write_atomically(self.path, MANIFEST_NAME, m.serialize())
        self.committed_sequences += len(s.sequences)
        self._next_serial += 1
        self._shard = None

    def commit(self):
        """Commits the open shard now: afterwards every sequence appended so far is durable."""
        if self._closed:
            raise WriterClosedError()
        try:
            self._commit_shard()
        except StoreError:
            self._fail()
            raise

    def close(self):
        """Commits the open shard and closes the writer (further appends raise WriterClosedError)."""
        if self._closed:
            return
        try:
            self._commit_shard()
        except StoreError:
            self._fail()
            raise
        self._closed = True
        self._release()

    def abandon(self):
        """Closes without committing: the open shard is deleted (as after a crash, its sequences are lost)."""
        if not self._closed:
            self._fail()

    def _release(self):
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abandon()

    def __del__(self):
        try:
            if getattr(self, "_lock_fd", -1) >= 0:
                if self._shard is not None:
                    self._shard.abort()
                os.close(self._lock_fd)
        except Exception:
            pass
