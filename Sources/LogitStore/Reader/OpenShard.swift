/// A memory-mapped shard with its parsed and bounds-checked footer index.
final class OpenShard {
    let name: String
    let file: MappedFile
    let blocks: [BlockEntry]
    let sequences: [SequenceEntry]
    let positions: Int
    let entries: Int
    let indexOffset: Int
    let indexLength: Int
    let hasTargets: Bool
    let idTableRange: Range<Int>
    let idTableChecksum: UInt64
    /// π (rank → id), decoded on first use.
    private var idOfRank: [UInt32]?

    /// Opens and checks the shard; `descriptorHash` is the manifest's store descriptor hash (header offset 24).
    init(path: String, name: String, entry: Manifest.ShardEntry, vocabSize: Int, descriptorHash: UInt64, verifyIndex: Bool) throws {
        self.name = name
        file = try MappedFile(path: path)
        func bad(_ s: String) -> StoreError { .corrupt(file: name, block: nil, detail: s) }
        let size = file.count
        guard size == entry.bytes else {
            throw bad("file is \(size) bytes, the manifest says \(entry.bytes)\(size < entry.bytes ? " (truncated)" : "")")
        }
        guard size >= ShardLayout.headerSize + ShardLayout.indexHeaderSize + ShardLayout.trailerSize else { throw bad("file too short for a shard (\(size) bytes)") }
        var h = ByteCursor(file.base, count: size)
        guard h.bytes(8)! == ShardLayout.headerMagic else { throw bad("bad magic at file start (not a logitstore shard)") }
        let major = h.read(UInt16.self)!, _ = h.read(UInt16.self)!, flags = h.read(UInt32.self)!
        let vocab = h.read(UInt64.self)!, descriptor = h.read(UInt64.self)!
        guard major == ShardLayout.versionMajor else {
            throw StoreError.incompatible("\(name) has shard format version \(major); this reader reads version \(ShardLayout.versionMajor) only")
        }
        guard flags == 0 else { throw bad("reserved header flags are not zero") }
        guard vocab == UInt64(vocabSize) else { throw bad("shard vocabulary \(vocab) differs from the manifest's \(vocabSize)") }
        guard descriptor == descriptorHash else {
            throw bad("manifest does not match shard \(name): its store descriptor hash is \(Checksum.hex(descriptor)), the manifest's is \(Checksum.hex(descriptorHash)) (a store-level field of manifest.json was changed)")
        }

        var t = ByteCursor(file.base, count: size, offset: size - ShardLayout.trailerSize)
        let io = t.read(UInt64.self)!, il = t.read(UInt64.self)!, isum = t.read(UInt64.self)!
        guard t.bytes(8)! == ShardLayout.trailerMagic else { throw bad("bad trailer magic (file truncated or not finished)") }
        guard io >= UInt64(ShardLayout.headerSize), il >= UInt64(ShardLayout.indexHeaderSize),
              io <= UInt64(size), il <= UInt64(size), io + il == UInt64(size - ShardLayout.trailerSize) else {
            throw bad("index offset \(io) / length \(il) do not fit the file (\(size) bytes)")
        }
        indexOffset = Int(io); indexLength = Int(il)
        let indexBytes = UnsafeRawBufferPointer(start: file.base + indexOffset, count: indexLength)
        if verifyIndex && Checksum.xxh3(indexBytes) != isum {
            throw StoreError.checksumMismatch(file: name, block: nil, what: "footer index")
        }
        var c = ByteCursor(file.base, count: indexOffset + indexLength, offset: indexOffset)
        let nb = c.read(UInt64.self)!, ns = c.read(UInt64.self)!, np = c.read(UInt64.self)!, ne = c.read(UInt64.self)!
        let to = c.read(UInt64.self)!, tl = c.read(UInt64.self)!, tsum = c.read(UInt64.self)!
        guard c.read(UInt64.self)! == 0 else { throw bad("reserved index field is not zero") }
        let expected = UInt64(ShardLayout.indexHeaderSize).addingReportingOverflow(
            nb.multipliedReportingOverflow(by: UInt64(ShardLayout.blockEntrySize)).partialValue
            + ns.multipliedReportingOverflow(by: UInt64(ShardLayout.sequenceEntrySize)).partialValue).partialValue
        guard nb < UInt64(size), ns < UInt64(size), expected == il else {
            throw bad("index length \(il) does not match \(nb) blocks and \(ns) sequences")
        }
        var blocks: [BlockEntry] = []
        blocks.reserveCapacity(Int(nb))
        // Id table section: [to, to + tl) after the last block and before the index; validated here, decoded lazily.
        if tl == 0 {
            guard to == 0, tsum == 0 else { throw bad("id table offset/checksum set without a table") }
        } else {
            guard to >= UInt64(ShardLayout.headerSize), tl >= UInt64(ShardLayout.idTableHeaderSize), to <= io, tl == io - to else {
                throw bad("id table [\(to), +\(tl)) does not end at the index offset \(io)")
            }
        }
        idTableRange = Int(to)..<Int(to + tl)
        idTableChecksum = tsum
        var pos: UInt64 = 0, ent: UInt64 = 0, end = UInt64(ShardLayout.headerSize)
        for b in 0..<Int(nb) {
            let e = BlockEntry(offset: c.read(UInt64.self)!, firstPosition: c.read(UInt64.self)!, firstEntry: c.read(UInt64.self)!,
                               storedBytes: c.read(UInt32.self)!, rawBytes: c.read(UInt32.self)!, positionCount: c.read(UInt32.self)!,
                               entryCount: c.read(UInt32.self)!, checksum: c.read(UInt64.self)!)
            func badBlock(_ s: String) -> StoreError { .corrupt(file: name, block: b, detail: s) }
            let limit = tl == 0 ? io : to
            guard e.offset == end, e.offset <= limit, UInt64(e.storedBytes) <= limit - e.offset,
                  e.storedBytes >= UInt32(ShardLayout.blockHeaderSize) else {
                throw badBlock("block bytes [\(e.offset), +\(e.storedBytes)) do not follow the previous block (which ends at \(end)) inside the data area ending at \(limit)")
            }
            guard e.firstPosition == pos, e.firstEntry == ent, e.positionCount > 0, e.entryCount >= e.positionCount else {
                throw badBlock("block positions/entries are not contiguous or empty (first position \(e.firstPosition), expected \(pos); \(e.positionCount) positions, \(e.entryCount) entries)")
            }
            pos += UInt64(e.positionCount); ent += UInt64(e.entryCount); end = e.offset + UInt64(e.storedBytes)
            blocks.append(e)
        }
        guard end == (tl == 0 ? io : to) else { throw bad("\((tl == 0 ? io : to) - end) bytes between the last block and the \(tl == 0 ? "index" : "id table")") }
        guard pos == np, ent == ne else { throw bad("blocks hold \(pos) positions / \(ent) entries, the index says \(np) / \(ne)") }
        var seqs: [SequenceEntry] = []
        seqs.reserveCapacity(Int(ns))
        var sp: UInt64 = 0
        for _ in 0..<Int(ns) {
            let s = SequenceEntry(firstPosition: c.read(UInt64.self)!, length: c.read(UInt64.self)!)
            guard s.firstPosition == sp, s.length > 0, s.length <= np - sp else { throw bad("sequence table is not contiguous at position \(sp)") }
            sp += s.length
            seqs.append(s)
        }
        guard sp == np else { throw bad("sequences cover \(sp) of \(np) positions") }
        guard Int(np) == entry.positions, Int(ns) == entry.sequences, Int(ne) == entry.entries else {
            throw bad("index holds \(ns) sequences / \(np) positions / \(ne) entries, the manifest says \(entry.sequences) / \(entry.positions) / \(entry.entries)")
        }
        self.blocks = blocks; self.sequences = seqs; positions = Int(np); entries = Int(ne)
        hasTargets = false
    }

