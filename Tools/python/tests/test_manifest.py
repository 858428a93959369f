"""Manifest rules of format v2 (Spec §3, design item 3): strict JSON, types, ranges, writer ids, file names and
the shard list; the descriptor hash ties the manifest to its shards."""
import json

import pytest

import logitstore
from logitstore.format import manifest as mf
from logitstore.format.descriptor import descriptor_bytes

GOOD = {
    "format": "logitstore", "format_version": 2, "vocab_size": 100,
    "truncation": {"policy": "top-p-k", "top_p": 0.95, "top_k": 10, "temperature": 1},
    "teacher": {"name": "t"}, "target_logprobs": True,
    "shards": [{"file": "w0-000000.lgs", "writer_id": "w0", "sequences": 1, "positions": 2, "entries": 3,
                "bytes": 200, "xxh3": "0123456789abcdef"}],
}


def parse(doc):
    return mf.parse(json.dumps(doc).encode() if isinstance(doc, dict) else doc.encode())


def edited(**changes):
    doc = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        obj = doc
        keys = path.split("__")
        for k in keys[:-1]:
            obj = obj[int(k)] if isinstance(obj, list) else obj[k]
        if value is KeyError:
            del obj[keys[-1]]
        else:
            obj[keys[-1]] = value
    return doc


def test_good_manifest_parses():
    m = parse(GOOD)
    assert m.vocab_size == 100 and m.truncation["top_k"] == 10 and m.shards[0].serial == 0


def test_version_1_is_refused_naming_the_version():
    with pytest.raises(logitstore.IncompatibleStoreError, match="format version 1"):
        parse(edited(format_version=1))


@pytest.mark.parametrize("text,match", [
    ('{"a": 1, "a": 2}', "twice"),
    (json.dumps(GOOD).replace('"vocab_size": 100', '"vocab_size": 100.0'), "integer"),
    (json.dumps(GOOD).replace('"vocab_size": 100', '"vocab_size": 1e2'), "integer"),
    (json.dumps(GOOD).replace('"top_p": 0.95', '"top_p": NaN'), "non-JSON"),
    (json.dumps(GOOD).replace('"sequences": 1', '"sequences": 1, "sequences": 1'), "twice"),
    ("[1, 2]", "not a JSON object"),
    ("[" * 100000 + "]" * 100000, "deeper than 32"),
    (json.dumps(GOOD).replace('"vocab_size": 100', '"vocab_size": -0'), "integer"),
    (json.dumps(GOOD).replace('"top_k": 10', '"top_k": 10, "x": ' + "[" * 40 + "]" * 40), "deeper than 32"),
    (json.dumps(GOOD).replace('"name": "t"', '"name": "\\ud800"'), "surrogate"),
    (json.dumps(GOOD).replace('"name": "t"', '"n\\udc00": 1, "name": "t"'), "surrogate"),
    ("\ufeff" + json.dumps(GOOD), "not valid JSON"),
    (json.dumps(GOOD) + " x", "not valid JSON"),
    (json.dumps(GOOD).replace('"top_p": 0.95', '"top_p": 0.' + "9" * 70), "longer than 64"),
    (json.dumps(GOOD).replace('"top_p": 0.95', '"top_p": 1e999'), "top_p"),
    ("{", "not valid JSON"),
])
def test_strict_json(text, match):
    with pytest.raises(logitstore.CorruptStoreError, match=match):
        parse(text)


@pytest.mark.parametrize("change,match", [
    ({"format": "other"}, "format"),
    ({"vocab_size": 0}, "vocab_size"),
    ({"vocab_size": 1 << 32}, "vocab_size"),
    ({"vocab_size": True}, "integer"),
    ({"padded_vocab_size": 99}, "padded_vocab_size"),
    ({"truncation__policy": KeyError}, "policy"),
    ({"truncation__policy": "top-k"}, "policy"),
    ({"truncation__top_p": 0}, "top_p"),
    ({"truncation__top_k": 65536}, "top_k"),
    ({"truncation__temperature": 0}, "temperature"),
    ({"truncation__seed": 3}, "top-p-k policy has no"),
    ({"teacher": {"name": 3}}, "teacher"),
    ({"teacher": {"name": "t", "weights_hash": None}}, "null"),
    ({"truncation__samples": None}, "top-p-k policy has no"),
    ({"padded_vocab_size": None}, "integer"),
    ({"truncation": [1]}, "truncation"),
    ({"shards__0__bytes": 127}, "bytes"),
    ({"shards__0__file": "a/" * 2100 + "w0-000000.lgs"}, "4096"),
    ({"target_logprobs": 1}, "target_logprobs"),
    ({"shards__0__writer_id": ".hidden"}, "writer_id"),
    ({"shards__0__writer_id": "a" * 65}, "writer_id"),
    ({"shards__0__file": "/abs/w0-000000.lgs"}, "file"),
    ({"shards__0__file": "x/../w0-000000.lgs"}, r"\.\."),
    ({"shards__0__file": "./w0-000000.lgs"}, "component"),
    ({"shards__0__file": "a//w0-000000.lgs"}, "component"),
    ({"shards__0__file": "a\\w0-000000.lgs"}, "backslash"),
    ({"shards__0__file": "w1-000000.lgs"}, "does not end"),
    ({"shards__0__file": "w0-00000.lgs"}, "does not end"),
    ({"shards__0__xxh3": "0123456789ABCDEF"}, "xxh3"),
    ({"shards__0__sequences": 0}, "sequences"),
    ({"shards__0__positions": 0}, "positions"),
    ({"shards__0__entries": 1}, "entries"),
    ({"shards__0__bytes": 2.5}, "bytes"),
])
def test_field_rules(change, match):
    with pytest.raises(logitstore.CorruptStoreError, match=match):
        parse(edited(**change))


