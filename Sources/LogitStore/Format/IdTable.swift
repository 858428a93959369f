/// A shard's id table (Spec/FORMAT.md §4.7): the ids of the shard's first block ordered by frequency, which
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
