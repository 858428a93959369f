import Foundation
import FastMath

/// The student's distribution at the kept categories of one position.
struct StudentDistribution {
    /// −log softmax(z)[next] (0 without a next token).
    var crossEntropy: Float
    /// Σ π over the kept ids.
    var keptMass: Float
    /// π of the bucket: 1 − keptMass, floored at `DistillationLoss.probabilityFloor`.
    var bucketMass: Float
}

/// The student side of one position: logits z → π = softmax(z/τ_s).
///
/// Under the `teacherOnly` convention with a fixed τ (and for WTTM) τ_s = 1, so π is the student's plain
/// distribution; with `both`, AdaKD and NormKD τ_s is that position's student temperature.
enum StudentStep {
    /// Leaves softmax(z) in `row` (for the LM term), softmax(z/τ_s) in `ws.scratch`, and π_c, log π_c of the
    /// kept ids in `ws.studentProb` / `ws.studentLogProb`. log π_c is computed from the logits, so it stays
    /// finite where π_c underflows.
    static func run(row: UnsafeMutableBufferPointer<Float>, next: Int?, temperature tauS: Double,
                    ids: UnsafeBufferPointer<UInt32>, workspace ws: LossWorkspace) -> StudentDistribution {
        let v = row.count, k = ids.count
        let logPi = ws.studentLogProb, pi = ws.studentProb, s = ws.scratch
        for c in 0..<k { logPi[c] = row[Int(ids[c])] }
        let zy: Float = next.map { row[$0] } ?? 0
        let logZt: Float, logZ: Float
        if tauS == 1 {
            logZ = FastMath.softmaxInPlace(row)
            s.baseAddress!.update(from: row.baseAddress!, count: v)
            logZt = logZ
        } else {
            let inv = Float(1 / tauS)
            for j in 0..<v { s[j] = row[j] * inv }
            logZt = FastMath.softmaxInPlace(s)
            logZ = FastMath.softmaxInPlace(row)
        }
        let invS = Float(1 / tauS)
        var kept: Float = 0
        for c in 0..<k {
            logPi[c] = logPi[c] * invS - logZt
            pi[c] = s[Int(ids[c])]; kept += pi[c]
        }
        return StudentDistribution(crossEntropy: next == nil ? 0 : logZ - zy, keptMass: kept,
                                   bucketMass: Swift.max(1 - kept, DistillationLoss.probabilityFloor))
    }
}
