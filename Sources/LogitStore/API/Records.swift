/// Rows that are already truncated (for example by a GPU teacher job), in the store's logical layout:
/// row r keeps `counts[r]` entries, stored consecutively in `ids` / `probs`, most probable first.
public struct TruncatedRows: Sendable {
    /// Entries kept per row (one per position).
    public var counts: [UInt32]
    /// Kept token ids, per row in descending probability order; Σ counts long.
    public var ids: [UInt32]
    /// Kept probabilities as float16, not re-normalised; non-increasing within a row, in [0, 1].
    public var probs: [Float16]
    /// Optional: per row, log p(actual next token) under the teacher (NaN where unknown, e.g. the last position).
    public var targetLogprobs: [Float]?

    /// Rows from their parts; `StoreWriter` validates them when they are appended.
    public init(counts: [UInt32] = [], ids: [UInt32] = [], probs: [Float16] = [], targetLogprobs: [Float]? = nil) {
        self.counts = counts; self.ids = ids; self.probs = probs; self.targetLogprobs = targetLogprobs
    }

    /// The number of rows (positions).
    public var rowCount: Int { counts.count }

    /// Removes everything but keeps capacity.
    public mutating func removeAll() {
        counts.removeAll(keepingCapacity: true); ids.removeAll(keepingCapacity: true)
        probs.removeAll(keepingCapacity: true); targetLogprobs?.removeAll(keepingCapacity: true)
    }
}

/// Decoded positions: one sequence, or any global position range.
///
/// Alignment contract: the distribution at position j is the teacher's prediction of the token at
/// position j + 1 of the same sequence, i.e. of `tokens[j + 1]`.
public struct SequenceRecord: Sendable, Equatable {
    /// Input token ids, one per position.
    public var tokens: [UInt32]
    /// tokens.count + 1 offsets into ids / probs: position j owns ids[offsets[j]..<offsets[j+1]].
    public var offsets: [Int]
    /// Kept token ids, position after position, most probable first within a position.
    public var ids: [UInt32]
    /// The kept probabilities, aligned with `ids`, as stored (not re-normalised).
    public var probs: [Float16]
    /// log p(actual next token), one per position, when the store has that stream (NaN where unknown).
    public var targetLogprobs: [Float]?
    /// The policy of the store the record was read from (set by `StoreReader`); nil for records built by hand,
    /// which are treated as top-p-k. `targets(_:)` uses it to refuse re-truncation of sampled targets.
    /// Not part of `==`.
    public var truncation: TruncationPolicy?

    /// A record from its parts (an empty record by default).
    public init(tokens: [UInt32] = [], offsets: [Int] = [0], ids: [UInt32] = [], probs: [Float16] = [], targetLogprobs: [Float]? = nil) {
        self.tokens = tokens; self.offsets = offsets; self.ids = ids; self.probs = probs; self.targetLogprobs = targetLogprobs
    }

    /// The number of positions.
    public var positionCount: Int { tokens.count }
    /// The number of kept entries over all positions.
    public var entryCount: Int { ids.count }

    /// Entries kept at position j.
    public func count(at j: Int) -> Int { offsets[j + 1] - offsets[j] }

    /// Bit-exact equality of tokens, offsets, ids and the float16 and float32 bit patterns (NaN equals NaN).
    public static func == (a: SequenceRecord, b: SequenceRecord) -> Bool {
        guard a.tokens == b.tokens, a.offsets == b.offsets, a.ids == b.ids else { return false }
        guard a.probs.map(\.bitPattern) == b.probs.map(\.bitPattern) else { return false }
        switch (a.targetLogprobs, b.targetLogprobs) {
        case (nil, nil): return true
        case let (x?, y?): return x.map(\.bitPattern) == y.map(\.bitPattern)
        default: return false
        }
    }
}
