import XCTest
import Foundation
@testable import LogitStore

/// Block-level rules readers enforce (Spec §4): counts in 1...top_k, raw size = Σ stream raw sizes.
/// Shards are crafted with the writer's own building blocks, so only the rule under test is broken.
final class BlockRuleTests: XCTestCase {
    let vocab = 100

    /// Writes one shard holding `blocks` (one sequence over all their positions) and a manifest listing it.
    func craftStore(_ dir: String, blocks: [BlockContent], topK: Int = 8, policy: TruncationPolicy? = nil) throws {
        let m = Manifest(vocabSize: vocab, paddedVocabSize: nil, truncation: policy ?? TruncationPolicy(topP: 1, topK: topK),
                         teacher: TeacherIdentity(name: "craft"), targetLogprobs: false)
        let tmp = dir + "/.c-000000.lgs.tmp"
        let b = try ShardBuilder(tempPath: tmp, vocabSize: vocab, descriptorHash: m.descriptorHash)
        var plan = EncodingPlan.default
        plan.ids = .shuffle
        let encoder = BlockEncoder()
        var positions = 0
        for c in blocks {
            try b.addBlock(c, encoder: encoder, codec: .zstd(level: 3), plan: plan)
            positions += c.positionCount
        }
        b.addSequence(firstPosition: 0, length: positions)
        let (bytes, sum) = try b.finish(codec: .zstd(level: 3), encoder: encoder, plan: plan)
        XCTAssertEqual(rename(tmp, dir + "/c-000000.lgs"), 0)
        var mm = m
        mm.shards = [Manifest.ShardEntry(file: "c-000000.lgs", writerID: "c", sequences: 1, positions: positions,
                                         entries: blocks.reduce(0) { $0 + $1.entryCount }, bytes: bytes, xxh3: Checksum.hex(sum))]
        try mm.save(directory: dir)
    }

    func block(counts: [UInt32]) -> BlockContent {
        var c = BlockContent()
        var id: UInt32 = 0
        for n in counts {
            c.tokens.append(1); c.counts.append(n)
            for k in 0..<Int(n) { c.ids.append(id); id += 1; c.probs.append(Float16(0.5 / Double(k + 1)).bitPattern) }
        }
        return c
    }

    func assertReadFails(_ dir: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try StoreReader(directory: dir)
        XCTAssertThrowsError(try r.sequence(0), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(fragment), "\(e)", file: file, line: line)
        }
        XCTAssertFalse(try r.verify().ok, file: file, line: line)
    }

    func testCraftedStoreReads() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try craftStore(dir, blocks: [block(counts: [1, 2, 3])])
        let r = try StoreReader(directory: dir)
        XCTAssertEqual(try r.sequence(0).ids, [0, 1, 2, 3, 4, 5])
        XCTAssertTrue(try r.verify().ok)
    }

    func testCountZeroRejectedOnRead() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try craftStore(dir, blocks: [block(counts: [2, 0, 1])])
        try assertReadFails(dir, "counts must be in 1...8")
    }

    func testCountAboveTopKRejectedOnRead() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try craftStore(dir, blocks: [block(counts: [2, 5])], topK: 4)
        try assertReadFails(dir, "counts must be in 1...4")
    }

    func testBlockEntryRawSizeMustMatchTheStreams() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try craftStore(dir, blocks: [block(counts: [1, 2])])
        // Add 1 to block 0's raw size (index offset + 64 + 28) and re-seal the index checksum, so only the rule trips.
        let path = dir + "/c-000000.lgs"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u64(_ at: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        let trailer = bytes.count - 32
        let indexOffset = u64(trailer), indexLength = u64(trailer + 8)
        bytes[indexOffset + 64 + 28] &+= 1
        let sum = Checksum.xxh3(Array(bytes[indexOffset..<(indexOffset + indexLength)]))
        for k in 0..<8 { bytes[trailer + 16 + k] = UInt8(truncatingIfNeeded: sum >> (8 * UInt64(k))) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try assertReadFails(dir, "raw sizes sum to")
    }

    /// One position per row of `probs`, ids 0, 1, 2, … within each.
    func block(probs rows: [[Float16]], ids: [[UInt32]]? = nil) -> BlockContent {
        var c = BlockContent()
        for (j, row) in rows.enumerated() {
            c.tokens.append(1); c.counts.append(UInt32(row.count))
            c.ids += ids?[j] ?? (0..<UInt32(row.count)).map { $0 }
            c.probs += row.map(\.bitPattern)
        }
        return c
    }

    func assertVerifyReports(_ dir: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try StoreReader(directory: dir).verify()
        XCTAssertTrue(report.problems.contains { $0.contains(fragment) }, "\(report.problems)", file: file, line: line)
    }

    func testVerifyChecksTopPKPositions() throws {
        let cases: [([[Float16]], [[UInt32]]?, String)] = [
            ([[0.75, 0.75]], nil, "more than 1 +"),
            ([[0.25, 0.5]], nil, "not descending"),
            ([[0.5, Float16(bitPattern: 0x8000)]], nil, "is −0 or NaN"),
            ([[0.5, .nan]], nil, "outside [0, 1]"),
            ([[0.5, 0.25]], [[7, 7]], "appears twice"),
        ]
        for (rows, ids, fragment) in cases {
            let dir = makeTempDir()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try craftStore(dir, blocks: [block(probs: rows, ids: ids)])
            try assertVerifyReports(dir, fragment)
        }
    }

    func testVerifyChecksSampledPositions() throws {
        let counts = TruncationPolicy.sample(samples: 4), importance = TruncationPolicy.sample(samples: 8, sampleTemperature: 2)
        let cases: [(TruncationPolicy, [[Float16]], String?)] = [
            (counts, [[0.75, 0.25], [1]], nil),
            (counts, [[0.7, 0.3]], "float16(c/4)"),
            (counts, [[0.5, 0.25]], "add up to 3/4"),
            (.sample(samples: 3), [[Float16(2.0 / 3), Float16(1.0 / 3)]], nil),  // N not a power of two: float16(c/N)
            (importance, [[0.6, Float16(0.3999)]], nil),
            (importance, [[0.5, 0.25]], "not 1 within"),
        ]
        for (policy, rows, fragment) in cases {
            let dir = makeTempDir()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try craftStore(dir, blocks: [block(probs: rows)], policy: policy)
            if let fragment { try assertVerifyReports(dir, fragment) } else {
                let report = try StoreReader(directory: dir).verify()
                XCTAssertTrue(report.ok, "\(rows): \(report.problems)")
            }
        }
    }
}
