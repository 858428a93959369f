"""Footer-index block entries, Spec §4.3.1 (48 bytes each), parsed into one numpy structured array."""
import numpy as np

from ..errors import CorruptStoreError
from .layout import HEADER_SIZE

#: One block entry as a numpy record.
DTYPE = np.dtype([("offset", "<u8"), ("first_position", "<u8"), ("first_entry", "<u8"), ("stored_size", "<u4"),
                  ("raw_size", "<u4"), ("positions", "<u4"), ("entries", "<u4"), ("checksum", "<u8")])
assert DTYPE.itemsize == 48
#: Largest raw size of one block (Spec §4.3.1): bounds what a reader allocates for it.
MAX_BLOCK_RAW = 1 << 27


def serialize(entries):
    """Bytes of a structured array (or list of tuples in DTYPE's field order) of block entries."""
    return np.asarray(entries, dtype=DTYPE).tobytes() if len(entries) else b""


def parse(buf, offset, count, header, data_end, file):
    """The `count` block entries at `offset`, checked (vectorised) against Spec §4 and §4.3.1: contiguous in file
    order from offset 32 up to `data_end` (no gaps), stored size >= 16, position count >= 1, entry count >=
    position count, first positions and entries contiguous from 0 and summing to the index header's totals."""
    if count < 1:
        raise CorruptStoreError(file, "shard has no blocks")
    e = np.frombuffer(buf, dtype=DTYPE, count=count, offset=offset)
    start = e["offset"].astype(np.uint64)
    size = e["stored_size"].astype(np.uint64)
    end = start + size
    expected = np.concatenate(([np.uint64(HEADER_SIZE)], end[:-1]))
    bad = np.flatnonzero((start != expected) | (size < 16) | (end > np.uint64(data_end)))
    big = np.flatnonzero(e["raw_size"] > MAX_BLOCK_RAW)
    if big.size:
        raise CorruptStoreError(file, f"block raw size {int(e['raw_size'][big[0]])} is above the limit 2^27",
                                block=int(big[0]))
    if bad.size:
        b = int(bad[0])
        raise CorruptStoreError(file, f"block bytes [{int(start[b])}, +{int(size[b])}) do not follow the previous "
                                      f"block contiguously inside [32, {data_end})", block=b)
    if int(end[-1]) != data_end:
        raise CorruptStoreError(file, f"{data_end - int(end[-1])} unreferenced bytes after the last block")
    npos = e["positions"].astype(np.int64)
    nent = e["entries"].astype(np.int64)
    first_pos = np.concatenate(([0], np.cumsum(npos)[:-1]))
    first_ent = np.concatenate(([0], np.cumsum(nent)[:-1]))
    bad = np.flatnonzero((e["first_position"].astype(np.int64) != first_pos)
                         | (e["first_entry"].astype(np.int64) != first_ent) | (npos < 1) | (nent < npos))
    if bad.size:
        b = int(bad[0])
        raise CorruptStoreError(file, f"block positions/entries are not contiguous or empty (first position "
                                      f"{int(e['first_position'][b])}, expected {int(first_pos[b])})", block=b)
    if int(npos.sum()) != header.positions or int(nent.sum()) != header.entries:
        raise CorruptStoreError(file, f"blocks hold {int(npos.sum())} positions / {int(nent.sum())} entries, "
                                      f"the index says {header.positions} / {header.entries}")
    return e
