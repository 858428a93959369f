import Foundation
import FastMath

/// The KD term L_kd between the teacher's target q and the student's distribution π over the same categories.
public enum KDLossKind: String, Codable, CaseIterable, Sendable {
    /// Cross-entropy against the soft targets, −Σ q log π (the paper's "NLL"; same gradient as KLD).
    case nll
    /// KL(q ‖ π) = Σ q (log q − log π).
    case kld
    /// Σ (π − q)² over the kept entries (and the bucket when present), on probabilities.
    case mse
    /// KL(π ‖ q). Without a bucket π is the student re-normalised over the kept set (else it is infinite).
    case reverseKL = "reverse-kl"
}

/// One position's teacher target, as the store gives it at temperature 1: kept ids, their
/// probabilities and, in bucket mode, the dropped mass (probs + dropped sum to 1).
public struct SparseTarget {
    public var ids: UnsafeBufferPointer<UInt32>
    public var probs: UnsafeBufferPointer<Float>
    public var dropped: Float?
    public init(ids: UnsafeBufferPointer<UInt32>, probs: UnsafeBufferPointer<Float>, dropped: Float?) {
        self.ids = ids; self.probs = probs; self.dropped = dropped
    }
}

/// What one position contributed.
public struct PositionLoss: Equatable {
    /// −log softmax(z)[next] (0 when the next token is unknown).
    public var crossEntropy: Float = 0
    /// Weight × L_kd (0 without a target).
    public var kd: Float = 0
    /// The temperature the student side used (1 without a target).
    public var studentTemperature: Float = 1
}

/// Reusable per-thread buffers for `DistillationLoss.position`.
public final class LossWorkspace {
    let vocab: Int
    let scratch: UnsafeMutableBufferPointer<Float>
    let logitCopy: UnsafeMutableBufferPointer<Float>
    var zKept: [Float] = [], p: [Float] = [], q: [Float] = [], sKept: [Float] = [], h: [Float] = []

    public init(vocab: Int) {
        self.vocab = vocab
        scratch = .allocate(capacity: vocab); scratch.initialize(repeating: 0)
        logitCopy = .allocate(capacity: vocab); logitCopy.initialize(repeating: 0)
    }
    deinit { scratch.deallocate(); logitCopy.deallocate() }
}

/// L = (1 − α)·L_lm + α·L_kd for one position of logits, with its gradient.
///
/// The caller passes the weights already divided by the number of positions they are averaged over:
/// `lmWeight = (1 − α)/N_lm`, `kdWeight = α/N_kd`. With `gradient: true` the logits row is overwritten by
/// dL/dz = lmWeight·(softmax(z) − onehot(next)) + kdWeight·∂(w·L_kd)/∂z.
public struct DistillationLoss: Sendable, Equatable {
    public var kind: KDLossKind
    public var temperature: TemperatureMode
    /// Which side a fixed temperature divides (the adaptive modes keep their published sides).
    public var convention: TemperatureConvention
    /// Multiply L_kd by τ_t² (Hinton's gradient-scale correction).
    public var tauSquared: Bool
    /// Floor on teacher probabilities inside logarithms (reverse KL, KLD entropy term).
    public static let probabilityFloor: Float = 1e-12

    public init(kind: KDLossKind, temperature: TemperatureMode, convention: TemperatureConvention = .teacherOnly, tauSquared: Bool = false) {
        self.kind = kind; self.temperature = temperature; self.convention = convention; self.tauSquared = tauSquared
    }

    /// Cross-entropy of the true next token only (evaluation); logits are not modified.
    public static func crossEntropy(logits: UnsafeBufferPointer<Float>, next: Int) -> Float {
        FastMath.logSumExp(logits) - logits[next]
    }

