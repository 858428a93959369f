import Foundation
import LogitStore

/// Everything that defines a training run (saved with checkpoints; a resumed run reuses it).
public struct TrainingOptions: Codable, Equatable, Sendable {
    // Data
    /// Positions per training window; a stored sequence is read as consecutive windows of this length
    /// (its last partial window is dropped). nil: the first stored sequence's length.
    public var seqLen: Int?
    /// Windows per step.
    public var batchSize: Int = 8
    /// Stop after this many training positions (rounded up to whole steps).
    public var maxTokens: Int = 1_000_000
    /// Seeds the initial weights and the data order.
    public var seed: UInt64 = 1

    // Loss
    /// The KD term.
    public var kdLoss: KDLossKind = .kld
    /// How τ is chosen per position (see `kdTemperatureOn` for the side a fixed τ divides).
    public var temperature: TemperatureMode = .fixed(1)
    /// Which side a fixed τ divides: the teacher only (arXiv 2410.16215 Eq. 3–4, the default) or both (Hinton).
    public var kdTemperatureOn: TemperatureConvention = .teacherOnly
    /// Multiply L_kd by τ_t² (off by default).
    public var tauSquared: Bool = false
    /// Read-time re-truncation of the teacher targets (p' ≤ p, k' ≤ k of the store).
    public var targetTopP: Double = 1
    /// Read-time top-k' (`.max`: all stored entries).
    public var targetTopK: Int = .max
    /// Targets carry the dropped mass as one extra bucket instead of being re-normalised.
    public var droppedMassBucket: Bool = false
    /// The KD share α over training (constant 0: LM only).
    public var alpha: AlphaSchedule = .constant(0)
    /// Refuse a store whose targets were not sampled (set by the `rs-kd` preset).
    public var requireSampledTargets: Bool = false

    // Optimisation
    /// The learning rate over training.
    public var lr: LRSchedule = LRSchedule(kind: .cosine, peak: 3e-3, minimum: 3e-4, warmup: 0.02)
    /// Optimiser hyper-parameters.
    public var adamw = AdamW.Settings()
    /// Rows of the LM head computed at once (chunk × vocab floats are held).
    public var chunkRows: Int = 256

    // Evaluation and checkpoints
    /// Evaluate every this many steps (0: only at the end).
    public var evalEvery: Int = 0
    /// Held-out positions evaluated at most (windows taken in store order).
    public var evalPositions: Int = 65_536
    /// Hold out the last this many sequences of the training store (when no separate eval store is given).
    public var holdoutSequences: Int = 0
    /// Write a checkpoint every this many steps (0: only at the end).
    public var checkpointEvery: Int = 0

