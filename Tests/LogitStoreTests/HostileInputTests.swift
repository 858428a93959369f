import XCTest
import Foundation
@testable import LogitStore

/// Parsers of untrusted bytes never crash: every byte of real shards flipped with checksums turned off (so the
/// damage reaches the table parsers and decoders instead of being stopped by a hash), and random manifests.
final class HostileInputTests: XCTestCase {
    func copyVector(_ name: String) throws -> String {
        let dir = makeTempDir(name)
        try FileManager.default.removeItem(atPath: dir)
        try FileManager.default.copyItem(atPath: SpecVectorTests.vectorsDir + "/" + name, toPath: dir)
        return dir
    }

    /// Flips each byte of the vector's first shard in turn; opening and reading everything without checksums must
    /// either throw or return data, and must never trap.
    func flipEveryByte(of vector: String, stride step: Int = 1) throws {
        let dir = try copyVector(vector)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = try Manifest.load(directory: dir)
        let path = dir + "/" + m.shards[0].file
        let clean = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var refused = 0, read = 0
        for offset in Swift.stride(from: 0, to: clean.count, by: step) {
            var bytes = clean
            bytes[offset] ^= 0xFF
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let r = try StoreReader(directory: dir, verifyChecksums: false)
                for i in 0..<r.sequenceCount { _ = try r.sequence(i) }
                read += 1
            } catch { refused += 1 }
        }
        try Data(clean).write(to: URL(fileURLWithPath: path))
        XCTAssertGreaterThan(refused, 0, vector)
        XCTAssertEqual(refused + read, (clean.count + step - 1) / step)
    }

    func testFlippedBytesNeverCrashTheParsers() throws {
        for v in ["handmade", "handmade-zstd", "none", "zstd", "lz4"] { try flipEveryByte(of: v, stride: v.hasPrefix("handmade") ? 1 : 17) }
    }

    func testRandomAndMutatedManifestsNeverCrash() throws {
        let valid = [UInt8](try Data(contentsOf: URL(fileURLWithPath: SpecVectorTests.vectorsDir + "/zstd/manifest.json")))
        var rng = SplitMix64(seed: 2026)
        let alphabet = Array("{}[]\":,0123456789.eE-+ tfnrua\\/\u{0}\u{7f}".utf8) + [0xC3, 0xFF, 0xE2, 0x80]
        for trial in 0..<3000 {
            var bytes = valid
            switch trial % 3 {
            case 0:  // random bytes from JSON's alphabet
                bytes = (0..<Int(rng.next(below: 200))).map { _ in alphabet[Int(rng.next(below: UInt64(alphabet.count)))] }
            case 1:  // a few substitutions
                for _ in 0...Int(rng.next(below: 4)) { bytes[Int(rng.next(below: UInt64(bytes.count)))] = alphabet[Int(rng.next(below: UInt64(alphabet.count)))] }
            default:  // truncation
                bytes = Array(bytes.prefix(Int(rng.next(below: UInt64(bytes.count)))))
            }
            _ = try? Manifest.parse(Data(bytes), path: "fuzz")
            _ = try? StrictJSON.parse(bytes)
        }
        XCTAssertNoThrow(try Manifest.parse(Data(valid), path: "valid"))
    }

    func testStatisticsNeverSizeFromTopK() throws {
        // A store whose top_k is the largest allowed keeps at most 3 entries: the histogram follows the data.
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: 50, policy: TruncationPolicy(topP: 1, topK: 65_535), recordTargetLogprobs: false))
        try w.append(tokens: [1, 2], truncated: TruncatedRows(counts: [1, 3], ids: [3, 4, 5, 6], probs: [0.5, 0.5, 0.25, 0.125]))
        try w.finish()
        let s = try StoreReader(directory: dir).statistics()
        XCTAssertEqual(s.entryHistogram, [0, 1, 0, 1])
        XCTAssertEqual(s.topK, 65_535)
    }
}
