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

    static let tinyStudent = StudentConfig(layers: 2, dim: 32, heads: 4, kvHeads: 2, ffnDim: 64, tiedEmbeddings: false)
}
