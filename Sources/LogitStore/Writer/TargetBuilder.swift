/// Turns full logits rows into stored entries under a store's policy: top-p-k truncation or sampling.
/// One per thread (it owns scratch buffers). The writer uses one; a dump runs one per worker and per output
/// store, then hands the rows to `StoreWriter.append(tokens:truncated:)`.
public final class TargetBuilder {
    private enum Kernel { case truncate(Truncator), sample(Sampler) }
    private let kernel: Kernel

    /// The policy the rows are built under.
    public let policy: TruncationPolicy

    /// - Parameters: writerID keys the draws of a sampled policy (ignored by top-p-k).
    public init(vocabSize: Int, rowWidth: Int? = nil, policy: TruncationPolicy, writerID: String) throws {
        self.policy = policy
        switch policy.kind {
        case .topPK: kernel = .truncate(try Truncator(vocabSize: vocabSize, rowWidth: rowWidth, policy: policy))
        case .sample: kernel = .sample(try Sampler(vocabSize: vocabSize, rowWidth: rowWidth, policy: policy, writerID: writerID))
        }
    }

    /// Builds the entries of Float32 rows: rows are positions `firstPosition...` of the writer's sequence with
    /// ordinal `sequenceOrdinal` (used by sampling only). See `Truncator.truncate` and `Sampler.sample`.
    public func build(rows: UnsafeBufferPointer<Float>, sequenceOrdinal: Int, firstPosition: Int = 0,
                      nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        switch kernel {
        case .truncate(let t): try t.truncate(rows: rows, nextTokens: nextTokens, into: &out)
        case .sample(let s): try s.sample(rows: rows, sequenceOrdinal: sequenceOrdinal, firstPosition: firstPosition, nextTokens: nextTokens, into: &out)
        }
    }

    /// Float16 rows.
    public func build(rows: UnsafeBufferPointer<Float16>, sequenceOrdinal: Int, firstPosition: Int = 0,
                      nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        switch kernel {
        case .truncate(let t): try t.truncate(rows: rows, nextTokens: nextTokens, into: &out)
        case .sample(let s): try s.sample(rows: rows, sequenceOrdinal: sequenceOrdinal, firstPosition: firstPosition, nextTokens: nextTokens, into: &out)
        }
    }

    /// BFloat16 rows given as raw bit patterns.
    public func build(bfloat16Rows rows: UnsafeBufferPointer<UInt16>, sequenceOrdinal: Int, firstPosition: Int = 0,
                      nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        switch kernel {
        case .truncate(let t): try t.truncate(bfloat16Rows: rows, nextTokens: nextTokens, into: &out)
        case .sample(let s): try s.sample(bfloat16Rows: rows, sequenceOrdinal: sequenceOrdinal, firstPosition: firstPosition, nextTokens: nextTokens, into: &out)
        }
    }
}
