import XCTest
import Foundation
@testable import LogitStore

/// The reference sampler: the Spec's definition written out in double precision with a full cumulative array,
/// a binary search per draw and libm's exp (x/τ is formed in float32, as the writer forms it for top-p-k too).
func referenceSample(_ row: [Float], vocab: Int, policy: TruncationPolicy, writerID: String, ordinal: Int,
                     position: Int) -> (ids: [UInt32], probs: [Float16]) {
    let invT = Float(1 / policy.temperature)
    let x = row[0..<vocab].map { invT == 1 ? $0 : $0 * invT }
    let m = Double(x.max()!)
    let ts = policy.sampleTemperature!, n = policy.samples!
    let d = x.map { Double($0) - m }
    let r = d.map { Foundation.exp($0 / ts) }
    var cum = [Double](repeating: 0, count: vocab)
    var c = 0.0
    for i in 0..<vocab { c += r[i]; cum[i] = c }
    var draws = SampleDraws(seed: policy.seed!, writerID: writerID, sequenceOrdinal: UInt64(ordinal), position: UInt64(position))
    var counts: [Int: Int] = [:]
    for _ in 0..<n {
        let t = draws.nextUniform() * c
        var lo = 0, hi = vocab - 1  // smallest i with cum[i] > t
        while lo < hi { let mid = (lo + hi) / 2; if cum[mid] > t { hi = mid } else { lo = mid + 1 } }
        counts[lo, default: 0] += 1
    }
    let pz = d.reduce(0.0) { $0 + Foundation.exp($1) }
    var w: [(Int, Double)] = []
    for (id, k) in counts {
        let weight: Double = ts == 1 ? Double(k) : Double(k) * (Foundation.exp(d[id]) / pz) / (r[id] / c)
        w.append((id, weight))
    }
    let total = w.reduce(0.0) { $0 + $1.1 }
    w = w.map { ($0.0, $0.1 / total) }
    var entries: [(id: UInt32, p: Float16)] = w.map { (UInt32($0.0), Float16($0.1)) }
    entries.sort { (a: (id: UInt32, p: Float16), b: (id: UInt32, p: Float16)) -> Bool in
        a.p != b.p ? a.p > b.p : a.id < b.id
    }
    return (entries.map { $0.id }, entries.map { $0.p })
}

/// Logits rows shaped like a teacher's: a few large values over a Gaussian body.
func teacherLikeRows(rows: Int, vocab: Int, width: Int? = nil, spread: Float = 3, seed: UInt64) -> [Float] {
    var rng = SplitMix64(seed: seed)
    let w = width ?? vocab
    var out = [Float](repeating: 1e4, count: rows * w)  // padded columns, if any, would dominate if used
    for r in 0..<rows {
        for i in 0..<vocab {
            let u1 = Double(rng.next(below: 1 << 30) + 1) / Double(1 << 30), u2 = Double(rng.next(below: 1 << 30)) / Double(1 << 30)
            let g = sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
            out[r * w + i] = Float(g) * spread + (rng.next(below: 50) == 0 ? 8 : 0)
        }
    }
    return out
}

/// Entries of position j of `rows`.
func entries(_ rows: TruncatedRows, _ j: Int) -> (ids: [UInt32], probs: [Float16]) {
    let start = rows.counts[0..<j].reduce(0) { $0 + Int($1) }
    let c = Int(rows.counts[j])
    return (Array(rows.ids[start..<(start + c)]), Array(rows.probs[start..<(start + c)]))
}

final class SamplerTests: XCTestCase {
    func sample(_ data: [Float], vocab: Int, width: Int? = nil, policy: TruncationPolicy, writer: String = "w0",
                ordinal: Int = 0, first: Int = 0, next: [UInt32?]? = nil) throws -> TruncatedRows {
        let s = try Sampler(vocabSize: vocab, rowWidth: width, policy: policy, writerID: writer)
        var out = TruncatedRows()
        try data.withUnsafeBufferPointer { try s.sample(rows: $0, sequenceOrdinal: ordinal, firstPosition: first, nextTokens: next, into: &out) }
        return out
    }

    // MARK: the draws follow the distribution

    /// Pearson's χ² of observed counts against expected ones, cells with expectation < 5 pooled; returns (X², df).
    func chiSquare(observed: [Int], expected: [Double]) -> (Double, Int) {
        var x2 = 0.0, cells = 0, po = 0.0, pe = 0.0
        for (o, e) in zip(observed, expected) {
            if e < 5 { po += Double(o); pe += e; continue }
            x2 += (Double(o) - e) * (Double(o) - e) / e; cells += 1
        }
        if pe > 0 { x2 += (po - pe) * (po - pe) / max(pe, 1e-12); cells += 1 }
        return (x2, cells - 1)
    }

