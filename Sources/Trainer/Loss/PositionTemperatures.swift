import Foundation

/// The temperatures one position uses and the weight of its KD term, resolved from the temperature mode,
/// the convention, the τ² option and (for the adaptive modes) the teacher target and the student logits.
struct PositionTemperatures {
    /// τ_t: the teacher target is q ∝ p^(1/τ_t).
    var teacher = 1.0
    /// τ_s: the student distribution is softmax(z/τ_s).
    var student = 1.0
    /// Multiplies L_kd: WTTM's power sum U, times τ_t² with the τ² option; 1 otherwise.
    var weight = 1.0
    /// NormKD only: the mean and spread of the student logits (τ_s = T·spread depends on z).
    var studentMean: Float = 0, studentSpread: Float = 0

    /// - Parameters:
    ///   - p: the teacher's categories as stored (kept entries, then the bucket when present).
    ///   - kept: how many of `p` are kept entries.
    ///   - logits: the student logits z (read only; NormKD needs their spread).
    static func resolve(mode: TemperatureMode, convention: TemperatureConvention, tauSquared: Bool,
                        p: UnsafeMutableBufferPointer<Float>, categories: Int, kept: Int,
                        logits: UnsafeMutableBufferPointer<Float>) -> PositionTemperatures {
        var t = PositionTemperatures()
        let clamp = { (x: Double) in Swift.min(Swift.max(x, TemperatureMode.clampRange.lowerBound), TemperatureMode.clampRange.upperBound) }
        let all = UnsafeBufferPointer(rebasing: p[0..<categories]), keptOnly = UnsafeBufferPointer(rebasing: p[0..<kept])
        switch mode {
        case .fixed(let x):
            t.teacher = x
            t.student = convention == .both ? x : 1
        case .wttm(let x):
            // Published definition: the teacher only, weighted by U = Σ p^(1/τ).
            t.teacher = x
            var u = 0.0
            for c in all where c > 0 { u += pow(Double(c), 1 / x) }
            t.weight = u
        case .adaKDEntropy(let lo, let hi, let hMax):
            let h = TeacherStatistics.entropy(all)
            t.teacher = clamp(hi - (hi - lo) * Swift.min(h / hMax, 1)); t.student = t.teacher
        case .adaKDStd(let lo, let hi, let sMax):
            let s = TeacherStatistics.logProbStd(keptOnly)
            t.teacher = clamp(lo + (hi - lo) * Swift.min(s / sMax, 1)); t.student = t.teacher
        case .normKD(let tn):
            t.teacher = clamp(tn * TeacherStatistics.logProbStd(keptOnly))
            // Student spread over the whole vocabulary (two passes, sums in Double).
            var s = 0.0
            for z in logits { s += Double(z) }
            let m = s / Double(logits.count)
            var s2 = 0.0
            for z in logits { let d = Double(z) - m; s2 += d * d }
            t.studentMean = Float(m)
            t.studentSpread = Float(Swift.max((s2 / Double(logits.count)).squareRoot(), 1e-6))
            t.student = tn * Double(t.studentSpread)
        }
        if tauSquared { t.weight *= t.teacher * t.teacher }
        return t
    }
}

/// Statistics of one teacher target that the adaptive temperatures need.
enum TeacherStatistics {
    /// Entropy in nats over the categories (kept entries and, when present, the bucket).
    static func entropy<C: Collection>(_ p: C) -> Double where C.Element == Float {
        var h = 0.0
        for x in p where x > 0 { h -= Double(x) * log(Double(x)) }
        return h
    }

    /// Population standard deviation of log p over the kept entries (zeros skipped).
    static func logProbStd<C: Collection>(_ p: C) -> Double where C.Element == Float {
        var n = 0.0, s = 0.0, s2 = 0.0
        for x in p where x > 0 { let l = log(Double(x)); n += 1; s += l; s2 += l * l }
        guard n > 1 else { return 0 }
        let m = s / n
        return (max(s2 / n - m * m, 0)).squareRoot()
    }
}
