"""Shard trailer, Spec §4.2 (the last 32 bytes)."""
import struct
from dataclasses import dataclass

from ..errors import CorruptStoreError
from .layout import HEADER_SIZE, INDEX_HEADER_SIZE, TRAILER_MAGIC, TRAILER_SIZE

_LAYOUT = struct.Struct("<QQQ8s")


@dataclass(frozen=True)
class Trailer:
    """Where the footer index lies, its length and its XXH3-64."""

    index_offset: int
    index_length: int
    index_checksum: int

    def serialize(self):
        """The 32 trailer bytes."""
        return _LAYOUT.pack(self.index_offset, self.index_length, self.index_checksum, TRAILER_MAGIC)

    @staticmethod
    def parse(buf, file):
        """Parses the last 32 bytes of the whole-file buffer `buf` and checks the magic and that the index fits."""
        size = len(buf)
        if size < HEADER_SIZE + INDEX_HEADER_SIZE + TRAILER_SIZE:
            raise CorruptStoreError(file, f"file too short for a shard ({size} bytes)")
        offset, length, checksum, magic = _LAYOUT.unpack_from(buf, size - TRAILER_SIZE)
        if magic != TRAILER_MAGIC:
            raise CorruptStoreError(file, "bad trailer magic (file truncated or not finished)")
        if offset < HEADER_SIZE or length < INDEX_HEADER_SIZE or offset + length != size - TRAILER_SIZE:
            raise CorruptStoreError(file, f"index offset {offset} / length {length} do not fit the file ({size} bytes)")
        return Trailer(offset, length, checksum)
