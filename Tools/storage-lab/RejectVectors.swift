import Foundation
import LogitStore

/// Generates Spec/vectors/reject: stores that break exactly one rule of Spec/FORMAT.md, each with the rule, the
/// stage at which a conforming reader must refuse it (`open`, `read` or `verify`) and a fragment of this
/// implementation's error. Also the two hand-assembled must-accept stores they are derived from.
enum RejectVectors {
    struct Case {
        let name: String
        let rule: String
        let stage: String
        let error: String
        var store = HandStore()
        var edit: (String) -> String = { $0 }
    }

    static func replacing(_ a: String, _ b: String) -> (String) -> String {
        { text in
            precondition(text.contains(a), "manifest template lacks \(a)")
            return text.replacingOccurrences(of: a, with: b)
        }
    }

    static var cases: [Case] {
        var c: [Case] = []
        func add(_ name: String, _ rule: String, _ stage: String, _ error: String, store: (inout HandStore) -> Void = { _ in },
                 edit: @escaping (String) -> String = { $0 }) {
            var s = HandStore()
            store(&s)
            c.append(Case(name: name, rule: rule, stage: stage, error: error, store: s, edit: edit))
        }
        // Manifest (§3).
        add("manifest-format-version-1", "§3.2 format_version must be 2", "open", "format version 1", edit: replacing("\"format_version\": 2", "\"format_version\": 1"))
        add("manifest-duplicate-key", "§3.1 duplicate keys", "open", "duplicate key", edit: replacing("\"vocab_size\": 10,", "\"vocab_size\": 10, \"vocab_size\": 10,"))
        add("manifest-integer-with-fraction", "§3.1 integers without fraction (top_k 4.0)", "open", "top_k", edit: replacing("\"top_k\": 4", "\"top_k\": 4.0"))
        add("manifest-integer-with-exponent", "§3.1 integers without exponent (vocab_size 1e1)", "open", "vocab_size", edit: replacing("\"vocab_size\": 10", "\"vocab_size\": 1e1"))
        add("manifest-top-p-above-one", "§3.2 0 < top_p ≤ 1", "open", "top_p", edit: replacing("\"top_p\": 1", "\"top_p\": 1.5"))
        add("manifest-top-k-zero", "§3.2 1 ≤ top_k ≤ 65535", "open", "top_k", edit: replacing("\"top_k\": 4", "\"top_k\": 0"))
        add("manifest-top-k-2-32", "§3.2 1 ≤ top_k ≤ 65535", "open", "top_k", edit: replacing("\"top_k\": 4", "\"top_k\": 4294967296"))
        add("manifest-negative-temperature", "§3.2 temperature > 0", "open", "temperature", edit: replacing("\"temperature\": 1", "\"temperature\": -1"))
        add("manifest-padded-below-vocab", "§3.2 padded_vocab_size ≥ vocab_size", "open", "padded_vocab_size",
            edit: replacing("\"vocab_size\": 10,", "\"vocab_size\": 10, \"padded_vocab_size\": 5,"))
        add("manifest-policy-missing", "§3.2 truncation.policy is required", "open", "policy", edit: replacing("\"policy\": \"top-p-k\", ", ""))
        add("manifest-sample-fields-on-top-p-k", "§3.2 samples must be absent for top-p-k", "open", "top-p-k policy has no samples",
            edit: replacing("\"temperature\": 1}", "\"temperature\": 1, \"samples\": 4}"))
        add("manifest-shard-listed-twice", "§3.4 no file listed twice", "open", "listed twice", edit: { text in
            let start = text.range(of: "    {\"file\"")!.lowerBound, end = text.range(of: "}\n  ]")!.lowerBound
            let object = String(text[start...end])
            return text.replacingOccurrences(of: object, with: object + ",\n" + object)
        })
        add("manifest-nul-in-file", "§3.4 no NUL in file", "open", "NUL", edit: replacing("\"v-000000.lgs\"", "\"v-000000.lgs\\u0000x\""))
        add("manifest-absolute-path", "§3.4 file is relative", "open", "absolute", edit: replacing("\"v-000000.lgs\"", "\"/v-000000.lgs\""))
        add("manifest-dotdot-inside", "§3.4 '..' only as leading components", "open", "'..'", edit: replacing("\"v-000000.lgs\"", "\"a/../v-000000.lgs\""))
        add("manifest-backslash", "§3.4 no backslash in file", "open", "backslash", edit: replacing("\"v-000000.lgs\"", "\"a\\\\v-000000.lgs\""))
        add("manifest-file-name-pattern", "§3.4 last component <writer_id>-<6 digits>.lgs", "open", "<writer_id>-<6 digits>.lgs",
            edit: replacing("\"writer_id\": \"v\"", "\"writer_id\": \"w\""))
        add("manifest-bad-writer-id", "§3.4 writer_id charset", "open", "writer_id", edit: { text in
            text.replacingOccurrences(of: "\"writer_id\": \"v\"", with: "\"writer_id\": \"v v\"").replacingOccurrences(of: "\"v-000000.lgs\"", with: "\"v v-000000.lgs\"")
        })
        add("manifest-xxh3-upper-case", "§3.4 xxh3 is 16 lower-case hex digits", "open", "hexadecimal", edit: { text in
            let r = text.range(of: "\"xxh3\": \"")!
            let hex = text[r.upperBound...].prefix(16)
            return text.replacingOccurrences(of: "\"xxh3\": \"" + hex, with: "\"xxh3\": \"" + hex.uppercased())
        })
        add("manifest-zero-sequences", "§3.4 1 ≤ sequences", "open", "sequences", edit: replacing("\"sequences\": 2", "\"sequences\": 0"))
        add("manifest-teacher-renamed", "§3.3 descriptor hash (teacher_name)", "open", "manifest does not match shard", edit: replacing("\"name\": \"hand\"", "\"name\": \"other\""))
        add("manifest-tokenizer-hash-lost", "§3.3 descriptor hash (tokenizer_hash)", "open", "manifest does not match shard", edit: replacing(", \"tokenizer_hash\": \"T\"", ""))
        add("manifest-top-k-changed", "§3.3 descriptor hash (top_k)", "open", "manifest does not match shard", edit: replacing("\"top_k\": 4", "\"top_k\": 5"))
        add("manifest-target-logprobs-flipped", "§3.3 descriptor hash (target_logprobs)", "open", "manifest does not match shard",
            store: { $0.targets = [0xBF80_0000, 0x7FC0_0000, 0xC000_0000, 0x7FC0_0000] }, edit: replacing("\"target_logprobs\": true", "\"target_logprobs\": false"))
        add("manifest-bytes-wrong", "§3.4 file size = bytes", "open", "the manifest says", edit: { text in
            let r = text.range(of: "\"bytes\": ")!
            let digits = text[r.upperBound...].prefix { $0.isNumber }
            return text.replacingOccurrences(of: "\"bytes\": " + digits, with: "\"bytes\": \(Int(digits)! + 1)")
        })
        add("manifest-positions-wrong", "§3.4 index counts = manifest counts", "open", "the manifest says", edit: replacing("\"positions\": 4", "\"positions\": 5"))
        add("manifest-trailing-content", "§3.1 nothing after the JSON value", "open", "after the JSON value", edit: { $0 + "{}" })
        add("manifest-empty-shard-list", "§2 / §7.5 unlisted *.lgs file", "verify", "not in the manifest", edit: { text in
            let start = text.range(of: "\"shards\": [")!.upperBound, end = text.range(of: "\n  ]")!.upperBound
            return text.replacingCharacters(in: start..<end, with: "]")
        })
        add("manifest-whole-file-hash", "§4.7 whole-file XXH3-64", "verify", "whole file", edit: { text in
            let r = text.range(of: "\"xxh3\": \"")!
            let hex = String(text[r.upperBound...].prefix(16))
            let other = hex.first == "0" ? "1" + hex.dropFirst() : "0" + hex.dropFirst()
            return text.replacingOccurrences(of: hex, with: other)
        })
        // Shard (§4).
        add("shard-version-1", "§4.1 major version 2", "open", "format version 1", store: { $0.headerMajor = 1 })
        add("shard-header-flags", "§4.1 flags reserved", "open", "reserved bits", store: { $0.headerFlags = 1 })
        add("shard-descriptor-hash-zero", "§4.1 descriptor hash", "open", "manifest does not match shard", store: { $0.descriptorHashOverride = 0 })
        add("shard-gap-after-block", "§4 sections contiguous", "open", "bytes between the last block", store: { $0.gapAfterBlock = 8 })
        add("block-raw-size-mismatch", "§4.3.1 raw size = Σ stream raw sizes", "read", "raw sizes sum to", store: { $0.rawSizeDelta = 1 })
        add("block-raw-size-above-limit", "§4.3.1 raw size ≤ 2^27", "open", "above the limit", store: { $0.rawSizeDelta = 1 << 27 })
        add("block-streams-out-of-order", "§4.4 stream types ascending", "read", "out of order", store: { $0.swapStreams = true })
        add("block-count-zero", "§4.5 counts ≥ 1", "read", "counts must be in", store: { $0.countsOverride = [2, 0, 4, 1] })
        add("block-count-above-top-k", "§4.5 counts ≤ top_k", "read", "counts must be in 1...2", store: { $0.topK = 2 })
        add("block-unknown-required-stream", "§4.5 unknown required stream", "read", "unknown to this reader", store: { $0.unknownStream = (77, true) })
        add("block-target-stream-missing", "§4.5 stream 5 iff target_logprobs", "read", "target-log-prob stream missing", store: { s in
            var honest = s; honest.targets = [0, 0, 0, 0]
            s.descriptorHashOverride = honest.manifest.descriptorHash
        }, edit: replacing("\"target_logprobs\": false", "\"target_logprobs\": true"))
        add("block-unknown-codec", "§4.4.2 unknown codec in a known stream", "read", "unknown codec", store: { $0.descriptorOverrides[1] = (7, nil, nil, nil) })
        add("block-unknown-filter", "§4.4.1 unknown filter in a known stream", "read", "unknown filter", store: { $0.descriptorOverrides[2] = (nil, 9, nil, nil) })
        add("block-rank-filter-on-tokens", "§4.4.1 filter 3 only on ids", "read", "rank filter", store: { $0.descriptorOverrides[1] = (nil, 3, nil, nil) })
        add("block-rank-filter-without-id-table", "§4.4.1 filter 3 needs an id table", "read", "no id table", store: { $0.descriptorOverrides[3] = (nil, 3, nil, nil) })
        add("block-width-not-allowed", "§4.5 widths allowed (probs: 2)", "read", "invalid width", store: { $0.descriptorOverrides[4] = (nil, nil, 1, nil) })
        add("block-required-flag-clear", "§4.5 streams 1–4 have the required flag set", "read", "required flag clear", store: { $0.descriptorOverrides[3] = (nil, nil, nil, false) })
        add("id-table-duplicate-id", "§4.6 listed ids distinct", "read", "listed twice", store: { $0.idTable = [3, 1, 3] })
        add("id-table-id-out-of-vocabulary", "§4.6 listed ids < V", "read", "out of range", store: { $0.idTable = [3, 10] })
        add("id-table-rank-out-of-range", "§4.4.1 rank < V", "read", "id rank outside", store: { $0.idTable = [3, 1]; $0.firstRankDelta = 10 })
        add("block-id-out-of-vocabulary", "§4.5 ids < V", "read", "not below the vocabulary", store: { $0.positions[2].ids = [2, 4, 10] })
        add("block-token-out-of-vocabulary", "§4.5 tokens < V", "read", "not below the vocabulary", store: { $0.positions[1].token = 10 })
        add("zstd-no-content-size", "§4.4.2 Frame_Content_Size present", "read", "content size", store: { $0.tokensZstd = .noContentSize })
        add("zstd-wrong-content-size", "§4.4.2 Frame_Content_Size = raw size", "read", "content size", store: { $0.tokensZstd = .wrongContentSize })
        add("zstd-dictionary", "§4.4.2 no dictionary", "read", "dictionary", store: { $0.tokensZstd = .dictionary })
        add("zstd-trailing-byte", "§4.4.2 nothing after the frame", "read", "after its frame", store: { $0.tokensZstd = .trailingByte })
        add("zstd-skippable-frame", "§4.4.2 no skippable frames", "read", "skippable", store: { $0.tokensZstd = .skippableFirst })
        // Content rules checked by verify (§5.2).
        add("verify-probabilities-above-one", "§5 Σ ≤ 1 + n·2^-11", "verify", "more than 1 +", store: { $0.positions[0].probs = [0x3A00, 0x3A00] })
        add("verify-probabilities-increasing", "§5 probabilities non-increasing", "verify", "not descending", store: { $0.positions[0].probs = [0x3400, 0x3800] })
        add("verify-negative-zero", "§1.4 no −0", "verify", "−0", store: { $0.positions[2].probs = [0x3400, 0x3000, 0x8000] })
        add("verify-repeated-id", "§4.5 ids distinct within a position", "verify", "appears twice", store: { $0.positions[2].ids = [2, 4, 2] })
        add("verify-positive-target-logprob", "§1.4 target log-prob ≤ 0 or NaN", "verify", "is positive", store: { $0.targets = [0x3F80_0000, 0x7FC0_0000, 0, 0x7FC0_0000] })
        return c
    }

