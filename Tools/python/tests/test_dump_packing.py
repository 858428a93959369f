"""The dump's input formats and packing (logitstore.packing), mirroring Sources/Teacher/CorpusInput.swift."""
import json

import numpy as np
import pytest

from logitstore import InvalidInputError
from logitstore import packing
from logitstore.dump import UsageError, parse_args, rank_part, split_out


def encode(text):
    return [ord(c) % 50 for c in text]


def test_jsonl_documents_get_eos_and_are_cut_into_sequences(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps({"text": "abc"}) + "\n\n  \n" + json.dumps({"text": "de", "x": 1}) + "\n")
    p = packing.pack_documents(f, "jsonl", encode, 99, seq_len=3)
    assert p.tokens.tolist() == encode("abc") + [99] + encode("de") + [99]
    assert p.count == 3 and p.documents == 2
    assert [p.sequence(i).tolist() for i in range(3)] == [p.tokens[:3].tolist(), p.tokens[3:6].tolist(), p.tokens[6:].tolist()]
    m = packing.pack_documents(f, "jsonl", encode, 99, seq_len=3, max_tokens=5)
    assert m.tokens.tolist() == p.tokens[:5].tolist()


def test_text_directory_is_read_in_sorted_order_skipping_hidden_files(tmp_path):
    (tmp_path / "b.txt").write_text("bb")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / ".hidden").write_text("zzz")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c").write_text("c")
    p = packing.pack_documents(tmp_path, "text", encode, 7, seq_len=4)
    assert p.tokens.tolist() == encode("a") + [7] + encode("bb") + [7] + encode("c") + [7]


def test_raw_tokens_are_taken_as_they_are(tmp_path):
    np.arange(10, dtype="<u4").tofile(tmp_path / "t.u32")
    np.arange(5, dtype="<u2").tofile(tmp_path / "t.u16")
    assert packing.pack_tokens(tmp_path / "t.u32", "u32", 100, 4).tokens.tolist() == list(range(10))
    assert packing.pack_tokens(tmp_path / "t.u16", "u16", 100, 4, max_tokens=3).tokens.tolist() == [0, 1, 2]
    with pytest.raises(InvalidInputError, match="token 9 is 9, outside the teacher's vocabulary of 9"):
        packing.pack_tokens(tmp_path / "t.u32", "u32", 9, 4)
    (tmp_path / "odd.u32").write_bytes(b"\x00" * 6)
    with pytest.raises(InvalidInputError, match="not a multiple of 4"):
        packing.pack_tokens(tmp_path / "odd.u32", "u32", 100, 4)


def write_megatron(prefix, seqs, code=8, dtype="<u2"):
    data = b"".join(np.asarray(s, dtype=dtype).tobytes() for s in seqs)
    (prefix.parent / (prefix.name + ".bin")).write_bytes(data)
    sizes = np.array([len(s) for s in seqs], "<i4")
    ptr = np.concatenate(([0], np.cumsum(sizes * np.dtype(dtype).itemsize)))[:-1].astype("<i8")
    docs = np.arange(len(seqs) + 1, dtype="<i8")
    head = b"MMIDIDX\x00\x00" + (1).to_bytes(8, "little") + bytes([code]) + len(seqs).to_bytes(8, "little") + len(docs).to_bytes(8, "little")
    (prefix.parent / (prefix.name + ".idx")).write_bytes(head + sizes.tobytes() + ptr.tobytes() + docs.tobytes())


def test_megatron_indexed_dataset(tmp_path):
    write_megatron(tmp_path / "ds", [[1, 2, 3], [4], [5, 6]])
    assert packing.pack_tokens(tmp_path / "ds.idx", "megatron", 10, 4).tokens.tolist() == [1, 2, 3, 4, 5, 6]
    assert packing.pack_tokens(tmp_path / "ds", "megatron", 10, 4).count == 2
    (tmp_path / "bad.idx").write_bytes(b"NOTMAGIC" + b"\x00" * 40)
    (tmp_path / "bad.bin").write_bytes(b"")
    with pytest.raises(InvalidInputError, match="bad magic"):
        packing.pack_tokens(tmp_path / "bad", "megatron", 10, 4)


def test_input_errors_are_one_line_and_name_the_file(tmp_path):
    with pytest.raises(InvalidInputError, match="no such file"):
        packing.pack_documents(tmp_path / "missing.jsonl", "jsonl", encode, 0, 4)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": 3}\n')
    with pytest.raises(InvalidInputError, match='line 2 has no string field "text"'):
        packing.pack_documents(bad, "jsonl", encode, 0, 4)
    bad.write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(InvalidInputError, match="line 2 is not valid JSON"):
        packing.pack_documents(bad, "jsonl", encode, 0, 4)
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        packing.pack_documents(tmp_path / "latin1.txt", "text", encode, 0, 4)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="holds no input files"):
        packing.pack_documents(tmp_path / "empty", "text", encode, 0, 4)


def test_command_line_parsing():
    assert split_out("s") == ("s", None)
    assert split_out("dir:x:top-p-k:0.9:50") == ("dir:x", "top-p-k:0.9:50")
    assert split_out("d:sample:64:1.5") == ("d", "sample:64:1.5")
    assert packing.default_format("a.jsonl") == "jsonl" and packing.default_format("a.txt") == "text"
    with pytest.raises(UsageError):
        parse_args(["--model", "m", "--input", "i"])
    with pytest.raises(UsageError, match="seq-len"):
        parse_args(["--model", "m", "--input", "i", "--out", "o", "--seq-len", "0"])
    parts = [rank_part(10, r, 3) for r in range(3)]
    assert parts == [(0, 3), (3, 6), (6, 10)]


def test_main_exit_codes_and_one_line_errors(tmp_path, capsys):
    from logitstore.dump import main
    assert main(["--model", "m", "--input", "i"]) == 64
    assert capsys.readouterr().err.startswith("error: ")
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    code = main(["--model", str(tmp_path / "missing.gguf"), "--input", "i", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0 and "missing.gguf: no such file or directory" in err
