import XCTest
import Foundation
@testable import Trainer

/// Every KD loss and temperature path against an independent Double-precision reference,
/// differentiated by central finite differences.
final class LossGradientTests: XCTestCase {
    struct Case { var ids: [UInt32]; var probs: [Float]; var dropped: Float? }

    /// A deterministic generator so the tests are reproducible.
    struct LCG { var s: UInt64
        mutating func next() -> Double { s = s &* 6364136223846793005 &+ 1442695040888963407; return Double(s >> 11) / Double(1 << 53) }
    }

    func makeTarget(vocab: Int, kept: Int, bucket: Bool, rng: inout LCG) -> Case {
        var ids: [UInt32] = []
        while ids.count < kept { let i = UInt32(rng.next() * Double(vocab)); if !ids.contains(i) { ids.append(i) } }
        var raw = (0..<kept).map { _ in Float(exp(3 * rng.next())) }
        raw.sort(by: >)
        let total = raw.reduce(0, +)
        let keptMass: Float = bucket ? 0.8 : 1
        return Case(ids: ids, probs: raw.map { $0 / total * keptMass }, dropped: bucket ? 0.2 : nil)
    }

    /// Independent reference: total = lmW·CE + kdW·w·L_kd, everything in Double.
    func reference(z: [Double], next: Int?, t: Case, kind: KDLossKind, mode: TemperatureMode,
                   convention: TemperatureConvention = .teacherOnly, tauSquared: Bool = false, lmW: Double, kdW: Double) -> Double {
        let v = z.count
        func softmax(_ x: [Double]) -> [Double] { let m = x.max()!; let e = x.map { exp($0 - m) }; let s = e.reduce(0, +); return e.map { $0 / s } }
        var ce = 0.0
        if let y = next { ce = -log(softmax(z)[y]) }
        var p = t.probs.map(Double.init)
        if let d = t.dropped { p.append(Double(d)) }
        let keptLogs = t.probs.map { log(Double($0)) }
        func std(_ a: [Double]) -> Double { let m = a.reduce(0, +) / Double(a.count); return (a.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(a.count)).squareRoot() }
        var tauT = 1.0, tauS = 1.0, w = 1.0
        switch mode {
        case .fixed(let x): tauT = x; tauS = convention == .both ? x : 1
        case .wttm(let x): tauT = x; w = p.map { pow($0, 1 / x) }.reduce(0, +)
        case .adaKDEntropy(let lo, let hi, let hm):
            let h = -p.map { $0 * log($0) }.reduce(0, +); tauT = hi - (hi - lo) * min(h / hm, 1); tauS = tauT
        case .adaKDStd(let lo, let hi, let sm): tauT = lo + (hi - lo) * min(std(keptLogs) / sm, 1); tauS = tauT
        case .normKD(let tn): tauT = tn * std(keptLogs); tauS = tn * std(z)
        }
        // Kept entries are power-transformed and keep their mass; the bucket is left as it is.
        let kept = t.probs.map(Double.init)
        let qr = kept.map { pow($0, 1 / tauT) }; let qs = qr.reduce(0, +)
        var q = qr.map { $0 / qs * kept.reduce(0, +) }
        if let d = t.dropped { q.append(Double(d)) }
        let s = softmax(z.map { $0 / tauS })
        var pi = t.ids.map { s[Int($0)] }
        let k = t.ids.count
        if t.dropped != nil { pi.append(1 - pi.reduce(0, +)) }
        var value = 0.0
        switch kind {
        case .nll: for c in 0..<pi.count { value -= q[c] * log(pi[c]) }
        case .kld: for c in 0..<pi.count { value += q[c] * (log(q[c]) - log(pi[c])) }
        case .mse: for c in 0..<pi.count { value += (pi[c] - q[c]) * (pi[c] - q[c]) }
        case .reverseKL:
            if t.dropped == nil { let sk = pi.reduce(0, +); pi = pi.map { $0 / sk } }
            for c in 0..<pi.count { value += pi[c] * (log(pi[c]) - log(q[c])) }
        }
        _ = (v, k)
        if tauSquared { w *= tauT * tauT }
        return lmW * ce + kdW * w * value
    }

    /// How far one position's value and gradient are from the reference, in units of the tolerance
    /// (≤ 1 passes): value within 2e-5·max(1, |ref|), each d/dz_j within 2e-5 + 2e-3·|fd|.
    struct Mismatch { var value: Double; var gradient: Double; var worstIndex: Int }