    /// The id table's π (rank → id), or nil when the shard has none. Checks the section's checksum (when `verify`),
    /// its header, and that the listed ids are distinct and below the vocabulary.
    func idTable(vocabSize: Int, verify: Bool) throws -> [UInt32]? {
        if let t = idOfRank { return t }
        guard !idTableRange.isEmpty else { return nil }
        func bad(_ s: String) -> StoreError { .corrupt(file: name, block: nil, detail: "id table: " + s) }
        let bytes = UnsafeRawBufferPointer(start: file.base + idTableRange.lowerBound, count: idTableRange.count)
        if verify && Checksum.xxh3(bytes) != idTableChecksum { throw StoreError.checksumMismatch(file: name, block: nil, what: "id table") }
        var c = ByteCursor(bytes.baseAddress!, count: bytes.count)
        let codecRaw = c.read(UInt8.self)!, filterRaw = c.read(UInt8.self)!, width = Int(c.read(UInt8.self)!), r = c.read(UInt8.self)!
        let n = Int(c.read(UInt32.self)!), raw = Int(c.read(UInt32.self)!), stored = Int(c.read(UInt32.self)!)
        guard r == 0 else { throw bad("reserved byte is not zero") }
        guard let codec = CodecID(rawValue: codecRaw), let filter = FilterID(rawValue: filterRaw), filter == .shuffle || filter == .none else {
            throw bad("unknown codec \(codecRaw) or filter \(filterRaw)")
        }
        guard [1, 2, 4].contains(width), n >= 1, n <= vocabSize, n <= entries, raw == n * width, stored == bytes.count - ShardLayout.idTableHeaderSize else {
            throw bad("inconsistent sizes (count \(n), width \(width), raw \(raw), stored \(stored))")
        }
        var rawBytes = [UInt8](repeating: 0, count: raw)
        let err = rawBytes.withUnsafeMutableBytes {
            Compressor().decompress(UnsafeRawBufferPointer(rebasing: bytes[ShardLayout.idTableHeaderSize...]), codec: codec, into: $0)
        }
        if let err { throw StoreError.codec(file: name, block: nil, detail: "id table: \(err)") }
        var listed = [UInt32](repeating: 0, count: n)
        rawBytes.withUnsafeBufferPointer { src in
            listed.withUnsafeMutableBufferPointer { Filters.decode(src.baseAddress!, count: n, width: width, filter: filter, into: $0.baseAddress!) }
        }
        // Distinct and below V, checked on a sorted copy (memory proportional to the table, not to V).
        let sorted = listed.sorted()
        for (k, id) in sorted.enumerated() {
            guard Int(id) < vocabSize, k == 0 || sorted[k - 1] != id else { throw bad("id \(id) is out of range or listed twice") }
        }
        let t = IdTable(listed: listed, vocabSize: vocabSize).idOfRank
        idOfRank = t
        return t
    }

    /// The block holding shard-local position `p` (binary search).
    func blockIndex(forPosition p: Int) -> Int {
        var lo = 0, hi = blocks.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) >> 1
            if Int(blocks[mid].firstPosition) <= p { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    func blockBytes(_ b: Int) -> UnsafeRawBufferPointer {
        let e = blocks[b]
        return UnsafeRawBufferPointer(start: file.base + Int(e.offset), count: Int(e.storedBytes))
    }
}
