"""The manifest, Spec §3 (format v2): strict JSON, every field type-checked and range-checked on load.

Strictness: duplicate keys are rejected, integers are written without fraction or exponent (`1.0` is not an
integer), NaN/Infinity literals are rejected. Shard list rules: writer ids match `[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}`;
files are relative paths without NUL, backslash, empty or `.` components, with `..` only as leading components,
ending in `<writer_id>-<6 digits>.lgs`; no file and no xxh3 listed twice; per (directory, writer id) serials
strictly increase in manifest order.
"""
import json
import os
import posixpath
import re
from dataclasses import dataclass, field

from ..errors import CorruptStoreError, IncompatibleStoreError, StoreNotFoundError, elide
from ..policy import validate_policy
from .layout import FORMAT_VERSION, MANIFEST_NAME

WRITER_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}\Z")
_XXH3 = re.compile(r"[0-9a-f]{16}\Z")
_SERIAL = re.compile(r"(.*)-([0-9]{6})\.lgs\Z")
_MAX_U32 = (1 << 32) - 1
_MAX_U64 = (1 << 64) - 1
#: Manifests larger than this are refused before parsing.
MAX_BYTES = 256 << 20
#: Deepest nesting of arrays and objects accepted (Spec §3.1).
MAX_DEPTH = 32
#: Longest number literal accepted (Spec §12).
MAX_NUMBER_CHARS = 64
_MAX_SUM = (1 << 63) - 1


class _NegativeInteger(float):
    """A JSON integer literal with a minus sign: a number, but never an integer field's value (Spec §3.1)."""


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass
class ShardEntry:
    """One `shards` element: the file (relative to the store), its writer id, counts, size and whole-file XXH3-64."""

    file: str
    writer_id: str
    sequences: int
    positions: int
    entries: int
    bytes: int
    xxh3: str

    def to_json(self):
        """The JSON object of this entry."""
        return {"file": self.file, "writer_id": self.writer_id, "sequences": self.sequences,
                "positions": self.positions, "entries": self.entries, "bytes": self.bytes, "xxh3": self.xxh3}

    @property
    def serial(self):
        """The 6-digit serial of the file name."""
        return int(_SERIAL.match(posixpath.basename(self.file)).group(2))


