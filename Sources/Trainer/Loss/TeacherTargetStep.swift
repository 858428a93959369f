import Foundation
import FastMath

/// The teacher side of one position: stored probabilities p → target q.
///
/// Re-truncation to (p', k') happens before this, when the reader builds the targets
/// (`SequenceRecord.targets`, `TargetOptions` at temperature 1; see `TrainingData.targetOptions`). This step
/// applies τ_t: q_c = K·p_c^(1/τ_t) / Σ_kept p^(1/τ_t), with K = 1 when the targets were re-normalised and
/// K = 1 − dropped in bucket mode, where the bucket keeps q = dropped (Spec/FORMAT.md §7.2's arithmetic).
enum TeacherTargetStep {
    /// Writes q for the `kept` entries of `p` (and copies the bucket, at index `kept`, when `hasBucket`).
    static func apply(p: UnsafeMutableBufferPointer<Float>, kept k: Int, hasBucket: Bool, temperature tauT: Double,
                      into q: UnsafeMutableBufferPointer<Float>) {
        let invT = Float(1 / tauT)
        var qMax = -Float.infinity
        for c in 0..<k {
            let lq = p[c] > 0 ? FastMath.log(p[c]) * invT : -.infinity
            q[c] = lq; qMax = Swift.max(qMax, lq)
        }
        var qSum: Float = 0
        for c in 0..<k { let e = q[c] == -.infinity ? 0 : Foundation.exp(q[c] - qMax); q[c] = e; qSum += e }
        let keptMass: Float = hasBucket ? Swift.max(1 - p[k], 0) : 1
        let scale = qSum > 0 ? keptMass / qSum : 0
        for c in 0..<k { q[c] *= scale }
        if hasBucket { q[k] = p[k] }
    }
}