    public func position(logits row: UnsafeMutableBufferPointer<Float>, next: Int?, target: SparseTarget?,
                         lmWeight: Float, kdWeight: Float, gradient: Bool, workspace ws: LossWorkspace) -> PositionLoss {
        let v = row.count
        precondition(ws.vocab == v, "workspace vocabulary differs from the logits row")
        guard let target, kdWeight != 0 || !gradient else {
            // Language-model term only.
            var out = PositionLoss()
            guard let y = next else {
                if gradient { FastMath.scale(row, by: 0) }
                return out
            }
            let zy = row[y]
            if gradient {
                let logZ = FastMath.softmaxInPlace(row)
                out.crossEntropy = logZ - zy
                FastMath.scale(row, by: lmWeight)
                row[y] -= lmWeight
            } else {
                out.crossEntropy = FastMath.logSumExp(UnsafeBufferPointer(row)) - zy
            }
            return out
        }
        let k = target.ids.count
        let hasBucket = target.dropped != nil
        let nCat = k + (hasBucket ? 1 : 0)
        // Gather what is needed before any in-place work.
        if ws.zKept.count < nCat {
            let c = max(nCat, 2 * ws.zKept.count)
            ws.zKept = .init(repeating: 0, count: c); ws.p = ws.zKept; ws.q = ws.zKept; ws.sKept = ws.zKept; ws.h = ws.zKept
        }
        for c in 0..<k { ws.zKept[c] = row[Int(target.ids[c])]; ws.p[c] = target.probs[c] }
        if hasBucket { ws.p[k] = target.dropped! }
        let zy: Float = next.map { row[$0] } ?? 0

        // Temperatures and the position's KD weight.
        var tauT = 1.0, tauS = 1.0, weight = 1.0
        var mu: Float = 0, sigmaS: Float = 0
        let clamp = { (t: Double) in Swift.min(Swift.max(t, TemperatureMode.clampRange.lowerBound), TemperatureMode.clampRange.upperBound) }
        switch temperature {
        case .fixed(let t): tauT = t; tauS = convention == .both ? t : 1
        case .wttm(let t):
            tauT = t; tauS = 1
            var u = 0.0
            for c in 0..<nCat where ws.p[c] > 0 { u += pow(Double(ws.p[c]), 1 / t) }
            weight = u
        case .adaKDEntropy(let lo, let hi, let hMax):
            let hh = TeacherStatistics.entropy(ws.p[0..<nCat])
            tauT = clamp(hi - (hi - lo) * Swift.min(hh / hMax, 1)); tauS = tauT
        case .adaKDStd(let lo, let hi, let sMax):
            let s = TeacherStatistics.logProbStd(ws.p[0..<k])
            tauT = clamp(lo + (hi - lo) * Swift.min(s / sMax, 1)); tauS = tauT
        case .normKD(let tn):
            tauT = clamp(tn * TeacherStatistics.logProbStd(ws.p[0..<k]))
            // Student spread over the whole vocabulary (two passes, in Double for the sums).
            var s = 0.0
            for j in 0..<v { s += Double(row[j]) }
            let m = s / Double(v)
            var s2 = 0.0
            for j in 0..<v { let d = Double(row[j]) - m; s2 += d * d }
            mu = Float(m); sigmaS = Float(Swift.max((s2 / Double(v)).squareRoot(), 1e-6))
            tauS = tn * Double(sigmaS)
        }

        // Teacher target: q ∝ p^(1/τ_t) over the kept entries. With a bucket, as in the store's own
        // read-time arithmetic, τ reshapes the kept entries only: they keep their total mass 1 − dropped.
        var qMax = -Float.infinity
        let invT = Float(1 / tauT)
        for c in 0..<k {
            let lq = ws.p[c] > 0 ? FastMath.log(ws.p[c]) * invT : -.infinity
            ws.q[c] = lq; qMax = Swift.max(qMax, lq)
        }
        var qSum: Float = 0
        for c in 0..<k { let e = ws.q[c] == -.infinity ? 0 : Foundation.exp(ws.q[c] - qMax); ws.q[c] = e; qSum += e }
        let keptMass: Float = hasBucket ? Swift.max(1 - ws.p[k], 0) : 1
        for c in 0..<k { ws.q[c] *= keptMass / qSum }
        if hasBucket { ws.q[k] = ws.p[k] }

        // Student softmax at τ_s into scratch; softmax at 1 into the row (shared when τ_s = 1).
        let s = ws.scratch
        if temperature.studentDependsOnLogits { ws.logitCopy.baseAddress!.update(from: row.baseAddress!, count: v) }
        var out = PositionLoss()
        out.studentTemperature = Float(tauS)
        let logZt: Float
        if tauS == 1 {
            let logZ = FastMath.softmaxInPlace(row)
            out.crossEntropy = next == nil ? 0 : logZ - zy
            s.baseAddress!.update(from: row.baseAddress!, count: v)
            logZt = logZ
        } else {
            let inv = Float(1 / tauS)
            for j in 0..<v { s[j] = row[j] * inv }
            logZt = FastMath.softmaxInPlace(s)
            let logZ = FastMath.softmaxInPlace(row)
            out.crossEntropy = next == nil ? 0 : logZ - zy
        }
        let invS = Float(1 / tauS)
        var sK: Float = 0
        for c in 0..<k { let x = s[Int(target.ids[c])]; ws.sKept[c] = x; sK += x }
        let sD = Swift.max(1 - sK, Self.probabilityFloor)
        // log π_c for kept entries computed from logits (stable even when s_c underflows).
        @inline(__always) func logS(_ c: Int) -> Float { ws.zKept[c] * invS - logZt }

        // Value and dL/du (u = z/τ_s) written into scratch.
        var value: Float = 0
        let floor = Self.probabilityFloor
        switch (kind, hasBucket) {
        case (.nll, _), (.kld, _):
            var ent: Float = 0
            for c in 0..<k {
                value -= ws.q[c] * logS(c)
                if kind == .kld, ws.q[c] > 0 { ent += ws.q[c] * FastMath.log(ws.q[c]) }
            }
            var factor: Float = 1
            if hasBucket {
                let qd = ws.q[k]
                value -= qd * FastMath.log(sD)
                if kind == .kld, qd > 0 { ent += qd * FastMath.log(qd) }
                factor = 1 - qd / sD
            }
            value += ent
            if gradient {
                FastMath.scale(s, by: factor)
                for c in 0..<k { s[Int(target.ids[c])] = ws.sKept[c] - ws.q[c] }
            }
        case (.mse, _), (.reverseKL, true):
            // Generic path with π = full softmax over the kept entries plus the bucket.
            var gD: Float = 0
            if kind == .mse {
                for c in 0..<k { let d = ws.sKept[c] - ws.q[c]; value += d * d; ws.h[c] = 2 * d }
                if hasBucket { let d = sD - ws.q[k]; value += d * d; gD = 2 * d }
            } else {
                for c in 0..<k {
                    let lp = logS(c), lq = FastMath.log(Swift.max(ws.q[c], floor))
                    value += ws.sKept[c] * (lp - lq); ws.h[c] = lp - lq
                }
                let lpd = FastMath.log(sD), lqd = FastMath.log(Swift.max(ws.q[k], floor))
                value += sD * (lpd - lqd); gD = lpd - lqd
            }
            if gradient {
                var cSum: Float = 0
                for c in 0..<k { ws.h[c] -= gD; cSum += ws.h[c] * ws.sKept[c] }
                FastMath.scale(s, by: -cSum)
                for c in 0..<k { s[Int(target.ids[c])] = ws.sKept[c] * (ws.h[c] - cSum) }
            }
        case (.reverseKL, false):
            // No bucket: π = softmax restricted to the kept set.
            let logSK = FastMath.log(Swift.max(sK, floor))
            var mean: Float = 0
            for c in 0..<k {
                let lpi = logS(c) - logSK
                let pi = ws.sKept[c] / Swift.max(sK, floor)
                let g = lpi - FastMath.log(Swift.max(ws.q[c], floor))
                value += pi * g; ws.h[c] = g; mean += pi * g
            }
            if gradient {
                FastMath.scale(s, by: 0)
                for c in 0..<k { let pi = ws.sKept[c] / Swift.max(sK, floor); s[Int(target.ids[c])] = pi * (ws.h[c] - mean) }
            }
        }
        if tauSquared { weight *= tauT * tauT }
        let w = Float(weight)
        out.kd = w * value
        guard gradient else { return out }

        // dz = lmW·(s0 − e_y) + kdW·w·(1/τ_s)·g_u  [− NormKD's spread term].
        let a = next == nil ? 0 : lmWeight
        let b = kdWeight * w * invS
        let r = row.baseAddress!, sp = s.baseAddress!
        if temperature.studentDependsOnLogits {
            // ∂u_k/∂z_j = δ_kj/τ_s − u_k (z_j − μ)/(N σ²); the second part gives −(Σ_k g_k u_k)(z_j − μ)/(Nσ²).
            let z = ws.logitCopy.baseAddress!
            var gu = 0.0
            for j in 0..<v { gu += Double(sp[j]) * Double(z[j]) }
            let cc = Float(gu / tauS / (Double(v) * Double(sigmaS) * Double(sigmaS))) * kdWeight * w
            for j in 0..<v { r[j] = a * r[j] + b * sp[j] - cc * (z[j] - mu) }
        } else {
            for j in 0..<v { r[j] = a * r[j] + b * sp[j] }
        }
        if let y = next { r[y] -= a }
        return out
    }
}
