import Foundation
import LogitStore
import Transformer

/// A run of consecutive sequences of one length that one worker pushes through the teacher in one forward pass.
struct DumpBatch: Sendable {
    /// Index of the first sequence in `PackedSequences`.
    var first: Int
    /// Sequences in the batch.
    var count: Int
    /// Tokens per sequence.
    var length: Int

    /// Consecutive batches covering sequences `from..<packed.count`: up to `size` full-length sequences each;
    /// a shorter (last) sequence goes alone.
    static func plan(_ packed: PackedSequences, from: Int, size: Int) -> [DumpBatch] {
        var out: [DumpBatch] = []
        var i = from
        while i < packed.count {
            let len = packed.range(i).count
            var n = 1
            while n < size, i + n < packed.count, packed.range(i + n).count == len { n += 1 }
            out.append(DumpBatch(first: i, count: n, length: len))
            i += n
        }
        return out
    }
}

/// What a worker hands to the writer thread for one batch: per sequence its tokens, and per output store and
/// sequence the rows built under that store's policy (empty for sequences the store already holds).
struct DumpBatchResult: Sendable {
    var tokens: [[UInt32]]
    /// rows[store][sequence in batch].
    var rows: [[TruncatedRows]]
    var forwardSeconds: Double
    var headSeconds: Double
    var truncateSeconds: Double
}

/// The teacher's work for one batch on one thread: forward pass (its own model replica and activations), LM head
/// in chunks of at most `headRows` rows into its own logits buffer, each chunk then truncated or sampled once per
/// output store with that store's own `TargetBuilder`. The chunking bounds the logits buffer (headRows × vocab
/// floats) whatever the sequence length. Sampled draws are keyed by the sequence's index in the input, which is
/// its ordinal in every store (each store holds the input's first sequences), so the bits do not depend on which
/// worker ran it.
final class DumpWorker {
    /// One output store as a worker sees it.
    struct Target {
        var policy: TruncationPolicy
        /// Sequences below this index are already in the store: no rows are built for them.
        var firstNeeded: Int
    }

    /// Rows per LM-head product by default: large enough for full-speed sgemm, small enough to bound memory
    /// (≈100 MB at a 49k vocabulary).
    static let defaultHeadRows = 512
    let headRows: Int
    let model: LlamaModel
    let targets: [Target]
    let builders: [TargetBuilder]
    let recordTargets: Bool
    private let logits: UnsafeMutableBufferPointer<Float>

    init(model: LlamaModel, seqLen: Int, targets: [Target], writerID: String, recordTargets: Bool,
         headRows: Int = DumpWorker.defaultHeadRows) throws {
        self.model = model
        self.headRows = max(1, headRows)
        self.recordTargets = recordTargets
        self.targets = targets
        builders = try targets.map { try TargetBuilder(vocabSize: model.config.vocabSize, policy: $0.policy, writerID: writerID) }
        logits = .allocate(capacity: min(seqLen, self.headRows) * model.config.vocabSize)
    }

    deinit { logits.deallocate() }

    func run(_ batch: DumpBatch, packed: PackedSequences) throws -> DumpBatchResult {
        let c = model.config
        let span = packed.range(batch.first).lowerBound..<packed.range(batch.first + batch.count - 1).upperBound
        let tokens = Array(packed.tokens[span])
        var t = DispatchTime.now()
        let hidden = try tokens.withUnsafeBufferPointer { try model.forward(tokens: $0, batch: batch.count, seqLen: batch.length, training: false) }
        var result = DumpBatchResult(tokens: [], rows: Array(repeating: [], count: targets.count), forwardSeconds: t.secondsSince,
                                     headSeconds: 0, truncateSeconds: 0)
        let len = batch.length
        for s in 0..<batch.count {
            let ordinal = batch.first + s
            let seq = Array(tokens[(s * len)..<((s + 1) * len)])
            let needed = targets.indices.filter { ordinal >= targets[$0].firstNeeded }
            var rows = [TruncatedRows](repeating: TruncatedRows(), count: targets.count)
            var r0 = 0
            while r0 < len && !needed.isEmpty {
                let n = min(headRows, len - r0)
                t = DispatchTime.now()
                LMHead.logits(hidden: hidden.baseAddress! + (s * len + r0) * c.dim, rows: n, dim: c.dim,
                              weight: model.outputWeight.baseAddress!, vocab: c.vocabSize, into: logits.baseAddress!)
                result.headSeconds += t.secondsSince
                t = DispatchTime.now()
                // Row j predicts the token at j + 1 (unknown for the last row of the sequence).
                let next: [UInt32?]? = recordTargets ? (r0..<(r0 + n)).map { $0 + 1 < len ? seq[$0 + 1] : nil } : nil
                let chunk = UnsafeBufferPointer(rebasing: logits[0..<(n * c.vocabSize)])
                for k in needed {
                    try builders[k].build(rows: chunk, sequenceOrdinal: ordinal, firstPosition: r0, nextTokens: next, into: &rows[k])
                }
                result.truncateSeconds += t.secondsSince
                r0 += n
            }
            result.tokens.append(seq)
            for k in targets.indices { result.rows[k].append(rows[k]) }
        }
        return result
    }
}

/// Hands batch indices to workers and their results back to the writer thread in batch order.
/// Workers stay at most `runAhead` batches ahead of the writer, so memory stays bounded.
final class OrderedHandOff: @unchecked Sendable {
    private let condition = NSCondition()
    private let total: Int
    private let runAhead: Int
    private var nextToClaim = 0
    private var nextToTake = 0
    private var cancelled = false
    private var results: [Int: Result<DumpBatchResult, Error>] = [:]

    init(total: Int, runAhead: Int) { self.total = total; self.runAhead = max(1, runAhead) }

    /// The next batch index for a worker, or nil when all are claimed or the run was cancelled.
    func claim() -> Int? {
        condition.lock(); defer { condition.unlock() }
        while !cancelled && nextToClaim < total && nextToClaim - nextToTake >= runAhead { condition.wait() }
        guard !cancelled, nextToClaim < total else { return nil }
        nextToClaim += 1
        return nextToClaim - 1
    }

    func put(_ index: Int, _ result: Result<DumpBatchResult, Error>) {
        condition.lock(); results[index] = result; condition.broadcast(); condition.unlock()
    }

    /// Waits for the result of batch `index` (called in order 0, 1, 2, …).
    func take(_ index: Int) -> Result<DumpBatchResult, Error> {
        condition.lock(); defer { condition.unlock() }
        while results[index] == nil { condition.wait() }
        nextToTake = index + 1
        condition.broadcast()
        return results.removeValue(forKey: index)!
    }

    /// Stops handing out batches (after an error); running batches finish and are dropped.
    func cancel() { condition.lock(); cancelled = true; condition.broadcast(); condition.unlock() }
}

extension DispatchTime {
    /// Seconds from this instant until now.
    var secondsSince: Double { Double(DispatchTime.now().uptimeNanoseconds - uptimeNanoseconds) / 1e9 }
}
