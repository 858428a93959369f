"""The input formats and packing contract of `logitstore dump` (Sources/Teacher/CorpusInput.swift), in Python.

Formats: `text` (UTF-8 files, one document per file: a file, or every regular file under a directory by sorted
path, files whose name starts with "." skipped), `jsonl` (a string field "text" per line; a file, or every *.jsonl
and *.json under a directory), `u32` / `u16` (raw little-endian token ids, taken as they are) and `megatron`
(PREFIX.bin + PREFIX.idx). Text documents are tokenised, EOS is appended after every document, the stream is cut to
`max_tokens` and into `seq_len` pieces (the last may be shorter). Raw tokens are cut the same way, unchanged.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

import numpy as np

from .errors import InvalidInputError

#: The `--input-format` spellings.
INPUT_FORMATS = ("text", "jsonl", "u32", "u16", "megatron")


def _fail(path, reason):
    return InvalidInputError(f"input {path}: {reason}")


def default_format(path: str) -> str:
    """The format `logitstore dump` assumes without --input-format: jsonl for *.jsonl, else text."""
    return "jsonl" if str(path).endswith(".jsonl") else "text"


def input_files(path, extensions=None):
    """The files a path stands for: itself, or the regular files under it (sorted, names starting with "." skipped)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise _fail(path, "no such file or directory")
    if not os.path.isdir(path):
        return [path]
    out = []
    for root, _dirs, names in os.walk(path):
        for name in names:
            if name.startswith("."):
                continue
            full = os.path.join(root, name)
            if not os.path.isfile(full):
                continue
            if extensions is not None and os.path.splitext(name)[1].lstrip(".") not in extensions:
                continue
            out.append(full)
    out.sort()
    if not out:
        raise _fail(path, "directory holds no input files")
    return out


