import Foundation
import LogitStore

/// Generates Spec/vectors: small stores plus their exact decoded content as JSON.
///
/// Each vector is a directory `<name>/` (a complete store) and `<name>.json`:
/// `{"name", "description", "vocab_size", "truncation", "target_logprobs", "sequences": [{"tokens", "counts", "ids",
///   "probs_f16_bits", "probs", "target_logprobs_f32_bits"?}]}`; the `from-logits` vector also holds its input
/// `logits_f32_bits` per sequence, so an implementation can check its truncation too.
enum Vectors {
    struct Spec {
        let name: String
        let description: String
        let codec: Codec
        let targets: Bool
        let fromLogits: Bool
        var plainIds = false
    }

    static let specs = [
        Spec(name: "zstd", description: "zstd level 3, several blocks and two shards, no target-log-prob stream", codec: .zstd(level: 3), targets: false, fromLogits: false),
        Spec(name: "zstd-targets", description: "zstd level 3 with the target-log-prob stream (NaN at each sequence's last position)", codec: .zstd(level: 3), targets: true, fromLogits: false),
        Spec(name: "lz4", description: "LZ4 with the target-log-prob stream", codec: .lz4, targets: true, fromLogits: false),
        Spec(name: "none", description: "no compression (filters only), ids byte-shuffled without an id table, no target-log-prob stream", codec: .none, targets: false, fromLogits: false, plainIds: true),
        Spec(name: "from-logits", description: "written from float32 logits rows (vocab 40, top-p 0.8, top-k 6); logits included", codec: .zstd(level: 3), targets: true, fromLogits: true),
    ]

    static func generate(outDir: String) throws {
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        for spec in specs { try write(spec, outDir: outDir) }
        print("wrote \(specs.count) vectors to \(outDir)")
    }

    static func write(_ spec: Spec, outDir: String) throws {
        let dir = outDir + "/" + spec.name
        try? FileManager.default.removeItem(atPath: dir)
        let vocab = spec.fromLogits ? 40 : 300
        let policy = spec.fromLogits ? TruncationPolicy(topP: 0.8, topK: 6) : TruncationPolicy(topP: 0.95, topK: 12)
        var options = WriterOptions(vocabSize: vocab, policy: policy,
                                    teacher: TeacherIdentity(name: "spec-vector", weightsHash: "none", tokenizerHash: "none"),
                                    codec: spec.codec, writerID: "v", shardTargetBytes: 1200, blockTargetBytes: 1024,
                                    recordTargetLogprobs: spec.targets)
        options.paddedVocabSize = nil
        let w = try StoreWriter(directory: dir, options: options)
        if spec.plainIds { w.encodingPlan.ids = .shuffle }
        var rng = SplitMix64(seed: UInt64(spec.name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        var logitsPerSequence: [[Float]] = []
        let lengths = spec.fromLogits ? [5, 3] : [40, 1, 25, 60]
        for n in lengths {
            let tokens = (0..<n).map { _ in UInt32(rng.next(below: UInt64(vocab))) }
            if spec.fromLogits {
                let logits: [Float] = (0..<(n * vocab)).map { _ in Float(Int(rng.next(below: 2000)) - 1000) / 125 }
                logitsPerSequence.append(logits)
                try logits.withUnsafeBufferPointer { try w.append(tokens: tokens, logits: $0) }
            } else {
                var rows = TruncatedRows()
                if spec.targets { rows.targetLogprobs = [] }
                for j in 0..<n {
                    let c = Int(rng.next(below: UInt64(policy.topK))) + 1
                    var used = Set<UInt32>()
                    var p = Float(rng.next(below: 600)) / 1000 + 0.3
                    for _ in 0..<c {
                        var id: UInt32
                        repeat { id = UInt32(rng.next(below: UInt64(vocab))) } while !used.insert(id).inserted
                        rows.ids.append(id); rows.probs.append(Float16(p)); p *= 0.5 + Float(rng.next(below: 400)) / 1000
                    }
                    rows.counts.append(UInt32(c))
                    if spec.targets { rows.targetLogprobs!.append(j == n - 1 ? .nan : -Float(rng.next(below: 9000)) / 1000) }
                }
                try w.append(tokens: tokens, truncated: rows)
            }
        }
        try w.finish()
        // Decode with the reader and write the JSON.
        let r = try StoreReader(directory: dir)
        var sequences: [[String: Any]] = []
        for i in 0..<r.sequenceCount {
            let s = try r.sequence(i)
            var o: [String: Any] = [
                "tokens": s.tokens.map(Int.init),
                "counts": (0..<s.positionCount).map { s.count(at: $0) },
                "ids": s.ids.map(Int.init),
                "probs_f16_bits": s.probs.map { Int($0.bitPattern) },
                "probs": s.probs.map { Double(Float($0)) },
            ]
            if let t = s.targetLogprobs { o["target_logprobs_f32_bits"] = t.map { Int($0.bitPattern) } }
            if spec.fromLogits { o["logits_f32_bits"] = logitsPerSequence[i].map { Int($0.bitPattern) } }
            sequences.append(o)
        }
        let doc: [String: Any] = [
            "name": spec.name, "description": spec.description, "vocab_size": vocab,
            "truncation": ["top_p": policy.topP, "top_k": policy.topK, "temperature": policy.temperature],
            "codec": "\(spec.codec)", "target_logprobs": spec.targets,
            "shards": r.shardCount, "positions": r.positionCount, "entries": r.entryCount,
            "sequences": sequences,
        ]
        let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: outDir + "/" + spec.name + ".json"))
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) where f.hasPrefix(".") {
            try FileManager.default.removeItem(atPath: dir + "/" + f)  // lock files
        }
    }
}
