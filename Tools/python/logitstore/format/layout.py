"""Fixed numbers of the shard format, version 2.0 (Spec/FORMAT.md is the normative text)."""

#: First 8 bytes of every shard: 0x89 'L' 'G' 'S' CR LF 0x1A LF.
HEADER_MAGIC = b"\x89LGS\r\n\x1a\n"
#: Last 8 bytes of every shard.
TRAILER_MAGIC = b"LGSINDEX"
#: Shard header major version this implementation reads and writes.
VERSION_MAJOR = 2
#: Shard header minor version it writes (any minor is accepted).
VERSION_MINOR = 0
#: Manifest `format_version` this implementation reads and writes.
FORMAT_VERSION = 2

HEADER_SIZE = 32
TRAILER_SIZE = 32
INDEX_HEADER_SIZE = 64
BLOCK_ENTRY_SIZE = 48
SEQUENCE_ENTRY_SIZE = 16
BLOCK_HEADER_SIZE = 16
STREAM_DESCRIPTOR_SIZE = 16
ID_TABLE_HEADER_SIZE = 16
#: Stream descriptor flag bit 0: the stream is needed to interpret the block.
REQUIRED_FLAG = 1
SHARD_EXTENSION = ".lgs"
MANIFEST_NAME = "manifest.json"

# Stream types (Spec §4.5).
TOKENS, COUNTS, IDS, PROBS, TARGET_LOGPROBS = 1, 2, 3, 4, 5
STREAM_NAMES = {TOKENS: "tokens", COUNTS: "counts", IDS: "ids", PROBS: "probs", TARGET_LOGPROBS: "target_logprobs"}
PER_POSITION = {TOKENS, COUNTS, TARGET_LOGPROBS}
REQUIRED_STREAMS = (TOKENS, COUNTS, IDS, PROBS)

# Codecs (Spec §4.4).
CODEC_NONE, CODEC_LZ4, CODEC_ZSTD = 0, 1, 2
# Filters (Spec §4.4.1).
FILTER_NONE, FILTER_SHUFFLE, FILTER_DELTA_SHUFFLE, FILTER_RANK_SHUFFLE = 0, 1, 2, 3


def stream_name(stream_type):
    """Human name of a stream type id."""
    return STREAM_NAMES.get(stream_type, f"unknown({stream_type})")
