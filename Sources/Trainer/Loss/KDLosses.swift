import FastMath

/// One position's categories as the four KD losses see them: the teacher target q and the student's
/// π = softmax(u), u = z/τ_s, at the kept ids, plus the bucket (index `kept` of `q`) when present.
struct KDCategories {
    var kept: Int
    var hasBucket: Bool
    /// Teacher target: kept entries, then the bucket.
    var q: UnsafeMutableBufferPointer<Float>
    /// Student π and log π at the kept ids.
    var pi: UnsafeMutableBufferPointer<Float>
    var logPi: UnsafeMutableBufferPointer<Float>
    /// The student's bucket mass 1 − Σ kept π (floored) and its kept mass Σ kept π.
    var piBucket: Float
    var piKept: Float
}

/// L_kd and its gradient with respect to u = z/τ_s. The gradient is returned in two parts: the values at the
/// kept ids (written into `gradient[0..<kept]`) and `restScale`, such that ∂L/∂u_j = restScale · π_j at every
/// other id j.
struct KDValueAndGradient {
    var value: Float
    var restScale: Float
}

/// One value-and-gradient function per KD loss.
enum KDLosses {
    static let floor = DistillationLoss.probabilityFloor

    /// Cross-entropy −Σ q log π (+ −q_d log π_d with the bucket).
    /// ∂/∂u: π_c − q_c at a kept id; (1 − q_d/π_d)·π_j elsewhere (1·π_j without a bucket, as Σq = 1).
    static func nll(_ c: KDCategories, gradient g: UnsafeMutableBufferPointer<Float>) -> KDValueAndGradient {
        var value: Float = 0
        for i in 0..<c.kept { value -= c.q[i] * c.logPi[i]; g[i] = c.pi[i] - c.q[i] }
        var rest: Float = 1
        if c.hasBucket {
            let qd = c.q[c.kept]
            value -= qd * FastMath.log(c.piBucket)
            rest = 1 - qd / c.piBucket
        }
        return KDValueAndGradient(value: value, restScale: rest)
    }

    /// KL(q ‖ π) = Σ q (log q − log π): the cross-entropy minus the target's entropy (same gradient).
    static func kld(_ c: KDCategories, gradient g: UnsafeMutableBufferPointer<Float>) -> KDValueAndGradient {
        var r = nll(c, gradient: g)
        let n = c.kept + (c.hasBucket ? 1 : 0)
        for i in 0..<n where c.q[i] > 0 { r.value += c.q[i] * FastMath.log(c.q[i]) }
        return r
    }

    /// Σ (π − q)² over the categories (kept ids, and the bucket when present).
    static func mse(_ c: KDCategories, gradient g: UnsafeMutableBufferPointer<Float>) -> KDValueAndGradient {
        var value: Float = 0, gBucket: Float = 0
        for i in 0..<c.kept { let d = c.pi[i] - c.q[i]; value += d * d; g[i] = 2 * d }
        if c.hasBucket { let d = c.piBucket - c.q[c.kept]; value += d * d; gBucket = 2 * d }
        return softmaxBackward(c, dLdPi: g, bucket: gBucket, value: value)
    }

    /// KL(π ‖ q) = Σ π (log π − log q). With the bucket π covers all categories; without it π is the student
    /// re-normalised over the kept ids, π̃_c = π_c/Σ kept π, which does not depend on the other logits.
    static func reverseKL(_ c: KDCategories, gradient g: UnsafeMutableBufferPointer<Float>) -> KDValueAndGradient {
        var value: Float = 0
        if c.hasBucket {
            for i in 0..<c.kept {
                let d = c.logPi[i] - FastMath.log(Swift.max(c.q[i], floor))
                value += c.pi[i] * d; g[i] = d
            }
            let dB = FastMath.log(c.piBucket) - FastMath.log(Swift.max(c.q[c.kept], floor))
            value += c.piBucket * dB
            // ∂/∂π of π log(π/q) is log(π/q) + 1; the constant 1 cancels under the softmax Jacobian.
            return softmaxBackward(c, dLdPi: g, bucket: dB, value: value)
        }
        let sk = Swift.max(c.piKept, floor), logSK = FastMath.log(sk)
        var mean: Float = 0
        for i in 0..<c.kept {
            let d = c.logPi[i] - logSK - FastMath.log(Swift.max(c.q[i], floor))
            let p = c.pi[i] / sk
            value += p * d; g[i] = d; mean += p * d
        }
        for i in 0..<c.kept { g[i] = c.pi[i] / sk * (g[i] - mean) }
        return KDValueAndGradient(value: value, restScale: 0)
    }

    /// Chains ∂L/∂π (kept ids in `dLdPi`, one value `bucket` shared by every other id) through the softmax:
    /// ∂L/∂u_j = π_j (G_j − Σ_i G_i π_i).
    private static func softmaxBackward(_ c: KDCategories, dLdPi g: UnsafeMutableBufferPointer<Float>, bucket gB: Float,
                                        value: Float) -> KDValueAndGradient {
        var centred: Float = 0
        for i in 0..<c.kept { g[i] -= gB; centred += g[i] * c.pi[i] }
        for i in 0..<c.kept { g[i] = c.pi[i] * (g[i] - centred) }
        return KDValueAndGradient(value: value, restScale: -centred)
    }
}

extension KDLossKind {
    /// Dispatches to this loss's value-and-gradient function.
    func valueAndGradient(_ c: KDCategories, gradient g: UnsafeMutableBufferPointer<Float>) -> KDValueAndGradient {
        switch self {
        case .nll: return KDLosses.nll(c, gradient: g)
        case .kld: return KDLosses.kld(c, gradient: g)
        case .mse: return KDLosses.mse(c, gradient: g)
        case .reverseKL: return KDLosses.reverseKL(c, gradient: g)
        }
    }
}
