/// The KD term L_kd between the teacher's target q and the student's distribution π over the same categories.
public enum KDLossKind: String, Codable, CaseIterable, Sendable {
    /// Cross-entropy against the soft targets, −Σ q log π (the paper's "NLL"; same gradient as KLD).
    case nll
    /// KL(q ‖ π) = Σ q (log q − log π).
    case kld
    /// Σ (π − q)² over the kept entries (and the bucket when present), on probabilities.
    case mse
    /// KL(π ‖ q). Without a bucket π is the student re-normalised over the kept set (else it is infinite).
    case reverseKL = "reverse-kl"
}

/// One position's teacher target, as the store gives it at temperature 1: kept ids, their
/// probabilities and, in bucket mode, the dropped mass (probs + dropped sum to 1).
public struct SparseTarget {
    /// Kept token ids (distinct).
    public var ids: UnsafeBufferPointer<UInt32>
    /// Their probabilities, in the same order.
    public var probs: UnsafeBufferPointer<Float>
    /// The dropped mass 1 − Σ probs as one extra category, or nil when the kept entries were re-normalised.
    public var dropped: Float?
    /// Wraps one position's kept entries (the buffers must outlive the value).
    public init(ids: UnsafeBufferPointer<UInt32>, probs: UnsafeBufferPointer<Float>, dropped: Float?) {
        self.ids = ids; self.probs = probs; self.dropped = dropped
    }
}

/// What one position contributed.
public struct PositionLoss: Equatable {
    /// −log softmax(z)[next] (0 when the next token is unknown).
    public var crossEntropy: Float = 0
    /// Weight × L_kd (0 without a target); the weight is WTTM's U and/or τ_t² when those apply, else 1.
    public var kd: Float = 0
    /// The temperature the student side used (1 without a target).
    public var studentTemperature: Float = 1
}

/// Reusable per-thread buffers for `DistillationLoss.position`: two vocabulary-wide rows and, per kept
/// category, the teacher target, the student's probabilities and log-probabilities and the gradient.
public final class LossWorkspace {
    let vocab: Int
    /// softmax(z/τ_s), then ∂L_kd/∂(z/τ_s).
    let scratch: UnsafeMutableBufferPointer<Float>
    /// A copy of z, kept only when τ_s depends on z (NormKD).
    let logitCopy: UnsafeMutableBufferPointer<Float>
    private(set) var capacity = 0
    /// Per category (kept entries, then the bucket): teacher p as given, target q, student π, log π, ∂L/∂u.
    private(set) var p = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private(set) var q = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private(set) var studentProb = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private(set) var studentLogProb = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private(set) var keptGradient = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)

    /// Buffers for logits rows of `vocab` entries.
    public init(vocab: Int) {
        self.vocab = vocab
        scratch = .allocate(capacity: vocab); scratch.initialize(repeating: 0)
        logitCopy = .allocate(capacity: vocab); logitCopy.initialize(repeating: 0)
        reserve(categories: 128)
    }

    /// Makes room for `categories` per-category values.
    func reserve(categories n: Int) {
        guard n > capacity else { return }
        let c = Swift.max(n, 2 * capacity)
        for b in [p, q, studentProb, studentLogProb, keptGradient] where b.baseAddress != nil { b.deallocate() }
        func make() -> UnsafeMutableBufferPointer<Float> { let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: c); b.initialize(repeating: 0); return b }
        p = make(); q = make(); studentProb = make(); studentLogProb = make(); keptGradient = make()
        capacity = c
    }

    deinit {
        scratch.deallocate(); logitCopy.deallocate()
        for b in [p, q, studentProb, studentLogProb, keptGradient] where b.baseAddress != nil { b.deallocate() }
    }
}
