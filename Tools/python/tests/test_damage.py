"""Damage and malformed shards (Spec §4, §9, format v2 item 4): every problem raises CorruptStoreError naming the
shard (and block), other blocks stay readable, and no wrong data is returned."""
import json
import os
import re
import struct

import numpy as np
import pytest

import logitstore
from logitstore.format import block_entry
from logitstore.format.block import EncodingPlan
from logitstore.format.checksum import hex64, xxh3
from logitstore.format.layout import FILTER_NONE
from logitstore.format.trailer import Trailer
from conftest import random_rows


def build(path, rng, plain=False, n=6, T=40, vocab=300, top_k=8, block_bytes=2048):
    w = logitstore.Writer(path, vocab_size=vocab, top_k=top_k, codec="none" if plain else "zstd",
                          block_bytes=block_bytes)
    if plain:
        w.plan = EncodingPlan(FILTER_NONE, FILTER_NONE, FILTER_NONE, FILTER_NONE, FILTER_NONE)
    seqs = []
    for _ in range(n):
        counts, ids, probs = random_rows(rng, T, vocab, top_k, min_count=2)
        tokens = rng.integers(0, vocab, T).astype(np.uint32)
        w.add_sequence(tokens, ids=ids, probs=probs, counts=counts)
        seqs.append((tokens, counts, ids, probs))
    w.close()
    return seqs


def shard_path(path):
    return os.path.join(path, "w0-000000.lgs")


def index_of(data):
    t = Trailer.parse(data, "x")
    blocks = np.frombuffer(data, dtype=block_entry.DTYPE, count=struct.unpack_from("<Q", data, t.index_offset)[0],
                           offset=t.index_offset + 64).copy()
    return t, blocks


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x40]))


def rewrite_block(store_path, b, edit):
    """Applies edit(bytearray of block b) in place (same length), then fixes the block checksum, the index
    checksum and the manifest's whole-file checksum, so only the structural checks can catch the edit."""
    p = shard_path(store_path)
    data = bytearray(open(p, "rb").read())
    t, blocks = index_of(bytes(data))
    off, size = int(blocks["offset"][b]), int(blocks["stored_size"][b])
    blk = bytearray(data[off:off + size])
    edit(blk)
    data[off:off + size] = blk
    entry_off = t.index_offset + 64 + 48 * b
    struct.pack_into("<Q", data, entry_off + 40, xxh3(bytes(blk)))
    fix_index(store_path, data, t)


def fix_index(store_path, data, t):
    index = bytes(data[t.index_offset:t.index_offset + t.index_length])
    struct.pack_into("<Q", data, len(data) - 16, xxh3(index))
    open(shard_path(store_path), "wb").write(data)
    m = json.load(open(os.path.join(store_path, "manifest.json")))
    m["shards"][0]["xxh3"] = hex64(xxh3(bytes(data)))
    m["shards"][0]["bytes"] = len(data)
    json.dump(m, open(os.path.join(store_path, "manifest.json"), "w"))


