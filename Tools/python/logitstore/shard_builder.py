"""Writes one shard file: header, blocks (held back until the id table is built), id table, footer index, trailer."""
import os

import numpy as np

from .durable import io_error, write_all
from .errors import InvalidInputError
from .format import block as block_codec
from .format import block_entry, id_table, sequence_entry
from .format.block_entry import MAX_BLOCK_RAW
from .format.checksum import Streaming, xxh3
from .format.header import Header
from .format.index_header import IndexHeader
from .format.layout import FILTER_RANK_SHUFFLE
from .format.trailer import Trailer

#: The id table lists the ids of the shard's first blocks, up to this much logical data (Spec §4.6 default).
ID_TABLE_SAMPLE_BYTES = 4 << 20
_U32 = (1 << 32) - 1


def logical_bytes(content):
    """The block-size measure of Spec §8: 4 B per token, count (and target log-prob), 6 B per entry."""
    return content.positions * (8 if content.targets is None else 12) + content.entries * 6


class ShardBuilder:
    """A shard being written to its temporary file."""

    def __init__(self, temp_path, vocab_size, descriptor_hash, compressor, plan):
        self.temp_path = temp_path
        self.vocab_size = vocab_size
        self.compressor = compressor
        self.plan = plan
        self._hash = Streaming()
        self.bytes_written = 0
        self.blocks = []
        self.sequences = []
        self.positions = 0
        self.entries = 0
        self._pending = []
        self.pending_logical = 0
        self._listed = None
        self._rank_of_id = None
        try:
            self._fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise io_error(temp_path, "create", e) from None
        self._emit(Header(vocab_size=vocab_size, descriptor_hash=descriptor_hash).serialize())

    def _emit(self, data):
        write_all(self._fd, data, self.temp_path)
        self._hash.update(data)
        self.bytes_written += len(data)

    @property
    def pending_positions(self):
        """Positions in blocks held back for the id table."""
        return sum(c.positions for c in self._pending)

    def add_block(self, content):
        """Encodes and writes one block (held back while the id table is still being sampled)."""
        if self.plan.ids == FILTER_RANK_SHUFFLE and self._listed is None:
            self._pending.append(content)
            self.pending_logical += logical_bytes(content)
            if self.pending_logical >= ID_TABLE_SAMPLE_BYTES:
                self._flush_pending()
            return
        self._write_block(content)

    def _flush_pending(self):
        if self._listed is not None or not self._pending:
            return
        ids = np.concatenate([c.ids for c in self._pending])
        self._listed = id_table.build(ids, self.vocab_size)
        self._rank_of_id = id_table.inverse(id_table.permutation(self._listed, self.vocab_size))
        pending, self._pending, self.pending_logical = self._pending, [], 0
        for c in pending:
            self._write_block(c)

    def _write_block(self, content):
        data, raw = block_codec.encode(content, self.compressor, self.plan, self._rank_of_id)
        if len(data) > _U32 or raw > MAX_BLOCK_RAW:
            raise InvalidInputError(f"block too large ({raw} raw bytes, the limit is 2^27); lower the block size")
        self.blocks.append((self.bytes_written, self.positions, self.entries, len(data), raw, content.positions,
                            content.entries, xxh3(data)))
        self.positions += content.positions
        self.entries += content.entries
        self._emit(data)

    def add_sequence(self, first_position, length):
        """Records a sequence (shard-local first position, length)."""
        self.sequences.append((first_position, length))

    def finish(self):
        """Writes the id table, index and trailer, fsyncs and closes. Returns (file size, whole-file XXH3-64)."""
        self._flush_pending()
        table_offset = table_length = table_sum = 0
        if self._listed is not None:
            section = id_table.serialize(self._listed, self.compressor)
            table_offset, table_length, table_sum = self.bytes_written, len(section), xxh3(section)
            self._emit(section)
        ih = IndexHeader(len(self.blocks), len(self.sequences), self.positions, self.entries,
                         table_offset, table_length, table_sum)
        index = ih.serialize() + block_entry.serialize(self.blocks) + sequence_entry.serialize(self.sequences)
        index_offset = self.bytes_written
        self._emit(index)
        self._emit(Trailer(index_offset, len(index), xxh3(index)).serialize())
        try:
            os.fsync(self._fd)
        except OSError as e:
            raise io_error(self.temp_path, "fsync", e) from None
        fd, self._fd = self._fd, -1
        try:
            os.close(fd)
        except OSError as e:
            raise io_error(self.temp_path, "close", e) from None
        return self.bytes_written, self._hash.digest()

    def abort(self):
        """Closes and deletes the temporary file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        try:
            os.unlink(self.temp_path)
        except FileNotFoundError:
            pass
