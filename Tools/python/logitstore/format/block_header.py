"""Block header, Spec §4.4 (the first 16 bytes of every block)."""
import struct
from dataclasses import dataclass

from ..errors import CorruptStoreError
from .layout import BLOCK_HEADER_SIZE

_LAYOUT = struct.Struct("<HHIII")


@dataclass(frozen=True)
class BlockHeader:
    """Stream count and the block's position and entry counts."""

    streams: int
    positions: int
    entries: int

    def serialize(self):
        """The 16 block-header bytes."""
        return _LAYOUT.pack(self.streams, 0, self.positions, self.entries, 0)

    @staticmethod
    def parse(buf, file, block):
        """Parses the header at the start of the block bytes `buf`; reserved fields must be zero."""
        if len(buf) < BLOCK_HEADER_SIZE:
            raise CorruptStoreError(file, "block header truncated", block)
        n, r0, positions, entries, r1 = _LAYOUT.unpack_from(buf, 0)
        if r0 or r1:
            raise CorruptStoreError(file, "reserved block header bits are not zero", block)
        return BlockHeader(n, positions, entries)
