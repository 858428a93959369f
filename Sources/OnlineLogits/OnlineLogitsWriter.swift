import LogitStore

/// Online logits (PD §3.5): a training loop whose model is itself the teacher hands its logits rows to a store
/// while it trains. The loop computes the LM head in chunks of positions, so this type takes a sequence's rows
/// chunk by chunk, truncates each chunk at once (softmax, top-p, top-k, with the policy of the store), and
/// appends the whole sequence to the `StoreWriter` when it ends. It never holds more than one chunk of full rows.
///
/// It knows nothing of models: any trainer (or a PyTorch bridge) can use it. Depends only on LogitStore.
///
///     let online = try OnlineLogitsWriter(writer: try StoreWriter(directory: dir, options: opts))
///     try online.beginSequence(tokens: seq)
///     for chunk in chunks { try online.appendRows(chunkLogits) }      // rows in position order
///     try online.endSequence()
///     ...
///     try online.finish()
public final class OnlineLogitsWriter {
    /// The store writer the finished sequences are appended to.
    public let writer: StoreWriter
    private let truncator: Truncator
    private var tokens: [UInt32] = []
    private var rows = TruncatedRows()
    private var rowsSeen = 0
    private var open = false

    /// Wraps `writer`, truncating rows with the store's own policy, vocabulary and row width.
    public init(writer: StoreWriter) throws {
        self.writer = writer
        truncator = try Truncator(vocabSize: writer.options.vocabSize, rowWidth: writer.options.rowWidth, policy: writer.options.policy)
    }

    /// Sequences of this writer already durable in the store (skip them when resuming).
    public var committedSequenceCount: Int { writer.committedSequenceCount }

    /// Starts a sequence of `tokens`; its rows follow through `appendRows`.
    public func beginSequence(tokens: [UInt32]) throws {
        guard !open else { throw StoreError.invalidInput("beginSequence while a sequence is open (call endSequence or discardSequence first)") }
        guard !tokens.isEmpty else { throw StoreError.invalidInput("a sequence needs at least one token") }
        self.tokens = tokens
        rows.removeAll()
        rowsSeen = 0
        open = true
    }

    /// The next rows of the open sequence (row-major, width `writer.options.rowWidth`), in position order.
    /// On bad rows (NaN, wrong width, too many rows) the sequence is discarded and the error thrown.
    public func appendRows(_ logits: UnsafeBufferPointer<Float>) throws {
        guard open else { throw StoreError.invalidInput("appendRows without beginSequence") }
        let width = writer.options.rowWidth
        guard logits.count % width == 0 else {
            discardSequence()
            throw StoreError.invalidInput("logits length \(logits.count) is not a multiple of the row width \(width)")
        }
        let n = logits.count / width
        guard rowsSeen + n <= tokens.count else {
            discardSequence()
            throw StoreError.invalidInput("\(rowsSeen + n) logits rows for a sequence of \(tokens.count) tokens")
        }
        let next: [UInt32?]? = writer.options.recordTargetLogprobs
            ? (rowsSeen..<(rowsSeen + n)).map { $0 + 1 < tokens.count ? tokens[$0 + 1] : nil } : nil
        do { try truncator.truncate(rows: logits, nextTokens: next, into: &rows) } catch { discardSequence(); throw error }
        rowsSeen += n
    }

    /// Ends the open sequence: every position must have had its row. Appends it to the store.
    public func endSequence() throws {
        guard open else { throw StoreError.invalidInput("endSequence without beginSequence") }
        defer { discardSequence() }
        guard rowsSeen == tokens.count else {
            throw StoreError.invalidInput("sequence of \(tokens.count) tokens ended after \(rowsSeen) logits rows")
        }
        try writer.append(tokens: tokens, truncated: rows)
    }

    /// Drops the open sequence (nothing of it reaches the store).
    public func discardSequence() {
        open = false
        rowsSeen = 0
        rows.removeAll()
    }

    /// Commits everything appended so far and writes the manifest.
    public func finish() throws {
        if open { discardSequence() }
        try writer.finish()
    }
}
