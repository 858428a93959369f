import XCTest
import Foundation
@testable import LogitStore

/// Damaged files: a flipped byte is caught by a checksum and named (shard, block); never wrong data.
final class CorruptionTests: XCTestCase {
    /// A store of 6 sequences in one shard with several blocks; returns (dir, shard path, expected records).
    func makeStore(_ name: String = #function) throws -> (String, String, [SequenceRecord]) {
        let dir = makeTempDir(name)
        let w = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: 500, policy: TruncationPolicy(topP: 0.9, topK: 16),
                                                                       blockTargetBytes: 2048, recordTargetLogprobs: false))
        var expected: [SequenceRecord] = []
        for s in 0..<6 {
            let (t, r) = syntheticRows(positions: 50, vocab: 500, kmax: 16, seed: UInt64(100 + s))
            try w.append(tokens: t, truncated: r)
            expected.append(record(t, r))
        }
        try w.finish()
        let m = try Manifest.load(directory: dir)
        XCTAssertEqual(m.shards.count, 1)
        return (dir, dir + "/" + m.shards[0].file, expected)
    }

    func patch(_ path: String, at offset: Int, _ body: (inout UInt8) -> Void) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        body(&bytes[offset])
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    func testFlippedBlockByteIsCaughtAndNamed() throws {
        let (dir, shard, expected) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clean = try StoreReader(directory: dir)
        let layout = clean.shardLayout(0)
        XCTAssertGreaterThan(layout.blocks.count, 2)
        let target = layout.blocks[1]
        try patch(shard, at: Int(target.offset) + Int(target.storedBytes) - 5) { $0 ^= 0x40 }
        let r = try StoreReader(directory: dir)
        let file = layout.file
        // Every sequence touching block 1 fails with a message naming shard and block; the others still read.
        var failed = 0
        for i in 0..<r.sequenceCount {
            do {
                let got = try r.sequence(i)
                XCTAssertEqual(got, expected[i])
            } catch let e as StoreError {
                failed += 1
                guard case .checksumMismatch(let f, let b, _) = e else { return XCTFail("wrong error \(e)") }
                XCTAssertEqual(f, file); XCTAssertEqual(b, 1)
                XCTAssertTrue(e.description.contains("block 1") && e.description.contains(file), e.description)
            }
        }
        XCTAssertGreaterThan(failed, 0)
        XCTAssertLessThan(failed, r.sequenceCount)
        let report = try r.verify()
        XCTAssertFalse(report.ok)
        XCTAssertTrue(report.problems.contains { $0.contains("whole file") }, "\(report.problems)")
        XCTAssertTrue(report.problems.contains { $0.contains("block 1") }, "\(report.problems)")
    }

    func testEveryFlippedByteIsDetected() throws {
        // Flip each byte of a small shard in turn: opening or reading or verifying must fail every time.
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: 50, policy: TruncationPolicy(topP: 0.9, topK: 4), recordTargetLogprobs: true))
        let (t, r) = syntheticRows(positions: 6, vocab: 50, kmax: 4, seed: 7, targets: true)
        try w.append(tokens: t, truncated: r)
        try w.finish()
        let shard = dir + "/" + (try Manifest.load(directory: dir)).shards[0].file
        let original = try Data(contentsOf: URL(fileURLWithPath: shard))
        for offset in 0..<original.count {
            var bytes = [UInt8](original)
            bytes[offset] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: shard))
            var caught = false
            do {
                let reader = try StoreReader(directory: dir)
                let got = try reader.sequence(0)
                caught = !(try reader.verify().ok)
                if !caught { XCTAssertEqual(got, record(t, r)) }
            } catch { caught = true }
            XCTAssertTrue(caught, "flip at byte \(offset) went unnoticed")
        }
    }

    func testDamagedIndexTruncatedAndMissingFiles() throws {
        let (dir, shard, _) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let size = (try FileManager.default.attributesOfItem(atPath: shard)[.size] as! NSNumber).intValue
        let original = try Data(contentsOf: URL(fileURLWithPath: shard))
        // Index byte.
        try patch(shard, at: size - 40) { $0 ^= 0x10 }
        XCTAssertThrowsError(try StoreReader(directory: dir)) { XCTAssertTrue("\($0)".contains("footer index"), "\($0)") }
        // Truncated file.
        try original.prefix(size - 7).write(to: URL(fileURLWithPath: shard))
        XCTAssertThrowsError(try StoreReader(directory: dir)) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        // Reserved header bits.
        try original.write(to: URL(fileURLWithPath: shard))
        try patch(shard, at: 12) { $0 = 1 }
        XCTAssertThrowsError(try StoreReader(directory: dir)) { XCTAssertTrue("\($0)".contains("reserved"), "\($0)") }
        // Bad magic.
        try original.write(to: URL(fileURLWithPath: shard))
        try patch(shard, at: 1) { $0 = 0x58 }
        XCTAssertThrowsError(try StoreReader(directory: dir)) { XCTAssertTrue("\($0)".contains("magic"), "\($0)") }
        // Missing shard, missing manifest.
        try FileManager.default.removeItem(atPath: shard)
        XCTAssertThrowsError(try StoreReader(directory: dir)) { XCTAssertTrue("\($0)".contains("not found"), "\($0)") }
        XCTAssertThrowsError(try StoreReader(directory: dir + "/nope")) { XCTAssertTrue("\($0)".contains("not found"), "\($0)") }
    }

    func testReservedDescriptorBitsRejectedEvenWithValidChecksums() throws {
        // Set a reserved flag bit in block 0's first stream descriptor and re-seal every checksum, as a buggy or
        // newer writer would: the reader must still reject it.
        let (dir, shard, _) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r0 = try StoreReader(directory: dir)
        let b0 = r0.shardLayout(0).blocks[0]
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: shard)))
        let descriptor = Int(b0.offset) + ShardLayout.blockHeaderSize
        bytes[descriptor + 2] |= 0x80
        let blockSum = bytes[Int(b0.offset)..<(Int(b0.offset) + Int(b0.storedBytes))].withUnsafeBytes { Checksum.xxh3($0) }
        let n = bytes.count
        let indexOffset = Int(bytes[(n - 32)..<(n - 24)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let indexLength = Int(bytes[(n - 24)..<(n - 16)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        withUnsafeBytes(of: blockSum.littleEndian) { for (i, b) in $0.enumerated() { bytes[indexOffset + ShardLayout.indexHeaderSize + 40 + i] = b } }
        let indexSum = bytes[indexOffset..<(indexOffset + indexLength)].withUnsafeBytes { Checksum.xxh3($0) }
        withUnsafeBytes(of: indexSum.littleEndian) { for (i, b) in $0.enumerated() { bytes[n - 16 + i] = b } }
        try Data(bytes).write(to: URL(fileURLWithPath: shard))
        let r = try StoreReader(directory: dir)
        XCTAssertThrowsError(try r.sequence(0)) { e in
            XCTAssertTrue("\(e)".contains("reserved bits"), "\(e)")
            XCTAssertTrue("\(e)".contains("block 0"), "\(e)")
        }
    }
}
