/// The per-position content rules of Spec/FORMAT.md §1.4 and §5.1, shared by the writer (which refuses rows that
/// break them) and `verify` (which reports stored positions that break them): probabilities allowed (+0 to 1, no
/// −0, NaN or ∞), non-increasing, ids distinct, and the sums: Σ ≤ 1 + n·2^-11 for top-p-k; for a sampled store
/// |Σ − 1| ≤ n·2^-11 and, with counts weights, every probability float16(c/N) with the integer counts summing to N.
struct PositionRules {
    let sampled: Bool
    /// N when the weights are counts (every probability is float16(c/N)).
    let countsOf: Int?
    /// Open-addressing scratch set for the distinct-id check (sentinel 0xFFFFFFFF is never a valid id).
    private var slots: [UInt32] = []

    init(_ policy: TruncationPolicy) {
        sampled = policy.isSampled
        countsOf = policy.isSampled && policy.weights == .counts ? policy.samples : nil
    }

    /// What is wrong with one position's entries, or nil.
    mutating func violation(ids: ArraySlice<UInt32>, probs: ArraySlice<Float16>) -> String? {
        let n = probs.count
        var sum = 0.0
        var countSum = 0
        var previous = Float16.infinity
        for p in probs {
            guard p.isFinite, p >= 0, p.bitPattern != 0x8000, p <= 1 else {
                return "probability \(p) (bits 0x\(String(p.bitPattern, radix: 16))) is outside [0, 1] or is −0 or NaN (§1.4)"
            }
            guard p <= previous else { return "probabilities are not descending (\(previous) then \(p))" }
            previous = p
            sum += Double(p)
            if let N = countsOf {
                let c = (Double(p) * Double(N)).rounded()
                guard c >= 1, Float16(c / Double(N)) == p else { return "probability \(p) is not float16(c/\(N)) for an integer count c ≥ 1" }
                countSum += Int(c)
            }
        }
        if let dup = firstRepeatedID(ids) { return "id \(dup) appears twice" }
        let slack = Double(n) * 0x1p-11
        if let N = countsOf {
            guard countSum == N else { return "counts weights add up to \(countSum)/\(N), not \(N)/\(N)" }
        } else if sampled {
            guard abs(sum - 1) <= slack else { return "sampled weights sum to \(sum), not 1 within \(slack)" }
        } else {
            guard sum <= 1 + slack else { return "kept probabilities sum to \(sum), more than 1 + \(slack)" }
        }
        return nil
    }

    private mutating func firstRepeatedID(_ ids: ArraySlice<UInt32>) -> UInt32? {
        if ids.count < 2 { return nil }
        var size = 8
        while size < 2 * ids.count { size <<= 1 }
        if slots.count < size { slots = [UInt32](repeating: .max, count: size) }
        let mask = size - 1
        defer { for i in 0..<size { slots[i] = .max } }
        for id in ids {
            var h = Int(truncatingIfNeeded: id &* 0x9E37_79B1) & mask
            while slots[h] != .max {
                if slots[h] == id { return id }
                h = (h + 1) & mask
            }
            slots[h] = id
        }
        return nil
    }
}