def test_flipped_block_byte_names_shard_and_block(tmp_path, rng):
    seqs = build(tmp_path / "s", rng)
    data = open(shard_path(tmp_path / "s"), "rb").read()
    _, blocks = index_of(data)
    assert blocks.size >= 3
    flip(shard_path(tmp_path / "s"), int(blocks["offset"][1]) + int(blocks["stored_size"][1]) // 2)
    st = logitstore.open(tmp_path / "s")
    first1 = int(blocks["first_position"][1])
    assert np.array_equal(st.read(0, first1).tokens, np.concatenate([s[0] for s in seqs])[:first1])
    with pytest.raises(logitstore.ChecksumError, match=r"w0-000000.lgs block 1: block data checksum"):
        st.read(first1, first1 + 1)
    problems = st.verify().problems
    assert any("whole file" in p for p in problems) and any("block 1" in p for p in problems)


@pytest.mark.parametrize("where,match", [
    (lambda t, size: size - 1, "trailer magic"),
    (lambda t, size: t.index_offset + 3, "footer index checksum"),
    (lambda t, size: 9, "major version"),
    (lambda t, size: 12, "flags"),
    (lambda t, size: 26, "manifest does not match shard"),
    (lambda t, size: 17, "vocabulary"),
])
def test_damaged_header_trailer_index(tmp_path, rng, where, match):
    build(tmp_path / "s", rng)
    p = shard_path(tmp_path / "s")
    data = open(p, "rb").read()
    t, _ = index_of(data)
    flip(p, where(t, len(data)))
    with pytest.raises(logitstore.StoreError, match=match):
        logitstore.open(tmp_path / "s")


def test_damaged_id_table(tmp_path, rng):
    build(tmp_path / "s", rng)
    p = shard_path(tmp_path / "s")
    data = open(p, "rb").read()
    t = Trailer.parse(data, "x")
    table_offset = struct.unpack_from("<Q", data, t.index_offset + 32)[0]
    assert table_offset > 0
    flip(p, table_offset + 20)
    with pytest.raises(logitstore.ChecksumError, match="id table"):
        logitstore.open(tmp_path / "s").read(0, 1)


def test_truncated_and_missing_shard(tmp_path, rng):
    build(tmp_path / "s", rng)
    p = shard_path(tmp_path / "s")
    data = open(p, "rb").read()
    open(p, "wb").write(data[:-10])
    with pytest.raises(logitstore.CorruptStoreError, match="truncated"):
        logitstore.open(tmp_path / "s")
    os.unlink(p)
    with pytest.raises(logitstore.StoreNotFoundError, match="w0-000000.lgs"):
        logitstore.open(tmp_path / "s")


def test_unlisted_shard_is_a_verify_error(tmp_path, rng):
    build(tmp_path / "s", rng)
    open(tmp_path / "s" / "w9-000000.lgs", "wb").write(b"stray")
    st = logitstore.open(tmp_path / "s")
    assert st.num_sequences == 6  # readers ignore it
    assert any("w9-000000.lgs" in p and "not in the manifest" in p for p in st.verify().problems)


def _streams(blk):
    """(descriptor offset, payload offset, width) per stream type of a plain block."""
    n = struct.unpack_from("<H", blk, 0)[0]
    out, pay = {}, 16 + 16 * n
    for s in range(n):
        t, _, _, _, w, _, stored, _ = struct.unpack_from("<HBBBBHII", blk, 16 + 16 * s)
        out[t] = (16 + 16 * s, pay, w)
        pay += stored
    return out


def _swap_first_probs(blk):
    _, pay, _ = _streams(blk)[4]
    a, b = blk[pay:pay + 2], blk[pay + 2:pay + 4]
    blk[pay:pay + 2], blk[pay + 2:pay + 4] = b, a


def _set_prob(value):
    def edit(blk):
        _, pay, _ = _streams(blk)[4]
        struct.pack_into("<H", blk, pay, value)
    return edit


def _set_first(stream, value):
    def edit(blk):
        _, pay, w = _streams(blk)[stream]
        blk[pay:pay + w] = value.to_bytes(w, "little")
    return edit


def _swap_descriptors(blk):
    a, b = blk[16:32], blk[32:48]
    blk[16:32], blk[32:48] = b, a


def _clear_required(blk):
    blk[16 + 2] = 0


def _reserved(blk):
    blk[2] = 1


def _dup_first_ids(blk):
    _, pay, w = _streams(blk)[3]
    blk[pay + w:pay + 2 * w] = blk[pay:pay + w]


def _required_target_stream(blk):
    # Give the (non-empty) target stream's descriptor the required flag: stream 5 MUST have it clear.
    off, _, _ = _streams(blk)[5]
    blk[off + 2] = 1


def _both_probs(value):
    def edit(blk):
        _, pay, _ = _streams(blk)[4]
        struct.pack_into("<HH", blk, pay, value, value)
    return edit


@pytest.mark.parametrize("edit,match", [
    (_set_prob(0x3C01), "above 1"),
    (_set_prob(0x8000), "negative"),
    (_set_prob(0x7E00), "not finite"),
    (_set_first(3, 300), "not below the vocabulary"),
    (_set_first(1, 300), "token 300"),
    (_set_first(2, 0), "count"),
    (_set_first(2, 9), "count"),
    (_swap_descriptors, "ascending type order"),
    (_clear_required, "required flag"),
    (_reserved, "reserved"),
    (_required_target_stream, "required flag set"),
])
def test_structural_block_damage_with_valid_checksums(tmp_path, rng, edit, match):
    build(tmp_path / "s", rng, plain=True)
    rewrite_block(tmp_path / "s", 0, edit)
    st = logitstore.open(tmp_path / "s")
    with pytest.raises(logitstore.CorruptStoreError, match=match) as e:
        st.read(0, 1)
    assert "w0-000000.lgs block 0" in str(e.value)
    assert st.read(st.num_positions - 1, st.num_positions).num_positions == 1  # the last block still reads


def test_raw_size_in_block_entry_must_match(tmp_path, rng):
    build(tmp_path / "s", rng, plain=True)
    p = shard_path(tmp_path / "s")
    data = bytearray(open(p, "rb").read())
    t, _ = index_of(bytes(data))
    off = t.index_offset + 64 + 28
    struct.pack_into("<I", data, off, struct.unpack_from("<I", data, off)[0] + 1)
    fix_index(tmp_path / "s", data, t)
    with pytest.raises(logitstore.CorruptStoreError, match="raw sizes sum"):
        logitstore.open(tmp_path / "s").read(0, 1)


def test_overlapping_blocks_in_index(tmp_path, rng):
    build(tmp_path / "s", rng, plain=True)
    p = shard_path(tmp_path / "s")
    data = bytearray(open(p, "rb").read())
    t, blocks = index_of(bytes(data))
    struct.pack_into("<Q", data, t.index_offset + 64 + 48, int(blocks["offset"][0]) + 4)
    fix_index(tmp_path / "s", data, t)
    with pytest.raises(logitstore.CorruptStoreError, match="block 1: block bytes"):
        logitstore.open(tmp_path / "s")


def test_repeated_id_within_a_position_is_a_verify_error(tmp_path, rng):
    build(tmp_path / "s", rng, plain=True)
    rewrite_block(tmp_path / "s", 0, _dup_first_ids)
    problems = logitstore.open(tmp_path / "s").verify().problems
    assert any("appears twice" in p for p in problems), problems


def test_gap_between_blocks_is_rejected(tmp_path, rng):
    build(tmp_path / "s", rng, plain=True)
    p = shard_path(tmp_path / "s")
    data = bytearray(open(p, "rb").read())
    t, blocks = index_of(bytes(data))
    # Shrink block 0's stored size by one: a byte between block 0 and block 1 is then unreferenced.
    off = t.index_offset + 64 + 24
    struct.pack_into("<I", data, off, struct.unpack_from("<I", data, off)[0] - 1)
    fix_index(tmp_path / "s", data, t)
    with pytest.raises(logitstore.CorruptStoreError, match="block 1: block bytes .* contiguously"):
        logitstore.open(tmp_path / "s")


@pytest.mark.parametrize("edit,match", [
    (_swap_first_probs, "non-increasing"),
    (_both_probs(0x3A00), r"sum to more than 1"),
])
def test_probability_order_and_sum_are_verify_errors(tmp_path, rng, edit, match):
    # Spec §5.2: the per-position probability rules are checked by verify (readers MAY check them on read).
    build(tmp_path / "s", rng, plain=True)
    rewrite_block(tmp_path / "s", 0, edit)
    st = logitstore.open(tmp_path / "s")
    problems = st.verify().problems
    assert any("w0-000000.lgs block 0" in p and re.search(match, p) for p in problems), problems


@pytest.mark.parametrize("plain", [False, True])
def test_random_byte_flips_never_return_wrong_data(tmp_path, rng, plain):
    """Every single-byte change anywhere in a shard is refused with a StoreError (no other exception type), or
    -- nowhere, since the format has no unchecked bytes -- returns exactly the original data."""
    build(tmp_path / "s", rng, plain=plain, n=3, T=30)
    p = shard_path(tmp_path / "s")
    original = open(p, "rb").read()
    want = logitstore.open(tmp_path / "s").read(0, 90)
    for offset in rng.choice(len(original), 150, replace=False):
        data = bytearray(original)
        data[offset] ^= int(rng.integers(1, 256))
        open(p, "wb").write(data)
        try:
            st = logitstore.open(tmp_path / "s")
            got = st.read(0, st.num_positions)
            problems = st.verify().problems
        except logitstore.StoreError:
            continue
        assert problems, f"a change at byte {offset} was not detected"
        assert np.array_equal(got.ids, want.ids) and np.array_equal(got.tokens, want.tokens)
    open(p, "wb").write(original)
