import LogitStore

/// The resume check of an import: every sequence the writer id already committed must be what this input gives
/// at that index, compared as `logitstore dump` compares its resumed sequences, and more strictly: tokens always;
/// for truncated input also counts, ids, probabilities and target log-probs bit for bit; for logits input the
/// truncation of the input rows (top-p-k policies; a sampled policy's draws depend on the writer, so there
/// only the tokens are compared).
struct ImportResume {
    /// The input, one sequence at a time: the tokens and the rows the writer would store for sequence `s`.
    let expectedTokens: (Int) -> [UInt32]
    let expectedRows: (Int) throws -> TruncatedRows?

    /// Throws `InterchangeError.resumeMismatch` at the first committed sequence of `writerID` that differs.
    func check(store: String, writerID: String, committed: Int) throws {
        guard committed > 0 else { return }
        let reader = try StoreReader(directory: store)
        var global = 0, own = 0
        for shard in reader.manifest.shards {
            defer { global += shard.sequences }
            guard shard.writerID == writerID else { continue }
            for g in global..<(global + shard.sequences) where own < committed {
                let stored = try reader.sequence(g)
                if let field = try difference(stored, sequence: own) {
                    throw InterchangeError.resumeMismatch(store: store, sequence: own, field: field)
                }
                own += 1
            }
        }
    }

    /// The first field in which the stored sequence differs from the input's sequence `s`, or nil.
    private func difference(_ stored: SequenceRecord, sequence s: Int) throws -> String? {
        guard stored.tokens == expectedTokens(s) else { return "tokens" }
        guard let rows = try expectedRows(s) else { return nil }
        var offsets = [0]
        offsets.reserveCapacity(rows.counts.count + 1)
        for c in rows.counts { offsets.append(offsets.last! + Int(c)) }
        guard stored.offsets == offsets else { return "counts" }
        guard stored.ids == rows.ids else { return "ids" }
        guard stored.probs.map(\.bitPattern) == rows.probs.map(\.bitPattern) else { return "probs" }
        if let want = rows.targetLogprobs, let got = stored.targetLogprobs, want.map(\.bitPattern) != got.map(\.bitPattern) {
            return "target log-probs"
        }
        return nil
    }
}
