import Foundation
import LogitStore

/// One training batch: `batch` windows of `seqLen` positions, flattened row-major.
public struct Batch {
    /// Input tokens, one per position.
    public var tokens: [UInt32] = []
    /// The true next token of each position, or −1 at the end of a stored sequence (no LM loss there).
    public var next: [Int32] = []
    /// Teacher targets per position (offsets has positions + 1 entries); empty when targets are not read.
    public var targetOffsets: [Int] = [0]
    /// Kept teacher ids of every position, concatenated.
    public var ids: [UInt32] = []
    /// Their target probabilities (at temperature 1, after read-time re-truncation).
    public var probs: [Float] = []
    /// Per position, the dropped-mass bucket, when targets carry it.
    public var dropped: [Float]? = nil

    /// Positions in the batch.
    public var positions: Int { tokens.count }
    /// True when every position has a teacher target.
    public var hasTargets: Bool { targetOffsets.count == tokens.count + 1 && tokens.count > 0 }

    mutating func removeAll() {
        tokens.removeAll(keepingCapacity: true); next.removeAll(keepingCapacity: true)
        targetOffsets.removeAll(keepingCapacity: true); targetOffsets.append(0)
        ids.removeAll(keepingCapacity: true); probs.removeAll(keepingCapacity: true)
        dropped = nil
    }
}

/// Where a window source stands (saved with checkpoints).
public struct WindowSourceState: Codable, Equatable, Sendable {
    /// The sequence order's state before the sequence being cut into windows was drawn.
    public var orderBefore: IterationState
    /// Next window inside that sequence.
    public var window: Int
}

/// Cuts stored sequences into consecutive windows of `seqLen` positions and hands them out in a
/// deterministic shuffled order of sequences (or in store order for evaluation).
///
/// Alignment (Spec/FORMAT.md): the distribution stored at position j predicts token j + 1. Inside a window
/// the next token of its last position is the first token of the following window; at the last position of
/// a stored sequence the next token is unknown, so that position has a teacher target but no LM loss.
public final class WindowSource {
    let reader: StoreReader
    /// Positions per window.
    public let seqLen: Int
    let targetOptions: TargetOptions?
    /// Which sequences of the store this source draws from.
    let sequences: [Int]
    var order: SequenceOrder?
    var sequential = 0
    var orderBefore = IterationState()
    var current: (record: SequenceRecord, targets: SparseTargets?, windows: Int)?
    var window = 0

    /// - Parameters:
    ///   - sequences: the store's sequences to use (training part or held-out part).
    ///   - shuffledWithSeed: a seed for a shuffled endless order; nil for one pass in the given order.
    ///   - targets: read-time target options, or nil to read tokens only (LM-only runs and evaluation).
    public init(reader: StoreReader, sequences: [Int], seqLen: Int, shuffledWithSeed seed: UInt64?, targets: TargetOptions?) throws {
        self.reader = reader; self.seqLen = seqLen; self.targetOptions = targets; self.sequences = sequences
        guard !sequences.isEmpty else { throw TrainerError.storeMismatch("no sequences to read") }
        let usable = sequences.contains { reader.sequenceRange($0).count >= seqLen }
        guard usable else {
            throw TrainerError.storeMismatch("no stored sequence has \(seqLen) positions; use a smaller seqLen (stored length \(reader.sequenceRange(sequences[0]).count))")
        }
        if let seed { order = SequenceOrder(sequenceCount: sequences.count, seed: seed) }
    }

    /// Where the source is (saved with checkpoints).
    public var state: WindowSourceState { WindowSourceState(orderBefore: orderBefore, window: window) }

    /// Positions per pass over these sequences.
    public var positionsPerPass: Int {
        sequences.reduce(0) { $0 + reader.sequenceRange($1).count / seqLen * seqLen }
    }

    /// Resumes a saved state: re-draws the sequence that was in progress and skips its used windows.
    public func restore(_ s: WindowSourceState) throws {
        guard order != nil else { return }
        order!.state = s.orderBefore
        current = nil
        try load()
        window = s.window
    }

    private func load() throws {
        while true {
            let index: Int
            if order != nil {
                orderBefore = order!.state
                index = sequences[order!.next()]
            } else {
                guard sequential < sequences.count else { current = nil; return }
                index = sequences[sequential]; sequential += 1
            }
            let n = reader.sequenceRange(index).count / seqLen
            if n == 0 { continue }
            let record = try reader.sequence(index)
            let targets = try targetOptions.map { try record.targets($0) }
            current = (record, targets, n)
            window = 0
            return
        }
    }

    /// Appends one window to `batch`; false when a one-pass source is exhausted.
    public func appendWindow(to batch: inout Batch) throws -> Bool {
        if current == nil || window >= current!.windows { try load() }
        guard let cur = current else { return false }
        let start = window * seqLen
        let length = cur.record.tokens.count
        for j in start..<(start + seqLen) {
            batch.tokens.append(cur.record.tokens[j])
            batch.next.append(j + 1 < length ? Int32(cur.record.tokens[j + 1]) : -1)
        }
        if let t = cur.targets {
            for j in start..<(start + seqLen) {
                let a = t.offsets[j], b = t.offsets[j + 1]
                batch.ids.append(contentsOf: t.ids[a..<b])
                batch.probs.append(contentsOf: t.probs[a..<b])
                batch.targetOffsets.append(batch.ids.count)
            }
            if let d = t.droppedMass {
                if batch.dropped == nil { batch.dropped = [] }
                batch.dropped!.append(contentsOf: d[start..<(start + seqLen)])
            }
        }
        window += 1
        return true
    }

    /// Fills a batch of up to `windows` windows (fewer only when a one-pass source runs out).
    public func fill(_ batch: inout Batch, windows: Int) throws {
        batch.removeAll()
        for _ in 0..<windows { if try !appendWindow(to: &batch) { break } }
    }
}
