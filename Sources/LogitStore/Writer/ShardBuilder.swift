#if canImport(Glibc)
import Glibc
#endif

/// One block's footer-index entry (Spec/FORMAT.md §"Block entry").
public struct BlockEntry: Sendable, Equatable {
    /// Offset of the block's first byte in the shard file.
    public var offset: UInt64
    /// Shard-local index of the block's first position.
    public var firstPosition: UInt64
    /// Shard-local index of the block's first kept entry.
    public var firstEntry: UInt64
    /// Bytes the block occupies in the file (header, stream table and payloads).
    public var storedBytes: UInt32
    /// Sum of the streams' raw (filtered, uncompressed) sizes.
    public var rawBytes: UInt32
    public var positionCount: UInt32
    public var entryCount: UInt32
    /// XXH3-64 (seed 0) of the block's stored bytes.
    public var checksum: UInt64
}

/// One sequence's footer-index entry: shard-local first position and length.
public struct SequenceEntry: Sendable, Equatable {
    public var firstPosition: UInt64
    public var length: UInt64
}

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
        var h: [UInt8] = ShardLayout.headerMagic
        h.put(ShardLayout.versionMajor)
        h.put(ShardLayout.versionMinor)
        h.put(UInt32(0))
        h.put(UInt64(vocabSize))
        h.put(descriptorHash)
        try emit(h)
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
        guard buffer.count <= Int(UInt32.max), raw <= Int(UInt32.max) else {
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
            var section: [UInt8] = [used.rawValue, FilterID.shuffle.rawValue, UInt8(w), 0]
            section.put(UInt32(t.listed.count)); section.put(UInt32(raw.count)); section.put(UInt32(payload.count))
            section += payload
            tableOffset = bytesWritten; tableLength = section.count
            tableSum = Checksum.xxh3(section)
            try emit(section)
        }
        var idx: [UInt8] = []
        idx.put(UInt64(blocks.count))
        idx.put(UInt64(sequences.count))
        idx.put(UInt64(positions))
        idx.put(UInt64(entries))
        idx.put(UInt64(tableOffset))
        idx.put(UInt64(tableLength))
        idx.put(tableSum)
        idx.put(UInt64(0))
        for b in blocks {
            idx.put(b.offset); idx.put(b.firstPosition); idx.put(b.firstEntry)
            idx.put(b.storedBytes); idx.put(b.rawBytes); idx.put(b.positionCount); idx.put(b.entryCount)
            idx.put(b.checksum)
        }
        for s in sequences { idx.put(s.firstPosition); idx.put(s.length) }
        let indexOffset = bytesWritten
        var trailer: [UInt8] = []
        trailer.put(UInt64(indexOffset))
        trailer.put(UInt64(idx.count))
        trailer.put(Checksum.xxh3(idx))
        trailer.append(contentsOf: ShardLayout.trailerMagic)
        try emit(idx)
        try emit(trailer)
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
