import Foundation

/// Read-time processing of stored distributions into training targets.
public struct TargetOptions: Sendable, Equatable {
    /// Re-truncation: keep the shortest prefix whose (stored, un-normalised) mass reaches `topP`; 1 keeps all.
    public var topP: Double = 1
    /// Then keep at most `topK` entries.
    public var topK: Int = .max
    /// Temperature τ over the kept set: q_i ∝ p_i^(1/τ).
    public var temperature: Double = 1
    /// false: targets renormalised over the kept set (Σq = 1).
    /// true: the kept targets sum to the kept mass K = Σp_i and `droppedMass` holds 1 − K (one extra bucket).
    public var droppedMassBucket: Bool = false

    /// Options with the given read-time truncation, temperature and bucket mode (the defaults change nothing).
    public init(topP: Double = 1, topK: Int = .max, temperature: Double = 1, droppedMassBucket: Bool = false) {
        self.topP = topP; self.topK = topK; self.temperature = temperature; self.droppedMassBucket = droppedMassBucket
    }
}

/// Sparse training targets for a run of positions.
public struct SparseTargets: Sendable, Equatable {
    /// positions + 1 offsets into ids / probs.
    public var offsets: [Int]
    /// The kept token ids, position after position.
    public var ids: [UInt32]
    /// The target probabilities of `ids`.
    public var probs: [Float]
    /// Per position, 1 − (kept mass), when `droppedMassBucket` was requested.
    public var droppedMass: [Float]?

    /// Targets from their parts (empty by default).
    public init(offsets: [Int] = [0], ids: [UInt32] = [], probs: [Float] = [], droppedMass: [Float]? = nil) {
        self.offsets = offsets; self.ids = ids; self.probs = probs; self.droppedMass = droppedMass
    }
}

extension SequenceRecord {
    /// Re-truncates to p' and k', applies temperature τ over the kept set, then renormalises or adds the
    /// dropped-mass bucket (Spec/FORMAT.md §7.2 defines the arithmetic).
    ///
    /// With the bucket, τ reshapes the kept entries only: q_i = K · p_i^(1/τ) / Σ_kept p_j^(1/τ), bucket = 1 − K,
    /// where K = Σ_kept p_i (clamped to [0, 1]). With τ = 1 that is q_i = p_i.
    ///
    /// On a sampled store (`truncation.isSampled`) the stored weights are already the target (Spec §7.2): p' < 1,
    /// k' below a stored count and τ' ≠ 1 throw `StoreError.invalidInput`; the bucket is allowed and is 0.
    public func targets(_ o: TargetOptions) throws -> SparseTargets {
        var out = SparseTargets()
        try fillTargets(o, into: &out)
        return out
    }

    /// Like `targets(_:)`, reusing `out`'s storage.
    public func fillTargets(_ o: TargetOptions, into out: inout SparseTargets) throws {
        let sampled = truncation?.isSampled ?? false
        if sampled { try checkSampledOptions(o, policy: truncation!) }
        out.offsets.removeAll(keepingCapacity: true); out.offsets.append(0)
        out.ids.removeAll(keepingCapacity: true)
        out.probs.removeAll(keepingCapacity: true)
        if o.droppedMassBucket {
            if out.droppedMass == nil { out.droppedMass = [] }
            out.droppedMass!.removeAll(keepingCapacity: true)
        } else { out.droppedMass = nil }
        let invT = 1 / o.temperature
        let p = o.topP, k = Swift.max(0, o.topK)
        for j in 0..<tokens.count {
            let a = offsets[j], b = offsets[j + 1]
            var n = 0
            var mass = 0.0
            // Prefix: stop once the mass reaches p' or k' entries are kept.
            var i = a
            while i < b && n < k {
                mass += Double(Float(probs[i]))
                n += 1; i += 1
                if mass >= p { break }
            }
            let start = out.probs.count
            var z = 0.0
            for e in a..<(a + n) {
                let q = invT == 1 ? Double(Float(probs[e])) : pow(Double(Float(probs[e])), invT)
                out.ids.append(ids[e]); out.probs.append(Float(q)); z += q
            }
            // A sampled position's weights are the whole target: renormalised, with a bucket of 0.
            let kept = sampled ? 1 : Swift.min(1, Swift.max(0, mass))
            let scale: Double
            if sampled { scale = z > 0 ? 1 / z : 0 } else if o.droppedMassBucket { scale = invT == 1 ? 1 : (z > 0 ? kept / z : 0) } else { scale = z > 0 ? 1 / z : 0 }
            if scale != 1 { for e in start..<out.probs.count { out.probs[e] = Float(Double(out.probs[e]) * scale) } }
            if o.droppedMassBucket { out.droppedMass!.append(Float(1 - kept)) }
            out.offsets.append(out.probs.count)
        }
    }

    /// Throws unless `o` leaves sampled targets as stored: no re-truncation (p' = 1, k' ≥ every stored count) and τ' = 1.
    private func checkSampledOptions(_ o: TargetOptions, policy: TruncationPolicy) throws {
        let what = "a sampled store (\(policy.label))"
        guard o.topP >= 1 else { throw StoreError.invalidInput("re-truncation to top_p \(o.topP) is not defined on \(what); its weights are used as stored") }
        guard o.temperature == 1 else { throw StoreError.invalidInput("temperature \(o.temperature) is not defined on \(what); use 1") }
        var widest = 0
        for j in 0..<tokens.count { widest = Swift.max(widest, offsets[j + 1] - offsets[j]) }
        guard o.topK >= widest else {
            throw StoreError.invalidInput("re-truncation to top_k \(o.topK) is not defined on \(what): a position keeps \(widest) ids")
        }
    }
}