    /// Runs `loss` on one random position and compares it with the reference of `mode`/`convention`/`tauSquared`.
    /// `corrupt` may alter the analytic gradient first (to prove the comparison catches a wrong gradient).
    func measure(kind: KDLossKind, mode: TemperatureMode, convention: TemperatureConvention = .teacherOnly, tauSquared: Bool = false,
                 bucket: Bool, next: Int?, seed: UInt64, lossUnderTest: DistillationLoss? = nil,
                 corrupt: (inout [Float]) -> Void = { _ in }) -> Mismatch {
        let vocab = 37
        var rng = LCG(s: seed)
        let t = makeTarget(vocab: vocab, kept: 6, bucket: bucket, rng: &rng)
        let z = (0..<vocab).map { _ in 3 * (rng.next() - 0.5) }
        let lmW = 0.3, kdW = 0.7
        let loss = lossUnderTest ?? DistillationLoss(kind: kind, temperature: mode, convention: convention, tauSquared: tauSquared)
        let ws = LossWorkspace(vocab: vocab)
        var row = z.map(Float.init)
        let out = t.ids.withUnsafeBufferPointer { ids in
            t.probs.withUnsafeBufferPointer { probs in
                row.withUnsafeMutableBufferPointer { r in
                    loss.position(logits: r, next: next, target: SparseTarget(ids: ids, probs: probs, dropped: t.dropped),
                                  lmWeight: Float(lmW), kdWeight: Float(kdW), gradient: true, workspace: ws)
                }
            }
        }
        corrupt(&row)
        func ref(_ z: [Double]) -> Double {
            reference(z: z, next: next, t: t, kind: kind, mode: mode, convention: convention, tauSquared: tauSquared, lmW: lmW, kdW: kdW)
        }
        let refTotal = ref(z)
        let got = lmW * Double(next == nil ? 0 : out.crossEntropy) + kdW * Double(out.kd)
        var m = Mismatch(value: abs(got - refTotal) / (2e-5 * max(1, abs(refTotal))), gradient: 0, worstIndex: -1)
        let h = 1e-4
        for j in 0..<vocab {
            var zp = z, zm = z
            zp[j] += h; zm[j] -= h
            let fd = (ref(zp) - ref(zm)) / (2 * h)
            let e = abs(Double(row[j]) - fd) / (2e-5 + 2e-3 * abs(fd))
            if e > m.gradient { m.gradient = e; m.worstIndex = j }
        }
        return m
    }

    func check(kind: KDLossKind, mode: TemperatureMode, convention: TemperatureConvention = .teacherOnly, tauSquared: Bool = false,
               bucket: Bool, next: Int?, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        let m = measure(kind: kind, mode: mode, convention: convention, tauSquared: tauSquared, bucket: bucket, next: next, seed: seed)
        let what = "\(kind) \(mode.label) on-\(convention.rawValue)\(tauSquared ? " tau^2" : "") bucket=\(bucket)"
        XCTAssertLessThanOrEqual(m.value, 1, "value \(what)", file: file, line: line)
        XCTAssertLessThanOrEqual(m.gradient, 1, "d/dz[\(m.worstIndex)] \(what)", file: file, line: line)
    }

    let modes: [TemperatureMode] = [.fixed(1), .fixed(2), .fixed(0.7), .wttm(2), .paperAdaKDEntropy,
                                    .adaKDStd(min: 0.1, max: 2, sigmaMax: 5), .normKD(tNorm: 1.5)]

    /// Every loss × temperature mode × convention × τ² × bucket on/off.
    func testEveryLossModeConventionTauSquaredAndBucket() {
        var seed: UInt64 = 1
        for kind in KDLossKind.allCases {
            for mode in modes {
                for convention in TemperatureConvention.allCases {
                    for tauSquared in [false, true] {
                        for bucket in [false, true] {
                            check(kind: kind, mode: mode, convention: convention, tauSquared: tauSquared, bucket: bucket,
                                  next: bucket ? 11 : 5, seed: seed)
                            seed += 1
                        }
                    }
                }
            }
        }
    }

    /// The comparison is sharp enough to fail: a wrong convention, a missing τ², or one gradient entry off by
    /// 1e-3 are each reported.
    func testTheGradientCheckCatchesWrongGradients() {
        for kind in KDLossKind.allCases {
            for bucket in [false, true] {
                let hinton = DistillationLoss(kind: kind, temperature: .fixed(2), convention: .both)
                XCTAssertGreaterThan(measure(kind: kind, mode: .fixed(2), convention: .teacherOnly, bucket: bucket, next: 5, seed: 3,
                                             lossUnderTest: hinton).gradient, 1, "\(kind): both vs teacher-only not detected")
                let noSquare = DistillationLoss(kind: kind, temperature: .fixed(2), convention: .both, tauSquared: false)
                XCTAssertGreaterThan(measure(kind: kind, mode: .fixed(2), convention: .both, tauSquared: true, bucket: bucket, next: 5, seed: 4,
                                             lossUnderTest: noSquare).gradient, 1, "\(kind): missing τ² not detected")
                XCTAssertGreaterThan(measure(kind: kind, mode: .fixed(2), bucket: bucket, next: 5, seed: 5,
                                             corrupt: { $0[17] += 1e-3 }).gradient, 1, "\(kind): a perturbed entry not detected")
                XCTAssertLessThanOrEqual(measure(kind: kind, mode: .fixed(2), bucket: bucket, next: 5, seed: 5).gradient, 1)
            }
        }
    }