    /// The defaults: LM only, cosine LR, batch 8, 1M tokens.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case seqLen, batchSize, maxTokens, seed, kdLoss, temperature, kdTemperatureOn, tauSquared, targetTopP, targetTopK
        case droppedMassBucket, alpha, requireSampledTargets, lr, adamw, chunkRows, evalEvery, evalPositions, holdoutSequences, checkpointEvery
    }

    /// Decodes saved options; fields added after a run was saved take the value that run used.
    /// In particular an options file without `kdTemperatureOn` was written by a trainer that applied a fixed τ
    /// to both sides, so it loads as `.both`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingOptions()
        seqLen = try c.decodeIfPresent(Int.self, forKey: .seqLen)
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens) ?? d.maxTokens
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        kdLoss = try c.decodeIfPresent(KDLossKind.self, forKey: .kdLoss) ?? d.kdLoss
        temperature = try c.decodeIfPresent(TemperatureMode.self, forKey: .temperature) ?? d.temperature
        kdTemperatureOn = try c.decodeIfPresent(TemperatureConvention.self, forKey: .kdTemperatureOn) ?? .both
        tauSquared = try c.decodeIfPresent(Bool.self, forKey: .tauSquared) ?? false
        targetTopP = try c.decodeIfPresent(Double.self, forKey: .targetTopP) ?? d.targetTopP
        targetTopK = try c.decodeIfPresent(Int.self, forKey: .targetTopK) ?? d.targetTopK
        droppedMassBucket = try c.decodeIfPresent(Bool.self, forKey: .droppedMassBucket) ?? d.droppedMassBucket
        alpha = try c.decodeIfPresent(AlphaSchedule.self, forKey: .alpha) ?? d.alpha
        requireSampledTargets = try c.decodeIfPresent(Bool.self, forKey: .requireSampledTargets) ?? false
        lr = try c.decodeIfPresent(LRSchedule.self, forKey: .lr) ?? d.lr
        adamw = try c.decodeIfPresent(AdamW.Settings.self, forKey: .adamw) ?? d.adamw
        chunkRows = try c.decodeIfPresent(Int.self, forKey: .chunkRows) ?? d.chunkRows
        evalEvery = try c.decodeIfPresent(Int.self, forKey: .evalEvery) ?? d.evalEvery
        evalPositions = try c.decodeIfPresent(Int.self, forKey: .evalPositions) ?? d.evalPositions
        holdoutSequences = try c.decodeIfPresent(Int.self, forKey: .holdoutSequences) ?? d.holdoutSequences
        checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? d.checkpointEvery
    }

    /// `lm`: α = 0, the baseline.  `pd-star`: top-0.95-50, τ = 2 on the teacher only (the paper's Eq. 3–4), no τ²,
    /// KLD, WSD-α (α_max 0.9), WSD learning rate.  `rs-kd` (Sparse Logit Sampling, arXiv 2503.16870): a sampled
    /// store's targets as stored (no re-truncation, τ = 1), KLD against them, and pd-star's α and LR schedules.
    public mutating func apply(preset: String) throws {
        switch preset {
        case "lm":
            alpha = .constant(0)
            lr.kind = .cosine
        case "pd-star", "pdstar", "pd*":
            targetTopP = 0.95; targetTopK = 50
            temperature = .fixed(2)
            kdTemperatureOn = .teacherOnly; tauSquared = false
            kdLoss = .kld
            alpha = .paperWSD(max: 0.9)
            lr = LRSchedule(kind: .wsd, peak: lr.peak, minimum: lr.minimum, warmup: lr.warmup, decay: 0.1)
        case "rs-kd", "rskd":
            targetTopP = 1; targetTopK = .max
            temperature = .fixed(1)
            kdTemperatureOn = .teacherOnly; tauSquared = false
            droppedMassBucket = false
            kdLoss = .kld
            alpha = .paperWSD(max: 0.9)
            lr = LRSchedule(kind: .wsd, peak: lr.peak, minimum: lr.minimum, warmup: lr.warmup, decay: 0.1)
            requireSampledTargets = true
        default:
            throw TrainerError.invalidOption("unknown preset '\(preset)' (use lm, pd-star or rs-kd)")
        }
    }

    /// Throws `TrainerError.invalidOption`, naming the field, for an option out of range.
    public func validate() throws {
        func bad(_ s: String) -> TrainerError { .invalidOption(s) }
        if let t = seqLen, t < 1 { throw bad("seqLen must be at least 1") }
        guard batchSize >= 1 else { throw bad("batchSize must be at least 1") }
        guard maxTokens >= 1 else { throw bad("maxTokens must be at least 1") }
        guard targetTopP > 0, targetTopP <= 1 else { throw bad("targetTopP must be in (0, 1]") }
        guard targetTopK >= 1 else { throw bad("targetTopK must be at least 1") }
        guard chunkRows >= 1 else { throw bad("chunkRows must be at least 1") }
        guard evalEvery >= 0, checkpointEvery >= 0, evalPositions >= 1, holdoutSequences >= 0 else {
            throw bad("evalEvery, checkpointEvery and holdoutSequences must be ≥ 0, evalPositions ≥ 1")
        }
        try temperature.validate()
        try alpha.validate()
        try lr.validate()
    }

    /// True when the run reads teacher targets at all (α is not constantly 0).
    public var usesTargets: Bool {
        if case .constant(let a) = alpha { return a > 0 }
        return true
    }

    /// Checks these options against the policy that made the store's targets.
    ///
    /// A sampled store (`truncation.policy` "sample") holds unbiased estimates of the teacher's full distribution,
    /// so its targets are used as stored: re-truncation (`targetTopP` < 1, `targetTopK` below the stored samples)
    /// and any teacher temperature other than a fixed 1 (which every adaptive mode applies) are refused. The
    /// dropped-mass bucket is allowed (it is 0). `requireSampledTargets` refuses any other store.
    public func checkTargets(against policy: TruncationPolicy) throws {
        guard usesTargets else { return }
        if requireSampledTargets && !policy.isSampled {
            throw TrainerError.storeMismatch("requireSampledTargets (preset rs-kd) needs a sampled store (truncation.policy sample), this one is \(policy.kind.rawValue) (\(policy.label))")
        }
        guard policy.isSampled else { return }
        let n = policy.samples ?? policy.topK
        if targetTopP < 1 || targetTopK < n {
            throw TrainerError.storeMismatch("targetTopP \(targetTopP) / targetTopK \(targetTopK == .max ? "all" : String(targetTopK)) would re-truncate a sampled store (sample:\(n)); sampled targets are used as stored (targetTopP 1, targetTopK ≥ \(n))")
        }
        if temperature != .fixed(1) {
            throw TrainerError.storeMismatch("temperature \(temperature.label) would reshape a sampled store's targets; sampled targets are used at τ = 1")
        }
    }

    /// The names of the saved fields that differ between these options and `other` (empty when equal).
    public func differences(from other: TrainingOptions) -> [String] {
        guard self != other else { return [] }
        func fields(_ o: TrainingOptions) -> [String: String] {
            guard let d = try? JSONEncoder().encode(o), let obj = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return [:] }
            var out: [String: String] = [:]
            for (k, v) in obj {
                let data = (try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed])) ?? Data()
                out[k] = String(decoding: data, as: UTF8.self)
            }
            return out
        }
        let a = fields(self), b = fields(other)
        let names = Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
        return names.isEmpty ? ["options"] : names
    }

    /// One line naming the loss configuration, for logs and tables.
    public var label: String {
        "kd=\(kdLoss.rawValue) \(temperature.label)\(temperatureConventionLabel) alpha=\(alpha.label) top-p=\(targetTopP) top-k=\(targetTopK == .max ? "all" : String(targetTopK))\(droppedMassBucket ? " bucket" : "") lr=\(lr.kind.rawValue)(\(lr.peak))"
    }

    /// " on-teacher" / " on-both" (only for a fixed τ ≠ 1, where the convention matters) and " tau^2".
    var temperatureConventionLabel: String {
        var s = ""
        if case .fixed(let t) = temperature, t != 1 { s += " on-\(kdTemperatureOn.rawValue)" }
        if tauSquared { s += " tau^2" }
        return s
    }
}