    /// Counts over many positions of one row (counts weights: stored prob · N is the count).
    func drawCounts(row: [Float], vocab: Int, policy: TruncationPolicy, positions: Int) throws -> [Int] {
        let rows = Array((0..<positions).map { _ in row }.joined())
        let out = try sample(rows, vocab: vocab, policy: policy)
        var counts = [Int](repeating: 0, count: vocab)
        var e = 0
        for c in out.counts {
            for i in e..<(e + Int(c)) { counts[Int(out.ids[i])] += Int((Double(out.probs[i]) * Double(policy.samples!)).rounded()) }
            e += Int(c)
        }
        return counts
    }

    func softmax(_ row: [Float], vocab: Int, over tau: Double = 1) -> [Double] {
        let x = row[0..<vocab].map { Double($0) / tau }
        let m = x.max()!
        let e = x.map { Foundation.exp($0 - m) }
        let z = e.reduce(0, +)
        return e.map { $0 / z }
    }

    func testDrawFrequenciesConvergeOnTheSoftmax() throws {
        // 48 positions × 4,096 draws = 196,608 draws of a 300-id distribution, fixed seed. Under the right sampler
        // X² ~ χ²(df): the bound df + 6·√(2df) is about six standard deviations out.
        for (vocab, tau) in [(300, 1.0), (300, 2.0), (37, 0.5)] {
            let row = teacherLikeRows(rows: 1, vocab: vocab, spread: 1.5, seed: 11)
            let policy = TruncationPolicy.sample(samples: 4096, seed: 9, temperature: tau)
            let counts = try drawCounts(row: row, vocab: vocab, policy: policy, positions: 48)
            let total = counts.reduce(0, +)
            XCTAssertEqual(total, 48 * 4096)
            let p = softmax(row, vocab: vocab, over: tau)
            let (x2, df) = chiSquare(observed: counts, expected: p.map { $0 * Double(total) })
            XCTAssertLessThan(x2, Double(df) + 6 * (2 * Double(df)).squareRoot(), "vocab \(vocab) τ \(tau): X² \(x2) on \(df) df")
            XCTAssertGreaterThan(df, 10)
            // A sampler that ignored τ would be far off: the same test against softmax(x) fails.
            if tau != 1 {
                let q = softmax(row, vocab: vocab)
                let (y2, dq) = chiSquare(observed: counts, expected: q.map { $0 * Double(total) })
                XCTAssertGreaterThan(y2, Double(dq) + 6 * (2 * Double(dq)).squareRoot())
            }
        }
    }

    func testImportanceWeightsAverageToTheTeacherDistribution() throws {
        // Draws from r ∝ p^(1/τs) with τs = 2 and weights c·p/r: the stored probabilities, averaged over positions,
        // approach p (not r). Total variation against p is small; against r it is not.
        let vocab = 60
        let row = teacherLikeRows(rows: 1, vocab: vocab, spread: 2, seed: 4)
        let policy = TruncationPolicy.sample(samples: 1024, sampleTemperature: 2, seed: 1)
        XCTAssertEqual(policy.weights, .importance)
        let positions = 200
        let out = try sample(Array((0..<positions).map { _ in row }.joined()), vocab: vocab, policy: policy)
        var mean = [Double](repeating: 0, count: vocab)
        var e = 0
        for c in out.counts {
            for i in e..<(e + Int(c)) { mean[Int(out.ids[i])] += Double(out.probs[i]) / Double(positions) }
            e += Int(c)
        }
        let p = softmax(row, vocab: vocab), r = softmax(row, vocab: vocab, over: 2)
        let tvP = zip(mean, p).reduce(0.0) { $0 + abs($1.0 - $1.1) } / 2
        let tvR = zip(mean, r).reduce(0.0) { $0 + abs($1.0 - $1.1) } / 2
        let tvPR = zip(p, r).reduce(0.0) { $0 + abs($1.0 - $1.1) } / 2
        XCTAssertLessThan(tvP, 0.01, "TV(mean weights, p)")
        XCTAssertGreaterThan(tvPR, 0.1, "the test distribution must tell p from r")
        XCTAssertGreaterThan(tvR, tvPR / 2)
    }

    // MARK: exact agreement with the reference