    static func generate(outDir: String) throws {
        let dir = outDir + "/reject"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var index: [[String: String]] = []
        for c in cases {
            try c.store.write(to: dir + "/" + c.name, editManifest: c.edit)
            index.append(["name": c.name, "rule": c.rule, "stage": c.stage, "error": c.error])
        }
        let data = try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: dir + "/index.json"))
        var readme = """
            # Must-reject vectors (format version 2.0)

            Each directory is a store that breaks exactly one rule of `Spec/FORMAT.md` (every checksum and every other
            field is valid). A conforming reader MUST refuse it, with an error and without crashing, no later than the
            stage given: `open` (opening the store), `read` (decoding its data), `verify` (the checks of §5.2).
            `index.json` lists the same rows; `error` is a fragment of this implementation's message (informative).
            The stores are assembled byte by byte from the Spec's tables by `Tools/storage-lab/HandStore.swift`; the
            unbroken originals are the must-accept vectors `handmade` and `handmade-zstd`.

            | vector | rule broken | stage | error (this implementation) |
            |---|---|---|---|

            """
        for c in cases { readme += "| `\(c.name)` | \(c.rule) | \(c.stage) | \(c.error) |\n" }
        try readme.write(toFile: dir + "/README.md", atomically: true, encoding: .utf8)
        print("wrote \(cases.count) must-reject vectors to \(dir)")
    }
}