@dataclass
class Manifest:
    """A validated manifest. `truncation` and `teacher` are dicts with the manifest's keys; `extra` keeps
    unknown top-level keys so that a writer rewriting the manifest preserves them."""

    vocab_size: int
    truncation: dict
    teacher: dict
    target_logprobs: bool
    padded_vocab_size: int = None
    shards: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def row_width(self):
        """Width of the teacher's logits rows (`padded_vocab_size`, or V when absent)."""
        return self.padded_vocab_size if self.padded_vocab_size is not None else self.vocab_size

    @property
    def num_sequences(self):
        """Σ sequences over the shard list."""
        return sum(s.sequences for s in self.shards)

    @property
    def num_positions(self):
        """Σ positions over the shard list."""
        return sum(s.positions for s in self.shards)

    @property
    def num_entries(self):
        """Σ entries over the shard list."""
        return sum(s.entries for s in self.shards)

    def to_json(self):
        """The manifest as a JSON-ready dict."""
        d = dict(self.extra)
        d.update({"format": "logitstore", "format_version": FORMAT_VERSION, "vocab_size": self.vocab_size,
                  "truncation": dict(self.truncation), "teacher": dict(self.teacher),
                  "target_logprobs": self.target_logprobs, "shards": [s.to_json() for s in self.shards]})
        if self.padded_vocab_size is not None:
            d["padded_vocab_size"] = self.padded_vocab_size
        return d

    def serialize(self):
        """UTF-8 bytes of the manifest (sorted keys, indented, trailing newline)."""
        return (json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")

    def incompatibility(self, other):
        """Why stores under `other` may not be mixed with this one (resume or merge), or None."""
        if self.vocab_size != other.vocab_size:
            return f"vocabulary size {self.vocab_size} vs {other.vocab_size}"
        if self.row_width != other.row_width:
            return "padded vocabulary size differs"
        if self.teacher.get("tokenizer_hash") != other.teacher.get("tokenizer_hash"):
            return f"tokenizer {self.teacher.get('tokenizer_hash')} vs {other.teacher.get('tokenizer_hash')}"
        if self.truncation != other.truncation:
            return "truncation policies differ"
        if self.target_logprobs != other.target_logprobs:
            return "one store has the target-log-prob stream and the other does not"
        a, b = self.teacher.get("weights_hash"), other.teacher.get("weights_hash")
        if a is not None and b is not None and a != b:
            return f"teacher weights {a} vs {b}"
        return None


def _pairs_hook(path):
    def hook(pairs):
        out = {}
        for k, v in pairs:
            if k in out:
                raise CorruptStoreError(path, f"manifest has the key \"{elide(k, 40)}\" twice in one object")
            out[k] = v
        return out
    return hook


def _reject_constant(path):
    def hook(name):
        raise CorruptStoreError(path, f"manifest uses the non-JSON literal {name}")
    return hook


def _number_hooks(path):
    def check(text):
        if len(text) > MAX_NUMBER_CHARS:
            raise CorruptStoreError(path, f"manifest has a number literal longer than {MAX_NUMBER_CHARS} characters")

    def parse_int(text):
        check(text)
        return _NegativeInteger(float(text)) if text.startswith("-") else int(text)

    def parse_float(text):
        check(text)
        return float(text)
    return parse_int, parse_float


def _check_tree(value, path, depth=1):
    """Nesting depth <= 32, every string (keys included) valid Unicode (no unpaired surrogates)."""
    if depth > MAX_DEPTH and isinstance(value, (dict, list)):
        raise CorruptStoreError(path, f"manifest nests arrays and objects deeper than {MAX_DEPTH} levels")
    items = value.items() if isinstance(value, dict) else (enumerate(value) if isinstance(value, list) else ())
    for k, v in items:
        for text in (k, v):
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise CorruptStoreError(path, "manifest has a string with an unpaired surrogate escape") from None
        if isinstance(v, (dict, list)):
            _check_tree(v, path, depth + 1)


def load(directory):
    """Reads and validates `<directory>/manifest.json`."""
    path = os.path.join(directory, MANIFEST_NAME)
    if not os.path.isdir(directory):
        raise StoreNotFoundError(f"not found: store directory {elide(directory)}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise StoreNotFoundError(f"not found: {elide(path)} (not a logitstore store?)") from None
    return parse(data, path)


def parse(data, path=MANIFEST_NAME):
    """Parses and validates manifest bytes; `path` only names the file in errors."""
    def bad(detail):
        return CorruptStoreError(path, detail)

    if len(data) > MAX_BYTES:
        raise bad(f"manifest is more than {MAX_BYTES} bytes")
    try:
        text = bytes(data).decode("utf-8")
        parse_int, parse_float = _number_hooks(path)
        doc = json.loads(text, object_pairs_hook=_pairs_hook(path), parse_constant=_reject_constant(path),
                         parse_int=parse_int, parse_float=parse_float)
    except CorruptStoreError:
        raise
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"manifest is not valid JSON ({elide(e, 80)})") from None
    except RecursionError:
        raise bad(f"manifest nests arrays and objects deeper than {MAX_DEPTH} levels") from None
    if not isinstance(doc, dict):
        raise bad("manifest is not a JSON object")
    _check_tree(doc, path)
    if doc.get("format") != "logitstore":
        raise bad(f"format is {elide(repr(doc.get('format')), 40)}, expected \"logitstore\"")
    version = doc.get("format_version")
    if not _is_int(version):
        raise bad(f"format_version must be an integer, got {elide(repr(version), 40)}")
    if version != FORMAT_VERSION:
        raise IncompatibleStoreError(f"{elide(path)} has format version {version}; this reader reads version {FORMAT_VERSION}")

    def integer(obj, key, lo, hi, where="", optional=False):
        if key not in obj and optional:
            return None
        v = obj.get(key)
        if not _is_int(v):
            raise bad(f"{where}{key} must be an integer (no fraction or exponent), got {elide(repr(v), 40)}")
        if not lo <= v <= hi:
            raise bad(f"{where}{key} {v} is outside {lo}...{hi}")
        return v

    vocab = integer(doc, "vocab_size", 1, _MAX_U32)
    padded = integer(doc, "padded_vocab_size", vocab, _MAX_U32, optional=True)
    if not isinstance(doc.get("truncation"), dict):
        raise bad("truncation must be an object")
    truncation = validate_policy(doc.get("truncation"), error=bad)
    teacher = doc.get("teacher")
    if not isinstance(teacher, dict) or not isinstance(teacher.get("name"), str):
        raise bad("teacher must be an object with a string name")
    for key in ("weights_hash", "tokenizer_hash"):
        if key in teacher and not isinstance(teacher[key], str):
            raise bad(f"teacher.{key} must be a string when present (null is not allowed)")
    teacher = {k: teacher[k] for k in ("name", "weights_hash", "tokenizer_hash") if k in teacher}
    targets = doc.get("target_logprobs")
    if not isinstance(targets, bool):
        raise bad("target_logprobs must be true or false")
    shards = doc.get("shards")
    if not isinstance(shards, list):
        raise bad("shards must be an array")
    entries = [_shard(s, i, integer, bad) for i, s in enumerate(shards)]
    _check_shard_list(entries, bad)
    for key in ("sequences", "positions", "entries", "bytes"):
        if sum(getattr(e, key) for e in entries) > _MAX_SUM:
            raise bad(f"the shards' {key} sum to more than 2^63 - 1")
    known = {"format", "format_version", "vocab_size", "padded_vocab_size", "truncation", "teacher",
             "target_logprobs", "shards"}
    return Manifest(vocab_size=vocab, padded_vocab_size=padded, truncation=truncation, teacher=teacher,
                    target_logprobs=targets, shards=entries, extra={k: v for k, v in doc.items() if k not in known})


def check_file_name(file, writer_id):
    """The reason `file` is not a valid shard path for `writer_id` (format v2 rules), or None."""
    if len(file.encode("utf-8")) > 4096:
        return "is longer than 4096 bytes"
    if not file or "\0" in file or "\\" in file or file.startswith("/"):
        return "is empty, absolute, or holds NUL or a backslash"
    parts = file.split("/")
    leading = True
    for part in parts:
        if part == "..":
            if not leading:
                return "has a .. component after a name"
            continue
        leading = False
        if part in ("", "."):
            return "has an empty or . component"
    m = _SERIAL.match(parts[-1])
    if not m or m.group(1) != writer_id:
        return f"does not end in {writer_id}-<6 digits>.lgs"
    return None


def _shard(s, i, integer, bad):
    where = f"shards[{i}]."
    if not isinstance(s, dict):
        raise bad(f"shards[{i}] is not an object")
    wid, file, xx = s.get("writer_id"), s.get("file"), s.get("xxh3")
    if not isinstance(wid, str) or not WRITER_ID.match(wid):
        raise bad(f"{where}writer_id {elide(repr(wid), 70)} does not match [A-Za-z0-9_-][A-Za-z0-9._-]{{0,63}}")
    if not isinstance(file, str):
        raise bad(f"{where}file must be a string")
    why = check_file_name(file, wid)
    if why:
        raise bad(f"{where}file {elide(repr(file), 80)} {why}")
    if not isinstance(xx, str) or not _XXH3.match(xx):
        raise bad(f"{where}xxh3 must be 16 lower-case hexadecimal digits")
    seqs = integer(s, "sequences", 1, _MAX_U64, where)
    pos = integer(s, "positions", seqs, _MAX_U64, where)
    ent = integer(s, "entries", pos, _MAX_U64, where)
    size = integer(s, "bytes", 128, _MAX_U64, where)
    return ShardEntry(file=file, writer_id=wid, sequences=seqs, positions=pos, entries=ent, bytes=size, xxh3=xx)


def _check_shard_list(entries, bad):
    files, sums, last = set(), set(), {}
    for i, e in enumerate(entries):
        if e.file in files:
            raise bad(f"shard {elide(e.file, 80)} is listed twice")
        if e.xxh3 in sums:
            raise bad(f"shards[{i}] repeats the xxh3 {e.xxh3} of another shard")
        files.add(e.file)
        sums.add(e.xxh3)
        key = (posixpath.dirname(e.file), e.writer_id)
        if key in last and e.serial <= last[key]:
            raise bad(f"shards[{i}] {elide(e.file, 80)}: serials of writer {e.writer_id} do not increase in manifest order")
        last[key] = e.serial
