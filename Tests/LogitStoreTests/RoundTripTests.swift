import XCTest
@testable import LogitStore

final class RoundTripTests: XCTestCase {
    func roundTrip(codec: Codec, targets: Bool, blockTarget: Int = 4096, shardTarget: Int = 20_000) throws {
        let dir = makeTempDir("rt\(codec)\(targets)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var opts = WriterOptions(vocabSize: 1000, policy: TruncationPolicy(topP: 0.95, topK: 20), codec: codec,
                                 shardTargetBytes: shardTarget, blockTargetBytes: blockTarget, recordTargetLogprobs: targets)
        opts.teacher = TeacherIdentity(name: "test", weightsHash: "w", tokenizerHash: "t")
        let w = try StoreWriter(directory: dir, options: opts)
        var expected: [SequenceRecord] = []
        for s in 0..<30 {
            let (tokens, rows) = syntheticRows(positions: 1 + s * 7 % 97, vocab: 1000, kmax: 20, seed: UInt64(s), targets: targets)
            try w.append(tokens: tokens, truncated: rows)
            expected.append(record(tokens, rows))
        }
        try w.finish()
        let r = try StoreReader(directory: dir)
        XCTAssertEqual(r.sequenceCount, 30)
        XCTAssertGreaterThan(r.shardCount, 1, "shard rolling should have produced several shards")
        XCTAssertEqual(r.positionCount, expected.reduce(0) { $0 + $1.positionCount })
        for (i, e) in expected.enumerated() {
            XCTAssertEqual(try r.sequence(i), e, "sequence \(i) differs")
        }
        // An arbitrary range crossing sequences, blocks and shards equals the concatenation.
        var all = SequenceRecord()
        for e in expected {
            all.tokens += e.tokens; all.ids += e.ids; all.probs += e.probs
            let base = all.offsets.last!
            all.offsets += e.offsets.dropFirst().map { $0 + base }
            if targets { all.targetLogprobs = (all.targetLogprobs ?? []) + e.targetLogprobs! }
        }
        let range = 5..<(r.positionCount - 3)
        let got = try r.positions(range)
        XCTAssertEqual(got.tokens, Array(all.tokens[range]))
        XCTAssertEqual(got.ids, Array(all.ids[all.offsets[range.lowerBound]..<all.offsets[range.upperBound]]))
        XCTAssertEqual(got.probs.map(\.bitPattern), all.probs[all.offsets[range.lowerBound]..<all.offsets[range.upperBound]].map(\.bitPattern))
        if targets { XCTAssertEqual(got.targetLogprobs!.map(\.bitPattern), all.targetLogprobs![range].map(\.bitPattern)) }
        let report = try r.verify()
        XCTAssertTrue(report.ok, "\(report.problems)")
    }

    func testRoundTripZstd() throws { try roundTrip(codec: .zstd(level: 3), targets: false) }
    func testRoundTripZstdTargets() throws { try roundTrip(codec: .zstd(level: 19), targets: true) }
    func testRoundTripLZ4() throws { try roundTrip(codec: .lz4, targets: true) }
    func testRoundTripNone() throws { try roundTrip(codec: .none, targets: false) }
}