    func testDrawsAndWeightsEqualTheDoublePrecisionReference() throws {
        let vocab = 1_000
        for policy in [TruncationPolicy.sample(samples: 64, seed: 3),
                       .sample(samples: 64, sampleTemperature: 0.5, seed: 3),
                       .sample(samples: 100, sampleTemperature: 2, seed: 8, temperature: 1.7),
                       .sample(samples: 1, seed: 0), .sample(samples: 65_535, seed: 2)] {
            let rows = policy.samples! > 1000 ? 2 : 12
            let data = teacherLikeRows(rows: rows, vocab: vocab, seed: 21)
            let out = try sample(data, vocab: vocab, policy: policy, writer: "ref", ordinal: 5, first: 40)
            XCTAssertEqual(out.counts.count, rows)
            for j in 0..<rows {
                let ref = referenceSample(Array(data[(j * vocab)..<((j + 1) * vocab)]), vocab: vocab, policy: policy,
                                          writerID: "ref", ordinal: 5, position: 40 + j)
                let got = entries(out, j)
                XCTAssertEqual(got.ids, ref.ids, "\(policy.label) row \(j)")
                XCTAssertEqual(got.probs.map(\.bitPattern), ref.probs.map(\.bitPattern), "\(policy.label) row \(j)")
            }
        }
    }

    func testCountsWeightsAreExactMultiplesOfOneOverNSummingToOne() throws {
        let vocab = 500
        for n in [64, 256, 7] {
            let out = try sample(teacherLikeRows(rows: 30, vocab: vocab, spread: 1, seed: 5), vocab: vocab,
                                 policy: .sample(samples: n, seed: 1))
            var e = 0
            var distinct = 0
            for c in out.counts {
                var drawn = 0.0, sum = 0.0
                for p in out.probs[e..<(e + Int(c))] {
                    let k = Double(p) * Double(n)
                    XCTAssertEqual(Float16(k.rounded() / Double(n)), p)
                    if n & (n - 1) == 0 { XCTAssertEqual(k, k.rounded(), "exact in float16 for a power of two") }
                    drawn += k.rounded(); sum += Double(p)
                }
                XCTAssertEqual(drawn, Double(n))
                if n & (n - 1) == 0 { XCTAssertEqual(sum, 1, "Σ is exactly 1") }
                distinct += Int(c); e += Int(c)
            }
            XCTAssertGreaterThan(distinct, out.counts.count, "more than one distinct id per position on average")
            XCTAssertNoThrow(try SampledRowsCheck(policy: .sample(samples: n, seed: 1)).check(out))
        }
    }

    func testEntriesAreOrderedByProbabilityThenLowerID() throws {
        let vocab = 400
        var ties = 0
        for policy in [TruncationPolicy.sample(samples: 64, seed: 1), .sample(samples: 32, sampleTemperature: 3, seed: 1)] {
            let out = try sample(teacherLikeRows(rows: 40, vocab: vocab, spread: 0.7, seed: 6), vocab: vocab, policy: policy)
            var e = 0
            for c in out.counts {
                var seen = Set<UInt32>()
                for i in e..<(e + Int(c)) {
                    XCTAssert(seen.insert(out.ids[i]).inserted, "distinct ids")
                    if i > e {
                        XCTAssert(out.probs[i] < out.probs[i - 1] || (out.probs[i] == out.probs[i - 1] && out.ids[i] > out.ids[i - 1]))
                        if out.probs[i] == out.probs[i - 1] { ties += 1 }
                    }
                }
                e += Int(c)
            }
        }
        XCTAssertGreaterThan(ties, 50, "the rows must exercise ties")
    }

    // MARK: determinism and keys

    func testFixedSeedsGiveFixedBitsAndTheKeyChangesTheDraws() throws {
        let vocab = 700
        let data = teacherLikeRows(rows: 6, vocab: vocab, spread: 1, seed: 8)
        let policy = TruncationPolicy.sample(samples: 64, seed: 42)
        let a = try sample(data, vocab: vocab, policy: policy, ordinal: 3)
        let b = try sample(data, vocab: vocab, policy: policy, ordinal: 3)
        XCTAssertEqual(a.ids, b.ids); XCTAssertEqual(a.probs.map(\.bitPattern), b.probs.map(\.bitPattern))
        // Rows sampled in two calls (positions 0-1, then 2-5) are the same bits as in one call.
        let s = try Sampler(vocabSize: vocab, policy: policy, writerID: "w0")
        var split = TruncatedRows()
        try data.withUnsafeBufferPointer {
            try s.sample(rows: UnsafeBufferPointer(rebasing: $0[0..<(2 * vocab)]), sequenceOrdinal: 3, firstPosition: 0, into: &split)
            try s.sample(rows: UnsafeBufferPointer(rebasing: $0[(2 * vocab)...]), sequenceOrdinal: 3, firstPosition: 2, into: &split)
        }
        XCTAssertEqual(split.ids, a.ids); XCTAssertEqual(split.probs, a.probs)
        for other in [try sample(data, vocab: vocab, policy: .sample(samples: 64, seed: 43), ordinal: 3),
                      try sample(data, vocab: vocab, policy: policy, ordinal: 4),
                      try sample(data, vocab: vocab, policy: policy, writer: "w1", ordinal: 3),
                      try sample(data, vocab: vocab, policy: policy, ordinal: 3, first: 1)] {
            XCTAssertNotEqual(other.ids, a.ids)
        }
    }

