"""The canonical store descriptor and its hash (format v2): shard header offset 24 holds XXH3-64 (seed 0) of
these bytes, built from the manifest's store-level fields, so a manifest edited after the fact no longer matches."""
import struct

from .checksum import xxh3

FIRST_LINE = "logitstore-store-descriptor 2"


def _hex64(value):
    return struct.pack(">d", float(value)).hex()


def _counted(text):
    if text is None:
        return "-"
    return f"{len(text.encode('utf-8'))}:{text}"


def descriptor_bytes(manifest):
    """The descriptor of a `Manifest` (its shard list plays no part), as UTF-8 bytes, one `key=value\\n` line each."""
    t = manifest.truncation
    sampled = t["policy"] == "sample"
    lines = [
        FIRST_LINE,
        f"vocab_size={manifest.vocab_size}",
        f"padded_vocab_size={manifest.row_width}",
        f"policy={t['policy']}",
        f"top_p={_hex64(t['top_p'])}",
        f"top_k={t['top_k']}",
        f"temperature={_hex64(t['temperature'])}",
        f"samples={t['samples'] if sampled else '-'}",
        f"sample_temperature={_hex64(t['sample_temperature']) if sampled else '-'}",
        f"seed={t['seed'] if sampled else '-'}",
        f"weights={t['weights'] if sampled else '-'}",
        f"target_logprobs={1 if manifest.target_logprobs else 0}",
        f"teacher_name={_counted(manifest.teacher['name'])}",
        f"weights_hash={_counted(manifest.teacher.get('weights_hash'))}",
        f"tokenizer_hash={_counted(manifest.teacher.get('tokenizer_hash'))}",
    ]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def descriptor_hash(manifest):
    """XXH3-64 (seed 0) of `descriptor_bytes(manifest)`: the value every shard header must carry at offset 24."""
    return xxh3(descriptor_bytes(manifest))
