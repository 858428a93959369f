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
    let idTableRange: Range<Int>
    let idTableChecksum: UInt64
    /// π (rank → id), decoded on first use.
    private var rankMap: RankMap?

    /// Opens and checks the shard (Spec/FORMAT.md §7.4 steps 2–5); `descriptorHash` is the manifest's store
    /// descriptor hash, which header offset 24 must hold.
    init(path: String, name: String, entry: Manifest.ShardEntry, vocabSize: Int, descriptorHash: UInt64, verifyIndex: Bool) throws {
        self.name = name
        file = try MappedFile(path: path)
        func bad(_ s: String) -> StoreError { .corrupt(file: name, block: nil, detail: s) }
        func parsed<T: FormatTable>(_: T.Type, _ r: inout ByteReader) throws -> T {
            do { return try T(parsing: &r) } catch { throw bad(error.description) }
        }
        let size = file.count
        guard size == entry.bytes else {
            throw bad("file is \(size) bytes, the manifest says \(entry.bytes)\(size < entry.bytes ? " (truncated)" : "")")
        }
        let minimum = ShardHeader.size + IndexHeader.size + ShardTrailer.size
        guard size >= minimum else { throw bad("file too short for a shard (\(size) bytes)") }
        let all = file.bytes
        var hr = ByteReader(all)
        let header: ShardHeader
        do { header = try ShardHeader(parsing: &hr) } catch .badMagic(_) { throw bad("bad magic at file start (not a logitstore shard)") }
            catch { throw bad(error.description) }
        guard header.versionMajor == ShardLayout.versionMajor else {
            throw StoreError.incompatible("\(name) has shard format version \(header.versionMajor); this reader reads version \(ShardLayout.versionMajor) only")
        }
        guard header.vocabSize == UInt64(vocabSize) else { throw bad("shard vocabulary \(header.vocabSize) differs from the manifest's \(vocabSize)") }
        guard header.descriptorHash == descriptorHash else {
            throw bad("manifest does not match shard \(name): its store descriptor hash is \(Checksum.hex(header.descriptorHash)), the manifest's is \(Checksum.hex(descriptorHash)) (a store-level field of manifest.json was changed)")
        }

        var tr = ByteReader(all, offset: size - ShardTrailer.size)
        let trailer: ShardTrailer
        do { trailer = try ShardTrailer(parsing: &tr) } catch .badMagic(_) { throw bad("bad trailer magic (file truncated or not finished)") }
            catch { throw bad(error.description) }
        let io = trailer.indexOffset, il = trailer.indexLength
        guard io >= UInt64(ShardHeader.size), il >= UInt64(IndexHeader.size), io <= UInt64(size), il <= UInt64(size),
              io + il == UInt64(size - ShardTrailer.size) else {
            throw bad("index offset \(io) / length \(il) do not fit the file (\(size) bytes)")
        }
        indexOffset = Int(io); indexLength = Int(il)
        let indexBytes = UnsafeRawBufferPointer(rebasing: all[indexOffset..<(indexOffset + indexLength)])
        if verifyIndex && Checksum.xxh3(indexBytes) != trailer.indexChecksum {
            throw StoreError.checksumMismatch(file: name, block: nil, what: "footer index")
        }
        var c = ByteReader(indexBytes)
        let index = try parsed(IndexHeader.self, &c)
        guard let expected = index.expectedIndexLength, expected == il else {
            throw bad("index length \(il) does not match \(index.blockCount) blocks and \(index.sequenceCount) sequences")
        }
        // The index length matches the file, so B and S are bounded by the file size: these allocations are too.
        let nb = Int(index.blockCount), ns = Int(index.sequenceCount), np = index.positionCount, ne = index.entryCount
        let to = index.idTableOffset, tl = index.idTableLength
        // Id table section: from the end of the last block to the index offset; validated here, decoded lazily.
        if tl == 0 {
            guard to == 0, index.idTableChecksum == 0 else { throw bad("id table offset/checksum set without a table") }
        } else {
            guard to >= UInt64(ShardHeader.size), tl >= UInt64(IdTableHeader.size), to <= io, tl == io - to else {
                throw bad("id table [\(to), +\(tl)) does not end at the index offset \(io)")
            }
        }
        idTableRange = Int(to)..<Int(to + tl)
        idTableChecksum = index.idTableChecksum
        let limit = tl == 0 ? io : to
        var blocks: [BlockEntry] = []
        blocks.reserveCapacity(nb)
        var pos: UInt64 = 0, ent: UInt64 = 0, end = UInt64(ShardHeader.size)
        for b in 0..<nb {
            let e = try parsed(BlockEntry.self, &c)
            func badBlock(_ s: String) -> StoreError { .corrupt(file: name, block: b, detail: s) }
            guard e.offset == end, e.offset <= limit, UInt64(e.storedBytes) <= limit - e.offset,
                  e.storedBytes >= UInt32(BlockHeader.size) else {
                throw badBlock("block bytes [\(e.offset), +\(e.storedBytes)) do not follow the previous block (which ends at \(end)) inside the data area ending at \(limit)")
            }
            guard Int(e.rawBytes) <= ShardLayout.maximumRawBytes else {
                throw badBlock("raw size \(e.rawBytes) is above the limit of \(ShardLayout.maximumRawBytes) bytes")
            }
            guard e.firstPosition == pos, e.firstEntry == ent, e.positionCount > 0, e.entryCount >= e.positionCount else {
                throw badBlock("block positions/entries are not contiguous or empty (first position \(e.firstPosition), expected \(pos); \(e.positionCount) positions, \(e.entryCount) entries)")
            }
            pos += UInt64(e.positionCount); ent += UInt64(e.entryCount); end = e.offset + UInt64(e.storedBytes)
            blocks.append(e)
        }
        guard end == limit else { throw bad("\(limit - end) bytes between the last block and the \(tl == 0 ? "index" : "id table")") }
        guard pos == np, ent == ne else { throw bad("blocks hold \(pos) positions / \(ent) entries, the index says \(np) / \(ne)") }
        var seqs: [SequenceEntry] = []
        seqs.reserveCapacity(ns)
        var sp: UInt64 = 0
        for _ in 0..<ns {
            let s = try parsed(SequenceEntry.self, &c)
            guard s.firstPosition == sp, s.length > 0, s.length <= np - sp else { throw bad("sequence table is not contiguous at position \(sp)") }
            sp += s.length
            seqs.append(s)
        }
        guard sp == np else { throw bad("sequences cover \(sp) of \(np) positions") }
        guard np == UInt64(entry.positions), ns == entry.sequences, ne == UInt64(entry.entries) else {
            throw bad("index holds \(ns) sequences / \(np) positions / \(ne) entries, the manifest says \(entry.sequences) / \(entry.positions) / \(entry.entries)")
        }
        self.blocks = blocks; self.sequences = seqs; positions = Int(np); entries = Int(ne)
    }

    /// The id table's π (rank → id), or nil when the shard has none. Checks the section's checksum (when `verify`),
    /// its header, and that the listed ids are distinct and below the vocabulary.
    func idTable(vocabSize: Int, verify: Bool) throws -> RankMap? {
        if let t = rankMap { return t }
        guard !idTableRange.isEmpty else { return nil }
        func bad(_ s: String) -> StoreError { .corrupt(file: name, block: nil, detail: "id table: " + s) }
        let bytes = UnsafeRawBufferPointer(start: file.base + idTableRange.lowerBound, count: idTableRange.count)
        if verify && Checksum.xxh3(bytes) != idTableChecksum { throw StoreError.checksumMismatch(file: name, block: nil, what: "id table") }
        let h: IdTableHeader
        do { h = try IdTableHeader.parse(bytes) } catch { throw bad(error.description) }
        let width = Int(h.width), n = Int(h.count), raw = Int(h.rawBytes), stored = Int(h.storedBytes)
        guard let codec = CodecID(rawValue: h.codec), let filter = FilterID(rawValue: h.filter), filter == .shuffle || filter == .none else {
            throw bad("unknown codec \(h.codec) or filter \(h.filter)")
        }
        guard [1, 2, 4].contains(width), n >= 1, n <= vocabSize, n <= entries, raw == n * width, raw <= ShardLayout.maximumRawBytes,
              stored == bytes.count - IdTableHeader.size else {
            throw bad("inconsistent sizes (count \(n), width \(width), raw \(raw), stored \(stored))")
        }
        var rawBytes = [UInt8](repeating: 0, count: raw)
        let err = rawBytes.withUnsafeMutableBytes {
            Compressor().decompress(UnsafeRawBufferPointer(rebasing: bytes[IdTableHeader.size...]), codec: codec, into: $0)
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
        let t = RankMap(listed: listed, vocabSize: vocabSize)
        rankMap = t
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
