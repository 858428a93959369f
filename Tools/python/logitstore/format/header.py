"""Shard header, Spec §4.1 (32 bytes at offset 0)."""
import struct
from dataclasses import dataclass

from ..errors import CorruptStoreError, IncompatibleStoreError
from .layout import HEADER_MAGIC, HEADER_SIZE, VERSION_MAJOR, VERSION_MINOR

_LAYOUT = struct.Struct("<8sHHIQQ")


@dataclass(frozen=True)
class Header:
    """Magic, version, flags (0), vocabulary size and the store descriptor hash (offset 24)."""

    vocab_size: int
    descriptor_hash: int
    minor: int = VERSION_MINOR

    def serialize(self):
        """The 32 header bytes."""
        return _LAYOUT.pack(HEADER_MAGIC, VERSION_MAJOR, self.minor, 0, self.vocab_size, self.descriptor_hash)

    @staticmethod
    def parse(buf, file):
        """Parses and checks the first 32 bytes of `buf`: magic, major version 2, flags 0."""
        if len(buf) < HEADER_SIZE:
            raise CorruptStoreError(file, "file too short for a shard header")
        magic, major, minor, flags, vocab, descriptor = _LAYOUT.unpack_from(buf, 0)
        if magic != HEADER_MAGIC:
            raise CorruptStoreError(file, "bad magic at file start (not a logitstore shard)")
        if major != VERSION_MAJOR:
            raise IncompatibleStoreError(
                f"{file} has shard format major version {major}; this reader reads version {VERSION_MAJOR}")
        if flags != 0:
            raise CorruptStoreError(file, "reserved header flags are not zero")
        return Header(vocab_size=vocab, descriptor_hash=descriptor, minor=minor)
