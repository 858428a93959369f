"""Filters (Spec §4.4.1) and codecs (§4.4): round trips at every width and the strict codec rules of format v2."""
import numpy as np
import pytest
import zstandard

from logitstore.format import filters
from logitstore.format.codecs import CodecFailure, Compressor, Decompressor
from logitstore.format.layout import (CODEC_LZ4, CODEC_NONE, CODEC_ZSTD, FILTER_DELTA_SHUFFLE, FILTER_NONE,
                                      FILTER_SHUFFLE)


@pytest.mark.parametrize("width", [1, 2, 4])
@pytest.mark.parametrize("flt", [FILTER_NONE, FILTER_SHUFFLE, FILTER_DELTA_SHUFFLE])
def test_filter_round_trip(width, flt, rng):
    top = (1 << (8 * width)) - 1
    v = rng.integers(0, top, size=1000, endpoint=True, dtype=np.uint64).astype(np.uint32)
    v[:3] = [0, top, 0]  # deltas that wrap
    raw = filters.encode(v, width, flt)
    assert len(raw) == v.size * width
    assert np.array_equal(filters.decode(raw, v.size, width, flt).astype(np.uint32), v)


def test_shuffle_layout_is_byte_planes():
    raw = filters.encode(np.array([0x0102, 0x0304], dtype=np.uint32), 2, FILTER_SHUFFLE)
    assert raw == bytes([0x02, 0x04, 0x01, 0x03])


def test_delta_layout_matches_spec():
    # d_i = (v_{i-1} - v_i) mod 2^16 with v_{-1} = 0
    raw = filters.encode(np.array([10, 7, 7], dtype=np.uint32), 2, FILTER_DELTA_SHUFFLE)
    d = np.frombuffer(raw, np.uint8).reshape(2, 3).T.copy().view(np.uint16).ravel()
    assert d.tolist() == [(0 - 10) % 65536, 3, 0]


def test_width_for():
    assert [filters.width_for(x) for x in (0, 255, 256, 65535, 65536)] == [1, 1, 2, 2, 4]


def test_rank_outside_table_is_none():
    perm = np.arange(5, dtype=np.uint32)[::-1].copy()
    assert filters.ranks_to_ids(np.array([0, 4], np.uint8), perm).tolist() == [4, 0]
    assert filters.ranks_to_ids(np.array([5], np.uint8), perm) is None


@pytest.mark.parametrize("codec", [CODEC_NONE, CODEC_LZ4, CODEC_ZSTD])
def test_codec_round_trip(codec):
    raw = bytes(range(256)) * 40
    used, payload = Compressor(codec).compress(raw)
    assert bytes(Decompressor().decompress(payload, used, len(raw))) == raw


def test_incompressible_stream_is_stored_plain():
    raw = np.random.default_rng(1).bytes(64)
    assert Compressor(CODEC_ZSTD).compress(raw) == (CODEC_NONE, raw)


def _zstd(raw, **kw):
    return zstandard.ZstdCompressor(level=3, **kw).compress(raw)


def test_zstd_strict_rules():
    raw = b"abc" * 1000
    d = Decompressor()
    good = _zstd(raw)
    assert d.decompress(good, CODEC_ZSTD, len(raw)) == raw
    with pytest.raises(CodecFailure, match="after the frame"):
        d.decompress(good + b"\0", CODEC_ZSTD, len(raw))
    with pytest.raises(CodecFailure, match="after the frame"):
        d.decompress(good + good, CODEC_ZSTD, len(raw))
    with pytest.raises(CodecFailure, match="content size"):
        d.decompress(_zstd(raw, write_content_size=False), CODEC_ZSTD, len(raw))
    with pytest.raises(CodecFailure, match="content size"):
        d.decompress(good, CODEC_ZSTD, len(raw) + 1)
    skippable = (0x184D2A50).to_bytes(4, "little") + (4).to_bytes(4, "little") + b"pad!"
    with pytest.raises(CodecFailure, match="does not start"):
        d.decompress(skippable + good, CODEC_ZSTD, len(raw))
    with pytest.raises(CodecFailure):
        d.decompress(good[:-5], CODEC_ZSTD, len(raw))
    samples = [bytes(f"sample {i} of the dictionary training data {i * 7}", "ascii") * 8 for i in range(400)]
    dictionary = zstandard.train_dictionary(2048, samples)
    with_dict = zstandard.ZstdCompressor(level=3, dict_data=dictionary).compress(raw)
    with pytest.raises(CodecFailure, match="dictionary"):
        d.decompress(with_dict, CODEC_ZSTD, len(raw))


def test_lz4_and_none_sizes_are_exact():
    raw = b"xyz" * 500
    _, payload = Compressor(CODEC_LZ4).compress(raw)
    d = Decompressor()
    with pytest.raises(CodecFailure):
        d.decompress(payload, CODEC_LZ4, len(raw) + 1)
    with pytest.raises(CodecFailure):
        d.decompress(payload[:-3], CODEC_LZ4, len(raw))
    with pytest.raises(CodecFailure, match="differs"):
        d.decompress(raw, CODEC_NONE, len(raw) - 1)


def test_compact_permutation_equals_the_dense_one(rng):
    from logitstore.format import id_table
    V = 5000
    listed = rng.choice(V, 300, replace=False).astype(np.uint32)
    dense = id_table.permutation(listed, V)
    compact = id_table.CompactPermutation(listed, np.sort(listed), V)
    ranks = np.arange(V, dtype=np.intp)
    assert np.array_equal(compact.take(ranks), dense)
    assert filters.ranks_to_ids(np.array([V], np.intp), compact) is None
