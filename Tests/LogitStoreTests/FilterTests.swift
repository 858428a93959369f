import XCTest
@testable import LogitStore

/// Filter decoders against their encoders, at sizes around the decoders' 4-value steps and 4,096-value tiles.
final class FilterTests: XCTestCase {
    let sizes = [0, 1, 3, 4, 5, 7, 4_095, 4_096, 4_097, 8_195, 10_000]

    func testDeltaShuffleRoundTripsAtWidthTwo() {
        var rng = SplitMix64(seed: 41)
        for n in sizes {
            // Descending float16-like runs with resets, and arbitrary values (wrapping differences).
            let v: [UInt16] = (0..<n).map { i in i % 97 == 0 ? 0x3C00 : UInt16(truncatingIfNeeded: rng.next()) }
            var bytes: [UInt8] = []
            v.withUnsafeBufferPointer { Filters.encode($0.baseAddress!, count: n, width: 2, filter: .deltaShuffle, into: &bytes) }
            XCTAssertEqual(bytes.count, 2 * n)
            var out16 = [UInt16](repeating: 0, count: n), out32 = [UInt32](repeating: 0, count: n)
            bytes.withUnsafeBufferPointer { b in
                out16.withUnsafeMutableBufferPointer { Filters.decode(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, count: n, width: 2, filter: .deltaShuffle, into: $0.baseAddress ?? UnsafeMutablePointer(bitPattern: 2)!) }
                out32.withUnsafeMutableBufferPointer { Filters.decode(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, count: n, width: 2, filter: .deltaShuffle, into: $0.baseAddress ?? UnsafeMutablePointer(bitPattern: 4)!) }
            }
            XCTAssertEqual(out16, v, "n \(n)")
            XCTAssertEqual(out32, v.map(UInt32.init), "n \(n)")
        }
    }

    func testRankDecodingMapsThroughTheTableAndRejectsOutOfRangeRanks() {
        var rng = SplitMix64(seed: 42)
        for w in [1, 2, 4] {
            let size = w == 1 ? 200 : 50_000
            let table: [UInt32] = (0..<size).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
            for n in sizes {
                let ranks: [UInt32] = (0..<n).map { _ in UInt32(rng.next(below: UInt64(size))) }
                var bytes: [UInt8] = []
                ranks.withUnsafeBufferPointer { Filters.encode($0.baseAddress!, count: n, width: w, filter: .rankShuffle, into: &bytes) }
                var out = [UInt32](repeating: 0, count: n)
                let ok = bytes.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { o in
                        Filters.decodeRanks(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, count: n, width: w, table: RankMap(listed: table, vocabSize: size), into: o.baseAddress ?? UnsafeMutablePointer(bitPattern: 4)!)
                    }
                }
                XCTAssertTrue(ok)
                XCTAssertEqual(out, ranks.map { table[Int($0)] }, "w \(w) n \(n)")
                guard n > 0 else { continue }
                // One rank at the table size, in the last tile: rejected.
                var badRanks = ranks
                badRanks[n - 1] = UInt32(size)
                bytes = []
                badRanks.withUnsafeBufferPointer { Filters.encode($0.baseAddress!, count: n, width: w, filter: .rankShuffle, into: &bytes) }
                let rejected = bytes.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { o in
                        !Filters.decodeRanks(b.baseAddress!, count: n, width: w, table: RankMap(listed: table, vocabSize: size), into: o.baseAddress!)
                    }
                }
                XCTAssertTrue(rejected, "w \(w) n \(n)")
            }
        }
    }

    /// The lazy π of readers equals the materialised permutation, including every unlisted id and the rank-V bound.
    func testRankMapEqualsTheMaterialisedPermutation() {
        var rng = SplitMix64(seed: 7)
        for (vocab, n) in [(1, 1), (10, 3), (10, 10), (1000, 1), (1000, 200), (5000, 4999)] {
            var ids = Array(0..<UInt32(vocab))
            for i in stride(from: vocab - 1, to: 0, by: -1) { ids.swapAt(i, Int(rng.next(below: UInt64(i + 1)))) }
            let listed = Array(ids.prefix(n))
            let perm = IdTable(listed: listed, vocabSize: vocab).idOfRank
            let map = RankMap(listed: listed, vocabSize: vocab)
            for r in 0..<vocab { XCTAssertEqual(map.id(ofRank: UInt32(r)), perm[r], "V \(vocab) n \(n) rank \(r)") }
            XCTAssertNil(map.id(ofRank: UInt32(vocab)))
        }
    }
}
