import Foundation

/// How the distillation temperature is chosen at each position.
///
/// The store holds the teacher's kept probabilities p (re-normalised, optionally with one dropped-mass
/// bucket), not its logits, so every "teacher logit" statistic below is taken over log p of the kept
/// entries. A teacher temperature τ_t turns p into q ∝ p^(1/τ_t) (the bucket counts as one category);
/// the student's logits z are divided by τ_s before its softmax. Only `.fixed` consults the
/// `TemperatureConvention`; the adaptive modes set τ_s as their papers do (documented per case).
public enum TemperatureMode: Codable, Equatable, Sendable {
    /// τ_t = τ; τ_s = 1 under the `teacherOnly` convention (the paper's Eq. 3–4, the default) or τ under `both`
    /// (Hinton's KD). τ = 1 leaves the targets as stored.
    case fixed(Double)
    /// NormKD (Chi et al. 2023): each side is divided by its own spread, τ_t = T·σ(log p over kept),
    /// τ_s = T·σ(z over the vocabulary). The student's σ depends on z, and the gradient flows through it.
    case normKD(tNorm: Double)
    /// WTTM (Zheng & Yang 2024): the teacher is power-transformed with 1/τ, the student is not
    /// (τ_s = 1), and the position's KD loss is weighted by the power sum U = Σ_c p_c^(1/τ).
    case wttm(Double)
    /// AdaKD by spread: τ = τ_min + (τ_max − τ_min)·min(σ/σ_max, 1), σ the std of the teacher's kept
    /// log-probabilities (a peaked teacher, large σ, is softened more), same τ on both sides.
    case adaKDStd(min: Double, max: Double, sigmaMax: Double)
    /// AdaKD by entropy: τ_H = τ_max − (τ_max − τ_min)·min(H/H_max, 1), H the teacher's entropy in nats
    /// over its kept categories; same τ on both sides. The paper uses τ_max 2.0, τ_min 0.1, H_max 4.8.
    case adaKDEntropy(min: Double, max: Double, hMax: Double)

    /// The AdaKD entropy setting of the paper.
    public static let paperAdaKDEntropy = TemperatureMode.adaKDEntropy(min: 0.1, max: 2.0, hMax: 4.8)

    /// Range every adaptive temperature is clamped to, so a one-entry target cannot divide by zero.
    public static let clampRange: ClosedRange<Double> = 0.05...20

    /// Parses the CLI spelling: `2.0`, `normkd:1.5`, `wttm:2`, `adakd-std:0.1:2.0:5`, `adakd-entropy[:0.1:2.0:4.8]`.
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: ":").map(String.init)
        func nums(_ n: Int, defaults: [Double]) throws -> [Double] {
            let given = parts.dropFirst().map { Double($0) }
            if given.contains(where: { $0 == nil }) || (given.count != 0 && given.count != n) {
                throw TrainerError.invalidOption("temperature '\(text)' needs \(n) numbers after '\(parts[0]):'")
            }
            return given.isEmpty ? defaults : given.map { $0! }
        }
        switch parts.first ?? "" {
        case "normkd": self = .normKD(tNorm: try nums(1, defaults: [1.0])[0])
        case "wttm": self = .wttm(try nums(1, defaults: [2.0])[0])
        case "adakd-std":
            let v = try nums(3, defaults: [0.1, 2.0, 5.0]); self = .adaKDStd(min: v[0], max: v[1], sigmaMax: v[2])
        case "adakd-entropy":
            let v = try nums(3, defaults: [0.1, 2.0, 4.8]); self = .adaKDEntropy(min: v[0], max: v[1], hMax: v[2])
        default:
            guard parts.count == 1, let t = Double(parts[0]) else {
                throw TrainerError.invalidOption("temperature '\(text)' is not a number or one of normkd, wttm, adakd-std, adakd-entropy")
            }
            self = .fixed(t)
        }
        try validate()
    }

    /// Throws `TrainerError.invalidOption` for a non-positive or inconsistent setting.
    public func validate() throws {
        func ok(_ c: Bool, _ s: String) throws { if !c { throw TrainerError.invalidOption(s) } }
        switch self {
        case .fixed(let t), .wttm(let t): try ok(t > 0 && t.isFinite, "temperature must be positive (got \(t))")
        case .normKD(let t): try ok(t > 0 && t.isFinite, "NormKD T_norm must be positive (got \(t))")
        case .adaKDStd(let a, let b, let s): try ok(a > 0 && b >= a && s > 0, "adakd-std needs 0 < τ_min ≤ τ_max and σ_max > 0")
        case .adaKDEntropy(let a, let b, let h): try ok(a > 0 && b >= a && h > 0, "adakd-entropy needs 0 < τ_min ≤ τ_max and H_max > 0")
        }
    }

    /// Short label for logs and tables.
    public var label: String {
        switch self {
        case .fixed(let t): return "tau=\(t)"
        case .normKD(let t): return "normkd(T=\(t))"
        case .wttm(let t): return "wttm(tau=\(t))"
        case .adaKDStd(let a, let b, let s): return "adakd-std(\(a),\(b),\(s))"
        case .adaKDEntropy(let a, let b, let h): return "adakd-entropy(\(a),\(b),\(h))"
        }
    }

    /// True when the student's temperature depends on the student logits (NormKD).
    var studentDependsOnLogits: Bool { if case .normKD = self { return true } else { return false } }
}

/// Which side of the KD term a fixed temperature τ (`TemperatureMode.fixed`) divides.
///
/// - `teacherOnly` (the default, and what `--preset pd-star` uses): the reading of arXiv 2410.16215 Eq. 3–4,
///   F(z) = softmax(Truncate(z)/τ) compared with the student's plain distribution softmax(z). On stored
///   probabilities that is q ∝ p^(1/τ) against π = softmax(z).
/// - `both` (Hinton et al. 2015): q ∝ p^(1/τ) against π = softmax(z/τ).
///
/// The adaptive modes keep their published definitions whatever the convention says: WTTM tempers the
/// teacher only; AdaKD (entropy and spread) uses one τ on both sides; NormKD divides each side by its own
/// spread. The optional τ² factor (`TrainingOptions.tauSquared`) multiplies L_kd by the position's teacher
/// temperature squared in every mode.
public enum TemperatureConvention: String, Codable, CaseIterable, Sendable {
    /// τ divides the teacher's log-probabilities only (the paper's Eq. 3–4; the default).
    case teacherOnly = "teacher"
    /// τ divides both the teacher's log-probabilities and the student's logits (Hinton's KD).
    case both
}
