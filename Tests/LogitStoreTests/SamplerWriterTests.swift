import XCTest
import Foundation
@testable import LogitStore

/// StoreWriter under a sample policy: what it stores, that resume does not change the bits, and the checks on
/// pre-sampled rows.
final class SamplerWriterTests: XCTestCase {
    let vocab = 300

    func options(_ policy: TruncationPolicy, id: String = "w0", shardTarget: Int = 4000) -> WriterOptions {
        WriterOptions(vocabSize: vocab, policy: policy, teacher: TeacherIdentity(name: "t"), writerID: id,
                      shardTargetBytes: shardTarget, blockTargetBytes: 1024, recordTargetLogprobs: true)
    }

    func sequences(_ n: Int) -> [([UInt32], [Float])] {
        (0..<n).map { s in
            let len = 5 + s % 4
            let tokens = (0..<len).map { UInt32(($0 * 37 + s * 11) % vocab) }
            return (tokens, teacherLikeRows(rows: len, vocab: vocab, spread: 1.2, seed: UInt64(100 + s)))
        }
    }

    func write(_ seqs: ArraySlice<([UInt32], [Float])>, to dir: String, policy: TruncationPolicy, id: String = "w0") throws {
        let w = try StoreWriter(directory: dir, options: options(policy, id: id))
        for (t, l) in seqs { try l.withUnsafeBufferPointer { try w.append(tokens: t, logits: $0) } }
        try w.finish()
    }

    func testStoredEntriesAreTheSamplersWithTheWritersOrdinal() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let policy = TruncationPolicy.sample(samples: 32, seed: 7)
        let seqs = sequences(6)
        try write(seqs[...], to: dir, policy: policy)
        let reader = try StoreReader(directory: dir)
        XCTAssertEqual(reader.manifest.truncation, policy)
        XCTAssert(reader.manifest.truncation.isSampled)
        let sampler = try Sampler(vocabSize: vocab, policy: policy, writerID: "w0")
        for (s, (tokens, logits)) in seqs.enumerated() {
            var rows = TruncatedRows()
            let next: [UInt32?] = (0..<tokens.count).map { $0 + 1 < tokens.count ? tokens[$0 + 1] : nil }
            try logits.withUnsafeBufferPointer { try sampler.sample(rows: $0, sequenceOrdinal: s, nextTokens: next, into: &rows) }
            let got = try reader.sequence(s)
            XCTAssertEqual(got.ids, rows.ids, "sequence \(s)")
            XCTAssertEqual(got.probs, rows.probs)
            XCTAssertEqual(got.targetLogprobs?.map(\.bitPattern), rows.targetLogprobs?.map(\.bitPattern))
        }
    }

    func testResumeStoresTheSameBitsAsOneRun() throws {
        let once = makeTempDir("once"), resumed = makeTempDir("resumed")
        defer { try? FileManager.default.removeItem(atPath: once); try? FileManager.default.removeItem(atPath: resumed) }
        let policy = TruncationPolicy.sample(samples: 64, sampleTemperature: 1.5, seed: 3)
        let seqs = sequences(9)
        try write(seqs[...], to: once, policy: policy)
        try write(seqs[0..<4], to: resumed, policy: policy)
        do {  // a run that dies with sequences pending: they are not committed and are written again
            let w = try StoreWriter(directory: resumed, options: options(policy))
            XCTAssertEqual(w.nextSequenceOrdinal, 4)
            for (t, l) in seqs[4..<6] { try l.withUnsafeBufferPointer { try w.append(tokens: t, logits: $0) } }
            XCTAssertEqual(w.nextSequenceOrdinal, 6)
        }
        let w = try StoreWriter(directory: resumed, options: options(policy))
        XCTAssertEqual(w.committedSequenceCount, 4)
        for (t, l) in seqs[4...] { try l.withUnsafeBufferPointer { try w.append(tokens: t, logits: $0) } }
        try w.finish()
        let a = try StoreReader(directory: once), b = try StoreReader(directory: resumed)
        XCTAssertGreaterThan(b.shardCount, 1)
        XCTAssertEqual(a.sequenceCount, b.sequenceCount)
        for s in 0..<a.sequenceCount { XCTAssertEqual(try a.sequence(s), try b.sequence(s), "sequence \(s)") }
    }

    func testOtherWriterIDsDrawOtherIDs() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let policy = TruncationPolicy.sample(samples: 16, seed: 1)
        let seqs = sequences(2)
        try write(seqs[...], to: dir, policy: policy, id: "a")
        try write(seqs[...], to: dir, policy: policy, id: "b")
        let r = try StoreReader(directory: dir)
        XCTAssertEqual(r.sequenceCount, 4)
        XCTAssertNotEqual(try r.sequence(0).ids, try r.sequence(2).ids)
    }

    // MARK: pre-sampled rows

    func presampled(_ probs: [[Float16]], ids: [[UInt32]]? = nil) -> ([UInt32], TruncatedRows) {
        var rows = TruncatedRows()
        for (j, p) in probs.enumerated() {
            rows.counts.append(UInt32(p.count))
            rows.ids += ids?[j] ?? (0..<p.count).map { UInt32($0 * 3 + 1) }
            rows.probs += p
        }
        return ((0..<probs.count).map { UInt32($0) }, rows)
    }

    func testPresampledRowsAreChecked() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let counts = TruncationPolicy.sample(samples: 8, seed: 0)
        let w = try StoreWriter(directory: dir, options: options(counts))
        let good = presampled([[0.5, 0.25, 0.125, 0.125], [1]])
        XCTAssertNoThrow(try w.append(tokens: good.0, truncated: good.1))
        let bad: [(String, ([UInt32], TruncatedRows))] = [
            ("whole count", presampled([[0.5, 0.3, 0.2]])),
            ("not 8", presampled([[0.5, 0.25, 0.125]])),
            ("ascending id", presampled([[0.5, 0.25, 0.125, 0.125]], ids: [[1, 2, 9, 4]])),
            ("twice", presampled([[0.5, 0.25, 0.125, 0.125]], ids: [[1, 2, 1, 4]])),
            ("more than top-k", presampled([[Float16](repeating: 0.0625, count: 9) + [0.4375]])),
            ("no entry", presampled([[]])),
        ]
        for (why, (t, r)) in bad {
            XCTAssertThrowsError(try w.append(tokens: t, truncated: r), why) { error in
                let text = "\(error)"
                XCTAssert(text.contains(why) || text.contains("count") || text.contains("order"), "\(why): \(text)")
                XCTAssertFalse(text.contains("\n"))
            }
        }
        try w.finish()
        XCTAssertEqual(try StoreReader(directory: dir).sequenceCount, 1, "refused sequences leave nothing")

        let dir2 = makeTempDir("importance")
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        let w2 = try StoreWriter(directory: dir2, options: options(.sample(samples: 8, sampleTemperature: 2, seed: 0)))
        let ok = presampled([[0.4, 0.35, 0.25]])
        XCTAssertNoThrow(try w2.append(tokens: ok.0, truncated: ok.1))
        let short = presampled([[0.4, 0.3, 0.2]])
        XCTAssertThrowsError(try w2.append(tokens: short.0, truncated: short.1)) { XCTAssert("\($0)".contains("sum to"), "\($0)") }
        try w2.finish()
    }
}
