import Foundation
import LogitStore
import OnlineLogits
import XCTest

/// Rows handed over chunk by chunk give exactly the store that whole-sequence full-logits appends give.
final class OnlineLogitsTests: XCTestCase {
    func testChunkedRowsMatchWholeSequenceAppends() throws {
        let vocab = 1000, dir = NSTemporaryDirectory() + "online-\(UUID().uuidString)"
        let opts = WriterOptions(vocabSize: vocab, policy: TruncationPolicy(topP: 0.9, topK: 30), teacher: TeacherIdentity(name: "online-test"))
        var rng = SystemRandomNumberGenerator()
        let sequences: [[UInt32]] = [(0..<10).map { _ in UInt32.random(in: 0..<1000, using: &rng) }, [7, 8, 9]]
        let logits: [[Float]] = sequences.map { s in (0..<(s.count * vocab)).map { _ in Float.random(in: -4...4, using: &rng) * Float.random(in: 0...2, using: &rng) } }

        let online = try OnlineLogitsWriter(writer: StoreWriter(directory: dir + "/online", options: opts))
        for (s, l) in zip(sequences, logits) {
            try online.beginSequence(tokens: s)
            var r = 0
            while r < s.count {
                let n = min(3, s.count - r)
                try l.withUnsafeBufferPointer { try online.appendRows(UnsafeBufferPointer(rebasing: $0[(r * vocab)..<((r + n) * vocab)])) }
                r += n
            }
            try online.endSequence()
        }
        // A sequence with a NaN row, or too few rows, never reaches the store.
        try online.beginSequence(tokens: [1, 2])
        var bad = [Float](repeating: 0, count: 2 * vocab); bad[vocab + 5] = .nan
        XCTAssertThrowsError(try bad.withUnsafeBufferPointer { try online.appendRows($0) })
        try online.beginSequence(tokens: [1, 2])
        try bad.withUnsafeBufferPointer { try online.appendRows(UnsafeBufferPointer(rebasing: $0[0..<vocab])) }
        XCTAssertThrowsError(try online.endSequence()) { XCTAssertTrue("\($0)".contains("ended after 1 logits rows"), "\($0)") }
        try online.finish()

        let whole = try StoreWriter(directory: dir + "/whole", options: opts)
        for (s, l) in zip(sequences, logits) { try l.withUnsafeBufferPointer { try whole.append(tokens: s, logits: $0) } }
        try whole.finish()

        let a = try StoreReader(directory: dir + "/online"), b = try StoreReader(directory: dir + "/whole")
        XCTAssertEqual(a.sequenceCount, 2)
        XCTAssertEqual(b.sequenceCount, 2)
        for i in 0..<2 {
            let x = try a.sequence(i), y = try b.sequence(i)
            XCTAssertEqual(x, y)
            XCTAssertEqual(x.targetLogprobs?.count, sequences[i].count)
        }
    }
}
