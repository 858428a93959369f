import Foundation

/// How α (the KD share in L = (1 − α)·L_lm + α·L_kd) moves over training. Steps count from 0 to total − 1.
public enum AlphaSchedule: Codable, Equatable, Sendable {
    /// The same α throughout.
    case constant(Double)
    /// 0 → max linearly over the run.
    case linearUp(max: Double)
    /// max → 0 linearly over the run.
    case linearDown(max: Double)
    /// `value` on every `every`-th batch (steps every−1, 2·every−1, …), 0 otherwise; the paper: 0.9 every 4th.
    case periodic(value: Double, every: Int)
    /// Warm-up–stable–decay: linear 0 → max over the first `warmup` fraction, hold, cosine max → 0 over the last `decay` fraction.
    case wsd(max: Double, warmup: Double, decay: Double)

    /// The paper's WSD-α (10 % warm-up, 1 % decay).
    public static func paperWSD(max: Double) -> AlphaSchedule { .wsd(max: max, warmup: 0.1, decay: 0.01) }

    /// α at `step` (0-based) of `totalSteps`.
    public func alpha(step: Int, totalSteps: Int) -> Double {
        let last = Double(Swift.max(totalSteps - 1, 1))
        let x = Swift.min(Swift.max(Double(step) / last, 0), 1)
        switch self {
        case .constant(let a): return a
        case .linearUp(let m): return m * x
        case .linearDown(let m): return m * (1 - x)
        case .periodic(let v, let every): return (step + 1) % Swift.max(every, 1) == 0 ? v : 0
        case .wsd(let m, let w, let d): return m * wsdShape(x: x, warmup: w, decay: d)
        }
    }

    /// CLI spelling: `0.5`, `linear-up:0.9`, `linear-down:0.9`, `periodic[:0.9:4]`, `wsd:0.9[:0.1:0.01]`.
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: ":").map(String.init)
        let nums = parts.dropFirst().map { Double($0) }
        guard !nums.contains(where: { $0 == nil }) else { throw TrainerError.invalidOption("alpha schedule '\(text)' has a non-number") }
        let n = nums.map { $0! }
        switch parts.first ?? "" {
        case "linear-up" where n.count == 1: self = .linearUp(max: n[0])
        case "linear-down" where n.count == 1: self = .linearDown(max: n[0])
        case "periodic" where n.count == 0: self = .periodic(value: 0.9, every: 4)
        case "periodic" where n.count == 2: self = .periodic(value: n[0], every: Int(n[1]))
        case "wsd" where n.count == 1: self = .paperWSD(max: n[0])
        case "wsd" where n.count == 3: self = .wsd(max: n[0], warmup: n[1], decay: n[2])
        default:
            guard parts.count == 1, let a = Double(parts[0]) else {
                throw TrainerError.invalidOption("alpha schedule '\(text)' is not one of: NUMBER, linear-up:MAX, linear-down:MAX, periodic[:VALUE:EVERY], wsd:MAX[:WARMUP:DECAY]")
            }
            self = .constant(a)
        }
        try validate()
    }

    /// Throws `TrainerError.invalidOption` unless α stays in [0, 1] and the fractions are consistent.
    public func validate() throws {
        let values: [Double]
        switch self {
        case .constant(let a), .linearUp(let a), .linearDown(let a): values = [a]
        case .periodic(let v, let e): values = [v]; if e < 1 { throw TrainerError.invalidOption("periodic alpha needs every ≥ 1") }
        case .wsd(let m, let w, let d):
            values = [m]
            if w < 0 || d < 0 || w + d > 1 { throw TrainerError.invalidOption("WSD alpha needs warm-up and decay fractions ≥ 0 with sum ≤ 1") }
        }
        if values.contains(where: { !(0...1).contains($0) }) { throw TrainerError.invalidOption("alpha must lie in [0, 1]") }
    }

    /// Short label for logs and tables.
    public var label: String {
        switch self {
        case .constant(let a): return "const(\(a))"
        case .linearUp(let m): return "linear-up(\(m))"
        case .linearDown(let m): return "linear-down(\(m))"
        case .periodic(let v, let e): return "periodic(\(v)/\(e))"
        case .wsd(let m, let w, let d): return "wsd(\(m),\(w),\(d))"
        }
    }
}

/// 0 → 1 linearly over [0, warmup), 1 until 1 − decay, then a cosine 1 → 0 at x = 1.
func wsdShape(x: Double, warmup: Double, decay: Double) -> Double {
    if warmup > 0, x < warmup { return x / warmup }
    let start = 1 - decay
    if decay > 0, x > start { return 0.5 * (1 + cos(Double.pi * Swift.min((x - start) / decay, 1))) }
    return 1
}

/// The learning rate over training.
public struct LRSchedule: Codable, Equatable, Sendable {
    /// Cosine decay to `minimum`, warm-up–stable–decay, or constant (each after the linear warm-up).
    public enum Kind: String, Codable, Sendable { case cosine, wsd, constant }
    /// The shape.
    public var kind: Kind
    /// The rate after warm-up.
    public var peak: Double
    /// The rate at the end of a decay.
    public var minimum: Double
    /// Linear warm-up length as a fraction of the run.
    public var warmup: Double
    /// WSD only: fraction of the run spent decaying (cosine, peak → minimum) at the end.
    public var decay: Double

    /// A schedule.
    public init(kind: Kind, peak: Double, minimum: Double = 0, warmup: Double = 0.01, decay: Double = 0.1) {
        self.kind = kind; self.peak = peak; self.minimum = minimum; self.warmup = warmup; self.decay = decay
    }

    /// The rate at `step` (0-based) of `totalSteps`.
    public func rate(step: Int, totalSteps: Int) -> Double {
        let total = Double(Swift.max(totalSteps, 1))
        let warmSteps = warmup * total
        if Double(step) < warmSteps { return peak * Double(step + 1) / warmSteps.rounded(.up) }
        switch kind {
        case .constant: return peak
        case .cosine:
            let span = Swift.max(total - 1 - warmSteps, 1)
            let x = Swift.min(Swift.max((Double(step) - warmSteps) / span, 0), 1)
            return minimum + (peak - minimum) * 0.5 * (1 + cos(Double.pi * x))
        case .wsd:
            let x = Double(step) / Swift.max(total - 1, 1)
            let start = 1 - decay
            guard decay > 0, x > start else { return peak }
            return minimum + (peak - minimum) * 0.5 * (1 + cos(Double.pi * Swift.min((x - start) / decay, 1)))
        }
    }

    /// Throws `TrainerError.invalidOption` for rates or fractions out of range.
    public func validate() throws {
        guard peak > 0, minimum >= 0, minimum <= peak else { throw TrainerError.invalidOption("learning rate needs 0 ≤ min ≤ peak and peak > 0") }
        guard (0...1).contains(warmup), (0...1).contains(decay), warmup + (kind == .wsd ? decay : 0) <= 1 else {
            throw TrainerError.invalidOption("learning-rate warm-up/decay fractions must lie in [0, 1] and sum to at most 1")
        }
    }
}
