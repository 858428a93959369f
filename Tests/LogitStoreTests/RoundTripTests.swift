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

    /// Range reads decode whole, uncached blocks straight into the record and copy the rest from cached blocks:
    /// any mix (block-aligned starts, partial first and last blocks, blocks already cached, tiny caches) gives
    /// exactly the concatenated content, with and without target log-probs.
    func testRangeReadsMatchTheConcatenation() throws {
        for targets in [false, true] {
            let dir = makeTempDir("ranges\(targets)")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let opts = WriterOptions(vocabSize: 1000, policy: TruncationPolicy(topP: 0.95, topK: 20), codec: .zstd(level: 3),
                                     shardTargetBytes: 30_000, blockTargetBytes: 3000, recordTargetLogprobs: targets)
            let w = try StoreWriter(directory: dir, options: opts)
            var all = SequenceRecord()
            for s in 0..<25 {
                let (tokens, rows) = syntheticRows(positions: 1 + s * 13 % 61, vocab: 1000, kmax: 20, seed: UInt64(100 + s), targets: targets)
                try w.append(tokens: tokens, truncated: rows)
                let e = record(tokens, rows)
                all.tokens += e.tokens; all.ids += e.ids; all.probs += e.probs
                let base = all.offsets.last!
                all.offsets += e.offsets.dropFirst().map { $0 + base }
                if targets { all.targetLogprobs = (all.targetLogprobs ?? []) + e.targetLogprobs! }
            }
            try w.finish()
            var rng = SplitMix64(seed: 7)
            for (capacity, threads) in [(1, 1), (4, 1), (1, 2), (4, 3)] {
                let r = try StoreReader(directory: dir)
                r.cacheCapacity = capacity
                r.decodeThreads = threads
                let n = r.positionCount
                let starts = (0..<r.sequenceCount).map { r.sequenceRange($0).lowerBound }
                var rec = SequenceRecord()
                for trial in 0..<400 {
                    let a = trial % 2 == 0 ? starts[Int(rng.next(below: UInt64(starts.count)))] : Int(rng.next(below: UInt64(n)))
                    let b = a + 1 + Int(rng.next(below: UInt64(n - a)))
                    try r.read(a..<b, into: &rec)
                    let ea = all.offsets[a], eb = all.offsets[b]
                    XCTAssertEqual(rec.tokens, Array(all.tokens[a..<b]), "\(a)..<\(b)")
                    XCTAssertEqual(rec.offsets, all.offsets[a...b].map { $0 - ea }, "\(a)..<\(b)")
                    XCTAssertEqual(rec.ids, Array(all.ids[ea..<eb]), "\(a)..<\(b)")
                    XCTAssertEqual(rec.probs.map(\.bitPattern), all.probs[ea..<eb].map(\.bitPattern), "\(a)..<\(b)")
                    if targets {
                        XCTAssertEqual(rec.targetLogprobs?.map(\.bitPattern), all.targetLogprobs![a..<b].map(\.bitPattern), "\(a)..<\(b)")
                    } else {
                        XCTAssertNil(rec.targetLogprobs)
                    }
                }
            }
            // A damaged block in the middle of a read that decodes blocks on two threads: an error naming it, no data.
            let shard = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".lgs") }.sorted()[0]
            let r = try StoreReader(directory: dir)
            r.decodeThreads = 2
            let blocks = r.shards[0].blocks
            XCTAssertGreaterThan(blocks.count, 3)
            let victim = blocks[2]
            let fh = try FileHandle(forUpdating: URL(fileURLWithPath: dir + "/" + shard))
            try fh.seek(toOffset: UInt64(victim.offset) + UInt64(victim.storedBytes / 2))
            let byte = try fh.read(upToCount: 1)![0]
            try fh.seek(toOffset: UInt64(victim.offset) + UInt64(victim.storedBytes / 2))
            try fh.write(contentsOf: Data([byte ^ 0x40]))
            try fh.close()
            let damaged = try StoreReader(directory: dir)
            damaged.decodeThreads = 2
            XCTAssertThrowsError(try damaged.positions(0..<Int(blocks[4].firstPosition))) {
                XCTAssertTrue("\($0)".contains("block 2"), "\($0)")
            }
        }
    }

    func testRoundTripZstd() throws { try roundTrip(codec: .zstd(level: 3), targets: false) }
    func testRoundTripZstdTargets() throws { try roundTrip(codec: .zstd(level: 19), targets: true) }
    func testRoundTripLZ4() throws { try roundTrip(codec: .lz4, targets: true) }
    func testRoundTripNone() throws { try roundTrip(codec: .none, targets: false) }
}
