import Foundation
import XCTest
@testable import LogitStore

/// A fresh temporary directory per test, removed afterwards.
func makeTempDir(_ name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let dir = NSTemporaryDirectory() + "logitstore-tests-\(safe)-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.removeItem(atPath: dir)
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Deterministic synthetic truncated rows shaped like a teacher's: Zipf-ish ids, descending float16 probabilities.
func syntheticRows(positions: Int, vocab: Int, kmax: Int, seed: UInt64, targets: Bool = false) -> ([UInt32], TruncatedRows) {
    var rng = SplitMix64(seed: seed)
    var tokens: [UInt32] = []
    var rows = TruncatedRows()
    if targets { rows.targetLogprobs = [] }
    for j in 0..<positions {
        tokens.append(UInt32(rng.next(below: UInt64(vocab))))
        let c = Int(rng.next(below: UInt64(kmax))) + 1
        var used = Set<UInt32>()
        // Descending weights scaled to a total kept mass in [0.5, 0.99], so each row is a valid truncated distribution.
        var w: [Double] = []
        var x = 1.0
        for _ in 0..<c { w.append(x); x *= Double(rng.next(below: 1000)) / 1000 * 0.5 + 0.5 }
        let mass = 0.5 + Double(rng.next(below: 1000)) / 1000 * 0.49
        let total = w.reduce(0, +)
        for i in 0..<c {
            var id: UInt32
            repeat {
                let u = Double(rng.next(below: 1 << 30)) / Double(1 << 30)
                id = UInt32(min(Double(vocab - 1), pow(Double(vocab), u) - 1))
            } while !used.insert(id).inserted
            rows.ids.append(id)
            rows.probs.append(Float16(w[i] / total * mass))
        }
        rows.counts.append(UInt32(c))
        if targets { rows.targetLogprobs!.append(j == positions - 1 ? .nan : -Float(rng.next(below: 10_000)) / 1000) }
    }
    return (tokens, rows)
}

/// The logical content of rows as a record (for comparisons).
func record(_ tokens: [UInt32], _ rows: TruncatedRows) -> SequenceRecord {
    var offsets = [0]
    for c in rows.counts { offsets.append(offsets.last! + Int(c)) }
    return SequenceRecord(tokens: tokens, offsets: offsets, ids: rows.ids, probs: rows.probs, targetLogprobs: rows.targetLogprobs)
}