def read_utf8(path) -> str:
    """A file's contents ("-" = standard input) as text; a clear error when missing or not UTF-8."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    except OSError as e:
        raise _fail(path, f"cannot read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(path, "not valid UTF-8 text") from None


def documents(path, fmt):
    """Yields the documents of a text or JSONL input, in order."""
    if fmt == "text":
        for f in input_files(path):
            yield read_utf8(f)
    elif fmt == "jsonl":
        for f in input_files(path, extensions={"jsonl", "json"}):
            for number, line in enumerate(read_utf8(f).split("\n"), start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    raise _fail(f, f"line {number} is not valid JSON") from None
                if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                    raise _fail(f, f'line {number} has no string field "text"')
                yield obj["text"]
    else:
        raise ValueError(f"documents() needs a text format, not {fmt!r}")


@dataclass(frozen=True)
class PackedSequences:
    """Token sequences ready for the teacher: sequence i = tokens[i·seq_len : (i+1)·seq_len]."""

    tokens: np.ndarray
    seq_len: int
    documents: int = 0

    @property
    def count(self) -> int:
        """Number of sequences (the last may be shorter than seq_len)."""
        return (len(self.tokens) + self.seq_len - 1) // self.seq_len

    def range(self, i):
        """(start, stop) of sequence i in `tokens`."""
        return i * self.seq_len, min(len(self.tokens), (i + 1) * self.seq_len)

    def sequence(self, i) -> np.ndarray:
        """The tokens of sequence i (uint32)."""
        a, b = self.range(i)
        return self.tokens[a:b]


def pack_documents(path, fmt, encode, eos, seq_len, max_tokens=None) -> PackedSequences:
    """Tokenises each document with `encode(text) -> ids`, appends `eos` after each, stops once `max_tokens`
    tokens are reached (cutting the stream there) and cuts it into `seq_len` pieces."""
    if seq_len < 1:
        raise InvalidInputError("seq_len must be at least 1")
    pieces, total, docs = [], 0, 0
    limit = max_tokens if max_tokens is not None else float("inf")
    for text in documents(path, fmt):
        ids = np.asarray(list(encode(text)) + [int(eos)], dtype=np.uint32)
        pieces.append(ids)
        total += len(ids)
        docs += 1
        if total >= limit:
            break
    stream = np.concatenate(pieces) if pieces else np.zeros(0, np.uint32)
    if max_tokens is not None:
        stream = stream[:max_tokens]
    return PackedSequences(stream, int(seq_len), docs)


def read_tokens(path, fmt, vocab_size) -> np.ndarray:
    """All token ids of a raw (u32/u16) or Megatron input, concatenated in order, exactly as stored; ids at or above
    `vocab_size` are rejected naming the file and index."""
    if fmt in ("u32", "u16"):
        width, dtype = (4, "<u4") if fmt == "u32" else (2, "<u2")
        parts = []
        for f in input_files(path):
            size = os.path.getsize(f)
            if size % width:
                raise _fail(f, f"size {size} bytes is not a multiple of {width} (raw {fmt} tokens)")
            t = np.fromfile(f, dtype=dtype).astype(np.uint32)
            _check_vocab(t, vocab_size, f)
            parts.append(t)
        return np.concatenate(parts) if parts else np.zeros(0, np.uint32)
    if fmt == "megatron":
        return MegatronDataset(path).all_tokens(vocab_size)
    raise ValueError(f"read_tokens() needs a token format, not {fmt!r}")


def _check_vocab(tokens, vocab_size, path):
    bad = np.flatnonzero(tokens >= vocab_size)
    if len(bad):
        i = int(bad[0])
        raise _fail(path, f"token {i} is {int(tokens[i])}, outside the teacher's vocabulary of {vocab_size}")


def pack_tokens(path, fmt, vocab_size, seq_len, max_tokens=None) -> PackedSequences:
    """Raw tokens (u32/u16/Megatron) taken exactly as they are and cut into `seq_len` pieces."""
    if seq_len < 1:
        raise InvalidInputError("seq_len must be at least 1")
    t = read_tokens(path, fmt, vocab_size)
    if max_tokens is not None:
        t = t[:max_tokens]
    return PackedSequences(t, int(seq_len))


_MEGATRON_DTYPES = {1: "u1", 2: "i1", 3: "<i2", 4: "<i4", 5: "<i8", 8: "<u2"}


class MegatronDataset:
    """A Megatron-LM MMapIndexedDataset (`.idx` + `.bin`), layout as documented in CorpusInput.swift."""

    def __init__(self, path):
        prefix = os.fspath(path)
        if prefix.endswith(".idx") or prefix.endswith(".bin"):
            prefix = prefix[:-4]
        self.idx_path, self.bin_path = prefix + ".idx", prefix + ".bin"
        try:
            idx = open(self.idx_path, "rb").read()
        except OSError as e:
            raise _fail(self.idx_path, f"cannot read: {e.strerror or e}") from None
        if not os.path.exists(self.bin_path):
            raise _fail(self.bin_path, "no such file (the .bin of the Megatron dataset)")
        if len(idx) < 34 or idx[:9] != b"MMIDIDX\x00\x00":
            raise _fail(self.idx_path, "not a Megatron .idx file (bad magic)")
        version = int.from_bytes(idx[9:17], "little")
        if version != 1:
            raise _fail(self.idx_path, f"unsupported .idx version {version}")
        self.dtype_code = idx[17]
        if self.dtype_code not in _MEGATRON_DTYPES:
            raise _fail(self.idx_path, f"unsupported token dtype code {self.dtype_code} (integer types only)")
        s, d = int.from_bytes(idx[18:26], "little"), int.from_bytes(idx[26:34], "little")
        if s >= 1 << 40 or d >= 1 << 40:
            raise _fail(self.idx_path, "implausible sequence/document counts")
        if len(idx) < 34 + 12 * s + 8 * d:
            raise _fail(self.idx_path, f"truncated ({len(idx)} bytes for {s} sequences, {d} documents)")
        self.sizes = np.frombuffer(idx, "<i4", s, 34).astype(np.int64)
        self.pointers = np.frombuffer(idx, "<i8", s, 34 + 4 * s).astype(np.int64)
        self.document_indices = np.frombuffer(idx, "<i8", d, 34 + 12 * s).astype(np.int64)

    def all_tokens(self, vocab_size) -> np.ndarray:
        """Every sequence's tokens, concatenated in index order (vocabulary-checked)."""
        dtype = np.dtype(_MEGATRON_DTYPES[self.dtype_code])
        data = np.memmap(self.bin_path, dtype=np.uint8, mode="r") if os.path.getsize(self.bin_path) else np.zeros(0, np.uint8)
        parts = []
        for i, (n, p) in enumerate(zip(self.sizes.tolist(), self.pointers.tolist())):
            if n < 0 or p < 0 or p + n * dtype.itemsize > len(data):
                raise _fail(self.bin_path, f"sequence {i} ({n} tokens at byte {p}) lies outside the file ({len(data)} bytes)")
            v = np.frombuffer(data, dtype, n, p).astype(np.int64)
            bad = np.flatnonzero((v < 0) | (v > 0xFFFFFFFF))
            if len(bad):
                raise _fail(self.bin_path, f"sequence {i} token {int(bad[0])} is {int(v[bad[0]])}, not a valid token id")
            parts.append(v.astype(np.uint32))
        out = np.concatenate(parts) if parts else np.zeros(0, np.uint32)
        _check_vocab(out, vocab_size, self.bin_path)
        return out
