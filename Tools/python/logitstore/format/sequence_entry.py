"""Footer-index sequence entries, Spec §4.3.2 (16 bytes each), parsed into one numpy structured array."""
import numpy as np

from ..errors import CorruptStoreError

#: One sequence entry as a numpy record.
DTYPE = np.dtype([("first_position", "<u8"), ("length", "<u8")])


def serialize(entries):
    """Bytes of a structured array (or list of (first_position, length)) of sequence entries."""
    return np.asarray(entries, dtype=DTYPE).tobytes() if len(entries) else b""


def parse(buf, offset, count, positions, file):
    """The `count` sequence entries at `offset`, checked: contiguous from 0, lengths >= 1, summing to `positions`."""
    if count < 1:
        raise CorruptStoreError(file, "shard has no sequences")
    e = np.frombuffer(buf, dtype=DTYPE, count=count, offset=offset)
    length = e["length"]
    if count and (length.min() < 1 or length.max() > positions):
        raise CorruptStoreError(file, "sequence table has an empty or oversized sequence")
    lengths = length.astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if count else lengths
    bad = np.flatnonzero(e["first_position"].astype(np.int64) != starts)
    if bad.size:
        raise CorruptStoreError(file, f"sequence table is not contiguous at sequence {int(bad[0])}")
    if int(lengths.sum()) != positions:
        raise CorruptStoreError(file, f"sequences cover {int(lengths.sum())} of {positions} positions")
    return e
