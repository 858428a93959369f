/// The extra rules for pre-sampled rows handed to a writer with a sample policy (import of ids/probs/counts):
/// every position keeps 1...N distinct ids, ordered by probability descending with ties by lower id, whose
/// probabilities sum to 1 — exactly N/N with counts weights, where each is float16(c/N) for a whole count c —
/// or within n·2^-11 of 1 with importance weights. The ranges and the descending order are checked before this.
public struct SampledRowsCheck: Sendable {
    /// N, the draws per position.
    public let samples: Int
    /// True for counts weights (every probability a whole count over N).
    public let counts: Bool

    /// The rules of a sample policy (`policy.isSampled`).
    public init(policy: TruncationPolicy) {
        samples = policy.samples ?? policy.topK
        counts = policy.weights != .importance
    }

    /// Throws `StoreError.invalidInput` naming the first position that breaks a rule.
    public func check(_ rows: TruncatedRows) throws {
        var e = 0
        var sorted: [UInt32] = []
        for (j, c32) in rows.counts.enumerated() {
            let c = Int(c32)
            guard c >= 1 else { throw StoreError.invalidInput("position \(j) of a sampled sequence keeps no entry (a draw keeps at least one id)") }
            let ids = rows.ids[e..<(e + c)], probs = rows.probs[e..<(e + c)]
            for i in (e + 1)..<(e + c) where probs[i] == probs[i - 1] && ids[i] <= ids[i - 1] {
                throw StoreError.invalidInput("position \(j): ids \(ids[i - 1]) and \(ids[i]) have the same probability but are not in ascending id order")
            }
            sorted.removeAll(keepingCapacity: true)
            sorted.append(contentsOf: ids)
            sorted.sort()
            for i in 1..<sorted.count where sorted[i] == sorted[i - 1] {
                throw StoreError.invalidInput("position \(j) keeps id \(sorted[i]) twice")
            }
            if counts {
                var drawn = 0
                for p in probs {
                    let k = (Double(p) * Double(samples)).rounded()
                    guard k >= 1, Float16(k / Double(samples)) == p else {
                        throw StoreError.invalidInput("position \(j): probability \(p) is not a whole count over \(samples) samples (counts weights)")
                    }
                    drawn += Int(k)
                }
                guard drawn == samples else {
                    throw StoreError.invalidInput("position \(j): counts add up to \(drawn) draws, not \(samples) (counts weights sum to 1)")
                }
            } else {
                let sum = probs.reduce(0.0) { $0 + Double($1) }
                guard abs(sum - 1) <= Double(c) * 0x1p-11 else {
                    throw StoreError.invalidInput("position \(j): probabilities sum to \(sum), not 1 within \(c)·2^-11 (importance weights)")
                }
            }
            e += c
        }
    }
}
