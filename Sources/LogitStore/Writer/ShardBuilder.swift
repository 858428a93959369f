#if canImport(Glibc)
import Glibc
#endif

/// Writes one shard file: header, blocks, then the footer index and trailer.
final class ShardBuilder {
    let tempPath: String
    private var fd: Int32
    private let hasher = Checksum.Streaming()
    private(set) var bytesWritten = 0
    private(set) var blocks: [BlockEntry] = []
    private(set) var sequences: [SequenceEntry] = []
    private(set) var positions = 0
    private(set) var entries = 0
    private var buffer: [UInt8] = []
    private let vocabSize: Int
    /// Built from the first block when the ids use the rank filter.
    private var idTable: IdTable?
    private var rankOfId: [UInt32]?

    /// `descriptorHash`: the store descriptor hash of the manifest the shard will join (header offset 24).
    init(tempPath: String, vocabSize: Int, descriptorHash: UInt64) throws {
        self.tempPath = tempPath
        self.vocabSize = vocabSize
        fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DurableFile.fail(tempPath, "create") }
        try emit(ShardHeader(vocabSize: UInt64(vocabSize), descriptorHash: descriptorHash).bytes)
    }

    deinit { if fd >= 0 { close(fd) } }

    private func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { b in
            try DurableFile.writeAll(fd: fd, b, path: tempPath)
            hasher.update(b)
        }
        bytesWritten += bytes.count
    }

    /// Blocks held back until the id table is built (rank filter only).
    private var pending: [BlockContent] = []
    private var pendingLogical = 0
    /// The id table is built from the shard's first blocks, up to this much logical data (4 MiB).
    static let idTableSampleBytes = 4 << 20

    /// Logical bytes of blocks held back (not yet written).
    var pendingLogicalBytes: Int { pendingLogical }
    /// Positions in blocks held back.
    var pendingPositions: Int { pending.reduce(0) { $0 + $1.positionCount } }

    /// Encodes and writes one block (held back while the id table is still being sampled).
    func addBlock(_ c: BlockContent, encoder: BlockEncoder, codec: Codec, plan: EncodingPlan) throws {
        if plan.ids == .rankShuffle && idTable == nil {
            pending.append(c)
            pendingLogical += c.logicalBytes
            if pendingLogical >= ShardBuilder.idTableSampleBytes { try flushPending(encoder: encoder, codec: codec, plan: plan) }
            return
        }
        try writeBlock(c, encoder: encoder, codec: codec, plan: plan)
    }

    /// Builds the id table from the held-back blocks and writes them.
    func flushPending(encoder: BlockEncoder, codec: Codec, plan: EncodingPlan) throws {
        guard idTable == nil, !pending.isEmpty else { return }
        var sample: [UInt32] = []
        sample.reserveCapacity(pending.reduce(0) { $0 + $1.entryCount })
        for b in pending { sample.append(contentsOf: b.ids) }
        idTable = IdTable.build(from: sample, vocabSize: vocabSize)
        rankOfId = idTable!.rankOfId()
        let blocks = pending
        pending = []; pendingLogical = 0
        for b in blocks { try writeBlock(b, encoder: encoder, codec: codec, plan: plan) }
    }

    private func writeBlock(_ c: BlockContent, encoder: BlockEncoder, codec: Codec, plan: EncodingPlan) throws {
        buffer.removeAll(keepingCapacity: true)
        let raw = try encoder.encode(c, codec: codec, plan: plan, rankOfId: rankOfId, into: &buffer)
        guard buffer.count <= Int(UInt32.max), raw <= ShardLayout.maximumRawBytes else {
            throw StoreError.invalidInput("block too large (\(buffer.count) bytes); lower blockTargetBytes")
        }
        let sum = buffer.withUnsafeBytes { Checksum.xxh3($0) }
        blocks.append(BlockEntry(offset: UInt64(bytesWritten), firstPosition: UInt64(positions), firstEntry: UInt64(entries),
                                 storedBytes: UInt32(buffer.count), rawBytes: UInt32(raw),
                                 positionCount: UInt32(c.positionCount), entryCount: UInt32(c.entryCount), checksum: sum))
        positions += c.positionCount
        entries += c.entryCount
        try emit(buffer)
    }

    /// Records a sequence whose positions end at the current position count plus `pending` unflushed ones.
    func addSequence(firstPosition: Int, length: Int) {
        sequences.append(SequenceEntry(firstPosition: UInt64(firstPosition), length: UInt64(length)))
    }

    /// Writes index and trailer, fsyncs and closes. Returns (file size, whole-file XXH3-64).
    func finish(codec: Codec, encoder: BlockEncoder, plan: EncodingPlan) throws -> (Int, UInt64) {
        try flushPending(encoder: encoder, codec: codec, plan: plan)
        // The id table section, between the last block and the index.
        var tableOffset = 0, tableLength = 0
        var tableSum: UInt64 = 0
        if let t = idTable {
            var raw: [UInt8] = []
            let w = Filters.width(forMax: t.listed.max() ?? 0)
            t.listed.withUnsafeBufferPointer { Filters.encode($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, count: t.listed.count, width: w, filter: .shuffle, into: &raw) }
            var payload: [UInt8] = []
            let used = try raw.withUnsafeBytes { try Compressor().compress($0, codec: codec, into: &payload) }
            var section = IdTableHeader(codec: used.rawValue, filter: FilterID.shuffle.rawValue, width: UInt8(w), count: UInt32(t.listed.count),
                                        rawBytes: UInt32(raw.count), storedBytes: UInt32(payload.count)).bytes
            section += payload
            tableOffset = bytesWritten; tableLength = section.count
            tableSum = Checksum.xxh3(section)
            try emit(section)
        }
        var idx = IndexHeader(blockCount: UInt64(blocks.count), sequenceCount: UInt64(sequences.count), positionCount: UInt64(positions),
                              entryCount: UInt64(entries), idTableOffset: UInt64(tableOffset), idTableLength: UInt64(tableLength),
                              idTableChecksum: tableSum).bytes
        for b in blocks { b.serialize(into: &idx) }
        for s in sequences { s.serialize(into: &idx) }
        let trailer = ShardTrailer(indexOffset: UInt64(bytesWritten), indexLength: UInt64(idx.count), indexChecksum: Checksum.xxh3(idx))
        try emit(idx)
        try emit(trailer.bytes)
        guard fsync(fd) == 0 else { throw DurableFile.fail(tempPath, "fsync") }
        guard close(fd) == 0 else { fd = -1; throw DurableFile.fail(tempPath, "close") }
        fd = -1
        return (bytesWritten, hasher.digest)
    }

    /// Closes and deletes the temporary file.
    func abort() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(tempPath)
    }
}
