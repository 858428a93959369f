"""Footer index header, Spec §4.3 (the index's first 64 bytes)."""
import struct
from dataclasses import dataclass

from ..errors import CorruptStoreError
from .layout import BLOCK_ENTRY_SIZE, INDEX_HEADER_SIZE, SEQUENCE_ENTRY_SIZE

_LAYOUT = struct.Struct("<QQQQQQQQ")


@dataclass(frozen=True)
class IndexHeader:
    """Counts of blocks, sequences, positions and entries, and where the id table lies (0s when none)."""

    blocks: int
    sequences: int
    positions: int
    entries: int
    id_table_offset: int = 0
    id_table_length: int = 0
    id_table_checksum: int = 0

    def serialize(self):
        """The 64 index-header bytes."""
        return _LAYOUT.pack(self.blocks, self.sequences, self.positions, self.entries,
                            self.id_table_offset, self.id_table_length, self.id_table_checksum, 0)

    @staticmethod
    def parse(buf, offset, length, file):
        """Parses the index header at `offset` of an index of `length` bytes; checks L = 64 + 48 B + 16 S."""
        b, s, p, e, to, tl, tsum, reserved = _LAYOUT.unpack_from(buf, offset)
        if reserved != 0:
            raise CorruptStoreError(file, "reserved index field is not zero")
        if INDEX_HEADER_SIZE + BLOCK_ENTRY_SIZE * b + SEQUENCE_ENTRY_SIZE * s != length:
            raise CorruptStoreError(file, f"index length {length} does not match {b} blocks and {s} sequences")
        if tl == 0 and (to != 0 or tsum != 0):
            raise CorruptStoreError(file, "id table offset/checksum set without a table")
        return IndexHeader(b, s, p, e, to, tl, tsum)
