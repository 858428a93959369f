"""Blocks, Spec §4.4 and §4.5: encode logical content to block bytes, decode and check block bytes.

Decoding enforces every block rule of Spec §5.2 (format v2): stream descriptors in ascending type order, required
streams present with the required flag, payloads ending at the block end, raw size equal to the block entry's,
strict codecs, known filters, widths, ids and tokens below V, every count in 1...k_max, counts summing to the
entries, and the target-log-prob stream present exactly when the manifest says so; also that every kept
probability is +0 or positive and <= 1. The per-position probability rules (non-increasing, Σ <= 1 + n·2^-11) are
checked with `content=True`, as `verify` does.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import CorruptStoreError
from . import filters
from .block_header import BlockHeader
from .codecs import CodecFailure
from .layout import (BLOCK_HEADER_SIZE, CODEC_LZ4, CODEC_NONE, CODEC_ZSTD, COUNTS, FILTER_DELTA_SHUFFLE,
                     FILTER_NONE, FILTER_RANK_SHUFFLE, FILTER_SHUFFLE, IDS, PER_POSITION, PROBS, REQUIRED_STREAMS,
                     STREAM_DESCRIPTOR_SIZE, TARGET_LOGPROBS, TOKENS, stream_name)
from .stream_descriptor import StreamDescriptor

_FLOAT16_ONE = 0x3C00
#: float32 value of every float16 bit pattern from +0 to 1 (a table lookup beats numpy's float16 conversion).
_F16_TO_F32 = np.arange(_FLOAT16_ONE + 1, dtype=np.uint16).view(np.float16).astype(np.float32)


@dataclass
class BlockContent:
    """A block's logical values: tokens, counts, ids (uint32), probs (float16 bit patterns, uint16) and optional
    target log-probs (float32 bit patterns, uint32)."""

    tokens: np.ndarray
    counts: np.ndarray
    ids: np.ndarray
    probs: np.ndarray
    targets: np.ndarray = None

    @property
    def positions(self):
        """Positions in the block."""
        return int(self.tokens.size)

    @property
    def entries(self):
        """Kept entries in the block."""
        return int(self.ids.size)


@dataclass(frozen=True)
class EncodingPlan:
    """The filter of each stream (writer defaults of Spec §8)."""

    tokens: int = FILTER_SHUFFLE
    counts: int = FILTER_SHUFFLE
    ids: int = FILTER_RANK_SHUFFLE
    probs: int = FILTER_DELTA_SHUFFLE
    targets: int = FILTER_SHUFFLE


def encode(content, compressor, plan=EncodingPlan(), rank_of_id=None):
    """(block bytes, raw size Σ of the streams' raw sizes) for `content`; `rank_of_id` (π⁻¹) is needed when the
    plan's ids filter is rank+shuffle."""
    streams = []

    def add(stream_type, values, filter_id, width=None):
        if width is None:
            width = filters.width_for(int(values.max()) if values.size else 0)
        raw = filters.encode(values, width, filter_id)
        codec, payload = compressor.compress(raw)
        streams.append((StreamDescriptor(stream_type, stream_type in REQUIRED_STREAMS, codec, filter_id, width,
                                         len(payload), len(raw)), payload))

    add(TOKENS, content.tokens, plan.tokens)
    add(COUNTS, content.counts, plan.counts)
    if plan.ids == FILTER_RANK_SHUFFLE:
        if rank_of_id is None:
            raise ValueError("rank filter without an id table")
        add(IDS, rank_of_id[content.ids], FILTER_RANK_SHUFFLE)
    else:
        add(IDS, content.ids, plan.ids)
    add(PROBS, content.probs, plan.probs, width=2)
    if content.targets is not None:
        add(TARGET_LOGPROBS, content.targets, plan.targets, width=4)
    parts = [BlockHeader(len(streams), content.positions, content.entries).serialize()]
    parts += [d.serialize() for d, _ in streams]
    parts += [p for _, p in streams]
    return b"".join(parts), sum(d.raw_size for d, _ in streams)


@dataclass
class DecodedBlock:
    """A decoded block: tokens uint32, counts int64, ids uint32, probs float16, targets float32 or None."""

    tokens: np.ndarray
    counts: np.ndarray
    ids: np.ndarray
    probs: np.ndarray
    targets: np.ndarray


_WIDTHS = {PROBS: (2,), TARGET_LOGPROBS: (4,)}


def decode(buf, file, block, entry, vocab_size, top_k, expect_targets, id_table, decompressor, content=False):
    """Decodes and checks the block bytes `buf` (its checksum already verified). `entry` is its footer-index
    record, `id_table()` returns the shard's π (or None). Raises CorruptStoreError naming `file` and `block`.
    Every read checks the block rules of Spec §5.2 and that each probability is +0, positive and <= 1; with
    `content` (verify) also that they are non-increasing per position with Σ <= 1 + n·2^-11."""
    def bad(detail):
        return CorruptStoreError(file, detail, block)

    positions, entries = int(entry["positions"]), int(entry["entries"])
    header = BlockHeader.parse(buf, file, block)
    if header.positions != positions or header.entries != entries:
        raise bad(f"block header says {header.positions} positions / {header.entries} entries, "
                  f"index says {positions} / {entries}")
    payload = BLOCK_HEADER_SIZE + header.streams * STREAM_DESCRIPTOR_SIZE
    if payload > len(buf):
        raise bad("stream table runs past the block end")
    descriptors = []
    for s in range(header.streams):
        d = StreamDescriptor.parse(buf, BLOCK_HEADER_SIZE + s * STREAM_DESCRIPTOR_SIZE, file, block)
        if descriptors and d.type <= descriptors[-1][0].type:
            raise bad(f"stream descriptors are not in ascending type order ({descriptors[-1][0].name} then {d.name})")
        if d.stored_size > len(buf) - payload:
            raise bad(f"stream {d.name} payload ({d.stored_size} bytes) runs past the block end")
        descriptors.append((d, payload))
        payload += d.stored_size
    if payload != len(buf):
        raise bad(f"block has {len(buf) - payload} bytes after its last stream")
    raw_total = sum(d.raw_size for d, _ in descriptors)
    if raw_total != int(entry["raw_size"]):
        raise bad(f"stream raw sizes sum to {raw_total}, the block entry says {int(entry['raw_size'])}")
    present = {d.type for d, _ in descriptors}
    for t in REQUIRED_STREAMS:
        if t not in present:
            raise bad(f"required stream {stream_name(t)} is missing")
    if (TARGET_LOGPROBS in present) != bool(expect_targets):
        raise bad("target-log-prob stream " + ("missing (the manifest says the store has it)" if expect_targets
                                                else "present (the manifest says the store has none)"))
    values = {}
    for d, offset in descriptors:
        if d.type not in (TOKENS, COUNTS, IDS, PROBS, TARGET_LOGPROBS):
            if d.required:
                raise bad(f"required stream type {d.type} is unknown to this reader (format too new)")
            continue
        if d.type in REQUIRED_STREAMS and not d.required:
            raise bad(f"stream {d.name} lacks the required flag")
        if d.type == TARGET_LOGPROBS and d.required:
            raise bad("stream target_logprobs has the required flag set")
        values[d.type] = _stream(buf, d, offset, positions if d.type in PER_POSITION else entries, bad,
                                 decompressor, id_table)
    tokens, counts, ids = values[TOKENS], values[COUNTS], values[IDS]
    probs = values[PROBS].astype(np.uint16, copy=False)
    if positions and int(tokens.max()) >= vocab_size:
        raise bad(f"token {int(tokens.max())} is not below the vocabulary size {vocab_size}")
    rank_coded = any(d.type == IDS and d.filter == FILTER_RANK_SHUFFLE for d, _ in descriptors)
    if entries and not rank_coded and int(ids.max()) >= vocab_size:  # π maps ranks to ids < V
        raise bad(f"id {int(ids.max())} is not below the vocabulary size {vocab_size}")
    counts = counts.astype(np.int64)
    if int(counts.min()) < 1 or int(counts.max()) > top_k:
        raise bad(f"a count ({int(counts.min())}...{int(counts.max())}) is outside 1...top_k {top_k}")
    if int(counts.sum()) != entries:
        raise bad(f"counts sum to {int(counts.sum())}, the block holds {entries} entries")
    if probs.size and int(probs.max()) > _FLOAT16_ONE:
        raise bad("a kept probability is negative, above 1 or not finite")
    if content:
        _check_probs(probs, counts, bad)
    targets = values.get(TARGET_LOGPROBS)
    targets = None if targets is None else _owned(targets.astype(np.uint32, copy=False)).view(np.float32)
    return DecodedBlock(_owned(tokens.astype(np.uint32, copy=False)), counts, _owned(ids.astype(np.uint32, copy=False)),
                        _owned(probs).view(np.float16), targets)


def _owned(a):
    """`a`, or a copy when it is a read-only view (of the decompressed bytes or of the shard map)."""
    return a if a.flags.writeable else a.copy()


def _stream(buf, d, offset, n, bad, decompressor, id_table):
    if d.filter not in (FILTER_NONE, FILTER_SHUFFLE, FILTER_DELTA_SHUFFLE, FILTER_RANK_SHUFFLE):
        raise bad(f"stream {d.name} has unknown filter {d.filter}")
    if d.filter == FILTER_RANK_SHUFFLE and d.type != IDS:
        raise bad(f"stream {d.name} uses the rank filter, which only ids may use")
    if d.codec not in (CODEC_NONE, CODEC_LZ4, CODEC_ZSTD):
        raise bad(f"stream {d.name} has unknown codec {d.codec}")
    if d.width not in _WIDTHS.get(d.type, (1, 2, 4)):
        raise bad(f"stream {d.name} has invalid width {d.width}")
    if d.raw_size != n * d.width:
        raise bad(f"stream {d.name} raw size {d.raw_size} is not {n} × {d.width}")
    if d.raw_size == 0 and (d.codec != CODEC_NONE or d.stored_size != 0):
        raise bad(f"empty stream {d.name} must use codec 0 with stored size 0")
    try:
        raw = decompressor.decompress(buf[offset:offset + d.stored_size], d.codec, d.raw_size)
    except CodecFailure as e:
        raise bad(f"stream {d.name}: {e}") from None
    v = filters.decode(raw, n, d.width, d.filter)
    if d.filter == FILTER_RANK_SHUFFLE:
        perm = id_table()
        if perm is None:
            raise bad("ids use the rank filter but the shard has no id table")
        v = filters.ranks_to_ids(v, perm)
        if v is None:
            raise bad("id rank outside the id table")
    return v


def _check_probs(bits, counts, bad):
    """Kept probabilities: +0 or positive and <= 1 (as bit patterns: <= 0x3C00), non-increasing within each position,
    and Σ <= 1 + n·2^-11 per position."""
    if bits.size == 0:
        return
    starts = np.cumsum(counts) - counts
    rising = bits[1:] > bits[:-1]
    rising[starts[1:] - 1] = False  # a new position may start higher
    if rising.any():
        raise bad("kept probabilities of a position are not non-increasing")
    values = np.take(_F16_TO_F32, bits.astype(np.intp), mode="clip")  # bits <= 0x3C00 (checked above)
    sums = np.add.reduceat(values, starts)  # float32 summation error << n·2^-11
    if (sums > 1 + counts * 2.0 ** -11).any():
        raise bad("kept probabilities of a position sum to more than 1 + n·2^-11")
