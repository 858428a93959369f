"""The shard id table, Spec §4.6: listed ids that define the permutation π used by the rank+shuffle filter."""
import struct

import numpy as np

from ..errors import ChecksumError, CorruptStoreError
from . import filters
from .checksum import xxh3
from .codecs import CodecFailure
from .layout import CODEC_LZ4, CODEC_NONE, CODEC_ZSTD, FILTER_NONE, FILTER_SHUFFLE, ID_TABLE_HEADER_SIZE

_LAYOUT = struct.Struct("<BBBBIII")


def permutation(listed, vocab_size):
    """π (rank -> id, V entries, uint32): the listed ids, then every other id in ascending order."""
    listed = np.asarray(listed, dtype=np.uint32)
    unlisted = np.ones(vocab_size, dtype=bool)
    unlisted[listed] = False
    return np.concatenate((listed, np.flatnonzero(unlisted).astype(np.uint32)))


def inverse(perm):
    """π⁻¹ (id -> rank) of a permutation of 0..V-1."""
    inv = np.empty(perm.size, dtype=np.uint32)
    inv[perm] = np.arange(perm.size, dtype=np.uint32)
    return inv


def build(ids, vocab_size):
    """The listed ids for a shard whose sampled blocks hold `ids`: distinct ids by descending frequency, ties by
    lower id (the writer default of Spec §4.6; any list is valid)."""
    freq = np.bincount(np.asarray(ids, dtype=np.int64), minlength=vocab_size)
    seen = np.flatnonzero(freq)
    order = np.lexsort((seen, -freq[seen]))
    return seen[order].astype(np.uint32)


def serialize(listed, compressor):
    """The id-table section bytes: header, then the listed ids shuffled at their smallest width and compressed."""
    listed = np.asarray(listed, dtype=np.uint32)
    width = filters.width_for(int(listed.max()) if listed.size else 0)
    raw = filters.encode(listed, width, FILTER_SHUFFLE)
    codec, payload = compressor.compress(raw)
    return _LAYOUT.pack(codec, FILTER_SHUFFLE, width, 0, listed.size, len(raw), len(payload)) + payload


def parse(section, vocab_size, checksum, decompressor, file, verify=True, max_ids=None):
    """π of a shard from its id-table section bytes: checksum (when `verify`), header, payload, and that the
    listed ids are distinct and below V."""
    if verify and xxh3(section) != checksum:
        raise ChecksumError(file, "id table")

    def bad(detail):
        return CorruptStoreError(file, "id table: " + detail)

    if len(section) < ID_TABLE_HEADER_SIZE:
        raise bad("section shorter than its header")
    codec, flt, width, reserved, n, raw_size, stored = _LAYOUT.unpack_from(section, 0)
    if reserved:
        raise bad("reserved byte is not zero")
    if codec not in (CODEC_NONE, CODEC_LZ4, CODEC_ZSTD) or flt not in (FILTER_NONE, FILTER_SHUFFLE):
        raise bad(f"unknown codec {codec} or filter {flt}")
    limit = vocab_size if max_ids is None else max_ids
    if width not in (1, 2, 4) or not 1 <= n <= limit or raw_size != n * width or raw_size > (1 << 27) \
            or stored != len(section) - ID_TABLE_HEADER_SIZE:
        raise bad(f"inconsistent sizes (count {n}, width {width}, raw {raw_size}, stored {stored})")
    try:
        raw = decompressor.decompress(memoryview(section)[ID_TABLE_HEADER_SIZE:], codec, raw_size)
    except CodecFailure as e:
        raise bad(str(e)) from None
    listed = filters.decode(raw, n, width, flt).astype(np.uint32)
    if n and int(listed.max()) >= vocab_size:
        raise bad(f"id {int(listed.max())} is not below the vocabulary size {vocab_size}")
    if vocab_size <= DENSE_LIMIT:
        listed_mask = np.zeros(vocab_size, dtype=bool)
        listed_mask[listed] = True
        if int(np.count_nonzero(listed_mask)) != n:
            raise bad("an id is listed twice")
        return np.concatenate((listed, np.flatnonzero(~listed_mask).astype(np.uint32)))
    ordered = np.sort(listed)
    if (ordered[1:] == ordered[:-1]).any():
        raise bad("an id is listed twice")
    return CompactPermutation(listed, ordered, vocab_size)


#: Vocabularies up to this size get π as one dense array (4 B per id); larger ones a compact form (memory ∝ n).
DENSE_LIMIT = 1 << 22


class CompactPermutation:
    """π for a large vocabulary without an array over all of V (Spec §12): rank r < n maps to listed[r]; rank
    r >= n to the (r - n)-th unlisted id, found by binary search over the sorted listed ids."""

    def __init__(self, listed, ordered, vocab_size):
        self.listed = listed
        self.size = vocab_size
        # before[i] = how many unlisted ids lie below ordered[i]
        self._before = ordered.astype(np.int64) - np.arange(ordered.size, dtype=np.int64)

    def take(self, ranks):
        """ids = π(ranks) (ranks intp, each < V)."""
        n = self.listed.size
        out = np.empty(ranks.size, dtype=np.uint32)
        low = ranks < n
        out[low] = self.listed[ranks[low]]
        k = ranks[~low] - n
        out[~low] = (k + np.searchsorted(self._before, k, side="right")).astype(np.uint32)
        return out
