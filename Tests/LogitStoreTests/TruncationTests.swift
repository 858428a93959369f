import XCTest
import Foundation
@testable import LogitStore

/// The reference: Double softmax over the whole row, full sort by (probability desc, id asc), prefix to p, cap k.
func bruteForce(_ row: [Float], vocab: Int, p: Double, k: Int, temperature: Double = 1) -> (ids: [UInt32], probs: [Double], cum: [Double]) {
    let x = row[0..<vocab].map { Double($0) / temperature }
    let m = x.max()!
    let e = x.map { Foundation.exp($0 - m) }
    let z = e.reduce(0, +)
    let order = (0..<vocab).sorted { (x[$0], -$0) > (x[$1], -$1) }
    var ids: [UInt32] = [], probs: [Double] = [], cum: [Double] = []
    var c = 0.0
    for i in order {
        ids.append(UInt32(i)); probs.append(e[i] / z); c += e[i] / z; cum.append(c)
        if c >= p || ids.count >= k { break }
    }
    return (ids, probs, cum)
}

final class TruncationTests: XCTestCase {
    func checkAgainstReference(vocab: Int, rows: Int, p: Double, k: Int, temperature: Double = 1, seed: UInt64,
                               make: (inout SplitMix64, Int) -> Float) throws {
        var rng = SplitMix64(seed: seed)
        var data: [Float] = []
        for e in 0..<(rows * vocab) { data.append(make(&rng, e % vocab)) }  // make(rng, column)
        let t = try Truncator(vocabSize: vocab, policy: TruncationPolicy(topP: p, topK: k, temperature: temperature))
        var out = TruncatedRows()
        try data.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &out) }
        XCTAssertEqual(out.counts.count, rows)
        var e = 0
        for r in 0..<rows {
            let ref = bruteForce(Array(data[(r * vocab)..<((r + 1) * vocab)]), vocab: vocab, p: p, k: k, temperature: temperature)
            let n = Int(out.counts[r])
            let got = Array(out.ids[e..<(e + n)])
            if n != ref.ids.count {
                // Only acceptable where the cumulative mass sits within float rounding of p.
                let boundary = ref.cum[min(n, ref.cum.count) - 1]
                XCTAssertEqual(boundary, p, accuracy: 1e-5, "row \(r): kept \(n), reference \(ref.ids.count) (p \(p), k \(k))")
            }
            let common = min(n, ref.ids.count)
            XCTAssertEqual(Array(got.prefix(common)), Array(ref.ids.prefix(common)), "row \(r) ids differ")
            for i in 0..<common {
                let want = Float16(Float(ref.probs[i]))
                let have = out.probs[e + i]
                XCTAssertLessThanOrEqual(abs(Int(want.bitPattern) - Int(have.bitPattern)), 1, "row \(r) entry \(i): \(have) vs \(want)")
            }
            e += n
        }
        XCTAssertEqual(e, out.ids.count)
    }

    func testGaussianRows() throws {
        for (p, k) in [(0.95, 100), (0.5, 10), (1.0, 30), (0.9999, 1000), (0.01, 5), (0.95, 1)] {
            try checkAgainstReference(vocab: 3000, rows: 20, p: p, k: k, seed: 1) { rng, _ in
                Float(Double(rng.next(below: 1 << 20)) / Double(1 << 20) * 8 - 4)
            }
        }
    }

    func testPeakedLongTailRows() throws {
        // Teacher-like: a few large logits over a long low tail; exercises the threshold fast path.
        try checkAgainstReference(vocab: 49_152, rows: 8, p: 0.95, k: 100, seed: 2) { rng, _ in
            let u = Double(rng.next(below: 1 << 20)) / Double(1 << 20)
            return Float(u < 0.002 ? 10 + u * 3000 : -4 + 6 * u)
        }
    }

    func testTiesBrokenByLowerId() throws {
        // Only 4 distinct values: many exact ties.
        try checkAgainstReference(vocab: 500, rows: 10, p: 0.7, k: 50, seed: 3) { rng, _ in Float(rng.next(below: 4)) }
        let row: [Float] = [1, 3, 3, 2, 3]
        let t = try Truncator(vocabSize: 5, policy: TruncationPolicy(topP: 1, topK: 4))
        var out = TruncatedRows()
        try row.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &out) }
        XCTAssertEqual(out.ids, [1, 2, 4, 3])
    }

    /// The candidate bound works on the maxima of 64-wide blocks (SIMD-compared 16 at a time): cover k = 1, k just
    /// below, at and above the block count (above: no bound, whole-row scan), and a vocabulary that is a multiple
    /// of neither 64 nor 16 (a partial last block with a scalar tail, and padding in the last group of 16 blocks).
    func testBlockBoundAroundTheBlockCount() throws {
        // vocab 10_007: 157 blocks (the last holds 23 entries), padded to 160.
        for (p, k) in [(1.0, 1), (1.0, 20), (1.0, 100), (1.0, 156), (1.0, 157), (1.0, 158), (1.0, 161), (1.0, 700), (0.95, 100), (0.5, 150)] {
            try checkAgainstReference(vocab: 10_007, rows: 4, p: p, k: k, seed: 21) { rng, _ in
                Float(Double(rng.next(below: 1 << 20)) / Double(1 << 20) * 10 - 5)
            }
        }
        // The largest entries in the partial last block (ids 9_984..<10_007; ids from 10_000 on are past the last
        // full 16-wide vector).
        try checkAgainstReference(vocab: 10_007, rows: 3, p: 1, k: 30, seed: 22) { rng, i in
            Float(i >= 9_990 ? 20 + Double(rng.next(below: 100)) / 10 : Double(rng.next(below: 1000)) / 100)
        }
        // Tiny vocabularies: fewer entries than one SIMD vector or one block; k at and around the block count.
        for vocab in [1, 7, 17, 255, 257, 320] {
            try checkAgainstReference(vocab: vocab, rows: 3, p: 1, k: 5, seed: 23) { rng, _ in Float(rng.next(below: 50)) / 7 }
        }
    }

    func testTiesAcrossBlockBoundaries() throws {
        // Few distinct values over many blocks: the k-th value is tied across blocks; ties go to the lower id
        // whichever block holds it. p = 1 keeps exactly k, so the cut falls inside a tie.
        for k in [1, 50, 64, 100, 257, 1000] {
            try checkAgainstReference(vocab: 5_000, rows: 3, p: 1, k: k, seed: 24) { rng, _ in Float(rng.next(below: 4)) }
        }
        // A flat row: every entry ties; the first k ids are kept.
        let vocab = 4_096
        let flat = [Float](repeating: -1.5, count: vocab)
        let t = try Truncator(vocabSize: vocab, policy: TruncationPolicy(topP: 0.5, topK: 100))
        var out = TruncatedRows()
        try flat.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &out) }
        XCTAssertEqual(out.counts, [100]); XCTAssertEqual(out.ids, (0..<100).map(UInt32.init))
        // One value repeated at block edges (ids 63/64, 127/128, ...) above a lower background.
        for k in [12, 64, 65, 128] {
            try checkAgainstReference(vocab: 4_096, rows: 2, p: 1, k: k, seed: 25) { _, i in
                i % 64 == 0 || i % 64 == 63 ? 3 : Float(i % 7) / 10
            }
        }
    }

    func testWideSpreadsUseTheExactFallbacks() throws {
        // The k-th largest block maximum lies more than 32 logits below the maximum (outside the bisection): quickselect.
        try checkAgainstReference(vocab: 20_000, rows: 4, p: 1, k: 100, seed: 26) { rng, _ in
            Float(Double(rng.next(below: 1 << 20)) / Double(1 << 20) * -400)
        }
        try checkAgainstReference(vocab: 20_000, rows: 4, p: 0.999_999, k: 60, seed: 27) { rng, i in
            i == 777 ? 100 : Float(Double(rng.next(below: 1 << 20)) / Double(1 << 20))
        }
        // m − x overflows to infinity (finite logits near ±Float.greatestFiniteMagnitude): one ordering bucket.
        try checkAgainstReference(vocab: 3_000, rows: 3, p: 1, k: 40, seed: 28) { rng, i in
            switch rng.next(below: 3) {
            case 0: return 3e38
            case 1: return -3e38
            default: return Float(rng.next(below: 100))
            }
        }
    }

    func testTemperature() throws {
        try checkAgainstReference(vocab: 800, rows: 10, p: 0.9, k: 60, temperature: 2, seed: 4) { rng, _ in
            Float(Double(rng.next(below: 1 << 20)) / Double(1 << 20) * 12 - 6)
        }
        try checkAgainstReference(vocab: 800, rows: 10, p: 0.9, k: 60, temperature: 0.5, seed: 5) { rng, _ in
            Float(Double(rng.next(below: 1 << 20)) / Double(1 << 20) * 12 - 6)
        }
    }

    func testKeepsAtLeastOneAndSmallestSetReachingP() throws {
        // One token holds 99.9%: p = 0.5 keeps exactly it.
        var row = [Float](repeating: 0, count: 100)
        row[42] = 20
        let t = try Truncator(vocabSize: 100, policy: TruncationPolicy(topP: 0.5, topK: 10))
        var out = TruncatedRows()
        try row.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &out) }
        XCTAssertEqual(out.counts, [1]); XCTAssertEqual(out.ids, [42])
        // Uniform row: p = 0.5 keeps exactly half (the smallest set reaching p), k caps it.
        let flat = [Float](repeating: 1, count: 64)
        out = TruncatedRows()
        let t2 = try Truncator(vocabSize: 64, policy: TruncationPolicy(topP: 0.5, topK: 100))
        try flat.withUnsafeBufferPointer { try t2.truncate(rows: $0, into: &out) }
        XCTAssertEqual(out.counts, [32]); XCTAssertEqual(out.ids, (0..<32).map(UInt32.init))
    }

    func testFloat16AndBFloat16RowsMatchFloat32() throws {
        var rng = SplitMix64(seed: 9)
        let vocab = 1000
        let f32: [Float] = (0..<(3 * vocab)).map { _ in Float(Float16(Float(rng.next(below: 1000)) / 100 - 5)) }
        let f16 = f32.map { Float16($0) }
        let bf16 = f32.map { UInt16($0.bitPattern >> 16) }
        let bfAsF32 = bf16.map { Float(bitPattern: UInt32($0) << 16) }
        let t = try Truncator(vocabSize: vocab, policy: TruncationPolicy(topP: 0.9, topK: 50))
        var a = TruncatedRows(), b = TruncatedRows(), c = TruncatedRows(), d = TruncatedRows()
        try f32.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &a) }
        try f16.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &b) }
        try bf16.withUnsafeBufferPointer { try t.truncate(bfloat16Rows: $0, into: &c) }
        try bfAsF32.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &d) }
        XCTAssertEqual(a.ids, b.ids); XCTAssertEqual(a.probs.map(\.bitPattern), b.probs.map(\.bitPattern))
        XCTAssertEqual(c.ids, d.ids); XCTAssertEqual(c.probs.map(\.bitPattern), d.probs.map(\.bitPattern))
    }

    func testPaddedColumnsAreIgnored() throws {
        // Width 12, vocabulary 10: the huge padded columns must neither be kept nor change the softmax.
        var row: [Float] = (0..<10).map { Float($0) }
        row += [100, 100]
        let padded = try Truncator(vocabSize: 10, rowWidth: 12, policy: TruncationPolicy(topP: 1, topK: 20))
        let plain = try Truncator(vocabSize: 10, policy: TruncationPolicy(topP: 1, topK: 20))
        var a = TruncatedRows(), b = TruncatedRows()
        try row.withUnsafeBufferPointer { try padded.truncate(rows: $0, into: &a) }
        try Array(row[0..<10]).withUnsafeBufferPointer { try plain.truncate(rows: $0, into: &b) }
        XCTAssertEqual(a.ids, b.ids); XCTAssertEqual(a.probs.map(\.bitPattern), b.probs.map(\.bitPattern))
        XCTAssertTrue(a.ids.allSatisfy { $0 < 10 })
    }

    func testTargetLogprobs() throws {
        var rng = SplitMix64(seed: 11)
        let vocab = 700
        let rows: [Float] = (0..<(4 * vocab)).map { _ in Float(rng.next(below: 1000)) / 100 }
        let tokens: [UInt32] = [5, 17, 300, 699]
        let out = try rows.withUnsafeBufferPointer {
            try Truncation.topPTopK(logits: $0, vocabSize: vocab, policy: TruncationPolicy(topP: 0.9, topK: 5), tokens: tokens)
        }
        let tl = out.targetLogprobs!
        XCTAssertEqual(tl.count, 4)
        XCTAssertTrue(tl[3].isNaN, "the last position's next token is unknown")
        for j in 0..<3 {
            let x = rows[(j * vocab)..<((j + 1) * vocab)].map(Double.init)
            let m = x.max()!
            let lse = m + Foundation.log(x.map { Foundation.exp($0 - m) }.reduce(0, +))
            XCTAssertEqual(Double(tl[j]), x[Int(tokens[j + 1])] - lse, accuracy: 1e-4)
        }
    }

    func testNonFiniteLogitsRejectedAndNothingAppended() throws {
        let t = try Truncator(vocabSize: 20, policy: TruncationPolicy(topP: 0.9, topK: 5))
        var out = TruncatedRows()
        let good = [Float](repeating: 0, count: 20)
        try good.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &out) }
        for bad in [Float.nan, .infinity, -.infinity] {
            var rows = good + good
            rows[27] = bad
            let before = (out.counts, out.ids)
            XCTAssertThrowsError(try rows.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &out) }) { e in
                XCTAssertTrue("\(e)".contains("row 1"), "\(e)")
                XCTAssertTrue("\(e)".contains("column 7"), "\(e)")
            }
            XCTAssertEqual(out.counts, before.0); XCTAssertEqual(out.ids, before.1)
        }
        XCTAssertThrowsError(try [Float](repeating: 0, count: 21).withUnsafeBufferPointer { try t.truncate(rows: $0, into: &out) })
    }

    func testNonFiniteLogitsFoundAnywhereInALongRow() throws {
        // vocab 10_007: SIMD body, the 64-wide block tails, the scalar tail past the last 16-wide vector (10_000 on),
        // the first span and later spans (whose running maximum is already finite).
        let vocab = 10_007
        var rng = SplitMix64(seed: 31)
        let good: [Float] = (0..<vocab).map { _ in Float(rng.next(below: 1000)) / 100 - 5 }
        let t = try Truncator(vocabSize: vocab, policy: TruncationPolicy(topP: 0.9, topK: 50))
        for bad in [Float.nan, .infinity, -.infinity] {
            for column in [0, 63, 4_095, 4_096, 9_999, 10_000, 10_006] {
                var rows = good + good
                rows[vocab + column] = bad
                var out = TruncatedRows()
                XCTAssertThrowsError(try rows.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &out) }, "\(bad) at \(column)") { e in
                    XCTAssertTrue("\(e)".contains("row 1") && "\(e)".contains("column \(column)"), "\(e)")
                }
                XCTAssertTrue(out.counts.isEmpty && out.ids.isEmpty)
            }
        }
    }
}

