/// A shard's id table (Spec/FORMAT.md §4.6): the ids of the shard's first block ordered by frequency, which
/// defines a permutation π of 0..<V. The `rank+shuffle` filter stores π⁻¹(id) instead of id, so frequent ids get
/// small numbers whose high bytes are mostly zero — about 0.3 B per entry less than plain ids on real teacher data.
struct IdTable {
    /// The table as stored: distinct ids, most frequent first (ties: lower id first).
    let listed: [UInt32]
    /// π: rank → id (V entries): the listed ids, then every other id in ascending order.
    let idOfRank: [UInt32]

    init(listed: [UInt32], vocabSize: Int) {
        self.listed = listed
        var perm = listed
        perm.reserveCapacity(vocabSize)
        var inTable = [Bool](repeating: false, count: vocabSize)
        for id in listed { inTable[Int(id)] = true }
        for id in 0..<vocabSize where !inTable[id] { perm.append(UInt32(id)) }
        idOfRank = perm
    }

    /// The table for a shard whose first block holds `ids`.
    static func build(from ids: [UInt32], vocabSize: Int) -> IdTable {
        var freq = [UInt32](repeating: 0, count: vocabSize)
        for id in ids { freq[Int(id)] &+= 1 }
        var seen: [UInt32] = []
        for id in 0..<vocabSize where freq[id] > 0 { seen.append(UInt32(id)) }
        seen.sort { freq[Int($0)] != freq[Int($1)] ? freq[Int($0)] > freq[Int($1)] : $0 < $1 }
        return IdTable(listed: seen, vocabSize: vocabSize)
    }

    /// π⁻¹: id → rank (V entries), for the writer.
    func rankOfId() -> [UInt32] {
        var r = [UInt32](repeating: 0, count: idOfRank.count)
        for (rank, id) in idOfRank.enumerated() { r[Int(id)] = UInt32(rank) }
        return r
    }
}

/// π of a shard's id table for readers, without materialising all V entries (V comes from an untrusted manifest):
/// ranks below n map through the listed ids; rank r ≥ n is the (r − n)-th unlisted id in ascending order, found by
/// binary search over the sorted listed ids. Memory is proportional to n, which is at most the shard's entries.
struct RankMap: Sendable {
    /// π(r) for r < n.
    let listed: [UInt32]
    /// The listed ids in ascending order.
    let sortedListed: [UInt32]
    let vocabSize: Int

    /// `listed` must be distinct and below `vocabSize` (the caller validates it).
    init(listed: [UInt32], vocabSize: Int) {
        self.listed = listed; self.vocabSize = vocabSize
        sortedListed = listed.sorted()
    }

    /// π(rank), or nil when rank ≥ V.
    @inline(__always)
    func id(ofRank r: UInt32) -> UInt32? {
        if Int(r) < listed.count { return listed[Int(r)] }
        guard Int(r) < vocabSize else { return nil }
        // The k-th unlisted id x has j listed ids below it, x = k + j, and S[t] < x exactly when S[t] − t ≤ k.
        let k = UInt64(r) - UInt64(listed.count)
        var lo = 0, hi = sortedListed.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if UInt64(sortedListed[mid]) - UInt64(mid) <= k { lo = mid + 1 } else { hi = mid }
        }
        return UInt32(k + UInt64(lo))
    }
}
