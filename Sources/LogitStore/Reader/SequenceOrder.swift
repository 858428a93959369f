/// Where a shuffled iteration stands; save it with a checkpoint and restore it to resume exactly.
public struct IterationState: Codable, Equatable, Sendable {
    /// The epoch in progress (0-based).
    public var epoch: Int
    /// Sequences this rank has already taken in `epoch`.
    public var cursor: Int
    /// A state at `cursor` sequences into `epoch` (the start by default).
    public init(epoch: Int = 0, cursor: Int = 0) { self.epoch = epoch; self.cursor = cursor }
}

/// A deterministic shuffled order over sequences, partitioned across ranks.
///
/// Epoch e uses a Fisher–Yates permutation of 0..<sequenceCount drawn from SplitMix64 seeded with
/// `seed ^ (e · 0x9E3779B97F4A7C15)`. Rank r takes permutation slots r, r + W, r + 2W, …, where W = worldSize,
/// and exactly ⌊N / W⌋ of them, so all ranks take equally many sequences per epoch and the ranks' sets are disjoint
/// (the last N mod W slots of an epoch go unused that epoch; another epoch's permutation covers them).
public struct SequenceOrder: Sendable {
    /// Sequences being ordered (N).
    public let sequenceCount: Int
    /// The seed every epoch's permutation derives from.
    public let seed: UInt64
    /// This rank (0..<worldSize).
    public let rank: Int
    /// The number of ranks sharing the sequences (W).
    public let worldSize: Int
    private var permutation: [Int] = []
    private var permutationEpoch = -1
    private var _state = IterationState()

    /// Requires sequenceCount ≥ worldSize ≥ 1 and 0 ≤ rank < worldSize.
    public init(sequenceCount: Int, seed: UInt64, rank: Int = 0, worldSize: Int = 1) {
        precondition(worldSize >= 1 && rank >= 0 && rank < worldSize, "rank \(rank) must be in 0..<worldSize (\(worldSize))")
        precondition(sequenceCount >= worldSize, "\(sequenceCount) sequences cannot be shared by \(worldSize) ranks")
        self.sequenceCount = sequenceCount; self.seed = seed; self.rank = rank; self.worldSize = worldSize
    }

    /// Sequences this rank takes per epoch.
    public var sequencesPerEpoch: Int { sequenceCount / worldSize }

    /// The current state; assign a saved state to resume.
    public var state: IterationState {
        get { _state }
        set { _state = newValue }
    }

    /// The next sequence index for this rank (moving to the next epoch when this one is used up).
    public mutating func next() -> Int {
        if _state.cursor >= sequencesPerEpoch { _state.epoch += 1; _state.cursor = 0 }
        if permutationEpoch != _state.epoch { permutation = SequenceOrder.permutation(sequenceCount, seed: seed, epoch: _state.epoch); permutationEpoch = _state.epoch }
        let i = permutation[_state.cursor * worldSize + rank]
        _state.cursor += 1
        return i
    }

    /// The whole permutation of an epoch (all ranks).
    public static func permutation(_ n: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15))
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = Int(rng.next(below: UInt64(i + 1)))
                p.swapAt(i, j)
            }
        }
        return p
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and fully specified, so orders are reproducible anywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator state; the next output advances it by the golden-ratio increment.
    public var state: UInt64
    /// A generator whose first state is `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64-bit output.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<bound by rejection (no modulo bias).
    public mutating func next(below bound: UInt64) -> UInt64 {
        let limit = UInt64.max - UInt64.max % bound
        while true { let x = next(); if x < limit { return x % bound } }
    }
}
