"""An open shard: the memory-mapped file with its parsed, bounds-checked and checksum-verified footer index."""
import mmap
import os
import stat

import numpy as np

from .errors import ChecksumError, CorruptStoreError, StoreError, StoreNotFoundError
from .format import block_entry, id_table, sequence_entry
from .format.checksum import xxh3
from .format.header import Header
from .format.index_header import IndexHeader
from .format.layout import BLOCK_ENTRY_SIZE, HEADER_SIZE, ID_TABLE_HEADER_SIZE, INDEX_HEADER_SIZE
from .format.trailer import Trailer


class Shard:
    """One shard file of a store, opened against its manifest entry (Spec §3, §4.1-§4.3)."""

    def __init__(self, path, entry, vocab_size, descriptor_hash):
        self.name = entry.file
        self.entry = entry
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise StoreNotFoundError(f"not found: shard {self.name}") from None
        except OSError as e:
            raise StoreError(f"I/O error: open {self.name}: {e.strerror or e}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise CorruptStoreError(self.name, "is not a regular file")
            if st.st_size != entry.bytes:
                more = " (truncated)" if st.st_size < entry.bytes else ""
                raise CorruptStoreError(self.name, f"file is {st.st_size} bytes, the manifest says {entry.bytes}{more}")
            self._map = mmap.mmap(fd, st.st_size, access=mmap.ACCESS_READ)
        except OSError as e:
            raise StoreError(f"I/O error: map {self.name}: {e.strerror or e}") from None
        finally:
            os.close(fd)
        self.buf = memoryview(self._map)
        try:
            self._parse(vocab_size, descriptor_hash)
        except BaseException:
            self.close()
            raise
        self._perm = None

    def _parse(self, vocab_size, descriptor_hash):
        name, buf = self.name, self.buf
        header = Header.parse(buf, name)
        if header.vocab_size != vocab_size:
            raise CorruptStoreError(name, f"shard vocabulary {header.vocab_size} differs from the manifest's {vocab_size}")
        if header.descriptor_hash != descriptor_hash:
            raise CorruptStoreError(name, f"manifest does not match shard {name} (store descriptor hash "
                                          f"{header.descriptor_hash:016x}, manifest {descriptor_hash:016x})")
        trailer = Trailer.parse(buf, name)
        index = buf[trailer.index_offset:trailer.index_offset + trailer.index_length]
        if xxh3(index) != trailer.index_checksum:
            raise ChecksumError(name, "footer index")
        ih = IndexHeader.parse(buf, trailer.index_offset, trailer.index_length, name)
        if ih.id_table_length:
            to, tl = ih.id_table_offset, ih.id_table_length
            if to < HEADER_SIZE or tl < ID_TABLE_HEADER_SIZE or to + tl != trailer.index_offset:
                raise CorruptStoreError(name, f"id table [{to}, +{tl}) does not end where the index starts")
            data_end = to  # the blocks end exactly where the id table starts
        else:
            data_end = trailer.index_offset
        off = trailer.index_offset + INDEX_HEADER_SIZE
        self.blocks = block_entry.parse(buf, off, ih.blocks, ih, data_end, name).copy()
        off += BLOCK_ENTRY_SIZE * ih.blocks
        self.sequences = sequence_entry.parse(buf, off, ih.sequences, ih.positions, name).copy()
        e = self.entry
        if (ih.sequences, ih.positions, ih.entries) != (e.sequences, e.positions, e.entries):
            raise CorruptStoreError(name, f"index holds {ih.sequences} sequences / {ih.positions} positions / "
                                          f"{ih.entries} entries, the manifest says {e.sequences} / {e.positions} / {e.entries}")
        self.index = ih
        self.positions = ih.positions
        self.block_first = self.blocks["first_position"].astype(np.int64)
        self.sequence_first = self.sequences["first_position"].astype(np.int64)

    def id_table(self, vocab_size, decompressor, verify=True):
        """π (rank -> id) of this shard's id table, decoded (and checked) on first use; None when it has none."""
        if self._perm is None and self.index.id_table_length:
            ih = self.index
            section = self.buf[ih.id_table_offset:ih.id_table_offset + ih.id_table_length]
            self._perm = id_table.parse(section, vocab_size, ih.id_table_checksum, decompressor, self.name, verify,
                                        max_ids=min(vocab_size, ih.entries))
        return self._perm

    def block_bytes(self, b):
        """The stored bytes of block `b` (a memoryview into the map)."""
        start = int(self.blocks["offset"][b])
        return self.buf[start:start + int(self.blocks["stored_size"][b])]

    def block_index(self, local_position):
        """The block holding shard-local position `local_position`."""
        return int(np.searchsorted(self.block_first, local_position, side="right")) - 1

    def close(self):
        """Unmaps the file (left to the garbage collector while decoded arrays still point into it)."""
        try:
            self.buf.release()
            self._map.close()
        except (BufferError, AttributeError):
            pass