final class OrderKeyTests: XCTestCase {
    func testOrderKeySortsByValueThenId() {
        let vals: [(Float, UInt32)] = [(-1, 3), (2, 9), (2, 1), (-0.5, 0), (0, 5), (-3e38, 2), (3e38, 7)]
        let sorted = vals.sorted { Truncator.key($0.0, $0.1) > Truncator.key($1.0, $1.1) }.map(\.1)
        XCTAssertEqual(sorted, [7, 1, 9, 5, 0, 3, 2])
    }
}

final class SelectionTests: XCTestCase {
    func testPartitionAndSortMatchFullSort() {
        var rng = SplitMix64(seed: 99)
        for trial in 0..<200 {
            let n = 1 + Int(rng.next(below: 700))
            let k = 1 + Int(rng.next(below: UInt64(n)))
            // Few distinct values on odd trials: many duplicates.
            let a: [UInt64] = (0..<n).map { _ in trial % 2 == 0 ? rng.next() : rng.next(below: 5) }
            let want = a.sorted(by: >)
            var b = a
            b.withUnsafeMutableBufferPointer { p in
                Selection.partitionLargest(p.baseAddress!, count: n, k: k)
                Selection.sortDescending(p.baseAddress!, count: k)
            }
            XCTAssertEqual(Array(b.prefix(k)), Array(want.prefix(k)), "trial \(trial) n \(n) k \(k)")
        }
        var rng3 = SplitMix64(seed: 6)
        for trial in 0..<300 {
            // Lane masks → bits, including all-clear and all-set.
            let v = SIMD16<Float>((0..<16).map { _ in Float(rng3.next(below: 4)) })
            let t: Float = trial == 0 ? 9 : trial == 1 ? -1 : Float(rng3.next(below: 4))
            let want = (0..<16).reduce(UInt64(0)) { $0 | (v[$1] >= t ? 1 << UInt64($1) : 0) }
            XCTAssertEqual(Truncator.laneMask(v .>= SIMD16<Float>(repeating: t)), want, "trial \(trial)")
        }
    }
}