    /// Under the teacher-only convention a fixed τ leaves the student side at temperature 1; under `both` it is τ.
    func testStudentTemperaturePerConvention() {
        let ids: [UInt32] = [1, 2], probs: [Float] = [0.7, 0.3]
        for (conv, expect) in [(TemperatureConvention.teacherOnly, Float(1)), (.both, Float(2))] {
            var row = [Float](repeating: 0.1, count: 8)
            let out = ids.withUnsafeBufferPointer { i in probs.withUnsafeBufferPointer { p in row.withUnsafeMutableBufferPointer {
                DistillationLoss(kind: .kld, temperature: .fixed(2), convention: conv).position(
                    logits: $0, next: 3, target: SparseTarget(ids: i, probs: p, dropped: nil), lmWeight: 0.5, kdWeight: 0.5,
                    gradient: true, workspace: LossWorkspace(vocab: 8))
            } } }
            XCTAssertEqual(out.studentTemperature, expect)
        }
    }

    func testLastPositionWithoutNextToken() {
        for kind in KDLossKind.allCases { check(kind: kind, mode: .fixed(2), bucket: true, next: nil, seed: 77) }
    }

    func testLanguageModelOnly() {
        let vocab = 50
        var rng = LCG(s: 9)
        let z = (0..<vocab).map { _ in 4 * (rng.next() - 0.5) }
        var row = z.map(Float.init)
        let ws = LossWorkspace(vocab: vocab)
        let out = row.withUnsafeMutableBufferPointer {
            DistillationLoss(kind: .kld, temperature: .fixed(1)).position(logits: $0, next: 7, target: nil, lmWeight: 0.5, kdWeight: 0, gradient: true, workspace: ws)
        }
        let m = z.max()!, lse = m + log(z.map { exp($0 - m) }.reduce(0, +))
        XCTAssertEqual(Double(out.crossEntropy), lse - z[7], accuracy: 1e-5)
        for j in 0..<vocab {
            let expect = 0.5 * (exp(z[j] - lse) - (j == 7 ? 1 : 0))
            XCTAssertEqual(Double(row[j]), expect, accuracy: 1e-6)
        }
        let ce = z.map(Float.init).withUnsafeBufferPointer { DistillationLoss.crossEntropy(logits: $0, next: 7) }
        XCTAssertEqual(Double(ce), lse - z[7], accuracy: 1e-5)
    }

    /// A student equal to the teacher has zero KL and zero KD gradient.
    func testKLDVanishesAtTheTeacher() {
        let vocab = 64
        let ids: [UInt32] = [3, 9, 40]
        let probs: [Float] = [0.5, 0.3, 0.2]
        var row = [Float](repeating: -60, count: vocab)
        for (c, i) in ids.enumerated() { row[Int(i)] = log(probs[c]) }
        let ws = LossWorkspace(vocab: vocab)
        let out = ids.withUnsafeBufferPointer { i in probs.withUnsafeBufferPointer { p in row.withUnsafeMutableBufferPointer {
            DistillationLoss(kind: .kld, temperature: .fixed(1)).position(logits: $0, next: nil, target: SparseTarget(ids: i, probs: p, dropped: nil),
                                                                        lmWeight: 0, kdWeight: 1, gradient: true, workspace: ws)
        } } }
        XCTAssertEqual(out.kd, 0, accuracy: 1e-6)
        XCTAssertLessThan(row.map(abs).max()!, 1e-6)
    }

    func testTemperatureParsing() throws {
        XCTAssertEqual(try TemperatureMode(parsing: "2"), .fixed(2))
        XCTAssertEqual(try TemperatureMode(parsing: "adakd-entropy"), .adaKDEntropy(min: 0.1, max: 2.0, hMax: 4.8))
        XCTAssertEqual(try TemperatureMode(parsing: "wttm:3"), .wttm(3))
        XCTAssertThrowsError(try TemperatureMode(parsing: "hot"))
        XCTAssertThrowsError(try TemperatureMode(parsing: "-1"))
        XCTAssertThrowsError(try TemperatureMode(parsing: "adakd-std:1:2"))
    }
}
