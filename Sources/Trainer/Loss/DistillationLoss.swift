import Foundation
import FastMath

/// L = (1 − α)·L_lm + α·L_kd for one position of logits, with its gradient.
///
/// The position is computed in three steps: the teacher target (`TeacherTargetStep`: stored p → q at τ_t),
/// the student distribution (`StudentStep`: z → π = softmax(z/τ_s)), and the loss's own value and gradient
/// (`KDLosses`). Which τ_t and τ_s apply is `PositionTemperatures`' job (the mode and the convention).
///
/// The caller passes the weights already divided by the number of positions they are averaged over:
/// `lmWeight = (1 − α)/N_lm`, `kdWeight = α/N_kd`. With `gradient: true` the logits row is overwritten by
/// dL/dz = lmWeight·(softmax(z) − onehot(next)) + kdWeight·∂(w·L_kd)/∂z.
public struct DistillationLoss: Sendable, Equatable {
    /// The KD term.
    public var kind: KDLossKind
    /// How τ is chosen per position.
    public var temperature: TemperatureMode
    /// Which side a fixed temperature divides (the adaptive modes keep their published sides).
    public var convention: TemperatureConvention
    /// Multiply L_kd by τ_t² (Hinton's gradient-scale correction).
    public var tauSquared: Bool
    /// Floor on probabilities inside logarithms (reverse KL, the student's bucket).
    public static let probabilityFloor: Float = 1e-12

    /// A loss; the convention defaults to the paper's (τ on the teacher only), without τ².
    public init(kind: KDLossKind, temperature: TemperatureMode, convention: TemperatureConvention = .teacherOnly, tauSquared: Bool = false) {
        self.kind = kind; self.temperature = temperature; self.convention = convention; self.tauSquared = tauSquared
    }

    /// Cross-entropy of the true next token only (evaluation); logits are not modified.
    public static func crossEntropy(logits: UnsafeBufferPointer<Float>, next: Int) -> Float {
        FastMath.logSumExp(logits) - logits[next]
    }

    /// The loss of one position (`next`: the true next token, nil at the end of a stored sequence; `target`:
    /// the teacher's kept entries, nil for the LM term only). With `gradient` the row becomes dL/dz.
    public func position(logits row: UnsafeMutableBufferPointer<Float>, next: Int?, target: SparseTarget?,
                         lmWeight: Float, kdWeight: Float, gradient: Bool, workspace ws: LossWorkspace) -> PositionLoss {
        precondition(ws.vocab == row.count, "workspace vocabulary differs from the logits row")
        guard let target, kdWeight != 0 || !gradient else {
            return Self.languageModelOnly(row: row, next: next, lmWeight: lmWeight, gradient: gradient)
        }
        let k = target.ids.count, hasBucket = target.dropped != nil
        let categories = k + (hasBucket ? 1 : 0)
        ws.reserve(categories: categories)
        for c in 0..<k { ws.p[c] = target.probs[c] }
        if let d = target.dropped { ws.p[k] = d }

        let temps = PositionTemperatures.resolve(mode: temperature, convention: convention, tauSquared: tauSquared,
                                                 p: ws.p, categories: categories, kept: k, logits: row)
        TeacherTargetStep.apply(p: ws.p, kept: k, hasBucket: hasBucket, temperature: temps.teacher, into: ws.q)
        if temperature.studentDependsOnLogits { ws.logitCopy.baseAddress!.update(from: row.baseAddress!, count: row.count) }
        let student = StudentStep.run(row: row, next: next, temperature: temps.student, ids: target.ids, workspace: ws)
        let cats = KDCategories(kept: k, hasBucket: hasBucket, q: ws.q, pi: ws.studentProb, logPi: ws.studentLogProb,
                                piBucket: student.bucketMass, piKept: student.keptMass)
        let kd = kind.valueAndGradient(cats, gradient: ws.keptGradient)

        let w = Float(temps.weight)
        let out = PositionLoss(crossEntropy: student.crossEntropy, kd: w * kd.value, studentTemperature: Float(temps.student))
        guard gradient else { return out }
        // ∂L_kd/∂u into scratch (which holds softmax(u)).
        let s = ws.scratch
        FastMath.scale(s, by: kd.restScale)
        for c in 0..<k { s[Int(target.ids[c])] = ws.keptGradient[c] }
        chainToLogits(row: row, next: next, kdGradient: s, lmWeight: lmWeight, kdWeight: kdWeight * w, temps: temps, workspace: ws)
        return out
    }

    /// dz = a·(softmax(z) − e_y) + b·g_u/τ_s, where `row` holds softmax(z) and `kdGradient` holds g_u = ∂L_kd/∂u.
    /// NormKD adds the path through τ_s = T·σ(z): ∂u_k/∂z_j = δ_kj/τ_s − u_k (z_j − μ)/(N σ²).
    private func chainToLogits(row: UnsafeMutableBufferPointer<Float>, next: Int?, kdGradient: UnsafeMutableBufferPointer<Float>,
                               lmWeight: Float, kdWeight: Float, temps: PositionTemperatures, workspace ws: LossWorkspace) {
        let v = row.count
        let a = next == nil ? 0 : lmWeight
        let b = kdWeight * Float(1 / temps.student)
        let r = row.baseAddress!, g = kdGradient.baseAddress!
        if temperature.studentDependsOnLogits {
            let z = ws.logitCopy.baseAddress!
            var gu = 0.0
            for j in 0..<v { gu += Double(g[j]) * Double(z[j]) }
            let sigma = Double(temps.studentSpread), mu = temps.studentMean
            let cc = Float(gu / temps.student / (Double(v) * sigma * sigma)) * kdWeight
            for j in 0..<v { r[j] = a * r[j] + b * g[j] - cc * (z[j] - mu) }
        } else {
            for j in 0..<v { r[j] = a * r[j] + b * g[j] }
        }
        if let y = next { r[y] -= a }
    }

    /// The language-model term alone: CE and lmWeight·(softmax(z) − e_y).
    private static func languageModelOnly(row: UnsafeMutableBufferPointer<Float>, next: Int?, lmWeight: Float, gradient: Bool) -> PositionLoss {
        var out = PositionLoss()
        guard let y = next else {
            if gradient { FastMath.scale(row, by: 0) }
            return out
        }
        let zy = row[y]
        if gradient {
            out.crossEntropy = FastMath.softmaxInPlace(row) - zy
            FastMath.scale(row, by: lmWeight)
            row[y] -= lmWeight
        } else {
            out.crossEntropy = FastMath.logSumExp(UnsafeBufferPointer(row)) - zy
        }
        return out
    }
}
