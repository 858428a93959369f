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
        /// A sampled-policy store (counts weights, N = 64 unless given) instead of top-p-k.
        var sampled = false
        var samples = 64
        var sampleTemperature = 1.0
    }

    static let specs = [
        Spec(name: "zstd", description: "zstd level 3, several blocks and two shards, no target-log-prob stream", codec: .zstd(level: 3), targets: false, fromLogits: false),
        Spec(name: "zstd-targets", description: "zstd level 3 with the target-log-prob stream (NaN at each sequence's last position)", codec: .zstd(level: 3), targets: true, fromLogits: false),
        Spec(name: "lz4", description: "LZ4 with the target-log-prob stream", codec: .lz4, targets: true, fromLogits: false),
        Spec(name: "none", description: "no compression (filters only), ids byte-shuffled without an id table, no target-log-prob stream", codec: .none, targets: false, fromLogits: false, plainIds: true),
        Spec(name: "from-logits", description: "written from float32 logits rows (vocab 40, top-p 0.8, top-k 6); logits included", codec: .zstd(level: 3), targets: true, fromLogits: true),
        Spec(name: "sample-from-logits", description: "sampled policy sample:16 (counts weights, seed 7) written from float32 logits rows (vocab 40) by the writer's normative sampler (Spec §1.3); logits included", codec: .zstd(level: 3), targets: true, fromLogits: true, sampled: true, samples: 16, sampleTemperature: 1),
        Spec(name: "sample-importance-from-logits", description: "sampled policy sample:16:2 (τs 2, importance weights, seed 7) written from float32 logits rows (vocab 40); logits included", codec: .zstd(level: 3), targets: true, fromLogits: true, sampled: true, samples: 16, sampleTemperature: 2),
        Spec(name: "sample", description: "sampled policy sample:64 (counts weights): per position the distinct ids of 64 draws, by descending count (ties: lower id), probabilities count/64", codec: .zstd(level: 3), targets: true, fromLogits: false, sampled: true),
    ]

    /// Unnormalised weights shaped like a language model's next-token distribution: ids in random order, weight
    /// (1 + rank)^(−a) with a random exponent a in [0.8, 3.3] (flat to peaked) and ±10 % noise.
    static func zipfWeights(_ rng: inout SplitMix64, vocab: Int) -> [Double] {
        let a = 0.8 + Double(rng.next(below: 2501)) / 1000
        var ids = Array(0..<vocab)
        for i in stride(from: vocab - 1, to: 0, by: -1) { ids.swapAt(i, Int(rng.next(below: UInt64(i + 1)))) }
        var w = [Double](repeating: 0, count: vocab)
        for (rank, id) in ids.enumerated() {
            w[id] = Foundation.pow(Double(1 + rank), -a) * (0.9 + Double(rng.next(below: 201)) / 1000)
        }
        return w
    }

    /// A realistic truncated row: softmax of random logits over the whole vocabulary (double precision), sorted by
    /// probability descending (ties: lower id), the shortest prefix reaching top-p, then at most top-k, as float16.
    /// Its kept probabilities sum to at most 1 (up to float16 rounding), as a real truncated softmax does.
    static func truncatedRow(_ rng: inout SplitMix64, vocab: Int, policy: TruncationPolicy) -> ([UInt32], [Float16]) {
        let w = zipfWeights(&rng, vocab: vocab)
        let z = w.reduce(0, +)
        let order = (0..<vocab).sorted { w[$0] != w[$1] ? w[$0] > w[$1] : $0 < $1 }
        var ids: [UInt32] = [], probs: [Float16] = []
        var mass = 0.0
        for i in order where ids.count < policy.topK {
            let q = w[i] / z
            ids.append(UInt32(i)); probs.append(Float16(q)); mass += q
            if mass >= policy.topP { break }
        }
        return (ids, probs)
    }

    /// A sampled row: `n` draws from a random peaked distribution; the distinct ids by descending count (ties: lower
    /// id) with probability count/n. (Built here directly; the normative RNG of Spec §1.3 is not involved.)
    static func sampledRow(_ rng: inout SplitMix64, vocab: Int, n: Int) -> ([UInt32], [Float16]) {
        let w = zipfWeights(&rng, vocab: vocab)
        var cumulative: [Double] = []
        var c = 0.0
        for x in w { c += x; cumulative.append(c) }
        var counts: [Int: Int] = [:]
        for _ in 0..<n {
            let u = Double(rng.next(below: 1 << 53)) * 0x1p-53 * c
            let i = cumulative.firstIndex { $0 > u } ?? vocab - 1
            counts[i, default: 0] += 1
        }
        let drawn = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        return (drawn.map { UInt32($0.key) }, drawn.map { Float16(Double($0.value) / Double(n)) })
    }

    static func generate(outDir: String) throws {
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        for spec in specs { try write(spec, outDir: outDir) }
        // Hand-assembled stores (the originals of the must-reject vectors): plain bytes, and a hand-written zstd frame.
        try HandStore().write(to: outDir + "/handmade")
        try HandStore().annotatedDump().write(toFile: outDir + "/handmade.hexdump.txt", atomically: true, encoding: .utf8)
        try describe(store: outDir + "/handmade", name: "handmade", description: "assembled byte by byte from the Spec's tables: filter 0 and codec 0 in every stream, one block, two sequences",
                     codec: "none", outDir: outDir, logits: nil)
        var z = HandStore(); z.tokensZstd = .valid
        try z.write(to: outDir + "/handmade-zstd")
        try describe(store: outDir + "/handmade-zstd", name: "handmade-zstd", description: "as handmade, but the tokens stream is one hand-written Zstandard frame with a single raw block and Frame_Content_Size",
                     codec: "zstd (tokens only)", outDir: outDir, logits: nil)
        var u = HandStore(); u.unknownStream = (200, false)
        try u.write(to: outDir + "/handmade-unknown-stream")
        try describe(store: outDir + "/handmade-unknown-stream", name: "handmade-unknown-stream", description: "as handmade, plus an optional stream of unassigned type 200 (required flag clear, 3 raw bytes): readers MUST skip it and return the same data as handmade",
                     codec: "none", outDir: outDir, logits: nil)
        var t = HandStore(); t.idTable = [3, 9, 1]
        try t.write(to: outDir + "/handmade-id-table")
        try describe(store: outDir + "/handmade-id-table", name: "handmade-id-table", description: "as handmade, with an id table listing 3, 9, 1 (codec 0, filter 0, width 4) and the ids stream as ranks (filter 3, width 1): π = 3, 9, 1, 0, 2, 4, 5, 6, 7, 8",
                     codec: "none", outDir: outDir, logits: nil)
        try RejectVectors.generate(outDir: outDir)
        print("wrote \(specs.count + 4) vectors to \(outDir)")
    }

    /// The manifest's `truncation` object as JSON values.
    static func truncationJSON(_ p: TruncationPolicy) -> [String: Any] {
        var o: [String: Any] = ["policy": p.kind.rawValue, "top_p": p.topP, "top_k": p.topK, "temperature": p.temperature]
        if let n = p.samples { o["samples"] = n }
        if let t = p.sampleTemperature { o["sample_temperature"] = t }
        if let s = p.seed { o["seed"] = Int(s) }
        if let w = p.weights { o["weights"] = w.rawValue }
        return o
    }

    static func write(_ spec: Spec, outDir: String) throws {
        let dir = outDir + "/" + spec.name
        try? FileManager.default.removeItem(atPath: dir)
        let vocab = spec.fromLogits ? 40 : 300
        let policy = spec.sampled ? TruncationPolicy.sample(samples: spec.samples, sampleTemperature: spec.sampleTemperature, seed: spec.fromLogits ? 7 : 0)
            : spec.fromLogits ? TruncationPolicy(topP: 0.8, topK: 6) : TruncationPolicy(topP: 0.95, topK: 12)
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
                    let (ids, probs) = spec.sampled ? sampledRow(&rng, vocab: vocab, n: policy.samples!)
                        : truncatedRow(&rng, vocab: vocab, policy: policy)
                    rows.ids += ids; rows.probs += probs
                    rows.counts.append(UInt32(ids.count))
                    if spec.targets { rows.targetLogprobs!.append(j == n - 1 ? .nan : -Float(rng.next(below: 9000)) / 1000) }
                }
                try w.append(tokens: tokens, truncated: rows)
            }
        }
        try w.finish()
        try describe(store: dir, name: spec.name, description: spec.description, codec: "\(spec.codec)", outDir: outDir,
                     logits: spec.fromLogits ? logitsPerSequence : nil)
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) where f.hasPrefix(".") {
            try FileManager.default.removeItem(atPath: dir + "/" + f)  // lock files
        }
    }

    /// Decodes the store at `store` with the reader and writes `<outDir>/<name>.json` (its exact content).
    static func describe(store dir: String, name: String, description: String, codec: String, outDir: String, logits: [[Float]]?) throws {
        let r = try StoreReader(directory: dir)
        let policy = r.manifest.truncation
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
            if let logits { o["logits_f32_bits"] = logits[i].map { Int($0.bitPattern) } }
            sequences.append(o)
        }
        let doc: [String: Any] = [
            "name": name, "description": description, "vocab_size": r.vocabSize,
            "truncation": truncationJSON(policy),
            "descriptor": String(decoding: StoreDescriptor.bytes(of: r.manifest), as: UTF8.self),
            "descriptor_xxh3": Checksum.hex(r.manifest.descriptorHash),
            "codec": codec, "target_logprobs": r.hasTargetLogprobs,
            "shards": r.shardCount, "positions": r.positionCount, "entries": r.entryCount,
            "sequences": sequences,
        ]
        let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: outDir + "/" + name + ".json"))
    }
}
