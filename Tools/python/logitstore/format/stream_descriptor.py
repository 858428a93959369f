"""Stream descriptors, Spec §4.4 (16 bytes each, after the block header)."""
import struct
from dataclasses import dataclass

from ..errors import CorruptStoreError
from .layout import REQUIRED_FLAG, STREAM_DESCRIPTOR_SIZE, stream_name

_LAYOUT = struct.Struct("<HBBBBHII")


@dataclass(frozen=True)
class StreamDescriptor:
    """One stream of a block: type, required flag, codec, filter, element width and sizes."""

    type: int
    required: bool
    codec: int
    filter: int
    width: int
    stored_size: int
    raw_size: int

    @property
    def name(self):
        """The stream type's name."""
        return stream_name(self.type)

    def serialize(self):
        """The 16 descriptor bytes."""
        return _LAYOUT.pack(self.type, REQUIRED_FLAG if self.required else 0, self.codec, self.filter, self.width,
                            0, self.stored_size, self.raw_size)

    @staticmethod
    def parse(buf, offset, file, block):
        """Parses the descriptor at `offset`; reserved flag bits and the reserved u16 must be zero."""
        if offset + STREAM_DESCRIPTOR_SIZE > len(buf):
            raise CorruptStoreError(file, "stream table runs past the block end", block)
        t, flags, codec, flt, width, reserved, stored, raw = _LAYOUT.unpack_from(buf, offset)
        if flags & ~REQUIRED_FLAG or reserved:
            raise CorruptStoreError(file, f"reserved bits set in the descriptor of stream {stream_name(t)}", block)
        return StreamDescriptor(t, bool(flags & REQUIRED_FLAG), codec, flt, width, stored, raw)