def test_leading_dotdot_is_allowed():
    m = parse(edited(shards__0__file="../../other/w0-000000.lgs"))
    assert m.shards[0].file.startswith("../")


def _two_shards(second):
    doc = json.loads(json.dumps(GOOD))
    doc["shards"].append(dict(doc["shards"][0], **second))
    return doc


def test_shard_list_rules():
    parse(_two_shards({"file": "w0-000001.lgs", "xxh3": "0000000000000001"}))
    parse(_two_shards({"file": "../b/w0-000000.lgs", "xxh3": "0000000000000001"}))  # another directory
    with pytest.raises(logitstore.CorruptStoreError, match="listed twice"):
        parse(_two_shards({"xxh3": "0000000000000001"}))
    with pytest.raises(logitstore.CorruptStoreError, match="xxh3"):
        parse(_two_shards({"file": "w0-000001.lgs"}))
    with pytest.raises(logitstore.CorruptStoreError, match="increase"):
        doc = _two_shards({"file": "w0-000001.lgs", "xxh3": "0000000000000001"})
        doc["shards"].reverse()
        parse(doc)


def test_sampled_policy_rules():
    t = {"policy": "sample", "top_p": 1, "top_k": 8, "temperature": 1, "samples": 8, "sample_temperature": 1,
         "seed": 0, "weights": "counts"}
    assert parse(edited(truncation=t)).truncation["samples"] == 8
    for change, match in [({"weights": "importance"}, "weights"), ({"top_k": 7}, "top_k = samples"),
                          ({"seed": 1 << 53}, "seed"), ({"seed": -1}, "seed"), ({"samples": 0}, "samples"),
                          ({"sample_temperature": 0}, "sample_temperature"), ({"top_p": 0.9}, "top_p 1")]:
        with pytest.raises(logitstore.CorruptStoreError, match=match):
            parse(edited(truncation=dict(t, **change)))
    parse(edited(truncation=dict(t, sample_temperature=2.0, weights="importance")))


def test_descriptor_text():
    m = parse(edited(teacher={"name": "Smöl", "tokenizer_hash": "ab"}))
    assert descriptor_bytes(m).decode("utf-8").splitlines() == [
        "logitstore-store-descriptor 2", "vocab_size=100", "padded_vocab_size=100", "policy=top-p-k",
        "top_p=3fee666666666666", "top_k=10", "temperature=3ff0000000000000", "samples=-", "sample_temperature=-",
        "seed=-", "weights=-", "target_logprobs=1", "teacher_name=5:Smöl", "weights_hash=-", "tokenizer_hash=2:ab"]


def test_edited_manifest_no_longer_matches_its_shards(tmp_path):
    with logitstore.Writer(tmp_path / "s", vocab_size=10, top_k=4) as w:
        w.add_sequence([1, 2], ids=[1, 2, 3], probs=[0.5, 0.25, 0.5], counts=[2, 1])
    assert logitstore.open(tmp_path / "s").num_positions == 2
    path = tmp_path / "s" / "manifest.json"
    doc = json.loads(path.read_text())
    for key, value in [("top_k", 5), ("top_p", 0.9), ("temperature", 2.0)]:
        d = json.loads(json.dumps(doc))
        d["truncation"][key] = value
        path.write_text(json.dumps(d))
        with pytest.raises(logitstore.CorruptStoreError, match="manifest does not match shard w0-000000.lgs"):
            logitstore.open(tmp_path / "s")
    d = json.loads(json.dumps(doc))
    d["teacher"]["tokenizer_hash"] = "x"
    path.write_text(json.dumps(d))
    with pytest.raises(logitstore.CorruptStoreError, match="manifest does not match"):
        logitstore.open(tmp_path / "s")


def test_missing_store_and_manifest(tmp_path):
    with pytest.raises(logitstore.StoreNotFoundError):
        logitstore.open(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(logitstore.StoreNotFoundError, match="manifest.json"):
        logitstore.open(tmp_path / "empty")
