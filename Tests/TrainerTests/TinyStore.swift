import Foundation
import LogitStore
@testable import Trainer

/// A tiny synthetic store: a fixed random bigram "teacher" (logits depend on the current token), token
/// sequences sampled from it, and its top-p/top-k truncated distributions written with StoreWriter.
enum TinyStore {
    static func temporaryDirectory(_ tag: String) -> String {
        let d = NSTemporaryDirectory() + "trainer-\(tag)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Writes `sequences` sequences of `length` tokens over `vocab` and returns the store directory.
    static func make(vocab: Int = 64, sequences: Int = 12, length: Int = 32, sharpness: Double = 3, seed: UInt64 = 5,
                     topP: Double = 0.95, topK: Int = 20) throws -> String {
        let dir = temporaryDirectory("store") + "/store"
        var rng = LossGradientTests.LCG(s: seed)
        // Bigram logits table [vocab, vocab]: each row has a few strong successors.
        var table = [Float](repeating: 0, count: vocab * vocab)
        for a in 0..<vocab {
            for b in 0..<vocab { table[a * vocab + b] = Float(sharpness * (rng.next() - 0.5)) }
            for _ in 0..<3 { table[a * vocab + Int(rng.next() * Double(vocab))] += Float(2 * sharpness) }
        }
        let writer = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: vocab, policy: TruncationPolicy(topP: topP, topK: topK),
                                                                            teacher: TeacherIdentity(name: "tiny-bigram"), codec: .zstd(level: 1)))
        for _ in 0..<sequences {
            var tokens: [UInt32] = [UInt32(rng.next() * Double(vocab))]
            var logits: [Float] = []
            for j in 0..<length {
                let row = Array(table[(Int(tokens[j]) * vocab)..<(Int(tokens[j]) * vocab + vocab)])
                logits.append(contentsOf: row)
                if j + 1 < length {
                    // Sample the next token from softmax(row).
                    let m = row.max()!
                    let e = row.map { exp(Double($0 - m)) }
                    var u = rng.next() * e.reduce(0, +)
                    var pick = vocab - 1
                    for (i, x) in e.enumerated() { u -= x; if u <= 0 { pick = i; break } }
                    tokens.append(UInt32(pick))
                }
            }
            try logits.withUnsafeBufferPointer { try writer.append(tokens: tokens, logits: $0) }
        }
        try writer.finish()
        return dir
    }

    /// Like `make`, but the store's policy is `sample:N` and each position holds N draws from the bigram teacher's
    /// softmax, written as pre-sampled rows: distinct ids by descending count (ties by lower id), probs c/N.
    static func makeSampled(vocab: Int = 64, sequences: Int = 12, length: Int = 32, samples n: Int = 16,
                            sharpness: Double = 3, seed: UInt64 = 5) throws -> String {
        let dir = temporaryDirectory("sampled") + "/store"
        var rng = LossGradientTests.LCG(s: seed)
        var table = [Double](repeating: 0, count: vocab * vocab)
        for a in 0..<vocab {
            for b in 0..<vocab { table[a * vocab + b] = sharpness * (rng.next() - 0.5) }
            for _ in 0..<3 { table[a * vocab + Int(rng.next() * Double(vocab))] += 2 * sharpness }
        }
        func draw(_ p: [Double]) -> Int {
            var u = rng.next()
            for (i, x) in p.enumerated() { u -= x; if u <= 0 { return i } }
            return p.count - 1
        }
        let writer = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: vocab, policy: .sample(samples: n, seed: 0),
                                                                            teacher: TeacherIdentity(name: "tiny-bigram"), codec: .zstd(level: 1),
                                                                            recordTargetLogprobs: false))
        for _ in 0..<sequences {
            var tokens: [UInt32] = [UInt32(rng.next() * Double(vocab))]
            var rows = TruncatedRows()
            for j in 0..<length {
                let row = Array(table[(Int(tokens[j]) * vocab)..<(Int(tokens[j]) * vocab + vocab)])
                let m = row.max()!
                let e = row.map { exp($0 - m) }, z = e.reduce(0, +)
                let p = e.map { $0 / z }
                var counts = [Int: Int]()
                for _ in 0..<n { counts[draw(p), default: 0] += 1 }
                let kept = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                rows.counts.append(UInt32(kept.count))
                for (id, c) in kept { rows.ids.append(UInt32(id)); rows.probs.append(Float16(Double(c) / Double(n))) }
                if j + 1 < length { tokens.append(UInt32(draw(p))) }
            }
            try writer.append(tokens: tokens, truncated: rows)
        }
        try writer.finish()
        return dir
    }

    static let tinyStudent = StudentConfig(layers: 2, dim: 32, heads: 4, kvHeads: 2, ffnDim: 64, tiedEmbeddings: false)
}