    // MARK: inputs

    func testTargetLogprobsAreTheTopPKStoresBits() throws {
        let vocab = 900
        let data = teacherLikeRows(rows: 5, vocab: vocab, seed: 2)
        let next: [UInt32?] = [3, 800, 17, 0, nil]
        for tau in [1.0, 1.5] {
            let sampled = try sample(data, vocab: vocab, policy: .sample(samples: 64, seed: 1, temperature: tau), next: next)
            let t = try Truncator(vocabSize: vocab, policy: TruncationPolicy(topP: 0.95, topK: 100, temperature: tau))
            var truncated = TruncatedRows()
            try data.withUnsafeBufferPointer { try t.truncate(rows: $0, nextTokens: next, into: &truncated) }
            XCTAssertEqual(sampled.targetLogprobs!.map(\.bitPattern), truncated.targetLogprobs!.map(\.bitPattern))
            XCTAssert(sampled.targetLogprobs!.last!.isNaN)
        }
    }

    func testHalfPrecisionRowsWidenAsTheTruncatorDoesAndPaddingIsIgnored() throws {
        let vocab = 300, width = 320
        let padded = teacherLikeRows(rows: 4, vocab: vocab, width: width, seed: 12)
        let policy = TruncationPolicy.sample(samples: 64, seed: 5)
        let fromPadded = try sample(padded, vocab: vocab, width: width, policy: policy)
        XCTAssert(fromPadded.ids.allSatisfy { $0 < vocab })
        let dense = (0..<4).flatMap { r in padded[(r * width)..<(r * width + vocab)] }
        XCTAssertEqual(try sample(dense, vocab: vocab, policy: policy).ids, fromPadded.ids)

        let halves = dense.map { Float16($0) }
        let s = try Sampler(vocabSize: vocab, policy: policy, writerID: "w0")
        var fromHalf = TruncatedRows(), fromBF = TruncatedRows()
        try halves.withUnsafeBufferPointer { try s.sample(rows: $0, sequenceOrdinal: 0, into: &fromHalf) }
        let widened = try sample(halves.map { Float($0) }, vocab: vocab, policy: policy)
        XCTAssertEqual(fromHalf.ids, widened.ids); XCTAssertEqual(fromHalf.probs, widened.probs)
        let bf = dense.map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }
        try bf.withUnsafeBufferPointer { try s.sample(bfloat16Rows: $0, sequenceOrdinal: 0, into: &fromBF) }
        let bfWidened = try sample(bf.map { Float(bitPattern: UInt32($0) << 16) }, vocab: vocab, policy: policy)
        XCTAssertEqual(fromBF.ids, bfWidened.ids); XCTAssertEqual(fromBF.probs, bfWidened.probs)
    }

    func testBadRowsAreRefusedAndLeaveTheOutputUnchanged() throws {
        let vocab = 100
        var data = teacherLikeRows(rows: 3, vocab: vocab, seed: 1)
        data[150] = .nan
        let s = try Sampler(vocabSize: vocab, policy: .sample(samples: 8, seed: 0), writerID: "w0")
        var out = TruncatedRows()
        XCTAssertThrowsError(try data.withUnsafeBufferPointer { try s.sample(rows: $0, sequenceOrdinal: 0, into: &out) }) {
            XCTAssert("\($0)".contains("row 1"), "\($0)")
        }
        XCTAssertEqual(out.counts.count, 0); XCTAssertEqual(out.ids.count, 0)
        XCTAssertThrowsError(try Sampler(vocabSize: vocab, policy: TruncationPolicy(), writerID: "w0"))
    }

    func testExtremeRowsDrawOnlyPossibleIDs() throws {
        // One id holds all the mass (the others are 1000 logits below: exp underflows to 0 in double precision).
        let vocab = 130
        var row = [Float](repeating: -1000, count: vocab)
        row[129] = 0
        let out = try sample(row, vocab: vocab, policy: .sample(samples: 64, seed: 1))
        XCTAssertEqual(out.ids, [129]); XCTAssertEqual(out.probs, [1])
        // A flat row: every id is possible, the draws spread.
        let flat = try sample([Float](repeating: 0.25, count: vocab), vocab: vocab, policy: .sample(samples: 64, seed: 1))
        XCTAssertGreaterThan(flat.counts[0], 30)
    }
}
