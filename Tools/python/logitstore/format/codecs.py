"""Codecs, Spec §4.4: 0 none, 1 LZ4 block (no frame), 2 one Zstandard frame (RFC 8878)."""
import struct

import lz4.block
import zstandard

from .layout import CODEC_LZ4, CODEC_NONE, CODEC_ZSTD

_ZSTD_MAGIC = 0xFD2FB528
#: Writer default (Spec §8): Zstandard level 3.
DEFAULT_ZSTD_LEVEL = 3


class CodecFailure(Exception):
    """A payload that does not decode to exactly its raw size (the caller names shard and block)."""


def parse_codec(name):
    """(codec id, zstd level) for a writer codec name: "none", "lz4", "zstd" or "zstd:N"."""
    parts = str(name).lower().split(":")
    if parts[0] == "none" and len(parts) == 1:
        return CODEC_NONE, 0
    if parts[0] == "lz4" and len(parts) == 1:
        return CODEC_LZ4, 0
    if parts[0] == "zstd" and len(parts) <= 2:
        try:
            return CODEC_ZSTD, int(parts[1]) if len(parts) == 2 else DEFAULT_ZSTD_LEVEL
        except ValueError:
            pass
    raise ValueError(f"codec must be none, lz4, zstd or zstd:LEVEL, got {name!r}")


class Compressor:
    """Compresses streams with one codec, reusing its context."""

    def __init__(self, codec, level=DEFAULT_ZSTD_LEVEL):
        self.codec = codec
        self._zstd = zstandard.ZstdCompressor(level=level, write_content_size=True, write_checksum=False,
                                              write_dict_id=False) if codec == CODEC_ZSTD else None

    def compress(self, raw):
        """(codec id used, payload). A stream that does not shrink is stored with codec none, as Spec §8 allows."""
        raw = bytes(raw)
        if self.codec == CODEC_ZSTD:
            out = self._zstd.compress(raw)
        elif self.codec == CODEC_LZ4:
            out = lz4.block.compress(raw, mode="default", store_size=False) if raw else b""
        else:
            return CODEC_NONE, raw
        if len(out) >= len(raw):
            return CODEC_NONE, raw
        return self.codec, out


class Decompressor:
    """Undoes a codec strictly: the result is exactly `raw_size` bytes or `CodecFailure` is raised."""

    def __init__(self):
        self._zstd = zstandard.ZstdDecompressor()

    def decompress(self, payload, codec, raw_size):
        """The raw bytes of `payload` (any bytes-like object)."""
        if codec == CODEC_NONE:
            if len(payload) != raw_size:
                raise CodecFailure(f"stored size {len(payload)} differs from raw size {raw_size}")
            return payload
        if codec == CODEC_LZ4:
            return self._lz4(payload, raw_size)
        if codec == CODEC_ZSTD:
            return self._zstd_frame(payload, raw_size)
        raise CodecFailure(f"unknown codec {codec}")

    @staticmethod
    def _lz4(payload, raw_size):
        if raw_size == 0:
            if len(payload) == 0:
                return b""
            raise CodecFailure("lz4 payload for an empty stream")
        try:
            out = lz4.block.decompress(bytes(payload), uncompressed_size=raw_size)
        except (lz4.block.LZ4BlockError, ValueError, MemoryError) as e:
            raise CodecFailure(f"lz4: malformed input ({e})") from None
        if len(out) != raw_size:
            raise CodecFailure(f"lz4 produced {len(out)} bytes, expected {raw_size}")
        return out

    def _zstd_frame(self, payload, raw_size):
        # Exactly one frame: no skippable frame, content size present and equal to the raw size, no dictionary,
        # no trailing bytes (format v2, Spec §4.4).
        if len(payload) < 4 or struct.unpack_from("<I", payload, 0)[0] != _ZSTD_MAGIC:
            raise CodecFailure("zstd: payload does not start with a Zstandard frame")
        try:
            params = zstandard.get_frame_parameters(payload)
        except (zstandard.ZstdError, ValueError) as e:
            raise CodecFailure(f"zstd: bad frame header ({e})") from None
        if params.dict_id != 0:
            raise CodecFailure("zstd: frame needs a dictionary")
        if params.content_size != raw_size:
            raise CodecFailure(f"zstd frame content size {params.content_size}, expected {raw_size}")
        try:
            if _ONE_SHOT_STRICT:
                out = self._zstd.decompress(payload, allow_extra_data=False)
            else:
                dobj = self._zstd.decompressobj()
                out = dobj.decompress(bytes(payload))
                if not dobj.eof:
                    raise CodecFailure("zstd: frame is truncated")
                if dobj.unused_data:
                    raise CodecFailure(f"zstd: {len(dobj.unused_data)} bytes after the frame")
        except (zstandard.ZstdError, ValueError, MemoryError) as e:
            text = str(e)
            if "unused data" in text:
                raise CodecFailure("zstd: bytes after the frame") from None
            raise CodecFailure(f"zstd: {text}") from None
        if len(out) != raw_size:
            raise CodecFailure(f"zstd produced {len(out)} bytes, expected {raw_size}")
        return out


def _has_strict_one_shot():
    try:
        zstandard.ZstdDecompressor().decompress(zstandard.ZstdCompressor().compress(b"x"), allow_extra_data=False)
        return True
    except TypeError:
        return False


#: python-zstandard >= 0.23 rejects trailing bytes in its one-shot decompress itself.
_ONE_SHOT_STRICT = _has_strict_one_shot()
